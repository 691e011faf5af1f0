//! AWS identifiers parsed once at the edge: `Arn`, `AccountId`, `Partition`. Anything that
//! leaves this module is known to be well-formed; the error names the bad value (shortened
//! when long). IAM ARNs given by users ([`Arn::parse_role`], [`Arn::parse_iam`]) are checked
//! against IAM's rules for names and paths (`ident`).

use std::fmt;
use std::str::FromStr;

use crate::ident::{self, Invalid, shown};

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
    #[error(transparent)]
    Rule(#[from] Invalid),
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
            Err(IdError::AccountId(shown(s)))
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
            _ => Err(IdError::Partition(shown(s))),
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
    /// the error. Beyond the shape, IAM's rules hold: a known partition, no region, a 12-digit
    /// account (or `aws` for an AWS-managed policy), a valid path and name (`ident::iam_path`,
    /// `ident::iam_name`: at most 64 characters for users and roles, 128 for groups and
    /// policies).
    pub fn parse_iam(s: &str, kind: &str, expected: &'static str) -> Result<Arn, IdError> {
        let arn: Arn = s.parse()?;
        if arn.service != "iam" || arn.resource_kind() != kind || arn.resource_name().is_empty() {
            return Err(IdError::ArnKind {
                value: shown(s),
                expected,
            });
        }
        let rule = |why: String| IdError::Rule(Invalid::new(s, "a valid IAM ARN", why));
        arn.partition.parse::<Partition>()?;
        if !arn.region.is_empty() {
            return Err(rule("IAM ARNs have no region".into()));
        }
        if arn.account_id().is_none() && !(kind == "policy" && arn.account == "aws") {
            return Err(rule(format!(
                "the account '{}' is not 12 digits",
                shown(&arn.account)
            )));
        }
        let max = match kind {
            "user" | "role" => 64,
            _ => 128,
        };
        let name = arn.resource_name();
        ident::iam_name(name, "an IAM name", max).map_err(|e| {
            rule(format!(
                "the {kind} name '{}' must be {}",
                shown(name),
                e.rule
            ))
        })?;
        let path = arn.iam_path();
        ident::iam_path(&path)
            .map_err(|e| rule(format!("the path '{}' must be {}", shown(&path), e.rule)))?;
        Ok(arn)
    }

    /// Parses the ARN of an IAM role (`--role-arn`): [`Arn::parse_iam`] for kind `role`.
    pub fn parse_role(s: &str) -> Result<Arn, IdError> {
        Arn::parse_iam(s, "role", "IAM role").map_err(|e| match e {
            IdError::Rule(r) => IdError::Rule(Invalid {
                what: "an IAM role ARN",
                ..r
            }),
            _ => IdError::Rule(Invalid::new(
                s,
                "an IAM role ARN",
                "arn:<partition>:iam::<12-digit account>:role/<optional path/><name>",
            )),
        })
    }
}

impl FromStr for Arn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut parts = s.splitn(6, ':');
        let bad = || IdError::Arn(shown(s));
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
    fn iam_arns_follow_iams_rules() {
        for ok in [
            "arn:aws:iam::123456789012:role/OrgSyncReader",
            "arn:aws-us-gov:iam::123456789012:role/ops/team/Reader",
            "arn:aws-cn:iam::123456789012:role/a+b=c,d.e@f_g-h",
        ] {
            assert!(Arn::parse_role(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("arn:aws:iam::123456789012:user/bob", "an IAM role ARN"),
            ("arn:aws-xx:iam::123456789012:role/r", "partition"),
            ("arn:aws:iam:us-east-1:123456789012:role/r", "no region"),
            ("arn:aws:iam::12345:role/r", "12 digits"),
            (
                "arn:aws:iam::123456789012:role/bad role",
                "' ' is not allowed",
            ),
            (
                &format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)),
                "1-64",
            ),
            ("arn:aws:iam::123456789012:role/a b/r", "path"),
            ("arn:aws:iam::123456789012:role/r😀", "is not allowed"),
        ] {
            let e = Arn::parse_role(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(Arn::parse_iam("arn:aws:iam::aws:policy/ReadOnlyAccess", "policy", "p").is_ok());
        assert!(Arn::parse_iam("arn:aws:iam::aws:user/bob", "user", "u").is_err());
        let g = format!("arn:aws:iam::123456789012:group/{}", "g".repeat(128));
        assert!(Arn::parse_iam(&g, "group", "g").is_ok());
        let e = Arn::parse_iam("arn:aws:iam::123456789012:user/bob😀", "user", "u").unwrap_err();
        assert!(e.to_string().contains("bob😀"), "{e}");
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
