//! `orgsync grant / revoke / create-user / delete-resource` against moto
//! (fixtures/provision.json, fixtures/provision-deny.json).
//!
//! Every provisionable entitlement kind passes the conformance sequence: sync → grant → sync
//! again and find the grant by its ID (the same record the grant printed) → grant again
//! (`already-granted`) → revoke with the grant ID taken from the c1z → revoke again
//! (`already-revoked`) → sync again and it is gone. Each test function starts one moto, seeds
//! it once and runs the sequence for several cases with shared syncs. The exact AWS calls of
//! each grant and revoke are asserted (they are the measured cost per kind), and one test
//! checks the reported calls against what actually reached the wire (fault proxy).

mod support;

use std::cell::Cell;
use std::path::PathBuf;
use std::process::{Command, Output};

use orgsync::model::Record;
use orgsync::store::c1z::{C1zReader, Filter};
use serde_json::Value;
use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, orgsync, run, text};

struct World {
    moto: Moto,
    manifest: Value,
    dir: tempfile::TempDir,
    syncs: Cell<u32>,
    /// Send provisioning commands through this endpoint instead of moto's (a proxy).
    endpoint: Option<String>,
}

impl World {
    fn new(fixture: &str) -> World {
        let moto = Moto::start();
        let manifest = moto.seed(fixture);
        World {
            moto,
            manifest,
            dir: support::tempdir(),
            syncs: Cell::new(0),
            endpoint: None,
        }
    }

    fn account(&self, name: &str) -> String {
        support::account_id(&self.manifest, name)
    }

    fn arn(&self, account: &str, kind: &str, path_name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}/{path_name}", self.account(account))
    }

    fn ic(&self, what: &str, name: &str) -> String {
        self.manifest["identity_center"][what][name]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn store(&self) -> String {
        self.manifest["identity_center"]["identity_store_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn sso_user(&self, name: &str) -> String {
        format!(
            "arn:aws:identitystore:us-east-1::{}/user/{}",
            self.store(),
            self.ic("users", name)
        )
    }

    fn sso_group(&self, name: &str) -> String {
        format!(
            "arn:aws:identitystore:us-east-1::{}/group/{}",
            self.store(),
            self.ic("groups", name)
        )
    }

    /// A fresh sync into a new file; returns the file and a reader.
    fn sync(&self) -> (PathBuf, C1zReader) {
        let n = self.syncs.get() + 1;
        self.syncs.set(n);
        let file = self.dir.path().join(format!("sync-{n}.c1z"));
        let out = run(orgsync(&self.moto.endpoint())
            // Read Identity Center too, with the default assignment strategy (auto discovers
            // pairs per permission set on provision.json), so a granted assignment is seen only
            // if CreateAccountAssignment provisioned its permission set to its account, as on AWS
            // (the emulator does it through scripts/moto_sso_provisioning.py).
            .env("ORGSYNC_IDENTITY_CENTER", "on")
            .arg("sync")
            .arg("--file")
            .arg(&file));
        assert!(
            matches!(out.status.code(), Some(0)),
            "sync failed: {}",
            text(&out)
        );
        let reader = C1zReader::open(&file).unwrap();
        (file, reader)
    }

    fn cmd(&self) -> Command {
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| self.moto.endpoint());
        orgsync(&endpoint)
    }

    /// Runs a provisioning command with `-o json`; returns the output and, on exit 0, the JSON.
    fn prov(&self, args: &[&str]) -> (Output, Value) {
        let out = run(self.cmd().args(args).args(["-o", "json"]));
        let v = if out.status.code() == Some(0) {
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
        } else {
            Value::Null
        };
        assert_calls_in_write_policy(&v);
        (out, v)
    }

    fn ok(&self, args: &[&str], status: &str) -> Value {
        let (out, v) = self.prov(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert_eq!(v["status"], status, "{args:?}: {}", text(&out));
        v
    }
}

/// Every call a provisioning command made is allowed by `orgsync policy --write
/// --identity-center` (a separate write role needs nothing else).
fn assert_calls_in_write_policy(v: &Value) {
    use orgsync::permissions::{PolicyRequest, actions, policy};
    let allowed = actions(&policy(&PolicyRequest {
        read: false,
        write: true,
        identity_center: true,
        ..Default::default()
    }));
    for c in v["calls"].as_array().into_iter().flatten() {
        let op = format!(
            "{}:{}",
            c["service"].as_str().unwrap_or_default(),
            c["operation"].as_str().unwrap_or_default()
        );
        assert!(
            allowed.contains(&op),
            "{op} is not in `orgsync policy --write --identity-center`"
        );
    }
}

/// The (RoleArn, ExternalId) of every AssumeRole the proxy saw, in order.
fn role_hops(proxy: &FaultProxy) -> Vec<(String, Option<String>)> {
    proxy
        .seen()
        .iter()
        .filter(|s| s.operation == "AssumeRole")
        .map(|s| {
            (
                s.params["RoleArn"].clone(),
                s.params.get("ExternalId").cloned(),
            )
        })
        .collect()
}

/// The `service:Operation` names of an outcome's calls, without the connect call.
fn ops(v: &Value) -> Vec<String> {
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["service"].as_str().unwrap(),
                c["operation"].as_str().unwrap()
            )
        })
        .filter(|o| o != "sts:GetCallerIdentity")
        .collect()
}

fn grant_json(g: orgsync::model::pb::Grant) -> Value {
    Record::Grant(g).to_json()
}

/// One entitlement kind's case: the entitlement, the principal, and the calls each step must
/// make (after sts:GetCallerIdentity).
struct Case {
    name: &'static str,
    entitlement: String,
    principal_type: &'static str,
    principal: String,
    grant_calls: Vec<&'static str>,
    regrant_calls: Vec<&'static str>,
    revoke_calls: Vec<&'static str>,
    rerevoke_calls: Vec<&'static str>,
    /// The printed record equals the c1z's record byte for byte (else: id, entitlement and
    /// principal are compared — an account grant embeds the sync's `account` resource, which
    /// carries the outcome of that account's sync, a fact only a sync knows).
    exact_record: bool,
}

/// `grant --entitlement E --principal-type T --principal P`.
fn grant_args<'a>(
    entitlement: &'a str,
    principal_type: &'a str,
    principal: &'a str,
) -> Vec<&'a str> {
    vec![
        "grant",
        "--entitlement",
        entitlement,
        "--principal-type",
        principal_type,
        "--principal",
        principal,
    ]
}

impl Case {
    fn grant_args(&self) -> Vec<&str> {
        grant_args(&self.entitlement, self.principal_type, &self.principal)
    }
}

/// `delete-resource --resource-type T --resource R`.
fn delete_args<'a>(resource_type: &'a str, resource: &'a str) -> Vec<&'a str> {
    vec![
        "delete-resource",
        "--resource-type",
        resource_type,
        "--resource",
        resource,
    ]
}

fn with_hop(hop: bool, calls: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec![];
    if hop {
        v.push("sts:AssumeRole");
    }
    v.extend_from_slice(calls);
    v
}

fn key_fields(record: &Value) -> Value {
    let r = &record["record"];
    serde_json::json!({
        "id": record["id"],
        "entitlement": r["entitlement"]["id"],
        "principal": r["principal"]["id"],
    })
}

/// The conformance sequence for every case, with shared syncs.
fn conformance(w: &World, cases: &[Case]) {
    // 1. sync: the entitlement is known (or is an AWS-managed policy nobody holds yet) and the
    //    principal holds no such grant.
    let (f0, r0) = w.sync();
    let f0 = f0.to_str().unwrap().to_string();
    for c in cases {
        let held = r0
            .grants(&Filter {
                entitlement: Some(c.entitlement.clone()),
                principal: Some(format!("{}:{}", c.principal_type, c.principal)),
                ..Default::default()
            })
            .unwrap();
        assert!(
            held.is_empty(),
            "{}: already granted before the test",
            c.name
        );
        assert!(
            r0.resource(c.principal_type, &c.principal)
                .unwrap()
                .is_some(),
            "{}: principal missing from the first sync",
            c.name
        );
    }
    // 2. grant (checked against the first sync's file).
    let mut granted = vec![];
    for c in cases {
        let mut args = c.grant_args();
        args.extend(["--file", &f0]);
        let v = w.ok(&args, "granted");
        assert_eq!(ops(&v), c.grant_calls, "{}: calls of the grant", c.name);
        eprintln!(
            "{}: grant made {} AWS calls: {:?}",
            c.name,
            ops(&v).len() + 1,
            ops(&v)
        );
        granted.push(v["record"].clone());
    }
    // 3. sync again: the grant is there under the printed id, as printed.
    let (f1, r1) = w.sync();
    let f1 = f1.to_str().unwrap().to_string();
    let mut ids = vec![];
    for (c, record) in cases.iter().zip(&granted) {
        let id = record["id"].as_str().unwrap().to_string();
        let g = r1
            .grant(&id)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: grant {id} not in the second sync", c.name));
        let synced = grant_json(g);
        if c.exact_record {
            assert_eq!(
                &synced, record,
                "{}: printed record != synced record",
                c.name
            );
        } else {
            assert_eq!(key_fields(&synced), key_fields(record), "{}", c.name);
        }
        assert_eq!(
            synced["record"]["entitlement"]["id"], c.entitlement,
            "{}",
            c.name
        );
        ids.push(id);
    }
    // 4. grant again: already-granted, same record.
    for (c, record) in cases.iter().zip(&granted) {
        let v = w.ok(&c.grant_args(), "already-granted");
        assert_eq!(ops(&v), c.regrant_calls, "{}: calls of the repeat", c.name);
        assert_eq!(&v["record"], record, "{}", c.name);
    }
    // 5. revoke with the id from the c1z, 6. revoke again.
    for (c, id) in cases.iter().zip(&ids) {
        let v = w.ok(&["revoke", "--grant", id, "--file", &f1], "revoked");
        assert_eq!(ops(&v), c.revoke_calls, "{}: calls of the revoke", c.name);
        eprintln!(
            "{}: revoke made {} AWS calls: {:?}",
            c.name,
            ops(&v).len() + 1,
            ops(&v)
        );
        assert_eq!(v["record"]["id"], id.as_str(), "{}", c.name);
        let again = w.ok(&["revoke", "--grant", id], "already-revoked");
        assert_eq!(
            ops(&again),
            c.rerevoke_calls,
            "{}: calls of the repeat",
            c.name
        );
    }
    // 7. sync again: gone.
    let (_, r2) = w.sync();
    for (c, id) in cases.iter().zip(&ids) {
        assert!(
            r2.grant(id).unwrap().is_none(),
            "{}: {id} still there",
            c.name
        );
    }
}

#[test]
fn conformance_iam_group_member() {
    let w = World::new("provision.json");
    let devs = w.arn("management", "group", "eng/devs");
    let deployers = w.arn("workload", "group", "deployers");
    let read = ["iam:GetGroup"];
    conformance(
        &w,
        &[
            Case {
                name: "group member, caller's account",
                entitlement: format!("group:{devs}:member"),
                principal_type: "iam_user",
                principal: w.arn("management", "user", "people/bob"),
                grant_calls: vec!["iam:GetGroup", "iam:AddUserToGroup"],
                regrant_calls: read.to_vec(),
                revoke_calls: vec!["iam:GetGroup", "iam:RemoveUserFromGroup"],
                rerevoke_calls: read.to_vec(),
                exact_record: true,
            },
            Case {
                name: "group member, member account (hop)",
                entitlement: format!("group:{deployers}:member"),
                principal_type: "iam_user",
                principal: w.arn("workload", "user", "carl"),
                grant_calls: with_hop(true, &["iam:GetGroup", "iam:AddUserToGroup"]),
                regrant_calls: with_hop(true, &read),
                revoke_calls: with_hop(true, &["iam:GetGroup", "iam:RemoveUserFromGroup"]),
                rerevoke_calls: with_hop(true, &read),
                exact_record: true,
            },
        ],
    );
}

#[test]
fn conformance_iam_managed_policy() {
    let mut w = World::new("provision.json");
    // Route provisioning through the fault proxy (no faults) to compare the calls orgsync
    // reports with the requests that reached AWS.
    let proxy = FaultProxy::start(&w.moto.endpoint());
    w.endpoint = Some(proxy.url());
    let readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let audit = "arn:aws:iam::aws:policy/SecurityAudit";
    let app_read = w.arn("management", "policy", "app/app-read");
    let deploy = w.arn("workload", "policy", "deploy");
    let case = |name, policy: &str, ptype, principal: String, word: &'static str, hop| {
        let (list, attach, detach): (&'static str, &'static str, &'static str) = match word {
            "User" => (
                "iam:ListAttachedUserPolicies",
                "iam:AttachUserPolicy",
                "iam:DetachUserPolicy",
            ),
            "Group" => (
                "iam:ListAttachedGroupPolicies",
                "iam:AttachGroupPolicy",
                "iam:DetachGroupPolicy",
            ),
            _ => (
                "iam:ListAttachedRolePolicies",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
            ),
        };
        Case {
            name,
            entitlement: format!("iam_policy:{policy}:attached"),
            principal_type: ptype,
            principal,
            grant_calls: with_hop(hop, &[list, attach]),
            regrant_calls: with_hop(hop, &[list]),
            revoke_calls: with_hop(hop, &[list, detach]),
            rerevoke_calls: with_hop(hop, &[list]),
            exact_record: true,
        }
    };
    let cases = [
        case(
            "AWS-managed policy on a user",
            readonly,
            "iam_user",
            w.arn("management", "user", "alice"),
            "User",
            false,
        ),
        case(
            "customer-managed policy on a group",
            &app_read,
            "group",
            w.arn("management", "group", "ops"),
            "Group",
            false,
        ),
        case(
            "AWS-managed policy nobody held yet, on a role",
            audit,
            "role",
            w.arn("management", "role", "auditor"),
            "Role",
            false,
        ),
        case(
            "customer-managed policy on a user of a member account (hop)",
            &deploy,
            "iam_user",
            w.arn("workload", "user", "carl"),
            "User",
            true,
        ),
    ];
    proxy.clear_seen();
    conformance(&w, &cases);
    // Every call orgsync reported reached the wire, and nothing else did (syncs go to moto
    // directly): per grant / revoke / repeat, the GetCallerIdentity of connecting plus the
    // calls asserted above.
    let seen: Vec<String> = proxy
        .seen()
        .iter()
        .map(|s| format!("{}:{}", s.service, s.operation))
        .collect();
    let mut expected: Vec<String> = vec![];
    let mut push = |calls: &[&'static str]| {
        expected.push("sts:GetCallerIdentity".into());
        expected.extend(calls.iter().map(|s| s.to_string()));
    };
    for c in &cases {
        push(&c.grant_calls);
    }
    for c in &cases {
        push(&c.regrant_calls);
    }
    for c in &cases {
        push(&c.revoke_calls);
        push(&c.rerevoke_calls);
    }
    assert_eq!(seen, expected);
}

#[test]
fn conformance_inline_policy_revoke() {
    // Inline policies are revoke-only: sync → grant refused (exit 2) → revoke with the id from
    // the c1z (deletes the policy; the printed record is the synced one) → revoke again →
    // sync again and it is gone.
    let w = World::new("provision.json");
    let (f0, r0) = w.sync();
    let f0 = f0.to_str().unwrap();
    for (holder_type, holder, name, get, delete) in [
        (
            "iam_user",
            w.arn("management", "user", "carol"),
            "tmp-s3",
            "iam:GetUserPolicy",
            "iam:DeleteUserPolicy",
        ),
        (
            "role",
            w.arn("management", "role", "auditor"),
            "role-extra",
            "iam:GetRolePolicy",
            "iam:DeleteRolePolicy",
        ),
    ] {
        let ent = format!("inline_policy:{holder}::inline::{name}:attached");
        let grants = r0
            .grants(&Filter {
                entitlement: Some(ent.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(grants.len(), 1, "{ent}");
        let synced = grants.into_iter().next().unwrap();
        let id = synced.id.clone();

        let (refused, _) = w.prov(&grant_args(&ent, holder_type, &holder));
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("only be revoked"),
            "{}",
            text(&refused)
        );

        let v = w.ok(&["revoke", "--grant", &id, "--file", f0], "revoked");
        assert_eq!(ops(&v), [get, delete]);
        assert_eq!(
            v["record"],
            grant_json(synced),
            "printed record != synced record"
        );
        let again = w.ok(&["revoke", "--grant", &id], "already-revoked");
        assert_eq!(ops(&again), [get]);
    }
    let (_, r1) = w.sync();
    let left: Vec<String> = r1
        .grants(&Filter {
            resource_type: Some("inline_policy".into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert!(
        !left
            .iter()
            .any(|g| g.contains("tmp-s3") || g.contains("role-extra")),
        "{left:?}"
    );
    assert!(
        left.iter().any(|g| g.contains("::inline::leftover")),
        "{left:?}"
    );
}

#[test]
fn dry_run_lists_the_calls_a_real_run_makes_and_makes_none() {
    // A proxy in front of nothing: any AWS call would show up here (and fail).
    let proxy = FaultProxy::start("http://127.0.0.1:9");
    let group = "arn:aws:iam::111122223333:group/devs";
    let user = "arn:aws:iam::111122223333:user/bob";
    let out = run(orgsync(&proxy.url()).args([
        "grant",
        "--entitlement",
        &format!("group:{group}:member"),
        "--principal-type",
        "iam_user",
        "--principal",
        user,
        "--dry-run",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "dry-run");
    // The same calls the conformance test sees a real grant in a member account make.
    assert_eq!(
        ops(&v),
        ["sts:AssumeRole", "iam:GetGroup", "iam:AddUserToGroup"]
    );
    assert!(
        v["calls"][1]["when"]
            .as_str()
            .unwrap()
            .contains("caller's own account")
    );
    assert_eq!(
        v["calls"][1]["params"]["RoleArn"],
        "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"
    );
    // With a management role the caller is known: no hop into its own account, and the
    // provisioning role name is the one used for the hop elsewhere.
    let out = run(orgsync(&proxy.url()).args([
        "revoke",
        "--grant",
        &format!("group:{group}:member:iam_user:{user}"),
        "--provisioning-role-arn",
        "arn:aws:iam::999999999999:role/OrgWriter",
        "--provisioning-role-name",
        "ops/OrgSyncWriter",
        "--dry-run",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("RoleArn=arn:aws:iam::999999999999:role/OrgWriter"),
        "{plan}"
    );
    assert!(
        plan.contains("RoleArn=arn:aws:iam::111122223333:role/ops/OrgSyncWriter"),
        "{plan}"
    );
    assert!(plan.contains("iam:RemoveUserFromGroup"), "{plan}");
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[test]
fn malformed_and_unsupported_ids_exit_2_without_any_aws_call() {
    let proxy = FaultProxy::start("http://127.0.0.1:9");
    let a = "111122223333";
    let user = format!("arn:aws:iam::{a}:user/bob");
    let role_ent = format!("role:arn:aws:iam::{a}:role/admin:assignment");
    let inline_ent = format!("inline_policy:{user}::inline::p:attached");
    let ps = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                "group:not-an-arn:member".into(),
                "--principal-type".into(),
                "iam_user".into(),
                "--principal".into(),
                user.clone(),
            ],
            "'group:not-an-arn:member'",
        ),
        (
            vec!["revoke".into(), "--grant".into(), "nonsense".into()],
            "'nonsense'",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                format!("{a}|{ps}"),
                "--principal-type".into(),
                "sso_user".into(),
                "--principal".into(),
                "arn:aws:identitystore:us-east-1::d-1/user".into(),
            ],
            "identity-store",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                role_ent.clone(),
                "--principal-type".into(),
                "iam_user".into(),
                "--principal".into(),
                user.clone(),
            ],
            "trust polic",
        ),
        (
            vec![
                "revoke".into(),
                "--grant".into(),
                format!("{role_ent}:iam_user:{user}"),
            ],
            "cannot be provisioned",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                inline_ent,
                "--principal-type".into(),
                "iam_user".into(),
                "--principal".into(),
                user.clone(),
            ],
            "only be revoked",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached".into(),
                "--principal-type".into(),
                "permission_set".into(),
                "--principal".into(),
                ps.into(),
            ],
            "Identity Center",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                format!("group:arn:aws:iam::{a}:group/devs:member"),
                "--principal-type".into(),
                "iam_user".into(),
                "--principal".into(),
                "arn:aws:iam::222233334444:user/eve".into(),
            ],
            "account 222233334444",
        ),
        (
            vec![
                "delete-resource".into(),
                "--resource-type".into(),
                "group".into(),
                "--resource".into(),
                format!("arn:aws:iam::{a}:group/devs"),
            ],
            "cannot be deleted",
        ),
        (
            vec![
                "create-user".into(),
                "--type".into(),
                "iam_user".into(),
                "--user-name".into(),
                "bad name".into(),
            ],
            "not a valid IAM user name",
        ),
        (
            vec![
                "create-user".into(),
                "--type".into(),
                "sso_user".into(),
                "--user-name".into(),
                "x@example.com".into(),
            ],
            "--given-name",
        ),
        (
            vec![
                "grant".into(),
                "--entitlement".into(),
                format!("group:arn:aws:iam::{a}:group/devs:member"),
                "--principal-type".into(),
                "iam_user".into(),
                "--principal".into(),
                user.clone(),
                "--file".into(),
                "/nonexistent/sync.c1z".into(),
            ],
            "cannot read",
        ),
    ];
    for (args, fragment) in cases {
        let out = run(orgsync(&proxy.url()).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(fragment),
            "{args:?}: expected '{fragment}' in: {err}"
        );
    }
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

/// Identity Center changes end to end without a sync: membership and account assignments
/// for a user and a group, each granted, repeated, revoked by the grant id printed, repeated;
/// the seeded assignment is seen as held; a suspended account is refused.
#[test]
fn identity_center_grants_and_revokes_round_trip() {
    let w = World::new("provision.json");
    let ann = w.sso_user("ann@example.com");
    let ben = w.sso_user("ben@example.com");
    let platform = w.sso_group("Platform");

    // Group membership.
    let ent = format!("sso_group:{platform}:member");
    let grant = grant_args(&ent, "sso_user", &ann);
    let g = w.ok(&grant, "granted");
    assert_eq!(
        ops(&g),
        [
            "identitystore:DescribeGroup",
            "identitystore:GetGroupMembershipId",
            "identitystore:CreateGroupMembership"
        ]
    );
    let mid = g["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(mid.len(), 36, "a membership id: {mid}");
    assert_eq!(g["record"]["record"]["entitlement"]["id"], ent.as_str());
    assert_eq!(
        g["record"]["record"]["principal"]["id"]["resource"],
        ann.as_str()
    );
    assert_eq!(
        g["record"]["record"]["entitlement"]["resource"]["displayName"],
        "Platform"
    );
    let again = w.ok(&grant, "already-granted");
    assert_eq!(
        ops(&again),
        [
            "identitystore:DescribeGroup",
            "identitystore:GetGroupMembershipId"
        ]
    );
    assert_eq!(again["record"]["id"], mid.as_str());
    // Revoke by the membership id (the grant id a sync writes); without --file the identity
    // store is found with sso:ListInstances.
    let r = w.ok(&["revoke", "--grant", &mid], "revoked");
    assert_eq!(
        ops(&r),
        [
            "sso:ListInstances",
            "identitystore:DescribeGroupMembership",
            "identitystore:DescribeGroup",
            "identitystore:DeleteGroupMembership"
        ]
    );
    assert_eq!(r["record"], g["record"]);
    let rr = w.ok(&["revoke", "--grant", &mid], "already-revoked");
    assert_eq!(
        ops(&rr),
        ["sso:ListInstances", "identitystore:DescribeGroupMembership"]
    );
    // The seeded membership, revoked by the grant's entitlement:principal form.
    let seeded = w.ok(
        &["revoke", "--grant", &format!("{ent}:sso_user:{ben}")],
        "revoked",
    );
    assert_eq!(
        seeded["record"]["id"],
        w.manifest["identity_center"]["memberships"]["Platform/ben@example.com"]
    );
    w.ok(&grant, "granted"); // still grantable afterwards

    // Account access through a permission set, for a user and for a group.
    let workload = w.account("workload");
    let readonly = w.ic("permission_sets", "ReadOnly");
    let ent = format!("{workload}|{readonly}");
    for (ptype, principal) in [("sso_user", &ann), ("sso_group", &platform)] {
        let grant = grant_args(&ent, ptype, principal);
        let check = [
            "organizations:DescribeAccount",
            "sso:DescribePermissionSet",
            "sso:ListAccountAssignmentsForPrincipal",
        ];
        let g = w.ok(&grant, "granted");
        // moto answers SUCCEEDED at once, so no status poll is needed (AWS answers
        // IN_PROGRESS and orgsync polls; see the unit tests of assignment::poll_until_done).
        let mut want = check.to_vec();
        want.push("sso:CreateAccountAssignment");
        assert_eq!(ops(&g), want, "{ptype}");
        let id = format!("grant:{ptype}:{principal}:{ent}");
        assert_eq!(g["record"]["id"], id.as_str());
        let e = &g["record"]["record"]["entitlement"];
        assert_eq!(e["displayName"], "ReadOnly Permission Set");
        assert_eq!(e["description"], "Read-only access");
        assert_eq!(e["resource"]["id"]["resource"], workload.as_str());
        assert_eq!(ops(&w.ok(&grant, "already-granted")), check, "{ptype}");
        let r = w.ok(&["revoke", "--grant", &id], "revoked");
        let mut want = check.to_vec();
        want.push("sso:DeleteAccountAssignment");
        assert_eq!(ops(&r), want, "{ptype}");
        assert_eq!(
            ops(&w.ok(&["revoke", "--grant", &id], "already-revoked")),
            check
        );
    }
    // The binding form of the same access names the same assignment.
    let admin = w.ic("permission_sets", "Admin");
    let binding = format!("permission_set_assignment:{admin}-{workload}:assigned");
    let held = w.ok(&grant_args(&binding, "sso_user", &ben), "already-granted");
    assert_eq!(
        held["record"]["id"],
        format!("grant:sso_user:{ben}:{binding}").as_str()
    );

    // A suspended account is refused before anything changes.
    let closed = w.account("closed");
    let (out, _) = w.prov(&grant_args(
        &format!("{closed}|{readonly}"),
        "sso_user",
        &ann,
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SUSPENDED") && err.contains("not ACTIVE"),
        "{err}"
    );
}

/// The conformance sequence for the Identity Center kinds: group membership (the grant id is
/// the MembershipId; its record is compared byte for byte) and a permission set on an account
/// for a user and for a group.
#[test]
fn conformance_identity_center() {
    let w = World::new("provision.json");
    let ann = w.sso_user("ann@example.com");
    let platform = w.sso_group("Platform");
    let ent = format!(
        "{}|{}",
        w.account("workload"),
        w.ic("permission_sets", "ReadOnly")
    );
    let assignment_check = [
        "organizations:DescribeAccount",
        "sso:DescribePermissionSet",
        "sso:ListAccountAssignmentsForPrincipal",
    ];
    let with = |extra: &'static str| {
        let mut v = assignment_check.to_vec();
        v.push(extra);
        v
    };
    conformance(
        &w,
        &[
            Case {
                name: "Identity Center group member",
                entitlement: format!("sso_group:{platform}:member"),
                principal_type: "sso_user",
                principal: ann.clone(),
                grant_calls: vec![
                    "identitystore:DescribeGroup",
                    "identitystore:GetGroupMembershipId",
                    "identitystore:CreateGroupMembership",
                ],
                regrant_calls: vec![
                    "identitystore:DescribeGroup",
                    "identitystore:GetGroupMembershipId",
                ],
                // With --file the group (hence the identity store) comes from the c1z.
                revoke_calls: vec![
                    "identitystore:DescribeGroupMembership",
                    "identitystore:DescribeGroup",
                    "identitystore:DeleteGroupMembership",
                ],
                rerevoke_calls: vec!["sso:ListInstances", "identitystore:DescribeGroupMembership"],
                exact_record: true,
            },
            Case {
                name: "permission set on an account, user",
                entitlement: ent.clone(),
                principal_type: "sso_user",
                principal: ann.clone(),
                grant_calls: with("sso:CreateAccountAssignment"),
                regrant_calls: assignment_check.to_vec(),
                revoke_calls: with("sso:DeleteAccountAssignment"),
                rerevoke_calls: assignment_check.to_vec(),
                exact_record: false,
            },
            Case {
                name: "permission set on an account, group",
                entitlement: ent.clone(),
                principal_type: "sso_group",
                principal: platform.clone(),
                grant_calls: with("sso:CreateAccountAssignment"),
                regrant_calls: assignment_check.to_vec(),
                revoke_calls: with("sso:DeleteAccountAssignment"),
                rerevoke_calls: assignment_check.to_vec(),
                exact_record: false,
            },
        ],
    );
}

/// Runs a boto3 snippet against moto (for state the fixture format cannot express).
fn boto3(w: &World, script: &str) {
    let out = Command::new(support::repo_root().join(".venv/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{script}",
            w.moto.endpoint()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Blockers of leaver's deletion the fixture format has no field for: an SSH key and an
/// enabled virtual MFA device.
fn add_leaver_blockers(w: &World) {
    let mgmt = w.account("management");
    boto3(
        w,
        &format!(
            "iam = boto3.client('iam', **kw)\n\
             iam.upload_ssh_public_key(UserName='leaver', SSHPublicKeyBody='ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdummy leaver@example')\n\
             iam.create_virtual_mfa_device(VirtualMFADeviceName='leaver-mfa')\n\
             iam.enable_mfa_device(UserName='leaver', SerialNumber='arn:aws:iam::{mgmt}:mfa/leaver-mfa', AuthenticationCode1='123456', AuthenticationCode2='654321')"
        ),
    );
}

#[test]
fn iam_user_create_and_delete_round_trip() {
    let w = World::new("provision.json");
    // Blockers the fixture format has no field for: an SSH key and an enabled virtual MFA
    // device (moto cannot make signing certificates from test data or service-specific
    // credentials at all).
    add_leaver_blockers(&w);
    let (f0, r0) = w.sync();
    let f0 = f0.to_str().unwrap().to_string();

    // Create in the caller's account and, through the member role, in a member account.
    let create_newbie = [
        "create-user",
        "--type",
        "iam_user",
        "--user-name",
        "newbie",
        "--path",
        "/eng/",
    ];
    let newbie_args = [&create_newbie[..], &["--tag", "team=platform"]].concat();
    let newbie = w.ok(&newbie_args, "created");
    // The account's name first (for the record; a failure there changes nothing).
    assert_eq!(
        ops(&newbie),
        ["organizations:DescribeAccount", "iam:CreateUser"]
    );
    let newbie_arn = w.arn("management", "user", "eng/newbie");
    assert_eq!(
        newbie["record"]["id"],
        format!("iam_user:{newbie_arn}").as_str()
    );
    assert_eq!(
        newbie["record"]["record"]["profile"]["aws_account_name"],
        w.manifest["management_account_name"]
    );
    let workload = w.account("workload");
    let remote = w.ok(
        &[
            "create-user",
            "--type",
            "iam_user",
            "--user-name",
            "remote",
            "--account",
            &workload,
        ],
        "created",
    );
    assert_eq!(
        ops(&remote),
        [
            "organizations:DescribeAccount",
            "sts:AssumeRole",
            "iam:CreateUser"
        ]
    );
    assert_eq!(
        remote["record"]["record"]["profile"]["aws_account_name"],
        "workload"
    );
    let remote_arn = w.arn("workload", "user", "remote");

    // The same request again: already-exists (exit 0), nothing created, the user's record
    // (without the credential facts, which only the credential report gives).
    let same = w.ok(&newbie_args, "already-exists");
    assert_eq!(
        ops(&same),
        [
            "organizations:DescribeAccount",
            "iam:CreateUser",
            "iam:GetUser"
        ]
    );
    let mut without_credentials = newbie["record"].clone();
    let profile = without_credentials["record"]["profile"]
        .as_object_mut()
        .unwrap();
    for k in ["aws_console_access", "aws_mfa_active"] {
        assert!(profile.remove(k).is_some(), "{k} in {profile:?}");
    }
    if let Some(t) = without_credentials["record"]["annotations"].as_array_mut() {
        for a in t {
            if let Some(o) = a.as_object_mut() {
                o.remove("mfaStatus");
            }
        }
    }
    assert_eq!(same["record"], without_credentials, "{same:#}");
    let remote_again = w.ok(
        &[
            "create-user",
            "--type",
            "iam_user",
            "--user-name",
            "remote",
            "--account",
            &workload,
        ],
        "already-exists",
    );
    assert_eq!(remote_again["record"]["id"], remote["record"]["id"]);
    // Other attributes: a conflict naming them (exit 1), and nothing changes.
    for (args, says) in [
        (
            create_newbie.to_vec(),
            "already exists with tags team=platform (requested none); nothing was changed",
        ),
        (
            [
                &create_newbie[..5],
                &["--path", "/ops/", "--tag", "team=platform"],
            ]
            .concat(),
            "already exists with path /eng/ (requested /ops/); nothing was changed",
        ),
    ] {
        let (conflict, _) = w.prov(&args);
        assert_eq!(conflict.status.code(), Some(1), "{}", text(&conflict));
        let err = String::from_utf8_lossy(&conflict.stderr);
        assert!(
            err.contains(&format!("IAM user {newbie_arn} {says}")),
            "{}",
            text(&conflict)
        );
    }

    // The next sync holds them exactly as printed.
    let (f1, r1) = w.sync();
    let f1 = f1.to_str().unwrap().to_string();
    for (arn, printed) in [(&newbie_arn, &newbie), (&remote_arn, &remote)] {
        let r = r1.resource("iam_user", arn).unwrap().expect("synced");
        assert_eq!(Record::Resource(r).to_json(), printed["record"], "{arn}");
    }

    // Delete a user with everything that blocks DeleteUser.
    let leaver = w.arn("management", "user", "leaver");
    let before = r0
        .grants(&Filter {
            principal: Some(format!("iam_user:{leaver}")),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        before.len(),
        5,
        "2 groups, 2 managed policies, 1 inline policy"
    );
    let mut args = delete_args("iam_user", &leaver);
    args.extend(["--file", &f0]);
    let d = w.ok(&args, "deleted");
    assert_eq!(
        ops(&d),
        [
            "iam:GetUser",
            "organizations:DescribeAccount",
            "iam:DeleteLoginProfile",
            "iam:ListAccessKeys",
            "iam:DeleteAccessKey",
            "iam:DeleteAccessKey",
            "iam:ListSigningCertificates",
            "iam:ListSSHPublicKeys",
            "iam:DeleteSSHPublicKey",
            "iam:ListServiceSpecificCredentials",
            "iam:ListMFADevices",
            "iam:DeactivateMFADevice",
            "iam:DeleteVirtualMFADevice",
            "iam:ListUserPolicies",
            "iam:DeleteUserPolicy",
            "iam:ListAttachedUserPolicies",
            "iam:DetachUserPolicy",
            "iam:DetachUserPolicy",
            "iam:ListGroupsForUser",
            "iam:RemoveUserFromGroup",
            "iam:RemoveUserFromGroup",
            "iam:DeleteUser"
        ]
    );
    let keys: Vec<&str> = w.manifest["access_keys"]["management/leaver"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let detail = d["detail"].as_str().unwrap();
    for k in keys {
        assert!(detail.contains(k), "{detail}");
    }
    assert_eq!(d["record"]["id"], format!("iam_user:{leaver}").as_str());
    assert_eq!(
        d["record"]["record"]["profile"]["aws_account_name"],
        w.manifest["management_account_name"]
    );
    let gone = w.ok(&delete_args("iam_user", &leaver), "not-found");
    assert_eq!(ops(&gone), ["iam:GetUser"]);
    // With --file, a user the sync does not know is refused before any AWS call.
    let nobody = w.arn("management", "user", "nobody");
    let mut args = delete_args("iam_user", &nobody);
    args.extend(["--file", &f1]);
    let (unknown, _) = w.prov(&args);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));

    // Delete the created users (one in the member account).
    for arn in [&newbie_arn, &remote_arn] {
        w.ok(&delete_args("iam_user", arn), "deleted");
    }
    let (_, r2) = w.sync();
    for arn in [&leaver, &newbie_arn, &remote_arn] {
        assert!(r2.resource("iam_user", arn).unwrap().is_none(), "{arn}");
        let left = r2
            .grants(&Filter {
                principal: Some(format!("iam_user:{arn}")),
                ..Default::default()
            })
            .unwrap();
        assert!(left.is_empty(), "{arn}: {left:?}");
    }
    // The groups leaver was in are still there, without leaver.
    assert!(
        r2.resource("group", &w.arn("management", "group", "eng/devs"))
            .unwrap()
            .is_some()
    );
}

/// The account name of a created user's record: the account id when the caller may not
/// describe the account (as a sync that cannot read the organization names it); any other
/// failure of DescribeAccount exits 1 before anything is created.
#[test]
fn a_created_users_account_name_falls_back_to_the_id_only_where_a_sync_would() {
    let mut w = World::new("provision.json");
    let proxy = FaultProxy::start(&w.moto.endpoint());
    w.endpoint = Some(proxy.url());
    let mgmt = w.account("management");
    let create = |name| ["create-user", "--type", "iam_user", "--user-name", name];
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("organizations")
            .operation("DescribeAccount"),
    );
    let loner = w.ok(&create("loner"), "created");
    assert_eq!(
        loner["record"]["record"]["profile"]["aws_account_name"],
        mgmt.as_str()
    );
    proxy.clear_rules();
    proxy.add(
        Rule::new(Fault::ServerError)
            .service("organizations")
            .operation("DescribeAccount"),
    );
    let (failed, _) = w.prov(&create("never"));
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("DescribeAccount"),
        "{}",
        text(&failed)
    );
    proxy.clear_rules();
    let never = w.arn("management", "user", "never");
    let gone = w.ok(&delete_args("iam_user", &never), "not-found");
    assert_eq!(ops(&gone), ["iam:GetUser"]);
}

#[test]
fn sso_user_create_and_delete_round_trip() {
    let w = World::new("provision.json");
    let create_cid = [
        "create-user",
        "--type",
        "sso_user",
        "--user-name",
        "cid@example.com",
        "--given-name",
        "Cid",
        "--family-name",
        "Example",
    ];
    let c = w.ok(
        &[&create_cid[..], &["--email", "cid@example.com"]].concat(),
        "created",
    );
    assert_eq!(ops(&c), ["sso:ListInstances", "identitystore:CreateUser"]);
    let id = c["record"]["id"].as_str().unwrap();
    let arn = id.strip_prefix("sso_user:").unwrap().to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:identitystore:us-east-1::{}/user/",
            w.store()
        )),
        "{arn}"
    );
    let r = &c["record"]["record"];
    assert_eq!(r["displayName"], "cid@example.com");
    assert_eq!(r["profile"]["aws_user_name"], "Cid Example");
    // The next sync holds the user exactly as printed.
    let (_, synced) = w.sync();
    let s = synced.resource("sso_user", &arn).unwrap().expect("synced");
    assert_eq!(Record::Resource(s).to_json(), c["record"]);
    // Give the new user a membership, which the deletion removes first.
    let group_ent = format!("sso_group:{}:member", w.sso_group("Platform"));
    let m = w.ok(&grant_args(&group_ent, "sso_user", &arn), "granted");
    let mid = m["record"]["id"].as_str().unwrap().to_string();
    // The same request again: already-exists (exit 0), the user as created.
    let same = w.ok(
        &[&create_cid[..], &["--email", "cid@example.com"]].concat(),
        "already-exists",
    );
    assert_eq!(
        ops(&same),
        [
            "sso:ListInstances",
            "identitystore:CreateUser",
            "identitystore:GetUserId",
            "identitystore:DescribeUser"
        ]
    );
    assert_eq!(same["record"], c["record"]);
    // Other attributes (no email): a conflict naming them (exit 1); nothing changes.
    let (dup, _) = w.prov(&create_cid);
    assert_eq!(dup.status.code(), Some(1), "{}", text(&dup));
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains(&format!(
            "Identity Center user {arn} (cid@example.com) already exists with emails 'cid@example.com (primary)' (requested ''); nothing was changed"
        )),
        "{}",
        text(&dup)
    );
    let (_, synced) = w.sync();
    let s = synced.resource("sso_user", &arn).unwrap().expect("synced");
    assert_eq!(Record::Resource(s).to_json(), c["record"]);

    let d = w.ok(&delete_args("sso_user", &arn), "deleted");
    assert_eq!(
        ops(&d),
        [
            "identitystore:DescribeUser",
            "identitystore:ListGroupMembershipsForMember",
            "identitystore:DeleteGroupMembership",
            "identitystore:DeleteUser"
        ]
    );
    assert_eq!(d["record"]["id"], id);
    assert_eq!(
        d["record"]["record"]["profile"]["aws_user_name"],
        "Cid Example"
    );
    let gone = w.ok(&delete_args("sso_user", &arn), "not-found");
    assert_eq!(ops(&gone), ["identitystore:DescribeUser"]);
    // The membership went with it.
    w.ok(&["revoke", "--grant", &mid], "already-revoked");
}

/// moto's auth mode (fixtures/provision-deny.json): a write the provisioning role may not make
/// exits 1 with AWS's reason and changes nothing; a hop the caller may not make is refused
/// before any change; the default role (allowed) then makes the same grant.
#[test]
fn a_provisioning_call_denied_by_aws_exits_1_and_changes_nothing() {
    let moto = Moto::start();
    let dir = support::tempdir();
    let (manifest, key) = moto.seed_with_auth("provision-deny.json", dir.path());
    let (access, secret) = (
        key["access_key_id"].as_str().unwrap(),
        key["secret_access_key"].as_str().unwrap(),
    );
    let cmd = || {
        let mut c = orgsync(&moto.endpoint());
        c.env("AWS_ACCESS_KEY_ID", access)
            .env("AWS_SECRET_ACCESS_KEY", secret);
        c
    };
    let good = manifest["accounts"]["good"].as_str().unwrap();
    let group = format!("arn:aws:iam::{good}:group/team");
    let user = format!("arn:aws:iam::{good}:user/target");
    let ent = format!("group:{group}:member");
    let grant_id = format!("{ent}:iam_user:{user}");
    let grants_of = |name: &str| -> Vec<String> {
        let file = dir.path().join(name);
        let o = run(cmd().arg("sync").arg("--file").arg(&file));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let mut ids: Vec<String> = C1zReader::open(&file)
            .unwrap()
            .grants(&Filter::default())
            .unwrap()
            .into_iter()
            .map(|g| g.id)
            .collect();
        ids.sort();
        ids
    };
    let before = grants_of("before.c1z");
    assert!(!before.contains(&grant_id));
    let grant = |role: &str| {
        run(cmd()
            .args(grant_args(&ent, "iam_user", &user))
            .args(["--provisioning-role-name", role]))
    };

    // The write itself is denied: iam-reader may read the group but not change it.
    let denied = grant("iam-reader");
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied));
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(
        err.contains("iam:AddUserToGroup") && err.contains("access_denied"),
        "{err}"
    );
    assert!(
        err.contains("not authorized"),
        "AWS's reason is shown: {err}"
    );
    assert!(denied.stdout.is_empty(), "{}", text(&denied));

    // The hop into the write role is denied.
    let hop = grant("no-entry");
    assert_eq!(hop.status.code(), Some(1), "{}", text(&hop));
    let err = String::from_utf8_lossy(&hop.stderr);
    assert!(
        err.contains(&format!("cannot assume arn:aws:iam::{good}:role/no-entry")),
        "{err}"
    );
    assert!(err.contains("AccessDenied"), "{err}");
    for o in [&denied, &hop] {
        assert!(!String::from_utf8_lossy(&o.stderr).contains(secret));
    }

    // Nothing changed.
    assert_eq!(grants_of("after.c1z"), before);

    // The default member role may write: the same grant goes through.
    let ok = grant("OrganizationAccountAccessRole");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(grants_of("granted.c1z").contains(&grant_id));
}

/// Splits one shell command line (plain words and single-quoted words, as the README uses).
fn shell_words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Every example of the README's "Provision access" section is a valid command: run with
/// --dry-run, each parses and plans (exit 0) without an AWS call.
#[test]
fn readme_provisioning_examples_are_valid_commands() {
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## Provision access")
        .nth(1)
        .expect("a Provision access section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an example block");
    let joined = block.replace("\\\n", " ");
    let commands: Vec<Vec<String>> = joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("orgsync "))
        .map(shell_words)
        .collect();
    let kinds = [
        "group:",
        "iam_policy:",
        "inline_policy:",
        "sso_group:",
        "|arn:aws:sso:::",
    ];
    for k in kinds {
        assert!(
            commands.iter().any(|c| c.iter().any(|w| w.contains(k))),
            "no README example for {k}"
        );
    }
    let proxy = FaultProxy::start("http://127.0.0.1:9");
    for words in &commands {
        // `--file` names a c1z the reader would have; it is checked without AWS elsewhere.
        let mut args: Vec<&str> = vec![];
        let mut skip = false;
        for w in &words[1..] {
            if skip {
                skip = false;
            } else if w == "--file" {
                skip = true;
            } else {
                args.push(w);
            }
        }
        let out = run(orgsync(&proxy.url()).args(&args).arg("--dry-run"));
        assert_eq!(out.status.code(), Some(0), "{words:?}: {}", text(&out));
    }
    assert!(commands.len() >= 12, "{}", commands.len());
    assert!(proxy.seen().is_empty());
}

/// The write role: the management hop uses --provisioning-role-arn (not --role-arn), member
/// hops use --provisioning-role-name (not --member-role-name) with --member-external-id.
#[test]
fn write_role_flags_choose_every_hop() {
    let mut w = World::new("provision.json");
    let proxy = FaultProxy::start(&w.moto.endpoint());
    w.endpoint = Some(proxy.url());
    let mgmt = w.account("management");
    let workload = w.account("workload");
    let reader = format!("arn:aws:iam::{mgmt}:role/OrgSyncReader");
    let writer = format!("arn:aws:iam::{mgmt}:role/OrgSyncWriter");
    let v = w.ok(
        &[
            "grant",
            "--entitlement",
            &format!("group:{}:member", w.arn("workload", "group", "deployers")),
            "--principal-type",
            "iam_user",
            "--principal",
            &w.arn("workload", "user", "carl"),
            "--role-arn",
            &reader,
            "--member-role-name",
            "audit/OrgSyncReader",
            "--provisioning-role-arn",
            &writer,
            "--provisioning-role-name",
            "OrganizationAccountAccessRole",
            "--member-external-id",
            "member-secret",
        ],
        "granted",
    );
    let hops = role_hops(&proxy);
    assert_eq!(
        hops,
        [
            (writer.clone(), None),
            (
                format!("arn:aws:iam::{workload}:role/OrganizationAccountAccessRole"),
                Some("member-secret".into())
            )
        ]
    );
    // The reported calls say the same, without the External ID's value.
    let calls = v["calls"].as_array().unwrap();
    assert_eq!(calls[0]["params"]["RoleArn"], writer.as_str());
    let member_hop = calls
        .iter()
        .find(|c| c["operation"] == "AssumeRole" && c["account"] == mgmt.as_str())
        .unwrap();
    assert_eq!(member_hop["params"]["ExternalId"], "<set>");
    assert!(!v.to_string().contains("member-secret"));
}

/// ORGSYNC_FILE (set in the container image for the sync's output) does not turn on the c1z
/// check of provisioning commands; ORGSYNC_CHECK_FILE does.
#[test]
fn only_orgsync_check_file_enables_the_file_check() {
    let proxy = FaultProxy::start("http://127.0.0.1:9");
    let args = [
        "grant",
        "--entitlement",
        "group:arn:aws:iam::111122223333:group/devs:member",
        "--principal-type",
        "iam_user",
        "--principal",
        "arn:aws:iam::111122223333:user/bob",
        "--dry-run",
    ];
    let out = run(orgsync(&proxy.url())
        .env("ORGSYNC_FILE", "/nonexistent/sync.c1z")
        .args(args));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(orgsync(&proxy.url())
        .env("ORGSYNC_CHECK_FILE", "/nonexistent/sync.c1z")
        .args(args));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(proxy.seen().is_empty());
}

#[test]
fn account_config_overrides_choose_the_write_hop() {
    let mut w = World::new("provision.json");
    let proxy = FaultProxy::start(&w.moto.endpoint());
    w.endpoint = Some(proxy.url());
    let workload = w.account("workload");
    let ou = w.manifest["organization"]["ous"]["Workloads"]
        .as_str()
        .unwrap()
        .to_string();
    let config = w.dir.path().join("accounts.yaml");
    std::fs::write(
        &config,
        format!("defaults:\n  external_id: org-wide\nous:\n  {ou}:\n    role_name: audit/OrgSyncWriter\n    external_id: ou-secret\n"),
    )
    .unwrap();
    let group = format!("group:{}:member", w.arn("workload", "group", "deployers"));
    let carl = w.arn("workload", "user", "carl");
    let grant = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "grant",
            "--entitlement",
            &group,
            "--principal-type",
            "iam_user",
            "--principal",
            &carl,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let args = grant(&["--account-config", config.to_str().unwrap()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();

    // --dry-run shows the OU lookup and makes no call.
    let (out, _) = w.prov(&[&refs[..], &["--dry-run"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    // Without AWS the OU is unknown: the plan shows the OU lookup and says the OU entry may
    // replace the default hop.
    assert!(
        plan.contains("ListParents") && plan.contains("OU entry"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "arn:aws:iam::{workload}:role/OrganizationAccountAccessRole"
        )),
        "{plan}"
    );
    assert!(proxy.seen().is_empty(), "dry run made AWS calls");

    // The OU entry (found through ListParents) decides the role and External ID.
    w.ok(&refs, "granted");
    let hops = role_hops(&proxy);
    assert_eq!(
        hops,
        [(
            format!("arn:aws:iam::{workload}:role/audit/OrgSyncWriter"),
            Some("ou-secret".to_string())
        )]
    );
    assert!(proxy.count("organizations", "ListParents") >= 1);

    // A separate provisioning role is the same everywhere: the overrides do not apply.
    proxy.clear_seen();
    let args = grant(&[
        "--account-config",
        config.to_str().unwrap(),
        "--provisioning-role-name",
        "OrgWriter",
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.ok(&refs, "already-granted");
    let hop = proxy
        .seen()
        .into_iter()
        .find(|s| s.operation == "AssumeRole")
        .unwrap();
    assert_eq!(
        hop.params["RoleArn"],
        format!("arn:aws:iam::{workload}:role/OrgWriter")
    );
    assert_eq!(hop.params.get("ExternalId"), None);
    assert_eq!(proxy.count("organizations", "ListParents"), 0);

    // A bad overrides file is refused before any AWS call.
    proxy.clear_seen();
    std::fs::write(&config, "accounts:\n  \"42\":\n    skip: true\n").unwrap();
    let args = grant(&["--account-config", config.to_str().unwrap()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (out, _) = w.prov(&refs);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'42'"));
    assert!(proxy.seen().is_empty());
}

/// The operations the SDK itself reported for one run: the `operations` of the binary's "AWS
/// requests made" log line (its call metrics, per `service:Operation`).
fn sdk_operations(out: &Output) -> std::collections::BTreeMap<String, u64> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "AWS requests made")
        .unwrap_or_else(|| panic!("no call metrics logged: {stderr}"));
    serde_json::from_str(line["operations"].as_str().unwrap()).unwrap()
}

/// How often each `service:Operation` appears in an outcome's calls (connecting included).
fn reported_operations(v: &Value) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for c in v["calls"].as_array().unwrap() {
        let op = format!(
            "{}:{}",
            c["service"].as_str().unwrap(),
            c["operation"].as_str().unwrap()
        );
        *counts.entry(op).or_default() += 1;
    }
    counts
}

/// Every step of every kind of change names the operation the SDK sends for it: the calls an
/// outcome reports equal, operation by operation, the call metrics the SDK recorded in the same
/// run (fails if a step's call names another operation than the request it sends, or if a
/// step sends a request it does not report).
#[test]
fn reported_calls_are_the_operations_the_sdk_sent() {
    let w = World::new("provision.json");
    add_leaver_blockers(&w);
    let ou = w.manifest["organization"]["ous"]["Workloads"]
        .as_str()
        .unwrap()
        .to_string();
    let config = w.dir.path().join("accounts.yaml");
    std::fs::write(
        &config,
        format!("ous:\n  {ou}:\n    role_name: audit/OrgSyncWriter\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();

    let deployers = format!("group:{}:member", w.arn("workload", "group", "deployers"));
    let carl = w.arn("workload", "user", "carl");
    let readonly = "iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached";
    let inline = format!(
        "inline_policy:{0}::inline::tmp-s3:attached:iam_user:{0}",
        w.arn("management", "user", "carol")
    );
    let ann = w.sso_user("ann@example.com");
    let platform = format!("sso_group:{}:member", w.sso_group("Platform"));
    let assignment = format!(
        "{}|{}",
        w.account("workload"),
        w.ic("permission_sets", "ReadOnly")
    );
    let remote = w.arn("workload", "user", "remote");
    let check = |args: Vec<String>| -> Value {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, v) = w.prov(&refs);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert_eq!(
            reported_operations(&v),
            sdk_operations(&out),
            "{args:?}: reported calls != the SDK's"
        );
        v
    };
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // IAM: a hop (with the OU walk of --account-config), membership, managed policies on each
    // kind of principal, an inline policy.
    let g = grant_args(&deployers, "iam_user", &carl);
    check([s(&g), s(&["--account-config", &config])].concat());
    check(s(&[
        "revoke",
        "--grant",
        &format!("{deployers}:iam_user:{carl}"),
    ]));
    for (t, p) in [
        ("iam_user", w.arn("management", "user", "alice")),
        ("group", w.arn("management", "group", "ops")),
        ("role", w.arn("management", "role", "auditor")),
    ] {
        check(s(&grant_args(readonly, t, &p)));
        check(s(&["revoke", "--grant", &format!("{readonly}:{t}:{p}")]));
    }
    check(s(&["revoke", "--grant", &inline]));
    check(s(&["revoke", "--grant", &inline]));

    // Identity Center: membership (revoked by its id, the store found by ListInstances) and an
    // account assignment.
    let m = check(s(&grant_args(&platform, "sso_user", &ann)));
    let mid = m["record"]["id"].as_str().unwrap().to_string();
    check(s(&["revoke", "--grant", &mid]));
    check(s(&grant_args(&assignment, "sso_user", &ann)));
    check(s(&[
        "revoke",
        "--grant",
        &format!("grant:sso_user:{ann}:{assignment}"),
    ]));

    // Users, with everything that blocks an IAM user's deletion.
    check(s(&[
        "create-user",
        "--type",
        "iam_user",
        "--user-name",
        "remote",
        "--account",
        &w.account("workload"),
        "--tag",
        "team=platform",
    ]));
    // The same again: CreateUser refused (EntityAlreadyExists), then GetUser.
    let again = check(s(&[
        "create-user",
        "--type",
        "iam_user",
        "--user-name",
        "remote",
        "--account",
        &w.account("workload"),
        "--tag",
        "team=platform",
    ]));
    assert_eq!(again["status"], "already-exists", "{again}");
    check(s(&delete_args("iam_user", &remote)));
    let leaver = check(s(&delete_args(
        "iam_user",
        &w.arn("management", "user", "leaver"),
    )));
    assert!(
        ops(&leaver).contains(&"iam:DeleteVirtualMFADevice".to_string()),
        "{leaver}"
    );
    let create_cid = s(&[
        "create-user",
        "--type",
        "sso_user",
        "--user-name",
        "cid@example.com",
        "--given-name",
        "Cid",
        "--family-name",
        "Example",
    ]);
    let cid = check(create_cid.clone());
    let again = check(create_cid);
    assert_eq!(again["status"], "already-exists", "{again}");
    let cid = cid["record"]["id"]
        .as_str()
        .unwrap()
        .strip_prefix("sso_user:")
        .unwrap()
        .to_string();
    check(s(&grant_args(&platform, "sso_user", &cid)));
    let d = check(s(&delete_args("sso_user", &cid)));
    assert!(
        ops(&d).contains(&"identitystore:DeleteGroupMembership".to_string()),
        "{d}"
    );
}
