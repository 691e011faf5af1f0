//! Provisioning: changes access with the IDs a sync writes. A request is parsed and checked
//! before any AWS call (`request`, and `verify_ids` against a c1z with `--file`); it becomes
//! the ordered steps of its change once (the `provisioner` module, above this one and the
//! domain folders `connector::{iam, identity_center}` that hold the steps), and both
//! `--dry-run` (`provisioner::plan`) and the `Provisioner` consume those steps, so what a dry run prints is what a real run does. A step
//! is one AWS operation (`step`), its request built once with its parameters (`operations`),
//! sent through the execution context (`exec`: hops, token buckets, the assignment gate) and
//! logged as a [`Call`] (`call`); the [`Outcome`] carries the status, the calls and the
//! resulting record as a sync would write it (`outcome`).
//! Not here: argument parsing and printing (`cli::cmd::provision`).

pub mod call;
pub(crate) mod exec;
pub(crate) mod operations;
pub mod outcome;
pub mod request;
pub(crate) mod step;
pub mod verify_ids;

pub use call::{Call, Context};
pub use exec::{AssignmentGate, GatePass, MAX_IN_FLIGHT, Options};
pub use outcome::{Outcome, ProvisionError, Status};
pub use request::{DeleteTarget, Direction, NewUser, Request, RequestError};
