//! One writer per output: an advisory lock on `<file>.lock`, next to the output, held for the
//! whole run by every orgsync process that writes `<file>`.
//!
//! Why a separate lock file: the output itself is replaced by a rename at the end of a run,
//! so a lock on it would lock an inode that stops being the output; a lock on the directory
//! would serialise every output of that directory. The lock is `flock(2)` (std's
//! `File::try_lock`) on `<file>.lock`:
//! the kernel releases it when the process exits or is killed, so a crashed run never leaves
//! a stale lock. The holder writes its pid and start time into the file, which a refused run
//! names. A released lock removes its file (still holding the lock); a run that acquires the
//! lock checks that the path still names the file it locked, and starts over if not, so the
//! removal cannot let two runs in. A `SIGKILL`ed run leaves `<file>.lock` behind, unlocked;
//! the next run takes it over and removes it.
//!
//! Not here: what the lock protects (`atomic`'s temp files and their sweeping, `rotate`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(100);

/// A held lock on an output; released (and its file removed) on drop, or by the kernel when
/// the process ends.
#[derive(Debug)]
pub struct OutputLock {
    file: Option<File>,
    path: PathBuf,
}

/// `<target>.lock`.
pub fn lock_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

impl OutputLock {
    /// Takes the lock of `target`: at once, or within `wait` when given. A lock held by
    /// another run fails with [`StoreError::Locked`], naming its holder.
    pub fn acquire(target: &Path, wait: Option<Duration>) -> Result<OutputLock, StoreError> {
        let path = lock_path(target);
        let io = |source: io::Error| StoreError::Io {
            path: path.clone(),
            source,
        };
        let start = Instant::now();
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match try_lock(&file) {
                Ok(true) => {
                    if !still_names(&path, &file) {
                        // Removed (or replaced) by the previous holder between our open and
                        // our lock: ours is not the lock file any more.
                        continue;
                    }
                    write_holder(&mut file).map_err(io)?;
                    return Ok(OutputLock {
                        file: Some(file),
                        path,
                    });
                }
                Ok(false) => {
                    let waited = start.elapsed();
                    if wait.is_none_or(|w| waited >= w) {
                        return Err(StoreError::Locked {
                            path: target.to_path_buf(),
                            holder: read_holder(&mut file),
                            waited: wait.map(|_| waited),
                        });
                    }
                    drop(file);
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock (see the module doc), then release.
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

/// Takes the exclusive lock of `file` without waiting (`flock(2)` on Unix): Ok(false) when
/// another open file holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether `path` still names the open `file` (same device and inode).
#[cfg(unix)]
fn still_names(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere an open file cannot be removed, so the path always names it.
#[cfg(not(unix))]
fn still_names(_path: &Path, _file: &File) -> bool {
    true
}

/// Writes "pid <pid>, started <UTC time>" into the held lock file.
fn write_holder(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    let started = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    writeln!(file, "pid {}, started {started}", std::process::id())?;
    file.flush()
}

/// What the holder wrote, or a placeholder while it has not written yet.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(200).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "a run that has not written its pid yet".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_taken_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sync.c1z");
        let first = OutputLock::acquire(&target, None).unwrap();
        let held = fs::read_to_string(lock_path(&target)).unwrap();
        assert!(
            held.starts_with(&format!("pid {}, started ", std::process::id())),
            "{held}"
        );

        let e = OutputLock::acquire(&target, None).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, StoreError::Locked { waited: None, .. }),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("sync.c1z"), "{msg}");

        let t0 = Instant::now();
        let e = OutputLock::acquire(&target, Some(Duration::from_millis(300))).unwrap_err();
        assert!(t0.elapsed() >= Duration::from_millis(300));
        assert!(matches!(
            e,
            StoreError::Locked {
                waited: Some(_),
                ..
            }
        ));

        // Released while another thread waits: the waiter gets it.
        let waiter = {
            let target = target.clone();
            std::thread::spawn(move || OutputLock::acquire(&target, Some(Duration::from_secs(10))))
        };
        std::thread::sleep(Duration::from_millis(250));
        drop(first);
        let second = waiter.join().unwrap().unwrap();
        assert!(lock_path(&target).exists());
        drop(second);
        assert!(
            !lock_path(&target).exists(),
            "a released lock removes its file"
        );
    }

    #[test]
    fn a_lock_file_left_by_a_dead_run_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        fs::write(
            lock_path(&target),
            "pid 999999, started 2026-01-01T00:00:00Z\n",
        )
        .unwrap();
        let l = OutputLock::acquire(&target, None).unwrap();
        let held = fs::read_to_string(l.path()).unwrap();
        assert!(
            held.starts_with(&format!("pid {}", std::process::id())),
            "{held}"
        );
    }
}
