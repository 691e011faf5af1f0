//! Progress of a run as events ([`Event`]) sent to an [`Observer`] (the CLI's progress bar);
//! [`Quiet`] ignores them.
//!
//! Not here: drawing progress (`cli::progress`).

use crate::arn::AccountId;
use crate::aws::AwsError;
use crate::model::stats::AccountOutcome;

/// Events for progress display.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// Accounts planned so far (the count grows while the organization is listed).
    Planned {
        accounts: usize,
    },
    AccountStarted {
        account: &'a AccountId,
    },
    AccountFinished {
        outcome: &'a AccountOutcome,
    },
    /// A phase other than accounts (e.g. Identity Center) finished.
    PhaseFinished {
        phase: &'a str,
        records: usize,
        error: Option<&'a AwsError>,
    },
}

/// Receives progress events (implemented by the CLI).
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &Event<'_>);
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn on_event(&self, _event: &Event<'_>) {}
}
