//! JSON-lines sink: one object per record (`{"id", "kind", "record"}`, keys sorted), to a file
//! (written as `<file>.tmp` and put in place atomically at the end, `store::atomic`) or to
//! standard output.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::model::Record;

use super::atomic::{AtomicFile, io_err};
use super::{Finished, RunEnd, Sink, StoreError};

/// Where JSON lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonlTarget {
    Stdout,
    File(PathBuf),
}

impl JsonlTarget {
    /// `-` means standard output.
    pub fn parse(s: &str) -> JsonlTarget {
        if s == "-" {
            JsonlTarget::Stdout
        } else {
            JsonlTarget::File(PathBuf::from(s))
        }
    }
}

enum Out {
    Stdout,
    /// Dropped without a commit (failed or interrupted run), it removes its temp file.
    File(AtomicFile),
}

/// Writes records as JSON lines.
pub struct JsonlSink {
    out: Option<Out>,
}

/// The text of one record's line (without the newline).
pub fn line(record: &Record) -> String {
    record.to_json().to_string()
}

impl JsonlSink {
    pub fn create(target: &JsonlTarget) -> Result<Self, StoreError> {
        let out = match target {
            JsonlTarget::Stdout => Out::Stdout,
            JsonlTarget::File(path) => {
                super::c1z::check_writable(path)?;
                Out::File(AtomicFile::create(path)?)
            }
        };
        Ok(JsonlSink { out: Some(out) })
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let mut text = String::new();
        for r in records {
            text.push_str(&line(r));
            text.push('\n');
        }
        match self.out.as_mut() {
            Some(Out::Stdout) => {
                let mut lock = io::stdout().lock();
                lock.write_all(text.as_bytes())
                    .and_then(|_| lock.flush())
                    .map_err(io_err(Path::new("<stdout>")))
            }
            Some(Out::File(f)) => f.write_bytes(text.as_bytes()),
            None => Ok(()),
        }
    }

    /// Derived grants of an expansion are not written here: the lines are the records as
    /// read (the direct grants, with their GrantExpandable annotations).
    fn finish(mut self: Box<Self>, _end: &RunEnd) -> Result<Finished, StoreError> {
        if let Some(Out::File(f)) = self.out.take() {
            f.commit()?;
        }
        Ok(Finished::default())
    }
}
