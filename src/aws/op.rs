//! How orgsync names an AWS operation: as IAM policies spell it (`iam:ListRoles`), taken from
//! the SDK itself. Every client carries the metrics interceptor (`aws::metrics`), which reads
//! the operation's `Metadata` from the SDK's config bag; while a request sent through
//! [`observed`] is in flight, the interceptor also drops that name into a task-local slot, and
//! the first name of the request wins (a hop made while signing, `sts:AssumeRole`, does not
//! rename it). A leaf: nothing else of `aws` is used here.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

/// An AWS operation as IAM policies spell it: `iam:GetAccountAuthorizationDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op {
    /// The IAM action prefix of the service (`iam`, `sts`, `organizations`, `sso`,
    /// `identitystore`).
    pub service: String,
    /// The operation's name (`GetAccountAuthorizationDetails`).
    pub name: String,
}

impl Op {
    /// The operation the SDK describes as `name` of `sdk_service` (the SDK's service name,
    /// e.g. `IAM`, `SSO Admin`).
    pub fn from_sdk(sdk_service: &str, name: &str) -> Op {
        Op {
            service: service_prefix(sdk_service),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.name)
    }
}

/// The IAM-policy prefix of an SDK service name (`IAM` → `iam`, `SSO Admin` → `sso`).
pub fn service_prefix(service: &str) -> String {
    match service.to_ascii_lowercase().as_str() {
        "sso admin" | "ssoadmin" => "sso".to_string(),
        other => other.replace(' ', ""),
    }
}

/// The request in flight on a task: its operation (set by the metrics interceptor) and
/// whether it repeats a throttled request (`aws::call`; the metrics then count a request, not
/// another call).
#[derive(Debug, Default)]
struct InFlight {
    op: Option<Op>,
    retry: bool,
}

type Slot = Arc<Mutex<InFlight>>;

tokio::task_local! {
    /// The request in flight on this task.
    static IN_FLIGHT: Slot;
}

/// Called by the metrics interceptor as each SDK operation starts: the first operation of a
/// request sent through [`observed`] names it.
pub(crate) fn note_operation(op: impl FnOnce() -> Op) {
    let _ = IN_FLIGHT.try_with(|slot| {
        let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if s.op.is_none() {
            s.op = Some(op());
        }
    });
}

/// True while the SDK operation in flight on this task repeats a throttled request
/// ([`observed`] with `retry`: one call, several requests).
pub(crate) fn repeats_a_request() -> bool {
    IN_FLIGHT
        .try_with(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).retry)
        .unwrap_or(false)
}

/// Runs `fut` (an SDK `send()` future) and returns its output with the operation the SDK
/// reported for it (`unknown:unknown` if no client interceptor saw one); `retry` when it
/// repeats a throttled request ([`repeats_a_request`]).
pub(crate) async fn observed<T>(fut: impl Future<Output = T>, retry: bool) -> (T, Op) {
    let slot: Slot = Arc::new(Mutex::new(InFlight { op: None, retry }));
    let out = IN_FLIGHT.scope(Arc::clone(&slot), fut).await;
    let op = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .op
        .take()
        .unwrap_or_else(|| Op {
            service: "unknown".into(),
            name: "unknown".into(),
        });
    (out, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_prefixes_are_iam_action_prefixes() {
        assert_eq!(service_prefix("IAM"), "iam");
        assert_eq!(service_prefix("SSO Admin"), "sso");
        assert_eq!(service_prefix("identitystore"), "identitystore");
        assert_eq!(service_prefix("Organizations"), "organizations");
        assert_eq!(
            Op::from_sdk("STS", "AssumeRole").to_string(),
            "sts:AssumeRole"
        );
    }

    #[tokio::test]
    async fn the_first_operation_of_a_call_names_it() {
        let slot: Slot = Arc::default();
        assert!(!repeats_a_request());
        IN_FLIGHT
            .scope(Arc::clone(&slot), async {
                note_operation(|| Op::from_sdk("IAM", "ListRoles"));
                note_operation(|| Op::from_sdk("STS", "AssumeRole"));
            })
            .await;
        assert_eq!(
            slot.lock().unwrap().op.as_ref().unwrap().to_string(),
            "iam:ListRoles"
        );
        // Outside a call nothing is recorded (and nothing panics).
        note_operation(|| Op::from_sdk("IAM", "ListUsers"));
    }
}
