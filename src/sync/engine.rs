//! The engine: runs a plan with its collectors. It writes the resource types and the
//! organization records, then enters every planned account, `concurrency` at a time, and runs
//! the per-account collectors there; each account's records (with its own `account` record)
//! go to the writer as one unit. An account that fails throttled or timed out gets a second
//! pass at the end of the account phase (after a pause, one account at a time) before it is
//! recorded as failed. An account's failure is recorded, never fatal unless `fail_fast`.
//! Accounts are entered as the organization lists them ([`Plan::walk`]). The
//! per-organization collectors run at the same time as the accounts (each has its own token
//! bucket): they get the planned accounts and the organization once it is listed, and the
//! accounts' final `account` resources once the accounts are done; their units are written
//! after the accounts'. Progress goes to an observer.
//!
//! Not here: which accounts, with which role (`plan`), which collectors (`run`), what is read
//! in an account (the collectors), writing files (`store`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::future::join_all;
use futures::stream::{Stream, StreamExt};
use tokio::sync::watch;

use crate::arn::AccountId;
use crate::aws::{AwsError, ErrorClass, Session};
use crate::model::stats::{AccountOutcome, AccountStatus, Scope, SecondPass, SecondPassStats};
use crate::model::{Record, pb, types as rt};
use crate::store::{SinkSet, StoreError, Unit};

use super::observer::{Event, Observer};
use super::plan::{AccountPlan, OrgWalk, Plan, PlanError, Walked};
use super::result::{PhaseOutcome, RunResult};
use crate::connector::collector::{
    AccountCollector, AccountResources, Collected, Collectors, Handover, OrgInput, OrgOutput,
    Parts, PlannedAccounts,
};
use crate::connector::org::OrgSnapshot;

/// Options of the engine.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    pub concurrency: usize,
    pub fail_fast: bool,
    /// The pause before the second pass over throttled or timed-out accounts.
    pub second_pass_pause: Duration,
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
    let org_records = std::mem::take(&mut plan.org_records);
    write_preamble(&plan.resource_types, org_records, sinks).await?;
    let accounts = Accounts {
        session,
        collectors: &collectors.per_account,
        opts,
        sinks,
        observer,
        stop: AtomicBool::new(false),
    };
    let (planned_tx, planned) = Handover::channel();
    let (org_tx, org) = Handover::channel();
    let (done_tx, done) = Handover::channel();
    let input = OrgInput {
        session,
        planned,
        org,
        accounts: done,
    };
    let mut phases = pin!(start_phases(collectors, input));
    // The accounts as planned or listed, handed to the account reads as they come.
    let (feed_tx, feed_rx) = mpsc::unbounded::<AccountPlan>();
    let listing = Listing::of(&mut plan, feed_tx, planned_tx, org_tx);
    let (read, walked, early) = read_all(
        listing.run(session, observer),
        accounts.run(feed_rx),
        phases.as_mut(),
    )
    .await?;
    let (mut outcomes, mut account_resources, second_pass) = read?;
    super::carried::add(plan.carried, sinks, &mut outcomes, &mut account_resources).await?;
    let (walked, inactive) = walked.unwrap_or_default();
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
        let to = (sinks, observer);
        phases_done = write_phases(collectors, outs, opts.fail_fast, to, &mut notes).await?;
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
        second_pass,
        scope: Scope::default(),
        shard: None,
        inactive,
    })
}

/// Everything at once: the listing, the account reads (they end when the listing has ended
/// and every account is done), the per-organization collectors' reads. Returns once the
/// account reads end: their result, the listing's (when it ended; its failure stops the run)
/// and the collectors' outputs when they ended first.
async fn read_all<L, R, P>(
    listing: L,
    read: R,
    mut phases: std::pin::Pin<&mut P>,
) -> Result<(R::Output, Option<Listed>, Option<P::Output>), PlanError>
where
    L: Future<Output = Result<Listed, PlanError>>,
    R: Future,
    P: Future,
{
    let mut walked = None;
    let mut early = None;
    let mut listing = pin!(listing);
    let mut read = pin!(read);
    loop {
        tokio::select! {
            w = &mut listing, if walked.is_none() => walked = Some(w?),
            r = &mut read => break Ok((r, walked, early)),
            outs = &mut phases, if early.is_none() => early = Some(outs),
        }
    }
}

/// What the listing ends with: what the walk found, and the planned accounts the
/// organization lists as not ACTIVE.
type Listed = (Walked, BTreeSet<AccountId>);

/// The run's accounts, as planned or as the organization lists them: fed to the account
/// reads one by one, handed to the per-organization collectors as a whole once listed.
struct Listing {
    /// Accounts planned before the run (single account, filters, shard, resume).
    fixed: Vec<AccountPlan>,
    /// Accounts of the run read elsewhere (other shards, an interrupted run): planned
    /// accounts for the per-organization phases too.
    carried_planned: PlannedAccounts,
    /// The organization's accounts still to be listed.
    walk: Option<OrgWalk>,
    /// The organization as planning read it (used when there is no walk).
    described: Option<Arc<OrgSnapshot>>,
    /// Unbounded: what waits here is at most the organization's account list; the receiver
    /// lives as long as the account reads.
    feed: mpsc::UnboundedSender<AccountPlan>,
    planned: watch::Sender<Option<Arc<PlannedAccounts>>>,
    org: watch::Sender<Option<Arc<OrgSnapshot>>>,
}

/// Every per-organization collector's read, each with its own copy of `input`.
fn start_phases<'a>(
    collectors: &'a Collectors,
    input: OrgInput<'a>,
) -> impl Future<Output = Vec<OrgOutput>> + 'a {
    join_all(collectors.per_org.iter().map(|c| {
        c.collect(OrgInput {
            session: input.session,
            planned: input.planned.clone(),
            org: input.org.clone(),
            accounts: input.accounts.clone(),
        })
    }))
}

impl Listing {
    /// The listing of `plan`'s accounts (taken from it).
    fn of(
        plan: &mut Plan,
        feed: mpsc::UnboundedSender<AccountPlan>,
        planned: watch::Sender<Option<Arc<PlannedAccounts>>>,
        org: watch::Sender<Option<Arc<OrgSnapshot>>>,
    ) -> Listing {
        Listing {
            fixed: std::mem::take(&mut plan.accounts),
            carried_planned: std::mem::take(&mut plan.carried.planned),
            walk: plan.walk.take(),
            described: plan.org.take(),
            feed,
            planned,
            org,
        }
    }

    async fn run(self, session: &Session, observer: &dyn Observer) -> Result<Listed, PlanError> {
        let Listing {
            fixed,
            carried_planned,
            walk,
            described,
            feed: feed_tx,
            planned: planned_tx,
            org: org_tx,
        } = self;
        let mut planned = PlannedAccounts::new();
        let mut count = 0;
        let mut feed = |a: AccountPlan| {
            if let Some(org) = &a.org_account {
                planned.insert(a.info.account_id.clone(), org.is_active());
            }
            count += 1;
            // The total grows as the organization is listed.
            observer.on_event(&Event::Planned { accounts: count });
            let _ = feed_tx.unbounded_send(a);
        };
        fixed.into_iter().for_each(&mut feed);
        let walked = match walk {
            Some(w) => w.run(session, &mut feed).await?,
            None => Walked {
                org: described,
                ..Walked::default()
            },
        };
        if count == 0 {
            observer.on_event(&Event::Planned { accounts: 0 });
        }
        for (id, active) in carried_planned {
            planned.entry(id).or_insert(active);
        }
        let inactive: BTreeSet<AccountId> = planned
            .iter()
            .filter(|(_, active)| !**active)
            .map(|(id, _)| id.clone())
            .collect();
        planned_tx.send_replace(Some(Arc::new(planned)));
        if let Some(o) = &walked.org {
            org_tx.send_replace(Some(Arc::clone(o)));
        }
        Ok((walked, inactive))
    }
}

/// Writes every per-organization collector's output in order (stopping after the first
/// failed one with `fail_fast`); their notes go into `notes`.
async fn write_phases(
    collectors: &Collectors,
    outs: Vec<OrgOutput>,
    fail_fast: bool,
    (sinks, observer): (&SinkSet, &dyn Observer),
    notes: &mut Vec<String>,
) -> Result<Vec<PhaseOutcome>, StoreError> {
    let mut done = vec![];
    for (collector, out) in collectors.per_org.iter().zip(outs) {
        let phase = finish_phase(collector.name(), out, sinks, observer, notes).await?;
        let failed = phase.error.is_some();
        done.push(phase);
        if failed && fail_fast {
            break;
        }
    }
    Ok(done)
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

/// How an account's visit ended.
enum Visited {
    /// Recorded (and its unit queued): the outcome and, in org mode, its `account` resource.
    Done(Box<(AccountOutcome, Option<pb::Resource>)>),
    /// Failed throttled or timed out in the first pass: tried again at the end of the account
    /// phase, nothing recorded or written yet.
    Deferred(AwsError),
}

/// The classes of failure worth a second pass: the account may well answer later.
fn worth_a_second_pass(e: &AwsError) -> bool {
    matches!(e.class, ErrorClass::Throttled | ErrorClass::Timeout)
}

impl Accounts<'_> {
    /// Visits every account `accounts` yields, `concurrency` at a time, then gives the
    /// accounts that failed
    /// throttled or timed out a second pass, one at a time after a pause. Returns the outcomes
    /// in account id order, the `account` resources (org mode) by account id, and the second
    /// pass, if there was one.
    async fn run(
        &self,
        accounts: impl Stream<Item = AccountPlan>,
    ) -> Result<
        (
            Vec<AccountOutcome>,
            AccountResources,
            Option<SecondPassStats>,
        ),
        StoreError,
    > {
        let mut outcomes = vec![];
        let mut resources = BTreeMap::new();
        let mut deferred: Vec<(AccountPlan, AwsError)> = vec![];
        let mut record = |outcome: AccountOutcome, resource: Option<pb::Resource>| {
            if let Some(res) = resource {
                resources.insert(outcome.account_id.clone(), res);
            }
            outcomes.push(outcome);
        };
        let mut results = pin!(
            accounts
                .map(|a| async move {
                    let r = self.visit(&a, None).await;
                    (a, r)
                })
                .buffer_unordered(self.opts.concurrency.max(1))
        );
        while let Some((acct, r)) = results.next().await {
            match r? {
                Visited::Done(done) => record(done.0, done.1),
                Visited::Deferred(e) => deferred.push((acct, e)),
            }
        }
        let second_pass = if deferred.is_empty() {
            None
        } else {
            let pause = self.opts.second_pass_pause;
            tracing::info!(
                accounts = deferred.len(),
                pause_ms = pause.as_millis() as u64,
                "second pass over accounts that failed throttled or timed out"
            );
            tokio::time::sleep(pause).await;
            deferred.sort_by(|a, b| a.0.info.account_id.cmp(&b.0.info.account_id));
            let mut stats = SecondPassStats {
                accounts: deferred.len() as u64,
                recovered: 0,
                pause_ms: pause.as_millis() as u64,
            };
            for (acct, first) in deferred {
                let Visited::Done(done) = self.visit(&acct, Some(&first)).await? else {
                    continue;
                };
                let (outcome, resource) = *done;
                if outcome.status == AccountStatus::Ok {
                    stats.recovered += 1;
                }
                record(outcome, resource);
            }
            Some(stats)
        };
        outcomes.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok((outcomes, resources, second_pass))
    }

    /// One account: read it (unless skipped), add its own `account` record, queue the unit
    /// (after the parts the collectors handed over, if any).
    /// `first` is the first pass's failure when this is the second pass; a first pass that
    /// fails throttled or timed out is deferred (unless `fail_fast` already stopped the run).
    async fn visit(
        &self,
        acct: &AccountPlan,
        first: Option<&AwsError>,
    ) -> Result<Visited, StoreError> {
        let t0 = Instant::now();
        let label = format!("account {}", acct.info.account_id);
        let parts = Parts::new(self.sinks.blocking_sender(), label.as_str());
        let read = self.read(acct, &parts).await;
        if let Some(e) = parts.take_failure() {
            return Err(e);
        }
        let (status, mut collected) = match read {
            Ok(read) => read,
            Err(e) if first.is_none() && worth_a_second_pass(&e) && !self.stopped() => {
                tracing::info!(account = %acct.info.account_id, error = %e, "account failed; it gets a second pass at the end of the account phase");
                return Ok(Visited::Deferred(e));
            }
            Err(e) => {
                tracing::warn!(account = %acct.info.account_id, error = %e, "account failed; continuing with the others");
                if self.opts.fail_fast {
                    self.stop.store(true, Ordering::SeqCst);
                }
                (failed(&e), Collected::default())
            }
        };
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
            second_pass: first.map(|e| SecondPass { after: e.class }),
        };
        self.observer
            .on_event(&Event::AccountFinished { outcome: &outcome });
        sent.map(|_| Visited::Done(Box::new((outcome, resource))))
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// How the account ends and what was read in it: skipped, or read (`Ok`), or the failure.
    async fn read(
        &self,
        acct: &AccountPlan,
        parts: &Parts,
    ) -> Result<(AccountStatus, Collected), AwsError> {
        if let Some(reason) = &acct.skip {
            let reason = reason.clone();
            return Ok((AccountStatus::Skipped { reason }, Collected::default()));
        }
        if self.stopped() {
            let reason = "not started: --fail-fast stopped the run".into();
            return Ok((AccountStatus::Skipped { reason }, Collected::default()));
        }
        let account = &acct.info.account_id;
        self.observer.on_event(&Event::AccountStarted { account });
        let collected = self.collect(acct, parts).await?;
        Ok((AccountStatus::Ok, collected))
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
