//! `orgsync merge`: check the shard files (`merge::check`; any problem is exit 2 and nothing
//! is written), take the output's lock, merge (`merge::merge`) into the output atomically,
//! and print what was written.

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args};

use crate::cli::exit;
use orgsync::merge::{self, MergeOptions};
use orgsync::store::c1z;
use orgsync::store::lock::OutputLock;
use orgsync::store::{atomic, scratch};

const MERGE_EXAMPLES: &str = "\
Examples:
  orgsync merge shard-0.c1z shard-1.c1z shard-2.c1z shard-3.c1z --file org.c1z
  orgsync merge /data/shard-*.c1z --file /data/org.c1z --allow-missing";

/// Arguments of `orgsync merge`.
#[derive(Debug, Clone, Args)]
#[command(after_help = MERGE_EXAMPLES)]
pub struct MergeArgs {
    /// The shard files (`orgsync sync --shard I/N`), every shard of one organization.
    #[arg(required = true, value_name = "SHARD.c1z")]
    pub inputs: Vec<PathBuf>,

    /// The c1z file to write (replaced atomically when the merge succeeds).
    #[arg(long, short = 'f', env = "ORGSYNC_FILE")]
    pub file: PathBuf,

    /// Write a partial sync when shards are missing instead of refusing.
    #[arg(long, env = "ORGSYNC_ALLOW_MISSING")]
    pub allow_missing: bool,

    /// Run grant expansion on the merged sync (shards are written unexpanded).
    #[arg(long, env = "ORGSYNC_EXPAND_GRANTS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub expand_grants: bool,

    /// When another run holds the output's lock, wait up to DURATION for it.
    #[arg(long, env = "ORGSYNC_WAIT_LOCK", value_name = "DURATION", value_parser = crate::cli::args::parse_duration)]
    pub wait_lock: Option<std::time::Duration>,
}

/// Runs `orgsync merge`; returns the exit code: 0, or 3 (partial: shards missing or filtered,
/// or accounts or phases that failed in their shards).
pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    if args.inputs.iter().any(|i| i == &args.file) {
        return Err(exit::usage(anyhow::anyhow!(
            "--file {} is also an input; write the merge to another file",
            args.file.display()
        )));
    }
    c1z::check_writable(&args.file).map_err(exit::usage)?;
    let checked = merge::check(&args.inputs, args.allow_missing).map_err(exit::usage)?;
    let _lock = OutputLock::acquire(&args.file, args.wait_lock)?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    atomic::sweep(&atomic::parent_dir(&args.file), |o| {
        name.as_deref() == Some(o)
    });
    scratch::sweep();
    let opts = MergeOptions {
        allow_missing: args.allow_missing,
        expand_grants: args.expand_grants,
    };
    let report = merge::merge(checked, &args.file, opts)
        .with_context(|| format!("merging into {}", args.file.display()))?;
    let mut out = format!(
        "Merged shards {} of {} of organization {} into {} ({} sync)\n",
        report
            .shards
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        report.count,
        report.organization_id,
        args.file.display(),
        report.sync_type
    );
    for (kind, n) in &report.records {
        out.push_str(&format!("  {kind}: {n}\n"));
    }
    if !report.missing.is_empty() {
        out.push_str(&format!(
            "Note: shards {:?} are missing; the result is a partial sync\n",
            report.missing
        ));
    }
    if let Some(x) = &report.expansion {
        out.push_str(&format!(
            "Grant expansion: {} grants created, {} updated\n",
            x.grants_created, x.grants_updated
        ));
    }
    if report.failed_accounts + report.failed_phases > 0 {
        out.push_str(&format!(
            "Note: {} accounts and {} phases failed in their shards (see the shards' summaries)\n",
            report.failed_accounts, report.failed_phases
        ));
    }
    eprint!("{out}");
    let complete = report.missing.is_empty()
        && report.sync_type == "full"
        && report.failed_accounts + report.failed_phases == 0;
    Ok(if complete { exit::OK } else { exit::PARTIAL })
}
