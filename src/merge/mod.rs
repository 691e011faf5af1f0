//! `orgsync merge`: joins the c1z files of the shards of one organization sync
//! (`sync --shard I/N`, `sync::shard`) into one sync whose records are those a single process
//! writes.
//!
//! - **Checks first** ([`check`]): every input is a c1z whose chosen sync carries a shard
//!   identity (`orgsync.shard` in its stats); all name the same organization and the same N;
//!   no index twice; every index present (unless `allow_missing`, which makes the result a
//!   partial sync). A problem is a [`MergeError`] and nothing is written.
//! - **Records**: each record is written once, keyed by (kind, external id): records several
//!   shards write (resource types, the organization tree, AWS-managed policies) are kept from
//!   the first shard written, shard 0 (which ran the organization-wide phases) last, as a
//!   single process writes the accounts before Identity Center; copies whose content differs
//!   are counted in the report (Identity Center's copy of an AWS-managed policy has no
//!   document, so some are expected). Identity
//!   Center (read by shard 0 for every account) embeds `account` resources in its
//!   entitlements and grants with a provisional status; a full embedded copy (one carrying
//!   annotations) is replaced by the owning shard's `account` record, as a single sync embeds
//!   the record it writes.
//! - **Grant expansion** runs once on the merged graph ([`expand_merged`], the one
//!   integration point), when asked: shards are written unexpanded.
//!
//! Not here: reading or writing the c1z format (`store::c1z`), the command line
//! (`cli::cmd::merge`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::expand;
use crate::model::{Kind, Record, pb, types as rt};
use crate::store::StoreError;
use crate::store::c1z::{C1zReader, C1zWriter, SyncType};
use crate::sync::ShardStats;
use crate::sync::shard::fnv1a64;

/// Choices of a merge.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// Write a partial sync when shards are missing, instead of refusing.
    pub allow_missing: bool,
    /// Run grant expansion on the merged sync.
    pub expand_grants: bool,
}

/// Why shards cannot be merged (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no input file: name the shard files to merge")]
    NoInput,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{path}: its sync is not a shard (no orgsync.shard in its stats); write shards with `orgsync sync --shard I/N`"
    )]
    NotAShard { path: PathBuf },
    #[error("{path}: its shard identity does not parse: {why}")]
    BadShard { path: PathBuf, why: String },
    #[error(
        "the shards are of different organizations: {first} is of {first_org}, {other} of {other_org}"
    )]
    DifferentOrganizations {
        first: PathBuf,
        first_org: String,
        other: PathBuf,
        other_org: String,
    },
    #[error(
        "the shards split the organization differently: {first} is one of {first_count}, {other} one of {other_count}"
    )]
    DifferentCounts {
        first: PathBuf,
        first_count: u32,
        other: PathBuf,
        other_count: u32,
    },
    #[error("shard {index}/{count} is given twice: {first} and {other}")]
    Overlap {
        index: u32,
        count: u32,
        first: PathBuf,
        other: PathBuf,
    },
    #[error(
        "shards {} of {count} are missing (pass --allow-missing to write a partial sync without them)",
        .missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    )]
    Missing { missing: Vec<u32>, count: u32 },
    #[error("grant expansion of the merged sync: {0}")]
    Expand(#[from] expand::ExpandError),
}

/// One checked input.
pub struct ShardFile {
    pub path: PathBuf,
    pub shard: ShardStats,
    /// The `orgsync` section of its stats.
    pub stats: serde_json::Value,
    reader: C1zReader,
}

impl ShardFile {
    fn shard_runs_org_phases(&self) -> bool {
        self.shard.index == 0
    }
}

/// The checked inputs, ordered by shard index, and the indices missing.
pub struct Checked {
    pub shards: Vec<ShardFile>,
    pub missing: Vec<u32>,
}

/// What a merge wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MergeReport {
    pub organization_id: String,
    pub shards: Vec<u32>,
    pub count: u32,
    pub missing: Vec<u32>,
    pub sync_type: &'static str,
    /// Records written, per kind.
    pub records: BTreeMap<String, u64>,
    /// Records several shards wrote, kept once (same content).
    pub shared_duplicates: u64,
    /// Records several shards wrote with different content (the first written is kept).
    pub differing_duplicates: u64,
    /// Embedded `account` resources replaced by the owning shard's record.
    pub embedded_accounts_replaced: u64,
    /// Accounts that failed in their shard, and phases that failed.
    pub failed_accounts: u64,
    pub failed_phases: u64,
    pub expansion: Option<expand::Report>,
}

/// Opens and checks the inputs (see the module doc). Writes nothing.
pub fn check(paths: &[PathBuf], allow_missing: bool) -> Result<Checked, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::NoInput);
    }
    let mut shards: Vec<ShardFile> = vec![];
    for path in paths {
        let reader = C1zReader::open(path)?;
        let stats = reader
            .sync()
            .stats
            .as_ref()
            .and_then(|s| s.get("orgsync"))
            .cloned()
            .unwrap_or_default();
        let Some(raw) = stats.get("shard") else {
            return Err(MergeError::NotAShard { path: path.clone() });
        };
        let shard: ShardStats =
            serde_json::from_value(raw.clone()).map_err(|e| MergeError::BadShard {
                path: path.clone(),
                why: e.to_string(),
            })?;
        if shard.count == 0 || shard.index >= shard.count {
            return Err(MergeError::BadShard {
                path: path.clone(),
                why: format!("index {} of {}", shard.index, shard.count),
            });
        }
        shards.push(ShardFile {
            path: path.clone(),
            shard,
            stats,
            reader,
        });
    }
    let first = &shards[0];
    for other in &shards[1..] {
        if other.shard.organization_id != first.shard.organization_id {
            return Err(MergeError::DifferentOrganizations {
                first: first.path.clone(),
                first_org: first.shard.organization_id.clone(),
                other: other.path.clone(),
                other_org: other.shard.organization_id.clone(),
            });
        }
        if other.shard.count != first.shard.count {
            return Err(MergeError::DifferentCounts {
                first: first.path.clone(),
                first_count: first.shard.count,
                other: other.path.clone(),
                other_count: other.shard.count,
            });
        }
    }
    let count = first.shard.count;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for s in &shards {
        if let Some(prev) = seen.insert(s.shard.index, &s.path) {
            return Err(MergeError::Overlap {
                index: s.shard.index,
                count,
                first: prev.to_path_buf(),
                other: s.path.clone(),
            });
        }
    }
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !allow_missing {
        return Err(MergeError::Missing { missing, count });
    }
    shards.sort_by_key(|s| s.shard.index);
    Ok(Checked { shards, missing })
}

/// Merges checked shards into a new sync at `out` (replaced atomically; untouched on any
/// failure).
pub fn merge(checked: Checked, out: &Path, opts: MergeOptions) -> Result<MergeReport, MergeError> {
    let Checked { shards, missing } = checked;
    let partial = !missing.is_empty() || shards.iter().any(|s| s.shard.filtered);
    let sync_type = if partial {
        SyncType::Partial
    } else {
        SyncType::Full
    };
    let mut report = MergeReport {
        organization_id: shards[0].shard.organization_id.clone(),
        shards: shards.iter().map(|s| s.shard.index).collect(),
        count: shards[0].shard.count,
        missing: missing.clone(),
        sync_type: sync_type.as_str(),
        ..Default::default()
    };
    for s in &shards {
        let count = |v: Option<&serde_json::Value>| {
            v.and_then(|x| x.as_array()).map_or(0, |a| a.len() as u64)
        };
        report.failed_accounts += count(s.stats.get("failed_accounts"));
        report.failed_phases += s
            .stats
            .get("run")
            .and_then(|r| r.get("phases"))
            .and_then(|p| p.as_array())
            .map_or(0, |p| {
                p.iter().filter(|x| !x["error"].is_null()).count() as u64
            });
    }
    // The `account` records, as the shard that read each account wrote it.
    let mut accounts: HashMap<String, pb::Resource> = HashMap::new();
    for s in &shards {
        for r in s.reader.resources(&crate::store::c1z::Filter {
            resource_type: Some(rt::ACCOUNT.into()),
            ..Default::default()
        })? {
            if let Some(id) = &r.id {
                accounts.entry(id.resource.clone()).or_insert(r);
            }
        }
    }
    let mut writer = C1zWriter::create_typed(out, sync_type)?;
    let mut written: HashMap<(Kind, String), u64> = HashMap::new();
    // The shard that ran the organization-wide phases goes last: a single process writes
    // every account before Identity Center, so a shared record read in an account (an
    // AWS-managed policy with its document) wins over the phase's copy of it.
    let order = shards
        .iter()
        .filter(|s| !s.shard_runs_org_phases())
        .chain(shards.iter().filter(|s| s.shard_runs_org_phases()));
    for s in order {
        let mut batch = vec![];
        for mut r in s.reader.records()? {
            report.embedded_accounts_replaced += embed_accounts(&mut r, &accounts);
            let digest = fnv1a64(&r.encode());
            match written.get(&(r.kind(), r.external_id())) {
                Some(d) if *d == digest => report.shared_duplicates += 1,
                Some(_) => report.differing_duplicates += 1,
                None => {
                    written.insert((r.kind(), r.external_id()), digest);
                    *report
                        .records
                        .entry(r.kind().as_str().to_string())
                        .or_default() += 1;
                    batch.push(r);
                }
            }
        }
        writer.write(&batch)?;
    }
    if opts.expand_grants {
        report.expansion = Some(expand_merged(&writer)?);
    }
    let mut stats = writer.stats()?;
    if let Some(o) = stats.as_object_mut() {
        o.insert("orgsync".into(), merged_stats(&shards, &report));
    }
    writer.finish(&stats)?;
    Ok(report)
}

/// Grant expansion of the merged sync (the integration point with `expand`: one call on the
/// whole graph, after every shard's records are in).
pub fn expand_merged(writer: &C1zWriter) -> Result<expand::Report, MergeError> {
    Ok(expand::sqlite::expand_sync(
        writer.connection(),
        writer.sync_id(),
        &expand::Options::default(),
        &mut (),
    )?)
}

/// Replaces full embedded copies of `account` resources in `r` by `accounts`' records;
/// returns how many were replaced.
fn embed_accounts(r: &mut Record, accounts: &HashMap<String, pb::Resource>) -> u64 {
    let mut n = 0;
    let mut fix = |slot: &mut Option<pb::Resource>| {
        let Some(res) = slot.as_mut() else { return };
        let Some(id) = res.id.as_ref() else { return };
        if id.resource_type != rt::ACCOUNT || res.annotations.is_empty() {
            return;
        }
        if let Some(auth) = accounts.get(&id.resource)
            && auth != res
        {
            *res = auth.clone();
            n += 1;
        }
    };
    match r {
        Record::Entitlement(e) => fix(&mut e.resource),
        Record::Grant(g) => {
            if let Some(e) = g.entitlement.as_mut() {
                fix(&mut e.resource);
            }
            fix(&mut g.principal);
        }
        Record::ResourceType(_) | Record::Resource(_) => {}
    }
    n
}

/// The merged sync's `orgsync` stats: accounts counted over the shards, the failed ones
/// listed, the shards and the merge report.
fn merged_stats(shards: &[ShardFile], report: &MergeReport) -> serde_json::Value {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut failed = vec![];
    let mut notes: BTreeSet<String> = BTreeSet::new();
    for s in shards {
        if let Some(a) = s.stats.get("accounts").and_then(|a| a.as_object()) {
            for (k, v) in a {
                *counts.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
        if let Some(f) = s.stats.get("failed_accounts").and_then(|f| f.as_array()) {
            failed.extend(f.iter().cloned());
        }
        if let Some(n) = s
            .stats
            .get("run")
            .and_then(|r| r.get("notes"))
            .and_then(|n| n.as_array())
        {
            notes.extend(n.iter().filter_map(|x| x.as_str()).map(str::to_string));
        }
    }
    serde_json::json!({
        "accounts": counts,
        "failed_accounts": failed,
        "merge": report,
        "shards": shards.iter().map(|s| serde_json::json!({
            "file": s.path.display().to_string(),
            "shard": s.shard,
        })).collect::<Vec<_>>(),
        "run": {"notes": notes},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::rid;

    fn account(status: &str) -> pb::Resource {
        pb::Resource {
            id: Some(rid(rt::ACCOUNT, "111111111111")),
            display_name: format!("acct {status}"),
            annotations: vec![prost_types::Any::default()],
            ..Default::default()
        }
    }

    #[test]
    fn full_embedded_account_copies_take_the_owners_record_and_bare_ids_stay() {
        let owner = account("failed");
        let accounts = HashMap::from([("111111111111".to_string(), owner.clone())]);
        let mut e = Record::Entitlement(pb::Entitlement {
            resource: Some(account("ok")),
            ..Default::default()
        });
        assert_eq!(embed_accounts(&mut e, &accounts), 1);
        let Record::Entitlement(ent) = &e else {
            unreachable!()
        };
        assert_eq!(ent.resource.as_ref(), Some(&owner));
        // A bare reference (no annotations, as SCP grants name accounts) is left as written.
        let bare = pb::Resource {
            id: Some(rid(rt::ACCOUNT, "111111111111")),
            ..Default::default()
        };
        let mut g = Record::Grant(pb::Grant {
            principal: Some(bare.clone()),
            entitlement: Some(pb::Entitlement {
                resource: Some(owner.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(embed_accounts(&mut g, &accounts), 0);
        let Record::Grant(gr) = &g else {
            unreachable!()
        };
        assert_eq!(gr.principal.as_ref(), Some(&bare));
    }
}
