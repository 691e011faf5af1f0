//! Reads one Identity Center instance: the identity store (users, groups, the user members of
//! each group), the permission sets with their managed, customer-managed, inline policies and
//! boundary (a detail the endpoint does not implement is asked for once and left out), and the
//! account assignments by the strategy `strategy` chooses. Every call goes through
//! `Scope::call` / `Scope::pages` with the org-wide Identity Center token bucket, at most
//! [`IC_CONCURRENCY`] at a time.
//!
//! Not here: finding the instance (`discover`), the SDK-to-model mapping (`convert`), records
//! (`records`), provisioning.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::errors::NotImplemented;
use crate::aws::{AwsError, ErrorClass, Limiter, Scope};
use crate::connector::iam::model::Attached;

use super::convert::{
    assignment_for_principal, assignment_in_pair, boundary_of, customer_policy_of, ic_group_of,
    ic_user_of, managed_policy_of, membership_of, permission_set_of, principal_type,
};
use super::model::*;
use super::strategy::{
    FirstStep, Known, Strategy, StrategyChoice, first_step, first_step_unlisted, keep_pairs,
};

/// Identity Center calls in flight at once (the token bucket sets the rate).
const IC_CONCURRENCY: usize = 8;

/// How the assignments were enumerated, for notes and logs.
#[derive(Debug, Clone)]
pub struct AssignmentReport {
    pub strategy: Strategy,
    /// Chosen by auto (else forced by the flag).
    pub auto: bool,
    /// Auto discovered pairs with a pair strategy, then found asking principals cheaper.
    pub switched_from: Option<Strategy>,
    pub estimate: String,
    /// Calls actually made (pages included).
    pub calls: u64,
}

impl AssignmentReport {
    pub(super) fn note(&self) -> String {
        let how = match (self.auto, self.switched_from) {
            (true, Some(from)) => format!(
                "auto chose {} after {from} discovery showed more pairs than principals",
                self.strategy
            ),
            (true, None) => format!("auto chose {}", self.strategy),
            (false, _) => format!("{} (--ic-assignment-strategy)", self.strategy),
        };
        format!(
            "Identity Center assignments: {how}; estimated calls: {}; made {} calls",
            self.estimate, self.calls
        )
    }
}

/// The users, groups and user memberships of an identity store.
pub(super) type IdentityStore = (Vec<IcUser>, Vec<IcGroup>, Vec<Membership>);

type Pairs = BTreeSet<(String, String)>;

/// The accounts whose assignments are read.
#[derive(Debug, Clone, Copy)]
pub(super) enum AccountScope<'s> {
    /// The run's accounts, listed.
    Listed(&'s BTreeSet<String>),
    /// Not listed yet: every account but `except` (one Identity Center will not show the
    /// caller); the caller filters what is found once the run's accounts are listed.
    Unlisted { except: Option<&'s str> },
}

impl AccountScope<'_> {
    fn admits(&self, account: &str) -> bool {
        match self {
            AccountScope::Listed(a) => a.contains(account),
            AccountScope::Unlisted { except } => *except != Some(account),
        }
    }
}

/// Reads one instance with the management scope's credentials.
pub(super) struct Reader<'a> {
    scope: &'a Scope,
    lim: &'a Limiter,
    sso: aws_sdk_ssoadmin::Client,
    ids: aws_sdk_identitystore::Client,
    instance: &'a Instance,
    page: i32,
    /// Pages read by the assignment enumeration (for its report).
    calls: AtomicU64,
    /// Per optional operation: `None` until its first answer, then whether the endpoint
    /// implements it.
    implemented: Mutex<BTreeMap<&'static str, Arc<tokio::sync::Mutex<Option<bool>>>>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(scope: &'a Scope, lim: &'a Limiter, instance: &'a Instance) -> Reader<'a> {
        Reader {
            scope,
            lim,
            sso: scope.sso_admin(&instance.region),
            ids: scope.identity_store(&instance.region),
            instance,
            page: scope.settings().ic_page_size,
            calls: AtomicU64::new(0),
            implemented: Mutex::new(BTreeMap::new()),
        }
    }

    /// The optional operations the endpoint answered "not implemented".
    pub(super) fn unimplemented(&self) -> Vec<&'static str> {
        let gates = self
            .implemented
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        gates
            .iter()
            .filter(|(_, g)| g.try_lock().is_ok_and(|k| *k == Some(false)))
            .map(|(op, _)| *op)
            .collect()
    }

    /// `request` (a page request of [`Scope::pages`]), counting each request it makes in
    /// [`AssignmentReport::calls`].
    fn counted<Fut>(
        &self,
        request: impl Fn(Option<String>) -> Fut,
    ) -> impl Fn(Option<String>) -> Fut {
        move |token| {
            self.calls.fetch_add(1, Ordering::Relaxed);
            request(token)
        }
    }

    /// `read` (calls of `op`, an operation an endpoint may not implement), or `None` when the
    /// endpoint does not implement `op`. The first read of `op` runs alone and settles that,
    /// so such an endpoint is asked once, not once per permission set; the reads after it run
    /// concurrently, or not at all.
    async fn optional<T, Fut>(
        &self,
        op: &'static str,
        read: impl FnOnce() -> Fut,
    ) -> Result<Option<T>, AwsError>
    where
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let gate = Arc::clone(
            self.implemented
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(op)
                .or_default(),
        );
        let known = gate.lock().await;
        let first = match *known {
            Some(false) => return Ok(None),
            Some(true) => {
                drop(known);
                None
            }
            None => Some(known),
        };
        let answer = read().await;
        if let Some(mut known) = first {
            *known = Some(!answer.as_ref().is_err_and(AwsError::is_not_implemented));
        }
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_implemented() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Users, groups and the user memberships of every group (one paged call per group).
    pub(super) async fn identity_store(&self) -> Result<IdentityStore, AwsError> {
        let store = self.instance.identity_store_id.as_str();
        let users = self
            .scope
            .pages(
                self.lim,
                |t| {
                    self.ids
                        .list_users()
                        .identity_store_id(store)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.users().iter().map(ic_user_of));
                    r.next_token().map(str::to_string)
                },
            )
            .await?;
        let groups = self
            .scope
            .pages(
                self.lim,
                |t| {
                    self.ids
                        .list_groups()
                        .identity_store_id(store)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.groups().iter().map(ic_group_of));
                    r.next_token().map(str::to_string)
                },
            )
            .await?;
        let mut memberships = each_unordered(&groups, |g| self.members(store, &g.id)).await?;
        memberships.sort();
        memberships.dedup_by(|a, b| a.id == b.id);
        Ok((users, groups, memberships))
    }

    /// The user members of group `group_id`.
    async fn members(&self, store: &str, group_id: &str) -> Result<Vec<Membership>, AwsError> {
        self.scope
            .pages(
                self.lim,
                |t| {
                    self.ids
                        .list_group_memberships()
                        .identity_store_id(store)
                        .group_id(group_id)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(
                        r.group_memberships()
                            .iter()
                            .filter_map(|m| membership_of(m, group_id)),
                    );
                    r.next_token().map(str::to_string)
                },
            )
            .await
    }

    /// Every permission set with its details (five calls each; the optional ones tolerate an
    /// endpoint that does not implement them), in ARN order.
    pub(super) async fn permission_sets(&self) -> Result<Vec<PermissionSet>, AwsError> {
        let inst = self.instance.arn.as_str();
        let arns: BTreeSet<String> = self
            .scope
            .pages(
                self.lim,
                |t| {
                    self.sso
                        .list_permission_sets()
                        .instance_arn(inst)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.permission_sets().iter().cloned());
                    r.next_token().map(str::to_string)
                },
            )
            .await?
            .into_iter()
            .collect();
        let mut sets = each_unordered(&arns, |arn| async move {
            self.permission_set(arn).await.map(|p| vec![p])
        })
        .await?;
        sets.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(sets)
    }

    /// One permission set: described, then its four kinds of policy.
    async fn permission_set(&self, arn: &str) -> Result<PermissionSet, AwsError> {
        let inst = self.instance.arn.as_str();
        let described = self
            .scope
            .call(self.lim, || {
                self.sso
                    .describe_permission_set()
                    .instance_arn(inst)
                    .permission_set_arn(arn)
                    .send()
            })
            .await?;
        let mut set = permission_set_of(arn, described.permission_set());
        set.managed = self
            .optional("ListManagedPoliciesInPermissionSet", || {
                self.managed_policies(arn)
            })
            .await?
            .unwrap_or_default();
        set.customer_managed = self
            .optional("ListCustomerManagedPolicyReferencesInPermissionSet", || {
                self.customer_policies(arn)
            })
            .await?
            .unwrap_or_default();
        set.inline = self
            .optional("GetInlinePolicyForPermissionSet", || {
                self.inline_policy(arn)
            })
            .await?
            .flatten();
        set.boundary = self
            .optional("GetPermissionsBoundaryForPermissionSet", || {
                self.boundary(arn)
            })
            .await?
            .flatten();
        Ok(set)
    }

    /// The AWS-managed policies of permission set `arn`.
    async fn managed_policies(&self, arn: &str) -> Result<Vec<Attached>, AwsError> {
        let inst = self.instance.arn.as_str();
        self.scope
            .pages(
                self.lim,
                |t| {
                    self.sso
                        .list_managed_policies_in_permission_set()
                        .instance_arn(inst)
                        .permission_set_arn(arn)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(
                        r.attached_managed_policies()
                            .iter()
                            .filter_map(managed_policy_of),
                    );
                    r.next_token().map(str::to_string)
                },
            )
            .await
    }

    /// The customer-managed policies permission set `arn` references.
    async fn customer_policies(&self, arn: &str) -> Result<Vec<CustomerPolicyRef>, AwsError> {
        let inst = self.instance.arn.as_str();
        self.scope
            .pages(
                self.lim,
                |t| {
                    self.sso
                        .list_customer_managed_policy_references_in_permission_set()
                        .instance_arn(inst)
                        .permission_set_arn(arn)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(
                        r.customer_managed_policy_references()
                            .iter()
                            .map(customer_policy_of),
                    );
                    r.next_token().map(str::to_string)
                },
            )
            .await
    }

    /// The inline policy document of permission set `arn`, if it has one.
    async fn inline_policy(&self, arn: &str) -> Result<Option<String>, AwsError> {
        let inst = self.instance.arn.as_str();
        let r = self
            .scope
            .call(self.lim, || {
                self.sso
                    .get_inline_policy_for_permission_set()
                    .instance_arn(inst)
                    .permission_set_arn(arn)
                    .send()
            })
            .await?;
        Ok(r.inline_policy()
            .filter(|p| !p.trim().is_empty())
            .map(str::to_string))
    }

    /// The permissions boundary of permission set `arn`, if it has one.
    async fn boundary(&self, arn: &str) -> Result<Option<Boundary>, AwsError> {
        let inst = self.instance.arn.as_str();
        let r = self
            .scope
            .call(self.lim, || {
                self.sso
                    .get_permissions_boundary_for_permission_set()
                    .instance_arn(inst)
                    .permission_set_arn(arn)
                    .send()
            })
            .await;
        match r {
            Ok(r) => Ok(r.permissions_boundary().and_then(boundary_of)),
            // A permission set without a boundary is answered with ResourceNotFoundException.
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Account assignments in `accounts`, by `choice` (auto: see `strategy`). With
    /// [`AccountScope::Unlisted`] the caller filters them to the run's accounts.
    pub(super) async fn assignments(
        &self,
        choice: StrategyChoice,
        users: &[IcUser],
        groups: &[IcGroup],
        sets: &[PermissionSet],
        accounts: AccountScope<'_>,
    ) -> Result<(BTreeSet<Assignment>, AssignmentReport), AwsError> {
        let listed = match accounts {
            AccountScope::Listed(a) => Some(a),
            AccountScope::Unlisted { .. } => None,
        };
        let known = Known {
            users: users.len() as u64,
            groups: groups.len() as u64,
            permission_sets: sets.len() as u64,
            accounts: listed.map_or(0, |a| a.len() as u64),
        };
        let describe = |pairs| match listed {
            Some(_) => known.describe(pairs),
            None => known.describe_unlisted(pairs),
        };
        let start = self.calls.load(Ordering::Relaxed);
        let mut report = AssignmentReport {
            strategy: Strategy::Principal,
            auto: choice.fixed().is_none(),
            switched_from: None,
            estimate: describe(None),
            calls: 0,
        };
        if known.permission_sets == 0 || (listed.is_some() && known.nothing_to_ask()) {
            report.estimate = "none: no permission set or no account".into();
            return Ok((BTreeSet::new(), report));
        }
        let set_arns: BTreeSet<&str> = sets.iter().map(|s| s.arn.as_str()).collect();
        let step = match listed {
            Some(_) => first_step(&known),
            None => first_step_unlisted(&known),
        };
        let plan = match (choice.fixed(), step) {
            (Some(s), _) => s,
            (None, FirstStep::Principal) => Strategy::Principal,
            (None, FirstStep::Discover(s)) => s,
        };
        report.strategy = plan;
        let discovered = match (plan, listed) {
            (Strategy::Principal, _) => None,
            (Strategy::PermissionSet, _) => Some(self.pairs_by_permission_set(sets).await?),
            (Strategy::Account, Some(a)) => Some(self.pairs_by_account(a).await?),
            (Strategy::Account, None) => {
                return Err(AwsError::local(
                    "sso",
                    "ListPermissionSetsProvisionedToAccount",
                    ErrorClass::InvalidRequest,
                    "the account strategy needs the run's accounts listed first",
                ));
            }
        };
        let result = if let Some(discovered) = discovered {
            let pairs: Pairs = discovered
                .into_iter()
                .filter(|(acct, ps)| accounts.admits(acct) && set_arns.contains(ps.as_str()))
                .collect();
            report.estimate = describe(Some(pairs.len() as u64));
            if report.auto && !keep_pairs(&known, pairs.len() as u64) {
                report.switched_from = Some(plan);
                report.strategy = Strategy::Principal;
                self.by_principal(users, groups, accounts).await?
            } else {
                self.by_pairs(&pairs).await?
            }
        } else {
            self.by_principal(users, groups, accounts).await?
        };
        report.calls = self.calls.load(Ordering::Relaxed) - start;
        Ok((result, report))
    }

    /// `ListAccountAssignmentsForPrincipal` for every user and group.
    async fn by_principal(
        &self,
        users: &[IcUser],
        groups: &[IcGroup],
        accounts: AccountScope<'_>,
    ) -> Result<BTreeSet<Assignment>, AwsError> {
        let inst = self.instance.arn.as_str();
        let principals: Vec<(PrincipalKind, &str)> = users
            .iter()
            .map(|u| (PrincipalKind::User, u.id.as_str()))
            .chain(groups.iter().map(|g| (PrincipalKind::Group, g.id.as_str())))
            .collect();
        let found = each_unordered(principals, |(kind, id)| {
            self.scope.pages(
                self.lim,
                self.counted(move |t| {
                    self.sso
                        .list_account_assignments_for_principal()
                        .instance_arn(inst)
                        .principal_id(id)
                        .principal_type(principal_type(kind))
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                }),
                move |r, out| {
                    out.extend(
                        r.account_assignments()
                            .iter()
                            .filter_map(|a| assignment_for_principal(a, kind, id)),
                    );
                    r.next_token().map(str::to_string)
                },
            )
        })
        .await?;
        Ok(found
            .into_iter()
            .filter(|a| accounts.admits(&a.account))
            .collect())
    }

    /// The provisioned (account, permission set) pairs, one
    /// `ListAccountsForProvisionedPermissionSet` per permission set.
    async fn pairs_by_permission_set(
        &self,
        sets: &[PermissionSet],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let inst = self.instance.arn.as_str();
        each_unordered(sets, |ps| {
            self.scope.pages(
                self.lim,
                self.counted(move |t| {
                    self.sso
                        .list_accounts_for_provisioned_permission_set()
                        .instance_arn(inst)
                        .permission_set_arn(&ps.arn)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                }),
                move |r, out| {
                    out.extend(r.account_ids().iter().map(|a| (a.clone(), ps.arn.clone())));
                    r.next_token().map(str::to_string)
                },
            )
        })
        .await
    }

    /// The provisioned (account, permission set) pairs, one
    /// `ListPermissionSetsProvisionedToAccount` per account.
    async fn pairs_by_account(
        &self,
        accounts: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let inst = self.instance.arn.as_str();
        each_unordered(accounts, |acct| {
            self.scope.pages(
                self.lim,
                self.counted(move |t| {
                    self.sso
                        .list_permission_sets_provisioned_to_account()
                        .instance_arn(inst)
                        .account_id(acct)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                }),
                move |r, out| {
                    out.extend(
                        r.permission_sets()
                            .iter()
                            .map(|ps| (acct.clone(), ps.clone())),
                    );
                    r.next_token().map(str::to_string)
                },
            )
        })
        .await
    }

    /// `ListAccountAssignments` for every pair.
    async fn by_pairs(&self, pairs: &Pairs) -> Result<BTreeSet<Assignment>, AwsError> {
        let inst = self.instance.arn.as_str();
        let found = each_unordered(pairs, |(acct, ps)| {
            self.scope.pages(
                self.lim,
                self.counted(move |t| {
                    self.sso
                        .list_account_assignments()
                        .instance_arn(inst)
                        .account_id(acct)
                        .permission_set_arn(ps)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                }),
                move |r, out| {
                    out.extend(
                        r.account_assignments()
                            .iter()
                            .filter_map(|a| assignment_in_pair(a, acct, ps)),
                    );
                    r.next_token().map(str::to_string)
                },
            )
        })
        .await?;
        Ok(found
            .into_iter()
            .filter(|a| pairs.contains(&(a.account.clone(), a.permission_set.clone())))
            .collect())
    }
}

/// `read` for every item, [`IC_CONCURRENCY`] at a time in any order; what they found, in one
/// list.
async fn each_unordered<I, T, Fut>(
    items: impl IntoIterator<Item = I>,
    read: impl FnMut(I) -> Fut,
) -> Result<Vec<T>, AwsError>
where
    Fut: Future<Output = Result<Vec<T>, AwsError>>,
{
    let found: Vec<Vec<T>> = stream::iter(items.into_iter().map(read).collect::<Vec<_>>())
        .buffer_unordered(IC_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}
