//! Sinks: where records go. The c1z v1 file and JSON lines, behind one small trait, fed by a
//! single writer thread; every output file is replaced atomically (`atomic`) by one writer at a
//! time (`lock`), and scratch space lives in directories a later run can clean (`scratch`).
//! Nothing in this module talks to AWS.

pub(crate) mod atomic;
pub mod c1z;
pub mod jsonl;
pub mod lock;
pub(crate) mod rotate;
pub(crate) mod scratch;
mod writer;

use std::path::PathBuf;

use crate::model::Record;

pub use writer::{BlockingSender, SinkSet, Unit, WriteReport};

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
    #[error("a stored record does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("writing {label} to the {sink} sink: {source}")]
    Unit {
        label: String,
        sink: &'static str,
        #[source]
        source: Box<StoreError>,
    },
    #[error("the writer stopped before the run finished")]
    WriterGone,
    #[error("the run was abandoned; no output was written")]
    Abandoned,
}

/// A destination for records. `write` receives one unit at a time; `finish` makes the output
/// final (atomically, for files). A sink dropped without `finish` leaves no output behind.
pub trait Sink: Send {
    fn name(&self) -> &'static str;
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError>;
    fn finish(self: Box<Self>, extra_stats: &serde_json::Value) -> Result<(), StoreError>;
}

/// The c1z file as a sink.
pub struct C1zSink(pub c1z::C1zWriter);

impl Sink for C1zSink {
    fn name(&self) -> &'static str {
        "c1z"
    }

    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        self.0.write(records)
    }

    fn finish(self: Box<Self>, extra_stats: &serde_json::Value) -> Result<(), StoreError> {
        let mut stats = self.0.stats()?;
        if let (Some(s), Some(extra)) = (stats.as_object_mut(), extra_stats.as_object()) {
            for (k, v) in extra {
                s.insert(k.clone(), v.clone());
            }
        }
        self.0.finish(&stats)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
