//! IAM changes, each made in the account that owns the entity (hopping there with the
//! provisioning role unless it is the caller's account), each checked first so a repeat is
//! reported instead of repeated: group membership (`GetGroup` → `AddUserToGroup` /
//! `RemoveUserFromGroup`), managed policies on users, groups and roles (`ListAttached*Policies`
//! → `Attach*Policy` / `Detach*Policy`), and deletion of inline policies (`Get*Policy` →
//! `Delete*Policy`). Records come from the sync's own builders (`sync::iam_records`).
//! Not here: user creation and deletion (`users`).

use aws_sdk_iam::types::AttachedPolicy;

use crate::arn::{AccountId, Arn};
use crate::aws::{AwsError, ErrorClass, Scope};
use crate::connector::iam::model::{Attached, Group};
use crate::connector::iam::records::{
    AccountInfo, group_member_grant, group_resource, iam_inline_policy, principal_policy_grant,
};
use crate::model::Record;
use crate::policy::decode_document;

use crate::provision::call::{
    attach_op, delete_inline_op, detach_op, get_inline_op, list_attached_op, name_key,
};
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::provisioner::{Done, Exec, iam_pages};
use crate::provision::request::{Direction, IamKind, IamPrincipal};

/// How the sync describes `account` when it maps IAM to records.
pub(crate) fn account_info(x: &Exec<'_>, account: &AccountId) -> AccountInfo {
    AccountInfo {
        account_id: account.clone(),
        name: account.to_string(),
        arn: None,
        is_caller: account == x.caller(),
        partition: x.partition(),
    }
}

fn is_not_found(e: &AwsError) -> bool {
    e.class == ErrorClass::NotFound
}

/// Adds `user` to (or removes it from) IAM group `group`.
pub(crate) async fn group_member(
    x: &Exec<'_>,
    dir: Direction,
    group: &Arn,
    account: &AccountId,
    user: &IamPrincipal,
) -> Result<Done, ProvisionError> {
    let scope = x.iam_scope(account).await?;
    let iam = scope.iam();
    let name = group.resource_name().to_string();
    let mut marker: Option<String> = None;
    let mut info: Option<Group> = None;
    let mut member = false;
    loop {
        let page = match x
            .iam(&scope, "GetGroup", &[("GroupName", &name)], || {
                iam.get_group()
                    .group_name(&name)
                    .max_items(1000)
                    .set_marker(marker.clone())
                    .send()
            })
            .await
        {
            Ok(p) => p,
            Err(e) if is_not_found(&e) && dir == Direction::Revoke => {
                return Ok(Done {
                    status: Status::AlreadyRevoked,
                    detail: format!(
                        "IAM group {group} does not exist, so {} is not a member",
                        user.arn
                    ),
                    record: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        if info.is_none() {
            info = page.group().map(|g| Group {
                name: g.group_name().to_string(),
                arn: g.arn().to_string(),
                id: g.group_id().to_string(),
                path: g.path().to_string(),
                ..Default::default()
            });
        }
        if page.users().iter().any(|u| u.user_name() == user.name()) {
            member = true;
            break;
        }
        match (page.is_truncated(), page.marker()) {
            (true, Some(m)) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    let info = info.ok_or_else(|| {
        ProvisionError::Unexpected(format!("iam:GetGroup answered without group {group}"))
    })?;
    let record = Some(Record::Grant(group_member_grant(
        &group_resource(&account_info(x, account), &info),
        &user.arn_text(),
    )));
    let params = [("GroupName", name.as_str()), ("UserName", user.name())];
    let (status, detail) = match (dir, member) {
        (Direction::Grant, true) => (
            Status::AlreadyGranted,
            format!("{} is already a member of {group}", user.arn),
        ),
        (Direction::Grant, false) => {
            x.iam(&scope, "AddUserToGroup", &params, || {
                iam.add_user_to_group()
                    .group_name(&name)
                    .user_name(user.name())
                    .send()
            })
            .await?;
            (Status::Granted, format!("added {} to {group}", user.arn))
        }
        (Direction::Revoke, false) => (
            Status::AlreadyRevoked,
            format!("{} is not a member of {group}", user.arn),
        ),
        (Direction::Revoke, true) => {
            x.iam(&scope, "RemoveUserFromGroup", &params, || {
                iam.remove_user_from_group()
                    .group_name(&name)
                    .user_name(user.name())
                    .send()
            })
            .await?;
            (
                Status::Revoked,
                format!("removed {} from {group}", user.arn),
            )
        }
    };
    Ok(Done {
        status,
        detail,
        record,
    })
}

/// `$body` with `$req` bound to a closure that starts `p`'s request of its kind: the IAM
/// client's `$user`, `$group` or `$role` method with the principal named (`UserName`,
/// `GroupName`, `RoleName`). The three kinds' requests are different types with the same
/// other setters, so the body is written once and compiled for each kind.
macro_rules! per_kind {
    ($iam:ident, $p:expr, $user:ident / $group:ident / $role:ident, |$req:ident| $body:expr) => {
        match $p.kind {
            IamKind::User => {
                let $req = || $iam.$user().user_name($p.name());
                $body
            }
            IamKind::Group => {
                let $req = || $iam.$group().group_name($p.name());
                $body
            }
            IamKind::Role => {
                let $req = || $iam.$role().role_name($p.name());
                $body
            }
        }
    };
}

fn attached(p: &AttachedPolicy) -> Option<Attached> {
    let arn = p.policy_arn()?.to_string();
    let name = p
        .policy_name()
        .map(str::to_string)
        .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or_default().to_string());
    Some(Attached { name, arn })
}

/// The managed policies attached to `p`, all pages.
async fn attached_policies(
    x: &Exec<'_>,
    scope: &Scope,
    p: &IamPrincipal,
) -> Result<Vec<Attached>, AwsError> {
    let iam = scope.iam();
    let op = list_attached_op(p.kind);
    let params = [(name_key(p.kind), p.name())];
    Ok(per_kind!(
        iam,
        p,
        list_attached_user_policies / list_attached_group_policies / list_attached_role_policies,
        |req| iam_pages!(
            x,
            scope,
            op,
            &params,
            |m| req().max_items(1000).set_marker(m),
            |page| page.attached_policies().iter().filter_map(attached)
        )
    ))
}

/// Attaches (or detaches) managed policy `policy` to `p`, in `p`'s account.
pub(crate) async fn managed_policy(
    x: &Exec<'_>,
    dir: Direction,
    policy: &Arn,
    p: &IamPrincipal,
) -> Result<Done, ProvisionError> {
    let scope = x.iam_scope(&p.account).await?;
    let iam = scope.iam();
    let policy_arn = policy.to_string();
    let attached = match attached_policies(x, &scope, p).await {
        Ok(a) => a,
        Err(e) if is_not_found(&e) && dir == Direction::Revoke => {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!("{} does not exist, so it holds no policy", p.arn),
                record: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let found = attached.iter().find(|a| a.arn == policy_arn).cloned();
    let att = found.clone().unwrap_or_else(|| Attached {
        name: policy.resource_name().to_string(),
        arn: policy_arn.clone(),
    });
    let record = Some(Record::Grant(principal_policy_grant(
        &att,
        p.resource_type(),
        &p.arn_text(),
    )));
    let n = p.name();
    let params = [(name_key(p.kind), n), ("PolicyArn", policy_arn.as_str())];
    let (status, detail) = match (dir, found.is_some()) {
        (Direction::Grant, true) => (
            Status::AlreadyGranted,
            format!("{policy} is already attached to {}", p.arn),
        ),
        (Direction::Grant, false) => {
            let op = attach_op(p.kind);
            per_kind!(
                iam,
                p,
                attach_user_policy / attach_group_policy / attach_role_policy,
                |req| x
                    .iam(&scope, op, &params, || req().policy_arn(&policy_arn).send())
                    .await
                    .map(drop)
            )?;
            (Status::Granted, format!("attached {policy} to {}", p.arn))
        }
        (Direction::Revoke, false) => (
            Status::AlreadyRevoked,
            format!("{policy} is not attached to {}", p.arn),
        ),
        (Direction::Revoke, true) => {
            let op = detach_op(p.kind);
            per_kind!(
                iam,
                p,
                detach_user_policy / detach_group_policy / detach_role_policy,
                |req| x
                    .iam(&scope, op, &params, || req().policy_arn(&policy_arn).send())
                    .await
                    .map(drop)
            )?;
            (Status::Revoked, format!("detached {policy} from {}", p.arn))
        }
    };
    Ok(Done {
        status,
        detail,
        record,
    })
}

/// Deletes inline policy `name` of `p` (the only way to revoke an inline policy).
pub(crate) async fn delete_inline(
    x: &Exec<'_>,
    p: &IamPrincipal,
    name: &str,
) -> Result<Done, ProvisionError> {
    let scope = x.iam_scope(&p.account).await?;
    let iam = scope.iam();
    let n = p.name();
    let params = [(name_key(p.kind), n), ("PolicyName", name)];
    let op = get_inline_op(p.kind);
    let doc = per_kind!(
        iam,
        p,
        get_user_policy / get_group_policy / get_role_policy,
        |req| x
            .iam(&scope, op, &params, || req().policy_name(name).send())
            .await
            .map(|o| o.policy_document().to_string())
    );
    let doc = match doc {
        Ok(d) => decode_document(&d),
        // NoSuchEntity: the policy (or its holder) is gone, so nobody holds it.
        Err(e) if is_not_found(&e) => {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!("{} has no inline policy {name}", p.arn),
                record: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let (_, _, grant) = iam_inline_policy(p.resource_type(), &p.arn_text(), name, Some(&doc));
    let op = delete_inline_op(p.kind);
    per_kind!(
        iam,
        p,
        delete_user_policy / delete_group_policy / delete_role_policy,
        |req| x
            .iam(&scope, op, &params, || req().policy_name(name).send())
            .await
            .map(drop)
    )?;
    Ok(Done {
        status: Status::Revoked,
        detail: format!("deleted inline policy {name} of {}", p.arn),
        record: Some(Record::Grant(grant)),
    })
}
