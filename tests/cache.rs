//! The prepared-copy cache of `orgsync inspect` and `orgsync access`, through the real binary
//! on c1z files the project's writer makes (no emulator needed: nothing talks to AWS):
//! - the first read writes one copy (and says so), the second reads it (the debug log says so,
//!   no new copy is made, the copy's inode is unchanged) and answers as a cold read does;
//! - the default directory is `$XDG_CACHE_HOME/orgsync`, else `$HOME/.cache/orgsync`;
//! - a file rewritten in place (even with its old modification time put back) or replaced is
//!   never answered from the old copy;
//! - `--no-cache` writes nothing; a cache directory that cannot be made reads cold with a
//!   warning, exit 0.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orgsync::model::Record;
use orgsync::model::build::{resource, rid};
use orgsync::store::c1z::C1zWriter;
use support::{orgsync, run, text};

/// A c1z holding one IAM user named `name`.
fn write(path: &Path, name: &str) {
    let mut w = C1zWriter::create(path).unwrap();
    w.write(&[Record::Resource(resource(
        rid(
            "iam_user",
            &format!("arn:aws:iam::111122223333:user/{name}"),
        ),
        name,
        None,
        vec![],
        None,
    ))])
    .unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
}

/// A scratch home: the file, `$HOME` and `$XDG_CACHE_HOME` under one temp dir.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: support::tempdir(),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn xdg(&self) -> PathBuf {
        self.path("xdg")
    }
    /// `orgsync ARGS --file FILE` with `$HOME` and `$XDG_CACHE_HOME` here (XDG unset when
    /// `xdg` is false), every file cached (`--cache-min-size 0`), debug log on stderr.
    fn cmd(&self, file: &Path, args: &[&str], xdg: bool) -> Command {
        let mut c = orgsync("http://127.0.0.1:9");
        c.args(args)
            .arg("--file")
            .arg(file)
            .args(["--cache-min-size", "0", "--log-level", "orgsync=debug"])
            .env("HOME", self.path("home"))
            .env_remove("XDG_CACHE_HOME");
        if xdg {
            c.env("XDG_CACHE_HOME", self.xdg());
        }
        c
    }
    fn run(&self, file: &Path, args: &[&str]) -> Output {
        let o = run(&mut self.cmd(file, args, true));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        o
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The copies in `dir` (names starting with `prefix`), and every other entry.
fn copies(dir: &Path, prefix: &str) -> (Vec<PathBuf>, Vec<String>) {
    let mut copies = vec![];
    let mut other = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".db") {
            copies.push(p);
        } else {
            other.push(name);
        }
    }
    (copies, other)
}

const INSPECT: [&str; 4] = ["inspect", "resources", "-o", "csv"];
const ACCESS: [&str; 4] = [
    "access",
    "--principal",
    "iam_user:arn:aws:iam::111122223333:user/alice",
    "-o",
];

fn access_args() -> Vec<&'static str> {
    [&ACCESS[..], &["json"]].concat()
}

#[test]
fn the_second_read_opens_the_copy_the_first_one_prepared() {
    let h = Home::new();
    let file = h.path("a.c1z");
    write(&file, "alice");
    let cache = h.xdg().join("orgsync");
    for (args, prefix) in [(INSPECT.to_vec(), "c1z-"), (access_args(), "access-")] {
        let cold = h.run(&file, &[&args[..], &["--no-cache"]].concat());
        let first = h.run(&file, &args);
        assert!(
            stderr(&first).contains("prepared a copy of"),
            "{args:?}: {}",
            text(&first)
        );
        let (made, other) = copies(&cache, prefix);
        assert_eq!(made.len(), 1, "{args:?}: {made:?}");
        assert!(other.iter().all(|n| !n.ends_with(".tmp")), "{other:?}");
        let inode = std::fs::metadata(&made[0]).unwrap().ino();
        let mode = std::fs::metadata(&made[0]).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copy is owner-only");
        let second = h.run(&file, &args);
        let log = stderr(&second);
        assert!(log.contains("reading the prepared copy"), "{log}");
        assert!(!log.contains("prepared a copy of"), "{log}");
        assert_eq!(copies(&cache, prefix).0, made, "no second copy");
        assert_eq!(std::fs::metadata(&made[0]).unwrap().ino(), inode);
        assert_eq!(second.stdout, first.stdout, "{args:?}");
        assert_eq!(
            second.stdout, cold.stdout,
            "{args:?}: cached differs from cold"
        );
        assert!(String::from_utf8_lossy(&second.stdout).contains("alice"));
    }
    let dir_mode = std::fs::metadata(&cache).unwrap().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn without_xdg_cache_home_the_copy_goes_under_home() {
    let h = Home::new();
    let file = h.path("a.c1z");
    write(&file, "alice");
    let o = run(&mut h.cmd(&file, &INSPECT, false));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        copies(&h.path("home/.cache/orgsync"), "c1z-").0.len(),
        1,
        "{}",
        text(&o)
    );
    assert!(!h.xdg().exists());
}

#[test]
fn a_rewritten_file_is_never_answered_from_its_old_copy() {
    let h = Home::new();
    let file = h.path("a.c1z");
    write(&file, "alice");
    for args in [INSPECT.to_vec(), access_args()] {
        let o = h.run(&file, &args);
        assert!(String::from_utf8_lossy(&o.stdout).contains("alice"));
        assert!(stderr(&o).contains("prepared a copy of"), "{}", text(&o));
    }
    // Rewritten in place (same inode), its modification time put back: still a new file.
    let before = std::fs::metadata(&file).unwrap();
    let other = h.path("b.c1z");
    write(&other, "carol");
    std::fs::write(&file, std::fs::read(&other).unwrap()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), before.ino());
    let o = h.run(&file, &INSPECT);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("carol") && !out.contains("alice"),
        "{}",
        text(&o)
    );
    assert!(stderr(&o).contains("prepared a copy of"), "{}", text(&o));
    let o = run(&mut h.cmd(
        &file,
        &[
            &ACCESS[..2],
            &[
                "iam_user:arn:aws:iam::111122223333:user/carol",
                "-o",
                "json",
            ],
        ]
        .concat(),
        true,
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Replaced by a new sync (a rename over it, as the writer does).
    write(&file, "dave");
    let o = h.run(&file, &INSPECT);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("dave") && !out.contains("carol"),
        "{}",
        text(&o)
    );
    let o = run(&mut h.cmd(&file, &access_args(), true));
    assert_eq!(o.status.code(), Some(2), "alice is gone: {}", text(&o));
}

#[test]
fn no_cache_writes_nothing_and_an_unusable_directory_reads_cold() {
    let h = Home::new();
    let file = h.path("a.c1z");
    write(&file, "alice");
    for args in [INSPECT.to_vec(), access_args()] {
        let o = h.run(&file, &[&args[..], &["--no-cache"]].concat());
        assert!(String::from_utf8_lossy(&o.stdout).contains("alice"));
        assert!(!stderr(&o).contains("prepared a copy"), "{}", text(&o));
    }
    assert!(!h.xdg().exists(), "--no-cache wrote to the cache directory");
    assert!(!h.path("home").exists());
    // A file where the directory should be: a warning, a cold read, exit 0.
    let blocker = h.path("blocker");
    std::fs::write(&blocker, "").unwrap();
    let dir = blocker.join("cache");
    for args in [INSPECT.to_vec(), access_args()] {
        let o = h.run(
            &file,
            &[&args[..], &["--cache-dir", dir.to_str().unwrap()]].concat(),
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("alice"));
        assert!(
            stderr(&o).contains("cannot hold a prepared copy"),
            "{}",
            text(&o)
        );
    }
    // Not a c1z: the same refusal as a cold read (exit 2), and nothing cached for it.
    let junk = h.path("junk.c1z");
    std::fs::write(&junk, "plain text").unwrap();
    for args in [INSPECT.to_vec(), access_args()] {
        let o = run(&mut h.cmd(&junk, &args, true));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(stderr(&o).contains("not a c1z v1 file"), "{}", text(&o));
    }
    let cache = h.xdg().join("orgsync");
    assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().count() == 0);
}
