//! Reading a c1z v1 file of any baton-sdk version: the zstd payload is decompressed to a
//! temp copy (`envelope`), the copy is brought up to the current schema (`migrate`) and old
//! grant records are backfilled (`backfill`, as baton-sdk does on open), one sync
//! is chosen (`syncs`), and its rows are listed with filters. The user's file is never
//! written. Not here: writing (`writer`).

use std::path::Path;

use prost::Message;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tempfile::TempPath;

use crate::model::{Kind, Record, pb};
use crate::store::StoreError;

use super::cache::{self, CachePolicy};
use super::migrate::{self, Upgrade};
use super::syncs::{self, SelectError, Selection, SyncRun};
use super::{compute_stats, envelope, join_expansion};

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Resource type of the resource (resources, entitlements) or of the entitlement's
    /// resource (grants).
    pub resource_type: Option<String>,
    /// Resource id within that type.
    pub resource: Option<String>,
    /// Entitlement id (grants).
    pub entitlement: Option<String>,
    /// Principal resource id (grants); may be `type:id` or just the id.
    pub principal: Option<String>,
}

/// A c1z file opened for reading: a decompressed, upgraded temp copy, or a prepared copy
/// from the cache (`cache`), opened read-only.
pub struct C1zReader {
    // Declared before `_db`: the connection closes before the temp file is removed.
    conn: Connection,
    /// The temp copy's name; `None` once unlinked (Unix), the connection keeping it open,
    /// and for a cached copy.
    _db: Option<TempPath>,
    selection: Selection,
    upgrade: Upgrade,
    timings: OpenTimings,
}

/// Where the time of an open went (milliseconds; zero for a phase that did not run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpenTimings {
    /// Decompressing the zstd payload to a temp or cache file.
    pub decompress_ms: u64,
    /// Checking (and, for an old file, bringing up) the schema.
    pub upgrade_ms: u64,
    /// The grant-expansion backfill of old files.
    pub backfill_ms: u64,
    /// Choosing the sync.
    pub select_ms: u64,
    /// True when a prepared copy from the cache was opened (built by this open or earlier).
    pub cached: bool,
}

impl C1zReader {
    /// Opens `path` and selects the sync the `baton` CLI shows: the latest finished sync of
    /// any type, else the newest unfinished one.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_sync(path, None)
    }

    /// Opens `path` and selects the sync `sync_id` when given (an error when the file has no
    /// such sync), else as [`C1zReader::open`].
    pub fn open_sync(path: &Path, sync_id: Option<&str>) -> Result<Self, StoreError> {
        let mut timings = OpenTimings::default();
        let db = timed(&mut timings.decompress_ms, || envelope::decompress(path))?;
        let mut conn = Connection::open(&db)
            .map_err(|e| refusal(path, format!("its SQLite database cannot be opened: {e}")))?;
        let upgrade = upgrade(path, &mut conn, &mut timings)?;
        let selection = timed(&mut timings.select_ms, || select(path, &conn, sync_id))?;
        log_open(path, &timings, &upgrade);
        Ok(C1zReader {
            conn,
            _db: unlink(db),
            selection,
            upgrade,
            timings,
        })
    }

    /// As [`C1zReader::open_sync`], through the cache of prepared copies `policy`: the first
    /// read of a file writes its upgraded database into the cache directory, later reads of the
    /// same (unchanged) file open that copy read-only. Reads cold when the policy says so or
    /// the directory cannot be written (`cache::prepared`).
    pub fn open_cached(
        path: &Path,
        sync_id: Option<&str>,
        policy: &CachePolicy,
    ) -> Result<Self, StoreError> {
        let mut timings = OpenTimings::default();
        let Some(copy) = cache::prepared(policy, "c1z", path, |out| {
            build_copy(path, out, &mut timings)
        })?
        else {
            return Self::open_sync(path, sync_id);
        };
        timings.cached = true;
        let conn = Connection::open_with_flags(
            &copy.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let upgrade: String =
            conn.query_row("select upgrade from orgsync_prepared", [], |r| r.get(0))?;
        let upgrade: Upgrade = serde_json::from_str(&upgrade).map_err(|e| {
            refusal(
                path,
                format!("its prepared copy {} is damaged: {e}", copy.path.display()),
            )
        })?;
        let selection = timed(&mut timings.select_ms, || select(path, &conn, sync_id))?;
        log_open(path, &timings, &upgrade);
        Ok(C1zReader {
            conn,
            _db: None,
            selection,
            upgrade,
            timings,
        })
    }

    /// Where the time of this open went.
    pub fn timings(&self) -> OpenTimings {
        self.timings
    }

    /// The sync being read, why it was chosen, and how many syncs the file holds.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// What opening added to the temp copy to bring it up to the current schema.
    pub fn upgrade(&self) -> &Upgrade {
        &self.upgrade
    }

    /// The sync being read.
    pub fn sync(&self) -> &SyncRun {
        &self.selection.sync
    }

    /// Every sync run in the file, newest started first; stats recomputed where the file has
    /// none.
    pub fn sync_runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        syncs::all(&self.conn)
    }

    /// Resource types of the sync, in insertion order.
    pub fn resource_types(&self) -> Result<Vec<pb::ResourceType>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("select data from v1_resource_types where sync_id = ?1 order by id")?;
        let rows = stmt.query_map([&self.selection.sync.sync_id], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|b| Ok(pb::ResourceType::decode(b?.as_slice())?))
            .collect()
    }

    /// Resources of the sync matching `filter` (resource type, resource id).
    pub fn resources(&self, filter: &Filter) -> Result<Vec<pb::Resource>, StoreError> {
        let mut sql = "select data from v1_resources where sync_id = ?1".to_string();
        let mut args: Vec<String> = vec![self.selection.sync.sync_id.clone()];
        push_eq(
            &mut sql,
            &mut args,
            "resource_type_id",
            &filter.resource_type,
        );
        if let Some(r) = &filter.resource {
            match &filter.resource_type {
                Some(t) => push_eq(
                    &mut sql,
                    &mut args,
                    "external_id",
                    &Some(format!("{t}:{r}")),
                ),
                None => {
                    args.push(format!("%:{r}"));
                    sql.push_str(&format!(" and external_id like ?{}", args.len()));
                }
            }
        }
        sql.push_str(" order by id");
        self.query_blobs(&sql, &args, |b| Ok(pb::Resource::decode(b)?))
    }

    /// One resource by type and id.
    pub fn resource(
        &self,
        resource_type: &str,
        resource: &str,
    ) -> Result<Option<pb::Resource>, StoreError> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "select data from v1_resources where sync_id = ?1 and external_id = ?2",
                params![
                    self.selection.sync.sync_id,
                    format!("{resource_type}:{resource}")
                ],
                |r| r.get(0),
            )
            .optional()?;
        blob.map(|b| Ok(pb::Resource::decode(b.as_slice())?))
            .transpose()
    }

    /// Entitlements of the sync matching `filter` (resource type/id, entitlement id).
    pub fn entitlements(&self, filter: &Filter) -> Result<Vec<pb::Entitlement>, StoreError> {
        let mut sql = "select data from v1_entitlements where sync_id = ?1".to_string();
        let mut args: Vec<String> = vec![self.selection.sync.sync_id.clone()];
        push_eq(
            &mut sql,
            &mut args,
            "resource_type_id",
            &filter.resource_type,
        );
        push_eq(&mut sql, &mut args, "resource_id", &filter.resource);
        push_eq(&mut sql, &mut args, "external_id", &filter.entitlement);
        sql.push_str(" order by id");
        self.query_blobs(&sql, &args, |b| Ok(pb::Entitlement::decode(b)?))
    }

    /// Grants of the sync matching `filter`, with any `expansion` put back as an annotation.
    pub fn grants(&self, filter: &Filter) -> Result<Vec<pb::Grant>, StoreError> {
        let mut sql = "select data, expansion from v1_grants where sync_id = ?1".to_string();
        let mut args: Vec<String> = vec![self.selection.sync.sync_id.clone()];
        push_eq(
            &mut sql,
            &mut args,
            "resource_type_id",
            &filter.resource_type,
        );
        push_eq(&mut sql, &mut args, "resource_id", &filter.resource);
        push_eq(&mut sql, &mut args, "entitlement_id", &filter.entitlement);
        if let Some(p) = &filter.principal {
            args.push(p.clone());
            let n = args.len();
            sql.push_str(&format!(
                " and (principal_resource_id = ?{n} or (principal_resource_type_id || ':' || principal_resource_id) = ?{n})"
            ));
        }
        sql.push_str(" order by id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })?;
        rows.map(|row| {
            let (data, expansion) = row?;
            Ok(join_expansion(
                pb::Grant::decode(data.as_slice())?,
                expansion,
            ))
        })
        .collect()
    }

    /// One grant by id.
    pub fn grant(&self, id: &str) -> Result<Option<pb::Grant>, StoreError> {
        let row: Option<(Vec<u8>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "select data, expansion from v1_grants where sync_id = ?1 and external_id = ?2",
                params![self.selection.sync.sync_id, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(d, e)| Ok(join_expansion(pb::Grant::decode(d.as_slice())?, e)))
            .transpose()
    }

    /// Every record of the sync in table order: resource types, resources, entitlements, grants.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        let all = Filter::default();
        let mut out: Vec<Record> = self
            .resource_types()?
            .into_iter()
            .map(Record::ResourceType)
            .collect();
        out.extend(self.resources(&all)?.into_iter().map(Record::Resource));
        out.extend(
            self.entitlements(&all)?
                .into_iter()
                .map(Record::Entitlement),
        );
        out.extend(self.grants(&all)?.into_iter().map(Record::Grant));
        Ok(out)
    }

    /// Counts per table and type, recomputed from the rows (the SyncStats shape).
    pub fn counts(&self) -> Result<serde_json::Value, StoreError> {
        compute_stats(&self.conn, &self.selection.sync.sync_id)
    }

    /// Raw SQL access for tests and `inspect` diagnostics.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Number of rows of `kind` in the sync.
    pub fn count(&self, kind: Kind) -> Result<i64, StoreError> {
        let table = match kind {
            Kind::ResourceType => "v1_resource_types",
            Kind::Resource => "v1_resources",
            Kind::Entitlement => "v1_entitlements",
            Kind::Grant => "v1_grants",
        };
        Ok(self.conn.query_row(
            &format!("select count(*) from {table} where sync_id = ?1"),
            [&self.selection.sync.sync_id],
            |r| r.get(0),
        )?)
    }

    fn query_blobs<T>(
        &self,
        sql: &str,
        args: &[String],
        decode: impl Fn(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        rows.map(|b| decode(b?.as_slice())).collect()
    }
}

fn push_eq(sql: &mut String, args: &mut Vec<String>, column: &str, value: &Option<String>) {
    if let Some(v) = value {
        args.push(v.clone());
        sql.push_str(&format!(" and {column} = ?{}", args.len()));
    }
}

/// Removes the temp copy's name once it is open (Unix): the connection keeps the file, and
/// nothing is left in `TMPDIR` even when the process dies without unwinding (e.g. SIGPIPE
/// from `orgsync inspect … | head`). The copy has no journal or WAL file to find by name.
fn unlink(db: TempPath) -> Option<TempPath> {
    if cfg!(unix) {
        // On failure the name stays; removing it on drop would fail the same way.
        let _ = db.close();
        None
    } else {
        Some(db)
    }
}

fn refusal(path: &Path, why: String) -> StoreError {
    StoreError::NotC1z {
        path: path.to_path_buf(),
        why,
    }
}

fn timed<T>(ms: &mut u64, f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    *ms += start.elapsed().as_millis() as u64;
    out
}

fn log_open(path: &Path, t: &OpenTimings, upgrade: &Upgrade) {
    tracing::debug!(
        file = %path.display(),
        cached = t.cached,
        decompress_ms = t.decompress_ms,
        upgrade_ms = t.upgrade_ms,
        backfill_ms = t.backfill_ms,
        select_ms = t.select_ms,
        columns_added = upgrade.columns_added.len(),
        tables_created = upgrade.tables_created.len(),
        indexes_created = upgrade.indexes_created.len(),
        "c1z opened"
    );
}

/// Fills `out` (a new empty file in the cache directory) with the upgraded database of the
/// c1z at `path`, and records what the upgrade did (`orgsync_prepared`) for readers of the
/// copy. Every handle on `out` is closed on return.
fn build_copy(path: &Path, out: &Path, timings: &mut OpenTimings) -> Result<(), StoreError> {
    {
        // Read too: the decompression checks the database header it wrote.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(out)
            .map_err(crate::store::atomic::io_err(out))?;
        timed(&mut timings.decompress_ms, || {
            envelope::decompress_to(path, &f)
        })?;
    }
    let mut conn = Connection::open(out)
        .map_err(|e| refusal(path, format!("its SQLite database cannot be opened: {e}")))?;
    let upgrade = upgrade(path, &mut conn, timings)?;
    let json = serde_json::to_string(&upgrade)
        .map_err(|e| StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
    conn.execute_batch("create table orgsync_prepared (upgrade text not null)")?;
    conn.execute("insert into orgsync_prepared (upgrade) values (?1)", [json])?;
    // A copy that readers open read-only: no journal to find or replay.
    conn.execute_batch("PRAGMA journal_mode=DELETE;")?;
    conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    Ok(())
}

/// Brings the decompressed database of `path` on `conn` up to the current schema (`migrate`)
/// and backfills old grant records as baton-sdk does on open. Shared by the reader and the
/// editor (`edit`).
pub(super) fn upgrade(
    path: &Path,
    conn: &mut Connection,
    timings: &mut OpenTimings,
) -> Result<Upgrade, StoreError> {
    // A private copy: no journal or WAL files beside it (the SDK's files are in WAL mode;
    // leaving it checkpoints and removes the -wal/-shm files at once).
    conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY;")
        .map_err(|e| refusal(path, format!("its SQLite database is damaged: {e}")))?;
    let upgrade = timed(&mut timings.upgrade_ms, || migrate::upgrade(conn))
        .map_err(|e| refusal(path, e.to_string()))?;
    if !upgrade.syncs_not_backfilled.is_empty() {
        // baton-sdk's backfill of old files on open: GrantExpandable moves out of `data`
        // into `expansion` (grant-expansion.md R2), so every layout reads alike.
        timed(&mut timings.backfill_ms, || super::backfill::backfill(conn)).map_err(|e| {
            refusal(
                path,
                format!("its grants of the old layout cannot be brought to the current one: {e}"),
            )
        })?;
    }
    Ok(upgrade)
}

/// Chooses the sync (`sync_id`, else as [`C1zReader::open`]).
pub(super) fn select(
    path: &Path,
    conn: &Connection,
    sync_id: Option<&str>,
) -> Result<Selection, StoreError> {
    syncs::select(conn, sync_id).map_err(|e| match e {
        SelectError::Store(e) => refusal(path, format!("its sync runs cannot be read: {e}")),
        e => refusal(path, e.to_string()),
    })
}

/// [`upgrade`] then [`select`], for the editor (`edit`).
pub(super) fn prepare(
    path: &Path,
    conn: &mut Connection,
    sync_id: Option<&str>,
) -> Result<(Upgrade, Selection), StoreError> {
    let upgrade = upgrade(path, conn, &mut OpenTimings::default())?;
    Ok((upgrade, select(path, conn, sync_id)?))
}
