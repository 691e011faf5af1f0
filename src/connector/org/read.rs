//! Reads the organization through the Organizations token bucket, serially: the organization,
//! its roots, then the OU tree breadth-first with the accounts of each node
//! (`ListAccountsForParent`, so no per-account `ListParents` is needed). Not being in an
//! organization, or not being allowed to list it, is an answer ([`Discovered::NoOrganization`]),
//! not an error.
//!
//! Not here: the records (`records`), which accounts a sync enters (`sync::plan`).

use std::collections::{BTreeSet, VecDeque};

use aws_sdk_organizations::types as sdk;

use crate::aws::time::utc;
use crate::aws::{AwsError, ErrorClass, Limiter, Scope};

use super::model::{NoOrganization, Node, OrgAccount, OrgSnapshot, Organization};

/// What reading the organization found.
#[derive(Debug, Clone)]
pub enum Discovered {
    /// The organization (with the accounts of the subtrees asked for).
    Organization(OrgSnapshot),
    /// No organization to read: not in one, or not allowed to list it. Callers treat it as
    /// single-account mode.
    NoOrganization(NoOrganization),
}

/// Reads the organization. `descend` limits which subtrees have their accounts listed
/// (`None` = all).
pub async fn discover(
    scope: &Scope,
    limiter: &Limiter,
    descend: Option<&BTreeSet<String>>,
) -> Result<Discovered, AwsError> {
    let orgs = scope.organizations();
    let org = match scope
        .call(limiter, || orgs.describe_organization().send())
        .await
    {
        Ok(o) => o.organization().map(organization_of),
        Err(e) if e.class == ErrorClass::NotInOrganization => {
            return Ok(Discovered::NoOrganization(NoOrganization {
                reason: format!(
                    "account {} is not a member of an AWS Organization",
                    scope.account
                ),
                management_account: None,
            }));
        }
        Err(e) if e.class == ErrorClass::AccessDenied => {
            return Ok(Discovered::NoOrganization(NoOrganization {
                reason: format!(
                    "the caller may not describe the organization ({})",
                    e.message
                ),
                management_account: None,
            }));
        }
        Err(e) => return Err(e),
    };
    let roots = match list_roots(scope, limiter, &orgs).await {
        Ok(r) => r,
        Err(e) if e.class == ErrorClass::AccessDenied => {
            return Ok(Discovered::NoOrganization(NoOrganization {
                reason: format!(
                    "the caller may not list the organization (only the management account or a delegated administrator can): {}",
                    e.message
                ),
                management_account: org
                    .as_ref()
                    .map(|o| o.master_account_id.clone())
                    .filter(|m| !m.is_empty()),
            }));
        }
        Err(e) => return Err(e),
    };
    let mut snap = OrgSnapshot {
        org,
        roots: roots.iter().map(|(n, _)| n.clone()).collect(),
        root_policy_types: roots.into_iter().map(|(n, t)| (n.id, t)).collect(),
        ..Default::default()
    };
    walk_tree(scope, limiter, &orgs, descend, &mut snap).await?;
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Discovered::Organization(snap))
}

/// The organization's roots, each with the policy types enabled in it.
async fn list_roots(
    scope: &Scope,
    limiter: &Limiter,
    orgs: &aws_sdk_organizations::Client,
) -> Result<Vec<(Node, BTreeSet<String>)>, AwsError> {
    let page_size = scope.settings().org_page_size;
    scope
        .pages(
            limiter,
            |t| {
                orgs.list_roots()
                    .max_results(page_size)
                    .set_next_token(t)
                    .send()
            },
            |page, out| {
                out.extend(
                    page.roots()
                        .iter()
                        .filter_map(|r| Some((root_of(r)?, enabled_policy_types(r)))),
                );
                page.next_token().map(str::to_string)
            },
        )
        .await
}

/// Breadth-first over the OU tree from the roots in `snap`: every OU, and the accounts of
/// every node `descend` selects (a selected OU's children are selected too).
async fn walk_tree(
    scope: &Scope,
    limiter: &Limiter,
    orgs: &aws_sdk_organizations::Client,
    descend: Option<&BTreeSet<String>>,
    snap: &mut OrgSnapshot,
) -> Result<(), AwsError> {
    let page_size = scope.settings().org_page_size;
    let mut queue: VecDeque<String> = snap.roots.iter().map(|r| r.id.clone()).collect();
    let mut descend_set: Option<BTreeSet<String>> = descend.cloned();
    while let Some(node) = queue.pop_front() {
        let ous = scope
            .pages(
                limiter,
                |t| {
                    orgs.list_organizational_units_for_parent()
                        .parent_id(&node)
                        .max_results(page_size)
                        .set_next_token(t)
                        .send()
                },
                |page, out| {
                    out.extend(
                        page.organizational_units()
                            .iter()
                            .filter_map(|ou| ou_of(ou, &node)),
                    );
                    page.next_token().map(str::to_string)
                },
            )
            .await?;
        for ou in ous {
            if let Some(set) = descend_set.as_mut()
                && set.contains(&node)
            {
                set.insert(ou.id.clone());
            }
            queue.push_back(ou.id.clone());
            snap.ous.push(ou);
        }
        if descend_set.as_ref().is_some_and(|s| !s.contains(&node)) {
            continue;
        }
        let accounts = scope
            .pages(
                limiter,
                |t| {
                    orgs.list_accounts_for_parent()
                        .parent_id(&node)
                        .max_results(page_size)
                        .set_next_token(t)
                        .send()
                },
                |page, out| {
                    out.extend(page.accounts().iter().filter_map(|a| account_of(a, &node)));
                    page.next_token().map(str::to_string)
                },
            )
            .await?;
        snap.accounts.extend(accounts);
    }
    Ok(())
}

fn organization_of(o: &sdk::Organization) -> Organization {
    Organization {
        id: o.id().unwrap_or_default().to_string(),
        arn: o.arn().unwrap_or_default().to_string(),
        master_account_id: o.master_account_id().unwrap_or_default().to_string(),
        feature_set: o
            .feature_set()
            .map(|f| f.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// A node's name, or its id when it has none.
fn name_or_id(name: Option<&str>, id: &str) -> String {
    name.filter(|n| !n.is_empty()).unwrap_or(id).to_string()
}

fn root_of(r: &sdk::Root) -> Option<Node> {
    let id = r.id()?;
    Some(Node {
        id: id.to_string(),
        name: name_or_id(r.name(), id),
        arn: r.arn().unwrap_or_default().to_string(),
        parent: None,
    })
}

/// The policy types whose status is ENABLED in root `r`.
fn enabled_policy_types(r: &sdk::Root) -> BTreeSet<String> {
    r.policy_types()
        .iter()
        .filter(|t| t.status() == Some(&sdk::PolicyTypeStatus::Enabled))
        .filter_map(|t| t.r#type().map(|t| t.as_str().to_string()))
        .collect()
}

fn ou_of(ou: &sdk::OrganizationalUnit, parent: &str) -> Option<Node> {
    let id = ou.id()?;
    Some(Node {
        id: id.to_string(),
        name: name_or_id(ou.name(), id),
        arn: ou.arn().unwrap_or_default().to_string(),
        parent: Some(parent.to_string()),
    })
}

fn account_of(a: &sdk::Account, parent: &str) -> Option<OrgAccount> {
    let id = a.id()?;
    let status = a
        .state()
        .map(|s| s.as_str().to_string())
        .or_else(|| a.status().map(|s| s.as_str().to_string()))
        .unwrap_or_else(|| "UNKNOWN".to_string());
    Some(OrgAccount {
        id: id.to_string(),
        name: name_or_id(a.name(), id),
        arn: a.arn().unwrap_or_default().to_string(),
        email: a.email().unwrap_or_default().to_string(),
        status,
        joined: a.joined_timestamp().and_then(utc),
        joined_method: a.joined_method().map(|m| m.as_str().to_string()),
        parent: parent.to_string(),
    })
}
