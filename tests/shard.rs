//! Sharded syncs and `orgsync merge` against moto with the real binary: N shard files merged
//! equal one single-process sync record for record (IAM-only org-20; org.json with Identity
//! Center, whose records embed `account` resources of every shard), also when the shards take
//! the organization from a plan file (`orgsync plan`, `sync --plan`: listed once, no shard
//! lists it; a stale plan exits 2 and another organization's exits 1, writing nothing),
//! Identity Center is read by shard 0 only, and bad input (`--shard` values, non-c1z inputs,
//! other organizations, overlapping or missing shards) exits 2 with a message naming the
//! problem and writes nothing.

mod support;

use std::path::{Path, PathBuf};

use orgsync::store::c1z::C1zReader;
use orgsync::sync::Shard;
use serde_json::Value;
use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, calls, orgsync, run, sync, text};

/// Asserts that `a` (expanded first when `expand_a`) and `b` hold the same records.
fn assert_same_records(a: &Path, expand_a: bool, b: &Path) {
    support::records::assert_same(a, expand_a, b);
}

fn sync_type(path: &Path) -> String {
    C1zReader::open(path).unwrap().sync().sync_type.clone()
}

/// Runs `count` shards into `dir/shard-I.c1z`; returns the files.
fn shards(endpoint: &str, dir: &Path, count: u32) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            let f = dir.join(format!("shard-{i}.c1z"));
            let o = sync(endpoint, &f, &["--shard", &format!("{i}/{count}")]);
            assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
            assert_eq!(sync_type(&f), "partial");
            f
        })
        .collect()
}

fn merge(endpoint: &str, inputs: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Output {
    run(orgsync(endpoint)
        .arg("merge")
        .args(inputs)
        .arg("--file")
        .arg(out)
        .args(extra))
}

fn shard_stats(path: &Path) -> Value {
    C1zReader::open(path).unwrap().sync().stats.clone().unwrap()["orgsync"]["shard"].clone()
}

#[test]
fn four_shards_merged_equal_one_sync_of_org_20() {
    let moto = Moto::start();
    moto.seed("org-20.json");
    let dir = support::tempdir();
    let single = dir.path().join("single.c1z");
    let o = sync(&moto.endpoint(), &single, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = shards(&moto.endpoint(), dir.path(), 4);
    // Every account is read by exactly one shard; every shard lists the organization.
    let mut read = 0;
    for f in &files {
        let s = shard_stats(f);
        assert_eq!(s["organization_accounts"], 21, "{s}");
        read += s["shard_accounts"].as_u64().unwrap();
        assert!(s["organization_id"].as_str().unwrap().starts_with("o-"));
    }
    assert_eq!(read, 21);
    let assumed: u64 = files.iter().map(|f| calls(f, "sts:AssumeRole")).sum();
    assert_eq!(assumed, calls(&single, "sts:AssumeRole"));
    // Unexpanded, the merge is the single sync; expanded, the single sync expanded.
    let merged = dir.path().join("merged.c1z");
    let o = merge(
        &moto.endpoint(),
        &files,
        &merged,
        &["--expand-grants", "false"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&single, false, &merged);
    let expanded = dir.path().join("expanded.c1z");
    let o = merge(&moto.endpoint(), &files, &expanded, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(sync_type(&expanded), "full");
    assert_same_records(&single, true, &expanded);
    assert!(
        support::records::lines(&expanded, false).len()
            > support::records::lines(&merged, false).len()
    );
    let stats = C1zReader::open(&merged)
        .unwrap()
        .sync()
        .stats
        .clone()
        .unwrap();
    assert_eq!(stats["orgsync"]["accounts"]["ok"], 21, "{stats}");
    assert_eq!(
        stats["orgsync"]["merge"]["differing_duplicates"], 0,
        "{stats}"
    );
}

/// `orgsync plan --file PLAN` against `endpoint`.
fn plan(endpoint: &str, file: &Path) -> std::process::Output {
    run(orgsync(endpoint).arg("plan").arg("--file").arg(file))
}

#[test]
fn shards_reading_a_plan_file_list_nothing_and_merged_equal_one_sync() {
    let moto = Moto::start();
    moto.seed("org-20.json");
    let other = Moto::start();
    other.seed("org-20.json");
    let dir = support::tempdir();
    let d = dir.path();
    let single = d.join("single.c1z");
    let o = sync(&moto.endpoint(), &single, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan_file = d.join("plan.json");
    let o = plan(&moto.endpoint(), &plan_file);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("21 accounts"),
        "{}",
        text(&o)
    );
    let p = plan_file.to_string_lossy().into_owned();
    let files: Vec<PathBuf> = (0..4)
        .map(|i| {
            let f = d.join(format!("shard-{i}.c1z"));
            let o = sync(
                &moto.endpoint(),
                &f,
                &["--shard", &format!("{i}/4"), "--plan", &p],
            );
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            f
        })
        .collect();
    let mut read = 0;
    for f in &files {
        // One call checks the organization; nothing is listed.
        assert_eq!(calls(f, "organizations:DescribeOrganization"), 1);
        assert_eq!(calls(f, "organizations:ListAccountsForParent"), 0);
        assert_eq!(
            calls(f, "organizations:ListOrganizationalUnitsForParent"),
            0
        );
        assert_eq!(calls(f, "organizations:ListRoots"), 0);
        let s = shard_stats(f);
        assert_eq!(s["organization_accounts"], 21, "{s}");
        read += s["shard_accounts"].as_u64().unwrap();
    }
    assert_eq!(read, 21);
    let merged = d.join("merged.c1z");
    let o = merge(
        &moto.endpoint(),
        &files,
        &merged,
        &["--expand-grants", "false"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&single, false, &merged);
    let expanded = d.join("expanded.c1z");
    let o = merge(&moto.endpoint(), &files, &expanded, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&single, true, &expanded);

    // A stale plan: exit 2 before any AWS call (nothing listens), nothing written.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    doc["created_at"] = "2020-01-01T00:00:00Z".into();
    let stale = d.join("stale.json");
    std::fs::write(&stale, doc.to_string()).unwrap();
    let out = d.join("refused.c1z");
    let s = stale.to_string_lossy().into_owned();
    let o = sync(&dead, &out, &["--shard", "0/4", "--plan", &s]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("run `orgsync plan` again"),
        "{}",
        text(&o)
    );
    // A younger maximum age refuses the fresh plan too.
    let o = sync(
        &dead,
        &out,
        &["--shard", "0/4", "--plan", &p, "--plan-max-age", "1ms"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Another organization's plan: exit 1 after its one DescribeOrganization, nothing written.
    let foreign = d.join("foreign.json");
    let o = plan(&other.endpoint(), &foreign);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let f = foreign.to_string_lossy().into_owned();
    let o = sync(&moto.endpoint(), &out, &["--shard", "1/4", "--plan", &f]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("another organization's plan"),
        "{}",
        text(&o)
    );
    // --plan is for shards only.
    let o = sync(&dead, &out, &["--plan", &p]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!out.exists());
    assert!(!d.join("refused.c1z.resume").exists());
}

#[test]
fn identity_center_is_read_by_shard_0_only_and_merged_records_equal_one_sync() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    // prod cannot be entered: its `account` record says failed, and Identity Center (read
    // by shard 0 while another shard may own prod) must embed that record too.
    let prod = manifest["accounts"]["prod"].as_str().unwrap().to_string();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account(&prod),
    );
    let endpoint = proxy.url();
    let dir = support::tempdir();
    let single = dir.path().join("single.c1z");
    let o = sync(&endpoint, &single, &["--expand-grants=false"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let files = shards(&endpoint, dir.path(), 3);
    for (i, f) in files.iter().enumerate() {
        let want = u64::from(i == 0);
        assert_eq!(calls(f, "sso:ListInstances"), want, "shard {i}");
        assert_eq!(calls(f, "identitystore:ListUsers"), want, "shard {i}");
    }
    let merged = dir.path().join("merged.c1z");
    let o = merge(&endpoint, &files, &merged, &["--expand-grants", "false"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_same_records(&single, false, &merged);
    let stats = C1zReader::open(&merged)
        .unwrap()
        .sync()
        .stats
        .clone()
        .unwrap();
    assert_eq!(stats["orgsync"]["accounts"]["failed"], 1, "{stats}");
    if Shard::of(&prod.parse().unwrap(), 3) != 0 {
        let replaced = &stats["orgsync"]["merge"]["embedded_accounts_replaced"];
        assert!(replaced.as_u64().unwrap() > 0, "{stats}");
    }
    let expanded = dir.path().join("expanded.c1z");
    let o = merge(&endpoint, &files, &expanded, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_same_records(&single, true, &expanded);

    // A shard that owns only the suspended account reads nothing and fails nothing: it still
    // writes its (partial) file, which the merge needs.
    let legacy: orgsync::arn::AccountId = manifest["accounts"]["legacy"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut others: Vec<orgsync::arn::AccountId> = manifest["accounts"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_str()?.parse().ok())
        .filter(|a| *a != legacy)
        .collect();
    others.push("123456789012".parse().unwrap());
    let count = (2..512)
        .find(|&n| {
            let i = Shard::of(&legacy, n);
            i != 0 && others.iter().all(|a| Shard::of(a, n) != i)
        })
        .unwrap();
    let lone = dir.path().join("lone.c1z");
    let i = Shard::of(&legacy, count);
    let o = sync(&endpoint, &lone, &["--shard", &format!("{i}/{count}")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(sync_type(&lone), "partial");
}

#[test]
fn bad_shard_values_exit_2_naming_the_value_before_any_aws_call() {
    // Nothing listens on this endpoint: an AWS call would fail with exit 1, not 2.
    let endpoint = format!("http://127.0.0.1:{}", support::free_port());
    let dir = support::tempdir();
    for (bad, says) in [
        ("5/4", "'5/4': the index must be below 4"),
        ("0/0", "'0/0': N must be at least 1"),
        ("a/b", "'a/b' is not of the form I/N"),
    ] {
        let o = sync(&endpoint, &dir.path().join("x.c1z"), &["--shard", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{bad}: {}",
            text(&o)
        );
    }
    assert_eq!(support::files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn merge_refuses_bad_inputs_with_exit_2_and_writes_nothing() {
    let a = Moto::start();
    a.seed("org-20.json");
    let b = Moto::start();
    b.seed("org-20.json");
    let dir = support::tempdir();
    let d = dir.path();
    let files = shards(&a.endpoint(), d, 2);
    let other = d.join("other-org-1.c1z");
    let o = sync(&b.endpoint(), &other, &["--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let single = d.join("single.c1z");
    let o = sync(
        &a.endpoint(),
        &single,
        &["--accounts", "111111111111", "--allow-empty"],
    );
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
    let junk = d.join("junk.c1z");
    std::fs::write(&junk, b"not a c1z file").unwrap();
    let out = d.join("out.c1z");
    let three = d.join("three-of-4.c1z");
    let o = sync(&a.endpoint(), &three, &["--shard", "3/4"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let cases: Vec<(Vec<PathBuf>, &str)> = vec![
        (vec![files[0].clone(), junk.clone()], "is not a c1z v1 file"),
        (
            vec![files[0].clone(), other.clone()],
            "the shards are of different organizations",
        ),
        (
            vec![files[0].clone(), files[0].clone()],
            "shard 0/2 is given twice",
        ),
        (vec![files[1].clone()], "shards 0 of 2 are missing"),
        (
            vec![files[0].clone(), three.clone()],
            "split the organization differently",
        ),
        (vec![single.clone()], "its sync is not a shard"),
    ];
    for (inputs, says) in cases {
        let o = merge(&dead, &inputs, &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{says}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{says}: {}",
            text(&o)
        );
        assert!(!out.exists(), "{says}: an output was written");
    }
    // --allow-missing writes the shards there are, as a partial sync (exit 3).
    let o = merge(&dead, &files[1..], &out, &["--allow-missing"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(sync_type(&out), "partial");
    let mut left = support::files_in(d);
    left.retain(|f| f.starts_with("out.c1z"));
    assert_eq!(left, ["out.c1z"]);
}

/// Every YAML document of `deploy/kubernetes/sharded/`, by kind and name.
fn sharded_manifests() -> Vec<serde_yaml_ng::Value> {
    let dir = support::repo_root().join("deploy/kubernetes/sharded");
    let mut out = vec![];
    for name in support::files_in(&dir) {
        if !name.ends_with(".yaml") || name == "kustomization.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            out.push(<serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc).unwrap());
        }
    }
    out
}

/// The sharded deployment fits together: a plan Job writing the plan file the shards read
/// (`--plan`), after it an Indexed Job of N completions whose index becomes `--shard
/// INDEX/N`, a merge of exactly the N files it writes, IRSA for the plan and the shards, the
/// Role for the waits, one PVC; orgsync accepts the pods' arguments.
#[test]
fn the_sharded_kubernetes_manifests_fit_together() {
    let docs = sharded_manifests();
    let find = |kind: &str, name: &str| -> &serde_yaml_ng::Value {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    // A pod whose init container waits for `job` may read Jobs.
    let may_wait_for = |pod: &serde_yaml_ng::Value, job: &str| {
        let wait = &pod["initContainers"][0]["args"];
        assert_eq!(wait[0], "wait");
        assert_eq!(wait[3], format!("job/{job}"));
        let waiter = pod["serviceAccountName"].as_str().unwrap();
        let binding = docs
            .iter()
            .find(|d| {
                d["kind"] == "RoleBinding"
                    && d["subjects"]
                        .as_sequence()
                        .is_some_and(|s| s.iter().any(|s| s["name"] == waiter))
            })
            .unwrap_or_else(|| panic!("no RoleBinding for {waiter}"));
        let role = docs
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == binding["roleRef"]["name"])
            .expect("the binding's Role");
        assert_eq!(role["rules"][0]["resources"][0], "jobs");
    };
    let shards = find("Job", "orgsync-shards");
    let spec = &shards["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let pod = &spec["template"]["spec"];
    let sa = find(
        "ServiceAccount",
        pod["serviceAccountName"].as_str().unwrap(),
    );
    assert!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::")
    );
    let c = &pod["containers"][0];
    let env = |name: &str| {
        c["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no env {name}"))
            .clone()
    };
    assert_eq!(
        env("ORGSYNC_SHARDS")["value"].as_str(),
        Some(n.to_string().as_str())
    );
    assert_eq!(
        env("JOB_COMPLETION_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let claim = |pod: &serde_yaml_ng::Value| {
        pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .unwrap()
            .to_string()
    };
    find("PersistentVolumeClaim", &claim(pod));
    let cm = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|v| v["configMap"]["name"].as_str())
        .unwrap();
    let config = find("ConfigMap", cm)["data"]["orgsync.yaml"]
        .as_str()
        .unwrap();

    let tmp = support::tempdir();
    let cfg = tmp.path().join("orgsync.yaml");
    std::fs::write(&cfg, config).unwrap();
    let data = tmp.path().display().to_string();
    let args = |c: &serde_yaml_ng::Value, index: u64| -> Vec<String> {
        c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
                    .replace("$(ORGSYNC_SHARDS)", &n.to_string())
                    .replace("/data", &data)
            })
            .collect()
    };
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    // The plan Job writes the plan file every shard reads, with the shards' identity.
    may_wait_for(pod, "orgsync-plan");
    let plan_job = find("Job", "orgsync-plan");
    let ppod = &plan_job["spec"]["template"]["spec"];
    assert_eq!(ppod["serviceAccountName"], pod["serviceAccountName"]);
    assert_eq!(claim(ppod), claim(pod));
    let pargs = args(&ppod["containers"][0], 0);
    assert_eq!(pargs[0], "plan");
    let plan_file = pargs.windows(2).find(|w| w[0] == "--file").unwrap()[1].clone();
    // Parsed: it gets as far as connecting (exit 1 against a dead endpoint, not 2).
    let o = run(orgsync(&dead).arg("--config").arg(&cfg).args(&pargs));
    assert_eq!(o.status.code(), Some(1), "{pargs:?}: {}", text(&o));
    let mut written = vec![];
    for i in 0..n {
        let a = args(c, i);
        assert!(
            a.windows(2)
                .any(|w| w[0] == "--shard" && w[1] == format!("{i}/{n}"))
        );
        assert!(
            a.windows(2).any(|w| w[0] == "--plan" && w[1] == plan_file),
            "{a:?} reads {plan_file}"
        );
        let file = a.windows(2).find(|w| w[0] == "--file").unwrap()[1].clone();
        written.push(file.replace(&data, "/data"));
        // Parsed and checked up to the outputs: only the --no-file added here is refused.
        let o = run(orgsync(&dead)
            .arg("--config")
            .arg(&cfg)
            .args(&a)
            .arg("--no-file"));
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("--no-file needs --jsonl"));
    }

    let merge_job = find("Job", "orgsync-merge");
    let mpod = &merge_job["spec"]["template"]["spec"];
    assert_eq!(claim(mpod), claim(pod));
    may_wait_for(mpod, "orgsync-shards");
    let m = &mpod["containers"][0];
    let margs = args(m, 0);
    assert_eq!(margs[0], "merge");
    let inputs: Vec<String> = margs[1..]
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .map(|a| a.replace(&data, "/data"))
        .collect();
    assert_eq!(inputs, written, "the merge reads exactly the shards' files");
    // The shard files do not exist here: the merge refuses them (exit 2) and names one.
    let o = run(orgsync(&dead).args(&margs));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("shard-0.c1z"),
        "{}",
        text(&o)
    );
}
