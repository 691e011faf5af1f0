//! The prepared-copy cache flags of `inspect` and `access` ([`CacheArgs`], converted into the
//! library's `store::c1z::CachePolicy`), and the byte sizes they take (`2GiB`, `512MiB`,
//! `4096`).
//!
//! Not here: what the cache does (`store::c1z::cache`).

use std::path::PathBuf;

use clap::Args;

use orgsync::store::c1z::CachePolicy;
use orgsync::store::c1z::cache::default_dir;

#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Keep prepared copies (the decompressed database) here and reuse them for later reads of
    /// the same unchanged file [default: $XDG_CACHE_HOME/orgsync, else ~/.cache/orgsync].
    #[arg(long, env = "ORGSYNC_CACHE_DIR", value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,

    /// Read the file cold: decompress it to a temporary database that is removed at exit, and
    /// write nothing to the cache directory.
    #[arg(long, env = "ORGSYNC_NO_CACHE", global = true)]
    pub no_cache: bool,

    /// Evict the least recently used prepared copies beyond this total size.
    #[arg(long, env = "ORGSYNC_CACHE_MAX_SIZE", value_name = "SIZE", default_value = "4GiB",
          value_parser = parse_size, global = true)]
    pub cache_max_size: u64,

    /// Read files smaller than this cold (decompressing them costs less than keeping a copy).
    #[arg(long, env = "ORGSYNC_CACHE_MIN_SIZE", value_name = "SIZE", default_value = "4MiB",
          value_parser = parse_size, global = true)]
    pub cache_min_size: u64,
}

impl CacheArgs {
    /// The policy: off with `--no-cache` or when no directory can be named (no
    /// `$XDG_CACHE_HOME`, no `$HOME`; said in a warning).
    pub fn policy(&self) -> CachePolicy {
        let dir = if self.no_cache {
            None
        } else {
            let dir = self.cache_dir.clone().or_else(default_dir);
            if dir.is_none() {
                tracing::warn!(
                    "no cache directory (neither XDG_CACHE_HOME nor HOME is set, and no --cache-dir): reading the file cold"
                );
            }
            dir
        };
        CachePolicy {
            dir,
            max_bytes: self.cache_max_size,
            min_file_bytes: self.cache_min_size,
        }
    }
}

/// `4096`, `64KiB`, `512MiB`, `2GiB` (also `K`, `M`, `G`, `KB`…, all binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 4096, 512MiB, 2GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (B, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("512 MB"), Ok(512 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("2 parsecs").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
