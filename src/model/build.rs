//! Small constructors for resources, entitlements and grants, so collectors state only what
//! differs per record. They fix the shapes readers rely on (c1z-v1.md §4.3): grants embed
//! their entitlement's id and resource id, principals are id-only.

use prost_types::{Any, Struct, Timestamp};

use super::pb;
use super::types;

/// A `ResourceId`.
pub fn rid(resource_type: &str, resource: &str) -> pb::ResourceId {
    pb::ResourceId {
        resource_type: resource_type.to_string(),
        resource: resource.to_string(),
        baton_resource: false,
    }
}

/// A resource with the fields every collector sets.
pub fn resource(
    id: pb::ResourceId,
    display_name: &str,
    parent: Option<pb::ResourceId>,
    annotations: Vec<Any>,
    profile: Option<Struct>,
) -> pb::Resource {
    pb::Resource {
        id: Some(id),
        parent_resource_id: parent,
        display_name: display_name.to_string(),
        annotations,
        profile,
        ..Default::default()
    }
}

/// The id-only form of a resource, as embedded in grants.
pub fn id_only(resource: &pb::Resource) -> pb::Resource {
    pb::Resource {
        id: resource.id.clone(),
        ..Default::default()
    }
}

/// An id + display-name stub resource, as baton-aws embeds policies in grants.
pub fn stub(id: pb::ResourceId, display_name: &str) -> pb::Resource {
    pb::Resource {
        id: Some(id),
        display_name: display_name.to_string(),
        ..Default::default()
    }
}

/// An ASSIGNMENT entitlement on `resource`.
pub fn entitlement(
    id: String,
    resource: pb::Resource,
    slug: &str,
    display_name: String,
    description: String,
    grantable_to: &[&str],
    annotations: Vec<Any>,
) -> pb::Entitlement {
    pb::Entitlement {
        resource: Some(resource),
        id,
        display_name,
        description,
        grantable_to: grantable_to.iter().map(|t| types::known(t)).collect(),
        annotations,
        purpose: pb::entitlement::PurposeValue::Assignment as i32,
        slug: slug.to_string(),
    }
}

/// The slim entitlement embedded in a grant: its id and its resource.
pub fn entitlement_ref(id: &str, resource: pb::Resource) -> pb::Entitlement {
    pb::Entitlement {
        resource: Some(resource),
        id: id.to_string(),
        ..Default::default()
    }
}

/// A grant of `entitlement` to the principal `principal`.
pub fn grant(
    id: String,
    entitlement: pb::Entitlement,
    principal: pb::ResourceId,
    annotations: Vec<Any>,
) -> pb::Grant {
    pb::Grant {
        entitlement: Some(entitlement),
        principal: Some(pb::Resource {
            id: Some(principal),
            ..Default::default()
        }),
        id,
        sources: None,
        annotations,
    }
}

/// A protobuf timestamp from a chrono UTC time.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}
