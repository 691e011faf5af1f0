//! The AWS calls a provisioning request makes, as data: [`Call`] is one call (service,
//! operation, the account whose credentials sign it, its parameters, and for planned calls the
//! condition under which it happens). `--dry-run` prints [`plan`]'s list without calling AWS;
//! a real run records the calls it made in the same shape, and the tests compare the two.
//! Never a secret in a parameter.

use std::collections::BTreeMap;
use std::fmt;

use crate::arn::AccountId;

use super::request::{Change, DeleteTarget, Direction, IamKind, NewUser, Request, SsoPrincipal};

/// One AWS call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// `iam`, `sts`, `sso` (sso-admin), `identitystore`, `organizations`.
    pub service: &'static str,
    pub operation: &'static str,
    /// The account whose credentials sign the call (`management` in a plan when the caller's
    /// account is not known without asking AWS).
    pub account: String,
    pub params: BTreeMap<&'static str, String>,
    /// For planned calls: when the call happens (absent = always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl Call {
    pub fn new(
        service: &'static str,
        operation: &'static str,
        account: impl Into<String>,
        params: &[(&'static str, &str)],
    ) -> Call {
        Call {
            service,
            operation,
            account: account.into(),
            params: params.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            when: None,
        }
    }

    fn when(mut self, w: impl Into<String>) -> Call {
        self.when = Some(w.into());
        self
    }

    /// `service:Operation`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} [{}]", self.service, self.operation, self.account)?;
        for (k, v) in &self.params {
            write!(f, " {k}={v}")?;
        }
        if let Some(w) = &self.when {
            write!(f, "   ({w})")?;
        }
        Ok(())
    }
}

/// What is known about the session without calling AWS.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The management role to hop into first (`--provisioning-role-arn`, else `--role-arn`).
    pub management_role: Option<String>,
    /// The caller's account, when known without AWS (the management role's account).
    pub caller: Option<AccountId>,
    pub partition: String,
    /// Member role (name with optional path) used for changes in other accounts.
    pub member_role: String,
    pub member_external_id: bool,
    /// `--account-config` overrides for the member hop (when no provisioning role is named).
    pub overrides: Option<crate::aws::member_roles::AccountConfig>,
    /// Identity Center region when no principal ARN names one.
    pub sso_region: String,
}

impl PlanContext {
    fn mgmt(&self) -> String {
        self.caller
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "management".into())
    }
}

/// The calls made while connecting: the management hop (if any) and sts:GetCallerIdentity.
pub fn connect_calls(cx: &PlanContext) -> Vec<Call> {
    let mut out = vec![];
    if let Some(role) = &cx.management_role {
        out.push(Call::new(
            "sts",
            "AssumeRole",
            "base credentials",
            &[("RoleArn", role)],
        ));
    }
    out.push(Call::new("sts", "GetCallerIdentity", cx.mgmt(), &[]));
    out
}

fn hop(cx: &PlanContext, account: &AccountId, out: &mut Vec<Call>) {
    if cx.caller.as_ref() == Some(account) {
        return;
    }
    // Account and default entries of --account-config are known without AWS; OU entries
    // need the account's OU path, read at run time.
    let (member_role, external_id, ou_entries) = match &cx.overrides {
        Some(cfg) => {
            let r = cfg.resolve(account, &[], &cx.member_role, None);
            let ext = match (&r.external_id, cx.member_external_id) {
                (Some(_), _) => Some("<--account-config>"),
                (None, true) => Some("<--member-external-id>"),
                (None, false) => None,
            };
            (r.role_name, ext, !cfg.ous.is_empty())
        }
        None => (
            cx.member_role.clone(),
            cx.member_external_id.then_some("<--member-external-id>"),
            false,
        ),
    };
    if ou_entries {
        let mut c = Call::new(
            "organizations",
            "ListParents",
            cx.mgmt(),
            &[("ChildId", account.as_str())],
        );
        c = c.when("once per level up to the root, to match the OU entries of --account-config");
        out.push(c);
    }
    let role = crate::arn::role_arn(
        &cx.partition
            .parse()
            .unwrap_or_else(|_| crate::arn::Partition::aws()),
        account,
        &member_role,
    );
    let mut params = vec![("RoleArn", role.as_str())];
    if let Some(x) = external_id {
        params.push(("ExternalId", x));
    }
    let mut c = Call::new("sts", "AssumeRole", cx.mgmt(), &params);
    let mut when = vec![];
    if cx.caller.is_none() {
        when.push(format!("unless {account} is the caller's own account"));
    }
    if ou_entries {
        when.push(
            "role and External ID as the account's OU entry says, if one applies".to_string(),
        );
    }
    if !when.is_empty() {
        c = c.when(when.join("; "));
    }
    out.push(c);
}

/// The identity store a request names, else the one `sso:ListInstances` finds in the
/// Identity Center region (as the executors look it up).
fn identity_store(known: Option<&str>, cx: &PlanContext, out: &mut Vec<Call>) -> String {
    match known {
        Some(s) => s.to_string(),
        None => {
            out.push(Call::new(
                "sso",
                "ListInstances",
                cx.mgmt(),
                &[("region", &cx.sso_region)],
            ));
            "<from ListInstances>".into()
        }
    }
}

/// The calls a grant or revoke makes, in order, with their conditions.
pub fn plan(req: &Request, cx: &PlanContext) -> Vec<Call> {
    let mut out = connect_calls(cx);
    let grant = req.direction == Direction::Grant;
    match &req.change {
        Change::GroupMember {
            group,
            account,
            user,
        } => {
            hop(cx, account, &mut out);
            let a = account.to_string();
            let g = group.resource_name();
            out.push(
                Call::new("iam", "GetGroup", &a, &[("GroupName", g)])
                    .when("pages of 1000 members until the user is found"),
            );
            let params = [("GroupName", g), ("UserName", user.name())];
            out.push(if grant {
                Call::new("iam", "AddUserToGroup", &a, &params)
                    .when("unless the user is already a member")
            } else {
                Call::new("iam", "RemoveUserFromGroup", &a, &params)
                    .when("only if the user is a member")
            });
        }
        Change::ManagedPolicy { policy, principal } => {
            hop(cx, &principal.account, &mut out);
            let a = principal.account.to_string();
            let key = name_key(principal.kind);
            let policy = policy.to_string();
            out.push(Call::new(
                "iam",
                list_attached_op(principal.kind),
                &a,
                &[(key, principal.name())],
            ));
            let params = [(key, principal.name()), ("PolicyArn", policy.as_str())];
            out.push(if grant {
                Call::new("iam", attach_op(principal.kind), &a, &params)
                    .when("unless the policy is already attached")
            } else {
                Call::new("iam", detach_op(principal.kind), &a, &params)
                    .when("only if the policy is attached")
            });
        }
        Change::InlinePolicy { parent, name } => {
            hop(cx, &parent.account, &mut out);
            let a = parent.account.to_string();
            let params = [(name_key(parent.kind), parent.name()), ("PolicyName", name)];
            out.push(Call::new("iam", get_inline_op(parent.kind), &a, &params));
            out.push(
                Call::new("iam", delete_inline_op(parent.kind), &a, &params)
                    .when("only if the inline policy exists"),
            );
        }
        Change::SsoGroupMember { group, user } => {
            let m = cx.mgmt();
            let store = group.store.identity_store_id.as_str();
            out.push(Call::new(
                "identitystore",
                "DescribeGroup",
                &m,
                &[("IdentityStoreId", store), ("GroupId", group.id())],
            ));
            let params = [
                ("IdentityStoreId", store),
                ("GroupId", group.id()),
                ("MemberId.UserId", user.id()),
            ];
            out.push(Call::new(
                "identitystore",
                "GetGroupMembershipId",
                &m,
                &params,
            ));
            out.push(if grant {
                Call::new("identitystore", "CreateGroupMembership", &m, &params)
                    .when("unless the user is already a member")
            } else {
                Call::new(
                    "identitystore",
                    "DeleteGroupMembership",
                    &m,
                    &[
                        ("IdentityStoreId", store),
                        ("MembershipId", "<found above>"),
                    ],
                )
                .when("only if the user is a member")
            });
        }
        Change::SsoMembership {
            membership_id,
            group,
        } => {
            let m = cx.mgmt();
            let known = group.as_ref().map(|g| g.store.identity_store_id.as_str());
            let store = identity_store(known, cx, &mut out);
            let params = [
                ("IdentityStoreId", store.as_str()),
                ("MembershipId", membership_id.as_str()),
            ];
            out.push(Call::new(
                "identitystore",
                "DescribeGroupMembership",
                &m,
                &params,
            ));
            out.push(
                Call::new(
                    "identitystore",
                    "DescribeGroup",
                    &m,
                    &[
                        ("IdentityStoreId", &store),
                        ("GroupId", "<from the membership>"),
                    ],
                )
                .when("only if the membership exists"),
            );
            out.push(
                Call::new("identitystore", "DeleteGroupMembership", &m, &params)
                    .when("only if the membership exists"),
            );
        }
        Change::AccountAssignment {
            account,
            permission_set,
            principal,
            ..
        } => {
            let m = cx.mgmt();
            let instance =
                crate::connector::identity_center::assignment::instance_arn(permission_set);
            let acct = account.to_string();
            out.push(
                Call::new(
                    "organizations",
                    "DescribeAccount",
                    &m,
                    &[("AccountId", &acct)],
                )
                .when("refuses the change unless the account is ACTIVE"),
            );
            out.push(Call::new(
                "sso",
                "DescribePermissionSet",
                &m,
                &[
                    ("InstanceArn", &instance),
                    ("PermissionSetArn", &permission_set.arn),
                ],
            ));
            out.push(Call::new(
                "sso",
                "ListAccountAssignmentsForPrincipal",
                &m,
                &[
                    ("InstanceArn", &instance),
                    ("PrincipalType", principal.kind.api_word()),
                    ("PrincipalId", principal.id()),
                    ("Filter.AccountId", &acct),
                ],
            ));
            let params = assignment_params(&instance, &acct, &permission_set.arn, principal);
            let (op, status_op, cond) = if grant {
                (
                    "CreateAccountAssignment",
                    "DescribeAccountAssignmentCreationStatus",
                    "unless already assigned",
                )
            } else {
                (
                    "DeleteAccountAssignment",
                    "DescribeAccountAssignmentDeletionStatus",
                    "only if assigned",
                )
            };
            out.push(Call::new("sso", op, &m, &params).when(cond));
            out.push(
                Call::new(
                    "sso",
                    status_op,
                    &m,
                    &[("InstanceArn", &instance), ("RequestId", "<from above>")],
                )
                .when("repeated with backoff while IN_PROGRESS, until SUCCEEDED, FAILED or the timeout"),
            );
        }
    }
    out
}

/// The calls a `create-user` makes.
pub fn plan_create(user: &NewUser, cx: &PlanContext) -> Vec<Call> {
    let mut out = connect_calls(cx);
    match user {
        NewUser::Iam {
            account,
            user_name,
            path,
            tags,
        } => {
            let a = match account {
                Some(a) => {
                    hop(cx, a, &mut out);
                    a.to_string()
                }
                None => cx.mgmt(),
            };
            let tags = tags_text(tags);
            out.push(Call::new(
                "iam",
                "CreateUser",
                a,
                &create_user_params(user_name, path, &tags),
            ));
        }
        NewUser::Sso {
            identity_store_id,
            user_name,
            display_name,
            ..
        } => {
            let m = cx.mgmt();
            let store = identity_store(identity_store_id.as_deref(), cx, &mut out);
            out.push(Call::new(
                "identitystore",
                "CreateUser",
                &m,
                &[
                    ("IdentityStoreId", &store),
                    ("UserName", user_name),
                    ("DisplayName", display_name),
                ],
            ));
        }
    }
    out
}

/// The calls a `delete-resource` makes.
pub fn plan_delete(target: &DeleteTarget, cx: &PlanContext) -> Vec<Call> {
    let mut out = connect_calls(cx);
    match target {
        DeleteTarget::IamUser(u) => {
            hop(cx, &u.account, &mut out);
            let a = u.account.to_string();
            let n = [("UserName", u.name())];
            out.push(Call::new("iam", "GetUser", &a, &n));
            out.push(
                Call::new("iam", "DeleteLoginProfile", &a, &n)
                    .when("a missing login profile (NoSuchEntity) is fine"),
            );
            for (list, removals) in super::users::IAM_USER_BLOCKERS {
                out.push(Call::new("iam", list, &a, &n));
                for r in removals {
                    out.push(
                        Call::new("iam", r, &a, &n).when(if *r == "DeleteVirtualMFADevice" {
                            "once per virtual MFA device listed"
                        } else {
                            "once per item listed"
                        }),
                    );
                }
            }
            out.push(Call::new("iam", "DeleteUser", &a, &n));
        }
        DeleteTarget::SsoUser(u) => {
            let m = cx.mgmt();
            let p = [
                ("IdentityStoreId", u.store.identity_store_id.as_str()),
                ("UserId", u.id()),
            ];
            out.push(Call::new("identitystore", "DescribeUser", &m, &p));
            out.push(Call::new(
                "identitystore",
                "ListGroupMembershipsForMember",
                &m,
                &p,
            ));
            out.push(
                Call::new("identitystore", "DeleteGroupMembership", &m, &p)
                    .when("once per membership listed"),
            );
            out.push(Call::new("identitystore", "DeleteUser", &m, &p));
        }
    }
    out
}

/// `create-user` tags as `iam:CreateUser` records them: `k=v,k=v` (empty without tags).
pub fn tags_text(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The parameters of `iam:CreateUser` (`Tags` only when there are tags, see [`tags_text`]).
pub fn create_user_params<'a>(
    user_name: &'a str,
    path: &'a str,
    tags_text: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mut params = vec![("UserName", user_name), ("Path", path)];
    if !tags_text.is_empty() {
        params.push(("Tags", tags_text));
    }
    params
}

/// The parameters of `CreateAccountAssignment` and `DeleteAccountAssignment`.
pub fn assignment_params<'a>(
    instance: &'a str,
    account: &'a str,
    permission_set: &'a str,
    principal: &'a SsoPrincipal,
) -> [(&'static str, &'a str); 6] {
    [
        ("InstanceArn", instance),
        ("TargetId", account),
        ("TargetType", "AWS_ACCOUNT"),
        ("PermissionSetArn", permission_set),
        ("PrincipalType", principal.kind.api_word()),
        ("PrincipalId", principal.id()),
    ]
}

/// `UserName` / `GroupName` / `RoleName`.
pub fn name_key(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "UserName",
        IamKind::Group => "GroupName",
        IamKind::Role => "RoleName",
    }
}

pub fn list_attached_op(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "ListAttachedUserPolicies",
        IamKind::Group => "ListAttachedGroupPolicies",
        IamKind::Role => "ListAttachedRolePolicies",
    }
}

pub fn attach_op(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "AttachUserPolicy",
        IamKind::Group => "AttachGroupPolicy",
        IamKind::Role => "AttachRolePolicy",
    }
}

pub fn detach_op(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "DetachUserPolicy",
        IamKind::Group => "DetachGroupPolicy",
        IamKind::Role => "DetachRolePolicy",
    }
}

pub fn get_inline_op(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "GetUserPolicy",
        IamKind::Group => "GetGroupPolicy",
        IamKind::Role => "GetRolePolicy",
    }
}

pub fn delete_inline_op(kind: IamKind) -> &'static str {
    match kind {
        IamKind::User => "DeleteUserPolicy",
        IamKind::Group => "DeleteGroupPolicy",
        IamKind::Role => "DeleteRolePolicy",
    }
}

#[cfg(test)]
mod tests {
    use super::super::request;
    use super::*;

    fn cx(caller: Option<&str>) -> PlanContext {
        PlanContext {
            management_role: caller.map(|a| format!("arn:aws:iam::{a}:role/Writer")),
            caller: caller.map(|a| a.parse().unwrap()),
            partition: "aws".into(),
            member_role: "OrgWriter".into(),
            member_external_id: true,
            overrides: None,
            sso_region: "eu-west-1".into(),
        }
    }

    fn ops(calls: &[Call]) -> Vec<String> {
        calls.iter().map(Call::name).collect()
    }

    #[test]
    fn group_member_hops_into_the_groups_account_unless_it_is_the_callers() {
        let req = request::grant(
            "group:arn:aws:iam::111122223333:group/devs:member",
            "iam_user",
            "arn:aws:iam::111122223333:user/bob",
        )
        .unwrap();
        let other = plan(&req, &cx(Some("999999999999")));
        assert_eq!(
            ops(&other),
            [
                "sts:AssumeRole",
                "sts:GetCallerIdentity",
                "sts:AssumeRole",
                "iam:GetGroup",
                "iam:AddUserToGroup"
            ]
        );
        assert_eq!(
            other[2].params["RoleArn"],
            "arn:aws:iam::111122223333:role/OrgWriter"
        );
        assert_eq!(other[2].params["ExternalId"], "<--member-external-id>");
        assert_eq!(other[4].account, "111122223333");
        let own = plan(&req, &cx(Some("111122223333")));
        assert_eq!(
            ops(&own),
            [
                "sts:AssumeRole",
                "sts:GetCallerIdentity",
                "iam:GetGroup",
                "iam:AddUserToGroup"
            ]
        );
        // Unknown caller: the hop is listed with its condition.
        let unknown = plan(&req, &cx(None));
        assert_eq!(unknown[0].name(), "sts:GetCallerIdentity");
        assert!(unknown[1].when.as_deref().unwrap().contains("unless"));
    }

    #[test]
    fn assignments_poll_and_revokes_delete() {
        let req = request::revoke(
            "grant:sso_group:arn:aws:identitystore:us-east-1::d-1234567890/group/66666666-7777-8888-9999-000000000000:111122223333|arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef",
        )
        .unwrap();
        let calls = plan(&req, &cx(None));
        assert_eq!(
            ops(&calls)[1..],
            [
                "organizations:DescribeAccount",
                "sso:DescribePermissionSet",
                "sso:ListAccountAssignmentsForPrincipal",
                "sso:DeleteAccountAssignment",
                "sso:DescribeAccountAssignmentDeletionStatus"
            ]
        );
        assert_eq!(calls[4].params["PrincipalType"], "GROUP");
        assert_eq!(
            calls[4].params["InstanceArn"],
            "arn:aws:sso:::instance/ssoins-1234567890abcdef"
        );
        let text = calls[4].to_string();
        assert!(
            text.starts_with("sso:DeleteAccountAssignment [management]"),
            "{text}"
        );
    }
}
