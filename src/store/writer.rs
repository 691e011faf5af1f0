//! The one writer thread: owns every sink (and so the SQLite connection), receives whole units
//! (an account's records, or the organization's; a large account's in several parts) over a
//! bounded channel, from async tasks or from blocking threads ([`BlockingSender`]), writes each
//! unit in one transaction, and de-duplicates records shared between units (AWS-managed
//! policies).

use std::collections::{BTreeMap, HashSet};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::model::{Kind, Record};

use super::{RunEnd, Sink, StoreError};
use crate::model::stats::ExpansionStats;

/// Records that are committed together, or not at all.
#[derive(Debug, Default)]
pub struct Unit {
    /// What the unit is (e.g. `account 111122223333`), for errors and logs.
    pub label: String,
    /// Records that belong to this unit only.
    pub records: Vec<Record>,
    /// Records that other units may also carry (same id, same content); written once.
    pub shared: Vec<Record>,
}

/// What the writer wrote, after de-duplication.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WriteReport {
    pub units: u64,
    /// Count per (kind, resource type). For entitlements and grants the type is that of the
    /// entitlement's resource, like the c1z stats.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// What grant expansion added at the end (derived grants are not in `counts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion: Option<ExpansionStats>,
}

impl WriteReport {
    fn add(&mut self, r: &Record) {
        let ty = match r {
            Record::ResourceType(t) => t.id.clone(),
            Record::Resource(x) => {
                x.id.as_ref()
                    .map(|i| i.resource_type.clone())
                    .unwrap_or_default()
            }
            Record::Entitlement(e) => e
                .resource
                .as_ref()
                .and_then(|r| r.id.as_ref())
                .map(|i| i.resource_type.clone())
                .unwrap_or_default(),
            Record::Grant(g) => g
                .entitlement
                .as_ref()
                .and_then(|e| e.resource.as_ref())
                .and_then(|r| r.id.as_ref())
                .map(|i| i.resource_type.clone())
                .unwrap_or_default(),
        };
        *self
            .counts
            .entry(r.kind().as_str().to_string())
            .or_default()
            .entry(ty)
            .or_default() += 1;
    }
}

/// Receives every unit as it reaches the writer (the resume work file, `store::resume`).
pub trait UnitJournal: Send {
    fn record(&mut self, unit: &Unit) -> Result<(), StoreError>;
}

enum Msg {
    Unit(Unit),
    Finish(RunEnd),
}

/// Handle to the writer thread. Dropping it without [`SinkSet::finish`] abandons the run: the
/// sinks discard their temp files and no target file is touched.
pub struct SinkSet {
    tx: Option<mpsc::Sender<Msg>>,
    join: Option<JoinHandle<Result<WriteReport, StoreError>>>,
}

impl SinkSet {
    /// Starts the writer thread over `sinks`, with room for `capacity` queued units.
    pub fn spawn(sinks: Vec<Box<dyn Sink>>, capacity: usize) -> SinkSet {
        Self::spawn_with_journal(sinks, None, capacity)
    }

    /// [`SinkSet::spawn`], with a journal that receives each unit before the sinks write it.
    pub fn spawn_with_journal(
        sinks: Vec<Box<dyn Sink>>,
        journal: Option<Box<dyn UnitJournal>>,
        capacity: usize,
    ) -> SinkSet {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let join = std::thread::Builder::new()
            .name("orgsync-writer".into())
            .spawn(move || run(sinks, journal, rx))
            .expect("spawning the writer thread");
        SinkSet {
            tx: Some(tx),
            join: Some(join),
        }
    }

    /// Queues a unit (waits while the queue is full). Fails if the writer has stopped.
    pub async fn send(&self, unit: Unit) -> Result<(), StoreError> {
        let tx = self.tx.as_ref().ok_or(StoreError::WriterGone)?;
        if tx.send(Msg::Unit(unit)).await.is_err() {
            return Err(StoreError::WriterGone);
        }
        Ok(())
    }

    /// A handle that queues units from a thread outside the async runtime (waiting while the
    /// queue is full): a collector's parts of a large account, mapped on a blocking thread.
    pub fn blocking_sender(&self) -> Option<BlockingSender> {
        self.tx.as_ref().map(|tx| BlockingSender { tx: tx.clone() })
    }

    /// Writes the end-of-run metadata (`end.stats` go into the c1z stats, `end.sync_type` is
    /// the sync's type), replaces the targets and reports what was written.
    pub async fn finish(mut self, end: impl Into<RunEnd>) -> Result<WriteReport, StoreError> {
        if let Some(tx) = self.tx.take() {
            // If the writer already stopped, its own error is returned by join below.
            let _ = tx.send(Msg::Finish(end.into())).await;
        }
        self.join_writer().await
    }

    /// Abandons the run and waits for the writer to clean up.
    pub async fn abort(mut self) {
        self.tx.take();
        let _ = self.join_writer().await;
    }

    async fn join_writer(&mut self) -> Result<WriteReport, StoreError> {
        let Some(join) = self.join.take() else {
            return Err(StoreError::WriterGone);
        };
        match tokio::task::spawn_blocking(move || join.join()).await {
            Ok(Ok(result)) => result,
            _ => Err(StoreError::WriterGone),
        }
    }
}

/// Queues units from a blocking thread ([`SinkSet::blocking_sender`]).
#[derive(Clone)]
pub struct BlockingSender {
    tx: mpsc::Sender<Msg>,
}

impl BlockingSender {
    /// Queues a unit, waiting while the queue is full. Fails if the writer has stopped. Must
    /// not be called from async code (it blocks the thread).
    pub fn send(&self, unit: Unit) -> Result<(), StoreError> {
        self.tx
            .blocking_send(Msg::Unit(unit))
            .map_err(|_| StoreError::WriterGone)
    }
}

impl Drop for SinkSet {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

fn run(
    mut sinks: Vec<Box<dyn Sink>>,
    mut journal: Option<Box<dyn UnitJournal>>,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<WriteReport, StoreError> {
    let mut seen_shared: HashSet<(Kind, String)> = HashSet::new();
    let mut report = WriteReport::default();
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Unit(unit) => {
                // The journal keeps what was read (shared records included, before they are
                // de-duplicated against other units).
                if let Some(j) = journal.as_mut() {
                    j.record(&unit).map_err(|e| StoreError::Unit {
                        label: unit.label.clone(),
                        sink: "resume",
                        source: Box::new(e),
                    })?;
                }
                // The unit's own list becomes the batch (a copy would hold a large account's
                // records twice).
                let mut batch: Vec<Record> = unit.records;
                batch.reserve_exact(unit.shared.len());
                for r in unit.shared {
                    if seen_shared.insert((r.kind(), r.external_id())) {
                        batch.push(r);
                    }
                }
                for sink in sinks.iter_mut() {
                    sink.write(&batch).map_err(|e| StoreError::Unit {
                        label: unit.label.clone(),
                        sink: sink.name(),
                        source: Box::new(e),
                    })?;
                }
                for r in &batch {
                    report.add(r);
                }
                report.units += 1;
            }
            Msg::Finish(end) => {
                for sink in sinks {
                    let finished = sink.finish(&end)?;
                    if finished.expansion.is_some() {
                        report.expansion = finished.expansion;
                    }
                }
                return Ok(report);
            }
        }
    }
    // Channel closed without Finish: abandoned run. Dropping the sinks removes temp files.
    Err(StoreError::Abandoned)
}
