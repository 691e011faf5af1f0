//! Service control policies (SCPs): the organization policies that cap what IAM may allow in
//! the accounts under them. Read once per organization from the management (or delegated
//! administrator) account through the Organizations token bucket (`read`, with the cheaper of
//! two call plans by counts: [`ScpStrategy`]), held as plain data ([`Scp`]), mapped to
//! `service_control_policy` resources with an `attached` entitlement and a grant to every
//! root (`organization`), OU (`organizational_unit`) and account of the run it is attached to
//! (`records`), and run by the sync as a per-organization phase (`phase`).
//!
//! Not here: the organization tree itself (`connector::org`), the command-line flags
//! (`cli::cmd::sync`), other policy types (tag, backup, AI opt-out policies).

mod phase;
mod read;
mod records;

use std::collections::BTreeSet;

pub(crate) use phase::attach;
pub use read::{ScpEstimate, choose};
pub use records::scp_records;

/// The resource types the SCP phase declares.
pub const SCP_TYPES: [&str; 1] = [crate::model::types::SERVICE_CONTROL_POLICY];

/// The Organizations policy type of service control policies.
pub const SCP_TYPE: &str = "SERVICE_CONTROL_POLICY";

/// Whether and how a sync reads service control policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScpOptions {
    /// Read them when the organization has them enabled; a caller that may not list them
    /// gets a note, not a failure.
    pub enabled: bool,
    pub strategy: ScpStrategy,
}

impl Default for ScpOptions {
    fn default() -> Self {
        ScpOptions {
            enabled: true,
            strategy: ScpStrategy::Auto,
        }
    }
}

/// How the attachments are read (both also call `ListPolicies` and one `DescribePolicy` per
/// policy for the documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScpStrategy {
    /// The cheaper of the two by estimated call count ([`choose`]).
    Auto,
    /// `ListTargetsForPolicy` per policy (pages of 20 targets).
    ByPolicy,
    /// `ListPoliciesForTarget` per root, OU and account of the run (one page each: at most 5
    /// SCPs may be attached to a node).
    ByTarget,
}

/// What an SCP is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    Root,
    OrganizationalUnit,
    Account,
}

/// One attachment target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub kind: TargetKind,
    pub id: String,
}

/// A service control policy as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scp {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub description: String,
    /// AWS's own (FullAWSAccess).
    pub aws_managed: bool,
    /// The policy document (`DescribePolicy`'s `Content`).
    pub document: Option<String>,
    /// Where it is attached (within the run).
    pub targets: BTreeSet<Target>,
}
