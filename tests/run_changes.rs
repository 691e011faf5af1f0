//! `orgsync run` records what each run changed since the previous run's output: the
//! `orgsync_last_run_changes{kind,change}` gauges of `/metrics` and `changes` in the run's
//! summary JSON. The real binary on a schedule against moto (fixtures/single-account.json):
//! the first run has nothing to compare with (no samples, no `changes`); after a known change
//! made with boto3 between runs (a new user, a user added to a group) a run reports exactly
//! one resource and one grant added and nothing else; the runs after it report no change.
//! With `--previous` naming the output, each run's file holds the run before it too.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Moto, http_get, orgsync, text};

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// The samples of `orgsync_last_run_changes`, as (labels, value).
fn changes(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("orgsync_last_run_changes{"))
        .filter_map(|l| l.rsplit_once("} "))
        .map(|(labels, v)| (labels.to_string(), v.parse().unwrap()))
        .collect()
}

fn runs_ok(port: u16) -> f64 {
    metrics(port)
        .lines()
        .find_map(|l| l.strip_prefix("orgsync_runs_total{result=\"ok\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The expected change counts: `want` (kind, change, n) and zero for every other pair.
fn expected(want: &[(&str, &str, f64)]) -> Vec<(String, f64)> {
    let mut out = vec![];
    for kind in ["resource", "entitlement", "grant", "derived_grant"] {
        for change in ["added", "removed", "changed"] {
            let n = want
                .iter()
                .find(|(k, c, _)| *k == kind && *c == change)
                .map(|w| w.2)
                .unwrap_or(0.0);
            out.push((format!("kind=\"{kind}\",change=\"{change}\""), n));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn sorted(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn summary_changes(p: &Path) -> Option<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v.get("changes").cloned()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn each_run_reports_its_changes_in_metrics_and_summary() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let latest = dir.path().join("sync.c1z");
    let summary = dir.path().join("summary.json");
    let log = dir.path().join("run.log");
    let port = support::free_port();
    let child = orgsync(&moto.endpoint())
        // The change set is made of direct grants: expansion (on by default) would add the
        // derived grants that follow from them.
        .args([
            "run",
            "--expand-grants=false",
            "--interval",
            "3s",
            "--keep",
            "2",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--file")
        .arg(&latest)
        .arg("--summary-json")
        .arg(&summary)
        // Each run's file also holds the run before it (the first run: nothing yet).
        .arg("--previous")
        .arg(&latest)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let _child = Killed(child);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // The first run: nothing to compare with.
    assert!(
        wait_until(Duration::from_secs(90), || runs_ok(port) >= 1.0),
        "no first run:\n{}",
        log_text()
    );
    let m = metrics(port);
    if runs_ok(port) < 2.0 {
        assert!(
            changes(&m).is_empty(),
            "no previous output, no samples:\n{m}"
        );
        assert!(
            m.contains("# TYPE orgsync_last_run_changes gauge"),
            "the family is declared: {m}"
        );
    }

    // The change set, between runs.
    let out = Command::new(support::repo_root().join(".venv/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3\niam = boto3.client('iam', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\niam.create_user(UserName='erin')\niam.add_user_to_group(GroupName='developers', UserName='dave')",
            moto.endpoint()
        ))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let want = expected(&[("resource", "added", 1.0), ("grant", "added", 1.0)]);
    let mut seen_summary = None;
    assert!(
        wait_until(Duration::from_secs(120), || {
            if seen_summary.is_none()
                && let Some(c) = summary_changes(&summary)
                && c["resource"]["added"] == 1
            {
                seen_summary = Some(c);
            }
            sorted(changes(&metrics(port))) == want && seen_summary.is_some()
        }),
        "no run reported exactly the change set; last metrics:\n{:?}\nsummary: {:?}\n{}",
        changes(&metrics(port)),
        summary_changes(&summary),
        log_text()
    );
    let c = seen_summary.unwrap();
    assert_eq!(c["grant"]["added"], 1, "{c}");
    for kind in ["resource", "entitlement", "grant", "derived_grant"] {
        assert_eq!(c[kind]["removed"], 0, "{c}");
        assert_eq!(c[kind]["changed"], 0, "{c}");
    }
    assert_eq!(c["entitlement"]["added"], 0, "{c}");

    // Later runs: nothing changed.
    let zero = expected(&[]);
    assert!(
        wait_until(Duration::from_secs(60), || sorted(changes(&metrics(port)))
            == zero),
        "a later run still reports changes: {:?}",
        changes(&metrics(port))
    );
    assert!(log_text().contains("changes since the previous output"));

    // --previous: the stable file holds the newest run and the one before it, and the
    // counts above compared the new sync, not the carried one.
    let o = support::run(
        orgsync("http://127.0.0.1:9")
            .args(["inspect", "syncs", "-o", "json", "-f"])
            .arg(&latest),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let syncs: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(syncs.as_array().unwrap().len(), 2, "{syncs}");
    assert!(log_text().contains("carried the previous sync"));
}
