//! Client-side rate limits: a token bucket per (account, service) and one org-wide bucket for
//! Identity Center, so orgsync stays under AWS's request quotas instead of leaning on retries.
//!
//! Not here: which bucket a call waits on (the caller passes it to `aws::call`), SDK retries
//! (`aws::session`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A token bucket refilled at `rps` tokens per second; `rps <= 0` means no limit.
#[derive(Debug)]
pub struct Limiter {
    inner: Option<DefaultDirectRateLimiter>,
}

impl Limiter {
    /// A bucket allowing `rps` requests per second with bursts of `burst`.
    pub fn new(rps: f64, burst: u32) -> Limiter {
        if rps.is_nan() || rps <= 0.0 || !rps.is_finite() {
            return Limiter::unlimited();
        }
        let period = Duration::from_secs_f64(1.0 / rps);
        let inner = Quota::with_period(period).map(|q| {
            RateLimiter::direct(
                q.allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN)),
            )
        });
        Limiter { inner }
    }

    /// No limit at all.
    pub fn unlimited() -> Limiter {
        Limiter { inner: None }
    }

    /// Waits for one token.
    pub async fn acquire(&self) {
        if let Some(l) = &self.inner {
            l.until_ready().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_paces_requests_after_the_burst() {
        let l = Limiter::new(50.0, 2);
        let start = std::time::Instant::now();
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
        let start = std::time::Instant::now();
        for _ in 0..1000 {
            u.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
