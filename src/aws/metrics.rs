//! Counts every AWS request orgsync makes, per service and operation: operations, HTTP attempts
//! (so retries), throttling answers and errors. Installed as an SDK interceptor on every client,
//! including the STS clients used for role hops, so the numbers are the real API call count.
//! It also tells `aws::call` the operation of the call in flight.
//!
//! Not here: rate limits (`aws::limits`), error classification (`aws::errors`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::op::{self, Op};

/// Counters of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpStats {
    /// Operations started (one per SDK call, whatever its retries).
    pub calls: u64,
    /// HTTP requests sent (calls + retries).
    pub requests: u64,
    /// Requests answered with a throttling error.
    pub throttled: u64,
    /// Requests answered with any other error (or no answer).
    pub errors: u64,
}

impl OpStats {
    pub fn retries(&self) -> u64 {
        self.requests.saturating_sub(self.calls)
    }
}

impl std::ops::AddAssign for OpStats {
    fn add_assign(&mut self, other: OpStats) {
        self.calls += other.calls;
        self.requests += other.requests;
        self.throttled += other.throttled;
        self.errors += other.errors;
    }
}

/// Process-wide call counters, keyed by `service:Operation` (e.g. `iam:GetAccountAuthorizationDetails`).
#[derive(Debug, Default)]
pub struct CallMetrics {
    ops: Mutex<BTreeMap<String, OpStats>>,
}

impl CallMetrics {
    pub fn new() -> Arc<CallMetrics> {
        Arc::new(CallMetrics::default())
    }

    fn bump(&self, key: String, f: impl FnOnce(&mut OpStats)) {
        if let Ok(mut ops) = self.ops.lock() {
            f(ops.entry(key).or_default());
        }
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> BTreeMap<String, OpStats> {
        self.ops.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Totals over every operation.
    pub fn totals(&self) -> OpStats {
        let mut total = OpStats::default();
        for s in self.snapshot().into_values() {
            total += s;
        }
        total
    }

    /// The interceptor that feeds these counters.
    pub fn interceptor(self: &Arc<Self>) -> MetricsInterceptor {
        MetricsInterceptor {
            metrics: Arc::clone(self),
        }
    }
}

/// The SDK interceptor that counts requests into a [`CallMetrics`].
#[derive(Debug, Clone)]
pub struct MetricsInterceptor {
    metrics: Arc<CallMetrics>,
}

fn op_key(cfg: &ConfigBag) -> String {
    match cfg.load::<Metadata>() {
        Some(m) => Op::from_sdk(m.service(), m.name()).to_string(),
        None => "unknown:unknown".to_string(),
    }
}

/// True when an HTTP answer is a throttling error in any AWS protocol (query-XML `<Code>`,
/// JSON `__type` / `x-amzn-ErrorType`, or status 429).
pub fn is_throttling_response(
    status: u16,
    error_type_header: Option<&str>,
    body: Option<&[u8]>,
) -> bool {
    const CODES: [&str; 6] = [
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
    ];
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    if let Some(h) = error_type_header {
        let code = h.split(':').next().unwrap_or(h);
        let code = code.rsplit('#').next().unwrap_or(code);
        if CODES.contains(&code) {
            return true;
        }
    }
    match body {
        Some(b) => {
            let text = String::from_utf8_lossy(&b[..b.len().min(4096)]);
            CODES.iter().any(|c| {
                text.contains(&format!("<Code>{c}</Code>"))
                    || text.contains(&format!("#{c}\""))
                    || text.contains(&format!("\"{c}\""))
            })
        }
        None => false,
    }
}

impl Intercept for MetricsInterceptor {
    fn name(&self) -> &'static str {
        "orgsync-call-metrics"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A request that repeats a throttled one (`aws::call`) is a retry, not another call.
        if !op::repeats_a_request() {
            self.metrics.bump(op_key(cfg), |s| s.calls += 1);
        }
        if let Some(m) = cfg.load::<Metadata>() {
            op::note_operation(|| Op::from_sdk(m.service(), m.name()));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.metrics.bump(op_key(cfg), |s| s.requests += 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let failed = matches!(context.output_or_error(), Some(Err(_)) | None);
        if !failed {
            return Ok(());
        }
        let throttled = context.response().is_some_and(|r| {
            is_throttling_response(
                r.status().as_u16(),
                r.headers().get("x-amzn-errortype"),
                r.body().bytes(),
            )
        });
        self.metrics.bump(op_key(cfg), |s| {
            if throttled {
                s.throttled += 1
            } else {
                s.errors += 1
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_throttling_in_each_protocol() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert!(is_throttling_response(400, None, Some(xml)));
        let json = br#"{"__type":"com.amazonaws.organizations#TooManyRequestsException","Message":"slow down"}"#;
        assert!(is_throttling_response(400, None, Some(json)));
        assert!(is_throttling_response(
            400,
            Some("ThrottlingException:http://internal"),
            None
        ));
        assert!(is_throttling_response(429, None, None));
        let denied = b"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        assert!(!is_throttling_response(403, None, Some(denied)));
        assert!(!is_throttling_response(200, None, Some(xml)));
    }

    #[test]
    fn op_stats_add_up() {
        let mut t = OpStats {
            calls: 1,
            requests: 2,
            throttled: 3,
            errors: 4,
        };
        t += OpStats {
            calls: 10,
            requests: 20,
            throttled: 30,
            errors: 40,
        };
        assert_eq!(
            t,
            OpStats {
                calls: 11,
                requests: 22,
                throttled: 33,
                errors: 44,
            }
        );
    }
}
