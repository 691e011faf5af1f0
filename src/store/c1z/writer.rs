//! Writing one sync into a new c1z v1 file: the database is built in a scratch directory
//! (`store::scratch`; one transaction per unit of records), then compressed to a temp file next
//! to `<file>`, fsynced and renamed over `<file>` (`store::atomic`). The scratch directory goes
//! when the writer does. Not here: reading files (`reader`).

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use prost::Message;
use rusqlite::{Connection, params};

use crate::model::Record;
use crate::store::StoreError;
use crate::store::atomic::{AtomicFile, io_err};
use crate::store::scratch::ScratchDir;

use super::schema::DDL;
use super::{MAGIC, check_writable, compute_stats, format_timestamp, new_sync_id, split_expansion};

/// Writes one full sync into a new c1z file.
pub struct C1zWriter {
    conn: Connection,
    /// The database file, in `_scratch`.
    db: PathBuf,
    /// Declared after `conn`, so the database is closed before its directory goes.
    _scratch: ScratchDir,
    target: PathBuf,
    sync_id: String,
}

impl C1zWriter {
    /// Starts a sync that will replace `target` when [`C1zWriter::finish`] succeeds.
    pub fn create(target: &Path) -> Result<Self, StoreError> {
        check_writable(target)?;
        let scratch = ScratchDir::create().map_err(io_err(&std::env::temp_dir()))?;
        let db = scratch.path().join("sync.db");
        let conn = Connection::open(&db)?;
        // The temp database is thrown away on any failure, so durability is not needed; a
        // memory journal keeps per-unit rollback working.
        conn.execute_batch("PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;")?;
        conn.execute_batch(DDL)?;
        let sync_id = new_sync_id();
        conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled) values (?1, ?2, NULL, '', 'full', '', '', 0, 1)",
            params![sync_id, format_timestamp(chrono::Local::now())],
        )?;
        Ok(C1zWriter {
            conn,
            db,
            _scratch: scratch,
            target: target.to_path_buf(),
            sync_id,
        })
    }

    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }

    /// Writes `records` in one transaction: all of them or none.
    pub fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let now = format_timestamp(chrono::Local::now());
        let tx = self.conn.transaction()?;
        for r in records {
            insert(&tx, &self.sync_id, &now, r)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Ends the sync (ended_at, stats, supports_diff), then atomically replaces the target.
    pub fn finish(self, stats: &serde_json::Value) -> Result<PathBuf, StoreError> {
        let token = serde_json::json!({"version": 1}).to_string();
        self.conn.execute(
            "update v1_sync_runs set ended_at = ?1, sync_token = ?2, supports_diff = 1, stats = ?3 where sync_id = ?4",
            params![
                format_timestamp(chrono::Local::now()),
                token,
                stats.to_string(),
                self.sync_id
            ],
        )?;
        let C1zWriter {
            conn,
            db,
            _scratch,
            target,
            ..
        } = self;
        conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        write_compressed(&db, &target)?;
        drop(_scratch);
        Ok(target)
    }

    /// Counts of what was written, per table and resource type (the SDK's SyncStats shape).
    pub fn stats(&self) -> Result<serde_json::Value, StoreError> {
        compute_stats(&self.conn, &self.sync_id)
    }
}

fn insert(conn: &Connection, sync_id: &str, now: &str, r: &Record) -> Result<(), StoreError> {
    match r {
        Record::ResourceType(t) => {
            conn.prepare_cached(
                "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4)
                 on conflict (external_id, sync_id) do update set data = excluded.data",
            )?
            .execute(params![t.id, t.encode_to_vec(), sync_id, now])?;
        }
        Record::Resource(res) => {
            let id = res.id.clone().unwrap_or_default();
            let (ptype, pid) = match &res.parent_resource_id {
                Some(p) => (Some(p.resource_type.clone()), Some(p.resource.clone())),
                None => (None, None),
            };
            conn.prepare_cached(
                "insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 on conflict (external_id, sync_id) do update set data = excluded.data",
            )?
            .execute(params![
                id.resource_type,
                r.external_id(),
                ptype,
                pid,
                res.encode_to_vec(),
                sync_id,
                now
            ])?;
        }
        Record::Entitlement(e) => {
            let rid = e
                .resource
                .as_ref()
                .and_then(|r| r.id.clone())
                .unwrap_or_default();
            conn.prepare_cached(
                "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6)
                 on conflict (external_id, sync_id) do update set data = excluded.data",
            )?
            .execute(params![rid.resource_type, rid.resource, e.id, e.encode_to_vec(), sync_id, now])?;
        }
        Record::Grant(g) => {
            let (stored, expansion) = split_expansion(g);
            let ent = g.entitlement.clone().unwrap_or_default();
            let rid = ent.resource.and_then(|r| r.id).unwrap_or_default();
            let pid = g
                .principal
                .as_ref()
                .and_then(|p| p.id.clone())
                .unwrap_or_default();
            let needs = i64::from(expansion.is_some());
            conn.prepare_cached(
                "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 on conflict (external_id, sync_id) do update set data = excluded.data, expansion = excluded.expansion, needs_expansion = excluded.needs_expansion",
            )?
            .execute(params![
                rid.resource_type,
                rid.resource,
                ent.id,
                pid.resource_type,
                pid.resource,
                g.id,
                expansion,
                needs,
                stored.encode_to_vec(),
                sync_id,
                now
            ])?;
        }
    }
    Ok(())
}

/// Compresses the database at `db` into `<target>.tmp` and puts it in place atomically
/// (`store::atomic`). On any failure `target` is untouched and no temp file is left.
fn write_compressed(db: &Path, target: &Path) -> Result<(), StoreError> {
    let len = fs::metadata(db).map_err(io_err(db))?.len();
    let mut input = BufReader::new(File::open(db).map_err(io_err(db))?);
    let mut out = AtomicFile::create(target)?;
    let tmp = out.tmp().to_path_buf();
    out.write_bytes(MAGIC)?;
    let mut enc = zstd::stream::write::Encoder::new(&mut out, 3).map_err(io_err(&tmp))?;
    enc.include_checksum(true).map_err(io_err(&tmp))?;
    enc.include_contentsize(true).map_err(io_err(&tmp))?;
    enc.set_pledged_src_size(Some(len)).map_err(io_err(&tmp))?;
    io::copy(&mut input, &mut enc).map_err(io_err(&tmp))?;
    enc.finish().map_err(io_err(&tmp))?;
    out.commit()
}
