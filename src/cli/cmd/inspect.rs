//! `orgsync inspect`: reads a c1z file and shows its stats, resource types, resources,
//! entitlements, grants or syncs, as a table or as JSON (canonical protobuf JSON per record).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use crate::cli::table;
use crate::model::{Record, any, pb, profile};
use crate::store::c1z::{C1zReader, Filter};

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
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
  orgsync inspect grants --principal 'iam_user:arn:aws:iam::111122223333:user/alice'";

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
    let reader = C1zReader::open_sync(&args.common.file, args.common.sync_id.as_deref())
        .map_err(crate::cli::exit::usage)?;
    eprintln!("{}", reader.selection().describe());
    let json = args.common.output == Output::Json;
    match &args.what {
        What::Stats => {
            let sync = reader.sync();
            let counts = reader.counts()?;
            if json {
                return print_json(&serde_json::json!({
                    "sync": sync,
                    "counts": counts,
                }));
            }
            println!("File:    {}", args.common.file.display());
            println!("Sync:    {} ({})", sync.sync_id, sync.sync_type);
            println!("Started: {}", sync.started_at);
            println!(
                "Ended:   {}",
                sync.ended_at.as_deref().unwrap_or("(unfinished)")
            );
            let by = |k: &str, t: &str| counts[k][t].as_i64().unwrap_or(0);
            let mut t = table(&["RESOURCE TYPE", "RESOURCES", "ENTITLEMENTS", "GRANTS"]);
            let types = counts["resources_by_resource_type"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for ty in types.keys() {
                t.add_row(vec![
                    ty.clone(),
                    by("resources_by_resource_type", ty).to_string(),
                    by("entitlements_by_resource_type", ty).to_string(),
                    by("grants_by_resource_type", ty).to_string(),
                ]);
            }
            t.add_row(vec![
                "TOTAL".to_string(),
                counts["resources"].as_i64().unwrap_or(0).to_string(),
                counts["entitlements"].as_i64().unwrap_or(0).to_string(),
                counts["grants"].as_i64().unwrap_or(0).to_string(),
            ]);
            println!("\n{t}");
            if let Some(o) = sync.stats.as_ref().and_then(|s| s.get("orgsync")) {
                let a = &o["accounts"];
                println!(
                    "\nAccounts: {} total, {} ok, {} failed, {} skipped",
                    a["total"], a["ok"], a["failed"], a["skipped"]
                );
                if let Some(failed) = o["failed_accounts"].as_array().filter(|f| !f.is_empty()) {
                    let mut t = table(&["ACCOUNT", "NAME", "CLASS", "MESSAGE"]);
                    for f in failed {
                        t.add_row(vec![
                            f["account_id"].as_str().unwrap_or_default().to_string(),
                            f["name"].as_str().unwrap_or_default().to_string(),
                            f["class"].as_str().unwrap_or_default().to_string(),
                            f["message"].as_str().unwrap_or_default().to_string(),
                        ]);
                    }
                    println!("{t}");
                }
                if let Some(calls) = o["aws_calls"].as_object() {
                    let total: u64 = calls
                        .values()
                        .map(|c| c["requests"].as_u64().unwrap_or(0))
                        .sum();
                    println!("AWS requests: {total}");
                }
            }
            Ok(())
        }
        What::ResourceTypes => {
            let types = reader.resource_types()?;
            if json {
                return print_json(&Value::Array(
                    types
                        .into_iter()
                        .map(|t| json_of(Record::ResourceType(t)))
                        .collect(),
                ));
            }
            let mut t = table(&["ID", "DISPLAY NAME", "TRAITS"]);
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
                t.add_row(vec![rt.id, rt.display_name, traits.join(",")]);
            }
            println!("{t}");
            Ok(())
        }
        What::Resources(f) => {
            let items = reader.resources(&f.filter())?;
            if json {
                return print_json(&Value::Array(
                    items
                        .into_iter()
                        .map(|r| json_of(Record::Resource(r)))
                        .collect(),
                ));
            }
            let mut t = table(&["TYPE", "ID", "DISPLAY NAME", "PARENT"]);
            for r in items {
                let id = r.id.clone().unwrap_or_default();
                t.add_row(vec![
                    id.resource_type,
                    id.resource,
                    r.display_name.clone(),
                    rid_text(r.parent_resource_id.as_ref()),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        What::Entitlements(f) => {
            let items = reader.entitlements(&f.filter())?;
            if json {
                return print_json(&Value::Array(
                    items
                        .into_iter()
                        .map(|e| json_of(Record::Entitlement(e)))
                        .collect(),
                ));
            }
            let mut t = table(&["ID", "DISPLAY NAME", "GRANTABLE TO"]);
            for e in items {
                let to: Vec<String> = e.grantable_to.iter().map(|g| g.id.clone()).collect();
                t.add_row(vec![e.id, e.display_name, to.join(",")]);
            }
            println!("{t}");
            Ok(())
        }
        What::Grants(f) => {
            let items = reader.grants(&f.filter())?;
            if json {
                return print_json(&Value::Array(
                    items
                        .into_iter()
                        .map(|g| json_of(Record::Grant(g)))
                        .collect(),
                ));
            }
            let mut t = table(&["ENTITLEMENT", "PRINCIPAL", "PRINCIPAL NAME", "VIA"]);
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
                t.add_row(vec![
                    g.entitlement.map(|e| e.id).unwrap_or_default(),
                    rid_text(principal.as_ref()),
                    name,
                    via,
                ]);
            }
            println!("{t}");
            Ok(())
        }
        What::Syncs => {
            let runs = reader.sync_runs()?;
            if json {
                return print_json(&serde_json::to_value(&runs)?);
            }
            let mut t = table(&["SYNC ID", "TYPE", "STARTED", "ENDED", "RESOURCES"]);
            for r in runs {
                let n = r
                    .stats
                    .as_ref()
                    .and_then(|s| s["resources"].as_i64())
                    .unwrap_or(0);
                t.add_row(vec![
                    r.sync_id,
                    r.sync_type,
                    r.started_at,
                    r.ended_at.unwrap_or_default(),
                    n.to_string(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

/// Reads a profile string (helper for tests and tools).
pub fn profile_str(r: &pb::Resource, key: &str) -> Option<String> {
    r.profile
        .as_ref()
        .and_then(|p| profile::get_str(p, key))
        .map(str::to_string)
}
