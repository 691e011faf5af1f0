//! What a provisioning command reports: the [`Status`] (`granted`, `already-granted`, …), a
//! one-line detail, the AWS calls made, and the resulting grant or resource record in the
//! canonical JSON a sync writes ([`Record::to_json`]); [`Done`], what the steps of a change
//! decided before the calls are added. Also the typed error of the module.
//! Not here: deciding any of it (the steps of each change do).

use serde_json::{Value, json};

use crate::aws::{AwsError, ErrorClass};
use crate::model::Record;

use super::call::Call;
use super::request::RequestError;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Granted,
    AlreadyGranted,
    Revoked,
    AlreadyRevoked,
    Created,
    AlreadyExists,
    Deleted,
    NotFound,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Granted => "granted",
            Status::AlreadyGranted => "already-granted",
            Status::Revoked => "revoked",
            Status::AlreadyRevoked => "already-revoked",
            Status::Created => "created",
            Status::AlreadyExists => "already-exists",
            Status::Deleted => "deleted",
            Status::NotFound => "not-found",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the steps of a change decided: the outcome without its calls.
#[derive(Debug)]
pub(crate) struct Done {
    pub status: Status,
    pub detail: String,
    pub record: Option<Record>,
}

/// The detail of a deletion: `deleted <what>`, naming what was removed first.
pub(crate) fn deleted(what: &str, removed: &[String]) -> String {
    if removed.is_empty() {
        format!("deleted {what}")
    } else {
        format!("deleted {what} after removing {}", removed.join(", "))
    }
}

/// The result of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// One human sentence: what changed, or why nothing did.
    pub detail: String,
    /// The AWS calls made for the request, in order.
    pub calls: Vec<Call>,
    /// The grant (grant / revoke) or resource (create / delete) as a sync writes it: after a
    /// grant (or `already-granted`), the grant that exists; after a revoke, the grant that was
    /// removed; after `already-revoked`, the grant the ID names when the calls made were enough
    /// to build it. `None` when there is nothing to show (e.g. a membership that never
    /// existed, whose id only Identity Center could have made up).
    pub record: Option<Record>,
}

impl Outcome {
    /// `{status, detail, calls, record}`.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "detail": self.detail,
            "calls": self.calls,
            "record": self.record.as_ref().map(Record::to_json),
        })
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Refused before any AWS call.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// `--file` does not hold the ID (refused before any AWS call).
    #[error("{0}")]
    NotInFile(String),
    /// AWS refused or failed a call; the message is AWS's.
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("cannot assume {role} to make the change in account {account}: {cause}")]
    Hop {
        account: String,
        role: String,
        cause: Box<AwsError>,
    },
    #[error(
        "account {account} is {status}, not ACTIVE: orgsync changes Identity Center access only in active accounts"
    )]
    AccountNotActive { account: String, status: String },
    #[error("IAM Identity Center reports {operation} request {request_id} FAILED: {reason}")]
    AssignmentFailed {
        operation: &'static str,
        request_id: String,
        reason: String,
    },
    #[error(
        "{operation} request {request_id} is still IN_PROGRESS after {waited_secs}s; look at it later with `aws sso-admin {status_command} --account-assignment-{kind}-request-id {request_id}`"
    )]
    AssignmentTimeout {
        operation: &'static str,
        status_command: &'static str,
        kind: &'static str,
        request_id: String,
        waited_secs: u64,
    },
    /// What a request creates exists already, unlike the request: nothing was changed.
    #[error("{0}; nothing was changed")]
    Conflict(String),
    /// An AWS answer lacked something it always carries.
    #[error("{0}")]
    Unexpected(String),
    /// A multi-step change (user deletion) failed part-way.
    #[error("{error} (already done before the failure: {})", done.join("; "))]
    Partial {
        done: Vec<String>,
        error: Box<ProvisionError>,
    },
}

impl ProvisionError {
    /// True when nothing was sent to AWS and the input was at fault (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ProvisionError::Request(_) | ProvisionError::NotInFile(_)
        )
    }

    /// How AWS answered, when AWS refused or failed a call.
    pub fn aws_class(&self) -> Option<ErrorClass> {
        match self {
            ProvisionError::Aws(e) => Some(e.class),
            _ => None,
        }
    }

    /// `self`, or when something was already done before it (a user deletion's removals), a
    /// [`ProvisionError::Partial`] naming that.
    pub fn after(self, done: &[String]) -> ProvisionError {
        if done.is_empty() {
            self
        } else {
            ProvisionError::Partial {
                done: done.to_vec(),
                error: Box::new(self),
            }
        }
    }

    /// AWS's error code, when AWS refused a call with one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            ProvisionError::Aws(e) => e.code.as_deref(),
            _ => None,
        }
    }

    /// AWS answered that the entity does not exist (NoSuchEntity, ResourceNotFoundException).
    pub fn is_not_found(&self) -> bool {
        self.aws_class() == Some(ErrorClass::NotFound)
    }
}
