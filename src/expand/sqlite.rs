//! Grant expansion on an open, decompressed c1z v1 database: reads one sync's pending rows
//! (R1), the entitlement rows they name and the holder grants, runs [`super::engine`], and
//! writes the result in one transaction (R19, R20). Assumes the current columns exist
//! (`expansion`, `needs_expansion`, `supports_diff`, `grants_backfilled`) and old grant
//! records are backfilled (R2); both are the c1z reader's job (`store::c1z`), as are opening
//! and saving the file.

use std::borrow::Cow;
use std::collections::HashMap;

use prost::Message;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::model::pb;
use crate::store::c1z::format_timestamp;

use super::engine::{GraphBuilder, Holder, sources_message};
use super::intern::Interner;
use super::{ChangeKind, ExpandError, GrantChange, Observer, Options, Phase, Report};
use crate::model::wire;

/// A destination entitlement as derived grants need it.
struct EntitlementRow {
    data: Vec<u8>,
    resource_type: String,
    resource: String,
}

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
    let backfilled: Option<i64> = tx
        .query_row(
            "select grants_backfilled from v1_sync_runs where sync_id = ?1",
            [sync_id],
            |r| r.get(0),
        )
        .optional()?;
    match backfilled {
        None => {
            return Err(ExpandError::NoSync {
                sync_id: sync_id.to_string(),
            });
        }
        Some(0) => {
            return Err(ExpandError::NotBackfilled {
                sync_id: sync_id.to_string(),
            });
        }
        Some(_) => {}
    }
    // R20: set when the step starts, whether or not anything is pending.
    tx.execute(
        "update v1_sync_runs set supports_diff = 1 where sync_id = ?1",
        [sync_id],
    )?;
    observer.phase(Phase::Loading);

    // R1: pending rows in rowid order.
    let mut builder = GraphBuilder::new();
    {
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
    }

    // The entitlement rows the pending rows name.
    let mut entitlements: HashMap<String, EntitlementRow> = HashMap::new();
    {
        let mut stmt = tx.prepare(
            "select external_id, data from v1_entitlements where sync_id = ?1 order by id",
        )?;
        let mut rows = stmt.query([sync_id])?;
        while let Some(r) = rows.next()? {
            let id = text(r, 0)?;
            if !builder.is_referenced(id) {
                continue;
            }
            let data = bytes(r.get_ref(1)?).unwrap_or_default();
            let ent =
                pb::Entitlement::decode(data).map_err(|source| ExpandError::BadEntitlement {
                    entitlement: id.to_string(),
                    source,
                })?;
            let rid = ent.resource.as_ref().and_then(|r| r.id.as_ref());
            builder.add_entitlement(id, rid);
            if builder.is_destination(id)
                && let Some(rid) = rid
            {
                entitlements.insert(
                    id.to_string(),
                    EntitlementRow {
                        data: data.to_vec(),
                        resource_type: rid.resource_type.clone(),
                        resource: rid.resource.clone(),
                    },
                );
            }
        }
    }
    let mut plan = builder.build(options)?;

    // Holders: every grant of the sync on an entitlement of the graph.
    let mut principals = Interner::new();
    {
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
            // A grant without an embedded principal: readers fill an id stub from the
            // columns, and so do we.
            let principal = parts.principal.unwrap_or_else(|| {
                Cow::Owned(
                    pb::Resource {
                        id: Some(pb::ResourceId {
                            resource_type: ptype.to_string(),
                            resource: pid.to_string(),
                            baton_resource: false,
                        }),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            });
            plan.add_grant(Holder {
                entitlement_id: ent,
                principal_type: ptype,
                principal_id: pid,
                sources: parts.sources.as_ref(),
                handle,
                principal: principals.intern_bytes(&principal),
            });
        }
    }

    observer.phase(Phase::Expanding);
    let outcome = plan.run(&mut |done, total| observer.progress(done, total));
    let mut report = outcome.report().clone();

    observer.phase(Phase::Writing);
    let now = format_timestamp(chrono::Local::now());
    // The principal index is keyed in an order unrelated to the order derived grants are
    // written in (by destination); for a large batch, rebuilding it once (a sort) is far
    // cheaper than as many random updates. Same name and definition, inside the transaction.
    let mut rebuild = Vec::new();
    if report.grants_created >= REBUILD_FROM {
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
                rebuild.push(sql);
            }
        }
    }
    {
        let mut insert = tx.prepare(
            "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8, ?9)",
        )?;
        let mut overwrite =
            tx.prepare("update v1_grants set data = ?1 where external_id = ?2 and sync_id = ?3")?;
        for d in outcome.created() {
            // Every entitlement of a node with parents is the destination of a pending row,
            // and `build` checked that it has a row with a resource id.
            let ent = entitlements
                .get(d.entitlement_id)
                .expect("a derived grant's entitlement is a destination with a row");
            let id = d.grant_id();
            let data = wire::derived_grant(
                &ent.data,
                principals.bytes(d.principal),
                &id,
                &sources_message(&d.sources),
            );
            let inserted = insert.execute(params![
                ent.resource_type,
                ent.resource,
                d.entitlement_id,
                d.principal_type,
                d.principal_id,
                id,
                data,
                sync_id,
                now
            ]);
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    overwrite.execute(params![data, id, sync_id])?;
                    report.id_collisions += 1;
                }
                Err(e) => return Err(e.into()),
            }
            observer.grant(&GrantChange {
                kind: ChangeKind::Created,
                id: &id,
                data: &data,
            });
        }

        let mut read = tx.prepare("select external_id, data from v1_grants where id = ?1")?;
        let mut update = tx.prepare("update v1_grants set data = ?1 where id = ?2")?;
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
    }
    for sql in &rebuild {
        tx.execute_batch(sql)?;
    }
    tx.commit()?;
    Ok(report)
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
