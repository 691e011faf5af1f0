//! `orgsync access` on a real sync of fixtures/org.json (moto), through the real binary:
//! - for every principal and every account (with and without --assume-account-principals),
//!   the JSON answer equals what an oracle computes from the fixture JSON and the seeder's
//!   manifest alone (tests/support/access_oracle.rs), paths and grant ids included;
//! - the trust chain staging user → security role → security role → sandbox role, the
//!   account-root trusts and the hop bound, checked by hand;
//! - `--admin`: exact sets against a hand-listed set of admin policies, near misses excluded;
//! - a file holding derived grants (as grant expansion writes them) gives the same answers;
//! - bad input: one line on stderr, exit 2, nothing on stdout.

#[path = "support/access_oracle.rs"]
mod access_oracle;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use access_oracle::{Oracle, Rows, assert_rows, rows_of};
use orgsync::model::{Record, any, pb};
use orgsync::store::c1z::{C1zReader, C1zWriter};
use serde_json::Value;
use support::{Moto, account_id, fixture, orgsync, run, sync, text};

fn access(file: &Path, args: &[&str]) -> Output {
    run(orgsync("http://127.0.0.1:9")
        .arg("access")
        .arg("--file")
        .arg(file)
        .args(args))
}

fn answer(file: &Path, args: &[&str]) -> Value {
    let o = access(
        file,
        &[args, &["-o", "json", "--max-paths", "1000"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
}

fn rows(file: &Path, args: &[&str]) -> Rows {
    rows_of(&answer(file, args))
}

fn principal_arg(p: &(String, String)) -> String {
    format!("{}:{}", p.0, p.1)
}

/// A synced org.json: moto (kept alive), manifest, fixture, the file.
struct Synced {
    _moto: Moto,
    manifest: Value,
    fx: Value,
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
}

fn synced() -> Synced {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let dir = support::tempdir();
    let file = dir.path().join("org.c1z");
    // Direct grants only: the tests compare answers on this file and on its expanded twin.
    let o = sync(&moto.endpoint(), &file, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    Synced {
        _moto: moto,
        manifest,
        fx: fixture("org.json"),
        _dir: dir,
        file,
    }
}

#[test]
fn every_principal_and_every_account_match_the_oracle() {
    let s = synced();
    let oracle = Oracle::build(&s.fx, &s.manifest, false);
    assert!(oracle.principals.len() > 80, "{}", oracle.principals.len());
    let (mut compared, mut kinds) = (0usize, BTreeSet::new());
    for p in &oracle.principals {
        let got = rows(&s.file, &["--principal", &principal_arg(p)]);
        let want = oracle.principal_rows(p, 5);
        assert_rows(&format!("--principal {}", principal_arg(p)), &got, &want);
        compared += want.values().map(BTreeSet::len).sum::<usize>();
        kinds.extend(want.values().flatten().flatten().map(|s| s.2.clone()));
    }
    // The fixture exercises every kind of step but the implied account-root one (below).
    assert!(compared > 400, "{compared} paths compared");
    let every: BTreeSet<String> = [
        "membership",
        "assume_role",
        "account_root_trust",
        "permission_set_assignment",
        "policy_attached",
        "permission_set_policy",
    ]
    .map(String::from)
    .into();
    assert_eq!(kinds, every);
    for (name, acct) in &oracle.accounts {
        let got = rows(&s.file, &["--account", acct]);
        assert_rows(
            &format!("--account {name}"),
            &got,
            &oracle.account_rows(acct, 5),
        );
    }
    let flagged = Oracle::build(&s.fx, &s.manifest, true);
    for (name, acct) in &flagged.accounts {
        let got = rows(&s.file, &["--account", acct, "--assume-account-principals"]);
        assert_rows(
            &format!("--account {name} --assume-account-principals"),
            &got,
            &flagged.account_rows(acct, 5),
        );
        for p in flagged.iam_principals[acct].iter() {
            let got = rows(
                &s.file,
                &[
                    "--principal",
                    &principal_arg(p),
                    "--assume-account-principals",
                ],
            );
            assert_rows(
                &format!(
                    "--principal {} --assume-account-principals",
                    principal_arg(p)
                ),
                &got,
                &flagged.principal_rows(p, 5),
            );
        }
    }
    // Smaller hop bounds cut the chains exactly where the oracle does.
    for hops in [0u32, 1, 2] {
        for (name, acct) in &oracle.accounts {
            let got = rows(
                &s.file,
                &["--account", acct, "--max-hops", &hops.to_string()],
            );
            assert_rows(
                &format!("--account {name} --max-hops {hops}"),
                &got,
                &oracle.account_rows(acct, hops),
            );
        }
    }

    // The chain, by hand: staging's stg-chain-user → security chain-entry → security
    // chain-middle → sandbox chain-target (3 hops), whose */* policy it then holds.
    let (staging, security, sandbox) = (
        account_id(&s.manifest, "staging"),
        account_id(&s.manifest, "security"),
        account_id(&s.manifest, "sandbox"),
    );
    let user = format!("arn:aws:iam::{staging}:user/stg-chain-user");
    let role = |a: &str, n: &str| format!("arn:aws:iam::{a}:role/{n}");
    let (entry, middle, target) = (
        role(&security, "chain-entry"),
        role(&security, "chain-middle"),
        role(&sandbox, "chain-target"),
    );
    let a = answer(&s.file, &["--principal", &format!("iam_user:{user}")]);
    let row = a["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["id"] == format!("role:{target}:assignment"))
        .expect("stg-chain-user reaches chain-target");
    assert_eq!(row["account"], sandbox.as_str());
    assert_eq!(row["paths"].as_array().unwrap().len(), 1, "{row:#}");
    let path = &row["paths"][0];
    assert_eq!(path["hops"], 3);
    let steps: Vec<(String, String, Option<String>)> = path["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["grant"].as_str().unwrap().to_string(),
                s["kind"].as_str().unwrap().to_string(),
                s["via"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                format!("role:{entry}:assignment:iam_user:{user}"),
                "assume_role".into(),
                None
            ),
            (
                format!("role:{middle}:assignment:role:{entry}"),
                "assume_role".into(),
                Some(format!("role:{entry}:assignment"))
            ),
            (
                format!("role:{target}:assignment:role:{middle}"),
                "assume_role".into(),
                Some(format!("role:{middle}:assignment"))
            ),
        ]
    );
    // The trust cycle chain-middle ↔ chain-target ends: chain-target reaches chain-middle,
    // and nothing loops back to chain-target itself.
    let t = rows(&s.file, &["--principal", &format!("role:{target}")]);
    assert!(t.keys().any(|k| k.2 == format!("role:{middle}:assignment")));
    assert!(!t.keys().any(|k| k.2 == format!("role:{target}:assignment")));
    // Two hops are not enough.
    let short = rows(
        &s.file,
        &[
            "--principal",
            &format!("iam_user:{user}"),
            "--max-hops",
            "2",
        ],
    );
    assert!(
        short
            .keys()
            .any(|k| k.2 == format!("role:{middle}:assignment"))
    );
    assert!(
        !short.keys().any(|k| k.2.contains("chain-target")),
        "{short:#?}"
    );
    // Sandbox: reached by the chain, and by staging's root through chain-root-entry as one
    // step that leads no further without --assume-account-principals.
    let sb = answer(&s.file, &["--account", &sandbox]);
    let find = |a: &Value, ptype: &str, pid: &str, target: &str| -> Option<Value> {
        a["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["principal"]["type"] == ptype
                    && r["principal"]["id"] == pid
                    && r["target"]["id"] == target
            })
            .cloned()
    };
    assert!(find(&sb, "iam_user", &user, &format!("role:{target}:assignment")).is_some());
    let root = find(
        &sb,
        "account_iam",
        &staging,
        &format!("role:{target}:assignment"),
    )
    .expect("staging's root reaches chain-target");
    let first = &root["paths"][0]["steps"][0];
    assert_eq!(first["kind"], "account_root_trust");
    assert_eq!(
        first["note"],
        format!(
            "any principal of account {staging} allowed by its own policies to call sts:AssumeRole"
        )
    );
    let smoke = format!("arn:aws:iam::{staging}:user/service/stg-smoke-tester");
    assert!(
        find(
            &sb,
            "iam_user",
            &smoke,
            &format!("role:{target}:assignment")
        )
        .is_none()
    );
    let flagged_sb = answer(
        &s.file,
        &["--account", &sandbox, "--assume-account-principals"],
    );
    let via_root = find(
        &flagged_sb,
        "iam_user",
        &smoke,
        &format!("role:{target}:assignment"),
    )
    .expect("with --assume-account-principals every staging user reaches chain-target");
    let steps = via_root["paths"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[0]["grant"],
        format!(
            "role:{}:assignment:account_iam:{staging}",
            role(&security, "chain-root-entry")
        )
    );
    assert_eq!(steps[0]["granted_to"], format!("account_iam:{staging}"));
    assert!(
        steps[0]["note"]
            .as_str()
            .unwrap()
            .contains("--assume-account-principals")
    );

    // The table and CSV forms carry the same rows.
    let csv = access(
        &s.file,
        &["--account", &sandbox, "-o", "csv", "--max-paths", "1000"],
    );
    assert_eq!(csv.status.code(), Some(0), "{}", text(&csv));
    let lines = String::from_utf8(csv.stdout).unwrap();
    let n_paths: usize = sb["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["paths"].as_array().unwrap().len())
        .sum();
    assert_eq!(lines.lines().count(), n_paths + 1, "one CSV line per path");
    let table = access(&s.file, &["--principal", &format!("iam_user:{user}")]);
    assert_eq!(table.status.code(), Some(0), "{}", text(&table));
    let t = String::from_utf8(table.stdout).unwrap();
    assert!(
        t.contains(&format!("role:{target}:assignment")) && t.contains("Not evaluated:"),
        "{t}"
    );
}

/// The admin policies of org.json, listed by hand (not by the rule under test).
fn admin_set(manifest: &Value) -> BTreeSet<String> {
    let sandbox = account_id(manifest, "sandbox");
    BTreeSet::from([
        "iam_policy:arn:aws:iam::aws:policy/AdministratorAccess:attached".to_string(),
        format!("inline_policy:arn:aws:iam::{sandbox}:role/chain-target::inline::full:attached"),
    ])
}

#[test]
fn admin_answers_are_exact_expanded_files_answer_the_same_and_bad_input_exits_2() {
    let s = synced();
    let oracle = Oracle::build(&s.fx, &s.manifest, false);
    let admin = admin_set(&s.manifest);

    let all = rows(&s.file, &["--admin"]);
    assert_rows("--admin", &all, &oracle.admin_rows(&admin, None, 5));
    for (name, acct) in &oracle.accounts {
        let got = rows(&s.file, &["--account", acct, "--admin"]);
        assert_rows(
            &format!("--account {name} --admin"),
            &got,
            &oracle.admin_rows(&admin, Some(acct), 5),
        );
    }
    // Near misses: a */* with a Condition, * on one bucket, PowerUserAccess (NotAction), and
    // athena:* on * are never admin targets.
    let staging = account_id(&s.manifest, "staging");
    let security = account_id(&s.manifest, "security");
    let sandbox = account_id(&s.manifest, "sandbox");
    let targets: BTreeSet<&String> = all.keys().map(|k| &k.2).collect();
    assert_eq!(targets, admin.iter().collect(), "admin targets");
    let near_condition = format!(
        "inline_policy:arn:aws:iam::{staging}:user/stg-chain-user::inline::near-miss-condition:attached"
    );
    let near_resource = format!(
        "inline_policy:arn:aws:iam::{security}:role/chain-middle::inline::near-miss-resource:attached"
    );
    for near in [&near_condition, &near_resource] {
        let a = answer(&s.file, &["--entitlement", near, "--admin"]);
        assert!(a["results"].as_array().unwrap().is_empty(), "{near}: {a:#}");
        let a = answer(&s.file, &["--entitlement", near]);
        assert!(
            !a["results"].as_array().unwrap().is_empty(),
            "{near} is held"
        );
    }
    // By hand: the staging user's only admin power is the */* of chain-target, in sandbox.
    let user = format!("iam_user:arn:aws:iam::{staging}:user/stg-chain-user");
    let mine = rows(&s.file, &["--principal", &user, "--admin"]);
    let keys: Vec<_> = mine.keys().map(|k| (k.2.clone(), k.3.clone())).collect();
    assert_eq!(
        keys,
        vec![(
            format!(
                "inline_policy:arn:aws:iam::{sandbox}:role/chain-target::inline::full:attached"
            ),
            Some(sandbox.clone())
        )]
    );
    // By hand: Identity Center users get AdministratorAccess through permission-set bindings.
    let store = s.manifest["identity_center"]["identity_store_id"]
        .as_str()
        .unwrap();
    let alice = format!(
        "sso_user:arn:aws:identitystore:us-east-1::{store}/user/{}",
        s.manifest["identity_center"]["users"]["alice.anders@example.com"]
            .as_str()
            .unwrap()
    );
    let mgmt = s.manifest["management_account"]
        .as_str()
        .unwrap()
        .to_string();
    let prod = account_id(&s.manifest, "prod");
    let accounts: BTreeSet<Option<String>> = rows(&s.file, &["--principal", &alice, "--admin"])
        .keys()
        .map(|k| k.3.clone())
        .collect();
    assert_eq!(
        accounts,
        BTreeSet::from([Some(mgmt.clone()), Some(prod.clone())])
    );

    // Derived grants (as grant expansion writes them) are not edges: same answers.
    let expanded = s.file.with_file_name("expanded.c1z");
    let (derived, touched) = write_expanded(&s.file, &expanded);
    assert!(
        derived > 50 && touched > 0,
        "{derived} derived, {touched} touched"
    );
    for args in [
        vec!["--admin"],
        vec!["--account", sandbox.as_str()],
        vec!["--account", mgmt.as_str(), "--assume-account-principals"],
        vec!["--principal", user.as_str()],
        vec!["--principal", alice.as_str()],
    ] {
        assert_rows(
            &format!("expanded {args:?}"),
            &rows(&expanded, &args),
            &rows(&s.file, &args),
        );
    }
    // Through a prepared copy (--cache-dir): the same answers, for both files.
    let cache = s.file.with_file_name("cache");
    let cache_arg = cache.to_str().unwrap();
    for file in [&s.file, &expanded] {
        for args in [
            vec!["--admin"],
            vec!["--account", sandbox.as_str(), "--assume-account-principals"],
            vec!["--principal", user.as_str()],
            vec!["--principal", alice.as_str()],
            vec!["--resource", "account_iam:123456789012"],
        ] {
            let cached: Vec<&str> = args
                .iter()
                .copied()
                .chain(["--cache-dir", cache_arg, "--cache-min-size", "0"])
                .collect();
            assert_rows(
                &format!("cached {args:?}"),
                &rows(file, &cached),
                &rows(file, &args),
            );
        }
    }
    assert_eq!(
        support::files_in(&cache).len(),
        2,
        "one prepared copy per file"
    );
    // ... and diff tells them apart: derived grants added, direct grants changed (sources).
    let d = run(orgsync("http://127.0.0.1:9")
        .arg("diff")
        .arg(&s.file)
        .arg(&expanded)
        .args(["-o", "json"]));
    assert_eq!(d.status.code(), Some(0), "{}", text(&d));
    let d: Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(
        d["counts"]["derived_grant"]["added"], derived,
        "{:#}",
        d["counts"]
    );
    assert_eq!(
        d["counts"]["grant"]["changed"], touched,
        "{:#}",
        d["counts"]
    );
    assert_eq!(d["counts"]["grant"]["added"], 0);
    assert_eq!(
        d["counts"]["resource"],
        serde_json::json!({"added": 0, "removed": 0, "changed": 0})
    );

    // Bad input: one line on stderr, exit 2, nothing on stdout.
    let junk = s.file.with_file_name("junk.c1z");
    std::fs::write(&junk, "not a c1z file\n").unwrap();
    let missing = s.file.with_file_name("missing.c1z");
    let bad: Vec<(&Path, Vec<String>)> = vec![
        (
            &s.file,
            vec![
                "--principal".into(),
                "iam_user:arn:aws:iam::000000000000:user/nobody".into(),
            ],
        ),
        (&s.file, vec!["--principal".into(), "nobody-at-all".into()]),
        (&s.file, vec!["--principal".into(), "iam_user:".into()]),
        (&s.file, vec!["--account".into(), "12345".into()]),
        (&s.file, vec!["--account".into(), "999999999999".into()]),
        (
            &s.file,
            vec![
                "--entitlement".into(),
                "group:arn:aws:iam::000000000000:group/x:member".into(),
            ],
        ),
        (&s.file, vec!["--resource".into(), "no-type-here".into()]),
        (
            &s.file,
            vec![
                "--resource".into(),
                "role:arn:aws:iam::000000000000:role/none".into(),
            ],
        ),
        (&s.file, vec![]),
        (&junk, vec!["--admin".into()]),
        (&missing, vec!["--admin".into()]),
    ];
    for (file, args) in bad {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = access(file, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o));
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
        assert!(err.starts_with("error: "), "{err}");
    }
    // Two subjects at once are refused by the argument parser.
    let o = access(&s.file, &["--account", &sandbox, "--principal", &user]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty());
}

/// Writes a copy of `src` with the grants one round of grant expansion adds (every direct
/// holder of a GrantExpandable source gets the destination, unless it holds it already) and
/// the sources it gives direct grants it reaches. Returns (derived grants written, direct
/// grants that gained sources).
fn write_expanded(src: &Path, dst: &Path) -> (u64, u64) {
    let reader = C1zReader::open(src).unwrap();
    let records = reader.records().unwrap();
    let grants: Vec<pb::Grant> = records
        .iter()
        .filter_map(|r| match r {
            Record::Grant(g) => Some(g.clone()),
            _ => None,
        })
        .collect();
    let ent_of = |g: &pb::Grant| g.entitlement.as_ref().unwrap().id.clone();
    let pid = |g: &pb::Grant| g.principal.as_ref().unwrap().id.clone().unwrap();
    let mut out: Vec<Record> = records
        .iter()
        .filter(|r| !matches!(r, Record::Grant(_)))
        .cloned()
        .collect();
    let mut by_key: std::collections::BTreeMap<(String, String, String), usize> =
        Default::default();
    let mut new_grants: Vec<pb::Grant> = grants.clone();
    for (i, g) in grants.iter().enumerate() {
        let p = pid(g);
        by_key.insert((ent_of(g), p.resource_type, p.resource), i);
    }
    let (mut derived, mut touched) = (0u64, 0u64);
    for g in &grants {
        let Some(ge) = any::find::<pb::GrantExpandable>(&g.annotations) else {
            continue;
        };
        for s in &ge.entitlement_ids {
            for h in grants.iter().filter(|h| &ent_of(h) == s) {
                let p = pid(h);
                let key = (ent_of(g), p.resource_type.clone(), p.resource.clone());
                let source = pb::grant_sources::GrantSource { is_direct: true };
                match by_key.get(&key) {
                    Some(&i) => {
                        let e = &mut new_grants[i];
                        let own = e.entitlement.as_ref().unwrap().id.clone();
                        let srcs = e.sources.get_or_insert_with(Default::default);
                        if i < grants.len() && srcs.sources.is_empty() {
                            srcs.sources.insert(own, source);
                            touched += 1;
                        }
                        srcs.sources.entry(s.clone()).or_insert(source);
                    }
                    None => {
                        let d = pb::Grant {
                            id: format!("{}:{}:{}", key.0, key.1, key.2),
                            entitlement: g.entitlement.clone(),
                            principal: h.principal.clone(),
                            sources: Some(pb::GrantSources {
                                sources: [(s.clone(), source)].into_iter().collect(),
                            }),
                            annotations: vec![any::pack(&pb::GrantImmutable::default())],
                        };
                        by_key.insert(key, new_grants.len());
                        new_grants.push(d);
                        derived += 1;
                    }
                }
            }
        }
    }
    out.extend(new_grants.into_iter().map(Record::Grant));
    let mut w = C1zWriter::create(dst).unwrap();
    w.write(&out).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
    (derived, touched)
}
