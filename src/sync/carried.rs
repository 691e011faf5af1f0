//! Accounts a run does not read itself but must account for: accounts an earlier, interrupted
//! run already read (`resume`: their unit is written again and their outcome counted), and
//! accounts of other shards (`shard`: not written, but their `account` resource is handed to
//! the organization-wide phases so shard 0's Identity Center covers the whole organization).
//!
//! Not here: deciding which accounts are carried (`resume`, `shard`), reading (`engine`).

use std::collections::BTreeMap;

use crate::arn::AccountId;
use crate::model::pb;
use crate::model::stats::AccountOutcome;
use crate::store::{SinkSet, StoreError, Unit};

/// An account read by an earlier run of the same scope.
#[derive(Debug)]
pub(crate) struct ResumedAccount {
    pub outcome: AccountOutcome,
    /// Its `account` resource (org mode), for the organization-wide phases.
    pub resource: Option<pb::Resource>,
    /// Its records as that run read them.
    pub unit: Unit,
}

/// What a plan carries besides the accounts it reads.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    pub resumed: Vec<ResumedAccount>,
    /// `account` resources of accounts read by other shards (provisional status), by id.
    pub other_shards: BTreeMap<AccountId, pb::Resource>,
    /// The accounts above as the organization lists them (ACTIVE or not): the
    /// per-organization phases read them as planned accounts of the run.
    pub planned: BTreeMap<AccountId, bool>,
}

/// Writes the resumed units and adds the carried accounts to the run's outcomes (kept in
/// account id order) and to the `account` resources given to the organization-wide phases.
pub(crate) async fn add(
    carried: Carried,
    sinks: &SinkSet,
    outcomes: &mut Vec<AccountOutcome>,
    resources: &mut BTreeMap<AccountId, pb::Resource>,
) -> Result<(), StoreError> {
    for r in carried.resumed {
        if !r.unit.records.is_empty() || !r.unit.shared.is_empty() {
            sinks.send(r.unit).await?;
        }
        if let Some(res) = r.resource {
            resources.insert(r.outcome.account_id.clone(), res);
        }
        outcomes.push(r.outcome);
    }
    for (id, res) in carried.other_shards {
        resources.entry(id).or_insert(res);
    }
    outcomes.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    Ok(())
}
