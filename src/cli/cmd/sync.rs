//! `orgsync sync`: validate the outputs, connect, run the sync (`sync::run`) into the sinks,
//! finish them atomically, pick the exit code, write `--summary-json`, and (`sync` only, not
//! `run`) print the summary.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Args};

use crate::aws::{CallMetrics, Session};
use crate::connector::iam::read::IamReadOptions;
use crate::connector::identity_center::IcOptions;
use crate::model::stats::{AccountStatus, SyncSummary};
use crate::store::atomic;
use crate::store::c1z::{self, C1zWriter};
use crate::store::jsonl::{JsonlSink, JsonlTarget};
use crate::store::{C1zSink, Sink, SinkSet, WriteReport};
use crate::sync::{self, RunResult, SyncConfig};

use crate::cli::args::{AwsArgs, parse_duration};
use crate::cli::exit;
use crate::cli::ic_args::IcArgs;
use crate::cli::plan_args::PlanArgs;
use crate::cli::progress::Progress;
use crate::cli::signals::Signals;
use crate::cli::table;

const SYNC_EXAMPLES: &str = "\
Examples:
  orgsync sync                                   # caller's account (or whole org) -> sync.c1z
  orgsync sync --file /data/sync.c1z --jsonl -   # c1z plus JSON lines on stdout
  orgsync sync --no-file --jsonl records.jsonl   # JSON lines only
  orgsync sync --sync-secrets false              # without access-key records

Environment: every flag also reads ORGSYNC_<FLAG> (e.g. ORGSYNC_FILE, ORGSYNC_ROLE_ARN);
AWS credentials come from the SDK's default chain and AWS_ENDPOINT_URL[_<SERVICE>] is honoured.";

/// Arguments of `orgsync sync`.
#[derive(Debug, Clone, Args)]
#[command(after_help = SYNC_EXAMPLES)]
pub struct SyncArgs {
    /// The c1z file to write (replaced atomically at the end of a successful run).
    #[arg(long, short = 'f', env = "ORGSYNC_FILE", default_value = "sync.c1z")]
    pub file: PathBuf,

    /// Do not write a c1z file (use with --jsonl).
    #[arg(long, env = "ORGSYNC_NO_FILE")]
    pub no_file: bool,

    /// Also write JSON lines to this file, or to standard output with '-'.
    #[arg(long, env = "ORGSYNC_JSONL", value_name = "PATH|-")]
    pub jsonl: Option<String>,

    /// Write access-key metadata (never secrets) as access-key resources.
    #[arg(long, env = "ORGSYNC_SYNC_SECRETS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub sync_secrets: bool,

    /// Fetch documents of attached AWS-managed policies (2 calls per distinct policy per run).
    #[arg(long, env = "ORGSYNC_AWS_POLICY_DOCUMENTS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub aws_policy_documents: bool,

    /// How long to wait for IAM credential reports before falling back to per-user calls.
    #[arg(long, env = "ORGSYNC_CREDENTIAL_REPORT_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub credential_report_timeout: Duration,

    /// Accounts read at the same time (each has its own IAM rate limit; the organization's
    /// listing and the slowest account bound a run, not this, unless it is set low).
    #[arg(long, env = "ORGSYNC_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// Stop at the first failed account (exit 1, previous output untouched).
    #[arg(long, env = "ORGSYNC_FAIL_FAST")]
    pub fail_fast: bool,

    /// Write the run summary as JSON to this file.
    #[arg(long, env = "ORGSYNC_SUMMARY_JSON", value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Do not draw a progress bar (plain log lines are used when stderr is not a terminal).
    #[arg(long, env = "ORGSYNC_NO_PROGRESS")]
    pub no_progress: bool,

    #[command(flatten)]
    pub plan: PlanArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub ic: IcArgs,
}

/// What `prepare` validated: everything a run needs that could be checked without AWS.
#[derive(Debug, Clone)]
pub struct Prepared {
    config: SyncConfig,
    jsonl: Option<JsonlTarget>,
}

/// How one execution of a sync ended, when it did not fail outright.
#[derive(Debug)]
pub enum Outcome {
    /// The outputs were written; `code` is 0 (success) or 3 (partial).
    Written {
        code: u8,
        result: RunResult,
        written: WriteReport,
    },
    /// Nothing was written (fail-fast stop, or no account could be read); the previous output
    /// is untouched.
    Aborted { result: RunResult, why: String },
    /// A stop signal arrived first: nothing was written, the previous output is untouched.
    Interrupted(&'static str),
}

/// Checks everything that can be checked without AWS (exit 2 on a problem, no AWS call).
pub fn prepare(args: &SyncArgs) -> anyhow::Result<Prepared> {
    if args.no_file && args.jsonl.is_none() {
        return Err(exit::usage(anyhow::anyhow!(
            "--no-file needs --jsonl: there would be no output"
        )));
    }
    if !args.no_file {
        c1z::check_writable(&args.file).map_err(exit::usage)?;
    }
    let jsonl = args.jsonl.as_deref().map(JsonlTarget::parse);
    if let Some(JsonlTarget::File(p)) = &jsonl {
        c1z::check_writable(p).map_err(exit::usage)?;
    }
    if let Some(p) = &args.summary_json {
        c1z::check_writable(p).map_err(exit::usage)?;
    }
    let config = SyncConfig {
        plan: args.plan.options().map_err(exit::usage)?,
        ic: IcOptions::from(&args.ic),
        iam: IamReadOptions {
            sync_secrets: args.sync_secrets,
            aws_policy_documents: args.aws_policy_documents,
            report_timeout: args.credential_report_timeout,
        },
        concurrency: args.concurrency as usize,
        fail_fast: args.fail_fast,
    };
    Ok(Prepared { config, jsonl })
}

/// Runs `orgsync sync`; returns the exit code.
pub async fn run(args: SyncArgs) -> anyhow::Result<u8> {
    let prepared = prepare(&args)?;
    let file = (!args.no_file).then_some(args.file.as_path());
    let metrics = CallMetrics::new();
    let signals = Signals::install(|_, _| {})?;
    match execute(&args, &prepared, file, &metrics, signals.wait(1)).await? {
        Outcome::Written {
            code,
            result,
            written,
        } => {
            print_summary(&result, &written, &metrics, file);
            Ok(code)
        }
        Outcome::Aborted { result, why } => {
            print_summary(&result, &WriteReport::default(), &metrics, None);
            Err(exit::with_code(
                exit::FAILURE,
                anyhow::anyhow!("{why}; the previous output was left untouched"),
            ))
        }
        Outcome::Interrupted(sig) => Err(exit::with_code(
            if sig == "SIGTERM" {
                143
            } else {
                exit::INTERRUPTED
            },
            anyhow::anyhow!("interrupted by {sig}; the previous output was left untouched"),
        )),
    }
}

/// One sync: connect, run the sync into the c1z at `file` (if any) and the other outputs of
/// `args`, and write `--summary-json`. Shared by `orgsync sync` (once, which then prints the
/// summary) and `orgsync run` (on a schedule, `file` then being a timestamped path; it logs
/// each run instead): it shows progress but prints no summary. When `stop` completes first
/// the run is abandoned and no output is touched. AWS calls are counted into `metrics`.
pub async fn execute(
    args: &SyncArgs,
    prepared: &Prepared,
    file: Option<&Path>,
    metrics: &Arc<CallMetrics>,
    stop: impl Future<Output = &'static str>,
) -> anyhow::Result<Outcome> {
    tokio::pin!(stop);
    let connect = Session::connect(args.aws.settings(), Arc::clone(metrics));
    let session = tokio::select! {
        s = connect => s.context("connecting to AWS")?,
        sig = &mut stop => return Ok(Outcome::Interrupted(sig)),
    };
    tracing::info!(account = %session.caller.account, caller = %session.caller.arn, "connected");
    let sinks = open_sinks(file, prepared.jsonl.as_ref())?;
    let progress = Progress::new(!args.no_progress, Arc::clone(metrics));
    let work = sync::run(&session, &prepared.config, &sinks, &progress);
    let result = tokio::select! {
        r = work => r,
        sig = &mut stop => {
            progress.finish();
            sinks.abort().await;
            return Ok(Outcome::Interrupted(sig));
        }
    };
    progress.finish();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            sinks.abort().await;
            return Err(e.into());
        }
    };
    if result.stopped.is_some() || (!result.accounts.is_empty() && !result.any_ok()) {
        sinks.abort().await;
        let why = result
            .stopped
            .clone()
            .unwrap_or_else(|| "no account could be read".to_string());
        return Ok(Outcome::Aborted { result, why });
    }
    let calls = metrics.snapshot();
    // Per-type record counts are computed from the database by the c1z sink itself.
    let stats = result.stats(&calls).section()?;
    let written = sinks.finish(stats).await.context("writing the output")?;
    let code = if result.partial() {
        exit::PARTIAL
    } else {
        exit::OK
    };
    if let Some(p) = &args.summary_json {
        let summary = SyncSummary {
            exit_code: code,
            file: file.map(Path::to_path_buf),
            jsonl: args.jsonl.clone(),
            accounts: result.accounts.clone(),
            records: written.counts.clone(),
            run: result.report(&calls),
        };
        atomic::write_file(p, summary.to_json_pretty()?.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(Outcome::Written {
        code,
        result,
        written,
    })
}

/// The writer thread over the c1z file at `file` (if any) and the JSON lines (if any).
fn open_sinks(file: Option<&Path>, jsonl: Option<&JsonlTarget>) -> anyhow::Result<SinkSet> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![];
    if let Some(f) = file {
        sinks.push(Box::new(C1zSink(C1zWriter::create(f)?)));
    }
    if let Some(t) = jsonl {
        sinks.push(Box::new(JsonlSink::create(t)?));
    }
    Ok(SinkSet::spawn(sinks, 4))
}

/// Prints the end-of-run summary to stderr.
pub fn print_summary(
    result: &RunResult,
    written: &WriteReport,
    metrics: &CallMetrics,
    file: Option<&Path>,
) {
    let accounts = result.account_counts();
    let totals = metrics.totals();
    let mut out = String::new();
    out.push_str(&format!(
        "\nAccounts: {} ok, {} failed, {} skipped   AWS requests: {} ({} retries, {} throttled)   Duration: {:.1}s\n",
        accounts.ok,
        accounts.failed,
        accounts.skipped,
        totals.requests,
        totals.retries(),
        totals.throttled,
        result.duration.as_secs_f64()
    ));
    if let Some(f) = file {
        out.push_str(&format!("Wrote {}\n", f.display()));
    }
    for n in &result.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    if !written.counts.is_empty() {
        out.push_str(&format!("\nRecords\n{}\n", records_table(written)));
    }
    let calls = metrics.snapshot();
    if !calls.is_empty() {
        out.push_str(&format!("\nAWS calls\n{}\n", calls_table(&calls)));
    }
    if let Some(t) = accounts_not_synced(result) {
        out.push_str(&format!("\nAccounts not synced\n{t}\n"));
    }
    for p in &result.phases {
        if let Some(e) = &p.error {
            out.push_str(&format!("\nPhase {} failed: {e}\n", p.name));
        }
    }
    eprint!("{out}");
}

/// Records written per declared resource type.
fn records_table(written: &WriteReport) -> comfy_table::Table {
    let mut types: std::collections::BTreeSet<&String> = std::collections::BTreeSet::new();
    for m in written.counts.values() {
        types.extend(m.keys());
    }
    let mut t = table(&["RESOURCE TYPE", "RESOURCES", "ENTITLEMENTS", "GRANTS"]);
    let get = |kind: &str, ty: &str| {
        written
            .counts
            .get(kind)
            .and_then(|m| m.get(ty))
            .copied()
            .unwrap_or(0)
    };
    for ty in types.iter().filter(|t| {
        written
            .counts
            .get("resource_type")
            .is_some_and(|m| m.contains_key(**t))
    }) {
        t.add_row(vec![
            ty.to_string(),
            get("resource", ty).to_string(),
            get("entitlement", ty).to_string(),
            get("grant", ty).to_string(),
        ]);
    }
    t
}

/// AWS calls by operation.
fn calls_table(
    calls: &std::collections::BTreeMap<String, crate::aws::metrics::OpStats>,
) -> comfy_table::Table {
    let mut t = table(&["AWS OPERATION", "CALLS", "REQUESTS", "THROTTLED", "ERRORS"]);
    for (op, s) in calls {
        t.add_row(vec![
            op.clone(),
            s.calls.to_string(),
            s.requests.to_string(),
            s.throttled.to_string(),
            s.errors.to_string(),
        ]);
    }
    t
}

/// The failed and skipped accounts with why, if there are any.
fn accounts_not_synced(result: &RunResult) -> Option<comfy_table::Table> {
    let mut t = table(&["ACCOUNT", "NAME", "STATUS", "DETAIL"]);
    let mut any = false;
    for a in &result.accounts {
        let (status, detail) = match &a.status {
            AccountStatus::Failed { class, message, .. } => {
                (format!("failed: {class}"), message.clone())
            }
            AccountStatus::Skipped { reason } => ("skipped".to_string(), reason.clone()),
            AccountStatus::Ok => continue,
        };
        any = true;
        t.add_row(vec![
            a.account_id.to_string(),
            a.name.clone(),
            status,
            detail,
        ]);
    }
    any.then_some(t)
}
