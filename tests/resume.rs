//! Resuming killed syncs, with the real binary against moto behind the fault proxy (IAM
//! slowed down so a kill lands mid-run): SIGKILL at 20 random points, each rerun resuming
//! from the work file beside the output; the previous output is never touched, the finished
//! file's records equal an uninterrupted run's, and a complete run leaves no work file.
//! Also: `--no-resume`, a stale work file (`--resume-max-age`), a work file of another scope,
//! and a partial run (exit 3) whose rerun reads only the failed account.

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, calls, notes, orgsync, sync, text};

fn assert_same_records(want: &Path, got: &Path) {
    support::records::assert_same(want, false, got);
}

/// A small xorshift generator: the test prints its seed so a failure can be replayed
/// (ORGSYNC_TEST_SEED).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("ORGSYNC_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("ORGSYNC_TEST_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const PREVIOUS: &[u8] = b"the previous output";

#[test]
fn killed_at_twenty_random_points_reruns_resume_to_the_same_records() {
    let moto = Moto::start();
    moto.seed("org-20.json");
    let dir = support::tempdir();
    let reference = dir.path().join("reference.c1z");
    let o = sync(&moto.endpoint(), &reference, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dir.path().join("reference.c1z.resume").exists());

    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(Rule::new(Fault::Latency(Duration::from_millis(25))).service("iam"));
    let out = dir.path().join("out.c1z");
    let work = dir.path().join("out.c1z.resume");
    std::fs::write(&out, PREVIOUS).unwrap();
    // Requests of an uninterrupted run through the proxy: kill points are drawn below it.
    let full = dir.path().join("full.c1z");
    proxy.clear_seen();
    let o = sync(&proxy.url(), &full, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let requests = proxy.seen().len() as u64;
    // Every account read asks for its authorization details (the management account too,
    // which needs no hop).
    const GAAD: &str = "iam:GetAccountAuthorizationDetails";
    let full_reads = calls(&full, GAAD);
    let mut rng = Rng::new();
    let (mut kills, mut finished, mut resumed_runs) = (0, 0, 0);
    while kills < 20 {
        // A chain: kill runs at random points until the 4th kill (or a run finishes first),
        // then let one run finish.
        let mut in_chain = 0;
        while in_chain < 4 && kills < 20 {
            proxy.clear_seen();
            let at = 1 + rng.below(requests.saturating_sub(5).max(1));
            let mut child = orgsync(&proxy.url())
                .args(["sync", "--file"])
                .arg(&out)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let mut exited = None;
            while (proxy.seen().len() as u64) < at && start.elapsed() < Duration::from_secs(60) {
                if let Some(s) = child.try_wait().unwrap() {
                    exited = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if let Some(s) = exited {
                // Everything left was resumed: the run finished before the kill point.
                assert_eq!(s.code(), Some(0));
                break;
            }
            child.kill().unwrap(); // SIGKILL: no cleanup code runs
            child.wait().unwrap();
            kills += 1;
            in_chain += 1;
            assert_eq!(
                std::fs::read(&out).unwrap(),
                PREVIOUS,
                "kill {kills} at request {at} touched the previous output"
            );
        }
        let had_units = work.exists();
        let o = sync(&proxy.url(), &out, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        finished += 1;
        assert_same_records(&reference, &out);
        if had_units && notes(&out).iter().any(|n| n.contains("not read again")) {
            resumed_runs += 1;
            // At least one account was not read again, so fewer reads than a whole run's.
            let reads = calls(&out, GAAD);
            assert!(
                reads < full_reads,
                "{reads} of {full_reads} reads: {:?}",
                notes(&out)
            );
        }
        // No litter: the work file goes with a complete run.
        let mut files = support::files_in(dir.path());
        files.retain(|f| f.starts_with("out."));
        assert_eq!(files, ["out.c1z", "out.summary.json"]);
        assert!(!work.exists());
        std::fs::write(&out, PREVIOUS).unwrap();
    }
    assert!(finished >= 5, "{finished} chains");
    assert!(resumed_runs >= 1, "no rerun resumed anything");
}

#[test]
fn no_resume_stale_and_foreign_work_files_read_every_account_and_partial_runs_retry_failed_ones() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let prod = manifest["accounts"]["prod"].as_str().unwrap().to_string();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account(&prod),
    );
    let dir = support::tempdir();
    let out = dir.path().join("org.c1z");
    let work = dir.path().join("org.c1z.resume");
    // prod fails: exit 3, and the work file stays for the next run.
    let o = sync(&proxy.url(), &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(work.exists());
    let hops = calls(&out, "sts:AssumeRole");
    assert_eq!(
        hops, 5,
        "6 active accounts, the caller's own is not entered"
    );
    // The rerun reads only prod (now reachable) and completes; the work file goes.
    proxy.clear_rules();
    let o = sync(&proxy.url(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(calls(&out, "sts:AssumeRole"), 1, "{:?}", notes(&out));
    assert!(!work.exists());
    let fresh = dir.path().join("fresh.c1z");
    let o = sync(&moto.endpoint(), &fresh, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_records(&fresh, &out);

    // Leave a work file again (prod fails), then: --no-resume, a stale file, another scope.
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account(&prod),
    );
    let o = sync(&proxy.url(), &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = sync(&proxy.url(), &out, &["--no-resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(calls(&out, "sts:AssumeRole"), 5);
    let o = sync(&proxy.url(), &out, &["--resume-max-age", "0s"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(calls(&out, "sts:AssumeRole"), 5);
    assert!(
        notes(&out)
            .iter()
            .any(|n| n.contains("longer than --resume-max-age ago")),
        "{:?}",
        notes(&out)
    );
    let o = sync(&proxy.url(), &out, &["--sync-secrets", "false"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(calls(&out, "sts:AssumeRole"), 5);
    assert!(
        notes(&out).iter().any(|n| n.contains("another scope")),
        "{:?}",
        notes(&out)
    );
    // The work file holds records only: no credential of the run.
    let bytes = std::fs::read(&work).unwrap();
    let hay = String::from_utf8_lossy(&bytes);
    assert!(
        !hay.contains("testing"),
        "the work file holds the secret key"
    );
}
