//! IAM, per account: the reads (`read`), the snapshot they fill (`model`), its mapping to
//! records (`records`), and the changes provisioning makes (`provision`: access; `users`).

pub mod model;
pub mod provision;
pub mod read;
pub mod records;
pub mod users;
