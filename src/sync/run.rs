//! The library's entry point of a sync: [`run`] plans the run (`plan`; the organization's
//! accounts are listed while the engine reads them, except with filters, which are listed in
//! full first so that one selecting no account is refused, unless allowed; or taken from a
//! plan file, `plan_file`), chooses its collectors (IAM in every account; Identity
//! Center once, when an instance is found or required, its first `ListInstances` asked while
//! the organization is described; service control policies once, in an
//! organization that has them), and runs them (`engine`), streaming records to the caller's
//! sinks.
//!
//! Not here: connecting (the caller passes a [`Session`]), creating or finishing the sinks,
//! the exit code, printing (`cli::cmd::sync`).

use std::sync::Arc;
use std::time::Duration;

use crate::model::stats::SyncType;

use crate::aws::Session;
use crate::connector::iam::collector::IamCollector;
use crate::connector::iam::read::IamReadOptions;
use crate::connector::identity_center::discover::{self, FirstRegion};
use crate::connector::identity_center::{self, IcMode, IcOptions};
use crate::connector::org;
use crate::connector::scp::{self, ScpOptions};
use crate::store::SinkSet;

use super::engine::{self, EngineError, EngineOptions};
use super::observer::Observer;
use super::plan::{self, Plan, PlanError, PlanOptions};
use super::plan_file::{LoadedPlan, PlanFileError};
use super::result::RunResult;
use super::resume::{self, Prior};
use super::shard::{self, NotAnOrganization, Shard};
use crate::connector::collector::Collectors;

/// Everything a sync needs besides the connection and the sinks.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Which accounts, with which role.
    pub plan: PlanOptions,
    /// Whether and how Identity Center is read.
    pub ic: IcOptions,
    /// How IAM is read in each account.
    pub iam: IamReadOptions,
    /// Whether and how service control policies are read (organizations only).
    pub scps: ScpOptions,
    /// Accounts read at the same time (at least 1).
    pub concurrency: usize,
    /// Stop at the first failed account or phase.
    pub fail_fast: bool,
    /// Allow filters (`plan.accounts`, `plan.exclude`, `plan.ous`) that select no account.
    pub allow_empty: bool,
    /// Pause before the second pass over accounts that failed throttled or timed out.
    pub second_pass_pause: Duration,
    /// Read only this shard of the organization (`sync::shard`).
    pub shard: Option<Shard>,
    /// The organization's listing from a plan file (`sync::plan_file`), instead of listing
    /// it.
    pub plan_file: Option<Arc<LoadedPlan>>,
    /// Accounts an interrupted run of the same scope already read (`sync::resume`).
    pub prior: Prior,
}

/// Failures that stop a sync (an account's or a phase's failure does not: it is recorded in
/// the [`RunResult`]).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(
        "the filters ({filters}) select no account{}; nothing was written (pass --allow-empty to write a sync without accounts)",
        if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) }
    )]
    NothingSelected { filters: String, notes: Vec<String> },
    #[error(transparent)]
    Shard(#[from] NotAnOrganization),
    /// A plan file (`--plan`) of another organization than the caller's.
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
}

/// Refuses `loaded` unless it is the plan of the caller's organization: one Organizations
/// call (`DescribeOrganization`).
async fn check_plan_file(session: &Session, loaded: &LoadedPlan) -> Result<(), SyncError> {
    let found = org::organization(session.management(), session.org_limiter())
        .await
        .map_err(PlanError::from)?;
    match found {
        Ok(Some(actual)) => Ok(loaded.check_organization(&actual)?),
        Ok(None) => Err(loaded.no_organization("the answer named none").into()),
        Err(none) => Err(loaded.no_organization(&none.reason).into()),
    }
}

/// Runs one sync into `sinks` and reports how every account and phase ended. The sinks are
/// left open: the caller finishes them (or abandons the run).
pub async fn run(
    session: &Session,
    config: &SyncConfig,
    sinks: &SinkSet,
    observer: &dyn Observer,
) -> Result<RunResult, SyncError> {
    // With filters that might select nothing, the organization is listed in full first, so
    // that an empty selection is refused before anything is read; otherwise accounts are
    // entered as the organization lists them (`plan::start`, the engine walks the rest).
    let refuse_empty = filters(&config.plan).filter(|_| !config.allow_empty);
    // A shard and a resumed run choose their accounts from the whole list, so they list it
    // first too.
    let whole_list_first =
        refuse_empty.is_some() || config.shard.is_some() || !config.prior.is_empty();
    let org_phases = config.shard.is_none_or(|s| s.runs_org_phases());
    // Identity Center's first `ListInstances` is asked while the organization is described.
    let first_region = async {
        match config.ic.mode {
            IcMode::Off => None,
            _ if !org_phases => None,
            _ => Some(discover::first_region(session, config.ic.sso_region.as_deref()).await),
        }
    };
    let planning = async {
        if let Some(loaded) = &config.plan_file {
            check_plan_file(session, loaded).await?;
            Ok::<_, SyncError>(plan::from_file(&session.caller, &config.plan, loaded))
        } else if whole_list_first {
            Ok(plan::build(session, &config.plan).await?)
        } else {
            Ok(plan::start(session, &config.plan).await?)
        }
    };
    let (plan, first_region) = tokio::join!(planning, first_region);
    let mut plan = plan?;
    if plan.accounts.is_empty()
        && plan.walk.is_none()
        && let Some(filters) = refuse_empty
    {
        return Err(SyncError::NothingSelected {
            filters,
            notes: plan.notes,
        });
    }
    let shard_stats = match config.shard {
        Some(s) => Some(shard::apply(s, &mut plan, filters(&config.plan).is_some())?),
        None => None,
    };
    resume::apply(&config.prior, &mut plan);
    let phases = org_phases.then_some(first_region);
    let collectors = choose_collectors(session, config, &mut plan, phases).await;
    let opts = EngineOptions {
        concurrency: config.concurrency,
        fail_fast: config.fail_fast,
        second_pass_pause: config.second_pass_pause,
    };
    let mut result = engine::run(session, plan, &collectors, &opts, sinks, observer).await?;
    result.scope = result.scope_of(filter_flags(&config.plan), &result.inactive);
    if let Some(s) = &shard_stats {
        // A shard holds part of the organization by design: baton's `partial` type, with the
        // shard named in the stats (`orgsync merge` writes the whole).
        result.scope.sync_type = SyncType::Partial;
        result
            .scope
            .filters
            .push(format!("--shard {}/{}", s.index, s.count));
    }
    result.shard = shard_stats;
    Ok(result)
}

/// The account filters given, as flags (`--accounts 1, --ous ou-…`), or None without any.
fn filters(p: &PlanOptions) -> Option<String> {
    let given = filter_flags(p);
    (!given.is_empty()).then(|| given.join(" "))
}

/// The account filters given, one flag with its values each (`--accounts 1,2`).
fn filter_flags(p: &PlanOptions) -> Vec<String> {
    let join = |v: Vec<String>| v.join(",");
    let mut given = vec![];
    if let Some(a) = &p.accounts {
        given.push(format!(
            "--accounts {}",
            join(a.iter().map(|x| x.to_string()).collect())
        ));
    }
    if let Some(o) = &p.ous {
        given.push(format!("--ous {}", join(o.iter().cloned().collect())));
    }
    if !p.exclude.is_empty() {
        given.push(format!(
            "--exclude-accounts {}",
            join(p.exclude.iter().map(|x| x.to_string()).collect())
        ));
    }
    given
}

/// IAM in every account; Identity Center when `config.ic` and the search for an instance
/// say so (its notes go to `plan`); then service control policies when `config.scps` and the
/// organization allow. Their resource types are added to the plan's. Without `org_phases`
/// (a shard other than 0) there are no per-organization collectors; with them, Identity
/// Center's first region as already asked, if it was.
async fn choose_collectors(
    session: &Session,
    config: &SyncConfig,
    plan: &mut Plan,
    org_phases: Option<Option<FirstRegion>>,
) -> Collectors {
    let mut collectors = Collectors::default();
    collectors
        .per_account
        .push(Box::new(IamCollector::new(config.iam.clone())));
    let Some(first_region) = org_phases else {
        for t in collectors.resource_types() {
            if !plan.resource_types.contains(&t) {
                plan.resource_types.push(t);
            }
        }
        return collectors;
    };
    // Accounts still to be walked: Identity Center reads its assignments meanwhile.
    let listed_later = plan.walk.is_some();
    let org = &plan.organization;
    let notes = &mut plan.notes;
    let ic =
        identity_center::phase::attach(session, &config.ic, org, listed_later, first_region, notes);
    if let Some(ic) = ic.await {
        collectors.per_org.push(ic);
    }
    if let Some(scps) = scp::attach(&config.scps, plan.org.as_ref(), &mut plan.notes) {
        collectors.per_org.push(scps);
    }
    for t in collectors.resource_types() {
        if !plan.resource_types.contains(&t) {
            plan.resource_types.push(t);
        }
    }
    collectors
}
