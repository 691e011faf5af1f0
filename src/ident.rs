//! Identifiers a user gives orgsync — flags, `ORGSYNC_*` variables, the `--config` file, the
//! `--account-config` file, the IDs of a provisioning request — checked once, at the edge and
//! before any AWS call, against the rules AWS documents for them. Each rule cites its source.
//! A refusal names the value, shortened when long ([`shown`]): a 1 MB value is never echoed
//! whole.
//!
//! Not here: ARNs and account ids as types (`arn`, which uses these rules for IAM names and
//! paths), the IDs a sync writes (`model::ids`).

use std::fmt;
use std::str::FromStr;

/// How many characters of a refused value an error shows.
const SHOWN_CHARS: usize = 300;

/// `value` as an error shows it: control characters escaped, and cut to its first
/// [`SHOWN_CHARS`] characters (with its length) when longer.
pub fn shown(value: &str) -> String {
    let total = value.chars().count();
    let head: String = value
        .chars()
        .take(SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if total > SHOWN_CHARS {
        format!("{head}… ({total} characters)")
    } else {
        head
    }
}

/// `text` (an error message) with every very long word shortened by [`shown`], and cut to
/// about `max` bytes if it is still longer: the last guard against echoing a huge value.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let words: Vec<String> = text
        .split(' ')
        .map(|w| {
            if w.chars().count() > 2 * SHOWN_CHARS {
                shown(w)
            } else {
                w.to_string()
            }
        })
        .collect();
    let out = words.join(" ");
    if out.len() <= max {
        return out;
    }
    let mut cut = max;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… ({} characters in all)",
        &out[..cut],
        text.chars().count()
    )
}

/// A value that breaks AWS's rule for the identifier it was given as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not {what}: {rule}")]
pub struct Invalid {
    /// The value, shortened ([`shown`]).
    pub shown: String,
    /// What it should have been ("a role session name").
    pub what: &'static str,
    /// The rule it breaks, in words.
    pub rule: String,
}

impl Invalid {
    pub fn new(value: &str, what: &'static str, rule: impl Into<String>) -> Invalid {
        Invalid {
            shown: shown(value),
            what,
            rule: rule.into(),
        }
    }
}

/// `\w` of AWS's patterns: ASCII letters, digits and `_`.
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Checks that `value` has `min..=max` characters, each allowed by `ok`.
fn chars_in(
    value: &str,
    what: &'static str,
    min: usize,
    max: usize,
    ok: impl Fn(char) -> bool,
    allowed: &str,
) -> Result<(), Invalid> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Invalid::new(
            value,
            what,
            format!("{min}-{max} characters of {allowed}, got {n}"),
        ));
    }
    if let Some(c) = value.chars().find(|c| !ok(*c)) {
        return Err(Invalid::new(
            value,
            what,
            format!(
                "{min}-{max} characters of {allowed}; '{}' is not allowed",
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

const IAM_NAME_CHARS: &str = "letters, digits and _+=,.@-";

/// An IAM name: role and user names (`max` 64), group, policy and inline-policy names (`max`
/// 128). IAM API reference, CreateRole / CreateUser / CreateGroup / CreatePolicy /
/// PutUserPolicy: pattern `[\w+=,.@-]+`
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html>).
pub fn iam_name(value: &str, what: &'static str, max: usize) -> Result<(), Invalid> {
    chars_in(
        value,
        what,
        1,
        max,
        |c| word(c) || "+=,.@-".contains(c),
        IAM_NAME_CHARS,
    )
}

/// An IAM path: `/`, or `/` + printable ASCII + `/`, at most 512 characters. IAM API
/// reference, CreateRole `Path`: pattern `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, length
/// 1-512 (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html>).
pub fn iam_path(value: &str) -> Result<(), Invalid> {
    const WHAT: &str = "an IAM path";
    let printable = |c: char| ('\u{21}'..='\u{7e}').contains(&c);
    let n = value.chars().count();
    if !(1..=512).contains(&n) || !value.starts_with('/') || !value.ends_with('/') {
        return Err(Invalid::new(
            value,
            WHAT,
            "'/' or '/<path>/' (it starts and ends with '/', at most 512 characters)",
        ));
    }
    if let Some(c) = value.chars().find(|c| !printable(*c)) {
        return Err(Invalid::new(
            value,
            WHAT,
            format!(
                "printable ASCII without spaces; '{}' is not allowed",
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// A role given by name with an optional path, as `--member-role-name` and `role_name` of
/// `--account-config` take it (`OrgSyncReader`, `ops/OrgSyncReader`, `/ops/OrgSyncReader`):
/// the name follows [`iam_name`] (at most 64 characters) and the path [`iam_path`].
pub fn role_name_with_path(value: &str) -> Result<(), Invalid> {
    let trimmed = value.trim_matches('/');
    let (path, name) = match trimmed.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_string(), trimmed),
    };
    iam_name(name, "an IAM role name", 64)
        .and_then(|()| iam_path(&path))
        .map_err(|e| Invalid::new(value, "an IAM role name (with an optional path)", e.rule))
}

/// An External ID: 2-1224 characters of `[\w+=,.@:/-]`. STS API reference, AssumeRole
/// `ExternalId` (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>).
pub fn external_id(value: &str) -> Result<(), Invalid> {
    chars_in(
        value,
        "an External ID",
        2,
        1224,
        |c| word(c) || "+=,.@:/-".contains(c),
        "letters, digits and _+=,.@:/-",
    )
}

/// A role session name: 2-64 characters of `[\w+=,.@-]`. STS API reference, AssumeRole
/// `RoleSessionName` (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>).
pub fn session_name(value: &str) -> Result<(), Invalid> {
    chars_in(
        value,
        "a role session name",
        2,
        64,
        |c| word(c) || "+=,.@-".contains(c),
        IAM_NAME_CHARS,
    )
}

/// An AWS region code. AWS publishes each partition's region pattern in the SDKs'
/// `partitions.json` (`regionRegex`: `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$` for `aws`,
/// `^cn\-\w+\-\d+$`, `^us\-gov\-\w+\-\d+$`, `^us\-iso\-\w+\-\d+$`, `^us\-isob\-\w+\-\d+$`,
/// `^eu\-isoe\-\w+\-\d+$`, `^us\-isof\-\w+\-\d+$`, `^eusc\-(de)\-\w+\-\d+$` for the others).
/// Accepted here: lower-case words joined by `-`, the first of 2-4 letters, ending in a
/// number — every one of those patterns, and nothing with upper case, spaces or other
/// characters; at most 32 characters.
pub fn region(value: &str) -> Result<(), Invalid> {
    const RULE: &str = "lower-case words joined by '-' and ending in a number (e.g. us-east-1, us-gov-west-1, cn-north-1)";
    let parts: Vec<&str> = value.split('-').collect();
    let ok = value.len() <= 32
        && parts.len() >= 3
        && (2..=4).contains(&parts[0].len())
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(value, "an AWS region", RULE))
    }
}

fn lower_alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// An organizational unit id: `ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}`. Organizations API reference,
/// OrganizationalUnit `Id`
/// (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html>).
pub fn is_ou_id(value: &str) -> bool {
    value
        .strip_prefix("ou-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(root, ou)| lower_alnum(root, 4, 32) && lower_alnum(ou, 8, 32))
}

/// A root id: `r-[0-9a-z]{4,32}`. Organizations API reference, Root `Id`
/// (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_Root.html>).
pub fn is_root_id(value: &str) -> bool {
    value
        .strip_prefix("r-")
        .is_some_and(|rest| lower_alnum(rest, 4, 32))
}

/// An OU or a root id ([`is_ou_id`], [`is_root_id`]).
pub fn ou_or_root_id(value: &str) -> Result<(), Invalid> {
    if is_ou_id(value) || is_root_id(value) {
        Ok(())
    } else {
        Err(Invalid::new(
            value,
            "an OU or root id",
            "ou-<4-32 of a-z0-9>-<8-32 of a-z0-9> or r-<4-32 of a-z0-9>",
        ))
    }
}

fn hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A UUID as AWS writes them: 8-4-4-4-12 hex digits.
fn uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5 && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| hex(p, *n))
}

/// An identity store id. Identity Store API reference, `IdentityStoreId`: pattern
/// `d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, length
/// 1-36 (<https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_GetUserId.html>).
/// The same reference describes the `d-` form as "a randomly generated string that contains
/// numbers and lower case letters", and the emulator draws them from `[a-z0-9]`, so the ten
/// characters after `d-` may be any lower-case letters or digits.
pub fn identity_store_id(value: &str) -> Result<(), Invalid> {
    let ok = value
        .strip_prefix("d-")
        .is_some_and(|rest| lower_alnum(rest, 10, 10))
        || (uuid(value) && !value.bytes().any(|b| b.is_ascii_uppercase()));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            value,
            "an identity store id",
            "d-<10 of a-z0-9> or a UUID",
        ))
    }
}

/// A user, group or membership id of an identity store. Identity Store API reference,
/// `ResourceId` (`UserId`, `GroupId`, `MembershipId`): pattern
/// `([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}`,
/// length 1-47 (<https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_User.html>).
pub fn identity_store_member_id(value: &str, what: &'static str) -> Result<(), Invalid> {
    let ok = match value.split_once('-') {
        Some((prefix, rest)) if prefix.len() == 10 => {
            prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && uuid(rest)
        }
        _ => uuid(value),
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            value,
            what,
            "a UUID (8-4-4-4-12 hex digits), optionally after the 10-character identity store suffix and '-'",
        ))
    }
}

/// An identity-store user name. Identity Store API reference, CreateUser `UserName`: pattern
/// `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`, length 1-128 — letters, marks, symbols, numbers and
/// punctuation; no spaces or control characters
/// (<https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_CreateUser.html>).
pub fn identity_store_user_name(value: &str) -> Result<(), Invalid> {
    const WHAT: &str = "an Identity Center user name";
    let n = value.chars().count();
    if !(1..=128).contains(&n) {
        return Err(Invalid::new(
            value,
            WHAT,
            format!("1-128 characters, got {n}"),
        ));
    }
    match value.chars().find(|c| c.is_whitespace() || c.is_control()) {
        Some(c) => Err(Invalid::new(
            value,
            WHAT,
            format!(
                "no spaces or control characters; '{}' is not allowed",
                c.escape_debug()
            ),
        )),
        None => Ok(()),
    }
}

/// The partitions Identity Center's ARNs are documented in.
const SSO_PARTITIONS: [&str; 5] = ["aws", "aws-us-gov", "aws-cn", "aws-iso", "aws-iso-b"];

/// `(sso)?ins-[a-zA-Z0-9-.]{16}`.
fn instance_id(s: &str) -> bool {
    let rest = s.strip_prefix("ssoins-").or_else(|| s.strip_prefix("ins-"));
    rest.is_some_and(|r| {
        r.len() == 16
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    })
}

/// An Identity Center instance ARN. SSO Admin API reference, `InstanceArn`: pattern
/// `arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}`
/// (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListPermissionSets.html>).
pub fn instance_arn(value: &str) -> Result<(), Invalid> {
    let ok = value
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":sso:::instance/"))
        .is_some_and(|(partition, id)| SSO_PARTITIONS.contains(&partition) && instance_id(id));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            value,
            "an Identity Center instance ARN",
            "arn:<partition>:sso:::instance/ssoins-<16 characters>",
        ))
    }
}

/// A permission set ARN. SSO Admin API reference, `PermissionSetArn`: pattern
/// `arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}`
/// (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html>).
/// The emulator names permission sets `…:sso:::instance/ssoins-…/ps-…`
/// (docs/moto-notes.md); that form is accepted too, with the same id rules.
pub fn permission_set_arn(value: &str) -> Result<(), Invalid> {
    let ps_id = |s: &str| {
        s.strip_prefix("ps-").is_some_and(|r| {
            r.len() == 16
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-./".contains(&b))
        })
    };
    let ok = value.strip_prefix("arn:").is_some_and(|r| {
        let (partition, rest) = match r.split_once(":sso:::") {
            Some(x) => x,
            None => return false,
        };
        let Some(rest) = rest
            .strip_prefix("permissionSet/")
            .or_else(|| rest.strip_prefix("instance/"))
        else {
            return false;
        };
        SSO_PARTITIONS.contains(&partition)
            && rest
                .split_once('/')
                .is_some_and(|(ins, ps)| instance_id(ins) && ps_id(ps))
    });
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            value,
            "a permission set ARN",
            "arn:<partition>:sso:::permissionSet/ssoins-<16 characters>/ps-<16 characters>",
        ))
    }
}

/// Defines a string newtype that exists only when its rule holds.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                let check: fn(&str) -> Result<(), Invalid> = $check;
                check(s).map(|()| $name(s.to_string()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

checked_string!(
    /// An External ID ([`external_id`]).
    ExternalId,
    external_id
);
checked_string!(
    /// A role session name ([`session_name`]).
    SessionName,
    session_name
);
checked_string!(
    /// An AWS region code ([`region`]).
    Region,
    region
);
checked_string!(
    /// A role name with an optional path ([`role_name_with_path`]), kept as given.
    RoleRef,
    role_name_with_path
);
checked_string!(
    /// An OU or root id ([`ou_or_root_id`]).
    OuOrRootId,
    ou_or_root_id
);
checked_string!(
    /// An identity store id ([`identity_store_id`]).
    IdentityStoreId,
    identity_store_id
);
checked_string!(
    /// An Identity Center instance ARN ([`instance_arn`]).
    InstanceArn,
    instance_arn
);

impl RoleRef {
    /// The name with its path and without leading or trailing `/` (`ops/Reader`), as
    /// `arn::role_arn` takes it.
    pub fn trimmed(&self) -> &str {
        self.0.trim_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened_and_control_characters_escaped() {
        let big = "a".repeat(1 << 20);
        let s = shown(&big);
        assert!(s.len() < 340, "{s}");
        assert!(s.ends_with("(1048576 characters)"), "{s}");
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown("bob😀"), "bob😀");
        let e = session_name(&big).unwrap_err().to_string();
        assert!(e.len() < 500, "{e}");
        let msg = format!("error: invalid value '{big}' for '--x': {e}\n\nFor more, try --help");
        let b = bounded(&msg, 4096);
        assert!(
            b.len() < 1000 && b.contains("--x") && b.contains("For more"),
            "{b}"
        );
        let spaced = "word ".repeat(100_000);
        assert!(bounded(&spaced, 4096).len() < 4200);
        assert_eq!(bounded("short", 4096), "short");
    }

    #[test]
    fn iam_names_and_paths() {
        assert!(iam_name("Org.Sync+Reader=1,x@y_z-2", "a role name", 64).is_ok());
        assert!(iam_name(&"a".repeat(64), "a role name", 64).is_ok());
        assert!(iam_name(&"a".repeat(65), "a role name", 64).is_err());
        assert!(iam_name(&"a".repeat(128), "a group name", 128).is_ok());
        for bad in ["", "bob smith", "bob😀", "a/b", "é", "a:b", "a\tb"] {
            let e = iam_name(bad, "an IAM user name", 64).unwrap_err();
            assert!(e.to_string().contains("an IAM user name"), "{e}");
        }
        assert!(iam_path("/").is_ok() && iam_path("/a/b-c/").is_ok());
        for bad in ["", "a/", "/a", "/a b/", &format!("/{}/", "a".repeat(511))] {
            assert!(iam_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "OrganizationAccountAccessRole",
            "ops/Reader",
            "/ops/team/Reader/",
        ] {
            assert!(role_name_with_path(ok).is_ok(), "{ok}");
            assert_eq!(ok.parse::<RoleRef>().unwrap().as_str(), ok);
        }
        assert_eq!(
            "/ops/Reader".parse::<RoleRef>().unwrap().trimmed(),
            "ops/Reader"
        );
        for bad in [
            "",
            "/",
            "bad role!",
            &"r".repeat(65),
            "ops/ /Reader",
            "ops/Rea der",
        ] {
            assert!(role_name_with_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sts_parameters() {
        assert!(external_id("ab").is_ok());
        assert!(external_id("arn:aws:x/y=z,w@v.u+t_s-r").is_ok());
        assert!(external_id(&"x".repeat(1224)).is_ok());
        for bad in ["a", "", "has space", "semi;colon", "é1", &"x".repeat(1225)] {
            assert!(external_id(bad).is_err(), "{bad:?}");
        }
        assert!(session_name("orgsync").is_ok() && session_name("a@b.c=d,e+f_g-h").is_ok());
        for bad in ["a", "with:colon", "with/slash", &"s".repeat(65)] {
            assert!(session_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-west-1",
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "ap-southeast-5",
        ] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "europe",
            "EU-west-1",
            "us-east",
            "us-east-1 ",
            "us_east_1",
            "us--east-1",
            "us-east-123",
            "u-east-1",
        ] {
            assert!(region(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn organization_ids() {
        assert!(is_ou_id("ou-ab12-34567890") && is_ou_id("ou-abcd-efghijkl"));
        for bad in [
            "ou-ab1-34567890",
            "ou-ab12-3456789",
            "ou-AB12-34567890",
            "ou-ab12",
            "ou-ab12-eng",
        ] {
            assert!(!is_ou_id(bad), "{bad}");
        }
        assert!(is_root_id("r-ab12") && !is_root_id("r-ab1") && !is_root_id("r-AB12"));
        assert!(ou_or_root_id("r-ab12").is_ok());
        assert!(ou_or_root_id("engineering").is_err());
    }

    #[test]
    fn identity_center_ids() {
        assert!(identity_store_id("d-1234567890").is_ok());
        assert!(identity_store_id("d-abcdefxyz0").is_ok());
        assert!(identity_store_id("3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b").is_ok());
        for bad in [
            "d-123",
            "d-12345678901",
            "D-1234567890",
            "d-12345 7890",
            "x",
        ] {
            assert!(identity_store_id(bad).is_err(), "{bad}");
        }
        let id = "3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b";
        assert!(identity_store_member_id(id, "a user id").is_ok());
        assert!(identity_store_member_id(&format!("1234567890-{id}"), "a user id").is_ok());
        for bad in [
            "u-1",
            "bob😀",
            &format!("{id}-x"),
            "12345-3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b",
        ] {
            assert!(identity_store_member_id(bad, "a user id").is_err(), "{bad}");
        }
        assert!(identity_store_user_name("ann@example.com").is_ok());
        assert!(
            identity_store_user_name("ann😀").is_ok(),
            "symbols are allowed"
        );
        for bad in ["", "ann smith", "a\tb", &"a".repeat(129)] {
            assert!(identity_store_user_name(bad).is_err(), "{bad:?}");
        }
        assert!(instance_arn("arn:aws:sso:::instance/ssoins-1234567890abcdef").is_ok());
        assert!(instance_arn("arn:aws:sso:::instance/ssoins-1234").is_err());
        assert!(instance_arn("arn:aws:iam::1:role/x").is_err());
        let ps = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";
        assert!(permission_set_arn(ps).is_ok());
        assert!(
            permission_set_arn(
                "arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef"
            )
            .is_ok()
        );
        for bad in [
            "arn:aws:sso:::permissionSet/ssoins-1/ps-2",
            "arn:aws-xx:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef",
            "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcde😀",
        ] {
            assert!(permission_set_arn(bad).is_err(), "{bad}");
        }
    }
}
