//! Plans a run: organization or single account, which accounts are read (filters, status,
//! overrides), with which member role and External ID, the organization-level records, and
//! the resource types the organization declares. An account id that does not parse is
//! refused here (left out, with a note), so none reaches the engine.
//!
//! Not here: the flags (`cli::plan_args`, which validates them into [`PlanOptions`]), which
//! collectors read the accounts (`sync::run`), running the plan (`sync::engine`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::arn::AccountId;
use crate::aws::member_roles::AccountConfig;
use crate::aws::{AwsError, Session};
use crate::connector::iam::records::AccountInfo;
use crate::connector::org::{self, OrgAccount, OrgSnapshot};
use crate::model::stats::AccountStatus;
use crate::model::{Record, pb, types as rt};

/// Organization mode (`--orgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgMode {
    /// Sync the whole organization when the caller can list it, else the caller's account.
    Auto,
    /// Require an organization (fail if it cannot be listed).
    On,
    /// Sync only the caller's account.
    Off,
}

/// Validated planning options.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub orgs: OrgMode,
    /// Member role name, with an optional path (no leading or trailing `/`).
    pub member_role: String,
    pub member_external_id: Option<String>,
    pub overrides: AccountConfig,
    pub accounts: Option<BTreeSet<AccountId>>,
    pub exclude: BTreeSet<AccountId>,
    /// OU or root ids.
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

/// The role assumed in member accounts unless `--member-role-name` (or an `--account-config`
/// entry) names another: the role AWS Organizations creates in accounts it creates.
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

/// The IAM resource types every run declares.
pub(crate) const IAM_TYPES: [&str; 7] = [
    rt::ACCOUNT_IAM,
    rt::IAM_USER,
    rt::GROUP,
    rt::ROLE,
    rt::IAM_POLICY,
    rt::INLINE_POLICY,
    rt::ACCESS_KEY,
];

/// The organization resource types.
pub(crate) const ORG_TYPES: [&str; 3] = [rt::ORGANIZATION, rt::ORGANIZATIONAL_UNIT, rt::ACCOUNT];

/// Planning failures.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("reading the organization: {0}")]
    Aws(#[from] AwsError),
    #[error("--orgs on, but {0}")]
    NoOrganization(String),
}

/// What planning learnt about the caller's organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum OrgKnowledge {
    /// Not asked (`--orgs off`).
    #[default]
    Unknown,
    /// Not in an organization, or not allowed to describe it.
    None,
    /// In an organization whose management account is this.
    Management(String),
}

/// What the run covers.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The organization, as far as planning read it.
    pub organization: OrgKnowledge,
    /// Resource types to write (ids). The collectors' types are added by `sync::run`.
    pub resource_types: Vec<&'static str>,
    /// Organization-level records (organization, organizational units), written first.
    pub org_records: Vec<Record>,
    /// Organizational units among `org_records` (0 without an organization).
    pub ou_count: usize,
    pub accounts: Vec<AccountPlan>,
    /// Notes for the summary (e.g. "not in an organization").
    pub notes: Vec<String>,
}

/// An account the run will visit (or record as skipped).
#[derive(Debug, Clone)]
pub(crate) struct AccountPlan {
    pub info: AccountInfo,
    /// Member role (name with optional path) and External ID for the hop.
    pub role: String,
    pub external_id: Option<String>,
    /// Why the account is not read, if it is not.
    pub skip: Option<String>,
    /// The account as the organization lists it (org mode): its own `account` record.
    pub org_account: Option<OrgAccountRecord>,
}

/// An organization account whose `account` resource is written with its outcome.
#[derive(Debug, Clone)]
pub(crate) struct OrgAccountRecord {
    org: Arc<OrgSnapshot>,
    account: OrgAccount,
}

impl OrgAccountRecord {
    /// The account's `account` resource, carrying how its sync ended.
    pub fn resource(&self, status: &AccountStatus) -> pb::Resource {
        org::account_resource(&self.org, &self.account, status)
    }
}

/// Builds the plan: the whole organization (filtered), or the caller's account.
pub(crate) async fn build(session: &Session, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut notes = vec![];
    let snap = match opts.orgs {
        OrgMode::Off => Err(OrgKnowledge::Unknown),
        OrgMode::Auto | OrgMode::On => read_organization(session, opts, &mut notes).await?,
    };
    let snap = match snap {
        Ok(s) => Arc::new(s),
        Err(organization) => return Ok(single_account(session, organization, notes)),
    };
    let accounts = plan_accounts(session, opts, &snap, &mut notes);
    if let Some(only) = &opts.accounts {
        notes.extend(unknown_accounts(&snap, only));
    }
    Ok(Plan {
        organization: match snap.org.as_ref().map(|o| o.master_account_id.clone()) {
            Some(m) if !m.is_empty() => OrgKnowledge::Management(m),
            // Asked, but the answer named no management account.
            _ => OrgKnowledge::None,
        },
        resource_types: ORG_TYPES.to_vec(),
        org_records: org::structure_records(&snap),
        ou_count: snap.ous.len(),
        accounts,
        notes,
    })
}

/// The organization, or (without one, `--orgs auto`) what was learnt about it, with a note.
async fn read_organization(
    session: &Session,
    opts: &PlanOptions,
    notes: &mut Vec<String>,
) -> Result<Result<OrgSnapshot, OrgKnowledge>, PlanError> {
    let found = org::discover(
        session.management(),
        session.org_limiter(),
        opts.ous.as_ref(),
    )
    .await?;
    match found {
        Ok(s) => Ok(Ok(s)),
        Err(no) if opts.orgs == OrgMode::On => Err(PlanError::NoOrganization(no.reason)),
        Err(no) => {
            notes.push(format!(
                "{}; syncing the caller's account {} alone",
                no.reason, session.caller.account
            ));
            Ok(Err(match no.management_account {
                Some(m) => OrgKnowledge::Management(m),
                None => OrgKnowledge::None,
            }))
        }
    }
}

/// The organization's accounts that pass the filters, each with its role and External ID.
/// An account whose id does not parse is left out, with a note.
fn plan_accounts(
    session: &Session,
    opts: &PlanOptions,
    snap: &Arc<OrgSnapshot>,
    notes: &mut Vec<String>,
) -> Vec<AccountPlan> {
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
        accounts.push(AccountPlan {
            info: AccountInfo {
                is_caller: id == session.caller.account,
                account_id: id,
                name: a.name.clone(),
                arn: Some(a.arn.clone()).filter(|s| !s.is_empty()),
                partition: partition.clone(),
            },
            role: resolved.role_name,
            external_id: resolved.external_id,
            skip,
            org_account: Some(OrgAccountRecord {
                org: Arc::clone(snap),
                account: a.clone(),
            }),
        });
    }
    accounts
}

/// Notes for `--accounts` ids the organization (or `--ous`) does not have.
fn unknown_accounts(snap: &OrgSnapshot, only: &BTreeSet<AccountId>) -> Vec<String> {
    let known: BTreeSet<&str> = snap.accounts.iter().map(|a| a.id.as_str()).collect();
    only.iter()
        .filter(|id| !known.contains(id.as_str()))
        .map(|id| {
            format!("--accounts names {id}, which is not in the organization (or not under --ous)")
        })
        .collect()
}

fn single_account(session: &Session, organization: OrgKnowledge, notes: Vec<String>) -> Plan {
    let account = session.caller.account.clone();
    Plan {
        organization,
        resource_types: vec![],
        org_records: vec![],
        ou_count: 0,
        accounts: vec![AccountPlan {
            info: AccountInfo {
                name: account.to_string(),
                account_id: account,
                arn: None,
                is_caller: true,
                partition: session.caller.partition.to_string(),
            },
            role: String::new(),
            external_id: None,
            skip: None,
            org_account: None,
        }],
        notes,
    }
}
