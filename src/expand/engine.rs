//! The expansion algorithm on in-memory data (grant-expansion.md R3–R18), in three typed
//! steps: a [`GraphBuilder`] collects expandable grants and entitlement rows; [`GraphBuilder::build`]
//! validates the edges (R4–R6), folds duplicates (R8), collapses cycles and orders the nodes
//! (R9–R11) into a [`Plan`]; the plan takes the holder grants and [`Plan::run`] derives and
//! merges grants (R12–R18) into an [`Outcome`]. No storage here: grants are named by the
//! caller's `handle` and principal messages by the caller's `principal` token.

use crate::model::pb;

use super::graph::{self, Dag, EdgeSpec};
use super::intern::{IdMap, Interner};
use super::{Dropped, ExpandError, Options, Report, SourceMismatch};

const NONE: u32 = u32::MAX;
/// Handles of grants created by this run have this bit set; callers' handles must not.
const CREATED: u64 = 1 << 63;

#[derive(Debug, Clone, Copy)]
enum EntRow {
    Absent,
    /// The entitlement's resource id, interned as (type, id).
    Present(u32, u32),
    /// The row exists but its `resource.id` is missing or has an empty part (R6).
    NoResource,
}

#[derive(Debug)]
struct PendingRow {
    grant: u32,
    dst: u32,
    ptype: u32,
    pid: u32,
    spec: EdgeSpec,
    sources: (u32, u32),
}

/// Collects the input of one expansion: the pending expandable grants (R1) and the
/// entitlement rows they mention. Order of calls does not matter.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    ents: Interner,
    types: Interner,
    pids: Interner,
    grant_ids: Interner,
    rows: Vec<EntRow>,
    destinations: Vec<bool>,
    pending: Vec<PendingRow>,
    source_ids: Vec<u32>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        GraphBuilder::default()
    }

    /// One pending row: grant `grant_id` of `entitlement_id` to the principal
    /// `(principal_type, principal_id)`, carrying `ge` (R3).
    pub fn add_expandable(
        &mut self,
        grant_id: &str,
        entitlement_id: &str,
        principal_type: &str,
        principal_id: &str,
        ge: &pb::GrantExpandable,
    ) {
        let grant = self.grant_ids.intern(grant_id);
        let dst = self.ents.intern(entitlement_id);
        self.mark_destination(dst);
        let ptype = self.types.intern(principal_type);
        let pid = self.pids.intern(principal_id);
        let types = ge
            .resource_type_ids
            .iter()
            .map(|t| self.types.intern(t))
            .collect();
        let start = self.source_ids.len() as u32;
        for s in &ge.entitlement_ids {
            let id = self.ents.intern(s);
            self.source_ids.push(id);
        }
        self.pending.push(PendingRow {
            grant,
            dst,
            ptype,
            pid,
            spec: EdgeSpec::new(ge.shallow, types),
            sources: (start, self.source_ids.len() as u32),
        });
    }

    fn mark_destination(&mut self, ent: u32) {
        let i = ent as usize;
        if self.destinations.len() <= i {
            self.destinations.resize(i + 1, false);
        }
        self.destinations[i] = true;
    }

    /// Whether a pending row mentions `entitlement_id` (as source or destination): the
    /// entitlement rows a caller needs to pass to [`GraphBuilder::add_entitlement`].
    pub fn is_referenced(&self, entitlement_id: &str) -> bool {
        self.ents.get(entitlement_id).is_some()
    }

    /// Whether `entitlement_id` is the destination of a pending row (its record is embedded
    /// in derived grants).
    pub fn is_destination(&self, entitlement_id: &str) -> bool {
        self.ents
            .get(entitlement_id)
            .and_then(|e| self.destinations.get(e as usize).copied())
            .unwrap_or(false)
    }

    /// The number a pending row's entitlement has in this run (dense, from 0; stable through
    /// [`Plan`] and [`Outcome`]): what [`CreatedRef::entitlement`] refers to.
    pub(crate) fn entitlement_number(&self, entitlement_id: &str) -> Option<u32> {
        self.ents.get(entitlement_id)
    }

    /// An entitlement row of the sync, with the id of the resource it belongs to
    /// (`Entitlement.resource.id`; `None` when absent).
    pub fn add_entitlement(&mut self, entitlement_id: &str, resource: Option<&pb::ResourceId>) {
        let e = self.ents.intern(entitlement_id) as usize;
        if self.rows.len() <= e {
            self.rows.resize(e + 1, EntRow::Absent);
        }
        self.rows[e] = match resource {
            Some(r) if !r.resource_type.is_empty() && !r.resource.is_empty() => EntRow::Present(
                self.types.intern(&r.resource_type),
                self.pids.intern(&r.resource),
            ),
            _ => EntRow::NoResource,
        };
    }

    fn row(&self, ent: u32) -> EntRow {
        self.rows
            .get(ent as usize)
            .copied()
            .unwrap_or(EntRow::Absent)
    }

    /// Validates and folds the edges (R4–R8), collapses cycles and orders the nodes
    /// (R9–R11).
    pub fn build(self, options: &Options) -> Result<Plan, ExpandError> {
        let mut report = Report {
            pending_rows: self.pending.len() as u64,
            ..Report::default()
        };
        let mut dropped = Dropped::default();
        let mut edges: Vec<(u32, u32, EdgeSpec)> = Vec::new();
        let mut slot: IdMap<(u32, u32), usize> = IdMap::default();
        for row in &self.pending {
            for &s in &self.source_ids[row.sources.0 as usize..row.sources.1 as usize] {
                report.edge_occurrences += 1;
                match self.row(s) {
                    EntRow::Absent => {
                        dropped.source_missing += 1;
                        continue;
                    }
                    EntRow::NoResource => {
                        return Err(ExpandError::EntitlementWithoutResource {
                            entitlement: self.ents.str(s).to_string(),
                        });
                    }
                    EntRow::Present(rtype, rid) => {
                        if (rtype, rid) != (row.ptype, row.pid) {
                            match options.source_mismatch {
                                SourceMismatch::Skip => {
                                    dropped.source_mismatch += 1;
                                    continue;
                                }
                                SourceMismatch::Fail => {
                                    return Err(ExpandError::SourceMismatch {
                                        grant: self.grant_ids.str(row.grant).to_string(),
                                        entitlement: self.ents.str(s).to_string(),
                                        entitlement_resource: format!(
                                            "{}:{}",
                                            self.types.str(rtype),
                                            self.pids.str(rid)
                                        ),
                                        principal: format!(
                                            "{}:{}",
                                            self.types.str(row.ptype),
                                            self.pids.str(row.pid)
                                        ),
                                    });
                                }
                            }
                        }
                    }
                }
                match self.row(row.dst) {
                    EntRow::Absent => {
                        dropped.destination_missing += 1;
                        continue;
                    }
                    EntRow::NoResource => {
                        return Err(ExpandError::EntitlementWithoutResource {
                            entitlement: self.ents.str(row.dst).to_string(),
                        });
                    }
                    EntRow::Present(..) => {}
                }
                match slot.get(&(s, row.dst)) {
                    Some(&i) => edges[i].2.fold(&row.spec),
                    None => {
                        slot.insert((s, row.dst), edges.len());
                        edges.push((s, row.dst, row.spec.clone()));
                    }
                }
            }
        }
        report.edges = edges.len() as u64;
        report.dropped = dropped;
        let dag = graph::collapse(&edges);
        report.cycles_collapsed = dag.cycles as u64;
        report.cycle_edges_removed = dag.inner_edges as u64;
        report.nodes = dag.nodes.len() as u64;
        report.dag_edges = dag.edges as u64;
        report.longest_path = u64::from(dag.longest_path);

        let mut node_of = vec![NONE; self.ents.len()];
        for (n, members) in dag.nodes.iter().enumerate() {
            for &e in members {
                node_of[e as usize] = n as u32;
            }
        }
        Ok(Plan {
            by_ent: vec![Vec::new(); self.ents.len()],
            ents: self.ents,
            types: self.types,
            pids: self.pids,
            node_of,
            dag,
            grants: Vec::new(),
            report,
        })
    }
}

/// One grant as expansion tracks it. `sources` is sorted by entitlement and packs each key
/// as `entitlement << 1 | is_direct`; empty means "direct, never touched" (R13).
#[derive(Debug)]
struct GrantState {
    ent: u32,
    ptype: u32,
    pid: u32,
    principal: u32,
    handle: u64,
    sources: Vec<u32>,
    changed: bool,
}

fn find_source(sources: &[u32], ent: u32) -> Result<usize, usize> {
    sources.binary_search_by_key(&ent, |k| k >> 1)
}

/// A grant that exists before expansion and is relevant to it (its entitlement is in the
/// graph). `handle` names it for the caller (e.g. the rowid; the top bit must be clear);
/// `principal` is the caller's token for the principal message, copied into grants derived
/// from this one (R15).
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub entitlement_id: &'a str,
    pub principal_type: &'a str,
    pub principal_id: &'a str,
    pub sources: Option<&'a pb::GrantSources>,
    pub handle: u64,
    pub principal: u32,
}

/// The validated, collapsed and ordered graph, collecting the holder grants.
#[derive(Debug)]
pub struct Plan {
    ents: Interner,
    types: Interner,
    pids: Interner,
    node_of: Vec<u32>,
    dag: Dag,
    grants: Vec<GrantState>,
    by_ent: Vec<Vec<u32>>,
    report: Report,
}

impl Plan {
    /// Whether grants of `entitlement_id` take part (as holders of a source, or as existing
    /// grants on a destination): the grants a caller must pass to [`Plan::add_grant`].
    pub fn wants(&self, entitlement_id: &str) -> bool {
        self.ents
            .get(entitlement_id)
            .is_some_and(|e| self.node_of.get(e as usize).is_some_and(|&n| n != NONE))
    }

    /// What was found so far (graph figures; grant counts come from [`Plan::run`]).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Number of nodes of the collapsed graph, the `total` of the progress callback.
    pub fn node_count(&self) -> usize {
        self.dag.nodes.len()
    }

    /// Adds an existing grant. Grants of entitlements outside the graph are ignored (returns
    /// false). Call in a stable order (e.g. rowid) for a reproducible output order.
    pub fn add_grant(&mut self, g: Holder<'_>) -> bool {
        debug_assert_eq!(
            g.handle & CREATED,
            0,
            "caller handles keep the top bit clear"
        );
        let Some(ent) = self.ents.get(g.entitlement_id) else {
            return false;
        };
        if self.node_of.get(ent as usize).is_none_or(|&n| n == NONE) {
            return false;
        }
        let mut sources: Vec<u32> = Vec::new();
        if let Some(s) = g.sources {
            for (key, src) in &s.sources {
                let k = self.ents.intern(key);
                sources.push((k << 1) | u32::from(src.is_direct));
            }
            sources.sort_unstable();
            sources.dedup_by_key(|k| *k >> 1);
        }
        let idx = self.grants.len() as u32;
        self.grants.push(GrantState {
            ent,
            ptype: self.types.intern(g.principal_type),
            pid: self.pids.intern(g.principal_id),
            principal: g.principal,
            handle: g.handle,
            sources,
            changed: false,
        });
        self.by_ent[ent as usize].push(idx);
        self.report.holders += 1;
        true
    }

    /// Processes every node in topological order (R11–R18). `progress(done, total)` is
    /// called after each node.
    pub fn run(self, progress: &mut dyn FnMut(usize, usize)) -> Outcome {
        let Plan {
            ents,
            types,
            pids,
            dag,
            mut grants,
            mut by_ent,
            mut report,
            ..
        } = self;
        let existing = grants.len();
        let total = dag.order.len();
        let mut first: IdMap<u64, u32> = IdMap::default();
        let mut more: IdMap<u64, Vec<u32>> = IdMap::default();
        for (done, &n) in dag.order.iter().enumerate() {
            let parents = &dag.incoming[n as usize];
            if !parents.is_empty() {
                for &d in &dag.nodes[n as usize] {
                    // Existing grants on d, by principal (R15/R17: existence is by
                    // entitlement and principal, not by grant id).
                    first.clear();
                    more.clear();
                    for &g in &by_ent[d as usize] {
                        let k = principal_key(&grants[g as usize]);
                        if first.try_insert_or_keep(k, g) {
                            more.entry(k).or_default().push(g);
                        }
                    }
                    for (p, spec) in parents {
                        for &s in &dag.nodes[*p as usize] {
                            // s is in another node than d, so its holders do not change
                            // while d is processed.
                            for i in 0..by_ent[s as usize].len() {
                                let h = &grants[by_ent[s as usize][i] as usize];
                                if !spec.admits(h.ptype) {
                                    continue;
                                }
                                let direct =
                                    h.sources.is_empty() || find_source(&h.sources, s).is_ok();
                                if spec.shallow && !direct {
                                    continue;
                                }
                                let k = principal_key(h);
                                match first.get(&k) {
                                    None => {
                                        let new = GrantState {
                                            ent: d,
                                            ptype: h.ptype,
                                            pid: h.pid,
                                            principal: h.principal,
                                            handle: CREATED | grants.len() as u64,
                                            sources: vec![(s << 1) | u32::from(direct)],
                                            changed: true,
                                        };
                                        let idx = grants.len() as u32;
                                        grants.push(new);
                                        by_ent[d as usize].push(idx);
                                        first.insert(k, idx);
                                    }
                                    Some(&e) => {
                                        merge(&mut grants[e as usize], d, s, direct);
                                        if let Some(rest) = more.get(&k) {
                                            for &e in rest {
                                                merge(&mut grants[e as usize], d, s, direct);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            progress(done + 1, total);
        }
        report.grants_created = (grants.len() - existing) as u64;
        report.grants_updated = grants[..existing].iter().filter(|g| g.changed).count() as u64;
        Outcome {
            ents,
            types,
            pids,
            grants,
            existing,
            report,
        }
    }
}

trait TryInsert {
    /// Inserts when absent; returns true when the key was already there (value kept).
    fn try_insert_or_keep(&mut self, k: u64, v: u32) -> bool;
}

impl TryInsert for IdMap<u64, u32> {
    fn try_insert_or_keep(&mut self, k: u64, v: u32) -> bool {
        match self.entry(k) {
            std::collections::hash_map::Entry::Occupied(_) => true,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(v);
                false
            }
        }
    }
}

fn principal_key(g: &GrantState) -> u64 {
    (u64::from(g.ptype) << 32) | u64::from(g.pid)
}

/// R16–R18 on an existing grant `e` of `d` reached from source `s`.
fn merge(e: &mut GrantState, d: u32, s: u32, direct: bool) {
    if e.sources.is_empty() {
        e.sources.push((d << 1) | 1);
        e.changed = true;
    }
    match find_source(&e.sources, s) {
        Err(at) => {
            e.sources.insert(at, (s << 1) | u32::from(direct));
            e.changed = true;
        }
        Ok(at) => {
            if direct && e.sources[at] & 1 == 0 {
                e.sources[at] |= 1;
                e.changed = true;
            }
        }
    }
}

/// The result of a run: the grants to create and the existing grants whose sources changed.
#[derive(Debug)]
pub struct Outcome {
    ents: Interner,
    types: Interner,
    pids: Interner,
    grants: Vec<GrantState>,
    existing: usize,
    report: Report,
}

/// A grant derived by expansion (R15), to be written as a new grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived<'a> {
    pub entitlement_id: &'a str,
    pub principal_type: &'a str,
    pub principal_id: &'a str,
    /// The `principal` token of the holder grant it was derived from (through a chain of
    /// derived grants, that of the original direct grant).
    pub principal: u32,
    /// Source keys with `is_direct`, sorted by key.
    pub sources: Vec<(&'a str, bool)>,
}

impl Derived<'_> {
    /// `<entitlement>:<principal type>:<principal id>`, a raw join (the SDK's `NewGrantID`).
    pub fn grant_id(&self) -> String {
        format!(
            "{}:{}:{}",
            self.entitlement_id, self.principal_type, self.principal_id
        )
    }
}

/// A grant to create, borrowed for one call of [`Outcome::try_each_created`]: the fields of
/// [`Derived`] plus the entitlement's number ([`GraphBuilder::entitlement_number`]).
pub(crate) struct CreatedRef<'a> {
    pub(crate) entitlement: u32,
    pub(crate) entitlement_id: &'a str,
    pub(crate) principal_type: &'a str,
    pub(crate) principal_id: &'a str,
    pub(crate) principal: u32,
    /// Source keys with `is_direct`, sorted by key.
    pub(crate) sources: &'a [(&'a str, bool)],
}

impl CreatedRef<'_> {
    /// [`Derived::grant_id`] into `out` (cleared first).
    pub(crate) fn grant_id_into(&self, out: &mut String) {
        out.clear();
        for (i, part) in [self.entitlement_id, self.principal_type, self.principal_id]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(':');
            }
            out.push_str(part);
        }
    }
}

/// An existing grant whose sources changed (R16–R18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated<'a> {
    pub handle: u64,
    /// Every source key (old and new) with `is_direct`, sorted by key.
    pub sources: Vec<(&'a str, bool)>,
}

/// `sources` as the protobuf message (a sorted map).
pub fn sources_message(sources: &[(&str, bool)]) -> pb::GrantSources {
    pb::GrantSources {
        sources: sources
            .iter()
            .map(|(k, d)| {
                (
                    (*k).to_string(),
                    pb::grant_sources::GrantSource { is_direct: *d },
                )
            })
            .collect(),
    }
}

impl Outcome {
    /// Counts and graph figures.
    pub fn report(&self) -> &Report {
        &self.report
    }

    fn sources(&self, g: &GrantState) -> Vec<(&str, bool)> {
        let mut out = Vec::with_capacity(g.sources.len());
        self.sources_into(g, &mut out);
        out
    }

    /// `g`'s source keys with `is_direct`, sorted by key, into `out` (cleared first).
    fn sources_into<'a>(&'a self, g: &GrantState, out: &mut Vec<(&'a str, bool)>) {
        out.clear();
        out.extend(
            g.sources
                .iter()
                .map(|k| (self.ents.str(k >> 1), k & 1 == 1)),
        );
        out.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }

    /// Calls `f` on every grant to create, in creation order, as [`Outcome::created`] lists
    /// them but without allocating per grant (for writers of many rows).
    pub(crate) fn try_each_created<E>(
        &self,
        mut f: impl FnMut(&CreatedRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut sources = Vec::new();
        for g in &self.grants[self.existing..] {
            self.sources_into(g, &mut sources);
            f(&CreatedRef {
                entitlement: g.ent,
                entitlement_id: self.ents.str(g.ent),
                principal_type: self.types.str(g.ptype),
                principal_id: self.pids.str(g.pid),
                principal: g.principal,
                sources: &sources,
            })?;
        }
        Ok(())
    }

    /// Grants to create, in creation order.
    pub fn created(&self) -> impl Iterator<Item = Derived<'_>> + '_ {
        self.grants[self.existing..].iter().map(|g| Derived {
            entitlement_id: self.ents.str(g.ent),
            principal_type: self.types.str(g.ptype),
            principal_id: self.pids.str(g.pid),
            principal: g.principal,
            sources: self.sources(g),
        })
    }

    /// Existing grants whose sources changed, in the order they were added.
    pub fn updated(&self) -> impl Iterator<Item = Updated<'_>> + '_ {
        self.grants[..self.existing]
            .iter()
            .filter(|g| g.changed)
            .map(|g| Updated {
                handle: g.handle,
                sources: self.sources(g),
            })
    }
}
