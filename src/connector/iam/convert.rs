//! The SDK's IAM answers as the plain `model`: the entries of GetAccountAuthorizationDetails
//! (users, groups, roles, local managed policies with their attachments and inline documents),
//! access-key metadata and last use. Policy documents are URL-decoded here.
//!
//! Not here: making the calls (`read`), the credential report (`credential_report`).

use aws_sdk_iam::types as sdk;

use crate::aws::time::utc;
use crate::policy::decode_document;

use super::model::*;

fn attached(list: &[sdk::AttachedPolicy]) -> Vec<Attached> {
    list.iter()
        .filter_map(|p| Some(Attached::new(p.policy_name(), p.policy_arn()?)))
        .collect()
}

fn inline(list: &[sdk::PolicyDetail]) -> Vec<Inline> {
    list.iter()
        .filter_map(|p| {
            Some(Inline {
                name: p.policy_name()?.to_string(),
                document: p.policy_document().map(decode_document),
            })
        })
        .collect()
}

fn tags(list: &[sdk::Tag]) -> Vec<(String, String)> {
    list.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The policy ARN of a permissions boundary (GAAD gives one on users and roles that have it).
fn boundary_of(b: Option<&sdk::AttachedPermissionsBoundary>) -> Option<String> {
    b.and_then(|b| b.permissions_boundary_arn())
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// A user of the authorization details (`None` without a name or ARN).
pub(super) fn user_of(u: &sdk::UserDetail) -> Option<User> {
    Some(User {
        name: u.user_name()?.to_string(),
        arn: u.arn()?.to_string(),
        id: u.user_id().unwrap_or_default().to_string(),
        path: u.path().unwrap_or("/").to_string(),
        tags: tags(u.tags()),
        groups: u.group_list().to_vec(),
        attached: attached(u.attached_managed_policies()),
        inline: inline(u.user_policy_list()),
        created: u.create_date().and_then(utc),
        boundary: boundary_of(u.permissions_boundary()),
    })
}

/// A group of the authorization details (`None` without a name or ARN).
pub(super) fn group_of(g: &sdk::GroupDetail) -> Option<Group> {
    Some(Group {
        name: g.group_name()?.to_string(),
        arn: g.arn()?.to_string(),
        id: g.group_id().unwrap_or_default().to_string(),
        path: g.path().unwrap_or("/").to_string(),
        attached: attached(g.attached_managed_policies()),
        inline: inline(g.group_policy_list()),
    })
}

/// A role of the authorization details (`None` without a name or ARN), without the description
/// and session limit only ListRoles gives.
pub(super) fn role_of(r: &sdk::RoleDetail) -> Option<Role> {
    Some(Role {
        name: r.role_name()?.to_string(),
        arn: r.arn()?.to_string(),
        id: r.role_id().unwrap_or_default().to_string(),
        path: r.path().unwrap_or("/").to_string(),
        tags: tags(r.tags()),
        trust: r.assume_role_policy_document().map(decode_document),
        description: None,
        max_session_seconds: None,
        attached: attached(r.attached_managed_policies()),
        inline: inline(r.role_policy_list()),
        last_used: r
            .role_last_used()
            .and_then(|l| l.last_used_date())
            .and_then(utc),
        last_used_region: r
            .role_last_used()
            .and_then(|l| l.region())
            .map(str::to_string),
        boundary: boundary_of(r.permissions_boundary()),
    })
}

/// A local managed policy of the authorization details, with its default version's document.
pub(super) fn policy_of(p: &sdk::ManagedPolicyDetail) -> Option<ManagedPolicy> {
    let Attached { name, arn } = Attached::new(p.policy_name(), p.arn()?);
    let document = p
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version())
        .and_then(|v| v.document())
        .map(decode_document);
    Some(ManagedPolicy {
        name,
        arn,
        description: p.description().map(str::to_string),
        document,
    })
}

/// An access key of `user_name` as ListAccessKeys lists it (last use not yet known).
pub(super) fn access_key_of(k: &sdk::AccessKeyMetadata, user_name: &str) -> Option<AccessKey> {
    Some(AccessKey {
        id: k.access_key_id()?.to_string(),
        user_name: user_name.to_string(),
        status: k
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        created: k.create_date().and_then(utc),
        ..Default::default()
    })
}

/// Fills `key`'s last use from GetAccessKeyLastUsed (AWS says `N/A` for "never").
pub(super) fn set_last_used(key: &mut AccessKey, l: &sdk::AccessKeyLastUsed) {
    key.last_used = l
        .last_used_date()
        .and_then(utc)
        .filter(|d| d.timestamp() > 0);
    key.last_used_service =
        Some(l.service_name().to_string()).filter(|s| s != "N/A" && !s.is_empty());
    key.last_used_region = Some(l.region().to_string()).filter(|s| s != "N/A" && !s.is_empty());
}
