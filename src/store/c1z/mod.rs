//! The c1z v1 file (shared/spec/c1z-v1.md): `C1ZF\0` + one zstd frame holding a SQLite
//! database with the `v1_*` tables. The writer builds the database in a scratch directory
//! (`store::scratch`), then compresses it to a temp file next to `<file>`, fsyncs and renames it
//! over `<file>` (`store::atomic`); the reader decompresses to a scratch copy (`envelope`),
//! brings it up to the current schema as baton-sdk does (`migrate`), chooses one sync
//! (`syncs`) and queries it. Nothing here knows about AWS.

pub mod backfill;
pub mod cache;
mod carry;
mod edit;
mod envelope;
mod migrate;
mod reader;
mod schema;
mod syncs;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use prost::Message;
use rusqlite::Connection;

use crate::model::{any, pb};

use super::StoreError;
use super::atomic::{parent_dir, temp_path};

pub use crate::model::stats::SyncType;
pub use cache::CachePolicy;
pub use carry::{Carried, carried_sync};
pub use edit::C1zEditor;
pub use migrate::Upgrade;
pub use reader::{C1zReader, Filter, OpenTimings};
pub use schema::DDL;
pub use syncs::{Choice, Selection, SyncRun};
pub use writer::C1zWriter;

/// The v1 magic: ASCII `C1ZF` and one NUL.
pub const MAGIC: &[u8; 5] = b"C1ZF\0";
/// The v3 (Pebble) magic, recognised only to say it is unsupported.
pub(crate) const MAGIC_V3: &[u8; 5] = b"C1Z3\0";

/// `YYYY-MM-DD HH:MM:SS[.fraction]`, local wall clock, trailing fraction zeros trimmed
/// (Go layout `2006-01-02 15:04:05.999999999`, c1z-v1.md §2.3).
pub fn format_timestamp(t: chrono::DateTime<chrono::Local>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
    if nanos == 0 {
        base
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}", frac.trim_end_matches('0'))
    }
}

/// A new KSUID string (27 base62 characters) for a sync id.
pub fn new_sync_id() -> String {
    use svix_ksuid::KsuidLike;
    svix_ksuid::Ksuid::new::<std::time::SystemTime>(None, None).to_string()
}

/// Checks that `target` can be written (its directory exists and accepts a new file) without
/// touching `target` or any other run's file: the probe is a new file of this process's own
/// temp name (`atomic::temp_path`), removed at once. Leaves nothing behind.
pub fn check_writable(target: &Path) -> Result<(), StoreError> {
    if target.is_dir() {
        return Err(StoreError::Target {
            path: target.to_path_buf(),
            why: "it is a directory".into(),
        });
    }
    let dir = parent_dir(target);
    if !dir.is_dir() {
        return Err(StoreError::Target {
            path: target.to_path_buf(),
            why: format!("directory {} does not exist", dir.display()),
        });
    }
    let probe = temp_path(target);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(StoreError::Target {
            path: target.to_path_buf(),
            why: format!("cannot create files in {}: {e}", dir.display()),
        }),
    }
}

/// Moves a `GrantExpandable` annotation out of the grant blob into the `expansion` column
/// (c1z-v1.md §2.2, writer choice A). A GE with no non-blank entitlement id is dropped from
/// neither: it stays in `data` and `expansion` is NULL.
pub fn split_expansion(g: &pb::Grant) -> (pb::Grant, Option<Vec<u8>>) {
    let mut stored = g.clone();
    let mut expansion = None;
    stored.annotations.retain(|a| {
        if expansion.is_none()
            && any::is::<pb::GrantExpandable>(a)
            && pb::GrantExpandable::decode(a.value.as_slice())
                .map(|ge| ge.entitlement_ids.iter().any(|e| !e.trim().is_empty()))
                .unwrap_or(false)
        {
            expansion = Some(a.value.clone());
            false
        } else {
            true
        }
    });
    (stored, expansion)
}

/// Puts an `expansion` column value back into the grant's annotations (appended last, where
/// our collectors put it). An empty `expansion` is none (baton-sdk's transient backfill
/// marker); a GrantExpandable already in the record (files before baton-sdk v0.7.22, or not
/// yet backfilled) is kept as it is.
pub fn join_expansion(mut g: pb::Grant, expansion: Option<Vec<u8>>) -> pb::Grant {
    if let Some(bytes) = expansion.filter(|b| !b.is_empty())
        && !g.annotations.iter().any(any::is::<pb::GrantExpandable>)
    {
        g.annotations.push(prost_types::Any {
            type_url: "type.googleapis.com/c1.connector.v2.GrantExpandable".into(),
            value: bytes,
        });
    }
    g
}

pub(crate) fn compute_stats(
    conn: &Connection,
    sync_id: &str,
) -> Result<serde_json::Value, StoreError> {
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    let mut types = conn.prepare("select external_id from v1_resource_types where sync_id = ?1")?;
    for t in types.query_map([sync_id], |r| r.get::<_, String>(0))? {
        by_type.insert(t?, 0);
    }
    let count_by = |table: &str| -> Result<BTreeMap<String, i64>, StoreError> {
        let mut stmt = conn.prepare(&format!(
            "select resource_type_id, count(*) from {table} where sync_id = ?1 group by resource_type_id"
        ))?;
        let rows = stmt.query_map([sync_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    };
    for (t, n) in count_by("v1_resources")? {
        if let Some(slot) = by_type.get_mut(&t) {
            *slot = n;
        }
    }
    let ents = count_by("v1_entitlements")?;
    let grants = count_by("v1_grants")?;
    let mut stats = serde_json::Map::new();
    let total = |m: &BTreeMap<String, i64>| m.values().sum::<i64>();
    let put = |s: &mut serde_json::Map<String, serde_json::Value>, k: &str, v: i64| {
        if v != 0 {
            s.insert(k.into(), v.into());
        }
    };
    put(&mut stats, "resource_types", by_type.len() as i64);
    put(&mut stats, "resources", total(&by_type));
    put(&mut stats, "entitlements", total(&ents));
    put(&mut stats, "grants", total(&grants));
    if !by_type.is_empty() {
        stats.insert(
            "resources_by_resource_type".into(),
            serde_json::to_value(&by_type).unwrap_or_default(),
        );
    }
    if !ents.is_empty() {
        stats.insert(
            "entitlements_by_resource_type".into(),
            serde_json::to_value(&ents).unwrap_or_default(),
        );
    }
    if !grants.is_empty() {
        stats.insert(
            "grants_by_resource_type".into(),
            serde_json::to_value(&grants).unwrap_or_default(),
        );
    }
    Ok(serde_json::Value::Object(stats))
}
