//! Sinks: where records go. The c1z v1 file and JSON lines, behind one small trait, fed by a
//! single writer thread; every output file is replaced atomically (`atomic`). Nothing in this
//! module talks to AWS.

pub(crate) mod atomic;
pub mod c1z;
pub mod jsonl;
pub(crate) mod rotate;
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
    #[error("the c1z file holds no sync")]
    NoSync,
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
