//! `orgsync sync --previous FILE`: the new c1z file holds the previous sync too, as baton's
//! `baton diff` needs (its rule, cmd/baton in baton-sdk: the file's finished syncs of type
//! `full`, newest `ended_at` first; the first is compared with the second). The real binary
//! against moto (fixtures/single-account.json); the file is read here as raw SQLite (zstd
//! after the 5-byte magic), not through orgsync's reader: two finished full syncs, the newest
//! the new one, the other the previous file's sync with exactly its rows; `orgsync diff` of
//! the one file lists exactly the change made between the syncs; a third sync still holds
//! two syncs; bad `--previous` values exit 2 before AWS is called and leave the file as it was.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use rusqlite::Connection;
use support::{Moto, orgsync, run, sync, tempdir, text};

const TABLES: [&str; 4] = [
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    "v1_grants",
];

/// The c1z's SQLite database, decompressed into `dir`.
fn raw(file: &Path, dir: &Path) -> Connection {
    let mut bytes = vec![];
    std::fs::File::open(file)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(&bytes[..5], b"C1ZF\0");
    let db = zstd::stream::decode_all(&bytes[5..]).unwrap();
    let path = dir.join(format!(
        "{}.db",
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, db).unwrap();
    Connection::open(&path).unwrap()
}

/// Finished full syncs, as baton's diff orders them (newest ended_at first).
fn finished_full(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("select sync_id from v1_sync_runs where ended_at is not null and sync_type = 'full' order by ended_at desc")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows per table of one sync.
fn counts(conn: &Connection, sync_id: &str) -> BTreeMap<&'static str, i64> {
    TABLES
        .iter()
        .map(|t| {
            let n: i64 = conn
                .query_row(
                    &format!("select count(*) from {t} where sync_id = ?1"),
                    [sync_id],
                    |r| r.get(0),
                )
                .unwrap();
            (*t, n)
        })
        .collect()
}

#[test]
fn the_previous_sync_is_carried_for_baton_diff() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = tempdir();
    let scratch = tempdir();
    let file = dir.path().join("sync.c1z");

    // The first sync: --previous names the output, which does not exist yet (skipped).
    let prev = ["--previous", file.to_str().unwrap()];
    let o = sync(&moto.endpoint(), &file, &prev);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = raw(&file, scratch.path());
    let first_syncs = finished_full(&first);
    assert_eq!(first_syncs.len(), 1);
    let old_id = first_syncs[0].clone();
    let old_counts = counts(&first, &old_id);
    assert!(old_counts["v1_grants"] > 0);
    drop(first);
    std::fs::copy(&file, scratch.path().join("first.c1z")).unwrap();

    // A change, then a sync carrying the first.
    let out = std::process::Command::new(support::repo_root().join(".venv/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3\nboto3.client('iam', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing').create_user(UserName='erin')",
            moto.endpoint()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let o = sync(&moto.endpoint(), &file, &prev);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = raw(&file, scratch.path());
    let syncs = finished_full(&second);
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    assert_eq!(
        syncs[1], old_id,
        "the older one is the previous file's sync"
    );
    assert_ne!(syncs[0], old_id);
    assert_eq!(counts(&second, &old_id), old_counts, "carried row for row");
    let mut new_counts = old_counts.clone();
    *new_counts.get_mut("v1_resources").unwrap() += 1;
    assert_eq!(
        counts(&second, &syncs[0]),
        new_counts,
        "erin is the one new row"
    );
    let erin: i64 = second
        .query_row(
            "select count(*) from v1_resources where external_id like '%user/erin' and sync_id = ?1",
            [&syncs[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(erin, 1);

    // `orgsync diff` of the one file: exactly the change.
    let o = run(orgsync("http://127.0.0.1:9")
        .arg("diff")
        .arg(&file)
        .args(["-o", "json"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes: Vec<(String, String)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, "added");
    assert!(changes[0].1.ends_with(":user/erin"), "{changes:?}");

    // A third sync carries only the second's own sync: two syncs, not three.
    let o = sync(&moto.endpoint(), &file, &prev);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let third = raw(&file, scratch.path());
    let s3 = finished_full(&third);
    assert_eq!(s3.len(), 2);
    assert_eq!(s3[1], syncs[0]);

    // Bad --previous: exit 2, one line, the file untouched.
    let before = std::fs::read(&file).unwrap();
    let not_c1z = dir.path().join("notes.txt");
    std::fs::write(&not_c1z, "not a c1z").unwrap();
    let missing = dir.path().join("missing.c1z");
    for p in [&not_c1z, &missing] {
        let o = sync(
            &moto.endpoint(),
            &file,
            &["--previous", p.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{}", text(&o));
    }
    let o = sync(
        &moto.endpoint(),
        &file,
        &[
            "--no-file",
            "--jsonl",
            "-",
            "--previous",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}
