//! `orgsync expand IN.c1z [--file OUT.c1z]`: baton-sdk's grant expansion on any c1z v1 file
//! (orgsync's, or one a Go baton connector wrote): checks the paths, takes the output's lock,
//! draws progress on a terminal, calls `expand::expand_c1z`, and says what it did. In place
//! when `--file` is not given: the input is replaced by one rename at the end, so a failure
//! leaves it as it was.
//!
//! Not here: the expansion (`expand`), the c1z envelope (`store::c1z`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::exit;
use orgsync::expand::{self, ExpandFileError, FileOptions, Phase, SourceMismatch};
use orgsync::store::c1z::check_writable;
use orgsync::store::lock::OutputLock;
use orgsync::store::{StoreError, atomic, scratch};

use super::inspect::Output;

const EXAMPLES: &str = "\
Examples:
  orgsync expand sync.c1z                          # expand in place (one atomic rename at the end)
  orgsync expand raw.c1z --file expanded.c1z       # keep the input, write the expanded copy
  orgsync expand baton-okta.c1z -f out.c1z -o json # a Go connector's file; report as JSON
  orgsync sync --expand-grants=false && orgsync expand sync.c1z   # the same as the default sync

Expansion follows baton-sdk: every grant carrying a GrantExpandable annotation makes the
holders of the entitlements it names also holders of its entitlement. Derived grants are new
grants with `sources` (the immediate source entitlements) and GrantImmutable; a grant that
exists directly and is also reached gains `sources`. Running it again adds nothing.

Exit codes: 0 expanded, 1 the output could not be written (input untouched),
2 bad input (not a c1z v1 file, no such sync, a grant expansion cannot use).";

/// Arguments of `orgsync expand`.
#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExpandArgs {
    /// The c1z v1 file to expand.
    #[arg(value_name = "IN.c1z")]
    pub input: PathBuf,

    /// Write the expanded file here (replaced atomically). Without it, IN.c1z itself is
    /// replaced, atomically, once the expansion succeeded.
    #[arg(long, short = 'f', env = "ORGSYNC_EXPAND_FILE", value_name = "OUT.c1z")]
    pub file: Option<PathBuf>,

    /// The sync to expand (default: the latest finished sync of any type, as `baton` reads).
    #[arg(long, env = "ORGSYNC_SYNC_ID")]
    pub sync_id: Option<String>,

    /// Drop (and count) GrantExpandable edges whose entitlement belongs to another resource
    /// than the grant's principal, instead of failing as baton-sdk does.
    #[arg(long, env = "ORGSYNC_SKIP_MISMATCHED_SOURCES")]
    pub skip_mismatched_sources: bool,

    /// Do not draw a progress bar (none is drawn when stderr is not a terminal).
    #[arg(long, env = "ORGSYNC_NO_PROGRESS")]
    pub no_progress: bool,

    /// `table`: a line on stderr; `json`: the report on stdout.
    #[arg(
        long,
        short = 'o',
        env = "ORGSYNC_OUTPUT",
        value_enum,
        default_value = "table"
    )]
    pub output: Output,

    /// When another orgsync run holds the output's lock, wait up to DURATION for it.
    #[arg(long, env = "ORGSYNC_WAIT_LOCK", value_name = "DURATION", value_parser = crate::cli::args::parse_duration)]
    pub wait_lock: Option<Duration>,
}

/// Runs `orgsync expand`; returns the exit code.
pub fn run(args: ExpandArgs) -> anyhow::Result<u8> {
    let output = args.file.clone().unwrap_or_else(|| args.input.clone());
    if !args.input.is_file() {
        return Err(exit::usage(anyhow::anyhow!(
            "{}: {}",
            args.input.display(),
            if args.input.exists() {
                "not a regular file"
            } else {
                "no such file"
            }
        )));
    }
    check_writable(&output).map_err(exit::usage)?;
    let _lock = OutputLock::acquire(&output, args.wait_lock)?;
    // Holding the lock: what killed runs left (temp files of this output, scratch copies).
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned());
    atomic::sweep(&atomic::parent_dir(&output), |o| name.as_deref() == Some(o));
    scratch::sweep();
    let options = FileOptions {
        sync_id: args.sync_id.clone(),
        expand: expand::Options {
            source_mismatch: if args.skip_mismatched_sources {
                SourceMismatch::Skip
            } else {
                SourceMismatch::Fail
            },
        },
    };
    let mut bar = Bar::new(!args.no_progress);
    let result = expand::expand_c1z(&args.input, &output, &options, &mut bar);
    bar.finish();
    let report = result.map_err(|e| {
        if is_bad_input(&e) {
            exit::usage(e)
        } else {
            anyhow::Error::new(e).context(format!(
                "{} was not written ({} is as it was)",
                output.display(),
                args.input.display()
            ))
        }
    })?;
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    let r = &report.report;
    let d = &r.dropped;
    eprintln!(
        "Expanded sync {} ({}) of {}: {} derived grants written, {} grants gained sources; {} edges ({} dropped: {} without a source entitlement, {} without a destination, {} mismatched), {} cycles collapsed, in {:.1}s. Wrote {}",
        report.sync_id,
        report.sync_type,
        args.input.display(),
        r.grants_created,
        r.grants_updated,
        r.edges,
        d.source_missing + d.destination_missing + d.source_mismatch,
        d.source_missing,
        d.destination_missing,
        d.source_mismatch,
        r.cycles_collapsed,
        report.duration_ms as f64 / 1000.0,
        output.display()
    );
    Ok(exit::OK)
}

/// The input is not a c1z file this can expand (exit 2), as opposed to a failure to write.
fn is_bad_input(e: &ExpandFileError) -> bool {
    matches!(
        e,
        ExpandFileError::Expand { .. }
            | ExpandFileError::Store(StoreError::NotC1z { .. } | StoreError::NoSync { .. })
    )
}

/// A progress bar on a terminal: a spinner while files are read and written, a bar over the
/// graph's nodes while expanding.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(enabled: bool) -> Bar {
        Bar((enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_message("opening the file");
            b.enable_steady_tick(Duration::from_millis(200));
            b
        }))
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl expand::Observer for Bar {
    fn phase(&mut self, phase: Phase) {
        let Some(b) = &self.0 else { return };
        match phase {
            Phase::Loading => b.set_message("reading expandable grants and their holders"),
            Phase::Expanding => {
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entitlements {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_message("expanding");
            }
            Phase::Writing => {
                b.set_style(ProgressStyle::default_spinner());
                b.set_message("writing derived grants, then the file");
            }
        }
    }

    fn progress(&mut self, done: usize, total: usize) {
        if let Some(b) = &self.0 {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    }
}
