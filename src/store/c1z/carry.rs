//! Carrying the previous sync into a new c1z file (`--previous FILE`), so the file holds two
//! finished full syncs, as a file baton syncs into again does, and `baton diff` can compare
//! them. baton's diff (cmd/baton in baton-sdk) takes the file's finished syncs of type `full`,
//! newest `ended_at` first, and compares the first with the second; it needs at least two. The
//! carried sync is the previous file's latest finished full sync, copied row for row (every
//! column both schemas have, row ids left to SQLite) under its own sync id; it ended before
//! the new sync, which ends when the writer finishes, so the new one stays the latest (and the
//! one every reader, orgsync's and baton's, shows). Only one sync is carried: files do not grow
//! run after run.
//!
//! Not here: writing the new sync (`writer`), reading files (`reader`).

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::store::StoreError;

use super::reader::C1zReader;
use super::syncs::SyncRun;

/// The tables whose rows belong to a sync (`sync_id` column), in DDL order.
const TABLES: [&str; 5] = [
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    "v1_grants",
    "v1_assets",
];

/// What was carried.
#[derive(Debug, Clone)]
pub struct Carried {
    pub sync_id: String,
    pub ended_at: String,
    /// Rows copied, sync run excluded.
    pub rows: u64,
}

/// The sync `--previous` takes from `reader`'s file: its latest finished full sync (the one
/// `baton diff` would compare with a newer one).
pub fn carried_sync(reader: &C1zReader, path: &Path) -> Result<SyncRun, StoreError> {
    let mut runs: Vec<SyncRun> = reader
        .sync_runs()?
        .into_iter()
        .filter(|r| r.ended_at.is_some() && r.sync_type == "full")
        .collect();
    runs.sort_by(|a, b| {
        (b.ended_at.as_deref(), b.sync_id.as_str())
            .cmp(&(a.ended_at.as_deref(), a.sync_id.as_str()))
    });
    runs.into_iter().next().ok_or_else(|| StoreError::NotC1z {
        path: path.to_path_buf(),
        why: "it holds no finished full sync to carry as the previous sync".into(),
    })
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(&format!("pragma table_info({table})"))?;
    let cols = stmt.query_map([], |r| r.get::<_, String>(1))?;
    Ok(cols.collect::<Result<_, _>>()?)
}

/// Copies the latest finished full sync of `previous` into `conn` (a new file's database,
/// whose own sync is `new_sync_id`).
pub(super) fn carry(
    conn: &Connection,
    new_sync_id: &str,
    previous: &Path,
) -> Result<Carried, StoreError> {
    let reader = C1zReader::open(previous)?;
    let run = carried_sync(&reader, previous)?;
    if run.sync_id == new_sync_id {
        return Err(StoreError::NotC1z {
            path: previous.to_path_buf(),
            why: format!("its sync {} has the new sync's id", run.sync_id),
        });
    }
    let from = reader.connection();
    let mut rows = 0u64;
    for table in TABLES.iter().copied().chain(["v1_sync_runs"]) {
        let theirs = columns(from, table)?;
        let ours = columns(conn, table)?;
        let common: Vec<&String> = ours
            .iter()
            .filter(|c| c.as_str() != "id" && theirs.contains(c))
            .collect();
        if common.is_empty() {
            continue;
        }
        let list = common
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let marks = (1..=common.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut read = from.prepare(&format!(
            "select {list} from {table} where sync_id = ?1 order by id"
        ))?;
        let mut write = conn.prepare(&format!("insert into {table} ({list}) values ({marks})"))?;
        let mut found = read.query([&run.sync_id])?;
        while let Some(row) = found.next()? {
            let values: Vec<Value> = (0..common.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<_, _>>()?;
            write.execute(rusqlite::params_from_iter(values))?;
            if table != "v1_sync_runs" {
                rows += 1;
            }
        }
    }
    Ok(Carried {
        sync_id: run.sync_id,
        ended_at: run.ended_at.unwrap_or_default(),
        rows,
    })
}
