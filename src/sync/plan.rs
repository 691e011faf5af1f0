//! Plans a run: organization or single account, which accounts are read (filters, status,
//! overrides), with which member role and External ID, the organization-level records, and
//! the resource types the organization declares. An account id that does not parse is
//! refused here (left out, with a note), so none reaches the engine. [`start`] describes the
//! organization and leaves its accounts to an [`OrgWalk`], which plans each page of accounts
//! as the organization lists it (a sync enters them meanwhile); [`build`] does both.
//!
//! Not here: the flags (`cli::plan_args`, which validates them into [`PlanOptions`]), which
//! collectors read the accounts (`sync::run`), running the plan (`sync::engine`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::arn::AccountId;
use crate::aws::member_roles::AccountConfig;
use crate::aws::session::CallerIdentity;
use crate::aws::{AwsError, Session};
use crate::connector::collector::AccountInfo;
use crate::connector::org::{self, Discovered, OrgAccount, OrgKnowledge, OrgSnapshot};
use crate::model::stats::AccountStatus;
use crate::model::{Record, pb};

use super::plan_file::LoadedPlan;

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

pub use crate::aws::member_roles::DEFAULT_MEMBER_ROLE;

/// Planning failures.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("reading the organization: {0}")]
    Aws(#[from] AwsError),
    #[error("--orgs on, but {0}")]
    NoOrganization(String),
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
    /// The organization's accounts still to be listed ([`start`]); `None` once they are in
    /// `accounts` (and the organization's records in `org_records`).
    pub walk: Option<OrgWalk>,
    /// Notes for the summary (e.g. "not in an organization").
    pub notes: Vec<String>,
    /// The organization as read (org mode): for the per-organization collectors that map
    /// records onto its roots, OUs and accounts (service control policies). While [`walk`]
    /// is pending, only the organization and its roots; the walk hands over the whole
    /// ([`Walked::org`]).
    ///
    /// [`walk`]: Plan::walk
    pub org: Option<Arc<OrgSnapshot>>,
    /// Accounts not read by this run but accounted for (resumed, other shards).
    pub carried: super::carried::Carried,
}

/// The listing of an organization's OU tree and accounts, planning each page of accounts as
/// it arrives.
#[derive(Debug)]
pub(crate) struct OrgWalk {
    /// The organization and its roots.
    snap: OrgSnapshot,
    caller: CallerIdentity,
    opts: PlanOptions,
}

/// What an [`OrgWalk`] ends with, besides the accounts it handed over.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// The organization's records (organization, organizational units).
    pub org_records: Vec<Record>,
    /// Organizational units among them.
    pub ou_count: usize,
    /// Notes for the summary (accounts left out, `--accounts` and `--ous` ids not found).
    pub notes: Vec<String>,
    /// The organization as listed: roots, OUs and accounts (`None` without an organization).
    pub org: Option<Arc<OrgSnapshot>>,
}

impl OrgWalk {
    /// Lists the OU tree and the accounts, handing each planned account to `found` as its
    /// page arrives.
    pub async fn run(
        self,
        session: &Session,
        found: &mut (dyn FnMut(AccountPlan) + Send),
    ) -> Result<Walked, PlanError> {
        let OrgWalk {
            mut snap,
            caller,
            opts,
        } = self;
        let mut notes = vec![];
        let mut listed = vec![];
        org::walk(
            session.management(),
            session.org_limiter(),
            opts.ous.as_ref(),
            &mut snap,
            &mut |known, page| {
                // The tree as known when the page came (every ancestor of its node), without
                // accounts: what an account's own record needs.
                let tree = Arc::new(OrgSnapshot {
                    org: known.org.clone(),
                    roots: known.roots.clone(),
                    ous: known.ous.clone(),
                    accounts: vec![],
                    root_policy_types: known.root_policy_types.clone(),
                });
                for a in plan_page(&caller, &opts, &tree, &page, &mut notes) {
                    found(a);
                }
                listed.extend(page);
            },
        )
        .await?;
        snap.accounts = listed;
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(only) = &opts.accounts {
            notes.extend(unknown_accounts(&snap, only));
        }
        if let Some(tops) = &opts.ous {
            notes.extend(unknown_nodes(&snap, tops));
        }
        Ok(Walked {
            org_records: org::structure_records(&snap),
            ou_count: snap.ous.len(),
            notes,
            org: Some(Arc::new(snap)),
        })
    }
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
    /// The organization lists the account as ACTIVE (not suspended or closing).
    pub fn is_active(&self) -> bool {
        self.account.status == "ACTIVE"
    }

    /// The account's `account` resource, carrying how its sync ended.
    pub fn resource(&self, status: &AccountStatus) -> pb::Resource {
        org::account_resource(&self.org, &self.account, status)
    }
}

/// Builds the plan: the whole organization (filtered), or the caller's account.
pub(crate) async fn build(session: &Session, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut plan = start(session, opts).await?;
    if let Some(walk) = plan.walk.take() {
        let mut accounts = vec![];
        let walked = walk.run(session, &mut |a| accounts.push(a)).await?;
        accounts.sort_by(|a, b| a.info.account_id.cmp(&b.info.account_id));
        plan.accounts = accounts;
        plan.org_records = walked.org_records;
        plan.ou_count = walked.ou_count;
        plan.notes.extend(walked.notes);
        plan.org = walked.org;
    }
    Ok(plan)
}

/// Builds the plan from a plan file's listing (`sync::plan_file`) instead of listing the
/// organization: its roots, OUs and accounts, planned and filtered as [`build`] plans a
/// listing. No AWS call: the caller checks first that the plan is of its organization.
pub(crate) fn from_file(caller: &CallerIdentity, opts: &PlanOptions, loaded: &LoadedPlan) -> Plan {
    let snap = Arc::new(loaded.snapshot.clone());
    let tree = Arc::new(OrgSnapshot {
        accounts: vec![],
        ..loaded.snapshot.clone()
    });
    let mut notes = vec![format!(
        "the organization's accounts and OUs are those of the plan file {} (written {} by account {})",
        loaded.path.display(),
        loaded
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        loaded.listed_by
    )];
    let accounts = plan_page(caller, opts, &tree, &snap.accounts, &mut notes);
    if let Some(only) = &opts.accounts {
        notes.extend(unknown_accounts(&snap, only));
    }
    if let Some(tops) = &opts.ous {
        notes.extend(unknown_nodes(&snap, tops));
    }
    Plan {
        organization: match snap.org.as_ref().map(|o| o.master_account_id.clone()) {
            Some(m) if !m.is_empty() => OrgKnowledge::Management(m),
            _ => OrgKnowledge::None,
        },
        resource_types: org::RESOURCE_TYPES.to_vec(),
        org_records: org::structure_records(&snap),
        ou_count: snap.ous.len(),
        accounts,
        walk: None,
        notes,
        org: Some(snap),
        carried: Default::default(),
    }
}

/// Starts the plan: the organization described (its accounts left to [`Plan::walk`]), or the
/// caller's account.
pub(crate) async fn start(session: &Session, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut notes = vec![];
    let snap = match opts.orgs {
        OrgMode::Off => Err(OrgKnowledge::Unknown),
        OrgMode::Auto | OrgMode::On => read_organization(session, opts, &mut notes).await?,
    };
    let snap = match snap {
        Ok(s) => s,
        Err(organization) => return Ok(single_account(session, organization, notes)),
    };
    Ok(Plan {
        organization: match snap.org.as_ref().map(|o| o.master_account_id.clone()) {
            Some(m) if !m.is_empty() => OrgKnowledge::Management(m),
            // Asked, but the answer named no management account.
            _ => OrgKnowledge::None,
        },
        resource_types: org::RESOURCE_TYPES.to_vec(),
        org_records: vec![],
        ou_count: 0,
        accounts: vec![],
        org: Some(Arc::new(snap.clone())),
        walk: Some(OrgWalk {
            snap,
            caller: session.caller.clone(),
            opts: opts.clone(),
        }),
        notes,
        carried: Default::default(),
    })
}

/// The organization and its roots, or (without one, `--orgs auto`) what was learnt about it,
/// with a note.
async fn read_organization(
    session: &Session,
    opts: &PlanOptions,
    notes: &mut Vec<String>,
) -> Result<Result<OrgSnapshot, OrgKnowledge>, PlanError> {
    let found = org::describe(session.management(), session.org_limiter()).await?;
    match found {
        Discovered::Organization(s) => Ok(Ok(s)),
        Discovered::NoOrganization(no) if opts.orgs == OrgMode::On => {
            Err(PlanError::NoOrganization(no.reason))
        }
        Discovered::NoOrganization(no) => {
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
#[cfg(test)]
fn plan_accounts(
    caller: &CallerIdentity,
    opts: &PlanOptions,
    snap: &Arc<OrgSnapshot>,
    notes: &mut Vec<String>,
) -> Vec<AccountPlan> {
    plan_page(caller, opts, snap, &snap.accounts, notes)
}

/// The accounts of `page` that pass the filters, each with its role and External ID, their
/// records drawn from `tree` (which knows every ancestor of their nodes). An account whose id
/// does not parse is left out, with a note.
fn plan_page(
    caller: &CallerIdentity,
    opts: &PlanOptions,
    tree: &Arc<OrgSnapshot>,
    page: &[OrgAccount],
    notes: &mut Vec<String>,
) -> Vec<AccountPlan> {
    let partition = caller.partition.to_string();
    let in_ous = opts.ous.as_ref().map(|tops| tree.subtree(tops));
    let mut accounts = vec![];
    for a in page {
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
            &tree.path(&a.parent),
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
                is_caller: id == caller.account,
                account_id: id,
                name: a.name.clone(),
                arn: Some(a.arn.clone()).filter(|s| !s.is_empty()),
                partition: partition.clone(),
            },
            role: resolved.role_name,
            external_id: resolved.external_id,
            skip,
            org_account: Some(OrgAccountRecord {
                org: Arc::clone(tree),
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

/// Notes for `--ous` ids that are neither a root nor an OU of the organization.
fn unknown_nodes(snap: &OrgSnapshot, tops: &BTreeSet<String>) -> Vec<String> {
    let known: BTreeSet<&str> = snap
        .roots
        .iter()
        .chain(snap.ous.iter())
        .map(|n| n.id.as_str())
        .collect();
    tops.iter()
        .filter(|id| !known.contains(id.as_str()))
        .map(|id| format!("--ous names {id}, which is not a root or OU of the organization"))
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
        walk: None,
        notes,
        org: None,
        carried: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn::Partition;
    use crate::connector::org::Node;

    fn account(id: &str, name: &str, status: &str, parent: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: name.into(),
            arn: format!("arn:aws:organizations::111111111111:account/o-abc/{id}"),
            email: format!("{name}@example.com"),
            status: status.into(),
            joined: None,
            joined_method: None,
            parent: parent.into(),
        }
    }

    fn org() -> Arc<OrgSnapshot> {
        let node = |id: &str, parent: Option<&str>| Node {
            id: id.into(),
            name: id.into(),
            arn: String::new(),
            parent: parent.map(str::to_string),
        };
        Arc::new(OrgSnapshot {
            org: None,
            roots: vec![node("r-ab12", None)],
            ous: vec![node("ou-ab12-eng", Some("r-ab12"))],
            accounts: vec![
                account("111111111111", "management", "ACTIVE", "r-ab12"),
                account("22222222222x", "broken-id", "ACTIVE", "r-ab12"),
                account("333333333333", "dev", "ACTIVE", "ou-ab12-eng"),
                account("444444444444", "legacy", "SUSPENDED", "ou-ab12-eng"),
                account("555555555555", "excluded", "ACTIVE", "r-ab12"),
            ],
            ..Default::default()
        })
    }

    fn caller() -> CallerIdentity {
        CallerIdentity {
            account: "111111111111".parse().unwrap(),
            arn: "arn:aws:iam::111111111111:user/me".into(),
            partition: Partition::aws(),
        }
    }

    #[test]
    fn an_account_id_that_does_not_parse_is_left_out_with_a_note() {
        let opts = PlanOptions {
            exclude: BTreeSet::from(["555555555555".parse().unwrap()]),
            ..PlanOptions::default()
        };
        let mut notes = vec![];
        let plans = plan_accounts(&caller(), &opts, &org(), &mut notes);
        let ids: Vec<&str> = plans.iter().map(|p| p.info.account_id.as_str()).collect();
        assert_eq!(ids, ["111111111111", "333333333333", "444444444444"]);
        assert_eq!(
            notes,
            ["ignored an account with a malformed id '22222222222x'"]
        );
        assert!(plans[0].info.is_caller && !plans[1].info.is_caller);
        assert_eq!(plans[1].role, DEFAULT_MEMBER_ROLE);
        assert_eq!(plans[1].skip, None);
        assert!(plans[2].skip.as_deref().unwrap().contains("SUSPENDED"));
        // Each account's own record carries how its sync ended.
        let failed = AccountStatus::Skipped {
            reason: "not started".into(),
        };
        let r = plans[1].org_account.as_ref().unwrap().resource(&failed);
        assert_eq!(r.id.unwrap().resource, "333333333333");
    }

    #[test]
    fn filters_by_ou_and_notes_accounts_the_organization_does_not_have() {
        let only: BTreeSet<AccountId> = ["333333333333", "999999999999"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let opts = PlanOptions {
            ous: Some(BTreeSet::from(["ou-ab12-eng".to_string()])),
            accounts: Some(only.clone()),
            ..PlanOptions::default()
        };
        let mut notes = vec![];
        let plans = plan_accounts(&caller(), &opts, &org(), &mut notes);
        let ids: Vec<&str> = plans.iter().map(|p| p.info.account_id.as_str()).collect();
        assert_eq!(ids, ["333333333333"]);
        let tops = BTreeSet::from(["ou-ab12-eng".to_string(), "ou-zz99-zzzzzzzz".to_string()]);
        assert_eq!(
            unknown_nodes(&org(), &tops),
            ["--ous names ou-zz99-zzzzzzzz, which is not a root or OU of the organization"]
        );
        assert_eq!(
            unknown_accounts(&org(), &only),
            [
                "--accounts names 999999999999, which is not in the organization (or not under --ous)"
            ]
        );
    }
}
