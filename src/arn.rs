//! AWS identifiers parsed once at the edge: `Arn`, `AccountId`, `Partition`. Anything that
//! leaves this module is known to be well-formed; the error names the bad value.

use std::fmt;
use std::str::FromStr;

/// A malformed identifier given by a user or returned by AWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("'{0}' is not an AWS account id (expected 12 digits)")]
    AccountId(String),
    #[error(
        "'{0}' is not an ARN (expected arn:<partition>:<service>:<region>:<account>:<resource>)"
    )]
    Arn(String),
    #[error("'{value}' is not a {expected} ARN")]
    ArnKind {
        value: String,
        expected: &'static str,
    },
    #[error("'{0}' is not a known AWS partition (aws, aws-us-gov, aws-cn, aws-iso, aws-iso-b)")]
    Partition(String),
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_string()))
        } else {
            Err(IdError::AccountId(s.to_string()))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Written as its 12 digits; read back through [`FromStr`], so a stored id is checked too.
impl serde::Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An AWS partition; decides the ARN prefix of every role we hop into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Partition(String);

impl Partition {
    pub fn aws() -> Self {
        Partition("aws".into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Partition {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s {
            "aws" | "aws-us-gov" | "aws-cn" | "aws-iso" | "aws-iso-b" | "aws-iso-e"
            | "aws-iso-f" | "aws-eusc" => Ok(Partition(s.to_string())),
            _ => Err(IdError::Partition(s.to_string())),
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed ARN. `resource` is everything after the fifth colon (it may contain colons).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl Arn {
    /// The account id of the ARN, if its account field is 12 digits (`aws` for AWS-managed
    /// policies and empty for Identity Center ARNs give `None`).
    pub fn account_id(&self) -> Option<AccountId> {
        self.account.parse().ok()
    }

    /// The resource kind: `user`, `role`, `group`, `policy`, `root`, `assumed-role`, ...
    pub fn resource_kind(&self) -> &str {
        self.resource
            .split(['/', ':'])
            .next()
            .unwrap_or(self.resource.as_str())
    }

    /// The last path segment of the resource (`user/dev/alice` → `alice`).
    pub fn resource_name(&self) -> &str {
        self.resource.rsplit('/').next().unwrap_or("")
    }

    /// The IAM path of an IAM resource ARN (`role/a/b/name` → `/a/b/`).
    pub fn iam_path(&self) -> String {
        let rest = self.resource.split_once('/').map(|(_, r)| r).unwrap_or("");
        match rest.rsplit_once('/') {
            Some((path, _)) => format!("/{path}/"),
            None => "/".to_string(),
        }
    }

    /// Parses an IAM ARN of one kind (`user`, `role`, `group`, `policy`), naming `expected` in
    /// the error.
    pub fn parse_iam(s: &str, kind: &str, expected: &'static str) -> Result<Arn, IdError> {
        let arn: Arn = s.parse()?;
        if arn.service == "iam" && arn.resource_kind() == kind && !arn.resource_name().is_empty() {
            Ok(arn)
        } else {
            Err(IdError::ArnKind {
                value: s.to_string(),
                expected,
            })
        }
    }
}

impl FromStr for Arn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut parts = s.splitn(6, ':');
        let bad = || IdError::Arn(s.to_string());
        if parts.next() != Some("arn") {
            return Err(bad());
        }
        let partition = parts.next().ok_or_else(bad)?;
        let service = parts.next().ok_or_else(bad)?;
        let region = parts.next().ok_or_else(bad)?;
        let account = parts.next().ok_or_else(bad)?;
        let resource = parts.next().ok_or_else(bad)?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(bad());
        }
        Ok(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// The ARN of an IAM role `path_and_name` (e.g. `OrganizationAccountAccessRole` or
/// `ops/Reader`) in `account`.
pub fn role_arn(partition: &Partition, account: &AccountId, path_and_name: &str) -> String {
    let p = path_and_name.trim_matches('/');
    format!("arn:{partition}:iam::{account}:role/{p}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        let e = "12345".parse::<AccountId>().unwrap_err();
        assert!(e.to_string().contains("'12345'"));
        assert!("12345678901a".parse::<AccountId>().is_err());
    }

    #[test]
    fn account_ids_in_json_are_strings_checked_on_the_way_in() {
        let id: AccountId = "123456789012".parse().unwrap();
        assert_eq!(serde_json::to_value(&id).unwrap(), "123456789012");
        let back: AccountId = serde_json::from_str("\"123456789012\"").unwrap();
        assert_eq!(back, id);
        let e = serde_json::from_str::<AccountId>("\"12345\"").unwrap_err();
        assert!(e.to_string().contains("'12345'"), "{e}");
    }

    #[test]
    fn arns() {
        let a: Arn = "arn:aws:iam::123456789012:role/ops/team/Reader"
            .parse()
            .unwrap();
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource_kind(), "role");
        assert_eq!(a.resource_name(), "Reader");
        assert_eq!(a.iam_path(), "/ops/team/");
        assert_eq!(
            a.to_string(),
            "arn:aws:iam::123456789012:role/ops/team/Reader"
        );
        let p: Arn = "arn:aws:iam::aws:policy/ReadOnlyAccess".parse().unwrap();
        assert_eq!(p.account_id(), None);
        assert_eq!(p.iam_path(), "/");
        let s: Arn = "arn:aws:sso:::permissionSet/ssoins-1/ps-2".parse().unwrap();
        assert_eq!(s.service, "sso");
        assert!("arn:aws:iam".parse::<Arn>().is_err());
        assert!("nope".parse::<Arn>().is_err());
        assert!(Arn::parse_iam("arn:aws:iam::123456789012:user/bob", "role", "role").is_err());
        let root: Arn = "arn:aws-us-gov:iam::123456789012:root".parse().unwrap();
        assert_eq!(root.resource_kind(), "root");
    }

    #[test]
    fn role_arns() {
        let acct: AccountId = "111122223333".parse().unwrap();
        assert_eq!(
            role_arn(&"aws-cn".parse().unwrap(), &acct, "/ops/Reader"),
            "arn:aws-cn:iam::111122223333:role/ops/Reader"
        );
        assert!("aws-xx".parse::<Partition>().is_err());
    }
}
