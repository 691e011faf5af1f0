//! Path search over the grant graph: forward from a principal (everything it reaches) and
//! backward from final grants (everyone who reaches them).
//!
//! A path is a principal P and grants g1 … gk: g1 is granted to P, and each later gi
//! expands from the entitlement of g(i-1) (its GrantExpandable lists it). Rules, as grant
//! expansion applies them (shared/spec/grant-expansion.md R4, R6, R7, R13, R14):
//! - a shallow gi (i ≥ 2) carries only principals holding g(i-1)'s entitlement directly, so
//!   it may only be the second grant of a path;
//! - a gi with principal-type filters carries only principals of those types;
//! - a GrantExpandable source without an entitlement row expands nowhere, and nothing expands
//!   into an entitlement without a row.
//!
//! Paths are simple (no entitlement twice), so cycles of trust terminate, and never lead a
//! principal to an entitlement of its own resource (a role reaching its own `assignment`
//! through a role that trusts it back); a path may hold at most `max_hops` role `assignment`
//! entitlements (trust hops). Every simple path is explored;
//! per (principal, target, account) the `max_paths` shortest are kept (ties broken by the
//! grant ids) and the rest only counted. Exploration stops after [`STEP_BUDGET`] path
//! extensions and the answer says it is incomplete.

use std::collections::HashMap;

use super::AccessError;
use super::graph::{EdgeIx, Ent, Graph, Prin};

/// Path extensions one search may make before it stops and reports itself incomplete.
pub const STEP_BUDGET: u64 = 20_000_000;

/// What a result is about: an entitlement, or being an IAM principal of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TargetKey {
    Ent(Ent),
    AccountPrincipal,
}

/// One result row's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub principal: Prin,
    pub target: TargetKey,
    pub account: Option<String>,
}

/// The kept paths of one key.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// Grants of each kept path, first grant first; sorted shortest first.
    pub paths: Vec<Vec<EdgeIx>>,
    /// Paths found in all.
    pub found: u64,
}

pub(crate) struct Limits {
    pub max_hops: u32,
}

/// Collects paths per key, keeping the `max_paths` best.
pub(crate) struct Collector {
    pub rows: HashMap<Key, Kept>,
    max_paths: usize,
    pub steps: u64,
    pub complete: bool,
}

impl Collector {
    pub fn new(max_paths: usize) -> Self {
        Collector {
            rows: HashMap::new(),
            max_paths,
            steps: 0,
            complete: true,
        }
    }

    fn tick(&mut self) -> bool {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            self.complete = false;
        }
        self.complete
    }

    /// Records a path (grants in path order) for `key`.
    pub fn record(&mut self, g: &Graph, key: Key, path: &[EdgeIx]) {
        let max = self.max_paths;
        let kept = self.rows.entry(key).or_default();
        kept.found += 1;
        let cmp = |a: &[EdgeIx], b: &[EdgeIx]| {
            a.len().cmp(&b.len()).then_with(|| {
                a.iter()
                    .map(|&e| g.edge(e).id.as_str())
                    .cmp(b.iter().map(|&e| g.edge(e).id.as_str()))
            })
        };
        if kept.paths.len() == max {
            match kept.paths.last() {
                Some(worst) if cmp(path, worst).is_lt() => {
                    kept.paths.pop();
                }
                _ => return,
            }
        }
        let at = kept
            .paths
            .binary_search_by(|p| cmp(p, path))
            .unwrap_or_else(|i| i);
        kept.paths.insert(at, path.to_vec());
    }
}

/// The account a path ending in edge `e` lands in: for a policy attachment the account of
/// whoever holds the policy (a policy applies where its holder is); otherwise the account of
/// the entitlement's resource.
pub(crate) fn landing_account(g: &Graph, e: EdgeIx) -> Option<String> {
    use crate::model::types as rt;
    let edge = g.edge(e);
    if edge.ent_type == rt::IAM_POLICY || edge.ent_type == rt::INLINE_POLICY {
        let (t, i) = g.prin_key(edge.holder);
        super::account_of(t, i)
    } else {
        super::account_of(&edge.ent_type, &edge.ent_resource)
    }
}

fn type_passes(filter: &[String], principal_type: &str) -> bool {
    filter.is_empty() || filter.iter().any(|t| t == principal_type)
}

/// Every path from principal `p`; `wanted` selects the entitlements recorded.
pub(crate) fn forward(
    g: &mut Graph,
    p: Prin,
    limits: &Limits,
    wanted: &dyn Fn(&Graph, EdgeIx) -> bool,
    out: &mut Collector,
) -> Result<(), AccessError> {
    let ptype = g.prin_key(p).0.to_string();
    let starts = g.of_holder(p)?;
    let mut path: Vec<EdgeIx> = vec![];
    let mut visited: Vec<Ent> = vec![];
    for &s in starts.iter() {
        let hops = u32::from(g.edge(s).is_hop());
        if hops > limits.max_hops || g.is_own(p, s) {
            continue;
        }
        path.push(s);
        visited.push(g.edge(s).ent);
        extend_forward(
            g,
            p,
            &ptype,
            hops,
            limits,
            wanted,
            &mut path,
            &mut visited,
            out,
        )?;
        path.pop();
        visited.pop();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn extend_forward(
    g: &mut Graph,
    p: Prin,
    ptype: &str,
    hops: u32,
    limits: &Limits,
    wanted: &dyn Fn(&Graph, EdgeIx) -> bool,
    path: &mut Vec<EdgeIx>,
    visited: &mut Vec<Ent>,
    out: &mut Collector,
) -> Result<(), AccessError> {
    if !out.tick() {
        return Ok(());
    }
    let last = *path.last().expect("a path has a grant");
    if wanted(g, last) {
        let key = Key {
            principal: p,
            target: TargetKey::Ent(g.edge(last).ent),
            account: landing_account(g, last),
        };
        out.record(g, key, path);
    }
    let s = g.edge(last).ent;
    for next in g.expanding_from(s)? {
        let e = g.edge(next);
        if (e.shallow && path.len() > 1) || !type_passes(&e.filter, ptype) {
            continue;
        }
        let (ent, hop) = (e.ent, u32::from(e.is_hop()));
        if visited.contains(&ent)
            || hops + hop > limits.max_hops
            || g.is_own(p, next)
            || g.ent_row(ent)?.is_none()
        {
            continue;
        }
        path.push(next);
        visited.push(ent);
        extend_forward(g, p, ptype, hops + hop, limits, wanted, path, visited, out)?;
        path.pop();
        visited.pop();
    }
    Ok(())
}

/// Every path ending in one of `seeds` (each a final grant), recorded under the seed's
/// entitlement and landing account.
pub(crate) fn backward(
    g: &mut Graph,
    seeds: &[EdgeIx],
    limits: &Limits,
    out: &mut Collector,
) -> Result<(), AccessError> {
    for &seed in seeds {
        let hops = u32::from(g.edge(seed).is_hop());
        if hops > limits.max_hops {
            continue;
        }
        let target = TargetKey::Ent(g.edge(seed).ent);
        let account = landing_account(g, seed);
        // The path is kept reversed: the seed first, the path's first grant last.
        let mut rev = vec![seed];
        let mut visited = vec![g.edge(seed).ent];
        extend_backward(
            g,
            target,
            &account,
            hops,
            None,
            false,
            limits,
            &mut rev,
            &mut visited,
            out,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn extend_backward(
    g: &mut Graph,
    target: TargetKey,
    account: &Option<String>,
    hops: u32,
    allowed: Option<&[String]>,
    locked: bool,
    limits: &Limits,
    rev: &mut Vec<EdgeIx>,
    visited: &mut Vec<Ent>,
    out: &mut Collector,
) -> Result<(), AccessError> {
    if !out.tick() {
        return Ok(());
    }
    let first = *rev.last().expect("a path has a grant");
    let principal = g.edge(first).holder;
    let passes = allowed.is_none_or(|f| type_passes(f, g.prin_key(principal).0));
    if passes && !rev.iter().any(|&e| g.is_own(principal, e)) {
        let path: Vec<EdgeIx> = rev.iter().rev().copied().collect();
        let key = Key {
            principal,
            target,
            account: account.clone(),
        };
        out.record(g, key, &path);
    }
    let (from, shallow, ent, own_filter) = {
        let e = g.edge(first);
        (e.from.clone(), e.shallow, e.ent, e.filter.clone())
    };
    if locked || from.is_empty() || g.ent_row(ent)?.is_none() {
        return Ok(());
    }
    // Prepending a grant makes `first` the second grant: its shallowness then forbids any
    // further prepending, and its filter applies to every principal found from here on.
    let filter: Option<Vec<String>> = match (allowed, own_filter.is_empty()) {
        (None, true) => None,
        (None, false) => Some(own_filter),
        (Some(a), true) => Some(a.to_vec()),
        (Some(a), false) => Some(
            a.iter()
                .filter(|t| own_filter.contains(t))
                .cloned()
                .collect(),
        ),
    };
    for &s in &from {
        if visited.contains(&s) || g.ent_row(s)?.is_none() {
            continue;
        }
        let holders = g.of_ent(s)?;
        for &prev in holders.iter() {
            let hop = u32::from(g.edge(prev).is_hop());
            if hops + hop > limits.max_hops {
                continue;
            }
            rev.push(prev);
            visited.push(s);
            extend_backward(
                g,
                target,
                account,
                hops + hop,
                filter.as_deref(),
                shallow,
                limits,
                rev,
                visited,
                out,
            )?;
            rev.pop();
            visited.pop();
        }
    }
    Ok(())
}
