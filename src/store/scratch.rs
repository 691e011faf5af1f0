//! Scratch directories for the uncompressed databases (the c1z writer's, the reader's): one
//! `$TMPDIR/orgsync-<pid>-<random>/` per use, locked by its owner for as long as it lives and
//! removed when dropped. A process killed with `SIGKILL` cannot remove its own; [`sweep`]
//! (run at the start of every sync) removes those whose owner is gone: its pid is not a live
//! process and nobody holds the directory's lock (the lock covers a pid seen from another pid
//! namespace, e.g. a container sharing the directory).
//!
//! Not here: temp files next to an output (`atomic`), output locks (`lock`).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::lock::try_lock;

const PREFIX: &str = "orgsync-";

/// A private directory in `$TMPDIR`, removed (with its content) on drop.
#[derive(Debug)]
pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
    /// The open directory, locked while it lives.
    _lock: File,
}

impl ScratchDir {
    /// Creates `$TMPDIR/orgsync-<pid>-<random>/` and locks it.
    pub fn create() -> io::Result<ScratchDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let lock = File::open(dir.path())?;
        if !try_lock(&lock)? {
            return Err(io::Error::other(format!(
                "{} is locked by another process",
                dir.path().display()
            )));
        }
        Ok(ScratchDir {
            dir: Some(dir),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new(""))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let path = d.path().to_path_buf();
            if let Err(e) = d.close() {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove a scratch directory");
            }
        }
    }
}

/// The pid in a scratch directory's name (`orgsync-<pid>-<random>`), or None for any other
/// name.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, random) = rest.split_once('-')?;
    if random.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this pid exists (in this pid namespace).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// Removes the scratch directories in `$TMPDIR` whose owner is gone; returns them.
pub fn sweep() -> Vec<PathBuf> {
    sweep_in(&std::env::temp_dir())
}

fn sweep_in(tmp: &Path) -> Vec<PathBuf> {
    let mut removed = vec![];
    let Ok(entries) = fs::read_dir(tmp) else {
        return removed;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if pid == me || alive(pid) || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        let Ok(dir) = File::open(&path) else { continue };
        // Held: its owner lives in another pid namespace. Removed while holding the lock.
        if try_lock(&dir).unwrap_or(false) && fs::remove_dir_all(&path).is_ok() {
            tracing::info!(dir = %path.display(), pid, "removed the scratch directory of a run that is gone");
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(owner_pid("orgsync-123-abcDEF"), Some(123));
        assert_eq!(owner_pid("orgsync-test-abc"), None);
        assert_eq!(owner_pid("orgsync-moto-5000.log"), None);
        assert_eq!(owner_pid("orgsync-123-"), None);
        assert_eq!(owner_pid("other-123-abc"), None);
    }

    #[test]
    fn sweeps_directories_of_dead_owners_only() {
        let tmp = tempfile::tempdir().unwrap();
        // A pid far above any pid_max: no such process.
        let dead = tmp.path().join("orgsync-2000000000-aaaa");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("sync.db"), b"x").unwrap();
        let mine = tmp
            .path()
            .join(format!("orgsync-{}-bbbb", std::process::id()));
        fs::create_dir(&mine).unwrap();
        // Dead pid but locked (an owner in another pid namespace): kept.
        let locked = tmp.path().join("orgsync-2000000001-cccc");
        fs::create_dir(&locked).unwrap();
        let held = File::open(&locked).unwrap();
        assert!(try_lock(&held).unwrap());
        let other = tmp.path().join("orgsync-test-keep");
        fs::create_dir(&other).unwrap();

        assert_eq!(sweep_in(tmp.path()), vec![dead.clone()]);
        assert!(!dead.exists() && mine.exists() && locked.exists() && other.exists());

        let s = ScratchDir::create().unwrap();
        let p = s.path().to_path_buf();
        assert!(p.is_dir());
        assert!(
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("orgsync-{}-", std::process::id()))
        );
        drop(s);
        assert!(!p.exists());
    }
}
