//! The library's entry point of a sync: [`run`] plans the run (`plan`), chooses its
//! collectors (IAM in every account; Identity Center once, when an instance is found or
//! required), and runs them (`engine`), streaming records to the caller's sinks.
//!
//! Not here: connecting (the caller passes a [`Session`]), creating or finishing the sinks,
//! the exit code, printing (`cli::cmd::sync`).

use crate::aws::Session;
use crate::connector::iam::collector::IamCollector;
use crate::connector::iam::read::IamReadOptions;
use crate::connector::identity_center::{self, IcOptions};
use crate::store::SinkSet;

use super::collector::Collectors;
use super::engine::{self, EngineError, EngineOptions};
use super::observer::Observer;
use super::plan::{self, Plan, PlanError, PlanOptions};
use super::result::RunResult;

/// Everything a sync needs besides the connection and the sinks.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Which accounts, with which role.
    pub plan: PlanOptions,
    /// Whether and how Identity Center is read.
    pub ic: IcOptions,
    /// How IAM is read in each account.
    pub iam: IamReadOptions,
    /// Accounts read at the same time (at least 1).
    pub concurrency: usize,
    /// Stop at the first failed account or phase.
    pub fail_fast: bool,
}

/// Failures that stop a sync (an account's or a phase's failure does not: it is recorded in
/// the [`RunResult`]).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Runs one sync into `sinks` and reports how every account and phase ended. The sinks are
/// left open: the caller finishes them (or abandons the run).
pub async fn run(
    session: &Session,
    config: &SyncConfig,
    sinks: &SinkSet,
    observer: &dyn Observer,
) -> Result<RunResult, SyncError> {
    let mut plan = plan::start(session, &config.plan).await?;
    let collectors = choose_collectors(session, config, &mut plan).await;
    let opts = EngineOptions {
        concurrency: config.concurrency,
        fail_fast: config.fail_fast,
    };
    Ok(engine::run(session, plan, &collectors, &opts, sinks, observer).await?)
}

/// IAM in every account; Identity Center when `config.ic` and the search for an instance
/// say so (its notes go to `plan`). Their resource types are added to the plan's.
async fn choose_collectors(session: &Session, config: &SyncConfig, plan: &mut Plan) -> Collectors {
    let mut collectors = Collectors::default();
    collectors
        .per_account
        .push(Box::new(IamCollector::new(config.iam.clone())));
    if let Some(ic) = identity_center::phase::attach(session, &config.ic, plan).await {
        collectors.per_org.push(ic);
    }
    for t in collectors.resource_types() {
        if !plan.resource_types.contains(&t) {
            plan.resource_types.push(t);
        }
    }
    collectors
}
