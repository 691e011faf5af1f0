//! How account assignments are enumerated, and what each way costs. Identity Center answers
//! "who is assigned what" three ways:
//!
//! - **principal**: `ListAccountAssignmentsForPrincipal` once per user and per group
//!   (U + G calls, more only for a principal with over 100 assignments);
//! - **permission-set**: `ListAccountsForProvisionedPermissionSet` once per permission set
//!   (P calls) to find the provisioned (permission set, account) pairs, then
//!   `ListAccountAssignments` once per pair;
//! - **account**: `ListPermissionSetsProvisionedToAccount` once per account (A calls) to find
//!   the same pairs, then `ListAccountAssignments` once per pair.
//!
//! The two pair strategies only differ in how they find the pairs, so the cheaper of them is
//! the one with fewer discovery calls (min(P, A)). `auto` first compares that with U + G: if
//! asking every principal costs no more than discovering the pairs, it asks every principal.
//! Otherwise it discovers the pairs, and then keeps the pair strategy only if listing the
//! pairs costs no more than asking every principal (the discovery calls are spent either
//! way). The worst case is therefore below twice the cheapest strategy.
//!
//! While the organization's accounts are still being listed, A is unknown and the account
//! strategy cannot start, so `auto` compares U + G with P alone ([`first_step_unlisted`]): it
//! asks every principal, or discovers the pairs per permission set (which needs no account
//! list) and then decides with [`keep_pairs`] as above. The pairs are filtered to the run's
//! accounts once they are listed. This costs at most P − A discovery calls more than waiting
//! for the list, and starts the assignments that much earlier. Pure logic, no AWS.
//!
//! Not here: the calls themselves (`read`), the `--ic-assignment-strategy` flag
//! (`cli::ic_args`).

use std::fmt;

/// One way of enumerating account assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `ListAccountAssignmentsForPrincipal` per user and group.
    Principal,
    /// Provisioned accounts per permission set, then `ListAccountAssignments` per pair.
    PermissionSet,
    /// Provisioned permission sets per account, then `ListAccountAssignments` per pair.
    Account,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Principal => "principal",
            Strategy::PermissionSet => "permission-set",
            Strategy::Account => "account",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which strategy to use: the cheapest (auto), or a fixed one (`--ic-assignment-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyChoice {
    /// The cheapest by the estimates below.
    Auto,
    Principal,
    PermissionSet,
    Account,
}

impl StrategyChoice {
    /// The fixed strategy, or `None` for auto.
    pub fn fixed(self) -> Option<Strategy> {
        match self {
            StrategyChoice::Auto => None,
            StrategyChoice::Principal => Some(Strategy::Principal),
            StrategyChoice::PermissionSet => Some(Strategy::PermissionSet),
            StrategyChoice::Account => Some(Strategy::Account),
        }
    }
}

/// What is known before any assignment call: the sizes of the identity store, of the
/// permission-set list, and of the run's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Known {
    pub users: u64,
    pub groups: u64,
    pub permission_sets: u64,
    pub accounts: u64,
}

impl Known {
    /// Calls of the principal strategy (one page per principal).
    pub fn principal_calls(&self) -> u64 {
        self.users + self.groups
    }

    /// Discovery calls of a pair strategy (one page per permission set or account).
    pub fn discovery_calls(&self, s: Strategy) -> u64 {
        match s {
            Strategy::Principal => 0,
            Strategy::PermissionSet => self.permission_sets,
            Strategy::Account => self.accounts,
        }
    }

    /// At most this many (permission set, account) pairs can be provisioned.
    pub fn max_pairs(&self) -> u64 {
        self.permission_sets.saturating_mul(self.accounts)
    }

    /// Total calls of `s` when `pairs` pairs are provisioned.
    pub fn total(&self, s: Strategy, pairs: u64) -> u64 {
        match s {
            Strategy::Principal => self.principal_calls(),
            other => self.discovery_calls(other).saturating_add(pairs),
        }
    }

    /// The pair strategy with fewer discovery calls (permission-set on a tie).
    pub fn cheaper_pair_strategy(&self) -> Strategy {
        if self.permission_sets <= self.accounts {
            Strategy::PermissionSet
        } else {
            Strategy::Account
        }
    }

    /// True when no assignment can exist (no permission set or no account), so nothing
    /// needs to be asked.
    pub fn nothing_to_ask(&self) -> bool {
        self.permission_sets == 0 || self.accounts == 0
    }

    /// A one-line account of the estimates, `pairs` when known.
    pub fn describe(&self, pairs: Option<u64>) -> String {
        let pair_text = |s: Strategy| match pairs {
            Some(p) => format!(
                "{} + {p} pairs = {}",
                self.discovery_calls(s),
                self.total(s, p)
            ),
            None => format!(
                "{} + pairs (0..={})",
                self.discovery_calls(s),
                self.max_pairs()
            ),
        };
        format!(
            "principal {} ({} users + {} groups), permission-set {}, account {}",
            self.principal_calls(),
            self.users,
            self.groups,
            pair_text(Strategy::PermissionSet),
            pair_text(Strategy::Account)
        )
    }
}

/// Auto's first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstStep {
    /// Ask every principal: no pair strategy can be cheaper.
    Principal,
    /// Discover the provisioned pairs with this strategy, then decide with [`keep_pairs`].
    Discover(Strategy),
}

/// Auto's first step from what is known before any assignment call.
pub fn first_step(k: &Known) -> FirstStep {
    let pair = k.cheaper_pair_strategy();
    if k.principal_calls() <= k.discovery_calls(pair) {
        FirstStep::Principal
    } else {
        FirstStep::Discover(pair)
    }
}

/// Auto's first step while the run's accounts are not listed yet: the account strategy is out
/// (it needs the accounts), so the permission-set discovery is weighed against asking every
/// principal.
pub fn first_step_unlisted(k: &Known) -> FirstStep {
    if k.principal_calls() <= k.permission_sets {
        FirstStep::Principal
    } else {
        FirstStep::Discover(Strategy::PermissionSet)
    }
}

impl Known {
    /// [`Known::describe`] while the accounts are not listed (`self.accounts` is not used):
    /// the principal and permission-set estimates, `pairs` when known.
    pub fn describe_unlisted(&self, pairs: Option<u64>) -> String {
        let pair_text = match pairs {
            Some(p) => format!(
                "{} + {p} pairs = {}",
                self.permission_sets,
                self.permission_sets.saturating_add(p)
            ),
            None => format!("{} + pairs", self.permission_sets),
        };
        format!(
            "principal {} ({} users + {} groups), permission-set {pair_text}, account not weighed (accounts still being listed)",
            self.principal_calls(),
            self.users,
            self.groups,
        )
    }
}

/// After discovery found `pairs` pairs: true to list them (`pairs` calls), false to ask every
/// principal instead (U + G calls). The discovery calls are spent either way.
pub fn keep_pairs(k: &Known, pairs: u64) -> bool {
    pairs <= k.principal_calls()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(users: u64, groups: u64, permission_sets: u64, accounts: u64) -> Known {
        Known {
            users,
            groups,
            permission_sets,
            accounts,
        }
    }

    #[test]
    fn ic_strategy_estimates_count_calls_per_strategy() {
        // fixtures/org.json on AWS: 24 users, 5 groups, 4 permission sets, 6 active accounts,
        // 13 assigned (so provisioned) pairs.
        let k = known(24, 5, 4, 6);
        assert_eq!(k.total(Strategy::Principal, 13), 29);
        assert_eq!(k.total(Strategy::PermissionSet, 13), 17);
        assert_eq!(k.total(Strategy::Account, 13), 19);
        assert_eq!(k.max_pairs(), 24);
        assert_eq!(
            k.describe(Some(13)),
            "principal 29 (24 users + 5 groups), permission-set 4 + 13 pairs = 17, account 6 + 13 pairs = 19"
        );
        assert!(
            k.describe(None)
                .contains("permission-set 4 + pairs (0..=24)")
        );
    }

    #[test]
    fn ic_strategy_auto_discovers_pairs_when_principals_are_many() {
        let k = known(24, 5, 4, 6);
        assert_eq!(first_step(&k), FirstStep::Discover(Strategy::PermissionSet));
        assert!(keep_pairs(&k, 13));
        // Every set provisioned everywhere and few principals: asking principals is cheaper.
        assert!(!keep_pairs(&known(10, 2, 4, 7), 28));
        // More permission sets than accounts: discover per account.
        assert_eq!(
            first_step(&known(5000, 100, 60, 40)),
            FirstStep::Discover(Strategy::Account)
        );
        // A small directory is cheaper to ask principal by principal than to discover pairs.
        assert_eq!(first_step(&known(3, 1, 10, 20)), FirstStep::Principal);
        // Ties go to the principal strategy (no second step) and to permission-set discovery.
        assert_eq!(first_step(&known(3, 1, 4, 9)), FirstStep::Principal);
        assert_eq!(
            known(1, 1, 5, 5).cheaper_pair_strategy(),
            Strategy::PermissionSet
        );
    }

    #[test]
    fn ic_strategy_unlisted_accounts_weigh_principals_against_permission_sets_only() {
        // The account count is not looked at: 4 accounts would make account discovery the
        // cheaper pair strategy once listed, but it cannot start before.
        let k = known(24, 5, 6, 4);
        assert_eq!(
            first_step_unlisted(&k),
            FirstStep::Discover(Strategy::PermissionSet)
        );
        assert_eq!(first_step(&k), FirstStep::Discover(Strategy::Account));
        assert_eq!(
            first_step_unlisted(&known(3, 1, 4, 0)),
            FirstStep::Principal
        );
        assert_eq!(
            first_step_unlisted(&known(3, 1, 3, 9)),
            FirstStep::Discover(Strategy::PermissionSet)
        );
        assert_eq!(
            k.describe_unlisted(Some(13)),
            "principal 29 (24 users + 5 groups), permission-set 6 + 13 pairs = 19, account not weighed (accounts still being listed)"
        );
    }

    #[test]
    fn ic_strategy_nothing_to_ask_without_sets_or_accounts() {
        assert!(known(10, 2, 0, 7).nothing_to_ask());
        assert!(known(10, 2, 3, 0).nothing_to_ask());
        assert!(!known(0, 0, 3, 2).nothing_to_ask());
        assert_eq!(StrategyChoice::Auto.fixed(), None);
        assert_eq!(StrategyChoice::Account.fixed(), Some(Strategy::Account));
    }
}
