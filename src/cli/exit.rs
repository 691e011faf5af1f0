//! Exit codes (DESIGN.md §2) and the error type that carries one to `main`.

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// Failure: nothing trustworthy was written.
pub const FAILURE: u8 = 1;
/// Usage or bad input: nothing was sent to AWS.
pub const USAGE: u8 = 2;
/// Partial: some accounts or phases failed; recorded in the output.
pub const PARTIAL: u8 = 3;
/// Interrupted by SIGINT (128 + 2), the previous output left untouched.
pub const INTERRUPTED: u8 = 130;

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub error: anyhow::Error,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Exit {}

/// Marks an error as bad input (exit 2).
pub fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: USAGE,
        error: e.into(),
    })
}

/// Marks an error with `code`.
pub fn with_code(code: u8, e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code,
        error: e.into(),
    })
}

/// The exit code an error asks for (1 unless marked).
pub fn code_of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<Exit>().map(|x| x.code))
        .unwrap_or(FAILURE)
}
