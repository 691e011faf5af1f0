//! The `orgsync` command line: argument and environment parsing, logging, progress, exit
//! codes. Commands call into the library; nothing here talks to AWS directly.

pub mod args;
pub mod exit;
pub mod logging;
pub mod progress;
pub mod provision_cmd;
pub mod sync_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::inspect::InspectArgs;

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

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read AWS and write resources, entitlements and grants to a c1z file and/or JSON lines.
    Sync(Box<sync_cmd::SyncArgs>),
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

/// The binary's entry point.
pub fn main() -> ExitCode {
    apply_env_aliases();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
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
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Sync(a) => sync_cmd::run(*a).await,
            Command::Inspect(a) => crate::inspect::run(a).map(|_| exit::OK),
            Command::Grant(a) => provision_cmd::run_grant(*a).await,
            Command::Revoke(a) => provision_cmd::run_revoke(*a).await,
            Command::CreateUser(a) => provision_cmd::run_create_user(*a).await,
            Command::DeleteResource(a) => provision_cmd::run_delete_resource(*a).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::code_of(&e))
        }
    }
}
