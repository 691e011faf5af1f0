//! Plans a run: organization or single account, which accounts are read (filters, status,
//! overrides), with which member role and External ID, and which resource types the output
//! declares. Flags are validated here, before any AWS call.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::arn::AccountId;
use crate::aws::{AwsError, Session};
use crate::model::Record;
use crate::model::types as rt;

use super::engine::{AccountPlan, AccountRecordFn, OrgKnowledge, Plan};
use crate::aws::member_roles::{AccountConfig, is_ou_or_root_id};
use crate::connector::iam::records::AccountInfo;
use crate::connector::org::{self, Discovered};

/// `--orgs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgMode {
    /// Sync the whole organization when the caller can list it, else the caller's account.
    Auto,
    /// Require an organization (fail if it cannot be listed).
    #[value(alias = "true")]
    On,
    /// Sync only the caller's account.
    #[value(alias = "false")]
    Off,
}

/// A comma-separated list of account ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountList(pub Vec<AccountId>);

/// A comma-separated list of OU or root ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuList(pub Vec<String>);

fn parse_account_list(s: &str) -> Result<AccountList, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| x.parse::<AccountId>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()
        .map(AccountList)
}

fn parse_ou_list(s: &str) -> Result<OuList, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            if is_ou_or_root_id(x) {
                Ok(x.to_string())
            } else {
                Err(format!("'{x}' is not an OU or root id (ou-…, r-…)"))
            }
        })
        .collect::<Result<_, _>>()
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
    pub orgs: OrgMode,

    /// Role assumed in each member account (a name, optionally with a path: ops/OrgSyncReader).
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_ROLE_NAME",
        default_value = DEFAULT_MEMBER_ROLE,
        help_heading = "Organization"
    )]
    pub member_role_name: String,

    /// External ID sent on every member-account hop.
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_EXTERNAL_ID",
        help_heading = "Organization"
    )]
    pub member_external_id: Option<String>,

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

/// Validated planning options.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub orgs: OrgMode,
    pub member_role: String,
    pub member_external_id: Option<String>,
    pub overrides: AccountConfig,
    pub accounts: Option<BTreeSet<AccountId>>,
    pub exclude: BTreeSet<AccountId>,
    pub ous: Option<BTreeSet<String>>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            orgs: OrgMode::Auto,
            member_role: DEFAULT_MEMBER_ROLE.into(),
            member_external_id: None,
            overrides: AccountConfig::default(),
            accounts: None,
            exclude: BTreeSet::new(),
            ous: None,
        }
    }
}

impl PlanArgs {
    /// Validates the flags (and reads the overrides file).
    pub fn options(&self) -> Result<PlanOptions, anyhow::Error> {
        let role = self.member_role_name.trim_matches('/');
        if role.is_empty()
            || !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        {
            anyhow::bail!(
                "--member-role-name '{}' is not a valid IAM role name/path",
                self.member_role_name
            );
        }
        let overrides = match &self.account_config {
            Some(p) => AccountConfig::load(p)?,
            None => AccountConfig::default(),
        };
        Ok(PlanOptions {
            orgs: self.orgs,
            member_role: role.to_string(),
            member_external_id: self.member_external_id.clone(),
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

/// The role assumed in member accounts unless `--member-role-name` (or an `--account-config`
/// entry) names another: the role AWS Organizations creates in accounts it creates.
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

/// The IAM resource types every run declares.
pub const IAM_TYPES: [&str; 7] = [
    rt::ACCOUNT_IAM,
    rt::IAM_USER,
    rt::GROUP,
    rt::ROLE,
    rt::IAM_POLICY,
    rt::INLINE_POLICY,
    rt::ACCESS_KEY,
];

/// The organization resource types.
pub const ORG_TYPES: [&str; 3] = [rt::ORGANIZATION, rt::ORGANIZATIONAL_UNIT, rt::ACCOUNT];

/// Planning failures.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("reading the organization: {0}")]
    Aws(#[from] AwsError),
    #[error("--orgs on, but {0}")]
    NoOrganization(String),
}

/// Builds the plan: the whole organization (filtered), or the caller's account.
pub async fn build(session: &Session, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut notes = vec![];
    let mut organization = OrgKnowledge::Unknown;
    let snap = match opts.orgs {
        OrgMode::Off => None,
        OrgMode::Auto | OrgMode::On => {
            match org::discover(
                session.management(),
                session.org_limiter(),
                opts.ous.as_ref(),
            )
            .await?
            {
                Discovered::Organization(s) => Some(s),
                Discovered::NoOrganization(no) if opts.orgs == OrgMode::On => {
                    return Err(PlanError::NoOrganization(no.reason));
                }
                Discovered::NoOrganization(no) => {
                    organization = match no.management_account {
                        Some(m) => OrgKnowledge::Management(m),
                        None => OrgKnowledge::None,
                    };
                    notes.push(format!(
                        "{}; syncing the caller's account {} alone",
                        no.reason, session.caller.account
                    ));
                    None
                }
            }
        }
    };
    let Some(snap) = snap else {
        return Ok(single_account(session, organization, notes));
    };
    let snap = Arc::new(snap);
    let partition = session.caller.partition.to_string();
    let in_ous = opts.ous.as_ref().map(|tops| snap.subtree(tops));
    let mut accounts = vec![];
    for a in &snap.accounts {
        let Ok(id) = a.id.parse::<AccountId>() else {
            notes.push(format!("ignored an account with a malformed id '{}'", a.id));
            continue;
        };
        if opts
            .accounts
            .as_ref()
            .is_some_and(|only| !only.contains(&id))
            || opts.exclude.contains(&id)
            || in_ous.as_ref().is_some_and(|set| !set.contains(&a.parent))
        {
            continue;
        }
        let resolved = opts.overrides.resolve(
            &id,
            &snap.path(&a.parent),
            &opts.member_role,
            opts.member_external_id.as_deref(),
        );
        let skip = if a.status != "ACTIVE" {
            Some(format!(
                "account is {}; only ACTIVE accounts are entered",
                a.status
            ))
        } else {
            resolved.skip
        };
        let builder = {
            let snap = Arc::clone(&snap);
            let acct = a.clone();
            AccountRecordFn(Arc::new(move |status| {
                Record::Resource(org::account_resource(&snap, &acct, status))
            }))
        };
        accounts.push(AccountPlan {
            info: AccountInfo {
                account_id: a.id.clone(),
                name: a.name.clone(),
                arn: Some(a.arn.clone()).filter(|s| !s.is_empty()),
                is_caller: id == session.caller.account,
                partition: partition.clone(),
            },
            role: resolved.role_name,
            external_id: resolved.external_id,
            skip,
            account_record: Some(builder),
        });
    }
    if let Some(only) = &opts.accounts {
        let known: BTreeSet<&str> = snap.accounts.iter().map(|a| a.id.as_str()).collect();
        for id in only {
            if !known.contains(id.as_str()) {
                notes.push(format!(
                    "--accounts names {id}, which is not in the organization (or not under --ous)"
                ));
            }
        }
    }
    let mut resource_types: Vec<&'static str> = ORG_TYPES.to_vec();
    resource_types.extend(IAM_TYPES);
    Ok(Plan {
        organization: match snap.org.as_ref().map(|o| o.master_account_id.clone()) {
            Some(m) if !m.is_empty() => OrgKnowledge::Management(m),
            // Asked, but the answer named no management account.
            _ => OrgKnowledge::None,
        },
        resource_types,
        org_records: org::structure_records(&snap),
        ou_count: snap.ous.len(),
        accounts,
        notes,
        phases: vec![],
    })
}

fn single_account(session: &Session, organization: OrgKnowledge, notes: Vec<String>) -> Plan {
    let account = session.caller.account.to_string();
    Plan {
        organization,
        resource_types: IAM_TYPES.to_vec(),
        org_records: vec![],
        ou_count: 0,
        accounts: vec![AccountPlan {
            info: AccountInfo {
                account_id: account.clone(),
                name: account,
                arn: None,
                is_caller: true,
                partition: session.caller.partition.to_string(),
            },
            role: String::new(),
            external_id: None,
            skip: None,
            account_record: None,
        }],
        notes,
        phases: vec![],
    }
}
