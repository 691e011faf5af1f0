//! Unit tests of request parsing (`provision::request`).

use super::*;

const A: &str = "111122223333";
const USER: &str =
    "arn:aws:identitystore:us-east-1::d-1234567890/user/11111111-2222-3333-4444-555555555555";
const GROUP: &str =
    "arn:aws:identitystore:us-east-1::d-1234567890/group/66666666-7777-8888-9999-000000000000";
const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";

fn iam(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{A}:{kind}/{name}")
}

#[test]
fn grants_of_every_provisionable_kind() {
    let g = grant(
        &format!("group:{}:member", iam("group", "eng/devs")),
        "iam_user",
        &iam("user", "bob"),
    )
    .unwrap();
    assert!(
        matches!(g.change, Change::GroupMember { ref group, ref account, ref user }
        if group.resource_name() == "devs" && account.as_str() == A && user.name() == "bob")
    );
    for (t, k) in [("iam_user", "user"), ("group", "group"), ("role", "role")] {
        for policy in [
            "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
            iam("policy", "app/data"),
        ] {
            let r = grant(&format!("iam_policy:{policy}:attached"), t, &iam(k, "x")).unwrap();
            assert!(matches!(r.change, Change::ManagedPolicy { .. }), "{t}");
        }
    }
    let s = grant(&format!("sso_group:{GROUP}:member"), "sso_user", USER).unwrap();
    assert!(
        matches!(s.change, Change::SsoGroupMember { ref group, ref user } if group.id().starts_with("6666") && user.id().starts_with("1111"))
    );
    for (t, p) in [("sso_user", USER), ("sso_group", GROUP)] {
        let a = grant(&format!("{A}|{PS}"), t, p).unwrap();
        assert!(
            matches!(a.change, Change::AccountAssignment { binding: false, ref principal, .. } if principal.arn == p)
        );
        let b = grant(
            &format!("permission_set_assignment:{PS}-{A}:assigned"),
            t,
            p,
        )
        .unwrap();
        assert!(matches!(
            b.change,
            Change::AccountAssignment { binding: true, .. }
        ));
    }
}

#[test]
fn revokes_parse_the_grant_ids_a_sync_writes() {
    let r = revoke(&format!(
        "group:{}:member:iam_user:{}",
        iam("group", "devs"),
        iam("user", "bob")
    ))
    .unwrap();
    assert_eq!(r.direction, Direction::Revoke);
    assert!(matches!(r.change, Change::GroupMember { .. }));
    let i = revoke(&format!(
        "inline_policy:{}::inline::p1:attached:role:{}",
        iam("role", "app"),
        iam("role", "app")
    ))
    .unwrap();
    assert!(
        matches!(i.change, Change::InlinePolicy { ref parent, ref name } if parent.kind == IamKind::Role && name == "p1")
    );
    let m = revoke("3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b").unwrap();
    assert!(matches!(
        m.change,
        Change::SsoMembership { group: None, .. }
    ));
    let a = revoke(&format!("grant:sso_group:{GROUP}:{A}|{PS}")).unwrap();
    assert!(
        matches!(a.change, Change::AccountAssignment { ref principal, .. } if principal.kind == SsoKind::Group)
    );
}

#[test]
fn refuses_what_cannot_be_provisioned_naming_the_value() {
    let role_ent = format!("role:{}:assignment", iam("role", "admin"));
    let e = grant(&role_ent, "iam_user", &iam("user", "bob")).unwrap_err();
    assert!(matches!(e, RequestError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains(&role_ent), "{e}");
    let grant_id = format!("{role_ent}:iam_user:{}", iam("user", "bob"));
    let e = revoke(&grant_id).unwrap_err();
    assert!(e.to_string().contains(&grant_id), "{e}");
    let inline = format!("inline_policy:{}::inline::p:attached", iam("user", "bob"));
    let e = grant(&inline, "iam_user", &iam("user", "bob")).unwrap_err();
    assert!(matches!(e, RequestError::Unsupported { .. }), "{e}");
    let ps_inline = format!("inline_policy:{PS}::inline::inline:attached:permission_set:{PS}");
    assert!(matches!(
        revoke(&ps_inline).unwrap_err(),
        RequestError::Unsupported { .. }
    ));
    let e = grant(
        "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached",
        "permission_set",
        PS,
    )
    .unwrap_err();
    assert!(e.to_string().contains("permission_set"), "{e}");
}

#[test]
fn refuses_principals_that_cannot_hold_the_entitlement() {
    let cases: Vec<(String, &str, String, &str)> = vec![
        // (entitlement, principal type, principal, expected fragment)
        (
            format!("group:{}:member", iam("group", "devs")),
            "role",
            iam("role", "r"),
            "iam_user only",
        ),
        (
            format!("group:{}:member", iam("group", "devs")),
            "iam_user",
            "arn:aws:iam::999999999999:user/bob".into(),
            "account 999999999999",
        ),
        (
            format!("group:{}:member", iam("group", "devs")),
            "iam_user",
            iam("role", "bob"),
            "not a valid principal",
        ),
        (
            format!("iam_policy:{}:attached", iam("policy", "p")),
            "iam_user",
            "arn:aws:iam::999999999999:user/bob".into(),
            "customer-managed",
        ),
        (
            format!("sso_group:{GROUP}:member"),
            "sso_user",
            "arn:aws:identitystore:us-east-1::d-9999999999/user/11111111-2222-3333-4444-555555555555"
                .into(),
            "identity store",
        ),
        (
            format!("{A}|{PS}"),
            "sso_user",
            GROUP.into(),
            "names a group",
        ),
        (
            format!("{A}|{PS}"),
            "iam_user",
            iam("user", "bob"),
            "sso_user or sso_group",
        ),
        (format!("{A}|{PS}"), "nobody", USER.into(), "'nobody'"),
    ];
    for (ent, t, p, want) in cases {
        let e = grant(&ent, t, &p).unwrap_err().to_string();
        assert!(e.contains(want), "{ent} / {t} {p}: {e}");
    }
}

#[test]
fn malformed_ids_name_the_value() {
    let e = grant("group:nope:member", "iam_user", &iam("user", "bob")).unwrap_err();
    assert!(e.to_string().contains("'group:nope:member'"), "{e}");
    let e = revoke("not-a-grant").unwrap_err();
    assert!(e.to_string().contains("'not-a-grant'"), "{e}");
}

#[test]
fn delete_targets_and_user_names() {
    assert!(matches!(
        delete_target("iam_user", &iam("user", "a/b")).unwrap(),
        DeleteTarget::IamUser(ref p) if p.name() == "b"
    ));
    assert!(matches!(
        delete_target("sso_user", USER).unwrap(),
        DeleteTarget::SsoUser(_)
    ));
    assert!(delete_target("group", &iam("group", "g")).is_err());
    assert!(delete_target("sso_user", GROUP).is_err());
    assert!(check_iam_user("bob.smith@example.com", "/eng/").is_ok());
    assert!(check_iam_user("bob smith", "/").is_err());
    assert!(check_iam_user("bob", "eng").is_err());
}
