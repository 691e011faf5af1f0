//! The `orgsync` command line: argument and environment parsing, logging, progress, signals,
//! tables, exit codes. Commands call into the library; nothing here talks to AWS directly.

pub mod args;
pub mod cache_args;
pub mod cmd;
pub mod config;
pub mod exit;
pub mod ic_args;
pub mod logging;
pub mod plan_args;
pub mod progress;
pub mod signals;

use cmd::{
    access as access_cmd, check as check_cmd, diff as diff_cmd, expand as expand_cmd,
    policy as policy_cmd, provision as provision_cmd, run as run_cmd, sync as sync_cmd,
};

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::cli::cmd::inspect::InspectArgs;

const ABOUT: &str = "Who can access what across an AWS Organization: sync IAM and IAM Identity Center into a baton-compatible c1z file, and grant or revoke access.";

const EXAMPLES: &str = "\
Examples:
  # Sync the account of the current credentials into sync.c1z
  orgsync sync

  # Sync the whole organization through a management role with an External ID
  orgsync sync --role-arn arn:aws:iam::111122223333:role/OrgSyncReader --external-id ext-123

  # Also stream JSON lines to stdout
  orgsync sync --file out.c1z --jsonl -

  # Look at the result
  orgsync inspect stats --file out.c1z
  orgsync inspect grants --file out.c1z --resource-type group -o json

  # Change access with the IDs a sync wrote (add --dry-run to see the AWS calls first)
  orgsync grant --entitlement 'group:arn:aws:iam::111122223333:group/devs:member' \\
      --principal-type iam_user --principal arn:aws:iam::111122223333:user/bob
  orgsync revoke --grant '<grant id from orgsync inspect grants>'

Exit codes: 0 ok, 1 failed (previous output untouched), 2 bad input (no AWS call made),
3 partial (some accounts failed; recorded in the output), 130 interrupted.";

#[derive(Debug, Parser)]
#[command(name = "orgsync", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Log format: human text on a terminal and JSON otherwise (auto), or forced.
    #[arg(
        long,
        global = true,
        env = "ORGSYNC_LOG_FORMAT",
        value_enum,
        default_value = "auto"
    )]
    pub log_format: logging::LogFormat,

    /// Log level for orgsync (error, warn, info, debug, trace) or a full tracing filter.
    #[arg(long, global = true, env = "ORGSYNC_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// YAML file of flag values (keys are long flag names, e.g. `role-arn: …`); flags and
    /// ORGSYNC_* variables take precedence over it.
    #[arg(long, global = true, env = config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read AWS and write resources, entitlements and grants to a c1z file and/or JSON lines.
    Sync(Box<sync_cmd::SyncArgs>),
    /// List the organization once into a plan file for `sync --shard I/N --plan FILE`.
    Plan(Box<cmd::plan::PlanCmdArgs>),
    /// Join the c1z files of `sync --shard I/N` runs into one sync of the organization.
    Merge(Box<cmd::merge::MergeArgs>),
    /// Validate a setup before the first sync: credentials, hops, External IDs, permissions.
    Check(Box<check_cmd::CheckArgs>),
    /// Sync on a schedule (interval or cron), keep timestamped outputs, serve /healthz and /metrics.
    Run(Box<run_cmd::RunArgs>),
    /// Read a c1z file: stats, resource types, resources, entitlements, grants, syncs.
    Inspect(InspectArgs),
    /// Grant an entitlement to a principal, in any account (idempotent).
    Grant(Box<provision_cmd::GrantArgs>),
    /// Revoke a grant, by the grant ID a sync wrote (idempotent).
    Revoke(Box<provision_cmd::RevokeArgs>),
    /// Create an IAM user (in any account) or an IAM Identity Center user.
    CreateUser(Box<provision_cmd::CreateUserArgs>),
    /// Delete an IAM user (and what blocks its deletion) or an IAM Identity Center user.
    DeleteResource(Box<provision_cmd::DeleteResourceArgs>),
    /// Who can reach what, and through which grants (paths), from a c1z file.
    Access(Box<access_cmd::AccessArgs>),
    /// What changed between two syncs (two c1z files, or two syncs of one file).
    Diff(Box<diff_cmd::DiffArgs>),
    /// Write an access review of a c1z file as one self-contained HTML page.
    Report(Box<crate::cli::cmd::report::ReportArgs>),
    /// Write one sync of a c1z file as flat CSV tables (names and accounts resolved).
    Export(Box<crate::cli::cmd::export::ExportArgs>),
    /// Expand grants of a c1z file as baton-sdk does (derived grants with their sources).
    Expand(Box<expand_cmd::ExpandArgs>),
    /// Print the least-privilege IAM policy (JSON) for the enabled features.
    Policy(policy_cmd::PolicyArgs),
    /// Print (JSON) which resource types are synced and which entitlements can be provisioned.
    Capabilities,
}

/// A borderless table with `header`, as the commands print them.
pub(crate) fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(header.iter().map(|h| h.to_string()));
    t
}

/// Applies baton-aws environment aliases. Runs first thing in `main`, before any thread exists.
fn apply_env_aliases() {
    for (baton, ours) in args::BATON_ALIASES {
        if std::env::var_os(ours).is_none()
            && let Some(v) = std::env::var_os(baton)
        {
            // SAFETY: called at the start of `main`, before the runtime or any other thread
            // starts, so no other thread can read the environment concurrently.
            unsafe { std::env::set_var(ours, v) };
        }
    }
}

/// Applies `--config FILE` (or `ORGSYNC_CONFIG`): its keys become `ORGSYNC_*` variables that
/// are not already set. Runs in `main` before any thread exists, after the baton aliases (so
/// the environment, aliases included, wins over the file).
fn apply_config_file() -> Result<(), config::ConfigError> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let Some(path) = config::config_path(&argv) else {
        return Ok(());
    };
    let flags = config::flags(&Cli::command());
    for (env, value) in config::load(&path, &flags)? {
        if std::env::var_os(&env).is_none() {
            // SAFETY: as in `apply_env_aliases`: no other thread exists yet.
            unsafe { std::env::set_var(&env, value) };
        }
    }
    Ok(())
}

/// For commands that only print: `orgsync inspect … | head` ends quietly when the reader
/// goes away, as Unix tools do, instead of panicking on the broken pipe. Not for commands that
/// talk to AWS, whose sockets need EPIPE as an error.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition before any output; no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    apply_env_aliases();
    if let Err(e) = apply_config_file() {
        eprintln!(
            "error: {}",
            orgsync::ident::bounded(&e.to_string(), MAX_ERROR_BYTES)
        );
        return ExitCode::from(exit::USAGE);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(exit::OK);
            }
            // clap echoes a refused value whole: a huge one is shortened.
            let plain = e.render().to_string();
            if plain.len() <= MAX_ERROR_BYTES {
                let _ = e.print();
            } else {
                eprint!("{}", orgsync::ident::bounded(&plain, MAX_ERROR_BYTES));
            }
            return ExitCode::from(exit::USAGE);
        }
    };
    logging::init(cli.log_format, &cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    if matches!(
        cli.command,
        Command::Inspect(_)
            | Command::Access(_)
            | Command::Diff(_)
            | Command::Report(_)
            | Command::Export(_)
            | Command::Policy(_)
            | Command::Capabilities
    ) {
        quiet_broken_pipe();
    }
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Sync(a) => sync_cmd::run(*a).await,
            Command::Plan(a) => cmd::plan::run(*a).await,
            Command::Merge(a) => cmd::merge::run(*a),
            Command::Run(a) => run_cmd::run(*a).await,
            Command::Check(a) => check_cmd::run(*a).await,
            Command::Inspect(a) => crate::cli::cmd::inspect::run(a).map(|_| exit::OK),
            Command::Grant(a) => provision_cmd::run_grant(*a).await,
            Command::Revoke(a) => provision_cmd::run_revoke(*a).await,
            Command::CreateUser(a) => provision_cmd::run_create_user(*a).await,
            Command::DeleteResource(a) => provision_cmd::run_delete_resource(*a).await,
            Command::Access(a) => access_cmd::run(*a),
            Command::Diff(a) => diff_cmd::run(*a),
            Command::Report(a) => crate::cli::cmd::report::run(*a),
            Command::Export(a) => crate::cli::cmd::export::run(*a),
            Command::Expand(a) => expand_cmd::run(*a),
            Command::Policy(a) => policy_cmd::policy_cmd(&a),
            Command::Capabilities => policy_cmd::capabilities_cmd(),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = format!("error: {e:#}");
            eprintln!("{}", orgsync::ident::bounded(&msg, MAX_ERROR_BYTES));
            ExitCode::from(exit::code_of(&e))
        }
    }
}

/// Error messages longer than this have their long words shortened (a value given by a user
/// can be megabytes long; stderr gets its first characters and its length).
const MAX_ERROR_BYTES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// DESIGN.md §2: every flag also reads an `ORGSYNC_*` variable (so containers and the
    /// config file can set it), named `ORGSYNC_<FLAG>` in the commands that share the sync's
    /// flags. (Another command may name a flag's variable differently on purpose, e.g. when
    /// `ORGSYNC_<FLAG>` already means something else in a container.)
    #[test]
    fn every_flag_reads_its_orgsync_variable() {
        fn walk(cmd: &clap::Command, path: &str, strict: bool, bad: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                let want = format!("ORGSYNC_{}", long.to_ascii_uppercase().replace('-', "_"));
                let got = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                let ok = match &got {
                    Some(g) if strict => *g == want,
                    Some(g) => g.starts_with("ORGSYNC_"),
                    None => false,
                };
                if !ok {
                    bad.push(format!("{path} --{long}: env {got:?}, want {want}"));
                }
            }
            for sub in cmd.get_subcommands() {
                // Below the top level a command inherits its parent's rule.
                let strict = if path == "orgsync" {
                    matches!(sub.get_name(), "sync" | "run" | "check" | "policy")
                } else {
                    strict
                };
                walk(sub, &format!("{path} {}", sub.get_name()), strict, bad);
            }
        }
        let mut bad = vec![];
        walk(&Cli::command(), "orgsync", true, &mut bad);
        assert!(
            bad.is_empty(),
            "flags without their variable:\n{}",
            bad.join("\n")
        );
    }
}
