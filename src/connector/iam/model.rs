//! One account's IAM as plain data (what the AWS calls returned, already decoded). `read`
//! fills it; `records` turns it into records.
//!
//! Not here: the credential report's rows and parser (`credential_report`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A managed policy attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub name: String,
    pub arn: String,
}

impl Attached {
    /// The attachment of policy `arn`, named `name` or, when AWS gives no name, after the
    /// ARN's last segment.
    pub fn new(name: Option<&str>, arn: &str) -> Attached {
        Attached {
            name: name
                .map(str::to_string)
                .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_string()),
            arn: arn.to_string(),
        }
    }
}

/// An inline policy with its decoded document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub name: String,
    pub document: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
    /// Group names.
    pub groups: Vec<String>,
    pub attached: Vec<Attached>,
    pub inline: Vec<Inline>,
    pub created: Option<DateTime<Utc>>,
    /// The ARN of the user's permissions boundary, when it has one.
    pub boundary: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub path: String,
    pub attached: Vec<Attached>,
    pub inline: Vec<Inline>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Role {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
    /// Decoded trust policy.
    pub trust: Option<String>,
    pub description: Option<String>,
    pub max_session_seconds: Option<i32>,
    pub attached: Vec<Attached>,
    pub inline: Vec<Inline>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    /// The ARN of the role's permissions boundary, when it has one.
    pub boundary: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// Decoded default-version document, when it could be read.
    pub document: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessKey {
    pub id: String,
    pub user_name: String,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

/// Per-user facts from the credential report (or the per-user fallback calls). The default
/// is what AWS says of a user just created: no password (no console access), nothing used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    /// The user has a login profile (a console password): the report's `password_enabled`,
    /// or GetLoginProfile answering.
    pub password_enabled: bool,
    /// When the password was last set (the report's `password_last_changed`, only meaningful
    /// with a password; GetLoginProfile's `CreateDate` without the report).
    pub password_last_changed: Option<DateTime<Utc>>,
    /// Whether the user must set a new password at the next sign-in: GetLoginProfile only (the
    /// credential report has no such column), so `None` when the report was read.
    pub password_reset_required: Option<bool>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub mfa_active: Option<bool>,
    /// Latest use of any of the user's access keys (from the report).
    pub key_last_used: Option<DateTime<Utc>>,
}

/// Everything read from one account's IAM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IamSnapshot {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub roles: Vec<Role>,
    /// Customer-managed policies of the account.
    pub policies: Vec<ManagedPolicy>,
    /// AWS-managed policies attached to something in the account.
    pub aws_policies: Vec<ManagedPolicy>,
    /// Access keys by user name.
    pub keys: BTreeMap<String, Vec<AccessKey>>,
    /// Credential facts by user name.
    pub credentials: BTreeMap<String, Credentials>,
}
