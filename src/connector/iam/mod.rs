//! IAM, per account: the reads (`read`, with `credential_report`), the SDK-to-model mapping
//! (`convert`), the snapshot they fill (`model`), its mapping to records (`records`), the
//! sync's per-account collector over both (`collector`), and the changes provisioning makes
//! (`provision`: access; `users`).

pub(crate) mod collector;
mod convert;
mod credential_report;
pub mod model;
pub mod provision;
pub mod read;
pub mod records;
pub mod users;

use crate::model::types as rt;

/// The IAM resource types every run declares.
pub(crate) const RESOURCE_TYPES: [&str; 7] = [
    rt::ACCOUNT_IAM,
    rt::IAM_USER,
    rt::GROUP,
    rt::ROLE,
    rt::IAM_POLICY,
    rt::INLINE_POLICY,
    rt::ACCESS_KEY,
];
