//! `orgsync run`: the scheduled mode. Runs the same sync as `orgsync sync` on an interval or
//! a cron schedule, writes each run to a timestamped file and points the stable `--file` path
//! at the newest one (`store::rotate`), serves `/healthz` and `/metrics` (`serve`), and on
//! SIGTERM/SIGINT abandons the run in progress (or, with `--drain`, finishes it) and exits 0.
//! A failed run is logged and counted; the schedule goes on.
//!
//! Each scheduled run holds the locks of its outputs (the stable `--file` path, the JSON
//! lines and summary files; `store::lock`) from before it connects until it has published and
//! pruned, and releases them between runs: an idle scheduler does not keep a manual
//! `orgsync sync` of the same file from running, while two writers never overlap. A run that
//! finds a lock held (after `--wait-lock`, if given) fails like any other run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args};

use orgsync::aws::CallMetrics;
use orgsync::diff;
use orgsync::model::stats::{AccountCounts, RecordCounts};
use orgsync::schedule::Schedule;
use orgsync::serve::{self, LastRun, RunResultKind, RunnerState, lock};
use orgsync::store::{StoreError, rotate};

use super::sync::{self as sync_cmd, Claimed, Outcome, SyncArgs};
use crate::cli::args::parse_duration;
use crate::cli::exit;
use crate::cli::signals::Signals;

const RUN_EXAMPLES: &str = "\
Examples:
  orgsync run --interval 6h --file /data/sync.c1z --keep 4 --listen 0.0.0.0:9090
  orgsync run --cron '0 */6 * * *' --run-at-start --drain
  ORGSYNC_INTERVAL=1h orgsync run --config /etc/orgsync/orgsync.yaml

Files: each run writes <stem>.<UTC start, YYYYMMDDTHHMMSSZ>.<ext> next to --file, then
--file itself is atomically replaced by (a hard link to) that newest complete run. --keep N
keeps N previous timestamped files besides it. A failed or interrupted run touches nothing.

Endpoints (--listen): /healthz is 200 while the last successful run (exit 0 or 3) is younger
than --health-max-age (before the first success: the time since start), else 503;
/metrics is Prometheus text.

Signals: SIGTERM/SIGINT abandon the run in progress and exit 0; with --drain the run in
progress is finished first (a second signal abandons it).";

/// Arguments of `orgsync run`: the schedule, the files, the endpoints, and every flag of
/// `orgsync sync`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("schedule").required(true).args(["interval", "cron"])))]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Sync at start and then every DURATION after each start (e.g. 30m, 6h, 1day).
    #[arg(long, env = "ORGSYNC_INTERVAL", value_parser = parse_duration, help_heading = "Schedule")]
    pub interval: Option<Duration>,

    /// Sync at the times of a five-field crontab expression, in UTC (e.g. "0 */6 * * *").
    #[arg(
        long,
        env = "ORGSYNC_CRON",
        value_name = "EXPR",
        help_heading = "Schedule"
    )]
    pub cron: Option<String>,

    /// With --cron, also sync once at start (an interval schedule always does).
    #[arg(long, env = "ORGSYNC_RUN_AT_START", help_heading = "Schedule")]
    pub run_at_start: bool,

    /// Previous runs to keep as timestamped files next to --file, besides the newest.
    #[arg(
        long,
        env = "ORGSYNC_KEEP",
        default_value_t = 0,
        value_name = "N",
        help_heading = "Schedule"
    )]
    pub keep: u32,

    /// On SIGTERM/SIGINT, finish the run in progress (and write it) before exiting.
    #[arg(long, env = "ORGSYNC_DRAIN", help_heading = "Schedule")]
    pub drain: bool,

    /// Serve /healthz and /metrics on this address (e.g. 127.0.0.1:9090). Off by default.
    #[arg(
        long,
        env = "ORGSYNC_LISTEN",
        value_name = "ADDR",
        help_heading = "Schedule"
    )]
    pub listen: Option<SocketAddr>,

    /// /healthz answers 503 once the last success is older than this [default: twice the
    /// longest gap between two runs of the schedule, e.g. 144h for "0 9 * * MON-FRI"].
    #[arg(long, env = "ORGSYNC_HEALTH_MAX_AGE", value_parser = parse_duration, help_heading = "Schedule")]
    pub health_max_age: Option<Duration>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

fn shown(p: Option<&Path>) -> String {
    p.map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no c1z file)".into())
}

/// Points `latest` at the run written to `file`, then deletes old runs beyond `keep` with
/// `prune`. Only publishing can fail the run: once `latest` is the new run, a prune error is
/// logged as a warning (the old files stay until a later prune succeeds).
fn publish_run(
    file: &Path,
    latest: &Path,
    keep: usize,
    prune: impl FnOnce(&Path, usize) -> Result<Vec<PathBuf>, StoreError>,
) -> Result<(), StoreError> {
    rotate::publish(file, latest)?;
    match prune(latest, keep) {
        Ok(deleted) => {
            for d in deleted {
                tracing::info!(file = %d.display(), "deleted an old run (--keep)");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the run was published but old runs could not be deleted (--keep)");
        }
    }
    Ok(())
}

/// Runs `orgsync run`; returns the exit code (0 after a signal).
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let prepared = sync_cmd::prepare(&args.sync)?;
    // clap's required `schedule` group gives exactly one of the two.
    let schedule = match (args.interval, args.cron.as_deref()) {
        (Some(d), _) => Schedule::interval(d),
        (None, cron) => Schedule::cron(cron.unwrap_or_default()),
    }
    .map_err(exit::usage)?;
    let max_age = args
        .health_max_age
        .unwrap_or_else(|| schedule.longest_gap(Utc::now()) * 2);
    let state = Arc::new(Mutex::new(RunnerState::new(max_age)));
    let drain = args.drain;
    let signals = Signals::install(move |n, name| {
        if drain && n == 1 {
            tracing::info!(
                signal = name,
                "finishing the run in progress, if any (--drain); a second signal abandons it"
            );
        } else {
            tracing::info!(signal = name, "stopping");
        }
    })?;
    let server = match args.listen {
        Some(addr) => {
            let listener = serve::bind(addr).await?;
            let local = listener.local_addr().unwrap_or(addr);
            tracing::info!(address = %local, "serving /healthz and /metrics");
            Some(tokio::spawn(serve::serve(listener, Arc::clone(&state))))
        }
        None => None,
    };
    let latest: Option<PathBuf> = (!args.sync.no_file).then(|| args.sync.file.clone());
    tracing::info!(schedule = %schedule.describe(), keep = args.keep, drain = args.drain, "scheduler started");

    let mut last_start: Option<DateTime<Utc>> = None;
    loop {
        let now = Utc::now();
        let due = if last_start.is_none() && args.run_at_start {
            now
        } else {
            schedule.next(last_start, now)
        };
        let wait = (due - now).to_std().unwrap_or(Duration::ZERO);
        lock(&state).next_run = Some(SystemTime::from(due));
        if !wait.is_zero() {
            tracing::info!(next_run = %due.to_rfc3339(), "waiting for the next run");
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            sig = signals.wait(1) => {
                tracing::info!(signal = sig, "stopping: no run in progress");
                break;
            }
        }
        let start = Utc::now();
        last_start = Some(start);
        if run_once(&args, &prepared, &state, &signals, latest.as_deref(), start).await {
            break;
        }
        if signals.count() > 0 {
            tracing::info!("stopping after the run that was in progress");
            break;
        }
    }
    if let Some(s) = server {
        s.abort();
    }
    Ok(exit::OK)
}

/// A run that just finished.
fn last_run(
    duration: Duration,
    result: RunResultKind,
    exit_code: u8,
    accounts: AccountCounts,
    records: RecordCounts,
    changes: Option<diff::Counts>,
) -> LastRun {
    LastRun {
        finished: SystemTime::now(),
        duration,
        result,
        exit_code,
        accounts,
        records,
        changes,
    }
}

/// A run that just failed: nothing was written.
fn failed_run(duration: Duration, exit_code: u8, accounts: AccountCounts) -> LastRun {
    let records = RecordCounts::default();
    last_run(
        duration,
        RunResultKind::Failed,
        exit_code,
        accounts,
        records,
        None,
    )
}

/// What changed from the previous output `previous` (the stable path, before this run is
/// published there) to the run just written to `new`: counts of `diff::diff_files`, logged,
/// and added to the run's summary JSON (`changes`) when `--summary-json` is given. None when
/// there is no previous output; a comparison that fails is logged and None (the run stands).
async fn changes_since(
    previous: &Path,
    new: &Path,
    summary: Option<&Path>,
) -> Option<diff::Counts> {
    if !previous.exists() {
        tracing::info!("no previous output to compare this run with");
        return None;
    }
    let (old, new) = (previous.to_path_buf(), new.to_path_buf());
    let t0 = std::time::Instant::now();
    let opts = diff::DiffOptions::default();
    let counts = match tokio::task::spawn_blocking(move || diff::diff_files(&old, &new, &opts))
        .await
    {
        Ok(Ok(d)) => d.counts,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the run could not be compared with the previous output");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, "the comparison with the previous output did not finish");
            return None;
        }
    };
    tracing::info!(
        changes = %counts.to_json(),
        total = counts.total(),
        diff_ms = t0.elapsed().as_millis() as u64,
        "changes since the previous output"
    );
    if let Some(p) = summary
        && let Err(e) = add_changes_to_summary(p, &counts)
    {
        tracing::warn!(error = %format!("{e:#}"), file = %p.display(), "the run's changes could not be added to the summary");
    }
    Some(counts)
}

/// Adds `"changes": {kind: {added, removed, changed}}` to the summary JSON file, atomically.
fn add_changes_to_summary(path: &Path, counts: &diff::Counts) -> anyhow::Result<()> {
    let text = std::fs::read(path)?;
    let mut v: serde_json::Value = serde_json::from_slice(&text)?;
    let Some(o) = v.as_object_mut() else {
        anyhow::bail!("the summary is not a JSON object");
    };
    o.insert("changes".into(), counts.to_json());
    let mut out = serde_json::to_string_pretty(&v)?;
    out.push('\n');
    orgsync::store::atomic::write_file(path, out.as_bytes())?;
    Ok(())
}

/// One scheduled run. Returns true when it was interrupted (the scheduler then stops).
async fn run_once(
    args: &RunArgs,
    prepared: &sync_cmd::Prepared,
    state: &Mutex<RunnerState>,
    signals: &Signals,
    latest: Option<&Path>,
    start: DateTime<Utc>,
) -> bool {
    let metrics = CallMetrics::new();
    lock(state).begin(Arc::clone(&metrics));
    let t0 = std::time::Instant::now();
    // With --drain the first signal lets the run finish; the second abandons it.
    let stop_after = if args.drain { 2 } else { 1 };
    // Held until this function returns: after publishing and pruning.
    let _locks = match sync_cmd::claim_outputs(&args.sync, latest, true, signals.wait(stop_after))
        .await
    {
        Ok(Claimed::Locks(l)) => l,
        Ok(Claimed::Interrupted(sig)) => {
            lock(state).abandon();
            tracing::info!(
                signal = sig,
                "run abandoned while waiting for an output lock"
            );
            return true;
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "run not started; the previous output was left untouched");
            let last = failed_run(t0.elapsed(), exit::code_of(&e), AccountCounts::default());
            lock(state).finish(last);
            return false;
        }
    };
    let file = latest.map(|l| rotate::timestamped_path(l, start));
    tracing::info!(file = %shown(file.as_deref()), "run started");
    let run = sync_cmd::Run {
        file: file.as_deref(),
        replaces: latest,
        started: std::time::Instant::now(),
    };
    let outcome = sync_cmd::execute(
        &args.sync,
        prepared,
        &run,
        &metrics,
        signals.wait(stop_after),
    )
    .await;
    let duration = t0.elapsed();
    let last = match outcome {
        Ok(Outcome::Interrupted(sig)) => {
            lock(state).abandon();
            tracing::info!(
                signal = sig,
                "run abandoned; the previous output was left untouched"
            );
            return true;
        }
        Ok(Outcome::Written {
            code,
            result,
            written,
        }) => {
            let changes = match (&file, latest) {
                (Some(f), Some(l)) => changes_since(l, f, args.sync.summary_json.as_deref()).await,
                _ => None,
            };
            let published = match (&file, latest) {
                (Some(f), Some(l)) => publish_run(f, l, args.keep as usize, rotate::prune),
                _ => Ok(()),
            };
            match published {
                Ok(()) => {
                    let kind = if code == exit::OK {
                        RunResultKind::Ok
                    } else {
                        RunResultKind::Partial
                    };
                    tracing::info!(
                        result = kind.as_str(),
                        duration_ms = duration.as_millis() as u64,
                        file = %shown(latest),
                        sync_type = %super::summary::sync_type_line(&result.scope),
                        derived_grants = written.expansion.as_ref().map(|e| e.derived_grants),
                        "run finished"
                    );
                    last_run(
                        duration,
                        kind,
                        code,
                        result.account_counts(),
                        written.counts,
                        changes,
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "run written but --file could not be updated");
                    failed_run(duration, exit::FAILURE, result.account_counts())
                }
            }
        }
        Ok(Outcome::Aborted { result, why }) => {
            tracing::error!(
                error = %why,
                "run failed; the previous output was left untouched"
            );
            failed_run(duration, exit::FAILURE, result.account_counts())
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "run failed; the previous output was left untouched");
            failed_run(duration, exit::code_of(&e), AccountCounts::default())
        }
    };
    lock(state).finish(last);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_prune_does_not_fail_a_published_run() {
        let dir = tempfile::tempdir().unwrap();
        let latest = dir.path().join("sync.c1z");
        let start = DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let file = rotate::timestamped_path(&latest, start);
        std::fs::write(&file, b"the new run").unwrap();
        let failing_prune = |l: &Path, _keep: usize| -> Result<Vec<PathBuf>, StoreError> {
            Err(StoreError::Io {
                path: l.to_path_buf(),
                source: std::io::Error::other("injected prune failure"),
            })
        };
        publish_run(&file, &latest, 0, failing_prune).expect("the run counts as published");
        assert_eq!(std::fs::read(&latest).unwrap(), b"the new run");

        // A failed publish still fails the run, and prune is not attempted.
        let missing = dir.path().join("sync.20261123T070000Z.c1z");
        let mut pruned = false;
        let prune = |_: &Path, _: usize| {
            pruned = true;
            Ok(vec![])
        };
        assert!(publish_run(&missing, &latest, 0, prune).is_err());
        assert!(!pruned);
        assert_eq!(std::fs::read(&latest).unwrap(), b"the new run");
    }
}
