//! `orgsync report --html` on a real sync of fixtures/single-account.json (moto) plus a role
//! trusting an account outside the organization, through the real binary, then opened in a
//! real headless browser (Debian's chromium, found or installed by scripts/browser-env.sh; the
//! test fails, not skips, without it):
//!
//! - the page loads with nothing on the browser console (and the console check itself is shown
//!   to catch a script error, on a copy of the page with one injected);
//! - its tables hold exactly what the fixture says: console users without MFA, access keys
//!   unused (never used here), roles trusting outside principals; per account, the principals
//!   `orgsync access --account` finds, admins exactly those of `orgsync access --admin`;
//! - `report.html#q=alice` shows only alice's rows (the page's own search, run by the browser);
//! - a screenshot is produced and is much larger than one of an empty page;
//! - bad input: one line, exit 2, the previous page untouched, nothing else written.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Moto, files_in, fixture, orgsync, run, sync, tempdir, text};

/// The chromium binary scripts/browser-env.sh finds (or installs as root on Debian).
fn chromium() -> PathBuf {
    let out = Command::new(support::repo_root().join("scripts/browser-env.sh"))
        .arg("--quiet")
        .output()
        .expect("running scripts/browser-env.sh");
    assert!(
        out.status.success(),
        "no headless browser for the report test (run `make test` as root on Debian, or install chromium):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!path.is_empty(), "browser-env.sh printed no path");
    PathBuf::from(path)
}

/// Runs headless chromium on `url` with `args`, with its own profile directory, killed after
/// 90 s; returns (stdout, stderr).
fn browse(chrome: &Path, dir: &Path, url: &str, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The browser console's messages in chromium's log (`…:CONSOLE…] "message", source: …`):
/// the page logs nothing itself, so any message is an error, a CSP refusal or a warning.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// One `tr.p` row of the dumped DOM: its section id, `data-who`, admin class and hidden state.
#[derive(Debug, Clone)]
struct Row {
    section: String,
    who: String,
    admin: bool,
    hidden: bool,
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn has_attr(tag: &str, name: &str) -> bool {
    tag.contains(&format!(" {name}=\"")) || tag.contains(&format!(" {name}>"))
}

fn rows(dom: &str) -> Vec<Row> {
    let mut out = vec![];
    for section in dom.split("<section").skip(1) {
        let tag_end = section.find('>').unwrap();
        let id = attr(&section[..tag_end], "id").unwrap_or("").to_string();
        for tr in section.split("<tr").skip(1) {
            let tag = &tr[..tr.find('>').unwrap()];
            let Some(class) = attr(tag, "class") else {
                continue;
            };
            let classes: Vec<&str> = class.split(' ').collect();
            if !classes.contains(&"p") {
                continue;
            }
            out.push(Row {
                section: id.clone(),
                who: attr(tag, "data-who")
                    .unwrap()
                    .replace("&amp;", "&")
                    .replace("&quot;", "\""),
                admin: classes.contains(&"admin"),
                hidden: has_attr(tag, "hidden"),
            });
        }
    }
    out
}

fn whos(rows: &[Row], section: &str) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.section == section)
        .map(|r| r.who.clone())
        .collect()
}

/// `orgsync access … -o json` principals (`type:id`).
fn access_principals(file: &Path, args: &[&str]) -> BTreeSet<String> {
    let o = run(orgsync("http://127.0.0.1:9")
        .arg("access")
        .arg("-f")
        .arg(file)
        .args(args)
        .args(["-o", "json"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["principal"]["type"].as_str().unwrap(),
                r["principal"]["id"].as_str().unwrap()
            )
        })
        .collect()
}

/// The PNG's width and height (IHDR).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn boto3(moto: &Moto, script: &str) {
    let out = Command::new(support::repo_root().join(".venv/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\niam = boto3.client('iam', **kw)\n{script}",
            moto.endpoint()
        ))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn report(file: &Path, html: &Path, extra: &[&str]) -> Output {
    run(orgsync("http://127.0.0.1:9")
        .arg("report")
        .arg("-f")
        .arg(file)
        .arg("--html")
        .arg(html)
        .args(extra))
}

/// The fixture's users (name → ARN), with the management account id substituted.
fn user_arn(account: &str, u: &Value) -> String {
    format!(
        "arn:aws:iam::{account}:user{}{}",
        u["path"].as_str().unwrap_or("/"),
        u["name"].as_str().unwrap()
    )
}

#[test]
fn the_report_page_in_a_real_browser() {
    let chrome = chromium();
    let moto = Moto::start();
    let manifest = moto.seed("single-account.json");
    let account = manifest["management_account"].as_str().unwrap().to_string();
    // An account outside the organization (no such account in the sync) trusted by a role.
    boto3(
        &moto,
        "iam.create_role(RoleName='vendor-audit', AssumeRolePolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::999988887777:root'}, 'Action': 'sts:AssumeRole'}]}))",
    );
    let dir = tempdir();
    let c1z = dir.path().join("sync.c1z");
    let o = sync(&moto.endpoint(), &c1z, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let html = dir.path().join("report.html");
    let o = report(&c1z, &html, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    for external in ["http://", "https://", " src=", "<link", "@import"] {
        assert!(!page.contains(external), "the page references {external}");
    }

    // The oracle: the fixture.
    let fx = fixture("single-account.json");
    let users = fx["management"]["iam"]["users"].as_array().unwrap();
    let console: BTreeSet<String> = users
        .iter()
        .filter(|u| u["login_profile"] == true)
        .map(|u| format!("iam_user:{}", user_arn(&account, u)))
        .collect();
    assert!(!console.is_empty());
    // Keys never used (the fixture uses a key only with "used": true; nothing is 90 days old).
    let mut unused_keys = vec![];
    for u in users {
        let unused = match &u["access_keys"] {
            Value::Number(n) => n.as_u64().unwrap() as usize,
            Value::Array(a) => a.iter().filter(|k| k["used"] != true).count(),
            _ => 0,
        };
        for _ in 0..unused {
            unused_keys.push(format!("iam_user:{}", user_arn(&account, u)));
        }
    }
    unused_keys.sort();
    assert_eq!(unused_keys.len(), 2);
    // Outside trust: principals "*" in the fixture's trust policies, plus the added role.
    let mut outside: BTreeSet<String> = fx["management"]["iam"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["trust"]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["Principal"] == "*" || s["Principal"]["AWS"] == "*")
        })
        .map(|r| {
            format!(
                "role:arn:aws:iam::{account}:role{}{}",
                r["path"].as_str().unwrap_or("/"),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!outside.is_empty(), "the fixture has a role trusting \"*\"");
    outside.insert(format!("role:arn:aws:iam::{account}:role/vendor-audit"));

    // 1. Loaded as is: nothing on the console, every table as the oracle says, nothing hidden.
    let (dom, log) = browse(&chrome, dir.path(), &file_url(&html), &["--dump-dom"]);
    assert!(
        console_lines(&log).is_empty(),
        "console messages: {:?}",
        console_lines(&log)
    );
    let all = rows(&dom);
    assert!(
        all.iter().all(|r| !r.hidden),
        "rows hidden without a search"
    );
    assert_eq!(whos(&all, "console-no-mfa"), console);
    let mut keys: Vec<String> = all
        .iter()
        .filter(|r| r.section == "stale-keys")
        .map(|r| r.who.clone())
        .collect();
    keys.sort();
    assert_eq!(keys, unused_keys);
    assert!(
        dom.contains("999988887777 is outside the organization"),
        "the outside account is named"
    );
    assert_eq!(whos(&all, "outside-trust"), outside);
    let section = format!("account-{account}");
    let acct = c1z.as_path();
    let admins = access_principals(acct, &["--account", &account, "--admin"]);
    let mut entrants = access_principals(acct, &["--account", &account]);
    entrants.extend(admins.iter().cloned());
    assert_eq!(whos(&all, &section), entrants);
    let marked: BTreeSet<String> = all
        .iter()
        .filter(|r| r.section == section && r.admin)
        .map(|r| r.who.clone())
        .collect();
    assert!(!admins.is_empty(), "the fixture has admins");
    assert_eq!(marked, admins, "admins marked = access --admin");

    // --max-rows cuts the account's list, admins first; the counts stay exact.
    let capped = dir.path().join("capped.html");
    let o = report(&c1z, &capped, &["--max-rows", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let capped_page = std::fs::read_to_string(&capped).unwrap();
    let listed: Vec<Row> = rows(&capped_page)
        .into_iter()
        .filter(|r| r.section == section)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r.admin), "admins come first");
    assert!(
        capped_page.contains(&format!("and {} more principal(s)", entrants.len() - 2)),
        "the rest is counted"
    );
    assert!(capped_page.contains(&format!(
        "— {} principal(s), {} admin(s)",
        entrants.len(),
        admins.len()
    )));

    // 2. The page's search, from the address: only alice's rows stay shown.
    let (dom, log) = browse(
        &chrome,
        dir.path(),
        &format!("{}#q=alice", file_url(&html)),
        &["--dump-dom"],
    );
    assert!(console_lines(&log).is_empty(), "{:?}", console_lines(&log));
    let searched = rows(&dom);
    let alice = format!("iam_user:arn:aws:iam::{account}:user/alice@example.com");
    let shown: BTreeSet<&str> = searched
        .iter()
        .filter(|r| !r.hidden)
        .map(|r| r.who.as_str())
        .collect();
    assert_eq!(shown, BTreeSet::from([alice.as_str()]));
    assert!(
        searched.iter().filter(|r| r.hidden).count() > 5,
        "the others are hidden"
    );
    assert!(
        searched
            .iter()
            .any(|r| r.section == section && r.who == alice && !r.hidden),
        "alice's access row is shown"
    );
    assert!(
        dom.contains("1 principal match"),
        "the match count is shown"
    );
    assert!(
        dom.contains("value=\"alice\"") || dom.contains("data-query=\"alice\""),
        "the search box carries the query"
    );

    // 3. A screenshot of the tables, much larger than one of an empty page.
    let shot = dir.path().join("report.png");
    browse(
        &chrome,
        dir.path(),
        &file_url(&html),
        &[&format!("--screenshot={}", shot.display())],
    );
    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_shot = dir.path().join("blank.png");
    browse(
        &chrome,
        dir.path(),
        &file_url(&blank),
        &[&format!("--screenshot={}", blank_shot.display())],
    );
    let png = std::fs::read(&shot).unwrap();
    let blank_png = std::fs::read(&blank_shot).unwrap();
    assert_eq!(png_size(&png), (1280, 2000));
    assert!(
        png.len() > 20_000 && png.len() > 5 * blank_png.len(),
        "screenshot {} bytes, empty page {} bytes",
        png.len(),
        blank_png.len()
    );

    // 4. The console check catches a script error (so an error in the page would fail 1.).
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        page.replace("</body>", "<script>noSuchFunction();</script></body>"),
    )
    .unwrap();
    let (_, log) = browse(&chrome, dir.path(), &file_url(&broken), &["--dump-dom"]);
    assert!(
        console_lines(&log)
            .iter()
            .any(|l| l.contains("noSuchFunction")),
        "an injected error reaches the console check: {log}"
    );
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let dir = tempdir();
    let html = dir.path().join("report.html");
    std::fs::write(&html, "previous").unwrap();
    let not_c1z = dir.path().join("notes.c1z");
    std::fs::write(&not_c1z, "not a c1z").unwrap();
    for (file, out) in [
        (not_c1z.clone(), html.clone()),
        (dir.path().join("missing.c1z"), html.clone()),
        (not_c1z.clone(), dir.path().join("no-such-dir/report.html")),
    ] {
        let o = report(&file, &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{}", text(&o));
        assert!(o.stdout.is_empty());
    }
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "previous");
    assert_eq!(files_in(dir.path()), vec!["notes.c1z", "report.html"]);

    let o = run(orgsync("http://127.0.0.1:9").args(["report", "--help"]));
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("Examples:") && help.contains("orgsync report"),
        "{help}"
    );
}
