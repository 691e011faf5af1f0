//! Tests of the IAM record mapping.

use super::*;
use crate::model::any;

fn ts(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

fn acct(is_caller: bool) -> AccountInfo {
    AccountInfo {
        account_id: "111122223333".parse().unwrap(),
        name: "dev".into(),
        arn: None,
        is_caller,
        partition: "aws".into(),
    }
}

fn snapshot() -> IamSnapshot {
    let mut s = IamSnapshot::default();
    s.users.push(User {
        name: "alice@example.com".into(),
        arn: "arn:aws:iam::111122223333:user/alice@example.com".into(),
        id: "AIDA1".into(),
        path: "/".into(),
        tags: vec![
            ("email".into(), "alice@corp.example".into()),
            ("email".into(), "alice@example.com".into()),
        ],
        groups: vec!["ops".into()],
        boundary: Some("arn:aws:iam::111122223333:policy/user-boundary".into()),
        ..Default::default()
    });
    s.groups.push(Group {
        name: "ops".into(),
        arn: "arn:aws:iam::111122223333:group/ops".into(),
        attached: vec![Attached {
            name: "ReadOnlyAccess".into(),
            arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        }],
        ..Default::default()
    });
    s.roles.push(Role {
        name: "deploy".into(),
        arn: "arn:aws:iam::111122223333:role/deploy".into(),
        path: "/".into(),
        trust: Some(r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["arn:aws:iam::444455556666:role/ci","444455556666","arn:aws:iam::111122223333:user/alice@example.com"]}}]}"#.into()),
        boundary: Some("arn:aws:iam::aws:policy/PowerUserAccess".into()),
        ..Default::default()
    });
    s.aws_policies.push(ManagedPolicy {
        name: "ReadOnlyAccess".into(),
        arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        description: None,
        document: Some("{}".into()),
    });
    s.keys.insert(
        "alice@example.com".into(),
        vec![AccessKey {
            id: "AKIA1".into(),
            user_name: "alice@example.com".into(),
            status: "Inactive".into(),
            last_used: ts("2024-05-01T00:00:00Z"),
            ..Default::default()
        }],
    );
    s.credentials.insert(
        "alice@example.com".into(),
        Credentials {
            password_enabled: true,
            password_last_changed: ts("2024-01-02T00:00:00Z"),
            password_reset_required: None,
            password_last_used: ts("2024-06-01T00:00:00Z"),
            mfa_active: Some(true),
            key_last_used: None,
        },
    );
    s
}

fn find<'a>(recs: &'a [Record], kind: crate::model::Kind, id: &str) -> &'a Record {
    recs.iter()
        .find(|r| r.kind() == kind && r.external_id() == id)
        .unwrap_or_else(|| panic!("no {kind:?} {id}"))
}

#[test]
fn users_get_latest_login_one_primary_email_and_mfa() {
    let out = iam_records(
        &acct(false),
        &snapshot(),
        IamRecordOptions { sync_secrets: true },
    );
    let Record::Resource(u) = find(
        &out.records,
        crate::model::Kind::Resource,
        "iam_user:arn:aws:iam::111122223333:user/alice@example.com",
    ) else {
        panic!()
    };
    let t: pb::UserTrait = any::find(&u.annotations).unwrap();
    // Password (June) is later than the key (May): the latest wins.
    assert_eq!(
        t.last_login.unwrap().seconds,
        ts("2024-06-01T00:00:00Z").unwrap().timestamp()
    );
    let emails: Vec<(&str, bool)> = t
        .emails
        .iter()
        .map(|e| (e.address.as_str(), e.is_primary))
        .collect();
    assert_eq!(
        emails,
        vec![("alice@example.com", true), ("alice@corp.example", false)]
    );
    assert!(t.mfa_status.unwrap().mfa_enabled);
    assert_eq!(
        u.parent_resource_id.as_ref().unwrap(),
        &rid("account_iam", "111122223333")
    );
    // The annotation order baton-aws uses, trait last.
    assert!(any::is::<pb::V1Identifier>(&u.annotations[0]));
    assert!(any::is::<pb::ChildResourceType>(&u.annotations[1]));
    assert!(any::is::<pb::UserTrait>(&u.annotations[2]));
}

#[test]
fn trust_principals_become_assignment_grants() {
    let out = iam_records(
        &acct(true),
        &snapshot(),
        IamRecordOptions {
            sync_secrets: false,
        },
    );
    let ent = "role:arn:aws:iam::111122223333:role/deploy:assignment";
    let Record::Grant(role_grant) = find(
        &out.records,
        crate::model::Kind::Grant,
        &format!("{ent}:role:arn:aws:iam::444455556666:role/ci"),
    ) else {
        panic!()
    };
    let ge: pb::GrantExpandable = any::find(&role_grant.annotations).unwrap();
    assert_eq!(
        ge.entitlement_ids,
        vec!["role:arn:aws:iam::444455556666:role/ci:assignment"]
    );
    assert!(!ge.shallow);
    let Record::Grant(root) = find(
        &out.records,
        crate::model::Kind::Grant,
        &format!("{ent}:account_iam:444455556666"),
    ) else {
        panic!()
    };
    assert!(root.annotations.is_empty());
    let Record::Grant(user) = find(
        &out.records,
        crate::model::Kind::Grant,
        &format!("{ent}:iam_user:arn:aws:iam::111122223333:user/alice@example.com"),
    ) else {
        panic!()
    };
    assert!(user.annotations.is_empty());
    // Grants embed the full role resource of the entitlement.
    assert_eq!(
        user.entitlement
            .as_ref()
            .unwrap()
            .resource
            .as_ref()
            .unwrap()
            .display_name,
        "deploy"
    );
    // The caller's own account: top-level resources, no child annotations on account_iam.
    let Record::Resource(a) = find(
        &out.records,
        crate::model::Kind::Resource,
        "account_iam:111122223333",
    ) else {
        panic!()
    };
    assert!(!a.annotations.iter().any(any::is::<pb::ChildResourceType>));
    let Record::Resource(r) = find(
        &out.records,
        crate::model::Kind::Resource,
        "role:arn:aws:iam::111122223333:role/deploy",
    ) else {
        panic!()
    };
    assert!(r.parent_resource_id.is_none());
    let nhi: pb::NonHumanIdentityTrait = any::find(&r.annotations).unwrap();
    assert_eq!(nhi.nhi_detail, "aws.role.cross_account");
    assert!(
        !out.records
            .iter()
            .any(|r| r.external_id().starts_with("access-key:")),
        "secrets off"
    );
}

#[test]
fn aws_managed_policies_are_shared_and_group_policy_grants_expand_to_members() {
    let out = iam_records(
        &acct(false),
        &snapshot(),
        IamRecordOptions { sync_secrets: true },
    );
    let shared: Vec<String> = out.shared.iter().map(Record::external_id).collect();
    assert_eq!(
        shared,
        vec![
            "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess",
            "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached"
        ]
    );
    let Record::Resource(p) = &out.shared[0] else {
        panic!()
    };
    assert!(
        p.parent_resource_id.is_none(),
        "AWS-managed policies have no parent"
    );
    let Record::Grant(g) = find(
        &out.records,
        crate::model::Kind::Grant,
        "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached:group:arn:aws:iam::111122223333:group/ops",
    ) else {
        panic!()
    };
    let ge: pb::GrantExpandable = any::find(&g.annotations).unwrap();
    assert_eq!(
        ge.entitlement_ids,
        vec!["group:arn:aws:iam::111122223333:group/ops:member"]
    );
    assert!(ge.shallow);
    let Record::Resource(k) = find(
        &out.records,
        crate::model::Kind::Resource,
        "access-key:AKIA1",
    ) else {
        panic!()
    };
    assert_eq!(
        k.status.as_ref().unwrap().status,
        pb::status::ResourceStatus::Disabled as i32
    );
    let st: pb::SecretTrait = any::find(&k.annotations).unwrap();
    assert_eq!(
        st.identity_id.unwrap(),
        rid(
            "iam_user",
            "arn:aws:iam::111122223333:user/alice@example.com"
        )
    );
    // No id twice within an account.
    let mut ids: Vec<(crate::model::Kind, String)> = out
        .records
        .iter()
        .map(|r| (r.kind(), r.external_id()))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

/// Console facts, boundaries and account names reach the profiles; the copies of a group and
/// an inline policy that grants embed carry no account name (provisioning prints the same
/// grants without knowing account names).
#[test]
fn profiles_carry_console_facts_boundaries_and_the_account_name() {
    let out = iam_records(
        &acct(false),
        &snapshot(),
        IamRecordOptions { sync_secrets: true },
    );
    let resource = |id: &str| match find(&out.records, crate::model::Kind::Resource, id) {
        Record::Resource(r) => crate::model::profile::from_struct(r.profile.as_ref().unwrap()),
        _ => panic!(),
    };
    let user = resource("iam_user:arn:aws:iam::111122223333:user/alice@example.com");
    assert_eq!(user["aws_console_access"], true);
    assert_eq!(
        user["aws_password_last_changed"],
        "2024-01-02T00:00:00+00:00"
    );
    assert_eq!(user["aws_password_last_used"], "2024-06-01T00:00:00+00:00");
    assert_eq!(user["aws_mfa_active"], true);
    assert!(
        user.get("aws_password_reset_required").is_none(),
        "not in the report"
    );
    assert_eq!(
        user["aws_permissions_boundary"],
        "arn:aws:iam::111122223333:policy/user-boundary"
    );
    let role = resource("role:arn:aws:iam::111122223333:role/deploy");
    assert_eq!(
        role["aws_permissions_boundary"],
        "arn:aws:iam::aws:policy/PowerUserAccess"
    );
    for id in [
        "account_iam:111122223333",
        "group:arn:aws:iam::111122223333:group/ops",
        "role:arn:aws:iam::111122223333:role/deploy",
        "access-key:AKIA1",
    ] {
        assert_eq!(resource(id)["aws_account_name"], "dev", "{id}");
    }
    // AWS-managed policies belong to no account.
    let shared = out
        .shared
        .iter()
        .find_map(|r| match r {
            Record::Resource(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let p = crate::model::profile::from_struct(shared.profile.as_ref().unwrap());
    assert!(p.get("aws_account_name").is_none());
    // The group a member grant embeds is the one provisioning prints.
    let Record::Grant(g) = find(
        &out.records,
        crate::model::Kind::Grant,
        "group:arn:aws:iam::111122223333:group/ops:member:iam_user:arn:aws:iam::111122223333:user/alice@example.com",
    ) else {
        panic!()
    };
    let embedded = g.entitlement.as_ref().unwrap().resource.as_ref().unwrap();
    let group = snapshot().groups[0].clone();
    assert_eq!(embedded, &group_resource(&acct(false), &group));
    // Without the report (the per-user fallback), reset-required is known; a user without
    // any credential facts (provisioning deleting a user) gets no console keys.
    let mut snap = snapshot();
    snap.credentials
        .get_mut("alice@example.com")
        .unwrap()
        .password_reset_required = Some(true);
    let u = user_resource(&acct(false), &snap.users[0], &snap);
    let p = crate::model::profile::from_struct(u.profile.as_ref().unwrap());
    assert_eq!(p["aws_password_reset_required"], true);
    snap.credentials.clear();
    let u = user_resource(&acct(false), &snap.users[0], &snap);
    let p = crate::model::profile::from_struct(u.profile.as_ref().unwrap());
    assert!(p.get("aws_console_access").is_none() && p.get("aws_mfa_active").is_none());
}
