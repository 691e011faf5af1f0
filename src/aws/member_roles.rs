//! The account overrides file (`--account-config FILE`, YAML): per account or per OU, the
//! member role to hop into, its External ID, or skip. Parsed and validated before any AWS call.
//!
//! ```yaml
//! defaults:                 # optional; CLI flags are the defaults otherwise
//!   role_name: OrganizationAccountAccessRole
//!   external_id: org-wide-secret
//! ous:                      # an OU entry applies to its whole subtree (nearest OU wins)
//!   ou-ab12-34567890:
//!     role_name: audit/OrgSyncReader
//!     external_id: prod-secret
//! accounts:                 # an account entry wins over any OU entry
//!   "111122223333":
//!     skip: true
//!   "444455556666":
//!     role_name: LegacyAdmin
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::arn::AccountId;

/// The role assumed in member accounts unless `--member-role-name` (or an `--account-config`
/// entry) names another: the role AWS Organizations creates in accounts it creates.
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

/// Settings for one account or OU; unset fields fall through to the next level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Member role name, with an optional path (`ops/Reader`).
    pub role_name: Option<String>,
    pub external_id: Option<String>,
    pub skip: Option<bool>,
    /// Why the account is skipped (shown in the summary).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    defaults: Override,
    #[serde(default)]
    ous: BTreeMap<String, Override>,
    #[serde(default)]
    accounts: BTreeMap<String, Override>,
}

/// A validated overrides file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountConfig {
    pub defaults: Override,
    pub ous: BTreeMap<String, Override>,
    pub accounts: BTreeMap<AccountId, Override>,
}

/// A bad overrides file; the message names the file and the bad value.
#[derive(Debug, thiserror::Error)]
#[error("account config {path}: {why}")]
pub struct ConfigError {
    pub path: String,
    pub why: String,
}

/// Whether `id` is an OU or root id by AWS's rules (`ident::ou_or_root_id`).
pub fn is_ou_or_root_id(id: &str) -> bool {
    crate::ident::ou_or_root_id(id).is_ok()
}

impl AccountConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<AccountConfig, ConfigError> {
        let err = |why: String| ConfigError {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        AccountConfig::parse(&text).map_err(err)
    }

    /// Parses YAML text.
    pub fn parse(text: &str) -> Result<AccountConfig, String> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        // Role names and External IDs by AWS's rules (`ident`); the error names the entry.
        let check = |where_: &str, o: &Override| -> Result<(), String> {
            if let Some(r) = &o.role_name {
                crate::ident::role_name_with_path(r)
                    .map_err(|e| format!("{where_}.role_name: {e}"))?;
            }
            if let Some(x) = &o.external_id {
                crate::ident::external_id(x).map_err(|e| format!("{where_}.external_id: {e}"))?;
            }
            Ok(())
        };
        check("defaults", &file.defaults)?;
        for (ou, o) in &file.ous {
            crate::ident::ou_or_root_id(ou).map_err(|e| format!("ous: {e}"))?;
            check(&format!("ous.{ou}"), o)?;
        }
        let mut accounts = BTreeMap::new();
        for (a, o) in file.accounts {
            let id: AccountId = a
                .parse()
                .map_err(|e: crate::arn::IdError| format!("accounts: {e}"))?;
            check(&format!("accounts.{a}"), &o)?;
            accounts.insert(id, o);
        }
        Ok(AccountConfig {
            defaults: file.defaults,
            ous: file.ous,
            accounts,
        })
    }

    /// The effective settings for `account`, whose OU ancestry is `path` (root first, its
    /// own OU last), on top of the CLI defaults.
    pub fn resolve(
        &self,
        account: &AccountId,
        path: &[String],
        cli_role: &str,
        cli_external_id: Option<&str>,
    ) -> Resolved {
        let mut r = Resolved {
            role_name: cli_role.to_string(),
            external_id: cli_external_id.map(str::to_string),
            skip: None,
        };
        let mut apply = |o: &Override, what: String| {
            if let Some(x) = &o.role_name {
                r.role_name = x.clone();
            }
            if let Some(x) = &o.external_id {
                r.external_id = Some(x.clone());
            }
            if let Some(s) = o.skip {
                r.skip = s.then(|| {
                    o.reason
                        .clone()
                        .unwrap_or_else(|| format!("skipped by {what} in the account config"))
                });
            }
        };
        apply(&self.defaults, "defaults".into());
        for node in path {
            if let Some(o) = self.ous.get(node) {
                apply(o, format!("OU {node}"));
            }
        }
        if let Some(o) = self.accounts.get(account) {
            apply(o, format!("account {account}"));
        }
        r
    }
}

/// What applies to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub role_name: String,
    pub external_id: Option<String>,
    /// Why the account is skipped, if it is.
    pub skip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
defaults:
  external_id: org-wide
ous:
  ou-ab12-aaaaaaaa:
    role_name: audit/Reader
    external_id: eng-secret
  ou-ab12-bbbbbbbb:
    skip: true
accounts:
  "111122223333":
    role_name: Legacy
  "444455556666":
    skip: false
"#;

    #[test]
    fn resolves_account_over_nearest_ou_over_defaults() {
        let c = AccountConfig::parse(YAML).unwrap();
        let a: AccountId = "111122223333".parse().unwrap();
        let path = vec!["r-ab12".to_string(), "ou-ab12-aaaaaaaa".to_string()];
        let r = c.resolve(&a, &path, "OrganizationAccountAccessRole", None);
        assert_eq!(
            r,
            Resolved {
                role_name: "Legacy".into(),
                external_id: Some("eng-secret".into()),
                skip: None
            }
        );
        let b: AccountId = "222233334444".parse().unwrap();
        let r = c.resolve(
            &b,
            &["r-ab12".into()],
            "OrganizationAccountAccessRole",
            Some("cli"),
        );
        assert_eq!(
            r,
            Resolved {
                role_name: "OrganizationAccountAccessRole".into(),
                external_id: Some("org-wide".into()),
                skip: None
            }
        );
        let skipped = c.resolve(
            &b,
            &[
                "r-ab12".into(),
                "ou-ab12-aaaaaaaa".into(),
                "ou-ab12-bbbbbbbb".into(),
            ],
            "X",
            None,
        );
        assert!(skipped.skip.unwrap().contains("OU ou-ab12-bbbbbbbb"));
        // An account entry can un-skip an account in a skipped OU.
        let d: AccountId = "444455556666".parse().unwrap();
        assert_eq!(
            c.resolve(&d, &["ou-ab12-bbbbbbbb".into()], "X", None).skip,
            None
        );
    }

    #[test]
    fn rejects_bad_files_naming_the_value() {
        for (bad, needle) in [
            ("accounts:\n  '12345':\n    skip: true\n", "'12345'"),
            ("ous:\n  engineering:\n    skip: true\n", "'engineering'"),
            (
                "accounts:\n  '111122223333':\n    role_name: 'bad role!'\n",
                "bad role!",
            ),
            ("acounts: {}\n", "unknown field"),
            (
                "accounts:\n  '111122223333':\n    skipp: true\n",
                "unknown field",
            ),
        ] {
            let e = AccountConfig::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        assert_eq!(AccountConfig::parse("").unwrap(), AccountConfig::default());
    }
}
