//! Typed statistics of a sync run, shared by everything that writes or reads them: how each
//! account ended ([`AccountOutcome`]), the accounts by outcome ([`AccountCounts`]), the
//! organization-wide phases ([`PhaseStats`]), and the documents built from them — the
//! `orgsync` section of a c1z sync run's `stats` ([`RunStats`], read back by `inspect`), the
//! `--summary-json` file ([`SyncSummary`]), and the store's record counts as `inspect` reads
//! them ([`StoredStats`]). `/metrics` renders [`AccountCounts`].
//!
//! JSON documents are written through a `serde_json::Value`, so their keys come out sorted as
//! they always have. Every field read has a default: a file written by an older orgsync (a
//! key missing) still reads.
//!
//! Not here: counting AWS calls (`aws::metrics`), producing the outcomes (`sync`), computing
//! the record counts of a c1z file (`store::c1z`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::arn::AccountId;
use crate::aws::ErrorClass;
use crate::aws::metrics::OpStats;

/// The key of orgsync's own section in a c1z sync run's `stats`.
pub const SECTION: &str = "orgsync";

/// How one account ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOutcome {
    pub account_id: AccountId,
    #[serde(default)]
    pub name: String,
    #[serde(flatten)]
    pub status: AccountStatus,
    #[serde(default)]
    pub records: usize,
    #[serde(default)]
    pub duration_ms: u64,
    /// Set when the account failed in the first pass (throttled or timed out) and was tried
    /// again at the end of the account phase; `status` is how that second pass ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_pass: Option<SecondPass>,
}

/// An account's second pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondPass {
    /// How the first pass failed.
    pub after: ErrorClass,
}

/// The second pass over accounts, when there was one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondPassStats {
    /// Accounts tried again.
    pub accounts: u64,
    /// Of those, the ones that ended `ok`.
    pub recovered: u64,
    /// The pause before it.
    pub pause_ms: u64,
}

/// Accounts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountCounts {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl AccountCounts {
    /// Counts `outcomes` by their status.
    pub fn of(outcomes: &[AccountOutcome]) -> AccountCounts {
        let mut c = AccountCounts {
            total: outcomes.len() as u64,
            ..AccountCounts::default()
        };
        for o in outcomes {
            match o.status {
                AccountStatus::Ok => c.ok += 1,
                AccountStatus::Failed { .. } => c.failed += 1,
                AccountStatus::Skipped { .. } => c.skipped += 1,
            }
        }
        c
    }

    /// The count of every [`AccountStatus::kind`], in [`AccountStatus::KINDS`] order.
    pub fn by_kind(&self) -> [(&'static str, u64); 3] {
        [
            ("ok", self.ok),
            ("failed", self.failed),
            ("skipped", self.skipped),
        ]
    }
}

/// A failed phase's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseError {
    pub class: ErrorClass,
    pub message: String,
}

/// A phase that is not per account (Identity Center): its records and its error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseStats {
    pub name: String,
    #[serde(default)]
    pub records: usize,
    #[serde(default)]
    pub error: Option<PhaseError>,
}

/// What both documents of a run report besides the accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunReport {
    pub phases: Vec<PhaseStats>,
    /// AWS calls by operation (`service:Operation`).
    pub aws_calls: BTreeMap<String, OpStats>,
    pub duration_ms: u64,
    pub notes: Vec<String>,
    /// The second pass over throttled or timed-out accounts, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_pass: Option<SecondPassStats>,
}

/// The `orgsync` section of a c1z sync run's `stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunStats {
    pub accounts: AccountCounts,
    /// The failed accounts only.
    pub failed_accounts: Vec<AccountOutcome>,
    #[serde(flatten)]
    pub run: RunReport,
}

impl RunStats {
    /// `{"orgsync": …}`: what the c1z sink adds to the sync run's `stats`.
    pub fn section(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut m = serde_json::Map::new();
        m.insert(SECTION.into(), serde_json::to_value(self)?);
        Ok(serde_json::Value::Object(m))
    }
}

/// Records written, by kind and resource type (`store::WriteReport::counts`).
pub type RecordCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// The `--summary-json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// What `orgsync sync` exits with (0 or 3; nothing is written on a failure).
    pub exit_code: u8,
    /// The c1z file written, if any.
    pub file: Option<PathBuf>,
    /// `--jsonl` as given (a path or `-`).
    pub jsonl: Option<String>,
    /// Every account, in account id order.
    pub accounts: Vec<AccountOutcome>,
    #[serde(default)]
    pub records: RecordCounts,
    #[serde(flatten)]
    pub run: RunReport,
}

impl SyncSummary {
    /// The document as pretty JSON, keys sorted.
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(&serde_json::to_value(self)?)
    }
}

/// The record counts a c1z sync run's `stats` hold (the SDK's SyncStats shape, computed by
/// `store::c1z`; zero counts and empty maps are left out of the file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncCounts {
    pub resource_types: i64,
    pub resources: i64,
    pub entitlements: i64,
    pub grants: i64,
    pub resources_by_resource_type: BTreeMap<String, i64>,
    pub entitlements_by_resource_type: BTreeMap<String, i64>,
    pub grants_by_resource_type: BTreeMap<String, i64>,
}

/// A c1z sync run's `stats` as orgsync reads them: the record counts, and orgsync's section
/// when the run was written by orgsync.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StoredStats {
    #[serde(flatten)]
    pub counts: SyncCounts,
    #[serde(default, rename = "orgsync")]
    pub run: Option<RunStats>,
}

impl StoredStats {
    /// Reads a sync run's `stats` (absent: no counts, no section).
    pub fn read(stats: Option<&serde_json::Value>) -> Result<StoredStats, serde_json::Error> {
        match stats {
            Some(v) => StoredStats::deserialize(v),
            None => Ok(StoredStats::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id(s: &str) -> AccountId {
        s.parse().unwrap()
    }

    fn outcome(account: &str, status: AccountStatus) -> AccountOutcome {
        AccountOutcome {
            account_id: id(account),
            name: "dev".into(),
            status,
            records: 3,
            duration_ms: 40,
            second_pass: None,
        }
    }

    fn failed() -> AccountStatus {
        AccountStatus::Failed {
            class: ErrorClass::AssumeRoleDenied,
            operation: "sts:AssumeRole".into(),
            message: "denied".into(),
        }
    }

    #[test]
    fn account_counts_by_the_kind_each_status_serializes_as() {
        let skipped = AccountStatus::Skipped {
            reason: "suspended".into(),
        };
        for s in [AccountStatus::Ok, failed(), skipped.clone()] {
            assert_eq!(serde_json::to_value(&s).unwrap()["status"], s.kind());
        }
        let outcomes = [
            outcome("111111111111", AccountStatus::Ok),
            outcome("222222222222", failed()),
            outcome("333333333333", AccountStatus::Ok),
            outcome("444444444444", skipped),
        ];
        let c = AccountCounts::of(&outcomes);
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            json!({"total": 4, "ok": 2, "failed": 1, "skipped": 1})
        );
        let kinds: Vec<&str> = c.by_kind().iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, AccountStatus::KINDS);
        for (kind, n) in c.by_kind() {
            assert_eq!(serde_json::to_value(c).unwrap()[kind], n, "{kind}");
        }
    }

    #[test]
    fn run_stats_keys_are_the_ones_inspect_and_older_files_use() {
        let stats = RunStats {
            accounts: AccountCounts::of(&[outcome("222222222222", failed())]),
            failed_accounts: vec![outcome("222222222222", failed())],
            run: RunReport {
                phases: vec![PhaseStats {
                    name: "identity center".into(),
                    records: 0,
                    error: Some(PhaseError {
                        class: ErrorClass::NotImplemented,
                        message: "no".into(),
                    }),
                }],
                aws_calls: BTreeMap::from([("sts:AssumeRole".into(), OpStats::default())]),
                duration_ms: 12,
                notes: vec!["a note".into()],
                second_pass: None,
            },
        };
        let v = stats.section().unwrap();
        assert_eq!(
            v,
            json!({"orgsync": {
                "accounts": {"total": 1, "ok": 0, "failed": 1, "skipped": 0},
                "failed_accounts": [{
                    "account_id": "222222222222", "name": "dev", "status": "failed",
                    "class": "assume_role_denied", "operation": "sts:AssumeRole",
                    "message": "denied", "records": 3, "duration_ms": 40,
                }],
                "phases": [{"name": "identity center", "records": 0,
                            "error": {"class": "not_implemented", "message": "no"}}],
                "aws_calls": {"sts:AssumeRole": {"calls": 0, "requests": 0, "throttled": 0, "errors": 0}},
                "duration_ms": 12,
                "notes": ["a note"],
            }})
        );
        let back = StoredStats::read(Some(&v)).unwrap();
        assert_eq!(back.run, Some(stats));
    }

    #[test]
    fn stats_of_an_older_file_read_with_defaults() {
        // No orgsync section at all (a file another tool wrote), and a section missing keys.
        let plain = json!({"resources": 4, "resources_by_resource_type": {"group": 4}});
        let s = StoredStats::read(Some(&plain)).unwrap();
        assert_eq!(s.counts.resources, 4);
        assert_eq!(s.counts.grants, 0);
        assert_eq!(s.run, None);
        let old = json!({"orgsync": {
            "accounts": {"total": 2, "ok": 2},
            "failed_accounts": [{"account_id": "222222222222", "status": "skipped", "reason": "r"}],
        }});
        let s = StoredStats::read(Some(&old)).unwrap();
        let run = s.run.unwrap();
        assert_eq!(run.accounts.skipped, 0);
        assert_eq!(run.accounts.ok, 2);
        assert_eq!(run.failed_accounts[0].records, 0);
        assert!(run.run.aws_calls.is_empty() && run.run.notes.is_empty());
        assert_eq!(StoredStats::read(None).unwrap(), StoredStats::default());
        // A malformed account id is refused, not carried along.
        let bad = json!({"orgsync": {"failed_accounts": [{"account_id": "12", "status": "ok"}]}});
        assert!(StoredStats::read(Some(&bad)).is_err());
    }

    #[test]
    fn the_summary_is_sorted_json() {
        let s = SyncSummary {
            exit_code: 3,
            file: Some("sync.c1z".into()),
            jsonl: None,
            accounts: vec![outcome("111111111111", AccountStatus::Ok)],
            records: RecordCounts::new(),
            run: RunReport::default(),
        };
        let text = s.to_json_pretty().unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 9, "{text}");
        let back: SyncSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
