//! Tests of the SQLite adapter on real SQLite files: c1z files written by our own
//! `C1zWriter` and opened with `C1zReader`, hand-built rows in the old layout for the
//! backfill, and (ignored unless a directory is given) baton-sdk's own expansion fixture.

#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use prost::Message;
use rusqlite::{Connection, params};

use crate::model::any::{grant_expandable, pack};
use crate::model::build::{entitlement, rid, stub};
use crate::model::{Record, any, pb};
use crate::store::c1z::{C1zReader, C1zWriter, DDL};

use super::sqlite::expand_sync;
use super::{ChangeKind, ExpandError, GrantChange, Observer, Options, Phase};
use crate::store::c1z::backfill::backfill;

/// Records what the adapter reports.
#[derive(Default)]
struct Recorder {
    phases: Vec<Phase>,
    last_progress: Option<(usize, usize)>,
    changes: Vec<(ChangeKind, String, Vec<u8>)>,
}

impl Observer for Recorder {
    fn phase(&mut self, phase: Phase) {
        self.phases.push(phase);
    }
    fn progress(&mut self, done: usize, total: usize) {
        self.last_progress = Some((done, total));
    }
    fn grant(&mut self, change: &GrantChange<'_>) {
        self.changes
            .push((change.kind, change.id.to_string(), change.data.to_vec()));
    }
}

fn res(rtype: &str, id: &str) -> pb::Resource {
    pb::Resource {
        id: Some(rid(rtype, id)),
        display_name: format!("{id} ({rtype})"),
        ..Default::default()
    }
}

fn ent(id: &str, rtype: &str, rid_: &str) -> pb::Entitlement {
    entitlement(
        id.to_string(),
        res(rtype, rid_),
        id.rsplit(':').next().unwrap_or_default(),
        format!("{id} display"),
        format!("{id} description"),
        &[],
        vec![],
    )
}

/// A grant whose principal message is a full resource (so copying it as-is is visible).
fn grant(
    id: &str,
    e: &pb::Entitlement,
    ptype: &str,
    pid: &str,
    ann: Vec<prost_types::Any>,
) -> pb::Grant {
    pb::Grant {
        entitlement: Some(pb::Entitlement {
            id: e.id.clone(),
            resource: e
                .resource
                .clone()
                .map(|r| stub(r.id.unwrap_or_default(), "")),
            ..Default::default()
        }),
        principal: Some(pb::Resource {
            display_name: format!("{pid} principal"),
            ..res(ptype, pid)
        }),
        id: id.to_string(),
        sources: None,
        annotations: ann,
    }
}

const GM: &str = "group:G:member";
const RA: &str = "role:A:assignment";
const RB: &str = "role:B:assignment";
const PP: &str = "iam_policy:P:attached";

/// The worked example of grant-expansion.md §8 as records.
fn worked_example() -> (Vec<pb::Entitlement>, Vec<pb::Grant>) {
    let ents = vec![
        ent(GM, "group", "G"),
        ent(RA, "role", "A"),
        ent(RB, "role", "B"),
        ent(PP, "iam_policy", "P"),
    ];
    let e = |id: &str| ents.iter().find(|x| x.id == id).unwrap().clone();
    let grants = vec![
        grant("g1", &e(GM), "iam_user", "alice", vec![]),
        grant("g2", &e(PP), "group", "G", vec![grant_expandable(GM, true)]),
        grant("g3", &e(RB), "iam_user", "bob", vec![]),
        grant("g4", &e(RA), "role", "B", vec![grant_expandable(RB, false)]),
        grant("g5", &e(RA), "iam_user", "bob", vec![]),
        grant("g6", &e(PP), "role", "A", vec![grant_expandable(RA, false)]),
        grant("g7", &e(RB), "iam_user", "carol", vec![]),
    ];
    (ents, grants)
}

/// Writes `ents` and `grants` (plus their resources and types) with our c1z writer and opens
/// the file with our reader.
fn c1z_file(dir: &Path, ents: &[pb::Entitlement], grants: &[pb::Grant]) -> C1zReader {
    let path = dir.join("in.c1z");
    let mut w = C1zWriter::create(&path).unwrap();
    let mut records = Vec::new();
    let mut types = BTreeSet::new();
    let mut resources = BTreeMap::new();
    for e in ents {
        let r = e.resource.clone().unwrap();
        types.insert(r.id.clone().unwrap().resource_type);
        resources.insert(crate::model::record::resource_key(r.id.as_ref()), r);
    }
    for g in grants {
        let p = g.principal.clone().unwrap();
        types.insert(p.id.clone().unwrap().resource_type);
        resources
            .entry(crate::model::record::resource_key(p.id.as_ref()))
            .or_insert(p);
    }
    for t in types {
        records.push(Record::ResourceType(pb::ResourceType {
            id: t.clone(),
            display_name: t,
            ..Default::default()
        }));
    }
    records.extend(resources.into_values().map(Record::Resource));
    records.extend(ents.iter().cloned().map(Record::Entitlement));
    records.extend(grants.iter().cloned().map(Record::Grant));
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
    C1zReader::open(&path).unwrap()
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    rowid: i64,
    resource_type_id: String,
    resource_id: String,
    entitlement_id: String,
    ptype: String,
    pid: String,
    external_id: String,
    expansion: Option<Vec<u8>>,
    needs_expansion: i64,
    data: Vec<u8>,
    sync_id: String,
    discovered_at: String,
}

fn rows(conn: &Connection, sync_id: &str) -> BTreeMap<String, Row> {
    let mut stmt = conn
        .prepare(
            "select id, resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id,
                    external_id, expansion, needs_expansion, data, sync_id, discovered_at
             from v1_grants where sync_id = ?1 order by id",
        )
        .unwrap();
    stmt.query_map([sync_id], |r| {
        Ok(Row {
            rowid: r.get(0)?,
            resource_type_id: r.get(1)?,
            resource_id: r.get(2)?,
            entitlement_id: r.get(3)?,
            ptype: r.get(4)?,
            pid: r.get(5)?,
            external_id: r.get(6)?,
            expansion: r.get(7)?,
            needs_expansion: r.get(8)?,
            data: r.get(9)?,
            sync_id: r.get(10)?,
            discovered_at: r.get(11)?,
        })
    })
    .unwrap()
    .map(|r| {
        let r = r.unwrap();
        (r.external_id.clone(), r)
    })
    .collect()
}

fn sources_of(data: &[u8]) -> Vec<(String, bool)> {
    pb::Grant::decode(data)
        .unwrap()
        .sources
        .map(|s| {
            s.sources
                .into_iter()
                .map(|(k, v)| (k, v.is_direct))
                .collect()
        })
        .unwrap_or_default()
}

fn supports_diff(conn: &Connection, sync_id: &str) -> i64 {
    conn.query_row(
        "select supports_diff from v1_sync_runs where sync_id = ?1",
        [sync_id],
        |r| r.get(0),
    )
    .unwrap()
}

fn is_timestamp(s: &str) -> bool {
    // YYYY-MM-DD HH:MM:SS[.f{1,9}], no trailing zero in the fraction
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (b.len() == 19
            || (b[19] == b'.' && b.len() <= 29 && digits(20..b.len()) && b[b.len() - 1] != b'0'))
}

#[test]
fn worked_example_in_a_c1z_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ents, grants) = worked_example();
    let reader = c1z_file(dir.path(), &ents, &grants);
    let conn = reader.connection();
    let sync = reader.sync().sync_id.clone();
    // g5 (a direct grant that gains sources) carries a stray GrantExpandable in data, as a
    // writer that does not strip it would leave it.
    let g5_with_ge = {
        let mut g = grants[4].clone();
        g.annotations
            .push(grant_expandable("role:zz:assignment", false));
        g.encode_to_vec()
    };
    conn.execute(
        "update v1_grants set data = ?1 where external_id = 'g5'",
        params![g5_with_ge],
    )
    .unwrap();
    conn.execute("update v1_sync_runs set supports_diff = 0", [])
        .unwrap();
    let before = rows(conn, &sync);
    let schema = |conn: &Connection| -> Vec<(String, Option<String>)> {
        let mut stmt = conn
            .prepare("select name, sql from sqlite_master order by name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let schema_before = schema(conn);

    let mut rec = Recorder::default();
    let report = expand_sync(conn, &sync, &Options::default(), &mut rec).unwrap();
    assert_eq!(report.pending_rows, 3);
    assert_eq!(report.edges, 3);
    assert_eq!(report.grants_created, 5);
    assert_eq!(report.grants_updated, 1);
    assert_eq!(report.holders, 7);
    assert_eq!(report.longest_path, 2);
    assert_eq!(report.id_collisions, 0);
    assert_eq!(
        rec.phases,
        vec![Phase::Loading, Phase::Expanding, Phase::Writing]
    );
    assert_eq!(rec.last_progress, Some((4, 4)));
    assert_eq!(supports_diff(conn, &sync), 1, "R20");
    // The rebuilt principal index is back, same definition, and consistent.
    assert_eq!(schema(conn), schema_before);
    let check: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let by_principal: i64 = conn
        .query_row(
            "select count(*) from v1_grants indexed by idx_grants_principal_id_v1
             where principal_resource_type_id = 'iam_user' and principal_resource_id = 'carol'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(by_principal, 3, "g7 and carol's two derived grants");

    let after = rows(conn, &sync);
    assert_eq!(after.len(), 12);
    let ent_data = |id: &str| -> Vec<u8> {
        conn.query_row(
            "select data from v1_entitlements where external_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let principal_of = |grant_id: &str| {
        grants
            .iter()
            .find(|g| g.id == grant_id)
            .unwrap()
            .principal
            .clone()
    };
    let want: Vec<(
        &str,
        &str,
        &str,
        &str,
        Vec<(String, bool)>,
        &str,
        (&str, &str),
    )> = vec![
        (
            "iam_policy:P:attached:iam_user:alice",
            PP,
            "iam_user",
            "alice",
            vec![(GM.into(), true)],
            "g1",
            ("iam_policy", "P"),
        ),
        (
            "iam_policy:P:attached:iam_user:bob",
            PP,
            "iam_user",
            "bob",
            vec![(RA.into(), true)],
            "g5",
            ("iam_policy", "P"),
        ),
        (
            "iam_policy:P:attached:iam_user:carol",
            PP,
            "iam_user",
            "carol",
            vec![(RA.into(), false)],
            "g7",
            ("iam_policy", "P"),
        ),
        (
            "iam_policy:P:attached:role:B",
            PP,
            "role",
            "B",
            vec![(RA.into(), true)],
            "g4",
            ("iam_policy", "P"),
        ),
        (
            "role:A:assignment:iam_user:carol",
            RA,
            "iam_user",
            "carol",
            vec![(RB.into(), true)],
            "g7",
            ("role", "A"),
        ),
    ];
    let max_before = before.values().map(|r| r.rowid).max().unwrap();
    for (id, e, ptype, pid, sources, origin, (rt, ri)) in want {
        let row = &after[id];
        assert!(row.rowid > max_before, "{id} appended");
        assert_eq!(
            (
                row.entitlement_id.as_str(),
                row.ptype.as_str(),
                row.pid.as_str()
            ),
            (e, ptype, pid)
        );
        assert_eq!(
            (row.resource_type_id.as_str(), row.resource_id.as_str()),
            (rt, ri)
        );
        assert_eq!(row.expansion, None);
        assert_eq!(row.needs_expansion, 0);
        assert_eq!(row.sync_id, sync);
        assert!(is_timestamp(&row.discovered_at), "{}", row.discovered_at);
        let g = pb::Grant::decode(row.data.as_slice()).unwrap();
        assert_eq!(g.id, id);
        // The destination's full record, byte for byte.
        assert_eq!(g.entitlement.unwrap().encode_to_vec(), ent_data(e));
        assert_eq!(g.principal, principal_of(origin), "{id}");
        assert_eq!(g.annotations.len(), 1);
        assert!(any::is::<pb::GrantImmutable>(&g.annotations[0]));
        assert!(g.annotations[0].value.is_empty());
        assert_eq!(sources_of(&row.data), sources, "{id}");
    }
    // g5: same row, same message, new sources, the stray GrantExpandable gone, no
    // GrantImmutable.
    let (b5, a5) = (&before["g5"], &after["g5"]);
    assert_eq!(
        (
            a5.rowid,
            &a5.discovered_at,
            &a5.expansion,
            a5.needs_expansion
        ),
        (
            b5.rowid,
            &b5.discovered_at,
            &b5.expansion,
            b5.needs_expansion
        )
    );
    let mut want5 = grants[4].clone();
    want5.sources = Some(super::engine::sources_message(&[(RA, true), (RB, true)]));
    assert_eq!(a5.data, want5.encode_to_vec());
    // R19: everything else untouched, pending rows keep expansion and needs_expansion = 1.
    for (id, b) in &before {
        if id != "g5" {
            assert_eq!(&after[id], b, "{id} untouched");
        }
    }
    for id in ["g2", "g4", "g6"] {
        assert_eq!(after[id].needs_expansion, 1);
        assert!(after[id].expansion.is_some());
    }
    // The observer saw exactly what was written.
    let created: BTreeSet<_> = rec
        .changes
        .iter()
        .filter(|c| c.0 == ChangeKind::Created)
        .map(|c| {
            assert_eq!(after[&c.1].data, c.2);
            c.1.clone()
        })
        .collect();
    assert_eq!(created.len(), 5);
    let updated: Vec<_> = rec
        .changes
        .iter()
        .filter(|c| c.0 == ChangeKind::Updated)
        .map(|c| (c.1.clone(), c.2.clone()))
        .collect();
    assert_eq!(updated, vec![("g5".to_string(), a5.data.clone())]);

    // R23: running again changes nothing.
    let again = expand_sync(conn, &sync, &Options::default(), &mut ()).unwrap();
    assert_eq!((again.grants_created, again.grants_updated), (0, 0));
    assert_eq!(rows(conn, &sync), after);
}

#[test]
fn failure_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ents, mut grants) = worked_example();
    // g2's GrantExpandable names role B's entitlement, which is not group G's.
    grants[1].annotations = vec![grant_expandable(RB, true)];
    ents.push(ent("group:H:member", "group", "H"));
    let reader = c1z_file(dir.path(), &ents, &grants);
    let conn = reader.connection();
    let sync = reader.sync().sync_id.clone();
    conn.execute("update v1_sync_runs set supports_diff = 0", [])
        .unwrap();
    let before = rows(conn, &sync);
    let err = expand_sync(conn, &sync, &Options::default(), &mut ()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ExpandError::SourceMismatch { .. }) && msg.contains("g2") && msg.contains(RB),
        "{msg}"
    );
    assert_eq!(rows(conn, &sync), before);
    assert_eq!(supports_diff(conn, &sync), 0, "rolled back");
    // Skipping the edge instead: the rest expands.
    let report = expand_sync(
        conn,
        &sync,
        &Options {
            source_mismatch: super::SourceMismatch::Skip,
        },
        &mut (),
    )
    .unwrap();
    assert_eq!(report.dropped.source_mismatch, 1);
    assert_eq!(report.grants_created, 4, "all but alice's policy grant");

    match expand_sync(conn, "no-such-sync", &Options::default(), &mut ()) {
        Err(ExpandError::NoSync { sync_id }) => assert_eq!(sync_id, "no-such-sync"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn nothing_pending_still_marks_supports_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (ents, grants) = worked_example();
    let plain: Vec<pb::Grant> = grants
        .into_iter()
        .map(|mut g| {
            g.annotations.clear();
            g
        })
        .collect();
    let reader = c1z_file(dir.path(), &ents, &plain);
    let conn = reader.connection();
    let sync = reader.sync().sync_id.clone();
    conn.execute("update v1_sync_runs set supports_diff = 0", [])
        .unwrap();
    let report = expand_sync(conn, &sync, &Options::default(), &mut ()).unwrap();
    assert_eq!(report.pending_rows, 0);
    assert_eq!(report.grants_created, 0);
    assert_eq!(supports_diff(conn, &sync), 1);
}

// ---------------------------------------------------------------------------------------
// Old layout (R2)

fn old_layout_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(DDL).unwrap();
    conn
}

fn insert_grant(conn: &Connection, sync: &str, g: &pb::Grant, expansion: Option<&[u8]>) {
    let p = g.principal.as_ref().unwrap().id.clone().unwrap();
    insert_row(conn, sync, g, &p, expansion);
}

/// A grant row whose principal columns are `p` (the blob may lack the principal).
fn insert_row(
    conn: &Connection,
    sync: &str,
    g: &pb::Grant,
    p: &pb::ResourceId,
    expansion: Option<&[u8]>,
) {
    let e = g.entitlement.as_ref().unwrap();
    let r = e.resource.as_ref().unwrap().id.as_ref().unwrap();
    conn.execute(
        "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id,
                                external_id, expansion, needs_expansion, data, sync_id, discovered_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '2025-01-01 00:00:00')",
        params![
            r.resource_type,
            r.resource,
            e.id,
            p.resource_type,
            p.resource,
            g.id,
            expansion,
            i64::from(expansion.is_some()),
            g.encode_to_vec(),
            sync
        ],
    )
    .unwrap();
}

fn insert_sync(conn: &Connection, sync: &str, backfilled: i64) {
    conn.execute(
        "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, supports_diff, grants_backfilled)
         values (?1, '2025-01-01 00:00:00', '2025-01-01 00:01:00', '', 0, ?2)",
        params![sync, backfilled],
    )
    .unwrap();
}

fn insert_entitlement(conn: &Connection, sync: &str, e: &pb::Entitlement) {
    let r = e.resource.as_ref().unwrap().id.as_ref().unwrap();
    conn.execute(
        "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)
         values (?1, ?2, ?3, ?4, ?5, '2025-01-01 00:00:00')",
        params![r.resource_type, r.resource, e.id, e.encode_to_vec(), sync],
    )
    .unwrap();
}

#[test]
fn backfill_moves_expandable_out_of_old_rows() {
    let dir = tempfile::tempdir().unwrap();
    let conn = old_layout_db(&dir.path().join("old.db"));
    let (ents, grants) = worked_example();
    // Two syncs of the old layout with the same rows, and a newer one already backfilled
    // that still carries a GrantExpandable in data (which then must stay there).
    for sync in ["old-1", "old-2", "new"] {
        insert_sync(&conn, sync, i64::from(sync == "new"));
        for e in &ents {
            insert_entitlement(&conn, sync, e);
        }
        for g in &grants {
            insert_grant(&conn, sync, g, None);
        }
    }
    // A GrantExpandable whose ids are all blank stays in data.
    let blank = grant(
        "blank",
        &ents[0],
        "iam_user",
        "dave",
        vec![pack(&pb::GrantExpandable {
            entitlement_ids: vec![" ".into()],
            shallow: false,
            resource_type_ids: vec![],
        })],
    );
    insert_grant(&conn, "old-1", &blank, None);
    // A row whose expansion is already set is not re-read.
    let preset = grant(
        "preset",
        &ents[3],
        "group",
        "Z",
        vec![grant_expandable(GM, false)],
    );
    insert_grant(&conn, "old-1", &preset, Some(b"\x0a\x01x"));

    match expand_sync(&conn, "old-1", &Options::default(), &mut ()) {
        Err(ExpandError::NotBackfilled { sync_id }) => assert_eq!(sync_id, "old-1"),
        other => panic!("expansion before the backfill must fail, got {other:?}"),
    }

    let new_before = rows(&conn, "new");
    let report = backfill(&conn).unwrap();
    assert_eq!(report.syncs, 2);
    assert_eq!(report.grants_read, 7 + 1 + 7);
    assert_eq!(report.grants_moved, 6);
    for sync in ["old-1", "old-2"] {
        let r = rows(&conn, sync);
        for (id, ge_id, shallow) in [("g2", GM, true), ("g4", RB, false), ("g6", RA, false)] {
            let row = &r[id];
            assert_eq!(row.needs_expansion, 1, "{sync} {id}");
            let ge = pb::GrantExpandable::decode(row.expansion.as_deref().unwrap()).unwrap();
            assert_eq!(
                (ge.entitlement_ids, ge.shallow),
                (vec![ge_id.to_string()], shallow)
            );
            let g = pb::Grant::decode(row.data.as_slice()).unwrap();
            assert!(
                g.annotations.is_empty(),
                "GrantExpandable stripped from data"
            );
        }
        for id in ["g1", "g3", "g5", "g7"] {
            assert_eq!((r[id].needs_expansion, &r[id].expansion), (0, &None));
        }
        let backfilled: i64 = conn
            .query_row(
                "select grants_backfilled from v1_sync_runs where sync_id = ?1",
                [sync],
                |x| x.get(0),
            )
            .unwrap();
        assert_eq!(backfilled, 1);
    }
    let r1 = rows(&conn, "old-1");
    assert_eq!(r1["blank"].expansion, None);
    assert_eq!(r1["blank"].data, blank.encode_to_vec());
    assert_eq!(r1["preset"].data, preset.encode_to_vec(), "not re-read");
    assert_eq!(rows(&conn, "new"), new_before, "backfilled sync untouched");
    assert_eq!(backfill(&conn).unwrap().syncs, 0, "runs once");

    // Expansion now works on old-1 and touches no other sync.
    let other_before = (rows(&conn, "old-2"), rows(&conn, "new"));
    let report = expand_sync(&conn, "old-1", &Options::default(), &mut ()).unwrap();
    // preset is pending too; its expansion bytes name an entitlement without a row.
    assert_eq!(report.pending_rows, 4);
    assert_eq!(report.dropped.source_missing, 1);
    // The worked example's five, plus dave's policy grant (he holds G's membership).
    assert_eq!(report.grants_created, 6);
    assert_eq!(report.grants_updated, 1);
    assert_eq!((rows(&conn, "old-2"), rows(&conn, "new")), other_before);
    assert_eq!(rows(&conn, "old-1").len(), 9 + 6);
    // The new-layout sync with GrantExpandable left in data gets no expansion (R2).
    let report = expand_sync(&conn, "new", &Options::default(), &mut ()).unwrap();
    assert_eq!((report.pending_rows, report.grants_created), (0, 0));
}

#[test]
fn holder_without_embedded_principal_gets_a_stub() {
    let dir = tempfile::tempdir().unwrap();
    let conn = old_layout_db(&dir.path().join("slim.db"));
    let (ents, grants) = worked_example();
    insert_sync(&conn, "s", 1);
    for e in &ents {
        insert_entitlement(&conn, "s", e);
    }
    for g in &grants {
        let (stored, expansion) = crate::store::c1z::split_expansion(g);
        let p = stored.principal.as_ref().unwrap().id.clone().unwrap();
        let mut slim = stored;
        if slim.id == "g1" {
            slim.principal = None;
        }
        insert_row(&conn, "s", &slim, &p, expansion.as_deref());
    }
    expand_sync(&conn, "s", &Options::default(), &mut ()).unwrap();
    let r = rows(&conn, "s");
    let g = pb::Grant::decode(r["iam_policy:P:attached:iam_user:alice"].data.as_slice()).unwrap();
    assert_eq!(
        g.principal,
        Some(pb::Resource {
            id: Some(rid("iam_user", "alice")),
            ..Default::default()
        })
    );
}

#[test]
fn undecodable_holder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let conn = old_layout_db(&dir.path().join("bad.db"));
    let (ents, grants) = worked_example();
    insert_sync(&conn, "s", 1);
    for e in &ents {
        insert_entitlement(&conn, "s", e);
    }
    for g in &grants {
        let (stored, expansion) = crate::store::c1z::split_expansion(g);
        insert_grant(&conn, "s", &stored, expansion.as_deref());
    }
    conn.execute(
        "update v1_grants set data = x'0aff' where external_id = 'g3'",
        [],
    )
    .unwrap();
    match expand_sync(&conn, "s", &Options::default(), &mut ()) {
        Err(ExpandError::BadGrant { grant, .. }) => assert_eq!(grant, "g3"),
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// baton-sdk's own fixture (not in the repository)

const FIXTURE: &str = "sync.36zfOAoWMxQdISbixanQCRBiX7E";

/// Decompresses a c1z v1 file (5-byte `C1ZF\0` header, then zstd) into `out` and opens it.
fn open_c1z(path: &Path, out: &Path) -> Connection {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..5], b"C1ZF\0", "{}", path.display());
    let mut db = Vec::new();
    zstd::stream::read::Decoder::new(&bytes[5..])
        .unwrap()
        .read_to_end(&mut db)
        .unwrap();
    std::fs::write(out, db).unwrap();
    Connection::open(out).unwrap()
}

/// Adds the columns the SDK's migrations add (the reader's job in orgsync).
fn add_missing_columns(conn: &Connection) {
    let has = |table: &str, column: &str| -> bool {
        let mut stmt = conn
            .prepare(&format!("pragma table_info({table})"))
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(1))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        names.iter().any(|n| n == column)
    };
    for (table, column, ddl) in [
        ("v1_grants", "expansion", "expansion blob"),
        (
            "v1_grants",
            "needs_expansion",
            "needs_expansion integer not null default 0",
        ),
        (
            "v1_sync_runs",
            "supports_diff",
            "supports_diff integer not null default 0",
        ),
        (
            "v1_sync_runs",
            "grants_backfilled",
            "grants_backfilled integer not null default 0",
        ),
    ] {
        if !has(table, column) {
            conn.execute_batch(&format!("alter table {table} add column {ddl}"))
                .unwrap();
        }
    }
}

/// (entitlement, principal type, principal id) → (grant id, sorted source keys, immutable).
fn by_key(conn: &Connection) -> BTreeMap<(String, String, String), (String, Vec<String>, bool)> {
    let mut stmt = conn
        .prepare(
            "select entitlement_id, principal_resource_type_id, principal_resource_id, external_id, data from v1_grants order by id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?),
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .unwrap();
    let mut out = BTreeMap::new();
    for row in rows {
        let (key, id, data) = row.unwrap();
        let g = pb::Grant::decode(data.as_slice()).unwrap();
        let keys = g
            .sources
            .map(|s| s.sources.into_keys().collect())
            .unwrap_or_default();
        let immutable = g.annotations.iter().any(any::is::<pb::GrantImmutable>);
        assert!(
            out.insert(key, (id, keys, immutable)).is_none(),
            "one grant per key"
        );
    }
    out
}

/// Expands baton-sdk's `.unexpanded` fixture and compares with its `.expanded` twin by
/// (entitlement, principal), grant id, source keys and GrantImmutable placement. The files
/// are the Go-written corpus kept beside the checkout (`ORGSYNC_BATON_C1Z_DIR`, else
/// `../shared/fixtures/baton-c1z`; see fixtures/README.md); without it the test says it skipped.
#[test]
fn matches_baton_sdk_fixture() {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/baton-c1z");
    let dir = match std::env::var_os("ORGSYNC_BATON_C1Z_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None if beside.is_dir() => beside,
        None => {
            eprintln!("skipped: no Go-written c1z corpus (see fixtures/README.md)");
            return;
        }
    };
    let dir = dir.as_path();
    let tmp = tempfile::tempdir().unwrap();
    let ours = open_c1z(
        &dir.join(format!("{FIXTURE}.unexpanded")),
        &tmp.path().join("u.db"),
    );
    let theirs = open_c1z(
        &dir.join(format!("{FIXTURE}.expanded")),
        &tmp.path().join("e.db"),
    );
    add_missing_columns(&ours);
    let before = by_key(&ours);
    assert_eq!(before.len(), 2909);

    let b = backfill(&ours).unwrap();
    assert_eq!(b.syncs, 1);
    assert_eq!(b.grants_moved, 409);
    let sync: String = ours
        .query_row("select sync_id from v1_sync_runs", [], |r| r.get(0))
        .unwrap();
    let report = expand_sync(&ours, &sync, &Options::default(), &mut ()).unwrap();
    eprintln!("{report:#?}");
    assert_eq!(report.pending_rows, 409);
    assert_eq!(report.edges, 799);
    assert_eq!(report.cycles_collapsed, 0);
    assert_eq!(report.longest_path, 20);
    assert_eq!(report.grants_created, 12_072);
    assert_eq!(report.grants_updated, 1_199);

    let got = by_key(&ours);
    let want = by_key(&theirs);
    assert_eq!(got.len(), 14_981);
    assert_eq!(want.len(), 14_981);
    let mut mismatches = Vec::new();
    for (k, w) in &want {
        match got.get(k) {
            Some(g) if g == w => {}
            other => mismatches.push(format!("{k:?}: want {w:?}, got {other:?}")),
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            mismatches.push(format!("{k:?}: not in the expanded fixture"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    // Derived grants embed the same entitlement and principal messages as the SDK's.
    let data = |c: &Connection, id: &str| -> pb::Grant {
        let b: Vec<u8> = c
            .query_row(
                "select data from v1_grants where external_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        pb::Grant::decode(b.as_slice()).unwrap()
    };
    for (id, _, immutable) in got.values() {
        if *immutable {
            let (o, t) = (data(&ours, id), data(&theirs, id));
            assert_eq!(
                (&o.entitlement, &o.principal, &o.annotations),
                (&t.entitlement, &t.principal, &t.annotations),
                "{id}"
            );
        }
    }
}
