//! Pins the protobuf field numbers and wire types of our generated types to the tables of
//! shared/spec/c1z-v1.md §3, independently of the .proto files: each message is encoded with
//! one field set and its first byte (the tag = field << 3 | wire type) is checked.

use prost::Message;

use super::pb;

const VARINT: u8 = 0;
const LEN: u8 = 2;

fn tag(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

fn first_byte<M: Message>(m: &M) -> u8 {
    m.encode_to_vec()[0]
}

#[test]
fn resource_type_fields() {
    let t = |m: pb::ResourceType| first_byte(&m);
    assert_eq!(
        t(pb::ResourceType {
            id: "x".into(),
            ..Default::default()
        }),
        tag(1, LEN)
    );
    assert_eq!(
        t(pb::ResourceType {
            display_name: "x".into(),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        t(pb::ResourceType {
            traits: vec![1],
            ..Default::default()
        }),
        tag(3, LEN),
        "packed repeated enum"
    );
    assert_eq!(
        t(pb::ResourceType {
            annotations: vec![Default::default()],
            ..Default::default()
        }),
        tag(4, LEN)
    );
    assert_eq!(
        t(pb::ResourceType {
            description: "x".into(),
            ..Default::default()
        }),
        tag(5, LEN)
    );
    assert_eq!(
        t(pb::ResourceType {
            sourced_externally: true,
            ..Default::default()
        }),
        tag(6, VARINT)
    );
}

#[test]
fn resource_fields() {
    let r = |m: pb::Resource| first_byte(&m);
    assert_eq!(
        r(pb::Resource {
            id: Some(Default::default()),
            ..Default::default()
        }),
        tag(1, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            parent_resource_id: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            display_name: "x".into(),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            annotations: vec![Default::default()],
            ..Default::default()
        }),
        tag(4, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            description: "x".into(),
            ..Default::default()
        }),
        tag(5, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            baton_resource: true,
            ..Default::default()
        }),
        tag(6, VARINT)
    );
    assert_eq!(
        r(pb::Resource {
            profile: Some(Default::default()),
            ..Default::default()
        }),
        tag(9, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            icon: Some(Default::default()),
            ..Default::default()
        }),
        tag(10, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            status: Some(Default::default()),
            ..Default::default()
        }),
        tag(11, LEN)
    );
    assert_eq!(
        r(pb::Resource {
            created_at: Some(Default::default()),
            ..Default::default()
        }),
        tag(12, LEN)
    );
    let id = pb::ResourceId {
        resource_type: "a".into(),
        resource: "b".into(),
        baton_resource: true,
    };
    assert_eq!(
        id.encode_to_vec(),
        vec![
            tag(1, LEN),
            1,
            b'a',
            tag(2, LEN),
            1,
            b'b',
            tag(3, VARINT),
            1
        ]
    );
    let st = pb::Status {
        status: 2,
        details: "d".into(),
    };
    assert_eq!(
        st.encode_to_vec(),
        vec![tag(1, VARINT), 2, tag(2, LEN), 1, b'd']
    );
}

#[test]
fn entitlement_and_grant_fields() {
    let e = |m: pb::Entitlement| first_byte(&m);
    assert_eq!(
        e(pb::Entitlement {
            resource: Some(Default::default()),
            ..Default::default()
        }),
        tag(1, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            id: "x".into(),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            display_name: "x".into(),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            description: "x".into(),
            ..Default::default()
        }),
        tag(4, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            grantable_to: vec![Default::default()],
            ..Default::default()
        }),
        tag(5, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            annotations: vec![Default::default()],
            ..Default::default()
        }),
        tag(6, LEN)
    );
    assert_eq!(
        e(pb::Entitlement {
            purpose: 1,
            ..Default::default()
        }),
        tag(7, VARINT)
    );
    assert_eq!(
        e(pb::Entitlement {
            slug: "x".into(),
            ..Default::default()
        }),
        tag(8, LEN)
    );
    let g = |m: pb::Grant| first_byte(&m);
    assert_eq!(
        g(pb::Grant {
            entitlement: Some(Default::default()),
            ..Default::default()
        }),
        tag(1, LEN)
    );
    assert_eq!(
        g(pb::Grant {
            principal: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        g(pb::Grant {
            id: "x".into(),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        g(pb::Grant {
            annotations: vec![Default::default()],
            ..Default::default()
        }),
        tag(4, LEN)
    );
    assert_eq!(
        g(pb::Grant {
            sources: Some(Default::default()),
            ..Default::default()
        }),
        tag(5, LEN)
    );
    // Fields come out in number order: annotations (4) before sources (5).
    let both = pb::Grant {
        annotations: vec![Default::default()],
        sources: Some(Default::default()),
        ..Default::default()
    };
    assert_eq!(both.encode_to_vec(), vec![tag(4, LEN), 0, tag(5, LEN), 0]);
    let mut sources = std::collections::BTreeMap::new();
    sources.insert(
        "b".to_string(),
        pb::grant_sources::GrantSource { is_direct: true },
    );
    sources.insert(
        "a".to_string(),
        pb::grant_sources::GrantSource { is_direct: false },
    );
    let gs = pb::GrantSources { sources };
    let bytes = gs.encode_to_vec();
    assert_eq!(bytes[0], tag(1, LEN));
    // Map entries sorted by key: "a" before "b".
    let a = bytes.iter().position(|&b| b == b'a').unwrap();
    let b = bytes.iter().position(|&b| b == b'b').unwrap();
    assert!(a < b);
}

#[test]
fn user_trait_fields() {
    let u = |m: pb::UserTrait| first_byte(&m);
    assert_eq!(
        u(pb::UserTrait {
            emails: vec![Default::default()],
            ..Default::default()
        }),
        tag(1, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            status: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            profile: Some(Default::default()),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            account_type: 1,
            ..Default::default()
        }),
        tag(5, VARINT)
    );
    assert_eq!(
        u(pb::UserTrait {
            login: "x".into(),
            ..Default::default()
        }),
        tag(6, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            login_aliases: vec!["x".into()],
            ..Default::default()
        }),
        tag(7, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            created_at: Some(Default::default()),
            ..Default::default()
        }),
        tag(8, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            last_login: Some(Default::default()),
            ..Default::default()
        }),
        tag(9, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            mfa_status: Some(Default::default()),
            ..Default::default()
        }),
        tag(10, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            sso_status: Some(Default::default()),
            ..Default::default()
        }),
        tag(11, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            structured_name: Some(Default::default()),
            ..Default::default()
        }),
        tag(12, LEN)
    );
    assert_eq!(
        u(pb::UserTrait {
            employee_ids: vec!["x".into()],
            ..Default::default()
        }),
        tag(13, LEN)
    );
    let email = pb::user_trait::Email {
        address: "a".into(),
        is_primary: true,
    };
    assert_eq!(
        email.encode_to_vec(),
        vec![tag(1, LEN), 1, b'a', tag(2, VARINT), 1]
    );
    let sn = pb::user_trait::StructuredName {
        given_name: "g".into(),
        family_name: "f".into(),
        ..Default::default()
    };
    assert_eq!(
        sn.encode_to_vec(),
        vec![tag(1, LEN), 1, b'g', tag(2, LEN), 1, b'f']
    );
}

#[test]
fn secret_trait_fields() {
    let s = |m: pb::SecretTrait| first_byte(&m);
    assert_eq!(
        s(pb::SecretTrait {
            expires_at: Some(Default::default()),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        s(pb::SecretTrait {
            last_used_at: Some(Default::default()),
            ..Default::default()
        }),
        tag(4, LEN)
    );
    assert_eq!(
        s(pb::SecretTrait {
            created_by_id: Some(Default::default()),
            ..Default::default()
        }),
        tag(5, LEN)
    );
    assert_eq!(
        s(pb::SecretTrait {
            identity_id: Some(Default::default()),
            ..Default::default()
        }),
        tag(6, LEN)
    );
    assert_eq!(
        s(pb::SecretTrait {
            credential_type: 1,
            ..Default::default()
        }),
        tag(7, VARINT)
    );
    assert_eq!(
        s(pb::SecretTrait {
            credential_detail: "x".into(),
            ..Default::default()
        }),
        tag(8, LEN)
    );

    assert_eq!(
        first_byte(&pb::GroupTrait {
            group_source_type: "x".into(),
            ..Default::default()
        }),
        tag(3, LEN)
    );
    assert_eq!(
        first_byte(&pb::RoleTrait {
            role_scope_conditions: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        first_byte(&pb::RoleScopeConditions {
            conditions: vec![Default::default()],
            ..Default::default()
        }),
        tag(3, LEN),
        "no field 2"
    );
    assert_eq!(
        first_byte(&pb::AppTrait {
            flags: vec![2],
            ..Default::default()
        }),
        tag(5, LEN)
    );
    assert_eq!(
        first_byte(&pb::AppTrait {
            app_source_type: "x".into(),
            ..Default::default()
        }),
        tag(6, LEN)
    );
    assert_eq!(
        first_byte(&pb::ScopeBindingTrait {
            scope_resource_id: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        pb::NonHumanIdentityTrait {
            nhi_type: 2,
            nhi_detail: "d".into()
        }
        .encode_to_vec(),
        vec![tag(1, VARINT), 2, tag(2, LEN), 1, b'd']
    );
}

#[test]
fn annotation_fields() {
    assert_eq!(
        first_byte(&pb::ChildResourceType {
            resource_type_id: "x".into()
        }),
        tag(1, LEN)
    );
    let ge = pb::GrantExpandable {
        entitlement_ids: vec!["e".into()],
        shallow: true,
        resource_type_ids: vec!["t".into()],
    };
    assert_eq!(
        ge.encode_to_vec(),
        vec![
            tag(1, LEN),
            1,
            b'e',
            tag(2, VARINT),
            1,
            tag(3, LEN),
            1,
            b't'
        ]
    );
    assert_eq!(
        first_byte(&pb::GrantImmutable {
            metadata: Some(Default::default()),
            ..Default::default()
        }),
        tag(2, LEN)
    );
    assert_eq!(
        first_byte(&pb::V1Identifier { id: "x".into() }),
        tag(1, LEN)
    );
    assert_eq!(
        first_byte(&pb::ExternalLink { url: "x".into() }),
        tag(1, LEN)
    );
    let cp = pb::CapabilityPermissions {
        permissions: vec![pb::CapabilityPermission {
            permission: "p".into(),
        }],
    };
    assert_eq!(
        cp.encode_to_vec(),
        vec![tag(1, LEN), 3, tag(1, LEN), 1, b'p']
    );
    assert_eq!(
        pb::c1::c1z::v1::SyncDetails { id: "s".into() }.encode_to_vec(),
        vec![tag(1, LEN), 1, b's']
    );
}
