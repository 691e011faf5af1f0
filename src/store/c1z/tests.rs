//! Unit tests of the read side's rules on real SQLite databases: the upgrade is idempotent and
//! gives old rows the SDK's defaults, sync choice (ties, unknown types, unfinished only),
//! stats recomputation keeping non-count keys, empty `expansion`. Whole files in every
//! historic layout, through the real binary, are in `tests/c1z_compat.rs`.

use prost::Message;
use rusqlite::{Connection, params};

use crate::model::any::grant_expandable;
use crate::model::build::{entitlement_ref, grant, resource, rid};
use crate::model::{any, pb};

use super::migrate::{Refusal, upgrade};
use super::syncs::{Choice, SelectError, all, select};
use super::{DDL, join_expansion};

/// A database with the v0.2.x sync runs table only (baton-sdk before v0.3.0).
fn old_db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("db")).unwrap();
    conn.execute_batch(
        "create table v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null, ended_at datetime, sync_token text not null);
         create table v1_grants (id integer primary key, resource_type_id text not null, resource_id text not null, entitlement_id text not null, principal_resource_type_id text not null, principal_resource_id text not null, external_id text not null, data blob not null, sync_id text not null, discovered_at datetime not null);",
    )
    .unwrap();
    (dir, conn)
}

fn current_db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("db")).unwrap();
    conn.execute_batch(DDL).unwrap();
    (dir, conn)
}

fn add_sync(conn: &Connection, id: &str, ty: &str, started: &str, ended: Option<&str>) {
    conn.execute(
        "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) values (?1, ?2, ?3, '', ?4)",
        params![id, started, ended, ty],
    )
    .unwrap();
}

#[test]
fn upgrade_gives_old_rows_the_sdk_defaults_and_runs_once() {
    let (_d, mut conn) = old_db();
    conn.execute(
        "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token) values ('s1', '2025-01-01 00:00:00', '2025-01-01 00:01:00', '')",
        [],
    )
    .unwrap();
    let first = upgrade(&mut conn).unwrap();
    assert_eq!(first.columns_added.len(), 11);
    assert_eq!(first.syncs_not_backfilled, ["s1"]);
    let row: (String, String, String, i64, i64, Option<String>, String) = conn
        .query_row(
            "select sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled, stats, ingest_invariant_mode from v1_sync_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "full".into(),
            String::new(),
            String::new(),
            0,
            0,
            None,
            String::new()
        )
    );
    let second = upgrade(&mut conn).unwrap();
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(
        second.syncs_not_backfilled,
        ["s1"],
        "still reported until the backfill runs"
    );
}

#[test]
fn a_refused_database_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    conn.execute_batch("create table notes (id integer primary key, body text)")
        .unwrap();
    let e = upgrade(&mut conn).unwrap_err();
    assert!(matches!(e, Refusal::NoSyncRuns { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "its SQLite database has no v1_sync_runs table, so it is not a c1z v1 database (its tables: notes)"
    );
    let n: i64 = conn
        .query_row("select count(*) from sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "nothing created in a foreign database");
}

#[test]
fn the_latest_finished_sync_of_any_type_wins_ties_go_to_the_greater_id() {
    let (_d, conn) = current_db();
    add_sync(
        &conn,
        "2a",
        "full",
        "2025-01-01 00:00:00",
        Some("2025-01-01 00:05:00"),
    );
    add_sync(
        &conn,
        "2c",
        "resources_only",
        "2025-01-02 00:00:00",
        Some("2025-01-02 00:05:00"),
    );
    add_sync(
        &conn,
        "2b",
        "partial",
        "2025-01-02 00:00:01",
        Some("2025-01-02 00:05:00"),
    );
    add_sync(&conn, "2z", "full", "2025-01-03 00:00:00", None);
    let s = select(&conn, None).unwrap();
    assert_eq!(
        (s.sync.sync_id.as_str(), s.choice, s.syncs_in_file),
        ("2c", Choice::LatestFinished, 4)
    );
    assert_eq!(
        s.describe(),
        "read sync 2c (resources_only, ended 2025-01-02 00:05:00) of 4 in the file: the latest finished sync of any type, as the baton CLI reads"
    );
    let s = select(&conn, Some("2z")).unwrap();
    assert_eq!(s.choice, Choice::Requested);
    assert!(
        s.describe()
            .contains("(full, unfinished, started 2025-01-03 00:00:00)")
    );
    match select(&conn, Some("nope")) {
        Err(SelectError::NotFound { known, .. }) => assert_eq!(known, ["2z", "2b", "2c", "2a"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unfinished_only_and_empty_sync_tables() {
    let (_d, conn) = current_db();
    assert!(matches!(select(&conn, None), Err(SelectError::Empty)));
    add_sync(&conn, "2a", "full", "2025-01-01 00:00:00", None);
    add_sync(&conn, "2b", "partial", "2025-01-02 00:00:00", None);
    let s = select(&conn, None).unwrap();
    assert_eq!(
        (s.sync.sync_id.as_str(), s.choice),
        ("2b", Choice::NewestUnfinished)
    );
}

#[test]
fn stats_are_recomputed_when_absent_keeping_what_is_not_a_count() {
    let (_d, conn) = current_db();
    add_sync(
        &conn,
        "s",
        "full",
        "2025-01-01 00:00:00",
        Some("2025-01-01 00:01:00"),
    );
    conn.execute_batch(
        "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values ('user', x'', 's', '');
         insert into v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) values ('user', 'user:a', x'', 's', ''), ('user', 'user:b', x'', 's', '');",
    )
    .unwrap();
    let set = |stats: Option<&str>| {
        conn.execute("update v1_sync_runs set stats = ?1", [stats])
            .unwrap();
        all(&conn).unwrap().remove(0)
    };
    for absent in [
        None,
        Some("not json"),
        Some("{}"),
        Some(r#"{"resources": 0}"#),
    ] {
        let run = set(absent);
        assert!(run.stats_recomputed, "{absent:?}");
        assert_eq!(run.stats.as_ref().unwrap()["resources"], 2, "{absent:?}");
    }
    let run = set(Some(
        r#"{"grants": 9, "orgsync": {"accounts": {"total": 3}}}"#,
    ));
    let stats = run.stats.unwrap();
    assert_eq!(stats["resources"], 2);
    assert_eq!(
        stats.get("grants"),
        None,
        "a stored count is not trusted when recomputing"
    );
    assert_eq!(stats["orgsync"]["accounts"]["total"], 3);
    // Stored stats that count resource types are the file's word, as in baton-sdk.
    let run = set(Some(r#"{"resource_types": 1, "resources": 7}"#));
    assert!(!run.stats_recomputed);
    assert_eq!(run.stats.unwrap()["resources"], 7);
}

#[test]
fn an_empty_expansion_is_no_expansion() {
    let ent = entitlement_ref(
        "group:g:member",
        resource(rid("group", "g"), "g", None, vec![], None),
    );
    let g = grant("x".into(), ent, rid("iam_user", "u"), vec![]);
    assert_eq!(join_expansion(g.clone(), Some(vec![])), g);
    assert_eq!(join_expansion(g.clone(), None), g);
    let ge = grant_expandable("group:h:member", true);
    let joined = join_expansion(g.clone(), Some(ge.value.clone()));
    assert_eq!(
        any::find::<pb::GrantExpandable>(&joined.annotations)
            .unwrap()
            .entitlement_ids,
        ["group:h:member"]
    );
    // A GrantExpandable still inside the record (old files) is kept, not doubled.
    let mut old = g.clone();
    old.annotations.push(ge.clone());
    let other = pb::GrantExpandable {
        entitlement_ids: vec!["group:z:member".into()],
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(join_expansion(old.clone(), Some(other)), old);

    let (_d, mut conn) = current_db();
    add_sync(&conn, "s", "full", "2025-01-01 00:00:00", None);
    conn.execute(
        "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, data, sync_id, discovered_at) values ('group', 'g', 'e', 'iam_user', 'u', 'x', x'', x'', 's', '')",
        [],
    )
    .unwrap();
    assert_eq!(upgrade(&mut conn).unwrap().empty_expansions_cleared, 1);
    let e: Option<Vec<u8>> = conn
        .query_row("select expansion from v1_grants", [], |r| r.get(0))
        .unwrap();
    assert_eq!(e, None);
}
