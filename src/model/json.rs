//! Canonical protobuf JSON for our records, driven by the descriptors compiled from proto/
//! (prost-reflect). Output goes through `serde_json::Value`, whose objects keep keys sorted,
//! so the same record always renders to the same text.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, SerializeOptions, Value};

use super::pb::DESCRIPTORS;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(DESCRIPTORS).expect("descriptor set compiled by build.rs is valid")
});

/// The type URL an annotation of unknown type is shown under.
const UNKNOWN_ANNOTATION: &str = "type.googleapis.com/orgsync.v1.UnknownAnnotation";

/// Renders protobuf bytes of message `full_name` as canonical JSON. An annotation (`Any`) of a
/// type orgsync does not know — other connectors write their own, e.g. baton's
/// `c1.connector.v2.ETag` on every grant — renders as an `orgsync.v1.UnknownAnnotation`
/// (`{"@type": …UnknownAnnotation, "typeUrl": <its type>, "value": <base64>}`), so the rest of
/// the record still shows. Bytes that do not decode render as `{"_undecodable": "<error>"}`
/// rather than failing the caller.
pub fn message_to_json(full_name: &str, bytes: &[u8]) -> serde_json::Value {
    let Some(desc) = POOL.get_message_by_name(full_name) else {
        return serde_json::json!({ "_unknown_message": full_name });
    };
    match DynamicMessage::decode(desc, bytes) {
        Ok(mut msg) => {
            wrap_unknown_anys(&mut msg);
            let opts = SerializeOptions::new();
            match msg.serialize_with_options(serde_json::value::Serializer, &opts) {
                Ok(v) => v,
                Err(e) => serde_json::json!({ "_undecodable": e.to_string() }),
            }
        }
        Err(e) => serde_json::json!({ "_undecodable": e.to_string() }),
    }
}

/// Replaces every `Any` inside `msg` whose type is not in the descriptor pool by an
/// `UnknownAnnotation` carrying its type URL and bytes.
fn wrap_unknown_anys(msg: &mut DynamicMessage) {
    if msg.descriptor().full_name() == "google.protobuf.Any" {
        let url = match msg.get_field_by_name("type_url").as_deref() {
            Some(Value::String(u)) => u.clone(),
            _ => return,
        };
        let name = url.rsplit('/').next().unwrap_or(&url);
        if POOL.get_message_by_name(name).is_some() {
            return;
        }
        let value = match msg.get_field_by_name("value").as_deref() {
            Some(Value::Bytes(b)) => b.clone(),
            _ => Default::default(),
        };
        let Some(unknown) = POOL.get_message_by_name("orgsync.v1.UnknownAnnotation") else {
            return;
        };
        let mut wrapped = DynamicMessage::new(unknown);
        wrapped.set_field_by_name("type_url", Value::String(url));
        wrapped.set_field_by_name("value", Value::Bytes(value));
        msg.set_field_by_name("type_url", Value::String(UNKNOWN_ANNOTATION.into()));
        msg.set_field_by_name("value", Value::Bytes(wrapped.encode_to_vec().into()));
        return;
    }
    for (_, v) in msg.fields_mut() {
        wrap_in_value(v);
    }
}

fn wrap_in_value(v: &mut Value) {
    match v {
        Value::Message(m) => wrap_unknown_anys(m),
        Value::List(items) => items.iter_mut().for_each(wrap_in_value),
        Value::Map(entries) => entries.values_mut().for_each(wrap_in_value),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pb;

    #[test]
    fn an_annotation_of_unknown_type_shows_as_what_it_is() {
        let g = pb::Grant {
            id: "g1".into(),
            annotations: vec![
                prost_types::Any {
                    type_url: "type.googleapis.com/c1.connector.v2.ETag".into(),
                    value: vec![10, 3, b'a', b'b', b'c'],
                },
                crate::model::any::pack(&pb::GrantImmutable::default()),
            ],
            ..Default::default()
        };
        let v = message_to_json("c1.connector.v2.Grant", &g.encode_to_vec());
        assert_eq!(v["id"], "g1");
        assert_eq!(v["annotations"][0]["@type"], UNKNOWN_ANNOTATION);
        assert_eq!(
            v["annotations"][0]["typeUrl"],
            "type.googleapis.com/c1.connector.v2.ETag"
        );
        assert_eq!(v["annotations"][0]["value"], "CgNhYmM=");
        assert_eq!(
            v["annotations"][1]["@type"],
            "type.googleapis.com/c1.connector.v2.GrantImmutable"
        );
    }
}
