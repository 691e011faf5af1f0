//! Test oracle: the IAM records a sync must produce, derived from a fixture file and the
//! seeder's manifest (independently of orgsync's own mapping code).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Profile keys the oracle knows (the others are checked field by field in the tests): every
/// resource it expects must carry exactly these of them, with these values. Timestamps the
/// fixture cannot predict are compared as [`TIME`].
pub const ORACLE_KEYS: [&str; 7] = [
    "aws_account_name",
    "aws_console_access",
    "aws_password_last_changed",
    "aws_password_reset_required",
    "aws_password_last_used",
    "aws_mfa_active",
    "aws_permissions_boundary",
];

/// Stands for any RFC 3339 timestamp in an expected profile.
pub const TIME: &str = "<time>";

/// Expected ids: resources as `type:id`, entitlement ids, grant ids, resource parents, and the
/// [`ORACLE_KEYS`] of resource profiles.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expected {
    pub resources: BTreeSet<String>,
    pub entitlements: BTreeSet<String>,
    pub grants: BTreeSet<String>,
    pub parents: BTreeMap<String, Option<String>>,
    pub profiles: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Expected {
    fn res(&mut self, ty: &str, id: &str, parent: Option<String>) {
        let key = format!("{ty}:{id}");
        self.resources.insert(key.clone());
        self.parents.insert(key.clone(), parent);
        self.profiles.entry(key).or_default();
    }

    /// Expects profile key `k` = `v` on resource `ty:id`.
    fn prof(&mut self, ty: &str, id: &str, k: &str, v: Value) {
        assert!(ORACLE_KEYS.contains(&k), "{k} is not an oracle key");
        self.profiles
            .entry(format!("{ty}:{id}"))
            .or_default()
            .insert(k.to_string(), v);
    }

    /// Only the records of these accounts (by id), plus AWS-managed policies they attach.
    pub fn merge(&mut self, other: Expected) {
        self.resources.extend(other.resources);
        self.entitlements.extend(other.entitlements);
        self.grants.extend(other.grants);
        self.parents.extend(other.parents);
        self.profiles.extend(other.profiles);
    }
}

/// The partition of the region the manifest was seeded in (scripts/seed.py's rule: outside
/// `aws` it rewrites the fixture's `arn:aws:` to the region's partition).
pub fn partition(manifest: &Value) -> &'static str {
    orgsync::model::ids::partition_of_region(manifest["region"].as_str().unwrap_or("us-east-1"))
}

/// Replaces `${account:NAME}` and `${org:id}` in every string, and `arn:aws:` with the
/// manifest's partition.
pub fn substitute(v: &Value, manifest: &Value) -> Value {
    match v {
        Value::String(s) => {
            let mut out = s.replace("arn:aws:", &format!("arn:{}:", partition(manifest)));
            if let Some(id) = manifest["organization"]["id"].as_str() {
                out = out.replace("${org:id}", id);
            }
            out = out.replace(
                "${account:management}",
                manifest["management_account"].as_str().unwrap_or_default(),
            );
            if let Some(accts) = manifest["accounts"].as_object() {
                for (name, id) in accts {
                    out = out.replace(
                        &format!("${{account:{name}}}"),
                        id.as_str().unwrap_or_default(),
                    );
                }
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, manifest)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, manifest)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

fn path_of(v: &Value) -> String {
    v["path"].as_str().unwrap_or("/").to_string()
}

fn iam_arn(partition: &str, acct: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{acct}:{kind}{path}{name}")
}

/// The accounts of a fixture: (name, id, is_management, account object).
pub fn accounts(fixture: &Value, manifest: &Value) -> Vec<(String, String, bool, Value)> {
    let mut out = vec![(
        "management".to_string(),
        manifest["management_account"].as_str().unwrap().to_string(),
        true,
        fixture["management"].clone(),
    )];
    for a in fixture["accounts"].as_array().into_iter().flatten() {
        let name = a["name"].as_str().unwrap().to_string();
        let id = manifest["accounts"][&name].as_str().unwrap().to_string();
        out.push((name, id, false, a.clone()));
    }
    out
}

/// The IAM records one account must produce.
pub fn expected_account(fixture: &Value, manifest: &Value, account_name: &str) -> Expected {
    let fixture = substitute(fixture, manifest);
    let part = partition(manifest);
    let (name, acct, is_mgmt, spec) = accounts(&fixture, manifest)
        .into_iter()
        .find(|a| a.0 == account_name)
        .unwrap_or_else(|| panic!("no account {account_name} in the fixture"));
    let mgmt = manifest["management_account"].as_str().unwrap().to_string();
    let mut iam = spec["iam"].clone();
    if iam.is_null() {
        iam = serde_json::json!({});
    }
    // Members carry the role CreateAccount made, with the policy the seeder gave it.
    if !is_mgmt {
        let role_name = spec["role_name"]
            .as_str()
            .unwrap_or("OrganizationAccountAccessRole");
        let mut role = serde_json::json!({
            "name": role_name,
            "trust": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:{part}:iam::{mgmt}:root")}, "Action": "sts:AssumeRole"}]},
        });
        match fixture["organization"]["member_role_policy"]
            .as_str()
            .unwrap_or("managed")
        {
            "managed" => {
                role["managed_policies"] =
                    serde_json::json!([format!("arn:{part}:iam::aws:policy/AdministratorAccess")])
            }
            "inline" => role["inline_policies"] = serde_json::json!({"AdministratorAccess": {}}),
            _ => {}
        }
        let roles = iam["roles"].as_array().cloned().unwrap_or_default();
        let mut all = vec![role];
        all.extend(roles);
        iam["roles"] = Value::Array(all);
    }
    let parent = (!is_mgmt).then(|| format!("account_iam:{acct}"));
    // The name Organizations gives (the management account's from the manifest), or the id
    // without an organization.
    let acct_name = if is_mgmt {
        manifest["management_account_name"]
            .as_str()
            .unwrap_or(&acct)
            .to_string()
    } else {
        name.clone()
    };
    let named = Value::String(acct_name);
    let mut e = Expected::default();
    e.res("account_iam", &acct, None);
    e.prof("account_iam", &acct, "aws_account_name", named.clone());

    let mut local: BTreeMap<String, String> = BTreeMap::new();
    for p in iam["policies"].as_array().into_iter().flatten() {
        let n = p["name"].as_str().unwrap();
        let arn = iam_arn(part, &acct, "policy", &path_of(p), n);
        local.insert(n.to_string(), arn.clone());
        e.res("iam_policy", &arn, parent.clone());
        e.prof("iam_policy", &arn, "aws_account_name", named.clone());
        e.entitlements.insert(format!("iam_policy:{arn}:attached"));
    }
    let resolve = |r: &str| -> String {
        match r.strip_prefix("local:") {
            Some(n) => local
                .get(n)
                .cloned()
                .unwrap_or_else(|| panic!("unknown local policy {n}")),
            None => r.to_string(),
        }
    };
    let attach = |e: &mut Expected, refs: &Value, ptype: &str, parn: &str| {
        for r in strs(refs) {
            let arn = resolve(&r);
            if arn.contains(":iam::aws:policy/") {
                e.res("iam_policy", &arn, None);
                e.entitlements.insert(format!("iam_policy:{arn}:attached"));
            }
            e.grants
                .insert(format!("iam_policy:{arn}:attached:{ptype}:{parn}"));
        }
    };
    let inline = |e: &mut Expected, docs: &Value, ptype: &str, parn: &str| {
        for (pname, _) in docs.as_object().into_iter().flatten() {
            let id = format!("{parn}::inline::{pname}");
            e.res("inline_policy", &id, Some(format!("{ptype}:{parn}")));
            e.prof("inline_policy", &id, "aws_account_name", named.clone());
            e.entitlements
                .insert(format!("inline_policy:{id}:attached"));
            e.grants
                .insert(format!("inline_policy:{id}:attached:{ptype}:{parn}"));
        }
    };
    let mut group_arns: BTreeMap<String, String> = BTreeMap::new();
    for g in iam["groups"].as_array().into_iter().flatten() {
        let n = g["name"].as_str().unwrap();
        let arn = iam_arn(part, &acct, "group", &path_of(g), n);
        group_arns.insert(n.to_string(), arn.clone());
        e.res("group", &arn, parent.clone());
        e.prof("group", &arn, "aws_account_name", named.clone());
        e.entitlements.insert(format!("group:{arn}:member"));
        attach(&mut e, &g["managed_policies"], "group", &arn);
        inline(&mut e, &g["inline_policies"], "group", &arn);
    }
    for u in iam["users"].as_array().into_iter().flatten() {
        let n = u["name"].as_str().unwrap();
        let arn = iam_arn(part, &acct, "user", &path_of(u), n);
        e.res("iam_user", &arn, parent.clone());
        // Console facts from the credential report: a login profile is console access with a
        // password set at seeding time; moto never reports a password used. Users carry no
        // account name (provisioning prints user records and does not know account names).
        let console = !matches!(u["login_profile"], Value::Null | Value::Bool(false));
        e.prof("iam_user", &arn, "aws_console_access", Value::Bool(console));
        e.prof(
            "iam_user",
            &arn,
            "aws_mfa_active",
            Value::Bool(u["mfa"].as_bool().unwrap_or(false)),
        );
        if console {
            e.prof("iam_user", &arn, "aws_password_last_changed", TIME.into());
        }
        for g in strs(&u["groups"]) {
            let garn = &group_arns[&g];
            e.grants
                .insert(format!("group:{garn}:member:iam_user:{arn}"));
        }
        attach(&mut e, &u["managed_policies"], "iam_user", &arn);
        inline(&mut e, &u["inline_policies"], "iam_user", &arn);
        for k in manifest["access_keys"][format!("{name}/{n}")]
            .as_array()
            .into_iter()
            .flatten()
        {
            e.res("access-key", k.as_str().unwrap(), None);
            e.prof(
                "access-key",
                k.as_str().unwrap(),
                "aws_account_name",
                named.clone(),
            );
        }
    }
    for r in iam["roles"].as_array().into_iter().flatten() {
        let n = r["name"].as_str().unwrap();
        let arn = iam_arn(part, &acct, "role", &path_of(r), n);
        e.res("role", &arn, parent.clone());
        e.prof("role", &arn, "aws_account_name", named.clone());
        if let Some(b) = r["permissions_boundary"].as_str() {
            e.prof("role", &arn, "aws_permissions_boundary", resolve(b).into());
        }
        let ent = format!("role:{arn}:assignment");
        e.entitlements.insert(ent.clone());
        attach(&mut e, &r["managed_policies"], "role", &arn);
        inline(&mut e, &r["inline_policies"], "role", &arn);
        let statements = match &r["trust"]["Statement"] {
            Value::Array(a) => a.clone(),
            o @ Value::Object(_) => vec![o.clone()],
            _ => vec![],
        };
        for st in statements {
            if st["Effect"] != "Allow" || !strs(&st["Action"]).iter().any(|a| a == "sts:AssumeRole")
            {
                continue;
            }
            for p in strs(&st["Principal"]["AWS"]) {
                let (ptype, pid) = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                    ("account_iam", p.clone())
                } else if p.ends_with(":root") {
                    ("account_iam", p.split(':').nth(4).unwrap().to_string())
                } else if p.contains(":user/") {
                    ("iam_user", p.clone())
                } else if p.contains(":role/") {
                    ("role", p.clone())
                } else {
                    continue;
                };
                e.grants.insert(format!("{ent}:{ptype}:{pid}"));
            }
        }
    }
    e
}

/// What a sync wrote, in the same shape.
pub fn actual(reader: &orgsync::store::c1z::C1zReader) -> Expected {
    let all = orgsync::store::c1z::Filter::default();
    let mut e = Expected::default();
    for r in reader.resources(&all).unwrap() {
        let id = r.id.clone().unwrap();
        let key = format!("{}:{}", id.resource_type, id.resource);
        e.resources.insert(key.clone());
        e.parents.insert(
            key.clone(),
            r.parent_resource_id
                .map(|p| format!("{}:{}", p.resource_type, p.resource)),
        );
        let profile = r
            .profile
            .as_ref()
            .map(orgsync::model::profile::from_struct)
            .unwrap_or_default();
        let known: BTreeMap<String, Value> = ORACLE_KEYS
            .iter()
            .filter_map(|k| {
                let v = profile.get(*k)?;
                let timestamp = v
                    .as_str()
                    .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
                Some((
                    k.to_string(),
                    if timestamp { TIME.into() } else { v.clone() },
                ))
            })
            .collect();
        e.profiles.insert(key, known);
    }
    e.entitlements = reader
        .entitlements(&all)
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    e.grants = reader
        .grants(&all)
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    e
}

/// Keeps only IAM-type records (drops organization, OU, account and Identity Center ones).
pub fn iam_only(mut e: Expected) -> Expected {
    const IAM: [&str; 7] = [
        "account_iam:",
        "iam_user:",
        "group:",
        "role:",
        "iam_policy:",
        "inline_policy:",
        "access-key:",
    ];
    // Identity Center also writes IAM-typed records: permission-set inline policies
    // (`<psArn>::inline::inline`, ARNs of service `sso`), policy grants to permission sets and
    // their account bindings, and the AWS-managed policies those use.
    let from_ic = |k: &String| {
        k.contains(":sso:::")
            || k.contains(":permission_set:")
            || k.contains(":permission_set_assignment:")
    };
    let keep = |k: &String| IAM.iter().any(|p| k.starts_with(p)) && !from_ic(k);
    e.resources.retain(keep);
    e.parents.retain(|k, _| keep(k));
    e.profiles.retain(|k, _| keep(k));
    e.entitlements.retain(keep);
    e.grants.retain(keep);
    // An AWS-managed policy is IAM's only if an IAM principal has it.
    let used = |arn: &str| {
        let prefix = format!("iam_policy:{arn}:attached:");
        e.grants.iter().any(|g| g.starts_with(&prefix))
    };
    let aws_managed = |k: &str| -> Option<String> {
        let arn = k.strip_prefix("iam_policy:")?;
        let arn = arn.strip_suffix(":attached").unwrap_or(arn);
        arn.contains(":iam::aws:policy/").then(|| arn.to_string())
    };
    let unused: Vec<String> = e
        .resources
        .iter()
        .chain(e.entitlements.iter())
        .filter(|k| aws_managed(k).is_some_and(|arn| !used(&arn)))
        .cloned()
        .collect();
    for k in unused {
        e.resources.remove(&k);
        e.entitlements.remove(&k);
        e.parents.remove(&k);
        e.profiles.remove(&k);
    }
    e
}

/// Asserts equality with readable differences.
pub fn assert_same(actual: &Expected, expected: &Expected) {
    let diff = |what: &str, a: &BTreeSet<String>, b: &BTreeSet<String>| {
        let extra: Vec<_> = a.difference(b).collect();
        let missing: Vec<_> = b.difference(a).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{what}: unexpected {extra:#?}\nmissing {missing:#?}"
        );
    };
    diff("resources", &actual.resources, &expected.resources);
    diff("entitlements", &actual.entitlements, &expected.entitlements);
    diff("grants", &actual.grants, &expected.grants);
    for (k, p) in &expected.parents {
        assert_eq!(actual.parents.get(k), Some(p), "parent of {k}");
    }
    for (k, p) in &expected.profiles {
        assert_eq!(
            actual.profiles.get(k),
            Some(p),
            "profile keys {ORACLE_KEYS:?} of {k}"
        );
    }
}
