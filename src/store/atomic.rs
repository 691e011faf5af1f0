//! Replacing files atomically, the one way every output is written: the content goes to
//! `<file>.tmp`, which is fsynced and renamed over `<file>`, then the directory is fsynced so
//! the rename survives a crash. A reader sees the previous file or the new one, never a mix;
//! on any failure (or when an [`AtomicFile`] is dropped without [`AtomicFile::commit`]) the
//! temp file is removed and `<file>` is untouched.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Maps an I/O error to a [`StoreError`] naming `path`.
pub fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<file>.tmp`, where a file is written before the rename.
pub fn tmp_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
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

/// A file being written to `<target>.tmp`; [`AtomicFile::commit`] puts it in place.
pub struct AtomicFile {
    w: Option<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates (or truncates) `<target>.tmp`.
    pub fn create(target: &Path) -> Result<AtomicFile, StoreError> {
        let tmp = tmp_path(target);
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
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

/// Replaces `target` with `bytes`, atomically.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = AtomicFile::create(target)?;
    f.write_bytes(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_on_commit_and_leaves_the_target_alone_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        fs::write(&target, b"old").unwrap();

        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"half").unwrap();
        assert!(tmp_path(&target).exists());
        drop(f);
        assert_eq!(fs::read(&target).unwrap(), b"old", "dropped: untouched");
        assert!(!tmp_path(&target).exists(), "dropped: no temp file");

        write_file(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!tmp_path(&target).exists());

        // A rename that fails (the target is a non-empty directory) removes the temp file.
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("x"), b"x").unwrap();
        assert!(write_file(&busy, b"y").is_err());
        assert!(!tmp_path(&busy).exists());
        assert!(busy.join("x").exists());
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
