//! What one read of IAM Identity Center produced: the instance, identity-store users, groups
//! and memberships, permission sets with their policies, and account assignments. Plain data,
//! filled by `read` (through `convert`) and mapped to records by `records`; nothing here
//! talks to AWS.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::connector::iam::model::Attached;

/// Organization instance (owned by the management account, has permission sets) or account
/// instance (owned by a member or standalone account, identity store and applications only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKind {
    Organization,
    Account,
}

impl InstanceKind {
    /// `organization` or `account`, as notes say it.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceKind::Organization => "organization",
            InstanceKind::Account => "account",
        }
    }
}

/// An Identity Center instance, as `sso:ListInstances` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub arn: String,
    pub identity_store_id: String,
    /// The region it was found in: the `<ssoRegion>` of synthetic identity-store ARNs.
    pub region: String,
    pub owner_account: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub kind: InstanceKind,
}

/// An identity-store user's status (`UserStatus`; absent on older stores and on moto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Enabled,
    Disabled,
    Unknown,
}

/// A user's structured name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    pub given: Option<String>,
    pub family: Option<String>,
    pub middle: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

impl PersonName {
    pub fn is_empty(&self) -> bool {
        [
            &self.given,
            &self.family,
            &self.middle,
            &self.prefix,
            &self.suffix,
        ]
        .iter()
        .all(|p| p.as_deref().is_none_or(str::is_empty))
    }
}

/// One email of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub primary: bool,
}

/// An identifier of the user or group in an external identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId {
    pub issuer: String,
    pub id: String,
}

/// An identity-store user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcUser {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub status: UserStatus,
    pub name: PersonName,
    pub emails: Vec<Email>,
    pub external_ids: Vec<ExternalId>,
}

/// An identity-store group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcGroup {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub external_ids: Vec<ExternalId>,
}

/// A user's membership of a group (group members that are not users are not kept).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Membership {
    /// The identity store's `MembershipId`: the grant id, as baton-aws writes it.
    pub id: String,
    pub group_id: String,
    pub user_id: String,
}

/// A customer-managed policy reference: resolved in each account as
/// `arn:<partition>:iam::<account>:policy<path><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPolicyRef {
    pub name: String,
    /// Always starts and ends with `/` (AWS's default is `/`).
    pub path: String,
}

impl CustomerPolicyRef {
    pub fn new(name: &str, path: Option<&str>) -> CustomerPolicyRef {
        let mut path = path.filter(|p| !p.is_empty()).unwrap_or("/").to_string();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        CustomerPolicyRef {
            name: name.to_string(),
            path,
        }
    }

    /// `<path><name>`, e.g. `/app/dev-data`.
    pub fn path_name(&self) -> String {
        format!("{}{}", self.path, self.name)
    }

    /// The policy ARN this reference resolves to in `account`.
    pub fn arn_in(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:policy{}", self.path_name())
    }
}

/// A permission set's permissions boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boundary {
    Managed(String),
    CustomerManaged(CustomerPolicyRef),
}

/// A permission set with everything that decides what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSet {
    /// Exactly as AWS listed it (moto and AWS shapes differ; never rebuilt from ids).
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// ISO-8601 duration, e.g. `PT8H`.
    pub session_duration: Option<String>,
    pub relay_state: Option<String>,
    pub created: Option<DateTime<Utc>>,
    /// AWS-managed policies.
    pub managed: Vec<Attached>,
    pub customer_managed: Vec<CustomerPolicyRef>,
    /// The inline policy document, when there is one.
    pub inline: Option<String>,
    pub boundary: Option<Boundary>,
}

/// Who an assignment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    User,
    Group,
}

/// One account assignment: `principal` may use `permission_set` in `account`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Assignment {
    pub account: String,
    pub permission_set: String,
    pub kind: PrincipalKind,
    pub principal_id: String,
}

/// Everything read from one instance.
#[derive(Debug, Clone)]
pub struct IcSnapshot {
    pub instance: Instance,
    pub users: Vec<IcUser>,
    pub groups: Vec<IcGroup>,
    pub memberships: Vec<Membership>,
    /// Empty for account instances.
    pub permission_sets: Vec<PermissionSet>,
    /// Account assignments in the run's accounts; `None` when they were not read.
    pub assignments: Option<BTreeSet<Assignment>>,
    /// What the SCIM endpoint says of users (their status is already set from it), by user
    /// id; empty when it was not read.
    pub scim: BTreeMap<String, ScimStatus>,
}

/// How a SCIM user was matched to an identity-store user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchedBy {
    /// The SCIM `id` is the identity-store `UserId` (IAM Identity Center's SCIM endpoint
    /// serves the identity store itself).
    Id,
    /// `userName` = `UserName` (exactly, else ignoring ASCII case when only one user fits).
    UserName,
    /// `externalId` = the `Id` of one of the user's `ExternalIds`.
    ExternalId,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Id => "id",
            MatchedBy::UserName => "userName",
            MatchedBy::ExternalId => "externalId",
        }
    }
}

/// What SCIM says of one identity-store user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimStatus {
    pub active: Option<bool>,
    pub by: MatchedBy,
}
