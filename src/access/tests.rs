//! The expansion rules the fixtures cannot show (every IAM group membership is direct, no
//! grant carries a type filter), on a hand-made sync (grant-expansion.md §7).

use super::*;
use crate::model::Record;
use crate::model::any::pack;
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid};
use crate::model::pb;
use crate::store::c1z::{C1zReader, C1zWriter};

fn ge(sources: &[&str], shallow: bool, types: &[&str]) -> prost_types::Any {
    pack(&pb::GrantExpandable {
        entitlement_ids: sources.iter().map(|s| s.to_string()).collect(),
        shallow,
        resource_type_ids: types.iter().map(|s| s.to_string()).collect(),
    })
}

/// Entitlement `x:<r>:e` on resource `x:<r>`.
fn ent(r: &str) -> (pb::Resource, pb::Entitlement) {
    let res = resource(rid("x", r), r, None, vec![], None);
    let e = entitlement(
        format!("x:{r}:e"),
        res.clone(),
        "e",
        r.into(),
        String::new(),
        &[],
        vec![],
    );
    (res, e)
}

fn g(id: &str, r: &str, ptype: &str, pid: &str, anns: Vec<prost_types::Any>) -> Record {
    let (res, _) = ent(r);
    Record::Grant(grant(
        id.into(),
        entitlement_ref(&format!("x:{r}:e"), res),
        rid(ptype, pid),
        anns,
    ))
}

/// A →(deep) B →(shallow) C, D ←(deep, iam_user only) A; alice (iam_user) and robot (role)
/// hold A, bob holds B.
fn file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rules.c1z");
    let mut records = vec![];
    for r in ["a", "b", "c", "d"] {
        let (res, e) = ent(r);
        records.push(Record::Resource(res));
        records.push(Record::Entitlement(e));
    }
    for (t, id) in [
        ("iam_user", "alice"),
        ("iam_user", "bob"),
        ("role", "robot"),
    ] {
        records.push(Record::Resource(resource(
            rid(t, id),
            id,
            None,
            vec![],
            None,
        )));
    }
    records.extend([
        g("g1", "a", "iam_user", "alice", vec![]),
        g("g2", "a", "role", "robot", vec![]),
        g("g3", "b", "x", "a", vec![ge(&["x:a:e"], false, &[])]),
        g("g4", "b", "iam_user", "bob", vec![]),
        g("g5", "c", "x", "b", vec![ge(&["x:b:e"], true, &[])]),
        g(
            "g6",
            "d",
            "x",
            "a",
            vec![ge(&["x:a:e"], false, &["iam_user"])],
        ),
    ]);
    let mut w = C1zWriter::create(&path).unwrap();
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
    path
}

fn reached(r: &C1zReader, subject: Subject) -> Vec<(String, String, Vec<String>)> {
    let a = answer(
        r.connection(),
        &r.sync().sync_id,
        &subject,
        &Options::default(),
    )
    .unwrap();
    a.results
        .into_iter()
        .flat_map(|x| {
            let who = format!("{}:{}", x.principal.resource_type, x.principal.id);
            let what = match &x.target {
                Target::Entitlement { id, .. } => id.clone(),
                Target::AccountPrincipal => "account".into(),
            };
            x.paths.into_iter().map(move |p| {
                (
                    who.clone(),
                    what.clone(),
                    p.steps.into_iter().map(|s| s.grant).collect(),
                )
            })
        })
        .collect()
}

fn row(who: &str, what: &str, grants: &[&str]) -> (String, String, Vec<String>) {
    (
        who.into(),
        what.into(),
        grants.iter().map(|s| s.to_string()).collect(),
    )
}

#[test]
fn shallow_edges_carry_direct_holders_and_filters_carry_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let r = C1zReader::open(&file(dir.path())).unwrap();
    // alice: A, B through A, D (her type passes), not C (her B is not direct).
    assert_eq!(
        reached(&r, Subject::Principal("iam_user:alice".into())),
        vec![
            row("iam_user:alice", "x:a:e", &["g1"]),
            row("iam_user:alice", "x:b:e", &["g1", "g3"]),
            row("iam_user:alice", "x:d:e", &["g1", "g6"]),
        ]
    );
    // robot: like alice but no D (a role does not pass the filter).
    assert_eq!(
        reached(&r, Subject::Principal("role:robot".into())),
        vec![
            row("role:robot", "x:a:e", &["g2"]),
            row("role:robot", "x:b:e", &["g2", "g3"]),
        ]
    );
    // Backward, the same rules: C is held by the direct holders of B (bob, and A's
    // resource, which g3 is granted to) and by B's resource; not by alice or robot.
    assert_eq!(
        reached(&r, Subject::Entitlement("x:c:e".into())),
        vec![
            row("iam_user:bob", "x:c:e", &["g4", "g5"]),
            row("x:a", "x:c:e", &["g3", "g5"]),
            row("x:b", "x:c:e", &["g5"]),
        ]
    );
    assert_eq!(
        reached(&r, Subject::Entitlement("x:d:e".into())),
        vec![
            row("iam_user:alice", "x:d:e", &["g1", "g6"]),
            row("x:a", "x:d:e", &["g6"]),
        ]
    );
}
