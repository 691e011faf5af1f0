//! Changing one sync of an existing c1z v1 file (e.g. expanding its grants): the file is
//! decompressed into a scratch directory (`store::scratch`), brought up to the current schema
//! and backfilled as the reader does, one sync is chosen, the caller changes the database, and
//! [`C1zEditor::save`] compresses it into a target, atomically (`store::atomic`). The input is
//! never written unless it is also the target, and then only by the final rename: a failure
//! anywhere leaves it as it was, and no temp file behind.
//!
//! Not here: what the change is (`expand::file`), reading (`reader`), new files (`writer`).

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::atomic::io_err;
use crate::store::scratch::ScratchDir;

use super::migrate::Upgrade;
use super::syncs::{Selection, SyncRun};
use super::writer::write_compressed;
use super::{compute_stats, envelope, reader};

/// A c1z file opened for changing (a decompressed, upgraded copy in a scratch directory).
pub struct C1zEditor {
    conn: Connection,
    db: PathBuf,
    /// Declared after `conn`, so the database is closed before its directory goes.
    _scratch: ScratchDir,
    selection: Selection,
    upgrade: Upgrade,
}

impl C1zEditor {
    /// Opens `path` and selects the sync `sync_id` when given, else the one the reader shows
    /// (the latest finished sync of any type, else the newest unfinished one).
    pub fn open(path: &Path, sync_id: Option<&str>) -> Result<Self, StoreError> {
        let scratch = ScratchDir::create().map_err(io_err(&std::env::temp_dir()))?;
        let db = scratch.path().join("edit.db");
        {
            let f = File::create_new(&db).map_err(io_err(&db))?;
            envelope::decompress_to(path, &f)?;
        }
        let mut conn = Connection::open(&db).map_err(|e| StoreError::NotC1z {
            path: path.to_path_buf(),
            why: format!("its SQLite database cannot be opened: {e}"),
        })?;
        let (upgrade, selection) = reader::prepare(path, &mut conn, sync_id)?;
        // A disposable copy: its durability comes from the atomic save, and a failed change
        // discards the whole copy, so no rollback journal is kept (a large expansion's
        // journal in memory would double the peak memory; benches/expand).
        conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA journal_mode=OFF;")?;
        Ok(C1zEditor {
            conn,
            db,
            _scratch: scratch,
            selection,
            upgrade,
        })
    }

    /// The sync chosen, why, and how many the file holds.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The sync chosen.
    pub fn sync(&self) -> &SyncRun {
        &self.selection.sync
    }

    /// What opening added to bring the copy up to the current schema.
    pub fn upgrade(&self) -> &Upgrade {
        &self.upgrade
    }

    /// The copy's database, not inside a transaction. It keeps no rollback journal: after a
    /// failed change, drop the editor instead of saving.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Recomputes the record counts in the chosen sync's `stats` from its rows, keeping every
    /// other key (e.g. orgsync's section); a sync without stored stats keeps none, as
    /// baton-sdk computes them only when a sync ends. `more` may change the other keys.
    /// Returns the stats written, if any.
    pub fn refresh_counts(
        &self,
        more: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let sync_id = &self.selection.sync.sync_id;
        let stored: Option<String> = self.conn.query_row(
            "select stats from v1_sync_runs where sync_id = ?1",
            [sync_id],
            |r| r.get(0),
        )?;
        let Some(serde_json::Value::Object(mut stats)) =
            stored.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        else {
            return Ok(None);
        };
        for key in COUNT_KEYS {
            stats.remove(*key);
        }
        if let serde_json::Value::Object(counts) = compute_stats(&self.conn, sync_id)? {
            stats.extend(counts);
        }
        more(&mut stats);
        let stats = serde_json::Value::Object(stats);
        self.conn.execute(
            "update v1_sync_runs set stats = ?1 where sync_id = ?2",
            params![stats.to_string(), sync_id],
        )?;
        Ok(Some(stats))
    }

    /// Compresses the database into `target` atomically (a temp file next to it, fsynced and
    /// renamed). On failure `target` is untouched and no temp file is left.
    pub fn save(self, target: &Path) -> Result<(), StoreError> {
        let C1zEditor {
            conn, db, _scratch, ..
        } = self;
        conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        write_compressed(&db, target)?;
        drop(_scratch);
        Ok(())
    }
}

/// The keys of `stats` that [`compute_stats`] owns (left out when zero or empty).
const COUNT_KEYS: &[&str] = &[
    "resource_types",
    "resources",
    "entitlements",
    "grants",
    "resources_by_resource_type",
    "entitlements_by_resource_type",
    "grants_by_resource_type",
];
