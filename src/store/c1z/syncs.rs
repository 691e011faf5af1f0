//! The sync runs of an (upgraded) c1z v1 database: their rows, their stats (recomputed from
//! the rows when the file has none, as `baton stats` does), and which sync a reader shows:
//! the one asked for, else the latest finished sync of any type (the `baton` CLI since
//! baton-sdk v0.12.4, `LatestFinishedSyncOfAnyType`), else the newest unfinished one.
//!
//! Not here: the schema upgrade (`migrate`), the rows of a sync (`reader`).

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use crate::store::StoreError;

use super::compute_stats;

/// One row of `v1_sync_runs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub sync_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent_sync_id: String,
    /// baton-sdk's `SyncStats` (snake_case JSON), as stored, or recomputed from the rows when
    /// the file has none (see `stats_recomputed`).
    pub stats: Option<Value>,
    /// The counts in `stats` were computed from the rows on this read (`sync_runs` does it;
    /// the chosen sync keeps its stored stats): the file had no usable stats for this sync
    /// (NULL, not JSON, or no resource types counted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stats_recomputed: bool,
}

/// Why a reader shows the sync it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The caller named it.
    Requested,
    /// The latest finished sync of any type (by `ended_at`, then `sync_id`).
    LatestFinished,
    /// No sync in the file finished; the newest started one.
    NewestUnfinished,
}

/// The sync a reader shows, why, and how many syncs the file holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Selection {
    pub sync: SyncRun,
    pub choice: Choice,
    pub syncs_in_file: usize,
}

impl Selection {
    /// One line for people: "read sync <id> (<type>, ended <t>) of N in the file: <why>".
    pub fn describe(&self) -> String {
        let s = &self.sync;
        let when = match &s.ended_at {
            Some(t) => format!("ended {t}"),
            None => format!("unfinished, started {}", s.started_at),
        };
        let why = match self.choice {
            Choice::Requested => "the sync asked for",
            Choice::LatestFinished => {
                "the latest finished sync of any type, as the baton CLI reads"
            }
            Choice::NewestUnfinished => "no sync in the file finished, so the newest one started",
        };
        format!(
            "read sync {} ({}, {when}) of {} in the file: {why}",
            s.sync_id, s.sync_type, self.syncs_in_file
        )
    }
}

/// Why no sync could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("its v1_sync_runs table is empty: it holds no sync to read")]
    Empty,
    #[error("it holds no sync {wanted} (its syncs: {})", .known.join(", "))]
    NotFound { wanted: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SelectError {
    fn from(e: rusqlite::Error) -> Self {
        SelectError::Store(StoreError::Sqlite(e))
    }
}

const COLUMNS: &str = "sync_id, started_at, ended_at, sync_type, parent_sync_id, stats";

/// Chooses the sync to read (`wanted`, or the rule in the module doc). Its stats are as
/// stored: recomputing them scans the sync's rows, which listing one table does not need
/// (`C1zReader::counts` and [`all`] count).
pub(super) fn select(conn: &Connection, wanted: Option<&str>) -> Result<Selection, SelectError> {
    let syncs_in_file: i64 =
        conn.query_row("select count(*) from v1_sync_runs", [], |r| r.get(0))?;
    if syncs_in_file == 0 {
        return Err(SelectError::Empty);
    }
    let one = |sql: &str, args: &[&str]| -> Result<Option<SyncRun>, rusqlite::Error> {
        conn.query_row(
            &format!("select {COLUMNS} from v1_sync_runs {sql} limit 1"),
            rusqlite::params_from_iter(args),
            row,
        )
        .optional()
    };
    let (sync, choice) = if let Some(id) = wanted {
        match one("where sync_id = ?1", &[id])? {
            Some(s) => (s, Choice::Requested),
            None => {
                return Err(SelectError::NotFound {
                    wanted: id.into(),
                    known: all(conn)?.into_iter().map(|s| s.sync_id).collect(),
                });
            }
        }
    } else if let Some(s) = one(
        "where ended_at is not null order by ended_at desc, sync_id desc",
        &[],
    )? {
        (s, Choice::LatestFinished)
    } else {
        let s = one(
            "where ended_at is null order by started_at desc, sync_id desc",
            &[],
        )?
        .ok_or(SelectError::Empty)?;
        (s, Choice::NewestUnfinished)
    };
    Ok(Selection {
        sync,
        choice,
        syncs_in_file: usize::try_from(syncs_in_file).unwrap_or(usize::MAX),
    })
}

/// Every sync run, newest started first, each with stats.
pub(super) fn all(conn: &Connection) -> Result<Vec<SyncRun>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "select {COLUMNS} from v1_sync_runs order by started_at desc, sync_id desc"
    ))?;
    let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|s| with_stats(conn, s)).collect()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncRun> {
    let stats: Option<String> = r.get(5)?;
    Ok(SyncRun {
        sync_id: r.get(0)?,
        started_at: r.get(1)?,
        ended_at: r.get(2)?,
        sync_type: r.get(3)?,
        parent_sync_id: r.get(4)?,
        // Unparseable stats are no stats, as baton-sdk's `parseStats` has it.
        stats: stats.and_then(|s| serde_json::from_str(&s).ok()),
        stats_recomputed: false,
    })
}

/// The count keys of `SyncStats` that [`compute_stats`] produces; other keys of stored stats
/// (step durations, orgsync's run report) are kept when counts are recomputed.
const COUNT_KEYS: [&str; 7] = [
    "resource_types",
    "resources",
    "entitlements",
    "grants",
    "resources_by_resource_type",
    "entitlements_by_resource_type",
    "grants_by_resource_type",
];

/// Stats are usable when they are a JSON object counting at least one resource type
/// (baton-sdk recomputes when the cached `resource_types` is 0; Go omits zero values).
fn usable(stats: &Option<Value>) -> bool {
    stats
        .as_ref()
        .and_then(|s| s.get("resource_types"))
        .and_then(Value::as_i64)
        .is_some_and(|n| n > 0)
}

fn with_stats(conn: &Connection, mut sync: SyncRun) -> Result<SyncRun, StoreError> {
    if usable(&sync.stats) {
        return Ok(sync);
    }
    let mut counts = compute_stats(conn, &sync.sync_id)?;
    if let (Some(Value::Object(old)), Some(new)) = (sync.stats.take(), counts.as_object_mut()) {
        for (k, v) in old {
            if !COUNT_KEYS.contains(&k.as_str()) {
                new.insert(k, v);
            }
        }
    }
    sync.stats = Some(counts);
    sync.stats_recomputed = true;
    Ok(sync)
}
