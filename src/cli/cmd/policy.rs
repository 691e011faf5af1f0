//! `orgsync policy` (the least-privilege IAM policy for the enabled features, from
//! `permissions`) and `orgsync capabilities` (what is synced and what can be provisioned,
//! from `model::capabilities`). Both print JSON and need no AWS access.

use clap::{ArgGroup, Args};

use crate::arn::Partition;
use crate::cli::ic_args::IcModeArg;
use crate::permissions::{PolicyRequest, RoleKind, policy};

fn parse_partition(s: &str) -> Result<Partition, String> {
    s.parse().map_err(|e: crate::arn::IdError| e.to_string())
}

const POLICY_EXAMPLES: &str = "\
Examples:
  orgsync policy --read                          # management role: orgs, member hops, IAM,
                                                 # Identity Center
  orgsync policy --read --identity-center off    # ... without Identity Center
  orgsync policy --read --sync-scps false        # ... without service control policies
  orgsync policy --read --write --member         # the role in each member account
  orgsync policy --write                         # provisioning from the management account

The management policy is for the identity orgsync runs as (or its --role-arn); --member is for
the role it assumes in each member account (--member-role-name). deploy/cloudformation/ has
templates that create both roles with these policies.";

/// Arguments of `orgsync policy`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("access").required(true).multiple(true).args(["read", "write"])))]
#[command(after_help = POLICY_EXAMPLES)]
pub struct PolicyArgs {
    /// What a sync (and `orgsync check`) reads.
    #[arg(long, env = "ORGSYNC_READ")]
    pub read: bool,

    /// What provisioning (grant, revoke, user create/delete) changes.
    #[arg(long, env = "ORGSYNC_WRITE")]
    pub write: bool,

    /// IAM Identity Center and its identity store: included unless off. The values and the
    /// default (auto) are sync's, so one ORGSYNC_IDENTITY_CENTER serves both, and a role made
    /// from this policy lets a default sync read Identity Center.
    #[arg(long, env = "ORGSYNC_IDENTITY_CENTER", value_enum, ignore_case = true, value_name = "auto|on|off", num_args = 0..=1, default_missing_value = "on", default_value = "auto", action = clap::ArgAction::Set)]
    pub identity_center: IcModeArg,

    /// Service control policies (management role): included unless false, as sync's
    /// --sync-scps, so one ORGSYNC_SYNC_SCPS serves both.
    #[arg(long, env = "ORGSYNC_SYNC_SCPS", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sync_scps: bool,

    /// The policy of the member-account role instead of the management one.
    #[arg(long, env = "ORGSYNC_MEMBER")]
    pub member: bool,

    /// Member role (name with optional path) the management role may assume.
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_ROLE_NAME",
        default_value = "OrganizationAccountAccessRole"
    )]
    pub member_role_name: String,

    /// AWS partition of the ARNs (aws, aws-us-gov, aws-cn).
    #[arg(long, env = "ORGSYNC_PARTITION", default_value = "aws", value_parser = parse_partition)]
    pub partition: Partition,
}

/// Prints the policy document.
pub fn policy_cmd(args: &PolicyArgs) -> anyhow::Result<u8> {
    let doc = policy(&PolicyRequest {
        role: if args.member {
            RoleKind::Member
        } else {
            RoleKind::Management
        },
        read: args.read,
        write: args.write,
        identity_center: args.identity_center != IcModeArg::Off,
        scps: args.sync_scps,
        member_role: args.member_role_name.clone(),
        partition: args.partition.to_string(),
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(crate::cli::exit::OK)
}

/// Prints the capability table.
pub fn capabilities_cmd() -> anyhow::Result<u8> {
    let c = crate::model::capabilities::capabilities();
    println!("{}", serde_json::to_string_pretty(&c)?);
    Ok(crate::cli::exit::OK)
}
