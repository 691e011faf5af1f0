//! Grant expansion on an open, decompressed c1z v1 database: reads one sync's pending rows
//! (R1), the entitlement rows they name and the holder grants, runs [`super::engine`], and
//! writes the result in one transaction (R19, R20). Assumes the current columns exist
//! (`expansion`, `needs_expansion`, `supports_diff`, `grants_backfilled`) and old grant
//! records are backfilled (R2); both are the c1z reader's job (`store::c1z`), as are opening
//! and saving the file.

use prost::Message;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::model::pb;
use crate::store::c1z::format_timestamp;

use super::engine::{GraphBuilder, Holder, Outcome, Plan, sources_message};
use super::intern::Interner;
use super::{ChangeKind, ExpandError, GrantChange, Observer, Options, Phase, Report};
use crate::model::wire;

/// A text column of the current row.
fn text<'a>(r: &'a rusqlite::Row<'_>, column: usize) -> Result<&'a str, rusqlite::Error> {
    Ok(r.get_ref(column)?.as_str()?)
}

/// The bytes of a blob (or text) column; `None` for NULL and numbers.
fn bytes(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b),
        _ => None,
    }
}

/// Expands the grants of sync `sync_id` (grant-expansion.md R1–R20) in one transaction:
/// derived grants become new `v1_grants` rows, existing grants that gain sources get a new
/// `data` (same message, new `sources`, GrantExpandable stripped), `expansion` and
/// `needs_expansion` stay as they are, and the sync row gets `supports_diff = 1` even when
/// nothing is pending.
///
/// `conn` must not be inside a transaction. Fails without writing anything when a
/// GrantExpandable names an entitlement of another resource than the grant's principal
/// (unless [`super::SourceMismatch::Skip`]), when a record does not decode, or when the sync
/// still has `grants_backfilled = 0` (`store::c1z::backfill` first).
///
/// While it runs, the connection's page cache is raised to [`CACHE_KIB`] (if smaller) and put
/// back afterwards. Durability is the caller's choice: on a disposable decompressed copy,
/// `PRAGMA synchronous = OFF` saves the journal syncs.
pub fn expand_sync(
    conn: &Connection,
    sync_id: &str,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Report, ExpandError> {
    let saved: i64 = conn.query_row("pragma cache_size", [], |r| r.get(0))?;
    // Positive values count pages, negative ones KiB.
    let page: i64 = conn.query_row("pragma page_size", [], |r| r.get(0))?;
    let saved_kib = if saved < 0 {
        -saved
    } else {
        saved * page / 1024
    };
    if saved_kib < CACHE_KIB {
        conn.execute_batch(&format!("pragma cache_size = -{CACHE_KIB}"))?;
    }
    let result = expand_in_transaction(conn, sync_id, options, observer);
    if saved_kib < CACHE_KIB {
        conn.execute_batch(&format!("pragma cache_size = {saved}"))?;
    }
    result
}

/// Page cache used during [`expand_sync`]: index pages of the grants table are updated in
/// an order unrelated to their keys, and a small cache turns that into reads and spills.
pub const CACHE_KIB: i64 = 16 * 1024;

fn expand_in_transaction(
    conn: &Connection,
    sync_id: &str,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Report, ExpandError> {
    let tx = conn.unchecked_transaction()?;
    check_backfilled(&tx, sync_id)?;
    // R20: set when the step starts, whether or not anything is pending.
    tx.execute(
        "update v1_sync_runs set supports_diff = 1 where sync_id = ?1",
        [sync_id],
    )?;
    observer.phase(Phase::Loading);
    let mut builder = GraphBuilder::new();
    read_pending(&tx, sync_id, &mut builder)?;
    let destinations = read_entitlements(&tx, sync_id, &mut builder)?;
    let mut plan = builder.build(options)?;
    let principals = read_holders(&tx, sync_id, &mut plan)?;

    observer.phase(Phase::Expanding);
    let outcome = plan.run(&mut |done, total| observer.progress(done, total));
    let mut report = outcome.report().clone();

    observer.phase(Phase::Writing);
    let dropped = drop_indexes(&tx, report.grants_created)?;
    let written = Written {
        tx: &tx,
        sync_id,
        destinations: &destinations,
        principals: &principals,
    };
    report.id_collisions = written.created(&outcome, observer)?;
    written.updated(&outcome, observer)?;
    for sql in &dropped {
        tx.execute_batch(sql)?;
    }
    tx.commit()?;
    Ok(report)
}

/// Fails unless sync `sync_id` exists and its grants are backfilled (R2).
fn check_backfilled(tx: &Connection, sync_id: &str) -> Result<(), ExpandError> {
    let backfilled: Option<i64> = tx
        .query_row(
            "select grants_backfilled from v1_sync_runs where sync_id = ?1",
            [sync_id],
            |r| r.get(0),
        )
        .optional()?;
    match backfilled {
        None => Err(ExpandError::NoSync {
            sync_id: sync_id.to_string(),
        }),
        Some(0) => Err(ExpandError::NotBackfilled {
            sync_id: sync_id.to_string(),
        }),
        Some(_) => Ok(()),
    }
}

/// R1: the pending rows, in rowid order, into `builder`.
fn read_pending(
    tx: &Connection,
    sync_id: &str,
    builder: &mut GraphBuilder,
) -> Result<(), ExpandError> {
    let mut stmt = tx.prepare(
        "select id, external_id, entitlement_id, principal_resource_type_id, principal_resource_id, expansion
         from v1_grants where sync_id = ?1 and expansion is not null and needs_expansion = 1 order by id",
    )?;
    let mut rows = stmt.query([sync_id])?;
    while let Some(r) = rows.next()? {
        let rowid: i64 = r.get(0)?;
        let grant = text(r, 1)?;
        let expansion = bytes(r.get_ref(5)?).ok_or_else(|| ExpandError::BadGrant {
            rowid,
            grant: grant.to_string(),
            why: "its expansion column is not a blob".into(),
        })?;
        let ge = pb::GrantExpandable::decode(expansion).map_err(|e| ExpandError::BadGrant {
            rowid,
            grant: grant.to_string(),
            why: format!("its expansion column does not decode: {e}"),
        })?;
        builder.add_expandable(grant, text(r, 2)?, text(r, 3)?, text(r, 4)?, &ge);
    }
    Ok(())
}

/// A destination entitlement as derived grants need it.
struct Destination {
    data: Vec<u8>,
    resource_type: String,
    resource: String,
}

/// The entitlement rows the pending rows name, into `builder`; returns the records of the
/// destinations (with a resource id), by [`GraphBuilder::entitlement_number`].
fn read_entitlements(
    tx: &Connection,
    sync_id: &str,
    builder: &mut GraphBuilder,
) -> Result<Vec<Option<Destination>>, ExpandError> {
    let mut destinations: Vec<Option<Destination>> = Vec::new();
    let mut stmt =
        tx.prepare("select external_id, data from v1_entitlements where sync_id = ?1 order by id")?;
    let mut rows = stmt.query([sync_id])?;
    while let Some(r) = rows.next()? {
        let id = text(r, 0)?;
        let Some(number) = builder.entitlement_number(id) else {
            continue;
        };
        let data = bytes(r.get_ref(1)?).unwrap_or_default();
        let ent = pb::Entitlement::decode(data).map_err(|source| ExpandError::BadEntitlement {
            entitlement: id.to_string(),
            source,
        })?;
        let rid = ent.resource.as_ref().and_then(|r| r.id.as_ref());
        builder.add_entitlement(id, rid);
        if builder.is_destination(id)
            && let Some(rid) = rid
        {
            let at = number as usize;
            if destinations.len() <= at {
                destinations.resize_with(at + 1, || None);
            }
            destinations[at] = Some(Destination {
                data: data.to_vec(),
                resource_type: rid.resource_type.clone(),
                resource: rid.resource.clone(),
            });
        }
    }
    Ok(destinations)
}

/// Every grant of the sync on an entitlement of the graph, into `plan`, in rowid order;
/// returns their principal messages (the tokens of [`Holder::principal`]).
fn read_holders(tx: &Connection, sync_id: &str, plan: &mut Plan) -> Result<Interner, ExpandError> {
    let mut principals = Interner::new();
    let mut stmt = tx.prepare(
        "select id, external_id, entitlement_id, principal_resource_type_id, principal_resource_id, data
         from v1_grants where sync_id = ?1 order by id",
    )?;
    let mut rows = stmt.query([sync_id])?;
    while let Some(r) = rows.next()? {
        let ent = text(r, 2)?;
        if !plan.wants(ent) {
            continue;
        }
        let rowid: i64 = r.get(0)?;
        let bad = |why: String| -> Result<ExpandError, rusqlite::Error> {
            Ok(ExpandError::BadGrant {
                rowid,
                grant: text(r, 1)?.to_string(),
                why,
            })
        };
        let Ok(handle) = u64::try_from(rowid) else {
            return Err(bad("negative rowid".into())?);
        };
        let Some(data) = bytes(r.get_ref(5)?) else {
            return Err(bad("its data column is not a blob".into())?);
        };
        let parts = match wire::grant_parts(data) {
            Ok(p) => p,
            Err(e) => return Err(bad(format!("its record does not decode: {e}"))?),
        };
        let ptype = text(r, 3)?;
        let pid = text(r, 4)?;
        let principal = match &parts.principal {
            Some(p) => principals.intern_bytes(p),
            // A grant without an embedded principal: readers fill an id stub from the
            // columns, and so do we.
            None => principals.intern_bytes(&principal_stub(ptype, pid)),
        };
        plan.add_grant(Holder {
            entitlement_id: ent,
            principal_type: ptype,
            principal_id: pid,
            sources: parts.sources.as_ref(),
            handle,
            principal,
        });
    }
    Ok(principals)
}

/// A `Resource` holding only the id `(ptype, pid)`.
fn principal_stub(ptype: &str, pid: &str) -> Vec<u8> {
    pb::Resource {
        id: Some(pb::ResourceId {
            resource_type: ptype.to_string(),
            resource: pid.to_string(),
            baton_resource: false,
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Drops the [`REBUILT_INDEXES`] of `v1_grants` that exist when at least [`REBUILD_FROM`]
/// grants are to be created; returns their definitions, to run again after the writes.
///
/// Derived grants are written by destination, in an order unrelated to these indexes' keys;
/// for a large batch, building an index once (a sort) is far cheaper than as many random
/// updates. Same name and definition, inside the transaction.
fn drop_indexes(tx: &Connection, created: u64) -> Result<Vec<String>, ExpandError> {
    let mut dropped = Vec::new();
    if created < REBUILD_FROM {
        return Ok(dropped);
    }
    for name in REBUILT_INDEXES {
        let sql: Option<String> = tx
            .query_row(
                "select sql from sqlite_master where type = 'index' and tbl_name = 'v1_grants' and name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(sql) = sql {
            tx.execute_batch(&format!("drop index {name}"))?;
            dropped.push(sql);
        }
    }
    Ok(dropped)
}

/// What writing the outcome needs from the loading phase.
struct Written<'a> {
    tx: &'a Connection,
    sync_id: &'a str,
    destinations: &'a [Option<Destination>],
    principals: &'a Interner,
}

impl Written<'_> {
    /// Inserts the derived grants (R15), one prepared statement, buffers reused from row
    /// to row. A derived id that is already another grant's replaces that row's `data`, as
    /// baton-sdk's upsert does; returns how many did.
    fn created(&self, outcome: &Outcome, observer: &mut dyn Observer) -> Result<u64, ExpandError> {
        let now = format_timestamp(chrono::Local::now());
        let mut insert = self.tx.prepare(
            "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8, ?9)",
        )?;
        let mut overwrite = self
            .tx
            .prepare("update v1_grants set data = ?1 where external_id = ?2 and sync_id = ?3")?;
        let (mut id, mut data, mut scratch) = (String::new(), Vec::new(), Vec::new());
        let mut collisions = 0;
        outcome.try_each_created(|d| -> Result<(), ExpandError> {
            // Every entitlement of a node with parents is the destination of a pending row,
            // and `build` checked that it has a row with a resource id.
            let ent = self
                .destinations
                .get(d.entitlement as usize)
                .and_then(Option::as_ref)
                .expect("a derived grant's entitlement is a destination with a row");
            d.grant_id_into(&mut id);
            let principal = self.principals.bytes(d.principal);
            wire::derived_grant(
                &ent.data,
                principal,
                &id,
                d.sources,
                &mut data,
                &mut scratch,
            );
            let inserted = insert.execute(params![
                ent.resource_type,
                ent.resource,
                d.entitlement_id,
                d.principal_type,
                d.principal_id,
                id,
                data,
                self.sync_id,
                now
            ]);
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    overwrite.execute(params![data, id, self.sync_id])?;
                    collisions += 1;
                }
                Err(e) => return Err(e.into()),
            }
            observer.grant(&GrantChange {
                kind: ChangeKind::Created,
                id: &id,
                data: &data,
            });
            Ok(())
        })?;
        Ok(collisions)
    }

    /// Rewrites the existing grants whose sources changed (R16–R18): same message, new
    /// `sources`, GrantExpandable stripped (R19).
    fn updated(&self, outcome: &Outcome, observer: &mut dyn Observer) -> Result<(), ExpandError> {
        let mut read = self
            .tx
            .prepare("select external_id, data from v1_grants where id = ?1")?;
        let mut update = self
            .tx
            .prepare("update v1_grants set data = ?1 where id = ?2")?;
        for u in outcome.updated() {
            let rowid = u.handle as i64;
            let (id, old): (String, Vec<u8>) =
                read.query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let data = wire::with_sources(&old, &sources_message(&u.sources)).map_err(|e| {
                ExpandError::BadGrant {
                    rowid,
                    grant: id.clone(),
                    why: format!("its record does not decode: {e}"),
                }
            })?;
            update.execute(params![data, rowid])?;
            observer.grant(&GrantChange {
                kind: ChangeKind::Updated,
                id: &id,
                data: &data,
            });
        }
        Ok(())
    }
}

/// Indexes of `v1_grants` rebuilt rather than updated when at least [`REBUILD_FROM`] grants
/// are derived (in unit tests: always, so the path is exercised on small files).
const REBUILT_INDEXES: &[&str] = &["idx_grants_principal_id_v1"];
const REBUILD_FROM: u64 = if cfg!(test) { 1 } else { 50_000 };

/// Grant expansion as the step a c1z sink runs when a sync finishes
/// (`store::C1zSink::expanding`): [`expand_sync`] on the sync being written, logged, its
/// figures returned for the stats and the summary.
pub fn finish_step(options: Options) -> crate::store::FinishStep {
    Box::new(move |conn: &Connection, sync_id: &str| {
        let start = std::time::Instant::now();
        let report = expand_sync(conn, sync_id, &options, &mut ())?;
        let e = report.stats(start.elapsed().as_millis() as u64);
        if report.dropped.source_mismatch > 0 {
            tracing::warn!(
                edges = report.dropped.source_mismatch,
                "grant expansion skipped edges whose source entitlement is not the grant principal's"
            );
        }
        tracing::info!(
            derived = e.derived_grants,
            updated = e.updated_grants,
            edges = e.edges,
            ms = e.duration_ms,
            "grants expanded"
        );
        Ok(e)
    })
}
