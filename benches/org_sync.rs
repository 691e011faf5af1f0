//! Benchmark: wall time and AWS calls of an organization sync, with the fault proxy standing in
//! for AWS's latency. Prints figures; asserts nothing about time (performance targets live
//! here, not in tests).
//!
//!   cargo bench --bench org_sync                       # fixtures/org-20.json, 50 ms per request
//!   ORGSYNC_BENCH_ACCOUNTS=100 cargo bench --bench org_sync   # a generated 100-account org
//!   ORGSYNC_BENCH_LATENCY_MS=100 ORGSYNC_BENCH_CONCURRENCY=1,8,32 cargo bench --bench org_sync

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, orgsync};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    // `cargo bench` passes --bench; ignore arguments.
    let accounts: usize = env_or("ORGSYNC_BENCH_ACCOUNTS", "20")
        .parse()
        .expect("ORGSYNC_BENCH_ACCOUNTS");
    let latency: u64 = env_or("ORGSYNC_BENCH_LATENCY_MS", "50")
        .parse()
        .expect("ORGSYNC_BENCH_LATENCY_MS");
    let concurrencies: Vec<u32> = env_or("ORGSYNC_BENCH_CONCURRENCY", "1,8")
        .split(',')
        .map(|c| c.trim().parse().expect("ORGSYNC_BENCH_CONCURRENCY"))
        .collect();

    let moto = Moto::start();
    let dir = support::tempdir();
    let fixture = if accounts == 20 {
        "org-20.json".to_string()
    } else {
        let path = dir.path().join(format!("org-{accounts}.json"));
        let out = std::process::Command::new("python3")
            .arg(support::repo_root().join("scripts/gen-org-fixture.py"))
            .args(["--accounts", &accounts.to_string()])
            .output()
            .expect("generating the fixture");
        std::fs::write(&path, out.stdout).unwrap();
        path.to_string_lossy().into_owned()
    };
    let t = Instant::now();
    moto.seed(&fixture);
    eprintln!(
        "seeded {accounts} member accounts in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(Rule::new(Fault::Latency(Duration::from_millis(latency))));
    println!(
        "\norgsync sync of {accounts} member accounts + management, {latency} ms added to every AWS request"
    );
    println!(
        "{:>12} {:>10} {:>10} {:>12}",
        "concurrency", "wall (s)", "requests", "records"
    );
    let mut last_calls = serde_json::Value::Null;
    for c in &concurrencies {
        let out = dir.path().join(format!("bench-{c}.c1z"));
        let summary = dir.path().join(format!("bench-{c}.json"));
        let t = Instant::now();
        let o = orgsync(&proxy.url())
            .env("ORGSYNC_ORG_RATE_LIMIT", "4") // the production default
            .args(["sync", "--concurrency", &c.to_string()])
            .arg("--file")
            .arg(&out)
            .arg("--summary-json")
            .arg(&summary)
            .output()
            .expect("running orgsync");
        let wall = t.elapsed().as_secs_f64();
        assert!(
            o.status.success(),
            "sync failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        let requests: u64 = s["aws_calls"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v["requests"].as_u64().unwrap())
            .sum();
        let records: u64 = s["records"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|m| m.as_object().unwrap().values().map(|n| n.as_u64().unwrap()))
            .sum();
        println!("{c:>12} {wall:>10.2} {requests:>10} {records:>12}");
        last_calls = s["aws_calls"].clone();
    }
    println!("\nAWS calls by operation (last run):");
    for (op, v) in last_calls.as_object().unwrap() {
        println!("  {op:<48} {:>6}", v["calls"]);
    }
}
