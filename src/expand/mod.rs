//! Grant expansion with baton-sdk's semantics (shared spec `grant-expansion.md`, rules
//! R1–R23): holders of an entitlement named in a grant's GrantExpandable annotation also
//! receive that grant's entitlement, as derived grants carrying `sources` and GrantImmutable,
//! and direct grants reached the same way gain `sources`.
//!
//! - [`engine`]: the algorithm on in-memory data (graph, cycles, order, holders, merging);
//!   no storage.
//! - [`sqlite`]: runs it on an open c1z v1 database (`expand_sync`) and migrates files of the
//!   old layout (`backfill`, R2).
//!
//! Not here: opening or saving c1z files, adding missing columns to old files, the CLI.

pub mod engine;
mod graph;
mod intern;
pub mod sqlite;
mod wire;

#[cfg(test)]
mod sqlite_tests;
#[cfg(test)]
mod tests;

pub use engine::{Derived, GraphBuilder, Holder, Outcome, Plan, Updated};

/// What to do when a GrantExpandable names an entitlement whose resource is not the grant's
/// principal (R5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceMismatch {
    /// Fail, as baton-sdk does.
    #[default]
    Fail,
    /// Drop that edge and count it ([`Dropped::source_mismatch`]).
    Skip,
}

/// Choices of one expansion run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub source_mismatch: SourceMismatch,
}

/// Edges left out of the graph, counted per (pending row, listed entitlement id).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    /// The source entitlement has no row in the sync (R4).
    pub source_missing: u64,
    /// The destination entitlement has no row in the sync (R6).
    pub destination_missing: u64,
    /// Skipped under [`SourceMismatch::Skip`] (R5).
    pub source_mismatch: u64,
}

/// What one expansion found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Rows with a pending GrantExpandable (R1).
    pub pending_rows: u64,
    /// (row, listed entitlement id) pairs read.
    pub edge_occurrences: u64,
    /// Distinct entitlement edges kept, duplicates folded (R8).
    pub edges: u64,
    pub dropped: Dropped,
    /// Cyclic components collapsed into one node each (R9).
    pub cycles_collapsed: u64,
    /// Edges deleted because both ends were in one component, self-edges included (R9).
    pub cycle_edges_removed: u64,
    /// Nodes and edges of the collapsed graph (R10).
    pub nodes: u64,
    pub dag_edges: u64,
    /// Edges on the longest path of the collapsed graph. baton-sdk's SQLite evaluator
    /// refuses more than 20 (R21); orgsync has no limit and reports the figure.
    pub longest_path: u64,
    /// Existing grants read because their entitlement is in the graph.
    pub holders: u64,
    /// Derived grants written as new rows (R15).
    pub grants_created: u64,
    /// Existing grants whose sources changed (R16–R18).
    pub grants_updated: u64,
    /// Derived grant ids that were already the id of another grant of the sync; that
    /// row's `data` was replaced, as baton-sdk's upsert does (§7).
    pub id_collisions: u64,
}

/// Failures of an expansion, each naming the record involved.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error(
        "grant {grant} lists entitlement {entitlement} in its GrantExpandable, but that entitlement belongs to {entitlement_resource}, not to the grant's principal {principal} (baton-sdk fails the sync here)"
    )]
    SourceMismatch {
        grant: String,
        entitlement: String,
        entitlement_resource: String,
        principal: String,
    },
    #[error(
        "entitlement {entitlement} has no resource id (type and id), so expansion cannot use it"
    )]
    EntitlementWithoutResource { entitlement: String },
    #[error("grant {grant} (row {rowid}): {why}")]
    BadGrant {
        rowid: i64,
        grant: String,
        why: String,
    },
    #[error("entitlement {entitlement}: its record does not decode: {source}")]
    BadEntitlement {
        entitlement: String,
        #[source]
        source: prost::DecodeError,
    },
    #[error("sync {sync_id} is not in v1_sync_runs")]
    NoSync { sync_id: String },
    #[error(
        "sync {sync_id} has grants_backfilled = 0: its GrantExpandable annotations are still inside the grant records; run the backfill first"
    )]
    NotBackfilled { sync_id: String },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Which part of a run is under way (for a caller drawing progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading pending rows, entitlements and holder grants.
    Loading,
    /// Processing the graph's nodes; [`Observer::progress`] follows.
    Expanding,
    /// Writing derived and updated grants.
    Writing,
}

/// Whether a written grant is new or an existing one with new sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
}

/// One written grant: its id and its new `data` (a `c1.connector.v2.Grant`), e.g. for a
/// JSON-lines sink.
#[derive(Debug, Clone, Copy)]
pub struct GrantChange<'a> {
    pub kind: ChangeKind,
    pub id: &'a str,
    pub data: &'a [u8],
}

/// Watches a run. Every method has a no-op default; `()` watches nothing.
pub trait Observer {
    fn phase(&mut self, _phase: Phase) {}
    /// `done` of `total` graph nodes are processed.
    fn progress(&mut self, _done: usize, _total: usize) {}
    /// A grant was written (called inside the transaction; the change is final only if the
    /// run returns `Ok`).
    fn grant(&mut self, _change: &GrantChange<'_>) {}
}

impl Observer for () {}
