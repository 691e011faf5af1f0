//! Controls on access, against moto seeded with fixtures/controls.json (and a real SCIM
//! server, scim2-server): service control policies with their attachments (both read plans),
//! console access and password facts (from the credential report, and per user without it),
//! permissions boundaries, account names, `check`'s External ID warnings, a GovCloud
//! organization's partition, Identity Center user status from SCIM (paging, a wrong token, a
//! token that never shows), and the container user's output volume (README).

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use orgsync::model::{any, pb, profile};
use orgsync::store::c1z::{C1zReader, Filter};
use serde_json::{Value, json};
use support::expect::{self, Expected};
use support::proxy::{Fault, FaultProxy, Rule};
use support::scim::{Paging, ScimServer};
use support::{
    Moto, calls, fixture, notes, orgsync, resources_of, run, summary, sync, sync_with, text,
};

/// The fixture's accounts.
const NAMES: [&str; 4] = ["management", "dev", "prod", "sandbox"];

fn expected_iam(fx: &Value, manifest: &Value) -> Expected {
    let mut e = Expected::default();
    for n in NAMES {
        e.merge(expect::expected_account(fx, manifest, n));
    }
    e
}

/// Keeps the `service_control_policy` records.
fn scps_only(mut e: Expected) -> Expected {
    let keep = |k: &String| k.starts_with("service_control_policy:");
    e.resources.retain(keep);
    e.entitlements.retain(keep);
    e.grants.retain(keep);
    e.parents.retain(|k, _| keep(k));
    e.profiles.retain(|k, _| keep(k));
    e
}

/// The SCP records of the fixture in a run of the accounts `run` (ids): the fixture's own
/// attachments (checked against what the seeder saw), and moto's FullAWSAccess on every root,
/// OU and account (from the manifest). Attachments to accounts outside the run are left out.
fn expected_scps(fx: &Value, manifest: &Value, run: &BTreeSet<String>) -> Expected {
    let org = &manifest["organization"];
    let root = org["root_id"].as_str().unwrap();
    let ous: Vec<&str> = org["ous"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    let id_of = |t: &str| -> String {
        match t.split_once(':') {
            None => root.to_string(),
            Some(("ou", path)) => org["ous"][path].as_str().unwrap().to_string(),
            Some((_, name)) => support::account_id(manifest, name),
        }
    };
    let mut e = Expected::default();
    let mut add = |arn: &str, targets: &[String]| {
        let res = format!("service_control_policy:{arn}");
        e.resources.insert(res.clone());
        e.parents.insert(res.clone(), None);
        e.profiles.insert(res, Default::default());
        let ent = format!("service_control_policy:{arn}:attached");
        e.entitlements.insert(ent.clone());
        for t in targets {
            let ptype = if t == root {
                "organization"
            } else if ous.contains(&t.as_str()) {
                "organizational_unit"
            } else if run.contains(t) {
                "account"
            } else {
                continue;
            };
            e.grants.insert(format!("{ent}:{ptype}:{t}"));
        }
    };
    let seeded = &org["scps"];
    for p in fx["organization"]["scps"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let mut targets: Vec<String> = p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| id_of(t.as_str().unwrap()))
            .collect();
        targets.sort();
        let seen: Vec<String> = seeded[name]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            targets, seen,
            "the seeder attached {name} as the fixture says"
        );
        add(seeded[name]["arn"].as_str().unwrap(), &targets);
    }
    let full = &seeded["FullAWSAccess"];
    let everywhere: Vec<String> = full["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    add(full["arn"].as_str().unwrap(), &everywhere);
    e
}

fn all_accounts(manifest: &Value) -> BTreeSet<String> {
    NAMES
        .iter()
        .map(|n| support::account_id(manifest, n))
        .collect()
}

fn profile_of(r: &pb::Resource) -> Value {
    profile::from_struct(r.profile.as_ref().unwrap())
}

fn resource(reader: &C1zReader, ty: &str, id: &str) -> pb::Resource {
    reader
        .resource(ty, id)
        .unwrap()
        .unwrap_or_else(|| panic!("no {ty} {id}"))
}

#[test]
fn scps_console_facts_boundaries_and_account_names_are_exact() {
    let moto = Moto::start();
    let manifest = moto.seed("controls.json");
    let fx = fixture("controls.json");
    let dir = support::tempdir();
    let out = dir.path().join("all.c1z");
    let o = sync(&moto.endpoint(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    let got = expect::actual(&reader);

    // IAM: ids, parents and the oracle's profile keys (console access, MFA, password change,
    // boundaries, account names) of every account.
    expect::assert_same(
        &expect::iam_only(got.clone()),
        &expected_iam(&fx, &manifest),
    );
    // SCPs: a resource per policy, its entitlement, a grant per attachment.
    let want = expected_scps(&fx, &manifest, &all_accounts(&manifest));
    expect::assert_same(&scps_only(got.clone()), &want);
    assert_eq!(
        want.grants.len(),
        11,
        "FullAWSAccess on 7 nodes, 4 more attachments"
    );

    // The policy document and description as seeded; FullAWSAccess is AWS's.
    let scps = &manifest["organization"]["scps"];
    let lock = resource(
        &reader,
        "service_control_policy",
        scps["region-lock"]["arn"].as_str().unwrap(),
    );
    assert_eq!(lock.display_name, "region-lock");
    assert_eq!(lock.description, "Only us-east-1 and us-west-2");
    let p = profile_of(&lock);
    let doc: Value = serde_json::from_str(p["policy_document"].as_str().unwrap()).unwrap();
    assert_eq!(doc, fx["organization"]["scps"][1]["document"]);
    assert_eq!(p["aws_policy_type"], "SERVICE_CONTROL_POLICY");
    assert_eq!(p["aws_managed"], false);
    assert_eq!(p["aws_policy_id"], scps["region-lock"]["id"]);
    let full = resource(
        &reader,
        "service_control_policy",
        scps["FullAWSAccess"]["arn"].as_str().unwrap(),
    );
    assert_eq!(profile_of(&full)["aws_managed"], true);
    let types: Vec<String> = reader
        .resource_types()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(types.contains(&"service_control_policy".to_string()));

    // The cheaper plan here is per policy (5 policies < 7 nodes).
    assert_eq!(calls(&out, "organizations:ListPolicies"), 1);
    assert_eq!(calls(&out, "organizations:DescribePolicy"), 5);
    assert_eq!(calls(&out, "organizations:ListTargetsForPolicy"), 5);
    assert_eq!(calls(&out, "organizations:ListPoliciesForTarget"), 0);
    assert!(
        notes(&out).iter().any(|n| n.starts_with(
            "Service control policies: 5 policies, 11 attachments to the run's roots, OUs and accounts; attachments read per policy"
        )),
        "{:?}",
        notes(&out)
    );
    // The console facts in detail (the oracle compares timestamps as "a timestamp").
    let mgmt = support::account_id(&manifest, "management");
    let user = |acct: &str, n: &str| {
        profile_of(&resource(
            &reader,
            "iam_user",
            &format!("arn:aws:iam::{acct}:user/{n}"),
        ))
    };
    let admin = user(&mgmt, "console-admin");
    assert_eq!(admin["aws_console_access"], true);
    assert_eq!(admin["aws_mfa_active"], true);
    assert!(
        admin.get("aws_password_reset_required").is_none(),
        "not in the credential report: {admin}"
    );
    let admin_trait: pb::UserTrait = any::find(
        &resource(
            &reader,
            "iam_user",
            &format!("arn:aws:iam::{mgmt}:user/console-admin"),
        )
        .annotations,
    )
    .unwrap();
    assert!(admin_trait.mfa_status.unwrap().mfa_enabled);
    let api = user(&mgmt, "api-only");
    assert_eq!(api["aws_console_access"], false);
    assert!(api.get("aws_password_last_changed").is_none(), "{api}");
    // A user's permissions boundary, as a role's (GAAD; moto through
    // scripts/moto_iam_user_boundaries.py).
    assert_eq!(
        user(&mgmt, "console-reader")["aws_permissions_boundary"],
        format!("arn:aws:iam::{mgmt}:policy/developer-boundary")
    );
    assert!(admin.get("aws_permissions_boundary").is_none(), "{admin}");
    // All from the credential report: no per-user call.
    assert_eq!(calls(&out, "iam:GetLoginProfile"), 0);
    assert_eq!(calls(&out, "iam:ListUsers"), 0);

    // Another plan, the same records: per root, OU and account.
    let by_target = dir.path().join("by-target.c1z");
    let o = sync(&moto.endpoint(), &by_target, &["--scp-strategy", "target"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    expect::assert_same(
        &scps_only(expect::actual(&C1zReader::open(&by_target).unwrap())),
        &want,
    );
    assert_eq!(calls(&by_target, "organizations:ListPoliciesForTarget"), 7);
    assert_eq!(calls(&by_target, "organizations:ListTargetsForPolicy"), 0);
    // `orgsync policy --read` allows every call of both plans; without SCPs it has none.
    let actions = |extra: &[&str]| -> BTreeSet<String> {
        let o = run(orgsync("http://127.0.0.1:9")
            .args(["policy", "--read"])
            .args(extra));
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let allowed = actions(&[]);
    for f in [&out, &by_target] {
        for op in summary(f)["aws_calls"].as_object().unwrap().keys() {
            assert!(
                allowed.contains(op),
                "{op} is called but not in `orgsync policy --read`"
            );
        }
    }
    assert!(
        !actions(&["--sync-scps", "false"])
            .iter()
            .any(|a| a.starts_with("organizations:") && a.contains("Polic"))
    );

    // One account: grants to it, its OU and the root only; auto reads per node (4 < 5).
    let dev = support::account_id(&manifest, "dev");
    let one = dir.path().join("one.c1z");
    let o = sync(&moto.endpoint(), &one, &["--accounts", &dev]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    expect::assert_same(
        &scps_only(expect::actual(&C1zReader::open(&one).unwrap())),
        &expected_scps(&fx, &manifest, &BTreeSet::from([dev.clone()])),
    );
    assert_eq!(calls(&one, "organizations:ListPoliciesForTarget"), 4);

    // Turned off: no SCP record, type or call.
    let off = dir.path().join("off.c1z");
    let o = sync(&moto.endpoint(), &off, &["--sync-scps", "false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = C1zReader::open(&off).unwrap();
    assert!(resources_of(&r, "service_control_policy").is_empty());
    assert_eq!(calls(&off, "organizations:ListPolicies"), 0);

    // Not allowed to list them: a note, no record, the sync goes on (exit 0).
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("organizations")
            .operation("ListPolicies"),
    );
    let denied = dir.path().join("denied.c1z");
    let o = sync(&proxy.url(), &denied, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = C1zReader::open(&denied).unwrap();
    assert!(resources_of(&r, "service_control_policy").is_empty());
    assert!(!resources_of(&r, "iam_user").is_empty());
    assert!(
        notes(&denied)
            .iter()
            .any(|n| n
                .starts_with("Service control policies: not synced (the caller may not read them")),
        "{:?}",
        notes(&denied)
    );
    // Any other failure fails the phase (exit 3); the rest is written.
    proxy.clear_rules();
    proxy.add(
        Rule::new(Fault::ServerError)
            .service("organizations")
            .operation("DescribePolicy"),
    );
    let failed = dir.path().join("failed.c1z");
    let o = sync(&proxy.url(), &failed, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let phases = summary(&failed)["phases"].clone();
    let scp_phase = phases
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "service control policies")
        .unwrap_or_else(|| panic!("{phases:#}"));
    assert_eq!(scp_phase["error"]["class"], "transient");
    assert_eq!(
        phases[0]["name"], "identity center",
        "SCPs run after Identity Center"
    );
    assert!(!resources_of(&C1zReader::open(&failed).unwrap(), "iam_user").is_empty());

    // inspect: account names next to account ids, console facts of IAM users.
    let inspect = |args: &[&str]| {
        let o = run(orgsync("http://127.0.0.1:9")
            .arg("inspect")
            .args(args)
            .arg("-f")
            .arg(&out));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let users = inspect(&["resources", "--resource-type", "iam_user"]);
    let header = users.lines().next().unwrap();
    for col in ["ACCOUNT", "CONSOLE", "MFA", "PASSWORD LAST USED"] {
        assert!(header.contains(col), "{header}");
    }
    let mgmt_name = manifest["management_account_name"].as_str().unwrap();
    let line = |name: &str| {
        users
            .lines()
            .find(|l| l.contains(&format!("user/{name} ")))
            .unwrap_or_else(|| panic!("{name} in {users}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("console-reader").contains(&format!("{mgmt_name} ({mgmt}) yes no")),
        "{users}"
    );
    assert!(
        line("dev-console").contains(&format!("dev ({dev}) account_iam:{dev} yes yes")),
        "{users}"
    );
    let roles = inspect(&["resources", "--resource-type", "role"]);
    assert!(
        roles
            .lines()
            .any(|l| l.contains("power-bounded") && l.contains(&format!("dev ({dev})"))),
        "{roles}"
    );
}

#[test]
fn without_the_credential_report_console_facts_come_from_get_login_profile() {
    let moto = Moto::start();
    let manifest = moto.seed("controls.json");
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("iam")
            .operation("GenerateCredentialReport"),
    );
    let dir = support::tempdir();
    let out = dir.path().join("fallback.c1z");
    let o = sync(&proxy.url(), &out, &["--orgs", "off"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    let mgmt = support::account_id(&manifest, "management");
    let user = |n: &str| {
        profile_of(&resource(
            &reader,
            "iam_user",
            &format!("arn:aws:iam::{mgmt}:user/{n}"),
        ))
    };
    // GetLoginProfile gives what the report cannot: the password must be reset.
    let admin = user("console-admin");
    assert_eq!(admin["aws_console_access"], true, "{admin}");
    assert_eq!(admin["aws_password_reset_required"], true, "{admin}");
    assert!(admin["aws_password_last_changed"].is_string(), "{admin}");
    assert!(
        admin.get("aws_mfa_active").is_none(),
        "MFA is the report's: {admin}"
    );
    let reader_user = user("console-reader");
    assert_eq!(reader_user["aws_console_access"], true);
    assert_eq!(reader_user["aws_password_reset_required"], false);
    let api = user("api-only");
    assert_eq!(api["aws_console_access"], false);
    assert!(api.get("aws_password_reset_required").is_none(), "{api}");
    assert_eq!(calls(&out, "iam:GetLoginProfile"), 3, "one per user");
    assert_eq!(calls(&out, "iam:ListUsers"), 1);
    // One GetCredentialReport: a recent report is asked for first (issue 13); there is none,
    // and generating one is denied.
    assert_eq!(calls(&out, "iam:GetCredentialReport"), 1);
    assert_eq!(calls(&out, "iam:GenerateCredentialReport"), 1);
    // The read policy allows the fallback's calls.
    let policy = run(orgsync("http://127.0.0.1:9").args(["policy", "--read", "--member"]));
    let text_policy = String::from_utf8_lossy(&policy.stdout);
    for op in [
        "iam:GetLoginProfile",
        "iam:ListUsers",
        "iam:GetAccessKeyLastUsed",
    ] {
        assert!(text_policy.contains(op), "{op}: {text_policy}");
    }
}

fn findings(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The `external_id` findings of a `check -o json`, by target.
fn external_id_findings(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "external_id")
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["fix"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_warns_about_every_hop_configured_without_an_external_id() {
    let moto = Moto::start();
    let manifest = moto.seed("controls.json");
    let mgmt_role = "arn:aws:iam::123456789012:role/OrgSyncManagement";
    let condition = r#""Condition": {"StringEquals": {"sts:ExternalId": "<value>"}}"#;
    let dir = support::tempdir();
    let check = |extra: &[&str]| {
        run(orgsync(&moto.endpoint())
            .args(["check", "-o", "json", "--role-arn", mgmt_role])
            .args(extra))
    };

    // No External ID anywhere: the management hop and the three member hops are warned about.
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "warnings only: {}", text(&out));
    let doc = findings(&out);
    let warned = external_id_findings(&doc);
    let mut targets: Vec<String> = warned.iter().map(|w| w.0.clone()).collect();
    targets.sort();
    let mut want = vec![mgmt_role.to_string()];
    for n in ["dev", "prod", "sandbox"] {
        want.push(format!("{} ({n})", support::account_id(&manifest, n)));
    }
    want.sort();
    assert_eq!(targets, want, "{doc:#}");
    for (target, status, fix) in &warned {
        assert_eq!(status, "warn", "{target}");
        assert!(fix.contains(condition), "{target}: {fix}");
        assert!(fix.contains("trust policy"), "{target}: {fix}");
    }
    let mgmt_fix = &warned.iter().find(|w| w.0 == mgmt_role).unwrap().2;
    assert!(mgmt_fix.contains("--external-id"), "{mgmt_fix}");
    let member_fix = &warned.iter().find(|w| w.0 != mgmt_role).unwrap().2;
    assert!(member_fix.contains("--member-external-id"), "{member_fix}");
    assert_eq!(doc["warnings"], 4, "{doc:#}");
    // --strict turns the warnings into a failure.
    assert_eq!(check(&["--strict"]).status.code(), Some(1));

    // An override gives one account its External ID: the others are still warned about.
    let cfg = dir.path().join("accounts.yaml");
    let dev = support::account_id(&manifest, "dev");
    std::fs::write(
        &cfg,
        format!("accounts:\n  \"{dev}\":\n    external_id: dev-secret\n"),
    )
    .unwrap();
    let out = check(&[
        "--external-id",
        "mgmt-secret",
        "--account-config",
        cfg.to_str().unwrap(),
    ]);
    let doc = findings(&out);
    let warned = external_id_findings(&doc);
    let configured_without: Vec<&String> = warned
        .iter()
        .filter(|w| w.2.contains(condition))
        .map(|w| &w.0)
        .collect();
    assert_eq!(configured_without.len(), 2, "prod and sandbox: {doc:#}");
    assert!(
        !configured_without
            .iter()
            .any(|t| t.contains(&dev) || *t == mgmt_role)
    );

    // Every hop with an External ID: no such warning (moto lets the hop through without
    // it too, which is the other warning, "can be assumed WITHOUT the External ID").
    let out = check(&[
        "--external-id",
        "mgmt-secret",
        "--member-external-id",
        "member-secret",
    ]);
    let doc = findings(&out);
    assert!(
        !external_id_findings(&doc)
            .iter()
            .any(|w| w.2.contains(condition) && w.2.contains("give it to orgsync")),
        "{doc:#}"
    );
}

#[test]
fn a_govcloud_organization_has_partition_correct_ids() {
    let moto = Moto::start();
    let region = "us-gov-west-1";
    let manifest = moto.seed_with("controls.json", ["--region", region]);
    let fx = fixture("controls.json");
    let dir = support::tempdir();
    let out = dir.path().join("gov.c1z");
    let o = sync_with(
        orgsync(&moto.endpoint()).env("AWS_REGION", region),
        &out,
        &["--sso-region", region],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    let got = expect::actual(&reader);

    // IAM (the oracle builds arn:aws-us-gov: ARNs from the manifest's region) and SCPs.
    expect::assert_same(
        &expect::iam_only(got.clone()),
        &expected_iam(&fx, &manifest),
    );
    expect::assert_same(
        &scps_only(got.clone()),
        &expected_scps(&fx, &manifest, &all_accounts(&manifest)),
    );
    // Identity Center: the synthetic identity-store ARNs carry the partition too.
    let ic = &manifest["identity_center"];
    let store = ic["identity_store_id"].as_str().unwrap();
    let users: BTreeSet<String> = support::resource_ids(&reader, "sso_user");
    let want: BTreeSet<String> = ic["users"]
        .as_object()
        .unwrap()
        .values()
        .map(|id| {
            format!(
                "arn:aws-us-gov:identitystore:{region}::{store}/user/{}",
                id.as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(users, want);
    let sets: BTreeSet<String> = support::resource_ids(&reader, "permission_set");
    assert_eq!(
        sets,
        BTreeSet::from([ic["permission_sets"]["ReadOnly"]
            .as_str()
            .unwrap()
            .to_string()])
    );
    assert!(sets.iter().all(|s| s.starts_with("arn:aws-us-gov:sso:::")));

    // Every ARN in every id is GovCloud's.
    let all = Filter::default();
    let mut ids: Vec<String> = got.resources.iter().cloned().collect();
    ids.extend(reader.entitlements(&all).unwrap().into_iter().map(|e| e.id));
    ids.extend(reader.grants(&all).unwrap().into_iter().map(|g| g.id));
    let with_arns: Vec<&String> = ids.iter().filter(|i| i.contains("arn:")).collect();
    assert!(with_arns.len() > 50, "{}", with_arns.len());
    let wrong: Vec<&&String> = with_arns
        .iter()
        .filter(|i| {
            i.match_indices("arn:")
                .any(|(at, _)| !i[at..].starts_with("arn:aws-us-gov:"))
        })
        .collect();
    assert!(wrong.is_empty(), "ids with another partition: {wrong:#?}");
    // The account resources' own ARNs too.
    for r in resources_of(&reader, "account_iam") {
        let arn = profile_of(&r)["aws_account_arn"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(arn.starts_with("arn:aws-us-gov:"), "{arn}");
    }
}

/// An sso_user's statuses: resource status, trait status, and the SCIM profile keys.
fn sso_status(reader: &C1zReader, user_arn: &str) -> (i32, i32, Value) {
    let r = resource(reader, "sso_user", user_arn);
    let t: pb::UserTrait = any::find(&r.annotations).unwrap();
    let p = profile_of(&r);
    (
        r.status.unwrap().status,
        t.status.unwrap().status,
        json!([p.get("aws_scim_active"), p.get("orgsync_scim_matched_by")]),
    )
}

/// The bytes of every file in `dir`, as text (lossy).
fn everything_in(dir: &Path) -> String {
    let mut all = String::new();
    for name in support::files_in(dir) {
        let p = dir.join(&name);
        if p.is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    all
}

#[test]
fn scim_status_with_index_and_cursor_paging_a_wrong_token_and_no_leak() {
    let moto = Moto::start();
    let manifest = moto.seed("controls.json");
    let ic = &manifest["identity_center"];
    let store = ic["identity_store_id"].as_str().unwrap();
    let user_arn = |n: &str| {
        format!(
            "arn:aws:identitystore:us-east-1::{store}/user/{}",
            ic["users"][n].as_str().unwrap()
        )
    };
    let token = "orgsync-test-scim-token-4b1d7e9a";
    // SCIM users: five of the six identity-store users (fay is missing), two of them inactive,
    // and one nobody in the store. Two a page: three pages.
    let scim_users = [
        ("ada@example.com", true),
        ("bo@example.com", false),
        ("cy@example.com", true),
        ("di@example.com", false),
        ("ed@example.com", true),
        ("ghost@example.com", true),
    ];
    let dir = support::tempdir();
    let enabled = pb::status::ResourceStatus::Enabled as i32;
    let disabled = pb::status::ResourceStatus::Disabled as i32;
    let t_enabled = pb::user_trait::status::Status::Enabled as i32;
    let t_disabled = pb::user_trait::status::Status::Disabled as i32;

    for (paging, word) in [(Paging::Index, "index"), (Paging::Cursor, "cursor")] {
        let scim = ScimServer::start(token, 2, paging);
        for (n, active) in scim_users {
            scim.add_user(n, None, active);
        }
        let outputs = dir.path().join(word);
        std::fs::create_dir_all(&outputs).unwrap();
        let out = outputs.join("scim.c1z");
        let mut cmd = orgsync(&moto.endpoint());
        let endpoint = scim.endpoint();
        let jsonl = outputs.join("scim.jsonl");
        let token_file = dir.path().join("token");
        let mut extra = vec![
            "--ic-scim-endpoint",
            &endpoint,
            "--jsonl",
            jsonl.to_str().unwrap(),
        ];
        if paging == Paging::Index {
            cmd.env("ORGSYNC_IC_SCIM_TOKEN", token);
        } else {
            std::fs::write(&token_file, format!("{token}\n")).unwrap();
            extra.extend(["--ic-scim-token-file", token_file.to_str().unwrap()]);
        }
        let o = sync_with(cmd.args(["--log-level", "trace"]), &out, &extra);
        assert_eq!(o.status.code(), Some(0), "{word}: {}", text(&o));
        let reader = C1zReader::open(&out).unwrap();
        for (n, active) in &scim_users[..5] {
            let (status, trait_status, keys) = sso_status(&reader, &user_arn(n));
            let (s, t) = if *active {
                (enabled, t_enabled)
            } else {
                (disabled, t_disabled)
            };
            assert_eq!((status, trait_status), (s, t), "{word}: {n}");
            assert_eq!(keys, json!([active, "userName"]), "{word}: {n}");
        }
        // Not in SCIM: the identity store's status (moto gives none), no SCIM keys.
        let (status, trait_status, keys) = sso_status(&reader, &user_arn("fay@example.com"));
        assert_eq!(status, pb::status::ResourceStatus::Unspecified as i32);
        assert_eq!(trait_status, t_enabled);
        assert_eq!(keys, json!([null, null]));
        let note = format!(
            "Identity Center: SCIM 127.0.0.1: 6 users in 3 pages ({word} paging); 5 matched (0 by id, 5 by userName, 0 by externalId), 1 match no identity-store user, 1 identity-store users not in SCIM keep the store's status"
        );
        assert!(notes(&out).contains(&note), "{:?}", notes(&out));
        // The token is in no output and no log line, even at trace level.
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("SCIM page"),
            "trace logging is on: {stderr}"
        );
        assert!(!stderr.contains(token), "{word}: the token is in stderr");
        assert!(!String::from_utf8_lossy(&o.stdout).contains(token));
        let files = everything_in(&outputs);
        assert!(!files.is_empty());
        assert!(
            !files.contains(token),
            "{word}: the token is in an output file"
        );
    }

    // A wrong token: a clear error, the phase failed (exit 3), everything else written, the
    // identity store's statuses kept.
    let scim = ScimServer::start(token, 2, Paging::Index);
    scim.add_user("bo@example.com", None, false);
    let out = dir.path().join("wrong.c1z");
    let o = sync_with(
        orgsync(&moto.endpoint()).env("ORGSYNC_IC_SCIM_TOKEN", "not-the-token"),
        &out,
        &["--ic-scim-endpoint", &scim.endpoint()],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let s = summary(&out);
    let phase = &s["phases"][0];
    assert_eq!(phase["name"], "identity center");
    assert_eq!(phase["error"]["class"], "invalid_credentials", "{s:#}");
    let message = phase["error"]["message"].as_str().unwrap();
    assert!(message.contains("refused the bearer token"), "{message}");
    assert!(!message.contains("not-the-token"), "{message}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("Phase identity center failed"), "{stderr}");
    let reader = C1zReader::open(&out).unwrap();
    let (status, _, keys) = sso_status(&reader, &user_arn("bo@example.com"));
    assert_eq!(status, pb::status::ResourceStatus::Unspecified as i32);
    assert_eq!(keys, json!([null, null]));
    assert!(!resources_of(&reader, "iam_user").is_empty());
    assert!(!resources_of(&reader, "permission_set").is_empty());

    // Usage errors, before any call: no token, a token as a flag, plain http off loopback.
    let usage = |cmd: &mut std::process::Command, what: &str| {
        let o = run(cmd);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(&o));
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let f = dir.path().join("x.c1z");
    let err = usage(
        orgsync(&moto.endpoint())
            .args(["sync", "--file"])
            .arg(&f)
            .args(["--ic-scim-endpoint", &scim.endpoint()]),
        "no token",
    );
    assert!(err.contains("ORGSYNC_IC_SCIM_TOKEN"), "{err}");
    usage(
        orgsync(&moto.endpoint())
            .args(["sync", "--file"])
            .arg(&f)
            .args([
                "--ic-scim-endpoint",
                &scim.endpoint(),
                "--ic-scim-token",
                token,
            ]),
        "token flag",
    );
    let err = usage(
        orgsync(&moto.endpoint())
            .env("ORGSYNC_IC_SCIM_TOKEN", token)
            .args(["sync", "--file"])
            .arg(&f)
            .args(["--ic-scim-endpoint", "http://scim.example.com/v2"]),
        "plain http",
    );
    assert!(err.contains("https"), "{err}");
    assert!(!f.exists());
}

/// The README's container note, as the image runs orgsync: uid 10001, with no passwd entry and
/// no home. A bind-mounted directory another user owns (`-v "$PWD/out:/data"`) is not
/// writable for it, and the sync stops with exit 2 before any AWS call; once the directory is
/// 10001's (`chown 10001:10001 out`, or the container runs as the directory's owner with
/// `--user`), the same command syncs. Needs root to run as another uid (as the tests run here);
/// elsewhere it says it was skipped.
#[test]
fn the_images_user_needs_a_volume_it_may_write() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    const UID: u32 = 10001;
    let dir = support::tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if std::fs::metadata(dir.path()).unwrap().uid() != 0 {
        eprintln!("skipped: running as uid {UID} needs root");
        return;
    }
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = out.join("sync.c1z");
    let as_image = |endpoint: &str| {
        let mut c = orgsync(endpoint);
        c.uid(UID).gid(UID).env_remove("HOME").current_dir("/");
        c
    };
    // Owned by root: refused before any AWS call (nothing listens on port 9).
    let o = sync_with(
        &mut as_image("http://127.0.0.1:9"),
        &file,
        &["--orgs", "off"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot create files in") && err.contains(out.to_str().unwrap()),
        "{}",
        text(&o)
    );
    assert!(support::files_in(&out).is_empty());
    // The directory given to uid 10001: the same command syncs, and the files are 10001's.
    let moto = Moto::start();
    moto.seed("single-account.json");
    std::os::unix::fs::chown(&out, Some(UID), Some(UID)).unwrap();
    let o = sync_with(&mut as_image(&moto.endpoint()), &file, &["--orgs", "off"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), UID);
    assert!(!resources_of(&C1zReader::open(&file).unwrap(), "iam_user").is_empty());
}
