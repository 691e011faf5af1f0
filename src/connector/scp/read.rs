//! Reads the organization's service control policies: `ListPolicies` (filter
//! `SERVICE_CONTROL_POLICY`), `DescribePolicy` per policy for its document, and the
//! attachments by the cheaper plan ([`choose`]): `ListTargetsForPolicy` per policy, or
//! `ListPoliciesForTarget` per root, OU and account of the run. Both plans give the same
//! attachments within the run; targets outside it (accounts filtered out) are dropped.
//!
//! Not here: whether SCPs are read at all and what a refusal means (`phase`), records
//! (`records`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::types::{PolicyType, TargetType};

use crate::aws::{AwsError, Limiter, Scope};

use super::{Scp, ScpStrategy, Target, TargetKind};

/// The most targets one `ListTargetsForPolicy` page holds (AWS's maximum `MaxResults`).
const TARGETS_PER_PAGE: usize = 20;

/// The estimated calls of each plan for reading the attachments (documents and the policy
/// list cost the same under both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScpEstimate {
    /// `ListTargetsForPolicy`: a page per policy, plus the pages of a policy attached to every
    /// node (AWS attaches FullAWSAccess to every root, OU and account).
    pub by_policy: usize,
    /// `ListPoliciesForTarget`: one per root, OU and account of the run.
    pub by_target: usize,
}

/// The plan to use for `policies` SCPs, `run_nodes` roots, OUs and accounts in the run and
/// `org_nodes` in the whole organization: `ByPolicy` when it is not more calls than
/// `ByTarget`.
pub fn choose(
    strategy: ScpStrategy,
    policies: usize,
    run_nodes: usize,
    org_nodes: usize,
) -> (ScpStrategy, ScpEstimate) {
    let est = ScpEstimate {
        by_policy: policies + org_nodes.div_ceil(TARGETS_PER_PAGE).saturating_sub(1),
        by_target: run_nodes,
    };
    let chosen = match strategy {
        ScpStrategy::Auto if est.by_policy <= est.by_target => ScpStrategy::ByPolicy,
        ScpStrategy::Auto => ScpStrategy::ByTarget,
        s => s,
    };
    (chosen, est)
}

/// The roots, OUs and accounts of the run, by id.
pub(super) type RunNodes = BTreeMap<String, TargetKind>;

fn target_kind(t: &TargetType) -> Option<TargetKind> {
    match t {
        TargetType::Root => Some(TargetKind::Root),
        TargetType::OrganizationalUnit => Some(TargetKind::OrganizationalUnit),
        TargetType::Account => Some(TargetKind::Account),
        _ => None,
    }
}

/// What [`read_scps`] read, and how.
#[derive(Debug)]
pub(super) struct Read {
    pub scps: Vec<Scp>,
    pub strategy: ScpStrategy,
    pub estimate: ScpEstimate,
}

/// Every SCP (with its document) and its attachments within `nodes` (the run's roots, OUs and
/// accounts; `org_nodes` counts the whole organization's), with the plan `strategy` names or
/// (`Auto`) the cheaper one once the number of policies is known.
pub(super) async fn read_scps(
    scope: &Scope,
    limiter: &Limiter,
    strategy: ScpStrategy,
    nodes: &RunNodes,
    org_nodes: usize,
) -> Result<Read, AwsError> {
    let mut scps = list_policies(scope, limiter).await?;
    let (strategy, estimate) = choose(strategy, scps.len(), nodes.len(), org_nodes);
    for scp in &mut scps {
        scp.document = describe(scope, limiter, &scp.id).await?;
    }
    match strategy {
        ScpStrategy::ByTarget => {
            let mut by_id: BTreeMap<String, &mut Scp> =
                scps.iter_mut().map(|s| (s.id.clone(), s)).collect();
            for (id, kind) in nodes {
                for policy in policies_for_target(scope, limiter, id).await? {
                    if let Some(s) = by_id.get_mut(&policy) {
                        s.targets.insert(Target {
                            kind: *kind,
                            id: id.clone(),
                        });
                    }
                }
            }
        }
        ScpStrategy::ByPolicy | ScpStrategy::Auto => {
            for scp in &mut scps {
                scp.targets = targets_for_policy(scope, limiter, &scp.id)
                    .await?
                    .into_iter()
                    .filter(|t| nodes.get(&t.id) == Some(&t.kind))
                    .collect();
            }
        }
    }
    Ok(Read {
        scps,
        strategy,
        estimate,
    })
}

async fn list_policies(scope: &Scope, limiter: &Limiter) -> Result<Vec<Scp>, AwsError> {
    let orgs = scope.organizations();
    let page_size = scope.settings().org_page_size;
    scope
        .pages(
            limiter,
            |t| {
                orgs.list_policies()
                    .filter(PolicyType::ServiceControlPolicy)
                    .max_results(page_size)
                    .set_next_token(t)
                    .send()
            },
            |page, out| {
                out.extend(page.policies().iter().filter_map(|p| {
                    Some(Scp {
                        id: p.id()?.to_string(),
                        arn: p.arn()?.to_string(),
                        name: p.name().unwrap_or_default().to_string(),
                        description: p.description().unwrap_or_default().to_string(),
                        aws_managed: p.aws_managed(),
                        document: None,
                        targets: BTreeSet::new(),
                    })
                }));
                page.next_token().map(str::to_string)
            },
        )
        .await
}

async fn describe(scope: &Scope, limiter: &Limiter, id: &str) -> Result<Option<String>, AwsError> {
    let orgs = scope.organizations();
    let out = scope
        .call(limiter, || orgs.describe_policy().policy_id(id).send())
        .await?;
    Ok(out.policy().and_then(|p| p.content()).map(str::to_string))
}

async fn targets_for_policy(
    scope: &Scope,
    limiter: &Limiter,
    id: &str,
) -> Result<Vec<Target>, AwsError> {
    let orgs = scope.organizations();
    let page_size = scope.settings().org_page_size;
    scope
        .pages(
            limiter,
            |t| {
                orgs.list_targets_for_policy()
                    .policy_id(id)
                    .max_results(page_size)
                    .set_next_token(t)
                    .send()
            },
            |page, out| {
                out.extend(page.targets().iter().filter_map(|t| {
                    Some(Target {
                        kind: target_kind(t.r#type()?)?,
                        id: t.target_id()?.to_string(),
                    })
                }));
                page.next_token().map(str::to_string)
            },
        )
        .await
}

async fn policies_for_target(
    scope: &Scope,
    limiter: &Limiter,
    target: &str,
) -> Result<Vec<String>, AwsError> {
    let orgs = scope.organizations();
    let page_size = scope.settings().org_page_size;
    scope
        .pages(
            limiter,
            |t| {
                orgs.list_policies_for_target()
                    .target_id(target)
                    .filter(PolicyType::ServiceControlPolicy)
                    .max_results(page_size)
                    .set_next_token(t)
                    .send()
            },
            |page, out| {
                out.extend(
                    page.policies()
                        .iter()
                        .filter_map(|p| p.id().map(str::to_string)),
                );
                page.next_token().map(str::to_string)
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cheaper_plan_by_counts() {
        // 5 policies, 7 nodes: 5 target listings beat 7 node listings.
        let (s, e) = choose(ScpStrategy::Auto, 5, 7, 7);
        assert_eq!(s, ScpStrategy::ByPolicy);
        assert_eq!(
            e,
            ScpEstimate {
                by_policy: 5,
                by_target: 7
            }
        );
        // 500 accounts: FullAWSAccess alone is 26 pages of targets; still far below 500.
        let (s, e) = choose(ScpStrategy::Auto, 10, 520, 520);
        assert_eq!((s, e.by_policy), (ScpStrategy::ByPolicy, 10 + 25));
        // A sync of one account of a big organization: its 3 nodes are cheaper.
        let (s, _) = choose(ScpStrategy::Auto, 10, 3, 520);
        assert_eq!(s, ScpStrategy::ByTarget);
        // Many policies, few nodes.
        assert_eq!(
            choose(ScpStrategy::Auto, 40, 12, 12).0,
            ScpStrategy::ByTarget
        );
        // A forced plan is kept.
        assert_eq!(
            choose(ScpStrategy::ByTarget, 1, 100, 100).0,
            ScpStrategy::ByTarget
        );
        assert_eq!(
            choose(ScpStrategy::ByPolicy, 40, 1, 1).0,
            ScpStrategy::ByPolicy
        );
    }
}
