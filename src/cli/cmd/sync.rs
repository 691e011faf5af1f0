//! `orgsync sync`: validate the outputs, take their locks (one writer per output,
//! `store::lock`) and clean what killed runs left, connect, run the sync (`sync::run`) into the
//! sinks, refuse to replace a non-empty output with an empty sync, finish the sinks atomically,
//! pick the exit code, write `--summary-json`, and (`sync` only, not `run`) print the summary.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{ArgAction, Args};

use orgsync::aws::{CallMetrics, Session};
use orgsync::connector::iam::read::IamReadOptions;
use orgsync::connector::identity_center::IcOptions;
use orgsync::connector::scp::{ScpOptions, ScpStrategy};
use orgsync::model::stats::SyncSummary;
use orgsync::store::c1z::{self, C1zWriter};
use orgsync::store::jsonl::{JsonlSink, JsonlTarget};
use orgsync::store::lock::OutputLock;
use orgsync::store::resume::{self as work, WorkFile};
use orgsync::store::{
    C1zSink, RunEnd, Sink, SinkSet, UnitJournal, WriteReport, atomic, rotate, scratch,
};
use orgsync::sync::resume::Prior;
use orgsync::sync::{self, RunResult, Shard, SyncConfig, plan_file};

use super::summary::print_summary;

use crate::cli::args::{AwsArgs, parse_duration};
use crate::cli::exit;
use crate::cli::ic_args::IcArgs;
use crate::cli::plan_args::PlanArgs;
use crate::cli::progress::Progress;
use crate::cli::signals::Signals;

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

    /// Also write the latest finished full sync of FILE into the new c1z file, before the new
    /// sync, so the file holds both and `baton diff` (or `orgsync diff FILE`) compares them.
    /// Usually the output itself: `--file sync.c1z --previous sync.c1z` (a missing FILE is
    /// then the first run, and skipped).
    #[arg(long, env = "ORGSYNC_PREVIOUS", value_name = "FILE")]
    pub previous: Option<PathBuf>,

    /// Also write JSON lines to this file, or to standard output with '-'.
    #[arg(long, env = "ORGSYNC_JSONL", value_name = "PATH|-")]
    pub jsonl: Option<String>,

    /// Write access-key metadata (never secrets) as access-key resources.
    #[arg(long, env = "ORGSYNC_SYNC_SECRETS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub sync_secrets: bool,

    /// Fetch documents of attached AWS-managed policies (2 calls per distinct policy per run).
    #[arg(long, env = "ORGSYNC_AWS_POLICY_DOCUMENTS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub aws_policy_documents: bool,

    /// Read the organization's service control policies (service_control_policy records)
    /// when it has them enabled; a caller that may not list them gets a note.
    #[arg(long, env = "ORGSYNC_SYNC_SCPS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub sync_scps: bool,

    /// How SCP attachments are read: auto picks the fewer calls (ListTargetsForPolicy per
    /// policy, or ListPoliciesForTarget per root, OU and account).
    #[arg(long, env = "ORGSYNC_SCP_STRATEGY", value_enum, default_value = "auto")]
    pub scp_strategy: ScpStrategyArg,

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

    /// When another run holds an output's lock, wait up to DURATION for it instead of exiting
    /// 1 at once.
    #[arg(long, env = "ORGSYNC_WAIT_LOCK", value_name = "DURATION", value_parser = parse_duration)]
    pub wait_lock: Option<Duration>,

    /// Allow a run that reads no account: a filter (--accounts, --ous, --exclude-accounts)
    /// that selects nothing, or an empty sync replacing a non-empty output. Without it both
    /// fail (exit 1) and leave the outputs untouched.
    #[arg(long, env = "ORGSYNC_ALLOW_EMPTY")]
    pub allow_empty: bool,

    /// Expand grants at the end, as a baton connector's one-shot sync does: every
    /// GrantExpandable edge becomes derived grants (e.g. an sso_user in a group assigned to an
    /// account gets the account grant itself, its `sources` naming the group). With false the
    /// file holds direct grants only and expansion is left to the consumer (ConductorOne
    /// expands on upload; `orgsync expand FILE` does it later).
    #[arg(long, env = "ORGSYNC_EXPAND_GRANTS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub expand_grants: bool,

    /// Read only shard I of N of the organization's accounts (0 <= I < N; an account's shard
    /// is a fixed hash of its id) and write them as a partial sync; shard 0 also reads
    /// Identity Center and service control policies; each shard paces Organizations at 1/N of
    /// --org-rate-limit (the organization's limit). Join the N files with `orgsync merge`.
    #[arg(long, env = "ORGSYNC_SHARD", value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// With --shard: take the organization's accounts and OUs from this plan file (written by
    /// `orgsync plan`) instead of listing the organization in every shard; one
    /// DescribeOrganization call checks that it is the caller's organization.
    #[arg(
        long = "plan",
        env = "ORGSYNC_PLAN",
        value_name = "PLAN",
        requires = "shard"
    )]
    pub plan_file: Option<PathBuf>,

    /// Refuse a plan file (--plan) written longer ago than this.
    #[arg(long, env = "ORGSYNC_PLAN_MAX_AGE", default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub plan_max_age: Duration,

    /// Do not resume: read every account, even those an interrupted run of the same scope
    /// already read (its work file, `<file>.resume`, is discarded).
    #[arg(long, env = "ORGSYNC_NO_RESUME")]
    pub no_resume: bool,

    /// Accounts an interrupted run read less than this long ago are not read again (the run
    /// resumes from `<file>.resume`, which a complete run removes).
    #[arg(long, env = "ORGSYNC_RESUME_MAX_AGE", default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub resume_max_age: Duration,

    /// Pause before the second pass over accounts that failed throttled or timed out.
    #[arg(long, env = "ORGSYNC_SECOND_PASS_PAUSE", default_value = "10s", value_parser = parse_duration, hide = true)]
    pub second_pass_pause: Duration,

    #[command(flatten)]
    pub plan: PlanArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub ic: IcArgs,
}

/// `--scp-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScpStrategyArg {
    /// The fewer calls by the counts of policies and nodes.
    Auto,
    /// ListTargetsForPolicy per policy.
    Policy,
    /// ListPoliciesForTarget per root, OU and account of the run.
    Target,
}

impl From<ScpStrategyArg> for ScpStrategy {
    fn from(s: ScpStrategyArg) -> ScpStrategy {
        match s {
            ScpStrategyArg::Auto => ScpStrategy::Auto,
            ScpStrategyArg::Policy => ScpStrategy::ByPolicy,
            ScpStrategyArg::Target => ScpStrategy::ByTarget,
        }
    }
}

/// What `prepare` validated: everything a run needs that could be checked without AWS.
#[derive(Debug, Clone)]
pub struct Prepared {
    config: SyncConfig,
    jsonl: Option<JsonlTarget>,
    expand: Option<orgsync::expand::Options>,
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
    if let Some(p) = previous(args) {
        if args.no_file {
            return Err(exit::usage(anyhow::anyhow!(
                "--previous needs a c1z file to write the previous sync into (not --no-file)"
            )));
        }
        let reader = c1z::C1zReader::open(p).map_err(exit::usage)?;
        c1z::carried_sync(&reader, p).map_err(exit::usage)?;
    }
    let jsonl = args.jsonl.as_deref().map(JsonlTarget::parse);
    if let Some(JsonlTarget::File(p)) = &jsonl {
        c1z::check_writable(p).map_err(exit::usage)?;
    }
    if let Some(p) = &args.summary_json {
        c1z::check_writable(p).map_err(exit::usage)?;
    }
    let mut ic = IcOptions::from(&args.ic);
    ic.scim = args
        .ic
        .scim()
        .map_err(|e| exit::usage(anyhow::anyhow!(e)))?;
    let config = SyncConfig {
        plan: args.plan.options().map_err(exit::usage)?,
        ic,
        iam: IamReadOptions {
            sync_secrets: args.sync_secrets,
            aws_policy_documents: args.aws_policy_documents,
            report_timeout: args.credential_report_timeout,
        },
        scps: ScpOptions {
            enabled: args.sync_scps,
            strategy: args.scp_strategy.into(),
        },
        concurrency: args.concurrency as usize,
        fail_fast: args.fail_fast,
        allow_empty: args.allow_empty,
        second_pass_pause: args.second_pass_pause,
        shard: args.shard,
        // Read by each execution (`orgsync run` repeats them), so its age is checked each time.
        plan_file: None,
        prior: Prior::default(),
    };
    // The sync's own edges always name the grant's principal; an edge that does not would be
    // a defect, counted and logged rather than failing a whole organization's run.
    let expand = args.expand_grants.then_some(orgsync::expand::Options {
        source_mismatch: orgsync::expand::SourceMismatch::Skip,
    });
    Ok(Prepared {
        config,
        jsonl,
        expand,
    })
}

/// Runs `orgsync sync`; returns the exit code.
pub async fn run(args: SyncArgs) -> anyhow::Result<u8> {
    let prepared = prepare(&args)?;
    let file = (!args.no_file).then_some(args.file.as_path());
    let metrics = CallMetrics::new();
    let signals = Signals::install(|_, _| {})?;
    let _locks = match claim_outputs(&args, file, false, signals.wait(1)).await? {
        Claimed::Locks(l) => l,
        Claimed::Interrupted(sig) => return Err(interrupted(sig)),
    };
    let run = Run {
        file,
        replaces: file,
        started: Instant::now(),
    };
    match execute(&args, &prepared, &run, &metrics, signals.wait(1)).await? {
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
        Outcome::Interrupted(sig) => Err(interrupted(sig)),
    }
}

/// `--shard I/N`.
fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse::<Shard>().map_err(|e| e.to_string())
}

/// The error of a run stopped by `sig` (exit 143 for SIGTERM, 130 otherwise).
fn interrupted(sig: &'static str) -> anyhow::Error {
    exit::with_code(
        if sig == "SIGTERM" {
            143
        } else {
            exit::INTERRUPTED
        },
        anyhow::anyhow!("interrupted by {sig}; the previous output was left untouched"),
    )
}

/// What claiming the outputs gave.
pub enum Claimed {
    /// The locks of every output, held until dropped.
    Locks(Vec<OutputLock>),
    /// A stop signal arrived while waiting for a lock.
    Interrupted(&'static str),
}

/// Takes the lock of every file output of a run (`c1z`, the c1z file or, for `orgsync run`,
/// its stable path; the JSON lines file; the summary file), in path order, waiting up to
/// `--wait-lock` for each; then, holding them, removes what killed runs left: the outputs'
/// temp files (with `rotated`, also those of the timestamped runs of `c1z`) and scratch
/// directories in `$TMPDIR` whose owner is gone. A lock held by another run fails (exit 1),
/// naming its holder; no AWS call has been made.
pub async fn claim_outputs(
    args: &SyncArgs,
    c1z: Option<&Path>,
    rotated: bool,
    stop: impl Future<Output = &'static str>,
) -> anyhow::Result<Claimed> {
    let mut targets: Vec<PathBuf> = c1z.map(Path::to_path_buf).into_iter().collect();
    if let Some(JsonlTarget::File(p)) = args.jsonl.as_deref().map(JsonlTarget::parse) {
        targets.push(p);
    }
    targets.extend(args.summary_json.clone());
    targets.sort();
    targets.dedup();
    let wait = args.wait_lock;
    let owned = targets.clone();
    let take = tokio::task::spawn_blocking(
        move || -> Result<Vec<OutputLock>, orgsync::store::StoreError> {
            owned.iter().map(|t| OutputLock::acquire(t, wait)).collect()
        },
    );
    tokio::pin!(stop);
    let locks = tokio::select! {
        r = take => r.context("taking the output locks")??,
        sig = &mut stop => return Ok(Claimed::Interrupted(sig)),
    };
    for t in &targets {
        let name = t.file_name().map(|n| n.to_string_lossy().into_owned());
        let dir = atomic::parent_dir(t);
        if rotated && Some(t.as_path()) == c1z {
            atomic::sweep(&dir, |o| rotate::is_output_of(t, o));
        } else {
            atomic::sweep(&dir, |o| name.as_deref() == Some(o));
        }
    }
    scratch::sweep();
    Ok(Claimed::Locks(locks))
}

/// Where one execution writes.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The c1z file to write, if any (for `orgsync run`, a timestamped path).
    pub file: Option<&'a Path>,
    /// The c1z file this run replaces in the end (`file`, or `orgsync run`'s stable path):
    /// an empty sync may not replace it when it holds something (unless `--allow-empty`).
    pub replaces: Option<&'a Path>,
    /// When the run began, its outputs locked (its duration is measured from here).
    pub started: Instant,
}

/// One sync: connect, run the sync into the c1z at `run.file` (if any) and the other outputs of
/// `args`, and write `--summary-json`. Shared by `orgsync sync` (once, which then prints the
/// summary) and `orgsync run` (on a schedule, `run.file` then being a timestamped path; it logs
/// each run instead): it shows progress but prints no summary. The caller holds the outputs'
/// locks ([`claim_outputs`]). When `stop` completes first the run is abandoned and no output is
/// touched. AWS calls are counted into `metrics`. The run's duration covers everything from
/// `run.started` (connecting, the organization, the accounts, Identity Center, writing).
pub async fn execute(
    args: &SyncArgs,
    prepared: &Prepared,
    run: &Run<'_>,
    metrics: &Arc<CallMetrics>,
    stop: impl Future<Output = &'static str>,
) -> anyhow::Result<Outcome> {
    let file = run.file;
    tokio::pin!(stop);
    // Before any AWS call: a plan file that cannot be used is bad input (exit 2).
    let plan = match &args.plan_file {
        Some(p) => Some(Arc::new(
            plan_file::read(p, args.plan_max_age, chrono::Utc::now()).map_err(exit::usage)?,
        )),
        None => None,
    };
    let mut settings = args.aws.settings();
    if let Some(shard) = prepared.config.shard {
        settings.org_rps = shard.org_rate_share(settings.org_rps, args.plan_file.is_some());
    }
    let connect = Session::connect(settings, Arc::clone(metrics));
    let session = tokio::select! {
        s = connect => s.context("connecting to AWS")?,
        sig = &mut stop => return Ok(Outcome::Interrupted(sig)),
    };
    tracing::info!(account = %session.caller.account, caller = %session.caller.arn, "connected");
    let mut config = prepared.config.clone();
    config.plan_file = plan;
    let work_file = run.replaces.map(work::work_path);
    let journal = match &work_file {
        Some(w) => Some(open_work_file(args, &session, w, &mut config)?),
        None => None,
    };
    // A shard is written unexpanded: `orgsync merge` expands the whole organization once.
    let expand = prepared.expand.filter(|_| config.shard.is_none());
    let sinks = open_sinks(
        file,
        prepared.jsonl.as_ref(),
        previous(args),
        expand,
        journal,
    )?;
    let progress = Progress::new(!args.no_progress, Arc::clone(metrics));
    let work = sync::run(&session, &config, &sinks, &progress);
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
    if let Some(why) = refusal(&result, args, prepared, run) {
        sinks.abort().await;
        return Ok(Outcome::Aborted { result, why });
    }
    write_outputs(args, run, metrics, sinks, result, work_file.as_deref()).await
}

/// Why a finished run may not replace its outputs, if it may not: it was stopped, it read no
/// account at all, or it read none and would replace a non-empty output (without
/// `--allow-empty`). A shard is the exception to the second rule: it may own only accounts
/// that are suspended or cannot be entered (or none at all), its file still says so (exit 3
/// when one failed), and `orgsync merge` needs it. Elsewhere, nothing read leaves the previous
/// output as it was.
fn refusal(
    result: &RunResult,
    args: &SyncArgs,
    prepared: &Prepared,
    run: &Run<'_>,
) -> Option<String> {
    if let Some(why) = &result.stopped {
        return Some(why.clone());
    }
    if result.shard.is_none() && !result.accounts.is_empty() && !result.any_ok() {
        return Some("no account could be read".to_string());
    }
    let jsonl = match &prepared.jsonl {
        Some(JsonlTarget::File(p)) => Some(p.as_path()),
        _ => None,
    };
    replaced_by_nothing(result.any_ok(), args.allow_empty, &[run.replaces, jsonl]).map(|full| {
        format!(
            "this run read no account, and writing it would replace {} with an empty sync (pass --allow-empty to write it anyway)",
            full.display()
        )
    })
}

/// Writes a finished run: its stats into the sinks (which then swap their files in), the work
/// file removed when the run was complete, and `--summary-json`.
async fn write_outputs(
    args: &SyncArgs,
    run: &Run<'_>,
    metrics: &Arc<CallMetrics>,
    sinks: SinkSet,
    mut result: RunResult,
    work_file: Option<&Path>,
) -> anyhow::Result<Outcome> {
    // The stats written into the c1z cover the run up to its writing.
    result.duration = run.started.elapsed();
    let calls = metrics.snapshot();
    // Per-type record counts are computed from the database by the c1z sink itself.
    let mut stats = result.stats(&calls).section()?;
    if let (Some(shard), Some(section)) = (&result.shard, stats.get_mut("orgsync"))
        && let Some(section) = section.as_object_mut()
    {
        section.insert("shard".into(), serde_json::to_value(shard)?);
    }
    let end = RunEnd {
        stats,
        sync_type: result.scope.sync_type,
    };
    let written = sinks.finish(end).await.context("writing the output")?;
    result.duration = run.started.elapsed();
    let code = if result.partial() {
        exit::PARTIAL
    } else {
        exit::OK
    };
    // A complete run needs no resuming; a partial one keeps its work file, so the next run
    // retries only the accounts that failed.
    if let (exit::OK, Some(w)) = (code, work_file) {
        work::remove(w);
    }
    if let Some(p) = &args.summary_json {
        let summary = SyncSummary {
            exit_code: code,
            file: run.file.map(Path::to_path_buf),
            jsonl: args.jsonl.clone(),
            accounts: result.accounts.clone(),
            records: written.counts.clone(),
            scope: Some(result.scope.clone()),
            expansion: written.expansion.clone(),
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

/// The output a run that read no account (`!any_ok`) would replace while it holds something:
/// such a run may not replace it, unless `allow_empty`.
fn replaced_by_nothing<'p>(
    any_ok: bool,
    allow_empty: bool,
    outputs: &[Option<&'p Path>],
) -> Option<&'p Path> {
    if any_ok || allow_empty {
        return None;
    }
    outputs
        .iter()
        .flatten()
        .copied()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
}

/// The resume work file of a run whose c1z output is `work`'s: loads what an interrupted
/// run of the same scope read (unless `--no-resume`) into `config.prior`, and opens the file
/// for this run's accounts. The scope names what changes the records of an account (the
/// caller's account, the organization mode, member role, filters, shard, IAM options, the
/// orgsync version), never a credential or External ID.
fn open_work_file(
    args: &SyncArgs,
    session: &Session,
    work: &Path,
    config: &mut SyncConfig,
) -> anyhow::Result<Box<dyn UnitJournal>> {
    let p = &config.plan;
    let scope = format!(
        "orgsync {}; caller account {}; orgs {:?}; member role {}; accounts {:?}; exclude {:?}; ous {:?}; shard {}; sync-secrets {}; aws-policy-documents {}",
        env!("CARGO_PKG_VERSION"),
        session.caller.account,
        p.orgs,
        p.member_role,
        p.accounts,
        p.exclude,
        p.ous,
        config
            .shard
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        config.iam.sync_secrets,
        config.iam.aws_policy_documents,
    );
    let loaded = if args.no_resume {
        work::Loaded::default()
    } else {
        work::load(work, &scope, args.resume_max_age)
    };
    let journal = WorkFile::open(work, &scope, &loaded.units)
        .with_context(|| format!("opening the resume work file {}", work.display()))?;
    config.prior = Prior::new(loaded.units, loaded.notes);
    Ok(Box::new(journal))
}

/// `--previous`, unless it is the output itself and does not exist yet (the first run).
fn previous(args: &SyncArgs) -> Option<&Path> {
    args.previous
        .as_deref()
        .filter(|p| p.exists() || *p != args.file.as_path())
}

/// The writer thread over the c1z file at `file` (if any; the previous sync carried into it
/// with `--previous`; grants expanded at the end with `expand`) and the JSON lines (if any),
/// with the resume work file (if any) recording each account.
fn open_sinks(
    file: Option<&Path>,
    jsonl: Option<&JsonlTarget>,
    previous: Option<&Path>,
    expand: Option<orgsync::expand::Options>,
    journal: Option<Box<dyn UnitJournal>>,
) -> anyhow::Result<SinkSet> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![];
    if let Some(f) = file {
        let mut w = C1zWriter::create(f)?;
        if let Some(p) = previous {
            let c = w
                .carry_previous(p)
                .with_context(|| format!("carrying the previous sync of {}", p.display()))?;
            tracing::info!(previous = %p.display(), sync_id = %c.sync_id, ended_at = %c.ended_at, rows = c.rows, "carried the previous sync into the new file (--previous)");
        }
        let sink = C1zSink::new(w);
        sinks.push(Box::new(match expand {
            Some(o) => sink.expanding(orgsync::expand::sqlite::finish_step(o)),
            None => sink,
        }));
    }
    if let Some(t) = jsonl {
        sinks.push(Box::new(JsonlSink::create(t)?));
    }
    Ok(SinkSet::spawn_with_journal(sinks, journal, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_sync_never_replaces_an_output_that_holds_something() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.c1z");
        std::fs::write(&full, b"records").unwrap();
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, b"").unwrap();
        let missing = dir.path().join("missing.c1z");
        let outputs = [
            Some(missing.as_path()),
            Some(empty.as_path()),
            Some(full.as_path()),
        ];
        assert_eq!(
            replaced_by_nothing(false, false, &outputs),
            Some(full.as_path())
        );
        assert_eq!(
            replaced_by_nothing(false, true, &outputs),
            None,
            "--allow-empty"
        );
        assert_eq!(
            replaced_by_nothing(true, false, &outputs),
            None,
            "an account was read"
        );
        assert_eq!(replaced_by_nothing(false, false, &outputs[..2]), None);
        assert_eq!(replaced_by_nothing(false, false, &[None]), None);
    }
}
