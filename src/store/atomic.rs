//! Replacing files atomically, the one way every output is written: the content goes to a temp
//! file next to `<file>`, named `<file>.tmp-<pid>-<n>` (unique per process and write), which
//! is fsynced and renamed over `<file>`, then the directory is fsynced so the rename survives a
//! crash. A reader sees the previous file or the new one, never a mix; on any failure (or when
//! an [`AtomicFile`] is dropped without [`AtomicFile::commit`]) the temp file is removed and
//! `<file>` is untouched. A process killed mid-write leaves its temp file; the next run, holding
//! the output's lock (`store::lock`), removes it ([`sweep`]): no other run can be writing it.
//!
//! Not here: who may write an output (`lock`), scratch directories (`scratch`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// Maps an I/O error to a [`StoreError`] naming `path`.
pub fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The marker between an output's name and the pid in its temp files' names.
const TMP_MARK: &str = ".tmp-";

/// A new temp path for `target`: `<target>.tmp-<pid>-<n>`, unique within the process (and,
/// by the pid, among live processes).
pub fn temp_path(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut s = target.as_os_str().to_owned();
    s.push(format!("{TMP_MARK}{}-{n}", std::process::id()));
    PathBuf::from(s)
}

/// The output a temp file's name belongs to (`sync.c1z.tmp-12-0` → `sync.c1z`), or None for
/// any other name.
pub fn temp_owner(name: &str) -> Option<&str> {
    let (base, tail) = name.rsplit_once(TMP_MARK)?;
    let (pid, n) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n) && !base.is_empty()).then_some(base)
}

/// Removes the temp files in `dir` whose output name `belongs` accepts; returns them. Call it
/// holding the lock of those outputs: no live run writes them then.
pub fn sweep(dir: &Path, belongs: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut removed = vec![];
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if temp_owner(&name).is_some_and(&belongs)
            && e.file_type().is_ok_and(|t| t.is_file())
            && fs::remove_file(e.path()).is_ok()
        {
            tracing::info!(file = %e.path().display(), "removed a temp file left by an earlier run");
            removed.push(e.path());
        }
    }
    removed
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renames `tmp` over `target`, then fsyncs the directory (best effort: not every filesystem
/// can sync a directory).
pub fn rename_into_place(tmp: &Path, target: &Path) -> Result<(), StoreError> {
    fs::rename(tmp, target).map_err(io_err(target))?;
    if let Ok(d) = File::open(parent_dir(target)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A file being written to a temp file next to `target`; [`AtomicFile::commit`] puts it in
/// place.
pub struct AtomicFile {
    w: Option<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates a new temp file for `target` ([`temp_path`]; never an existing file).
    pub fn create(target: &Path) -> Result<AtomicFile, StoreError> {
        let tmp = temp_path(target);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        Ok(AtomicFile {
            w: Some(BufWriter::new(f)),
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// The temp file's path (for error messages).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Writes all of `buf`; an error names the temp file.
    pub fn write_bytes(&mut self, buf: &[u8]) -> Result<(), StoreError> {
        let tmp = &self.tmp;
        match self.w.as_mut() {
            Some(w) => w.write_all(buf).map_err(io_err(tmp)),
            None => Err(io_err(tmp)(io::Error::other(
                "the file was already committed",
            ))),
        }
    }

    /// Flushes and fsyncs the temp file, renames it over the target and fsyncs the directory.
    /// On failure the temp file is removed and the target is untouched.
    pub fn commit(mut self) -> Result<(), StoreError> {
        let Some(w) = self.w.take() else {
            return Ok(());
        };
        let f = w.into_inner().map_err(|e| StoreError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        f.sync_all().map_err(io_err(&self.tmp))?;
        drop(f);
        #[cfg(debug_assertions)]
        test_hook::hold_before_rename();
        rename_into_place(&self.tmp, &self.target)?;
        // In place: nothing left for Drop to remove.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.w.as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("the file was already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.w.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    /// Not committed (or the commit failed): the temp file goes, the target stays as it was.
    fn drop(&mut self) {
        drop(self.w.take());
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Tests only (debug builds): `ORGSYNC_TEST_HOLD_BEFORE_RENAME=<marker>` holds the first
/// commit of the process between writing its temp file and renaming it: the marker file is
/// created (holding the pid) and the commit waits until a test removes it. Lets a test race a
/// second run, or kill the process, at exactly that point.
#[cfg(debug_assertions)]
mod test_hook {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    pub(super) fn hold_before_rename() {
        static HELD: AtomicBool = AtomicBool::new(false);
        let Some(marker) = std::env::var_os("ORGSYNC_TEST_HOLD_BEFORE_RENAME") else {
            return;
        };
        if HELD.swap(true, Ordering::SeqCst) {
            return;
        }
        if std::fs::write(&marker, std::process::id().to_string()).is_err() {
            return;
        }
        while std::path::Path::new(&marker).exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Replaces `target` with `bytes`, atomically.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = AtomicFile::create(target)?;
    f.write_bytes(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_on_commit_and_leaves_the_target_alone_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        fs::write(&target, b"old").unwrap();

        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"half").unwrap();
        let tmp = f.tmp().to_path_buf();
        assert!(tmp.exists());
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(temp_owner(&name), Some("out.json"), "{name}");
        assert!(
            name.contains(&format!(".tmp-{}-", std::process::id())),
            "{name}"
        );
        drop(f);
        assert_eq!(fs::read(&target).unwrap(), b"old", "dropped: untouched");
        assert_eq!(names(dir.path()), ["out.json"], "dropped: no temp file");

        write_file(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.json"]);

        // A rename that fails (the target is a non-empty directory) removes the temp file.
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("x"), b"x").unwrap();
        assert!(write_file(&busy, b"y").is_err());
        assert_eq!(names(dir.path()), ["busy", "out.json"]);
        assert!(busy.join("x").exists());
    }

    #[test]
    fn temp_names_are_unique_and_swept_by_output() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sync.c1z");
        let (t1, t2) = (temp_path(&a), temp_path(&a));
        assert_ne!(t1, t2);
        for p in [&t1, &t2] {
            fs::write(p, b"x").unwrap();
        }
        for other in [
            "sync.c1z",
            "sync.c1z.tmp",
            "sync.c1z.tmp-x-1",
            "other.c1z.tmp-12-0",
            "sync.c1z.lock",
        ] {
            fs::write(dir.path().join(other), b"y").unwrap();
        }
        let mut swept = sweep(dir.path(), |o| o == "sync.c1z");
        swept.sort();
        let mut want = vec![t1, t2];
        want.sort();
        assert_eq!(swept, want);
        assert_eq!(
            names(dir.path()),
            [
                "other.c1z.tmp-12-0",
                "sync.c1z",
                "sync.c1z.lock",
                "sync.c1z.tmp",
                "sync.c1z.tmp-x-1"
            ]
        );
        assert_eq!(temp_owner("a.b.tmp-1-2"), Some("a.b"));
        assert_eq!(temp_owner(".tmp-1-2"), None);
        assert_eq!(temp_owner("a.tmp-1-"), None);
    }

    #[test]
    fn parent_of_a_bare_name_is_the_current_directory() {
        assert_eq!(parent_dir(Path::new("sync.c1z")), PathBuf::from("."));
        assert_eq!(
            parent_dir(Path::new("/data/sync.c1z")),
            PathBuf::from("/data")
        );
    }
}
