//! A real SCIM 2.0 server for tests: `scim2-server` from PyPI (scripts/requirements-scim.txt,
//! installed into .venv by `scripts/moto-env.sh --with-scim`), on a free loopback port, with a
//! static bearer token and a page size small enough to make a client page. Killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, repo_root};

/// How the server pages lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// RFC 7644 index paging only (`startIndex`/`count`): a `cursor` query is refused (501).
    Index,
    /// RFC 9865 cursor paging by default (`cursor`/`nextCursor`), index paging too.
    Cursor,
}

pub struct ScimServer {
    child: Child,
    pub port: u16,
    token: String,
    _dir: tempfile::TempDir,
}

impl ScimServer {
    /// Starts scim2-server accepting `token`, at most `page_size` results a page.
    pub fn start(token: &str, page_size: usize, paging: Paging) -> ScimServer {
        let bin = repo_root().join(".venv").join("bin").join("scim2-server");
        assert!(
            bin.exists(),
            "{} is missing: run `scripts/moto-env.sh --with-scim` (or `make test`, which does)",
            bin.display()
        );
        let mut config = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": page_size},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
        });
        if paging == Paging::Cursor {
            config["pagination"] = serde_json::json!({
                "cursor": true, "index": true, "defaultPaginationMethod": "cursor",
                "defaultPageSize": page_size, "maxPageSize": page_size, "cursorTimeout": 3600,
            });
        }
        for _attempt in 0..3 {
            let dir = super::tempdir();
            let config_path = dir.path().join("service-provider-config.json");
            std::fs::write(&config_path, config.to_string()).unwrap();
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("scim.log")).unwrap();
            let child = Command::new(&bin)
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
                .args(["--bearer-token", token])
                .arg("--service-provider-config")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting scim2-server");
            let mut s = ScimServer {
                child,
                port,
                token: token.to_string(),
                _dir: dir,
            };
            if s.wait_ready(Duration::from_secs(30)) {
                return s;
            }
            // Port taken between probe and bind, or a slow start: drop kills it; try again.
        }
        panic!("scim2-server did not start");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self
                .request("GET", "/v2/ServiceProviderConfig", None)
                .is_some()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The SCIM base URL (`--ic-scim-endpoint`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }

    /// One request with the token; Some((status, body)) for any HTTP answer.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let body = body.unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.token,
            body.len()
        )
        .ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        let status = buf.split(' ').nth(1)?.parse().ok()?;
        let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
        Some((status, body))
    }

    /// Creates a SCIM user; returns its SCIM id.
    pub fn add_user(&self, user_name: &str, external_id: Option<&str>, active: bool) -> String {
        let mut user = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "active": active,
        });
        if let Some(x) = external_id {
            user["externalId"] = x.into();
        }
        let (status, body) = self
            .request("POST", "/v2/Users", Some(&user.to_string()))
            .expect("scim2-server answers");
        assert_eq!(status, 201, "creating SCIM user {user_name}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["id"].as_str().unwrap().to_string()
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
