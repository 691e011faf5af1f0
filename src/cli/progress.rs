//! Progress of a sync: a bar on a terminal (accounts done / total, records, AWS calls), plain
//! periodic log lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use orgsync::aws::CallMetrics;
use orgsync::model::stats::AccountStatus;
use orgsync::sync::{Event, Observer};

/// Shows progress for one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    metrics: Arc<CallMetrics>,
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    records: AtomicU64,
    last_log: Mutex<Instant>,
    log_every: Duration,
}

impl Progress {
    /// A bar when stderr is a terminal and `enabled`, log lines otherwise.
    pub fn new(enabled: bool, metrics: Arc<CallMetrics>) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} accounts {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            metrics,
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            records: AtomicU64::new(0),
            last_log: Mutex::new(Instant::now()),
            log_every: Duration::from_secs(10),
        }
    }

    fn message(&self) -> String {
        let t = self.metrics.totals();
        format!(
            "{} records, {} AWS calls, {} throttled, {} failed",
            self.records.load(Ordering::Relaxed),
            t.requests,
            t.throttled,
            self.failed.load(Ordering::Relaxed)
        )
    }

    fn tick(&self) {
        if let Some(b) = &self.bar {
            b.set_position(self.done.load(Ordering::Relaxed) as u64);
            b.set_message(self.message());
            return;
        }
        let mut last = match self.last_log.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        if last.elapsed() >= self.log_every || (total > 0 && done == total) {
            *last = Instant::now();
            tracing::info!(
                accounts_done = done,
                accounts_total = total,
                "progress: {}",
                self.message()
            );
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Planned { accounts } => {
                self.total.store(*accounts, Ordering::Relaxed);
                if let Some(b) = &self.bar {
                    b.set_length(*accounts as u64);
                }
            }
            Event::AccountStarted { .. } => {}
            Event::AccountFinished { outcome } => {
                self.done.fetch_add(1, Ordering::Relaxed);
                self.records
                    .fetch_add(outcome.records as u64, Ordering::Relaxed);
                if matches!(outcome.status, AccountStatus::Failed { .. }) {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Event::PhaseFinished { records, .. } => {
                self.records.fetch_add(*records as u64, Ordering::Relaxed);
            }
        }
        self.tick();
    }
}
