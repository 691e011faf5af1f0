//! Packing and unpacking of `google.protobuf.Any` annotations (traits, V1Identifier,
//! GrantExpandable, ...) with the `type.googleapis.com/<full name>` URLs baton readers expect.

use prost::Message;
use prost_types::Any;

use super::pb;

const PREFIX: &str = "type.googleapis.com/";

/// A message that can travel inside an `Any`: knows its fully-qualified protobuf name.
pub trait AnyMessage: Message + Default {
    const FULL_NAME: &'static str;
}

macro_rules! any_names {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl AnyMessage for $ty { const FULL_NAME: &'static str = $name; })*
    };
}

any_names! {
    pb::UserTrait => "c1.connector.v2.UserTrait",
    pb::GroupTrait => "c1.connector.v2.GroupTrait",
    pb::RoleTrait => "c1.connector.v2.RoleTrait",
    pb::AppTrait => "c1.connector.v2.AppTrait",
    pb::SecretTrait => "c1.connector.v2.SecretTrait",
    pb::ScopeBindingTrait => "c1.connector.v2.ScopeBindingTrait",
    pb::NonHumanIdentityTrait => "c1.connector.v2.NonHumanIdentityTrait",
    pb::ChildResourceType => "c1.connector.v2.ChildResourceType",
    pb::SkipEntitlements => "c1.connector.v2.SkipEntitlements",
    pb::SkipGrants => "c1.connector.v2.SkipGrants",
    pb::SkipEntitlementsAndGrants => "c1.connector.v2.SkipEntitlementsAndGrants",
    pb::GrantExpandable => "c1.connector.v2.GrantExpandable",
    pb::GrantImmutable => "c1.connector.v2.GrantImmutable",
    pb::V1Identifier => "c1.connector.v2.V1Identifier",
    pb::ExternalLink => "c1.connector.v2.ExternalLink",
    pb::CapabilityPermissions => "c1.connector.v2.CapabilityPermissions",
    pb::OptInRequired => "c1.connector.v2.OptInRequired",
}

/// Wraps a message in an `Any`.
pub fn pack<M: AnyMessage>(msg: &M) -> Any {
    Any {
        type_url: format!("{PREFIX}{}", M::FULL_NAME),
        value: msg.encode_to_vec(),
    }
}

/// True when `any` holds a message of type `M` (only the URL suffix is compared, as Go's
/// `MessageIs` does).
pub fn is<M: AnyMessage>(any: &Any) -> bool {
    any.type_url
        .rsplit_once('/')
        .map(|(_, name)| name == M::FULL_NAME)
        .unwrap_or(any.type_url == M::FULL_NAME)
}

/// The first annotation of type `M`, decoded. Undecodable payloads are treated as absent.
pub fn find<M: AnyMessage>(annotations: &[Any]) -> Option<M> {
    annotations
        .iter()
        .find(|a| is::<M>(a))
        .and_then(|a| M::decode(a.value.as_slice()).ok())
}

/// A `V1Identifier` annotation.
pub fn v1_identifier(id: impl Into<String>) -> Any {
    pack(&pb::V1Identifier { id: id.into() })
}

/// A `ChildResourceType` annotation.
pub fn child_type(resource_type_id: &str) -> Any {
    pack(&pb::ChildResourceType {
        resource_type_id: resource_type_id.to_string(),
    })
}

/// A `GrantExpandable` annotation: holders of `source` also receive the annotated grant.
pub fn grant_expandable(source: impl Into<String>, shallow: bool) -> Any {
    pack(&pb::GrantExpandable {
        entitlement_ids: vec![source.into()],
        shallow,
        resource_type_ids: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_and_find_round_trip() {
        let anns = vec![
            v1_identifier("x"),
            pack(&pb::RoleTrait::default()),
            grant_expandable("group:arn:member", true),
        ];
        assert_eq!(
            anns[1].type_url,
            "type.googleapis.com/c1.connector.v2.RoleTrait"
        );
        // An empty present message encodes to zero bytes (c1z-v1.md §4.1).
        assert!(anns[1].value.is_empty());
        let ge: pb::GrantExpandable = find(&anns).expect("GE present");
        assert_eq!(ge.entitlement_ids, vec!["group:arn:member".to_string()]);
        assert!(ge.shallow);
        assert!(find::<pb::UserTrait>(&anns).is_none());
        assert_eq!(
            find::<pb::V1Identifier>(&anns).map(|v| v.id),
            Some("x".into())
        );
    }
}
