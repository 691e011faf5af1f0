//! `orgsync sync` of one standalone account against moto (fixtures/single-account.json):
//! exact resources, entitlements and grants; field-level checks of what baton readers use;
//! the call plan; c1z == JSON lines; failure modes of the CLI.

mod support;

use std::collections::BTreeSet;

use orgsync::model::{Record, any, pb};
use orgsync::store::c1z::{C1zReader, Filter};
use support::{Moto, orgsync, run, text};

const ACCT: &str = "123456789012";

fn arn(kind: &str, path_name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{path_name}")
}

fn aws_policy(name: &str) -> String {
    format!("arn:aws:iam::aws:policy/{name}")
}

fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

fn profile_json(r: &pb::Resource) -> serde_json::Value {
    r.profile
        .as_ref()
        .map(orgsync::model::profile::from_struct)
        .unwrap_or_default()
}

#[test]
fn syncs_one_account_with_exact_records() {
    let moto = Moto::start();
    let manifest = moto.seed("single-account.json");
    let dir = support::tempdir();
    let c1z = dir.path().join("out.c1z");
    let jsonl = dir.path().join("out.jsonl");
    let summary = dir.path().join("summary.json");
    let out = run(orgsync(&moto.endpoint())
        .arg("sync")
        .arg("--file")
        .arg(&c1z)
        .arg("--jsonl")
        .arg(&jsonl)
        .arg("--summary-json")
        .arg(&summary));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        support::files_in(dir.path()),
        vec!["out.c1z", "out.jsonl", "summary.json"]
    );

    let reader = C1zReader::open(&c1z).unwrap();
    let all = Filter::default();
    let resources = reader.resources(&all).unwrap();
    let ids_of = |ty: &str| -> BTreeSet<String> {
        resources
            .iter()
            .filter_map(|r| r.id.as_ref())
            .filter(|i| i.resource_type == ty)
            .map(|i| i.resource.clone())
            .collect()
    };
    let keys: Vec<String> = manifest["access_keys"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(keys.len(), 3);

    // Resources, by type.
    assert_eq!(ids_of("account_iam"), set([ACCT.to_string()]));
    assert_eq!(
        ids_of("iam_user"),
        set([
            arn("user", "alice@example.com"),
            arn("user", "bob"),
            arn("user", "humans/carol"),
            arn("user", "service/deploy-bot"),
            arn("user", "dave")
        ])
    );
    assert_eq!(
        ids_of("group"),
        set([
            arn("group", "admins"),
            arn("group", "eng/developers"),
            arn("group", "auditors")
        ])
    );
    assert_eq!(
        ids_of("role"),
        set([
            arn("role", "ec2-app"),
            arn("role", "breakglass"),
            arn("role", "ops/ops-readonly"),
            arn("role", "saml-admins")
        ])
    );
    let policies = set([
        arn("policy", "app/app-data-access"),
        arn("policy", "deploy-pipeline"),
        aws_policy("AdministratorAccess"),
        aws_policy("ReadOnlyAccess"),
        aws_policy("SecurityAudit"),
        aws_policy("job-function/ViewOnlyAccess"),
        aws_policy("AmazonS3ReadOnlyAccess"),
    ]);
    assert_eq!(
        ids_of("iam_policy"),
        policies,
        "local policies + attached AWS-managed ones (not the boundary)"
    );
    let inline = set([
        format!("{}::inline::deny-billing", arn("user", "alice@example.com")),
        format!(
            "{}::inline::own-home-prefix",
            arn("group", "eng/developers")
        ),
        format!("{}::inline::kms-decrypt", arn("role", "ec2-app")),
        format!("{}::inline::admin", arn("role", "saml-admins")),
    ]);
    assert_eq!(ids_of("inline_policy"), inline);
    assert_eq!(ids_of("access-key"), set(keys.clone()));
    assert_eq!(resources.len(), 1 + 5 + 3 + 4 + 7 + 4 + 3);

    // Entitlements.
    let ents: BTreeSet<String> = reader
        .entitlements(&all)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut want = BTreeSet::new();
    for g in ["admins", "eng/developers", "auditors"] {
        want.insert(format!("group:{}:member", arn("group", g)));
    }
    for r in ["ec2-app", "breakglass", "ops/ops-readonly", "saml-admins"] {
        want.insert(format!("role:{}:assignment", arn("role", r)));
    }
    for p in &policies {
        want.insert(format!("iam_policy:{p}:attached"));
    }
    for i in &inline {
        want.insert(format!("inline_policy:{i}:attached"));
    }
    assert_eq!(ents, want);

    // Grants: the direct ones (expansion's derived grants are checked below).
    let (derived, grants): (Vec<pb::Grant>, Vec<pb::Grant>) = reader
        .grants(&all)
        .unwrap()
        .into_iter()
        .partition(support::expect::is_derived);
    // Expansion ran at the end: group policies reach the members (shallow), and every
    // derived grant names its source entitlement and carries no GrantExpandable.
    let admin = format!("iam_policy:{}:attached", aws_policy("AdministratorAccess"));
    let admins = format!("group:{}:member", arn("group", "admins"));
    let derived_keys: std::collections::BTreeMap<(String, String), Vec<String>> = derived
        .iter()
        .map(|g| {
            let p = g.principal.as_ref().unwrap().id.as_ref().unwrap();
            (
                (
                    g.entitlement.as_ref().unwrap().id.clone(),
                    p.resource.clone(),
                ),
                g.sources
                    .as_ref()
                    .unwrap()
                    .sources
                    .keys()
                    .cloned()
                    .collect(),
            )
        })
        .collect();
    // Carol also reaches it through the breakglass role she may assume (a diamond: one
    // grant, both sources).
    let breakglass = format!("role:{}:assignment", arn("role", "breakglass"));
    for (u, sources) in [
        ("alice@example.com", vec![admins.clone()]),
        ("humans/carol", vec![admins.clone(), breakglass]),
    ] {
        assert_eq!(
            derived_keys.get(&(admin.clone(), arn("user", u))),
            Some(&sources),
            "{u} gets AdministratorAccess: {derived_keys:#?}"
        );
    }
    assert!(
        derived
            .iter()
            .all(|g| any::find::<pb::GrantExpandable>(&g.annotations).is_none())
    );
    let gids: BTreeSet<String> = grants.iter().map(|g| g.id.clone()).collect();
    let member = |g: &str, u: &str| {
        format!(
            "group:{}:member:iam_user:{}",
            arn("group", g),
            arn("user", u)
        )
    };
    let attached = |p: &str, t: &str, id: &str| format!("iam_policy:{p}:attached:{t}:{id}");
    let assume =
        |r: &str, t: &str, id: &str| format!("role:{}:assignment:{t}:{id}", arn("role", r));
    let want = set([
        member("admins", "alice@example.com"),
        member("admins", "humans/carol"),
        member("eng/developers", "alice@example.com"),
        member("eng/developers", "bob"),
        member("auditors", "bob"),
        attached(
            &aws_policy("ReadOnlyAccess"),
            "iam_user",
            &arn("user", "alice@example.com"),
        ),
        attached(
            &arn("policy", "deploy-pipeline"),
            "iam_user",
            &arn("user", "service/deploy-bot"),
        ),
        attached(
            &aws_policy("AdministratorAccess"),
            "group",
            &arn("group", "admins"),
        ),
        attached(
            &arn("policy", "app/app-data-access"),
            "group",
            &arn("group", "eng/developers"),
        ),
        attached(
            &aws_policy("SecurityAudit"),
            "group",
            &arn("group", "auditors"),
        ),
        attached(
            &aws_policy("job-function/ViewOnlyAccess"),
            "group",
            &arn("group", "auditors"),
        ),
        attached(
            &aws_policy("AmazonS3ReadOnlyAccess"),
            "role",
            &arn("role", "ec2-app"),
        ),
        attached(
            &arn("policy", "app/app-data-access"),
            "role",
            &arn("role", "ec2-app"),
        ),
        attached(
            &aws_policy("AdministratorAccess"),
            "role",
            &arn("role", "breakglass"),
        ),
        attached(
            &aws_policy("ReadOnlyAccess"),
            "role",
            &arn("role", "ops/ops-readonly"),
        ),
        assume("breakglass", "iam_user", &arn("user", "humans/carol")),
        assume("ops/ops-readonly", "role", &arn("role", "ec2-app")),
        // The account root (given both as an ARN and as a bare id) is one account_iam grant.
        assume("ops/ops-readonly", "account_iam", ACCT),
        format!(
            "inline_policy:{}::inline::deny-billing:attached:iam_user:{}",
            arn("user", "alice@example.com"),
            arn("user", "alice@example.com")
        ),
        format!(
            "inline_policy:{}::inline::own-home-prefix:attached:group:{}",
            arn("group", "eng/developers"),
            arn("group", "eng/developers")
        ),
        format!(
            "inline_policy:{}::inline::kms-decrypt:attached:role:{}",
            arn("role", "ec2-app"),
            arn("role", "ec2-app")
        ),
        format!(
            "inline_policy:{}::inline::admin:attached:role:{}",
            arn("role", "saml-admins"),
            arn("role", "saml-admins")
        ),
    ]);
    assert_eq!(gids, want);
    assert_eq!(grants.len(), want.len(), "no duplicate grant ids");

    // Grant shapes readers rely on: embedded entitlement id + resource id, principal id,
    // expansion links where baton-aws puts them.
    for g in &grants {
        let e = g.entitlement.as_ref().unwrap();
        assert!(
            e.resource.as_ref().and_then(|r| r.id.as_ref()).is_some(),
            "{}",
            g.id
        );
        assert!(
            g.principal.as_ref().and_then(|p| p.id.as_ref()).is_some(),
            "{}",
            g.id
        );
        let ge = any::find::<pb::GrantExpandable>(&g.annotations);
        let p = g.principal.as_ref().unwrap().id.as_ref().unwrap();
        match (
            e.id.starts_with("iam_policy:") || e.id.starts_with("inline_policy:"),
            p.resource_type.as_str(),
        ) {
            (true, "group") => assert_eq!(
                ge.unwrap(),
                pb::GrantExpandable {
                    entitlement_ids: vec![format!("group:{}:member", p.resource)],
                    shallow: true,
                    resource_type_ids: vec![]
                }
            ),
            (true, "role") => assert_eq!(
                ge.unwrap(),
                pb::GrantExpandable {
                    entitlement_ids: vec![format!("role:{}:assignment", p.resource)],
                    shallow: false,
                    resource_type_ids: vec![]
                }
            ),
            (false, "role") => assert_eq!(
                ge.unwrap().entitlement_ids,
                vec![format!("role:{}:assignment", p.resource)]
            ),
            _ => assert!(ge.is_none(), "{}", g.id),
        }
    }

    // Users: emails (one primary), login, last login from the used key, the access keys'
    // identity pointing at the user resource.
    let user = |name: &str| {
        reader
            .resource("iam_user", &arn("user", name))
            .unwrap()
            .unwrap()
    };
    let alice = user("alice@example.com");
    let ut: pb::UserTrait = any::find(&alice.annotations).unwrap();
    assert_eq!(
        ut.emails
            .iter()
            .map(|e| (e.address.as_str(), e.is_primary))
            .collect::<Vec<_>>(),
        vec![("alice@example.com", true)]
    );
    assert_eq!(ut.account_type, pb::user_trait::AccountType::Human as i32);
    assert_eq!(ut.login, "alice@example.com");
    let alice_login = ut.last_login.expect("alice used a key");
    let bob = user("bob");
    let bt: pb::UserTrait = any::find(&bob.annotations).unwrap();
    assert_eq!(bt.emails[0].address, "bob@example.com");
    assert_eq!(
        profile_json(&bob)["aws_tags"],
        serde_json::json!({"email": "bob@example.com", "team": "platform"})
    );
    assert_eq!(profile_json(&bob)["aws_user_type"], "iam");
    assert!(bt.last_login.is_none());
    assert_eq!(
        alice.status.as_ref().unwrap().status,
        pb::status::ResourceStatus::Enabled as i32
    );
    let mut statuses = vec![];
    for k in &manifest["access_keys"]["management/alice@example.com"]
        .as_array()
        .unwrap()
        .clone()
    {
        let key = reader
            .resource("access-key", k.as_str().unwrap())
            .unwrap()
            .unwrap();
        let st: pb::SecretTrait = any::find(&key.annotations).unwrap();
        assert_eq!(
            st.identity_id.as_ref().unwrap().resource,
            arn("user", "alice@example.com")
        );
        assert_eq!(st.identity_id.as_ref().unwrap().resource_type, "iam_user");
        assert_eq!(
            st.credential_type,
            pb::secret_trait::CredentialType::StaticSecret as i32
        );
        assert!(key.created_at.is_some());
        statuses.push((
            profile_json(&key)["aws_access_key_status"]
                .as_str()
                .unwrap()
                .to_string(),
            st.last_used_at,
        ));
        assert!(key.display_name.starts_with("alice@example.com|AKIA"));
    }
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(statuses[0].0, "Active");
    assert_eq!(
        statuses[0].1,
        Some(alice_login),
        "last login = the key's last use"
    );
    assert_eq!(statuses[1].0, "Inactive");

    // Roles: NHI kind, trust facts in the profile, ListRoles-only fields.
    let role = |name: &str| {
        reader
            .resource("role", &arn("role", name))
            .unwrap()
            .unwrap()
    };
    let ec2 = role("ec2-app");
    let nhi: pb::NonHumanIdentityTrait = any::find(&ec2.annotations).unwrap();
    assert_eq!((nhi.nhi_type, nhi.nhi_detail.as_str()), (2, "aws.role.ec2"));
    let p = profile_json(&ec2);
    assert_eq!(
        p["aws_trust_services"],
        serde_json::json!(["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])
    );
    assert_eq!(p["aws_max_session_duration_seconds"], 7200);
    assert_eq!(p["aws_role_description"], "Application instances and tasks");
    assert_eq!(
        p["aws_tags"],
        serde_json::json!({"app": "shop", "env": "prod"})
    );
    let saml = role("saml-admins");
    let nhi: pb::NonHumanIdentityTrait = any::find(&saml.annotations).unwrap();
    assert_eq!(nhi.nhi_detail, "aws.role.saml");
    assert_eq!(
        profile_json(&saml)["aws_trust_federated"],
        serde_json::json!([format!("arn:aws:iam::{ACCT}:saml-provider/CorpIdP")])
    );
    assert_eq!(
        profile_json(&role("ops/ops-readonly"))["aws_trust_any_principal"],
        true
    );

    // Policy documents arrive URL-encoded and are stored decoded (special characters intact).
    let dev_inline = reader
        .resource(
            "inline_policy",
            &format!(
                "{}::inline::own-home-prefix",
                arn("group", "eng/developers")
            ),
        )
        .unwrap()
        .unwrap();
    let doc = profile_json(&dev_inline)["policy_document"]
        .as_str()
        .unwrap()
        .to_string();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc["Statement"][0]["Condition"]["StringLike"]["s3:prefix"][1],
        "shared/a b&c+d%20/*"
    );
    assert_eq!(
        dev_inline.parent_resource_id.as_ref().unwrap().resource,
        arn("group", "eng/developers")
    );
    let local = reader
        .resource("iam_policy", &arn("policy", "app/app-data-access"))
        .unwrap()
        .unwrap();
    assert!(
        profile_json(&local)["policy_document"]
            .as_str()
            .unwrap()
            .contains("dynamodb:*Item")
    );
    assert_eq!(
        local.description,
        "Read/write the application's bucket and table"
    );
    let admin = reader
        .resource("iam_policy", &aws_policy("AdministratorAccess"))
        .unwrap()
        .unwrap();
    assert!(
        profile_json(&admin)["policy_document"]
            .as_str()
            .unwrap()
            .contains("\"*\"")
    );
    assert!(admin.parent_resource_id.is_none());

    // The oracle of the fixture: ids, parents, and the profile keys it knows (account name,
    // console access, MFA, password change, boundaries).
    support::expect::assert_same(
        &support::expect::actual(&reader),
        &support::expect::expected_account(
            &support::fixture("single-account.json"),
            &manifest,
            "management",
        ),
    );

    // JSON lines hold exactly the c1z's records as read: without expansion's derived grants
    // and the sources it gave direct grants.
    let from_jsonl: Vec<Record> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| Record::from_json(&serde_json::from_str(l).unwrap()).unwrap())
        .collect();
    let mut a: Vec<String> = reader
        .records()
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            Record::Grant(g) if support::expect::is_derived(&g) => None,
            Record::Grant(mut g) => {
                g.sources = None;
                Some(Record::Grant(g))
            }
            r => Some(r),
        })
        .map(|r| orgsync::store::jsonl::line(&r))
        .collect();
    let mut b: Vec<String> = from_jsonl.iter().map(orgsync::store::jsonl::line).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // The call plan: bulk calls only, no per-entity reads.
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let calls = &s["aws_calls"];
    let n = |op: &str| calls[op]["calls"].as_u64().unwrap_or(0);
    assert_eq!(n("iam:GetAccountAuthorizationDetails"), 1);
    assert_eq!(n("iam:ListRoles"), 1);
    // A fresh emulator has no report: the one asked for first (a report under 4 hours old is
    // reused) is missing, so one is generated and read.
    assert_eq!(n("iam:GetCredentialReport"), 2);
    assert_eq!(n("iam:GenerateCredentialReport"), 1);
    assert_eq!(n("iam:ListAccessKeys"), 2, "only alice and bob have keys");
    for per_entity in [
        "iam:ListUsers",
        "iam:GetAccessKeyLastUsed",
        "iam:ListGroupsForUser",
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
    ] {
        assert_eq!(n(per_entity), 0, "{per_entity}");
    }
    assert_eq!(
        n("iam:GetPolicy"),
        5,
        "one per distinct attached AWS-managed policy"
    );
    assert_eq!(s["exit_code"], 0);
}

#[test]
fn secrets_can_be_left_out_and_jsonl_can_go_to_stdout() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let out = run(orgsync(&moto.endpoint()).args([
        "sync",
        "--no-file",
        "--jsonl",
        "-",
        "--sync-secrets",
        "false",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["kind"].is_string() && l["id"].is_string())
    );
    assert!(
        !lines
            .iter()
            .any(|l| l["id"].as_str().unwrap().starts_with("access-key:"))
    );
    assert_eq!(lines.iter().filter(|l| l["kind"] == "grant").count(), 22);
    // Access keys are not listed when they are not wanted and the report has the key use.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("iam:ListAccessKeys"), "{stderr}");
}

#[test]
fn bad_output_path_fails_before_any_aws_call_and_leaves_nothing() {
    // No emulator at all: a usage error must not reach AWS.
    let dir = support::tempdir();
    let target = dir.path().join("no/such/dir/x.c1z");
    let out = run(orgsync("http://127.0.0.1:9")
        .arg("sync")
        .arg("--file")
        .arg(&target));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(support::files_in(dir.path()).is_empty());
    let out = run(orgsync("http://127.0.0.1:9").args(["sync", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out =
        run(orgsync("http://127.0.0.1:9").args(["sync", "--role-arn", "arn:aws:iam::1:user/x"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an IAM role ARN"));
    let out = run(orgsync("http://127.0.0.1:9").args(["sync", "--no-file"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn unreachable_aws_fails_with_exit_1_and_keeps_the_previous_file() {
    let dir = support::tempdir();
    let target = dir.path().join("keep.c1z");
    std::fs::write(&target, b"previous").unwrap();
    let out = run(orgsync("http://127.0.0.1:9")
        .env("ORGSYNC_MAX_ATTEMPTS", "2")
        .arg("sync")
        .arg("--file")
        .arg(&target));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(support::files_in(dir.path()), vec!["keep.c1z"]);
}

#[test]
fn sigint_mid_sync_leaves_the_previous_file_untouched() {
    use std::time::Duration;
    use support::proxy::{Fault, FaultProxy, Rule};
    let moto = Moto::start();
    moto.seed("single-account.json");
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::Latency(Duration::from_secs(5)))
            .service("iam")
            .operation("GetAccountAuthorizationDetails"),
    );
    let dir = support::tempdir();
    let target = dir.path().join("keep.c1z");
    std::fs::write(&target, b"previous").unwrap();
    let child = orgsync(&proxy.url())
        .arg("sync")
        .arg("--file")
        .arg(&target)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the slow call is in flight (it is delayed 5 s at the proxy).
    let start = std::time::Instant::now();
    while proxy.arrived("iam", "GetAccountAuthorizationDetails") == 0
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.arrived("iam", "GetAccountAuthorizationDetails"), 1);
    assert_eq!(
        proxy.count("iam", "GetAccountAuthorizationDetails"),
        0,
        "not answered yet"
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("previous output was left untouched"));
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(
        support::files_in(dir.path()),
        vec!["keep.c1z"],
        "no temp file left"
    );
}

#[test]
fn inspect_reads_what_sync_wrote() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let c1z = dir.path().join("s.c1z");
    let out = run(orgsync(&moto.endpoint()).arg("sync").arg("-f").arg(&c1z));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let inspect = |args: &[&str]| {
        let out = run(orgsync("http://127.0.0.1:9")
            .arg("inspect")
            .args(args)
            .arg("-f")
            .arg(&c1z));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let stats = inspect(&["stats"]);
    assert!(
        stats.contains("iam_user") && stats.contains("TOTAL"),
        "{stats}"
    );
    let stats_json: serde_json::Value =
        serde_json::from_str(&inspect(&["stats", "-o", "json"])).unwrap();
    let derived = C1zReader::open(&c1z)
        .unwrap()
        .grants(&Filter::default())
        .unwrap()
        .iter()
        .filter(|g| support::expect::is_derived(g))
        .count();
    assert!(derived > 0, "grants were expanded");
    assert_eq!(stats_json["counts"]["grants"], 22 + derived);
    assert_eq!(
        stats_json["sync"]["stats"]["orgsync"]["expansion"]["derived_grants"],
        derived
    );
    assert!(
        stats.contains(&format!("Grant expansion: {derived} derived grants")),
        "{stats}"
    );
    let g: serde_json::Value = serde_json::from_str(&inspect(&[
        "grants",
        "--entitlement",
        &format!("group:{}:member", arn("group", "admins")),
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(g.as_array().unwrap().len(), 2);
    let p: serde_json::Value = serde_json::from_str(&inspect(&[
        "grants",
        "--principal",
        &format!("iam_user:{}", arn("user", "bob")),
        "-o",
        "json",
    ]))
    .unwrap();
    let direct = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|g| !g.to_string().contains("GrantImmutable"))
            .count()
    };
    assert_eq!(direct(&p), 2, "bob is in two groups");
    let r: serde_json::Value = serde_json::from_str(&inspect(&[
        "resources",
        "--resource-type",
        "role",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(r.as_array().unwrap().len(), 4);
    assert!(inspect(&["resource-types"]).contains("access-key"));
    assert!(inspect(&["syncs"]).contains("full"));
    let e = inspect(&["entitlements", "--resource-type", "group"]);
    assert_eq!(e.lines().count(), 4, "{e}");
    let bad = run(orgsync("http://127.0.0.1:9").args(["inspect", "stats", "-f", "/no/such.c1z"]));
    assert_eq!(bad.status.code(), Some(2));
}
