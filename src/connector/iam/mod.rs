//! IAM, per account: the reads (`read`, with `credential_report`), the SDK-to-model mapping
//! (`convert`), the snapshot they fill (`model`), its mapping to records (`records`), and the
//! changes provisioning makes (`provision`).

mod convert;
mod credential_report;
pub mod model;
pub mod provision;
pub mod read;
pub mod records;
