//! Expansion of a whole c1z v1 file, of any writer (orgsync or a Go baton connector): the
//! file is opened for changing (`store::c1z::C1zEditor`: decompressed, brought up to the
//! current schema and backfilled as baton-sdk does on open), one sync is expanded
//! ([`super::sqlite::expand_sync`]), its stored record counts are refreshed, and the result
//! is saved to the output atomically. The one library entry point for expanding a file; a
//! sync being written expands through `store::c1z::C1zWriter::expand` instead.
//!
//! Not here: the algorithm (`engine`), progress drawing and locks (the CLI).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model::stats::SECTION;
use crate::store::StoreError;
use crate::store::c1z::{C1zEditor, Choice};

use super::{ExpandError, Observer, Options, Report};

/// What to expand and how.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    /// The sync to expand; by default the one readers show (latest finished of any type).
    pub sync_id: Option<String>,
    pub expand: Options,
}

/// What [`expand_c1z`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub sync_id: String,
    pub sync_type: String,
    /// Why this sync: asked for, latest finished, or newest unfinished.
    pub choice: Choice,
    pub report: Report,
    pub duration_ms: u64,
}

/// Failures of [`expand_c1z`], each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ExpandFileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: grant expansion failed: {source}")]
    Expand {
        path: PathBuf,
        #[source]
        source: ExpandError,
    },
}

/// Expands the grants of one sync of the c1z at `input` and writes the result to `output`
/// (which may be `input`): derived grants with `sources` and GrantImmutable, existing grants
/// gaining sources, the sync's record counts recomputed (orgsync's section, when the sync has
/// one, gets `expansion`). `output` is replaced atomically; on any failure it is untouched
/// (so is `input`) and nothing is left behind. Re-expanding an expanded file adds nothing.
pub fn expand_c1z(
    input: &Path,
    output: &Path,
    options: &FileOptions,
    observer: &mut dyn Observer,
) -> Result<FileReport, ExpandFileError> {
    let start = Instant::now();
    let editor = C1zEditor::open(input, options.sync_id.as_deref())?;
    let sync = editor.sync().clone();
    let report = super::sqlite::expand_sync(
        editor.connection(),
        &sync.sync_id,
        &options.expand,
        observer,
    )
    .map_err(|source| ExpandFileError::Expand {
        path: input.to_path_buf(),
        source,
    })?;
    let duration_ms = start.elapsed().as_millis() as u64;
    let stats = report.stats(duration_ms);
    editor.refresh_counts(|s| {
        if let Some(serde_json::Value::Object(section)) = s.get_mut(SECTION)
            && let Ok(v) = serde_json::to_value(&stats)
        {
            section.insert("expansion".into(), v);
        }
    })?;
    let choice = editor.selection().choice;
    editor.save(output)?;
    Ok(FileReport {
        sync_id: sync.sync_id,
        sync_type: sync.sync_type,
        choice,
        report,
        duration_ms: start.elapsed().as_millis() as u64,
    })
}
