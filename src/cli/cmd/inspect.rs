//! `orgsync inspect`: reads a c1z file and shows its stats, resource types, resources,
//! entitlements, grants or syncs, as a table, as CSV (the table's columns, one header row,
//! every value whole) or as JSON (canonical protobuf JSON per record).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::Value;

use crate::cli::cache_args::CacheArgs;
use crate::cli::table;
use orgsync::model::stats::{AccountStatus, RunStats, StoredStats, SyncCounts, SyncType};
use orgsync::model::{Record, any, pb, profile};
use orgsync::store::c1z::{C1zReader, Filter, SyncRun};

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The c1z file to read.
    #[arg(
        long,
        short = 'f',
        env = "ORGSYNC_FILE",
        default_value = "sync.c1z",
        global = true
    )]
    pub file: PathBuf,
    /// Output format.
    #[arg(
        long,
        short = 'o',
        env = "ORGSYNC_OUTPUT",
        value_enum,
        default_value = "table",
        global = true
    )]
    pub output: Output,
    /// Read this sync instead of the latest finished one (ids: `orgsync inspect syncs`).
    #[arg(long, env = "ORGSYNC_SYNC_ID", global = true)]
    pub sync_id: Option<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Clone, Args)]
pub struct Filters {
    /// Only this resource type (for grants: the entitlement's resource type).
    #[arg(long, short = 't', env = "ORGSYNC_RESOURCE_TYPE")]
    pub resource_type: Option<String>,
    /// Only this resource id (for grants: the entitlement's resource).
    #[arg(long, short = 'r', env = "ORGSYNC_RESOURCE")]
    pub resource: Option<String>,
    /// Only this entitlement id.
    #[arg(long, short = 'e', env = "ORGSYNC_ENTITLEMENT")]
    pub entitlement: Option<String>,
    /// Only grants to this principal (`<type>:<id>` or the id alone).
    #[arg(long, short = 'p', env = "ORGSYNC_PRINCIPAL")]
    pub principal: Option<String>,
}

impl Filters {
    fn filter(&self) -> Filter {
        Filter {
            resource_type: self.resource_type.clone(),
            resource: self.resource.clone(),
            entitlement: self.entitlement.clone(),
            principal: self.principal.clone(),
        }
    }
}

const INSPECT_EXAMPLES: &str = "\
Examples:
  orgsync inspect stats
  orgsync inspect resources --resource-type iam_user
  orgsync inspect entitlements --resource-type role -o json
  orgsync inspect grants --entitlement 'group:arn:aws:iam::111122223333:group/admins:member'
  orgsync inspect grants --principal 'iam_user:arn:aws:iam::111122223333:user/alice'
  orgsync inspect resources --resource-type iam_user -o csv > users.csv";

#[derive(Debug, Clone, Args)]
#[command(after_help = INSPECT_EXAMPLES)]
pub struct InspectArgs {
    #[command(subcommand)]
    pub what: What,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Subcommand)]
pub enum What {
    /// Record counts by type, the sync run and the orgsync run report.
    Stats,
    /// Resource types declared by the sync.
    ResourceTypes,
    /// Resources (filter: --resource-type, --resource).
    Resources(Filters),
    /// Entitlements (filter: --resource-type, --resource, --entitlement).
    Entitlements(Filters),
    /// Grants (filter: --resource-type, --resource, --entitlement, --principal).
    Grants(Filters),
    /// Every sync run in the file.
    Syncs,
}

fn json_of(r: Record) -> Value {
    r.to_json()["record"].clone()
}

fn rid_text(id: Option<&pb::ResourceId>) -> String {
    id.map(|i| format!("{}:{}", i.resource_type, i.resource))
        .unwrap_or_default()
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs an inspect command, printing to stdout.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let reader = C1zReader::open_cached(
        &args.common.file,
        args.common.sync_id.as_deref(),
        &args.common.cache.policy(),
    )
    .map_err(crate::cli::exit::usage)?;
    eprintln!("{}", reader.selection().describe());
    let out = args.common.output;
    match &args.what {
        What::Stats => stats(&reader, &args.common.file, out),
        What::ResourceTypes => resource_types(&reader, out),
        What::Resources(f) => resources(&reader, f, out),
        What::Entitlements(f) => entitlements(&reader, f, out),
        What::Grants(f) => grants(&reader, f, out),
        What::Syncs => syncs(&reader, out),
    }
}

/// A listing: printed as a table or as CSV (same columns; CSV ends after its rows).
struct Listing {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Listing {
    fn new(header: &[&'static str]) -> Listing {
        Listing {
            header: header.to_vec(),
            rows: vec![],
        }
    }

    fn print(self, out: Output) -> anyhow::Result<()> {
        let text = if out == Output::Csv {
            let mut w = csv::Writer::from_writer(vec![]);
            w.write_record(&self.header)?;
            for r in &self.rows {
                w.write_record(r)?;
            }
            String::from_utf8(w.into_inner()?)?
        } else {
            let mut t = table(&self.header);
            for r in self.rows {
                t.add_row(r);
            }
            format!("{t}\n")
        };
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        Ok(())
    }
}

/// The sync's stats as orgsync reads them; a warning (and no run report) when they do not
/// read, e.g. a file another tool wrote in another shape.
fn stored_stats(sync: &SyncRun) -> StoredStats {
    StoredStats::read(sync.stats.as_ref()).unwrap_or_else(|e| {
        eprintln!(
            "warning: the stats of sync {} do not read as orgsync's: {e}",
            sync.sync_id
        );
        StoredStats::default()
    })
}

fn stats(reader: &C1zReader, file: &Path, out: Output) -> anyhow::Result<()> {
    let sync = reader.sync();
    let counts = reader.counts()?;
    if out == Output::Json {
        return print_json(&serde_json::json!({
            "sync": sync,
            "counts": counts,
        }));
    }
    let counts = SyncCounts::deserialize(&counts)?;
    if out == Output::Csv {
        return counts_listing(&counts).print(out);
    }
    println!("File:    {}", file.display());
    println!("Sync:    {} ({})", sync.sync_id, sync.sync_type);
    println!("Started: {}", sync.started_at);
    println!(
        "Ended:   {}",
        sync.ended_at.as_deref().unwrap_or("(unfinished)")
    );
    println!();
    counts_listing(&counts).print(out)?;
    if let Some(run) = stored_stats(sync).run {
        print_run_stats(&run);
    }
    Ok(())
}

/// Resources, entitlements and grants by resource type, and their totals.
fn counts_listing(counts: &SyncCounts) -> Listing {
    let by = |m: &BTreeMap<String, i64>, t: &str| m.get(t).copied().unwrap_or(0).to_string();
    let mut t = Listing::new(&["RESOURCE TYPE", "RESOURCES", "ENTITLEMENTS", "GRANTS"]);
    for ty in counts.resources_by_resource_type.keys() {
        t.rows.push(vec![
            ty.clone(),
            by(&counts.resources_by_resource_type, ty),
            by(&counts.entitlements_by_resource_type, ty),
            by(&counts.grants_by_resource_type, ty),
        ]);
    }
    t.rows.push(vec![
        "TOTAL".to_string(),
        counts.resources.to_string(),
        counts.entitlements.to_string(),
        counts.grants.to_string(),
    ]);
    t
}

/// orgsync's report of the run: accounts by outcome, the failed ones, AWS requests.
fn print_run_stats(run: &RunStats) {
    let a = &run.accounts;
    println!(
        "\nAccounts: {} total, {} ok, {} failed, {} skipped",
        a.total, a.ok, a.failed, a.skipped
    );
    if !run.failed_accounts.is_empty() {
        let mut t = table(&["ACCOUNT", "NAME", "CLASS", "MESSAGE"]);
        for f in &run.failed_accounts {
            let (class, message) = match &f.status {
                AccountStatus::Failed { class, message, .. } => (class.as_str(), message.as_str()),
                AccountStatus::Ok | AccountStatus::Skipped { .. } => ("", ""),
            };
            t.add_row(vec![
                f.account_id.to_string(),
                f.name.clone(),
                class.to_string(),
                message.to_string(),
            ]);
        }
        println!("{t}");
    }
    let total: u64 = run.run.aws_calls.values().map(|c| c.requests).sum();
    println!("AWS requests: {total}");
    if let Some(scope) = &run.scope {
        println!("Scope: {}", super::summary::sync_type_line(scope));
    }
    match &run.expansion {
        Some(e) => println!(
            "Grant expansion: {} derived grants, {} grants gained sources ({} edges)",
            e.derived_grants, e.updated_grants, e.edges
        ),
        None => println!("Grant expansion: not run (direct grants only)"),
    }
}

/// Why an orgsync sync is partial (empty for a full one, or another writer's sync).
fn scope_note(stats: &StoredStats) -> String {
    match stats.run.as_ref().and_then(|r| r.scope.as_ref()) {
        Some(scope) if scope.sync_type == SyncType::Partial => scope.reasons().join("; "),
        _ => String::new(),
    }
}

fn resource_types(reader: &C1zReader, out: Output) -> anyhow::Result<()> {
    let types = reader.resource_types()?;
    if out == Output::Json {
        return print_json(&Value::Array(
            types
                .into_iter()
                .map(|t| json_of(Record::ResourceType(t)))
                .collect(),
        ));
    }
    let mut t = Listing::new(&["ID", "DISPLAY NAME", "TRAITS"]);
    for rt in types {
        let traits: Vec<String> = rt
            .traits
            .iter()
            .map(|x| {
                pb::resource_type::Trait::try_from(*x)
                    .map(|t| t.as_str_name().trim_start_matches("TRAIT_").to_lowercase())
                    .unwrap_or_else(|_| x.to_string())
            })
            .collect();
        t.rows.push(vec![rt.id, rt.display_name, traits.join(",")]);
    }
    t.print(out)
}

fn resources(reader: &C1zReader, f: &Filters, out: Output) -> anyhow::Result<()> {
    let items = reader.resources(&f.filter())?;
    if out == Output::Json {
        return print_json(&Value::Array(
            items
                .into_iter()
                .map(|r| json_of(Record::Resource(r)))
                .collect(),
        ));
    }
    let names = account_names(reader)?;
    // IAM users: their console access, password and MFA facts too.
    let users = f.resource_type.as_deref() == Some(orgsync::model::types::IAM_USER);
    // CSV: the account id and name in columns of their own.
    let csv = out == Output::Csv;
    let mut header = vec!["TYPE", "ID", "DISPLAY NAME", "ACCOUNT"];
    if csv {
        header.push("ACCOUNT NAME");
    }
    header.push("PARENT");
    if users {
        header.extend(["CONSOLE", "MFA", "PASSWORD LAST USED"]);
    }
    let mut t = Listing::new(&header);
    for r in items {
        let id = r.id.clone().unwrap_or_default();
        let account_id = account_of(&r);
        let account_name = account_id
            .as_ref()
            .and_then(|a| names.get(a))
            .cloned()
            .unwrap_or_default();
        let mut row = vec![id.resource_type, id.resource, r.display_name.clone()];
        if csv {
            row.push(account_id.unwrap_or_default());
            row.push(account_name);
        } else {
            row.push(
                account_id
                    .map(|a| {
                        if account_name.is_empty() || account_name == a {
                            a
                        } else {
                            format!("{account_name} ({a})")
                        }
                    })
                    .unwrap_or_default(),
            );
        }
        row.push(rid_text(r.parent_resource_id.as_ref()));
        if users {
            let yes_no = |k: &str| {
                r.profile
                    .as_ref()
                    .and_then(|p| p.fields.get(k))
                    .and_then(|v| match v.kind {
                        Some(prost_types::value::Kind::BoolValue(b)) => {
                            Some(if b { "yes" } else { "no" }.to_string())
                        }
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            row.push(yes_no("aws_console_access"));
            row.push(yes_no("aws_mfa_active"));
            row.push(profile_str(&r, "aws_password_last_used").unwrap_or_default());
        }
        t.rows.push(row);
    }
    t.print(out)
}

/// Account names by account id, from the file's `account` and `account_iam` resources.
fn account_names(reader: &C1zReader) -> anyhow::Result<BTreeMap<String, String>> {
    let mut names = BTreeMap::new();
    for ty in [
        orgsync::model::types::ACCOUNT_IAM,
        orgsync::model::types::ACCOUNT,
    ] {
        let filter = Filter {
            resource_type: Some(ty.to_string()),
            ..Default::default()
        };
        for r in reader.resources(&filter)? {
            if let Some(id) = r.id {
                names.insert(id.resource, r.display_name);
            }
        }
    }
    Ok(names)
}

/// The account a resource is in: its own id (accounts), the account of its ARN (IAM), or of
/// its user (access keys).
fn account_of(r: &pb::Resource) -> Option<String> {
    let id = r.id.as_ref()?;
    match id.resource_type.as_str() {
        orgsync::model::types::ACCOUNT | orgsync::model::types::ACCOUNT_IAM => {
            Some(id.resource.clone())
        }
        orgsync::model::types::ACCESS_KEY => profile_str(r, "aws_user_arn")
            .and_then(|a| a.parse::<orgsync::arn::Arn>().ok())
            .and_then(|a| a.account_id())
            .map(|a| a.to_string()),
        _ => id
            .resource
            .parse::<orgsync::arn::Arn>()
            .ok()
            .and_then(|a| a.account_id())
            .map(|a| a.to_string()),
    }
}

fn entitlements(reader: &C1zReader, f: &Filters, out: Output) -> anyhow::Result<()> {
    let items = reader.entitlements(&f.filter())?;
    if out == Output::Json {
        return print_json(&Value::Array(
            items
                .into_iter()
                .map(|e| json_of(Record::Entitlement(e)))
                .collect(),
        ));
    }
    let mut t = Listing::new(&["ID", "DISPLAY NAME", "GRANTABLE TO"]);
    for e in items {
        let to: Vec<String> = e.grantable_to.iter().map(|g| g.id.clone()).collect();
        t.rows.push(vec![e.id, e.display_name, to.join(",")]);
    }
    t.print(out)
}

fn grants(reader: &C1zReader, f: &Filters, out: Output) -> anyhow::Result<()> {
    let items = reader.grants(&f.filter())?;
    if out == Output::Json {
        return print_json(&Value::Array(
            items
                .into_iter()
                .map(|g| json_of(Record::Grant(g)))
                .collect(),
        ));
    }
    let mut t = Listing::new(&["ENTITLEMENT", "PRINCIPAL", "PRINCIPAL NAME", "VIA"]);
    for g in items {
        let principal = g.principal.as_ref().and_then(|p| p.id.clone());
        let name = principal
            .as_ref()
            .and_then(|p| {
                reader
                    .resource(&p.resource_type, &p.resource)
                    .ok()
                    .flatten()
            })
            .map(|r| r.display_name)
            .unwrap_or_default();
        let via = any::find::<pb::GrantExpandable>(&g.annotations)
            .map(|ge| format!("holders of {}", ge.entitlement_ids.join(",")))
            .unwrap_or_default();
        t.rows.push(vec![
            g.entitlement.map(|e| e.id).unwrap_or_default(),
            rid_text(principal.as_ref()),
            name,
            via,
        ]);
    }
    t.print(out)
}

fn syncs(reader: &C1zReader, out: Output) -> anyhow::Result<()> {
    let runs = reader.sync_runs()?;
    if out == Output::Json {
        return print_json(&serde_json::to_value(&runs)?);
    }
    let mut t = Listing::new(&["SYNC ID", "TYPE", "STARTED", "ENDED", "RESOURCES", "SCOPE"]);
    for r in runs {
        let stats = stored_stats(&r);
        t.rows.push(vec![
            r.sync_id,
            r.sync_type,
            r.started_at,
            r.ended_at.unwrap_or_default(),
            stats.counts.resources.to_string(),
            scope_note(&stats),
        ]);
    }
    t.print(out)
}

/// Reads a profile string (helper for tests and tools).
pub fn profile_str(r: &pb::Resource, key: &str) -> Option<String> {
    r.profile
        .as_ref()
        .and_then(|p| profile::get_str(p, key))
        .map(str::to_string)
}
