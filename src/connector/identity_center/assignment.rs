//! Account access through a permission set, as steps ([`Assign`]): refuse accounts that are
//! not ACTIVE (`organizations:DescribeAccount`), describe the permission set (its name and
//! description go into the record), check the principal's assignments in that account
//! (`ListAccountAssignmentsForPrincipal`, filtered to the account), then
//! `CreateAccountAssignment` / `DeleteAccountAssignment` and poll the request's status with
//! doubling waits until SUCCEEDED, FAILED or the timeout ([`poll_until_done`]). At most
//! `exec::MAX_IN_FLIGHT` assignment operations run at once per provisioner (AWS's limit, the
//! provisioner's assignment gate), and every call takes a token from the org-wide Identity
//! Center bucket. Not here: group membership (`membership`).

use std::future::Future;
use std::time::Duration;

use aws_sdk_ssoadmin::operation as sso_op;
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, ListAccountAssignmentsFilter, PrincipalType, StatusValues,
    TargetType,
};

use crate::arn::AccountId;
use crate::connector::identity_center::model::PermissionSet;
use crate::connector::identity_center::object_records::{
    account_grant, binding_grant, permission_set,
};
use crate::connector::org::account::{AccountFacts, account_resource, describe_account};
use crate::model::Record;
use crate::model::ids::PermissionSetRef;
use crate::provision::call::{Call, Context};
use crate::provision::exec::{Exec, GatePass};
use crate::provision::operations::Req;
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::request::{Direction, SsoKind, SsoPrincipal};
use crate::provision::step::{Change, Flow, Step};

/// The instance ARN a permission-set ARN belongs to
/// (`arn:<partition>:sso:::instance/<ssoins-…>`).
pub fn instance_arn(ps: &PermissionSetRef) -> String {
    let partition = ps.arn.split(':').nth(1).unwrap_or("aws");
    format!("arn:{partition}:sso:::instance/{}", ps.instance_id)
}

/// What an assignment change is about: a permission set on an account, for a principal.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    account: AccountId,
    ps: PermissionSetRef,
    principal: SsoPrincipal,
}

impl Target {
    fn instance(&self) -> String {
        instance_arn(&self.ps)
    }

    /// The Identity Center region (the principal's identity store's).
    fn region(&self) -> &str {
        &self.principal.store.region
    }

    fn principal_type(&self) -> PrincipalType {
        match self.principal.kind {
            SsoKind::User => PrincipalType::User,
            SsoKind::Group => PrincipalType::Group,
        }
    }
}

/// The operation of an assignment step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssignOp {
    /// Check: the account exists and is ACTIVE (else the change is refused).
    DescribeAccount,
    /// Check: the permission set exists (a revoke of one that does not is done).
    DescribePermissionSet,
    /// Check: the principal holds the permission set on the account.
    Assigned,
    /// Change: create the assignment, unless held.
    Create,
    /// Change: delete the assignment, only if held.
    Delete,
    /// Poll the creation (or deletion) request until its status is final.
    PollCreation,
    PollDeletion,
}

/// A step of an assignment change.
#[derive(Debug, Clone)]
pub(crate) struct Assign {
    op: AssignOp,
    t: Target,
}

/// What the steps of an assignment change found.
pub(crate) struct Assigning {
    dir: Direction,
    /// The change names the binding (`permission_set_assignment`) entitlement.
    binding: bool,
    account: Option<AccountFacts>,
    ps: Option<PermissionSet>,
    record: Option<Record>,
    holds: bool,
    /// The request made, its first status, and its place in the assignment gate (held until
    /// its status is final).
    request: Option<(String, Progress, GatePass)>,
}

/// Grants or revokes account access through a permission set.
pub(crate) fn account_assignment(
    dir: Direction,
    account: &AccountId,
    ps: &PermissionSetRef,
    principal: &SsoPrincipal,
    binding: bool,
) -> Change<Assign> {
    let t = Target {
        account: account.clone(),
        ps: ps.clone(),
        principal: principal.clone(),
    };
    let (change, poll) = match dir {
        Direction::Grant => (AssignOp::Create, AssignOp::PollCreation),
        Direction::Revoke => (AssignOp::Delete, AssignOp::PollDeletion),
    };
    let state = Assigning {
        dir,
        binding,
        account: None,
        ps: None,
        record: None,
        holds: false,
        request: None,
    };
    let step = |op| Assign { op, t: t.clone() };
    Change::new(state)
        .then(step(AssignOp::DescribeAccount))
        .then(step(AssignOp::DescribePermissionSet))
        .then(step(AssignOp::Assigned))
        .then(step(change))
        .then(step(poll))
}

fn describe_permission_set(
    t: &Target,
) -> Req<sso_op::describe_permission_set::builders::DescribePermissionSetInputBuilder> {
    let instance = t.instance();
    Req::new(|p| {
        sso_op::describe_permission_set::DescribePermissionSetInput::builder()
            .instance_arn(p.put("InstanceArn", &instance))
            .permission_set_arn(p.put("PermissionSetArn", &t.ps.arn))
    })
}

fn list_assignments(t: &Target) -> Req<sso_op::list_account_assignments_for_principal::builders::ListAccountAssignmentsForPrincipalInputBuilder>{
    let instance = t.instance();
    Req::new(|p| {
        let filter = ListAccountAssignmentsFilter::builder()
            .account_id(p.put("Filter.AccountId", t.account.as_str()))
            .build();
        sso_op::list_account_assignments_for_principal::ListAccountAssignmentsForPrincipalInput::builder()
            .instance_arn(p.put("InstanceArn", &instance))
            .principal_type(PrincipalType::from(
                p.put("PrincipalType", t.principal_type().as_str()),
            ))
            .principal_id(p.put("PrincipalId", t.principal.id()))
            .filter(filter)
    })
}

/// `CreateAccountAssignment` and `DeleteAccountAssignment` take the same fields (in different
/// request types): the assignment of `$t`, set on `$builder` and recorded in `$p`.
macro_rules! this_assignment {
    ($builder:expr, $t:expr, $p:expr) => {{
        let t: &Target = $t;
        $builder
            .instance_arn($p.put("InstanceArn", &t.instance()))
            .target_id($p.put("TargetId", t.account.as_str()))
            .target_type(TargetType::from(
                $p.put("TargetType", TargetType::AwsAccount.as_str()),
            ))
            .permission_set_arn($p.put("PermissionSetArn", &t.ps.arn))
            .principal_type(PrincipalType::from(
                $p.put("PrincipalType", t.principal_type().as_str()),
            ))
            .principal_id($p.put("PrincipalId", t.principal.id()))
    }};
}

fn create_assignment(
    t: &Target,
) -> Req<sso_op::create_account_assignment::builders::CreateAccountAssignmentInputBuilder> {
    Req::new(|p| {
        this_assignment!(
            sso_op::create_account_assignment::CreateAccountAssignmentInput::builder(),
            t,
            p
        )
    })
}

fn delete_assignment(
    t: &Target,
) -> Req<sso_op::delete_account_assignment::builders::DeleteAccountAssignmentInputBuilder> {
    Req::new(|p| {
        this_assignment!(
            sso_op::delete_account_assignment::DeleteAccountAssignmentInput::builder(),
            t,
            p
        )
    })
}

fn creation_status(
    t: &Target,
    request_id: &str,
) -> Req<sso_op::describe_account_assignment_creation_status::builders::DescribeAccountAssignmentCreationStatusInputBuilder>{
    let instance = t.instance();
    Req::new(|p| {
        sso_op::describe_account_assignment_creation_status::DescribeAccountAssignmentCreationStatusInput::builder()
            .instance_arn(p.put("InstanceArn", &instance))
            .account_assignment_creation_request_id(p.put("RequestId", request_id))
    })
}

fn deletion_status(
    t: &Target,
    request_id: &str,
) -> Req<sso_op::describe_account_assignment_deletion_status::builders::DescribeAccountAssignmentDeletionStatusInputBuilder>{
    let instance = t.instance();
    Req::new(|p| {
        sso_op::describe_account_assignment_deletion_status::DescribeAccountAssignmentDeletionStatusInput::builder()
            .instance_arn(p.put("InstanceArn", &instance))
            .account_assignment_deletion_request_id(p.put("RequestId", request_id))
    })
}

/// Shown in a plan for the request id the creation or deletion answers.
const FROM_ABOVE: &str = "<from above>";

impl Step for Assign {
    type State = Assigning;

    fn planned(&self, cx: &Context) -> Call {
        let m = cx.mgmt();
        let t = &self.t;
        match self.op {
            AssignOp::DescribeAccount => describe_account(t.account.as_str())
                .call(m)
                .when("refuses the change unless the account is ACTIVE"),
            AssignOp::DescribePermissionSet => describe_permission_set(t).call(m),
            AssignOp::Assigned => list_assignments(t).call(m),
            AssignOp::Create => create_assignment(t).call(m).when("unless already assigned"),
            AssignOp::Delete => delete_assignment(t).call(m).when("only if assigned"),
            AssignOp::PollCreation => creation_status(t, FROM_ABOVE).call(m).when(POLL_WHEN),
            AssignOp::PollDeletion => deletion_status(t, FROM_ABOVE).call(m).when(POLL_WHEN),
        }
    }

    async fn run(&self, x: &Exec<'_>, st: &mut Assigning) -> Result<Flow, ProvisionError> {
        let t = &self.t;
        match self.op {
            AssignOp::DescribeAccount => check_account(x, st, t).await,
            AssignOp::DescribePermissionSet => check_permission_set(x, st, t).await,
            AssignOp::Assigned => {
                let mut held = false;
                x.pages(t.region(), &list_assignments(t), |page, _: &mut Vec<()>| {
                    held = page.account_assignments().iter().any(|aa| is_this(aa, t));
                    !held
                })
                .await?;
                st.holds = held;
                Ok(Flow::Next)
            }
            AssignOp::Create | AssignOp::Delete => start(x, st, t, self.op).await,
            AssignOp::PollCreation | AssignOp::PollDeletion => poll(x, st, t, self.op).await,
        }
    }
}

const POLL_WHEN: &str =
    "repeated with backoff while IN_PROGRESS, until SUCCEEDED, FAILED or the timeout";

/// An assignment of the principal listed for the account: is it this permission set's?
fn is_this(aa: &aws_sdk_ssoadmin::types::AccountAssignmentForPrincipal, t: &Target) -> bool {
    aa.account_id() == Some(t.account.as_str())
        && aa
            .permission_set_arn()
            .and_then(|arn| PermissionSetRef::parse(arn).ok())
            .is_some_and(|p| {
                p.instance_id == t.ps.instance_id && p.permission_set_id == t.ps.permission_set_id
            })
}

/// `DescribeAccount`: refuses an account that is not ACTIVE.
async fn check_account(
    x: &Exec<'_>,
    st: &mut Assigning,
    t: &Target,
) -> Result<Flow, ProvisionError> {
    let acct = t.account.as_str();
    let described = x.call(&(), &describe_account(t.account.as_str())).await?;
    let a = described.account().ok_or_else(|| {
        ProvisionError::Unexpected(format!(
            "organizations:DescribeAccount answered without account {acct}"
        ))
    })?;
    let facts = AccountFacts::of(acct, a);
    if !facts.active {
        return Err(ProvisionError::AccountNotActive {
            account: acct.to_string(),
            status: if facts.status.is_empty() {
                "of unknown status".into()
            } else {
                facts.status
            },
        });
    }
    st.account = Some(facts);
    Ok(Flow::Next)
}

/// `DescribePermissionSet`: its name and description, and the grant's record. A revoke of a
/// permission set that does not exist is done.
async fn check_permission_set(
    x: &Exec<'_>,
    st: &mut Assigning,
    t: &Target,
) -> Result<Flow, ProvisionError> {
    let ps = match x.call(t.region(), &describe_permission_set(t)).await {
        Ok(o) => {
            let p = o.permission_set();
            permission_set(
                &t.ps.arn,
                p.and_then(|p| p.name()).unwrap_or_default(),
                p.and_then(|p| p.description()),
            )
        }
        Err(e) if e.is_not_found() && st.dir == Direction::Revoke => {
            let detail = format!(
                "permission set {} does not exist, so nobody holds it",
                t.ps.arn
            );
            return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
        }
        Err(e) => return Err(e),
    };
    let acct = t.account.as_str();
    let (ptype, parn) = (t.principal.resource_type(), &t.principal.arn);
    let grant = if st.binding {
        binding_grant(acct, &ps, ptype, parn)
    } else {
        let account = st.account.as_ref().ok_or_else(|| {
            ProvisionError::Unexpected("the account was not described before its grant".into())
        })?;
        account_grant(&account_resource(account), acct, &ps, ptype, parn)
    };
    st.record = Some(Record::Grant(grant));
    st.ps = Some(ps);
    Ok(Flow::Next)
}

/// `<user|group> <arn>` and `<permission set> on account <id>`, for details.
fn who_and_what(st: &Assigning, t: &Target) -> (String, String) {
    let name = st.ps.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
    (
        format!("{} {}", t.principal.kind.word(), t.principal.arn),
        format!("{name} on account {}", t.account),
    )
}

/// Creates (or deletes) the assignment unless the check found nothing to do, within the
/// in-flight cap.
async fn start(
    x: &Exec<'_>,
    st: &mut Assigning,
    t: &Target,
    op: AssignOp,
) -> Result<Flow, ProvisionError> {
    let (who, what) = who_and_what(st, t);
    match (op, st.holds) {
        (AssignOp::Create, true) => {
            let detail = format!("{who} already has {what}");
            return Ok(Flow::end(Status::AlreadyGranted, detail, st.record.take()));
        }
        (AssignOp::Delete, false) => {
            let detail = format!("{who} does not have {what}");
            return Ok(Flow::end(Status::AlreadyRevoked, detail, st.record.take()));
        }
        _ => {}
    }
    let pass = x.gate().enter().await;
    let (first, operation) = if op == AssignOp::Create {
        let out = x.call(t.region(), &create_assignment(t)).await?;
        (
            out.account_assignment_creation_status().cloned(),
            CREATE.operation,
        )
    } else {
        let out = x.call(t.region(), &delete_assignment(t)).await?;
        (
            out.account_assignment_deletion_status().cloned(),
            DELETE.operation,
        )
    };
    let first = first.ok_or_else(|| {
        ProvisionError::Unexpected(format!("sso:{operation} answered without a request status"))
    })?;
    let request_id = first.request_id().unwrap_or_default().to_string();
    st.request = Some((request_id, Progress::of(&first), pass));
    Ok(Flow::Next)
}

/// How an assignment operation is named in errors.
struct Naming {
    operation: &'static str,
    status_command: &'static str,
    kind: &'static str,
}

const CREATE: Naming = Naming {
    operation: "CreateAccountAssignment",
    status_command: "describe-account-assignment-creation-status",
    kind: "creation",
};

const DELETE: Naming = Naming {
    operation: "DeleteAccountAssignment",
    status_command: "describe-account-assignment-deletion-status",
    kind: "deletion",
};

/// Polls the request the change made until its status is final.
async fn poll(
    x: &Exec<'_>,
    st: &mut Assigning,
    t: &Target,
    op: AssignOp,
) -> Result<Flow, ProvisionError> {
    let (request_id, first, pass) = st.request.take().ok_or_else(|| {
        ProvisionError::Unexpected("no assignment request was made to poll".into())
    })?;
    let opts = x.opts();
    let end = poll_until_done(
        first,
        opts.assignment_timeout,
        opts.poll_initial,
        opts.poll_max,
        || async {
            let status = if op == AssignOp::PollCreation {
                let out = x.call(t.region(), &creation_status(t, &request_id)).await?;
                out.account_assignment_creation_status().cloned()
            } else {
                let out = x.call(t.region(), &deletion_status(t, &request_id)).await?;
                out.account_assignment_deletion_status().cloned()
            };
            Ok::<_, ProvisionError>(status.as_ref().map_or(Progress::InProgress, Progress::of))
        },
    )
    .await?;
    drop(pass);
    let (who, what) = who_and_what(st, t);
    let (naming, status, detail) = if op == AssignOp::PollCreation {
        (&CREATE, Status::Granted, format!("gave {who} {what}"))
    } else {
        (&DELETE, Status::Revoked, format!("took {what} from {who}"))
    };
    match end {
        PollEnd::Succeeded => Ok(Flow::end(status, detail, st.record.take())),
        PollEnd::Failed(reason) => Err(ProvisionError::AssignmentFailed {
            operation: naming.operation,
            request_id,
            reason,
        }),
        PollEnd::TimedOut(waited) => Err(ProvisionError::AssignmentTimeout {
            operation: naming.operation,
            status_command: naming.status_command,
            kind: naming.kind,
            request_id,
            waited_secs: waited.as_secs(),
        }),
    }
}

/// Where an assignment request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    InProgress,
    Succeeded,
    Failed(String),
}

impl Progress {
    fn of(s: &AccountAssignmentOperationStatus) -> Progress {
        match s.status() {
            Some(StatusValues::Succeeded) => Progress::Succeeded,
            Some(StatusValues::Failed) => {
                Progress::Failed(s.failure_reason().unwrap_or("no reason given").to_string())
            }
            _ => Progress::InProgress,
        }
    }
}

/// How polling ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollEnd {
    Succeeded,
    Failed(String),
    TimedOut(Duration),
}

/// Polls `describe` while the request is in progress: waits `initial`, then twice as long each
/// time up to `max`, and gives up once `timeout` has passed.
pub async fn poll_until_done<F, Fut, E>(
    first: Progress,
    timeout: Duration,
    initial: Duration,
    max: Duration,
    mut describe: F,
) -> Result<PollEnd, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress, E>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = initial;
    let mut state = first;
    loop {
        match state {
            Progress::Succeeded => return Ok(PollEnd::Succeeded),
            Progress::Failed(r) => return Ok(PollEnd::Failed(r)),
            Progress::InProgress => {}
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Ok(PollEnd::TimedOut(waited));
        }
        tokio::time::sleep(delay.min(timeout - waited)).await;
        state = describe().await?;
        delay = (delay * 2).min(max.max(initial));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn instance_arn_comes_from_the_permission_set_arn() {
        for ps in [
            "arn:aws:sso:::permissionSet/ssoins-1234/ps-5678",
            "arn:aws:sso:::instance/ssoins-1234/ps-5678",
        ] {
            let r = PermissionSetRef::parse(ps).unwrap();
            assert_eq!(instance_arn(&r), "arn:aws:sso:::instance/ssoins-1234");
        }
        let gov =
            PermissionSetRef::parse("arn:aws-us-gov:sso:::permissionSet/ssoins-1/ps-2").unwrap();
        assert_eq!(instance_arn(&gov), "arn:aws-us-gov:sso:::instance/ssoins-1");
    }

    #[tokio::test]
    async fn polls_with_growing_waits_until_done() {
        let n = AtomicU32::new(0);
        let start = std::time::Instant::now();
        let end = poll_until_done(
            Progress::InProgress,
            Duration::from_secs(5),
            Duration::from_millis(10),
            Duration::from_millis(40),
            || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(if i < 3 {
                    Progress::InProgress
                } else {
                    Progress::Succeeded
                })
            },
        )
        .await
        .unwrap();
        assert_eq!(end, PollEnd::Succeeded);
        assert_eq!(n.load(Ordering::SeqCst), 4);
        // 10 + 20 + 40 + 40 ms of waiting.
        assert!(
            start.elapsed() >= Duration::from_millis(110),
            "{:?}",
            start.elapsed()
        );

        let failed = poll_until_done(
            Progress::InProgress,
            Duration::from_secs(5),
            Duration::from_millis(1),
            Duration::from_millis(1),
            || async { Ok::<_, ()>(Progress::Failed("quota".into())) },
        )
        .await
        .unwrap();
        assert_eq!(failed, PollEnd::Failed("quota".into()));

        // Already final: no call at all.
        let calls = AtomicU32::new(0);
        let done = poll_until_done(
            Progress::Succeeded,
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(Progress::Succeeded)
            },
        )
        .await
        .unwrap();
        assert_eq!(done, PollEnd::Succeeded);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn gives_up_after_the_timeout() {
        let end = poll_until_done(
            Progress::InProgress,
            Duration::from_millis(60),
            Duration::from_millis(20),
            Duration::from_millis(20),
            || async { Ok::<_, ()>(Progress::InProgress) },
        )
        .await
        .unwrap();
        assert!(matches!(end, PollEnd::TimedOut(d) if d >= Duration::from_millis(60)));
        let err = poll_until_done(
            Progress::InProgress,
            Duration::from_secs(1),
            Duration::from_millis(1),
            Duration::from_millis(1),
            || async { Err::<Progress, _>("denied") },
        )
        .await;
        assert_eq!(err, Err("denied"));
    }
}
