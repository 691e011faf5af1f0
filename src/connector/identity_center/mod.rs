//! IAM Identity Center, read once per organization, and how a sync takes it in. The instance
//! is found by `discover` (which `orgsync check` uses too), read by `read` (identity store,
//! permission sets, account assignments by the cheapest `strategy`), the SDK's answers mapped
//! to the plain `model` by `convert` (which provisioning uses too, so what it prints is what a
//! sync reads), and the model mapped to records by `records`. This file holds the options a
//! sync takes ([`IcOptions`]); `phase` is the sync's per-organization collector (whether the
//! phase runs, and running it).
//!
//! Users' status can also come from the instance's SCIM endpoint (`scim`).
//!
//! Not here: the command-line flags (`cli::ic_args`), provisioning (`membership`,
//! `assignment`), application assignments.

pub mod assignment;
mod convert;
pub(crate) mod discover;
pub mod membership;
pub mod model;
pub mod object_records;
pub(crate) mod phase;
mod read;
pub mod records;
pub mod scim;
pub mod strategy;
pub mod users;

use crate::model::types as rt;

pub(crate) use convert::{ic_group_of, ic_user_of};
use strategy::StrategyChoice;

/// Whether a sync reads Identity Center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcMode {
    /// When an instance is found; off (with a note) when there is none or the caller may not
    /// list instances.
    Auto,
    /// Must be synced: a missing or unreadable instance fails the phase (exit 3).
    On,
    Off,
}

/// How a sync (and `orgsync check`) treats Identity Center.
#[derive(Debug, Clone)]
pub struct IcOptions {
    pub mode: IcMode,
    /// The instance's region; `None` searches the session's region then
    /// `discover::PROBE_REGIONS`.
    pub sso_region: Option<String>,
    /// The instance to sync when the caller sees several; `None` takes the organization
    /// instance.
    pub instance_arn: Option<String>,
    /// How account assignments are enumerated.
    pub strategy: StrategyChoice,
    /// Read users' status from IAM Identity Center's SCIM endpoint too.
    pub scim: Option<scim::ScimOptions>,
}

/// The resource types an Identity Center sync declares.
pub const IC_TYPES: [&str; 4] = [
    rt::SSO_USER,
    rt::SSO_GROUP,
    rt::PERMISSION_SET,
    rt::PERMISSION_SET_ASSIGNMENT,
];
