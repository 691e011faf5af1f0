//! The one way orgsync makes an AWS call: [`Scope::call`] waits for a token of the right
//! bucket, sends the request, names a failure after the operation the SDK itself reports
//! (no `"service", "Operation"` strings at call sites), retries a throttled answer through the
//! bucket (which the answer has emptied and perhaps slowed, `aws::limits`; the SDK itself does
//! not retry throttling on these clients) up to the configured attempts, and after an
//! `ExpiredToken` answer hops again once and retries; [`Scope::pages`] walks every page of a
//! list call through it and stops with an error on a page token it has already seen (a loop
//! that would never end).
//!
//! The name comes from the SDK itself (`aws::op`).
//!
//! Not here: client construction and hops (`aws::session`), error classification and the
//! plain `send` of a request outside a scope (`aws::errors`), how an operation is named
//! (`aws::op`), the token buckets themselves (`aws::limits`).

use std::collections::HashSet;
use std::future::Future;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{AwsError, ErrorClass, send_named};
use super::limits::{Limiter, Permit};
use super::op::Op;
use super::session::Scope;

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
    fn iam_markers_end_when_not_truncated() {
        assert_eq!(marker(true, Some("m1")), Some("m1".into()));
        assert_eq!(marker(false, Some("m1")), None);
        assert_eq!(marker(true, None), None);
    }
}
