//! `orgsync plan`: list the organization once (its roots, OUs and accounts, through the
//! Organizations token bucket at the whole `--org-rate-limit`) and write the plan file
//! (`sync::plan_file`) that `orgsync sync --shard I/N --plan FILE` reads instead of listing
//! the organization in every shard. Prints what it wrote.
//!
//! Not here: the file's format and checks (`sync::plan_file`), planning accounts from it
//! (`sync::plan`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use orgsync::aws::{CallMetrics, Session};
use orgsync::connector::org::{self, Discovered};
use orgsync::store::c1z;
use orgsync::sync::plan_file;

use crate::cli::args::AwsArgs;
use crate::cli::exit;

const PLAN_EXAMPLES: &str = "\
Examples:
  orgsync plan --file plan.json
  orgsync sync --shard 0/4 --plan plan.json --file shard-0.c1z   # and 1/4, 2/4, 3/4 at once
  orgsync merge shard-0.c1z shard-1.c1z shard-2.c1z shard-3.c1z --file org.c1z

ORGSYNC_PLAN names the file for both `plan --file` and `sync --plan` (so one setting serves
both; ORGSYNC_FILE, the sync's output, is never read here).";

/// Arguments of `orgsync plan`.
#[derive(Debug, Clone, Args)]
#[command(after_help = PLAN_EXAMPLES)]
pub struct PlanCmdArgs {
    /// The plan file to write (JSON; replaced atomically).
    #[arg(long, short = 'f', env = "ORGSYNC_PLAN", value_name = "PLAN")]
    pub file: PathBuf,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Runs `orgsync plan`; returns the exit code (0; a caller that is not in an organization it
/// can list fails, exit 1, and writes nothing).
pub async fn run(args: PlanCmdArgs) -> anyhow::Result<u8> {
    c1z::check_writable(&args.file).map_err(exit::usage)?;
    let metrics = CallMetrics::new();
    let session = Session::connect(args.aws.settings(), Arc::clone(&metrics))
        .await
        .context("connecting to AWS")?;
    let started = std::time::Instant::now();
    let snap = match org::discover(session.management(), session.org_limiter(), None)
        .await
        .context("listing the organization")?
    {
        Discovered::Organization(s) => s,
        Discovered::NoOrganization(no) => {
            anyhow::bail!("{}: there is no organization to plan", no.reason)
        }
    };
    plan_file::write(
        &args.file,
        &snap,
        &session.caller.account,
        chrono::Utc::now(),
    )?;
    let active = snap
        .accounts
        .iter()
        .filter(|a| a.status == "ACTIVE")
        .count();
    println!(
        "Wrote {}: organization {}, {} accounts ({} ACTIVE), {} OUs, listed in {:.1}s with {} Organizations calls",
        args.file.display(),
        snap.org.as_ref().map_or("", |o| o.id.as_str()),
        snap.accounts.len(),
        active,
        snap.ous.len(),
        started.elapsed().as_secs_f64(),
        metrics
            .snapshot()
            .iter()
            .filter(|(op, _)| op.starts_with("organizations:"))
            .map(|(_, s)| s.calls)
            .sum::<u64>(),
    );
    Ok(exit::OK)
}
