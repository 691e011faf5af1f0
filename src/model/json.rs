//! Canonical protobuf JSON for our records, driven by the descriptors compiled from proto/
//! (prost-reflect). Output goes through `serde_json::Value`, whose objects keep keys sorted,
//! so the same record always renders to the same text.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use super::pb::DESCRIPTORS;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(DESCRIPTORS).expect("descriptor set compiled by build.rs is valid")
});

/// Renders protobuf bytes of message `full_name` as canonical JSON. Bytes that do not decode
/// render as `{"_undecodable": "<error>"}` rather than failing the caller.
pub fn message_to_json(full_name: &str, bytes: &[u8]) -> serde_json::Value {
    let Some(desc) = POOL.get_message_by_name(full_name) else {
        return serde_json::json!({ "_unknown_message": full_name });
    };
    match DynamicMessage::decode(desc, bytes) {
        Ok(msg) => {
            let opts = SerializeOptions::new();
            match msg.serialize_with_options(serde_json::value::Serializer, &opts) {
                Ok(v) => v,
                Err(e) => serde_json::json!({ "_undecodable": e.to_string() }),
            }
        }
        Err(e) => serde_json::json!({ "_undecodable": e.to_string() }),
    }
}

/// Parses canonical JSON of message `full_name` back into protobuf bytes.
pub fn json_to_message(full_name: &str, value: &serde_json::Value) -> Result<Vec<u8>, String> {
    let desc = POOL
        .get_message_by_name(full_name)
        .ok_or_else(|| format!("unknown message {full_name}"))?;
    let msg = DynamicMessage::deserialize(desc, value).map_err(|e| e.to_string())?;
    Ok(msg.encode_to_vec())
}
