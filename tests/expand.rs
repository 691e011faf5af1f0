//! `orgsync expand` through the real binary (issue 10): an unexpanded file gets exactly the
//! grants the worked example of grant-expansion.md §8 lists (entitlement, principal, sources
//! with their `is_direct`, GrantImmutable on derived grants only), written to `--file` with the
//! input untouched, or in place; a second run adds nothing; a GrantExpandable naming another
//! resource's entitlement fails as baton-sdk does (exit 2, nothing written) unless
//! `--skip-mismatched-sources`; bad input gets one line naming the file, exit 2, and no temp
//! file anywhere. baton-sdk's own unexpanded fixture, expanded, equals its expanded twin (from
//! the Go-written corpus beside the checkout, `support::baton_corpus`; not committed here).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use orgsync::model::any::{self, grant_expandable};
use orgsync::model::build::{entitlement_ref, grant, rid, stub};
use orgsync::model::{Record, pb};
use orgsync::store::c1z::{C1zReader, C1zWriter};

use support::{files_in, orgsync, run, text};

const GM: &str = "group:G:member";
const RA: &str = "role:A:assignment";
const RB: &str = "role:B:assignment";
const PP: &str = "iam_policy:P:attached";

/// (entitlement, principal type, principal id) → (sources with is_direct, immutable).
type Grants = BTreeMap<(String, String, String), (BTreeMap<String, bool>, bool)>;

fn ent(id: &str, rtype: &str, rid_: &str) -> pb::Entitlement {
    entitlement_ref(id, stub(rid(rtype, rid_), rid_))
}

/// grant-expansion.md §8: seven direct grants, three expandable edges, no expansion yet.
fn write_worked_example(path: &Path) {
    let ents = [
        ent(GM, "group", "G"),
        ent(RA, "role", "A"),
        ent(RB, "role", "B"),
        ent(PP, "iam_policy", "P"),
    ];
    let e = |id: &str| ents.iter().find(|x| x.id == id).unwrap().clone();
    let g = |id: &str, en: &str, pt: &str, p: &str, ge: Option<(&str, bool)>| {
        grant(
            id.to_string(),
            e(en),
            rid(pt, p),
            ge.map(|(s, shallow)| grant_expandable(s, shallow))
                .into_iter()
                .collect(),
        )
    };
    let grants = [
        g("g1", GM, "iam_user", "alice", None),
        g("g2", PP, "group", "G", Some((GM, true))),
        g("g3", RB, "iam_user", "bob", None),
        g("g4", RA, "role", "B", Some((RB, false))),
        g("g5", RA, "iam_user", "bob", None),
        g("g6", PP, "role", "A", Some((RA, false))),
        g("g7", RB, "iam_user", "carol", None),
    ];
    let mut records: Vec<Record> = ["group", "role", "iam_policy", "iam_user"]
        .iter()
        .map(|t| {
            Record::ResourceType(pb::ResourceType {
                id: t.to_string(),
                display_name: t.to_string(),
                ..Default::default()
            })
        })
        .collect();
    for (t, id) in [
        ("group", "G"),
        ("role", "A"),
        ("role", "B"),
        ("iam_policy", "P"),
        ("iam_user", "alice"),
        ("iam_user", "bob"),
        ("iam_user", "carol"),
    ] {
        records.push(Record::Resource(stub(rid(t, id), id)));
    }
    records.extend(ents.iter().cloned().map(Record::Entitlement));
    records.extend(grants.into_iter().map(Record::Grant));
    let mut w = C1zWriter::create(path).unwrap();
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
}

/// The grants of §8 after expansion, as the spec's table lists them.
fn worked_example_expanded() -> Grants {
    let key = |e: &str, t: &str, p: &str| (e.to_string(), t.to_string(), p.to_string());
    let src = |s: &[(&str, bool)]| -> BTreeMap<String, bool> {
        s.iter().map(|(k, d)| (k.to_string(), *d)).collect()
    };
    let mut want = Grants::new();
    // The direct grants, unchanged but for g5.
    for (e, t, p) in [
        (GM, "iam_user", "alice"),
        (PP, "group", "G"),
        (RB, "iam_user", "bob"),
        (RA, "role", "B"),
        (PP, "role", "A"),
        (RB, "iam_user", "carol"),
    ] {
        want.insert(key(e, t, p), (BTreeMap::new(), false));
    }
    want.insert(
        key(RA, "iam_user", "bob"),
        (src(&[(RA, true), (RB, true)]), false),
    );
    // Derived.
    want.insert(key(RA, "iam_user", "carol"), (src(&[(RB, true)]), true));
    want.insert(key(PP, "iam_user", "alice"), (src(&[(GM, true)]), true));
    want.insert(key(PP, "role", "B"), (src(&[(RA, true)]), true));
    want.insert(key(PP, "iam_user", "bob"), (src(&[(RA, true)]), true));
    want.insert(key(PP, "iam_user", "carol"), (src(&[(RA, false)]), true));
    want
}

/// Every grant of the file's chosen sync, keyed by (entitlement, principal).
fn grants_of(file: &Path) -> Grants {
    let reader = C1zReader::open(file).unwrap();
    let mut out = Grants::new();
    for g in reader.grants(&Default::default()).unwrap() {
        let p = g.principal.as_ref().unwrap().id.clone().unwrap();
        let sources = g
            .sources
            .map(|s| {
                s.sources
                    .into_iter()
                    .map(|(k, v)| (k, v.is_direct))
                    .collect()
            })
            .unwrap_or_default();
        let immutable = any::find::<pb::GrantImmutable>(&g.annotations).is_some();
        let k = (g.entitlement.unwrap().id, p.resource_type, p.resource);
        assert!(
            out.insert(k.clone(), (sources, immutable)).is_none(),
            "one grant per (entitlement, principal): {k:?}"
        );
    }
    out
}

/// `orgsync expand ARGS` with `TMPDIR` = `tmp`.
fn expand(args: &[&str], tmp: &Path) -> Output {
    run(orgsync("http://127.0.0.1:9")
        .env("TMPDIR", tmp)
        .arg("expand")
        .args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn expand_writes_the_worked_example_s_grants_to_a_copy_then_in_place_adds_nothing() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    let input = dir.path().join("in.c1z");
    let out = dir.path().join("out.c1z");
    write_worked_example(&input);
    let before = std::fs::read(&input).unwrap();
    assert_eq!(grants_of(&input).len(), 7);

    let o = expand(&[s(&input), "--file", s(&out), "-o", "json"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is untouched"
    );
    assert_eq!(grants_of(&out), worked_example_expanded());
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["report"]["grants_created"], 5, "{report}");
    assert_eq!(report["report"]["grants_updated"], 1, "{report}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("5 derived grants written, 1 grants gained sources"),
        "{err}"
    );
    // The stored counts include the derived grants.
    let reader = C1zReader::open(&out).unwrap();
    assert_eq!(reader.sync().stats.as_ref().unwrap()["grants"], 12);
    drop(reader);

    // In place, a second time: nothing changes (R23), and nothing is left behind.
    let o = expand(&[s(&out)], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("0 derived grants written, 0 grants"),
        "{}",
        text(&o)
    );
    assert_eq!(grants_of(&out), worked_example_expanded());
    assert_eq!(files_in(dir.path()), ["in.c1z", "out.c1z"]);
    assert!(
        files_in(tmp.path()).is_empty(),
        "{:?}",
        files_in(tmp.path())
    );

    // `inspect` shows the derived grants of the file.
    let o = run(orgsync("http://127.0.0.1:9").args([
        "inspect",
        "grants",
        "--file",
        s(&out),
        "--entitlement",
        PP,
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    for p in ["alice", "bob", "carol", "G", "A", "B"] {
        assert!(shown.contains(p), "{p} holds {PP}: {shown}");
    }
}

#[test]
fn a_mismatched_source_fails_as_baton_sdk_does_unless_skipped() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    let input = dir.path().join("in.c1z");
    // A grant to role B whose GrantExpandable names group G's entitlement: baton-sdk fails.
    let ents = [ent(GM, "group", "G"), ent(PP, "iam_policy", "P")];
    let records = vec![
        Record::Entitlement(ents[0].clone()),
        Record::Entitlement(ents[1].clone()),
        Record::Grant(grant(
            "g1".into(),
            ents[0].clone(),
            rid("iam_user", "alice"),
            vec![],
        )),
        Record::Grant(grant(
            "bad".into(),
            ents[1].clone(),
            rid("role", "B"),
            vec![grant_expandable(GM, false)],
        )),
    ];
    let mut w = C1zWriter::create(&input).unwrap();
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
    let before = std::fs::read(&input).unwrap();

    let o = expand(&[s(&input)], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("in.c1z") && err.contains("grant bad"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before, "nothing written");
    assert_eq!(files_in(dir.path()), ["in.c1z"]);
    assert!(files_in(tmp.path()).is_empty());

    let o = expand(&[s(&input), "--skip-mismatched-sources"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 mismatched"),
        "{}",
        text(&o)
    );
    assert_eq!(
        grants_of(&input).len(),
        2,
        "no grant derived from the dropped edge"
    );
}

#[test]
fn bad_input_is_refused_in_one_line_with_exit_2_and_no_litter() {
    let dir = support::tempdir();
    let tmp = support::tempdir();
    let good = dir.path().join("good.c1z");
    write_worked_example(&good);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text.c1z", b"hello, world\n".to_vec(), "C1ZF header"),
        (
            "truncated.c1z",
            bytes[..bytes.len() / 2].to_vec(),
            "truncated",
        ),
        ("v3.c1z", b"C1Z3\0rest".to_vec(), "--storage-engine sqlite"),
        ("empty.c1z", vec![], "empty"),
    ];
    for (name, content, why) in &cases {
        let f = dir.path().join(name);
        std::fs::write(&f, content).unwrap();
        let copy = dir.path().join("copy.c1z");
        for args in [vec![s(&f)], vec![s(&f), "--file", s(&copy)]] {
            let o = expand(&args, tmp.path());
            assert_eq!(o.status.code(), Some(2), "{name} {args:?}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
            assert!(err.contains(name), "{name}: names the file: {err}");
            assert!(err.contains(why), "{name}: says why: {err}");
            assert_eq!(&std::fs::read(&f).unwrap(), content, "{name} untouched");
        }
    }
    let missing = dir.path().join("missing.c1z");
    let o = expand(&[s(&missing)], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"));
    let o = expand(
        &[s(&good), "--sync-id", "2zzzzzzzzzzzzzzzzzzzzzzzzzz"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        files_in(tmp.path()).is_empty(),
        "{:?}",
        files_in(tmp.path())
    );
    let mut left = files_in(dir.path());
    left.retain(|f| !cases.iter().any(|(n, _, _)| n == f));
    assert_eq!(left, ["good.c1z"], "no temp file next to the inputs");
    // --help has examples.
    let o = run(orgsync("http://127.0.0.1:9").args(["expand", "--help"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Examples:"));
}

/// baton-sdk's `pkg/sync/expand/testdata` pair (in the Go-written corpus,
/// [`support::baton_corpus`]): `orgsync expand` of the unexpanded file yields exactly the grants
/// (entitlement, principal, source keys) of the expanded one.
#[test]
fn the_baton_sdk_fixture_pair_expands_to_its_twin() {
    let Some(dir) = support::baton_corpus() else {
        eprintln!(
            "skipped: no Go-written c1z corpus (set ORGSYNC_BATON_C1Z_DIR or place it in ../shared/fixtures/baton-c1z)"
        );
        return;
    };
    let input = dir.join("sync.36zfOAoWMxQdISbixanQCRBiX7E.unexpanded");
    let twin = dir.join("sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded");
    let work = support::tempdir();
    let tmp = support::tempdir();
    let out = work.path().join("out.c1z");
    let o = expand(&[s(&input), "--file", s(&out)], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The twin predates `is_direct`: compare keys of sources, and immutability.
    let keys = |g: Grants| -> BTreeMap<(String, String, String), (BTreeSet<String>, bool)> {
        g.into_iter()
            .map(|(k, (s, imm))| (k, (s.into_keys().collect(), imm)))
            .collect()
    };
    let got = keys(grants_of(&out));
    let want = keys(grants_of(&twin));
    assert_eq!(got.len(), 14_981);
    assert_eq!(got, want);
}
