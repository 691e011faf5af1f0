//! orgsync reads every c1z v1 layout baton-sdk has written (issue 10): files generated in
//! each historic layout (`c1z_compat/layouts.rs`) open with every `inspect` subcommand of the
//! real binary, which shows the sync the `baton` CLI shows and counts exactly the file's own
//! rows; what the reader adds on open is exactly what the layout lacks; bad input (truncated,
//! not zstd, not SQLite, v3, foreign schema, no sync) is refused in one line naming the file,
//! exit 2, with nothing left in TMPDIR. An opt-in test runs the same checks on a directory of
//! real Go-written files (`support::baton_corpus`).

mod support;

#[path = "c1z_compat/layouts.rs"]
mod layouts;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

use prost::Message;
use rusqlite::Connection;
use serde_json::Value;

use orgsync::model::{any, pb};
use orgsync::store::c1z::{C1zReader, Choice};

use layouts::{LAYOUTS, Sync};
use support::{files_in, orgsync, run, text};

const SUBCOMMANDS: [&str; 6] = [
    "stats",
    "resource-types",
    "resources",
    "entitlements",
    "grants",
    "syncs",
];

/// `orgsync inspect ARGS -f FILE` with `TMPDIR` set to `tmp`.
fn inspect(file: &Path, args: &[&str], tmp: &Path) -> Output {
    run(orgsync("http://127.0.0.1:9")
        .env("TMPDIR", tmp)
        .arg("inspect")
        .args(args)
        .arg("-f")
        .arg(file))
}

/// The file's SQLite database, decompressed here without orgsync's reader.
struct Raw {
    _dir: tempfile::TempDir,
    conn: Connection,
}

impl Raw {
    fn open(file: &Path) -> Raw {
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(&bytes[..5], b"C1ZF\0");
        let mut db = vec![];
        zstd::stream::read::Decoder::new(&bytes[5..])
            .unwrap()
            .read_to_end(&mut db)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.db");
        std::fs::write(&path, db).unwrap();
        let conn = Connection::open(&path).unwrap();
        Raw { _dir: dir, conn }
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        self.conn
            .query_row(
                "select count(*) from pragma_table_info(?1) where name = ?2",
                [table, column],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    }

    fn count(&self, table: &str, sync: &str) -> i64 {
        self.conn
            .query_row(
                &format!("select count(*) from {table} where sync_id = ?1"),
                [sync],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Resources whose type the sync declares (what SyncStats counts).
    fn declared_resources(&self, sync: &str) -> i64 {
        self.conn
            .query_row(
                "select count(*) from v1_resources where sync_id = ?1 and resource_type_id in (select external_id from v1_resource_types where sync_id = ?1)",
                [sync],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Grants of the sync with a non-empty GrantExpandable, in `data` or in `expansion`.
    fn expandable_grants(&self, sync: &str) -> usize {
        let with_expansion = self.has_column("v1_grants", "expansion");
        let sql = if with_expansion {
            "select data, expansion from v1_grants where sync_id = ?1"
        } else {
            "select data, null from v1_grants where sync_id = ?1"
        };
        let mut stmt = self.conn.prepare(sql).unwrap();
        stmt.query_map([sync], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .filter(|(data, expansion)| {
            let in_data = pb::Grant::decode(data.as_slice())
                .map(|g| g.annotations.iter().any(any::is::<pb::GrantExpandable>))
                .unwrap_or(false);
            in_data || expansion.as_ref().is_some_and(|e| !e.is_empty())
        })
        .count()
    }

    /// The sync the `baton` CLI shows: latest finished of any type, else the newest
    /// unfinished (written here independently of the reader).
    fn expected_sync(&self) -> String {
        let q = |sql: &str| self.conn.query_row(sql, [], |r| r.get::<_, String>(0)).ok();
        q("select sync_id from v1_sync_runs where ended_at is not null order by ended_at desc, sync_id desc limit 1")
            .or_else(|| q("select sync_id from v1_sync_runs order by started_at desc, sync_id desc limit 1"))
            .expect("a sync")
    }

    fn sync_ids(&self) -> Vec<String> {
        let mut stmt = self
            .conn
            .prepare("select sync_id from v1_sync_runs")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// What one file showed: per subcommand, the number of items listed.
#[derive(Debug)]
struct Shown {
    sync: String,
    line: String,
    counts: [usize; 4],
    syncs: usize,
    undecodable: usize,
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn undecodable(items: &[Value]) -> usize {
    items
        .iter()
        .filter(|v| v.to_string().contains("_undecodable"))
        .count()
}

/// Runs every `inspect` subcommand with `-o json` (and `extra`) on `file`, checks each
/// against the file's own rows for the sync `want` (or the one the `baton` CLI shows), and
/// that nothing is left in `tmp`.
fn check_file(file: &Path, extra: &[&str], want: Option<&str>, tmp: &Path) -> Shown {
    let raw = Raw::open(file);
    let sync = want
        .map(str::to_string)
        .unwrap_or_else(|| raw.expected_sync());
    let all_syncs = raw.sync_ids().len();
    let mut shown = Shown {
        sync: sync.clone(),
        line: String::new(),
        counts: [0; 4],
        syncs: 0,
        undecodable: 0,
    };
    for sub in SUBCOMMANDS {
        let mut args = vec![sub, "-o", "json"];
        args.extend_from_slice(extra);
        let out = inspect(file, &args, tmp);
        let ctx = format!("{} {sub}: {}", file.display(), text(&out));
        assert_eq!(out.status.code(), Some(0), "{ctx}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(stderr.lines().count(), 1, "one line on stderr: {ctx}");
        assert!(
            stderr.starts_with(&format!("read sync {sync} (")),
            "names the sync read: {ctx}"
        );
        assert!(
            stderr.contains(&format!(") of {all_syncs} in the file: ")),
            "{ctx}"
        );
        shown.line = stderr.trim_end().to_string();
        let v = json_of(&out);
        let table = |i: usize, t: &str| (i, raw.count(t, &sync));
        let (slot, rows) = match sub {
            "stats" => {
                assert_eq!(v["sync"]["sync_id"], sync.as_str(), "{ctx}");
                let c = &v["counts"];
                assert_eq!(
                    num(c, "resource_types"),
                    raw.count("v1_resource_types", &sync),
                    "{ctx}"
                );
                assert_eq!(num(c, "resources"), raw.declared_resources(&sync), "{ctx}");
                assert_eq!(
                    num(c, "entitlements"),
                    raw.count("v1_entitlements", &sync),
                    "{ctx}"
                );
                assert_eq!(num(c, "grants"), raw.count("v1_grants", &sync), "{ctx}");
                continue;
            }
            "syncs" => {
                let runs = v.as_array().unwrap();
                assert_eq!(runs.len(), all_syncs, "{ctx}");
                for r in runs {
                    let id = r["sync_id"].as_str().unwrap();
                    let s = &r["stats"];
                    assert_eq!(
                        num(s, "resources"),
                        raw.declared_resources(id),
                        "{id}: {ctx}"
                    );
                    assert_eq!(num(s, "grants"), raw.count("v1_grants", id), "{id}: {ctx}");
                    assert_eq!(
                        num(s, "entitlements"),
                        raw.count("v1_entitlements", id),
                        "{id}: {ctx}"
                    );
                }
                shown.syncs = runs.len();
                continue;
            }
            "resource-types" => table(0, "v1_resource_types"),
            "resources" => table(1, "v1_resources"),
            "entitlements" => table(2, "v1_entitlements"),
            _ => table(3, "v1_grants"),
        };
        let items = v.as_array().unwrap();
        assert_eq!(items.len() as i64, rows, "{ctx}");
        shown.counts[slot] = items.len();
        shown.undecodable += undecodable(items);
        if sub == "grants" {
            let ge = items
                .iter()
                .filter(|g| g.to_string().contains("c1.connector.v2.GrantExpandable"))
                .count();
            let undecodable_grants = undecodable(items);
            if undecodable_grants == 0 {
                assert_eq!(
                    ge,
                    raw.expandable_grants(&sync),
                    "GrantExpandable kept: {ctx}"
                );
            }
        }
    }
    assert!(
        files_in(tmp).is_empty(),
        "TMPDIR litter: {:?}",
        files_in(tmp)
    );
    shown
}

/// Resource types, resources, entitlements and grants of a generated sync of scale `n`.
fn counts(n: usize) -> [usize; 4] {
    [2, 3 * n, n, 3 * n - 1]
}

fn layout_file(dir: &Path, name: &str, layout: &layouts::Layout, syncs: &[Sync]) -> PathBuf {
    let file = dir.join(format!("{name}.c1z"));
    layouts::write(layout, syncs, &file);
    file
}

#[test]
fn every_historic_layout_opens_with_every_inspect_subcommand() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    for layout in &LAYOUTS {
        let syncs = layouts::typical(layout);
        let file = layout_file(dir.path(), layout.name, layout, &syncs);
        let before = std::fs::read(&file).unwrap();

        // What the reader adds on open is exactly what the layout lacks.
        let reader = C1zReader::open(&file).unwrap();
        let up = reader.upgrade();
        assert_eq!(up.columns_added, layout.columns_added, "{}", layout.name);
        assert_eq!(up.tables_created, layout.tables_created, "{}", layout.name);
        assert_eq!(
            up.indexes_created, layout.indexes_created,
            "{}",
            layout.name
        );
        let typed = layout.typed();
        // The partial sync (scale 3) where there are types, else the newer full one (4).
        let (newest_finished, scale) = if typed {
            ("2cCCCCCCCCCCCCCCCCCCCCCCCCC", 3)
        } else {
            ("2bBBBBBBBBBBBBBBBBBBBBBBBBB", 4)
        };
        let sel = reader.selection();
        assert_eq!(sel.sync.sync_id, newest_finished, "{}", layout.name);
        assert_eq!(sel.choice, Choice::LatestFinished);
        assert_eq!(sel.syncs_in_file, syncs.len());
        assert_eq!(sel.sync.sync_type, if typed { "partial" } else { "full" });
        // Defaults the SDK gives old rows; stats recomputed where the file has none.
        let backfilled: BTreeSet<String> = up.syncs_not_backfilled.iter().cloned().collect();
        if layout.has_backfilled() {
            assert!(backfilled.is_empty(), "{}", layout.name);
        } else {
            assert_eq!(backfilled.len(), syncs.len(), "{}", layout.name);
        }
        assert_eq!(
            up.empty_expansions_cleared,
            if layout.has_expansion() && !layout.has_backfilled() {
                syncs.len() as u64
            } else {
                0
            },
            "{}",
            layout.name
        );
        let runs = reader.sync_runs().unwrap();
        for r in &runs {
            let stored = layout.has_stats() && r.sync_id == "2bBBBBBBBBBBBBBBBBBBBBBBBBB";
            assert_eq!(r.stats_recomputed, !stored, "{} {}", layout.name, r.sync_id);
        }
        // GrantExpandable read back from `data` (old layouts) or `expansion`, never empty.
        let grants = reader.grants(&Default::default()).unwrap();
        let ge: Vec<pb::GrantExpandable> = grants
            .iter()
            .filter_map(|g| any::find::<pb::GrantExpandable>(&g.annotations))
            .collect();
        assert_eq!(ge.len(), scale - 1, "{}: expandable grants", layout.name);
        assert!(ge.iter().all(|g| !g.entitlement_ids.is_empty()));
        // Opening backfilled the old layouts as baton-sdk does: GrantExpandable moved into
        // `expansion`, pending, and every sync marked backfilled.
        let conn = reader.connection();
        let pending: i64 = conn
            .query_row(
                "select count(*) from v1_grants where sync_id = ?1 and needs_expansion = 1 and expansion is not null",
                [&sel.sync.sync_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pending, scale as i64 - 1, "{}: pending rows", layout.name);
        let not_backfilled: i64 = conn
            .query_row(
                "select count(*) from v1_sync_runs where grants_backfilled = 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(not_backfilled, 0, "{}", layout.name);
        let records = layouts::records(scale);
        assert_eq!(
            grants, records.grants,
            "{}: grants read back as written",
            layout.name
        );
        assert_eq!(
            reader.resources(&Default::default()).unwrap(),
            records.resources
        );
        drop(reader);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "the user's file is not written"
        );

        // The real binary, every subcommand.
        let shown = check_file(&file, &[], None, tmp.path());
        assert_eq!(shown.sync, newest_finished);
        assert!(
            shown.line.contains("latest finished sync of any type"),
            "{}",
            shown.line
        );
        assert_eq!(shown.undecodable, 0);
        assert_eq!(shown.counts, counts(scale), "{}", layout.name);
        // An older sync by id.
        let shown = check_file(
            &file,
            &["--sync-id", "2aAAAAAAAAAAAAAAAAAAAAAAAAA"],
            Some("2aAAAAAAAAAAAAAAAAAAAAAAAAA"),
            tmp.path(),
        );
        assert!(shown.line.contains("the sync asked for"), "{}", shown.line);
        assert_eq!(shown.counts, counts(2), "{}", layout.name);
    }
}

#[test]
fn a_file_whose_only_sync_never_finished_shows_that_sync_and_says_so() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    for layout in [&LAYOUTS[0], &LAYOUTS[2], &LAYOUTS[5]] {
        let file = layout_file(dir.path(), layout.name, layout, &layouts::unfinished_only());
        let shown = check_file(&file, &[], Some("2eEEEEEEEEEEEEEEEEEEEEEEEEE"), tmp.path());
        assert!(
            shown
                .line
                .contains("unfinished, started 2025-04-01 08:00:00.000001")
                && shown.line.contains("no sync in the file finished"),
            "{}",
            shown.line
        );
        assert_eq!(shown.counts, counts(3));
    }
}

#[cfg(unix)]
#[test]
fn a_reader_killed_by_sigpipe_leaves_no_temp_file() {
    use std::os::unix::process::ExitStatusExt;
    // `orgsync inspect … | head`: the default SIGPIPE ends the process without unwinding,
    // so only a temp copy already unlinked is not left behind.
    let dir = support::tempdir();
    let tmp = support::tempdir();
    let layout = &LAYOUTS[0];
    let mut syncs = layouts::typical(layout);
    syncs[1].scale = 1500;
    let file = layout_file(dir.path(), "big", layout, &syncs);
    let mut child = orgsync("http://127.0.0.1:9")
        .env("TMPDIR", tmp.path())
        .args(["inspect", "resources", "-o", "json", "-f"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
    assert!(
        files_in(tmp.path()).is_empty(),
        "{:?}",
        files_in(tmp.path())
    );
}

/// A SQLite database built by `sql`, as the payload of a c1z.
fn sqlite_payload(sql: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    Connection::open(&db).unwrap().execute_batch(sql).unwrap();
    std::fs::read(&db).unwrap()
}

fn c1z_of(payload: &[u8]) -> Vec<u8> {
    let mut out = b"C1ZF\0".to_vec();
    out.extend(zstd::encode_all(payload, 3).unwrap());
    out
}

#[test]
fn bad_input_is_refused_in_one_line_naming_the_file_with_exit_2_and_no_litter() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    let good = layout_file(
        dir.path(),
        "good",
        &LAYOUTS[7],
        &layouts::typical(&LAYOUTS[7]),
    );
    let good_bytes = std::fs::read(&good).unwrap();
    let mut big_db = sqlite_payload(orgsync::store::c1z::DDL);
    let current = big_db.clone();
    big_db.truncate(current.len() / 2);
    let mut wrong_checksum = good_bytes.clone();
    let last = wrong_checksum.len() - 1;
    wrong_checksum[last] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "it is empty"),
        ("short", b"C1Z".to_vec(), "too short"),
        (
            "truncated",
            good_bytes[..good_bytes.len() / 2].to_vec(),
            "the file is truncated",
        ),
        ("checksum", wrong_checksum, "checksum"),
        (
            "not-zstd",
            [b"C1ZF\0".as_slice(), b"this is not zstd at all"].concat(),
            "not zstd data",
        ),
        (
            "not-sqlite",
            c1z_of(b"{\"hello\": \"a JSON document, not a database\"}"),
            "its payload is not a SQLite database",
        ),
        (
            "sqlite-truncated",
            c1z_of(&big_db),
            "its SQLite database is truncated",
        ),
        (
            "v3",
            [b"C1Z3\0".as_slice(), &[0, 0, 0, 9], b"\x0a\x07pebble3"].concat(),
            "--storage-engine sqlite",
        ),
        (
            "bare-sqlite",
            current.clone(),
            "it is a bare SQLite database",
        ),
        (
            "foreign",
            c1z_of(&sqlite_payload(
                "create table users (id integer primary key, name text); create table orders (id integer primary key);",
            )),
            "no v1_sync_runs table",
        ),
        (
            "missing-base-column",
            c1z_of(&sqlite_payload(
                "create table v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null, ended_at datetime, sync_token text not null);
                 create table v1_grants (id integer primary key, sync_id text not null, data blob not null);",
            )),
            "its v1_grants table has no resource_type_id column",
        ),
        (
            "sync-runs-view",
            c1z_of(&sqlite_payload(
                "create table t (sync_id text); create view v1_sync_runs as select * from t;",
            )),
            "its v1_sync_runs is a view, not a table",
        ),
        (
            "no-sync",
            c1z_of(&current),
            "its v1_sync_runs table is empty",
        ),
    ];
    for (name, bytes, phrase) in &cases {
        let file = dir.path().join(format!("{name}.c1z"));
        std::fs::write(&file, bytes).unwrap();
        for sub in ["stats", "grants"] {
            let out = inspect(&file, &[sub, "-o", "json"], tmp.path());
            let ctx = format!("{name} {sub}: {}", text(&out));
            assert_eq!(out.status.code(), Some(2), "{ctx}");
            assert!(out.stdout.is_empty(), "{ctx}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "{ctx}");
            assert!(stderr.contains(&file.display().to_string()), "{ctx}");
            assert!(stderr.contains(phrase), "{ctx}");
            assert!(
                files_in(tmp.path()).is_empty(),
                "{ctx}: {:?}",
                files_in(tmp.path())
            );
        }
    }
    // A sync id the file does not hold.
    let out = inspect(&good, &["stats", "--sync-id", "nope"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(stderr.lines().count(), 1, "{}", text(&out));
    assert!(
        stderr.contains(&good.display().to_string())
            && stderr.contains("holds no sync nope")
            && stderr.contains("2aAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "{}",
        text(&out)
    );
    assert!(files_in(tmp.path()).is_empty());
}

/// Every file of the Go-written corpus ([`support::baton_corpus`]: public baton connectors' and
/// baton-sdk's committed c1z files). v1 files must open with every subcommand and match their
/// own rows; v3 files must be refused with the way to get a v1 file. At least three v1 files.
#[test]
fn real_baton_files_in_a_directory() {
    let Some(dir) = support::baton_corpus() else {
        eprintln!(
            "skipped: no Go-written c1z corpus (set ORGSYNC_BATON_C1Z_DIR or place it in ../shared/fixtures/baton-c1z)"
        );
        return;
    };
    let tmp = support::tempdir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut v1 = 0;
    for file in files {
        let mut head = [0u8; 5];
        let n = std::fs::File::open(&file).unwrap().read(&mut head).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        match &head[..n] {
            b"C1ZF\0" => {
                let s = check_file(&file, &[], None, tmp.path());
                eprintln!(
                    "{name}: resource types {}, resources {}, entitlements {}, grants {}, syncs {} \
                     (all equal to the rows of sync {}); records JSON could not render: {}\n    {}",
                    s.counts[0],
                    s.counts[1],
                    s.counts[2],
                    s.counts[3],
                    s.syncs,
                    s.sync,
                    s.undecodable,
                    s.line
                );
                v1 += 1;
            }
            b"C1Z3\0" => {
                let out = inspect(&file, &["stats"], tmp.path());
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{}", text(&out));
                assert_eq!(stderr.lines().count(), 1, "{}", text(&out));
                assert!(stderr.contains("--storage-engine sqlite"), "{}", text(&out));
                eprintln!("{name}: refused (exit 2): {}", stderr.trim_end());
            }
            _ => eprintln!("{name}: not a c1z, skipped"),
        }
        assert!(files_in(tmp.path()).is_empty());
    }
    assert!(
        v1 >= 3,
        "{v1} c1z v1 files in {}: the corpus holds at least three",
        dir.display()
    );
    std::io::stderr().flush().unwrap();
}
