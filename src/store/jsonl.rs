//! JSON-lines sink: one object per record (`{"id", "kind", "record"}`, keys sorted), to a file
//! (written as `<file>.tmp`, renamed into place at the end) or to standard output.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::Record;

use super::{Sink, StoreError, c1z::tmp_path};

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
    File {
        w: BufWriter<File>,
        tmp: PathBuf,
        target: PathBuf,
    },
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
                let tmp = tmp_path(path);
                let f = File::create(&tmp).map_err(|source| StoreError::Io {
                    path: tmp.clone(),
                    source,
                })?;
                Out::File {
                    w: BufWriter::new(f),
                    tmp,
                    target: path.clone(),
                }
            }
        };
        Ok(JsonlSink { out: Some(out) })
    }
}

fn io(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
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
                    .map_err(io(Path::new("<stdout>")))
            }
            Some(Out::File { w, tmp, .. }) => w.write_all(text.as_bytes()).map_err(io(tmp)),
            None => Ok(()),
        }
    }

    fn finish(mut self: Box<Self>, _stats: &serde_json::Value) -> Result<(), StoreError> {
        if let Some(Out::File { w, tmp, target }) = self.out.take() {
            let result = (|| {
                let f = w.into_inner().map_err(|e| StoreError::Io {
                    path: tmp.clone(),
                    source: e.into_error(),
                })?;
                f.sync_all().map_err(io(&tmp))?;
                fs::rename(&tmp, &target).map_err(io(&target))
            })();
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result?;
        }
        Ok(())
    }
}

impl Drop for JsonlSink {
    /// A sink dropped without `finish` (failed or interrupted run) removes its temp file.
    fn drop(&mut self) {
        if let Some(Out::File { tmp, .. }) = self.out.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}
