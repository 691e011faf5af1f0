//! Account access through a permission set: refuse accounts that are not ACTIVE
//! (`organizations:DescribeAccount`), check the principal's assignments in that account
//! (`ListAccountAssignmentsForPrincipal`, filtered to the account), then
//! `CreateAccountAssignment` / `DeleteAccountAssignment` and poll the request's status with
//! doubling waits until SUCCEEDED, FAILED or the timeout. At most [`MAX_IN_FLIGHT`] assignment
//! operations run at once per provisioner (AWS's limit), and every call takes a token from the
//! org-wide Identity Center bucket. Not here: group membership (`identity_center`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, PrincipalType, StatusValues, TargetType,
};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::arn::AccountId;
use crate::aws::ErrorClass;
use crate::model::Record;
use crate::model::ids::PermissionSetRef;

use super::membership::word;
use crate::provision::call::assignment_params;
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::provisioner::{Done, Exec};
use crate::provision::records::{
    AccountFacts, account_grant, account_resource, binding_grant, permission_set,
};
use crate::provision::request::{Direction, SsoKind, SsoPrincipal};

/// AWS runs at most 10 account-assignment operations of an instance at a time.
pub const MAX_IN_FLIGHT: usize = 10;

/// The instance ARN a permission-set ARN belongs to
/// (`arn:<partition>:sso:::instance/<ssoins-…>`).
pub fn instance_arn(ps: &PermissionSetRef) -> String {
    let partition = ps.arn.split(':').nth(1).unwrap_or("aws");
    format!("arn:{partition}:sso:::instance/{}", ps.instance_id)
}

/// Caps concurrent assignment operations (create/delete until their status is final) and
/// remembers the most that were ever in flight.
#[derive(Debug)]
pub struct AssignmentGate {
    sem: Semaphore,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// One operation's place in the gate; leaving frees it.
pub struct GatePass<'g> {
    gate: &'g AssignmentGate,
    _permit: Option<SemaphorePermit<'g>>,
}

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AssignmentGate {
    pub fn new(max: usize) -> AssignmentGate {
        AssignmentGate {
            sem: Semaphore::new(max.max(1)),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Waits for a free place.
    pub async fn enter(&self) -> GatePass<'_> {
        // `acquire` fails only on a closed semaphore, and this one is never closed.
        let permit = self.sem.acquire().await.ok();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        GatePass {
            gate: self,
            _permit: permit,
        }
    }

    /// The most operations that were in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
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

/// Grants or revokes account access through a permission set.
pub(crate) async fn account_assignment(
    x: &Exec<'_>,
    dir: Direction,
    account: &AccountId,
    ps: &PermissionSetRef,
    principal: &SsoPrincipal,
    binding: bool,
) -> Result<Done, ProvisionError> {
    let acct = account.to_string();
    // 1. The account must exist and be ACTIVE.
    let org = x.mgmt().organizations();
    let described = x
        .org("DescribeAccount", &[("AccountId", &acct)], || {
            org.describe_account().account_id(&acct).send()
        })
        .await?;
    let a = described.account().ok_or_else(|| {
        ProvisionError::Unexpected(format!(
            "organizations:DescribeAccount answered without account {acct}"
        ))
    })?;
    let status = a
        .status()
        .map(|s| s.as_str().to_string())
        .or_else(|| a.state().map(|s| s.as_str().to_string()))
        .unwrap_or_default();
    if status != "ACTIVE" {
        return Err(ProvisionError::AccountNotActive {
            account: acct,
            status: if status.is_empty() {
                "of unknown status".into()
            } else {
                status
            },
        });
    }
    let facts = AccountFacts {
        id: acct.clone(),
        name: a.name().unwrap_or(&acct).to_string(),
        arn: a.arn().unwrap_or_default().to_string(),
        status,
    };

    // 2. The permission set (its name and description go into the record).
    let region = principal.store.region.as_str();
    let sso = x.mgmt().sso_admin(region);
    let instance = instance_arn(ps);
    let ps_facts = match x
        .ic(
            "sso",
            "DescribePermissionSet",
            &[("InstanceArn", &instance), ("PermissionSetArn", &ps.arn)],
            || {
                sso.describe_permission_set()
                    .instance_arn(&instance)
                    .permission_set_arn(&ps.arn)
                    .send()
            },
        )
        .await
    {
        Ok(o) => {
            let p = o.permission_set();
            permission_set(
                &ps.arn,
                p.and_then(|p| p.name()).unwrap_or_default(),
                p.and_then(|p| p.description()),
            )
        }
        Err(e) if e.class == ErrorClass::NotFound && dir == Direction::Revoke => {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!(
                    "permission set {} does not exist, so nobody holds it",
                    ps.arn
                ),
                record: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let record = Some(Record::Grant(if binding {
        binding_grant(&acct, &ps_facts, principal.resource_type(), &principal.arn)
    } else {
        account_grant(
            &account_resource(&facts),
            &acct,
            &ps_facts,
            principal.resource_type(),
            &principal.arn,
        )
    }));

    // 3. Is it assigned already?
    let ptype = match principal.kind {
        SsoKind::User => PrincipalType::User,
        SsoKind::Group => PrincipalType::Group,
    };
    let filter = aws_sdk_ssoadmin::types::ListAccountAssignmentsFilter::builder()
        .account_id(&acct)
        .build();
    let mut token: Option<String> = None;
    let mut assigned = false;
    loop {
        let page = x
            .ic(
                "sso",
                "ListAccountAssignmentsForPrincipal",
                &[
                    ("InstanceArn", &instance),
                    ("PrincipalType", principal.kind.api_word()),
                    ("PrincipalId", principal.id()),
                    ("Filter.AccountId", &acct),
                ],
                || {
                    sso.list_account_assignments_for_principal()
                        .instance_arn(&instance)
                        .principal_type(ptype.clone())
                        .principal_id(principal.id())
                        .filter(filter.clone())
                        .set_next_token(token.clone())
                        .send()
                },
            )
            .await?;
        assigned |= page.account_assignments().iter().any(|aa| {
            aa.account_id() == Some(acct.as_str())
                && aa
                    .permission_set_arn()
                    .and_then(|arn| PermissionSetRef::parse(arn).ok())
                    .is_some_and(|p| {
                        p.instance_id == ps.instance_id
                            && p.permission_set_id == ps.permission_set_id
                    })
        });
        match page.next_token() {
            Some(t) if !assigned && !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let who = format!("{} {}", word(principal), principal.arn);
    let what = format!("{} on account {acct}", ps_facts.name);
    match (dir, assigned) {
        (Direction::Grant, true) => {
            return Ok(Done {
                status: Status::AlreadyGranted,
                detail: format!("{who} already has {what}"),
                record,
            });
        }
        (Direction::Revoke, false) => {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!("{who} does not have {what}"),
                record,
            });
        }
        _ => {}
    }

    // 4. Change it, within the in-flight cap, and wait for the outcome.
    let _pass = x.p.assignment_gate().enter().await;
    let params = assignment_params(&instance, &acct, &ps.arn, principal);
    let (operation, status_op, status_command, kind) = match dir {
        Direction::Grant => (
            "CreateAccountAssignment",
            "DescribeAccountAssignmentCreationStatus",
            "describe-account-assignment-creation-status",
            "creation",
        ),
        Direction::Revoke => (
            "DeleteAccountAssignment",
            "DescribeAccountAssignmentDeletionStatus",
            "describe-account-assignment-deletion-status",
            "deletion",
        ),
    };
    // CreateAccountAssignment and DeleteAccountAssignment take the same fields (in different
    // request types).
    macro_rules! this_assignment {
        ($req:expr) => {
            $req.instance_arn(&instance)
                .target_id(&acct)
                .target_type(TargetType::AwsAccount)
                .permission_set_arn(&ps.arn)
                .principal_type(ptype.clone())
                .principal_id(principal.id())
        };
    }
    let first = match dir {
        Direction::Grant => x
            .ic("sso", operation, &params, || {
                this_assignment!(sso.create_account_assignment()).send()
            })
            .await?
            .account_assignment_creation_status()
            .cloned(),
        Direction::Revoke => x
            .ic("sso", operation, &params, || {
                this_assignment!(sso.delete_account_assignment()).send()
            })
            .await?
            .account_assignment_deletion_status()
            .cloned(),
    }
    .ok_or_else(|| {
        ProvisionError::Unexpected(format!("sso:{operation} answered without a request status"))
    })?;
    let request_id = first.request_id().unwrap_or_default().to_string();
    let opts = x.opts();
    let end = poll_until_done(
        Progress::of(&first),
        opts.assignment_timeout,
        opts.poll_initial,
        opts.poll_max,
        || async {
            let s = match dir {
                Direction::Grant => x
                    .ic(
                        "sso",
                        status_op,
                        &[("InstanceArn", &instance), ("RequestId", &request_id)],
                        || {
                            sso.describe_account_assignment_creation_status()
                                .instance_arn(&instance)
                                .account_assignment_creation_request_id(&request_id)
                                .send()
                        },
                    )
                    .await?
                    .account_assignment_creation_status()
                    .cloned(),
                Direction::Revoke => x
                    .ic(
                        "sso",
                        status_op,
                        &[("InstanceArn", &instance), ("RequestId", &request_id)],
                        || {
                            sso.describe_account_assignment_deletion_status()
                                .instance_arn(&instance)
                                .account_assignment_deletion_request_id(&request_id)
                                .send()
                        },
                    )
                    .await?
                    .account_assignment_deletion_status()
                    .cloned(),
            };
            Ok::<_, ProvisionError>(s.as_ref().map(Progress::of).unwrap_or(Progress::InProgress))
        },
    )
    .await?;
    match end {
        PollEnd::Succeeded => Ok(Done {
            status: match dir {
                Direction::Grant => Status::Granted,
                Direction::Revoke => Status::Revoked,
            },
            detail: match dir {
                Direction::Grant => format!("gave {who} {what}"),
                Direction::Revoke => format!("took {what} from {who}"),
            },
            record,
        }),
        PollEnd::Failed(reason) => Err(ProvisionError::AssignmentFailed {
            operation,
            request_id,
            reason,
        }),
        PollEnd::TimedOut(waited) => Err(ProvisionError::AssignmentTimeout {
            operation,
            status_command,
            kind,
            request_id,
            waited_secs: waited.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_ten_operations_in_flight() {
        let gate = Arc::new(AssignmentGate::new(MAX_IN_FLIGHT));
        let mut tasks = vec![];
        for _ in 0..25 {
            let g = Arc::clone(&gate);
            tasks.push(tokio::spawn(async move {
                let _pass = g.enter().await;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(gate.peak(), MAX_IN_FLIGHT);
        assert_eq!(gate.in_flight.load(Ordering::SeqCst), 0);
    }
}
