//! `--config orgsync.yaml`: a YAML file of flag values, applied as `ORGSYNC_*` environment
//! variables before the arguments are parsed. Key `role-arn` (or `role_arn`) sets
//! `ORGSYNC_ROLE_ARN` unless that variable is already set; for every flag but a few the key
//! is simply the flag's long name. Since clap takes a flag over its environment variable, the
//! precedence is flag > environment > file without any merging code. A key that no flag of
//! any command reads is an error (exit 2).
//!
//! Not here: parsing the values themselves. They reach clap as environment values and are
//! validated exactly like `ORGSYNC_*` variables.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that names the config file (same as `--config`).
pub const CONFIG_ENV: &str = "ORGSYNC_CONFIG";

/// Problems with the config file. All are usage errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid YAML: {source}")]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error(
        "the config file {path} must be a mapping of flag names to values (e.g. `role-arn: arn:aws:iam::111122223333:role/OrgSyncReader`)"
    )]
    NotAMapping { path: PathBuf },
    #[error(
        "unknown key '{key}' in the config file {path}: it is not a flag of any orgsync command{hint}"
    )]
    UnknownKey {
        path: PathBuf,
        key: String,
        hint: String,
    },
    #[error("the value of '{key}' in the config file {path} {why}")]
    BadValue {
        path: PathBuf,
        key: String,
        why: String,
    },
}

/// The config file named by `--config FILE` / `--config=FILE` in `args` (before any `--`),
/// else by `ORGSYNC_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else { continue };
        if s == "--" {
            break;
        }
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The `ORGSYNC_*` variables flags read, each with the delimiter its flag joins a YAML list
/// with (None: the flag takes one value, a list is refused).
pub type Flags = BTreeMap<String, Option<char>>;

/// Every `ORGSYNC_*` variable read by a flag of `cmd` or its subcommands.
pub fn flags(cmd: &clap::Command) -> Flags {
    let mut out = Flags::new();
    collect(cmd, &mut out);
    out.remove(CONFIG_ENV);
    out
}

fn collect(cmd: &clap::Command, out: &mut Flags) {
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env().map(|e| e.to_string_lossy().into_owned()) else {
            continue;
        };
        if !env.starts_with("ORGSYNC_") {
            continue;
        }
        let delimiter = out.entry(env).or_default();
        if let Some(d) = arg.get_value_delimiter() {
            *delimiter = Some(d);
        }
    }
    for sub in cmd.get_subcommands() {
        collect(sub, out);
    }
}

/// `role-arn` / `role_arn` / `ROLE_ARN` → `ORGSYNC_ROLE_ARN`.
pub fn env_of(key: &str) -> String {
    format!(
        "ORGSYNC_{}",
        key.trim().to_ascii_uppercase().replace('-', "_")
    )
}

/// `ORGSYNC_ROLE_ARN` → `role-arn`.
fn key_of(env: &str) -> String {
    env.trim_start_matches("ORGSYNC_")
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// Reads `path` and returns the (environment variable, value) pairs it sets, checked against
/// `flags`. Keys with a `null` value are ignored.
pub fn load(path: &Path, flags: &Flags) -> Result<Vec<(String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, flags)
}

/// [`load`] on text already read.
pub fn parse(path: &Path, text: &str, flags: &Flags) -> Result<Vec<(String, String)>, ConfigError> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|source| ConfigError::Yaml {
            path: path.to_path_buf(),
            source,
        })?;
    let map = match doc {
        serde_yaml_ng::Value::Null => return Ok(vec![]),
        serde_yaml_ng::Value::Mapping(m) => m,
        _ => {
            return Err(ConfigError::NotAMapping {
                path: path.to_path_buf(),
            });
        }
    };
    let mut out = vec![];
    for (k, v) in map {
        let serde_yaml_ng::Value::String(key) = k else {
            return Err(ConfigError::NotAMapping {
                path: path.to_path_buf(),
            });
        };
        let env = env_of(&key);
        let Some(delimiter) = flags.get(&env) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                hint: hint(&key_of(&env), flags),
                key,
            });
        };
        let bad = |why: &str| ConfigError::BadValue {
            path: path.to_path_buf(),
            key: key.clone(),
            why: why.to_string(),
        };
        let value = match v {
            serde_yaml_ng::Value::Null => continue,
            serde_yaml_ng::Value::Sequence(items) => {
                let Some(d) = delimiter else {
                    return Err(bad("is a list, but the flag takes one value"));
                };
                let mut parts = vec![];
                for i in items {
                    parts.push(scalar(i).ok_or_else(|| bad("must be a list of plain values"))?);
                }
                parts.join(&d.to_string())
            }
            other => scalar(other).ok_or_else(|| bad("must be a plain value or a list"))?,
        };
        out.push((env, value));
    }
    Ok(out)
}

fn scalar(v: serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// " (did you mean 'x'?)" for the closest known flag, or a list of examples.
fn hint(name: &str, flags: &Flags) -> String {
    let best = flags
        .keys()
        .map(|e| key_of(e))
        .map(|k| (distance(name, &k), k))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, k)) if d <= 3 => format!(" (did you mean '{k}'?)"),
        _ => "; keys are long flag names such as role-arn, file, interval".to_string(),
    }
}

/// Levenshtein distance between two short strings.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Flags {
        Flags::from([
            ("ORGSYNC_ROLE_ARN".to_string(), None),
            ("ORGSYNC_ACCOUNTS".to_string(), Some(',')),
            ("ORGSYNC_CONCURRENCY".to_string(), None),
            ("ORGSYNC_FAIL_FAST".to_string(), None),
        ])
    }

    fn p(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
        parse(Path::new("orgsync.yaml"), text, &flags())
    }

    #[test]
    fn maps_keys_to_env_vars() {
        let got = p("role_arn: arn:aws:iam::1:role/x\naccounts: [\"111\", 222]\nconcurrency: 4\nfail-fast: true\n").unwrap();
        assert_eq!(
            got,
            vec![
                ("ORGSYNC_ROLE_ARN".into(), "arn:aws:iam::1:role/x".into()),
                ("ORGSYNC_ACCOUNTS".into(), "111,222".into()),
                ("ORGSYNC_CONCURRENCY".into(), "4".into()),
                ("ORGSYNC_FAIL_FAST".into(), "true".into()),
            ]
        );
        assert!(p("").unwrap().is_empty());
        assert!(p("role-arn: null").unwrap().is_empty());
    }

    #[test]
    fn rejects_unknown_keys_and_bad_shapes() {
        let e = p("rol-arn: x").unwrap_err().to_string();
        assert!(e.contains("unknown key 'rol-arn'"), "{e}");
        assert!(e.contains("did you mean 'role-arn'"), "{e}");
        let e = p("completely-unrelated-thing: 1").unwrap_err().to_string();
        assert!(e.contains("keys are long flag names"), "{e}");
        assert!(matches!(
            p("role-arn: [a, b]"),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            p("role-arn: {a: b}"),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            p("- a\n- b"),
            Err(ConfigError::NotAMapping { .. })
        ));
        assert!(matches!(p("a: [b"), Err(ConfigError::Yaml { .. })));
    }

    #[test]
    fn finds_the_config_flag() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&args(&["orgsync", "sync", "--config", "a.yaml"])),
            Some(PathBuf::from("a.yaml"))
        );
        assert_eq!(
            config_path(&args(&["orgsync", "--config=b.yaml", "run"])),
            Some(PathBuf::from("b.yaml"))
        );
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
