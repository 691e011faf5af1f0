//! Unit tests of the pure algorithm: every case of grant-expansion.md §7, the worked example
//! of §8, re-running (R23) and order independence (R8, R18).

use std::collections::BTreeMap;

use crate::model::pb;

use super::{Dropped, ExpandError, GraphBuilder, Holder, Options, Report, SourceMismatch};

type Sources = Vec<(String, bool)>;

/// A grant of the test world. Principals are written `type/id`; an entitlement id
/// `type:id:slug` belongs to the resource `type/id`.
#[derive(Debug, Clone)]
struct G {
    id: String,
    ent: String,
    ptype: String,
    pid: String,
    ge: Option<pb::GrantExpandable>,
    sources: Option<Sources>,
}

fn g(id: &str, ent: &str, principal: &str) -> G {
    let (ptype, pid) = principal.split_once('/').expect("principal as type/id");
    G {
        id: id.into(),
        ent: ent.into(),
        ptype: ptype.into(),
        pid: pid.into(),
        ge: None,
        sources: None,
    }
}

impl G {
    fn ge(self, ids: &[&str], shallow: bool) -> G {
        self.ge_types(ids, shallow, &[])
    }
    fn ge_types(mut self, ids: &[&str], shallow: bool, types: &[&str]) -> G {
        self.ge = Some(pb::GrantExpandable {
            entitlement_ids: ids.iter().map(|s| s.to_string()).collect(),
            shallow,
            resource_type_ids: types.iter().map(|s| s.to_string()).collect(),
        });
        self
    }
    fn sources(mut self, s: &[(&str, bool)]) -> G {
        self.sources = Some(src(s));
        self
    }
}

fn src(s: &[(&str, bool)]) -> Sources {
    let mut v: Sources = s.iter().map(|(k, d)| (k.to_string(), *d)).collect();
    v.sort();
    v
}

fn resource_of(ent: &str) -> pb::ResourceId {
    let mut parts = ent.splitn(3, ':');
    pb::ResourceId {
        resource_type: parts.next().unwrap_or_default().into(),
        resource: parts.next().unwrap_or_default().into(),
        baton_resource: false,
    }
}

/// The result of one run, by grant id.
#[derive(Debug, PartialEq)]
struct Run {
    report: Report,
    /// derived grant id → (sources, id of the grant whose principal message it carries)
    created: BTreeMap<String, (Sources, String)>,
    /// existing grant id → its new sources
    updated: BTreeMap<String, Sources>,
    /// creation order of the derived grants
    created_order: Vec<String>,
}

fn expand(ents: &[&str], grants: &[G], options: Options) -> Result<Run, ExpandError> {
    let mut b = GraphBuilder::new();
    for x in grants {
        if let Some(ge) = &x.ge {
            b.add_expandable(&x.id, &x.ent, &x.ptype, &x.pid, ge);
        }
    }
    for e in ents {
        b.add_entitlement(e, Some(&resource_of(e)));
    }
    let mut plan = b.build(&options)?;
    let messages: Vec<Option<pb::GrantSources>> = grants
        .iter()
        .map(|x| {
            x.sources
                .as_ref()
                .map(|s| super::engine::sources_message(&as_refs(s)))
        })
        .collect();
    for (i, x) in grants.iter().enumerate() {
        plan.add_grant(Holder {
            entitlement_id: &x.ent,
            principal_type: &x.ptype,
            principal_id: &x.pid,
            sources: messages[i].as_ref(),
            handle: i as u64,
            principal: i as u32,
        });
    }
    let total = plan.node_count();
    let mut last = (0, 0);
    let outcome = plan.run(&mut |d, t| last = (d, t));
    assert_eq!(last, (total, total), "progress reaches the end");
    let owned =
        |s: &[(&str, bool)]| -> Sources { s.iter().map(|(k, d)| (k.to_string(), *d)).collect() };
    let mut run = Run {
        report: outcome.report().clone(),
        created: BTreeMap::new(),
        updated: BTreeMap::new(),
        created_order: vec![],
    };
    for d in outcome.created() {
        let id = d.grant_id();
        run.created_order.push(id.clone());
        let origin = grants[d.principal as usize].id.clone();
        assert!(
            run.created
                .insert(id.clone(), (owned(&d.sources), origin))
                .is_none(),
            "{id} created twice"
        );
    }
    for u in outcome.updated() {
        run.updated
            .insert(grants[u.handle as usize].id.clone(), owned(&u.sources));
    }
    Ok(run)
}

fn as_refs(s: &Sources) -> Vec<(&str, bool)> {
    s.iter().map(|(k, d)| (k.as_str(), *d)).collect()
}

fn ok(ents: &[&str], grants: &[G]) -> Run {
    expand(ents, grants, Options::default()).expect("expansion succeeds")
}

/// The grants after a run: updated sources applied, derived grants appended.
fn apply(grants: &[G], run: &Run) -> Vec<G> {
    let mut out: Vec<G> = grants
        .iter()
        .map(|x| match run.updated.get(&x.id) {
            Some(s) => G {
                sources: Some(s.clone()),
                ..x.clone()
            },
            None => x.clone(),
        })
        .collect();
    for id in &run.created_order {
        let (sources, origin) = &run.created[id];
        let o = grants.iter().find(|x| &x.id == origin).expect("origin");
        // id = <ent>:<ptype>:<pid>
        let ent = id
            .strip_suffix(&format!(":{}:{}", o.ptype, o.pid))
            .expect("derived id ends with the principal");
        out.push(G {
            id: id.clone(),
            ent: ent.into(),
            ptype: o.ptype.clone(),
            pid: o.pid.clone(),
            ge: None,
            sources: Some(sources.clone()),
        });
    }
    out
}

/// Every grant after a run, by id: (entitlement, principal, sources or None = untouched).
fn final_state(grants: &[G], run: &Run) -> BTreeMap<String, (String, String, Option<Sources>)> {
    apply(grants, run)
        .into_iter()
        .map(|x| (x.id, (x.ent, format!("{}/{}", x.ptype, x.pid), x.sources)))
        .collect()
}

fn assert_rerun_is_noop(ents: &[&str], grants: &[G], run: &Run) {
    let again = ok(ents, &apply(grants, run));
    assert!(
        again.created.is_empty(),
        "re-run created {:?}",
        again.created
    );
    assert!(
        again.updated.is_empty(),
        "re-run updated {:?}",
        again.updated
    );
}

// ---------------------------------------------------------------------------------------
// §8 worked example

const GM: &str = "group:G:member";
const RA: &str = "role:A:assignment";
const RB: &str = "role:B:assignment";
const PP: &str = "iam_policy:P:attached";

fn worked_example() -> Vec<G> {
    vec![
        g("g1", GM, "iam_user/alice"),
        g("g2", PP, "group/G").ge(&[GM], true),
        g("g3", RB, "iam_user/bob"),
        g("g4", RA, "role/B").ge(&[RB], false),
        g("g5", RA, "iam_user/bob"),
        g("g6", PP, "role/A").ge(&[RA], false),
        g("g7", RB, "iam_user/carol"),
    ]
}

#[test]
fn worked_example_of_the_spec() {
    let grants = worked_example();
    let run = ok(&[GM, RA, RB, PP], &grants);
    let mut created = BTreeMap::new();
    created.insert(
        "iam_policy:P:attached:iam_user:alice".to_string(),
        (src(&[(GM, true)]), "g1".to_string()),
    );
    // bob's P grant is derived from g5, his A grant, and carries g5's principal message.
    created.insert(
        "iam_policy:P:attached:iam_user:bob".to_string(),
        (src(&[(RA, true)]), "g5".to_string()),
    );
    created.insert(
        "iam_policy:P:attached:iam_user:carol".to_string(),
        (src(&[(RA, false)]), "g7".to_string()),
    );
    created.insert(
        "iam_policy:P:attached:role:B".to_string(),
        (src(&[(RA, true)]), "g4".to_string()),
    );
    created.insert(
        "role:A:assignment:iam_user:carol".to_string(),
        (src(&[(RB, true)]), "g7".to_string()),
    );
    assert_eq!(run.created, created);
    let mut updated = BTreeMap::new();
    updated.insert("g5".to_string(), src(&[(RA, true), (RB, true)]));
    assert_eq!(run.updated, updated);
    assert_eq!(run.report.grants_created, 5);
    assert_eq!(run.report.grants_updated, 1);
    assert_eq!(run.report.edges, 3);
    assert_eq!(run.report.cycles_collapsed, 0);
    assert_eq!(run.report.longest_path, 2);
    // carol's P grant derives from her derived A grant and so carries g7's principal
    // message (checked in `created` above).
    assert_rerun_is_noop(&[GM, RA, RB, PP], &grants, &run);
}

// ---------------------------------------------------------------------------------------
// §7 edge cases

const A: &str = "group:a:member";
const B: &str = "group:b:member";
const C: &str = "group:c:member";
const D: &str = "group:d:member";
const X: &str = "group:x:member";

#[test]
fn shallow_chain_stops_at_derived_holders() {
    // A →(deep) B →(shallow) C
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("bc", C, "group/b").ge(&[B], true),
        g("alice", A, "iam_user/alice"),
        g("bob", B, "iam_user/bob"),
    ];
    let run = ok(&[A, B, C], &grants);
    let ids: Vec<_> = run.created.keys().cloned().collect();
    assert_eq!(
        ids,
        vec![
            "group:b:member:iam_user:alice",
            "group:c:member:group:a",
            "group:c:member:iam_user:bob",
        ]
    );
    assert_eq!(
        run.created["group:b:member:iam_user:alice"].0,
        src(&[(A, true)])
    );
    assert_eq!(
        run.created["group:c:member:iam_user:bob"].0,
        src(&[(B, true)])
    );
    // group/a holds B directly (the expandable grant itself) and passes the shallow edge.
    assert_eq!(run.created["group:c:member:group:a"].0, src(&[(B, true)]));
    assert!(run.updated.is_empty());
    assert_rerun_is_noop(&[A, B, C], &grants, &run);
}

#[test]
fn deep_chain_records_immediate_predecessors() {
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("bc", C, "group/b").ge(&[B], false),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A, B, C], &grants);
    assert_eq!(
        run.created["group:b:member:iam_user:alice"],
        (src(&[(A, true)]), "alice".into())
    );
    // Key B (not the root A), indirect; the principal message is still alice's own.
    assert_eq!(
        run.created["group:c:member:iam_user:alice"],
        (src(&[(B, false)]), "alice".into())
    );
    assert_eq!(run.created["group:c:member:group:a"].0, src(&[(B, true)]));
    assert_eq!(run.created.len(), 3);
    assert_eq!(run.report.longest_path, 2);
    assert_rerun_is_noop(&[A, B, C], &grants, &run);
}

#[test]
fn direct_grant_also_derived_gains_self_key() {
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("alice-a", A, "iam_user/alice"),
        g("alice-b", B, "iam_user/alice"),
    ];
    let run = ok(&[A, B], &grants);
    assert!(run.created.is_empty(), "no second grant: {:?}", run.created);
    assert_eq!(run.updated.len(), 1);
    assert_eq!(run.updated["alice-b"], src(&[(B, true), (A, true)]));
    assert_rerun_is_noop(&[A, B], &grants, &run);
}

#[test]
fn diamond_gives_one_grant_with_two_keys() {
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("ac", C, "group/a").ge(&[A], false),
        g("bd", D, "group/b").ge(&[B], false),
        g("cd", D, "group/c").ge(&[C], false),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A, B, C, D], &grants);
    assert_eq!(
        run.created["group:d:member:iam_user:alice"].0,
        src(&[(B, false), (C, false)])
    );
    assert_eq!(
        run.created
            .keys()
            .filter(|k| k.ends_with("iam_user:alice"))
            .count(),
        3
    );
    assert_rerun_is_noop(&[A, B, C, D], &grants, &run);
}

#[test]
fn same_principal_holding_the_source_twice_is_direct() {
    for indirect_first in [true, false] {
        let mut holders = vec![
            // sources without key A: an indirect holder of A
            g("alice-a-derived", A, "iam_user/alice").sources(&[(X, false)]),
            g("alice-a-direct", A, "iam_user/alice"),
        ];
        if !indirect_first {
            holders.reverse();
        }
        let mut grants = vec![g("ab", B, "group/a").ge(&[A], false)];
        grants.extend(holders);
        let run = ok(&[A, B, X], &grants);
        assert_eq!(run.created.len(), 1, "one derived grant");
        assert_eq!(
            run.created["group:b:member:iam_user:alice"].0,
            src(&[(A, true)])
        );
    }
    // With only the indirect holder the key says so.
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("alice-a-derived", A, "iam_user/alice").sources(&[(X, false)]),
    ];
    let run = ok(&[A, B, X], &grants);
    assert_eq!(
        run.created["group:b:member:iam_user:alice"].0,
        src(&[(A, false)])
    );
}

#[test]
fn cycle_members_do_not_pass_holders_to_each_other() {
    // X → A ↔ B → D
    let grants = vec![
        g("xa", A, "group/x").ge(&[X], false),
        g("ab", B, "group/a").ge(&[A], false),
        g("ba", A, "group/b").ge(&[B], false),
        g("bd", D, "group/b").ge(&[B], false),
        g("xu", X, "iam_user/xu"),
        g("au", A, "iam_user/au"),
        g("bu", B, "iam_user/bu"),
    ];
    let ents = [X, A, B, D];
    let run = ok(&ents, &grants);
    assert_eq!(run.report.cycles_collapsed, 1);
    assert_eq!(run.report.cycle_edges_removed, 2);
    let c = |k: &str| run.created.get(k).map(|v| v.0.clone());
    // X's holders get A and B, each with key X.
    assert_eq!(c("group:a:member:iam_user:xu"), Some(src(&[(X, true)])));
    assert_eq!(c("group:b:member:iam_user:xu"), Some(src(&[(X, true)])));
    // A's holders do not get B, and B's holders do not get A.
    assert_eq!(c("group:b:member:iam_user:au"), None);
    assert_eq!(c("group:a:member:iam_user:bu"), None);
    assert_eq!(c("group:b:member:group:b"), None);
    // Holders of A and of B get D.
    assert_eq!(c("group:d:member:iam_user:au"), Some(src(&[(A, true)])));
    assert_eq!(c("group:d:member:iam_user:bu"), Some(src(&[(B, true)])));
    assert_eq!(
        c("group:d:member:iam_user:xu"),
        Some(src(&[(A, false), (B, false)]))
    );
    // The expandable grants' own principals are holders too: group/a holds B (ab), group/x
    // holds A (xa); group/a and group/b do not get A or B through the cycle.
    assert_eq!(c("group:d:member:group:a"), Some(src(&[(B, true)])));
    assert_eq!(c("group:d:member:group:x"), Some(src(&[(A, true)])));
    assert_eq!(c("group:a:member:group:a"), None);
    // group/b already holds D (the expandable grant bd) and holds A directly (ba).
    assert_eq!(run.updated["bd"], src(&[(D, true), (A, true)]));
    assert_eq!(run.created.len(), 7);
    assert_eq!(run.updated.len(), 1);
    assert_rerun_is_noop(&ents, &grants, &run);
}

#[test]
fn three_group_cycle_derives_nothing() {
    // TestExpandGrantImmutableCycle: g1 ⊂ g2 ⊂ g3 ⊂ g1
    let (g1, g2, g3) = ("group:g1:member", "group:g2:member", "group:g3:member");
    let grants = vec![
        g("12", g2, "group/g1").ge(&[g1], false),
        g("23", g3, "group/g2").ge(&[g2], false),
        g("31", g1, "group/g3").ge(&[g3], false),
        g("u1", g1, "iam_user/u1"),
        g("u2", g2, "iam_user/u2"),
    ];
    let run = ok(&[g1, g2, g3], &grants);
    assert!(run.created.is_empty());
    assert!(run.updated.is_empty());
    assert_eq!(run.report.cycles_collapsed, 1);
    assert_eq!(run.report.nodes, 1);
}

#[test]
fn self_grant_has_no_effect() {
    let grants = vec![
        g("self", A, "group/a").ge(&[A], false),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A], &grants);
    assert!(run.created.is_empty());
    assert!(run.updated.is_empty());
    assert_eq!(run.report.cycles_collapsed, 1);
    assert_eq!(run.report.cycle_edges_removed, 1);
}

#[test]
fn missing_source_is_dropped_and_counted() {
    let grants = vec![
        // The first id has no row (a trust principal in an unsynced account); the second
        // still counts.
        g("ab", B, "group/a").ge(&["group:a:unsynced", A], false),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A, B], &grants);
    assert_eq!(
        run.report.dropped,
        Dropped {
            source_missing: 1,
            ..Dropped::default()
        }
    );
    assert_eq!(run.report.edge_occurrences, 2);
    assert_eq!(run.report.edges, 1);
    assert_eq!(run.created.len(), 1);
}

#[test]
fn source_of_another_resource_fails_or_is_skipped() {
    let grants = vec![
        g("bad", B, "group/a").ge(&[C, A], false),
        g("alice", A, "iam_user/alice"),
        g("carl", C, "iam_user/carl"),
    ];
    let err = expand(&[A, B, C], &grants, Options::default()).unwrap_err();
    match &err {
        ExpandError::SourceMismatch {
            grant,
            entitlement,
            entitlement_resource,
            principal,
        } => {
            assert_eq!(grant, "bad");
            assert_eq!(entitlement, C);
            assert_eq!(entitlement_resource, "group:c");
            assert_eq!(principal, "group:a");
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("bad") && msg.contains(C), "{msg}");

    let run = expand(
        &[A, B, C],
        &grants,
        Options {
            source_mismatch: SourceMismatch::Skip,
        },
    )
    .unwrap();
    assert_eq!(run.report.dropped.source_mismatch, 1);
    let ids: Vec<_> = run.created.keys().cloned().collect();
    assert_eq!(ids, vec!["group:b:member:iam_user:alice"]);
}

#[test]
fn missing_destination_gets_nothing() {
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A], &grants);
    assert!(run.created.is_empty());
    assert_eq!(run.report.dropped.destination_missing, 1);
    assert_eq!(run.report.edges, 0);
}

#[test]
fn entitlement_without_resource_fails() {
    let ab = g("ab", B, "group/a").ge(&[A], false);
    let mut b = GraphBuilder::new();
    b.add_expandable("ab", B, "group", "a", ab.ge.as_ref().unwrap());
    b.add_entitlement(A, Some(&resource_of(A)));
    b.add_entitlement(B, None);
    match b.build(&Options::default()) {
        Err(ExpandError::EntitlementWithoutResource { entitlement }) => assert_eq!(entitlement, B),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn type_filter_limits_principal_types() {
    let grants = vec![
        g("ab", B, "group/a").ge_types(&[A], false, &["iam_user"]),
        g("alice", A, "iam_user/alice"),
        g("role-r", A, "role/r"),
    ];
    let run = ok(&[A, B], &grants);
    let ids: Vec<_> = run.created.keys().cloned().collect();
    assert_eq!(ids, vec!["group:b:member:iam_user:alice"]);
}

#[test]
fn duplicate_edges_fold_deep_and_unfiltered_win() {
    // Holders of B: group/a (direct), alice (derived through A), role/r, sso_user/s.
    let holders = || {
        vec![
            g("ab", B, "group/a").ge(&[A], false),
            g("alice", A, "iam_user/alice"),
            g("role-r", B, "role/r"),
            g("sso", B, "sso_user/s"),
        ]
    };
    // Two pending rows with the edge B → C: shallow + [iam_user] and deep + [role] fold to
    // deep + {iam_user, role}.
    let mut grants = holders();
    grants.push(g("bc1", C, "group/b").ge_types(&[B], true, &["iam_user"]));
    grants.push(g("bc2", C, "group/b").ge_types(&[B], false, &["role"]));
    let run = ok(&[A, B, C], &grants);
    let ids: Vec<_> = run.created.keys().cloned().collect();
    assert_eq!(
        ids,
        vec![
            "group:b:member:iam_user:alice",
            // alice's B grant is derived: she passes only because the edge became deep.
            "group:c:member:iam_user:alice",
            "group:c:member:role:r",
        ]
    );
    assert_eq!(run.report.edges, 2);
    assert_eq!(run.report.edge_occurrences, 3);

    // Unfiltered wins: shallow unfiltered + deep [role] = deep unfiltered.
    let mut grants = holders();
    grants.push(g("bc1", C, "group/b").ge_types(&[B], true, &[]));
    grants.push(g("bc2", C, "group/b").ge_types(&[B], false, &["role"]));
    let run = ok(&[A, B, C], &grants);
    let ids: Vec<_> = run
        .created
        .keys()
        .filter(|k| k.starts_with(C))
        .cloned()
        .collect();
    assert_eq!(
        ids,
        vec![
            "group:c:member:group:a",
            "group:c:member:iam_user:alice",
            "group:c:member:role:r",
            "group:c:member:sso_user:s",
        ]
    );

    // The same id twice in one GrantExpandable is one edge.
    let grants = vec![
        g("ab", B, "group/a").ge(&[A, A], true),
        g("alice", A, "iam_user/alice"),
    ];
    let run = ok(&[A, B], &grants);
    assert_eq!(run.report.edges, 1);
    assert_eq!(run.created.len(), 1);
}

#[test]
fn long_chains_are_reported_not_refused() {
    // group-0 ⊂ group-1 ⊂ … ⊂ group-24: longer than baton-sdk's SQLite limit of 20.
    let ents: Vec<String> = (0..25).map(|i| format!("group:g{i}:member")).collect();
    let mut grants = vec![g("u", &ents[0], "iam_user/u")];
    for i in 1..25 {
        grants.push(
            g(&format!("n{i}"), &ents[i], &format!("group/g{}", i - 1))
                .ge(&[ents[i - 1].as_str()], false),
        );
    }
    let refs: Vec<&str> = ents.iter().map(|s| s.as_str()).collect();
    let run = ok(&refs, &grants);
    assert_eq!(run.report.longest_path, 24);
    assert_eq!(
        run.created[&format!("{}:iam_user:u", ents[24])].0,
        src(&[(ents[23].as_str(), false)])
    );
    assert_eq!(run.created.len(), 24 + 23 * 24 / 2);
}

#[test]
fn existing_sources_are_kept_and_never_downgraded() {
    // alice's B grant already names A as indirect and another key; she now holds A directly.
    let grants = vec![
        g("ab", B, "group/a").ge(&[A], false),
        g("alice-a", A, "iam_user/alice"),
        g("alice-b", B, "iam_user/alice").sources(&[(A, false), (X, true)]),
        g("bob-a", A, "iam_user/bob").sources(&[(X, false)]),
        g("bob-b", B, "iam_user/bob").sources(&[(A, true)]),
    ];
    let run = ok(&[A, B, X], &grants);
    assert_eq!(run.updated["alice-b"], src(&[(A, true), (X, true)]));
    // bob's only A grant is indirect, but his key A stays direct; nothing changes.
    assert!(!run.updated.contains_key("bob-b"));
    assert_eq!(run.report.grants_updated, 1);
}

// ---------------------------------------------------------------------------------------
// Order independence and re-running on generated graphs

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Groups with members, nested groups (with cycles), shallow and filtered edges, and a few
/// users holding a group both directly and through nesting.
fn generated(seed: u64) -> (Vec<String>, Vec<G>) {
    let mut rng = Rng(seed);
    let n = 30;
    let ents: Vec<String> = (0..n).map(|i| format!("group:g{i}:member")).collect();
    let mut grants = Vec::new();
    for k in 0..45 {
        let (s, d) = (rng.below(n), rng.below(n));
        let shallow = rng.below(4) == 0;
        let types: &[&str] = match rng.below(5) {
            0 => &["iam_user"],
            1 => &["group"],
            _ => &[],
        };
        grants.push(
            g(&format!("e{k}"), &ents[d], &format!("group/g{s}")).ge_types(
                &[ents[s].as_str()],
                shallow,
                types,
            ),
        );
    }
    for k in 0..60 {
        let (e, u) = (rng.below(n), rng.below(12));
        let ptype = if rng.below(6) == 0 {
            "role"
        } else {
            "iam_user"
        };
        grants.push(g(&format!("m{k}"), &ents[e], &format!("{ptype}/u{u}")));
    }
    (ents, grants)
}

#[test]
fn result_does_not_depend_on_row_order() {
    for seed in 1..40u64 {
        let (ents, grants) = generated(seed * 7919);
        let refs: Vec<&str> = ents.iter().map(|s| s.as_str()).collect();
        let base = ok(&refs, &grants);
        let want = final_state(&grants, &base);
        let mut rng = Rng(seed);
        for _ in 0..4 {
            let mut shuffled = grants.clone();
            rng.shuffle(&mut shuffled);
            let mut ents2 = refs.clone();
            rng.shuffle(&mut ents2);
            let run = ok(&ents2, &shuffled);
            assert_eq!(final_state(&shuffled, &run), want, "seed {seed}");
            assert_eq!(run.report.grants_created, base.report.grants_created);
            assert_eq!(run.report.grants_updated, base.report.grants_updated);
            assert_eq!(run.report.cycles_collapsed, base.report.cycles_collapsed);
        }
        assert_rerun_is_noop(&refs, &grants, &base);
    }
}

#[test]
fn generated_graphs_exercise_every_rule() {
    // Guards the generator: the order test above is only meaningful if these occur.
    let (mut cycles, mut updated, mut indirect, mut created) = (0, 0, 0, 0);
    for seed in 1..40u64 {
        let (ents, grants) = generated(seed * 7919);
        let refs: Vec<&str> = ents.iter().map(|s| s.as_str()).collect();
        let run = ok(&refs, &grants);
        cycles += run.report.cycles_collapsed;
        updated += run.report.grants_updated;
        created += run.report.grants_created;
        indirect += run
            .created
            .values()
            .filter(|(s, _)| s.iter().any(|(_, d)| !d))
            .count();
    }
    assert!(cycles > 0 && updated > 0 && indirect > 0 && created > 100);
}
