//! The sync pipeline. [`run`] is the entry point: it plans the run (`plan`: which accounts,
//! with which role), chooses the collectors (`connector::collector`: per account, per
//! organization), and runs them (`engine`), streaming records to the sinks; the
//! [`RunResult`] (`result`) gives the typed statistics (`model::stats`). Progress goes to an
//! [`Observer`] (`observer`).
//!
//! Not here: what is read per AWS domain (`connector`), the sinks (`store`), the command line
//! (`cli`).

mod carried;
mod engine;
mod observer;
pub(crate) mod plan;
pub mod plan_file;
mod result;
pub mod resume;
mod run;
pub mod shard;

pub use engine::EngineError;
pub use observer::{Event, Observer, Quiet};
pub use plan::{DEFAULT_MEMBER_ROLE, OrgMode, PlanError, PlanOptions};
pub use result::{PhaseOutcome, RunResult};
pub use run::{SyncConfig, SyncError, run};
pub use shard::{Shard, ShardStats};
