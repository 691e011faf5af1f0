//! The planning flags of `orgsync sync`, `run` and `check` (`--orgs`, `--member-role-name`,
//! `--accounts`, …) and their conversion into the library's [`PlanOptions`]: ids are parsed,
//! the role name is checked and the `--account-config` file is read before any AWS call.
//!
//! Not here: planning itself (`sync::plan`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::arn::AccountId;
use crate::aws::member_roles::AccountConfig;
use crate::cli::args::checked;
use crate::ident::{ExternalId, OuOrRootId, RoleRef};
use crate::sync::{DEFAULT_MEMBER_ROLE, OrgMode, PlanOptions};

/// `--orgs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgModeArg {
    /// Sync the whole organization when the caller can list it, else the caller's account.
    Auto,
    /// Require an organization (fail if it cannot be listed).
    #[value(alias = "true")]
    On,
    /// Sync only the caller's account.
    #[value(alias = "false")]
    Off,
}

impl From<OrgModeArg> for OrgMode {
    fn from(m: OrgModeArg) -> OrgMode {
        match m {
            OrgModeArg::Auto => OrgMode::Auto,
            OrgModeArg::On => OrgMode::On,
            OrgModeArg::Off => OrgMode::Off,
        }
    }
}

/// A comma-separated list of account ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountList(pub Vec<AccountId>);

/// A comma-separated list of OU or root ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuList(pub Vec<String>);

/// The non-empty items of a comma-separated list, each parsed by `parse`; a list without any
/// item is refused (an empty filter would select nothing).
fn parse_list<T>(
    s: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let items: Vec<T> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(parse)
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Err(format!("'{}' names no {what}", crate::ident::shown(s)));
    }
    Ok(items)
}

fn parse_account_list(s: &str) -> Result<AccountList, String> {
    parse_list(s, "account id", |x| {
        x.parse::<AccountId>().map_err(|e| e.to_string())
    })
    .map(AccountList)
}

fn parse_ou_list(s: &str) -> Result<OuList, String> {
    parse_list(s, "OU or root id", |x| {
        x.parse::<OuOrRootId>()
            .map(OuOrRootId::into_string)
            .map_err(|e| e.to_string())
    })
    .map(OuList)
}

/// Planning flags of `orgsync sync`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Organization mode: auto (whole org when listable, else the caller's account), on, off.
    #[arg(
        long,
        env = "ORGSYNC_ORGS",
        value_enum,
        default_value = "auto",
        help_heading = "Organization"
    )]
    pub orgs: OrgModeArg,

    /// Role assumed in each member account (a name, optionally with a path: ops/OrgSyncReader).
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_ROLE_NAME",
        default_value = DEFAULT_MEMBER_ROLE,
        value_parser = checked::<RoleRef>,
        help_heading = "Organization"
    )]
    pub member_role_name: RoleRef,

    /// External ID sent on every member-account hop.
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_EXTERNAL_ID",
        value_parser = checked::<ExternalId>,
        help_heading = "Organization"
    )]
    pub member_external_id: Option<ExternalId>,

    /// YAML file of per-account / per-OU overrides: role_name, external_id, skip.
    #[arg(
        long,
        env = "ORGSYNC_ACCOUNT_CONFIG",
        value_name = "FILE",
        help_heading = "Organization"
    )]
    pub account_config: Option<PathBuf>,

    /// Only these accounts (comma-separated ids).
    #[arg(long, env = "ORGSYNC_ACCOUNTS", value_parser = parse_account_list, help_heading = "Organization")]
    pub accounts: Option<AccountList>,

    /// Leave out these accounts (comma-separated ids).
    #[arg(long, env = "ORGSYNC_EXCLUDE_ACCOUNTS", value_parser = parse_account_list, help_heading = "Organization")]
    pub exclude_accounts: Option<AccountList>,

    /// Only accounts under these OUs or roots (comma-separated ids; an OU includes its subtree).
    #[arg(long, env = "ORGSYNC_OUS", value_parser = parse_ou_list, help_heading = "Organization")]
    pub ous: Option<OuList>,
}

impl PlanArgs {
    /// The flags as the library's options (the values were checked by clap); reads and checks
    /// the overrides file.
    pub fn options(&self) -> Result<PlanOptions, anyhow::Error> {
        let overrides = match &self.account_config {
            Some(p) => AccountConfig::load(p)?,
            None => AccountConfig::default(),
        };
        Ok(PlanOptions {
            orgs: self.orgs.into(),
            member_role: self.member_role_name.trimmed().to_string(),
            member_external_id: self.member_external_id.as_ref().map(|x| x.to_string()),
            overrides,
            accounts: self.accounts.clone().map(|v| v.0.into_iter().collect()),
            exclude: self
                .exclude_accounts
                .clone()
                .map(|v| v.0)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            ous: self.ous.clone().map(|v| v.0.into_iter().collect()),
        })
    }
}
