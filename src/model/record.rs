//! The unit of data that flows from collectors to sinks: one resource type, resource,
//! entitlement or grant, plus the identity rules the c1z tables use for each.

use prost::Message;

use super::{json, pb};

/// What kind of record this is; the names are the JSONL `kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ResourceType,
    Resource,
    Entitlement,
    Grant,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ResourceType => "resource_type",
            Kind::Resource => "resource",
            Kind::Entitlement => "entitlement",
            Kind::Grant => "grant",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "resource_type" => Some(Kind::ResourceType),
            "resource" => Some(Kind::Resource),
            "entitlement" => Some(Kind::Entitlement),
            "grant" => Some(Kind::Grant),
            _ => None,
        }
    }

    /// The protobuf message carried by this kind.
    pub fn message_name(self) -> &'static str {
        match self {
            Kind::ResourceType => "c1.connector.v2.ResourceType",
            Kind::Resource => "c1.connector.v2.Resource",
            Kind::Entitlement => "c1.connector.v2.Entitlement",
            Kind::Grant => "c1.connector.v2.Grant",
        }
    }
}

/// One record. Variants differ in size (a grant embeds an entitlement and a resource); they
/// are built once and moved into batches, so boxing would only add an allocation each.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    ResourceType(pb::ResourceType),
    Resource(pb::Resource),
    Entitlement(pb::Entitlement),
    Grant(pb::Grant),
}

impl Record {
    pub fn kind(&self) -> Kind {
        match self {
            Record::ResourceType(_) => Kind::ResourceType,
            Record::Resource(_) => Kind::Resource,
            Record::Entitlement(_) => Kind::Entitlement,
            Record::Grant(_) => Kind::Grant,
        }
    }

    /// The record's identity within a sync: the c1z `external_id` column (c1z-v1.md §2.2).
    pub fn external_id(&self) -> String {
        match self {
            Record::ResourceType(t) => t.id.clone(),
            Record::Resource(r) => resource_key(r.id.as_ref()),
            Record::Entitlement(e) => e.id.clone(),
            Record::Grant(g) => g.id.clone(),
        }
    }

    /// Deterministic protobuf bytes of the record (prost writes fields in tag order and our
    /// maps are BTreeMaps).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Record::ResourceType(m) => m.encode_to_vec(),
            Record::Resource(m) => m.encode_to_vec(),
            Record::Entitlement(m) => m.encode_to_vec(),
            Record::Grant(m) => m.encode_to_vec(),
        }
    }

    /// Decodes a record of `kind` from protobuf bytes.
    pub fn decode(kind: Kind, bytes: &[u8]) -> Result<Record, prost::DecodeError> {
        Ok(match kind {
            Kind::ResourceType => Record::ResourceType(pb::ResourceType::decode(bytes)?),
            Kind::Resource => Record::Resource(pb::Resource::decode(bytes)?),
            Kind::Entitlement => Record::Entitlement(pb::Entitlement::decode(bytes)?),
            Kind::Grant => Record::Grant(pb::Grant::decode(bytes)?),
        })
    }

    /// The JSON-lines object for this record: `{"kind", "id", "record"}` where `record` is the
    /// canonical protobuf JSON of the message. Keys are sorted, so the text is deterministic.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind().as_str(),
            "id": self.external_id(),
            "record": json::message_to_json(self.kind().message_name(), &self.encode()),
        })
    }

    /// Parses a JSON-lines object written by [`Record::to_json`].
    pub fn from_json(v: &serde_json::Value) -> Result<Record, String> {
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(Kind::parse)
            .ok_or_else(|| "missing or unknown \"kind\"".to_string())?;
        let body = v
            .get("record")
            .ok_or_else(|| "missing \"record\"".to_string())?;
        let bytes = json::json_to_message(kind.message_name(), body)?;
        Record::decode(kind, &bytes).map_err(|e| e.to_string())
    }
}

/// `"<resource_type>:<resource>"`, the key readers use to look a resource up.
pub fn resource_key(id: Option<&pb::ResourceId>) -> String {
    match id {
        Some(id) => format!("{}:{}", id.resource_type, id.resource),
        None => ":".to_string(),
    }
}
