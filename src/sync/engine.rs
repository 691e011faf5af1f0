//! The engine: runs a plan with its collectors. It writes the resource types and the
//! organization records, then enters every planned account, `concurrency` at a time, and runs
//! the per-account collectors there; each account's records (with its own `account` record)
//! go to the writer as one unit. An account's failure is recorded, never fatal unless
//! `fail_fast`. The per-organization collectors run at the same time as the accounts (each
//! has its own token bucket) and get the accounts' final `account` resources when the accounts
//! are done; their units are written after the accounts'. Progress goes to an observer.
//!
//! Not here: which accounts, with which role (`plan`), which collectors (`run`), what is read
//! in an account (the collectors), writing files (`store`).

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::channel::mpsc;
use futures::future::join_all;
use futures::stream::{Stream, StreamExt};

use crate::aws::{AwsError, Session};
use crate::model::stats::{AccountOutcome, AccountStatus};
use crate::model::{Record, pb, types as rt};
use crate::store::{SinkSet, StoreError, Unit};

use super::collector::{
    AccountCollector, AccountResources, Collected, Collectors, Handover, OrgInput, OrgOutput,
    Parts, PlannedAccounts,
};
use super::observer::{Event, Observer};
use super::plan::{AccountPlan, Plan, PlanError, Walked};
use super::result::{PhaseOutcome, RunResult};

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
    /// Listing the organization failed (while accounts already listed were being read).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Runs `plan`: resource types and organization records; every account, entered as the
/// organization lists it ([`Plan::walk`]); the per-organization collectors alongside (their
/// output dropped once `fail_fast` stopped the run).
pub(crate) async fn run(
    session: &Session,
    mut plan: Plan,
    collectors: &Collectors,
    opts: &EngineOptions,
    sinks: &SinkSet,
    observer: &dyn Observer,
) -> Result<RunResult, EngineError> {
    let start = Instant::now();
    write_preamble(
        &plan.resource_types,
        std::mem::take(&mut plan.org_records),
        sinks,
    )
    .await?;
    let accounts = Accounts {
        session,
        collectors: &collectors.per_account,
        opts,
        sinks,
        observer,
        stop: AtomicBool::new(false),
    };
    let (planned_tx, planned) = Handover::channel();
    let (done_tx, done) = Handover::channel();
    let mut phases = pin!(join_all(collectors.per_org.iter().map(|c| {
        c.collect(OrgInput {
            session,
            planned: planned.clone(),
            accounts: done.clone(),
        })
    })));
    drop((planned, done));
    // The accounts as planned or listed, handed to the account reads as they come.
    let (feed_tx, feed_rx) = mpsc::unbounded::<AccountPlan>();
    let fixed = std::mem::take(&mut plan.accounts);
    let walk = plan.walk.take();
    let listing = async move {
        let mut planned = PlannedAccounts::new();
        let mut count = 0;
        let mut feed = |a: AccountPlan| {
            if let Some(org) = &a.org_account {
                planned.insert(a.info.account_id.clone(), org.is_active());
            }
            count += 1;
            // The total grows as the organization is listed.
            observer.on_event(&Event::Planned { accounts: count });
            // Unbounded: what waits here is at most the organization's account list; the
            // receiver lives as long as the account reads.
            let _ = feed_tx.unbounded_send(a);
        };
        fixed.into_iter().for_each(&mut feed);
        let walked = match walk {
            Some(w) => w.run(session, &mut feed).await?,
            None => Walked::default(),
        };
        drop(feed);
        if count == 0 {
            observer.on_event(&Event::Planned { accounts: 0 });
        }
        planned_tx.send_replace(Some(Arc::new(planned)));
        Ok::<_, PlanError>(walked)
    };
    // Everything at once: the listing, the account reads (they end when the listing has
    // ended and every account is done), the per-organization collectors' reads.
    let mut walked = None;
    let mut early: Option<Vec<OrgOutput>> = None;
    let read = {
        let mut listing = pin!(listing);
        let mut read = pin!(accounts.run(feed_rx));
        loop {
            tokio::select! {
                w = &mut listing, if walked.is_none() => walked = Some(w?),
                r = &mut read => break r,
                outs = &mut phases, if early.is_none() => early = Some(outs),
            }
        }
    };
    let (outcomes, account_resources) = read?;
    let walked = walked.unwrap_or_default();
    if !walked.org_records.is_empty() {
        sinks
            .send(unit("organization", walked.org_records, vec![]))
            .await?;
    }
    let stopped = accounts
        .stop
        .load(Ordering::SeqCst)
        .then(|| "an account failed and --fail-fast is set".to_string());
    let mut notes = plan.notes;
    notes.extend(walked.notes);
    let mut phases_done = vec![];
    if stopped.is_none() {
        done_tx.send_replace(Some(Arc::new(account_resources)));
        let outs = match early {
            Some(outs) => outs,
            None => phases.await,
        };
        for (collector, out) in collectors.per_org.iter().zip(outs) {
            let phase = finish_phase(collector.name(), out, sinks, observer, &mut notes).await?;
            let failed = phase.error.is_some();
            phases_done.push(phase);
            if failed && opts.fail_fast {
                break;
            }
        }
    }
    let stopped = stopped.or_else(|| {
        (opts.fail_fast && phases_done.iter().any(|p| p.error.is_some()))
            .then(|| "a phase failed and --fail-fast is set".to_string())
    });
    Ok(RunResult {
        accounts: outcomes,
        phases: phases_done,
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
    /// Visits every account `accounts` yields, `concurrency` at a time. Returns the outcomes
    /// in account id order, and the `account` resources (org mode) by account id.
    async fn run(
        &self,
        accounts: impl Stream<Item = AccountPlan>,
    ) -> Result<(Vec<AccountOutcome>, AccountResources), StoreError> {
        let mut outcomes = vec![];
        let mut resources = BTreeMap::new();
        let mut results = pin!(
            accounts
                .map(|a| async move { self.visit(&a).await })
                .buffer_unordered(self.opts.concurrency.max(1))
        );
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

    /// One account: read it (unless skipped), add its own `account` record, queue the unit
    /// (after the parts the collectors handed over, if any).
    async fn visit(
        &self,
        acct: &AccountPlan,
    ) -> Result<(AccountOutcome, Option<pb::Resource>), StoreError> {
        let t0 = Instant::now();
        let label = format!("account {}", acct.info.account_id);
        let parts = Parts::new(self.sinks.blocking_sender(), label.as_str());
        let (status, mut collected) = self.read(acct, &parts).await;
        if let Some(e) = parts.take_failure() {
            return Err(e);
        }
        let resource = acct.org_account.as_ref().map(|o| o.resource(&status));
        if let Some(r) = &resource {
            // Room for exactly one more: a full list would otherwise double its buffer (a large
            // account's records are the run's peak of memory).
            collected.records.reserve_exact(1);
            collected.records.insert(0, Record::Resource(r.clone()));
        }
        let last = collected.records.len() + collected.shared.len();
        let sent = if last == 0 {
            Ok(())
        } else {
            self.sinks
                .send(unit(label, collected.records, collected.shared))
                .await
        };
        let outcome = AccountOutcome {
            account_id: acct.info.account_id.clone(),
            name: acct.info.name.clone(),
            status,
            records: parts.sent() + last,
            duration_ms: t0.elapsed().as_millis() as u64,
        };
        self.observer
            .on_event(&Event::AccountFinished { outcome: &outcome });
        sent.map(|_| (outcome, resource))
    }

    /// How the account ends and what was read in it (nothing unless it ends `Ok`).
    async fn read(&self, acct: &AccountPlan, parts: &Parts) -> (AccountStatus, Collected) {
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
        match self.collect(acct, parts).await {
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
    async fn collect(&self, acct: &AccountPlan, parts: &Parts) -> Result<Collected, AwsError> {
        let scope = self.session.member(
            &acct.info.account_id,
            &acct.role,
            acct.external_id.as_deref(),
        );
        scope.verify().await?;
        let mut all = Collected::default();
        for c in self.collectors {
            let out = c.collect(&scope, &acct.info, parts).await?;
            // The first collector's lists are taken as they are, not copied.
            if all.records.is_empty() {
                all.records = out.records;
            } else {
                all.records.extend(out.records);
            }
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

/// What one per-organization collector produced: its records as one unit, its notes into
/// `notes`.
async fn finish_phase(
    name: &'static str,
    out: OrgOutput,
    sinks: &SinkSet,
    observer: &dyn Observer,
    notes: &mut Vec<String>,
) -> Result<PhaseOutcome, StoreError> {
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
