//! Running orgsync in production: `orgsync run` (schedule, rotation, /healthz, /metrics,
//! signals), configuration precedence (flag > env > config file, baton aliases), `orgsync
//! policy` against the calls a sync really makes and against the CloudFormation templates,
//! and `orgsync capabilities`. The real binary against moto, through the fault proxy where a
//! run must be slowed down.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use orgsync::store::c1z::C1zReader;
use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, http_get, orgsync, run, text};

/// Polls `f` every 100 ms until it is true or `limit` passes (a hang guard, not a timing
/// assertion).
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

/// The value of the sample `name` (with its labels, exactly as rendered).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.rsplit_once(' ').filter(|(n, _)| *n == name))
        .and_then(|(_, v)| v.parse().ok())
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to a child process we own.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Waits for the child to exit (killing it after `limit`); returns its exit code.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// `orgsync run` with its logs in `log`.
fn spawn_run(endpoint: &str, log: &Path, args: &[&str], file: &Path) -> Child {
    let logf = std::fs::File::create(log).unwrap();
    orgsync(endpoint)
        .arg("run")
        .args(args)
        .arg("--file")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::from(logf))
        .spawn()
        .unwrap()
}

fn log_of(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Timestamped outputs of `sync.c1z` in `dir`, oldest first.
fn timestamped(dir: &Path) -> Vec<String> {
    support::files_in(dir)
        .into_iter()
        .filter(|n| n.starts_with("sync.2") && n.ends_with(".c1z"))
        .collect()
}

#[test]
fn run_writes_rotates_and_serves_healthz_and_metrics() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let logs = support::tempdir();
    let log = logs.path().join("run.log");
    let latest = dir.path().join("sync.c1z");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = spawn_run(
        &moto.endpoint(),
        &log,
        &[
            "--interval",
            "1s",
            "--keep",
            "1",
            "--health-max-age",
            "1h",
            "--listen",
            &listen,
        ],
        &latest,
    );
    let ok_runs = || metric(&metrics(port), "orgsync_runs_total{result=\"ok\"}").unwrap_or(0.0);
    assert!(
        wait_until(Duration::from_secs(120), || ok_runs() >= 3.0),
        "three runs did not finish:\n{}",
        log_of(&log)
    );

    let (status, body) = http_get(port, "/healthz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok: last successful run"), "{body}");
    assert_eq!(http_get(port, "/nope").unwrap().0, 404);
    let m = metrics(port);
    let want = |name: &str| metric(&m, name).unwrap_or_else(|| panic!("no {name} in\n{m}"));
    assert!(want("orgsync_last_run_duration_seconds") > 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_success = want("orgsync_last_success_timestamp_seconds");
    assert!(
        last_success > now - 600.0 && last_success <= now + 1.0,
        "{last_success}"
    );
    assert_eq!(
        want("orgsync_last_run_records{kind=\"resource\",resource_type=\"iam_user\"}"),
        5.0
    );
    assert_eq!(
        want("orgsync_last_run_records{kind=\"grant\",resource_type=\"group\"}"),
        5.0
    );
    assert_eq!(want("orgsync_last_run_accounts{status=\"failed\"}"), 0.0);
    assert_eq!(want("orgsync_last_run_accounts{status=\"ok\"}"), 1.0);
    assert_eq!(want("orgsync_last_run_exit_code"), 0.0);
    assert!(want("orgsync_aws_calls_total{service=\"iam\"}") >= 3.0 * 10.0);
    assert!(want("orgsync_aws_calls_total{service=\"sts\"}") >= 3.0);
    assert_eq!(want("orgsync_aws_throttled_total{service=\"iam\"}"), 0.0);
    assert_eq!(want("orgsync_healthy"), 1.0);
    assert!(m.contains("# TYPE orgsync_aws_calls_total counter"), "{m}");

    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(30)),
        Some(0),
        "{}",
        log_of(&log)
    );
    // --keep 1: the newest run and one previous one, plus the stable path; nothing else.
    let stamped = timestamped(dir.path());
    assert_eq!(stamped.len(), 2, "{:?}", support::files_in(dir.path()));
    assert_eq!(
        support::files_in(dir.path()).len(),
        3,
        "{:?}",
        support::files_in(dir.path())
    );
    let newest = dir.path().join(stamped.last().unwrap());
    assert_eq!(
        std::fs::read(&latest).unwrap(),
        std::fs::read(&newest).unwrap(),
        "the stable path is the newest run"
    );
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(&latest).unwrap().ino(),
            std::fs::metadata(&newest).unwrap().ino(),
            "a hard link, not a copy"
        );
    }
    let reader = C1zReader::open(&latest).unwrap();
    assert_eq!(support::resources_of(&reader, "iam_user").len(), 5);
    // With JSON logs every line of stderr is a JSON event: no summary tables between them.
    let log = log_of(&log);
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line:?} in\n{log}"
        );
    }
    assert!(log.contains("run finished"), "{log}");
}

#[test]
fn failing_runs_make_healthz_unhealthy_and_write_nothing() {
    let dir = support::tempdir();
    let logs = support::tempdir();
    let log = logs.path().join("run.log");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = {
        let logf = std::fs::File::create(&log).unwrap();
        orgsync("http://127.0.0.1:9")
            .env("ORGSYNC_MAX_ATTEMPTS", "1")
            .args(["run", "--interval", "1s", "--health-max-age", "2s"])
            .args(["--listen", &listen, "--file"])
            .arg(dir.path().join("sync.c1z"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(logf))
            .spawn()
            .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(60), || {
            let m = metrics(port);
            metric(&m, "orgsync_runs_total{result=\"failed\"}").unwrap_or(0.0) >= 2.0
                && http_get(port, "/healthz").is_some_and(|(s, _)| s == 503)
        }),
        "healthz did not turn 503:\n{}\n{}",
        metrics(port),
        log_of(&log)
    );
    let (_, body) = http_get(port, "/healthz").unwrap();
    assert!(body.contains("no successful run yet"), "{body}");
    let m = metrics(port);
    assert_eq!(metric(&m, "orgsync_last_run_exit_code"), Some(1.0), "{m}");
    assert_eq!(
        metric(&m, "orgsync_last_success_timestamp_seconds"),
        Some(0.0)
    );
    assert_eq!(metric(&m, "orgsync_healthy"), Some(0.0));
    signal(&child, libc::SIGINT);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    assert!(support::files_in(dir.path()).is_empty());
    assert!(log_of(&log).contains("run failed"), "{}", log_of(&log));
}

/// A cron schedule with --run-at-start: one run at once, then it waits for the next match
/// (next New Year, so no other run starts during the test), /metrics says when, the default
/// /healthz max age is twice the schedule's longest gap, and SIGTERM while waiting exits 0.
#[test]
fn cron_schedule_runs_at_start_then_waits_for_the_next_match() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let logs = support::tempdir();
    let log = logs.path().join("run.log");
    let latest = dir.path().join("sync.c1z");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = spawn_run(
        &moto.endpoint(),
        &log,
        &["--cron", "0 0 1 1 *", "--run-at-start", "--listen", &listen],
        &latest,
    );
    let waiting = || {
        let m = metrics(port);
        metric(&m, "orgsync_runs_total{result=\"ok\"}") == Some(1.0)
            && metric(&m, "orgsync_next_run_timestamp_seconds").is_some_and(|t| t > 0.0)
    };
    assert!(
        wait_until(Duration::from_secs(120), waiting),
        "the run at start did not finish:\n{}\n{}",
        metrics(port),
        log_of(&log)
    );
    let m = metrics(port);
    let want = |name: &str| metric(&m, name).unwrap_or_else(|| panic!("no {name} in\n{m}"));
    let next = want("orgsync_next_run_timestamp_seconds") as i64;
    let last = want("orgsync_last_run_timestamp_seconds") as i64;
    let due = chrono::DateTime::from_timestamp(next, 0).unwrap();
    assert_eq!(
        due.format("%m-%d %H:%M:%S").to_string(),
        "01-01 00:00:00",
        "{due}"
    );
    assert!(next > last && next - last <= 366 * 86400, "{next} {last}");
    let day = 86400.0;
    let max_age = want("orgsync_health_max_age_seconds");
    assert!(
        (2.0 * 365.0 * day..=2.0 * 366.0 * day).contains(&max_age),
        "twice a year: {max_age}"
    );
    assert_eq!(want("orgsync_run_in_progress"), 0.0);
    assert_eq!(timestamped(dir.path()).len(), 1);
    assert!(latest.exists());

    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(30)),
        Some(0),
        "{}",
        log_of(&log)
    );
    let log = log_of(&log);
    assert!(log.contains("stopping: no run in progress"), "{log}");
    assert_eq!(support::files_in(dir.path()).len(), 2, "{log}");
}

/// Starts `orgsync run` through a proxy, waits for its first run, then slows
/// GetAccountAuthorizationDetails down and waits until the next run is inside that call.
struct SlowSecondRun {
    _moto: Moto,
    proxy: FaultProxy,
    dir: tempfile::TempDir,
    _logs: tempfile::TempDir,
    log: PathBuf,
    child: Child,
    /// The stable file and the timestamped files while the slow run is in flight.
    first: Vec<u8>,
    stamped: Vec<String>,
}

impl SlowSecondRun {
    fn start(extra: &[&str], latency: Duration) -> SlowSecondRun {
        let moto = Moto::start();
        moto.seed("single-account.json");
        let proxy = FaultProxy::start(&moto.endpoint());
        let dir = support::tempdir();
        let logs = support::tempdir();
        let log = logs.path().join("run.log");
        let latest = dir.path().join("sync.c1z");
        let mut args = vec!["--interval", "1s", "--keep", "5"];
        args.extend(extra);
        let child = spawn_run(&proxy.url(), &log, &args, &latest);
        assert!(
            wait_until(Duration::from_secs(60), || latest.exists()),
            "{}",
            log_of(&log)
        );
        proxy.add(
            Rule::new(Fault::Latency(latency))
                .service("iam")
                .operation("GetAccountAuthorizationDetails"),
        );
        assert!(
            wait_until(Duration::from_secs(60), || proxy.injected()[0] > 0),
            "no later run reached the slow call:\n{}",
            log_of(&log)
        );
        // The slow run is now in flight: this is the output it must not touch.
        let first = std::fs::read(&latest).unwrap();
        let stamped = timestamped(dir.path());
        SlowSecondRun {
            _moto: moto,
            proxy,
            dir,
            _logs: logs,
            log,
            child,
            first,
            stamped,
        }
    }
}

#[test]
fn sigterm_mid_run_abandons_it_keeps_the_previous_output_and_exits_0() {
    let mut s = SlowSecondRun::start(&[], Duration::from_secs(60));
    assert_eq!(s.proxy.injected(), vec![1], "one slow call in flight");
    signal(&s.child, libc::SIGTERM);
    // Well before the 60 s the slow call takes: the run is abandoned, not finished.
    let code = wait_exit(&mut s.child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", log_of(&s.log));
    let latest = s.dir.path().join("sync.c1z");
    assert_eq!(
        std::fs::read(&latest).unwrap(),
        s.first,
        "previous output untouched"
    );
    assert_eq!(
        timestamped(s.dir.path()),
        s.stamped,
        "no file from the abandoned run"
    );
    assert_eq!(
        support::files_in(s.dir.path()).len(),
        s.stamped.len() + 1,
        "no temp file: {:?}",
        support::files_in(s.dir.path())
    );
    assert!(
        log_of(&s.log).contains("run abandoned"),
        "{}",
        log_of(&s.log)
    );
}

#[test]
fn drain_finishes_the_run_in_progress_before_exiting_0() {
    let mut s = SlowSecondRun::start(&["--drain"], Duration::from_secs(3));
    signal(&s.child, libc::SIGTERM);
    let code = wait_exit(&mut s.child, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{}", log_of(&s.log));
    let stamped = timestamped(s.dir.path());
    assert_eq!(
        stamped.len(),
        s.stamped.len() + 1,
        "the drained run was written: {stamped:?}"
    );
    let latest = std::fs::read(s.dir.path().join("sync.c1z")).unwrap();
    assert_ne!(latest, s.first, "the stable path is the drained run");
    assert_eq!(
        latest,
        std::fs::read(s.dir.path().join(stamped.last().unwrap())).unwrap()
    );
    let log = log_of(&s.log);
    assert!(log.contains("--drain"), "{log}");
    assert!(!log.contains("run abandoned"), "{log}");
}

/// `orgsync sync` in a container stopped mid-run (SIGTERM): exit 143, previous output kept.
#[test]
fn sigterm_mid_sync_exits_143_and_keeps_the_previous_output() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.add(
        Rule::new(Fault::Latency(Duration::from_secs(30)))
            .service("iam")
            .operation("GetAccountAuthorizationDetails"),
    );
    let dir = support::tempdir();
    let target = dir.path().join("keep.c1z");
    std::fs::write(&target, b"previous").unwrap();
    let mut child = orgsync(&proxy.url())
        .arg("sync")
        .arg("--file")
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || proxy.injected()[0] > 0),
        "the slow call never started"
    );
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), Some(143));
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(support::files_in(dir.path()), vec!["keep.c1z"]);
}

fn policy_actions(out: &std::process::Output) -> BTreeSet<String> {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn assume_resource(out: &std::process::Output) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "OrgSyncAssumeMemberRoles")
        .map(|s| s["Resource"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn config_file_precedence_flag_over_env_over_file() {
    let dir = support::tempdir();
    let cfg = dir.path().join("orgsync.yaml");
    std::fs::write(
        &cfg,
        "# orgsync settings\nmember-role-name: FromFile\nidentity_center: true\nlog-level: warn\n",
    )
    .unwrap();
    let policy = || {
        let mut c = orgsync("http://127.0.0.1:9");
        c.arg("--config").arg(&cfg).args(["policy", "--read"]);
        c
    };
    let out = run(&mut policy());
    assert!(
        assume_resource(&out).ends_with(":role/FromFile"),
        "{}",
        text(&out)
    );
    assert!(
        policy_actions(&out).contains("sso:ListInstances"),
        "identity_center from the file"
    );
    let out = run(policy().env("ORGSYNC_MEMBER_ROLE_NAME", "FromEnv"));
    assert!(
        assume_resource(&out).ends_with(":role/FromEnv"),
        "env beats file"
    );
    let out = run(policy()
        .env("ORGSYNC_MEMBER_ROLE_NAME", "FromEnv")
        .args(["--member-role-name", "FromFlag"]));
    assert!(
        assume_resource(&out).ends_with(":role/FromFlag"),
        "flag beats env"
    );
    let out = run(policy().env("BATON_IAM_ASSUME_ROLE_NAME", "FromBaton"));
    assert!(
        assume_resource(&out).ends_with(":role/FromBaton"),
        "a baton-aws variable is environment too"
    );
    let out = run(policy()
        .env("BATON_IAM_ASSUME_ROLE_NAME", "FromBaton")
        .env("ORGSYNC_MEMBER_ROLE_NAME", "FromEnv"));
    assert!(assume_resource(&out).ends_with(":role/FromEnv"));
    let out = run(policy().args(["--identity-center", "false"]));
    assert!(!policy_actions(&out).contains("sso:ListInstances"));

    // ORGSYNC_CONFIG names the file too.
    let out = run(orgsync("http://127.0.0.1:9")
        .env("ORGSYNC_CONFIG", &cfg)
        .args(["policy", "--read"]));
    assert!(
        assume_resource(&out).ends_with(":role/FromFile"),
        "{}",
        text(&out)
    );

    // Unknown keys and unreadable files are usage errors (exit 2), before anything runs.
    std::fs::write(&cfg, "member-role-nam: x\n").unwrap();
    let out = run(&mut policy());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key 'member-role-nam'"), "{err}");
    assert!(err.contains("did you mean 'member-role-name'"), "{err}");
    assert!(out.stdout.is_empty());
    let out = run(orgsync("http://127.0.0.1:9")
        .arg("--config")
        .arg(dir.path().join("missing.yaml"))
        .args(["policy", "--read"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // A bad value is reported like a bad ORGSYNC_* value.
    std::fs::write(&cfg, "concurrency: lots\n").unwrap();
    let out = run(orgsync("http://127.0.0.1:9")
        .arg("--config")
        .arg(&cfg)
        .arg("sync"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn config_file_drives_a_real_sync() {
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let target = dir.path().join("from-config.c1z");
    let cfg = dir.path().join("orgsync.yaml");
    std::fs::write(
        &cfg,
        format!(
            "file: {}\nsync-secrets: false\nconcurrency: 2\n",
            target.display()
        ),
    )
    .unwrap();
    let out = run(orgsync(&moto.endpoint())
        .arg("sync")
        .arg("--config")
        .arg(&cfg));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // `sync` (unlike `run`) ends with the summary on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Accounts: 1 ok") && stderr.contains("AWS calls"),
        "{stderr}"
    );
    let reader = C1zReader::open(&target).unwrap();
    let keys = support::resources_of(&reader, "access-key");
    assert!(keys.is_empty(), "sync-secrets: false from the file");
    assert_eq!(support::files_in(dir.path()).len(), 2);
}

/// The read policy covers every call a sync really makes (counted by the SDK interceptor).
#[test]
fn read_policy_covers_every_call_a_sync_makes() {
    let moto = Moto::start();
    moto.seed("org.json");
    let dir = support::tempdir();
    let summary = dir.path().join("summary.json");
    let out = run(orgsync(&moto.endpoint())
        .arg("sync")
        .arg("--file")
        .arg(dir.path().join("s.c1z"))
        .arg("--summary-json")
        .arg(&summary));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let calls: Vec<String> = s["aws_calls"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for c in [
        "organizations:ListRoots",
        "sts:AssumeRole",
        "iam:GetAccountAuthorizationDetails",
    ] {
        assert!(
            calls.iter().any(|x| x == c),
            "an org sync calls {c}: {calls:?}"
        );
    }
    // The sync ran with Identity Center on auto and found the instance.
    assert!(
        calls.iter().any(|c| c == "identitystore:ListUsers"),
        "{calls:?}"
    );
    // Plain `policy --read`: its default Identity Center mode is sync's (auto), so a role made
    // from it lets this default sync read Identity Center.
    let allowed = policy_actions(&run(
        orgsync("http://127.0.0.1:9").args(["policy", "--read"])
    ));
    for c in &calls {
        assert!(
            allowed.contains(c),
            "{c} is called but not in `orgsync policy --read`"
        );
    }
    // Only `off` (any spelling sync accepts) leaves Identity Center out.
    for (flag, ic) in [
        (&["--identity-center"][..], true),
        (&["--identity-center", "auto"][..], true),
        (&["--identity-center", "TRUE"][..], true),
        (&["--identity-center", "off"][..], false),
        (&["--identity-center", "false"][..], false),
    ] {
        let a = policy_actions(&run(orgsync("http://127.0.0.1:9")
            .args(["policy", "--read"])
            .args(flag)));
        assert_eq!(a.contains("sso:ListInstances"), ic, "{flag:?}");
    }
    let a = policy_actions(&run(orgsync("http://127.0.0.1:9")
        .env("BATON_GLOBAL_AWS_SSO_ENABLED", "false")
        .args(["policy", "--read"])));
    assert!(
        !a.contains("sso:ListInstances"),
        "sync's variable, sync's meaning"
    );
    let member = policy_actions(&run(
        orgsync("http://127.0.0.1:9").args(["policy", "--read", "--member"])
    ));
    for c in calls.iter().filter(|c| c.starts_with("iam:")) {
        assert!(member.contains(c), "{c} missing from the member policy");
    }
}

/// Statement id → actions of every statement in a CloudFormation template (both branches of
/// every `!If` included).
fn template_statements(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(v: &serde_yaml_ng::Value, out: &mut BTreeMap<String, BTreeSet<String>>) {
        use serde_yaml_ng::Value as V;
        match v {
            V::Mapping(m) => {
                if let (Some(V::String(sid)), Some(actions)) = (m.get("Sid"), m.get("Action")) {
                    let list: Vec<String> = match actions {
                        V::String(a) => vec![a.clone()],
                        V::Sequence(s) => s
                            .iter()
                            .filter_map(|a| a.as_str().map(String::from))
                            .collect(),
                        _ => vec![],
                    };
                    out.entry(sid.clone()).or_default().extend(list);
                }
                for (_, x) in m {
                    walk(x, out);
                }
            }
            V::Sequence(s) => s.iter().for_each(|x| walk(x, out)),
            V::Tagged(t) => walk(&t.value, out),
            _ => {}
        }
    }
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    walk(&doc, &mut out);
    out
}

fn cli_statements(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = run(orgsync("http://127.0.0.1:9").arg("policy").args(args));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Sid"].as_str().unwrap().to_string(),
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The templates grant exactly what `orgsync policy` prints (cfn-lint, run by `make test`,
/// checks that every action exists).
#[test]
fn cloudformation_templates_match_orgsync_policy() {
    let root = support::repo_root().join("deploy").join("cloudformation");
    assert_eq!(
        template_statements(&root.join("orgsync-management-role.yaml")),
        cli_statements(&["--read", "--write", "--identity-center"])
    );
    assert_eq!(
        template_statements(&root.join("orgsync-member-role.yaml")),
        cli_statements(&["--read", "--write", "--member"])
    );
}

/// `orgsync capabilities` prints the capability table of the library (whose tests hold it
/// to the provisioning parser and to the types a sync declares), in baton's spelling.
#[test]
fn capabilities_prints_the_capability_table() {
    let out = run(orgsync("http://127.0.0.1:9").arg("capabilities"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        c,
        serde_json::to_value(orgsync::model::capabilities::capabilities()).unwrap()
    );
    let types = c["resource_types"].as_array().unwrap();
    assert_eq!(types.len(), orgsync::model::types::ALL.len());
    let spelled = [
        "SYNC",
        "PROVISION",
        "ACCOUNT_PROVISIONING",
        "RESOURCE_DELETE",
    ];
    for t in types {
        for cap in t["capabilities"].as_array().unwrap() {
            assert!(spelled.contains(&cap.as_str().unwrap()), "{t}");
        }
    }
}

#[test]
fn the_example_config_file_is_valid() {
    let example = support::repo_root()
        .join("deploy")
        .join("orgsync.example.yaml");
    let out = run(orgsync("http://127.0.0.1:9")
        .arg("--config")
        .arg(&example)
        .args(["policy", "--read"]));
    assert!(
        assume_resource(&out).ends_with(":role/OrgSyncMember"),
        "{}",
        text(&out)
    );
    // `run` parses every value of it: the only complaint left is the one --no-file causes
    // after parsing.
    let out = run(orgsync("http://127.0.0.1:9")
        .arg("--config")
        .arg(&example)
        .args(["run", "--no-file"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-file needs --jsonl"), "{err}");
}

fn findings(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The finding of `check` about a target that contains `target`.
fn finding<'a>(doc: &'a serde_json::Value, check: &str, target: &str) -> &'a serde_json::Value {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["target"].as_str().unwrap().contains(target))
        .unwrap_or_else(|| panic!("no {check} finding for {target} in {doc:#}"))
}

#[test]
fn check_reports_an_unreachable_account_and_a_role_open_without_its_external_id() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let acct = |n: &str| manifest["accounts"][n].as_str().unwrap().to_string();
    let proxy = FaultProxy::start(&moto.endpoint());
    let mgmt_role = "arn:aws:iam::123456789012:role/OrgSyncManagement";
    let check = |extra: &[&str]| {
        run(orgsync(&proxy.url())
            .args(["check", "-o", "json", "--role-arn", mgmt_role])
            .args([
                "--external-id",
                "mgmt-ext",
                "--member-external-id",
                "member-ext",
            ])
            .args(extra))
    };

    // A healthy setup first: moto enforces no External ID, so every hop "works" without it.
    let out = check(&[]);
    let doc = findings(&out);
    assert_eq!(doc["failures"], 0, "{doc:#}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        finding(&doc, "organization", "123456789012")["status"],
        "ok"
    );
    assert_eq!(
        finding(&doc, "identity_center", "us-east-1")["status"],
        "ok"
    );
    assert_eq!(finding(&doc, "member_hop", "legacy")["status"], "skipped");
    assert!(
        finding(&doc, "organization", "123456789012")["detail"]
            .as_str()
            .unwrap()
            .ends_with(", 3 organizational units"),
        "{doc:#}"
    );
    // Identity Center finds the management account in what planning learnt.
    assert_eq!(proxy.count("organizations", "DescribeOrganization"), 1);
    // Identity Center is looked for with the sync's page size (ORGSYNC_IC_PAGE_SIZE).
    let list_instances_pages = |proxy: &FaultProxy| -> BTreeSet<Option<String>> {
        proxy
            .seen()
            .into_iter()
            .filter(|s| s.operation == "ListInstances")
            .map(|s| s.params.get("MaxResults").cloned())
            .collect()
    };
    assert_eq!(
        list_instances_pages(&proxy),
        BTreeSet::from([Some("100".to_string())])
    );
    proxy.clear_seen();
    let out = run(orgsync(&proxy.url())
        .env("ORGSYNC_IC_PAGE_SIZE", "7")
        .args(["check", "-o", "json", "--orgs", "off"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        list_instances_pages(&proxy),
        BTreeSet::from([Some("7".to_string())])
    );

    // Now: prod's role refuses the hop; every role but sandbox's (and the management role)
    // requires its External ID, as their trust policies would in AWS.
    let prod = acct("prod");
    let sandbox = acct("sandbox");
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account(&prod),
    );
    for account in [
        acct("dev"),
        acct("staging"),
        acct("security"),
        "123456789012".into(),
    ] {
        proxy.add(
            Rule::new(Fault::AccessDenied)
                .service("sts")
                .operation("AssumeRole")
                .account(&account)
                .missing_param("ExternalId"),
        );
    }
    proxy.clear_seen();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = findings(&out);
    assert_eq!(doc["failures"], 1, "{doc:#}");
    assert_eq!(doc["warnings"], 1, "{doc:#}");
    let broken = finding(&doc, "member_hop", &prod);
    assert_eq!(broken["status"], "fail");
    assert!(
        broken["detail"]
            .as_str()
            .unwrap()
            .contains("assume_role_denied"),
        "{broken}"
    );
    let fix = broken["fix"].as_str().unwrap();
    assert!(
        fix.contains(&format!(
            "arn:aws:iam::{prod}:role/OrganizationAccountAccessRole"
        )) && fix.contains("trust policy")
            && fix.contains("sts:ExternalId")
            && fix.contains(mgmt_role),
        "{fix}"
    );
    let open = finding(&doc, "external_id", &sandbox);
    assert_eq!(open["status"], "warn");
    assert!(
        open["detail"]
            .as_str()
            .unwrap()
            .contains("WITHOUT the External ID"),
        "{open}"
    );
    assert!(open["fix"].as_str().unwrap().contains("sts:ExternalId"));
    for name in ["dev", "staging", "security"] {
        assert_eq!(
            finding(&doc, "external_id", &acct(name))["status"],
            "ok",
            "{name}"
        );
        assert_eq!(
            finding(&doc, "iam_read", &acct(name))["status"],
            "ok",
            "{name}"
        );
    }
    assert_eq!(finding(&doc, "external_id", mgmt_role)["status"], "ok");
    assert_eq!(finding(&doc, "management_hop", mgmt_role)["status"], "ok");
    // The hops really went out with and without the External ID.
    let hops: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| {
            s.operation == "AssumeRole"
                && s.params
                    .get("RoleArn")
                    .is_some_and(|r| r.contains(&sandbox))
        })
        .map(|s| s.params.get("ExternalId").cloned())
        .collect();
    assert!(hops.contains(&Some("member-ext".into())), "{hops:?}");
    assert!(hops.contains(&None), "{hops:?}");
    // The management role is assumed exactly twice: once by the session (with its External
    // ID), once without it.
    let mut mgmt_hops: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| {
            s.operation == "AssumeRole"
                && s.params.get("RoleArn").map(String::as_str) == Some(mgmt_role)
        })
        .map(|s| s.params.get("ExternalId").cloned())
        .collect();
    mgmt_hops.sort();
    assert_eq!(mgmt_hops, vec![None, Some("mgmt-ext".to_string())]);

    // The table says the same, with the fixes, and --strict fails on the warning alone.
    let out = run(orgsync(&proxy.url())
        .args([
            "check",
            "--role-arn",
            mgmt_role,
            "--external-id",
            "mgmt-ext",
        ])
        .args([
            "--member-external-id",
            "member-ext",
            "--exclude-accounts",
            &prod,
        ]));
    assert_eq!(out.status.code(), Some(0), "only a warning: {}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("How to fix:"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains(&sandbox) && l.contains("warn")),
        "{table}"
    );
    let out = check(&["--exclude-accounts", &prod, "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = check(&["--exclude-accounts", &prod, "--identity-center", "off"]);
    let doc = findings(&out);
    assert!(
        !doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "identity_center"),
        "{doc:#}"
    );

    // The management role refuses the hop: the fix names the base identity, which its trust
    // policy must allow, and nothing after the hop is checked.
    proxy.clear_rules();
    proxy.add(
        Rule::new(Fault::AccessDenied)
            .service("sts")
            .operation("AssumeRole")
            .account("123456789012"),
    );
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = findings(&out);
    let creds = finding(&doc, "credentials", "base credentials");
    assert_eq!(creds["status"], "ok", "{doc:#}");
    let caller = creds["detail"]
        .as_str()
        .unwrap()
        .strip_prefix("caller arn:aws:")
        .map(|rest| format!("arn:aws:{rest}"))
        .unwrap_or_else(|| panic!("{creds}"));
    let hop = finding(&doc, "management_hop", mgmt_role);
    assert_eq!(hop["status"], "fail");
    let fix = hop["fix"].as_str().unwrap();
    assert!(
        fix.contains(&caller) && fix.contains("trust policy") && fix.contains("sts:ExternalId"),
        "{fix}"
    );
    assert_eq!(doc["findings"].as_array().unwrap().len(), 2, "{doc:#}");
}

#[test]
fn check_names_the_fix_for_missing_or_unusable_credentials() {
    let out = run(orgsync("http://127.0.0.1:9")
        .env("ORGSYNC_MAX_ATTEMPTS", "1")
        .args(["check", "-o", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = findings(&out);
    let f = finding(&doc, "credentials", "base credentials");
    assert_eq!(f["status"], "fail");
    assert!(
        f["fix"].as_str().unwrap().contains("AWS_ENDPOINT_URL"),
        "{f}"
    );
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1, "stops there");

    let out = run(orgsync("http://127.0.0.1:9")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["check", "-o", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = findings(&out);
    let f = finding(&doc, "credentials", "base credentials");
    assert!(f["fix"].as_str().unwrap().contains("AWS_PROFILE"), "{f}");
}

/// Every YAML document of the files in `dir`, by kind.
fn k8s_docs(dir: &Path) -> BTreeMap<String, serde_yaml_ng::Value> {
    let mut out = BTreeMap::new();
    for name in support::files_in(dir) {
        if !name.ends_with(".yaml") || name == "kustomization.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc).unwrap();
            let kind = v["kind"].as_str().unwrap().to_string();
            out.insert(kind, v);
        }
    }
    out
}

/// The Kubernetes manifests fit together and with the image, and orgsync accepts their
/// configuration (every key and value parsed; the only complaint is the --no-file added here).
#[test]
fn kubernetes_manifests_and_dockerfile_fit_together() {
    let dir = support::repo_root().join("deploy").join("kubernetes");
    let docs = k8s_docs(&dir);
    let sa = &docs["ServiceAccount"];
    assert!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::"),
        "IRSA annotation"
    );
    let cron = &docs["CronJob"];
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], "sync");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    let volumes = pod["volumes"].as_sequence().unwrap();
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .unwrap();
    assert_eq!(
        claim,
        docs["PersistentVolumeClaim"]["metadata"]["name"]
            .as_str()
            .unwrap()
    );
    let cm_name = volumes
        .iter()
        .find_map(|v| v["configMap"]["name"].as_str())
        .unwrap();
    assert_eq!(
        cm_name,
        docs["ConfigMap"]["metadata"]["name"].as_str().unwrap()
    );
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"] == "/data"));
    assert!(
        mounts.iter().any(|m| m["mountPath"] == "/tmp"),
        "read-only root: /tmp is a volume"
    );

    let tmp = support::tempdir();
    let cfg = tmp.path().join("orgsync.yaml");
    std::fs::write(
        &cfg,
        docs["ConfigMap"]["data"]["orgsync.yaml"].as_str().unwrap(),
    )
    .unwrap();
    let check_args = |args: Vec<String>| {
        let out = run(orgsync("http://127.0.0.1:9")
            .arg("--config")
            .arg(&cfg)
            .args(&args)
            .arg("--no-file"));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--no-file needs --jsonl"), "{args:?}: {err}");
    };
    let args_of = |c: &serde_yaml_ng::Value| -> Vec<String> {
        c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    check_args(args_of(c));
    let run_pod = &docs["Deployment"]["spec"]["template"]["spec"];
    let rc = &run_pod["containers"][0];
    assert_eq!(rc["args"][0], "run");
    assert_eq!(rc["livenessProbe"]["httpGet"]["path"], "/healthz");
    check_args(args_of(rc));

    // The Dockerfile copies what exists, runs as the user the manifests expect, and its
    // build inputs are not excluded by .dockerignore.
    let root = support::repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("USER 10001:10001"));
    let ignored = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for src in &words[1..words.len() - 1] {
            assert!(root.join(src).exists(), "Dockerfile copies missing {src}");
            let top = src.split('/').next().unwrap();
            assert!(
                !ignored.lines().any(|l| l.trim_end_matches('/') == top),
                ".dockerignore drops {src}"
            );
        }
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    if manifest.contains("[[bench]]") {
        assert!(
            dockerfile.contains("COPY benches"),
            "cargo reads bench targets"
        );
    }
}
