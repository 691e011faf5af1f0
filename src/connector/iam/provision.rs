//! IAM access changes, as steps ([`Access`]), each made in the account that owns the entity
//! (hopping there with the provisioning role unless it is the caller's account) and checked
//! first, so a repeat is reported instead of repeated: group membership (`GetGroup` →
//! `AddUserToGroup` / `RemoveUserFromGroup`), managed policies on users, groups and roles
//! (`ListAttached*Policies` → `Attach*Policy` / `Detach*Policy`), and deletion of inline
//! policies (`Get*Policy` → `Delete*Policy`). Records come from the sync's own builders
//! (`connector::iam::records`).
//! Not here: user creation and deletion (`users`).

use aws_sdk_iam::operation as iam_op;
use aws_sdk_iam::types::AttachedPolicy;

use crate::arn::{AccountId, Arn};
use crate::connector::collector::AccountInfo;
use crate::connector::iam::model::{Attached, Group};
use crate::connector::iam::records::{
    group_member_grant, group_resource, iam_inline_policy, principal_policy_grant,
};
use crate::model::Record;
use crate::policy::decode_document;
use crate::provision::call::{Call, Context};
use crate::provision::exec::Exec;
use crate::provision::operations::Req;
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::request::{Direction, IamKind, IamPrincipal};
use crate::provision::step::{Change, Flow, Step};

/// How the sync describes `account` when it maps IAM to records.
pub(crate) fn account_info(cx: &Context, account: &AccountId) -> AccountInfo {
    AccountInfo {
        account_id: account.clone(),
        name: account.to_string(),
        arn: None,
        is_caller: cx.is_caller(account),
        partition: cx.partition.clone(),
    }
}

/// A step of an IAM access change.
#[derive(Debug, Clone)]
pub(crate) enum Access {
    /// Check: the group's members, page by page until the user is found (`GetGroup`).
    GroupMembers {
        group: Arn,
        account: AccountId,
        user: IamPrincipal,
    },
    /// Change: `AddUserToGroup`, unless the user is a member.
    AddToGroup {
        group: Arn,
        account: AccountId,
        user: IamPrincipal,
    },
    /// Change: `RemoveUserFromGroup`, only if the user is a member.
    RemoveFromGroup {
        group: Arn,
        account: AccountId,
        user: IamPrincipal,
    },
    /// Check: the principal's managed policies (`ListAttached*Policies`).
    AttachedPolicies {
        principal: IamPrincipal,
        policy: Arn,
    },
    /// Change: `Attach*Policy`, unless attached.
    Attach {
        principal: IamPrincipal,
        policy: Arn,
    },
    /// Change: `Detach*Policy`, only if attached.
    Detach {
        principal: IamPrincipal,
        policy: Arn,
    },
    /// Check: the inline policy exists (`Get*Policy`; its document goes into the record).
    InlinePolicy { holder: IamPrincipal, name: String },
    /// Change: `Delete*Policy`.
    DeleteInline { holder: IamPrincipal, name: String },
}

/// What the check of an IAM access change found.
#[derive(Debug)]
pub(crate) struct Checked {
    dir: Direction,
    /// The principal holds the entitlement.
    holds: bool,
    /// The grant as a sync writes it.
    record: Option<Record>,
}

impl Checked {
    fn new(dir: Direction) -> Checked {
        Checked {
            dir,
            holds: false,
            record: None,
        }
    }
}

/// Adds `user` to (or removes it from) IAM group `group` of `account`.
pub(crate) fn group_member(
    dir: Direction,
    group: &Arn,
    account: &AccountId,
    user: &IamPrincipal,
    cx: &Context,
) -> Change<Access> {
    let (group, account, user) = (group.clone(), account.clone(), user.clone());
    let change = match dir {
        Direction::Grant => Access::AddToGroup {
            group: group.clone(),
            account: account.clone(),
            user: user.clone(),
        },
        Direction::Revoke => Access::RemoveFromGroup {
            group: group.clone(),
            account: account.clone(),
            user: user.clone(),
        },
    };
    Change::new(Checked::new(dir))
        .hop(&account, cx)
        .then(Access::GroupMembers {
            group,
            account,
            user,
        })
        .then(change)
}

/// Attaches (or detaches) managed policy `policy` to `principal`, in the principal's account.
pub(crate) fn managed_policy(
    dir: Direction,
    policy: &Arn,
    principal: &IamPrincipal,
    cx: &Context,
) -> Change<Access> {
    let (policy, principal) = (policy.clone(), principal.clone());
    let change = match dir {
        Direction::Grant => Access::Attach {
            principal: principal.clone(),
            policy: policy.clone(),
        },
        Direction::Revoke => Access::Detach {
            principal: principal.clone(),
            policy: policy.clone(),
        },
    };
    Change::new(Checked::new(dir))
        .hop(&principal.account, cx)
        .then(Access::AttachedPolicies { principal, policy })
        .then(change)
}

/// Deletes inline policy `name` of `holder` (the only way to revoke an inline policy).
pub(crate) fn inline_policy(holder: &IamPrincipal, name: &str, cx: &Context) -> Change<Access> {
    Change::new(Checked::new(Direction::Revoke))
        .hop(&holder.account, cx)
        .then(Access::InlinePolicy {
            holder: holder.clone(),
            name: name.to_string(),
        })
        .then(Access::DeleteInline {
            holder: holder.clone(),
            name: name.to_string(),
        })
}

fn get_group(group: &Arn) -> Req<iam_op::get_group::builders::GetGroupInputBuilder> {
    Req::new(|p| {
        iam_op::get_group::GetGroupInput::builder()
            .group_name(p.put("GroupName", group.resource_name()))
    })
}

fn add_user_to_group(
    group: &Arn,
    user: &IamPrincipal,
) -> Req<iam_op::add_user_to_group::builders::AddUserToGroupInputBuilder> {
    Req::new(|p| {
        iam_op::add_user_to_group::AddUserToGroupInput::builder()
            .group_name(p.put("GroupName", group.resource_name()))
            .user_name(p.put("UserName", user.name()))
    })
}

/// `RemoveUserFromGroup` of user `user` and group `group` (names).
pub(crate) fn remove_user_from_group(
    group: &str,
    user: &str,
) -> Req<iam_op::remove_user_from_group::builders::RemoveUserFromGroupInputBuilder> {
    Req::new(|p| {
        iam_op::remove_user_from_group::RemoveUserFromGroupInput::builder()
            .group_name(p.put("GroupName", group))
            .user_name(p.put("UserName", user))
    })
}

/// One of the three requests of an IAM operation that exists per principal kind
/// (`AttachUserPolicy`, `AttachGroupPolicy`, `AttachRolePolicy`): different SDK types with the
/// same other setters.
enum PerKind<U, G, R> {
    User(Req<U>),
    Group(Req<G>),
    Role(Req<R>),
}

/// The [`PerKind`] request of `$p`'s kind, built from the `$user`, `$group` or `$role` input
/// type with the principal named (`UserName`, `GroupName`, `RoleName`); `$more` sets the other
/// parameters on `$b`, recording them in `$params`.
macro_rules! per_kind {
    ($p:expr, $user:ty, $group:ty, $role:ty, |$b:ident, $params:ident| $more:expr) => {{
        let principal: &IamPrincipal = $p;
        match principal.kind {
            IamKind::User => PerKind::User(Req::new(|$params| {
                let $b = <$user>::builder().user_name($params.put("UserName", principal.name()));
                $more
            })),
            IamKind::Group => PerKind::Group(Req::new(|$params| {
                let $b = <$group>::builder().group_name($params.put("GroupName", principal.name()));
                $more
            })),
            IamKind::Role => PerKind::Role(Req::new(|$params| {
                let $b = <$role>::builder().role_name($params.put("RoleName", principal.name()));
                $more
            })),
        }
    }};
}

/// `$body` with `$r` bound to a [`PerKind`] request, whatever its kind (the body is compiled
/// once per kind).
macro_rules! each_kind {
    ($req:expr, |$r:ident| $body:expr) => {
        match $req {
            PerKind::User($r) => $body,
            PerKind::Group($r) => $body,
            PerKind::Role($r) => $body,
        }
    };
}

type ListAttached = PerKind<
    iam_op::list_attached_user_policies::builders::ListAttachedUserPoliciesInputBuilder,
    iam_op::list_attached_group_policies::builders::ListAttachedGroupPoliciesInputBuilder,
    iam_op::list_attached_role_policies::builders::ListAttachedRolePoliciesInputBuilder,
>;

fn list_attached(p: &IamPrincipal) -> ListAttached {
    per_kind!(
        p,
        iam_op::list_attached_user_policies::ListAttachedUserPoliciesInput,
        iam_op::list_attached_group_policies::ListAttachedGroupPoliciesInput,
        iam_op::list_attached_role_policies::ListAttachedRolePoliciesInput,
        |b, _params| b
    )
}

type AttachPolicy = PerKind<
    iam_op::attach_user_policy::builders::AttachUserPolicyInputBuilder,
    iam_op::attach_group_policy::builders::AttachGroupPolicyInputBuilder,
    iam_op::attach_role_policy::builders::AttachRolePolicyInputBuilder,
>;

fn attach(p: &IamPrincipal, policy: &Arn) -> AttachPolicy {
    let arn = policy.to_string();
    per_kind!(
        p,
        iam_op::attach_user_policy::AttachUserPolicyInput,
        iam_op::attach_group_policy::AttachGroupPolicyInput,
        iam_op::attach_role_policy::AttachRolePolicyInput,
        |b, params| b.policy_arn(params.put("PolicyArn", &arn))
    )
}

type DetachPolicy = PerKind<
    iam_op::detach_user_policy::builders::DetachUserPolicyInputBuilder,
    iam_op::detach_group_policy::builders::DetachGroupPolicyInputBuilder,
    iam_op::detach_role_policy::builders::DetachRolePolicyInputBuilder,
>;

fn detach(p: &IamPrincipal, policy: &Arn) -> DetachPolicy {
    let arn = policy.to_string();
    per_kind!(
        p,
        iam_op::detach_user_policy::DetachUserPolicyInput,
        iam_op::detach_group_policy::DetachGroupPolicyInput,
        iam_op::detach_role_policy::DetachRolePolicyInput,
        |b, params| b.policy_arn(params.put("PolicyArn", &arn))
    )
}

type GetInline = PerKind<
    iam_op::get_user_policy::builders::GetUserPolicyInputBuilder,
    iam_op::get_group_policy::builders::GetGroupPolicyInputBuilder,
    iam_op::get_role_policy::builders::GetRolePolicyInputBuilder,
>;

fn get_inline(p: &IamPrincipal, name: &str) -> GetInline {
    per_kind!(
        p,
        iam_op::get_user_policy::GetUserPolicyInput,
        iam_op::get_group_policy::GetGroupPolicyInput,
        iam_op::get_role_policy::GetRolePolicyInput,
        |b, params| b.policy_name(params.put("PolicyName", name))
    )
}

type DeleteInline = PerKind<
    iam_op::delete_user_policy::builders::DeleteUserPolicyInputBuilder,
    iam_op::delete_group_policy::builders::DeleteGroupPolicyInputBuilder,
    iam_op::delete_role_policy::builders::DeleteRolePolicyInputBuilder,
>;

fn delete_inline(p: &IamPrincipal, name: &str) -> DeleteInline {
    per_kind!(
        p,
        iam_op::delete_user_policy::DeleteUserPolicyInput,
        iam_op::delete_group_policy::DeleteGroupPolicyInput,
        iam_op::delete_role_policy::DeleteRolePolicyInput,
        |b, params| b.policy_name(params.put("PolicyName", name))
    )
}

fn attached(p: &AttachedPolicy) -> Option<Attached> {
    let arn = p.policy_arn()?.to_string();
    let name = p
        .policy_name()
        .map(str::to_string)
        .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or_default().to_string());
    Some(Attached { name, arn })
}

impl Step for Access {
    type State = Checked;

    fn planned(&self, _cx: &Context) -> Call {
        match self {
            Access::GroupMembers { group, account, .. } => get_group(group)
                .call(account.as_str())
                .when("pages of 1000 members until the user is found"),
            Access::AddToGroup {
                group,
                account,
                user,
            } => add_user_to_group(group, user)
                .call(account.as_str())
                .when("unless the user is already a member"),
            Access::RemoveFromGroup {
                group,
                account,
                user,
            } => remove_user_from_group(group.resource_name(), user.name())
                .call(account.as_str())
                .when("only if the user is a member"),
            Access::AttachedPolicies { principal, .. } => {
                each_kind!(list_attached(principal), |r| r
                    .call(principal.account.as_str()))
            }
            Access::Attach { principal, policy } => each_kind!(attach(principal, policy), |r| r
                .call(principal.account.as_str()))
            .when("unless the policy is already attached"),
            Access::Detach { principal, policy } => each_kind!(detach(principal, policy), |r| r
                .call(principal.account.as_str()))
            .when("only if the policy is attached"),
            Access::InlinePolicy { holder, name } => {
                each_kind!(get_inline(holder, name), |r| r
                    .call(holder.account.as_str()))
            }
            Access::DeleteInline { holder, name } => each_kind!(delete_inline(holder, name), |r| r
                .call(holder.account.as_str()))
            .when("only if the inline policy exists"),
        }
    }

    async fn run(&self, x: &Exec<'_>, st: &mut Checked) -> Result<Flow, ProvisionError> {
        match self {
            Access::GroupMembers {
                group,
                account,
                user,
            } => check_group_members(x, st, group, account, user).await,
            Access::AddToGroup {
                group,
                account,
                user,
            } => {
                if st.holds {
                    let detail = format!("{} is already a member of {group}", user.arn);
                    return Ok(Flow::end(Status::AlreadyGranted, detail, st.record.take()));
                }
                x.call(account, &add_user_to_group(group, user)).await?;
                let detail = format!("added {} to {group}", user.arn);
                Ok(Flow::end(Status::Granted, detail, st.record.take()))
            }
            Access::RemoveFromGroup {
                group,
                account,
                user,
            } => {
                if !st.holds {
                    let detail = format!("{} is not a member of {group}", user.arn);
                    return Ok(Flow::end(Status::AlreadyRevoked, detail, st.record.take()));
                }
                let req = remove_user_from_group(group.resource_name(), user.name());
                x.call(account, &req).await?;
                let detail = format!("removed {} from {group}", user.arn);
                Ok(Flow::end(Status::Revoked, detail, st.record.take()))
            }
            Access::AttachedPolicies { principal, policy } => {
                check_attached(x, st, principal, policy).await
            }
            Access::Attach { principal, policy } => {
                if st.holds {
                    let detail = format!("{policy} is already attached to {}", principal.arn);
                    return Ok(Flow::end(Status::AlreadyGranted, detail, st.record.take()));
                }
                each_kind!(attach(principal, policy), |r| x
                    .call(&principal.account, &r)
                    .await
                    .map(drop))?;
                let detail = format!("attached {policy} to {}", principal.arn);
                Ok(Flow::end(Status::Granted, detail, st.record.take()))
            }
            Access::Detach { principal, policy } => {
                if !st.holds {
                    let detail = format!("{policy} is not attached to {}", principal.arn);
                    return Ok(Flow::end(Status::AlreadyRevoked, detail, st.record.take()));
                }
                each_kind!(detach(principal, policy), |r| x
                    .call(&principal.account, &r)
                    .await
                    .map(drop))?;
                let detail = format!("detached {policy} from {}", principal.arn);
                Ok(Flow::end(Status::Revoked, detail, st.record.take()))
            }
            Access::InlinePolicy { holder, name } => check_inline(x, st, holder, name).await,
            Access::DeleteInline { holder, name } => {
                each_kind!(delete_inline(holder, name), |r| x
                    .call(&holder.account, &r)
                    .await
                    .map(drop))?;
                let detail = format!("deleted inline policy {name} of {}", holder.arn);
                Ok(Flow::end(Status::Revoked, detail, st.record.take()))
            }
        }
    }
}

/// `GetGroup`, page by page until `user` is found: whether it is a member, and the group's
/// membership grant.
async fn check_group_members(
    x: &Exec<'_>,
    st: &mut Checked,
    group: &Arn,
    account: &AccountId,
    user: &IamPrincipal,
) -> Result<Flow, ProvisionError> {
    let mut member = false;
    let found = x
        .pages(account, &get_group(group), |page, out| {
            if out.is_empty() {
                out.extend(page.group().map(|g| Group {
                    name: g.group_name().to_string(),
                    arn: g.arn().to_string(),
                    id: g.group_id().to_string(),
                    path: g.path().to_string(),
                    ..Default::default()
                }));
            }
            member = page.users().iter().any(|u| u.user_name() == user.name());
            !member
        })
        .await;
    let info = match found {
        Ok(groups) => groups.into_iter().next().ok_or_else(|| {
            ProvisionError::Unexpected(format!("iam:GetGroup answered without group {group}"))
        })?,
        Err(e) if e.is_not_found() && st.dir == Direction::Revoke => {
            let detail = format!(
                "IAM group {group} does not exist, so {} is not a member",
                user.arn
            );
            return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
        }
        Err(e) => return Err(e),
    };
    st.holds = member;
    st.record = Some(Record::Grant(group_member_grant(
        &group_resource(&account_info(x.cx(), account), &info),
        &user.arn_text(),
    )));
    Ok(Flow::Next)
}

/// `ListAttached*Policies`: whether `policy` is attached to `p`, and that grant.
async fn check_attached(
    x: &Exec<'_>,
    st: &mut Checked,
    p: &IamPrincipal,
    policy: &Arn,
) -> Result<Flow, ProvisionError> {
    let listed = each_kind!(list_attached(p), |r| x
        .list(&p.account, &r, |page| {
            page.attached_policies()
                .iter()
                .filter_map(attached)
                .collect()
        })
        .await);
    let policies = match listed {
        Ok(a) => a,
        Err(e) if e.is_not_found() && st.dir == Direction::Revoke => {
            let detail = format!("{} does not exist, so it holds no policy", p.arn);
            return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
        }
        Err(e) => return Err(e),
    };
    let arn = policy.to_string();
    let found = policies.into_iter().find(|a| a.arn == arn);
    st.holds = found.is_some();
    let att = found.unwrap_or_else(|| Attached {
        name: policy.resource_name().to_string(),
        arn,
    });
    st.record = Some(Record::Grant(principal_policy_grant(
        &att,
        p.resource_type(),
        &p.arn_text(),
    )));
    Ok(Flow::Next)
}

/// `Get*Policy`: the inline policy's grant (with its document), or already revoked when it
/// (or its holder) does not exist.
async fn check_inline(
    x: &Exec<'_>,
    st: &mut Checked,
    p: &IamPrincipal,
    name: &str,
) -> Result<Flow, ProvisionError> {
    let doc = each_kind!(get_inline(p, name), |r| x
        .call(&p.account, &r)
        .await
        .map(|o| o.policy_document().to_string()));
    let doc = match doc {
        Ok(d) => decode_document(&d),
        // NoSuchEntity: the policy (or its holder) is gone, so nobody holds it.
        Err(e) if e.is_not_found() => {
            let detail = format!("{} has no inline policy {name}", p.arn);
            return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
        }
        Err(e) => return Err(e),
    };
    let (_, _, grant) = iam_inline_policy(p.resource_type(), &p.arn_text(), name, Some(&doc));
    st.holds = true;
    st.record = Some(Record::Grant(grant));
    Ok(Flow::Next)
}
