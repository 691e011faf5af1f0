//! Output files of scheduled runs (`orgsync run --keep N`). Each run writes its own
//! timestamped file next to the stable path given with `--file`, e.g. for `/data/sync.c1z`:
//!
//! ```text
//! /data/sync.20261123T060000Z.c1z   run that started 2026-11-23 06:00:00 UTC
//! /data/sync.20261123T120000Z.c1z   the next one (a second run in the same second gets `-2`)
//! /data/sync.c1z                    always the newest complete run (a hard link to it)
//! ```
//!
//! The stable path is replaced atomically (a hard link under a temp name, renamed), so a reader
//! sees the previous run or the new one, never a mix; on a filesystem without hard links it is
//! a copy (written to a temp file, fsynced, renamed). After a run the newest `N + 1`
//! timestamped files are kept (this run and `N` previous ones) and older ones are deleted.
//! Only names of exactly this shape are ever deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use super::StoreError;
use super::atomic::{AtomicFile, io_err, parent_dir, rename_into_place, temp_path};

const STAMP: &str = "%Y%m%dT%H%M%SZ";
const STAMP_LEN: usize = 16;

/// (directory, "stem.", ".ext") of the stable path.
fn parts(latest: &Path) -> (PathBuf, String, String) {
    let dir = parent_dir(latest);
    let name = latest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sync".into());
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (dir, format!("{stem}."), format!(".{ext}")),
        _ => (dir, format!("{name}."), String::new()),
    }
}

/// The sort key of a timestamped name of `latest`, or None for any other name.
fn key_of(name: &str, prefix: &str, suffix: &str) -> Option<(String, u32)> {
    let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let (stamp, n) = match middle.split_once('-') {
        Some((s, n)) => (s, n.parse::<u32>().ok().filter(|n| *n >= 2)?),
        None => (middle, 1),
    };
    if stamp.len() != STAMP_LEN || NaiveDateTime::parse_from_str(stamp, STAMP).is_err() {
        return None;
    }
    Some((stamp.to_string(), n))
}

/// A free timestamped path for a run started at `at`.
pub fn timestamped_path(latest: &Path, at: DateTime<Utc>) -> PathBuf {
    let (dir, prefix, suffix) = parts(latest);
    let stamp = at.format(STAMP).to_string();
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            format!("{prefix}{stamp}{suffix}")
        } else {
            format!("{prefix}{stamp}-{n}{suffix}")
        };
        let p = dir.join(name);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// Whether `name` (a file name) is `latest`'s or one of its timestamped runs': the outputs
/// whose temp files a run holding `latest`'s lock may sweep.
pub fn is_output_of(latest: &Path, name: &str) -> bool {
    let (_, prefix, suffix) = parts(latest);
    latest
        .file_name()
        .is_some_and(|n| n.to_string_lossy() == name)
        || key_of(name, &prefix, &suffix).is_some()
}

/// The timestamped files of `latest`, oldest first.
fn list(latest: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let (dir, prefix, suffix) = parts(latest);
    let mut found = vec![];
    for e in fs::read_dir(&dir).map_err(io_err(&dir))? {
        let e = e.map_err(io_err(&dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(k) = key_of(&name, &prefix, &suffix)
            && e.file_type().map(|t| t.is_file()).unwrap_or(false)
        {
            found.push((k, e.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Makes `latest` the file `written`, atomically: a hard link to it, or a copy where links
/// are not possible, put in place through a temp file of `latest` (`store::atomic`).
pub fn publish(written: &Path, latest: &Path) -> Result<(), StoreError> {
    let tmp = temp_path(latest);
    match fs::hard_link(written, &tmp) {
        Ok(()) => {
            let result = rename_into_place(&tmp, latest);
            // rename() of two links to the same file does nothing and leaves the source.
            let _ = fs::remove_file(&tmp);
            result
        }
        Err(e) => {
            tracing::debug!(error = %e, "hard link failed; copying instead");
            let mut out = AtomicFile::create(latest)?;
            let mut from = fs::File::open(written).map_err(io_err(written))?;
            io::copy(&mut from, &mut out).map_err(io_err(&tmp))?;
            out.commit()
        }
    }
}

/// Deletes all but the newest `keep + 1` timestamped files; returns the deleted paths.
pub fn prune(latest: &Path, keep: usize) -> Result<Vec<PathBuf>, StoreError> {
    let files = list(latest)?;
    let excess = files.len().saturating_sub(keep + 1);
    let mut deleted = vec![];
    for p in files.into_iter().take(excess) {
        fs::remove_file(&p).map_err(io_err(&p))?;
        deleted.push(p);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, s)
            .single()
            .unwrap()
    }

    #[test]
    fn names_publish_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let latest = dir.path().join("sync.c1z");
        let a = timestamped_path(&latest, t(0));
        assert_eq!(a.file_name().unwrap(), "sync.20261123T060000Z.c1z");
        fs::write(&a, b"run a").unwrap();
        let a2 = timestamped_path(&latest, t(0));
        assert_eq!(a2.file_name().unwrap(), "sync.20261123T060000Z-2.c1z");
        fs::write(&a2, b"run a2").unwrap();
        let b = timestamped_path(&latest, t(1));
        assert!(is_output_of(&latest, "sync.c1z"));
        assert!(is_output_of(&latest, "sync.20261123T060000Z-2.c1z"));
        assert!(!is_output_of(&latest, "sync.backup.c1z"));
        fs::write(&b, b"run b").unwrap();
        // Files that only look similar are never touched.
        for other in [
            "sync.backup.c1z",
            "sync.20261123T060000Z.c1z.tmp",
            "notes.txt",
        ] {
            fs::write(dir.path().join(other), b"x").unwrap();
        }
        assert_eq!(
            list(&latest).unwrap(),
            vec![a.clone(), a2.clone(), b.clone()]
        );

        publish(&a2, &latest).unwrap();
        assert_eq!(fs::read(&latest).unwrap(), b"run a2");
        publish(&b, &latest).unwrap();
        assert_eq!(fs::read(&latest).unwrap(), b"run b");
        assert!(
            fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")),
            "no temp file left"
        );

        assert_eq!(prune(&latest, 1).unwrap(), vec![a.clone()]);
        assert_eq!(list(&latest).unwrap(), vec![a2.clone(), b.clone()]);
        assert_eq!(prune(&latest, 0).unwrap(), vec![a2]);
        assert_eq!(
            fs::read(&latest).unwrap(),
            b"run b",
            "latest survives pruning"
        );
        assert!(dir.path().join("sync.backup.c1z").exists());
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn names_without_extension() {
        let latest = Path::new("/data/out");
        assert_eq!(
            timestamped_path(latest, t(5)),
            PathBuf::from("/data/out.20261123T060005Z")
        );
        assert_eq!(
            key_of("out.20261123T060005Z", "out.", ""),
            Some(("20261123T060005Z".into(), 1))
        );
        assert_eq!(key_of("out.2026112XT060005Z", "out.", ""), None);
        assert_eq!(key_of("out.20261123T060005Z-1", "out.", ""), None);
    }
}
