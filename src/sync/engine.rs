//! The engine: runs a plan with its collectors. It writes the resource types and the
//! organization records, then enters every planned account, `concurrency` at a time, and runs
//! the per-account collectors there; each account's records (with its own `account` record)
//! go to the writer as one unit. An account's failure is recorded, never fatal unless
//! `fail_fast`. The per-organization collectors run after the accounts. Progress goes to an
//! observer.
//!
//! Not here: which accounts, with which role (`plan`), which collectors (`run`), what is read
//! in an account (the collectors), writing files (`store`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::arn::AccountId;
use crate::aws::{AwsError, Session};
use crate::model::stats::{AccountOutcome, AccountStatus};
use crate::model::{Record, pb, types as rt};
use crate::store::{SinkSet, StoreError, Unit};

use super::observer::{Event, Observer};
use super::plan::{AccountPlan, Plan};
use super::result::{PhaseOutcome, RunResult};
use crate::connector::collector::{
    AccountCollector, Collected, Collectors, OrgCollector, OrgInput,
};

/// Options of the engine.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    pub concurrency: usize,
    pub fail_fast: bool,
}

/// Engine failures that stop the whole run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs `plan`: resource types, organization records, every account, then the
/// per-organization collectors (skipped once `fail_fast` stopped the run).
pub(crate) async fn run(
    session: &Session,
    plan: Plan,
    collectors: &Collectors,
    opts: &EngineOptions,
    sinks: &SinkSet,
    observer: &dyn Observer,
) -> Result<RunResult, EngineError> {
    let start = Instant::now();
    write_preamble(&plan.resource_types, plan.org_records, sinks).await?;
    observer.on_event(&Event::Planned {
        accounts: plan.accounts.len(),
    });
    let accounts = Accounts {
        session,
        collectors: &collectors.per_account,
        opts,
        sinks,
        observer,
        stop: AtomicBool::new(false),
    };
    let (outcomes, account_resources) = accounts.run(plan.accounts).await?;
    let stopped = accounts
        .stop
        .load(Ordering::SeqCst)
        .then(|| "an account failed and --fail-fast is set".to_string());
    let mut notes = plan.notes;
    let mut phases = vec![];
    if stopped.is_none() {
        let input = || OrgInput {
            session,
            accounts: &account_resources,
        };
        for collector in &collectors.per_org {
            let phase = run_phase(collector.as_ref(), input(), sinks, observer, &mut notes).await?;
            let failed = phase.error.is_some();
            phases.push(phase);
            if failed && opts.fail_fast {
                break;
            }
        }
    }
    let stopped = stopped.or_else(|| {
        (opts.fail_fast && phases.iter().any(|p| p.error.is_some()))
            .then(|| "a phase failed and --fail-fast is set".to_string())
    });
    Ok(RunResult {
        accounts: outcomes,
        phases,
        notes,
        duration: start.elapsed(),
        stopped,
    })
}

/// The resource-type records, then the organization records (when there are any).
async fn write_preamble(
    types: &[&'static str],
    org_records: Vec<Record>,
    sinks: &SinkSet,
) -> Result<(), StoreError> {
    let types: Vec<Record> = types
        .iter()
        .filter_map(|t| rt::resource_type(t))
        .map(Record::ResourceType)
        .collect();
    sinks.send(unit("resource types", types, vec![])).await?;
    if !org_records.is_empty() {
        sinks
            .send(unit("organization", org_records, vec![]))
            .await?;
    }
    Ok(())
}

fn unit(label: impl Into<String>, records: Vec<Record>, shared: Vec<Record>) -> Unit {
    Unit {
        label: label.into(),
        records,
        shared,
    }
}

/// The account part of a run.
struct Accounts<'a> {
    session: &'a Session,
    collectors: &'a [Box<dyn AccountCollector>],
    opts: &'a EngineOptions,
    sinks: &'a SinkSet,
    observer: &'a dyn Observer,
    /// Set by the first failure when `fail_fast`: accounts not started yet are skipped.
    stop: AtomicBool,
}

impl Accounts<'_> {
    /// Visits every account, `concurrency` at a time. Returns the outcomes in account id
    /// order, and the `account` resources (org mode) by account id.
    async fn run(
        &self,
        accounts: Vec<AccountPlan>,
    ) -> Result<(Vec<AccountOutcome>, BTreeMap<AccountId, pb::Resource>), StoreError> {
        let mut outcomes = vec![];
        let mut resources = BTreeMap::new();
        let mut results = stream::iter(accounts.iter().map(|a| self.visit(a)))
            .buffer_unordered(self.opts.concurrency.max(1));
        while let Some(r) = results.next().await {
            let (outcome, resource) = r?;
            if let Some(res) = resource {
                resources.insert(outcome.account_id.clone(), res);
            }
            outcomes.push(outcome);
        }
        drop(results);
        outcomes.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok((outcomes, resources))
    }

    /// One account: read it (unless skipped), add its own `account` record, queue the unit.
    async fn visit(
        &self,
        acct: &AccountPlan,
    ) -> Result<(AccountOutcome, Option<pb::Resource>), StoreError> {
        let t0 = Instant::now();
        let (status, mut collected) = self.read(acct).await;
        let resource = acct.org_account.as_ref().map(|o| o.resource(&status));
        if let Some(r) = &resource {
            collected.records.insert(0, Record::Resource(r.clone()));
        }
        let records = collected.records.len() + collected.shared.len();
        let sent = if records == 0 {
            Ok(())
        } else {
            let label = format!("account {}", acct.info.account_id);
            self.sinks
                .send(unit(label, collected.records, collected.shared))
                .await
        };
        let outcome = AccountOutcome {
            account_id: acct.info.account_id.clone(),
            name: acct.info.name.clone(),
            status,
            records,
            duration_ms: t0.elapsed().as_millis() as u64,
        };
        self.observer
            .on_event(&Event::AccountFinished { outcome: &outcome });
        sent.map(|_| (outcome, resource))
    }

    /// How the account ends and what was read in it (nothing unless it ends `Ok`).
    async fn read(&self, acct: &AccountPlan) -> (AccountStatus, Collected) {
        if let Some(reason) = &acct.skip {
            let reason = reason.clone();
            return (AccountStatus::Skipped { reason }, Collected::default());
        }
        if self.stop.load(Ordering::SeqCst) {
            let reason = "not started: --fail-fast stopped the run".into();
            return (AccountStatus::Skipped { reason }, Collected::default());
        }
        let account = &acct.info.account_id;
        self.observer.on_event(&Event::AccountStarted { account });
        match self.collect(acct).await {
            Ok(collected) => (AccountStatus::Ok, collected),
            Err(e) => {
                tracing::warn!(account = %account, error = %e, "account failed; continuing with the others");
                if self.opts.fail_fast {
                    self.stop.store(true, Ordering::SeqCst);
                }
                (failed(&e), Collected::default())
            }
        }
    }

    /// Enters the account (the hop is verified first) and runs every collector in it.
    async fn collect(&self, acct: &AccountPlan) -> Result<Collected, AwsError> {
        let scope = self.session.member(
            &acct.info.account_id,
            &acct.role,
            acct.external_id.as_deref(),
        );
        scope.verify().await?;
        let mut all = Collected::default();
        for c in self.collectors {
            let out = c.collect(&scope, &acct.info).await?;
            all.records.extend(out.records);
            all.shared.extend(out.shared);
        }
        Ok(all)
    }
}

fn failed(err: &AwsError) -> AccountStatus {
    AccountStatus::Failed {
        class: err.class,
        operation: format!("{}:{}", err.service, err.operation),
        message: err.to_string(),
    }
}

/// One per-organization collector: its records as one unit, its notes into `notes`.
async fn run_phase(
    collector: &dyn OrgCollector,
    input: OrgInput<'_>,
    sinks: &SinkSet,
    observer: &dyn Observer,
    notes: &mut Vec<String>,
) -> Result<PhaseOutcome, StoreError> {
    let name = collector.name();
    let out = collector.collect(input).await;
    let Collected { records, shared } = out.collected;
    let count = records.len() + shared.len();
    if count > 0 {
        sinks.send(unit(name, records, shared)).await?;
    }
    if let Some(e) = &out.error {
        tracing::warn!(phase = %name, error = %e, "phase failed");
    }
    observer.on_event(&Event::PhaseFinished {
        phase: name,
        records: count,
        error: out.error.as_ref(),
    });
    notes.extend(out.notes);
    Ok(PhaseOutcome {
        name: name.to_string(),
        records: count,
        error: out.error,
    })
}
