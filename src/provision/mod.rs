//! Provisioning: changes access with the IDs a sync writes. A request is parsed and checked
//! before any AWS call (`request`, and `check` against a c1z with `--file`); `plan` lists the
//! AWS calls it makes (what `--dry-run` prints); the executors make them idempotently — check
//! first, change only what differs — in the account that owns the entity (`iam`, `users`), or
//! in Identity Center with the org-wide token bucket (`identity_center`, `assignment`); the
//! [`Outcome`] carries the status and the resulting record as a sync would write it.
//! Not here: argument parsing and printing (`cli::provision_cmd`).

pub mod call;
pub mod outcome;
pub mod provisioner;
pub mod records;
pub mod request;
mod users;
pub mod verify_ids;

pub use call::{Call, PlanContext};
pub use outcome::{Outcome, ProvisionError, Status};
pub use provisioner::{Options, Provisioner};
pub use request::{DeleteTarget, Direction, NewUser, Request, RequestError};
