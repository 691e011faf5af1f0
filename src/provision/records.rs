//! Identity Center and account records for provisioning results, per
//! shared/spec/resource-model.md (§2.6 `sso_user`, §2.7 `sso_group`, §2.8 `account`, §2.12
//! `permission_set_assignment`, §4 grants): pure functions from what the AWS answers held.
//! Not here: IAM records (the sync's `sync::iam_records` builders are used for those).

use serde_json::{Map, Value, json};

use crate::model::any::{child_type, grant_expandable, pack, v1_identifier};
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid};
use crate::model::ids;
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;

/// What an identity-store user answer holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoUserFacts {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<String>,
    /// Which of `emails` the store marks primary.
    pub primary_email: Option<usize>,
    /// `Enabled` / `Disabled` when the answer carried a status.
    pub status: Option<String>,
    /// (id, issuer)
    pub external_ids: Vec<(String, String)>,
}

fn external_ids_json(ext: &[(String, String)]) -> Value {
    Value::Array(
        ext.iter()
            .map(|(id, issuer)| json!({"id": id, "issuer": issuer}))
            .collect(),
    )
}

/// Emails in the order a sync writes them (the user name when it is an address, then the
/// store's list), without duplicates, with exactly one primary: the store's primary (the first
/// of `emails` here), else the first.
fn user_emails(u: &SsoUserFacts) -> Vec<pb::user_trait::Email> {
    let mut list: Vec<(String, bool)> = vec![];
    let mut push = |addr: &str, primary: bool| {
        let addr = addr.trim();
        if addr.is_empty() {
            return;
        }
        match list.iter_mut().find(|(a, _)| a.eq_ignore_ascii_case(addr)) {
            Some(existing) => existing.1 |= primary,
            None => list.push((addr.to_string(), primary)),
        }
    };
    if u.user_name.contains('@') {
        push(&u.user_name, false);
    }
    for (i, e) in u.emails.iter().enumerate() {
        push(e, i == u.primary_email.unwrap_or(usize::MAX));
    }
    let primary = list.iter().position(|(_, p)| *p).unwrap_or(0);
    list.into_iter()
        .enumerate()
        .map(|(i, (address, _))| pb::user_trait::Email {
            address,
            is_primary: i == primary,
        })
        .collect()
}

/// The `sso_user` resource.
pub fn sso_user_resource(arn: &str, u: &SsoUserFacts) -> pb::Resource {
    let has_name = [&u.given_name, &u.family_name]
        .iter()
        .any(|n| n.as_deref().is_some_and(|n| !n.is_empty()));
    let trait_ = pb::UserTrait {
        emails: user_emails(u),
        status: Some(pb::user_trait::Status {
            status: if u.status.as_deref() == Some("Disabled") {
                pb::user_trait::status::Status::Disabled as i32
            } else {
                pb::user_trait::status::Status::Enabled as i32
            },
            details: String::new(),
        }),
        account_type: pb::user_trait::AccountType::Human as i32,
        login: u.user_name.clone(),
        structured_name: has_name.then(|| pb::user_trait::StructuredName {
            given_name: u.given_name.clone().unwrap_or_default(),
            family_name: u.family_name.clone().unwrap_or_default(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut profile = Map::new();
    profile.insert("aws_user_type".into(), json!("sso"));
    profile.insert(
        "aws_user_name".into(),
        json!(u.display_name.clone().unwrap_or_default()),
    );
    profile.insert("aws_user_id".into(), json!(u.user_id));
    if !u.external_ids.is_empty() {
        profile.insert("external_ids".into(), external_ids_json(&u.external_ids));
    }
    let mut r = resource(
        rid(rt::SSO_USER, arn),
        &u.user_name,
        None,
        vec![v1_identifier(arn), pack(&trait_)],
        Some(to_struct(&Value::Object(profile))),
    );
    let status = match u.status.as_deref() {
        Some("Enabled") => pb::status::ResourceStatus::Enabled as i32,
        Some("Disabled") => pb::status::ResourceStatus::Disabled as i32,
        _ => pb::status::ResourceStatus::Unspecified as i32,
    };
    r.status = Some(pb::Status {
        status,
        details: String::new(),
    });
    r
}

/// What an identity-store group answer holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoGroupFacts {
    pub group_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub external_ids: Vec<(String, String)>,
}

/// The `sso_group` resource.
pub fn sso_group_resource(arn: &str, g: &SsoGroupFacts) -> pb::Resource {
    let mut profile = Map::new();
    profile.insert("aws_group_type".into(), json!("sso"));
    profile.insert("aws_group_name".into(), json!(g.display_name));
    profile.insert("aws_group_id".into(), json!(g.group_id));
    if !g.external_ids.is_empty() {
        profile.insert("external_ids".into(), external_ids_json(&g.external_ids));
    }
    let mut r = resource(
        rid(rt::SSO_GROUP, arn),
        &g.display_name,
        None,
        vec![v1_identifier(arn), pack(&pb::GroupTrait::default())],
        Some(to_struct(&Value::Object(profile))),
    );
    r.description = g.description.clone().unwrap_or_default();
    r
}

/// An identity-store membership grant: its id is the MembershipId.
pub fn membership_grant(membership_id: &str, group: &pb::Resource, user_arn: &str) -> pb::Grant {
    let group_arn = group
        .id
        .as_ref()
        .map(|i| i.resource.as_str())
        .unwrap_or_default();
    let ent_id = ids::entitlement_id(rt::SSO_GROUP, group_arn, "member");
    grant(
        membership_id.to_string(),
        entitlement_ref(&ent_id, group.clone()),
        rid(rt::SSO_USER, user_arn),
        vec![v1_identifier(ids::v1_membership_grant(group_arn, user_arn))],
    )
}

/// What organizations:DescribeAccount answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFacts {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub status: String,
}

/// The `account` resource.
pub fn account_resource(a: &AccountFacts) -> pb::Resource {
    resource(
        rid(rt::ACCOUNT, &a.id),
        &a.name,
        None,
        vec![
            v1_identifier(&a.id),
            child_type(rt::PERMISSION_SET_ASSIGNMENT),
            pack(&pb::AppTrait::default()),
        ],
        Some(to_struct(
            &json!({"aws_account_arn": a.arn, "aws_account_id": a.id}),
        )),
    )
}

/// What sso-admin:DescribePermissionSet answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSetFacts {
    pub arn: String,
    pub name: String,
    pub description: String,
}

fn principal_annotations(
    v1: String,
    principal_type: &str,
    principal_arn: &str,
) -> Vec<prost_types::Any> {
    let mut anns = vec![v1_identifier(v1)];
    if principal_type == rt::SSO_GROUP {
        anns.push(grant_expandable(
            ids::entitlement_id(rt::SSO_GROUP, principal_arn, "member"),
            false,
        ));
    }
    anns
}

/// The account entitlement `<account>|<psArn>` grant to an Identity Center user or group,
/// with its fully populated embedded entitlement (§4, "account").
pub fn account_grant(
    account: &pb::Resource,
    ps: &PermissionSetFacts,
    principal_type: &str,
    principal_arn: &str,
) -> pb::Grant {
    let acct = account
        .id
        .as_ref()
        .map(|i| i.resource.as_str())
        .unwrap_or_default();
    let ent_id = ids::account_permission_set_entitlement(acct, &ps.arn);
    let ent = pb::Entitlement {
        resource: Some(account.clone()),
        id: ent_id.clone(),
        display_name: format!("{} Permission Set", ps.name),
        description: ps.description.clone(),
        grantable_to: vec![rt::known(rt::SSO_GROUP), rt::known(rt::SSO_USER)],
        annotations: vec![v1_identifier(&ent_id)],
        purpose: pb::entitlement::PurposeValue::Assignment as i32,
        slug: String::new(),
    };
    grant(
        ids::prefixed_grant_id(principal_type, principal_arn, &ent_id),
        ent,
        rid(principal_type, principal_arn),
        principal_annotations(
            format!("grant:{ent_id}:{principal_arn}"),
            principal_type,
            principal_arn,
        ),
    )
}

/// The `permission_set_assignment:<psArn>-<account>:assigned` grant (§4, binding phase 1).
pub fn binding_grant(
    account_id: &str,
    ps: &PermissionSetFacts,
    principal_type: &str,
    principal_arn: &str,
) -> pb::Grant {
    let binding = ids::binding_id(&ps.arn, account_id);
    let res = resource(
        rid(rt::PERMISSION_SET_ASSIGNMENT, &binding),
        &format!("{} on {account_id}", ps.name),
        Some(rid(rt::ACCOUNT, account_id)),
        vec![pack(&pb::ScopeBindingTrait {
            role_id: Some(rid(rt::PERMISSION_SET, &ps.arn)),
            scope_resource_id: Some(rid(rt::ACCOUNT, account_id)),
        })],
        None,
    );
    let ent_id = ids::entitlement_id(rt::PERMISSION_SET_ASSIGNMENT, &binding, "assigned");
    let ent = entitlement(
        ent_id.clone(),
        res,
        "assigned",
        "assigned".into(),
        String::new(),
        &[rt::SSO_USER, rt::SSO_GROUP],
        vec![],
    );
    grant(
        ids::prefixed_grant_id(principal_type, principal_arn, &ent_id),
        ent,
        rid(principal_type, principal_arn),
        principal_annotations(
            format!("grant:{ent_id}:{principal_arn}"),
            principal_type,
            principal_arn,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::GrantRef;

    const USER: &str = "arn:aws:identitystore:us-east-1::d-1234567890/user/u-1";
    const GROUP: &str = "arn:aws:identitystore:us-east-1::d-1234567890/group/g-1";
    const PS: &str = "arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef";

    #[test]
    fn grant_ids_parse_back_to_what_was_granted() {
        let acct = account_resource(&AccountFacts {
            id: "111122223333".into(),
            name: "prod".into(),
            arn: "arn:aws:organizations::1:account/o-1/111122223333".into(),
            status: "ACTIVE".into(),
        });
        let ps = PermissionSetFacts {
            arn: PS.into(),
            name: "Admin".into(),
            description: "d".into(),
        };
        for (t, p) in [(rt::SSO_USER, USER), (rt::SSO_GROUP, GROUP)] {
            let g = account_grant(&acct, &ps, t, p);
            assert_eq!(g.id, format!("grant:{t}:{p}:111122223333|{PS}"));
            assert!(matches!(GrantRef::parse(&g.id).unwrap(),
                GrantRef::Direct { ref entitlement, ref principal, .. }
                if entitlement == &format!("111122223333|{PS}") && principal == p));
            assert_eq!(g.annotations.len(), if t == rt::SSO_GROUP { 2 } else { 1 });
            let b = binding_grant("111122223333", &ps, t, p);
            assert!(GrantRef::parse(&b.id).is_ok(), "{}", b.id);
        }
        let group = sso_group_resource(
            GROUP,
            &SsoGroupFacts {
                group_id: "g-1".into(),
                display_name: "Ops".into(),
                description: None,
                external_ids: vec![],
            },
        );
        let m = membership_grant("3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b", &group, USER);
        assert_eq!(
            m.entitlement.unwrap().id,
            format!("sso_group:{GROUP}:member")
        );
    }

    #[test]
    fn sso_user_emails_have_one_primary() {
        let r = sso_user_resource(
            USER,
            &SsoUserFacts {
                user_id: "u-1".into(),
                user_name: "ann@example.com".into(),
                emails: vec!["ann@home.example".into(), "ANN@example.com".into()],
                primary_email: Some(0),
                ..Default::default()
            },
        );
        let t: pb::UserTrait = crate::model::any::find(&r.annotations).unwrap();
        // The user name first, the store's primary marked, no case-insensitive duplicate.
        assert_eq!(t.emails.len(), 2);
        assert_eq!(t.emails[0].address, "ann@example.com");
        assert!(!t.emails[0].is_primary && t.emails[1].is_primary);
        assert_eq!(t.login, "ann@example.com");
        assert_eq!(r.status.unwrap().status, 0);
    }
}
