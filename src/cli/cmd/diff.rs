//! `orgsync diff`: what changed between two syncs (two c1z files, or two syncs of one file),
//! as a table, JSON or CSV, with `--exit-code` as `git diff` has it. The comparison is
//! `crate::diff`; this file holds the flags, the sync selection and the printing.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::access::is_account_id;
use crate::cli::exit;
use crate::cli::table;
use crate::diff::{self, Change, Diff, DiffError, DiffOptions, Filter, ItemKind, Side};
use crate::store::c1z::C1zReader;

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

const DIFF_ABOUT: &str = "\
What changed between two syncs: resources, entitlements and grants added, removed or changed.

With two files, each file's latest finished full sync is compared (or the one --old-sync /
--new-sync names in it). With one file, its two latest finished full syncs (or the two named).

Records are matched by id. \"changed\" means the same id with a different record, compared
decoded, leaving out usage timestamps (a user's last login, an access key's last use, a role's
last use) and the copies a grant or entitlement embeds of other records beyond their ids (a
change there is reported on that record); --all-fields compares everything. Grants written by
grant expansion (derived: GrantImmutable, or sources without their own entitlement) are kind
derived_grant, the others grant.

--resource-type matches a resource's type and an entitlement's or grant's entitlement resource
type; --account matches records whose ids name the account (a grant: its entitlement's resource
or its principal).";

const DIFF_EXAMPLES: &str = "\
Examples:
  # Yesterday's and today's files of `orgsync run --keep`
  orgsync diff sync-20250101T000000Z.c1z sync.c1z

  # The two latest syncs inside one file, as JSON
  orgsync diff sync.c1z -o json

  # Only group memberships and policies of one account; exit 1 when anything changed
  orgsync diff old.c1z new.c1z --resource-type group --account 111122223333 --exit-code

Exit codes: 0 compared (with --exit-code: no difference), 1 with --exit-code: differences
found, 2 bad input (unreadable or non-c1z file, unknown sync id, a file with fewer than two
finished syncs).";

#[derive(Debug, Clone, Args)]
#[command(after_help = DIFF_EXAMPLES, after_long_help = format!("{DIFF_ABOUT}\n\n{DIFF_EXAMPLES}"))]
pub struct DiffArgs {
    /// OLD.c1z NEW.c1z, or one file whose two latest finished syncs are compared.
    #[arg(required = true, num_args = 1..=2, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The older sync (in OLD, or in the one file).
    #[arg(long, env = "ORGSYNC_DIFF_OLD_SYNC", value_name = "SYNC_ID")]
    pub old_sync: Option<String>,

    /// The newer sync (in NEW, or in the one file).
    #[arg(long, env = "ORGSYNC_DIFF_NEW_SYNC", value_name = "SYNC_ID")]
    pub new_sync: Option<String>,

    /// Only records of this resource type (grants, entitlements: their entitlement's resource).
    #[arg(long, short = 't', env = "ORGSYNC_DIFF_RESOURCE_TYPE")]
    pub resource_type: Option<String>,

    /// Only records of this account (12-digit id).
    #[arg(long, env = "ORGSYNC_DIFF_ACCOUNT")]
    pub account: Option<String>,

    /// Compare every field, usage timestamps and embedded copies included.
    #[arg(long, env = "ORGSYNC_DIFF_ALL_FIELDS")]
    pub all_fields: bool,

    /// Exit 1 when there are differences, 0 when there are none (as `git diff --exit-code`).
    #[arg(long, env = "ORGSYNC_DIFF_EXIT_CODE")]
    pub exit_code: bool,

    /// Output format.
    #[arg(
        long,
        short = 'o',
        env = "ORGSYNC_OUTPUT",
        value_enum,
        default_value = "table"
    )]
    pub output: Format,
}

fn fail(e: DiffError) -> anyhow::Error {
    if e.is_input() {
        exit::usage(e)
    } else {
        anyhow::Error::new(e)
    }
}

fn has_sync(reader: &C1zReader, id: &str) -> Result<bool, DiffError> {
    Ok(reader.sync_runs()?.iter().any(|r| r.sync_id == id))
}

fn pick(reader: &C1zReader, file: &Path, asked: &Option<String>) -> Result<String, DiffError> {
    match asked {
        Some(id) if has_sync(reader, id)? => Ok(id.clone()),
        Some(id) => Err(DiffError::Input(format!(
            "{} holds no sync {id} (see orgsync inspect syncs --file {})",
            file.display(),
            file.display()
        ))),
        None => Ok(reader.sync().sync_id.clone()),
    }
}

struct Sides {
    old: (PathBuf, String),
    new: (PathBuf, String),
}

/// Runs `orgsync diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<u8> {
    if let Some(a) = &args.account
        && !is_account_id(a)
    {
        return Err(exit::usage(anyhow::anyhow!(
            "--account '{a}' is not an AWS account id (12 digits)"
        )));
    }
    let opts = DiffOptions {
        filter: Filter {
            resource_type: args.resource_type.clone(),
            account: args.account.clone(),
        },
        all_fields: args.all_fields,
        collect: true,
    };
    let (result, sides) = match args.files.as_slice() {
        [one] => {
            let r = C1zReader::open(one).map_err(exit::usage)?;
            let runs = diff::finished_syncs(&r).map_err(fail)?;
            let new = match &args.new_sync {
                Some(_) => pick(&r, one, &args.new_sync).map_err(fail)?,
                None => runs.first().map(|s| s.sync_id.clone()).ok_or_else(|| {
                    exit::usage(anyhow::anyhow!(
                        "{} holds no finished full sync",
                        one.display()
                    ))
                })?,
            };
            let old = match &args.old_sync {
                Some(_) => pick(&r, one, &args.old_sync).map_err(fail)?,
                None => runs
                    .iter()
                    .skip_while(|s| s.sync_id != new)
                    .nth(1)
                    .map(|s| s.sync_id.clone())
                    .ok_or_else(|| {
                        exit::usage(anyhow::anyhow!(
                            "{} holds no finished full sync older than {new}: give two files, or --old-sync",
                            one.display()
                        ))
                    })?,
            };
            let d = diff::diff(
                Side {
                    conn: r.connection(),
                    sync_id: &old,
                },
                Side {
                    conn: r.connection(),
                    sync_id: &new,
                },
                &opts,
            )
            .map_err(fail)?;
            (
                d,
                Sides {
                    old: (one.clone(), old),
                    new: (one.clone(), new),
                },
            )
        }
        [a_path, b_path] => {
            let a = C1zReader::open(a_path).map_err(exit::usage)?;
            let b = C1zReader::open(b_path).map_err(exit::usage)?;
            let old = pick(&a, a_path, &args.old_sync).map_err(fail)?;
            let new = pick(&b, b_path, &args.new_sync).map_err(fail)?;
            let d = diff::diff(
                Side {
                    conn: a.connection(),
                    sync_id: &old,
                },
                Side {
                    conn: b.connection(),
                    sync_id: &new,
                },
                &opts,
            )
            .map_err(fail)?;
            (
                d,
                Sides {
                    old: (a_path.clone(), old),
                    new: (b_path.clone(), new),
                },
            )
        }
        _ => return Err(exit::usage(anyhow::anyhow!("give one or two c1z files"))),
    };
    let text = match args.output {
        Format::Json => json(&result, &sides)?,
        Format::Csv => csv(&result)?,
        Format::Table => table_text(&result, &sides),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if args.exit_code && result.counts.total() > 0 {
        exit::FAILURE
    } else {
        exit::OK
    })
}

fn json(d: &Diff, s: &Sides) -> anyhow::Result<String> {
    let v = serde_json::json!({
        "old": {"file": s.old.0.display().to_string(), "sync_id": s.old.1},
        "new": {"file": s.new.0.display().to_string(), "sync_id": s.new.1},
        "counts": d.counts,
        "changes": d.changes,
    });
    let mut text = serde_json::to_string_pretty(&v)?;
    text.push('\n');
    Ok(text)
}

fn csv(d: &Diff) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record([
        "change",
        "kind",
        "resource_type",
        "id",
        "accounts",
        "fields",
    ])?;
    for c in &d.changes {
        w.write_record([
            c.change.as_str(),
            c.kind.as_str(),
            c.resource_type.as_str(),
            c.id.as_str(),
            &c.accounts.join(" "),
            &c.fields.join(" "),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn table_text(d: &Diff, s: &Sides) -> String {
    let mut out = format!(
        "old: {} (sync {})\nnew: {} (sync {})\n\n",
        s.old.0.display(),
        s.old.1,
        s.new.0.display(),
        s.new.1
    );
    if d.changes.is_empty() {
        out.push_str("No differences.\n");
        return out;
    }
    let mut t = table(&["CHANGE", "KIND", "TYPE", "ID", "FIELDS"]);
    for c in &d.changes {
        t.add_row(vec![
            c.change.as_str().to_string(),
            c.kind.as_str().to_string(),
            c.resource_type.clone(),
            c.id.clone(),
            c.fields.join(", "),
        ]);
    }
    out.push_str(&format!("{t}\n\n"));
    let mut counts = table(&["KIND", "ADDED", "REMOVED", "CHANGED"]);
    for k in ItemKind::ALL {
        counts.add_row(vec![
            k.as_str().to_string(),
            d.counts.get(k, Change::Added).to_string(),
            d.counts.get(k, Change::Removed).to_string(),
            d.counts.get(k, Change::Changed).to_string(),
        ]);
    }
    out.push_str(&format!("{counts}\n"));
    out
}
