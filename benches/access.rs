//! Benchmark: `orgsync access` and `orgsync diff` end to end (the real binary, the file opened
//! each time) on a generated c1z of about one million grants, each figure printed next to its
//! target. Asserts nothing about time (performance targets live here, not in tests).
//!
//!   cargo bench --bench access                          # ~1 M grants
//!   ORGSYNC_BENCH_ACCOUNTS=100 cargo bench --bench access   # smaller (grants scale with accounts)
//!   ORGSYNC_BENCH_RUNS=5 cargo bench --bench access         # repetitions per command (median)
//!
//! The file is built with the project's own record mapping (`connector::iam::records`,
//! `connector::identity_center::records`, `connector::org::account_resource`) and c1z writer,
//! from a synthetic organization of a realistic shape:
//! - per account: 200 IAM users in 30 groups (4 groups each), 150 roles, 20 customer-managed
//!   policies; users hold 1 managed policy, groups 2 managed + 1 inline, roles 2 managed + 1
//!   inline; every role trusts 2 roles of other accounts (so chains cross accounts and close
//!   cycles), a user of a third account, and every 10th role an account root;
//! - Identity Center: 20,000 users in 500 groups (6 groups each), 20 permission sets (one with
//!   AdministratorAccess, one with an inline `*`/`*` policy), every group assigned one
//!   permission set on 10 accounts, and 2,000 users assigned directly.
//!
//! The generated file is kept in `target/bench-access/` and reused while its shape is the same.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use orgsync::access::{self, Options, Subject};
use orgsync::connector::collector::AccountInfo;
use orgsync::connector::iam::model::{
    Attached, Group, IamSnapshot, Inline, ManagedPolicy, Role, User,
};
use orgsync::connector::iam::records::{IamRecordOptions, iam_records};
use orgsync::connector::identity_center::model::{
    Assignment, IcGroup, IcSnapshot, IcUser, Instance, InstanceKind, Membership, PermissionSet,
    PersonName, PrincipalKind, UserStatus,
};
use orgsync::connector::identity_center::records::ic_records;
use orgsync::connector::org::{Node, OrgAccount, OrgSnapshot, account_resource, structure_records};
use orgsync::model::stats::AccountStatus;
use orgsync::model::{Kind, Record};
use orgsync::store::c1z::{C1zReader, C1zWriter, Filter};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

/// The synthetic organization's size.
#[derive(Debug, Clone, Copy)]
struct Shape {
    accounts: usize,
    users: usize,
    groups: usize,
    groups_per_user: usize,
    roles: usize,
    policies: usize,
    sso_users: usize,
    sso_groups: usize,
    sso_groups_per_user: usize,
    permission_sets: usize,
    accounts_per_group: usize,
    direct_assignments: usize,
}

impl Shape {
    fn key(&self) -> String {
        format!(
            "a{}-u{}-g{}x{}-r{}-p{}-su{}-sg{}x{}-ps{}-apg{}-da{}",
            self.accounts,
            self.users,
            self.groups,
            self.groups_per_user,
            self.roles,
            self.policies,
            self.sso_users,
            self.sso_groups,
            self.sso_groups_per_user,
            self.permission_sets,
            self.accounts_per_group,
            self.direct_assignments
        )
    }
}

fn account_id(i: usize) -> String {
    format!("{:012}", 100_000_000_000usize + i)
}

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const AWS_POLICIES: [&str; 5] = [
    ADMIN,
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
];

fn aws_policy(arn: &str) -> Attached {
    Attached {
        name: arn.rsplit('/').next().unwrap_or(arn).to_string(),
        arn: arn.to_string(),
    }
}

fn doc(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn trust(principals: &[String]) -> String {
    let list: Vec<String> = principals.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"sts:AssumeRole"}}]}}"#,
        list.join(",")
    )
}

fn iam_snapshot(s: &Shape, i: usize) -> IamSnapshot {
    let acct = account_id(i);
    let arn = |kind: &str, name: &str| format!("arn:aws:iam::{acct}:{kind}/{name}");
    let mut snap = IamSnapshot::default();
    for p in 0..s.policies {
        let name = format!("app-{p}");
        snap.policies.push(ManagedPolicy {
            arn: arn("policy", &name),
            name,
            description: None,
            document: Some(doc(
                "s3:GetObject",
                &format!("arn:aws:s3:::bucket-{i}-{p}/*"),
            )),
        });
    }
    let local = |k: usize| Attached {
        name: format!("app-{}", k % s.policies),
        arn: arn("policy", &format!("app-{}", k % s.policies)),
    };
    for g in 0..s.groups {
        let name = format!("team-{g}");
        snap.groups.push(Group {
            arn: arn("group", &name),
            id: format!("AGPA{i}X{g}"),
            path: "/".into(),
            name,
            attached: vec![
                local(g),
                aws_policy(AWS_POLICIES[1 + g % (AWS_POLICIES.len() - 1)]),
            ],
            inline: vec![Inline {
                name: "extra".into(),
                document: Some(doc("logs:Get*", "*")),
            }],
        });
    }
    for u in 0..s.users {
        let name = format!("user-{u}");
        snap.users.push(User {
            arn: arn("user", &name),
            id: format!("AIDA{i}X{u}"),
            path: "/".into(),
            tags: vec![("email".into(), format!("{name}@a{i}.example"))],
            groups: (0..s.groups_per_user)
                .map(|k| format!("team-{}", (u + k * 7) % s.groups))
                .collect(),
            attached: vec![if u == 0 { aws_policy(ADMIN) } else { local(u) }],
            inline: vec![],
            created: None,
            boundary: None,
            name,
        });
    }
    let n = s.accounts;
    for r in 0..s.roles {
        let name = format!("role-{r}");
        let mut principals = vec![
            format!(
                "arn:aws:iam::{}:role/role-{}",
                account_id((i + 1) % n),
                (r + 1) % s.roles
            ),
            format!(
                "arn:aws:iam::{}:role/role-{}",
                account_id((i + 7) % n),
                (r * 3) % s.roles
            ),
            format!(
                "arn:aws:iam::{}:user/user-{}",
                account_id((i + 3) % n),
                r % s.users
            ),
        ];
        if r % 10 == 0 {
            principals.push(format!("arn:aws:iam::{}:root", account_id((i + 11) % n)));
        }
        snap.roles.push(Role {
            arn: arn("role", &name),
            id: format!("AROA{i}X{r}"),
            path: "/".into(),
            boundary: None,
            tags: vec![],
            trust: Some(trust(&principals)),
            description: Some(format!("role {r} of account {i}")),
            max_session_seconds: Some(3600),
            attached: vec![
                local(r + 1),
                if r == 0 {
                    aws_policy(ADMIN)
                } else {
                    aws_policy(AWS_POLICIES[1 + r % (AWS_POLICIES.len() - 1)])
                },
            ],
            inline: vec![Inline {
                name: "inline".into(),
                document: Some(if r == 1 {
                    doc("*", "*")
                } else {
                    doc(
                        "sqs:SendMessage",
                        &format!("arn:aws:sqs:us-east-1:{acct}:q-{r}"),
                    )
                }),
            }],
            last_used: None,
            last_used_region: None,
            name,
        });
    }
    for p in AWS_POLICIES {
        snap.aws_policies.push(ManagedPolicy {
            name: aws_policy(p).name,
            arn: p.to_string(),
            description: None,
            document: Some(if p == ADMIN {
                doc("*", "*")
            } else {
                doc("s3:Get*", "*")
            }),
        });
    }
    snap
}

fn ic_snapshot(s: &Shape) -> IcSnapshot {
    let instance = Instance {
        arn: "arn:aws:sso:::instance/ssoins-7223000000000000".into(),
        identity_store_id: "d-9067000000".into(),
        region: "us-east-1".into(),
        owner_account: Some(account_id(0)),
        name: None,
        status: Some("ACTIVE".into()),
        kind: InstanceKind::Organization,
    };
    let users: Vec<IcUser> = (0..s.sso_users)
        .map(|u| IcUser {
            id: format!("u-{u:08}"),
            user_name: format!("person{u}@example.com"),
            display_name: Some(format!("Person {u}")),
            status: UserStatus::Enabled,
            name: PersonName {
                given: Some("Person".into()),
                family: Some(format!("{u}")),
                ..Default::default()
            },
            emails: vec![],
            external_ids: vec![],
        })
        .collect();
    let groups: Vec<IcGroup> = (0..s.sso_groups)
        .map(|g| IcGroup {
            id: format!("g-{g:06}"),
            display_name: format!("Group {g}"),
            description: None,
            external_ids: vec![],
        })
        .collect();
    let mut memberships = vec![];
    for u in 0..s.sso_users {
        for k in 0..s.sso_groups_per_user {
            let g = (u * 7 + k * 13) % s.sso_groups;
            memberships.push(Membership {
                id: format!("m-{u:08}-{k}"),
                group_id: format!("g-{g:06}"),
                user_id: format!("u-{u:08}"),
            });
        }
    }
    let ps_arn =
        |p: usize| format!("arn:aws:sso:::permissionSet/ssoins-7223000000000000/ps-{p:016}");
    let permission_sets: Vec<PermissionSet> = (0..s.permission_sets)
        .map(|p| PermissionSet {
            arn: ps_arn(p),
            name: format!("Set{p}"),
            description: None,
            session_duration: Some("PT1H".into()),
            relay_state: None,
            created: None,
            managed: if p == 0 {
                vec![aws_policy(ADMIN)]
            } else {
                vec![aws_policy(AWS_POLICIES[1 + p % (AWS_POLICIES.len() - 1)])]
            },
            customer_managed: vec![],
            inline: (p == 1).then(|| doc("*", "*")),
            boundary: None,
        })
        .collect();
    let mut assignments = BTreeSet::new();
    for g in 0..s.sso_groups {
        for k in 0..s.accounts_per_group {
            assignments.insert(Assignment {
                account: account_id((g * 3 + k * 17) % s.accounts),
                permission_set: ps_arn(g % s.permission_sets),
                kind: PrincipalKind::Group,
                principal_id: format!("g-{g:06}"),
            });
        }
    }
    for u in 0..s.direct_assignments {
        assignments.insert(Assignment {
            account: account_id((u * 11) % s.accounts),
            permission_set: ps_arn((u + 2) % s.permission_sets),
            kind: PrincipalKind::User,
            principal_id: format!("u-{u:08}"),
        });
    }
    IcSnapshot {
        instance,
        users,
        groups,
        memberships,
        permission_sets,
        assignments: Some(assignments),
        scim: Default::default(),
    }
}

/// Writes the synthetic organization to `path`; returns the number of grants.
fn generate(s: &Shape, path: &Path) -> u64 {
    let mut w = C1zWriter::create(path).expect("creating the c1z");
    let org = OrgSnapshot {
        org: None,
        roots: vec![Node {
            id: "r-bench".into(),
            name: "Root".into(),
            arn: format!(
                "arn:aws:organizations::{}:root/o-bench/r-bench",
                account_id(0)
            ),
            parent: None,
        }],
        ous: vec![],
        accounts: vec![],
        root_policy_types: Default::default(),
    };
    w.write(&structure_records(&org))
        .expect("writing the organization");
    let mut grants = 0u64;
    let mut accounts: BTreeMap<String, orgsync::model::pb::Resource> = BTreeMap::new();
    let mut shared_seen = BTreeSet::new();
    for i in 0..s.accounts {
        let acct = OrgAccount {
            id: account_id(i),
            name: format!("account-{i}"),
            arn: format!(
                "arn:aws:organizations::{}:account/o-bench/{}",
                account_id(0),
                account_id(i)
            ),
            email: format!("a{i}@example.com"),
            status: "ACTIVE".into(),
            joined: None,
            joined_method: None,
            parent: "r-bench".into(),
        };
        let res = account_resource(&org, &acct, &AccountStatus::Ok);
        accounts.insert(acct.id.clone(), res.clone());
        let info = AccountInfo {
            account_id: acct.id.parse().expect("a 12-digit account id"),
            name: acct.name.clone(),
            arn: Some(acct.arn.clone()),
            is_caller: i == 0,
            partition: "aws".into(),
        };
        let out = iam_records(
            &info,
            &iam_snapshot(s, i),
            IamRecordOptions {
                sync_secrets: false,
            },
        );
        let mut records = vec![Record::Resource(res)];
        records.extend(out.records);
        for r in out.shared {
            if shared_seen.insert((r.kind(), r.external_id())) {
                records.push(r);
            }
        }
        grants += records.iter().filter(|r| r.kind() == Kind::Grant).count() as u64;
        w.write(&records).expect("writing an account");
    }
    let ic = ic_records(&ic_snapshot(s), &accounts, "aws");
    let mut records = ic.records;
    for r in ic.shared {
        if shared_seen.insert((r.kind(), r.external_id())) {
            records.push(r);
        }
    }
    grants += records.iter().filter(|r| r.kind() == Kind::Grant).count() as u64;
    w.write(&records).expect("writing Identity Center");
    let stats = w.stats().expect("stats");
    w.finish(&stats).expect("finishing the c1z");
    grants
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let shape = Shape {
        accounts: env_or("ORGSYNC_BENCH_ACCOUNTS", 400),
        users: 200,
        groups: 30,
        groups_per_user: 4,
        roles: 150,
        policies: 20,
        sso_users: 20_000,
        sso_groups: 500,
        sso_groups_per_user: 6,
        permission_sets: 20,
        accounts_per_group: 10,
        direct_assignments: 2_000,
    };
    let runs = env_or("ORGSYNC_BENCH_RUNS", 3).max(1);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-access");
    std::fs::create_dir_all(&dir).expect("target/bench-access");
    let file = dir.join(format!("{}.c1z", shape.key()));
    if !file.exists() {
        let t = Instant::now();
        let n = generate(&shape, &file);
        eprintln!(
            "generated {} ({n} grants) in {:.1}s",
            file.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let user = format!("iam_user:arn:aws:iam::{}:user/user-5", account_id(3));
    let sso_user = "sso_user:arn:aws:identitystore:us-east-1::d-9067000000/user/u-00000007";
    let target_account = account_id(42);
    let entitlement = format!("group:arn:aws:iam::{}:group/team-5:member", account_id(3));
    let access_cases: Vec<(&str, Vec<String>, Subject, bool)> = vec![
        (
            "access --principal (IAM user)",
            vec!["--principal".into(), user.clone()],
            Subject::Principal(user.clone()),
            false,
        ),
        (
            "access --principal (sso_user)",
            vec!["--principal".into(), sso_user.into()],
            Subject::Principal(sso_user.into()),
            false,
        ),
        (
            "access --account",
            vec!["--account".into(), target_account.clone()],
            Subject::Account(target_account.clone()),
            false,
        ),
        (
            "access --account --admin",
            vec!["--account".into(), target_account.clone(), "--admin".into()],
            Subject::Account(target_account.clone()),
            true,
        ),
        (
            "access --admin",
            vec!["--admin".into()],
            Subject::Everyone,
            true,
        ),
    ];

    // Where a cold open's time goes, in process: each phase of `C1zReader::open`, then each
    // question on the opened file.
    let t = Instant::now();
    let reader = C1zReader::open(&file).expect("reading the bench file");
    let open = t.elapsed();
    let phases = reader.timings();
    let grants = reader.count(Kind::Grant).expect("count");
    println!(
        "\nphase split of one cold open of {grants} grants (file {:.1} MiB), in process",
        size as f64 / f64::from(1 << 20)
    );
    println!("{:<44} {:>10}", "phase", "ms");
    for (label, ms) in [
        ("decompress to a temp SQLite", phases.decompress_ms),
        ("schema check / upgrade", phases.upgrade_ms),
        ("grant-expansion backfill", phases.backfill_ms),
        ("choose the sync", phases.select_ms),
    ] {
        println!("{label:<44} {ms:>10}");
    }
    println!("{:<44} {:>10}", "open, all phases", open.as_millis());
    let t = Instant::now();
    let listed = reader
        .grants(&Filter {
            entitlement: Some(entitlement.clone()),
            ..Filter::default()
        })
        .expect("grants of one entitlement")
        .len();
    assert!(listed > 0, "{entitlement}: no grants in the bench file");
    println!(
        "{:<44} {:>10}",
        format!("query: grants of one entitlement ({listed})"),
        t.elapsed().as_millis()
    );
    let sync_id = reader.sync().sync_id.clone();
    for (label, _, subject, admin) in &access_cases {
        let opts = Options {
            admin: *admin,
            max_hops: 5,
            ..Options::default()
        };
        let t = Instant::now();
        let a = access::answer(reader.connection(), &sync_id, subject, &opts).expect(label);
        println!(
            "{:<44} {:>10}",
            format!("query: {label} ({} rows)", a.results.len()),
            t.elapsed().as_millis()
        );
    }
    drop(reader);

    // The binary end to end: cold (--no-cache), the first cached call (which builds the
    // prepared copy), and warm (the copy reused; median of `runs`).
    let cache = dir.join("cache");
    let run_once = |args: &[String], cache_flag: Option<&Path>| -> (Duration, usize, usize) {
        let t = Instant::now();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgsync"));
        cmd.args(args).arg("--file").arg(&file);
        match cache_flag {
            Some(d) => cmd.arg("--cache-dir").arg(d),
            None => cmd.arg("--no-cache"),
        };
        let out = cmd.output().expect("running orgsync");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = out
            .stdout
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            .saturating_sub(1);
        (took, lines, out.stdout.len())
    };
    let mut rows: Vec<(String, Vec<String>, &str)> = vec![(
        "inspect grants --entitlement".into(),
        vec![
            "inspect".into(),
            "grants".into(),
            "--entitlement".into(),
            entitlement.clone(),
            "-o".into(),
            "csv".into(),
        ],
        "<= 0.200",
    )];
    for (label, args, _, _) in &access_cases {
        let mut full: Vec<String> = vec!["access".into()];
        full.extend(args.iter().cloned());
        full.extend(["-o", "csv", "--max-hops", "5"].map(String::from));
        rows.push((label.to_string(), full, "<= 1.000"));
    }
    println!(
        "\nthe binary end to end on {grants} grants ({} accounts; warm: median of {runs} runs)",
        shape.accounts
    );
    println!(
        "{:<32} {:>10} {:>12} {:>10} {:>10} {:>8} {:>8}",
        "command", "cold (s)", "1st cached", "warm (s)", "target", "rows", "MiB out"
    );
    for (label, args, target) in &rows {
        let (cold, _, _) = run_once(args, None);
        let _ = std::fs::remove_dir_all(&cache);
        let (first, _, _) = run_once(args, Some(&cache));
        let mut times = vec![];
        let (mut lines, mut bytes) = (0, 0);
        for _ in 0..runs {
            let (t, l, b) = run_once(args, Some(&cache));
            times.push(t);
            (lines, bytes) = (l, b);
        }
        println!(
            "{label:<32} {:>10.3} {:>12.3} {:>10.3} {:>10} {:>8} {:>8.1}",
            cold.as_secs_f64(),
            first.as_secs_f64(),
            median(times).as_secs_f64(),
            target,
            lines,
            bytes as f64 / f64::from(1 << 20)
        );
    }
    let copies: u64 = std::fs::read_dir(&cache)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "cold: --no-cache, the file decompressed to a temporary database by each call (the \
         target applies to warm calls; a cold open cannot decompress this file within it); \
         1st cached: the call that writes the prepared copy (a cache emptied before each row); \
         warm: the copy reused. Prepared copy of the last row: {:.1} MiB",
        copies as f64 / f64::from(1 << 20)
    );

    // `orgsync report` and `orgsync export` answer for every account (twice: plain and
    // --admin): no target, the figures show how they scale with the organization.
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("target/bench-access/out");
    let html = out.join("report.html");
    let export = out.join("export");
    for (label, args) in [
        (
            "report --html",
            vec!["report".into(), "--html".into(), html.display().to_string()],
        ),
        (
            "export --format csv",
            vec![
                "export".into(),
                "--dir".into(),
                export.display().to_string(),
            ],
        ),
    ] {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_orgsync"))
            .args(&args)
            .arg("--file")
            .arg(&file)
            .output()
            .expect("running orgsync");
        assert!(
            o.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        println!(
            "{label:<28} {:>12.3} {:>12} {:>10}   {}",
            t.elapsed().as_secs_f64(),
            "",
            "(none)",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
}
