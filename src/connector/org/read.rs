//! Reads the organization through the Organizations token bucket: the organization and its
//! roots ([`describe`], asked at once), then the OU tree with the accounts of each node ([`walk`]:
//! `ListAccountsForParent`, so no per-account `ListParents` is needed). The walk hands over
//! each page of accounts as it arrives, so a sync can enter them while the rest is listed; it
//! keeps a few calls in flight and, whenever the bucket has a token, sends the most useful
//! one first: account listings (what comes after them takes longest), then OU listings (a
//! leaf's answers nothing new). Not being in an organization, or not being allowed to list
//! it, is an answer ([`Discovered::NoOrganization`]), not an error.
//!
//! Not here: the records (`records`), which accounts a sync enters (`sync::plan`).

use std::collections::{BTreeSet, BinaryHeap, HashSet};
use std::future::Future;

use aws_sdk_organizations::types as sdk;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::aws::limits::Permit;
use crate::aws::op::Op;
use crate::aws::time::utc;
use crate::aws::{AwsError, ErrorClass, Limiter, Scope};

use super::model::{NoOrganization, Node, OrgAccount, OrgSnapshot, Organization};

/// Organizations calls of the walk in flight at once (the token bucket sets the rate; a few
/// in flight keep it busy when answers are slower than its pace).
const WALK_CALLS: usize = 4;

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
    let mut snap = match describe(scope, limiter).await? {
        Discovered::Organization(s) => s,
        none => return Ok(none),
    };
    let mut accounts = vec![];
    walk(scope, limiter, descend, &mut snap, &mut |_, page| {
        accounts.extend(page);
    })
    .await?;
    snap.accounts = accounts;
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Discovered::Organization(snap))
}

/// The caller's organization (`DescribeOrganization`, one call; `None` when the answer
/// holds none), or why there is none to read.
pub async fn organization(
    scope: &Scope,
    limiter: &Limiter,
) -> Result<Result<Option<Organization>, NoOrganization>, AwsError> {
    let orgs = scope.organizations();
    match scope
        .call(limiter, || orgs.describe_organization().send())
        .await
    {
        Ok(o) => Ok(Ok(o.organization().map(organization_of))),
        Err(e) if e.class == ErrorClass::NotInOrganization => Ok(Err(NoOrganization {
            reason: format!(
                "account {} is not a member of an AWS Organization",
                scope.account
            ),
            management_account: None,
        })),
        Err(e) if e.class == ErrorClass::AccessDenied => Ok(Err(NoOrganization {
            reason: format!(
                "the caller may not describe the organization ({})",
                e.message
            ),
            management_account: None,
        })),
        Err(e) => Err(e),
    }
}

/// The organization and its roots (no OUs or accounts yet), or why there is none to read.
pub async fn describe(scope: &Scope, limiter: &Limiter) -> Result<Discovered, AwsError> {
    let orgs = scope.organizations();
    // Both at once (neither needs the other's answer); the roots are only looked at once the
    // organization is known to be there.
    let (described, roots) = tokio::join!(
        organization(scope, limiter),
        list_roots(scope, limiter, &orgs)
    );
    let org = match described? {
        Ok(o) => o,
        Err(none) => return Ok(Discovered::NoOrganization(none)),
    };
    let roots = match roots {
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
    Ok(Discovered::Organization(OrgSnapshot {
        org,
        roots: roots.iter().map(|(n, _)| n.clone()).collect(),
        root_policy_types: roots.into_iter().map(|(n, t)| (n.id, t)).collect(),
        ..Default::default()
    }))
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

/// What a page of the walk lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Listing {
    /// Child OUs of a node (ordered first: sent last).
    Ous,
    /// Accounts of a node.
    Accounts,
}

impl Listing {
    fn op(self) -> Op {
        let name = match self {
            Listing::Ous => "ListOrganizationalUnitsForParent",
            Listing::Accounts => "ListAccountsForParent",
        };
        Op::from_sdk("Organizations", name)
    }
}

/// One page to ask for. Ordered by what to send first: account listings, then the earliest
/// queued.
#[derive(Debug, PartialEq, Eq)]
struct Job {
    listing: Listing,
    /// Queue order (earlier first).
    seq: u64,
    node: String,
    token: Option<String>,
}

impl Ord for Job {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.listing
            .cmp(&other.listing)
            .then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What one page answered.
enum Page {
    Ous(Vec<Node>),
    Accounts(Vec<OrgAccount>),
}

/// The pages still to ask for, in the order to send them.
#[derive(Default)]
struct Queue {
    jobs: BinaryHeap<Job>,
    seq: u64,
    /// Page tokens already followed, per (listing, node): a repeated one would never end.
    seen: HashSet<(Listing, String, String)>,
}

impl Queue {
    fn push(
        &mut self,
        listing: Listing,
        node: &str,
        token: Option<String>,
    ) -> Result<(), AwsError> {
        if let Some(t) = &token
            && !self.seen.insert((listing, node.to_string(), t.clone()))
        {
            return Err(AwsError::repeated_page_token(&listing.op(), t));
        }
        self.seq += 1;
        self.jobs.push(Job {
            listing,
            seq: self.seq,
            node: node.to_string(),
            token,
        });
        Ok(())
    }
}

/// Walks the OU tree from the roots in `snap`: every OU (added to `snap.ous`), and the
/// accounts of every node `descend` selects (a selected node's children are selected too;
/// `None` selects all). Each page of accounts goes to `found` as it arrives, with what is
/// known of the tree by then (every ancestor of the page's node).
pub async fn walk(
    scope: &Scope,
    limiter: &Limiter,
    descend: Option<&BTreeSet<String>>,
    snap: &mut OrgSnapshot,
    found: &mut (dyn FnMut(&OrgSnapshot, Vec<OrgAccount>) + Send),
) -> Result<(), AwsError> {
    let orgs = scope.organizations();
    let mut selected: Option<BTreeSet<String>> = descend.cloned();
    let mut queue = Queue::default();
    for r in &snap.roots {
        if selected.as_ref().is_none_or(|s| s.contains(&r.id)) {
            queue.push(Listing::Accounts, &r.id, None)?;
        }
        queue.push(Listing::Ous, &r.id, None)?;
    }
    let mut in_flight = FuturesUnordered::new();
    loop {
        let can_send = !queue.jobs.is_empty() && in_flight.len() < WALK_CALLS;
        if !can_send && in_flight.is_empty() {
            return Ok(());
        }
        tokio::select! {
            biased;
            done = in_flight.next(), if !in_flight.is_empty() => {
                let Some(done) = done else { continue };
                let (job, page, next): (Job, Page, Option<String>) = done?;
                if let Some(t) = next.filter(|t| !t.is_empty()) {
                    queue.push(job.listing, &job.node, Some(t))?;
                }
                match page {
                    Page::Ous(ous) => {
                        let parent_selected = selected.as_ref().is_none_or(|s| s.contains(&job.node));
                        for ou in ous {
                            if let Some(set) = selected.as_mut()
                                && parent_selected
                            {
                                set.insert(ou.id.clone());
                            }
                            if selected.as_ref().is_none_or(|s| s.contains(&ou.id)) {
                                queue.push(Listing::Accounts, &ou.id, None)?;
                            }
                            queue.push(Listing::Ous, &ou.id, None)?;
                            snap.ous.push(ou);
                        }
                    }
                    Page::Accounts(accounts) => found(snap, accounts),
                }
            }
            // The token is taken here, when a page is chosen, so that the most useful page
            // goes next.
            permit = limiter.acquire(), if can_send => {
                if let Some(job) = queue.jobs.pop() {
                    in_flight.push(list_page(scope, limiter, permit, &orgs, job));
                }
            }
        }
    }
}

/// Asks for one page of `job` (its first request with `permit`): what it lists, and the next
/// page's token.
fn list_page<'a>(
    scope: &'a Scope,
    limiter: &'a Limiter,
    permit: Permit,
    orgs: &'a aws_sdk_organizations::Client,
    job: Job,
) -> impl Future<Output = Result<(Job, Page, Option<String>), AwsError>> + Send + 'a {
    let page_size = scope.settings().org_page_size;
    async move {
        let node = job.node.as_str();
        let token = job.token.clone();
        let (page, next) = match job.listing {
            Listing::Ous => {
                let r = scope
                    .call_with(limiter, permit, || {
                        orgs.list_organizational_units_for_parent()
                            .parent_id(node)
                            .max_results(page_size)
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await?;
                let ous = r
                    .organizational_units()
                    .iter()
                    .filter_map(|ou| ou_of(ou, node))
                    .collect();
                (Page::Ous(ous), r.next_token().map(str::to_string))
            }
            Listing::Accounts => {
                let r = scope
                    .call_with(limiter, permit, || {
                        orgs.list_accounts_for_parent()
                            .parent_id(node)
                            .max_results(page_size)
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await?;
                let accounts = r
                    .accounts()
                    .iter()
                    .filter_map(|a| account_of(a, node))
                    .collect();
                (Page::Accounts(accounts), r.next_token().map(str::to_string))
            }
        };
        Ok((job, page, next))
    }
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
