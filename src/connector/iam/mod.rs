//! IAM, per account: the reads (`read`), the snapshot they fill (`model`), its mapping to
//! records (`records`), the sync's per-account collector over both (`collector`), and the
//! changes provisioning makes (`provision`).

pub(crate) mod collector;
pub mod model;
pub mod provision;
pub mod read;
pub mod records;
