//! `orgsync report --html OUT.html`: the access review of one sync of a c1z file as one
//! self-contained HTML page, written atomically. The facts come from `orgsync::report`, the page
//! from `orgsync::report::html`; this file holds the flags, the help text and the writing.

use std::path::PathBuf;

use clap::Args;

use crate::cli::exit;
use orgsync::report::{self, ReportError, ReviewOptions};
use orgsync::store::atomic;
use orgsync::store::c1z::{self, C1zReader};

const REPORT_ABOUT: &str = "\
An access review of one sync of a c1z file, as one HTML page a person can read (no network:
CSS and script are inline, the page loads nothing).

It shows, per account, every principal that can get in and the shortest path of grants that
lets it (the paths of `orgsync access --account`), with admins (`orgsync access --admin`)
marked and listed first; IAM users with console access and no MFA device; access keys not used
for --stale-days days (counted back from now) or never used, active or not; roles whose trust
policy lets in an account that is not one of the sync's accounts, any principal (\"*\"), or a
principal the sync could not resolve. A search box filters every table by principal (name, ARN
or id); `OUT.html#q=alice` opens the page with that search applied. See docs/REPORT.md.";

const REPORT_EXAMPLES: &str = "\
Examples:
  # The review of the latest sync
  orgsync report --file sync.c1z --html review.html

  # Keys idle for 30 days count as stale; open it searched for one user
  orgsync report -f sync.c1z --html review.html --stale-days 30
  xdg-open 'review.html#q=alice'

  # A large organization: list at most 200 principals per account (admins first)
  orgsync report -f sync.c1z --html review.html --max-rows 200

Exit codes: 0 written, 1 the file could not be read as expected or the page not written,
2 bad input (unreadable or non-c1z file, an output path that cannot be written).";

#[derive(Debug, Clone, Args)]
#[command(after_help = REPORT_EXAMPLES, after_long_help = format!("{REPORT_ABOUT}\n\n{REPORT_EXAMPLES}"))]
pub struct ReportArgs {
    /// The c1z file to read.
    #[arg(long, short = 'f', env = "ORGSYNC_FILE", default_value = "sync.c1z")]
    pub file: PathBuf,

    /// Write the HTML page here (replaced atomically; nothing is written on failure).
    #[arg(long, env = "ORGSYNC_REPORT_HTML", value_name = "OUT.html")]
    pub html: PathBuf,

    /// Access keys not used for this many days (or never) are listed.
    #[arg(
        long,
        env = "ORGSYNC_REPORT_STALE_DAYS",
        default_value_t = 90,
        value_name = "DAYS"
    )]
    pub stale_days: u32,

    /// At most this many principals listed per account, admins first (the counts stay exact;
    /// `orgsync export` lists everyone).
    #[arg(long, env = "ORGSYNC_REPORT_MAX_ROWS", default_value_t = 200, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rows: u32,

    /// At most this many role assumptions (trust hops) per path.
    #[arg(
        long,
        env = "ORGSYNC_REPORT_MAX_HOPS",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max_hops: u32,
}

fn fail(e: ReportError) -> anyhow::Error {
    match e {
        ReportError::Access(a) if a.is_input() => exit::usage(a),
        e => anyhow::Error::new(e),
    }
}

/// Runs `orgsync report`.
pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    c1z::check_writable(&args.html).map_err(exit::usage)?;
    let reader = C1zReader::open(&args.file).map_err(exit::usage)?;
    let opts = ReviewOptions {
        stale_days: args.stale_days,
        max_hops: args.max_hops,
        max_paths: 3,
        max_rows: Some(args.max_rows as usize),
        now: chrono::Utc::now(),
    };
    let review = report::review(&reader, &args.file.display().to_string(), &opts).map_err(fail)?;
    let page = report::html::render(&review);
    atomic::write_file(&args.html, page.as_bytes())?;
    eprintln!(
        "wrote {} ({} accounts, {} principals, {} admins, {} console users without MFA, {} stale keys, {} outside trusts)",
        args.html.display(),
        review.accounts.len(),
        review.principal_count(),
        review.admin_count(),
        review.console_without_mfa.len(),
        review.stale_keys.len(),
        review.outside_trust.len()
    );
    Ok(exit::OK)
}
