//! The organization as plain data: its roots, OU tree and accounts (each with the node it sits
//! in), or why there is none to read. `read` fills it; `records` maps it.
//!
//! Not here: AWS calls, records.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub arn: String,
    pub master_account_id: String,
    pub feature_set: String,
}

/// A root or an OU.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub arn: String,
    /// None for roots.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub email: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
    pub status: String,
    pub joined: Option<DateTime<Utc>>,
    pub joined_method: Option<String>,
    /// The root or OU the account sits in.
    pub parent: String,
}

/// What was read of the organization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgSnapshot {
    pub org: Option<Organization>,
    pub roots: Vec<Node>,
    pub ous: Vec<Node>,
    pub accounts: Vec<OrgAccount>,
    /// The policy types ENABLED in each root (`ListRoots`' `PolicyTypes`), by root id.
    pub root_policy_types: BTreeMap<String, BTreeSet<String>>,
}

impl OrgSnapshot {
    /// Ancestors of a node, root first, the node itself last.
    pub fn path(&self, node: &str) -> Vec<String> {
        let parents: BTreeMap<&str, Option<&str>> = self
            .roots
            .iter()
            .chain(self.ous.iter())
            .map(|n| (n.id.as_str(), n.parent.as_deref()))
            .collect();
        let mut path = vec![];
        let mut cur = Some(node);
        while let Some(n) = cur {
            if path.iter().any(|p: &String| p == n) {
                break; // defensive: no cycles
            }
            path.push(n.to_string());
            cur = parents.get(n).copied().flatten();
        }
        path.reverse();
        path
    }

    /// Every node id under (and including) the given roots/OUs.
    pub fn subtree(&self, tops: &BTreeSet<String>) -> BTreeSet<String> {
        self.roots
            .iter()
            .chain(self.ous.iter())
            .filter(|n| self.path(&n.id).iter().any(|p| tops.contains(p)))
            .map(|n| n.id.clone())
            .collect()
    }
}

/// The caller is not in an organization, or may not list it.
#[derive(Debug, Clone)]
pub struct NoOrganization {
    pub reason: String,
    /// The management account, when the organization could be described but not listed.
    pub management_account: Option<String>,
}

/// What planning learnt about the caller's organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OrgKnowledge {
    /// Not asked (`--orgs off`).
    #[default]
    Unknown,
    /// Not in an organization, or not allowed to describe it.
    None,
    /// In an organization whose management account is this.
    Management(String),
}
