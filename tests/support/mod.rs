//! Test support shared by the integration tests: a moto server per test on a free loopback
//! port (from the project's virtualenv, see scripts/moto-env.sh), fixture seeding through
//! scripts/seed.py (boto3), the real `orgsync` binary with a clean AWS environment (and
//! `orgsync sync` with its summary JSON), fixtures and the seeder's manifest, and the
//! fault-injection proxy with its AWS-like throttling.

#![allow(dead_code)]

pub mod expect;
pub mod proxy;
pub mod records;
pub mod scim;
pub mod throttle;

use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of c1z files written by Go baton connectors (public repositories' files, kept
/// out of this repository; see `shared/fixtures/baton-c1z/README.md` beside the checkout):
/// `ORGSYNC_BATON_C1Z_DIR` when set, else `../shared/fixtures/baton-c1z` next to the checkout
/// when it exists. `None` (the caller prints that it skipped) when neither is there.
pub fn baton_corpus() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ORGSYNC_BATON_C1Z_DIR") {
        return Some(PathBuf::from(dir));
    }
    let beside = repo_root().join("../shared/fixtures/baton-c1z");
    beside.is_dir().then_some(beside)
}

fn venv_bin(name: &str) -> PathBuf {
    let p = repo_root().join(".venv").join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `scripts/moto-env.sh` (or `make test`, which does) to install the pinned moto server",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A moto server owned by one test; killed on drop (also when the test panics).
pub struct Moto {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Moto {
        let python = venv_bin("python");
        let wrapper = repo_root().join("scripts").join("moto-server.py");
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("orgsync-moto-{port}.log"));
            let logf = std::fs::File::create(&log).expect("moto log file");
            // scripts/moto-server.py runs moto_server with a small AWS-managed policy catalogue.
            let child = Command::new(&python)
                .arg(&wrapper)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_remove("MOTO_ACCOUNT_ID")
                .stdout(Stdio::null())
                .stderr(logf)
                .spawn()
                .expect("starting moto_server");
            let mut moto = Moto { child, port, log };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            // Port taken between probe and bind, or a slow start: try another port.
            let _ = moto.child.kill();
            let _ = moto.child.wait();
        }
        panic!("moto_server did not start");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if http_get(self.port, "/moto-api/").is_some_and(|(s, _)| (200..300).contains(&s)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process id (benchmarks read its CPU time from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Seeds `fixtures/<name>` and returns the seeder's manifest.
    pub fn seed(&self, fixture: &str) -> serde_json::Value {
        self.seed_with(fixture, std::iter::empty::<&str>())
    }

    /// Seeds `fixtures/<name>` with more `scripts/seed.py` arguments (e.g. `--region
    /// eu-west-1`) and returns the seeder's manifest.
    pub fn seed_with<S: AsRef<OsStr>>(
        &self,
        fixture: &str,
        extra: impl IntoIterator<Item = S>,
    ) -> serde_json::Value {
        let out = Command::new(venv_bin("python"))
            .arg(repo_root().join("scripts").join("seed.py"))
            .arg("--endpoint")
            .arg(self.endpoint())
            .arg(repo_root().join("fixtures").join(fixture))
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("running scripts/seed.py");
        assert!(
            out.status.success(),
            "seeding {fixture} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("seed.py prints a JSON manifest")
    }

    /// Seeds `fixtures/<name>` with moto's IAM enforcement on (`--enable-auth`); returns the
    /// manifest and the access key (`access_key_id`, `secret_access_key`) of the management
    /// account's `orgsync-admin` user, which the seeder writes to `dir/keys.json`.
    pub fn seed_with_auth(
        &self,
        fixture: &str,
        dir: &Path,
    ) -> (serde_json::Value, serde_json::Value) {
        let keys = dir.join("keys.json");
        let manifest = self.seed_with(
            fixture,
            [
                OsStr::new("--secrets-out"),
                keys.as_os_str(),
                OsStr::new("--enable-auth"),
            ],
        );
        let k: serde_json::Value = serde_json::from_slice(&std::fs::read(&keys).unwrap()).unwrap();
        (manifest, k["management/orgsync-admin"][0].clone())
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A bare HTTP GET on loopback: Some((status, body)) for any HTTP answer, None when nothing
/// answered.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The real binary with a clean AWS environment pointed at `endpoint`. `ORGSYNC_TEST_BIN`
/// names another build to test instead (e.g. an older one, to see a new test fail on it).
pub fn orgsync(endpoint: &str) -> Command {
    let bin = std::env::var_os("ORGSYNC_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_orgsync").into());
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("ORGSYNC_") || k.starts_with("BATON_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("ORGSYNC_LOG_FORMAT", "json")
        // Fast retries keep fault-injection tests quick.
        .env("ORGSYNC_RETRY_INITIAL_BACKOFF", "20ms")
        .env("ORGSYNC_RETRY_MAX_BACKOFF", "200ms")
        .env("ORGSYNC_NO_PROGRESS", "true")
        // The production default (4/s) paces Organizations calls; tests need not wait.
        .env("ORGSYNC_ORG_RATE_LIMIT", "100")
        .stdin(Stdio::null());
    c
}

/// Runs a command, returning its output; panics with stderr if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running orgsync")
}

/// stdout + stderr for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `orgsync sync --file OUT --summary-json <OUT with extension summary.json> EXTRA…` against
/// `endpoint`.
pub fn sync(endpoint: &str, out: &Path, extra: &[&str]) -> Output {
    sync_with(&mut orgsync(endpoint), out, extra)
}

/// [`sync`] with `cmd` (the binary with more environment, e.g. `orgsync(endpoint).env(…)`).
pub fn sync_with(cmd: &mut Command, out: &Path, extra: &[&str]) -> Output {
    run(cmd
        .arg("sync")
        .arg("--file")
        .arg(out)
        .arg("--summary-json")
        .arg(out.with_extension("summary.json"))
        .args(extra))
}

/// The summary JSON [`sync`] had written next to `out`.
pub fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.with_extension("summary.json")).unwrap()).unwrap()
}

/// AWS calls of operation `op` (`service:Operation`) in the summary of `out` (0 when none).
pub fn calls(out: &Path, op: &str) -> u64 {
    summary(out)["aws_calls"][op]["calls"].as_u64().unwrap_or(0)
}

/// The notes in the summary of `out`.
pub fn notes(out: &Path) -> Vec<String> {
    summary(out)["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The resources of type `resource_type` in a c1z.
pub fn resources_of(
    reader: &orgsync::store::c1z::C1zReader,
    resource_type: &str,
) -> Vec<orgsync::model::pb::Resource> {
    reader
        .resources(&orgsync::store::c1z::Filter {
            resource_type: Some(resource_type.into()),
            ..Default::default()
        })
        .unwrap()
}

/// The ids (`resource` part) of the resources of type `resource_type` in a c1z.
pub fn resource_ids<C: FromIterator<String>>(
    reader: &orgsync::store::c1z::C1zReader,
    resource_type: &str,
) -> C {
    resources_of(reader, resource_type)
        .into_iter()
        .map(|r| r.id.unwrap().resource)
        .collect()
}

/// `fixtures/<name>`, parsed.
pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("fixtures").join(name)).unwrap())
        .unwrap()
}

/// The ACTIVE accounts of fixtures/org.json, by fixture name.
pub const ACTIVE: [&str; 6] = [
    "management",
    "dev",
    "staging",
    "prod",
    "security",
    "sandbox",
];

/// The id of account `name` (a fixture name, or `management`) from the seeder's manifest.
pub fn account_id(manifest: &serde_json::Value, name: &str) -> String {
    if name == "management" {
        manifest["management_account"].as_str().unwrap().to_string()
    } else {
        manifest["accounts"][name].as_str().unwrap().to_string()
    }
}

/// A temp directory for one test's files (removed on drop).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("orgsync-test-")
        .tempdir()
        .expect("tempdir")
}

/// Files in `dir` (names), sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
