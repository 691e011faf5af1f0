//! The interface a connector offers the sync: collectors, chosen for a run by `sync::run` and
//! run by `sync::engine`. A per-account collector
//! ([`AccountCollector`], IAM in `connector::iam::collector`) reads inside every account the
//! engine enters; its records join that account's unit (a large account's mapping hands them
//! over in [`Parts`] as it goes). A per-organization collector
//! ([`OrgCollector`], Identity Center in `connector::identity_center::phase`) runs once, while
//! the accounts are read (it has a token bucket of its own); it gets the planned accounts once
//! the organization is listed and maps what it read once the accounts are done ([`Handover`]),
//! and its records are one unit of their own.
//!
//! Not here: entering an account (the engine hops and verifies the hop before a per-account
//! collector runs), isolating failures or writing units (`engine`), the records themselves
//! (each domain's `records`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::arn::AccountId;
use crate::aws::{AwsError, Scope, Session};
use crate::connector::org::OrgSnapshot;
use crate::model::build::rid;
use crate::model::{Record, pb, types as rt};
use crate::store::{BlockingSender, StoreError, Unit};

/// The account a per-account collector reads, and how its records are placed.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub account_id: AccountId,
    /// Account name from Organizations; the id when unknown.
    pub name: String,
    /// Account ARN from Organizations, when known.
    pub arn: Option<String>,
    /// The caller's own account: its IAM resources are top level (no `account_iam` parent),
    /// as in baton-aws.
    pub is_caller: bool,
    pub partition: String,
}

impl AccountInfo {
    /// The parent of the account's IAM resources: none for the caller's account.
    pub fn parent(&self) -> Option<pb::ResourceId> {
        (!self.is_caller).then(|| rid(rt::ACCOUNT_IAM, self.account_id.as_str()))
    }
}

/// Records a collector produced.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub records: Vec<Record>,
    /// Records other units may carry too (AWS-managed policies); written once.
    pub shared: Vec<Record>,
}

/// Reads one account (the engine has entered it) and maps what it read to records.
pub(crate) trait AccountCollector: Send + Sync {
    /// The resource types of the records it produces, declared by every run it is part of.
    fn resource_types(&self) -> &'static [&'static str];

    /// Reads the account `scope` is in. An error fails the account (none of its records are
    /// written, so it must come before anything is handed to `parts`).
    fn collect<'a>(
        &'a self,
        scope: &'a Scope,
        account: &'a AccountInfo,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Collected, AwsError>>;
}

/// Where a per-account collector may hand over records before it returns, from a blocking
/// thread: the writer takes each part at once, so a large account's records need not all be in
/// memory together. The engine cannot take a part back: a collector hands over only what
/// stands whatever happens after (its mapping, once every read of the account succeeded).
#[derive(Clone)]
pub(crate) struct Parts {
    sender: Option<BlockingSender>,
    label: Arc<str>,
    sent: Arc<AtomicUsize>,
    /// The first failure to hand over (the writer stopped); later parts are dropped.
    failed: Arc<Mutex<Option<StoreError>>>,
}

impl Parts {
    /// Parts of the unit `label`, written through `sender` (none: parts are dropped, for
    /// callers without a writer).
    pub fn new(sender: Option<BlockingSender>, label: impl Into<Arc<str>>) -> Parts {
        Parts {
            sender,
            label: label.into(),
            sent: Arc::default(),
            failed: Arc::default(),
        }
    }

    /// Writes `records` as a part of the unit (waiting while the writer is behind). Blocks:
    /// call it from a blocking thread, never from async code.
    pub fn send(&self, records: Vec<Record>) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if failed.is_some() || records.is_empty() {
            return;
        }
        let Some(sender) = &self.sender else {
            return;
        };
        let n = records.len();
        let unit = Unit {
            label: format!("{}{}", self.label, crate::store::resume::PART_SUFFIX),
            records,
            shared: vec![],
        };
        match sender.send(unit) {
            Ok(()) => {
                self.sent.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => *failed = Some(e),
        }
    }

    /// Records handed over so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Why handing over failed, if it did.
    pub fn take_failure(&self) -> Option<StoreError> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The `account` resources of a run (org mode), by account id, with their final sync status.
/// Empty when the caller is not in an organization.
pub(crate) type AccountResources = BTreeMap<AccountId, pb::Resource>;

/// The run's organization accounts (org mode) as planned, by account id: whether the
/// organization lists each as ACTIVE.
pub(crate) type PlannedAccounts = BTreeMap<AccountId, bool>;

/// What a per-organization collector gets to work with.
pub(crate) struct OrgInput<'a> {
    pub session: &'a Session,
    /// The planned accounts, once the organization is listed.
    pub planned: Handover<PlannedAccounts>,
    /// The organization as listed (roots, OUs and accounts), once it is; never in a run
    /// without an organization.
    pub org: Handover<OrgSnapshot>,
    /// The `account` resources, once every account is done.
    pub accounts: Handover<AccountResources>,
}

/// A value the engine hands to the per-organization collectors once it is known.
pub(crate) struct Handover<T>(watch::Receiver<Option<Arc<T>>>);

impl<T> Clone for Handover<T> {
    fn clone(&self) -> Self {
        Handover(self.0.clone())
    }
}

impl<T> Handover<T> {
    /// A hand-over: the engine sends into the sender once, when the value is known.
    pub fn channel() -> (watch::Sender<Option<Arc<T>>>, Handover<T>) {
        let (tx, rx) = watch::channel(None);
        (tx, Handover(rx))
    }

    /// Waits for the value; `None` when the run stopped before it was known (the engine then
    /// drops the collector's output anyway).
    pub async fn wait(mut self) -> Option<Arc<T>> {
        let got = self.0.wait_for(Option::is_some).await.ok()?;
        got.as_ref().map(Arc::clone)
    }
}

/// What a per-organization collector produced: its records are written as one unit.
#[derive(Debug, Default)]
pub(crate) struct OrgOutput {
    pub collected: Collected,
    pub notes: Vec<String>,
    /// Set when the collector failed; its records (if any) are still written.
    pub error: Option<AwsError>,
}

/// Reads once for the whole organization, while the accounts are read (a "phase" of the run).
pub(crate) trait OrgCollector: Send + Sync {
    /// The phase's name in notes, logs and statistics (e.g. `identity center`).
    fn name(&self) -> &'static str;

    /// The resource types of the records it produces, declared by every run it is part of.
    fn resource_types(&self) -> &'static [&'static str];

    /// Reads and maps. Never fails the run: a failure is `OrgOutput::error`.
    fn collect<'a>(&'a self, input: OrgInput<'a>) -> BoxFuture<'a, OrgOutput>;
}

/// The collectors of a run, in the order they run.
#[derive(Default)]
pub(crate) struct Collectors {
    pub per_account: Vec<Box<dyn AccountCollector>>,
    pub per_org: Vec<Box<dyn OrgCollector>>,
}

impl Collectors {
    /// Every resource type the collectors produce, in order, each once.
    pub fn resource_types(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = vec![];
        let all = self
            .per_account
            .iter()
            .flat_map(|c| c.resource_types())
            .chain(self.per_org.iter().flat_map(|c| c.resource_types()));
        for t in all {
            if !out.contains(t) {
                out.push(t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stub(&'static [&'static str]);

    impl AccountCollector for Stub {
        fn resource_types(&self) -> &'static [&'static str] {
            self.0
        }
        fn collect<'a>(
            &'a self,
            _scope: &'a Scope,
            _account: &'a AccountInfo,
            _parts: &'a Parts,
        ) -> BoxFuture<'a, Result<Collected, AwsError>> {
            Box::pin(async { Ok(Collected::default()) })
        }
    }

    impl OrgCollector for Stub {
        fn name(&self) -> &'static str {
            "stub"
        }
        fn resource_types(&self) -> &'static [&'static str] {
            self.0
        }
        fn collect<'a>(&'a self, _input: OrgInput<'a>) -> BoxFuture<'a, OrgOutput> {
            Box::pin(async { OrgOutput::default() })
        }
    }

    #[test]
    fn resource_types_in_collector_order_each_once() {
        let c = Collectors {
            per_account: vec![Box::new(Stub(&["account_iam", "iam_policy"]))],
            per_org: vec![
                Box::new(Stub(&["sso_user", "iam_policy"])),
                Box::new(Stub(&["sso_user", "permission_set"])),
            ],
        };
        assert_eq!(
            c.resource_types(),
            ["account_iam", "iam_policy", "sso_user", "permission_set"]
        );
    }
}
