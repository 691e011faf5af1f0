//! Bringing the decompressed temp copy of a c1z v1 file up to the current schema, the way
//! baton-sdk does on every open: missing tables created with the exact DDL, missing columns
//! added with the defaults the SDK's migrations give them (checked against
//! `pragma_table_info`, in the SDK's order), missing indexes created, and the SDK's transient
//! `expansion = X''` turned into NULL. A database that is not a c1z (no `v1_sync_runs`, or a
//! table without one of its original columns) is refused. The user's file is never touched.
//!
//! Not here: decompressing (`envelope`), moving GrantExpandable out of old grant records into
//! `expansion` (the grant-expansion backfill, run by the reader right after this), choosing a
//! sync (`select`).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};

use super::schema::{ADDED_COLUMNS, BASE_COLUMNS, TABLES, create_indexes, create_tables};

/// What [`upgrade`] added to the temp copy. Empty for a file written by baton-sdk ≥ v0.20.3
/// or by orgsync.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Upgrade {
    /// Tables that were missing (e.g. `v1_connector_sessions` before baton-sdk v0.5.0).
    pub tables_created: Vec<String>,
    /// `table.column` for every column that was missing, in the order they were added.
    pub columns_added: Vec<String>,
    /// Indexes that were missing.
    pub indexes_created: Vec<String>,
    /// Grant rows of not-yet-backfilled syncs whose `expansion` was the empty blob, now NULL.
    pub empty_expansions_cleared: u64,
    /// Syncs whose grants may still carry GrantExpandable inside `data`
    /// (`grants_backfilled = 0`), oldest first.
    pub syncs_not_backfilled: Vec<String>,
}

impl Upgrade {
    /// True when the file already had the current schema.
    pub fn is_empty(&self) -> bool {
        self.tables_created.is_empty()
            && self.columns_added.is_empty()
            && self.indexes_created.is_empty()
            && self.empty_expansions_cleared == 0
    }
}

/// Why a database cannot be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("its SQLite database has no v1_sync_runs table, so it is not a c1z v1 database{}", found(.tables))]
    NoSyncRuns { tables: Vec<String> },
    #[error("its {table} is a {kind}, not a table")]
    NotATable { table: String, kind: String },
    #[error("its {table} table has no {column} column, which every c1z v1 file has")]
    MissingBaseColumn { table: String, column: String },
    #[error("its {table}.{column} column is missing and cannot be added: {source}")]
    Column {
        table: String,
        column: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("its schema cannot be brought up to date: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn found(tables: &[String]) -> String {
    const SHOWN: usize = 6;
    if tables.is_empty() {
        return " (it has no tables)".into();
    }
    let mut list = tables.iter().take(SHOWN).cloned().collect::<Vec<_>>();
    if tables.len() > SHOWN {
        list.push(format!("and {} more", tables.len() - SHOWN));
    }
    format!(" (its tables: {})", list.join(", "))
}

/// Upgrades the database on `conn` in one transaction. `conn` must not be inside one.
pub fn upgrade(conn: &mut Connection) -> Result<Upgrade, Refusal> {
    check_foreign(conn)?;
    let tx = conn.transaction()?;
    let tables_before = names(&tx, "table")?;
    let indexes_before = names(&tx, "index")?;
    let mut report = Upgrade::default();

    for create in create_tables() {
        tx.execute_batch(create)?;
    }
    report.tables_created = TABLES
        .iter()
        .filter(|t| !tables_before.contains(**t))
        .map(|t| t.to_string())
        .collect();

    for c in ADDED_COLUMNS {
        if has_column(&tx, c.table, c.column)? {
            continue;
        }
        tx.execute_batch(&format!(
            "alter table {} add column {} {}",
            c.table, c.column, c.declaration
        ))
        .map_err(|source| Refusal::Column {
            table: c.table.into(),
            column: c.column.into(),
            source,
        })?;
        report
            .columns_added
            .push(format!("{}.{}", c.table, c.column));
    }

    for create in create_indexes() {
        tx.execute_batch(create)?;
    }
    report.indexes_created = names(&tx, "index")?
        .difference(&indexes_before)
        .cloned()
        .collect();

    // baton-sdk's backfill uses `X''` as a transient marker and never attaches an empty
    // GrantExpandable; NULL says the same to every reader of this copy. Only syncs the
    // backfill has not finished can hold it: looking there keeps the open of a current file
    // from scanning every expandable grant (~0.5 s for 1 M grants). Reading grants ignores an
    // empty `expansion` anywhere (`join_expansion`).
    report.empty_expansions_cleared = tx.execute(
        "update v1_grants set expansion = null
         where sync_id in (select sync_id from v1_sync_runs where grants_backfilled = 0)
           and expansion is not null and length(expansion) = 0",
        [],
    )? as u64;

    let mut stmt =
        tx.prepare("select sync_id from v1_sync_runs where grants_backfilled = 0 order by id")?;
    report.syncs_not_backfilled = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    tx.commit()?;
    Ok(report)
}

/// Refuses a database that `upgrade` would otherwise turn into an empty c1z: one without
/// `v1_sync_runs`, or with a c1z table (or a view of that name) lacking an original column.
fn check_foreign(conn: &Connection) -> Result<(), Refusal> {
    let kind_of = |name: &str| -> Result<Option<String>, rusqlite::Error> {
        conn.query_row(
            "select type from sqlite_master where name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
    };
    match kind_of("v1_sync_runs")? {
        None => {
            return Err(Refusal::NoSyncRuns {
                tables: names(conn, "table")?.into_iter().collect(),
            });
        }
        Some(k) if k != "table" => {
            return Err(Refusal::NotATable {
                table: "v1_sync_runs".into(),
                kind: k,
            });
        }
        Some(_) => {}
    }
    for (table, columns) in BASE_COLUMNS {
        match kind_of(table)? {
            None => continue,
            Some(k) if k != "table" => {
                return Err(Refusal::NotATable {
                    table: table.into(),
                    kind: k,
                });
            }
            Some(_) => {}
        }
        for column in columns {
            if !has_column(conn, table, column)? {
                return Err(Refusal::MissingBaseColumn {
                    table: table.into(),
                    column: (*column).into(),
                });
            }
        }
    }
    Ok(())
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "select count(*) from pragma_table_info(?1) where name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn names(conn: &Connection, kind: &str) -> Result<BTreeSet<String>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "select name from sqlite_master where type = ?1 and name not like 'sqlite_%' order by name",
    )?;
    let rows = stmt.query_map([kind], |r| r.get::<_, String>(0))?;
    rows.collect()
}
