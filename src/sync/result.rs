//! What a run produced ([`RunResult`]: every account's outcome, the phases, notes, duration,
//! a fail-fast stop) and the typed statistics made from it (`model::stats`).
//!
//! Not here: the statistics types and their JSON (`model::stats`), the exit code and the
//! summary file (`cli::cmd::sync`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::AwsError;
use crate::aws::metrics::OpStats;
use crate::model::stats::{
    AccountCounts, AccountOutcome, AccountStatus, PhaseError, PhaseStats, RunReport, RunStats,
    Scope, SecondPassStats, SyncType,
};

/// A phase that is not per account (Identity Center), run after the accounts.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    pub name: String,
    pub records: usize,
    pub error: Option<AwsError>,
}

impl PhaseOutcome {
    fn stats(&self) -> PhaseStats {
        PhaseStats {
            name: self.name.clone(),
            records: self.records,
            error: self.error.as_ref().map(|e| PhaseError {
                class: e.class,
                message: e.to_string(),
            }),
        }
    }
}

/// The result of a run, before the sinks are finished.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Every account, in account id order.
    pub accounts: Vec<AccountOutcome>,
    pub phases: Vec<PhaseOutcome>,
    pub notes: Vec<String>,
    /// How long the run took: the engine measures its own part; `cli::cmd::sync` replaces it
    /// with the whole run (connecting, planning, the accounts, the phases, writing).
    pub duration: Duration,
    /// Set when `fail_fast` stopped the run.
    pub stopped: Option<String>,
    /// The second pass over throttled or timed-out accounts, if there was one.
    pub second_pass: Option<SecondPassStats>,
    /// What the run covers (`sync::run` fills it in once the accounts and phases ended).
    pub scope: Scope,
    /// The shard this run was (`--shard`), for the c1z stats.
    pub shard: Option<super::shard::ShardStats>,
    /// Accounts the organization lists as suspended or closing (they hold no usable access,
    /// so skipping them does not make the sync partial).
    pub inactive: std::collections::BTreeSet<crate::arn::AccountId>,
}

impl RunResult {
    /// True if any account or phase failed.
    pub fn partial(&self) -> bool {
        self.accounts
            .iter()
            .any(|a| matches!(a.status, AccountStatus::Failed { .. }))
            || self.phases.iter().any(|p| p.error.is_some())
    }

    /// What a run with these outcomes covers: `partial` when account `filters` were given,
    /// when an account of the run was skipped or failed (except accounts in `inactive`, which
    /// the organization lists as suspended or closing: they hold no usable access), or when a
    /// phase failed.
    pub fn scope_of(
        &self,
        filters: Vec<String>,
        inactive: &std::collections::BTreeSet<crate::arn::AccountId>,
    ) -> Scope {
        let accounts_not_read: Vec<_> = self
            .accounts
            .iter()
            .filter(|a| a.status != AccountStatus::Ok && !inactive.contains(&a.account_id))
            .map(|a| a.account_id.clone())
            .collect();
        let failed_phases: Vec<String> = self
            .phases
            .iter()
            .filter(|p| p.error.is_some())
            .map(|p| p.name.clone())
            .collect();
        let partial =
            !filters.is_empty() || !accounts_not_read.is_empty() || !failed_phases.is_empty();
        Scope {
            sync_type: if partial {
                SyncType::Partial
            } else {
                SyncType::Full
            },
            filters,
            accounts_not_read,
            failed_phases,
        }
    }

    /// True if at least one account was read.
    pub fn any_ok(&self) -> bool {
        self.accounts.iter().any(|a| a.status == AccountStatus::Ok)
    }

    /// Accounts by outcome.
    pub fn account_counts(&self) -> AccountCounts {
        AccountCounts::of(&self.accounts)
    }

    /// Phases, AWS calls (`calls`, the run's counters), duration and notes.
    pub fn report(&self, calls: &BTreeMap<String, OpStats>) -> RunReport {
        RunReport {
            phases: self.phases.iter().map(PhaseOutcome::stats).collect(),
            aws_calls: calls.clone(),
            duration_ms: self.duration.as_millis() as u64,
            notes: self.notes.clone(),
            second_pass: self.second_pass.clone(),
        }
    }

    /// The `orgsync` section of the sync run's stats.
    pub fn stats(&self, calls: &BTreeMap<String, OpStats>) -> RunStats {
        RunStats {
            accounts: self.account_counts(),
            failed_accounts: self
                .accounts
                .iter()
                .filter(|a| matches!(a.status, AccountStatus::Failed { .. }))
                .cloned()
                .collect(),
            scope: Some(self.scope.clone()),
            expansion: None,
            run: self.report(calls),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorClass;

    fn outcome(id: &str, status: AccountStatus) -> AccountOutcome {
        AccountOutcome {
            account_id: id.parse().unwrap(),
            name: id.into(),
            status,
            records: 0,
            duration_ms: 0,
            second_pass: None,
        }
    }

    #[test]
    fn stats_count_every_account_and_list_the_failed_ones() {
        let failed = AccountStatus::Failed {
            class: ErrorClass::AccessDenied,
            operation: "iam:GetAccountAuthorizationDetails".into(),
            message: "denied".into(),
        };
        let skipped = AccountStatus::Skipped {
            reason: "suspended".into(),
        };
        let mut r = RunResult {
            accounts: vec![],
            phases: vec![],
            notes: vec![],
            duration: Duration::ZERO,
            stopped: None,
            second_pass: None,
            scope: Scope::default(),
            shard: None,
            inactive: Default::default(),
        };
        assert_eq!(r.account_counts(), AccountCounts::default());
        assert!(!r.partial() && !r.any_ok());
        r.accounts = vec![
            outcome("111111111111", AccountStatus::Ok),
            outcome("222222222222", failed),
            outcome("333333333333", AccountStatus::Ok),
            outcome("444444444444", skipped),
        ];
        let stats = serde_json::to_value(r.stats(&BTreeMap::new())).unwrap();
        assert_eq!(
            stats["accounts"],
            serde_json::json!({"total": 4, "ok": 2, "failed": 1, "skipped": 1})
        );
        assert_eq!(stats["failed_accounts"][0]["account_id"], "222222222222");
        assert_eq!(stats["failed_accounts"].as_array().unwrap().len(), 1);
        assert!(r.partial() && r.any_ok());
    }

    #[test]
    fn the_scope_is_partial_with_filters_accounts_not_read_or_failed_phases() {
        use std::collections::BTreeSet;
        let id = |s: &str| -> crate::arn::AccountId { s.parse().unwrap() };
        let suspended = AccountStatus::Skipped {
            reason: "account is SUSPENDED".into(),
        };
        let mut r = RunResult {
            accounts: vec![
                outcome("111111111111", AccountStatus::Ok),
                outcome("222222222222", suspended),
            ],
            phases: vec![],
            notes: vec![],
            duration: Duration::ZERO,
            stopped: None,
            second_pass: None,
            scope: Scope::default(),
            shard: None,
            inactive: Default::default(),
        };
        let inactive = BTreeSet::from([id("222222222222")]);
        // A suspended account the organization lists as such holds no usable access.
        let s = r.scope_of(vec![], &inactive);
        assert_eq!(s.sync_type, SyncType::Full);
        assert!(s.reasons().is_empty());
        // Skipped for another reason (or failed): partial, naming the account.
        let s = r.scope_of(vec![], &BTreeSet::new());
        assert_eq!(s.sync_type, SyncType::Partial);
        assert_eq!(s.accounts_not_read, [id("222222222222")]);
        assert_eq!(s.reasons(), ["1 account not read"]);
        // Filters.
        let s = r.scope_of(vec!["--accounts 111111111111".into()], &inactive);
        assert_eq!(s.sync_type, SyncType::Partial);
        assert_eq!(s.reasons(), ["filtered by --accounts 111111111111"]);
        // A failed phase.
        r.phases.push(PhaseOutcome {
            name: "identity center".into(),
            records: 0,
            error: Some(AwsError::local(
                "sso",
                "ListInstances",
                ErrorClass::AccessDenied,
                "denied",
            )),
        });
        let s = r.scope_of(vec![], &inactive);
        assert_eq!(s.sync_type, SyncType::Partial);
        assert_eq!(s.failed_phases, ["identity center"]);
        assert_eq!(s.reasons(), ["phase identity center failed"]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"sync_type": "partial", "failed_phases": ["identity center"]})
        );
    }

    #[test]
    fn a_failed_phase_makes_the_run_partial_and_shows_its_class() {
        let r = RunResult {
            accounts: vec![outcome("111111111111", AccountStatus::Ok)],
            phases: vec![PhaseOutcome {
                name: "identity center".into(),
                records: 2,
                error: Some(AwsError::local(
                    "sso",
                    "ListInstances",
                    ErrorClass::NotFound,
                    "no instance",
                )),
            }],
            notes: vec![],
            duration: Duration::from_millis(1500),
            stopped: None,
            second_pass: None,
            scope: Scope::default(),
            shard: None,
            inactive: Default::default(),
        };
        assert!(r.partial());
        let report = r.report(&BTreeMap::new());
        assert_eq!(report.duration_ms, 1500);
        let e = report.phases[0].error.as_ref().unwrap();
        assert_eq!(e.class, ErrorClass::NotFound);
        assert!(e.message.contains("no instance"), "{}", e.message);
    }
}
