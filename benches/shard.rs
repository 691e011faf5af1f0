//! Benchmark (not a test): sharded syncs and a resumed sync against a single process, with
//! the fault proxy adding latency to every AWS request (so latency, not the emulator's CPU,
//! is the bound) and AWS-like rate limits (`tests/support/throttle.rs`: Organizations 4/s and
//! Identity Center 20/s for the whole organization, IAM 15/s per account). Prints each figure
//! next to its target, a timeline of each sharded run (from the proxy's log) and the floor of
//! the sharded run computed from its call plan; asserts nothing about time.
//!
//! - One `orgsync sync` (the reference wall time).
//! - 4 shards listing the organization each (`sync --shard I/4`, at the same time) plus
//!   `orgsync merge`.
//! - `orgsync plan` (the listing, once) then 4 shards reading it (`sync --shard I/4 --plan`)
//!   plus `orgsync merge`. Target for the shards + merge: <= 0.35 x the single wall time.
//! - A sync killed (SIGKILL) at 80 % of a full run's requests, then rerun: the rerun's
//!   requests against a full run's, target <= 25 %.
//! - The emulator's CPU share of each phase's wall time (near 100 % would mean the emulator,
//!   not the latency, bounds the run).
//!
//!   cargo bench --bench shard                                   # 200 accounts, 200 ms
//!   ORGSYNC_BENCH_ACCOUNTS=40 ORGSYNC_BENCH_LATENCY_MS=50 cargo bench --bench shard
//!
//! Seeding 200 accounts takes 1–2 minutes, the runs about as long again.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use orgsync::sync::Shard;
use support::proxy::{Fault, FaultProxy, Rule, Seen};
use support::throttle::AwsLimits;
use support::{Moto, orgsync};

/// AWS's organization-wide Organizations rate the proxy enforces (`AwsLimits::aws`).
const ORG_RATE: f64 = 4.0;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// CPU seconds (user + system) the process `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Phase {
    wall: f64,
    requests: u64,
    moto_cpu: f64,
    /// The proxy's log of the phase, and when it began.
    seen: Vec<Seen>,
    start: Instant,
}

/// Runs `f`, measuring wall time, the proxy's requests and the emulator's CPU.
fn measure(moto: &Moto, proxy: &FaultProxy, f: impl FnOnce()) -> Phase {
    proxy.clear_seen();
    let cpu0 = cpu_seconds(moto.pid());
    let start = Instant::now();
    f();
    let seen = proxy.seen();
    Phase {
        wall: start.elapsed().as_secs_f64(),
        requests: seen.len() as u64,
        moto_cpu: cpu_seconds(moto.pid()) - cpu0,
        seen,
        start,
    }
}

fn sync_cmd(proxy: &FaultProxy, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = orgsync(&proxy.url());
    c.env("ORGSYNC_ORG_RATE_LIMIT", "4") // the production default
        .arg("sync")
        .arg("--file")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("log")).unwrap());
    c
}

fn wait_ok(mut child: Child, what: &str, out: &Path) {
    let s = child.wait().expect("waiting");
    let log = std::fs::read_to_string(out.with_extension("log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    assert!(
        matches!(s.code(), Some(0 | 3)),
        "{what} exited {:?}: {tail:#?}",
        s.code()
    );
}

/// Runs `shards` shard processes at once (with `extra` arguments), then `orgsync merge`;
/// returns the merge's wall time.
fn shards_and_merge(proxy: &FaultProxy, files: &[PathBuf], merged: &Path, extra: &[&str]) -> f64 {
    let n = files.len();
    let children: Vec<Child> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let shard = format!("{i}/{n}");
            let mut args = vec!["--shard", shard.as_str()];
            args.extend_from_slice(extra);
            sync_cmd(proxy, f, &args).spawn().unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        wait_ok(c, &format!("shard {i}"), &files[i]);
    }
    let t = Instant::now();
    let o = orgsync(&proxy.url())
        .arg("merge")
        .args(files)
        .arg("--file")
        .arg(merged)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "merge: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.elapsed().as_secs_f64()
}

/// The organization-listing operations (the other Organizations calls read service control
/// policies).
fn is_listing(s: &Seen) -> bool {
    s.service == "organizations"
        && matches!(
            s.operation.as_str(),
            "DescribeOrganization"
                | "ListRoots"
                | "ListOrganizationalUnitsForParent"
                | "ListAccountsForParent"
        )
}

/// Which part of a run a request belongs to: the listing, SCPs, Identity Center, or the
/// accounts of a shard (by the account it acts on).
fn part_of(s: &Seen, shards: u32) -> String {
    match s.service.as_str() {
        "organizations" if is_listing(s) => "Organizations: listing".into(),
        "organizations" => "Organizations: SCPs (shard 0)".into(),
        "sso" | "identitystore" => "Identity Center (shard 0)".into(),
        "sts" if s.operation == "GetCallerIdentity" => "STS: connect".into(),
        "sts" | "iam" => match s.account.as_deref().and_then(|a| a.parse().ok()) {
            Some(a) => format!("shard {}: STS + IAM of its accounts", Shard::of(&a, shards)),
            None => format!("{}: unattributed", s.service),
        },
        other => other.to_string(),
    }
}

/// Per part of the run: requests, first request sent and last answer (seconds from the
/// phase's start).
fn timeline(p: &Phase, shards: u32) -> BTreeMap<String, (usize, f64, f64)> {
    let mut parts: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for s in &p.seen {
        let (Some(a), Some(b)) = (s.arrived_at, s.answered_at) else {
            continue;
        };
        let a = a.saturating_duration_since(p.start).as_secs_f64();
        let b = b.saturating_duration_since(p.start).as_secs_f64();
        let e = parts
            .entry(part_of(s, shards))
            .or_insert((0, f64::MAX, 0.0));
        e.0 += 1;
        e.1 = e.1.min(a);
        e.2 = e.2.max(b);
    }
    parts
}

fn print_timeline(title: &str, p: &Phase, shards: u32) {
    println!("\n{title}: timeline (seconds from the start; from the proxy's log)");
    println!(
        "  {:<44} {:>8} {:>7} {:>7}",
        "part", "requests", "first", "last"
    );
    for (part, (n, a, b)) in timeline(p, shards) {
        println!("  {part:<44} {n:>8} {a:>7.1} {b:>7.1}");
    }
}

/// Each account's read in `p`: first request into it to its last answer, in seconds.
fn account_spans(p: &Phase) -> Vec<f64> {
    let mut spans: BTreeMap<&str, (Instant, Instant)> = BTreeMap::new();
    for s in &p.seen {
        let (Some(acct), Some(a), Some(b)) = (&s.account, s.arrived_at, s.answered_at) else {
            continue;
        };
        if !matches!(s.service.as_str(), "iam" | "sts") || s.operation == "GetCallerIdentity" {
            continue;
        }
        let e = spans.entry(acct.as_str()).or_insert((a, b));
        e.0 = e.0.min(a);
        e.1 = e.1.max(b);
    }
    let mut v: Vec<f64> = spans
        .values()
        .map(|(a, b)| b.saturating_duration_since(*a).as_secs_f64())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn main() {
    let accounts: usize = env_or("ORGSYNC_BENCH_ACCOUNTS", "200")
        .parse()
        .expect("ORGSYNC_BENCH_ACCOUNTS");
    let latency: u64 = env_or("ORGSYNC_BENCH_LATENCY_MS", "200")
        .parse()
        .expect("ORGSYNC_BENCH_LATENCY_MS");
    let shards: u32 = 4;
    let moto = Moto::start();
    let dir = support::tempdir();
    let fixture = dir.path().join(format!("org-{accounts}.json"));
    let generated = std::process::Command::new("python3")
        .arg(support::repo_root().join("scripts/gen-org-fixture.py"))
        .args(["--accounts", &accounts.to_string()])
        .output()
        .expect("generating the fixture");
    std::fs::write(&fixture, generated.stdout).unwrap();
    let t = Instant::now();
    moto.seed(&fixture.to_string_lossy());
    eprintln!(
        "seeded {accounts} member accounts in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.aws_limits(AwsLimits::aws());
    proxy.add(Rule::new(Fault::Latency(Duration::from_millis(latency))));

    let single_out = dir.path().join("single.c1z");
    let single = measure(&moto, &proxy, || {
        wait_ok(
            sync_cmd(&proxy, &single_out, &[]).spawn().unwrap(),
            "single sync",
            &single_out,
        )
    });
    let load_single = load_average();

    // Every shard lists the organization.
    let listing_files: Vec<PathBuf> = (0..shards)
        .map(|i| dir.path().join(format!("listing-shard-{i}.c1z")))
        .collect();
    let mut listing_merge = 0.0;
    let listing = measure(&moto, &proxy, || {
        listing_merge = shards_and_merge(
            &proxy,
            &listing_files,
            &dir.path().join("listing-merged.c1z"),
            &[],
        );
    });

    // The listing once (`orgsync plan`), the shards reading it.
    let plan = dir.path().join("plan.json");
    let files: Vec<PathBuf> = (0..shards)
        .map(|i| dir.path().join(format!("shard-{i}.c1z")))
        .collect();
    let (mut plan_wall, mut merge_wall) = (0.0, 0.0);
    let planned = measure(&moto, &proxy, || {
        let t = Instant::now();
        let o = orgsync(&proxy.url())
            .env("ORGSYNC_ORG_RATE_LIMIT", "4")
            .arg("plan")
            .arg("--file")
            .arg(&plan)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "plan: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        plan_wall = t.elapsed().as_secs_f64();
        let p = plan.to_string_lossy().into_owned();
        merge_wall = shards_and_merge(
            &proxy,
            &files,
            &dir.path().join("merged.c1z"),
            &["--plan", &p],
        );
    });
    let load_sharded = load_average();

    // Resume: kill at 80 % of the single run's requests, then rerun.
    let resumed_out = dir.path().join("resumed.c1z");
    let kill_at = single.requests * 8 / 10;
    let killed = measure(&moto, &proxy, || {
        let mut child = sync_cmd(&proxy, &resumed_out, &[]).spawn().unwrap();
        while (proxy.seen().len() as u64) < kill_at {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    });
    let rerun = measure(&moto, &proxy, || {
        wait_ok(
            sync_cmd(&proxy, &resumed_out, &[]).spawn().unwrap(),
            "resumed sync",
            &resumed_out,
        )
    });

    let share = |p: &Phase| 100.0 * p.moto_cpu / p.wall.max(1e-9);
    println!(
        "\n{accounts} member accounts + management, {latency} ms added to every AWS request, AWS-like rate limits"
    );
    println!(
        "load average: {load_single} (after the single run), {load_sharded} (after the shards)"
    );
    println!(
        "{:<44} {:>9} {:>9} {:>14}",
        "phase", "wall (s)", "requests", "emulator CPU"
    );
    for (name, p) in [
        ("single process", &single),
        ("4 shards each listing + merge", &listing),
        ("plan + 4 shards --plan + merge", &planned),
        ("killed at 80 %", &killed),
        ("resumed rerun", &rerun),
    ] {
        println!(
            "{name:<44} {:>9.1} {:>9} {:>13.0}%",
            p.wall,
            p.requests,
            share(p)
        );
    }
    println!("  (4 shards each listing: merge alone {listing_merge:.1} s)");
    println!(
        "  (plan + shards: plan alone {plan_wall:.1} s, shards {:.1} s, merge {merge_wall:.1} s)",
        planned.wall - plan_wall - merge_wall
    );
    print_timeline("single process", &single, 1);
    print_timeline("4 shards each listing", &listing, shards);
    print_timeline("plan + 4 shards --plan", &planned, shards);

    // The floor of the planned flow, from its call plan: the listing must end before the
    // shards can start (its Organizations calls at the organization-wide rate, whatever N),
    // then at least one account's read (the fastest account read of the run, unqueued), then
    // the merge as measured.
    let org_listing = planned.seen.iter().filter(|s| is_listing(s)).count() as f64;
    let org_all = planned
        .seen
        .iter()
        .filter(|s| s.service == "organizations")
        .count() as f64;
    let spans = account_spans(&planned);
    let fastest = spans.first().copied().unwrap_or(0.0);
    let median = spans.get(spans.len() / 2).copied().unwrap_or(0.0);
    let plan_calls = org_listing - f64::from(shards); // one DescribeOrganization per shard
    let floor = plan_calls / ORG_RATE + fastest + merge_wall;
    println!(
        "\nfloor of plan + shards + merge: {plan_calls:.0} listing calls / {ORG_RATE}/s = {:.1} s, + fastest account read {fastest:.1} s (median {median:.1} s), + merge {merge_wall:.1} s = {floor:.1} s = {:.2}x the single run",
        plan_calls / ORG_RATE,
        floor / single.wall
    );
    println!(
        "  Organizations calls of the sharded run: {org_all:.0} (at {ORG_RATE}/s for the whole organization: {:.1} s however many shards)",
        org_all / ORG_RATE
    );
    let wall_ratio = planned.wall / single.wall;
    let listing_ratio = listing.wall / single.wall;
    let call_ratio = rerun.requests as f64 / single.requests.max(1) as f64;
    println!(
        "\n4 shards each listing + merge / single wall: {listing_ratio:.2}x   (target <= 0.35x) {}",
        if listing_ratio <= 0.35 {
            "ok"
        } else {
            "MISSED"
        }
    );
    println!(
        "plan + 4 shards --plan + merge / single wall: {wall_ratio:.2}x   (target <= 0.35x) {}",
        if wall_ratio <= 0.35 { "ok" } else { "MISSED" }
    );
    println!(
        "resumed rerun / full run requests: {:.0} %   (target <= 25 %) {}",
        call_ratio * 100.0,
        if call_ratio <= 0.25 { "ok" } else { "MISSED" }
    );
}
