//! `orgsync check`: runs `check::run_checks` and prints the findings as a table (with the
//! fixes underneath) or as JSON; exit 1 when something is broken (or, with `--strict`, merely
//! suspicious).

use clap::Args;
use comfy_table::{Table, presets};

use crate::cli::cmd::inspect::Output;
use crate::cli::ic_args::IcArgs;
use crate::connector::identity_center::IcOptions;
use crate::doctor::{CheckOptions, Status, run_checks};

use crate::cli::args::AwsArgs;
use crate::cli::exit;
use crate::cli::plan_args::PlanArgs;

const CHECK_EXAMPLES: &str = "\
Examples:
  orgsync check
  orgsync check --role-arn arn:aws:iam::111122223333:role/OrgSyncManagement --external-id ext-1 \\
                --member-role-name OrgSyncMember --member-external-id ext-2 -o json

Checks, in order: base credentials and the management hop (--role-arn), as a sync connects,
the organization listing, every member hop plus one IAM read per account, Identity Center
as the sync finds it (sso:ListInstances, identitystore:ListUsers, sso:ListPermissionSets;
--identity-center off skips it, on makes a missing instance a failure). A hop that uses an External ID is tried again
without it; a warning means the role accepts the hop without it (confused deputy). A hop
configured with no External ID at all (--role-arn without --external-id, member hops without
--member-external-id or an override) is a warning too, with the trust-policy condition to add.
Exit codes: 0 nothing broken, 1 something broken (or a warning with --strict), 2 bad input.";

/// Arguments of `orgsync check`.
#[derive(Debug, Clone, Args)]
#[command(after_help = CHECK_EXAMPLES)]
pub struct CheckArgs {
    /// Output format.
    #[arg(
        long,
        short = 'o',
        env = "ORGSYNC_OUTPUT",
        value_enum,
        default_value = "table"
    )]
    pub output: Output,

    /// Accounts checked at the same time.
    #[arg(long, env = "ORGSYNC_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Exit 1 on warnings too (e.g. a role assumable without its External ID).
    #[arg(long, env = "ORGSYNC_STRICT")]
    pub strict: bool,

    #[command(flatten)]
    pub plan: PlanArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub ic: IcArgs,
}

/// Runs `orgsync check`; returns the exit code.
pub async fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let plan = args.plan.options().map_err(exit::usage)?;
    let opts = CheckOptions {
        plan,
        ic: IcOptions::from(&args.ic),
        concurrency: args.concurrency as usize,
    };
    let findings = run_checks(args.aws.settings(), &opts).await;
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let (fails, warns) = (count(Status::Fail), count(Status::Warn));
    match args.output {
        Output::Json => {
            let doc = serde_json::json!({
                "ok": fails == 0,
                "failures": fails,
                "warnings": warns,
                "findings": findings,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Output::Table => {
            let mut t = Table::new();
            t.load_preset(presets::NOTHING);
            t.set_header(vec!["CHECK", "TARGET", "STATUS", "DETAIL"]);
            for f in &findings {
                t.add_row(vec![
                    f.check.to_string(),
                    f.target.clone(),
                    f.status.as_str().to_string(),
                    f.detail.clone(),
                ]);
            }
            println!("{t}");
            let fixes: Vec<_> = findings.iter().filter(|f| f.fix.is_some()).collect();
            if !fixes.is_empty() {
                println!("\nHow to fix:");
                for (i, f) in fixes.iter().enumerate() {
                    println!(
                        "  {}. [{} {}] {}",
                        i + 1,
                        f.check,
                        f.target,
                        f.fix.as_deref().unwrap_or_default()
                    );
                }
            }
            println!(
                "\n{} checks: {} ok, {warns} warnings, {fails} failures",
                findings.len(),
                count(Status::Ok)
            );
        }
    }
    Ok(if fails > 0 || (args.strict && warns > 0) {
        exit::FAILURE
    } else {
        exit::OK
    })
}
