//! Unit tests of the c1z writer/reader and the writer thread against real SQLite files.

#![allow(clippy::type_complexity)]

use std::io::Read;

use prost::Message;

use crate::model::any::{grant_expandable, pack, v1_identifier};
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid};
use crate::model::{Record, pb, types as rt};

use super::c1z::{self, C1zReader, C1zWriter, Filter, MAGIC};
use super::jsonl::{JsonlSink, JsonlTarget};
use super::{C1zSink, Sink, SinkSet, Unit};

fn sample() -> Vec<Record> {
    let group = resource(
        rid(rt::GROUP, "arn:aws:iam::111122223333:group/admins"),
        "admins",
        Some(rid(rt::ACCOUNT_IAM, "111122223333")),
        vec![
            v1_identifier("arn:aws:iam::111122223333:group/admins"),
            pack(&pb::GroupTrait::default()),
        ],
        None,
    );
    let user = resource(
        rid(rt::IAM_USER, "arn:aws:iam::111122223333:user/bob"),
        "bob",
        None,
        vec![],
        None,
    );
    let ent_id = "group:arn:aws:iam::111122223333:group/admins:member".to_string();
    let ent = entitlement(
        ent_id.clone(),
        group.clone(),
        "member",
        "admins Group Member".into(),
        "d".into(),
        &[rt::IAM_USER],
        vec![],
    );
    let plain = grant(
        format!("{ent_id}:iam_user:arn:aws:iam::111122223333:user/bob"),
        entitlement_ref(&ent_id, group.clone()),
        rid(rt::IAM_USER, "arn:aws:iam::111122223333:user/bob"),
        vec![v1_identifier("grant:membership:x:y")],
    );
    let expandable = grant(
        "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached:group:arn:aws:iam::111122223333:group/admins".into(),
        entitlement_ref("iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached", resource(rid(rt::IAM_POLICY, "arn:aws:iam::aws:policy/ReadOnlyAccess"), "ReadOnlyAccess", None, vec![], None)),
        rid(rt::GROUP, "arn:aws:iam::111122223333:group/admins"),
        vec![v1_identifier("v"), grant_expandable(&ent_id, true)],
    );
    vec![
        Record::ResourceType(rt::known(rt::GROUP)),
        Record::ResourceType(rt::known(rt::IAM_USER)),
        Record::Resource(group),
        Record::Resource(user),
        Record::Entitlement(ent),
        Record::Grant(plain),
        Record::Grant(expandable),
    ]
}

fn decompress(path: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut db = vec![];
    zstd::stream::read::Decoder::new(&bytes[5..])
        .unwrap()
        .read_to_end(&mut db)
        .unwrap();
    (bytes, db)
}

#[test]
fn ksuid_and_timestamps() {
    let id = c1z::new_sync_id();
    assert_eq!(id.len(), 27);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    // The crate implements the KSUID encoding of c1z-v1.md §2.4 (its test vector).
    let raw: [u8; 20] = [
        0x06, 0x69, 0xF7, 0xEF, 0xB5, 0xA1, 0xCD, 0x34, 0xB5, 0xF9, 0x9D, 0x11, 0x54, 0xFB, 0x68,
        0x53, 0x34, 0x5C, 0x97, 0x35,
    ];
    use svix_ksuid::KsuidLike;
    assert_eq!(
        svix_ksuid::Ksuid::from_bytes(raw).to_string(),
        "0ujtsYcgvSTl8PAuAdqWYSMnLOv"
    );
    use chrono::TimeZone;
    let t = chrono::Local
        .with_ymd_and_hms(2026, 8, 21, 22, 52, 45)
        .unwrap();
    assert_eq!(c1z::format_timestamp(t), "2026-08-21 22:52:45");
    let t5 = t + chrono::Duration::milliseconds(500);
    assert_eq!(c1z::format_timestamp(t5), "2026-08-21 22:52:45.5");
}

/// A file written by the c1z writer from [`sample`], with what the checks below need.
struct Written {
    dir: tempfile::TempDir,
    out: std::path::PathBuf,
    sync_id: String,
    records: Vec<Record>,
}

fn write_sample() -> Written {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.c1z");
    let records = sample();
    let mut w = C1zWriter::create(&out).unwrap();
    let sync_id = w.sync_id().to_string();
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    assert_eq!(stats["resources_by_resource_type"]["group"], 1);
    assert_eq!(stats["grants_by_resource_type"]["iam_policy"], 1);
    w.finish(&stats).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["x.c1z"], "no temp file left");
    Written {
        dir,
        out,
        sync_id,
        records,
    }
}

/// The decompressed database of a written file, opened from a plain copy beside it.
fn plain_db(w: &Written) -> rusqlite::Connection {
    let (_, db) = decompress(&w.out);
    let dbfile = w.dir.path().join("plain.db");
    std::fs::write(&dbfile, &db).unwrap();
    rusqlite::Connection::open(&dbfile).unwrap()
}

#[test]
fn envelope_is_magic_and_one_checksummed_zstd_frame() {
    let w = write_sample();
    let out = &w.out;
    let (bytes, db) = decompress(out);
    assert_eq!(&bytes[..5], MAGIC);
    assert_eq!(&bytes[5..9], &[0x28, 0xB5, 0x2F, 0xFD]);
    let fhd = bytes[9];
    assert_ne!(fhd & 0x04, 0, "content checksum flag");
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&bytes[5..]).unwrap(),
        Some(db.len() as u64),
        "frame content size is exact"
    );
    assert_eq!(&db[..16], b"SQLite format 3\0");
}

#[test]
fn schema_has_baton_table_and_index_names() {
    let w = write_sample();
    let conn = plain_db(&w);
    let names: Vec<(String, String, Option<String>)> = conn
        .prepare("select type, name, tbl_name from sqlite_master where name not like 'sqlite_%' order by name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let tables: Vec<&str> = names
        .iter()
        .filter(|n| n.0 == "table")
        .map(|n| n.1.as_str())
        .collect();
    assert_eq!(
        tables,
        [
            "v1_assets",
            "v1_connector_sessions",
            "v1_entitlements",
            "v1_grants",
            "v1_resource_types",
            "v1_resources",
            "v1_sync_runs"
        ]
    );
    let idx_sql: String = conn
        .query_row(
            "select sql from sqlite_master where name = 'idx_resources_parent_resource_id_v1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        idx_sql.to_lowercase().contains("unique") && idx_sql.contains("(external_id, sync_id)"),
        "{idx_sql}"
    );
    assert_eq!(names.iter().filter(|n| n.0 == "index").count(), 16);
}

#[test]
fn sync_run_row_is_a_finished_full_sync() {
    let w = write_sample();
    let (conn, sync_id) = (plain_db(&w), w.sync_id);
    let (sid, ended, token, ty, parent, linked, diff, backfilled, stats_text): (String, Option<String>, String, String, String, String, i64, i64, String) = conn
        .query_row(
            "select sync_id, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled, stats from v1_sync_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
        )
        .unwrap();
    assert_eq!(sid, sync_id);
    assert!(ended.is_some());
    assert_eq!(
        (
            ty.as_str(),
            parent.as_str(),
            linked.as_str(),
            diff,
            backfilled
        ),
        ("full", "", "", 1, 1)
    );
    assert!(token.contains("\"version\":1"));
    let st: serde_json::Value = serde_json::from_str(&stats_text).unwrap();
    assert_eq!(st["resources"], 2);
    assert_eq!(st["grants"], 2);
}

#[test]
fn columns_agree_with_blobs() {
    let w = write_sample();
    let conn = plain_db(&w);
    let (parent_t, parent_id): (Option<String>, Option<String>) = conn
        .query_row("select parent_resource_type_id, parent_resource_id from v1_resources where external_id like 'iam_user:%'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((parent_t, parent_id), (None, None), "no parent -> SQL NULL");
    let rows: Vec<(String, Option<Vec<u8>>, i64, Vec<u8>, String, String)> = conn
        .prepare("select external_id, expansion, needs_expansion, data, resource_type_id, entitlement_id from v1_grants order by id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows[0].1, None);
    assert_eq!(rows[0].2, 0);
    let ge = pb::GrantExpandable::decode(rows[1].1.as_deref().unwrap()).unwrap();
    assert_eq!(
        ge.entitlement_ids,
        vec!["group:arn:aws:iam::111122223333:group/admins:member"]
    );
    assert!(ge.shallow);
    assert_eq!(rows[1].2, 1);
    let stored = pb::Grant::decode(rows[1].3.as_slice()).unwrap();
    assert!(
        !stored
            .annotations
            .iter()
            .any(crate::model::any::is::<pb::GrantExpandable>)
    );
    assert_eq!(rows[1].4, "iam_policy");
    assert_eq!(
        rows[1].5,
        "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached"
    );
}

#[test]
fn reader_gives_back_what_was_written() {
    let w = write_sample();
    let (out, sync_id, records) = (&w.out, &w.sync_id, &w.records);
    let r = C1zReader::open(out).unwrap();
    assert_eq!(r.sync().sync_id, *sync_id);
    assert_eq!(r.records().unwrap(), *records);
    let by_ent = r
        .grants(&Filter {
            entitlement: Some("group:arn:aws:iam::111122223333:group/admins:member".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_ent.len(), 1);
    let by_principal = r
        .grants(&Filter {
            principal: Some("group:arn:aws:iam::111122223333:group/admins".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_principal.len(), 1);
    assert_eq!(
        r.resources(&Filter {
            resource_type: Some("group".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
}

#[test]
fn writes_are_deterministic() {
    let a: Vec<Vec<u8>> = sample().iter().map(Record::encode).collect();
    let b: Vec<Vec<u8>> = sample().iter().map(Record::encode).collect();
    assert_eq!(a, b);
    let j1: Vec<String> = sample().iter().map(super::jsonl::line).collect();
    let j2: Vec<String> = sample().iter().map(super::jsonl::line).collect();
    assert_eq!(j1, j2);
    for (line, rec) in j1.iter().zip(sample()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(Record::from_json(&v).unwrap(), rec);
    }
}

#[test]
fn abandoned_or_failed_writes_leave_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.c1z");
    std::fs::write(&out, b"previous").unwrap();
    {
        let mut w = C1zWriter::create(&out).unwrap();
        w.write(&sample()).unwrap();
        // dropped without finish
    }
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    assert_eq!(crate::store::tests::names(dir.path()), vec!["keep.c1z"]);
    let bad = dir.path().join("no/such/dir/x.c1z");
    let e = C1zWriter::create(&bad).err().unwrap().to_string();
    assert!(e.contains("does not exist"), "{e}");
    assert!(
        c1z::check_writable(dir.path()).is_err(),
        "a directory is not a file target"
    );
}

pub(crate) fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn reads_files_other_writers_produce() {
    // A file as older SDK writers make it: WAL-mode database, GrantExpandable still inside
    // `data` (backfill pending), no stats, and a zstd frame without content size.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
        conn.execute_batch(c1z::DDL).unwrap();
        conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) values ('2J0ldQ8Jk1v6n2pJbUoQZk1sNAv', '2026-01-01 00:00:00', '2026-01-01 00:01:00', '', 'full')",
            [],
        )
        .unwrap();
        conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) values ('1J0ldQ8Jk1v6n2pJbUoQZk1sNAv', '2025-01-01 00:00:00', '2025-01-01 00:01:00', '', 'full')",
            [],
        )
        .unwrap();
        for r in sample() {
            let (table, cols): (&str, String) = match &r {
                Record::ResourceType(_) => ("v1_resource_types", String::new()),
                Record::Resource(x) => (
                    "v1_resources",
                    format!("'{}', ", x.id.as_ref().unwrap().resource_type),
                ),
                Record::Entitlement(x) => (
                    "v1_entitlements",
                    format!(
                        "'{}', '{}', ",
                        x.resource
                            .as_ref()
                            .unwrap()
                            .id
                            .as_ref()
                            .unwrap()
                            .resource_type,
                        x.resource.as_ref().unwrap().id.as_ref().unwrap().resource
                    ),
                ),
                Record::Grant(_) => ("v1_grants", String::new()),
            };
            let blob = r.encode();
            match &r {
                Record::ResourceType(_) => conn.execute("insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?1, ?2, '2J0ldQ8Jk1v6n2pJbUoQZk1sNAv', '2026-01-01 00:00:00')", rusqlite::params![r.external_id(), blob]).unwrap(),
                Record::Grant(g) => conn.execute(
                    "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, data, sync_id, discovered_at) values ('x', 'y', ?1, 'p', 'q', ?2, ?3, '2J0ldQ8Jk1v6n2pJbUoQZk1sNAv', '2026-01-01 00:00:00')",
                    rusqlite::params![g.entitlement.as_ref().unwrap().id, g.id, blob],
                ).unwrap(),
                _ => conn.execute(&format!("insert into {table} (resource_type_id, {}external_id, data, sync_id, discovered_at) values ({cols}?1, ?2, '2J0ldQ8Jk1v6n2pJbUoQZk1sNAv', '2026-01-01 00:00:00')", if table == "v1_entitlements" { "resource_id, " } else { "" }), rusqlite::params![r.external_id(), blob]).unwrap(),
            };
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let raw = std::fs::read(&db).unwrap();
    assert_eq!(&raw[18..20], &[2, 2], "WAL-mode header");
    let out = dir.path().join("other.c1z");
    let mut f = std::fs::File::create(&out).unwrap();
    use std::io::Write;
    f.write_all(MAGIC).unwrap();
    let mut enc = zstd::stream::write::Encoder::new(f, 1).unwrap();
    enc.include_contentsize(false).unwrap();
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
    let r = C1zReader::open(&out).unwrap();
    assert_eq!(
        r.sync().sync_id,
        "2J0ldQ8Jk1v6n2pJbUoQZk1sNAv",
        "latest finished full sync"
    );
    assert_eq!(r.records().unwrap(), sample());
    assert_eq!(r.sync_runs().unwrap().len(), 2);

    // Not a c1z at all, and the v3 magic.
    let junk = dir.path().join("junk.c1z");
    std::fs::write(&junk, b"hello world").unwrap();
    assert!(
        C1zReader::open(&junk)
            .err()
            .unwrap()
            .to_string()
            .contains("C1ZF header")
    );
    std::fs::write(&junk, b"C1Z3\0xxxx").unwrap();
    assert!(
        C1zReader::open(&junk)
            .err()
            .unwrap()
            .to_string()
            .contains("v3")
    );
}

#[tokio::test]
async fn writer_thread_dedupes_shared_records_into_every_sink() {
    let dir = tempfile::tempdir().unwrap();
    let c1z_path = dir.path().join("s.c1z");
    let jsonl_path = dir.path().join("s.jsonl");
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(C1zSink::new(C1zWriter::create(&c1z_path).unwrap())),
        Box::new(JsonlSink::create(&JsonlTarget::File(jsonl_path.clone())).unwrap()),
    ];
    let set = SinkSet::spawn(sinks, 2);
    let recs = sample();
    let policy = Record::Resource(resource(
        rid(rt::IAM_POLICY, "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        "ReadOnlyAccess",
        None,
        vec![],
        None,
    ));
    set.send(Unit {
        label: "a".into(),
        records: recs[..4].to_vec(),
        shared: vec![policy.clone()],
    })
    .await
    .unwrap();
    set.send(Unit {
        label: "b".into(),
        records: recs[4..].to_vec(),
        shared: vec![policy.clone()],
    })
    .await
    .unwrap();
    let report = set
        .finish(serde_json::json!({"orgsync": {"x": 1}}))
        .await
        .unwrap();
    assert_eq!(report.units, 2);
    assert_eq!(report.counts["resource"]["iam_policy"], 1);
    let from_c1z = C1zReader::open(&c1z_path).unwrap().records().unwrap();
    let from_jsonl: Vec<Record> = std::fs::read_to_string(&jsonl_path)
        .unwrap()
        .lines()
        .map(|l| Record::from_json(&serde_json::from_str(l).unwrap()).unwrap())
        .collect();
    assert_eq!(from_c1z.len(), recs.len() + 1);
    let mut a: Vec<String> = from_c1z.iter().map(super::jsonl::line).collect();
    let mut b: Vec<String> = from_jsonl.iter().map(super::jsonl::line).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the c1z and the JSON lines hold the same records");
    let stats = C1zReader::open(&c1z_path)
        .unwrap()
        .sync()
        .stats
        .clone()
        .unwrap();
    assert_eq!(stats["orgsync"]["x"], 1);
    // Only declared resource types are counted (c1z-v1.md §2.4); iam_policy is not declared here.
    assert_eq!(
        stats["resources_by_resource_type"],
        serde_json::json!({"group": 1, "iam_user": 1})
    );

    // An abandoned run leaves no files behind.
    let dir2 = tempfile::tempdir().unwrap();
    let set = SinkSet::spawn(
        vec![
            Box::new(C1zSink::new(
                C1zWriter::create(&dir2.path().join("a.c1z")).unwrap(),
            )),
            Box::new(JsonlSink::create(&JsonlTarget::File(dir2.path().join("a.jsonl"))).unwrap()),
        ],
        1,
    );
    set.send(Unit {
        label: "a".into(),
        records: sample(),
        shared: vec![],
    })
    .await
    .unwrap();
    set.abort().await;
    assert!(names(dir2.path()).is_empty(), "{:?}", names(dir2.path()));
}
