//! Organization-wide sync against moto: every account's exact records, member hops with
//! External IDs and session names, overrides and filters, failure isolation (exit 3), and
//! resilience to throttling and expired tokens (same records as a clean run).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use orgsync::model::{any, pb, profile};
use orgsync::store::c1z::{C1zReader, Filter};
use serde_json::Value;
use support::expect::{self, Expected};
use support::proxy::{Fault, FaultProxy, Rule};
use support::{
    ACTIVE, Moto, calls, fixture, orgsync, resource_ids, resources_of, run, summary, sync,
    sync_with, text,
};

/// The expected IAM records of these accounts (by fixture name).
fn expected(fixture: &Value, manifest: &Value, names: &[&str]) -> Expected {
    let mut e = Expected::default();
    for n in names {
        e.merge(expect::expected_account(fixture, manifest, n));
    }
    e
}

fn account_profile(reader: &C1zReader, id: &str) -> Value {
    let r = reader
        .resource("account", id)
        .unwrap()
        .unwrap_or_else(|| panic!("no account resource {id}"));
    profile::from_struct(r.profile.as_ref().unwrap())
}

/// Asserts two runs wrote the same records, showing only the lines that differ.
fn assert_same_records(a: &Path, b: &Path) {
    support::records::assert_same(a, false, b);
}

#[test]
fn syncs_every_account_of_the_organization_with_exact_records() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let dir = support::tempdir();
    let out = dir.path().join("org.c1z");
    let o = sync(&moto.endpoint(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();

    // Structure: root, OUs (with parents), every account (with parent, status, sync status).
    let org = &manifest["organization"];
    let root = org["root_id"].as_str().unwrap();
    let ou = |p: &str| org["ous"][p].as_str().unwrap().to_string();
    let roots: Vec<String> = resource_ids(&reader, "organization");
    assert_eq!(roots, vec![root.to_string()]);
    let ous: BTreeMap<String, String> = resources_of(&reader, "organizational_unit")
        .into_iter()
        .map(|r| {
            (
                r.id.unwrap().resource,
                r.parent_resource_id
                    .map(|p| format!("{}:{}", p.resource_type, p.resource))
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ous,
        BTreeMap::from([
            (ou("Engineering"), format!("organization:{root}")),
            (
                ou("Engineering/Platform"),
                format!("organizational_unit:{}", ou("Engineering"))
            ),
            (ou("Security"), format!("organization:{root}")),
        ])
    );
    let acct = |n: &str| {
        manifest["accounts"][n]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| manifest["management_account"].as_str().unwrap().to_string())
    };
    let parent_of = |n: &str| -> String {
        match n {
            "dev" | "staging" => format!("organizational_unit:{}", ou("Engineering/Platform")),
            "prod" | "legacy" => format!("organizational_unit:{}", ou("Engineering")),
            "security" => format!("organizational_unit:{}", ou("Security")),
            _ => format!("organization:{root}"),
        }
    };
    assert_eq!(resources_of(&reader, "account").len(), 7);
    for n in ACTIVE.iter().chain(["legacy"].iter()) {
        let r = reader.resource("account", &acct(n)).unwrap().unwrap();
        assert_eq!(
            r.display_name,
            if *n == "management" {
                r.display_name.clone()
            } else {
                n.to_string()
            }
        );
        let p = r.parent_resource_id.as_ref().unwrap();
        assert_eq!(
            format!("{}:{}", p.resource_type, p.resource),
            parent_of(n),
            "{n}"
        );
        let prof = account_profile(&reader, &acct(n));
        assert!(prof["aws_account_joined"].is_string(), "{n}: {prof}");
        assert_eq!(prof["aws_account_id"], acct(n));
        if *n == "legacy" {
            assert_eq!(prof["aws_account_status"], "SUSPENDED");
            assert_eq!(prof["orgsync_sync_status"], "skipped");
            assert_eq!(
                r.status.as_ref().unwrap().status,
                pb::status::ResourceStatus::Disabled as i32
            );
        } else {
            assert_eq!(prof["aws_account_status"], "ACTIVE");
            assert_eq!(prof["orgsync_sync_status"], "ok", "{n}");
        }
        let app: pb::AppTrait = any::find(&r.annotations).unwrap();
        assert_eq!(app.flags.is_empty(), *n != "legacy");
    }

    // Every account's IAM, exactly; nothing from the suspended account.
    let want = expected(&fx, &manifest, &ACTIVE);
    let got = expect::iam_only(expect::actual(&reader));
    expect::assert_same(&got, &want);
    assert!(
        reader
            .resource("account_iam", &acct("legacy"))
            .unwrap()
            .is_none()
    );
    // Member account_iam resources advertise their children; the management one does not.
    let dev_iam = reader
        .resource("account_iam", &acct("dev"))
        .unwrap()
        .unwrap();
    assert_eq!(dev_iam.display_name, "dev");
    let children: Vec<String> = dev_iam
        .annotations
        .iter()
        .filter(|a| any::is::<pb::ChildResourceType>(a))
        .map(|a| {
            <pb::ChildResourceType as prost::Message>::decode(a.value.as_slice())
                .unwrap()
                .resource_type_id
        })
        .collect();
    assert_eq!(children, vec!["iam_user", "role", "group", "iam_policy"]);

    // Cross-account trust: prod's prod-release role trusts dev's deployer role.
    let prod_release = format!(
        "role:arn:aws:iam::{}:role/prod-release:assignment",
        acct("prod")
    );
    let grants = reader
        .grants(&Filter {
            entitlement: Some(prod_release),
            ..Default::default()
        })
        .unwrap();
    assert!(grants.iter().any(|g| {
        g.principal
            .as_ref()
            .unwrap()
            .id
            .as_ref()
            .unwrap()
            .resource
            .contains(&format!("{}:role/", acct("dev")))
    }));

    // The call plan: one hop per active member, Organizations listing per node, no ListParents.
    let s = summary(&out);
    let calls = |op: &str| s["aws_calls"][op]["calls"].as_u64().unwrap_or(0);
    assert_eq!(
        calls("sts:AssumeRole"),
        5,
        "one hop per active member, none into the management account"
    );
    assert_eq!(calls("iam:GetAccountAuthorizationDetails"), 6);
    assert_eq!(calls("organizations:ListParents"), 0);
    assert_eq!(calls("organizations:DescribeOrganization"), 1);
    assert_eq!(
        calls("organizations:ListAccountsForParent"),
        4,
        "root + 3 OUs"
    );
    assert_eq!(s["accounts"].as_array().unwrap().len(), 7);
    let stats = reader.sync().stats.clone().unwrap();
    assert_eq!(stats["orgsync"]["accounts"]["ok"], 6);
    assert_eq!(stats["orgsync"]["accounts"]["skipped"], 1);
}

#[test]
fn twenty_accounts_sync_with_exact_records() {
    let moto = Moto::start();
    let manifest = moto.seed("org-20.json");
    let fx = fixture("org-20.json");
    let dir = support::tempdir();
    let out = dir.path().join("org20.c1z");
    let o = sync(&moto.endpoint(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    let mut names: Vec<String> = vec!["management".into()];
    names.extend((1..=20).map(|i| format!("acct{i:03}")));
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let want = expected(&fx, &manifest, &refs);
    expect::assert_same(&expect::iam_only(expect::actual(&reader)), &want);
    assert_eq!(resources_of(&reader, "account").len(), 21);
    assert_eq!(summary(&out)["aws_calls"]["sts:AssumeRole"]["calls"], 20);
}

#[test]
fn an_unreachable_member_is_recorded_and_the_others_complete() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let prod = manifest["accounts"]["prod"].as_str().unwrap().to_string();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account(&prod),
    );
    let dir = support::tempdir();
    let out = dir.path().join("org.c1z");
    let o = sync(&proxy.url(), &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&prod) && stderr.contains("assume_role_denied"),
        "{stderr}"
    );
    let reader = C1zReader::open(&out).unwrap();
    let prof = account_profile(&reader, &prod);
    assert_eq!(prof["orgsync_sync_status"], "failed");
    assert_eq!(prof["orgsync_error_class"], "assume_role_denied");
    assert!(
        reader.resource("account_iam", &prod).unwrap().is_none(),
        "no half account"
    );
    let others = ["management", "dev", "staging", "security", "sandbox"];
    expect::assert_same(
        &expect::iam_only(expect::actual(&reader)),
        &expected(&fx, &manifest, &others),
    );
    let stats = reader.sync().stats.clone().unwrap();
    assert_eq!(stats["orgsync"]["accounts"]["failed"], 1);
    // Not the whole organization: baton's `partial` type, the account in its scope (the
    // suspended one, which holds no usable access, is not).
    assert_eq!(reader.sync().sync_type, "partial");
    assert_eq!(
        stats["orgsync"]["scope"]["accounts_not_read"],
        serde_json::json!([prod])
    );
    assert!(
        stderr.contains("Sync type: partial (1 account not read)"),
        "{stderr}"
    );
    assert_eq!(
        stats["orgsync"]["failed_accounts"][0]["account_id"],
        prod.as_str()
    );
    assert_eq!(
        stats["orgsync"]["failed_accounts"][0]["class"],
        "assume_role_denied"
    );
    assert_eq!(summary(&out)["exit_code"], 3);

    // --fail-fast stops instead: exit 1 and the previous file stays.
    let before = std::fs::read(&out).unwrap();
    let o = sync(&proxy.url(), &out, &["--fail-fast", "--concurrency", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn moto_auth_mode_denial_is_classified_and_isolated() {
    // moto's own IAM enforcement (fixtures/auth-deny.json): AssumeRole into `broken` is denied.
    let moto = Moto::start();
    let dir = support::tempdir();
    let (manifest, key) = moto.seed_with_auth("auth-deny.json", dir.path());
    let out = dir.path().join("auth.c1z");
    let o = run(orgsync(&moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", key["access_key_id"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            key["secret_access_key"].as_str().unwrap(),
        )
        .arg("sync")
        .arg("--file")
        .arg(&out));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    let broken = manifest["accounts"]["broken"].as_str().unwrap();
    let good = manifest["accounts"]["good"].as_str().unwrap();
    assert_eq!(
        account_profile(&reader, broken)["orgsync_error_class"],
        "assume_role_denied"
    );
    assert_eq!(account_profile(&reader, good)["orgsync_sync_status"], "ok");
    assert!(reader.resource("account_iam", good).unwrap().is_some());
    // Secrets never reach outputs or logs.
    let secret = key["secret_access_key"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&o.stderr).contains(secret));
    assert!(!String::from_utf8_lossy(&std::fs::read(&out).unwrap()).contains(secret));
}

#[test]
fn throttling_and_expired_tokens_give_the_same_records_as_a_clean_run() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let dir = support::tempdir();
    let clean = dir.path().join("clean.c1z");
    let o = sync(&moto.endpoint(), &clean, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 30 % of IAM, STS and Organizations calls throttled, each in its protocol's wire format.
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(Rule::new(Fault::Throttle).service("iam").rate(0.3));
    proxy.add(Rule::new(Fault::Throttle).service("sts").rate(0.3));
    proxy.add(
        Rule::new(Fault::Throttle)
            .service("organizations")
            .rate(0.3),
    );
    let throttled = dir.path().join("throttled.c1z");
    let o = sync(&proxy.url(), &throttled, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&throttled, &clean);
    let s = summary(&throttled);
    let throttles: u64 = s["aws_calls"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["throttled"].as_u64().unwrap())
        .sum();
    let injected: u64 = proxy.injected().iter().sum();
    assert!(injected > 20, "{injected}");
    assert_eq!(
        throttles, injected,
        "every injected throttle was seen and retried"
    );

    // ExpiredToken once in the middle of dev's IAM read: the hop is refreshed, same records.
    let dev = manifest["accounts"]["dev"].as_str().unwrap().to_string();
    proxy.clear_rules();
    proxy.clear_seen();
    proxy.add(
        Rule::new(Fault::ExpiredToken)
            .service("iam")
            .operation("ListRoles")
            .account(&dev)
            .limit(1),
    );
    let expired = dir.path().join("expired.c1z");
    let o = sync(&proxy.url(), &expired, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(proxy.injected(), vec![1]);
    assert_eq!(
        proxy.hops_into(&dev),
        2,
        "the expired session was replaced by a new hop"
    );
    assert_same_records(&expired, &clean);

    // 500s and dropped connections are retried too.
    proxy.clear_rules();
    proxy.add(Rule::new(Fault::ServerError).service("iam").rate(0.2));
    proxy.add(Rule::new(Fault::Drop).service("iam").rate(0.1));
    let flaky = dir.path().join("flaky.c1z");
    let o = sync(&proxy.url(), &flaky, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&flaky, &clean);
}

#[test]
fn every_hop_carries_its_external_id_and_session_name_and_overrides_apply() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let acct = |n: &str| manifest["accounts"][n].as_str().unwrap().to_string();
    let ou = |p: &str| {
        manifest["organization"]["ous"][p]
            .as_str()
            .unwrap()
            .to_string()
    };
    let dir = support::tempdir();
    let config = dir.path().join("accounts.yaml");
    std::fs::write(
        &config,
        format!(
            "ous:\n  {eng}:\n    external_id: eng-secret\n  {sec}:\n    skip: true\n    reason: security team syncs itself\naccounts:\n  \"{dev}\":\n    external_id: dev-secret\n",
            eng = ou("Engineering"),
            sec = ou("Security"),
            dev = acct("dev"),
        ),
    )
    .unwrap();
    let proxy = FaultProxy::start(&moto.endpoint());
    let out = dir.path().join("x.c1z");
    let o = sync(
        &proxy.url(),
        &out,
        &[
            "--role-arn",
            "arn:aws:iam::123456789012:role/ops/OrgSyncReader",
            "--external-id",
            "mgmt-secret",
            "--session-name",
            "audit-2026",
            "--member-external-id",
            "member-secret",
            "--account-config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let hops: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.operation == "AssumeRole")
        .collect();
    let by_role: BTreeMap<String, (String, String)> = hops
        .iter()
        .map(|h| {
            (
                h.params["RoleArn"].clone(),
                (
                    h.params.get("ExternalId").cloned().unwrap_or_default(),
                    h.params["RoleSessionName"].clone(),
                ),
            )
        })
        .collect();
    let member = |n: &str| {
        format!(
            "arn:aws:iam::{}:role/OrganizationAccountAccessRole",
            acct(n)
        )
    };
    let want: BTreeMap<String, (String, String)> = [
        (
            "arn:aws:iam::123456789012:role/ops/OrgSyncReader".to_string(),
            "mgmt-secret",
        ),
        (member("dev"), "dev-secret"),     // account entry wins
        (member("staging"), "eng-secret"), // Engineering/Platform inherits Engineering
        (member("prod"), "eng-secret"),
        (member("sandbox"), "member-secret"), // the CLI default
    ]
    .into_iter()
    .map(|(k, x)| (k, (x.to_string(), "audit-2026".to_string())))
    .collect();
    assert_eq!(
        by_role, want,
        "security is skipped by its OU entry; legacy is suspended"
    );
    assert_eq!(hops.len(), 5, "one hop per role, credentials reused");
    let reader = C1zReader::open(&out).unwrap();
    let sec = account_profile(&reader, &acct("security"));
    assert_eq!(sec["orgsync_sync_status"], "skipped");
    assert_eq!(sec["orgsync_sync_detail"], "security team syncs itself");
    expect::assert_same(
        &expect::iam_only(expect::actual(&reader)),
        &expected(
            &fx,
            &manifest,
            &["management", "dev", "staging", "prod", "sandbox"],
        ),
    );

    // A bad overrides file is refused before any AWS call.
    std::fs::write(&config, "accounts:\n  \"123\":\n    skip: true\n").unwrap();
    let o = run(orgsync("http://127.0.0.1:9")
        .arg("sync")
        .arg("--file")
        .arg(dir.path().join("y.c1z"))
        .arg("--account-config")
        .arg(&config));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'123'"));
}

#[test]
fn account_and_ou_filters_select_accounts() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let acct = |n: &str| manifest["accounts"][n].as_str().unwrap().to_string();
    let dir = support::tempdir();
    let synced_accounts = |path: &Path| -> BTreeSet<String> {
        resource_ids(&C1zReader::open(path).unwrap(), "account")
    };

    let a = dir.path().join("a.c1z");
    let o = sync(
        &moto.endpoint(),
        &a,
        &["--accounts", &format!("{},{}", acct("dev"), acct("prod"))],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        synced_accounts(&a),
        BTreeSet::from([acct("dev"), acct("prod")])
    );
    expect::assert_same(
        &expect::iam_only(expect::actual(&C1zReader::open(&a).unwrap())),
        &expected(&fx, &manifest, &["dev", "prod"]),
    );

    let b = dir.path().join("b.c1z");
    let eng = manifest["organization"]["ous"]["Engineering"]
        .as_str()
        .unwrap();
    let o = sync(
        &moto.endpoint(),
        &b,
        &["--ous", eng, "--exclude-accounts", &acct("staging")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Engineering's subtree: dev, staging (Platform), prod, legacy; staging excluded.
    assert_eq!(
        synced_accounts(&b),
        BTreeSet::from([acct("dev"), acct("prod"), acct("legacy")])
    );

    let o = run(orgsync("http://127.0.0.1:9").args(["sync", "--accounts", "12,abc"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(orgsync("http://127.0.0.1:9").args(["sync", "--ous", "Engineering"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn a_caller_outside_an_organization_syncs_its_own_account() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let out = dir.path().join("solo.c1z");
    let o = sync(&moto.endpoint(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("not a member of an AWS Organization"),
        "{stderr}"
    );
    let reader = C1zReader::open(&out).unwrap();
    let types: Vec<String> = reader
        .resource_types()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(
        !types.contains(&"account".to_string()) && !types.contains(&"organization".to_string())
    );
    assert_eq!(resources_of(&reader, "account_iam").len(), 1);
    // Planning's answer is reused: Identity Center does not ask again.
    assert_eq!(
        support::calls(&out, "organizations:DescribeOrganization"),
        1
    );
    let o = sync(
        &moto.endpoint(),
        &dir.path().join("strict.c1z"),
        &["--orgs", "on"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--orgs on"));
}

#[test]
fn killing_the_process_mid_sync_leaves_the_previous_output() {
    let moto = Moto::start();
    moto.seed("org.json");
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(Rule::new(Fault::Latency(Duration::from_millis(400))).service("iam"));
    let dir = support::tempdir();
    let out = dir.path().join("keep.c1z");
    std::fs::write(&out, b"previous").unwrap();
    let mut child = orgsync(&proxy.url())
        .arg("sync")
        .arg("--file")
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while proxy.count("iam", "GetAccountAuthorizationDetails") < 3
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup code runs
    child.wait().unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    // Only the (released) lock file naming the killed run stays; the next run removes it.
    assert_eq!(
        support::files_in(dir.path()),
        vec!["keep.c1z", "keep.c1z.lock"]
    );
    let holder = std::fs::read_to_string(dir.path().join("keep.c1z.lock")).unwrap();
    assert!(
        holder.starts_with(&format!("pid {},", child.id())),
        "{holder}"
    );
}

#[test]
fn small_pages_and_early_credential_refresh_give_the_same_records() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let dir = support::tempdir();
    let clean = dir.path().join("clean.c1z");
    let o = sync(&moto.endpoint(), &clean, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Pages of 1-2 items make every paged call page; a refresh window of 3599 s on one-hour
    // sessions makes credentials "about to expire" a second after each hop, so slow accounts
    // hop again mid-read (the authorization details, read first, and the ListRoles pages,
    // read one after another, are slowed: an account's other reads run side by side).
    let proxy = FaultProxy::start(&moto.endpoint());
    for slow in ["GetAccountAuthorizationDetails", "ListRoles"] {
        proxy.add(
            Rule::new(Fault::Latency(Duration::from_millis(700)))
                .service("iam")
                .operation(slow),
        );
    }
    let paged = dir.path().join("paged.c1z");
    let o = sync_with(
        orgsync(&proxy.url())
            .env("ORGSYNC_IAM_PAGE_SIZE", "2")
            .env("ORGSYNC_ORG_PAGE_SIZE", "1")
            .env("ORGSYNC_CREDENTIAL_REFRESH", "3599s"),
        &paged,
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&paged, &clean);
    assert!(
        calls(&paged, "iam:ListRoles") > 6,
        "ListRoles paged (6 accounts): {}",
        calls(&paged, "iam:ListRoles")
    );
    assert!(
        calls(&paged, "organizations:ListAccountsForParent") >= 7,
        "accounts paged one by one"
    );
    assert!(
        calls(&paged, "organizations:ListOrganizationalUnitsForParent") > 4,
        "OUs paged one by one (4 nodes)"
    );
    let dev = manifest["accounts"]["dev"].as_str().unwrap();
    let hops = proxy.hops_into(dev);
    assert!(
        hops >= 2,
        "credentials refreshed before expiry: {hops} hops into dev"
    );
}

#[test]
fn per_service_endpoint_variables_reach_every_client() {
    let moto = Moto::start();
    moto.seed("org.json");
    let dir = support::tempdir();
    let out = dir.path().join("x.c1z");
    // The generic endpoint is dead; only the per-service variables lead to the emulator. Clients
    // built from hopped credentials must keep them.
    let o = run(orgsync("http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_IAM", moto.endpoint())
        .env("AWS_ENDPOINT_URL_STS", moto.endpoint())
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", moto.endpoint())
        .env("AWS_ENDPOINT_URL_SSO_ADMIN", moto.endpoint())
        .env("AWS_ENDPOINT_URL_IDENTITYSTORE", moto.endpoint())
        .env("ORGSYNC_MAX_ATTEMPTS", "1")
        .arg("sync")
        .arg("--file")
        .arg(&out));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reader = C1zReader::open(&out).unwrap();
    assert_eq!(resources_of(&reader, "account_iam").len(), 6);
}
