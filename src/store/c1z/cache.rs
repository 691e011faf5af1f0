//! The cache of prepared copies: a c1z is one zstd stream around a SQLite database, so every
//! cold read writes the whole database out first (for a million grants, hundreds of MB and
//! seconds). A prepared copy is that database, written once, brought up to the current schema
//! (or cut down to what one reader needs), kept in a cache directory and opened read-only by
//! later reads of the same file.
//!
//! What this module owns: where the directory is (`$XDG_CACHE_HOME/orgsync`, else
//! `$HOME/.cache/orgsync`, or the caller's), the key of a file (canonical path, size,
//! modification and change times, inode and device: a file rewritten in place or replaced by
//! a rename has a new key, so a stale copy is never served), building a copy under a
//! temporary name in the directory and renaming it into place (readers never see a partial
//! copy), and eviction of the least recently used copies beyond a size bound. A directory that
//! cannot be written is not an error: the caller reads cold, with a warning.
//!
//! Not here: what a copy holds and how it is built (`reader`, `access::open`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::store::StoreError;

/// Copies beyond this many bytes in all are evicted, least recently used first.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Files smaller than this are read cold: decompressing them costs less than the copy.
pub const DEFAULT_MIN_FILE_BYTES: u64 = 4 << 20;

/// Temporary copies older than this are taken as left by a process that died, and removed.
const STALE_TEMP: Duration = Duration::from_secs(6 * 3600);

/// Where prepared copies go, and how many bytes of them to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// The directory; `None` reads every file cold (`--no-cache`).
    pub dir: Option<PathBuf>,
    /// Evict least recently used copies beyond this total.
    pub max_bytes: u64,
    /// Read files smaller than this cold.
    pub min_file_bytes: u64,
}

impl CachePolicy {
    /// No cache: every read decompresses the file.
    pub fn off() -> Self {
        CachePolicy {
            dir: None,
            max_bytes: DEFAULT_MAX_BYTES,
            min_file_bytes: DEFAULT_MIN_FILE_BYTES,
        }
    }

    /// The default directory (`default_dir`), or none when neither variable is set.
    pub fn default_on() -> Self {
        CachePolicy {
            dir: default_dir(),
            ..CachePolicy::off()
        }
    }
}

/// `$XDG_CACHE_HOME/orgsync` when that is an absolute path (the XDG rule), else
/// `$HOME/.cache/orgsync`; `None` when neither is set.
pub fn default_dir() -> Option<PathBuf> {
    let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(abs)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(abs)
                .map(|h| h.join(".cache"))
        })
        .map(|d| d.join("orgsync"))
}

/// A prepared copy ready to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub path: PathBuf,
    /// True when this call built it (false: an earlier call's copy, reused).
    pub built: bool,
}

/// The prepared copy of kind `kind` (a file-name prefix: what the copy holds) for the c1z at
/// `src`: the cached one when there is one for the file as it is now, else one built by
/// `build` (given a new empty file in the cache directory to fill; it must close every handle
/// on it before returning). `Ok(None)`: read cold — no directory, a small file, or a directory
/// that cannot be written (said in a warning). A file that is not a c1z is an error as on a
/// cold read; any other failure to build warns and reads cold.
pub fn prepared(
    policy: &CachePolicy,
    kind: &str,
    src: &Path,
    build: impl FnOnce(&Path) -> Result<(), StoreError>,
) -> Result<Option<Prepared>, StoreError> {
    let Some(dir) = &policy.dir else {
        return Ok(None);
    };
    let meta = fs::metadata(src).map_err(crate::store::atomic::io_err(src))?;
    if meta.len() < policy.min_file_bytes {
        return Ok(None);
    }
    let canonical = fs::canonicalize(src).map_err(crate::store::atomic::io_err(src))?;
    let path = dir.join(format!("{kind}-{:016x}.db", key(&canonical, &meta)));
    if path.is_file() {
        // The modification time orders copies for eviction (most recently used last out);
        // the copy's bytes and inode stay as they are.
        if let Err(e) = fs::File::open(&path).and_then(|f| f.set_modified(SystemTime::now())) {
            tracing::debug!(path = %path.display(), error = %e, "could not mark a cached copy used");
        }
        tracing::debug!(copy = %path.display(), file = %src.display(), "reading the prepared copy");
        return Ok(Some(Prepared { path, built: false }));
    }
    let tmp = match new_temp(dir, kind) {
        Ok(t) => t,
        Err(e) => {
            warn_cold(dir, &e.to_string());
            return Ok(None);
        }
    };
    match build(&tmp) {
        Ok(()) => {}
        Err(e @ StoreError::NotC1z { .. }) => return Err(e),
        Err(e) => {
            warn_cold(dir, &e.to_string());
            return Ok(None);
        }
    }
    // On disk before it has its name: a crash never leaves a named, partial copy.
    if let Err(e) = fs::File::open(&tmp).and_then(|f| f.sync_all()) {
        warn_cold(dir, &e.to_string());
        return Ok(None);
    }
    if let Err(e) = tmp.persist(&path) {
        warn_cold(dir, &e.error.to_string());
        return Ok(None);
    }
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "prepared a copy of {} in {} ({:.1} MiB; later reads of the same file use it; --no-cache reads cold)",
        src.display(),
        path.display(),
        size as f64 / f64::from(1 << 20)
    );
    evict(dir, &path, policy.max_bytes);
    Ok(Some(Prepared { path, built: true }))
}

fn warn_cold(dir: &Path, why: &str) {
    tracing::warn!(
        dir = %dir.display(),
        "the cache directory cannot hold a prepared copy ({why}); reading the file cold"
    );
}

/// A new empty file in `dir` (created owner-only, with the directory), removed on drop unless
/// persisted.
fn new_temp(dir: &Path, kind: &str) -> io::Result<tempfile::TempPath> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    Ok(tempfile::Builder::new()
        .prefix(&format!(".{kind}-"))
        .suffix(".tmp")
        .tempfile_in(dir)?
        .into_temp_path())
}

/// FNV-1a over the file's identity: stable across builds, unlike `DefaultHasher`.
fn key(canonical: &Path, meta: &fs::Metadata) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(canonical.as_os_str().as_encoded_bytes());
    eat(&meta.len().to_le_bytes());
    let nanos = |t: io::Result<SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos())
    };
    eat(&nanos(meta.modified()).to_le_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        eat(&meta.ino().to_le_bytes());
        eat(&meta.dev().to_le_bytes());
        // The change time moves on every write and cannot be set back (`touch -d` can set the
        // modification time).
        eat(&meta.ctime().to_le_bytes());
        eat(&meta.ctime_nsec().to_le_bytes());
    }
    h
}

/// Deletes the least recently used copies until all of them take at most `max_bytes`, never
/// `current`; and temporary copies left by processes that died.
fn evict(dir: &Path, current: &Path, max_bytes: u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut copies: Vec<(SystemTime, u64, PathBuf)> = vec![];
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(m) = e.metadata() else { continue };
        let Ok(modified) = m.modified() else { continue };
        if name.starts_with('.') && name.ends_with(".tmp") {
            if now
                .duration_since(modified)
                .is_ok_and(|age| age > STALE_TEMP)
            {
                remove(&p);
            }
        } else if name.ends_with(".db") && p != current {
            copies.push((modified, m.len(), p));
        }
    }
    let mut total: u64 = fs::metadata(current).map_or(0, |m| m.len());
    copies.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, len, p) in copies {
        if total.saturating_add(len) <= max_bytes {
            total += len;
        } else {
            remove(&p);
        }
    }
}

fn remove(p: &Path) {
    match fs::remove_file(p) {
        Ok(()) => tracing::debug!(path = %p.display(), "evicted a cached copy"),
        Err(e) => tracing::debug!(path = %p.display(), error = %e, "could not evict a cached copy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(dir: &Path, max_bytes: u64) -> CachePolicy {
        CachePolicy {
            dir: Some(dir.to_path_buf()),
            max_bytes,
            min_file_bytes: 0,
        }
    }

    fn fill(bytes: usize) -> impl FnOnce(&Path) -> Result<(), StoreError> {
        move |p| fs::write(p, vec![7u8; bytes]).map_err(crate::store::atomic::io_err(p))
    }

    #[test]
    fn a_copy_is_reused_until_its_file_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let src = tmp.path().join("a.c1z");
        fs::write(&src, "one").unwrap();
        let p = policy(&cache, 1 << 20);
        let first = prepared(&p, "t", &src, fill(10)).unwrap().unwrap();
        assert!(first.built);
        let again = prepared(&p, "t", &src, |_| panic!("built again"))
            .unwrap()
            .unwrap();
        assert_eq!(
            again,
            Prepared {
                built: false,
                ..first.clone()
            }
        );
        fs::write(&src, "two").unwrap();
        let changed = prepared(&p, "t", &src, fill(10)).unwrap().unwrap();
        assert!(changed.built);
        assert_ne!(changed.path, first.path);
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".db")), "{names:?}");
    }

    #[test]
    fn least_recently_used_copies_go_beyond_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let p = policy(&cache, 250);
        let files: Vec<PathBuf> = (0..3)
            .map(|i| {
                let f = tmp.path().join(format!("{i}.c1z"));
                fs::write(&f, format!("{i}")).unwrap();
                f
            })
            .collect();
        let a = prepared(&p, "t", &files[0], fill(100)).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let b = prepared(&p, "t", &files[1], fill(100)).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // `a` used again: `b` is now the least recently used.
        prepared(&p, "t", &files[0], |_| panic!("built again")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let c = prepared(&p, "t", &files[2], fill(100)).unwrap().unwrap();
        assert!(a.path.is_file() && c.path.is_file());
        assert!(!b.path.exists());
    }

    #[test]
    fn failures_read_cold_except_a_file_that_is_not_a_c1z() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("a.c1z");
        fs::write(&src, "x").unwrap();
        // A directory that cannot be made (a file is in the way): cold.
        let blocked = tmp.path().join("blocked");
        fs::write(&blocked, "").unwrap();
        assert_eq!(
            prepared(&policy(&blocked, 1 << 20), "t", &src, fill(1)).unwrap(),
            None
        );
        let cache = tmp.path().join("cache");
        let io = |p: &Path| {
            Err(StoreError::Io {
                path: p.to_path_buf(),
                source: io::Error::other("disk full"),
            })
        };
        assert_eq!(
            prepared(&policy(&cache, 1 << 20), "t", &src, io).unwrap(),
            None
        );
        let not = |p: &Path| {
            Err(StoreError::NotC1z {
                path: p.to_path_buf(),
                why: "junk".into(),
            })
        };
        assert!(prepared(&policy(&cache, 1 << 20), "t", &src, not).is_err());
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0);
        // Small files and no directory: cold, nothing written.
        let small = CachePolicy {
            min_file_bytes: 10,
            ..policy(&cache, 1 << 20)
        };
        assert_eq!(prepared(&small, "t", &src, fill(1)).unwrap(), None);
        assert_eq!(
            prepared(&CachePolicy::off(), "t", &src, fill(1)).unwrap(),
            None
        );
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0);
    }
}
