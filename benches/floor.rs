//! Benchmark: orgsync against AWS's own floor. For each fixture it seeds a fresh moto, runs the
//! release binary `orgsync sync` through the fault proxy with added latency and AWS-like token
//! buckets (`tests/support/throttle.rs`), cold (no credential report yet) and warm, then warm
//! again with the buckets pushed to 2×, and prints each figure next to its floor and its target
//! from issue 13: AWS calls vs the minimum calls AWS's API shape requires, wall time vs the
//! critical-path floor of that call plan, peak RSS of orgsync, and the emulator's CPU time (where
//! moto's CPU time approaches the wall time, the emulator is the bound, not orgsync or AWS's
//! limits). Both floors are computed here from the fixture (`Shape` → `Plan`), never by hand.
//! Asserts nothing; runs only under `cargo bench --bench floor`.
//!
//! Seeding (serial boto3 into moto) measured on the 2-core build machine: base 4–11 s,
//! org-101 40 s, big-account 410 s and org-1000 330–810 s (load average 5 to 13 from other
//! work); every preset stays at full size. A seeding that takes over 10 minutes is flagged next
//! to its figure with the load average, as the emulator then shares the CPU with that load.
//!
//!   cargo bench --bench floor                                   # base, org-101
//!   ORGSYNC_BENCH_FIXTURES=base,org-101,org-1000,big-account cargo bench --bench floor
//!   ORGSYNC_BENCH_FIXTURES='gen:--accounts 199 --users 3' ORGSYNC_BENCH_LATENCY_MS=200 \
//!       ORGSYNC_BENCH_SHARDS=4 cargo bench --bench floor        # issue 12's shard figures
//!
//! Environment: ORGSYNC_BENCH_LATENCY_MS (50), ORGSYNC_BENCH_AWS_RATES (bucket overrides,
//! `iam=20,organizations=2/4`), ORGSYNC_BENCH_PRESSURE (the second run's multiplier, 2),
//! ORGSYNC_BENCH_SHARDS (processes of the shard mode, 4; 0 = off),
//! ORGSYNC_BENCH_ORGSYNC_ARGS (extra `orgsync sync` arguments, e.g. `--concurrency 64`),
//! ORGSYNC_BENCH_BIN (run this orgsync binary instead of the build's: "before" figures),
//! ORGSYNC_BENCH_FLOOR_ONLY=1 (print the floors and their call plans; no emulator, no run).
//!
//! Figures (issue 13; 50 ms, AWS-like buckets, 2 shared cores under other load; warm run unless
//! said; emulator with GetAccountAuthorizationDetails paged as AWS pages it):
//!
//! | fixture | calls / floor | wall / floor | RSS | moto CPU / wall | ×2: wall / floor |
//! |---|---|---|---|---|---|
//! | base (4 accounts) | 134 / 138 (cold 139 / 142) | 2.55 / 2.05 s = 1.24 | 35 MiB | 28 % | 6.93 / 5.05 s = 1.37 |
//! | org-101 | 608 / 607 (cold 710 / 708) | 4.87 / 3.10 s = 1.57 | 53 MiB | 60 % | 11.46 / 7.15 s = 1.60 |
//! | org-1000 | 5,149 / 5,148 (cold 6,150 / 6,148) | 39.7 / 14.3 s = 2.78 | 261 MiB | 81 % | 49.4 / 29.6 s = 1.67 |
//! | big-account (5,000 + 5,000) | 555 / 555 (cold 558 / 557) | 39.0 / 35.2 s = 1.11 | 72 MiB | 15 % | 74.8 / 71.7 s = 1.04 |
//!
//! Before issue 13 (main at 4106261, moto answering GAAD in one page): base cold 12.0 s, org-101
//! 37.7 s, org-1000 163 s and 268 MiB, big-account 160 MiB. Records identical in every run pair.
//! Since Identity Center reads its assignments while the organization is listed and
//! ListInstances, DescribeOrganization and ListRoots go out at t = 0 (load average 15, same
//! records): base warm 2.32 / 2.05 s = 1.13 (cold 1.18, ×2 1.11), org-101 warm 4.64 / 3.10 s =
//! 1.50 (cold 1.86, ×2 1.14; moto at 50 % CPU); every family's first request at 0.07–0.2 s.
//! Where the time went before: the Organizations walk (4/s) and Identity Center's assignments,
//! which waited for the walk's list of accounts, made the base and org-101 tails; on org-1000 the one
//! moto process is near its CPU bound. RSS grows about 0.23 MiB per account (7× from 4 to 1,000
//! accounts; main, reading 8 accounts at a time, grew as much), not yet explained. `--retry-mode adaptive`
//! and `standard` measure the same (base ×2: 6.93 s both): throttled calls are retried by
//! orgsync through its buckets, not by the SDK.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::proxy::{Fault, FaultProxy, Rule};
use support::throttle::{AwsLimits, Family};
use support::{Moto, orgsync};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixture the bench knows how to generate.
struct Preset {
    name: &'static str,
    what: &'static str,
    /// `scripts/gen-org-fixture.py` options.
    args: &'static str,
}

const PRESETS: [Preset; 4] = [
    Preset {
        name: "base",
        what: "management + 3 members, 199 IAM users, 135 roles, Identity Center 40 users",
        args: "--accounts 3 --users 66 --roles 44 --policies 4 --groups 3 --keys-every 5 \
               --ic-users 40 --ic-groups 6 --permission-sets 5 --assignments 30",
    },
    Preset {
        name: "org-101",
        what: "101 accounts (management + 100 members), 3 users each, Identity Center 40 users",
        args: "--accounts 100 --users 3 --ic-users 40 --ic-groups 6 --permission-sets 5 \
               --assignments 60",
    },
    Preset {
        name: "org-1000",
        what: "1,000 accounts (management + 999 members), 3 users each, Identity Center 40 users",
        args: "--accounts 999 --users 3 --ic-users 40 --ic-groups 6 --permission-sets 5 \
               --assignments 60",
    },
    Preset {
        name: "big-account",
        what: "one member with 5,000 users, 5,000 roles, 1,500 policies",
        args: "--accounts 1 --users 5000 --roles 4999 --policies 1500 --groups 10 --keys-every 10",
    },
];

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Generates a fixture with `scripts/gen-org-fixture.py ARGS` into `dir`.
fn generate(dir: &Path, name: &str, args: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let out = Command::new("python3")
        .arg(support::repo_root().join("scripts/gen-org-fixture.py"))
        .args(args.split_whitespace())
        .output()
        .expect("running scripts/gen-org-fixture.py");
    assert!(
        out.status.success(),
        "gen-org-fixture.py {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&path, out.stdout).expect("writing the fixture");
    path
}

// ---------------------------------------------------------------------------------------------
// What the fixture holds, as far as the call plan depends on it

#[derive(Debug, Default)]
struct IamShape {
    users: u64,
    users_with_keys: u64,
    groups: u64,
    roles: u64,
    local_policies: u64,
    /// AWS-managed policies attached to a user, group or role here.
    aws_policies: BTreeSet<String>,
}

#[derive(Debug)]
struct AccountShape {
    name: String,
    /// False for the management account.
    member: bool,
    active: bool,
    /// Index into `Shape::nodes`.
    node: usize,
    iam: IamShape,
}

#[derive(Debug)]
struct NodeShape {
    parent: Option<usize>,
}

#[derive(Debug, Default)]
struct IcShape {
    users: u64,
    /// Members of each group.
    groups: Vec<u64>,
    permission_sets: u64,
    /// Managed policies of each permission set.
    set_policies: Vec<u64>,
    /// Assignments per principal (user or group name).
    per_principal: BTreeMap<String, u64>,
    /// Assignments per (account name, permission set name).
    pairs: BTreeMap<(String, String), u64>,
}

#[derive(Debug)]
struct Shape {
    nodes: Vec<NodeShape>,
    accounts: Vec<AccountShape>,
    ic: IcShape,
}

fn len(v: &Value) -> u64 {
    v.as_array().map_or(0, |a| a.len() as u64)
}

fn iam_shape(iam: &Value, extra_role: Option<Option<&str>>) -> IamShape {
    let mut s = IamShape {
        users: len(&iam["users"]),
        groups: len(&iam["groups"]),
        roles: len(&iam["roles"]),
        local_policies: len(&iam["policies"]),
        ..Default::default()
    };
    let aws = |list: &Value, into: &mut BTreeSet<String>| {
        for p in list.as_array().into_iter().flatten() {
            if let Some(arn) = p
                .as_str()
                .filter(|a| a.starts_with("arn:aws:iam::aws:policy/"))
            {
                into.insert(arn.to_string());
            }
        }
    };
    for kind in ["users", "groups", "roles"] {
        for e in iam[kind].as_array().into_iter().flatten() {
            aws(&e["managed_policies"], &mut s.aws_policies);
        }
    }
    s.users_with_keys = iam["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| match &u["access_keys"] {
            Value::Number(n) => n.as_u64().unwrap_or(0) > 0,
            Value::Array(a) => !a.is_empty(),
            _ => false,
        })
        .count() as u64;
    // A member also holds the role CreateAccount made, with the policy the seeder gave it.
    if let Some(policy) = extra_role {
        s.roles += 1;
        if let Some(p) = policy {
            s.aws_policies.insert(p.to_string());
        }
    }
    s
}

impl Shape {
    fn of(fx: &Value) -> Shape {
        let org = &fx["organization"];
        assert!(org.is_object(), "the floor bench needs an organization");
        let mut nodes = vec![NodeShape { parent: None }];
        let mut paths: BTreeMap<String, usize> = BTreeMap::new();
        fn walk(
            ous: &Value,
            parent: usize,
            prefix: &str,
            nodes: &mut Vec<NodeShape>,
            paths: &mut BTreeMap<String, usize>,
        ) {
            for ou in ous.as_array().into_iter().flatten() {
                let path = format!("{prefix}{}", ou["name"].as_str().unwrap_or_default());
                nodes.push(NodeShape {
                    parent: Some(parent),
                });
                let id = nodes.len() - 1;
                paths.insert(path.clone(), id);
                walk(&ou["children"], id, &format!("{path}/"), nodes, paths);
            }
        }
        walk(&org["ous"], 0, "", &mut nodes, &mut paths);
        let member_policy = match org["member_role_policy"].as_str().unwrap_or("managed") {
            "managed" => Some("arn:aws:iam::aws:policy/AdministratorAccess"),
            _ => None,
        };
        let mut accounts = vec![AccountShape {
            name: "management".into(),
            member: false,
            active: true,
            node: 0,
            iam: iam_shape(&fx["management"]["iam"], None),
        }];
        for a in fx["accounts"].as_array().into_iter().flatten() {
            let node = a["ou"].as_str().map_or(0, |p| paths[p]);
            accounts.push(AccountShape {
                name: a["name"].as_str().unwrap_or_default().to_string(),
                member: true,
                active: a["status"].as_str().unwrap_or("ACTIVE") == "ACTIVE",
                node,
                iam: iam_shape(&a["iam"], Some(member_policy)),
            });
        }
        let mut ic = IcShape::default();
        let icv = &fx["identity_center"];
        if icv.is_object() {
            ic.users = len(&icv["users"]);
            ic.groups = icv["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| len(&g["members"]))
                .collect();
            ic.permission_sets = len(&icv["permission_sets"]);
            ic.set_policies = icv["permission_sets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| len(&p["managed_policies"]))
                .collect();
            let active: BTreeSet<&str> = accounts
                .iter()
                .filter(|a| a.active)
                .map(|a| a.name.as_str())
                .collect();
            for a in icv["assignments"].as_array().into_iter().flatten() {
                let account = a["account"].as_str().unwrap_or_default();
                if !active.contains(account) {
                    continue;
                }
                let who = a["user"].as_str().or(a["group"].as_str()).unwrap_or("");
                *ic.per_principal.entry(who.to_string()).or_default() += 1;
                let set = a["permission_set"].as_str().unwrap_or_default().to_string();
                *ic.pairs.entry((account.to_string(), set)).or_default() += 1;
            }
        }
        Shape {
            nodes,
            accounts,
            ic,
        }
    }

    fn summary(&self) -> String {
        let users: u64 = self.accounts.iter().map(|a| a.iam.users).sum();
        let roles: u64 = self.accounts.iter().map(|a| a.iam.roles).sum();
        let largest = self
            .accounts
            .iter()
            .map(|a| a.iam.users + a.iam.roles)
            .max()
            .unwrap_or(0);
        format!(
            "{} accounts, {users} IAM users, {roles} roles (largest account {largest} users + roles), Identity Center {} users / {} groups / {} permission sets / {} assignment pairs",
            self.accounts.len(),
            self.ic.users,
            self.ic.groups.len(),
            self.ic.permission_sets,
            self.ic.pairs.len()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: AWS's minimal call plan for the fixture, and its earliest finish

/// When the floor's plan ends, and per family its first start and last finish.
#[derive(Debug, Clone)]
struct Schedule {
    end: f64,
    spans: BTreeMap<&'static str, (f64, f64)>,
}

fn span_text(spans: &BTreeMap<&'static str, (f64, f64)>) -> String {
    spans
        .iter()
        .map(|(f, (a, b))| format!("{f} {a:.2}–{b:.2} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The three ways AWS offers to enumerate account assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assign {
    Principal,
    BySet,
    ByAccount,
}

/// Calls of the cheapest plan, and the earliest finish of the fastest of the three assignment
/// ways (a lower bound for any of them).
fn floors(shape: &Shape, cold: bool, limits: &AwsLimits, latency: f64) -> (Plan, Schedule) {
    let fastest = [Assign::Principal, Assign::BySet, Assign::ByAccount]
        .into_iter()
        .map(|a| Plan::of(shape, cold, Some(a)).earliest_finish(limits, latency))
        .min_by(|a, b| a.end.total_cmp(&b.end))
        .expect("three plans");
    (Plan::of(shape, cold, None), fastest)
}

/// Whose token bucket a call draws from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BucketKey(Family, String);

#[derive(Debug)]
struct Call {
    op: &'static str,
    bucket: BucketKey,
    deps: Vec<usize>,
}

/// A DAG of AWS calls: what a sync must ask AWS at the least, and what each call waits for.
#[derive(Debug, Default)]
struct Plan {
    calls: Vec<Call>,
}

fn pages(items: u64, per_page: u64) -> u64 {
    items.div_ceil(per_page).max(1)
}

impl Plan {
    fn add(&mut self, op: &'static str, bucket: &BucketKey, deps: &[usize]) -> usize {
        self.calls.push(Call {
            op,
            bucket: bucket.clone(),
            deps: deps.to_vec(),
        });
        self.calls.len() - 1
    }

    /// `n` pages of a paged call, each after the one before (the next token comes with the
    /// previous page); the first after `deps`. Returns the page ids.
    fn chain(
        &mut self,
        op: &'static str,
        bucket: &BucketKey,
        deps: &[usize],
        n: u64,
    ) -> Vec<usize> {
        let mut ids = vec![];
        for i in 0..n {
            let d = if i == 0 {
                deps.to_vec()
            } else {
                vec![ids[ids.len() - 1]]
            };
            ids.push(self.add(op, bucket, &d));
        }
        ids
    }

    /// The minimal plan, with account assignments read the cheapest way (`assign` None) or
    /// the given way. Terms (one comment each):
    fn of(shape: &Shape, cold: bool, assign: Option<Assign>) -> Plan {
        let mut p = Plan::default();
        let sts = BucketKey(Family::Sts, "management".into());
        let org = BucketKey(Family::Organizations, String::new());
        let ic = BucketKey(Family::IdentityCenter, String::new());
        // STS: one GetCallerIdentity to learn who the base credentials are.
        let caller = p.add("sts:GetCallerIdentity", &sts, &[]);
        // Organizations: the organization (id, management account) and its roots, 1 call each.
        p.add("organizations:DescribeOrganization", &org, &[]);
        let roots = p.add("organizations:ListRoots", &org, &[]);
        // The OU tree: per node (root or OU) its child OUs, 20 per page, at least one page
        // (a leaf must be asked to know it is one); a node is known once its parent's page
        // listing it came back (we take the parent's last page).
        let n = shape.nodes.len();
        let mut children = vec![0u64; n];
        for node in &shape.nodes {
            if let Some(parent) = node.parent {
                children[parent] += 1;
            }
        }
        let mut known = vec![roots; n];
        let mut ou_pages: Vec<Vec<usize>> = vec![vec![]; n];
        for i in 0..n {
            if let Some(parent) = shape.nodes[i].parent {
                known[i] = *ou_pages[parent].last().expect("parent listed first");
            }
            ou_pages[i] = p.chain(
                "organizations:ListOrganizationalUnitsForParent",
                &org,
                &[known[i]],
                pages(children[i], 20),
            );
        }
        // Accounts with their parent: per node ListAccountsForParent, 20 per page, at least one
        // page (ListAccounts + ListParents per account costs more).
        let mut per_node: Vec<Vec<usize>> = vec![vec![]; n];
        for (i, a) in shape.accounts.iter().enumerate() {
            per_node[a.node].push(i);
        }
        let mut listed = vec![caller; shape.accounts.len()];
        for node in 0..n {
            let ids = p.chain(
                "organizations:ListAccountsForParent",
                &org,
                &[known[node]],
                pages(per_node[node].len() as u64, 20),
            );
            for (k, a) in per_node[node].iter().enumerate() {
                listed[*a] = ids[k / 20];
            }
        }
        // Per account (ACTIVE ones only; the management account reads with the base
        // credentials, so it waits only for GetCallerIdentity).
        let mut aws_policy_seen: BTreeSet<&str> = BTreeSet::new();
        for (i, a) in shape.accounts.iter().enumerate() {
            if !a.active {
                continue;
            }
            let iam = BucketKey(Family::Iam, a.name.clone());
            // One AssumeRole into each member, from the management account's STS bucket.
            let hop = if a.member {
                p.add("sts:AssumeRole", &sts, &[listed[i]])
            } else {
                caller
            };
            let s = &a.iam;
            // GetAccountAuthorizationDetails: users, groups, roles and local policies with
            // their attachments and documents, 1,000 items per page at most.
            let gaad = p.chain(
                "iam:GetAccountAuthorizationDetails",
                &iam,
                &[hop],
                pages(s.users + s.groups + s.roles + s.local_policies, 1000),
            );
            // ListRoles for description and session limit (not in GAAD), 1,000 per page.
            if s.roles > 0 {
                p.chain("iam:ListRoles", &iam, &[hop], pages(s.roles, 1000));
            }
            if s.users > 0 {
                // The credential report: a fresh one exists on a warm run (IAM reuses a report
                // under 4 hours old), so one GetCredentialReport; a cold run generates first.
                let mut deps = vec![hop];
                if cold {
                    deps = vec![p.add("iam:GenerateCredentialReport", &iam, &deps)];
                }
                let report = p.add("iam:GetCredentialReport", &iam, &deps);
                // ListAccessKeys only for users the report shows with a key.
                for _ in 0..s.users_with_keys {
                    p.add("iam:ListAccessKeys", &iam, &[report]);
                }
            }
            // Documents of AWS-managed policies attached anywhere: GetPolicy (default version)
            // then GetPolicyVersion, once per organization, in the first account that
            // attaches the policy, after its authorization details. (GAAD with the
            // AWSManagedPolicy filter might carry them for fewer calls; AWS does not document
            // whether it lists only attached ones, so the floor keeps the two calls.)
            let last = *gaad.last().expect("at least one page");
            for arn in &s.aws_policies {
                if aws_policy_seen.insert(arn) {
                    let got = p.add("iam:GetPolicy", &iam, &[last]);
                    p.add("iam:GetPolicyVersion", &iam, &[got]);
                }
            }
        }
        // Identity Center (one org-wide bucket, overlapping the accounts): the instance,
        // then users, groups and permission sets, 100 per page.
        let s = &shape.ic;
        let inst = p.add("sso:ListInstances", &ic, &[]);
        let users = p.chain("identitystore:ListUsers", &ic, &[inst], pages(s.users, 100));
        let groups = p.chain(
            "identitystore:ListGroups",
            &ic,
            &[inst],
            pages(s.groups.len() as u64, 100),
        );
        let sets = p.chain(
            "sso:ListPermissionSets",
            &ic,
            &[inst],
            pages(s.permission_sets, 100),
        );
        // The members of each group, 100 per page (per user would cost more when users
        // outnumber groups).
        for (g, members) in s.groups.iter().enumerate() {
            p.chain(
                "identitystore:ListGroupMemberships",
                &ic,
                &[groups[g / 100]],
                pages(*members, 100),
            );
        }
        // Each permission set: Describe, its managed and customer-managed policy lists,
        // its inline policy and its boundary (5 calls; AWS has no batch read).
        for (k, policies) in s.set_policies.iter().enumerate() {
            let after = [sets[k / 100]];
            p.add("sso:DescribePermissionSet", &ic, &after);
            p.chain(
                "sso:ListManagedPoliciesInPermissionSet",
                &ic,
                &after,
                pages(*policies, 100),
            );
            p.add(
                "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
                &ic,
                &after,
            );
            p.add("sso:GetInlinePolicyForPermissionSet", &ic, &after);
            p.add("sso:GetPermissionsBoundaryForPermissionSet", &ic, &after);
        }
        // Assignments by the cheapest of the three shapes AWS offers: one call per principal;
        // or one discovery call per permission set, or per account, then one per provisioned
        // (account, permission set) pair. Nothing to ask without sets.
        let active: Vec<usize> = (0..shape.accounts.len())
            .filter(|i| shape.accounts[*i].active)
            .collect();
        if s.permission_sets > 0 && !active.is_empty() {
            let pair_pages: u64 = s.pairs.values().map(|n| pages(*n, 100)).sum();
            let principal: u64 = s.users + s.groups.len() as u64 - s.per_principal.len() as u64
                + s.per_principal
                    .values()
                    .map(|n| pages(*n, 100))
                    .sum::<u64>();
            let by_set = s.permission_sets + pair_pages;
            let by_account = active.len() as u64 + pair_pages;
            let way = assign.unwrap_or(if principal <= by_set.min(by_account) {
                Assign::Principal
            } else if by_set <= by_account {
                Assign::BySet
            } else {
                Assign::ByAccount
            });
            if way == Assign::Principal {
                for k in 0..s.users {
                    p.add(
                        "sso:ListAccountAssignmentsForPrincipal",
                        &ic,
                        &[users[(k / 100) as usize]],
                    );
                }
                for g in 0..s.groups.len() {
                    p.add(
                        "sso:ListAccountAssignmentsForPrincipal",
                        &ic,
                        &[groups[g / 100]],
                    );
                }
                // Principals with over 100 assignments need more pages (rare; counted, not
                // chained).
                for n in s.per_principal.values().filter(|n| **n > 100) {
                    for _ in 1..pages(*n, 100) {
                        p.add("sso:ListAccountAssignmentsForPrincipal", &ic, &[inst]);
                    }
                }
            } else if way == Assign::BySet {
                let with_pairs: BTreeSet<&String> = s.pairs.keys().map(|(_, set)| set).collect();
                let mut discovery: BTreeMap<&String, usize> = BTreeMap::new();
                for (k, set) in with_pairs.into_iter().enumerate() {
                    let d = p.add(
                        "sso:ListAccountsForProvisionedPermissionSet",
                        &ic,
                        &[sets[k / 100]],
                    );
                    discovery.insert(set, d);
                }
                for _ in discovery.len() as u64..s.permission_sets {
                    p.add(
                        "sso:ListAccountsForProvisionedPermissionSet",
                        &ic,
                        &[sets[0]],
                    );
                }
                for ((_, set), n) in &s.pairs {
                    p.chain(
                        "sso:ListAccountAssignments",
                        &ic,
                        &[discovery[set]],
                        pages(*n, 100),
                    );
                }
            } else {
                let mut discovery: BTreeMap<&str, usize> = BTreeMap::new();
                for i in &active {
                    let d = p.add(
                        "sso:ListPermissionSetsProvisionedToAccount",
                        &ic,
                        &[listed[*i]],
                    );
                    discovery.insert(shape.accounts[*i].name.as_str(), d);
                }
                for ((acct, _), n) in &s.pairs {
                    p.chain(
                        "sso:ListAccountAssignments",
                        &ic,
                        &[discovery[acct.as_str()]],
                        pages(*n, 100),
                    );
                }
            }
        }
        p
    }

    fn by_op(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for c in &self.calls {
            *m.entry(c.op).or_default() += 1;
        }
        m
    }

    /// The earliest finish of the plan when every call takes `latency` and each bucket
    /// admits at its rate (burst included), with unlimited client concurrency: a list schedule
    /// that serves, per bucket, the ready call with the longest chain after it first. Calls of
    /// different buckets never wait for each other except through their dependencies.
    fn earliest_finish(&self, limits: &AwsLimits, latency: f64) -> Schedule {
        let n = self.calls.len();
        let mut dependents: Vec<Vec<usize>> = vec![vec![]; n];
        let mut waiting: Vec<usize> = vec![0; n];
        for (i, c) in self.calls.iter().enumerate() {
            waiting[i] = c.deps.len();
            for d in &c.deps {
                dependents[*d].push(i);
            }
        }
        // Longest chain from each call to the end (calls are added after their deps, so a
        // reverse pass is a reverse topological order).
        let mut rank = vec![1u64; n];
        for i in (0..n).rev() {
            rank[i] = 1 + dependents[i].iter().map(|d| rank[*d]).max().unwrap_or(0);
        }
        // Buckets numbered in key order (the order `buckets` is built in below).
        let keys: BTreeMap<&BucketKey, usize> = self
            .calls
            .iter()
            .map(|c| &c.bucket)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect();
        struct Bucket {
            rate: f64,
            cap: f64,
            tokens: f64,
            at: f64,
            ready: BinaryHeap<(u64, std::cmp::Reverse<usize>)>,
        }
        let mut buckets: Vec<Bucket> = vec![];
        for k in keys.keys() {
            let (rate, cap) = limits.effective(k.0);
            buckets.push(Bucket {
                rate,
                cap,
                tokens: cap,
                at: 0.0,
                ready: BinaryHeap::new(),
            });
        }
        let bucket_of: Vec<usize> = self.calls.iter().map(|c| keys[&c.bucket]).collect();
        // Finish events, earliest first (times as integer nanoseconds for ordering).
        let ns = |t: f64| (t * 1e9).round() as u64;
        let mut finishes: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = BinaryHeap::new();
        for i in 0..n {
            if waiting[i] == 0 {
                buckets[bucket_of[i]]
                    .ready
                    .push((rank[i], std::cmp::Reverse(i)));
            }
        }
        let mut now = 0.0f64;
        let mut end = 0.0f64;
        let mut spans: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
        let mut done = 0;
        while done < n {
            // Start every call whose bucket has a token now.
            let mut next = f64::INFINITY;
            for b in buckets.iter_mut() {
                if b.ready.is_empty() {
                    continue;
                }
                b.tokens = (b.tokens + (now - b.at) * b.rate).min(b.cap);
                b.at = now;
                while b.tokens >= 1.0 - 1e-9 {
                    let Some((_, std::cmp::Reverse(i))) = b.ready.pop() else {
                        break;
                    };
                    b.tokens -= 1.0;
                    finishes.push(std::cmp::Reverse((ns(now + latency), i)));
                }
                if !b.ready.is_empty() {
                    next = next.min(now + (1.0 - b.tokens) / b.rate);
                }
            }
            if let Some(std::cmp::Reverse((t, _))) = finishes.peek() {
                next = next.min(*t as f64 / 1e9);
            }
            assert!(next.is_finite(), "the plan has a cycle");
            now = next;
            while let Some(std::cmp::Reverse((t, i))) = finishes.peek().copied() {
                if t > ns(now) {
                    break;
                }
                finishes.pop();
                done += 1;
                end = end.max(t as f64 / 1e9);
                let e = spans
                    .entry(self.calls[i].bucket.0.name())
                    .or_insert((f64::INFINITY, 0.0));
                e.0 = e.0.min(t as f64 / 1e9 - latency);
                e.1 = e.1.max(t as f64 / 1e9);
                for d in &dependents[i] {
                    waiting[*d] -= 1;
                    if waiting[*d] == 0 {
                        buckets[bucket_of[*d]]
                            .ready
                            .push((rank[*d], std::cmp::Reverse(*d)));
                    }
                }
            }
        }
        Schedule { end, spans }
    }
}

// ---------------------------------------------------------------------------------------------
// Running orgsync and measuring it

/// What one `orgsync sync` run cost.
#[derive(Debug)]
struct RunFigures {
    wall: f64,
    exit: Option<i32>,
    /// Requests the proxy saw (throttled refusals and retries included).
    requests: u64,
    /// Requests refused by the AWS-like buckets.
    throttled: u64,
    by_op: BTreeMap<String, u64>,
    /// Refused requests by operation.
    refused: BTreeMap<String, u64>,
    /// Per family: first arrival and last answer, seconds after the start.
    spans: BTreeMap<&'static str, (f64, f64)>,
    /// Peak RSS of the orgsync process (KiB).
    rss_kib: u64,
    cpu: f64,
    moto_cpu: f64,
    records: u64,
    file: PathBuf,
    stderr_tail: String,
}

/// CPU seconds (user + system) of a process so far, from /proc/<pid>/stat.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the command.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

/// Waits for `child` with wait4: its exit code, peak RSS (KiB) and CPU seconds.
///
/// The peak RSS is the child's own `VmHWM` (its address space after `exec`), read from
/// `/proc/<pid>/status` every 5 ms while it runs: wait4's `ru_maxrss` cannot be used, because
/// the standard library spawns with `CLONE_VM` (posix_spawn), and Linux then counts the
/// spawning process's own peak (this bench, which holds decoded records of earlier runs) into
/// the child's. VmHWM only rises, so the last reading misses at most the final 5 ms.
fn wait_with_usage(child: &std::process::Child) -> (Option<i32>, u64, f64) {
    let pid = child.id() as libc::pid_t;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for a child we spawned and have not reaped.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = watcher.join().unwrap_or(0);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (code, peak, secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// `VmHWM` of a live process (KiB), `None` once it has exited.
fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The binary with production settings (the test support's fast retries and lifted
/// Organizations pacing removed), against the proxy: this build's, or `ORGSYNC_BENCH_BIN`
/// (another build, for before/after figures).
fn orgsync_cmd(proxy: &FaultProxy) -> Command {
    let mut c = orgsync(&proxy.url());
    if let Ok(bin) = std::env::var("ORGSYNC_BENCH_BIN") {
        let mut other = Command::new(bin);
        other.envs(
            c.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        );
        for (k, v) in c.get_envs() {
            if v.is_none() {
                other.env_remove(k);
            }
        }
        if let Some(d) = c.get_current_dir() {
            other.current_dir(d);
        }
        c = other;
    }
    for k in [
        "ORGSYNC_RETRY_INITIAL_BACKOFF",
        "ORGSYNC_RETRY_MAX_BACKOFF",
        "ORGSYNC_ORG_RATE_LIMIT",
    ] {
        c.env_remove(k);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn extra_args() -> Vec<String> {
    env_or("ORGSYNC_BENCH_ORGSYNC_ARGS", "")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

// wait_with_usage reaps the child with wait4 (which also yields its peak RSS).
#[allow(clippy::zombie_processes)]
fn run_sync(proxy: &FaultProxy, moto: &Moto, dir: &Path, label: &str) -> RunFigures {
    proxy.clear_seen();
    let file = dir.join(format!("{label}.c1z"));
    let summary = dir.join(format!("{label}.summary.json"));
    let before = proc_cpu(moto.pid());
    let start = Instant::now();
    let mut child = orgsync_cmd(proxy)
        .arg("sync")
        .arg("--file")
        .arg(&file)
        .arg("--summary-json")
        .arg(&summary)
        .args(extra_args())
        .spawn()
        .expect("starting orgsync");
    // Drain stderr while it runs (a full pipe would stall it); keep the tail.
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let (exit, rss_kib, cpu) = wait_with_usage(&child);
    let wall = start.elapsed().as_secs_f64();
    let moto_cpu = proc_cpu(moto.pid()) - before;
    let stderr = reader.join().unwrap_or_default();
    let seen = proxy.seen();
    let mut by_op = BTreeMap::new();
    for s in &seen {
        *by_op
            .entry(format!("{}:{}", s.service, s.operation))
            .or_default() += 1;
    }
    let mut refused = BTreeMap::new();
    let mut spans: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
    for s in &seen {
        if s.injected.as_deref() == Some("AwsThrottle") {
            *refused
                .entry(format!("{}:{}", s.service, s.operation))
                .or_default() += 1;
        }
        let at = |t: Option<Instant>| t.map_or(0.0, |t| t.duration_since(start).as_secs_f64());
        if let Some(f) = Family::of(&s.service) {
            let e = spans.entry(f.name()).or_insert((f64::INFINITY, 0.0));
            e.0 = e.0.min(at(s.arrived_at));
            e.1 = e.1.max(at(s.answered_at));
        }
    }
    let throttled = refused.values().sum();
    let records = std::fs::read(&summary)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|s| {
            s["records"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .flat_map(|m| m.as_object().into_iter().flat_map(|o| o.values()))
                .filter_map(Value::as_u64)
                .sum()
        })
        .unwrap_or(0);
    let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join("\n");
    RunFigures {
        wall,
        exit,
        requests: seen.len() as u64,
        throttled,
        by_op,
        refused,
        spans,
        rss_kib,
        cpu,
        moto_cpu,
        records,
        file,
        stderr_tail: tail,
    }
}

/// Records of a c1z as sorted JSON lines, without the role "last used" facts (each sync's own
/// AssumeRole updates them in moto).
fn normalized_records(path: &Path) -> Vec<String> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("aws_role_last_used");
                o.remove("aws_role_last_used_region");
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let Ok(reader) = orgsync::store::c1z::C1zReader::open(path) else {
        return vec![];
    };
    let mut lines: Vec<String> = reader
        .records()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let mut v = r.to_json();
            strip(&mut v);
            v.to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// "same (N records)" or how many lines differ.
fn compare_records(a: &Path, b: &Path) -> (bool, String) {
    let (x, y) = (normalized_records(a), normalized_records(b));
    if x.is_empty() || y.is_empty() {
        return (false, "unreadable c1z".into());
    }
    if x == y {
        return (true, format!("identical ({} records)", x.len()));
    }
    let xs: BTreeSet<&String> = x.iter().collect();
    let ys: BTreeSet<&String> = y.iter().collect();
    (
        false,
        format!(
            "DIFFERENT: {} only in the first, {} only in the second",
            xs.difference(&ys).count(),
            ys.difference(&xs).count()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Printing

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISS" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Row<'a> {
    label: &'a str,
    run: &'a RunFigures,
    calls_floor: u64,
    wall_floor: f64,
    wall_target: f64,
}

fn print_rows(rows: &[Row<'_>]) {
    println!(
        "  {:<9} {:>5} {:>7} {:>6} {:>6} {:>5}  {:>8} {:>8} {:>6} {:>6} {:>5}  {:>7} {:>8} {:>9} {:>6} {:>5}",
        "run",
        "exit",
        "calls",
        "floor",
        "ratio",
        "≤1.05",
        "wall s",
        "floor s",
        "ratio",
        "target",
        "",
        "RSS MiB",
        "CPU s",
        "moto CPU",
        "moto%",
        "thr."
    );
    for r in rows {
        let calls_ratio = r.run.requests as f64 / r.calls_floor.max(1) as f64;
        let wall_ratio = r.run.wall / r.wall_floor.max(1e-9);
        println!(
            "  {:<9} {:>5} {:>7} {:>6} {:>6.2} {:>5}  {:>8.2} {:>8.2} {:>6.2} {:>6} {:>5}  {:>7.1} {:>8.2} {:>9.2} {:>5.0}% {:>5}",
            r.label,
            r.run.exit.map_or("sig".to_string(), |c| c.to_string()),
            r.run.requests,
            r.calls_floor,
            calls_ratio,
            verdict(calls_ratio <= 1.05),
            r.run.wall,
            r.wall_floor,
            wall_ratio,
            format!("≤{:.2}", r.wall_target),
            verdict(wall_ratio <= r.wall_target),
            mib(r.run.rss_kib),
            r.run.cpu,
            r.run.moto_cpu,
            100.0 * r.run.moto_cpu / r.run.wall.max(1e-9),
            r.run.throttled
        );
    }
}

/// Operations whose count differs from the floor's.
fn print_op_gaps(label: &str, run: &RunFigures, floor: &BTreeMap<&'static str, u64>) {
    let ops: BTreeSet<&str> = run
        .by_op
        .keys()
        .map(String::as_str)
        .chain(floor.keys().copied())
        .collect();
    let gaps: Vec<String> = ops
        .into_iter()
        .filter_map(|op| {
            let got = run.by_op.get(op).copied().unwrap_or(0);
            let want = floor.get(op).copied().unwrap_or(0);
            (got != want).then(|| format!("{op} {got} (floor {want})"))
        })
        .collect();
    if !gaps.is_empty() {
        println!("  {label} calls off the floor: {}", gaps.join("; "));
    }
    if !run.refused.is_empty() {
        let r: Vec<String> = run
            .refused
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!("  {label} refused by the buckets: {}", r.join("; "));
    }
    let spans: Vec<String> = run
        .spans
        .iter()
        .map(|(f, (a, b))| format!("{f} {a:.2}–{b:.2} s"))
        .collect();
    println!(
        "  {label} spans (first request – last answer): {}",
        spans.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// Shards (issue 12)

/// Whether `orgsync ARGS --help` mentions `word`.
fn help_mentions(args: &[&str], word: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_orgsync"))
        .args(args)
        .arg("--help")
        .output()
        .expect("orgsync --help");
    String::from_utf8_lossy(&out.stdout).contains(word)
}

/// `orgsync merge SHARDS… --file OUT` (issue 12): its wall time and exit code.
fn merge_shards(dir: &Path, n: u32, out: &Path) -> (f64, Option<i32>) {
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_orgsync"))
        .arg("merge")
        .args((0..n).map(|i| dir.join(format!("shard-{i}.c1z"))))
        .arg("--file")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("orgsync merge");
    (start.elapsed().as_secs_f64(), status.code())
}

/// `n` processes with `--shard i/n` at once; wall time, requests and the peak RSS of each.
fn run_shards(proxy: &FaultProxy, dir: &Path, n: u32) -> (f64, u64, Vec<(Option<i32>, u64)>) {
    proxy.clear_seen();
    let start = Instant::now();
    let children: Vec<std::process::Child> = (0..n)
        .map(|i| {
            let mut c = orgsync_cmd(proxy);
            c.stderr(Stdio::null())
                .arg("sync")
                .arg("--file")
                .arg(dir.join(format!("shard-{i}.c1z")))
                .arg("--shard")
                .arg(format!("{i}/{n}"))
                .args(extra_args())
                .spawn()
                .expect("starting a shard")
        })
        .collect();
    let ends: Vec<(Option<i32>, u64)> = children
        .iter()
        .map(|c| {
            let (code, rss, _) = wait_with_usage(c);
            (code, rss)
        })
        .collect();
    (
        start.elapsed().as_secs_f64(),
        proxy.seen().len() as u64,
        ends,
    )
}

// ---------------------------------------------------------------------------------------------

struct FixtureResult {
    name: String,
    accounts: usize,
    warm_rss_kib: u64,
}

/// How every fixture is run.
struct Settings {
    latency_ms: u64,
    limits: AwsLimits,
    pressure: f64,
    shards: u32,
    /// Only print the floors (no emulator, no run).
    floor_only: bool,
}

fn bench_fixture(name: &str, what: &str, args: &str, set: &Settings) -> FixtureResult {
    let (latency_ms, limits, pressure, shards) =
        (set.latency_ms, &set.limits, set.pressure, set.shards);
    let dir = support::tempdir();
    let path = generate(dir.path(), name, args);
    let fx: Value = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let shape = Shape::of(&fx);
    println!("\n== {name}: {what}");
    println!("   gen-org-fixture.py {args}");
    println!("   {}", shape.summary());

    if set.floor_only {
        let l = latency_ms as f64 / 1000.0;
        for (label, cold, lim) in [
            ("cold", true, limits.clone()),
            ("warm", false, limits.clone()),
            ("warm pushed", false, limits.clone().multiplier(pressure)),
        ] {
            let (plan, sched) = floors(&shape, cold, &lim, l);
            println!(
                "  {label}: {} calls, {:.2} s ({})",
                plan.calls.len(),
                sched.end,
                span_text(&sched.spans)
            );
            let ops: Vec<String> = plan
                .by_op()
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            println!("    {}", ops.join("; "));
        }
        return FixtureResult {
            name: name.to_string(),
            accounts: shape.accounts.len(),
            warm_rss_kib: 0,
        };
    }
    let moto = Moto::start();
    let t = Instant::now();
    let manifest = moto.seed(&path.to_string_lossy());
    let seeded = t.elapsed().as_secs_f64();
    let seed_cpu = proc_cpu(moto.pid());
    println!(
        "   seeded in {seeded:.1} s (moto CPU {seed_cpu:.1} s; scripts/seed.py is serial boto3)"
    );
    if seeded > 600.0 {
        println!(
            "   NOTE: seeding took over 10 minutes (load average now {}); consider a smaller gen: fixture on this machine",
            load_average()
        );
    }
    let management = manifest["management_account"]
        .as_str()
        .unwrap_or("123456789012")
        .to_string();

    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.map_key("testing", &management);
    proxy.add(Rule::new(Fault::Latency(Duration::from_millis(latency_ms))));
    proxy.aws_limits(limits.clone());
    let l = latency_ms as f64 / 1000.0;
    let (cold_plan, cold_floor) = floors(&shape, true, limits, l);
    let (warm_plan, warm_floor) = floors(&shape, false, limits, l);
    let pushed = limits.clone().multiplier(pressure);

    // Every run starts with AWS's buckets full, as the floor assumes (the run before would
    // otherwise have drained them: back-to-back runs in one emulator are this harness's doing).
    let cold = run_sync(&proxy, &moto, dir.path(), "cold");
    proxy.aws_limits(limits.clone());
    let warm = run_sync(&proxy, &moto, dir.path(), "warm");
    proxy.aws_limits(pushed.clone());
    let hot = run_sync(&proxy, &moto, dir.path(), "pushed");
    proxy.aws_limits(limits.clone());

    let pushed_floor = floors(&shape, false, &pushed, l).1;
    println!(
        "  floor spans (warm): {}; at ×{pressure}: {}",
        span_text(&warm_floor.spans),
        span_text(&pushed_floor.spans)
    );
    let pushed_label = format!("warm ×{pressure}");
    print_rows(&[
        Row {
            label: "cold",
            run: &cold,
            calls_floor: cold_plan.calls.len() as u64,
            wall_floor: cold_floor.end,
            wall_target: 1.15,
        },
        Row {
            label: "warm",
            run: &warm,
            calls_floor: warm_plan.calls.len() as u64,
            wall_floor: warm_floor.end,
            wall_target: 1.15,
        },
        Row {
            label: &pushed_label,
            run: &hot,
            calls_floor: warm_plan.calls.len() as u64,
            wall_floor: pushed_floor.end,
            wall_target: 1.3,
        },
    ]);
    for (label, run) in [
        ("cold", &cold),
        ("warm", &warm),
        (pushed_label.as_str(), &hot),
    ] {
        if run.exit != Some(0) {
            println!("  {label} exited {:?}:\n{}", run.exit, run.stderr_tail);
        }
    }
    print_op_gaps("cold", &cold, &cold_plan.by_op());
    print_op_gaps("warm", &warm, &warm_plan.by_op());
    print_op_gaps(&pushed_label, &hot, &warm_plan.by_op());
    let (same, how) = compare_records(&warm.file, &hot.file);
    println!(
        "  records warm vs warm ×{pressure}: {how} [{}]; cold vs warm: {}",
        verdict(same),
        compare_records(&cold.file, &warm.file).1
    );
    let largest = shape
        .accounts
        .iter()
        .map(|a| a.iam.users + a.iam.roles)
        .max()
        .unwrap_or(0);
    if largest >= 5000 {
        println!(
            "  peak RSS {:.1} MiB for an account with {largest} users + roles: target ≤ 80 MiB [{}]",
            mib(warm.rss_kib),
            verdict(mib(warm.rss_kib) <= 80.0)
        );
    }
    println!(
        "  ({} records; moto% is the emulator's CPU time over the run's wall time: near 100% the emulator, not AWS's limits, is the bound)",
        warm.records
    );

    if shards > 0 {
        if help_mentions(&["sync"], "--shard") {
            let (wall, requests, ends) = run_shards(&proxy, dir.path(), shards);
            println!(
                "  {shards} shards at once: wall {wall:.2} s ({:.2} × the single warm run), {requests} requests, exits {:?}, peak RSS MiB {:?}",
                wall / warm.wall,
                ends.iter().map(|e| e.0).collect::<Vec<_>>(),
                ends.iter()
                    .map(|e| format!("{:.1}", mib(e.1)))
                    .collect::<Vec<_>>()
            );
            if help_mentions(&[], "merge") {
                let merged = dir.path().join("merged.c1z");
                let (m, code) = merge_shards(dir.path(), shards, &merged);
                println!(
                    "  shards + merge: {:.2} s = {:.2} × the single warm run (issue 12: ≤ 0.35 at 200 ms latency); merge exit {code:?}; merged vs single run: {}",
                    wall + m,
                    (wall + m) / warm.wall,
                    compare_records(&warm.file, &merged).1
                );
            } else {
                println!("  no `orgsync merge` yet (issue 12): shard outputs not merged");
            }
        } else {
            println!(
                "  shard mode skipped: this orgsync has no `sync --shard` (issue 12); the bench runs {shards} processes with --shard I/{shards} once it does"
            );
        }
    }
    FixtureResult {
        name: name.to_string(),
        accounts: shape.accounts.len(),
        warm_rss_kib: warm.rss_kib,
    }
}

fn main() {
    // `cargo bench` passes --bench; the options are environment variables.
    let latency_ms: u64 = env_or("ORGSYNC_BENCH_LATENCY_MS", "50")
        .parse()
        .expect("ORGSYNC_BENCH_LATENCY_MS: milliseconds");
    let pressure: f64 = env_or("ORGSYNC_BENCH_PRESSURE", "2")
        .parse()
        .expect("ORGSYNC_BENCH_PRESSURE: a number");
    let shards: u32 = env_or("ORGSYNC_BENCH_SHARDS", "4")
        .parse()
        .expect("ORGSYNC_BENCH_SHARDS: a count");
    let limits = AwsLimits::aws()
        .overridden(&env_or("ORGSYNC_BENCH_AWS_RATES", ""))
        .unwrap_or_else(|e| panic!("ORGSYNC_BENCH_AWS_RATES: {e}"));
    let fixtures = env_or("ORGSYNC_BENCH_FIXTURES", "base,org-101");
    println!(
        "orgsync vs AWS's floor: {latency_ms} ms added to every request; AWS-like buckets: {}",
        limits.describe().join("; ")
    );
    println!(
        "targets (issue 13): calls ≤ 1.05 × floor; wall ≤ 1.15 × floor (≤ 1.3 × at ×{pressure} pressure, same records); RSS ≤ 80 MiB at 5,000 users + 5,000 roles; RSS growth ≤ 1.1× from 4 to 1,000 accounts"
    );
    println!(
        "floors: calls = AWS's minimal call plan for the fixture; wall = that plan's earliest finish at this latency and these buckets with unlimited concurrency (AWS answering instantly, reports generated at once); load average at start: {}",
        load_average()
    );
    println!(
        "emulator artefacts (docs/moto-notes.md): moto lacks GetPermissionsBoundaryForPermissionSet (asked once), and ListAccountsForProvisionedPermissionSet names only the management account; calls under the floor in those operations come from the emulator"
    );
    let settings = Settings {
        latency_ms,
        limits,
        pressure,
        shards,
        floor_only: env_or("ORGSYNC_BENCH_FLOOR_ONLY", "") == "1",
    };
    let mut results = vec![];
    for item in fixtures.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(args) = item.strip_prefix("gen:") {
            results.push(bench_fixture(
                "custom",
                "generated with the given options",
                args,
                &settings,
            ));
            continue;
        }
        let p = PRESETS
            .iter()
            .find(|p| p.name == item)
            .unwrap_or_else(|| panic!("unknown fixture {item}; presets: base, org-101, org-1000, big-account, or gen:<options>"));
        results.push(bench_fixture(p.name, p.what, p.args, &settings));
    }
    let base = results.iter().find(|r| r.name == "base");
    let big = results.iter().find(|r| r.name == "org-1000");
    if let (Some(b), Some(k)) = (base, big)
        && b.warm_rss_kib > 0
        && k.warm_rss_kib > 0
    {
        let growth = k.warm_rss_kib as f64 / b.warm_rss_kib.max(1) as f64;
        println!(
            "\nRSS growth from {} to {} accounts: {growth:.2}× (target ≤ 1.1×) [{}]",
            b.accounts,
            k.accounts,
            verdict(growth <= 1.1)
        );
    }
}
