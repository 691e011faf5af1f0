//! The entry points of provisioning: a [`Job`] (a grant or revoke, a user to create, a user to
//! delete) becomes the steps of its change in one place ([`work`]); [`plan`] lists their calls
//! (what `--dry-run` prints) and [`Provisioner::run`] runs the same steps.
//! Not here: the steps themselves (the domain folders: `connector::iam::{provision, users}`,
//! `connector::identity_center::{membership, assignment, users}`), argument parsing and
//! printing (`cli::cmd::provision`).

use crate::aws::Session;
use crate::connector::iam::provision::{self as iam_access, Access};
use crate::connector::iam::users::{self as iam_users, UserStep};
use crate::connector::identity_center::assignment::{self, Assign};
use crate::connector::identity_center::membership::{self, Membership};
use crate::connector::identity_center::users::{self as sso_users, NewSsoUser, SsoUserStep};

use crate::provision::call::{Call, Context, connect_calls};
use crate::provision::exec::{AssignmentGate, Exec, Options, Shared};
use crate::provision::outcome::{Done, Outcome, ProvisionError};
use crate::provision::request::{Change as Requested, DeleteTarget, NewUser, Request};
use crate::provision::step::Change;

/// What a provisioning command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// `grant` / `revoke`.
    Change(Request),
    /// `create-user`.
    Create(NewUser),
    /// `delete-resource`.
    Delete(DeleteTarget),
}

/// The calls `job` makes, in order, with their conditions: connecting, then the steps of its
/// change. Nothing is sent.
pub fn plan(job: &Job, cx: &Context) -> Result<Vec<Call>, ProvisionError> {
    let mut calls = connect_calls(cx);
    calls.extend(work(job, cx)?.calls(cx));
    Ok(calls)
}

/// Makes changes. One per process is typical; it may serve concurrent jobs (hops are shared,
/// assignment operations are capped).
pub struct Provisioner {
    shared: Shared,
}

impl Provisioner {
    /// A provisioner on `session` (connected with the provisioning management role).
    pub fn new(session: Session, opts: Options) -> Provisioner {
        Provisioner {
            shared: Shared::new(session, opts),
        }
    }

    pub fn session(&self) -> &Session {
        self.shared.session()
    }

    pub fn options(&self) -> &Options {
        self.shared.options()
    }

    /// The cap on concurrent account-assignment operations (and its high-water mark).
    pub fn assignment_gate(&self) -> &AssignmentGate {
        self.shared.gate()
    }

    /// Runs the steps of `job`'s change; the outcome lists the calls made (without those of
    /// connecting).
    pub async fn run(&self, job: &Job) -> Result<Outcome, ProvisionError> {
        let x = Exec::new(&self.shared);
        let done = match work(job, self.shared.context()) {
            Ok(w) => w.run(&x).await,
            Err(e) => Err(e),
        };
        x.finish(done)
    }
}

/// The steps of one job's change.
enum Work {
    IamAccess(Box<Change<Access>>),
    IamUser(Box<Change<UserStep>>),
    Membership(Box<Change<Membership>>),
    Assignment(Box<Change<Assign>>),
    SsoUser(Box<Change<SsoUserStep>>),
}

/// The steps `job` takes, from the request and what is known without AWS.
fn work(job: &Job, cx: &Context) -> Result<Work, ProvisionError> {
    Ok(match job {
        Job::Change(req) => change(req, cx),
        Job::Create(NewUser::Iam {
            account,
            user_name,
            path,
            tags,
        }) => {
            let steps = iam_users::create(account.as_ref(), user_name, path, tags, cx)?;
            Work::IamUser(Box::new(steps))
        }
        Job::Create(NewUser::Sso {
            identity_store_id,
            user_name,
            display_name,
            given_name,
            family_name,
            emails,
        }) => {
            let user = NewSsoUser {
                user_name: user_name.clone(),
                display_name: display_name.clone(),
                given_name: given_name.clone(),
                family_name: family_name.clone(),
                emails: emails.clone(),
            };
            let steps = sso_users::create(identity_store_id.as_deref(), user, cx);
            Work::SsoUser(Box::new(steps))
        }
        Job::Delete(DeleteTarget::IamUser(u)) => Work::IamUser(Box::new(iam_users::delete(u, cx))),
        Job::Delete(DeleteTarget::SsoUser(u)) => Work::SsoUser(Box::new(sso_users::delete(u))),
    })
}

/// The steps of a grant or revoke.
fn change(req: &Request, cx: &Context) -> Work {
    let dir = req.direction;
    match &req.change {
        Requested::GroupMember {
            group,
            account,
            user,
        } => {
            let steps = iam_access::group_member(dir, group, account, user, cx);
            Work::IamAccess(Box::new(steps))
        }
        Requested::ManagedPolicy { policy, principal } => {
            let steps = iam_access::managed_policy(dir, policy, principal, cx);
            Work::IamAccess(Box::new(steps))
        }
        Requested::InlinePolicy { parent, name } => {
            Work::IamAccess(Box::new(iam_access::inline_policy(parent, name, cx)))
        }
        Requested::SsoGroupMember { group, user } => {
            Work::Membership(Box::new(membership::group_member(dir, group, user)))
        }
        Requested::SsoMembership {
            membership_id,
            group,
        } => {
            let steps = membership::revoke_by_id(membership_id, group.as_ref(), cx);
            Work::Membership(Box::new(steps))
        }
        Requested::AccountAssignment {
            account,
            permission_set,
            principal,
            binding,
        } => {
            let steps =
                assignment::account_assignment(dir, account, permission_set, principal, *binding);
            Work::Assignment(Box::new(steps))
        }
    }
}

impl Work {
    fn calls(&self, cx: &Context) -> Vec<Call> {
        match self {
            Work::IamAccess(c) => c.calls(cx),
            Work::IamUser(c) => c.calls(cx),
            Work::Membership(c) => c.calls(cx),
            Work::Assignment(c) => c.calls(cx),
            Work::SsoUser(c) => c.calls(cx),
        }
    }

    async fn run(self, x: &Exec<'_>) -> Result<Done, ProvisionError> {
        match self {
            Work::IamAccess(c) => (*c).run(x).await,
            Work::IamUser(c) => (*c).run(x).await,
            Work::Membership(c) => (*c).run(x).await,
            Work::Assignment(c) => (*c).run(x).await,
            Work::SsoUser(c) => (*c).run(x).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::request;

    fn cx(caller: Option<&str>) -> Context {
        Context {
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

    fn plan_of(req: Request, cx: &Context) -> Vec<Call> {
        plan(&Job::Change(req), cx).unwrap()
    }

    /// A provisioner may serve jobs on other tasks (checked when compiling).
    #[test]
    fn a_run_can_be_spawned() {
        fn send<T: Send>(_: &T) {}
        let _check = |p: &Provisioner, job: &Job| send(&p.run(job));
    }

    #[test]
    fn group_member_hops_into_the_groups_account_unless_it_is_the_callers() {
        let req = request::grant(
            "group:arn:aws:iam::111122223333:group/devs:member",
            "iam_user",
            "arn:aws:iam::111122223333:user/bob",
        )
        .unwrap();
        let other = plan_of(req.clone(), &cx(Some("999999999999")));
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
        let own = plan_of(req.clone(), &cx(Some("111122223333")));
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
        let unknown = plan_of(req, &cx(None));
        assert_eq!(unknown[0].name(), "sts:GetCallerIdentity");
        assert!(unknown[1].when.as_deref().unwrap().contains("unless"));
    }

    #[test]
    fn assignments_poll_and_revokes_delete() {
        let req = request::revoke(
            "grant:sso_group:arn:aws:identitystore:us-east-1::d-1234567890/group/66666666-7777-8888-9999-000000000000:111122223333|arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef",
        )
        .unwrap();
        let calls = plan_of(req, &cx(None));
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

    #[test]
    fn a_deletion_plans_each_removal_with_the_item_listed_before_it() {
        let user =
            request::delete_target(
                "sso_user",
                "arn:aws:identitystore:us-east-1::d-1234567890/user/11111111-2222-3333-4444-555555555555",
            )
                .unwrap();
        let calls = plan(&Job::Delete(user), &cx(None)).unwrap();
        let removal = &calls[3];
        assert_eq!(removal.name(), "identitystore:DeleteGroupMembership");
        assert_eq!(removal.params["MembershipId"], "<listed above>");
        let user =
            request::delete_target("iam_user", "arn:aws:iam::111122223333:user/leaver").unwrap();
        let calls = plan(&Job::Delete(user), &cx(Some("111122223333"))).unwrap();
        let names = ops(&calls);
        let mfa = names
            .iter()
            .position(|n| n == "iam:ListMFADevices")
            .unwrap();
        assert_eq!(
            names[mfa..mfa + 3],
            [
                "iam:ListMFADevices",
                "iam:DeactivateMFADevice",
                "iam:DeleteVirtualMFADevice"
            ]
        );
        assert_eq!(
            calls[mfa + 2].to_string(),
            "iam:DeleteVirtualMFADevice [111122223333] SerialNumber=<listed above>   (once per virtual MFA device listed)"
        );
        assert_eq!(names.last().unwrap(), "iam:DeleteUser");
    }
}
