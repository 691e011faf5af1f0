//! The grant-expansion backfill of files written before GrantExpandable moved to its own
//! column (grant-expansion.md R2), as baton-sdk runs it on every open
//! (`backfillGrantExpansionColumn`): for each sync with `grants_backfilled = 0`, the
//! annotation moves out of the grant record into `expansion`. The reader runs it right after
//! the schema upgrade (`migrate`), so every layout reads, and expands, alike.
//!
//! Not here: adding the columns (`migrate`), expansion itself (`expand`).

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use crate::model::wire;

/// A grant record the backfill cannot read.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("grant {grant} (row {rowid}): {why}")]
    BadGrant {
        rowid: i64,
        grant: String,
        why: String,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
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

/// What [`backfill`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackfillReport {
    /// Syncs that had `grants_backfilled = 0`.
    pub syncs: u64,
    /// Their grant rows with `expansion IS NULL`, read.
    pub grants_read: u64,
    /// Rows whose GrantExpandable moved to `expansion` (`needs_expansion = 1`).
    pub grants_moved: u64,
}

/// The R2 migration of files written before the `expansion` column was filled: for every
/// sync with `grants_backfilled = 0`, each grant row with `expansion IS NULL` whose record
/// carries a GrantExpandable with at least one non-blank entitlement id gets it moved out of
/// `data` into `expansion`, with `needs_expansion = 1`; then the sync gets
/// `grants_backfilled = 1`. One transaction; `conn` must not be inside one.
pub fn backfill(conn: &Connection) -> Result<BackfillReport, BackfillError> {
    let tx = conn.unchecked_transaction()?;
    let syncs: Vec<String> = {
        let mut stmt =
            tx.prepare("select sync_id from v1_sync_runs where grants_backfilled = 0 order by id")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut report = BackfillReport {
        syncs: syncs.len() as u64,
        ..BackfillReport::default()
    };
    for sync_id in &syncs {
        let mut moves: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::new();
        {
            let mut stmt = tx.prepare(
                "select id, external_id, data from v1_grants where sync_id = ?1 and expansion is null order by id",
            )?;
            let mut rows = stmt.query([sync_id])?;
            while let Some(r) = rows.next()? {
                report.grants_read += 1;
                let rowid: i64 = r.get(0)?;
                let Some(data) = bytes(r.get_ref(2)?) else {
                    return Err(BackfillError::BadGrant {
                        rowid,
                        grant: text(r, 1)?.to_string(),
                        why: "its data column is not a blob".into(),
                    });
                };
                match wire::take_expandable(data) {
                    Ok(Some(m)) => moves.push((rowid, m.data, m.expansion)),
                    Ok(None) => {}
                    Err(e) => {
                        return Err(BackfillError::BadGrant {
                            rowid,
                            grant: text(r, 1)?.to_string(),
                            why: format!("its record does not decode: {e}"),
                        });
                    }
                }
            }
        }
        let mut update = tx.prepare(
            "update v1_grants set expansion = ?1, needs_expansion = 1, data = ?2 where id = ?3",
        )?;
        for (rowid, data, expansion) in &moves {
            update.execute(params![expansion, data, rowid])?;
        }
        report.grants_moved += moves.len() as u64;
        tx.execute(
            "update v1_sync_runs set grants_backfilled = 1 where sync_id = ?1",
            [sync_id],
        )?;
    }
    tx.commit()?;
    Ok(report)
}
