//! Client-side rate limits: a token bucket per (account, service) and one org-wide bucket for
//! Identity Center and one for Organizations, so orgsync stays under AWS's request quotas
//! instead of leaning on retries. A bucket for an AWS quota ([`Limiter::under`]) paces a little
//! under it ([`PACE`]) with AWS's own burst, and follows what AWS answers: a throttled request
//! ([`Limiter::throttled`]) means AWS's bucket is empty, so this one is emptied too (the retry
//! and everything after it wait for the next token here instead of colliding again); a
//! throttled request that was sent after such an emptying means AWS refills slower than this
//! bucket paces, so the pace slows down ([`SLOW_DOWN`]), and answered requests bring it back
//! up step by step ([`SPEED_UP`]).
//!
//! Not here: which bucket a call waits on and retrying throttled calls through it
//! (`aws::call`), SDK retries (`aws::session`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

use super::metrics::is_throttling_response;

/// The share of an AWS quota a client-side bucket paces at. AWS's bucket refills at the full
/// rate, so pacing 5 % under it leaves AWS's bucket a reserve that grows by a twentieth of a
/// token per request (up to the burst) and absorbs the jitter in when requests arrive. Paced at
/// exactly the quota, both buckets run empty together and any two requests that arrive closer
/// than they were sent get one refused (measured with `benches/floor.rs` on the AWS-like
/// stand-in: Organizations at 4/s against a 4/s bucket had requests refused in most runs,
/// and each refusal cost a retry back-off on the run's critical path). Also measured: the full
/// rate with a burst one token smaller than AWS's refuses nothing either, but costs one
/// token's time at the start of every phase (0.25 s for Organizations), more than 5 % of the
/// short Organizations phase of a small organization.
pub const PACE: f64 = 0.95;

/// How much a throttled request slows the pace when it was sent after the last throttled
/// answer emptied the bucket (so AWS refills slower than this bucket paced).
pub const SLOW_DOWN: f64 = 0.7;

/// How much of its starting pace an answered request gives back to a slowed bucket.
pub const SPEED_UP: f64 = 0.02;

/// The slowest a bucket gets, as a share of its starting pace.
pub const MIN_SHARE: f64 = 1.0 / 16.0;

/// A token bucket; `None` inside means no limit.
#[derive(Debug)]
pub struct Limiter {
    inner: Option<Mutex<Bucket>>,
}

/// What [`Limiter::acquire`] hands out: which pace the request was sent at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// The bucket's emptyings (throttled answers) before the request was sent.
    emptied: u64,
}

#[derive(Debug)]
struct Bucket {
    /// The pace the bucket starts at and returns to (tokens per second).
    full: f64,
    /// The present pace.
    rate: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
    /// Throttled answers that emptied the bucket so far.
    emptied: u64,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.at = now;
    }
}

impl Limiter {
    /// A bucket for an AWS quota of `rps` requests per second whose burst is as large (one
    /// second's worth, as AWS's buckets are assumed to hold): paced at [`PACE`] × `rps`, with
    /// no burst beyond AWS's. `rps <= 0` means no limit.
    pub fn under(rps: f64) -> Limiter {
        Limiter::new(rps * PACE, rps.ceil().max(1.0) as u32)
    }

    /// A bucket refilled at `rps` tokens per second holding at most `burst` (full at first);
    /// `rps <= 0` means no limit.
    pub fn new(rps: f64, burst: u32) -> Limiter {
        if rps.is_nan() || rps <= 0.0 || !rps.is_finite() {
            return Limiter::unlimited();
        }
        let burst = f64::from(burst.max(1));
        Limiter {
            inner: Some(Mutex::new(Bucket {
                full: rps,
                rate: rps,
                burst,
                tokens: burst,
                at: Instant::now(),
                emptied: 0,
            })),
        }
    }

    /// No limit at all.
    pub fn unlimited() -> Limiter {
        Limiter { inner: None }
    }

    fn bucket(&self) -> Option<std::sync::MutexGuard<'_, Bucket>> {
        self.inner
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits for one token. Dropping the future before it is ready takes nothing.
    pub async fn acquire(&self) -> Permit {
        loop {
            let wait = {
                let Some(mut b) = self.bucket() else {
                    return Permit { emptied: 0 };
                };
                b.refill(Instant::now());
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return Permit { emptied: b.emptied };
                }
                (1.0 - b.tokens) / b.rate
            };
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    /// The request sent with `permit` was throttled: AWS's bucket is empty, so this one is
    /// emptied too; if the request was sent after the last emptying, the pace slows down.
    pub fn throttled(&self, permit: Permit) {
        let Some(mut b) = self.bucket() else {
            return;
        };
        b.refill(Instant::now());
        if permit.emptied != b.emptied {
            // Sent before the last emptying: that one already accounted for it.
            return;
        }
        b.tokens = b.tokens.min(0.0);
        if b.emptied > 0 {
            b.rate = (b.rate * SLOW_DOWN).max(b.full * MIN_SHARE);
        }
        b.emptied += 1;
    }

    /// A request was answered (not throttled): a slowed pace comes back up a step.
    pub fn answered(&self) {
        if let Some(mut b) = self.bucket()
            && b.rate < b.full
        {
            b.refill(Instant::now());
            b.rate = (b.rate + b.full * SPEED_UP).min(b.full);
        }
    }

    /// The present pace, requests per second (`None`: no limit).
    pub fn pace(&self) -> Option<f64> {
        self.bucket().map(|b| b.rate)
    }
}

/// Keeps the SDK from retrying a throttled answer itself: [`Scope::call`](super::Scope::call)
/// retries it through the call's bucket, which then paces the retry (and every other call) to
/// what AWS allows. Installed on the clients whose calls all go through `Scope::call`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThrottlingIsPaced;

impl ClassifyRetry for ThrottlingIsPaced {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) => {
                let header = r.headers().get("x-amzn-errortype");
                if is_throttling_response(r.status().as_u16(), header, r.body().bytes()) {
                    RetryAction::RetryForbidden
                } else {
                    RetryAction::NoActionIndicated
                }
            }
            None => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "orgsync-throttling-is-paced"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_quota_is_paced_a_little_under_its_rate_with_its_own_burst() {
        // 100/s: a burst of 100 at once, then one every 1/95 s.
        let l = Limiter::under(100.0);
        let start = Instant::now();
        for _ in 0..100 {
            l.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(100));
        for _ in 0..19 {
            l.acquire().await;
        }
        let e = start.elapsed();
        // 19 at 95/s: 200 ms (at 100/s it would be 190 ms).
        assert!(e >= Duration::from_millis(195), "{e:?}");
        assert!(Limiter::under(0.0).inner.is_none());
        assert_eq!(l.pace(), Some(95.0));
    }

    #[tokio::test]
    async fn bucket_paces_requests_after_the_burst() {
        let l = Limiter::new(50.0, 2);
        let start = Instant::now();
        for _ in 0..7 {
            l.acquire().await;
        }
        // 2 free (burst), then 5 more at 20 ms each.
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "{:?}",
            start.elapsed()
        );
        let u = Limiter::new(0.0, 1);
        let start = Instant::now();
        for _ in 0..1000 {
            u.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_throttled_answer_empties_the_bucket_and_a_second_one_slows_it() {
        let l = Limiter::new(100.0, 10);
        // Two requests of the same burst throttled: one emptying, the pace unchanged.
        let a = l.acquire().await;
        let b = l.acquire().await;
        l.throttled(a);
        l.throttled(b);
        assert_eq!(l.pace(), Some(100.0));
        // Emptied: the next token takes a hundredth of a second, not the 8 left in the burst.
        let start = Instant::now();
        let c = l.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(9),
            "{:?}",
            start.elapsed()
        );
        // Sent after the emptying and throttled again: AWS refills slower than this pace.
        l.throttled(c);
        assert_eq!(l.pace(), Some(100.0 * SLOW_DOWN));
        // Answers bring it back, a step each, never above the start.
        for _ in 0..100 {
            l.answered();
        }
        assert_eq!(l.pace(), Some(100.0));
        // However often it is throttled, it keeps a sixteenth of its pace.
        let fast = Limiter::new(10_000.0, 1);
        for _ in 0..20 {
            let p = fast.acquire().await;
            fast.throttled(p);
        }
        assert_eq!(fast.pace(), Some(10_000.0 * MIN_SHARE));
    }

    #[tokio::test]
    async fn waiting_for_a_token_and_giving_up_takes_nothing() {
        let l = Limiter::new(10.0, 1);
        l.acquire().await;
        // No token for 100 ms; give up after 20 ms.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), l.acquire()).await;
        assert!(gave_up.is_err());
        // The token that comes at 100 ms is still there for the next caller.
        let start = Instant::now();
        l.acquire().await;
        assert!(
            start.elapsed() < Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
    }
}
