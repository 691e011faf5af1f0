//! Holding under faults, races and bad input (issue 15), each against the real binary, moto and
//! the fault proxy:
//! - one writer per output: a second run is refused while the first holds the lock (naming its
//!   pid and start time, with no AWS call), or waits for it with `--wait-lock`; the race is made
//!   deterministic by holding the first writer between writing and renaming (a debug-build hook);
//! - a SIGKILL during the write leaves a temp file and a scratch directory that the next run
//!   removes: nothing is left anywhere (the output's directory, `TMPDIR`);
//! - a table of bad identifiers over every flag, variable, `--config` key and `--account-config`
//!   key that takes one (and the provisioning commands): exit 2, no AWS request, the value
//!   named, stderr short for a huge value;
//! - a filter that selects no account fails (exit 1) and leaves the output, unless
//!   `--allow-empty`;
//! - an account throttled over and over gets a second pass and is complete;
//! - the summary's duration covers the whole run;
//! - `inspect` on a file without a sync names the file.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use orgsync::store::c1z::C1zReader;
use serde_json::Value;
use support::expect;
use support::proxy::{Fault, FaultProxy, Rule};
use support::{Moto, account_id, files_in, fixture, orgsync, run, summary, sync, sync_with, text};

/// The debug-build hook that holds a run between writing its first output and renaming it.
const HOLD: &str = "ORGSYNC_TEST_HOLD_BEFORE_RENAME";

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `orgsync sync --file out --summary-json <out>.summary.json EXTRA…`, spawned.
fn spawn_sync(cmd: &mut Command, out: &Path, extra: &[&str]) -> Child {
    cmd.arg("sync")
        .arg("--file")
        .arg(out)
        .arg("--summary-json")
        .arg(out.with_extension("summary.json"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting orgsync")
}

/// A child process killed when dropped (also when a test fails half-way).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd`, killing it after `limit`: its output, or None when it did not end in time.
fn run_for(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting orgsync");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: signalling a child process this test started and has not reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            true
        })
    };
    let out = child.wait_with_output().expect("waiting for orgsync");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let timed_out = watchdog.join().unwrap_or(true);
    (!timed_out).then_some(out)
}

/// Waits for a spawned run to end (at most a minute) and returns its output.
fn finish(child: Child) -> Output {
    child.wait_with_output().expect("waiting for orgsync")
}

/// Files under `dir`, recursively, as paths relative to it.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_second_writer_is_refused_or_waits_while_the_first_holds_the_output() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the hold hook exists in debug builds only");
        return;
    }
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let out = dir.path().join("out.c1z");
    std::fs::write(&out, b"previous").unwrap();
    let marker = dir.path().join("held");

    // The first writer stops after writing its temp file, before renaming it over out.c1z.
    let first = spawn_sync(orgsync(&moto.endpoint()).env(HOLD, &marker), &out, &[]);
    assert!(
        wait_until(Duration::from_secs(60), || marker.exists()),
        "the first run never reached its rename"
    );
    let temps: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("out.c1z.tmp-"))
        .collect();
    assert_eq!(temps.len(), 1, "{:?}", files_in(dir.path()));
    assert!(
        temps[0].starts_with(&format!("out.c1z.tmp-{}-", first.id())),
        "{temps:?}"
    );

    // A second writer of the same file: refused at once, naming the holder, no AWS request.
    let proxy = FaultProxy::start(&moto.endpoint());
    let t0 = Instant::now();
    let second = run(orgsync(&proxy.url()).arg("sync").arg("--file").arg(&out));
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(t0.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("pid {}, started 20", first.id())),
        "{err}"
    );
    assert!(err.contains("out.c1z"), "{err}");
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    // The first writer's files are untouched.
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    assert!(dir.path().join(&temps[0]).exists());

    // A third one waits for the lock, then runs.
    let waiting = spawn_sync(&mut orgsync(&proxy.url()), &out, &["--wait-lock", "2m"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(proxy.seen().is_empty(), "it waits before any AWS call");
    std::fs::remove_file(&marker).unwrap();
    let first = finish(first);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let waited = finish(waiting);
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited));
    assert!(!proxy.seen().is_empty());

    let reader = C1zReader::open(&out).unwrap();
    assert!(!reader.records().unwrap().is_empty());
    assert_eq!(
        files_in(dir.path()),
        vec!["out.c1z", "out.summary.json"],
        "no temp or lock file is left"
    );
}

/// `orgsync run` holds the output's lock for each scheduled run, not while it waits for the
/// next one.
#[test]
fn orgsync_run_holds_the_lock_during_a_run_only() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the hold hook exists in debug builds only");
        return;
    }
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let latest = dir.path().join("sync.c1z");
    let marker = dir.path().join("held");
    let log = dir.path().join("run.log");
    let mut runner = Killed(
        orgsync(&moto.endpoint())
            .env(HOLD, &marker)
            .args(["run", "--interval", "1h", "--file"])
            .arg(&latest)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(60), || marker.exists()));
    // During the run: a manual sync of the same file is refused, naming the scheduler.
    let o = run(orgsync(&moto.endpoint())
        .arg("sync")
        .arg("--file")
        .arg(&latest));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("pid {},", runner.0.id())), "{err}");
    std::fs::remove_file(&marker).unwrap();
    // Published, and the lock released while the scheduler waits an hour for the next run.
    assert!(
        wait_until(Duration::from_secs(60), || latest.exists()
            && !dir.path().join("sync.c1z.lock").exists()),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let o = run(orgsync(&moto.endpoint())
        .arg("sync")
        .arg("--file")
        .arg(&latest));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // SAFETY: signalling a child process this test started.
    unsafe {
        libc::kill(runner.0.id() as i32, libc::SIGTERM);
    }
    assert_eq!(runner.0.wait().unwrap().code(), Some(0));
    assert!(
        files_in(dir.path())
            .iter()
            .all(|f| !f.contains(".tmp-") && !f.ends_with(".lock")),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn a_sigkill_during_the_write_leaves_nothing_once_the_next_run_is_done() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the hold hook exists in debug builds only");
        return;
    }
    let moto = Moto::start();
    moto.seed("single-account.json");
    let dir = support::tempdir();
    let outdir = dir.path().join("out");
    let tmpdir = dir.path().join("tmp");
    std::fs::create_dir_all(&outdir).unwrap();
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = outdir.join("sync.c1z");
    std::fs::write(&out, b"previous").unwrap();
    let marker = dir.path().join("held");

    let mut killed = spawn_sync(
        orgsync(&moto.endpoint())
            .env("TMPDIR", &tmpdir)
            .env(HOLD, &marker),
        &out,
        &["--jsonl", outdir.join("sync.jsonl").to_str().unwrap()],
    );
    assert!(wait_until(Duration::from_secs(60), || marker.exists()));
    killed.kill().unwrap(); // SIGKILL mid-write: no cleanup code runs
    killed.wait().unwrap();
    std::fs::remove_file(&marker).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let pid = killed.id();
    let left = files_in(&outdir);
    assert!(
        left.iter()
            .any(|f| f.starts_with(&format!("sync.c1z.tmp-{pid}-"))),
        "{left:?}"
    );
    assert!(
        left.iter()
            .any(|f| f.starts_with(&format!("sync.jsonl.tmp-{pid}-"))),
        "{left:?}"
    );
    let scratch = files_in(&tmpdir);
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    assert!(
        scratch[0].starts_with(&format!("orgsync-{pid}-")),
        "{scratch:?}"
    );

    // The next run cleans up after it, and leaves nothing of its own.
    let o = sync_with(
        orgsync(&moto.endpoint()).env("TMPDIR", &tmpdir),
        &out,
        &["--jsonl", outdir.join("sync.jsonl").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        files_in(&outdir),
        vec!["sync.c1z", "sync.jsonl", "sync.summary.json"]
    );
    assert_eq!(tree(&tmpdir), Vec::<String>::new());
    assert!(!C1zReader::open(&out).unwrap().records().unwrap().is_empty());
}

/// How a bad value reaches orgsync.
enum Via {
    /// Command-line arguments (the subcommand first).
    Args(Vec<String>),
    /// An environment variable and its value, with the subcommand's arguments.
    Env(&'static str, String, Vec<String>),
    /// A `--config` file of `key: value` (YAML), for `orgsync sync`.
    Config(String),
    /// An `--account-config` file (YAML), for `orgsync sync`.
    AccountConfig(String),
}

struct Case {
    via: Via,
    /// What stderr must contain (the value, or its first characters).
    named: String,
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn flag(sub: &[&str], flag: &str, value: &str) -> Case {
    let mut a = args(sub);
    a.push(format!("--{flag}={value}"));
    Case {
        via: Via::Args(a),
        named: named(value),
    }
}

fn env(sub: &[&str], var: &'static str, value: &str) -> Case {
    Case {
        via: Via::Env(var, value.to_string(), args(sub)),
        named: named(value),
    }
}

fn config(key: &str, value: &str) -> Case {
    Case {
        via: Via::Config(format!("{key}: '{}'\n", value.replace('\'', "''"))),
        named: named(value),
    }
}

fn account_config(yaml: String, named_value: &str) -> Case {
    Case {
        via: Via::AccountConfig(yaml),
        named: named(named_value),
    }
}

/// The part of a value an error must show: all of a short one, the start of a long one.
fn named(value: &str) -> String {
    value.chars().take(40).collect()
}

const GOOD_ROLE_ARN: &str = "arn:aws:iam::111122223333:role/OrgSyncReader";
const GROUP: &str = "arn:aws:iam::111122223333:group/devs";
const USER: &str = "arn:aws:iam::111122223333:user/bob";
const UUID: &str = "3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b";
const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";

fn bad_values() -> Vec<Case> {
    let sync = ["sync"];
    let big = "x".repeat(100_000); // argv and environment strings stop at 128 KiB
    let huge = "x".repeat(1 << 20);
    let long_role = "r".repeat(65);
    let revoke_group = |user: &str| {
        args(&[
            "revoke",
            "--grant",
            &format!("group:{GROUP}:member:iam_user:{user}"),
        ])
    };
    let sso = |store: &str, kind: &str, id: &str| {
        format!("arn:aws:identitystore:us-east-1::{store}/{kind}/{id}")
    };
    let mut cases = vec![
        // --role-arn: kind, partition, account, region, name characters and length, path.
        flag(&sync, "role-arn", "arn:aws:iam::111122223333:user/bob"),
        flag(&sync, "role-arn", "arn:aws-xx:iam::111122223333:role/r"),
        flag(&sync, "role-arn", "arn:aws:iam::11112222333:role/r"),
        flag(&sync, "role-arn", "arn:aws:iam::11112222333a:role/r"),
        flag(
            &sync,
            "role-arn",
            "arn:aws:iam:us-east-1:111122223333:role/r",
        ),
        flag(
            &sync,
            "role-arn",
            "arn:aws:iam::111122223333:role/bad😀role",
        ),
        flag(
            &sync,
            "role-arn",
            &format!("arn:aws:iam::111122223333:role/{long_role}"),
        ),
        flag(
            &sync,
            "role-arn",
            "arn:aws:iam::111122223333:role/a b/Reader",
        ),
        flag(&sync, "role-arn", "arn:aws:iam::111122223333:role/"),
        flag(&sync, "role-arn", "not-an-arn"),
        flag(
            &sync,
            "role-arn",
            &format!("arn:aws:iam::111122223333:role/{big}"),
        ),
        // --external-id: 2-1224 of [\w+=,.@:/-].
        flag(&sync, "external-id", "x"),
        flag(&sync, "external-id", "has space"),
        flag(&sync, "external-id", "semi;colon"),
        flag(&sync, "external-id", "naïve-id"),
        flag(&sync, "external-id", &"e".repeat(1225)),
        flag(&sync, "external-id", &big),
        // --session-name: 2-64 of [\w+=,.@-].
        flag(&sync, "session-name", "s"),
        flag(&sync, "session-name", "with:colon"),
        flag(&sync, "session-name", "with/slash"),
        flag(&sync, "session-name", &"s".repeat(65)),
        // --region.
        flag(&sync, "region", "europe"),
        flag(&sync, "region", "US-EAST-1"),
        flag(&sync, "region", "us-east-1;x"),
        flag(&sync, "region", "us_east_1"),
        // --member-role-name: name (and path) rules.
        flag(&sync, "member-role-name", "bad role!"),
        flag(&sync, "member-role-name", &long_role),
        flag(&sync, "member-role-name", "ops/ /Reader"),
        flag(&sync, "member-role-name", "Reader😀"),
        // --member-external-id.
        flag(&sync, "member-external-id", "m"),
        flag(&sync, "member-external-id", "a b"),
        // --accounts / --exclude-accounts: 12 digits; a list naming nothing.
        flag(&sync, "accounts", "12345"),
        flag(&sync, "accounts", "111122223333,abc"),
        flag(&sync, "accounts", ","),
        flag(&sync, "exclude-accounts", "1111222233334"),
        // --ous: ou-[0-9a-z]{4,32}-[0-9a-z]{8,32} or r-[0-9a-z]{4,32}.
        flag(&sync, "ous", "ou-bad"),
        flag(&sync, "ous", "engineering"),
        flag(&sync, "ous", "ou-AB12-34567890"),
        flag(&sync, "ous", "ou-ab12-3456789"),
        flag(&sync, "ous", "r-ab1"),
        // Identity Center.
        flag(&sync, "sso-region", "eu_west_1"),
        flag(&sync, "sso-region", "eu-west"),
        flag(
            &sync,
            "ic-instance-arn",
            "arn:aws:sso:::instance/ssoins-123",
        ),
        flag(&sync, "ic-instance-arn", GOOD_ROLE_ARN),
        // The same flags through their variables (and baton-aws's aliases).
        env(
            &sync,
            "ORGSYNC_ROLE_ARN",
            "arn:aws:iam::111122223333:role/a:b",
        ),
        env(&sync, "BATON_ROLE_ARN", "arn:aws:iam::111122223333:group/g"),
        env(&sync, "BATON_GLOBAL_ROLE_ARN", "arn:aws:iam::12:role/r"),
        env(&sync, "ORGSYNC_EXTERNAL_ID", "ext id"),
        env(&sync, "BATON_EXTERNAL_ID", "e"),
        env(&sync, "ORGSYNC_SESSION_NAME", "a"),
        env(&sync, "ORGSYNC_SESSION_NAME", &big),
        env(&sync, "ORGSYNC_REGION", "moon-base-1a"),
        env(&sync, "BATON_GLOBAL_REGION", "Moon"),
        env(&sync, "ORGSYNC_MEMBER_ROLE_NAME", "no spaces allowed"),
        env(&sync, "BATON_IAM_ASSUME_ROLE_NAME", "role#1"),
        env(&sync, "ORGSYNC_MEMBER_EXTERNAL_ID", "é!"),
        env(&sync, "ORGSYNC_ACCOUNTS", "1234567890123"),
        env(&sync, "ORGSYNC_EXCLUDE_ACCOUNTS", "twelve-chars"),
        env(&sync, "ORGSYNC_OUS", "ou-ab12-34567890,ou-x"),
        env(&sync, "ORGSYNC_SSO_REGION", "eu-west-1 "),
        env(&sync, "BATON_GLOBAL_AWS_SSO_REGION", "EU"),
        env(&sync, "ORGSYNC_IC_INSTANCE_ARN", "arn:aws:sso:::instance/x"),
        // The --config file.
        config("role-arn", "arn:aws:iam::111122223333:role/r r"),
        config("external-id", "1"),
        config("session-name", "session name"),
        config("region", "xx"),
        config("member-role-name", "a/b/c/ d"),
        config("member-external-id", "tab\there"),
        config("accounts", "111122223333, 42"),
        config("exclude-accounts", "4444555566667777"),
        config("ous", "ou-ab12"),
        config("sso-region", "us-east-1-"),
        config("ic-instance-arn", "ssoins-1234567890abcdef"),
        config(
            "role-arn",
            &format!("arn:aws:iam::111122223333:role/{huge}"),
        ),
        config("external-id", &huge),
        // The --account-config file: OU and account keys, role names and External IDs.
        account_config("ous:\n  ou-bad:\n    skip: true\n".into(), "ou-bad"),
        account_config(
            "ous:\n  engineering:\n    skip: true\n".into(),
            "engineering",
        ),
        account_config("accounts:\n  '12345':\n    skip: true\n".into(), "12345"),
        account_config("defaults:\n  role_name: 'bad role!'\n".into(), "bad role!"),
        account_config("defaults:\n  external_id: 'x'\n".into(), "'x'"),
        account_config(
            format!("ous:\n  ou-ab12-34567890:\n    role_name: {long_role}\n"),
            &long_role,
        ),
        account_config(
            "ous:\n  r-ab12:\n    external_id: 'has space'\n".into(),
            "has space",
        ),
        account_config(
            "accounts:\n  '111122223333':\n    role_name: 'a😀'\n".into(),
            "a😀",
        ),
        account_config(
            "defaults:\n  role_name: 'ops/a b/Reader'\n".into(),
            "ops/a b/Reader",
        ),
        account_config(
            format!("accounts:\n  '111122223333':\n    external_id: '{huge}'\n"),
            &huge,
        ),
        account_config(format!("accounts:\n  '{huge}':\n    skip: true\n"), &huge),
        // check and run take the same flags.
        flag(&["check"], "role-arn", "arn:aws:iam::111122223333:role/😀"),
        flag(&["check"], "ous", "ou-"),
        flag(&["run", "--interval", "1h"], "external-id", "!"),
        flag(&["run", "--interval", "1h"], "member-role-name", "/"),
        // Provisioning: IAM names in entitlement and principal ids, identity-store ids,
        // permission sets, and the write role's flags.
        Case {
            via: Via::Args(revoke_group(&format!("{USER}😀"))),
            named: "bob😀".into(),
        },
        Case {
            via: Via::Args(revoke_group("arn:aws:iam::111122223333:user/bob smith")),
            named: "bob smith".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                &format!("group:{GROUP}:member"),
                "--principal-type",
                "iam_user",
                "--principal",
                &format!("arn:aws:iam::111122223333:user/{}", "u".repeat(65)),
            ])),
            named: "uuuuuuuu".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                "group:arn:aws:iam::111122223333:group/dev$:member",
                "--principal-type",
                "iam_user",
                "--principal",
                USER,
            ])),
            named: "dev$".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                "iam_policy:arn:aws:iam::111122223333:policy/p p:attached",
                "--principal-type",
                "iam_user",
                "--principal",
                USER,
            ])),
            named: "p p".into(),
        },
        Case {
            via: Via::Args(args(&[
                "revoke",
                "--grant",
                &format!("inline_policy:{USER}::inline::po licy:attached:iam_user:{USER}"),
            ])),
            named: "po licy".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                &format!("sso_group:{}:member", sso("d-123", "group", UUID)),
                "--principal-type",
                "sso_user",
                "--principal",
                &sso("d-123", "user", UUID),
            ])),
            named: "d-123".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                &format!("111122223333|{PS}"),
                "--principal-type",
                "sso_user",
                "--principal",
                &sso("d-1234567890", "user", "u-1"),
            ])),
            named: "u-1".into(),
        },
        Case {
            via: Via::Args(args(&[
                "grant",
                "--entitlement",
                "111122223333|arn:aws:sso:::permissionSet/ssoins-1/ps-2",
                "--principal-type",
                "sso_group",
                "--principal",
                &sso("d-1234567890", "group", UUID),
            ])),
            named: "ssoins-1/ps-2".into(),
        },
        Case {
            via: Via::Args(args(&[
                "revoke",
                "--grant",
                "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
            ])),
            named: "zzzzzzzz-zzzz".into(),
        },
        Case {
            via: Via::Args(args(&[
                "create-user",
                "--type",
                "iam_user",
                "--user-name",
                "bob😀",
            ])),
            named: "bob😀".into(),
        },
        Case {
            via: Via::Args(args(&[
                "create-user",
                "--type",
                "iam_user",
                "--user-name",
                "bob",
                "--path",
                "eng",
            ])),
            named: "eng".into(),
        },
        flag(
            &["create-user", "--type", "iam_user", "--user-name", "bob"],
            "account",
            "12345",
        ),
        flag(
            &[
                "create-user",
                "--type",
                "sso_user",
                "--given-name",
                "Ann",
                "--family-name",
                "Example",
            ],
            "user-name",
            "ann example",
        ),
        flag(
            &[
                "create-user",
                "--type",
                "sso_user",
                "--user-name",
                "ann",
                "--given-name",
                "Ann",
                "--family-name",
                "Example",
            ],
            "identity-store-id",
            "d-123",
        ),
        Case {
            via: Via::Args(args(&[
                "delete-resource",
                "--resource-type",
                "iam_user",
                "--resource",
                "arn:aws:iam::111122223333:user/bob😀",
            ])),
            named: "bob😀".into(),
        },
        Case {
            via: Via::Args(args(&[
                "delete-resource",
                "--resource-type",
                "sso_user",
                "--resource",
                &sso("d-1234567890", "user", "u-1"),
            ])),
            named: "u-1".into(),
        },
    ];
    let revoke = revoke_group(USER);
    let with = |extra: &[&str]| {
        let mut a = revoke.clone();
        a.extend(args(extra));
        a
    };
    for (f, v) in [
        ("provisioning-role-name", "bad role"),
        ("provisioning-external-id", "x"),
        ("provisioning-role-arn", "arn:aws:iam::111122223333:user/x"),
        ("member-role-name", "r😀"),
        ("member-external-id", "a b"),
        ("sso-region", "eu_west"),
        ("region", "Mars"),
        ("external-id", "?"),
    ] {
        cases.push(Case {
            via: Via::Args(with(&[&format!("--{f}={v}")])),
            named: named(v),
        });
    }
    let bad_arn = "arn:aws:iam::111122223333:role/x y";
    cases.push(Case {
        via: Via::Env(
            "ORGSYNC_PROVISIONING_ROLE_ARN",
            bad_arn.into(),
            revoke.clone(),
        ),
        named: bad_arn.into(),
    });
    cases
}

#[test]
fn bad_identifiers_are_refused_before_any_aws_call_naming_the_value() {
    let dir = support::tempdir();
    // Nothing must reach AWS: the proxy counts every request (its upstream does not exist).
    let proxy = FaultProxy::start("http://127.0.0.1:9");
    let cases = bad_values();
    assert!(cases.len() >= 80, "{} cases", cases.len());
    eprintln!("{} bad values", cases.len());
    let mut failures = vec![];
    for (i, case) in cases.iter().enumerate() {
        let mut cmd = orgsync(&proxy.url());
        cmd.env("ORGSYNC_MAX_ATTEMPTS", "1")
            .env("ORGSYNC_FILE", dir.path().join(format!("{i}.c1z")));
        let label = match &case.via {
            Via::Args(a) => {
                cmd.args(a);
                format!("args {}", named(&a.join(" ")))
            }
            Via::Env(var, value, a) => {
                cmd.env(var, value).args(a);
                format!("{var}={} with {}", named(value), a.join(" "))
            }
            Via::Config(yaml) => {
                let path = dir.path().join(format!("{i}.yaml"));
                std::fs::write(&path, yaml).unwrap();
                cmd.arg("--config").arg(&path).arg("sync");
                format!("--config {}", named(yaml))
            }
            Via::AccountConfig(yaml) => {
                let path = dir.path().join(format!("{i}.accounts.yaml"));
                std::fs::write(&path, yaml).unwrap();
                cmd.arg("sync").arg("--account-config").arg(&path);
                format!("--account-config {}", named(yaml))
            }
        };
        proxy.clear_seen();
        let Some(o) = run_for(&mut cmd, Duration::from_secs(30)) else {
            failures.push(format!("#{i} {label}: did not exit within 30 s"));
            continue;
        };
        let err = String::from_utf8_lossy(&o.stderr);
        let requests = proxy.seen().len();
        let problem = if o.status.code() != Some(2) {
            Some(format!("exit {:?}", o.status.code()))
        } else if requests != 0 {
            Some(format!("{requests} AWS requests"))
        } else if !err.contains(&case.named) {
            Some("the value is not named".into())
        } else if err.len() > 4096 {
            Some(format!("{} bytes of stderr", err.len()))
        } else {
            None
        };
        if let Some(p) = problem {
            failures.push(format!(
                "#{i} {label}: {p}\n    stderr: {}",
                err.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad values were not refused as they should be:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_filter_that_selects_no_account_fails_and_leaves_the_output_unless_allowed() {
    let moto = Moto::start();
    moto.seed("org.json");
    let dir = support::tempdir();
    let out = dir.path().join("org.c1z");
    std::fs::write(&out, b"previous").unwrap();
    for filter in [
        ["--accounts", "999999999999"],
        ["--ous", "ou-zzzz-zzzzzzzz"],
    ] {
        let o = sync(&moto.endpoint(), &out, &filter);
        assert_eq!(o.status.code(), Some(1), "{filter:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(filter[1]), "{err}");
        assert!(err.contains("select no account"), "{err}");
        assert!(err.contains("--allow-empty"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"previous");
        assert_eq!(files_in(dir.path()), vec!["org.c1z"]);
    }
    // Allowed: a sync of the organization's structure without accounts.
    let o = sync(
        &moto.endpoint(),
        &out,
        &["--accounts", "999999999999", "--allow-empty"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["accounts"], Value::Array(vec![]), "{s:#}");
    assert!(C1zReader::open(&out).is_ok());
}

#[test]
fn an_account_throttled_over_and_over_gets_a_second_pass_and_is_complete() {
    let moto = Moto::start();
    let manifest = moto.seed("org.json");
    let fx = fixture("org.json");
    let dev = account_id(&manifest, "dev");
    let proxy = FaultProxy::start(&moto.endpoint());
    // Every request of dev is throttled until 10 have been: its hop fails after the retry
    // budget (10 attempts) in the first pass, and succeeds in the second.
    proxy.add(Rule::new(Fault::Throttle).account(&dev).limit(10));
    let dir = support::tempdir();
    let out = dir.path().join("storm.c1z");
    let o = sync_with(
        orgsync(&proxy.url()).env("ORGSYNC_SECOND_PASS_PAUSE", "200ms"),
        &out,
        &["--identity-center", "off"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(proxy.injected(), vec![10]);
    let s = summary(&out);
    let accounts = s["accounts"].as_array().unwrap();
    assert!(accounts.iter().all(|a| a["status"] != "failed"), "{s:#}");
    let d = accounts
        .iter()
        .find(|a| a["account_id"] == dev.as_str())
        .unwrap();
    assert_eq!(d["second_pass"]["after"], "throttled", "{d}");
    assert_eq!(
        accounts
            .iter()
            .filter(|a| a.get("second_pass").is_some())
            .count(),
        1
    );
    assert_eq!(s["second_pass"]["accounts"], 1, "{s:#}");
    assert_eq!(s["second_pass"]["recovered"], 1, "{s:#}");
    // The c1z's own stats say so too.
    let reader = C1zReader::open(&out).unwrap();
    let stats = reader.sync().stats.clone().unwrap();
    assert_eq!(stats["orgsync"]["second_pass"]["recovered"], 1, "{stats:#}");
    // Complete: every account's IAM records, dev's included.
    let mut want = expect::Expected::default();
    for n in support::ACTIVE {
        want.merge(expect::expected_account(&fx, &manifest, n));
    }
    expect::assert_same(&expect::iam_only(expect::actual(&reader)), &want);
}

#[test]
fn the_summary_duration_covers_the_whole_run() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the hold hook exists in debug builds only");
        return;
    }
    let moto = Moto::start();
    moto.seed("org.json");
    let proxy = FaultProxy::start(&moto.endpoint());
    let slow = Duration::from_millis(1500);
    // Connecting, the organization phase and the write each take 1.5 s more.
    proxy.add(
        Rule::new(Fault::Latency(slow))
            .service("sts")
            .operation("GetCallerIdentity"),
    );
    proxy.add(
        Rule::new(Fault::Latency(slow))
            .service("organizations")
            .operation("DescribeOrganization"),
    );
    let dir = support::tempdir();
    let out = dir.path().join("timed.c1z");
    let marker = dir.path().join("held");
    let t0 = Instant::now();
    let child = spawn_sync(
        orgsync(&proxy.url()).env(HOLD, &marker),
        &out,
        &["--identity-center", "off"],
    );
    assert!(wait_until(Duration::from_secs(120), || marker.exists()));
    std::thread::sleep(slow);
    std::fs::remove_file(&marker).unwrap();
    let o = finish(child);
    let wall = t0.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reported = Duration::from_millis(summary(&out)["duration_ms"].as_u64().unwrap());
    assert!(reported >= slow * 3, "{reported:?} < 3 × {slow:?}");
    assert!(
        reported + Duration::from_millis(1000) >= wall,
        "reported {reported:?}, measured {wall:?}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let shown: f64 = err
        .split("Duration: ")
        .nth(1)
        .and_then(|t| t.split('s').next())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no duration in {err}"));
    assert!(
        shown >= reported.as_secs_f64() - 0.1,
        "{shown} vs {reported:?}"
    );
}

#[test]
fn inspect_names_a_file_that_holds_no_sync() {
    let dir = support::tempdir();
    let db = dir.path().join("empty.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(orgsync::store::c1z::DDL).unwrap();
    drop(conn);
    let mut bytes = orgsync::store::c1z::MAGIC.to_vec();
    bytes.extend(zstd::encode_all(std::fs::File::open(&db).unwrap(), 3).unwrap());
    let file: PathBuf = dir.path().join("no-sync.c1z");
    std::fs::write(&file, bytes).unwrap();
    let o = run(orgsync("http://127.0.0.1:9")
        .args(["inspect", "stats", "--file"])
        .arg(&file));
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("no sync"), "{err}");
}
