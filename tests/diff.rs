//! `orgsync diff` on real syncs of fixtures/single-account.json (moto), through the real
//! binary. A known change set — a membership granted, one revoked, a new user, a deleted role —
//! is made once with boto3 and once with `orgsync grant` / `revoke` / `create-user`; the diff
//! of the syncs around it lists exactly the ids the fixture oracle (tests/support/expect.rs,
//! applied to the fixture before and after the change) says were added and removed, and
//! nothing changed. Also: `--exit-code` both ways, a file holding both syncs, filters, and bad
//! input (one line, exit 2, nothing on stdout).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::expect::expected_account;
use support::{Moto, fixture, orgsync, run, sync, text};

fn diff(args: &[&std::ffi::OsStr]) -> Output {
    run(orgsync("http://127.0.0.1:9").arg("diff").args(args))
}

fn diff_json(args: &[&std::ffi::OsStr]) -> Value {
    let o = diff(&[args, &["-o".as_ref(), "json".as_ref()]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn boto3(moto: &Moto, script: &str) {
    let out = Command::new(support::repo_root().join(".venv/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\niam = boto3.client('iam', **kw)\n{script}",
            moto.endpoint()
        ))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// (change, kind, id) of a diff's JSON.
fn changes(d: &Value) -> BTreeSet<(String, String, String)> {
    d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The fixture after the change set: dave joins developers, bob leaves auditors, erin is new,
/// the breakglass role is gone.
fn changed_fixture(fx: &Value) -> Value {
    let mut fx = fx.clone();
    let iam = &mut fx["management"]["iam"];
    for u in iam["users"].as_array_mut().unwrap() {
        match u["name"].as_str().unwrap() {
            "dave" => u["groups"] = serde_json::json!(["developers"]),
            "bob" => u["groups"] = serde_json::json!(["developers"]),
            _ => {}
        }
    }
    iam["users"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "erin"}));
    iam["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "breakglass");
    fx
}

/// What the oracle says the diff must list: ids only in the old or only in the new fixture.
fn expected_changes(
    before: &Value,
    after: &Value,
    manifest: &Value,
) -> BTreeSet<(String, String, String)> {
    let a = expected_account(before, manifest, "management");
    let b = expected_account(after, manifest, "management");
    let mut out = BTreeSet::new();
    for (kind, x, y) in [
        ("resource", &a.resources, &b.resources),
        ("entitlement", &a.entitlements, &b.entitlements),
        ("grant", &a.grants, &b.grants),
    ] {
        for id in x.difference(y) {
            out.insert(("removed".to_string(), kind.to_string(), id.clone()));
        }
        for id in y.difference(x) {
            out.insert(("added".to_string(), kind.to_string(), id.clone()));
        }
    }
    out
}

struct Run {
    moto: Moto,
    manifest: Value,
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let moto = Moto::start();
        let manifest = moto.seed("single-account.json");
        Run {
            moto,
            manifest,
            dir: support::tempdir(),
        }
    }

    fn sync(&self, name: &str) -> PathBuf {
        let f = self.dir.path().join(name);
        let o = sync(&self.moto.endpoint(), &f, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        f
    }

    fn mgmt(&self) -> String {
        self.manifest["management_account"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[test]
fn diff_of_a_boto3_change_set_is_exactly_that_set() {
    let r = Run::new();
    let fx = fixture("single-account.json");
    let s1 = r.sync("s1.c1z");
    let s1b = r.sync("s1b.c1z");
    // Nothing changed in between: no difference, and --exit-code says 0.
    let same = diff(&[s1.as_os_str(), s1b.as_os_str(), "--exit-code".as_ref()]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(String::from_utf8_lossy(&same.stdout).contains("No differences."));
    let d = diff_json(&[s1.as_os_str(), s1b.as_os_str()]);
    assert!(changes(&d).is_empty(), "{d:#}");

    boto3(
        &r.moto,
        "iam.add_user_to_group(GroupName='developers', UserName='dave')\n\
         iam.remove_user_from_group(GroupName='auditors', UserName='bob')\n\
         iam.create_user(UserName='erin')\n\
         iam.detach_role_policy(RoleName='breakglass', PolicyArn='arn:aws:iam::aws:policy/AdministratorAccess')\n\
         iam.delete_role(RoleName='breakglass')",
    );
    let s2 = r.sync("s2.c1z");
    let want = expected_changes(&fx, &changed_fixture(&fx), &r.manifest);
    assert!(want.len() >= 6, "{want:#?}");
    let d = diff_json(&[s1.as_os_str(), s2.as_os_str()]);
    assert_eq!(changes(&d), want, "{d:#}");
    let total: u64 = ["resource", "entitlement", "grant", "derived_grant"]
        .iter()
        .flat_map(|k| ["added", "removed", "changed"].map(|c| d["counts"][k][c].as_u64().unwrap()))
        .sum();
    assert_eq!(total as usize, want.len());
    assert_eq!(d["counts"]["derived_grant"]["added"], 0);
    // --exit-code: 1 with differences; the table lists them.
    let o = diff(&[s1.as_os_str(), s2.as_os_str(), "--exit-code".as_ref()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains(&format!("iam_user:arn:aws:iam::{}:user/erin", r.mgmt())),
        "{table}"
    );
    // CSV: one line per change.
    let o = diff(&[
        s1.as_os_str(),
        s2.as_os_str(),
        "-o".as_ref(),
        "csv".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().lines().count(),
        want.len() + 1
    );

    // Filters: memberships only; this account; another account.
    let d = diff_json(&[
        s1.as_os_str(),
        s2.as_os_str(),
        "--resource-type".as_ref(),
        "group".as_ref(),
    ]);
    let groups: BTreeSet<_> = want
        .iter()
        .filter(|c| c.2.starts_with("group:"))
        .cloned()
        .collect();
    assert_eq!(groups.len(), 2, "{want:#?}");
    assert_eq!(changes(&d), groups);
    let d = diff_json(&[
        s1.as_os_str(),
        s2.as_os_str(),
        "--account".as_ref(),
        r.mgmt().as_ref(),
    ]);
    // Every change names the account (the policy grant through its principal, the role).
    assert_eq!(changes(&d), want);
    let d = diff_json(&[
        s1.as_os_str(),
        s2.as_os_str(),
        "--account".as_ref(),
        "999999999999".as_ref(),
    ]);
    assert!(changes(&d).is_empty());

    // One file holding both syncs: compared without naming them, or named, either way round.
    let both = r.dir.path().join("both.c1z");
    merge(&s1, &s2, &both);
    let d = diff_json(&[both.as_os_str()]);
    assert_eq!(changes(&d), want);
    let old_id = d["old"]["sync_id"].as_str().unwrap().to_string();
    let new_id = d["new"]["sync_id"].as_str().unwrap().to_string();
    let rev = diff_json(&[
        both.as_os_str(),
        "--old-sync".as_ref(),
        new_id.as_ref(),
        "--new-sync".as_ref(),
        old_id.as_ref(),
    ]);
    let swapped: BTreeSet<_> = want
        .iter()
        .map(|(c, k, i)| {
            (
                if c == "added" { "removed" } else { "added" }.to_string(),
                k.clone(),
                i.clone(),
            )
        })
        .collect();
    assert_eq!(changes(&rev), swapped);

    // Bad input.
    let junk = r.dir.path().join("junk.c1z");
    std::fs::write(&junk, "plain text").unwrap();
    let missing = r.dir.path().join("missing.c1z");
    for args in [
        vec![junk.as_os_str(), s2.as_os_str()],
        vec![s1.as_os_str(), missing.as_os_str()],
        vec![s1.as_os_str()],
        vec![
            both.as_os_str(),
            "--old-sync".as_ref(),
            "2NOTASYNC".as_ref(),
        ],
        vec![
            s1.as_os_str(),
            s2.as_os_str(),
            "--account".as_ref(),
            "12".as_ref(),
        ],
    ] {
        let o = diff(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o));
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn diff_of_the_same_change_set_made_by_orgsync_is_exactly_that_set() {
    let r = Run::new();
    let fx = fixture("single-account.json");
    let mgmt = r.mgmt();
    let s1 = r.sync("s1.c1z");
    let prov = |args: &[&str]| {
        let o = run(orgsync(&r.moto.endpoint()).args(args));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    };
    prov(&[
        "grant",
        "--entitlement",
        &format!("group:arn:aws:iam::{mgmt}:group/eng/developers:member"),
        "--principal-type",
        "iam_user",
        "--principal",
        &format!("arn:aws:iam::{mgmt}:user/dave"),
    ]);
    prov(&[
        "revoke",
        "--grant",
        &format!(
            "group:arn:aws:iam::{mgmt}:group/auditors:member:iam_user:arn:aws:iam::{mgmt}:user/bob"
        ),
    ]);
    prov(&["create-user", "--type", "iam_user", "--user-name", "erin"]);
    // orgsync does not delete roles; the role goes the way an operator removes it.
    boto3(
        &r.moto,
        "iam.detach_role_policy(RoleName='breakglass', PolicyArn='arn:aws:iam::aws:policy/AdministratorAccess')\n\
         iam.delete_role(RoleName='breakglass')",
    );
    let s2 = r.sync("s2.c1z");
    let want = expected_changes(&fx, &changed_fixture(&fx), &r.manifest);
    let d = diff_json(&[s1.as_os_str(), s2.as_os_str()]);
    assert_eq!(changes(&d), want, "{d:#}");
    let o = diff(&[s1.as_os_str(), s2.as_os_str(), "--exit-code".as_ref()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = diff(&[s2.as_os_str(), s2.as_os_str(), "--exit-code".as_ref()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn decompress(src: &Path, db: &Path) {
    let bytes = std::fs::read(src).unwrap();
    assert_eq!(&bytes[..5], b"C1ZF\0");
    std::fs::write(db, zstd::stream::decode_all(&bytes[5..]).unwrap()).unwrap();
}

/// Writes `out`: the file `a` with the sync of file `b` added (two syncs in one file).
fn merge(a: &Path, b: &Path, out: &Path) {
    let dir = out.parent().unwrap();
    let (da, db) = (dir.join("merge-a.db"), dir.join("merge-b.db"));
    decompress(a, &da);
    decompress(b, &db);
    {
        let conn = rusqlite::Connection::open(&da).unwrap();
        conn.execute("attach database ?1 as b", [db.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled, stats)
               select sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled, stats from b.v1_sync_runs;
             insert into v1_resource_types (external_id, data, sync_id, discovered_at)
               select external_id, data, sync_id, discovered_at from b.v1_resource_types;
             insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
               select resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at from b.v1_resources;
             insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)
               select resource_type_id, resource_id, external_id, data, sync_id, discovered_at from b.v1_entitlements;
             insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at)
               select resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at from b.v1_grants;",
        )
        .unwrap();
        conn.execute("detach database b", []).unwrap();
    }
    let data = std::fs::read(&da).unwrap();
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend(zstd::stream::encode_all(data.as_slice(), 3).unwrap());
    std::fs::write(out, bytes).unwrap();
}
