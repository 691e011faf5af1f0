//! The one way orgsync makes an AWS call: [`Scope::call`] waits for a token of the right
//! bucket, sends the request, names a failure after the operation the SDK itself reports
//! (no `"service", "Operation"` strings at call sites), retries a throttled answer through the
//! bucket (which the answer has emptied and perhaps slowed, `aws::limits`; the SDK itself does
//! not retry throttling on these clients) up to the configured attempts, and after an
//! `ExpiredToken` answer hops again once and retries; [`Scope::pages`] walks every page of a
//! list call through it and stops with an error on a page token it has already seen (a loop
//! that would never end).
//!
//! How the name is known: every client carries the metrics interceptor (`aws::metrics`), which
//! reads the operation's `Metadata` from the SDK's config bag; while a call made here is in
//! flight, the interceptor also drops that name into a task-local slot, and the first name of
//! the call wins (a hop made while signing, `sts:AssumeRole`, does not rename it).
//!
//! Not here: client construction and hops (`aws::session`), error classification
//! (`aws::errors`), the token buckets themselves (`aws::limits`).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{AwsError, ErrorClass};
use super::limits::{Limiter, Permit};
use super::session::Scope;

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

/// The call in flight on a task: its operation (set by the metrics interceptor) and whether
/// it repeats a throttled request (the metrics then count a request, not another call).
#[derive(Debug, Default)]
struct InFlight {
    op: Option<Op>,
    retry: bool,
}

type Slot = Arc<Mutex<InFlight>>;

tokio::task_local! {
    /// The call in flight on this task.
    static IN_FLIGHT: Slot;
}

/// Called by the metrics interceptor as each SDK operation starts: the first operation of a
/// call made through [`send`] names it.
pub(crate) fn note_operation(op: impl FnOnce() -> Op) {
    let _ = IN_FLIGHT.try_with(|slot| {
        let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if s.op.is_none() {
            s.op = Some(op());
        }
    });
}

/// True while the SDK operation in flight on this task repeats a throttled request of
/// [`Scope::call`] (one call, several requests).
pub(crate) fn repeats_a_request() -> bool {
    IN_FLIGHT
        .try_with(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).retry)
        .unwrap_or(false)
}

/// Sends one request (`fut` is the SDK's `send()` future) and turns a failure into an
/// [`AwsError`] named after the operation the SDK reported. The building block of
/// [`Scope::call`]; use it directly only where no scope exists yet (the hops themselves).
pub async fn send<T, E, Fut>(fut: Fut) -> Result<T, AwsError>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    send_named(fut, false).await.map(|(v, _)| v)
}

/// [`send`], also returning the operation that answered; `retry` when it repeats a throttled
/// request.
async fn send_named<T, E, Fut>(fut: Fut, retry: bool) -> Result<(T, Op), AwsError>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
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
    match out {
        Ok(v) => Ok((v, op)),
        Err(e) => Err(AwsError::from_sdk(&op, e)),
    }
}

impl Scope {
    /// Runs one AWS call in this account: waits for a token from `limiter`, sends the request
    /// `f` builds, classifies a failure; after a throttled answer tells `limiter` and sends
    /// again when it gives the next token (at most `max_attempts` requests in all); after an
    /// `ExpiredToken` answer refreshes the hop and tries once more. `f` is called again for
    /// each retry, so it builds the request anew.
    pub async fn call<T, E, Fut>(
        &self,
        limiter: &Limiter,
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_named(limiter, None, f).await.map(|(v, _)| v)
    }

    /// [`Scope::call`] whose first request goes with `permit`, a token already taken from
    /// `limiter` (a caller that chooses which call to send when a token comes); retries wait
    /// for tokens as usual.
    pub async fn call_with<T, E, Fut>(
        &self,
        limiter: &Limiter,
        permit: Permit,
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_named(limiter, Some(permit), f)
            .await
            .map(|(v, _)| v)
    }

    /// [`Scope::call`], also returning the operation that answered.
    async fn call_named<T, E, Fut>(
        &self,
        limiter: &Limiter,
        mut first: Option<Permit>,
        f: impl Fn() -> Fut,
    ) -> Result<(T, Op), AwsError>
    where
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            let permit = match first.take() {
                Some(p) => p,
                None => limiter.acquire().await,
            };
            match send_named(f(), throttled > 0).await {
                Ok(v) => {
                    limiter.answered();
                    return Ok(v);
                }
                Err(err) => {
                    if err.class == ErrorClass::Throttled {
                        limiter.throttled(permit);
                        throttled += 1;
                        if throttled < self.settings().max_attempts {
                            tracing::debug!(account = %self.account, operation = %err.operation, throttled, "throttled; retrying at the bucket's pace");
                            continue;
                        }
                        return Err(err);
                    }
                    limiter.answered();
                    if err.class == ErrorClass::ExpiredToken
                        && !refreshed
                        && self.refresh_hop().await
                    {
                        tracing::info!(account = %self.account, operation = %err.operation, "session token expired; hopping again");
                        refreshed = true;
                        continue;
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Every item of a paged list call. `request` makes the call for a page token (`None` for
    /// the first page) through [`Scope::call`]; `take` moves a page's items into the output and
    /// returns the next token (`None`, or an empty token, ends the walk). A token seen before
    /// is an error: following it would never end.
    pub async fn pages<P, T, E, Fut>(
        &self,
        limiter: &Limiter,
        request: impl Fn(Option<String>) -> Fut,
        mut take: impl FnMut(P, &mut Vec<T>) -> Option<String>,
    ) -> Result<Vec<T>, AwsError>
    where
        Fut: Future<Output = Result<P, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut out = vec![];
        let mut token: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let (page, op) = self
                .call_named(limiter, None, || request(token.clone()))
                .await?;
            match take(page, &mut out) {
                Some(next) if !next.is_empty() => {
                    if !seen.insert(next.clone()) {
                        return Err(AwsError::repeated_page_token(&op, &next));
                    }
                    token = Some(next);
                }
                _ => return Ok(out),
            }
        }
    }
}

/// The next-page token of an IAM-style list answer (`IsTruncated` + `Marker`).
pub fn marker(is_truncated: bool, marker: Option<&str>) -> Option<String> {
    if is_truncated {
        marker.map(str::to_string)
    } else {
        None
    }
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

    #[test]
    fn iam_markers_end_when_not_truncated() {
        assert_eq!(marker(true, Some("m1")), Some("m1".into()));
        assert_eq!(marker(false, Some("m1")), None);
        assert_eq!(marker(true, None), None);
    }
}
