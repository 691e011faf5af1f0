//! One file per subcommand: its clap arguments, the call into the library, and the printing.

pub mod access;
pub mod check;
pub mod diff;
pub mod inspect;
pub mod policy;
pub mod provision;
pub mod run;
pub mod sync;
