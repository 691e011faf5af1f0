//! `orgsync export --format csv --dir D`: one sync of a c1z file as flat CSV tables. The
//! tables and the atomic directory replacement are `orgsync::export`; this file holds the flags
//! and the help text.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::exit;
use orgsync::export::{self, ExportError};
use orgsync::report::ReviewOptions;
use orgsync::store::c1z::C1zReader;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
}

const EXPORT_ABOUT: &str = "\
One sync of a c1z file as flat tables for spreadsheets, BI and SQL tools, with display names and
account ids and names resolved:

  resources.csv         resource_type, resource_id, display_name, account_id, account_name,
                        parent_resource_type, parent_resource_id, description
  entitlements.csv      entitlement_id, display_name, slug, resource_type, resource_id,
                        resource_name, account_id, account_name, grantable_to
  grants.csv            grant_id, entitlement_id, entitlement_name, resource_type, resource_id,
                        resource_name, account_id, account_name, principal_type, principal_id,
                        principal_name, principal_account_id, principal_account_name,
                        derived (written by grant expansion), expands_from (GrantExpandable)
  effective_access.csv  per account, every principal that can get in and how (the shortest path
                        of `orgsync access --account`, and the admin paths of --admin): account_id,
                        account_name, principal_type, principal_id, principal_name,
                        principal_account_id, admin, target, target_name, hops, path, paths_found

The tables are written into a temp directory next to DIR that then replaces DIR in one rename:
readers see the previous export or the new one, and on failure DIR is left as it was. DIR must
be new, or an earlier export (a directory holding only these tables).";

const EXPORT_EXAMPLES: &str = "\
Examples:
  orgsync export --file sync.c1z --format csv --dir export/

  # Load into SQLite
  orgsync export -f sync.c1z --format csv --dir out && sqlite3 access.db \\
    '.import --csv out/grants.csv grants' '.import --csv out/effective_access.csv access'

Exit codes: 0 written, 1 the file could not be read as expected or a table not written, 2 bad
input (unreadable or non-c1z file, DIR's parent missing, DIR a file or holding other files).";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXPORT_EXAMPLES, after_long_help = format!("{EXPORT_ABOUT}\n\n{EXPORT_EXAMPLES}"))]
pub struct ExportArgs {
    /// The c1z file to read.
    #[arg(long, short = 'f', env = "ORGSYNC_FILE", default_value = "sync.c1z")]
    pub file: PathBuf,

    /// Table format.
    #[arg(long, env = "ORGSYNC_EXPORT_FORMAT", value_enum, default_value = "csv")]
    pub format: Format,

    /// The directory to write the tables into (created, or an earlier export replaced).
    #[arg(long, env = "ORGSYNC_EXPORT_DIR", value_name = "DIR")]
    pub dir: PathBuf,

    /// At most this many role assumptions (trust hops) per path in effective_access.csv.
    #[arg(
        long,
        env = "ORGSYNC_EXPORT_MAX_HOPS",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max_hops: u32,
}

fn fail(e: ExportError) -> anyhow::Error {
    if e.is_input() {
        exit::usage(e)
    } else {
        anyhow::Error::new(e)
    }
}

/// Runs `orgsync export`.
pub fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let Format::Csv = args.format;
    export::check_target(&args.dir).map_err(fail)?;
    let reader = C1zReader::open(&args.file).map_err(exit::usage)?;
    let opts = ReviewOptions {
        stale_days: 90,
        max_hops: args.max_hops,
        max_paths: 1,
        max_rows: None,
        now: chrono::Utc::now(),
    };
    let n = export::export_csv(&reader, &args.dir, &opts).map_err(fail)?;
    eprintln!(
        "wrote {}: {} resources, {} entitlements, {} grants, {} effective-access rows",
        args.dir.display(),
        n.resources,
        n.entitlements,
        n.grants,
        n.effective_access
    );
    Ok(exit::OK)
}
