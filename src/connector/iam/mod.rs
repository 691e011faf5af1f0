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
