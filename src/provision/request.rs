//! What a provisioning command asks for: the entitlement, grant or resource IDs a sync writes
//! (shared/spec/resource-model.md §3/§4), parsed into a typed [`Request`] before any AWS call.
//! Everything that can be refused without AWS is refused here — malformed IDs, entitlement
//! kinds orgsync cannot provision, principals that cannot hold the entitlement — and the error
//! names the bad value. Not here: the AWS calls (the steps of each change, in the domain
//! folders, make them).

use crate::arn::{AccountId, Arn, IdError};
use crate::ident::{self, shown};
use crate::model::ids::{
    EntitlementRef, GrantRef, IdentityStoreRef, ParseIdError, PermissionSetRef,
};
use crate::model::types as rt;

/// Why a request was refused before any AWS call (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Id(#[from] ParseIdError),
    #[error("'{value}' is not a valid principal of type {principal_type}: {why}")]
    Principal {
        principal_type: String,
        value: String,
        why: String,
    },
    #[error("'{id}' cannot be provisioned: {why}")]
    Unsupported { id: String, why: String },
    #[error("{0}")]
    Invalid(String),
}

/// Add or remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Grant,
    Revoke,
}

/// The kind of an IAM principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    User,
    Group,
    Role,
}

impl IamKind {
    /// The resource type of the principal in the record model.
    pub fn resource_type(self) -> &'static str {
        match self {
            IamKind::User => rt::IAM_USER,
            IamKind::Group => rt::GROUP,
            IamKind::Role => rt::ROLE,
        }
    }

    /// The resource kind in the ARN (`user/…`, `group/…`, `role/…`).
    pub fn arn_kind(self) -> &'static str {
        match self {
            IamKind::User => "user",
            IamKind::Group => "group",
            IamKind::Role => "role",
        }
    }

    fn from_resource_type(t: &str) -> Option<IamKind> {
        match t {
            rt::IAM_USER => Some(IamKind::User),
            rt::GROUP => Some(IamKind::Group),
            rt::ROLE => Some(IamKind::Role),
            _ => None,
        }
    }

    fn from_arn_kind(k: &str) -> Option<IamKind> {
        match k {
            "user" => Some(IamKind::User),
            "group" => Some(IamKind::Group),
            "role" => Some(IamKind::Role),
            _ => None,
        }
    }
}

/// An IAM user, group or role, by ARN (its account is known to be 12 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamPrincipal {
    pub kind: IamKind,
    pub arn: Arn,
    pub account: AccountId,
}

impl IamPrincipal {
    /// Parses `id` as the ARN of an IAM principal of resource type `principal_type`.
    pub fn parse(principal_type: &str, id: &str) -> Result<IamPrincipal, RequestError> {
        let bad = |why: String| RequestError::Principal {
            principal_type: shown(principal_type),
            value: shown(id),
            why,
        };
        let kind = IamKind::from_resource_type(principal_type)
            .ok_or_else(|| bad("expected an IAM principal type: iam_user, group or role".into()))?;
        let arn = Arn::parse_iam(id, kind.arn_kind(), "IAM principal").map_err(|e| {
            bad(format!(
                "{e}; expected arn:<partition>:iam::<account>:{}/<name>",
                kind.arn_kind()
            ))
        })?;
        let account = arn
            .account_id()
            .ok_or_else(|| bad("the ARN has no 12-digit account".into()))?;
        Ok(IamPrincipal { kind, arn, account })
    }

    /// The principal's name (last path segment of the ARN).
    pub fn name(&self) -> &str {
        self.arn.resource_name()
    }

    pub fn resource_type(&self) -> &'static str {
        self.kind.resource_type()
    }

    /// The ARN as text.
    pub fn arn_text(&self) -> String {
        self.arn.to_string()
    }
}

/// An Identity Center principal kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoKind {
    User,
    Group,
}

/// An Identity Center user or group, by its synthetic identity-store ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPrincipal {
    pub kind: SsoKind,
    pub store: IdentityStoreRef,
    pub arn: String,
}

impl SsoPrincipal {
    /// Parses `id` as the identity-store ARN of a principal of resource type `principal_type`.
    pub fn parse(principal_type: &str, id: &str) -> Result<SsoPrincipal, RequestError> {
        let bad = |why: String| RequestError::Principal {
            principal_type: shown(principal_type),
            value: shown(id),
            why,
        };
        let kind = match principal_type {
            rt::SSO_USER => SsoKind::User,
            rt::SSO_GROUP => SsoKind::Group,
            _ => return Err(bad("expected sso_user or sso_group".into())),
        };
        let store = IdentityStoreRef::parse(id).map_err(|e| {
            bad(format!(
                "{e}; expected arn:aws:identitystore:<region>::<identity store id>/{}/<id>",
                kind.word()
            ))
        })?;
        if store.kind != kind.word() {
            return Err(bad(format!(
                "the ARN names a {}, not a {}",
                store.kind,
                kind.word()
            )));
        }
        check_store_ref(&store).map_err(|e| bad(e.to_string()))?;
        Ok(SsoPrincipal {
            kind,
            store,
            arn: id.to_string(),
        })
    }

    pub fn resource_type(&self) -> &'static str {
        match self.kind {
            SsoKind::User => rt::SSO_USER,
            SsoKind::Group => rt::SSO_GROUP,
        }
    }

    /// The principal id inside its identity store (UserId / GroupId).
    pub fn id(&self) -> &str {
        &self.store.id
    }
}

impl SsoKind {
    /// `user` / `group`, as identity-store ARNs and messages spell it.
    pub fn word(self) -> &'static str {
        match self {
            SsoKind::User => "user",
            SsoKind::Group => "group",
        }
    }
}

/// One change to access, fully typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// IAM group membership (`group:<groupArn>:member`), made in the group's account.
    GroupMember {
        group: Arn,
        account: AccountId,
        user: IamPrincipal,
    },
    /// A managed policy (`iam_policy:<policyArn>:attached`) on a user, group or role, made in
    /// the principal's account.
    ManagedPolicy {
        policy: Arn,
        principal: IamPrincipal,
    },
    /// An inline policy (`inline_policy:<parentArn>::inline::<name>:attached`); revoke only.
    InlinePolicy { parent: IamPrincipal, name: String },
    /// Identity Center group membership by group and user.
    SsoGroupMember {
        group: SsoPrincipal,
        user: SsoPrincipal,
    },
    /// Identity Center group membership by its MembershipId (the grant id a sync writes).
    /// `group` is known when a c1z named it; otherwise the identity store is looked up.
    SsoMembership {
        membership_id: String,
        group: Option<SsoPrincipal>,
    },
    /// Account access through a permission set (`<account>|<psArn>`, or the binding's
    /// `permission_set_assignment:<psArn>-<account>:assigned` when `binding`).
    AccountAssignment {
        account: AccountId,
        permission_set: PermissionSetRef,
        principal: SsoPrincipal,
        binding: bool,
    },
}

/// A grant or revoke request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub direction: Direction,
    pub change: Change,
}

/// Principal types the `--principal-type` flag accepts.
pub const PRINCIPAL_TYPES: [&str; 5] = [
    rt::IAM_USER,
    rt::GROUP,
    rt::ROLE,
    rt::SSO_USER,
    rt::SSO_GROUP,
];

/// The parts of an identity-store ARN by AWS's rules (`ident`): the identity store id, the
/// user or group id, the region.
fn check_store_ref(store: &IdentityStoreRef) -> Result<(), ident::Invalid> {
    ident::identity_store_id(&store.identity_store_id)?;
    ident::identity_store_member_id(&store.id, "an identity-store user or group id")?;
    ident::region(&store.region)
}

fn unsupported(id: &str, why: impl Into<String>) -> RequestError {
    RequestError::Unsupported {
        id: shown(id),
        why: why.into(),
    }
}

fn need_type(
    entitlement: &str,
    principal_type: &str,
    allowed: &[&str],
) -> Result<(), RequestError> {
    if allowed.contains(&principal_type) {
        Ok(())
    } else {
        Err(RequestError::Invalid(format!(
            "'{entitlement}' can be granted to {} only, not to a {principal_type}",
            allowed.join(" or ")
        )))
    }
}

/// `orgsync grant --entitlement ID --principal-type TYPE --principal ID`.
pub fn grant(
    entitlement: &str,
    principal_type: &str,
    principal: &str,
) -> Result<Request, RequestError> {
    let ent = EntitlementRef::parse(entitlement)?;
    check_principal_type(principal_type)?;
    Ok(Request {
        direction: Direction::Grant,
        change: change(
            entitlement,
            ent,
            principal_type,
            principal,
            Direction::Grant,
        )?,
    })
}

/// `orgsync revoke --grant ID`.
pub fn revoke(grant_id: &str) -> Result<Request, RequestError> {
    let change = match GrantRef::parse(grant_id)? {
        GrantRef::SsoMembership { membership_id } => {
            ident::identity_store_member_id(&membership_id, "an identity-store membership id")
                .map_err(|e| RequestError::Invalid(e.to_string()))?;
            Change::SsoMembership {
                membership_id,
                group: None,
            }
        }
        GrantRef::Direct {
            entitlement,
            principal_type,
            principal,
        } => {
            let ent = EntitlementRef::parse(&entitlement)?;
            change(
                &entitlement,
                ent,
                &principal_type,
                &principal,
                Direction::Revoke,
            )
            .map_err(|e| match e {
                // Name the grant the user gave, not only its entitlement part.
                RequestError::Unsupported { why, .. } => unsupported(grant_id, why),
                other => other,
            })?
        }
    };
    Ok(Request {
        direction: Direction::Revoke,
        change,
    })
}

fn check_principal_type(t: &str) -> Result<(), RequestError> {
    if PRINCIPAL_TYPES.contains(&t) {
        Ok(())
    } else if t == rt::PERMISSION_SET || t == rt::PERMISSION_SET_ASSIGNMENT {
        Err(RequestError::Invalid(format!(
            "principal type '{t}' is not supported: change a permission set's policies in IAM Identity Center"
        )))
    } else {
        Err(RequestError::Invalid(format!(
            "'{t}' is not a principal type orgsync can grant to (expected one of: {})",
            PRINCIPAL_TYPES.join(", ")
        )))
    }
}

/// Who a grant or revoke names, with the entitlement id it names them for (`id`, for errors).
#[derive(Clone, Copy)]
struct Holder<'a> {
    id: &'a str,
    principal_type: &'a str,
    principal: &'a str,
}

fn change(
    id: &str,
    ent: EntitlementRef,
    principal_type: &str,
    principal: &str,
    direction: Direction,
) -> Result<Change, RequestError> {
    let h = Holder {
        id,
        principal_type,
        principal,
    };
    match ent {
        EntitlementRef::RoleAssignment { .. } => Err(unsupported(
            id,
            "who may assume a role is decided by the role's trust policy, and orgsync does not rewrite trust policies",
        )),
        EntitlementRef::GroupMember { group } => group_member(h, group),
        EntitlementRef::PolicyAttached { policy } => policy_attached(h, policy),
        EntitlementRef::InlineAttached { parent, name } => {
            if direction == Direction::Grant {
                return Err(unsupported(
                    id,
                    "an inline policy can only be revoked (which deletes it); orgsync does not write policy documents",
                ));
            }
            inline_attached(h, parent, name)
        }
        EntitlementRef::SsoGroupMember { group, arn } => sso_group_member(h, group, arn),
        EntitlementRef::AccountPermissionSet {
            account,
            permission_set,
        } => account_assignment(h, account, permission_set, false),
        EntitlementRef::BindingAssigned {
            account,
            permission_set,
        } => account_assignment(h, account, permission_set, true),
    }
}

/// IAM group membership: an IAM user of the group's account.
fn group_member(h: Holder<'_>, group: Arn) -> Result<Change, RequestError> {
    need_type(h.id, h.principal_type, &[rt::IAM_USER])?;
    let user = IamPrincipal::parse(h.principal_type, h.principal)?;
    let account = group.account_id().ok_or_else(|| {
        RequestError::Invalid(format!("'{}': the group ARN has no 12-digit account", h.id))
    })?;
    if user.account != account {
        return Err(RequestError::Invalid(format!(
            "'{}' is in account {}, but IAM group {group} holds users of account {account} only",
            h.principal, user.account
        )));
    }
    Ok(Change::GroupMember {
        group,
        account,
        user,
    })
}

/// A managed policy: on an IAM user, group or role; a customer-managed one only in its own
/// account.
fn policy_attached(h: Holder<'_>, policy: Arn) -> Result<Change, RequestError> {
    let principal_type = h.principal_type;
    if principal_type == rt::PERMISSION_SET || principal_type == rt::PERMISSION_SET_ASSIGNMENT {
        return Err(unsupported(
            h.id,
            format!(
                "policies on a {principal_type} are managed in IAM Identity Center, not by orgsync"
            ),
        ));
    }
    need_type(h.id, principal_type, &[rt::IAM_USER, rt::GROUP, rt::ROLE])?;
    let principal = IamPrincipal::parse(principal_type, h.principal)?;
    if let Some(owner) = policy.account_id()
        && owner != principal.account
    {
        return Err(RequestError::Invalid(format!(
            "customer-managed policy {policy} lives in account {owner} and can be attached only to principals of that account, not to {} (account {})",
            principal.arn, principal.account
        )));
    }
    if policy.account_id().is_none() && policy.account != "aws" {
        return Err(RequestError::Invalid(format!(
            "'{policy}' is neither an AWS-managed policy (arn:aws:iam::aws:policy/…) nor a customer-managed one (12-digit account)"
        )));
    }
    Ok(Change::ManagedPolicy { policy, principal })
}

/// An IAM inline policy (revoke only): held by its parent alone.
fn inline_attached(h: Holder<'_>, parent: String, name: String) -> Result<Change, RequestError> {
    let parent_arn: Arn = parent
        .parse()
        .map_err(|e: IdError| RequestError::Invalid(e.to_string()))?;
    if parent_arn.service != "iam" {
        return Err(unsupported(
            h.id,
            "a permission set's inline policy is managed in IAM Identity Center, not by orgsync",
        ));
    }
    let kind = IamKind::from_arn_kind(parent_arn.resource_kind()).ok_or_else(|| {
        RequestError::Invalid(format!(
            "'{}': the parent of an inline policy is an IAM user, group or role",
            h.id
        ))
    })?;
    let holder = IamPrincipal::parse(kind.resource_type(), &parent)?;
    if h.principal_type != kind.resource_type() || h.principal != parent {
        return Err(RequestError::Invalid(format!(
            "inline policy {name} belongs to {parent}; only that {} holds it, not {} {}",
            kind.resource_type(),
            h.principal_type,
            h.principal
        )));
    }
    Ok(Change::InlinePolicy {
        parent: holder,
        name,
    })
}

/// Identity Center group membership: a user of the group's identity store.
fn sso_group_member(
    h: Holder<'_>,
    group: IdentityStoreRef,
    arn: String,
) -> Result<Change, RequestError> {
    check_store_ref(&group).map_err(|e| RequestError::Invalid(e.to_string()))?;
    need_type(h.id, h.principal_type, &[rt::SSO_USER])?;
    let user = SsoPrincipal::parse(h.principal_type, h.principal)?;
    if user.store.identity_store_id != group.identity_store_id || user.store.region != group.region
    {
        return Err(RequestError::Invalid(format!(
            "'{}' is in identity store {} ({}), but group {arn} is in {} ({})",
            h.principal,
            user.store.identity_store_id,
            user.store.region,
            group.identity_store_id,
            group.region
        )));
    }
    Ok(Change::SsoGroupMember {
        group: SsoPrincipal {
            kind: SsoKind::Group,
            store: group,
            arn,
        },
        user,
    })
}

/// Account access through a permission set: an Identity Center user or group.
fn account_assignment(
    h: Holder<'_>,
    account: AccountId,
    permission_set: PermissionSetRef,
    binding: bool,
) -> Result<Change, RequestError> {
    ident::permission_set_arn(&permission_set.arn)
        .map_err(|e| RequestError::Invalid(e.to_string()))?;
    need_type(h.id, h.principal_type, &[rt::SSO_USER, rt::SSO_GROUP])?;
    Ok(Change::AccountAssignment {
        account,
        permission_set,
        principal: SsoPrincipal::parse(h.principal_type, h.principal)?,
        binding,
    })
}

/// The IAM or Identity Center user a `create-user` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewUser {
    Iam {
        /// Account to create it in; the caller's when `None`.
        account: Option<AccountId>,
        user_name: String,
        path: String,
        tags: Vec<(String, String)>,
    },
    Sso {
        /// Identity store; found with sso-admin:ListInstances when `None`.
        identity_store_id: Option<String>,
        user_name: String,
        display_name: String,
        given_name: String,
        family_name: String,
        emails: Vec<String>,
    },
}

/// What a `delete-resource` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteTarget {
    IamUser(IamPrincipal),
    SsoUser(SsoPrincipal),
}

/// `orgsync delete-resource --resource-type TYPE --resource ID`.
pub fn delete_target(resource_type: &str, id: &str) -> Result<DeleteTarget, RequestError> {
    match resource_type {
        rt::IAM_USER => Ok(DeleteTarget::IamUser(IamPrincipal::parse(
            resource_type,
            id,
        )?)),
        rt::SSO_USER => Ok(DeleteTarget::SsoUser(SsoPrincipal::parse(
            resource_type,
            id,
        )?)),
        other => Err(RequestError::Invalid(format!(
            "resource type '{other}' cannot be deleted by orgsync (expected iam_user or sso_user)"
        ))),
    }
}

/// Checks an IAM user name and path as IAM would, so a bad one exits 2 without an AWS call.
pub fn check_iam_user(user_name: &str, path: &str) -> Result<(), RequestError> {
    ident::iam_name(user_name, "a valid IAM user name", 64)
        .and_then(|()| ident::iam_path(path))
        .map_err(|e| RequestError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
