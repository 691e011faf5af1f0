//! Resuming an interrupted sync: the accounts an earlier run of the same scope read within
//! the maximum age (loaded from the work file by the caller, `store::resume`) are not read
//! again; their units are written as they were read and their outcomes counted
//! (`carried`). Accounts the plan skips, and accounts the earlier run could not read, are
//! planned as usual.
//!
//! Not here: the work file itself (`store::resume`), the flags (`cli::cmd::sync`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::model::stats::{AccountOutcome, AccountStatus};
use crate::model::{Record, types as rt};
use crate::store::Unit;
use crate::store::resume::StoredUnit;

use super::carried::ResumedAccount;
use super::plan::Plan;

/// What an earlier run left to resume from, and notes about the work file.
#[derive(Clone, Default)]
pub struct Prior {
    units: Arc<BTreeMap<String, StoredUnit>>,
    notes: Vec<String>,
}

impl fmt::Debug for Prior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prior({} accounts)", self.units.len())
    }
}

impl Prior {
    pub fn new(units: BTreeMap<String, StoredUnit>, notes: Vec<String>) -> Prior {
        Prior {
            units: Arc::new(units),
            notes,
        }
    }

    /// No account to resume.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// Takes the planned accounts `prior` holds out of `plan.accounts` into its carried accounts.
/// Returns how many were taken.
pub(crate) fn apply(prior: &Prior, plan: &mut Plan) -> usize {
    plan.notes.extend(prior.notes.iter().cloned());
    if prior.units.is_empty() {
        return 0;
    }
    let mut taken = 0;
    let accounts = std::mem::take(&mut plan.accounts);
    for a in accounts {
        let stored = match (&a.skip, prior.units.get(a.info.account_id.as_str())) {
            (None, Some(s)) => s,
            _ => {
                plan.accounts.push(a);
                continue;
            }
        };
        let resource = stored.records.iter().find_map(|r| match r {
            Record::Resource(res)
                if res
                    .id
                    .as_ref()
                    .is_some_and(|i| i.resource_type == rt::ACCOUNT) =>
            {
                Some(res.clone())
            }
            _ => None,
        });
        if let Some(o) = &a.org_account {
            plan.carried
                .planned
                .insert(a.info.account_id.clone(), o.is_active());
        }
        plan.carried.resumed.push(ResumedAccount {
            outcome: AccountOutcome {
                account_id: a.info.account_id.clone(),
                name: a.info.name.clone(),
                status: AccountStatus::Ok,
                records: stored.records.len() + stored.shared.len(),
                duration_ms: 0,
                second_pass: None,
            },
            resource,
            unit: Unit {
                label: format!("resumed account {}", a.info.account_id),
                records: stored.records.clone(),
                shared: stored.shared.clone(),
            },
        });
        taken += 1;
    }
    taken
}
