//! Benchmark (not a test): a sharded sync and a resumed sync against a single process, with
//! the fault proxy adding latency to every AWS request (so latency, not the emulator's CPU,
//! is the bound) and AWS-like per-account rate limits. Prints each figure next to its target;
//! asserts nothing about time.
//!
//! - 4 shard processes (`sync --shard I/4`, at the same time) plus `orgsync merge`, against
//!   one `orgsync sync`: wall time ratio, target <= 0.35.
//! - A sync killed (SIGKILL) at 80 % of a full run's requests, then rerun: the rerun's
//!   requests against a full run's, target <= 25 %.
//! - The emulator's CPU share of each phase's wall time (near 100 % would mean the emulator,
//!   not the latency, bounds the run).
//!
//!   cargo bench --bench shard                                   # 200 accounts, 200 ms
//!   ORGSYNC_BENCH_ACCOUNTS=40 ORGSYNC_BENCH_LATENCY_MS=50 cargo bench --bench shard

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::proxy::{Fault, FaultProxy, Rule};
use support::throttle::AwsLimits;
use support::{Moto, orgsync};

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

struct Phase {
    wall: f64,
    requests: u64,
    moto_cpu: f64,
}

/// Runs `f`, measuring wall time, the proxy's requests and the emulator's CPU.
fn measure(moto: &Moto, proxy: &FaultProxy, f: impl FnOnce()) -> Phase {
    proxy.clear_seen();
    let cpu0 = cpu_seconds(moto.pid());
    let t = Instant::now();
    f();
    Phase {
        wall: t.elapsed().as_secs_f64(),
        requests: proxy.seen().len() as u64,
        moto_cpu: cpu_seconds(moto.pid()) - cpu0,
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
    let files: Vec<PathBuf> = (0..shards)
        .map(|i| dir.path().join(format!("shard-{i}.c1z")))
        .collect();
    let merged = dir.path().join("merged.c1z");
    let mut merge_wall = 0.0;
    let sharded = measure(&moto, &proxy, || {
        let children: Vec<Child> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                sync_cmd(&proxy, f, &["--shard", &format!("{i}/{shards}")])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            wait_ok(c, &format!("shard {i}"), &files[i]);
        }
        let t = Instant::now();
        let o = orgsync(&proxy.url())
            .arg("merge")
            .args(&files)
            .arg("--file")
            .arg(&merged)
            .output()
            .unwrap();
        merge_wall = t.elapsed().as_secs_f64();
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "merge: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    });

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
        "{:<34} {:>9} {:>9} {:>14}",
        "phase", "wall (s)", "requests", "emulator CPU"
    );
    for (name, p) in [
        ("single process", &single),
        ("4 shards + merge", &sharded),
        ("killed at 80 %", &killed),
        ("resumed rerun", &rerun),
    ] {
        println!(
            "{name:<34} {:>9.1} {:>9} {:>13.0}%",
            p.wall,
            p.requests,
            share(p)
        );
    }
    println!("  (merge alone: {merge_wall:.1} s)");
    let wall_ratio = sharded.wall / single.wall;
    let call_ratio = rerun.requests as f64 / single.requests.max(1) as f64;
    println!(
        "\n4 shards + merge / single wall: {wall_ratio:.2}x   (target <= 0.35x) {}",
        if wall_ratio <= 0.35 { "ok" } else { "MISSED" }
    );
    println!(
        "resumed rerun / full run requests: {:.0} %   (target <= 25 %) {}",
        call_ratio * 100.0,
        if call_ratio <= 0.25 { "ok" } else { "MISSED" }
    );
}
