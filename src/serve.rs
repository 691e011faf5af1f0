//! The HTTP side of `orgsync run`: `/healthz` (200 while the last successful run is younger
//! than a configured age, 503 otherwise) and `/metrics` (Prometheus text format, version
//! 0.0.4). [`RunnerState`] is what the scheduler records after each run; rendering is a pure
//! function of it, so the formats are unit-tested without a socket.
//!
//! Not here: scheduling or running syncs (`cli::cmd::run`), or counting AWS calls
//! (`aws::metrics`, whose per-run counters are folded in here).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::aws::CallMetrics;
use crate::aws::metrics::OpStats;
use crate::model::stats::{AccountCounts, RecordCounts};

/// How a scheduled run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunResultKind {
    /// Everything was read and written.
    Ok,
    /// Written, but some accounts or phases failed (recorded in the output).
    Partial,
    /// Nothing was written.
    Failed,
}

impl RunResultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResultKind::Ok => "ok",
            RunResultKind::Partial => "partial",
            RunResultKind::Failed => "failed",
        }
    }
}

/// The last finished run.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub finished: SystemTime,
    pub duration: Duration,
    pub result: RunResultKind,
    /// What `orgsync sync` would have exited with (0, 1 or 3).
    pub exit_code: u8,
    /// Accounts by outcome (`RunResult::account_counts`); zero when the run got no plan.
    pub accounts: AccountCounts,
    /// Records written, by kind and resource type (`WriteReport::counts`); empty when
    /// nothing was written.
    pub records: RecordCounts,
    /// What changed since the previous run's output (`diff::diff_files`); None when there was
    /// no previous output, the comparison failed, or nothing was written.
    pub changes: Option<crate::diff::Counts>,
}

/// What the scheduler knows, shared with the HTTP handlers.
#[derive(Debug)]
pub struct RunnerState {
    /// When the process started (the reference for `/healthz` before any success).
    started: SystemTime,
    /// `/healthz` answers 503 once the last success (or the start) is older than this.
    max_age: Duration,
    last_run: Option<LastRun>,
    last_success: Option<SystemTime>,
    /// Finished runs by result.
    runs: BTreeMap<RunResultKind, u64>,
    /// AWS calls of finished runs, by operation (`service:Operation`).
    calls: BTreeMap<String, OpStats>,
    /// The live call counters of the run in progress.
    current: Option<Arc<CallMetrics>>,
    /// When the next run is due, if one is scheduled.
    pub next_run: Option<SystemTime>,
}

impl RunnerState {
    pub fn new(max_age: Duration) -> RunnerState {
        RunnerState {
            started: SystemTime::now(),
            max_age,
            last_run: None,
            last_success: None,
            runs: BTreeMap::new(),
            calls: BTreeMap::new(),
            current: None,
            next_run: None,
        }
    }

    /// Marks a run as started; its calls show in `/metrics` while it runs.
    pub fn begin(&mut self, metrics: Arc<CallMetrics>) {
        self.current = Some(metrics);
        self.next_run = None;
    }

    /// Records a finished run and folds its calls into the totals.
    pub fn finish(&mut self, run: LastRun) {
        if let Some(m) = self.current.take() {
            add_calls(&mut self.calls, &m.snapshot());
        }
        if run.result != RunResultKind::Failed {
            self.last_success = Some(run.finished);
        }
        *self.runs.entry(run.result).or_default() += 1;
        self.last_run = Some(run);
    }

    /// Drops the run in progress without recording a result (it was interrupted).
    pub fn abandon(&mut self) {
        if let Some(m) = self.current.take() {
            add_calls(&mut self.calls, &m.snapshot());
        }
    }

    /// Calls of finished runs plus the run in progress.
    fn all_calls(&self) -> BTreeMap<String, OpStats> {
        let mut calls = self.calls.clone();
        if let Some(m) = &self.current {
            add_calls(&mut calls, &m.snapshot());
        }
        calls
    }
}

fn add_calls(into: &mut BTreeMap<String, OpStats>, from: &BTreeMap<String, OpStats>) {
    for (op, s) in from {
        *into.entry(op.clone()).or_default() += *s;
    }
}

/// The state behind `mutex`, also when a thread panicked while holding it: the scheduler
/// and the endpoints keep working with what was recorded.
pub fn lock(mutex: &Mutex<RunnerState>) -> MutexGuard<'_, RunnerState> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `/healthz`: (status, body). Healthy while the last success, or the process start when
/// there was none yet, is at most `max_age` old.
fn healthz(state: &RunnerState, now: SystemTime) -> (u16, String) {
    let (reference, what) = match state.last_success {
        Some(t) => (t, "last successful run"),
        None => (state.started, "start (no successful run yet)"),
    };
    let age = now.duration_since(reference).unwrap_or_default();
    let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
    let max = humantime::format_duration(state.max_age);
    if age <= state.max_age {
        (200, format!("ok: {what} {age_text} ago (max age {max})\n"))
    } else {
        (
            503,
            format!("unhealthy: {what} {age_text} ago, older than the max age {max}\n"),
        )
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes metric families in the Prometheus text format.
struct Families(String);

impl Families {
    /// One family: its help and type lines, then one line per `(labels, value)` sample.
    fn add(&mut self, name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(self.0, "{name}{labels} {v}");
        }
    }

    /// A family of one unlabelled gauge.
    fn gauge(&mut self, name: &str, help: &str, v: f64) {
        self.add(name, "gauge", help, vec![(String::new(), v)]);
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `/metrics` in the Prometheus text format.
fn render_metrics(state: &RunnerState, now: SystemTime) -> String {
    let mut out = Families(String::new());
    scheduler_metrics(&mut out, state, now);
    last_run_metrics(&mut out, state.last_run.as_ref());
    out.add(
        "orgsync_runs_total",
        "counter",
        "Finished runs by result (ok, partial, failed).",
        [
            RunResultKind::Ok,
            RunResultKind::Partial,
            RunResultKind::Failed,
        ]
        .iter()
        .map(|k| {
            (
                format!("{{result=\"{}\"}}", k.as_str()),
                state.runs.get(k).copied().unwrap_or(0) as f64,
            )
        })
        .collect(),
    );
    aws_metrics(&mut out, &state.all_calls());
    out.0
}

/// Health, the run in progress, and the times of the next run and of the last ones.
fn scheduler_metrics(out: &mut Families, state: &RunnerState, now: SystemTime) {
    out.gauge(
        "orgsync_healthy",
        "1 while /healthz answers 200.",
        flag(healthz(state, now).0 == 200),
    );
    out.gauge(
        "orgsync_health_max_age_seconds",
        "Age of the last success after which /healthz answers 503.",
        state.max_age.as_secs_f64(),
    );
    out.gauge(
        "orgsync_run_in_progress",
        "1 while a sync runs.",
        flag(state.current.is_some()),
    );
    out.gauge(
        "orgsync_next_run_timestamp_seconds",
        "When the next run is due (Unix time; 0 while one runs).",
        state.next_run.map(secs).unwrap_or(0.0),
    );
    out.gauge(
        "orgsync_last_success_timestamp_seconds",
        "End of the last run that wrote its output (Unix time; 0 if none yet).",
        state.last_success.map(secs).unwrap_or(0.0),
    );
}

/// What the last finished run did (zeros before any run).
fn last_run_metrics(out: &mut Families, last: Option<&LastRun>) {
    out.gauge(
        "orgsync_last_run_timestamp_seconds",
        "End of the last finished run (Unix time; 0 if none yet).",
        last.map(|r| secs(r.finished)).unwrap_or(0.0),
    );
    out.gauge(
        "orgsync_last_run_duration_seconds",
        "Duration of the last finished run.",
        last.map(|r| r.duration.as_secs_f64()).unwrap_or(0.0),
    );
    out.gauge(
        "orgsync_last_run_exit_code",
        "Exit code `orgsync sync` would have given the last run (0 ok, 1 failed, 3 partial).",
        last.map(|r| f64::from(r.exit_code)).unwrap_or(0.0),
    );
    let accounts = last.map(|r| r.accounts).unwrap_or_default();
    out.add(
        "orgsync_last_run_accounts",
        "gauge",
        "Accounts of the last run by outcome (ok, failed, skipped; 0 before any run).",
        accounts
            .by_kind()
            .iter()
            .map(|(k, n)| (format!("{{status=\"{k}\"}}"), *n as f64))
            .collect(),
    );
    out.add(
        "orgsync_last_run_records",
        "gauge",
        "Records written by the last run, by kind and resource type.",
        last.map(|r| {
            r.records
                .iter()
                .flat_map(|(kind, by_type)| {
                    by_type.iter().map(move |(ty, n)| {
                        (
                            format!(
                                "{{kind=\"{}\",resource_type=\"{}\"}}",
                                escape(kind),
                                escape(ty)
                            ),
                            *n as f64,
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default(),
    );
    out.add(
        "orgsync_last_run_changes",
        "gauge",
        "Records the last run added, removed or changed since the previous run's output, by kind (resource, entitlement, grant, derived_grant); no samples when there was no previous output to compare.",
        last.and_then(|r| r.changes.as_ref())
            .map(|c| {
                c.iter()
                    .map(|(kind, change, n)| {
                        (
                            format!(
                                "{{kind=\"{}\",change=\"{}\"}}",
                                kind.as_str(),
                                change.as_str()
                            ),
                            n as f64,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    );
}

/// AWS calls, requests, throttles and errors by service.
fn aws_metrics(out: &mut Families, calls: &BTreeMap<String, OpStats>) {
    let mut by_service: BTreeMap<String, OpStats> = BTreeMap::new();
    for (op, s) in calls {
        let service = op.split(':').next().unwrap_or("unknown").to_string();
        *by_service.entry(service).or_default() += *s;
    }
    let per_service = |f: fn(&OpStats) -> u64| {
        by_service
            .iter()
            .map(|(svc, s)| (format!("{{service=\"{}\"}}", escape(svc)), f(s) as f64))
            .collect::<Vec<_>>()
    };
    out.add(
        "orgsync_aws_calls_total",
        "counter",
        "AWS API operations started, by service (one per SDK call, retries excluded).",
        per_service(|s| s.calls),
    );
    out.add(
        "orgsync_aws_requests_total",
        "counter",
        "AWS HTTP requests sent, by service (calls plus retries).",
        per_service(|s| s.requests),
    );
    out.add(
        "orgsync_aws_throttled_total",
        "counter",
        "AWS requests answered with a throttling error, by service.",
        per_service(|s| s.throttled),
    );
    out.add(
        "orgsync_aws_errors_total",
        "counter",
        "AWS requests answered with another error (or none), by service.",
        per_service(|s| s.errors),
    );
}

/// Failures of the HTTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` (done before the first run, so a taken port fails fast).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn answer(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn route(req: &Request<Incoming>, state: &Mutex<RunnerState>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return answer(405, "text/plain", "only GET\n".into());
    }
    let now = SystemTime::now();
    let guard = lock(state);
    match req.uri().path() {
        "/healthz" => {
            let (status, body) = healthz(&guard, now);
            answer(status, "text/plain; charset=utf-8", body)
        }
        "/metrics" => answer(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            render_metrics(&guard, now),
        ),
        _ => answer(
            404,
            "text/plain",
            "not found: try /healthz or /metrics\n".into(),
        ),
    }
}

/// Serves `/healthz` and `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<Mutex<RunnerState>>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a metrics connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let resp = route(&req, &state);
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(result: RunResultKind, finished: SystemTime) -> LastRun {
        LastRun {
            finished,
            duration: Duration::from_millis(1500),
            result,
            exit_code: match result {
                RunResultKind::Ok => 0,
                RunResultKind::Partial => 3,
                RunResultKind::Failed => 1,
            },
            accounts: AccountCounts {
                total: 6,
                ok: 5,
                failed: 1,
                skipped: 0,
            },
            records: BTreeMap::from([
                (
                    "resource".to_string(),
                    BTreeMap::from([("iam_user".to_string(), 7)]),
                ),
                (
                    "grant".to_string(),
                    BTreeMap::from([("group".to_string(), 3)]),
                ),
            ]),
            changes: None,
        }
    }

    #[test]
    fn healthz_follows_the_last_success() {
        let mut s = RunnerState::new(Duration::from_secs(60));
        let t0 = s.started;
        assert_eq!(healthz(&s, t0 + Duration::from_secs(30)).0, 200, "starting");
        assert_eq!(
            healthz(&s, t0 + Duration::from_secs(61)).0,
            503,
            "never succeeded"
        );
        s.finish(run(RunResultKind::Partial, t0 + Duration::from_secs(50)));
        assert_eq!(healthz(&s, t0 + Duration::from_secs(100)).0, 200);
        s.finish(run(RunResultKind::Failed, t0 + Duration::from_secs(105)));
        let (code, body) = healthz(&s, t0 + Duration::from_secs(111));
        assert_eq!(code, 503, "a failure does not refresh health: {body}");
        assert!(body.contains("last successful run 1m 1s ago"), "{body}");
    }

    #[test]
    fn metrics_in_prometheus_text() {
        let mut s = RunnerState::new(Duration::from_secs(3600));
        let m = CallMetrics::new();
        s.begin(Arc::clone(&m));
        let finished = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        s.finish(run(RunResultKind::Ok, finished));
        let with_changes = LastRun {
            changes: Some(crate::diff::Counts::default()),
            ..run(RunResultKind::Ok, finished)
        };
        s.finish(with_changes);
        let text = render_metrics(&s, finished);
        for line in [
            "orgsync_last_run_changes{kind=\"grant\",change=\"added\"} 0",
            "orgsync_last_run_changes{kind=\"derived_grant\",change=\"changed\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        s.finish(run(
            RunResultKind::Failed,
            finished + Duration::from_secs(5),
        ));
        let text = render_metrics(&s, finished + Duration::from_secs(10));
        assert!(
            !text.contains("orgsync_last_run_changes{"),
            "no changes without a comparison: {text}"
        );
        for line in [
            "# TYPE orgsync_runs_total counter",
            "orgsync_runs_total{result=\"ok\"} 2",
            "orgsync_runs_total{result=\"failed\"} 1",
            "orgsync_runs_total{result=\"partial\"} 0",
            "orgsync_last_success_timestamp_seconds 1700000000",
            "orgsync_last_run_timestamp_seconds 1700000005",
            "orgsync_last_run_duration_seconds 1.5",
            "orgsync_last_run_exit_code 1",
            "orgsync_last_run_accounts{status=\"failed\"} 1",
            "orgsync_last_run_accounts{status=\"ok\"} 5",
            "orgsync_last_run_accounts{status=\"skipped\"} 0",
            "orgsync_last_run_records{kind=\"resource\",resource_type=\"iam_user\"} 7",
            "orgsync_last_run_records{kind=\"grant\",resource_type=\"group\"} 3",
            "orgsync_healthy 1",
            "orgsync_run_in_progress 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("orgsync_last_run_failed_accounts"),
            "one metric for failed accounts: {text}"
        );
        // Before any run the account outcomes are there, at 0.
        let fresh = render_metrics(&RunnerState::new(Duration::from_secs(60)), finished);
        assert!(
            fresh
                .lines()
                .any(|l| l == "orgsync_last_run_accounts{status=\"failed\"} 0"),
            "{fresh}"
        );
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
            assert!(name.starts_with("orgsync_"), "{l}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
