//! `orgsync export --format csv` and `orgsync inspect … -o csv` on a real sync of
//! fixtures/org.json (moto), through the real binary. The CSV rows are checked against the
//! c1z as `orgsync inspect -o json` reads it (canonical protobuf JSON, another code path):
//! the same resources, entitlements and grants, names resolved from the resource rows, account
//! ids from the ARNs and account names from the seeder's manifest; effective access per
//! account is exactly what `orgsync access --account` (and `--admin`) answers. Also: a second
//! export replaces the first, and bad input (exit 2) leaves the directory as it was and no
//! temp directory behind.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::{Moto, files_in, orgsync, run, sync, tempdir, text};

fn cli(args: &[&str], file: &Path) -> std::process::Output {
    run(orgsync("http://127.0.0.1:9").args(args).arg("-f").arg(file))
}

fn inspect_json(file: &Path, what: &[&str]) -> Vec<Value> {
    let o = cli(&[&["inspect"], what, &["-o", "json"]].concat(), file);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// A CSV text as header → value maps.
fn parse(csv_text: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(csv_text);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len());
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn table(dir: &Path, name: &str) -> Vec<BTreeMap<String, String>> {
    parse(&std::fs::read(dir.join(name)).unwrap())
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The account field of an ARN, when it is 12 digits.
fn arn_account(arn: &str) -> Option<String> {
    let a = arn.split(':').nth(4)?;
    (arn.starts_with("arn:") && a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .then(|| a.to_string())
}

fn access_principals(file: &Path, args: &[&str]) -> BTreeSet<String> {
    let o = cli(&[&["access"], args, &["-o", "json"]].concat(), file);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                s(&r["principal"]["type"]),
                s(&r["principal"]["id"])
            )
        })
        .collect()
}

#[test]
fn export_tables_and_inspect_csv_match_the_c1z() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let dir = tempdir();
    let file = dir.path().join("org.c1z");
    let o = sync(&moto.endpoint(), &file, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = dir.path().join("export");

    let o = cli(
        &["export", "--format", "csv", "--dir", out.to_str().unwrap()],
        &file,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        files_in(&out),
        vec![
            "effective_access.csv",
            "entitlements.csv",
            "grants.csv",
            "resources.csv"
        ]
    );

    // Account names: the seeder's account names by id.
    let names: BTreeMap<String, String> = manifest["accounts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, id)| (s(id), name.clone()))
        .collect();
    assert!(names.len() >= 5);

    // resources.csv = the c1z's resources.
    let resources = inspect_json(&file, &["resources"]);
    let display: BTreeMap<(String, String), String> = resources
        .iter()
        .map(|r| {
            (
                (s(&r["id"]["resourceType"]), s(&r["id"]["resource"])),
                s(&r["displayName"]),
            )
        })
        .collect();
    let rows = table(&out, "resources.csv");
    assert_eq!(rows.len(), resources.len());
    let got: BTreeMap<(String, String), String> = rows
        .iter()
        .map(|r| {
            (
                (r["resource_type"].clone(), r["resource_id"].clone()),
                r["display_name"].clone(),
            )
        })
        .collect();
    assert_eq!(got, display);
    let mut named = 0;
    for r in &rows {
        let id = &r["resource_id"];
        let want = match r["resource_type"].as_str() {
            "account" | "account_iam" => Some(id.clone()),
            // `<instance>/<permission set>-<account>`
            "permission_set_assignment" => id.rsplit_once('-').map(|(_, a)| a.to_string()),
            // `<parent ARN>::inline::<name>`
            "inline_policy" => id
                .split_once("::inline::")
                .and_then(|(p, _)| arn_account(p)),
            _ => arn_account(id),
        };
        if r["resource_type"] != "access-key" {
            assert_eq!(r["account_id"], want.clone().unwrap_or_default(), "{r:?}");
        }
        if let Some(n) = want.as_ref().and_then(|a| names.get(a)) {
            assert_eq!(&r["account_name"], n, "{r:?}");
            named += 1;
        }
    }
    assert!(named > 20, "account names resolved on {named} rows");

    // entitlements.csv = the c1z's entitlements.
    let ents = inspect_json(&file, &["entitlements"]);
    let want: BTreeSet<(String, String)> = ents
        .iter()
        .map(|e| (s(&e["id"]), s(&e["displayName"])))
        .collect();
    let rows = table(&out, "entitlements.csv");
    assert_eq!(rows.len(), ents.len());
    let got: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r["entitlement_id"].clone(), r["display_name"].clone()))
        .collect();
    assert_eq!(got, want);

    // grants.csv = the c1z's grants, with the principals' names and accounts.
    let grants = inspect_json(&file, &["grants"]);
    let want: BTreeSet<(String, String, String, String)> = grants
        .iter()
        .map(|g| {
            (
                s(&g["id"]),
                s(&g["entitlement"]["id"]),
                s(&g["principal"]["id"]["resourceType"]),
                s(&g["principal"]["id"]["resource"]),
            )
        })
        .collect();
    let rows = table(&out, "grants.csv");
    assert_eq!(rows.len(), grants.len());
    let got: BTreeSet<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["grant_id"].clone(),
                r["entitlement_id"].clone(),
                r["principal_type"].clone(),
                r["principal_id"].clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    for r in &rows {
        let key = (r["principal_type"].clone(), r["principal_id"].clone());
        assert_eq!(
            &r["principal_name"],
            display.get(&key).unwrap_or(&String::new()),
            "{r:?}"
        );
        if r["principal_type"] == "iam_user" || r["principal_type"] == "role" {
            let a = arn_account(&r["principal_id"]).unwrap();
            assert_eq!(r["principal_account_id"], a);
            if let Some(n) = names.get(&a) {
                assert_eq!(&r["principal_account_name"], n);
            }
        }
        assert_eq!(r["derived"], "false", "a plain sync derives nothing");
    }

    // effective_access.csv: per account, the principals `orgsync access` answers; admins.
    let rows = table(&out, "effective_access.csv");
    for (id, name) in &names {
        let mine: Vec<_> = rows.iter().filter(|r| &r["account_id"] == id).collect();
        if mine.is_empty() {
            continue;
        }
        assert!(mine.iter().all(|r| &r["account_name"] == name));
        let who = |r: &&BTreeMap<String, String>| {
            format!("{}:{}", r["principal_type"], r["principal_id"])
        };
        let got: BTreeSet<String> = mine.iter().map(who).collect();
        let admins = access_principals(&file, &["--account", id, "--admin"]);
        let mut want = access_principals(&file, &["--account", id]);
        want.extend(admins.iter().cloned());
        assert_eq!(got, want, "account {name}");
        let got_admins: BTreeSet<String> = mine
            .iter()
            .filter(|r| r["admin"] == "true")
            .map(who)
            .collect();
        assert_eq!(got_admins, admins, "admins of {name}");
    }
    let accounts: BTreeSet<&str> = rows.iter().map(|r| r["account_id"].as_str()).collect();
    assert!(accounts.len() >= 5, "{accounts:?}");
    assert!(
        rows.iter()
            .any(|r| r["admin"] == "true" && r["hops"] != "0")
    );

    // inspect -o csv on every listing: the JSON's rows, parseable, with a header.
    for (what, id_col, json_id) in [
        (vec!["resources"], "ID", "/id/resource"),
        (vec!["entitlements"], "ID", "/id"),
        (vec!["grants"], "ENTITLEMENT", "/entitlement/id"),
        (vec!["resource-types"], "ID", "/id"),
    ] {
        let json = inspect_json(&file, &what);
        let o = cli(
            &[&["inspect"], what.as_slice(), &["-o", "csv"]].concat(),
            &file,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let rows = parse(&o.stdout);
        assert_eq!(rows.len(), json.len(), "{what:?}");
        let got: Vec<String> = rows.iter().map(|r| r[id_col].clone()).collect();
        let want: Vec<String> = json
            .iter()
            .map(|v| s(v.pointer(json_id).unwrap()))
            .collect();
        assert_eq!(got, want, "{what:?}");
    }
    let o = cli(
        &["inspect", "resources", "-t", "iam_user", "-o", "csv"],
        &file,
    );
    let users = parse(&o.stdout);
    assert!(users.iter().any(|r| r["CONSOLE"] == "yes"));
    assert!(
        users.iter().all(|r| names.contains_key(&r["ACCOUNT"])
            || r["ACCOUNT"] == s(&manifest["management_account"]))
    );
    let o = cli(&["inspect", "syncs", "-o", "csv"], &file);
    assert_eq!(parse(&o.stdout).len(), 1);
    let o = cli(&["inspect", "stats", "-o", "csv"], &file);
    let stats = parse(&o.stdout);
    let total = stats
        .iter()
        .find(|r| r["RESOURCE TYPE"] == "TOTAL")
        .unwrap();
    assert_eq!(total["RESOURCES"], resources.len().to_string());
    assert_eq!(total["GRANTS"], grants.len().to_string());

    // A second export replaces the first (a file left in the directory by hand is refused).
    let before = std::fs::read(out.join("grants.csv")).unwrap();
    let o = cli(
        &["export", "--format", "csv", "--dir", out.to_str().unwrap()],
        &file,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read(out.join("grants.csv")).unwrap(), before);
    assert_eq!(
        files_in(dir.path()),
        vec!["export", "org.c1z", "org.summary.json"]
    );
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = cli(
        &["export", "--format", "csv", "--dir", out.to_str().unwrap()],
        &file,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempdir();
    let not_c1z = dir.path().join("notes.c1z");
    std::fs::write(&not_c1z, "not a c1z").unwrap();
    let out = dir.path().join("export");
    for (file, target) in [
        (not_c1z.clone(), out.clone()),
        (dir.path().join("missing.c1z"), out.clone()),
        (not_c1z.clone(), dir.path().join("no/such/dir")),
        (not_c1z.clone(), not_c1z.clone()),
    ] {
        let o = cli(
            &[
                "export",
                "--format",
                "csv",
                "--dir",
                target.to_str().unwrap(),
            ],
            &file,
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).trim().lines().count(),
            1,
            "{}",
            text(&o)
        );
    }
    let o = cli(
        &["export", "--format", "xlsx", "--dir", out.to_str().unwrap()],
        &not_c1z,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(files_in(dir.path()), vec!["notes.c1z"]);

    let o = run(orgsync("http://127.0.0.1:9").args(["export", "--help"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Examples:"));
}
