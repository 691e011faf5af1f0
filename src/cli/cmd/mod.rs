//! One file per subcommand: its clap arguments, the call into the library, and the printing.

pub mod access;
pub mod check;
pub mod diff;
pub mod expand;
pub mod export;
pub mod inspect;
pub mod merge;
pub mod plan;
pub mod policy;
pub mod provision;
pub mod report;
pub mod run;
pub mod summary;
pub mod sync;
