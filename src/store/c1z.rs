//! The c1z v1 file (shared/spec/c1z-v1.md): `C1ZF\0` + one zstd frame holding a SQLite
//! database with the `v1_*` tables. The writer builds the database in a temp file, then
//! compresses it to `<file>.tmp`, fsyncs and renames it over `<file>`; the reader decompresses
//! to a temp copy and queries one sync. Nothing here knows about AWS.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use tempfile::TempPath;

use crate::model::{Kind, Record, any, pb};

use super::StoreError;
use super::atomic::{AtomicFile, io_err, parent_dir, tmp_path};

/// The v1 magic: ASCII `C1ZF` and one NUL.
pub const MAGIC: &[u8; 5] = b"C1ZF\0";
/// The v3 (Pebble) magic, recognised only to say it is unsupported.
const MAGIC_V3: &[u8; 5] = b"C1Z3\0";

/// The exact DDL of baton-sdk v0.25.0 (c1z-v1.md §2.1), including the swapped index names on
/// `v1_resources`, which readers expect.
pub const DDL: &str = r#"
create table if not exists v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id);
create table if not exists v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_resources_resource_type_id_v1 on v1_resources (resource_type_id);
create index if not exists idx_resources_external_sync_v1 on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index if not exists idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id);
create table if not exists v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id);
create unique index if not exists idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id);
create table if not exists v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);
create unique index if not exists idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id);
create table if not exists v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id);
create index if not exists idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id);
create index if not exists idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
create unique index if not exists idx_grants_external_sync_v1 on v1_grants (external_id, sync_id);
create index if not exists idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id);
create index if not exists idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null;
create index if not exists idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1;
create table if not exists v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_assets_external_sync_v1 on v1_assets (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key,
    sync_id text NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL
);
create unique index if not exists idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key);
"#;

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
/// touching `target` itself. Leaves nothing behind.
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
    let probe = tmp_path(target);
    match File::create(&probe) {
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

/// Writes one full sync into a new c1z file.
pub struct C1zWriter {
    conn: Connection,
    db: TempPath,
    target: PathBuf,
    sync_id: String,
}

impl C1zWriter {
    /// Starts a sync that will replace `target` when [`C1zWriter::finish`] succeeds.
    pub fn create(target: &Path) -> Result<Self, StoreError> {
        check_writable(target)?;
        let db = tempfile::Builder::new()
            .prefix("orgsync-")
            .suffix(".db")
            .tempfile()
            .map_err(io_err(Path::new("temporary database")))?
            .into_temp_path();
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
            conn, db, target, ..
        } = self;
        conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        write_compressed(&db, &target)?;
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
/// our collectors put it).
pub fn join_expansion(mut g: pb::Grant, expansion: Option<Vec<u8>>) -> pb::Grant {
    if let Some(bytes) = expansion
        && !g.annotations.iter().any(any::is::<pb::GrantExpandable>)
    {
        g.annotations.push(prost_types::Any {
            type_url: "type.googleapis.com/c1.connector.v2.GrantExpandable".into(),
            value: bytes,
        });
    }
    g
}

fn compute_stats(conn: &Connection, sync_id: &str) -> Result<serde_json::Value, StoreError> {
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

/// One row of `v1_sync_runs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub sync_type: String,
    pub stats: Option<serde_json::Value>,
}

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

/// A c1z file opened for reading (a decompressed temp copy).
pub struct C1zReader {
    conn: Connection,
    _db: TempPath,
    sync: SyncRun,
}

impl C1zReader {
    /// Opens `path` and selects the latest finished full sync (or, failing that, the latest
    /// finished sync of any type, then the latest unfinished one).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut f = File::open(path).map_err(io_err(path))?;
        let mut magic = [0u8; 5];
        let n = read_up_to(&mut f, &mut magic).map_err(io_err(path))?;
        if n == 5 && &magic == MAGIC_V3 {
            return Err(StoreError::NotC1z {
                path: path.to_path_buf(),
                why: "it is a c1z v3 (Pebble) file; orgsync reads v1 (SQLite) files".into(),
            });
        }
        if n != 5 || &magic != MAGIC {
            return Err(StoreError::NotC1z {
                path: path.to_path_buf(),
                why: "it does not start with the C1ZF header".into(),
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix("orgsync-read-")
            .suffix(".db")
            .tempfile()
            .map_err(io_err(Path::new("temporary database")))?;
        {
            let mut dec =
                zstd::stream::read::Decoder::new(BufReader::new(f)).map_err(io_err(path))?;
            dec.window_log_max(27).map_err(io_err(path))?; // 128 MiB, like the SDK's cap
            let mut out = BufWriter::new(tmp.as_file());
            io::copy(&mut dec, &mut out).map_err(|e| StoreError::NotC1z {
                path: path.to_path_buf(),
                why: format!("its zstd stream is damaged: {e}"),
            })?;
            out.flush().map_err(io_err(path))?;
        }
        let db = tmp.into_temp_path();
        let conn = Connection::open(&db)?;
        let sync = select_sync(&conn).map_err(|e| match e {
            StoreError::NoSync => StoreError::NoSync,
            other => StoreError::NotC1z {
                path: path.to_path_buf(),
                why: format!("its database is not a c1z v1 database: {other}"),
            },
        })?;
        Ok(C1zReader {
            conn,
            _db: db,
            sync,
        })
    }

    /// The sync being read.
    pub fn sync(&self) -> &SyncRun {
        &self.sync
    }

    /// Every sync run in the file, newest first.
    pub fn sync_runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        let mut stmt = self.conn.prepare(
            "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs order by started_at desc, sync_id desc",
        )?;
        let rows = stmt.query_map([], sync_row)?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// Resource types of the sync, in insertion order.
    pub fn resource_types(&self) -> Result<Vec<pb::ResourceType>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("select data from v1_resource_types where sync_id = ?1 order by id")?;
        let rows = stmt.query_map([&self.sync.sync_id], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|b| Ok(pb::ResourceType::decode(b?.as_slice())?))
            .collect()
    }

    /// Resources of the sync matching `filter` (resource type, resource id).
    pub fn resources(&self, filter: &Filter) -> Result<Vec<pb::Resource>, StoreError> {
        let mut sql = "select data from v1_resources where sync_id = ?1".to_string();
        let mut args: Vec<String> = vec![self.sync.sync_id.clone()];
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
                params![self.sync.sync_id, format!("{resource_type}:{resource}")],
                |r| r.get(0),
            )
            .optional()?;
        blob.map(|b| Ok(pb::Resource::decode(b.as_slice())?))
            .transpose()
    }

    /// Entitlements of the sync matching `filter` (resource type/id, entitlement id).
    pub fn entitlements(&self, filter: &Filter) -> Result<Vec<pb::Entitlement>, StoreError> {
        let mut sql = "select data from v1_entitlements where sync_id = ?1".to_string();
        let mut args: Vec<String> = vec![self.sync.sync_id.clone()];
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
        let mut args: Vec<String> = vec![self.sync.sync_id.clone()];
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
                params![self.sync.sync_id, id],
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
        compute_stats(&self.conn, &self.sync.sync_id)
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
            [&self.sync.sync_id],
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

fn sync_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncRun> {
    let stats: Option<String> = r.get(4)?;
    Ok(SyncRun {
        sync_id: r.get(0)?,
        started_at: r.get(1)?,
        ended_at: r.get(2)?,
        sync_type: r.get(3)?,
        stats: stats.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

fn select_sync(conn: &Connection) -> Result<SyncRun, StoreError> {
    let queries = [
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs where ended_at is not null and sync_type = 'full' order by ended_at desc, sync_id desc limit 1",
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs where ended_at is not null order by ended_at desc, sync_id desc limit 1",
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs order by started_at desc, sync_id desc limit 1",
    ];
    for q in queries {
        if let Some(run) = conn.query_row(q, [], sync_row).optional()? {
            return Ok(run);
        }
    }
    Err(StoreError::NoSync)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
