//! The interface a connector offers the sync: collectors, chosen for a run by `sync::run` and
//! run by `sync::engine`. A per-account collector
//! ([`AccountCollector`], IAM in `connector::iam::collector`) reads inside every account the
//! engine enters; its records join that account's unit. A per-organization collector
//! ([`OrgCollector`], Identity Center in `connector::identity_center::phase`) runs once, after
//! the accounts, and its records are one unit of their own.
//!
//! Not here: entering an account (the engine hops and verifies the hop before a per-account
//! collector runs), isolating failures or writing units (`engine`), the records themselves
//! (each domain's `records`).

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::arn::AccountId;
use crate::aws::{AwsError, Scope, Session};
use crate::model::build::rid;
use crate::model::{Record, pb, types as rt};

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
    /// written).
    fn collect<'a>(
        &'a self,
        scope: &'a Scope,
        account: &'a AccountInfo,
    ) -> BoxFuture<'a, Result<Collected, AwsError>>;
}

/// What a per-organization collector gets to work with.
pub(crate) struct OrgInput<'a> {
    pub session: &'a Session,
    /// The `account` resources of the run (org mode), by account id, with their final sync
    /// status. Empty when the caller is not in an organization.
    pub accounts: &'a BTreeMap<AccountId, pb::Resource>,
}

/// What a per-organization collector produced: its records are written as one unit.
#[derive(Debug, Default)]
pub(crate) struct OrgOutput {
    pub collected: Collected,
    pub notes: Vec<String>,
    /// Set when the collector failed; its records (if any) are still written.
    pub error: Option<AwsError>,
}

/// Reads once for the whole organization, after the accounts (a "phase" of the run).
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
