//! Tests of the Identity Center record mapping.

use super::*;
use crate::model::any;
use crate::model::profile::from_struct;

const PS1: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-aaaaaaaaaaaaaaaa";
const PS2: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-bbbbbbbbbbbbbbbb";
const A1: &str = "111111111111";
const A2: &str = "222222222222";
const UA: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/user/u-1";
const UB: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/user/u-2";
const GA: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/group/g-1";

fn instance() -> Instance {
    Instance {
        arn: "arn:aws:sso:::instance/ssoins-1111111111111111".into(),
        identity_store_id: "d-1234567890".into(),
        region: "eu-west-1".into(),
        owner_account: Some(A1.into()),
        name: None,
        status: Some("ACTIVE".into()),
        kind: InstanceKind::Organization,
    }
}

fn user(id: &str, name: &str, emails: &[(&str, bool)]) -> IcUser {
    IcUser {
        id: id.into(),
        user_name: name.into(),
        display_name: Some(format!("{name} display")),
        status: UserStatus::Unknown,
        name: PersonName {
            given: Some("Ada".into()),
            family: Some("Lovelace".into()),
            ..Default::default()
        },
        emails: emails
            .iter()
            .map(|(v, p)| Email {
                value: v.to_string(),
                primary: *p,
            })
            .collect(),
        external_ids: vec![],
    }
}

fn account(id: &str) -> pb::Resource {
    resource(
        rid(rt::ACCOUNT, id),
        &format!("acct-{id}"),
        None,
        vec![v1_identifier(id), pack(&pb::AppTrait::default())],
        None,
    )
}

fn snapshot() -> IcSnapshot {
    let a = |account: &str, ps: &str, kind, principal: &str| Assignment {
        account: account.into(),
        permission_set: ps.into(),
        kind,
        principal_id: principal.into(),
    };
    IcSnapshot {
        instance: instance(),
        users: vec![
            user(
                "u-1",
                "ada@example.com",
                &[
                    ("ada@example.com", false),
                    ("ADA@example.com", false),
                    ("ada@home.example", true),
                ],
            ),
            user("u-2", "bob", &[]),
        ],
        groups: vec![IcGroup {
            id: "g-1".into(),
            display_name: "Ops".into(),
            description: Some("Operators".into()),
            external_ids: vec![ExternalId {
                issuer: "https://idp.example".into(),
                id: "ops".into(),
            }],
        }],
        memberships: vec![Membership {
            id: "m-1".into(),
            group_id: "g-1".into(),
            user_id: "u-2".into(),
        }],
        permission_sets: vec![
            PermissionSet {
                arn: PS1.into(),
                name: "Admin".into(),
                description: Some("Full access".into()),
                session_duration: Some("PT4H".into()),
                relay_state: None,
                created: None,
                managed: vec![Attached {
                    name: "AdministratorAccess".into(),
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                }],
                customer_managed: vec![CustomerPolicyRef::new("deploy", Some("/app"))],
                inline: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
                boundary: Some(Boundary::CustomerManaged(CustomerPolicyRef::new(
                    "edge", None,
                ))),
            },
            PermissionSet {
                arn: PS2.into(),
                name: "ReadOnly".into(),
                description: None,
                session_duration: Some("PT1H".into()),
                relay_state: Some("https://console.aws.amazon.com/".into()),
                created: None,
                managed: vec![],
                customer_managed: vec![],
                inline: None,
                boundary: None,
            },
        ],
        assignments: Some(
            [
                a(A1, PS1, PrincipalKind::User, "u-1"),
                a(A2, PS1, PrincipalKind::Group, "g-1"),
                // Not in the run's accounts, and a permission set the snapshot lacks.
                a("333333333333", PS1, PrincipalKind::User, "u-1"),
                a(
                    A1,
                    "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-cccccccccccccccc",
                    PrincipalKind::User,
                    "u-2",
                ),
            ]
            .into_iter()
            .collect(),
        ),
        scim: BTreeMap::new(),
    }
}

fn accounts() -> BTreeMap<String, pb::Resource> {
    [A1, A2]
        .iter()
        .map(|a| (a.to_string(), account(a)))
        .collect()
}

fn ids_of(out: &IcRecords, kind: crate::model::Kind) -> BTreeSet<String> {
    out.records
        .iter()
        .filter(|r| r.kind() == kind)
        .map(|r| r.external_id())
        .collect()
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

#[test]
fn ic_records_exact_ids() {
    use crate::model::Kind;
    let out = ic_records(&snapshot(), &accounts(), "aws");
    let inline = format!("{PS1}::inline::inline");
    assert_eq!(
        ids_of(&out, Kind::Resource),
        set(&[
            format!("sso_user:{UA}"),
            format!("sso_user:{UB}"),
            format!("sso_group:{GA}"),
            format!("permission_set:{PS1}"),
            format!("permission_set:{PS2}"),
            format!("inline_policy:{inline}"),
            format!("permission_set_assignment:{PS1}-{A1}"),
            format!("permission_set_assignment:{PS1}-{A2}"),
        ])
    );
    assert_eq!(
        ids_of(&out, Kind::Entitlement),
        set(&[
            format!("sso_group:{GA}:member"),
            format!("inline_policy:{inline}:attached"),
            format!("{A1}|{PS1}"),
            format!("{A1}|{PS2}"),
            format!("{A2}|{PS1}"),
            format!("{A2}|{PS2}"),
            format!("permission_set_assignment:{PS1}-{A1}:assigned"),
            format!("permission_set_assignment:{PS1}-{A2}:assigned"),
        ]),
        "every permission set on every account, bindings only where assigned"
    );
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(
        ids_of(&out, Kind::Grant),
        set(&[
            "m-1".to_string(),
            format!("inline_policy:{inline}:attached:permission_set:{PS1}"),
            format!("iam_policy:{admin}:attached:permission_set:{PS1}"),
            format!("grant:sso_user:{UA}:{A1}|{PS1}"),
            format!("grant:sso_group:{GA}:{A2}|{PS1}"),
            format!("grant:sso_user:{UA}:permission_set_assignment:{PS1}-{A1}:assigned"),
            format!("grant:sso_group:{GA}:permission_set_assignment:{PS1}-{A2}:assigned"),
            format!("iam_policy:{admin}:attached:permission_set_assignment:{PS1}-{A1}"),
            format!("iam_policy:{admin}:attached:permission_set_assignment:{PS1}-{A2}"),
            format!(
                "iam_policy:arn:aws:iam::{A1}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A1}"
            ),
            format!(
                "iam_policy:arn:aws:iam::{A2}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A2}"
            ),
        ])
    );
    assert_eq!(out.unknown_permission_set, 1);
    let shared: Vec<String> = out.shared.iter().map(|r| r.external_id()).collect();
    assert_eq!(
        shared,
        vec![
            format!("iam_policy:{admin}"),
            format!("iam_policy:{admin}:attached")
        ]
    );
}

fn find_grant<'a>(out: &'a IcRecords, id: &str) -> &'a pb::Grant {
    out.records
        .iter()
        .find_map(|r| match r {
            Record::Grant(g) if g.id == id => Some(g),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no grant {id}"))
}

#[test]
fn ic_records_users_have_one_primary_email_login_and_name() {
    let u = user_resource(&instance(), &snapshot().users[0]);
    assert_eq!(u.display_name, "ada@example.com");
    let t: pb::UserTrait = any::find(&u.annotations).unwrap();
    let emails: Vec<(&str, bool)> = t
        .emails
        .iter()
        .map(|e| (e.address.as_str(), e.is_primary))
        .collect();
    assert_eq!(
        emails,
        vec![("ada@example.com", false), ("ada@home.example", true)],
        "no duplicate, the store's primary wins"
    );
    assert_eq!(t.login, "ada@example.com");
    assert_eq!(t.account_type, pb::user_trait::AccountType::Human as i32);
    let n = t.structured_name.unwrap();
    assert_eq!(
        (n.given_name.as_str(), n.family_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(u.status.unwrap().status, 0, "no UserStatus: unspecified");
    assert_eq!(
        any::find::<pb::V1Identifier>(&u.annotations).unwrap().id,
        UA
    );
    assert_eq!(
        from_struct(u.profile.as_ref().unwrap()),
        json!({"aws_user_type": "sso", "aws_user_name": "ada@example.com display", "aws_user_id": "u-1"})
    );
    // No store primary: the first address is primary.
    let mut plain = snapshot().users[0].clone();
    plain.emails.iter_mut().for_each(|e| e.primary = false);
    plain.status = UserStatus::Disabled;
    let r = user_resource(&instance(), &plain);
    let t: pb::UserTrait = any::find(&r.annotations).unwrap();
    assert!(t.emails[0].is_primary && !t.emails[1].is_primary);
    assert_eq!(
        t.status.unwrap().status,
        pb::user_trait::status::Status::Disabled as i32
    );
    assert_eq!(
        r.status.unwrap().status,
        pb::status::ResourceStatus::Disabled as i32
    );
}

#[test]
fn ic_records_groups_memberships_and_permission_sets() {
    let out = ic_records(&snapshot(), &accounts(), "aws");
    let m = find_grant(&out, "m-1");
    assert_eq!(
        m.principal.as_ref().unwrap().id,
        Some(rid(rt::SSO_USER, UB))
    );
    let ent = m.entitlement.as_ref().unwrap();
    assert_eq!(ent.id, format!("sso_group:{GA}:member"));
    let embedded = ent.resource.as_ref().unwrap();
    assert_eq!(embedded.display_name, "Ops", "the full group resource");
    assert_eq!(embedded.description, "Operators");
    assert_eq!(
        from_struct(embedded.profile.as_ref().unwrap())["external_ids"],
        json!([{"id": "ops", "issuer": "https://idp.example"}])
    );
    assert_eq!(
        any::find::<pb::V1Identifier>(&m.annotations).unwrap().id,
        format!("grant:membership:{GA}:{UB}")
    );
    let ps = out
        .records
        .iter()
        .find_map(|r| match r {
            Record::Resource(x) if x.id == Some(rid(rt::PERMISSION_SET, PS1)) => Some(x),
            _ => None,
        })
        .unwrap();
    assert_eq!(ps.description, "Full access");
    assert_eq!(
        from_struct(ps.profile.as_ref().unwrap()),
        json!({
            "aws_permission_set_arn": PS1,
            "aws_session_duration": "PT4H",
            "aws_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "aws_customer_managed_policies": ["/app/deploy"],
            "aws_inline_policy": true,
            "aws_permissions_boundary": "/edge",
        })
    );
    assert_eq!(
        any::find::<pb::ChildResourceType>(&ps.annotations)
            .unwrap()
            .resource_type_id,
        rt::INLINE_POLICY
    );
}

#[test]
fn ic_records_account_grants_match_baton_aws() {
    let out = ic_records(&snapshot(), &accounts(), "aws");
    let g = find_grant(&out, &format!("grant:sso_group:{GA}:{A2}|{PS1}"));
    let anns = &g.annotations;
    assert_eq!(
        any::find::<pb::V1Identifier>(anns).unwrap().id,
        format!("grant:{A2}|{PS1}:{GA}")
    );
    let ge: pb::GrantExpandable = any::find(anns).unwrap();
    assert_eq!(ge.entitlement_ids, vec![format!("sso_group:{GA}:member")]);
    assert!(!ge.shallow);
    let e = g.entitlement.as_ref().unwrap();
    assert_eq!(e.display_name, "Admin Permission Set");
    assert_eq!(e.description, "Full access");
    assert_eq!(e.slug, "", "embedded without slug");
    let to: Vec<&str> = e.grantable_to.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(to, vec![rt::SSO_GROUP, rt::SSO_USER]);
    assert_eq!(
        e.resource.as_ref().unwrap(),
        &account(A2),
        "the full account"
    );
    // A user's grant has no expansion.
    let u = find_grant(&out, &format!("grant:sso_user:{UA}:{A1}|{PS1}"));
    assert!(any::find::<pb::GrantExpandable>(&u.annotations).is_none());
    // The listed entitlement has the slug and baton's grantable_to order.
    let listed = out
        .records
        .iter()
        .find_map(|r| match r {
            Record::Entitlement(x) if x.id == format!("{A1}|{PS2}") => Some(x),
            _ => None,
        })
        .unwrap();
    assert_eq!(listed.slug, "ReadOnly access");
    let to: Vec<&str> = listed.grantable_to.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(to, vec![rt::SSO_USER, rt::SSO_GROUP]);
}

#[test]
fn ic_records_bindings_and_their_grants() {
    let out = ic_records(&snapshot(), &accounts(), "aws");
    let b = out
        .records
        .iter()
        .find_map(|r| match r {
            Record::Resource(x)
                if x.id == Some(rid(rt::PERMISSION_SET_ASSIGNMENT, &format!("{PS1}-{A2}"))) =>
            {
                Some(x)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(b.display_name, format!("Admin on {A2}"));
    assert_eq!(b.parent_resource_id, Some(rid(rt::ACCOUNT, A2)));
    let sb: pb::ScopeBindingTrait = any::find(&b.annotations).unwrap();
    assert_eq!(sb.role_id, Some(rid(rt::PERMISSION_SET, PS1)));
    assert_eq!(sb.scope_resource_id, Some(rid(rt::ACCOUNT, A2)));
    let assigned = format!("permission_set_assignment:{PS1}-{A2}:assigned");
    let g = find_grant(&out, &format!("grant:sso_group:{GA}:{assigned}"));
    assert_eq!(g.entitlement.as_ref().unwrap().slug, "assigned");
    assert_eq!(g.entitlement.as_ref().unwrap().resource.as_ref(), Some(b));
    assert_eq!(
        any::find::<pb::V1Identifier>(&g.annotations).unwrap().id,
        format!("grant:{assigned}:{GA}")
    );
    let p = find_grant(
        &out,
        &format!(
            "iam_policy:arn:aws:iam::{A2}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A2}"
        ),
    );
    let ge: pb::GrantExpandable = any::find(&p.annotations).unwrap();
    assert_eq!(ge.entitlement_ids, vec![assigned]);
    assert_eq!(
        p.entitlement
            .as_ref()
            .unwrap()
            .resource
            .as_ref()
            .unwrap()
            .display_name,
        "deploy"
    );
}

#[test]
fn ic_records_without_accounts_have_no_account_data() {
    let out = ic_records(&snapshot(), &BTreeMap::new(), "aws");
    assert!(!out.records.iter().any(|r| {
        let id = r.external_id();
        id.contains('|') || id.contains("permission_set_assignment")
    }));
    assert_eq!(
        CustomerPolicyRef::new("x", Some("a/b")).path_name(),
        "/a/b/x"
    );
}

/// A status from SCIM reaches the user's trait, resource status and profile.
#[test]
fn scim_status_reaches_the_user_record() {
    use crate::connector::identity_center::model::{MatchedBy, ScimStatus};
    let mut snap = snapshot();
    snap.users[0].status = UserStatus::Disabled;
    snap.scim.insert(
        "u-1".into(),
        ScimStatus {
            active: Some(false),
            by: MatchedBy::UserName,
        },
    );
    let recs = ic_records(&snap, &accounts(), "aws");
    let user = |id: &str| {
        recs.records
            .iter()
            .find_map(|r| match r {
                Record::Resource(r) if r.id.as_ref().unwrap().resource.ends_with(id) => Some(r),
                _ => None,
            })
            .unwrap()
    };
    let ada = user("/user/u-1");
    let p = crate::model::profile::from_struct(ada.profile.as_ref().unwrap());
    assert_eq!(p["aws_scim_active"], false);
    assert_eq!(p["orgsync_scim_matched_by"], "userName");
    let t: pb::UserTrait = crate::model::any::find(&ada.annotations).unwrap();
    assert_eq!(
        t.status.unwrap().status,
        pb::user_trait::status::Status::Disabled as i32
    );
    let bob = user("/user/u-2");
    let p = crate::model::profile::from_struct(bob.profile.as_ref().unwrap());
    assert!(p.get("aws_scim_active").is_none());
}
