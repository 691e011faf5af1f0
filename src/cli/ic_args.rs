//! The Identity Center flags of `sync`, `run` and `check` ([`IcArgs`], converted into the
//! library's `identity_center::IcOptions`) and the `--identity-center` values `policy` shares
//! with them ([`IcModeArg`]). Values are parsed here: a region or instance ARN that is not one
//! is a usage error before any AWS call.
//!
//! Not here: what the options do (`connector::identity_center`).

use clap::{Args, ValueEnum};

use crate::cli::args::checked;
use crate::connector::identity_center::scim::{ScimEndpoint, ScimOptions, ScimToken};
use crate::connector::identity_center::strategy::StrategyChoice;
use crate::connector::identity_center::{IcMode, IcOptions};
use crate::ident::{InstanceArn, Region};

/// `--identity-center` (of `sync`, `check` and `policy`; true/false are baton-aws's
/// BATON_GLOBAL_AWS_SSO_ENABLED values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IcModeArg {
    /// On when an instance is found; off (with a note) when there is none or the caller may
    /// not list instances.
    Auto,
    /// Must be synced: a missing or unreadable instance fails the phase (exit 3).
    #[value(alias = "true")]
    On,
    #[value(alias = "false")]
    Off,
}

impl From<IcModeArg> for IcMode {
    fn from(m: IcModeArg) -> IcMode {
        match m {
            IcModeArg::Auto => IcMode::Auto,
            IcModeArg::On => IcMode::On,
            IcModeArg::Off => IcMode::Off,
        }
    }
}

/// `--ic-assignment-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The cheapest by the estimates below.
    Auto,
    Principal,
    PermissionSet,
    Account,
}

impl From<StrategyArg> for StrategyChoice {
    fn from(s: StrategyArg) -> StrategyChoice {
        match s {
            StrategyArg::Auto => StrategyChoice::Auto,
            StrategyArg::Principal => StrategyChoice::Principal,
            StrategyArg::PermissionSet => StrategyChoice::PermissionSet,
            StrategyArg::Account => StrategyChoice::Account,
        }
    }
}

/// `--sso-region`: an AWS region code (`ident::region`).
fn parse_region(s: &str) -> Result<String, String> {
    checked::<Region>(s).map(Region::into_string)
}

/// `--ic-instance-arn`: an Identity Center instance ARN (`ident::instance_arn`).
fn parse_instance_arn(s: &str) -> Result<String, String> {
    checked::<InstanceArn>(s).map(InstanceArn::into_string)
}

/// Identity Center flags of `orgsync sync` (and `check`).
#[derive(Debug, Clone, Args)]
pub struct IcArgs {
    /// Sync IAM Identity Center: auto (when an instance is found), on, off. true/false are
    /// accepted too (baton-aws's BATON_GLOBAL_AWS_SSO_ENABLED).
    #[arg(
        long = "identity-center",
        env = "ORGSYNC_IDENTITY_CENTER",
        value_enum,
        ignore_case = true,
        default_value = "auto",
        value_name = "auto|on|off",
        help_heading = "Identity Center"
    )]
    pub identity_center: IcModeArg,

    /// Region of the Identity Center instance (default: the session's region, then
    /// us-east-1, us-west-2, eu-west-1, eu-central-1, ap-southeast-2, ap-northeast-1,
    /// ap-southeast-1, stopping at the first with an instance).
    #[arg(long, env = "ORGSYNC_SSO_REGION", value_parser = parse_region, help_heading = "Identity Center")]
    pub sso_region: Option<String>,

    /// The instance to sync when the caller sees several (default: the organization instance).
    #[arg(long, env = "ORGSYNC_IC_INSTANCE_ARN", value_parser = parse_instance_arn, help_heading = "Identity Center")]
    pub ic_instance_arn: Option<String>,

    /// How to enumerate account assignments: auto picks the cheapest by estimated call count.
    #[arg(
        long,
        env = "ORGSYNC_IC_ASSIGNMENT_STRATEGY",
        value_enum,
        default_value = "auto",
        help_heading = "Identity Center"
    )]
    pub ic_assignment_strategy: StrategyArg,

    /// IAM Identity Center's SCIM endpoint (https://scim.<region>.amazonaws.com/<tenant>/scim/v2):
    /// read every user's status (`active`) from it. The bearer token comes from the
    /// ORGSYNC_IC_SCIM_TOKEN variable or --ic-scim-token-file, never from a flag.
    #[arg(long, env = "ORGSYNC_IC_SCIM_ENDPOINT", value_name = "URL", value_parser = ScimEndpoint::parse, help_heading = "Identity Center")]
    pub ic_scim_endpoint: Option<ScimEndpoint>,

    /// A file holding the SCIM bearer token (instead of ORGSYNC_IC_SCIM_TOKEN).
    #[arg(
        long,
        env = "ORGSYNC_IC_SCIM_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Identity Center"
    )]
    pub ic_scim_token_file: Option<std::path::PathBuf>,
}

/// The variable holding the SCIM bearer token.
pub const SCIM_TOKEN_ENV: &str = "ORGSYNC_IC_SCIM_TOKEN";

impl IcArgs {
    /// The SCIM endpoint and its token, when --ic-scim-endpoint is given: the token from
    /// --ic-scim-token-file, else ORGSYNC_IC_SCIM_TOKEN. A usage error names what is missing
    /// (never the token).
    pub fn scim(&self) -> Result<Option<ScimOptions>, String> {
        let Some(endpoint) = self.ic_scim_endpoint.clone() else {
            if self.ic_scim_token_file.is_some() {
                return Err("--ic-scim-token-file needs --ic-scim-endpoint".into());
            }
            return Ok(None);
        };
        let token = match &self.ic_scim_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("--ic-scim-token-file {}: {e}", path.display())
                })?;
                ScimToken::new(&text)
                    .ok_or_else(|| format!("--ic-scim-token-file {} is empty", path.display()))?
            }
            None => std::env::var(SCIM_TOKEN_ENV)
                .ok()
                .as_deref()
                .and_then(ScimToken::new)
                .ok_or_else(|| {
                    format!("--ic-scim-endpoint needs a bearer token: set {SCIM_TOKEN_ENV} or pass --ic-scim-token-file")
                })?,
        };
        Ok(Some(ScimOptions { endpoint, token }))
    }
}

impl From<&IcArgs> for IcOptions {
    fn from(a: &IcArgs) -> IcOptions {
        IcOptions {
            mode: a.identity_center.into(),
            sso_region: a.sso_region.clone(),
            instance_arn: a.ic_instance_arn.clone(),
            strategy: a.ic_assignment_strategy.into(),
            // The token is read by `IcArgs::scim` (it may fail); `sync` sets it.
            scim: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::identity_center::discover::PROBE_REGIONS;

    #[test]
    fn ic_modes_accept_baton_booleans() {
        for (s, m) in [
            ("auto", IcModeArg::Auto),
            ("on", IcModeArg::On),
            ("TRUE", IcModeArg::On),
            ("false", IcModeArg::Off),
            ("Off", IcModeArg::Off),
        ] {
            assert_eq!(IcModeArg::from_str(s, true), Ok(m), "{s}");
        }
        assert!(IcModeArg::from_str("yes please", true).is_err());
        assert!(parse_region("eu-west-1").is_ok());
        assert!(parse_region("us-gov-west-1").is_ok());
        assert!(parse_region("EU-west-1").is_err());
        assert!(parse_region("europe").is_err());
        assert!(parse_instance_arn("arn:aws:sso:::instance/ssoins-1234567890abcdef").is_ok());
        assert!(parse_instance_arn("arn:aws:sso:::instance/ssoins-1234").is_err());
        assert!(parse_instance_arn("arn:aws:iam::1:role/x").is_err());
    }

    /// The `--sso-region` help names the regions the search really tries, in order.
    #[test]
    fn sso_region_help_names_the_probe_regions() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Probe {
            #[command(flatten)]
            ic: IcArgs,
        }
        let cmd = Probe::command();
        let help = cmd
            .get_arguments()
            .find(|a| a.get_id() == "sso_region")
            .and_then(|a| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&PROBE_REGIONS.join(", ")), "{flat}");
    }

    #[test]
    fn flags_become_the_library_options() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Probe {
            #[command(flatten)]
            ic: IcArgs,
        }
        let p = Probe::try_parse_from([
            "probe",
            "--identity-center",
            "false",
            "--sso-region",
            "eu-west-1",
            "--ic-assignment-strategy",
            "permission-set",
        ])
        .unwrap();
        let o = IcOptions::from(&p.ic);
        assert_eq!(o.mode, IcMode::Off);
        assert_eq!(o.sso_region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.instance_arn, None);
        assert_eq!(o.strategy, StrategyChoice::PermissionSet);
    }
}
