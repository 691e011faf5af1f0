//! The resume work file: a SQLite database beside the c1z output (`<output>.resume`, never
//! the output itself) holding, per account read successfully, the records of its unit and
//! when it was read. The writer thread records each account unit once it is written
//! ([`WorkFile`] is a [`UnitJournal`]); a run that is killed, fails or ends partial leaves
//! the file, and the next run of the same scope loads the accounts read within the maximum
//! age ([`load`]) instead of reading them again. The file is removed after a complete run
//! ([`remove`]).
//!
//! What is in it: the scope (a description of the run's options, no credentials and no
//! External ID), and the records orgsync writes to its outputs anyway (which never hold a
//! secret). Each unit is committed in its own transaction (rollback journal, synced: no side file outlives a transaction), so a kill loses at
//! most the unit being written.
//!
//! Not here: which accounts a run skips or replays (`sync::resume`), the output (`c1z`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{Kind, Record, profile, types as rt};

use super::StoreError;
use super::writer::{Unit, UnitJournal};

/// The format of the work file; a file of another version is ignored.
const VERSION: &str = "2";

/// The work file of the output `target`.
pub fn work_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".resume");
    PathBuf::from(s)
}

/// One account unit as an earlier run wrote it.
#[derive(Debug, Clone)]
pub struct StoredUnit {
    pub account_id: String,
    pub read_at: SystemTime,
    pub records: Vec<Record>,
    pub shared: Vec<Record>,
}

/// What loading a work file found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Accounts read within the maximum age, by account id.
    pub units: BTreeMap<String, StoredUnit>,
    /// Why units were not taken (another scope, too old), for the run's notes.
    pub notes: Vec<String>,
}

/// Loads the units of `path` read within `max_age` by a run of `scope`. A missing file is
/// nothing to resume; a file of another scope or version, or one that cannot be read, is
/// ignored with a note (it is replaced when the run opens its own).
pub fn load(path: &Path, scope: &str, max_age: Duration) -> Loaded {
    let mut out = Loaded::default();
    if !path.exists() {
        return out;
    }
    match read(path, scope, max_age) {
        Ok(Ok((units, stale))) => {
            if stale > 0 {
                out.notes.push(format!(
                    "resume: {stale} accounts in {} were read longer than --resume-max-age ago; they are read again",
                    path.display()
                ));
            }
            if !units.is_empty() {
                out.notes.push(format!(
                    "resume: {} accounts read by an interrupted run of the same scope are taken from {} (not read again)",
                    units.len(),
                    path.display()
                ));
            }
            out.units = units;
        }
        Ok(Err(why)) => out.notes.push(format!(
            "resume: ignored {} ({why}); every account is read",
            path.display()
        )),
        Err(e) => out.notes.push(format!(
            "resume: ignored {}, which cannot be read ({e}); every account is read",
            path.display()
        )),
    }
    out
}

type Units = BTreeMap<String, StoredUnit>;

/// The fresh units and how many were stale, or why the file is not this run's.
fn read(
    path: &Path,
    scope: &str,
    max_age: Duration,
) -> Result<Result<(Units, usize), String>, StoreError> {
    let conn = Connection::open(path)?;
    let meta = |k: &str| -> Result<Option<String>, StoreError> {
        Ok(conn
            .query_row("select value from meta where key = ?1", [k], |r| r.get(0))
            .optional()?)
    };
    if meta("version")?.as_deref() != Some(VERSION) {
        return Ok(Err("it is of another orgsync version".into()));
    }
    let theirs = meta("scope")?.unwrap_or_default();
    if theirs != scope {
        return Ok(Err(format!(
            "it belongs to a run of another scope: {theirs}"
        )));
    }
    let now = unix(SystemTime::now());
    // An account's records are in one or more rows (its parts, then its final unit), in order.
    let mut stmt =
        conn.prepare("select account_id, read_at, records from units order by account_id, seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut units: Units = BTreeMap::new();
    let mut stale = BTreeSet::new();
    for row in rows {
        let (account_id, read_at, blob) = row?;
        let read_at = u64::try_from(read_at).unwrap_or(0);
        // Fresh: read less than `max_age` ago (never with a zero age), not in the future.
        if now.saturating_sub(read_at) >= max_age.as_secs() || read_at > now + 60 {
            stale.insert(account_id);
            continue;
        }
        let (records, shared) = decode(&blob)?;
        let unit = units
            .entry(account_id.clone())
            .or_insert_with(|| StoredUnit {
                account_id,
                read_at: UNIX_EPOCH + Duration::from_secs(read_at),
                records: vec![],
                shared: vec![],
            });
        unit.records.extend(records);
        unit.shared.extend(shared);
    }
    let stale = stale.len();
    Ok(Ok((units, stale)))
}

/// Removes the work file of a finished run (and SQLite's side files).
pub fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        let p = PathBuf::from(s);
        if p.exists()
            && let Err(e) = std::fs::remove_file(&p)
        {
            tracing::warn!(file = %p.display(), error = %e, "cannot remove the resume work file");
        }
    }
}

/// The work file being written by a run. It is created with the run's first account unit,
/// so a run stopped before any account was read leaves no work file.
pub struct WorkFile {
    path: PathBuf,
    scope: String,
    conn: Option<Connection>,
    /// How many parts of each account in flight (records handed to the writer before the
    /// account's unit ends, `connector::collector::Parts`) are in the `parts` table, by the
    /// unit's label. The parts themselves are on disk, not in memory: a large account would
    /// otherwise cost its whole wire size here until it ends.
    part_count: BTreeMap<String, i64>,
}

impl WorkFile {
    /// Opens the work file at `path` for a run of `scope`, keeping the units of `keep` (the
    /// ones [`load`] returned) and dropping everything else; with nothing to keep, a file
    /// left there (stale, of another scope, `--no-resume`) is removed.
    pub fn open(
        path: &Path,
        scope: &str,
        keep: &BTreeMap<String, StoredUnit>,
    ) -> Result<WorkFile, StoreError> {
        let mut w = WorkFile {
            path: path.to_path_buf(),
            scope: scope.to_string(),
            conn: None,
            part_count: Default::default(),
        };
        if keep.is_empty() {
            remove(path);
            return Ok(w);
        }
        let conn = w.connection()?;
        // Units not kept (too old) go now, so an old read can never come back.
        let mut existing = vec![];
        {
            let mut stmt = conn.prepare("select distinct account_id from units")?;
            for r in stmt.query_map([], |r| r.get::<_, String>(0))? {
                existing.push(r?);
            }
        }
        for id in existing.iter().filter(|id| !keep.contains_key(id.as_str())) {
            conn.execute("delete from units where account_id = ?1", [id])?;
        }
        // Parts of accounts a killed run had in flight are never resumed.
        conn.execute("delete from parts", [])?;
        Ok(w)
    }

    /// The open database, created (with the run's scope) on first use.
    fn connection(&mut self) -> Result<&Connection, StoreError> {
        if self.conn.is_none() {
            let conn = Connection::open(&self.path)?;
            conn.execute_batch(
                "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;
                 create table if not exists meta (key text primary key, value text not null);
                 create table if not exists units (account_id text not null, seq integer not null, read_at integer not null, records blob not null, primary key (account_id, seq));
                 create table if not exists parts (label text not null, seq integer not null, records blob not null, primary key (label, seq));",
            )?;
            conn.execute(
                "insert or replace into meta (key, value) values ('version', ?1), ('scope', ?2)",
                params![VERSION, self.scope],
            )?;
            self.conn = Some(conn);
        }
        self.conn.as_ref().ok_or(StoreError::WriterGone)
    }

    /// Keeps a part of the account in flight under `label`, on disk.
    fn put_part(&mut self, label: &str, unit: &Unit) -> Result<(), StoreError> {
        let blob = encode(&unit.records, &unit.shared);
        let count = self.part_count.get(label).copied().unwrap_or(0);
        self.connection()?.execute(
            "insert or replace into parts (label, seq, records) values (?1, ?2, ?3)",
            params![label, count, blob],
        )?;
        self.part_count.insert(label.to_string(), count + 1);
        Ok(())
    }

    /// Ends the account in flight under the final unit's label: when it was read (`id`), its
    /// parts then the final unit become its rows, in one transaction; otherwise its parts go.
    fn end(&mut self, id: Option<&str>, unit: &Unit) -> Result<(), StoreError> {
        let parts = self.part_count.remove(&unit.label).unwrap_or(0);
        let Some(id) = id else {
            if parts > 0 {
                self.connection()?
                    .execute("delete from parts where label = ?1", [&unit.label])?;
            }
            return Ok(());
        };
        let blob = encode(&unit.records, &unit.shared);
        let now = unix(SystemTime::now()) as i64;
        let conn = self.connection()?;
        let tx = conn.unchecked_transaction()?;
        tx.execute("delete from units where account_id = ?1", [id])?;
        tx.execute(
            "insert into units (account_id, seq, read_at, records)
             select ?1, seq, ?2, records from parts where label = ?3",
            params![id, now, unit.label],
        )?;
        tx.execute(
            "insert into units (account_id, seq, read_at, records) values (?1, ?2, ?3, ?4)",
            params![id, parts, now, blob],
        )?;
        tx.execute("delete from parts where label = ?1", [&unit.label])?;
        tx.commit()?;
        Ok(())
    }
}

impl UnitJournal for WorkFile {
    /// Keeps the unit of an account read successfully (its own `account` record says `ok`);
    /// units replayed from this file (label `resumed …`) keep their first read time.
    fn record(&mut self, unit: &Unit) -> Result<(), StoreError> {
        if !unit.label.starts_with("account ") {
            return Ok(());
        }
        if let Some(account) = unit.label.strip_suffix(PART_SUFFIX) {
            return self.put_part(account, unit);
        }
        let id = account_read_ok(&unit.records);
        self.end(id.as_deref(), unit)
    }
}

/// How the label of a part of a unit ends (`connector::collector::Parts`).
pub const PART_SUFFIX: &str = " (part)";

/// The id of the unit's own `account` resource when its sync status is `ok`.
pub fn account_read_ok(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match r {
        Record::Resource(res) => {
            let id = res.id.as_ref()?;
            if id.resource_type != rt::ACCOUNT {
                return None;
            }
            let status = res
                .profile
                .as_ref()
                .and_then(|p| profile::get_str(p, "orgsync_sync_status"));
            (status == Some("ok")).then(|| id.resource.clone())
        }
        _ => None,
    })
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `[shared flag u8][kind u8][len u32 LE][record]` per record.
fn encode(records: &[Record], shared: &[Record]) -> Vec<u8> {
    let mut out = vec![];
    let all = records
        .iter()
        .map(|r| (0u8, r))
        .chain(shared.iter().map(|r| (1u8, r)));
    for (flag, r) in all {
        let bytes = r.encode();
        out.push(flag);
        out.push(kind_byte(r.kind()));
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn kind_byte(k: Kind) -> u8 {
    match k {
        Kind::ResourceType => 0,
        Kind::Resource => 1,
        Kind::Entitlement => 2,
        Kind::Grant => 3,
    }
}

fn decode(mut blob: &[u8]) -> Result<(Vec<Record>, Vec<Record>), StoreError> {
    let bad = || StoreError::WorkFile("a unit is truncated".into());
    let (mut records, mut shared) = (vec![], vec![]);
    while !blob.is_empty() {
        if blob.len() < 6 {
            return Err(bad());
        }
        let (flag, kind) = (blob[0], blob[1]);
        let len = u32::from_le_bytes([blob[2], blob[3], blob[4], blob[5]]) as usize;
        let body = blob.get(6..6 + len).ok_or_else(bad)?;
        let kind = match kind {
            0 => Kind::ResourceType,
            1 => Kind::Resource,
            2 => Kind::Entitlement,
            3 => Kind::Grant,
            _ => return Err(bad()),
        };
        let r = Record::decode(kind, body)?;
        if flag == 1 {
            shared.push(r);
        } else {
            records.push(r);
        }
        blob = &blob[6 + len..];
    }
    Ok((records, shared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::rid;
    use crate::model::pb;

    fn account_unit(id: &str, status: &str) -> Unit {
        let p = serde_json::json!({"orgsync_sync_status": status});
        let acct = pb::Resource {
            id: Some(rid(rt::ACCOUNT, id)),
            profile: Some(profile::to_struct(&p)),
            ..Default::default()
        };
        let policy = pb::Resource {
            id: Some(rid("iam_policy", "arn:aws:iam::aws:policy/ReadOnlyAccess")),
            ..Default::default()
        };
        Unit {
            label: format!("account {id}"),
            records: vec![Record::Resource(acct)],
            shared: vec![Record::Resource(policy)],
        }
    }

    /// An account whose records came in parts is kept whole (its parts, then its final
    /// unit); the parts of an account that then failed are dropped.
    #[test]
    fn an_account_written_in_parts_is_kept_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = work_path(&dir.path().join("sync.c1z"));
        let mut w = WorkFile::open(&path, "scope-a", &BTreeMap::new()).unwrap();
        for (id, status) in [("444444444444", "ok"), ("555555555555", "failed")] {
            let mut part = account_unit(id, "ok");
            part.label = format!("account {id}{PART_SUFFIX}");
            part.records = std::mem::take(&mut part.shared);
            w.record(&part).unwrap();
            w.record(&part).unwrap();
            w.record(&account_unit(id, status)).unwrap();
        }
        drop(w);
        let got = load(&path, "scope-a", Duration::from_secs(3600));
        assert_eq!(got.units.keys().collect::<Vec<_>>(), ["444444444444"]);
        let u = &got.units["444444444444"];
        // Two parts of one record each, then the final unit's record and shared record.
        assert_eq!((u.records.len(), u.shared.len()), (3, 1));
    }

    #[test]
    fn units_of_accounts_read_ok_survive_and_come_back_within_the_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = work_path(&dir.path().join("sync.c1z"));
        assert!(path.to_string_lossy().ends_with("sync.c1z.resume"));
        let hour = Duration::from_secs(3600);
        assert!(load(&path, "scope-a", hour).units.is_empty());
        let mut w = WorkFile::open(&path, "scope-a", &BTreeMap::new()).unwrap();
        w.record(&account_unit("111111111111", "ok")).unwrap();
        w.record(&account_unit("222222222222", "failed")).unwrap();
        let mut resumed = account_unit("333333333333", "ok");
        resumed.label = "resumed account 333333333333".into();
        w.record(&resumed).unwrap();
        drop(w);
        let got = load(&path, "scope-a", hour);
        assert_eq!(got.units.keys().collect::<Vec<_>>(), ["111111111111"]);
        let u = &got.units["111111111111"];
        assert_eq!((u.records.len(), u.shared.len()), (1, 1));
        assert_eq!(account_read_ok(&u.records).as_deref(), Some("111111111111"));
        // Another scope: ignored with a note naming it.
        let other = load(&path, "scope-b", hour);
        assert!(other.units.is_empty());
        assert!(
            other.notes[0].contains("another scope: scope-a"),
            "{:?}",
            other.notes
        );
        // Too old: read again.
        let old = load(&path, "scope-a", Duration::ZERO);
        assert!(old.units.is_empty());
        assert!(old.notes[0].contains("1 accounts"), "{:?}", old.notes);
        // Opening for another scope (nothing to keep) removes the file; it comes back with
        // the first account.
        let mut w = WorkFile::open(&path, "scope-b", &BTreeMap::new()).unwrap();
        assert!(!path.exists());
        w.record(&account_unit("444444444444", "ok")).unwrap();
        drop(w);
        let got = load(&path, "scope-b", hour);
        assert_eq!(got.units.keys().collect::<Vec<_>>(), ["444444444444"]);
        remove(&path);
        assert!(!path.exists());
    }
}
