//! Grant expansion at the end of a sync, against an oracle (issue 10): a sync of
//! `fixtures/org.json` holds exactly the derived grants the oracle below computes from the
//! fixture and the seeder's manifest alone: the direct grants of the resource model
//! (shared/spec/resource-model.md §4, IAM through `support::expect`, Identity Center here),
//! their GrantExpandable edges (a grant to a group: its `member`, shallow; to a role: its
//! `assignment`; to an SSO group: its `member`; to a permission-set binding: its `assigned`),
//! and a plain fixpoint: holders of a source get the destination, only direct holders through
//! a shallow edge, only edges whose two entitlements exist, and cycles as baton-sdk treats
//! them (one node: no propagation inside; edges in and out join all of it). The sync reads the whole
//! organization (the suspended account holds no usable access), so it is written `full`; a
//! filtered one is `partial`, says why, and the summary says so.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use orgsync::model::pb;
use orgsync::store::c1z::{C1zReader, Filter};

use support::{Moto, account_id, expect, fixture, sync, text};

/// (entitlement, principal type, principal id).
type Key = (String, String, String);

/// The direct grants and the entitlements the fixture gives, as the resource model names them.
#[derive(Default)]
struct Direct {
    grants: BTreeSet<Key>,
    entitlements: BTreeSet<String>,
}

/// Splits an IAM grant id (`<entitlement>:<principal type>:<principal id>`, where the
/// entitlement ends in `:member`, `:assignment` or `:attached`).
fn split_iam_grant(id: &str) -> Key {
    for slug in [":member:", ":assignment:", ":attached:"] {
        if let Some(at) = id.find(slug) {
            let ent = &id[..at + slug.len() - 1];
            let rest = &id[at + slug.len()..];
            let (ptype, pid) = rest.split_once(':').unwrap();
            return (ent.to_string(), ptype.to_string(), pid.to_string());
        }
    }
    panic!("not an IAM grant id: {id}")
}

/// IAM of every active account, from the IAM oracle the other tests use.
fn iam(fx: &Value, manifest: &Value, d: &mut Direct) {
    for (name, _, _, spec) in expect::accounts(fx, manifest) {
        if spec["status"].as_str().is_some_and(|s| s != "ACTIVE") {
            continue;
        }
        let e = expect::expected_account(fx, manifest, &name);
        d.entitlements.extend(e.entitlements);
        d.grants.extend(e.grants.iter().map(|g| split_iam_grant(g)));
    }
}

/// Identity Center: group memberships, assignments (account and binding grants), and the
/// bindings' policy grants.
fn identity_center(fx: &Value, manifest: &Value, d: &mut Direct) {
    let ic = &manifest["identity_center"];
    let store = ic["identity_store_id"].as_str().unwrap();
    let region = manifest["region"].as_str().unwrap();
    let arn = |kind: &str, id: &Value| {
        format!(
            "arn:aws:identitystore:{region}::{store}/{kind}/{}",
            id.as_str().unwrap()
        )
    };
    let user = |n: &str| arn("user", &ic["users"][n]);
    let group = |n: &str| arn("group", &ic["groups"][n]);
    let ps = |n: &str| ic["permission_sets"][n].as_str().unwrap().to_string();
    let key = |e: &str, t: &str, p: &str| (e.to_string(), t.to_string(), p.to_string());
    let fic = &fx["identity_center"];
    for g in fic["groups"].as_array().unwrap() {
        let garn = group(g["display_name"].as_str().unwrap());
        let ent = format!("sso_group:{garn}:member");
        d.entitlements.insert(ent.clone());
        for m in g["members"].as_array().unwrap() {
            // Members that are not users of the fixture (other kinds) are skipped.
            if let Some(u) = ic["users"][m.as_str().unwrap()].as_str() {
                let uarn = arn("user", &Value::String(u.into()));
                d.grants.insert(key(&ent, "sso_user", &uarn));
            }
        }
    }
    let sets = fic["permission_sets"].as_array().unwrap();
    let active: Vec<String> = expect::accounts(fx, manifest)
        .into_iter()
        .filter(|(_, _, _, spec)| spec["status"].as_str().is_none_or(|s| s == "ACTIVE"))
        .map(|(name, ..)| name)
        .collect();
    for a in &active {
        let acct = account_id(manifest, a);
        for p in sets {
            d.entitlements
                .insert(format!("{acct}|{}", ps(p["name"].as_str().unwrap())));
        }
    }
    for a in fic["assignments"].as_array().unwrap() {
        let name = a["account"].as_str().unwrap();
        if !active.iter().any(|x| x == name) {
            continue;
        }
        let acct = account_id(manifest, name);
        let pname = a["permission_set"].as_str().unwrap();
        let (ptype, parn) = match a["user"].as_str() {
            Some(u) => ("sso_user", user(u)),
            None => ("sso_group", group(a["group"].as_str().unwrap())),
        };
        d.grants
            .insert(key(&format!("{acct}|{}", ps(pname)), ptype, &parn));
        let binding = format!("{}-{acct}", ps(pname));
        let assigned = format!("permission_set_assignment:{binding}:assigned");
        d.entitlements.insert(assigned.clone());
        d.grants.insert(key(&assigned, ptype, &parn));
        let set = sets.iter().find(|p| p["name"] == pname).unwrap();
        let mut policies: Vec<String> = set["managed_policies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m.as_str().unwrap().to_string())
            .collect();
        for c in set["customer_managed_policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = c["path"].as_str().unwrap_or("/");
            policies.push(format!(
                "arn:aws:iam::{acct}:policy{path}{}",
                c["name"].as_str().unwrap()
            ));
        }
        for m in policies {
            d.grants.insert(key(
                &format!("iam_policy:{m}:attached"),
                "permission_set_assignment",
                &binding,
            ));
        }
        // AWS-managed policies of permission sets are written as iam_policy resources.
        for m in set["managed_policies"].as_array().into_iter().flatten() {
            d.entitlements
                .insert(format!("iam_policy:{}:attached", m.as_str().unwrap()));
        }
    }
}

/// The source entitlement and shallowness of the GrantExpandable a direct grant carries.
fn edge_of(k: &Key) -> Option<(String, bool)> {
    let (_, ptype, pid) = k;
    match ptype.as_str() {
        "group" => Some((format!("group:{pid}:member"), true)),
        "role" => Some((format!("role:{pid}:assignment"), false)),
        "sso_group" => Some((format!("sso_group:{pid}:member"), false)),
        "permission_set_assignment" => {
            Some((format!("permission_set_assignment:{pid}:assigned"), false))
        }
        _ => None,
    }
}

/// Derived grants: (destination, principal type, principal id) → source entitlements.
fn oracle(d: &Direct) -> BTreeMap<Key, BTreeSet<String>> {
    // Edges source → destination, kept when both entitlements exist.
    let mut edges: BTreeSet<(String, String, bool)> = BTreeSet::new();
    for k in &d.grants {
        if let Some((src, shallow)) = edge_of(k)
            && d.entitlements.contains(&src)
            && d.entitlements.contains(&k.0)
        {
            edges.insert((src, k.0.clone(), shallow));
        }
    }
    // Cycles (grant-expansion.md R9, as baton-sdk writes them): a cycle is one node, so an
    // edge between two entitlements of one cycle propagates nothing, and an edge into or out
    // of it joins every entitlement of it.
    let reaches = |from: &str, to: &str| -> bool {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for (s, dst, _) in &edges {
                if *s == n {
                    if dst == to {
                        return true;
                    }
                    if seen.insert(dst.clone()) {
                        todo.push(dst.clone());
                    }
                }
            }
        }
        false
    };
    let nodes: BTreeSet<String> = edges
        .iter()
        .flat_map(|(s, d, _)| [s.clone(), d.clone()])
        .collect();
    let cycle_of = |n: &str| -> BTreeSet<String> {
        nodes
            .iter()
            .filter(|m| m.as_str() == n || (reaches(n, m) && reaches(m, n)))
            .cloned()
            .collect()
    };
    // Between two components, one edge (deep if any folded edge is deep), from every
    // entitlement of the first to every entitlement of the second (R10, R12).
    let mut folded: BTreeMap<(BTreeSet<String>, BTreeSet<String>), bool> = BTreeMap::new();
    for (src, dst, shallow) in &edges {
        let (from, to) = (cycle_of(src), cycle_of(dst));
        if from == to {
            continue;
        }
        let all_shallow = folded.entry((from, to)).or_insert(true);
        *all_shallow &= *shallow;
    }
    let mut collapsed: BTreeSet<(String, String, bool)> = BTreeSet::new();
    for ((from, to), shallow) in &folded {
        for s in from {
            for d in to {
                collapsed.insert((s.clone(), d.clone(), *shallow));
            }
        }
    }
    let edges = collapsed;
    let direct_of = |ent: &str| -> BTreeSet<(String, String)> {
        d.grants
            .iter()
            .filter(|k| k.0 == ent)
            .map(|k| (k.1.clone(), k.2.clone()))
            .collect()
    };
    let mut derived: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    loop {
        let mut changed = false;
        for (src, dst, shallow) in &edges {
            let mut holders = direct_of(src);
            if !*shallow {
                holders.extend(
                    derived
                        .keys()
                        .filter(|k| &k.0 == src)
                        .map(|k| (k.1.clone(), k.2.clone())),
                );
            }
            for (t, p) in holders {
                let k = (dst.clone(), t, p);
                if d.grants.contains(&k) {
                    continue;
                }
                changed |= derived.entry(k).or_default().insert(src.clone());
            }
        }
        if !changed {
            return derived;
        }
    }
}

/// The derived grants of a file: those carrying GrantImmutable, with their source keys.
fn derived_in(reader: &C1zReader) -> BTreeMap<Key, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for g in reader.grants(&Filter::default()).unwrap() {
        if !expect::is_derived(&g) {
            continue;
        }
        let p = g.principal.as_ref().unwrap().id.clone().unwrap();
        let sources: BTreeSet<String> = g
            .sources
            .as_ref()
            .map(|s| s.sources.keys().cloned().collect())
            .unwrap_or_default();
        assert!(!sources.is_empty(), "a derived grant names its sources");
        assert!(
            orgsync::model::any::find::<pb::GrantExpandable>(&g.annotations).is_none(),
            "no GrantExpandable on a derived grant"
        );
        out.insert(
            (g.entitlement.unwrap().id, p.resource_type, p.resource),
            sources,
        );
    }
    out
}

#[test]
fn a_sync_of_the_organization_holds_every_derived_grant_of_the_oracle() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let dir = support::tempdir();
    let out = dir.path().join("org.c1z");
    let o = sync(&moto.endpoint(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Sync type: full"), "{err}");

    let mut d = Direct::default();
    iam(&fx, &manifest, &mut d);
    identity_center(&fx, &manifest, &mut d);
    let want = oracle(&d);
    // The fixture exercises every kind of edge.
    for (what, prefix) in [
        ("policies through groups, roles and bindings", "iam_policy:"),
        ("bindings through SSO groups", "permission_set_assignment:"),
    ] {
        assert!(
            want.keys().any(|k| k.0.starts_with(prefix)),
            "the oracle has {what}"
        );
    }
    assert!(want.keys().any(|k| k.1 == "sso_user" && k.0.contains('|')));
    assert!(want.keys().any(|k| k.0.starts_with("role:")), "role chains");

    let reader = C1zReader::open(&out).unwrap();
    assert_eq!(reader.sync().sync_type, "full");
    let got = derived_in(&reader);
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nunexpected {extra:#?}"
    );
    assert_eq!(got, want, "sources are the immediate source entitlements");
    let stats = reader.sync().stats.clone().unwrap();
    assert_eq!(
        stats["orgsync"]["expansion"]["derived_grants"],
        want.len(),
        "{stats}"
    );
    assert_eq!(stats["orgsync"]["scope"]["sync_type"], "full");
    let summary = support::summary(&out);
    assert_eq!(summary["expansion"]["derived_grants"], want.len());

    // A derived grant has no AWS counterpart of its own: revoking it with the file is refused
    // before any AWS call, naming what it comes from.
    let derived = reader
        .grants(&Filter::default())
        .unwrap()
        .into_iter()
        // A managed policy a user holds through a group: a request of its own kind, so the
        // refusal comes from the file (an inline policy is refused by its id alone).
        .find(|g| {
            expect::is_derived(g)
                && g.entitlement
                    .as_ref()
                    .is_some_and(|e| e.id.starts_with("iam_policy:"))
        })
        .unwrap();
    let source = derived
        .sources
        .as_ref()
        .unwrap()
        .sources
        .keys()
        .next()
        .unwrap()
        .clone();
    let nowhere = support::proxy::FaultProxy::start("http://127.0.0.1:9");
    let o = support::run(
        support::orgsync(&nowhere.url())
            .args(["revoke", "--grant", &derived.id, "--file"])
            .arg(&out),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("derived by grant expansion") && err.contains(&source),
        "{err}"
    );
    assert!(nowhere.seen().is_empty(), "no AWS call");
    drop(reader);

    // A filtered sync is partial, says why, and is still expanded.
    let part = dir.path().join("dev.c1z");
    let dev = account_id(&manifest, "dev");
    let o = sync(&moto.endpoint(), &part, &["--accounts", &dev]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "Sync type: partial (filtered by --accounts {dev})"
        )),
        "{err}"
    );
    let reader = C1zReader::open(&part).unwrap();
    assert_eq!(reader.sync().sync_type, "partial");
    let stats = reader.sync().stats.clone().unwrap();
    assert_eq!(
        stats["orgsync"]["scope"]["filters"],
        serde_json::json!([format!("--accounts {dev}")])
    );
    let syncs = support::run(
        support::orgsync("http://127.0.0.1:9")
            .args(["inspect", "syncs", "--file"])
            .arg(&part),
    );
    let shown = String::from_utf8_lossy(&syncs.stdout);
    assert!(
        shown.contains("partial") && shown.contains("filtered by --accounts"),
        "{shown}"
    );

    // Without expansion: direct grants only, and the summary says so.
    let raw = dir.path().join("raw.c1z");
    let o = sync(&moto.endpoint(), &raw, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Grant expansion: not run"));
    let reader = C1zReader::open(&raw).unwrap();
    assert!(derived_in(&reader).is_empty());
    assert!(support::summary(&raw)["expansion"].is_null());
}
