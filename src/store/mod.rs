//! Sinks: where records go. The c1z v1 file and JSON lines, behind one small trait, fed by a
//! single writer thread; every output file is replaced atomically (`atomic`) by one writer at a
//! time (`lock`), and scratch space lives in directories a later run can clean (`scratch`).
//! Nothing in this module talks to AWS.

pub mod atomic;
pub mod c1z;
pub mod jsonl;
pub mod lock;
pub mod resume;
pub mod rotate;
pub mod scratch;
mod writer;

use std::path::PathBuf;

use crate::model::Record;
use crate::model::stats::{ExpansionStats, SECTION, SyncType};

pub use writer::{BlockingSender, SinkSet, Unit, UnitJournal, WriteReport};

/// Storage failures, each naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {why}")]
    Target { path: PathBuf, why: String },
    #[error("{path} is not a c1z v1 file: {why}")]
    NotC1z { path: PathBuf, why: String },
    #[error("{path} holds no sync (a c1z file without a sync run)")]
    NoSync { path: PathBuf },
    #[error(
        "{path} is being written by another orgsync run ({holder}){}; wait for it, or pass --wait-lock DURATION",
        waited.map(|w| format!(", still after waiting {}", humantime::format_duration(std::time::Duration::from_millis(w.as_millis() as u64)))).unwrap_or_default()
    )]
    Locked {
        path: PathBuf,
        holder: String,
        waited: Option<std::time::Duration>,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("grant expansion failed: {0}")]
    Expand(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a stored record does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("writing {label} to the {sink} sink: {source}")]
    Unit {
        label: String,
        sink: &'static str,
        #[source]
        source: Box<StoreError>,
    },
    #[error("the resume work file is damaged: {0}")]
    WorkFile(String),
    #[error("the writer stopped before the run finished")]
    WriterGone,
    #[error("the run was abandoned; no output was written")]
    Abandoned,
}

/// What every sink receives at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// What goes into the c1z sync run's `stats` besides the record counts (orgsync's
    /// section).
    pub stats: serde_json::Value,
    /// `full`, or `partial` when the run did not read the whole organization.
    pub sync_type: SyncType,
}

impl From<serde_json::Value> for RunEnd {
    /// A full sync with these stats.
    fn from(stats: serde_json::Value) -> RunEnd {
        RunEnd {
            stats,
            sync_type: SyncType::Full,
        }
    }
}

/// What a sink did when it finished, beyond the records it was given.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Grant expansion's figures, when the sink expanded grants.
    pub expansion: Option<ExpansionStats>,
}

/// A destination for records. `write` receives one unit at a time; `finish` makes the output
/// final (atomically, for files). A sink dropped without `finish` leaves no output behind.
pub trait Sink: Send {
    fn name(&self) -> &'static str;
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError>;
    fn finish(self: Box<Self>, end: &RunEnd) -> Result<Finished, StoreError>;
}

/// A step run on the c1z database when the run finishes, before the stats are counted and
/// the file is put in place (grant expansion: `expand::sqlite::finish_step`). It gets the
/// connection and the sync id, and returns its figures; its failure abandons the file.
pub type FinishStep = Box<
    dyn FnOnce(
            &rusqlite::Connection,
            &str,
        ) -> Result<ExpansionStats, Box<dyn std::error::Error + Send + Sync>>
        + Send,
>;

/// The c1z file as a sink; with [`C1zSink::expanding`], grants are expanded at the end (as a
/// baton connector's one-shot sync does) before the stats are counted and the file is put in
/// place, so a failed expansion leaves the previous file untouched.
pub struct C1zSink {
    writer: c1z::C1zWriter,
    expand: Option<FinishStep>,
}

impl C1zSink {
    /// Writes the records as they come; no expansion.
    pub fn new(writer: c1z::C1zWriter) -> C1zSink {
        C1zSink {
            writer,
            expand: None,
        }
    }

    /// Runs `expand` (grant expansion) when the run finishes.
    pub fn expanding(mut self, expand: FinishStep) -> C1zSink {
        self.expand = Some(expand);
        self
    }
}

impl Sink for C1zSink {
    fn name(&self) -> &'static str {
        "c1z"
    }

    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        self.writer.write(records)
    }

    fn finish(mut self: Box<Self>, end: &RunEnd) -> Result<Finished, StoreError> {
        let mut finished = Finished::default();
        if let Some(expand) = self.expand.take() {
            // A failed step abandons the whole file, so the database needs no rollback journal
            // from here on (a large expansion's journal in memory would double the peak memory;
            // benches/expand).
            self.writer
                .connection()
                .execute_batch("PRAGMA journal_mode=OFF;")?;
            let e = expand(self.writer.connection(), self.writer.sync_id())
                .map_err(StoreError::Expand)?;
            finished.expansion = Some(e);
        }
        let mut stats = self.writer.stats()?;
        if let (Some(s), Some(extra)) = (stats.as_object_mut(), end.stats.as_object()) {
            for (k, v) in extra {
                s.insert(k.clone(), v.clone());
            }
            if let (Some(e), Some(serde_json::Value::Object(section))) =
                (&finished.expansion, s.get_mut(SECTION))
            {
                section.insert(
                    "expansion".into(),
                    serde_json::to_value(e).unwrap_or_default(),
                );
            }
        }
        self.writer.set_sync_type(end.sync_type);
        self.writer.finish(&stats)?;
        Ok(finished)
    }
}

#[cfg(test)]
mod tests;
