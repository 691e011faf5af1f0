//! Test oracle for `orgsync access`: the grants a sync of a fixture must hold, rebuilt from
//! the fixture JSON and the seeder's manifest alone (not from the c1z), and every path of
//! grants enumerated by brute force from every principal (the product searches forward from
//! one principal or backward from targets through SQL indexes; this walks the whole list).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::expect::{accounts, substitute};

pub type P = (String, String);

/// One edge: a grant of the sync (or one the definitions imply).
#[derive(Debug, Clone)]
pub struct OGrant {
    pub id: String,
    pub ent: String,
    pub ent_type: String,
    pub ent_res: String,
    pub granted_to: P,
    pub holder: P,
    pub from: Vec<String>,
    pub shallow: bool,
    pub kind: &'static str,
}

/// A step as the product prints it: (grant, entitlement, kind, granted_to).
pub type OStep = (String, String, String, String);

/// Answer rows: (principal type, principal id, target ("account_principal" or the entitlement
/// id), account) → every path.
pub type Rows = BTreeMap<(String, String, String, Option<String>), BTreeSet<Vec<OStep>>>;

pub struct Oracle {
    pub grants: Vec<OGrant>,
    pub ent_rows: BTreeSet<String>,
    /// Synced accounts: (fixture name, id).
    pub accounts: Vec<(String, String)>,
    /// IAM users and roles per account id.
    pub iam_principals: BTreeMap<String, Vec<P>>,
    /// Every principal worth asking about.
    pub principals: BTreeSet<P>,
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

fn p(t: &str, i: &str) -> P {
    (t.to_string(), i.to_string())
}

/// The account of a resource, read from its id.
pub fn account_of(t: &str, id: &str) -> Option<String> {
    let is_acct = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    match t {
        "account" | "account_iam" => is_acct(id).then(|| id.to_string()),
        "permission_set_assignment" => id
            .rsplit('-')
            .next()
            .filter(|a| is_acct(a))
            .map(str::to_string),
        "inline_policy" => account_of("x", id.split("::inline::").next().unwrap()),
        _ => {
            let f: Vec<&str> = id.split(':').collect();
            (f.len() > 5 && f[0] == "arn" && is_acct(f[4])).then(|| f[4].to_string())
        }
    }
}

/// Whether grant `g` gives an entitlement of the principal's own resource (never a path).
fn own(principal: &P, g: &OGrant) -> bool {
    g.ent_type == principal.0 && g.ent_res == principal.1
}

impl Oracle {
    pub fn build(fixture: &Value, manifest: &Value, assume_account_principals: bool) -> Oracle {
        let fx = substitute(fixture, manifest);
        let mgmt = manifest["management_account"].as_str().unwrap().to_string();
        let mut o = Oracle {
            grants: vec![],
            ent_rows: BTreeSet::new(),
            accounts: vec![],
            iam_principals: BTreeMap::new(),
            principals: BTreeSet::new(),
        };
        let add = |o: &mut Oracle, g: OGrant| {
            if !o.grants.iter().any(|x| x.id == g.id) {
                o.grants.push(g);
            }
        };
        let real = |id: String,
                    ent: String,
                    ent_type: &str,
                    ent_res: &str,
                    to: P,
                    from: Vec<String>,
                    shallow: bool| OGrant {
            id,
            ent,
            ent_type: ent_type.to_string(),
            ent_res: ent_res.to_string(),
            holder: to.clone(),
            granted_to: to,
            from,
            shallow,
            kind: "",
        };
        for (name, acct, is_mgmt, spec) in accounts(&fx, manifest) {
            if spec["status"].as_str() == Some("SUSPENDED") {
                continue;
            }
            o.accounts.push((name.clone(), acct.clone()));
            let mut iam = spec["iam"].clone();
            if iam.is_null() {
                iam = serde_json::json!({});
            }
            if !is_mgmt {
                let mut roles = vec![serde_json::json!({
                    "name": spec["role_name"].as_str().unwrap_or("OrganizationAccountAccessRole"),
                    "trust": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{mgmt}:root")}, "Action": "sts:AssumeRole"}]},
                    "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                })];
                roles.extend(iam["roles"].as_array().cloned().unwrap_or_default());
                iam["roles"] = Value::Array(roles);
            }
            let arn = |kind: &str, v: &Value| {
                format!(
                    "arn:aws:iam::{acct}:{kind}{}{}",
                    path_of(v),
                    v["name"].as_str().unwrap()
                )
            };
            let mut local = BTreeMap::new();
            for pol in iam["policies"].as_array().into_iter().flatten() {
                let a = arn("policy", pol);
                local.insert(pol["name"].as_str().unwrap().to_string(), a.clone());
                o.ent_rows.insert(format!("iam_policy:{a}:attached"));
            }
            let resolve = |r: &str| match r.strip_prefix("local:") {
                Some(n) => local[n].clone(),
                None => r.to_string(),
            };
            let attach = |o: &mut Oracle,
                          v: &Value,
                          ptype: &str,
                          parn: &str,
                          from: Vec<String>,
                          shallow: bool| {
                for r in strs(&v["managed_policies"]) {
                    let a = resolve(&r);
                    o.ent_rows.insert(format!("iam_policy:{a}:attached"));
                    let ent = format!("iam_policy:{a}:attached");
                    add(
                        o,
                        real(
                            format!("{ent}:{ptype}:{parn}"),
                            ent,
                            "iam_policy",
                            &a,
                            p(ptype, parn),
                            from.clone(),
                            shallow,
                        ),
                    );
                }
                for (n, _) in v["inline_policies"].as_object().into_iter().flatten() {
                    let id = format!("{parn}::inline::{n}");
                    let ent = format!("inline_policy:{id}:attached");
                    o.ent_rows.insert(ent.clone());
                    add(
                        o,
                        real(
                            format!("{ent}:{ptype}:{parn}"),
                            ent,
                            "inline_policy",
                            &id,
                            p(ptype, parn),
                            from.clone(),
                            shallow,
                        ),
                    );
                }
            };
            let mut groups = BTreeMap::new();
            for g in iam["groups"].as_array().into_iter().flatten() {
                let garn = arn("group", g);
                groups.insert(g["name"].as_str().unwrap().to_string(), garn.clone());
                let member = format!("group:{garn}:member");
                o.ent_rows.insert(member.clone());
                o.principals.insert(p("group", &garn));
                attach(&mut o, g, "group", &garn, vec![member], true);
            }
            let mut members = vec![];
            for u in iam["users"].as_array().into_iter().flatten() {
                let uarn = arn("user", u);
                members.push(p("iam_user", &uarn));
                for g in strs(&u["groups"]) {
                    let garn = &groups[&g];
                    let ent = format!("group:{garn}:member");
                    add(
                        &mut o,
                        real(
                            format!("{ent}:iam_user:{uarn}"),
                            ent,
                            "group",
                            garn,
                            p("iam_user", &uarn),
                            vec![],
                            false,
                        ),
                    );
                }
                attach(&mut o, u, "iam_user", &uarn, vec![], false);
            }
            for r in iam["roles"].as_array().into_iter().flatten() {
                let rarn = arn("role", r);
                members.push(p("role", &rarn));
                let ent = format!("role:{rarn}:assignment");
                o.ent_rows.insert(ent.clone());
                attach(&mut o, r, "role", &rarn, vec![ent.clone()], false);
                let sts = match &r["trust"]["Statement"] {
                    Value::Array(a) => a.clone(),
                    x @ Value::Object(_) => vec![x.clone()],
                    _ => vec![],
                };
                for st in sts {
                    if st["Effect"] != "Allow"
                        || !strs(&st["Action"]).iter().any(|a| a == "sts:AssumeRole")
                    {
                        continue;
                    }
                    for pr in strs(&st["Principal"]["AWS"]) {
                        let (pt, pid, from) =
                            if pr.len() == 12 && pr.bytes().all(|b| b.is_ascii_digit()) {
                                ("account_iam", pr.clone(), vec![])
                            } else if pr.ends_with(":root") {
                                (
                                    "account_iam",
                                    pr.split(':').nth(4).unwrap().to_string(),
                                    vec![],
                                )
                            } else if pr.contains(":user/") {
                                ("iam_user", pr.clone(), vec![])
                            } else if pr.contains(":role/") {
                                ("role", pr.clone(), vec![format!("role:{pr}:assignment")])
                            } else {
                                continue;
                            };
                        add(
                            &mut o,
                            real(
                                format!("{ent}:{pt}:{pid}"),
                                ent.clone(),
                                "role",
                                &rarn,
                                p(pt, &pid),
                                from,
                                false,
                            ),
                        );
                    }
                }
            }
            o.principals.extend(members.iter().cloned());
            o.principals.insert(p("account_iam", &acct));
            o.iam_principals.insert(acct.clone(), members);
        }

        // Identity Center.
        let ic = &manifest["identity_center"];
        if !ic.is_null() {
            let store = ic["identity_store_id"].as_str().unwrap();
            let user = |n: &str| {
                format!(
                    "arn:aws:identitystore:us-east-1::{store}/user/{}",
                    ic["users"][n].as_str().unwrap()
                )
            };
            let group = |n: &str| {
                format!(
                    "arn:aws:identitystore:us-east-1::{store}/group/{}",
                    ic["groups"][n].as_str().unwrap()
                )
            };
            let spec = &fx["identity_center"];
            for u in spec["users"].as_array().into_iter().flatten() {
                o.principals
                    .insert(p("sso_user", &user(u["user_name"].as_str().unwrap())));
            }
            for g in spec["groups"].as_array().into_iter().flatten() {
                let gname = g["display_name"].as_str().unwrap();
                let garn = group(gname);
                o.principals.insert(p("sso_group", &garn));
                let ent = format!("sso_group:{garn}:member");
                o.ent_rows.insert(ent.clone());
                for m in strs(&g["members"]) {
                    let id = ic["memberships"][format!("{gname}/{m}")]
                        .as_str()
                        .unwrap()
                        .to_string();
                    add(
                        &mut o,
                        real(
                            id,
                            ent.clone(),
                            "sso_group",
                            &garn,
                            p("sso_user", &user(&m)),
                            vec![],
                            false,
                        ),
                    );
                }
            }
            let ps_arn = |n: &str| ic["permission_sets"][n].as_str().unwrap().to_string();
            let mut ps_specs = BTreeMap::new();
            for ps in spec["permission_sets"].as_array().into_iter().flatten() {
                let name = ps["name"].as_str().unwrap();
                let arn = ps_arn(name);
                ps_specs.insert(name.to_string(), ps.clone());
                for m in strs(&ps["managed_policies"]) {
                    let ent = format!("iam_policy:{m}:attached");
                    o.ent_rows.insert(ent.clone());
                    add(
                        &mut o,
                        real(
                            format!("{ent}:permission_set:{arn}"),
                            ent,
                            "iam_policy",
                            &m,
                            p("permission_set", &arn),
                            vec![],
                            false,
                        ),
                    );
                }
                if !ps["inline_policy"].is_null() {
                    let id = format!("{arn}::inline::inline");
                    let ent = format!("inline_policy:{id}:attached");
                    o.ent_rows.insert(ent.clone());
                    add(
                        &mut o,
                        real(
                            format!("{ent}:permission_set:{arn}"),
                            ent,
                            "inline_policy",
                            &id,
                            p("permission_set", &arn),
                            vec![],
                            false,
                        ),
                    );
                }
                for (_, acct) in o.accounts.clone() {
                    o.ent_rows.insert(format!("{acct}|{arn}"));
                }
            }
            let acct_id = |n: &str| {
                if n == "management" {
                    mgmt.clone()
                } else {
                    manifest["accounts"][n].as_str().unwrap().to_string()
                }
            };
            let mut pairs = BTreeSet::new();
            for a in spec["assignments"].as_array().into_iter().flatten() {
                let acct = acct_id(a["account"].as_str().unwrap());
                let ps = ps_arn(a["permission_set"].as_str().unwrap());
                let (pt, parn, from) = match a["user"].as_str() {
                    Some(u) => ("sso_user", user(u), vec![]),
                    None => {
                        let g = group(a["group"].as_str().unwrap());
                        (
                            "sso_group",
                            g.clone(),
                            vec![format!("sso_group:{g}:member")],
                        )
                    }
                };
                let ent = format!("{acct}|{ps}");
                add(
                    &mut o,
                    real(
                        format!("grant:{pt}:{parn}:{ent}"),
                        ent,
                        "account",
                        &acct,
                        p(pt, &parn),
                        from.clone(),
                        false,
                    ),
                );
                let bid = format!("{ps}-{acct}");
                let bent = format!("permission_set_assignment:{bid}:assigned");
                o.ent_rows.insert(bent.clone());
                add(
                    &mut o,
                    real(
                        format!("grant:{pt}:{parn}:{bent}"),
                        bent,
                        "permission_set_assignment",
                        &bid,
                        p(pt, &parn),
                        from,
                        false,
                    ),
                );
                pairs.insert((acct, a["permission_set"].as_str().unwrap().to_string()));
            }
            for (acct, psname) in &pairs {
                let ps = ps_arn(psname);
                let bid = format!("{ps}-{acct}");
                let bent = format!("permission_set_assignment:{bid}:assigned");
                o.principals.insert(p("permission_set_assignment", &bid));
                let spec = &ps_specs[psname];
                let mut arns = strs(&spec["managed_policies"]);
                for c in spec["customer_managed_policies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    arns.push(format!(
                        "arn:aws:iam::{acct}:policy{}{}",
                        path_of(c),
                        c["name"].as_str().unwrap()
                    ));
                }
                for a in arns {
                    let ent = format!("iam_policy:{a}:attached");
                    add(
                        &mut o,
                        real(
                            format!("{ent}:permission_set_assignment:{bid}"),
                            ent,
                            "iam_policy",
                            &a,
                            p("permission_set_assignment", &bid),
                            vec![bent.clone()],
                            false,
                        ),
                    );
                }
            }
            // Implied: a permission set's policies its bindings do not hold themselves.
            let by_set: Vec<OGrant> = o
                .grants
                .iter()
                .filter(|g| g.granted_to.0 == "permission_set")
                .cloned()
                .collect();
            for g in by_set {
                for (acct, psname) in &pairs {
                    if ps_arn(psname) != g.granted_to.1 {
                        continue;
                    }
                    let bid = format!("{}-{acct}", g.granted_to.1);
                    let holds = o.grants.iter().any(|x| {
                        x.holder == p("permission_set_assignment", &bid) && x.ent == g.ent
                    });
                    if !holds {
                        o.grants.push(OGrant {
                            holder: p("permission_set_assignment", &bid),
                            from: vec![format!("permission_set_assignment:{bid}:assigned")],
                            kind: "permission_set_policy",
                            ..g.clone()
                        });
                    }
                }
            }
        }

        // Implied with --assume-account-principals: root trust held by the account's IAM users
        // and roles.
        if assume_account_principals {
            let roots: Vec<OGrant> = o
                .grants
                .iter()
                .filter(|g| g.granted_to.0 == "account_iam" && g.ent_type == "role")
                .cloned()
                .collect();
            for g in roots {
                for u in o
                    .iam_principals
                    .get(&g.granted_to.1)
                    .cloned()
                    .unwrap_or_default()
                {
                    if u == p("role", &g.ent_res) {
                        continue;
                    }
                    let from = if u.0 == "role" {
                        vec![format!("role:{}:assignment", u.1)]
                    } else {
                        vec![]
                    };
                    o.grants.push(OGrant {
                        holder: u,
                        from,
                        shallow: false,
                        kind: "account_root_trust",
                        ..g.clone()
                    });
                }
            }
        }
        for g in &mut o.grants {
            if g.kind.is_empty() {
                g.kind = match g.ent_type.as_str() {
                    "group" | "sso_group" => "membership",
                    "role" if g.granted_to.0 == "account_iam" => "account_root_trust",
                    "role" => "assume_role",
                    "account" | "permission_set_assignment" => "permission_set_assignment",
                    "iam_policy" | "inline_policy" => "policy_attached",
                    _ => "grant",
                };
            }
        }
        let holders: Vec<P> = o.grants.iter().map(|g| g.holder.clone()).collect();
        o.principals.extend(holders);
        o
    }

    fn landing(&self, g: &OGrant) -> Option<String> {
        if g.ent_type == "iam_policy" || g.ent_type == "inline_policy" {
            account_of(&g.holder.0, &g.holder.1)
        } else {
            account_of(&g.ent_type, &g.ent_res)
        }
    }

    fn step(g: &OGrant) -> OStep {
        (
            g.id.clone(),
            g.ent.clone(),
            g.kind.to_string(),
            format!("{}:{}", g.granted_to.0, g.granted_to.1),
        )
    }

    /// Every path from `principal` within `max_hops`, by (target, account).
    pub fn paths_from(&self, principal: &P, max_hops: u32) -> Rows {
        let mut rows = Rows::new();
        let hop = |g: &OGrant| u32::from(g.ent_type == "role");
        for (i, g) in self.grants.iter().enumerate() {
            if &g.holder == principal && hop(g) <= max_hops && !own(principal, g) {
                self.walk(principal, &mut vec![i], hop(g), max_hops, &mut rows);
            }
        }
        rows
    }

    fn walk(
        &self,
        principal: &P,
        path: &mut Vec<usize>,
        hops: u32,
        max_hops: u32,
        rows: &mut Rows,
    ) {
        let last = &self.grants[*path.last().unwrap()];
        rows.entry((
            principal.0.clone(),
            principal.1.clone(),
            last.ent.clone(),
            self.landing(last),
        ))
        .or_default()
        .insert(path.iter().map(|&i| Self::step(&self.grants[i])).collect());
        if !self.ent_rows.contains(&last.ent) {
            return;
        }
        for (i, g) in self.grants.iter().enumerate() {
            if !g.from.contains(&last.ent)
                || own(principal, g)
                || (g.shallow && path.len() > 1)
                || !self.ent_rows.contains(&g.ent)
                || path.iter().any(|&j| self.grants[j].ent == g.ent)
            {
                continue;
            }
            let h = hops + u32::from(g.ent_type == "role");
            if h > max_hops {
                continue;
            }
            path.push(i);
            self.walk(principal, path, h, max_hops, rows);
            path.pop();
        }
    }

    /// The product's forward answer for `principal`: its paths, plus being an IAM principal
    /// of its account.
    pub fn principal_rows(&self, principal: &P, max_hops: u32) -> Rows {
        let mut rows = self.paths_from(principal, max_hops);
        if (principal.0 == "iam_user" || principal.0 == "role")
            && let Some(a) = account_of(&principal.0, &principal.1)
        {
            rows.insert(
                (
                    principal.0.clone(),
                    principal.1.clone(),
                    "account_principal".into(),
                    Some(a),
                ),
                BTreeSet::from([vec![]]),
            );
        }
        rows
    }

    /// Everyone reaching account `acct`: paths to its roles' assignments and its permission
    /// sets, and its IAM users and roles.
    pub fn account_rows(&self, acct: &str, max_hops: u32) -> Rows {
        let entry = |e: &str| {
            self.ent_rows.contains(e)
                && (e.starts_with(&format!("{acct}|"))
                    || (e.starts_with("role:")
                        && account_of(
                            "role",
                            e.trim_start_matches("role:")
                                .trim_end_matches(":assignment"),
                        )
                        .as_deref()
                            == Some(acct)))
        };
        let mut rows = Rows::new();
        for pr in &self.principals {
            for (k, v) in self.paths_from(pr, max_hops) {
                if entry(&k.2) {
                    rows.insert(k, v);
                }
            }
        }
        for m in self.iam_principals.get(acct).into_iter().flatten() {
            rows.insert(
                (
                    m.0.clone(),
                    m.1.clone(),
                    "account_principal".into(),
                    Some(acct.to_string()),
                ),
                BTreeSet::from([vec![]]),
            );
        }
        rows
    }

    /// Every admin path (`admin`: the admin entitlements), landing in `acct` when given.
    pub fn admin_rows(&self, admin: &BTreeSet<String>, acct: Option<&str>, max_hops: u32) -> Rows {
        let mut rows = Rows::new();
        for pr in &self.principals {
            for (k, v) in self.paths_from(pr, max_hops) {
                if admin.contains(&k.2) && (acct.is_none() || k.3.as_deref() == acct) {
                    rows.insert(k, v);
                }
            }
        }
        rows
    }
}

/// The rows of an `orgsync access -o json` answer, in the oracle's shape; asserts each row's
/// paths come shortest first and `paths_found` counts them all.
pub fn rows_of(answer: &Value) -> Rows {
    let mut rows = Rows::new();
    for r in answer["results"].as_array().unwrap() {
        let target = match r["target"]["kind"].as_str().unwrap() {
            "account_principal" => "account_principal".to_string(),
            _ => r["target"]["id"].as_str().unwrap().to_string(),
        };
        let key = (
            r["principal"]["type"].as_str().unwrap().to_string(),
            r["principal"]["id"].as_str().unwrap().to_string(),
            target,
            r["account"].as_str().map(str::to_string),
        );
        let paths: Vec<Vec<OStep>> = r["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        (
                            s["grant"].as_str().unwrap().to_string(),
                            s["entitlement"].as_str().unwrap().to_string(),
                            s["kind"].as_str().unwrap().to_string(),
                            s["granted_to"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .collect();
        assert!(
            paths.windows(2).all(|w| w[0].len() <= w[1].len()),
            "shortest first: {key:?}"
        );
        assert_eq!(
            r["paths_found"].as_u64().unwrap() as usize,
            paths.len(),
            "{key:?}"
        );
        let set: BTreeSet<Vec<OStep>> = paths.into_iter().collect();
        assert!(
            rows.insert(key.clone(), set).is_none(),
            "row twice: {key:?}"
        );
    }
    rows
}

/// Asserts two answers are equal, showing only what differs.
pub fn assert_rows(what: &str, got: &Rows, want: &Rows) {
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what}: unexpected rows {extra:#?}\nmissing rows {missing:#?}"
    );
    for (k, w) in want {
        let g = &got[k];
        let extra: Vec<_> = g.difference(w).collect();
        let missing: Vec<_> = w.difference(g).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{what}: row {k:?}: unexpected paths {extra:#?}\nmissing paths {missing:#?}"
        );
    }
}
