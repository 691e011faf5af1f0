//! Reading a c1z v1 file: the zstd stream is decompressed to a copy in a scratch directory
//! (`store::scratch`, removed with the reader), one sync is chosen, and its rows are listed
//! with filters. Not here: writing (`writer`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{Kind, Record, pb};
use crate::store::StoreError;
use crate::store::atomic::io_err;
use crate::store::scratch::ScratchDir;

use super::{MAGIC, MAGIC_V3, compute_stats, join_expansion};

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
    /// Declared after `conn`, so the database is closed before its directory goes.
    _scratch: ScratchDir,
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
        let scratch = ScratchDir::create().map_err(io_err(&std::env::temp_dir()))?;
        let db = scratch.path().join("read.db");
        {
            let tmp = File::create(&db).map_err(io_err(&db))?;
            let mut dec =
                zstd::stream::read::Decoder::new(BufReader::new(f)).map_err(io_err(path))?;
            dec.window_log_max(27).map_err(io_err(path))?; // 128 MiB, like the SDK's cap
            let mut out = BufWriter::new(&tmp);
            io::copy(&mut dec, &mut out).map_err(|e| StoreError::NotC1z {
                path: path.to_path_buf(),
                why: format!("its zstd stream is damaged: {e}"),
            })?;
            out.flush().map_err(io_err(path))?;
        }
        let conn = Connection::open(&db)?;
        let sync = select_sync(&conn)
            .map_err(|e| StoreError::NotC1z {
                path: path.to_path_buf(),
                why: format!("its database is not a c1z v1 database: {e}"),
            })?
            .ok_or_else(|| StoreError::NoSync {
                path: path.to_path_buf(),
            })?;
        Ok(C1zReader {
            conn,
            _scratch: scratch,
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

/// The sync to read, or None when the file holds no sync run.
fn select_sync(conn: &Connection) -> Result<Option<SyncRun>, StoreError> {
    let queries = [
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs where ended_at is not null and sync_type = 'full' order by ended_at desc, sync_id desc limit 1",
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs where ended_at is not null order by ended_at desc, sync_id desc limit 1",
        "select sync_id, started_at, ended_at, sync_type, stats from v1_sync_runs order by started_at desc, sync_id desc limit 1",
    ];
    for q in queries {
        if let Some(run) = conn.query_row(q, [], sync_row).optional()? {
            return Ok(Some(run));
        }
    }
    Ok(None)
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
