//! `orgsync access`: who can reach what across the organization, and through which grants.
//! It answers from one sync of a c1z file (expanded by baton or not) by searching paths of
//! grants: memberships, role trust (chained across accounts), account-root trust, permission-set
//! assignments and policy attachments. docs/ACCESS.md states the definitions; in short:
//!
//! - **a path** from principal P to entitlement T is a chain of direct grants: the first granted
//!   to P, each next one reached through GrantExpandable from the entitlement before it
//!   (`search` has the exact rules);
//! - **reaching account X** means being an IAM user or role of X, or having a path to a role
//!   `assignment` of a role in X (assuming it, directly or through a chain of at most
//!   `max_hops` roles), or to a permission set on X (`<X>|<permission set>`);
//! - **admin** paths end in a policy attachment whose policy grants full administrative power
//!   (`admin`), in the account of whoever holds that policy.
//!
//! Not evaluated: policy conditions (in trust policies too), SCPs and RCPs, permission
//! boundaries, session policies, resource-based policies other than trust policies, Deny
//! statements, whether an identity policy allows `sts:AssumeRole`, and Identity Center
//! sessions beyond the permission set. Account-root trust (`account_iam:X` holding a role's
//! assignment) ends a path unless `assume_account_principals` reads it as held by every IAM
//! user and role of X.
//!
//! Not here: decompressing the file (`store::c1z`, `open`), printing (`cli::cmd::access`).

mod account;
pub mod admin;
mod graph;
pub mod open;
mod search;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::types as rt;
use crate::store::StoreError;

pub use account::{account_of, arn_account, is_account_id};
pub use graph::is_derived_grant;
pub use search::STEP_BUDGET;

use graph::{EdgeIx, Graph, Origin, Prin};
use search::{Collector, Key, Limits, TargetKey};

/// Why an access question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The question names something the file does not hold, or is malformed.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored record does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl AccessError {
    /// True when the question itself is at fault (exit 2), not the file or the program.
    pub fn is_input(&self) -> bool {
        matches!(self, AccessError::Input(_))
    }
}

fn input(msg: impl Into<String>) -> AccessError {
    AccessError::Input(msg.into())
}

/// What to answer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Everything this principal reaches (`type:id`, or an id that names one principal).
    Principal(String),
    /// Every principal reaching this account (12-digit id).
    Account(String),
    /// Every principal reaching an entitlement of this resource (`type:id`).
    Resource(String),
    /// Every principal reaching this entitlement.
    Entitlement(String),
    /// Every principal with an admin path (only with `admin`).
    Everyone,
}

/// How to answer.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only paths ending in full administrative power.
    pub admin: bool,
    /// At most this many trust hops (role assignments) per path.
    pub max_hops: u32,
    /// At most this many paths per result row (the shortest).
    pub max_paths: usize,
    /// Read account-root trust as held by every IAM user and role of the account.
    pub assume_account_principals: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            admin: false,
            max_hops: 5,
            max_paths: 10,
            assume_account_principals: false,
        }
    }
}

/// A principal in an answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Principal {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    /// The display name of its resource row (None when the sync has no row for it).
    pub name: Option<String>,
}

/// What a result row is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// An entitlement reached through a path of grants.
    Entitlement {
        id: String,
        resource_type: Option<String>,
        resource: Option<String>,
        /// The display name of the entitlement's resource.
        name: Option<String>,
    },
    /// The principal is an IAM user or role of the account (no grant needed).
    AccountPrincipal,
}

/// Why a step gives access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// IAM or Identity Center group membership.
    Membership,
    /// A role's trust policy names the principal (or a role the principal can assume).
    AssumeRole,
    /// A role's trust policy names an account root.
    AccountRootTrust,
    /// An Identity Center permission set assigned on an account.
    PermissionSetAssignment,
    /// A managed or inline policy attached to a user, group, role or permission-set binding.
    PolicyAttached,
    /// A permission set's own (inline) policy, in effect where the set is assigned.
    PermissionSetPolicy,
    /// Any other grant.
    Grant,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Membership => "membership",
            StepKind::AssumeRole => "assume_role",
            StepKind::AccountRootTrust => "account_root_trust",
            StepKind::PermissionSetAssignment => "permission_set_assignment",
            StepKind::PolicyAttached => "policy_attached",
            StepKind::PermissionSetPolicy => "permission_set_policy",
            StepKind::Grant => "grant",
        }
    }
}

/// One grant of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Step {
    /// The grant id, as the sync wrote it.
    pub grant: String,
    /// The entitlement this step gives.
    pub entitlement: String,
    /// The grant's principal (`type:id`).
    pub granted_to: String,
    pub kind: StepKind,
    /// The entitlement whose holders this grant extends to (GrantExpandable); none on the
    /// first step, which is granted to the path's principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// What the step assumes, for account-root trust and permission-set policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One path of grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AccessPath {
    /// Trust hops (role assignments) on the path.
    pub hops: u32,
    pub steps: Vec<Step>,
}

/// One answer row: a principal reaches a target (in an account), by these paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reach {
    pub principal: Principal,
    pub target: Target,
    /// The account the access lands in, when known (for a policy: its holder's account).
    pub account: Option<String>,
    /// The shortest paths, at most `max_paths`.
    pub paths: Vec<AccessPath>,
    /// How many paths exist (within `max_hops`); more than `paths.len()` when some were left
    /// out.
    pub paths_found: u64,
}

/// The question, as answered.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    /// principal, account, resource, entitlement or everyone.
    pub subject: &'static str,
    /// The resolved id (`type:id` for principals and resources).
    pub id: Option<String>,
    pub admin: bool,
    pub max_hops: u32,
    pub max_paths: usize,
    pub assume_account_principals: bool,
}

/// An answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub sync_id: String,
    pub question: Question,
    /// False when the search stopped at its step budget: rows or paths may be missing.
    pub complete: bool,
    pub results: Vec<Reach>,
}

/// What the answers do not evaluate (docs/ACCESS.md), for output next to every answer.
pub const NOT_EVALUATED: &str = "policy conditions (trust policies too), SCPs/RCPs, permission boundaries, session policies, resource-based policies other than role trust, Deny statements, and whether identity policies allow sts:AssumeRole";

/// Answers `subject` from sync `sync_id` of an opened c1z database (`open::open`, or
/// `C1zReader::connection`).
pub fn answer(
    conn: &rusqlite::Connection,
    sync_id: &str,
    subject: &Subject,
    opts: &Options,
) -> Result<Answer, AccessError> {
    if opts.max_paths == 0 {
        return Err(input("--max-paths must be at least 1"));
    }
    let started = std::time::Instant::now();
    let mut g = Graph::new(conn, sync_id, opts.assume_account_principals)?;
    let admin: BTreeSet<String> = if opts.admin || *subject == Subject::Everyone {
        admin::admin_entitlements(g.conn(), sync_id)?
    } else {
        BTreeSet::new()
    };
    let mut q = Search {
        g: &mut g,
        opts,
        limits: Limits {
            max_hops: opts.max_hops,
        },
        admin: &admin,
        out: Collector::new(opts.max_paths),
    };
    let (kind, id) = match subject {
        Subject::Principal(raw) => q.principal(raw)?,
        Subject::Account(raw) => q.account(raw)?,
        Subject::Resource(raw) => q.resource(raw)?,
        Subject::Entitlement(raw) => q.entitlement(raw)?,
        Subject::Everyone => q.everyone()?,
    };
    let out = q.out;
    let complete = out.complete;
    let searched = started.elapsed();
    let steps = out.steps;
    let results = rows(&mut g, out)?;
    tracing::debug!(
        search_ms = searched.as_millis() as u64,
        rows_ms = (started.elapsed() - searched).as_millis() as u64,
        steps,
        edges_read = g.edges.len(),
        "access search"
    );
    Ok(Answer {
        sync_id: sync_id.to_string(),
        question: Question {
            subject: kind,
            id,
            admin: opts.admin,
            max_hops: opts.max_hops,
            max_paths: opts.max_paths,
            assume_account_principals: opts.assume_account_principals,
        },
        complete,
        results,
    })
}

/// One question being searched: the graph, the options, the admin entitlements (empty unless
/// asked for) and what was found so far. Each subject's method checks its input, seeds the
/// search and returns the subject's name and resolved id.
struct Search<'a, 'c> {
    g: &'a mut Graph<'c>,
    opts: &'a Options,
    limits: Limits,
    admin: &'a BTreeSet<String>,
    out: Collector,
}

type Asked = (&'static str, Option<String>);

impl Search<'_, '_> {
    fn principal(&mut self, raw: &str) -> Result<Asked, AccessError> {
        let g = &mut *self.g;
        let p = resolve_principal(g, raw)?;
        if !self.opts.admin {
            let (t, i) = g.prin_key(p);
            if (t == rt::IAM_USER || t == rt::ROLE)
                && let Some(a) = arn_account(i)
            {
                member_row(&mut self.out, p, a);
            }
        }
        let (admin_only, admin) = (self.opts.admin, self.admin);
        let wanted = |g: &Graph, e: EdgeIx| !admin_only || admin.contains(g.ent_id(g.edge(e).ent));
        search::forward(g, p, &self.limits, &wanted, &mut self.out)?;
        Ok(("principal", Some(g.prin_text(p))))
    }

    fn account(&mut self, raw: &str) -> Result<Asked, AccessError> {
        let account = raw.trim();
        if !is_account_id(account) {
            return Err(input(format!(
                "'{raw}' is not an AWS account id (12 digits)"
            )));
        }
        if !account_known(self.g, account)? {
            return Err(input(format!(
                "account {account} is not in the sync (no account or account_iam resource)"
            )));
        }
        let seeds = if self.opts.admin {
            admin_seeds(self.g, self.admin, Some(account))?
        } else {
            for p in self.g.account_principals(account)?.to_vec() {
                member_row(&mut self.out, p, account);
            }
            let mut seeds = vec![];
            for e in entry_entitlements(self.g, account)? {
                let e = self.g.ent(&e);
                seeds.extend(self.g.of_ent(e)?.iter().copied());
            }
            seeds
        };
        search::backward(self.g, &seeds, &self.limits, &mut self.out)?;
        Ok(("account", Some(account.to_string())))
    }

    fn resource(&mut self, raw: &str) -> Result<Asked, AccessError> {
        let (t, i) = raw
            .split_once(':')
            .filter(|(t, i)| !t.is_empty() && !i.is_empty())
            .ok_or_else(|| {
                input(format!(
                    "'{raw}' is not a resource id: expected <resource type>:<id>, e.g. role:arn:aws:iam::111122223333:role/admin"
                ))
            })?;
        let p = self.g.prin(t, i);
        if self.g.name(p)?.is_none() {
            return Err(input(format!("resource {raw} is not in the sync")));
        }
        let mut seeds = vec![];
        for e in resource_entitlements(self.g, t, i)? {
            if self.opts.admin && !self.admin.contains(&e) {
                continue;
            }
            let e = self.g.ent(&e);
            seeds.extend(self.g.of_ent(e)?.iter().copied());
        }
        search::backward(self.g, &seeds, &self.limits, &mut self.out)?;
        Ok(("resource", Some(raw.to_string())))
    }

    fn entitlement(&mut self, raw: &str) -> Result<Asked, AccessError> {
        if raw.trim().is_empty() {
            return Err(input("the entitlement id is empty"));
        }
        if !entitlement_known(self.g, raw)? {
            return Err(input(format!(
                "entitlement '{raw}' is not in the sync (no entitlement row and no grant of it)"
            )));
        }
        if !self.opts.admin || self.admin.contains(raw) {
            let e = self.g.ent(raw);
            let seeds = self.g.of_ent(e)?.to_vec();
            search::backward(self.g, &seeds, &self.limits, &mut self.out)?;
        }
        Ok(("entitlement", Some(raw.to_string())))
    }

    fn everyone(&mut self) -> Result<Asked, AccessError> {
        if !self.opts.admin {
            return Err(input(
                "name what to answer for: --principal, --account, --resource or --entitlement (or --admin alone for every admin path)",
            ));
        }
        let seeds = admin_seeds(self.g, self.admin, None)?;
        search::backward(self.g, &seeds, &self.limits, &mut self.out)?;
        Ok(("everyone", None))
    }
}

fn member_row(out: &mut Collector, p: Prin, account: &str) {
    let kept = out
        .rows
        .entry(Key {
            principal: p,
            target: TargetKey::AccountPrincipal,
            account: Some(account.to_string()),
        })
        .or_default();
    kept.found = 1;
    kept.paths = vec![vec![]];
}

/// Principal types `--principal` resolves a bare id against, in order.
const PRINCIPAL_TYPES: [&str; 8] = [
    rt::IAM_USER,
    rt::ROLE,
    rt::GROUP,
    rt::SSO_USER,
    rt::SSO_GROUP,
    rt::ACCOUNT_IAM,
    rt::PERMISSION_SET,
    rt::PERMISSION_SET_ASSIGNMENT,
];

fn resolve_principal(g: &mut Graph, raw: &str) -> Result<Prin, AccessError> {
    if raw.trim().is_empty() {
        return Err(input("the principal id is empty"));
    }
    if let Some((t, i)) = raw.split_once(':')
        && rt::ALL.contains(&t)
    {
        if i.is_empty() {
            return Err(input(format!(
                "'{raw}' is malformed: expected <type>:<id> with a non-empty id"
            )));
        }
        let p = g.prin(t, i);
        return if g.principal_exists(p)? {
            Ok(p)
        } else {
            Err(input(format!(
                "principal {raw} is not in the sync (no resource and no grant to it)"
            )))
        };
    }
    let mut found = vec![];
    for t in PRINCIPAL_TYPES {
        let p = g.prin(t, raw);
        if g.name(p)?.is_some() {
            found.push(p);
        }
    }
    if found.is_empty() {
        for t in PRINCIPAL_TYPES {
            let p = g.prin(t, raw);
            if g.principal_exists(p)? {
                found.push(p);
            }
        }
    }
    match found.as_slice() {
        [p] => Ok(*p),
        [] => Err(input(format!(
            "principal '{raw}' is not in the sync (try <type>:<id>, e.g. iam_user:arn:aws:iam::111122223333:user/alice)"
        ))),
        many => Err(input(format!(
            "'{raw}' names more than one principal ({}); give <type>:<id>",
            many.iter()
                .map(|p| g.prin_text(*p))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn account_known(g: &Graph, account: &str) -> Result<bool, AccessError> {
    let n: i64 = g.conn().query_row(
        "select count(*) from v1_resources where sync_id = ?1 and external_id in ('account:' || ?2, 'account_iam:' || ?2)",
        rusqlite::params![g.sync_id(), account],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn entitlement_known(g: &Graph, id: &str) -> Result<bool, AccessError> {
    let n: i64 = g.conn().query_row(
        "select (select count(*) from v1_entitlements where sync_id = ?1 and external_id = ?2)
              + (select count(*) from (select 1 from v1_grants where sync_id = ?1 and entitlement_id = ?2 limit 1))",
        rusqlite::params![g.sync_id(), id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The entitlements through which account X is entered: the `assignment` of every role of X
/// and every `<X>|<permission set>` entitlement. (Permission-set bindings are the same
/// assignments again and are left out.)
fn entry_entitlements(g: &mut Graph, account: &str) -> Result<Vec<String>, AccessError> {
    let mut out = vec![];
    for p in g.account_principals(account)?.to_vec() {
        let (t, i) = g.prin_key(p);
        if t == rt::ROLE {
            let id = format!("{t}:{i}:assignment");
            let e = g.ent(&id);
            if g.ent_row(e)?.is_some() {
                out.push(id);
            }
        }
    }
    let mut stmt = g.conn().prepare(
        "select external_id from v1_entitlements
         where resource_type_id = 'account' and resource_id = ?2 and sync_id = ?1 order by external_id",
    )?;
    let rows = stmt.query_map(rusqlite::params![g.sync_id(), account], |r| r.get(0))?;
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

fn resource_entitlements(g: &Graph, t: &str, i: &str) -> Result<Vec<String>, AccessError> {
    let mut stmt = g.conn().prepare(
        "select external_id from v1_entitlements where sync_id = ?1 and resource_type_id = ?2 and resource_id = ?3 order by external_id",
    )?;
    let rows = stmt.query_map(rusqlite::params![g.sync_id(), t, i], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The grants of admin policies, landing in `account` when given.
fn admin_seeds(
    g: &mut Graph,
    admin: &BTreeSet<String>,
    account: Option<&str>,
) -> Result<Vec<EdgeIx>, AccessError> {
    let mut seeds = vec![];
    for id in admin {
        let e = g.ent(id);
        for &s in g.of_ent(e)?.iter() {
            if account.is_none() || search::landing_account(g, s).as_deref() == account {
                seeds.push(s);
            }
        }
    }
    Ok(seeds)
}

fn step(g: &Graph, e: EdgeIx, via: Option<String>) -> Step {
    let edge = g.edge(e);
    let (gt, gi) = g.prin_key(edge.granted_to);
    let (kind, note) = match edge.origin {
        Origin::AccountRoot => {
            let (ht, hi) = g.prin_key(edge.holder);
            (
                StepKind::AccountRootTrust,
                Some(format!(
                    "{ht}:{hi} taken as able to assume it as a principal of account {gi} (--assume-account-principals; its own policies are not evaluated)"
                )),
            )
        }
        Origin::PermissionSetPolicy => {
            let (_, hi) = g.prin_key(edge.holder);
            (
                StepKind::PermissionSetPolicy,
                Some(format!(
                    "policy of permission set {gi}, in effect through its assignment {hi}"
                )),
            )
        }
        Origin::Grant => match edge.ent_type.as_str() {
            rt::GROUP | rt::SSO_GROUP => (StepKind::Membership, None),
            rt::ROLE if gt == rt::ACCOUNT_IAM => (
                StepKind::AccountRootTrust,
                Some(format!(
                    "any principal of account {gi} allowed by its own policies to call sts:AssumeRole"
                )),
            ),
            rt::ROLE => (StepKind::AssumeRole, None),
            rt::ACCOUNT | rt::PERMISSION_SET_ASSIGNMENT => {
                (StepKind::PermissionSetAssignment, None)
            }
            rt::IAM_POLICY | rt::INLINE_POLICY => (StepKind::PolicyAttached, None),
            _ => (StepKind::Grant, None),
        },
    };
    Step {
        grant: edge.id.clone(),
        entitlement: g.ent_id(edge.ent).to_string(),
        granted_to: format!("{gt}:{gi}"),
        kind,
        via,
        note,
    }
}

fn rows(g: &mut Graph, out: Collector) -> Result<Vec<Reach>, AccessError> {
    let mut results = vec![];
    for (key, kept) in out.rows {
        let (pt, pi) = g.prin_key(key.principal);
        let (pt, pi) = (pt.to_string(), pi.to_string());
        let principal = Principal {
            resource_type: pt,
            id: pi,
            name: g.name(key.principal)?,
        };
        let target = match key.target {
            TargetKey::AccountPrincipal => Target::AccountPrincipal,
            TargetKey::Ent(e) => {
                let res = g.ent_row(e)?;
                let (resource_type, resource, name) = match res {
                    Some(r) => {
                        let (t, i) = g.prin_key(r);
                        let (t, i) = (t.to_string(), i.to_string());
                        (Some(t), Some(i), g.name(r)?)
                    }
                    None => (None, None, None),
                };
                Target::Entitlement {
                    id: g.ent_id(e).to_string(),
                    resource_type,
                    resource,
                    name,
                }
            }
        };
        let paths = kept
            .paths
            .iter()
            .map(|p| {
                let mut steps = vec![];
                let mut via: Option<String> = None;
                for &e in p {
                    let s = step(g, e, via.take());
                    via = Some(s.entitlement.clone());
                    steps.push(s);
                }
                AccessPath {
                    hops: p.iter().filter(|&&e| g.edge(e).is_hop()).count() as u32,
                    steps,
                }
            })
            .collect();
        results.push(Reach {
            principal,
            target,
            account: key.account,
            paths,
            paths_found: kept.found,
        });
    }
    results.sort_by(|a, b| {
        (&a.principal, &a.target, &a.account).cmp(&(&b.principal, &b.target, &b.account))
    });
    Ok(results)
}

#[cfg(test)]
mod tests;
