//! The SDK's Identity Center and identity-store answers as the plain `model`: instances, users,
//! groups, memberships, permission sets and their policies, account assignments. Provisioning
//! describes users and groups through [`ic_user_of`] / [`ic_group_of`], so what it prints is
//! what the next sync reads.
//!
//! Not here: making the calls (`read`, `discover`), the mapping to records (`records`).

use aws_sdk_identitystore::operation::describe_group::DescribeGroupOutput;
use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
use aws_sdk_identitystore::types as ids_types;
use aws_sdk_ssoadmin::types as sso_types;

use crate::aws::time::utc;
use crate::connector::iam::model::Attached;

use super::model::*;

/// An identity-store user as the store answers it: a `ListUsers` item or a `DescribeUser`
/// answer. The two are different SDK types with the same fields; this names the fields
/// orgsync keeps once, so [`ic_user_of`] maps both.
pub(crate) trait StoreUser {
    fn id(&self) -> &str;
    fn user_name(&self) -> Option<&str>;
    fn display_name(&self) -> Option<&str>;
    fn status(&self) -> Option<&ids_types::UserStatus>;
    fn name(&self) -> Option<&ids_types::Name>;
    fn emails(&self) -> &[ids_types::Email];
    fn external_ids(&self) -> &[ids_types::ExternalId];
}

impl StoreUser for ids_types::User {
    fn id(&self) -> &str {
        self.user_id()
    }
    fn user_name(&self) -> Option<&str> {
        ids_types::User::user_name(self)
    }
    fn display_name(&self) -> Option<&str> {
        ids_types::User::display_name(self)
    }
    fn status(&self) -> Option<&ids_types::UserStatus> {
        self.user_status()
    }
    fn name(&self) -> Option<&ids_types::Name> {
        ids_types::User::name(self)
    }
    fn emails(&self) -> &[ids_types::Email] {
        ids_types::User::emails(self)
    }
    fn external_ids(&self) -> &[ids_types::ExternalId] {
        ids_types::User::external_ids(self)
    }
}

impl StoreUser for DescribeUserOutput {
    fn id(&self) -> &str {
        self.user_id()
    }
    fn user_name(&self) -> Option<&str> {
        DescribeUserOutput::user_name(self)
    }
    fn display_name(&self) -> Option<&str> {
        DescribeUserOutput::display_name(self)
    }
    fn status(&self) -> Option<&ids_types::UserStatus> {
        self.user_status()
    }
    fn name(&self) -> Option<&ids_types::Name> {
        DescribeUserOutput::name(self)
    }
    fn emails(&self) -> &[ids_types::Email] {
        DescribeUserOutput::emails(self)
    }
    fn external_ids(&self) -> &[ids_types::ExternalId] {
        DescribeUserOutput::external_ids(self)
    }
}

/// An identity-store group as the store answers it: a `ListGroups` item or a `DescribeGroup`
/// answer (see [`StoreUser`]).
pub(crate) trait StoreGroup {
    fn id(&self) -> &str;
    fn display_name(&self) -> Option<&str>;
    fn description(&self) -> Option<&str>;
    fn external_ids(&self) -> &[ids_types::ExternalId];
}

impl StoreGroup for ids_types::Group {
    fn id(&self) -> &str {
        self.group_id()
    }
    fn display_name(&self) -> Option<&str> {
        ids_types::Group::display_name(self)
    }
    fn description(&self) -> Option<&str> {
        ids_types::Group::description(self)
    }
    fn external_ids(&self) -> &[ids_types::ExternalId] {
        ids_types::Group::external_ids(self)
    }
}

impl StoreGroup for DescribeGroupOutput {
    fn id(&self) -> &str {
        self.group_id()
    }
    fn display_name(&self) -> Option<&str> {
        DescribeGroupOutput::display_name(self)
    }
    fn description(&self) -> Option<&str> {
        DescribeGroupOutput::description(self)
    }
    fn external_ids(&self) -> &[ids_types::ExternalId] {
        DescribeGroupOutput::external_ids(self)
    }
}

/// The [`IcUser`] of an identity-store user.
pub(crate) fn ic_user_of(u: &impl StoreUser) -> IcUser {
    IcUser {
        id: u.id().to_string(),
        user_name: u.user_name().unwrap_or_default().to_string(),
        display_name: nonempty(u.display_name()),
        status: user_status(u.status()),
        name: person_name(u.name()),
        emails: emails(u.emails()),
        external_ids: external_ids(u.external_ids()),
    }
}

/// The [`IcGroup`] of an identity-store group.
pub(crate) fn ic_group_of(g: &impl StoreGroup) -> IcGroup {
    IcGroup {
        id: g.id().to_string(),
        display_name: group_display_name(g.display_name(), g.id()),
        description: nonempty(g.description()),
        external_ids: external_ids(g.external_ids()),
    }
}

/// A user's membership of `group_id` (`None` for a member that is not a user).
pub(super) fn membership_of(m: &ids_types::GroupMembership, group_id: &str) -> Option<Membership> {
    let user = match m.member_id() {
        Some(ids_types::MemberId::UserId(u)) => u.clone(),
        _ => return None,
    };
    Some(Membership {
        id: m.membership_id().to_string(),
        group_id: m.group_id().unwrap_or(group_id).to_string(),
        user_id: user,
    })
}

/// An instance `ListInstances` listed in `region`, of `kind` (`None` without the fields every
/// instance has).
pub(super) fn instance_of(
    i: &sso_types::InstanceMetadata,
    region: &str,
    kind: InstanceKind,
) -> Option<Instance> {
    Some(Instance {
        arn: i.instance_arn()?.to_string(),
        identity_store_id: i.identity_store_id()?.to_string(),
        region: region.to_string(),
        owner_account: i.owner_account_id().map(str::to_string),
        name: i.name().map(str::to_string),
        status: i.status().map(|s| s.as_str().to_string()),
        kind,
    })
}

/// The permission set `arn` as `DescribePermissionSet` describes it, without its policies
/// (the reader adds them).
pub(super) fn permission_set_of(arn: &str, d: Option<&sso_types::PermissionSet>) -> PermissionSet {
    PermissionSet {
        arn: arn.to_string(),
        name: d
            .and_then(|d| d.name())
            .map(str::to_string)
            .unwrap_or_else(|| last_segment(arn)),
        description: nonempty(d.and_then(|d| d.description())),
        session_duration: d.and_then(|d| d.session_duration()).map(str::to_string),
        relay_state: nonempty(d.and_then(|d| d.relay_state())),
        created: d.and_then(|d| d.created_date()).and_then(utc),
        managed: vec![],
        customer_managed: vec![],
        inline: None,
        boundary: None,
    }
}

/// An AWS-managed policy attached to a permission set.
pub(super) fn managed_policy_of(p: &sso_types::AttachedManagedPolicy) -> Option<Attached> {
    Some(Attached::new(p.name(), p.arn()?))
}

/// A customer-managed policy a permission set references.
pub(super) fn customer_policy_of(
    c: &sso_types::CustomerManagedPolicyReference,
) -> CustomerPolicyRef {
    CustomerPolicyRef::new(c.name(), c.path())
}

/// A permission set's boundary (`None` when the answer names neither kind).
pub(super) fn boundary_of(b: &sso_types::PermissionsBoundary) -> Option<Boundary> {
    if let Some(arn) = nonempty(b.managed_policy_arn()) {
        return Some(Boundary::Managed(arn));
    }
    b.customer_managed_policy_reference()
        .map(|c| Boundary::CustomerManaged(customer_policy_of(c)))
}

/// An assignment `ListAccountAssignmentsForPrincipal` listed for the principal `kind` `id`.
pub(super) fn assignment_for_principal(
    a: &sso_types::AccountAssignmentForPrincipal,
    kind: PrincipalKind,
    id: &str,
) -> Option<Assignment> {
    Some(Assignment {
        account: a.account_id()?.to_string(),
        permission_set: a.permission_set_arn()?.to_string(),
        kind: a
            .principal_type()
            .map(principal_kind)
            .unwrap_or(Some(kind))?,
        principal_id: a.principal_id().unwrap_or(id).to_string(),
    })
}

/// An assignment `ListAccountAssignments` listed for the pair (`account`, `permission_set`).
pub(super) fn assignment_in_pair(
    a: &sso_types::AccountAssignment,
    account: &str,
    permission_set: &str,
) -> Option<Assignment> {
    Some(Assignment {
        account: a.account_id().unwrap_or(account).to_string(),
        permission_set: a.permission_set_arn().unwrap_or(permission_set).to_string(),
        kind: principal_kind(a.principal_type()?)?,
        principal_id: a.principal_id()?.to_string(),
    })
}

/// The SDK's principal type of `kind`.
pub(super) fn principal_type(kind: PrincipalKind) -> sso_types::PrincipalType {
    match kind {
        PrincipalKind::User => sso_types::PrincipalType::User,
        PrincipalKind::Group => sso_types::PrincipalType::Group,
    }
}

fn principal_kind(t: &sso_types::PrincipalType) -> Option<PrincipalKind> {
    match t {
        sso_types::PrincipalType::User => Some(PrincipalKind::User),
        sso_types::PrincipalType::Group => Some(PrincipalKind::Group),
        _ => None,
    }
}

/// The last `/` segment of an ARN (a name when the answer gives none).
fn last_segment(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty()).map(str::to_string)
}

fn external_ids(ext: &[ids_types::ExternalId]) -> Vec<ExternalId> {
    ext.iter()
        .map(|e| ExternalId {
            issuer: e.issuer().to_string(),
            id: e.id().to_string(),
        })
        .collect()
}

fn person_name(n: Option<&ids_types::Name>) -> PersonName {
    n.map(|n| PersonName {
        given: nonempty(n.given_name()),
        family: nonempty(n.family_name()),
        middle: nonempty(n.middle_name()),
        prefix: nonempty(n.honorific_prefix()),
        suffix: nonempty(n.honorific_suffix()),
    })
    .unwrap_or_default()
}

fn user_status(s: Option<&ids_types::UserStatus>) -> UserStatus {
    match s {
        Some(ids_types::UserStatus::Enabled) => UserStatus::Enabled,
        Some(ids_types::UserStatus::Disabled) => UserStatus::Disabled,
        _ => UserStatus::Unknown,
    }
}

/// The addresses that have a value, with the store's primary flag.
fn emails(e: &[ids_types::Email]) -> Vec<Email> {
    e.iter()
        .filter_map(|e| {
            Some(Email {
                value: nonempty(e.value())?,
                primary: e.primary(),
            })
        })
        .collect()
}

/// A group's display name, or its id when it has none.
fn group_display_name(display_name: Option<&str>, id: &str) -> String {
    display_name
        .filter(|d| !d.is_empty())
        .unwrap_or(id)
        .to_string()
}
