//! The sync engine: plans the run (which accounts, with which role), reads accounts
//! concurrently within bounds, isolates each account's failure (recorded, never fatal unless
//! `fail_fast`), and streams whole units to the writer. Reports progress through an observer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::aws::metrics::OpStats;
use crate::aws::{AwsError, ErrorClass, Scope, Session};
use crate::model::{Record, types as rt};
use crate::store::{SinkSet, StoreError, Unit};

use crate::connector::iam::read::{AwsPolicyDocs, IamReadOptions, read_account};
use crate::connector::iam::records::{AccountInfo, IamRecordOptions, iam_records};

/// How one account ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AccountStatus {
    Ok,
    Failed {
        class: ErrorClass,
        /// `service:Operation` that failed.
        operation: String,
        message: String,
    },
    Skipped {
        reason: String,
    },
}

impl AccountStatus {
    /// Every [`AccountStatus::kind`], in display order.
    pub const KINDS: [&'static str; 3] = ["ok", "failed", "skipped"];

    /// `ok`, `failed` or `skipped`: the `status` this serializes with.
    pub fn kind(&self) -> &'static str {
        match self {
            AccountStatus::Ok => "ok",
            AccountStatus::Failed { .. } => "failed",
            AccountStatus::Skipped { .. } => "skipped",
        }
    }
}

/// One account's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountOutcome {
    pub account_id: String,
    pub name: String,
    #[serde(flatten)]
    pub status: AccountStatus,
    pub records: usize,
    pub duration_ms: u64,
}

/// An account the run will visit (or record as skipped).
#[derive(Debug, Clone)]
pub struct AccountPlan {
    pub info: AccountInfo,
    /// Member role (name with optional path) and External ID for the hop.
    pub role: String,
    pub external_id: Option<String>,
    /// Why the account is not read, if it is not.
    pub skip: Option<String>,
    /// Builds the account's own record (org mode) from its outcome.
    pub account_record: Option<AccountRecordFn>,
}

/// Builds an account's own record once its outcome is known.
#[derive(Clone)]
pub struct AccountRecordFn(pub Arc<dyn Fn(&AccountStatus) -> Record + Send + Sync>);

impl std::fmt::Debug for AccountRecordFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountRecordFn")
    }
}

/// What a phase (work that is not per account, e.g. Identity Center) gets to work with.
pub struct PhaseInput<'a> {
    pub session: &'a Session,
    /// The `account` resources of the run (org mode), by account id, with their final sync
    /// status. Empty when the caller is not in an organization.
    pub accounts: &'a BTreeMap<String, crate::model::pb::Resource>,
}

/// What a phase produced: its records are written as one unit.
#[derive(Debug, Default)]
pub struct PhaseOutput {
    pub records: Vec<Record>,
    /// Records other units may carry too (AWS-managed policies); written once.
    pub shared: Vec<Record>,
    pub notes: Vec<String>,
    /// Set when the phase failed; its records (if any) are still written.
    pub error: Option<AwsError>,
}

/// A phase run after the accounts.
pub struct Phase {
    pub name: String,
    #[allow(clippy::type_complexity)]
    pub run: Box<
        dyn for<'a> FnOnce(PhaseInput<'a>) -> futures::future::BoxFuture<'a, PhaseOutput> + Send,
    >,
}

impl std::fmt::Debug for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phase({})", self.name)
    }
}

/// What planning learnt about the caller's organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OrgKnowledge {
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
pub struct Plan {
    /// The organization, as far as planning read it.
    pub organization: OrgKnowledge,
    /// Resource types to write (ids).
    pub resource_types: Vec<&'static str>,
    /// Organization-level records (organization, organizational units), written first.
    pub org_records: Vec<Record>,
    /// Organizational units among `org_records` (0 without an organization).
    pub ou_count: usize,
    pub accounts: Vec<AccountPlan>,
    /// Notes for the summary (e.g. "not in an organization").
    pub notes: Vec<String>,
    /// Phases run after the accounts, in order.
    pub phases: Vec<Phase>,
}

/// Options of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub iam: IamReadOptions,
    pub concurrency: usize,
    pub fail_fast: bool,
}

/// Events for progress display.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Planned {
        accounts: usize,
    },
    AccountStarted {
        account: &'a str,
    },
    AccountFinished {
        outcome: &'a AccountOutcome,
    },
    /// A phase other than accounts (e.g. Identity Center) finished.
    PhaseFinished {
        phase: &'a str,
        records: usize,
        error: Option<&'a AwsError>,
    },
}

/// Receives progress events (implemented by the CLI).
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &Event<'_>);
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {
    fn on_event(&self, _event: &Event<'_>) {}
}

/// A phase that is not per account (Identity Center), run after the accounts.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    pub name: String,
    pub records: usize,
    pub error: Option<AwsError>,
}

/// The result of a run, before the sinks are finished.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub accounts: Vec<AccountOutcome>,
    pub phases: Vec<PhaseOutcome>,
    pub notes: Vec<String>,
    pub duration: Duration,
    /// Set when `fail_fast` stopped the run.
    pub stopped: Option<String>,
}

impl RunResult {
    /// True if any account or phase failed.
    pub fn partial(&self) -> bool {
        self.accounts
            .iter()
            .any(|a| matches!(a.status, AccountStatus::Failed { .. }))
            || self.phases.iter().any(|p| p.error.is_some())
    }

    /// Accounts by [`AccountStatus::kind`], every kind present (0 when none).
    pub fn account_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts: BTreeMap<&'static str, u64> =
            AccountStatus::KINDS.iter().map(|k| (*k, 0)).collect();
        for a in &self.accounts {
            *counts.entry(a.status.kind()).or_default() += 1;
        }
        counts
    }

    /// The `orgsync` section of the sync run's stats JSON.
    pub fn stats_json(&self, calls: &BTreeMap<String, OpStats>) -> serde_json::Value {
        let failed: Vec<&AccountOutcome> = self
            .accounts
            .iter()
            .filter(|a| matches!(a.status, AccountStatus::Failed { .. }))
            .collect();
        let mut accounts = serde_json::json!({ "total": self.accounts.len() });
        for (kind, n) in self.account_counts() {
            accounts[kind] = n.into();
        }
        serde_json::json!({
            "orgsync": {
                "accounts": accounts,
                "failed_accounts": failed,
                "phases": self.phases_json(),
                "aws_calls": calls,
                "duration_ms": self.duration.as_millis() as u64,
                "notes": self.notes,
            }
        })
    }

    /// The phases (Identity Center, …) with their record counts and errors.
    pub fn phases_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.phases
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.name, "records": p.records,
                        "error": p.error.as_ref().map(|e| serde_json::json!({"class": e.class, "message": e.to_string()})),
                    })
                })
                .collect(),
        )
    }
}

/// Engine failures that stop the whole run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn failed(err: &AwsError) -> AccountStatus {
    AccountStatus::Failed {
        class: err.class,
        operation: format!("{}:{}", err.service, err.operation),
        message: err.to_string(),
    }
}

/// Runs the account part of a plan: resource types, organization records, then every
/// account, `concurrency` at a time. Each account's records go to the writer as one unit.
pub async fn run_accounts(
    session: &Session,
    plan: Plan,
    opts: &EngineOptions,
    sinks: &SinkSet,
    observer: &dyn Observer,
) -> Result<RunResult, EngineError> {
    let start = Instant::now();
    let types: Vec<Record> = plan
        .resource_types
        .iter()
        .filter_map(|t| rt::resource_type(t))
        .map(Record::ResourceType)
        .collect();
    sinks
        .send(Unit {
            label: "resource types".into(),
            records: types,
            shared: vec![],
        })
        .await?;
    if !plan.org_records.is_empty() {
        sinks
            .send(Unit {
                label: "organization".into(),
                records: plan.org_records,
                shared: vec![],
            })
            .await?;
    }
    observer.on_event(&Event::Planned {
        accounts: plan.accounts.len(),
    });
    let docs = AwsPolicyDocs::new();
    let stop = Arc::new(AtomicBool::new(false));
    let record_opts = IamRecordOptions {
        sync_secrets: opts.iam.sync_secrets,
    };
    let sender = sinks.sender();
    let jobs = plan.accounts.into_iter().map(|acct| {
        let docs = Arc::clone(&docs);
        let stop = Arc::clone(&stop);
        let sender = sender.clone();
        async move {
            let t0 = Instant::now();
            let label = format!("account {}", acct.info.account_id);
            let (status, mut unit) = if let Some(reason) = &acct.skip {
                (AccountStatus::Skipped { reason: reason.clone() }, Unit::default())
            } else if stop.load(Ordering::SeqCst) {
                (
                    AccountStatus::Skipped {
                        reason: "not started: --fail-fast stopped the run".into(),
                    },
                    Unit::default(),
                )
            } else {
                observer.on_event(&Event::AccountStarted {
                    account: &acct.info.account_id,
                });
                let scope = session.member(
                    &acct.info.account_id.parse().unwrap_or_else(|_| session.caller.account.clone()),
                    &acct.role,
                    acct.external_id.as_deref(),
                );
                match read_one(&scope, &acct.info, &docs, opts, record_opts).await {
                    Ok(unit) => (AccountStatus::Ok, unit),
                    Err(e) => {
                        tracing::warn!(account = %acct.info.account_id, error = %e, "account failed; continuing with the others");
                        if opts.fail_fast {
                            stop.store(true, Ordering::SeqCst);
                        }
                        (failed(&e), Unit::default())
                    }
                }
            };
            let account_resource = acct.account_record.as_ref().map(|build| (build.0)(&status));
            if let Some(r) = &account_resource {
                unit.records.insert(0, r.clone());
            }
            let records = unit.records.len() + unit.shared.len();
            unit.label = label;
            let sent = if unit.records.is_empty() && unit.shared.is_empty() {
                Ok(())
            } else {
                sender.send(unit).await
            };
            let outcome = AccountOutcome {
                account_id: acct.info.account_id.clone(),
                name: acct.info.name.clone(),
                status,
                records,
                duration_ms: t0.elapsed().as_millis() as u64,
            };
            observer.on_event(&Event::AccountFinished { outcome: &outcome });
            sent.map(|_| (outcome, account_resource))
        }
    });
    let mut outcomes = vec![];
    let mut account_resources: BTreeMap<String, crate::model::pb::Resource> = BTreeMap::new();
    let mut results = stream::iter(jobs).buffer_unordered(opts.concurrency.max(1));
    while let Some(r) = results.next().await {
        let (outcome, resource) = r?;
        if let Some(Record::Resource(res)) = resource {
            account_resources.insert(outcome.account_id.clone(), res);
        }
        outcomes.push(outcome);
    }
    drop(results);
    outcomes.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    let stopped = stop
        .load(Ordering::SeqCst)
        .then(|| "an account failed and --fail-fast is set".to_string());
    let mut notes = plan.notes;
    let mut phases = vec![];
    if stopped.is_none() {
        for phase in plan.phases {
            let input = PhaseInput {
                session,
                accounts: &account_resources,
            };
            let out = (phase.run)(input).await;
            let records = out.records.len() + out.shared.len();
            if records > 0 {
                sinks
                    .send(Unit {
                        label: phase.name.clone(),
                        records: out.records,
                        shared: out.shared,
                    })
                    .await?;
            }
            if let Some(e) = &out.error {
                tracing::warn!(phase = %phase.name, error = %e, "phase failed");
            }
            observer.on_event(&Event::PhaseFinished {
                phase: &phase.name,
                records,
                error: out.error.as_ref(),
            });
            let failed = out.error.is_some();
            notes.extend(out.notes);
            phases.push(PhaseOutcome {
                name: phase.name,
                records,
                error: out.error,
            });
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

async fn read_one(
    scope: &Scope,
    info: &AccountInfo,
    docs: &AwsPolicyDocs,
    opts: &EngineOptions,
    record_opts: IamRecordOptions,
) -> Result<Unit, AwsError> {
    scope.verify().await?;
    let snap = read_account(scope, docs, &opts.iam).await?;
    let out = iam_records(info, &snap, record_opts);
    Ok(Unit {
        label: String::new(),
        records: out.records,
        shared: out.shared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str, status: AccountStatus) -> AccountOutcome {
        AccountOutcome {
            account_id: id.into(),
            name: id.into(),
            status,
            records: 0,
            duration_ms: 0,
        }
    }

    #[test]
    fn account_counts_by_the_kind_each_status_serializes_as() {
        let failed = AccountStatus::Failed {
            class: ErrorClass::AccessDenied,
            operation: "iam:GetAccountAuthorizationDetails".into(),
            message: "denied".into(),
        };
        let skipped = AccountStatus::Skipped {
            reason: "suspended".into(),
        };
        for s in [AccountStatus::Ok, failed.clone(), skipped.clone()] {
            assert_eq!(serde_json::to_value(&s).unwrap()["status"], s.kind());
            assert!(AccountStatus::KINDS.contains(&s.kind()));
        }
        let mut r = RunResult {
            accounts: vec![],
            phases: vec![],
            notes: vec![],
            duration: Duration::ZERO,
            stopped: None,
        };
        assert_eq!(
            r.account_counts(),
            BTreeMap::from([("failed", 0), ("ok", 0), ("skipped", 0)])
        );
        r.accounts = vec![
            outcome("1", AccountStatus::Ok),
            outcome("2", failed),
            outcome("3", AccountStatus::Ok),
            outcome("4", skipped),
        ];
        assert_eq!(
            r.account_counts(),
            BTreeMap::from([("failed", 1), ("ok", 2), ("skipped", 1)])
        );
        let stats = r.stats_json(&BTreeMap::new());
        assert_eq!(
            stats["orgsync"]["accounts"],
            serde_json::json!({"total": 4, "ok": 2, "failed": 1, "skipped": 1})
        );
        assert_eq!(stats["orgsync"]["failed_accounts"][0]["account_id"], "2");
    }
}
