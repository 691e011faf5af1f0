//! Pure mapping of one account's IAM snapshot to records, per shared/spec/resource-model.md:
//! `account_iam`, `iam_user`, `group`, `role`, `iam_policy`, `inline_policy`, `access-key`, their
//! entitlements and grants. Deliberate differences from baton-aws (documented in
//! docs/RESOURCE-MODEL.md): a user's last login is the latest use; an access key's identity is
//! the user resource; account-root trust principals become `account_iam` grants; at most one
//! email is primary.
//!
//! Not here: reading IAM (`read`), Identity Center's records (`identity_center::records`, which
//! reuses the policy records and `RecordSet` from here).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::connector::collector::AccountInfo;
use crate::model::Record;
use crate::model::any::{child_type, grant_expandable, pack, v1_identifier};
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid, stub, timestamp};
use crate::model::ids;
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;
use crate::policy::{AwsPrincipal, nhi_kind, parse_trust};

use super::model::*;

/// What to emit.
#[derive(Debug, Clone, Copy)]
pub struct IamRecordOptions {
    /// Emit `access-key` resources.
    pub sync_secrets: bool,
}

/// Records of one account: its own, and the AWS-managed policies other accounts may share.
#[derive(Debug, Default)]
pub struct AccountRecords {
    pub records: Vec<Record>,
    pub shared: Vec<Record>,
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The `account_iam` resource of an account whose IAM was read.
pub fn account_iam_resource(acct: &AccountInfo) -> pb::Resource {
    let mut anns = vec![v1_identifier(acct.account_id.as_str())];
    if !acct.is_caller {
        for t in [rt::IAM_USER, rt::ROLE, rt::GROUP, rt::IAM_POLICY] {
            anns.push(child_type(t));
        }
    }
    anns.push(pack(&pb::AppTrait::default()));
    let arn = acct
        .arn
        .clone()
        .unwrap_or_else(|| format!("arn:{}:iam::{}:root", acct.partition, acct.account_id));
    resource(
        rid(rt::ACCOUNT_IAM, acct.account_id.as_str()),
        &acct.name,
        None,
        anns,
        Some(to_struct(&json!({
            "aws_account_arn": arn,
            "aws_account_id": acct.account_id,
            "aws_account_name": acct.name,
        }))),
    )
}

/// `r` with the `aws_account_name` of `acct` in its profile. Added where the sync writes a
/// record, not in the copies grants and entitlements embed, which provisioning prints too
/// without knowing account names. (`iam_user` records, which nothing embeds and provisioning
/// prints whole, carry it from [`user_resource`].)
fn with_account_name(mut r: pb::Resource, acct: &AccountInfo) -> pb::Resource {
    let profile = r.profile.get_or_insert_with(Default::default);
    profile.fields.insert(
        "aws_account_name".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(acct.name.clone())),
        },
    );
    r
}

/// The console-access, password and MFA facts of a user's profile (docs/RESOURCE-MODEL.md
/// names each key's source).
fn credential_profile(profile: &mut Map<String, Value>, creds: &Credentials) {
    profile.insert("aws_console_access".into(), json!(creds.password_enabled));
    if let Some(d) = creds.password_last_changed {
        profile.insert("aws_password_last_changed".into(), json!(d.to_rfc3339()));
    }
    if let Some(r) = creds.password_reset_required {
        profile.insert("aws_password_reset_required".into(), json!(r));
    }
    if let Some(d) = creds.password_last_used {
        profile.insert("aws_password_last_used".into(), json!(d.to_rfc3339()));
    }
    if let Some(m) = creds.mfa_active {
        profile.insert("aws_mfa_active".into(), json!(m));
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The `iam_user` resource of `u` (credential facts come from `snap`), with the
/// `aws_account_name` of `acct`: provisioning, which prints user records, names the account as
/// the sync does.
pub fn user_resource(acct: &AccountInfo, u: &User, snap: &IamSnapshot) -> pb::Resource {
    let mut emails: Vec<pb::user_trait::Email> = vec![];
    let mut push_email = |addr: &str| {
        if !addr.is_empty() && !emails.iter().any(|e| e.address == addr) {
            let primary = emails.is_empty();
            emails.push(pb::user_trait::Email {
                address: addr.to_string(),
                is_primary: primary,
            });
        }
    };
    if u.name.contains('@') {
        push_email(&u.name);
    }
    for (k, v) in &u.tags {
        if k == "email" {
            push_email(v);
        }
    }
    let creds = snap.credentials.get(&u.name);
    let key_last_used = snap
        .keys
        .get(&u.name)
        .and_then(|ks| ks.iter().filter_map(|k| k.last_used).max());
    let last_login = latest(
        creds.and_then(|c| c.password_last_used),
        latest(creds.and_then(|c| c.key_last_used), key_last_used),
    );
    let trait_ = pb::UserTrait {
        emails,
        status: Some(pb::user_trait::Status {
            status: pb::user_trait::status::Status::Enabled as i32,
            details: String::new(),
        }),
        account_type: pb::user_trait::AccountType::Human as i32,
        login: u.name.clone(),
        last_login: last_login.map(timestamp),
        mfa_status: creds
            .and_then(|c| c.mfa_active)
            .map(|m| pb::user_trait::MfaStatus { mfa_enabled: m }),
        ..Default::default()
    };
    let mut profile = Map::new();
    profile.insert("aws_arn".into(), json!(u.arn));
    profile.insert("aws_path".into(), json!(u.path));
    profile.insert("aws_user_type".into(), json!("iam"));
    profile.insert("aws_tags".into(), tags_json(&u.tags));
    profile.insert("aws_user_id".into(), json!(u.id));
    profile.insert("aws_account_name".into(), json!(acct.name));
    if let Some(b) = &u.boundary {
        profile.insert("aws_permissions_boundary".into(), json!(b));
    }
    if let Some(c) = creds {
        credential_profile(&mut profile, c);
    }
    let mut r = resource(
        rid(rt::IAM_USER, &u.arn),
        &u.name,
        acct.parent(),
        vec![
            v1_identifier(&u.arn),
            child_type(rt::INLINE_POLICY),
            pack(&trait_),
        ],
        Some(to_struct(&Value::Object(profile))),
    );
    r.status = Some(pb::Status {
        status: pb::status::ResourceStatus::Enabled as i32,
        details: String::new(),
    });
    r
}

/// The `group` resource of an IAM group.
pub fn group_resource(acct: &AccountInfo, g: &Group) -> pb::Resource {
    resource(
        rid(rt::GROUP, &g.arn),
        &g.name,
        acct.parent(),
        vec![
            v1_identifier(&g.arn),
            child_type(rt::INLINE_POLICY),
            pack(&pb::GroupTrait::default()),
        ],
        Some(to_struct(&json!({
            "aws_arn": g.arn,
            "aws_path": g.path,
            "aws_group_type": "iam",
            "aws_group_name": g.name,
            "aws_group_id": g.id,
        }))),
    )
}

fn role_resource(acct: &AccountInfo, r: &Role) -> pb::Resource {
    let (nhi_type, nhi_detail) = nhi_kind(&r.path, acct.account_id.as_str(), r.trust.as_deref());
    let mut profile = Map::new();
    profile.insert("aws_arn".into(), json!(r.arn));
    profile.insert("aws_path".into(), json!(r.path));
    profile.insert("aws_tags".into(), tags_json(&r.tags));
    profile.insert("aws_role_name".into(), json!(r.name));
    profile.insert(
        "aws_role_description".into(),
        json!(r.description.clone().unwrap_or_default()),
    );
    if let Some(m) = r.max_session_seconds {
        profile.insert("aws_max_session_duration_seconds".into(), json!(m));
    }
    // orgsync additions: who else the trust policy lets in, and when the role was last used.
    if let Some(doc) = &r.trust {
        let t = parse_trust(doc);
        if !t.services.is_empty() {
            profile.insert("aws_trust_services".into(), json!(t.services));
        }
        if !t.federated.is_empty() {
            profile.insert("aws_trust_federated".into(), json!(t.federated));
        }
        if t.any_principal {
            profile.insert("aws_trust_any_principal".into(), json!(true));
        }
        let others: Vec<&String> = t
            .aws
            .iter()
            .filter_map(|p| match p {
                AwsPrincipal::Other(s) => Some(s),
                _ => None,
            })
            .collect();
        if !others.is_empty() {
            profile.insert("aws_trust_other_principals".into(), json!(others));
        }
        if t.conditional {
            profile.insert("aws_trust_conditional".into(), json!(true));
        }
    }
    if let Some(d) = r.last_used {
        profile.insert("aws_role_last_used".into(), json!(d.to_rfc3339()));
        if let Some(region) = &r.last_used_region {
            profile.insert("aws_role_last_used_region".into(), json!(region));
        }
    }
    if let Some(b) = &r.boundary {
        profile.insert("aws_permissions_boundary".into(), json!(b));
    }
    resource(
        rid(rt::ROLE, &r.arn),
        &r.name,
        acct.parent(),
        vec![
            v1_identifier(&r.arn),
            child_type(rt::INLINE_POLICY),
            pack(&pb::NonHumanIdentityTrait {
                nhi_type,
                nhi_detail,
            }),
            pack(&pb::RoleTrait::default()),
        ],
        Some(to_struct(&Value::Object(profile))),
    )
}

/// The `iam_policy` resource of a managed policy. AWS-managed policies have no parent.
pub fn policy_resource(acct: &AccountInfo, p: &ManagedPolicy) -> pb::Resource {
    let aws_managed = p.arn.contains(":iam::aws:policy/");
    managed_policy_resource(p, if aws_managed { None } else { acct.parent() })
}

/// The `iam_policy` resource of an AWS-managed policy: no account owns it, so no parent.
pub fn aws_policy_resource(p: &ManagedPolicy) -> pb::Resource {
    managed_policy_resource(p, None)
}

fn managed_policy_resource(p: &ManagedPolicy, parent: Option<pb::ResourceId>) -> pb::Resource {
    let mut profile = Map::new();
    profile.insert("aws_policy_name".into(), json!(p.name));
    profile.insert("aws_policy_arn".into(), json!(p.arn));
    if let Some(doc) = &p.document {
        profile.insert("policy_document".into(), json!(doc));
    }
    let mut r = resource(
        rid(rt::IAM_POLICY, &p.arn),
        &p.name,
        parent,
        vec![pack(&pb::SkipGrants {}), pack(&pb::RoleTrait::default())],
        Some(to_struct(&Value::Object(profile))),
    );
    r.description = p.description.clone().unwrap_or_default();
    r
}

/// The `attached` entitlement of a managed policy.
pub fn policy_entitlement(policy: &pb::Resource) -> pb::Entitlement {
    let id = policy.id.clone().unwrap_or_default();
    entitlement(
        ids::entitlement_id(rt::IAM_POLICY, &id.resource, "attached"),
        policy.clone(),
        "attached",
        format!("{} Managed Policy", policy.display_name),
        format!("Has the {} managed policy in AWS", policy.display_name),
        &[
            rt::IAM_USER,
            rt::ROLE,
            rt::GROUP,
            rt::PERMISSION_SET,
            rt::PERMISSION_SET_ASSIGNMENT,
        ],
        vec![],
    )
}

/// The grant of managed policy `p` to `principal`, with baton-aws's expansion link.
pub fn policy_grant(
    p: &Attached,
    principal: pb::ResourceId,
    expand: Option<prost_types::Any>,
) -> pb::Grant {
    let ent_id = ids::entitlement_id(rt::IAM_POLICY, &p.arn, "attached");
    grant(
        ids::grant_id(&ent_id, &principal.resource_type, &principal.resource),
        entitlement_ref(&ent_id, stub(rid(rt::IAM_POLICY, &p.arn), &p.name)),
        principal,
        expand.into_iter().collect(),
    )
}

/// The expansion link baton-aws puts on grants held by a group (its `member` entitlement,
/// shallow) or a role (its `assignment` entitlement); none for users.
pub fn holder_expansion(principal_type: &str, principal_arn: &str) -> Option<prost_types::Any> {
    match principal_type {
        rt::GROUP => Some(grant_expandable(
            ids::entitlement_id(rt::GROUP, principal_arn, "member"),
            true,
        )),
        rt::ROLE => Some(grant_expandable(
            ids::entitlement_id(rt::ROLE, principal_arn, "assignment"),
            false,
        )),
        _ => None,
    }
}

/// The grant of managed policy `p` to an IAM user, group or role, as the sync writes it.
pub fn principal_policy_grant(
    p: &Attached,
    principal_type: &str,
    principal_arn: &str,
) -> pb::Grant {
    policy_grant(
        p,
        rid(principal_type, principal_arn),
        holder_expansion(principal_type, principal_arn),
    )
}

/// The `member` grant of IAM group `group` (its full resource) to user `user_arn`.
pub fn group_member_grant(group: &pb::Resource, user_arn: &str) -> pb::Grant {
    let group_arn = group
        .id
        .as_ref()
        .map(|i| i.resource.as_str())
        .unwrap_or_default();
    let member_id = ids::entitlement_id(rt::GROUP, group_arn, "member");
    grant(
        ids::grant_id(&member_id, rt::IAM_USER, user_arn),
        entitlement_ref(&member_id, group.clone()),
        rid(rt::IAM_USER, user_arn),
        vec![v1_identifier(ids::v1_membership_grant(group_arn, user_arn))],
    )
}

struct InlineOut {
    resource: pb::Resource,
    entitlement: pb::Entitlement,
    grant: pb::Grant,
}

/// An inline policy of a user, group, role (or permission set) as resource + entitlement + grant.
pub fn inline_policy(
    parent_type: &str,
    parent_arn: &str,
    name: &str,
    document: Option<&str>,
    description: String,
    expand: Option<prost_types::Any>,
) -> (pb::Resource, pb::Entitlement, pb::Grant) {
    let id = ids::inline_policy_id(parent_arn, name);
    let mut profile = Map::new();
    profile.insert("aws_policy_name".into(), json!(name));
    profile.insert("aws_parent_arn".into(), json!(parent_arn));
    if let Some(d) = document.filter(|d| !d.is_empty()) {
        profile.insert("policy_document".into(), json!(d));
    }
    let mut res = resource(
        rid(rt::INLINE_POLICY, &id),
        name,
        Some(rid(parent_type, parent_arn)),
        vec![pack(&pb::RoleTrait::default())],
        Some(to_struct(&Value::Object(profile))),
    );
    res.description = description;
    let ent_id = ids::entitlement_id(rt::INLINE_POLICY, &id, "attached");
    let ent = entitlement(
        ent_id.clone(),
        res.clone(),
        "attached",
        format!("{name} Inline Policy"),
        format!("Has the {name} inline policy in AWS"),
        &[parent_type],
        vec![],
    );
    let g = grant(
        ids::grant_id(&ent_id, parent_type, parent_arn),
        entitlement_ref(&ent_id, res.clone()),
        rid(parent_type, parent_arn),
        expand.into_iter().collect(),
    );
    (res, ent, g)
}

/// An inline policy of an IAM user, group or role (`parent_type`), as resource + entitlement +
/// grant, with the description and expansion link the sync writes.
pub fn iam_inline_policy(
    parent_type: &str,
    parent_arn: &str,
    name: &str,
    document: Option<&str>,
) -> (pb::Resource, pb::Entitlement, pb::Grant) {
    let parent_word = match parent_type {
        rt::IAM_USER => "user",
        rt::GROUP => "group",
        _ => "role",
    };
    inline_policy(
        parent_type,
        parent_arn,
        name,
        document,
        format!("Inline policy {name} attached to {parent_word} IAM {parent_arn}"),
        holder_expansion(parent_type, parent_arn),
    )
}

fn iam_inline(acct: &AccountInfo, parent_type: &str, parent_arn: &str, p: &Inline) -> InlineOut {
    let (resource, entitlement, grant) =
        iam_inline_policy(parent_type, parent_arn, &p.name, p.document.as_deref());
    InlineOut {
        resource: with_account_name(resource, acct),
        entitlement,
        grant,
    }
}

fn access_key_resource(acct: &AccountInfo, k: &AccessKey, user_arn: &str) -> pb::Resource {
    let user = rid(rt::IAM_USER, user_arn);
    let secret = pb::SecretTrait {
        last_used_at: k.last_used.map(timestamp),
        created_by_id: Some(user.clone()),
        identity_id: Some(user),
        credential_type: pb::secret_trait::CredentialType::StaticSecret as i32,
        credential_detail: "aws.access_key".into(),
        ..Default::default()
    };
    let mut profile = Map::new();
    profile.insert("aws_access_key_id".into(), json!(k.id));
    profile.insert("aws_access_key_status".into(), json!(k.status));
    profile.insert("aws_user_name".into(), json!(k.user_name));
    profile.insert("aws_user_arn".into(), json!(user_arn));
    profile.insert("aws_account_name".into(), json!(acct.name));
    if let Some(s) = &k.last_used_service {
        profile.insert("aws_last_used_service".into(), json!(s));
    }
    if let Some(r) = &k.last_used_region {
        profile.insert("aws_last_used_region".into(), json!(r));
    }
    let mut r = resource(
        rid(rt::ACCESS_KEY, &k.id),
        &format!("{}|{}", k.user_name, k.id),
        None,
        vec![v1_identifier(user_arn), pack(&secret)],
        Some(to_struct(&Value::Object(profile))),
    );
    r.created_at = k.created.map(timestamp);
    r.status = Some(pb::Status {
        status: if k.status.eq_ignore_ascii_case("active") {
            pb::status::ResourceStatus::Enabled as i32
        } else {
            pb::status::ResourceStatus::Disabled as i32
        },
        details: String::new(),
    });
    r
}

mod assemble;

pub(crate) use assemble::RecordSet;
pub use assemble::{iam_records, iam_records_in_parts};

#[cfg(test)]
mod tests;
