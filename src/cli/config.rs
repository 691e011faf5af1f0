//! `--config orgsync.yaml`: a YAML file of flag values, applied as `ORGSYNC_*` environment
//! variables before the arguments are parsed. A key is a flag's long name (`role-arn` or
//! `role_arn`); its value fills the flag's environment variable unless that variable is
//! already set. Since clap takes a flag over its environment variable, the precedence is
//! flag > environment > file without any merging code. Unknown keys are an error (exit 2).
//!
//! Not here: parsing the values themselves. They reach clap as environment values and are
//! validated exactly like `ORGSYNC_*` variables.

use std::collections::{BTreeMap, BTreeSet};
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

/// A flag that can be set from the file.
#[derive(Debug, Clone)]
pub struct FlagEnv {
    /// Its environment variables (one per command that has the flag; usually one).
    pub envs: BTreeSet<String>,
    /// Whether a YAML list is accepted (joined with this delimiter).
    pub delimiter: Option<char>,
}

/// Every long flag of `cmd` and its subcommands that has an environment variable, by name.
pub fn flags(cmd: &clap::Command) -> BTreeMap<String, FlagEnv> {
    let mut out: BTreeMap<String, FlagEnv> = BTreeMap::new();
    collect(cmd, &mut out);
    out.remove("config");
    out
}

fn collect(cmd: &clap::Command, out: &mut BTreeMap<String, FlagEnv>) {
    for arg in cmd.get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let entry = out.entry(long.to_string()).or_insert_with(|| FlagEnv {
            envs: BTreeSet::new(),
            delimiter: None,
        });
        entry.envs.insert(env.to_string_lossy().into_owned());
        if let Some(d) = arg.get_value_delimiter() {
            entry.delimiter = Some(d);
        }
    }
    for sub in cmd.get_subcommands() {
        collect(sub, out);
    }
}

/// Reads `path` and returns the (environment variable, value) pairs it sets, checked against
/// `flags`. Keys with a `null` value are ignored.
pub fn load(
    path: &Path,
    flags: &BTreeMap<String, FlagEnv>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, flags)
}

/// [`load`] on text already read.
pub fn parse(
    path: &Path,
    text: &str,
    flags: &BTreeMap<String, FlagEnv>,
) -> Result<Vec<(String, String)>, ConfigError> {
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
        let name = key.trim().to_ascii_lowercase().replace('_', "-");
        let Some(flag) = flags.get(&name) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                hint: hint(&name, flags),
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
                let Some(d) = flag.delimiter else {
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
        for env in &flag.envs {
            out.push((env.clone(), value.clone()));
        }
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
fn hint(name: &str, flags: &BTreeMap<String, FlagEnv>) -> String {
    let best = flags
        .keys()
        .map(|k| (distance(name, k), k))
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

    fn flags() -> BTreeMap<String, FlagEnv> {
        let mut m = BTreeMap::new();
        let f = |env: &str, d: Option<char>| FlagEnv {
            envs: [env.to_string()].into_iter().collect(),
            delimiter: d,
        };
        m.insert("role-arn".to_string(), f("ORGSYNC_ROLE_ARN", None));
        m.insert("accounts".to_string(), f("ORGSYNC_ACCOUNTS", Some(',')));
        m.insert("concurrency".to_string(), f("ORGSYNC_CONCURRENCY", None));
        m.insert("fail-fast".to_string(), f("ORGSYNC_FAIL_FAST", None));
        m
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
