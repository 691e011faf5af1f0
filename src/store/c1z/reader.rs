//! Reading a c1z v1 file of any baton-sdk version: the zstd payload is decompressed to a
//! temp copy (`envelope`), the copy is brought up to the current schema (`migrate`), one sync
//! is chosen (`syncs`), and its rows are listed with filters. The user's file is never
//! written. Not here: writing (`writer`).

use std::path::Path;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use tempfile::TempPath;

use crate::model::{Kind, Record, pb};
use crate::store::StoreError;

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

/// A c1z file opened for reading (a decompressed, upgraded temp copy).
pub struct C1zReader {
    // Declared before `_db`: the connection closes before the temp file is removed.
    conn: Connection,
    /// The temp copy's name; `None` once unlinked (Unix), the connection keeping it open.
    _db: Option<TempPath>,
    selection: Selection,
    upgrade: Upgrade,
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
        let refuse = |why: String| StoreError::NotC1z {
            path: path.to_path_buf(),
            why,
        };
        let start = std::time::Instant::now();
        let db = envelope::decompress(path)?;
        let decompressed = start.elapsed();
        let mut conn = Connection::open(&db)
            .map_err(|e| refuse(format!("its SQLite database cannot be opened: {e}")))?;
        // A private copy: no journal or WAL files beside it (the SDK's files are in WAL mode;
        // leaving it checkpoints and removes the -wal/-shm files at once).
        conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY;")
            .map_err(|e| refuse(format!("its SQLite database is damaged: {e}")))?;
        let upgrade = migrate::upgrade(&mut conn).map_err(|e| refuse(e.to_string()))?;
        backfill_hook(&conn, &upgrade)?;
        let upgraded = start.elapsed();
        let selection = syncs::select(&conn, sync_id).map_err(|e| match e {
            SelectError::Store(e) => refuse(format!("its sync runs cannot be read: {e}")),
            e => refuse(e.to_string()),
        })?;
        tracing::debug!(
            file = %path.display(),
            decompress_ms = decompressed.as_millis() as u64,
            upgrade_ms = (upgraded - decompressed).as_millis() as u64,
            select_ms = (start.elapsed() - upgraded).as_millis() as u64,
            columns_added = upgrade.columns_added.len(),
            tables_created = upgrade.tables_created.len(),
            indexes_created = upgrade.indexes_created.len(),
            "c1z opened"
        );
        Ok(C1zReader {
            conn,
            _db: unlink(db),
            selection,
            upgrade,
        })
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

/// Runs right after the schema upgrade, before a sync is chosen: the place of the
/// grant-expansion backfill of old files (baton-sdk's `backfillGrantExpansionColumn`: for each
/// sync in `upgrade.syncs_not_backfilled`, move GrantExpandable out of `data` into
/// `expansion` and set `grants_backfilled = 1`). That backfill is `expand::sqlite::backfill`,
/// on the grant-expansion branch; once merged, call it here (`conn` is not inside a
/// transaction). Until then nothing is moved, and reading stays correct: `join_expansion`
/// keeps a GrantExpandable found in `data`.
fn backfill_hook(_conn: &Connection, _upgrade: &Upgrade) -> Result<(), StoreError> {
    Ok(())
}
