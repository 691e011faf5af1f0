//! `orgsync diff`: what changed between two syncs (two files, or two syncs of one file):
//! resources, entitlements and grants added, removed or changed, with direct and derived
//! grants counted apart.
//!
//! - **Identity** is the record id (`external_id`): a resource's `type:id`, an entitlement id,
//!   a grant id.
//! - **Changed** means the same id with a different record. Records are compared decoded
//!   (canonical JSON of the protobuf message), after leaving out:
//!   - the copies a record embeds of other records (a grant's entitlement and principal, an
//!     entitlement's resource) beyond their ids: a change there is reported once, on the
//!     record itself;
//!   - usage timestamps, which move with activity, not access: a user's `last_login`, an
//!     access key's `last_used_at`, and the profile keys `aws_role_last_used`,
//!     `aws_role_last_used_region`, `aws_last_used_service`, `aws_last_used_region`.
//!
//!   `all_fields` compares everything. Row columns that are not part of the record
//!   (`discovered_at`, row ids) never count. GrantExpandable is compared wherever the file
//!   keeps it (the `expansion` column or the blob).
//! - **Derived** grants (written by grant expansion: `GrantImmutable`, or `sources` without
//!   their own entitlement) are kind `derived_grant`, the others `grant`; a change is classed
//!   by the newer record.
//! - **Filters**: a resource type matches a resource's type, an entitlement's resource type
//!   and a grant's entitlement resource type; an account matches records whose ids name it
//!   (`access::account_of`; access keys by their owner's ARN), a grant when its entitlement's
//!   resource or its principal is in the account.
//!
//! Both sides are read as two streams sorted by id and merged, so memory stays flat; byte-equal
//! rows are not decoded. Resource types (`v1_resource_types`) are not compared.
//!
//! Not here: printing (`cli::cmd::diff`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use prost::Message;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use crate::access::{account_of, arn_account, is_derived_grant};
use crate::model::build::id_only;
use crate::model::{Record, any, pb, profile, types as rt};
use crate::store::StoreError;
use crate::store::c1z::{C1zReader, SyncRun, join_expansion};

/// Why two syncs could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The files or sync ids given are not usable.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored record does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl DiffError {
    /// True when the input is at fault (exit 2).
    pub fn is_input(&self) -> bool {
        matches!(self, DiffError::Input(_) | DiffError::Store(_))
    }
}

/// What kind of record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Resource,
    Entitlement,
    Grant,
    DerivedGrant,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] = [
        ItemKind::Resource,
        ItemKind::Entitlement,
        ItemKind::Grant,
        ItemKind::DerivedGrant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Resource => "resource",
            ItemKind::Entitlement => "entitlement",
            ItemKind::Grant => "grant",
            ItemKind::DerivedGrant => "derived_grant",
        }
    }
}

/// How it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub const ALL: [Change; 3] = [Change::Added, Change::Removed, Change::Changed];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// Which records to compare.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub resource_type: Option<String>,
    pub account: Option<String>,
}

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub filter: Filter,
    /// Compare every field (usage timestamps and embedded copies included).
    pub all_fields: bool,
    /// Keep each change (false: counts only, as `/metrics` needs).
    pub collect: bool,
}

/// One changed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub change: Change,
    pub kind: ItemKind,
    /// The resource type (for entitlements and grants: the entitlement's resource type).
    pub resource_type: String,
    pub id: String,
    /// Accounts the record belongs to (a grant: its entitlement's and its principal's).
    pub accounts: Vec<String>,
    /// For `changed`: the record fields that differ (dotted paths of the canonical JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// Counts per kind and change; every combination is present (zeros included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts(BTreeMap<(ItemKind, Change), u64>);

impl Default for Counts {
    fn default() -> Self {
        let mut m = BTreeMap::new();
        for k in ItemKind::ALL {
            for c in Change::ALL {
                m.insert((k, c), 0);
            }
        }
        Counts(m)
    }
}

impl Counts {
    /// Every (kind, change, count), kinds and changes in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (ItemKind, Change, u64)> + '_ {
        self.0.iter().map(|((k, c), n)| (*k, *c, *n))
    }

    pub fn get(&self, kind: ItemKind, change: Change) -> u64 {
        self.0.get(&(kind, change)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    fn bump(&mut self, kind: ItemKind, change: Change) {
        *self.0.entry((kind, change)).or_default() += 1;
    }

    /// `{"resource": {"added": n, "removed": n, "changed": n}, …}`.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for k in ItemKind::ALL {
            let mut m = serde_json::Map::new();
            for c in Change::ALL {
                m.insert(c.as_str().into(), self.get(k, c).into());
            }
            out.insert(k.as_str().into(), Value::Object(m));
        }
        Value::Object(out)
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// The result of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub counts: Counts,
    /// Sorted by kind, then id (empty unless `collect`).
    pub changes: Vec<Item>,
}

/// One side of a comparison: a sync of an open file.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub conn: &'a Connection,
    pub sync_id: &'a str,
}

/// The finished full syncs of a file, newest (by end time) first.
pub fn finished_syncs(reader: &C1zReader) -> Result<Vec<SyncRun>, DiffError> {
    let mut runs: Vec<SyncRun> = reader
        .sync_runs()?
        .into_iter()
        .filter(|r| r.ended_at.is_some() && r.sync_type == "full")
        .collect();
    runs.sort_by(|a, b| {
        (b.ended_at.as_deref(), b.sync_id.as_str())
            .cmp(&(a.ended_at.as_deref(), a.sync_id.as_str()))
    });
    Ok(runs)
}

/// Compares the syncs each file's reader selects (its latest finished full sync), e.g. the
/// previous and the new output of a scheduled run.
pub fn diff_files(old: &Path, new: &Path, opts: &DiffOptions) -> Result<Diff, DiffError> {
    let a = C1zReader::open(old)?;
    let b = C1zReader::open(new)?;
    diff(
        Side {
            conn: a.connection(),
            sync_id: &a.sync().sync_id,
        },
        Side {
            conn: b.connection(),
            sync_id: &b.sync().sync_id,
        },
        opts,
    )
}

#[derive(Debug)]
struct Row {
    id: String,
    /// Resource type (of the resource, or of the entitlement's resource).
    rtype: String,
    /// Resource id (entitlements and grants: the entitlement's resource).
    rid: String,
    /// Grants: the principal.
    principal: Option<(String, String)>,
    /// Grants: the entitlement id.
    entitlement: Option<String>,
    data: Vec<u8>,
    expansion: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Resources,
    Entitlements,
    Grants,
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, DiffError> {
    let n: i64 = conn.query_row(
        "select count(*) from pragma_table_info(?1) where name = ?2",
        rusqlite::params![table, column],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn sql(conn: &Connection, t: Table) -> Result<String, DiffError> {
    Ok(match t {
        Table::Resources => "select external_id, resource_type_id, '', NULL, NULL, NULL, data, NULL from v1_resources where sync_id = ?1 order by external_id".into(),
        Table::Entitlements => "select external_id, resource_type_id, resource_id, NULL, NULL, NULL, data, NULL from v1_entitlements where sync_id = ?1 order by external_id".into(),
        Table::Grants => format!(
            "select external_id, resource_type_id, resource_id, principal_resource_type_id, principal_resource_id, entitlement_id, data, {} from v1_grants where sync_id = ?1 order by external_id",
            if has_column(conn, "v1_grants", "expansion")? { "expansion" } else { "NULL" }
        ),
    })
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let ptype: Option<String> = r.get(3)?;
    let pid: Option<String> = r.get(4)?;
    Ok(Row {
        id: r.get(0)?,
        rtype: r.get(1)?,
        rid: r.get(2)?,
        principal: ptype.zip(pid),
        entitlement: r.get(5)?,
        data: r.get(6)?,
        expansion: r.get(7)?,
    })
}

fn decode_resource(data: &[u8]) -> Result<pb::Resource, DiffError> {
    Ok(pb::Resource::decode(data)?)
}

/// The accounts a row belongs to.
fn accounts(t: Table, row: &Row) -> Result<BTreeSet<String>, DiffError> {
    let mut out = BTreeSet::new();
    match t {
        Table::Resources => {
            let id = row
                .id
                .strip_prefix(&format!("{}:", row.rtype))
                .unwrap_or(&row.id);
            if let Some(a) = account_of(&row.rtype, id) {
                out.insert(a);
            } else if row.rtype == rt::ACCESS_KEY {
                let r = decode_resource(&row.data)?;
                if let Some(a) = r
                    .profile
                    .as_ref()
                    .and_then(|p| profile::get_str(p, "aws_user_arn"))
                    .and_then(arn_account)
                {
                    out.insert(a.to_string());
                }
            }
        }
        Table::Entitlements | Table::Grants => {
            out.extend(account_of(&row.rtype, &row.rid));
            if let Some((pt, pi)) = &row.principal {
                out.extend(account_of(pt, pi));
            }
        }
    }
    Ok(out)
}

fn kind_of(t: Table, row: &Row) -> Result<ItemKind, DiffError> {
    Ok(match t {
        Table::Resources => ItemKind::Resource,
        Table::Entitlements => ItemKind::Entitlement,
        Table::Grants => {
            if is_derived_grant(&row.data, row.entitlement.as_deref().unwrap_or_default())? {
                ItemKind::DerivedGrant
            } else {
                ItemKind::Grant
            }
        }
    })
}

const VOLATILE_PROFILE_KEYS: [&str; 4] = [
    "aws_role_last_used",
    "aws_role_last_used_region",
    "aws_last_used_service",
    "aws_last_used_region",
];

/// Replaces the annotation of type `M` (if any) by `f` applied to it.
fn edit_annotation<M: any::AnyMessage>(anns: &mut [prost_types::Any], f: impl Fn(&mut M)) {
    for a in anns.iter_mut().filter(|a| any::is::<M>(a)) {
        if let Ok(mut m) = M::decode(a.value.as_slice()) {
            f(&mut m);
            a.value = m.encode_to_vec();
        }
    }
}

/// The record as compared: canonical JSON, without what the module documentation leaves out.
fn comparable(t: Table, row: &Row, all_fields: bool) -> Result<Value, DiffError> {
    let record = match t {
        Table::Resources => {
            let mut r = decode_resource(&row.data)?;
            if !all_fields {
                if let Some(p) = r.profile.as_mut() {
                    for k in VOLATILE_PROFILE_KEYS {
                        p.fields.remove(k);
                    }
                }
                edit_annotation::<pb::UserTrait>(&mut r.annotations, |u| u.last_login = None);
                edit_annotation::<pb::SecretTrait>(&mut r.annotations, |s| s.last_used_at = None);
            }
            Record::Resource(r)
        }
        Table::Entitlements => {
            let mut e = pb::Entitlement::decode(row.data.as_slice())?;
            if !all_fields {
                e.resource = e.resource.as_ref().map(id_only);
            }
            Record::Entitlement(e)
        }
        Table::Grants => {
            let mut g = join_expansion(
                pb::Grant::decode(row.data.as_slice())?,
                row.expansion.clone(),
            );
            if !all_fields {
                g.entitlement = g.entitlement.map(|e| pb::Entitlement {
                    id: e.id,
                    resource: e.resource.as_ref().map(id_only),
                    ..Default::default()
                });
                g.principal = g.principal.as_ref().map(id_only);
            }
            Record::Grant(g)
        }
    };
    Ok(record.to_json()["record"].clone())
}

/// Dotted paths where two JSON values differ (arrays as a whole).
fn differing(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => differing(v, w, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a != b => out.push(if path.is_empty() {
            "(record)".into()
        } else {
            path.into()
        }),
        _ => {}
    }
}

struct Run<'o> {
    opts: &'o DiffOptions,
    diff: Diff,
}

impl Run<'_> {
    fn wanted(&self, t: Table, row: &Row) -> Result<bool, DiffError> {
        let f = &self.opts.filter;
        if let Some(want) = &f.resource_type
            && &row.rtype != want
        {
            return Ok(false);
        }
        if let Some(want) = &f.account
            && !accounts(t, row)?.contains(want)
        {
            return Ok(false);
        }
        Ok(true)
    }

    fn emit(
        &mut self,
        t: Table,
        change: Change,
        row: &Row,
        fields: Vec<String>,
    ) -> Result<(), DiffError> {
        let kind = kind_of(t, row)?;
        self.diff.counts.bump(kind, change);
        if self.opts.collect {
            self.diff.changes.push(Item {
                change,
                kind,
                resource_type: row.rtype.clone(),
                id: row.id.clone(),
                accounts: accounts(t, row)?.into_iter().collect(),
                fields,
            });
        }
        Ok(())
    }

    fn table(&mut self, old: Side, new: Side, t: Table) -> Result<(), DiffError> {
        let mut a_stmt = old.conn.prepare(&sql(old.conn, t)?)?;
        let mut b_stmt = new.conn.prepare(&sql(new.conn, t)?)?;
        let mut a_rows = a_stmt.query([old.sync_id])?;
        let mut b_rows = b_stmt.query([new.sync_id])?;
        let next = |rows: &mut rusqlite::Rows<'_>| -> Result<Option<Row>, DiffError> {
            Ok(match rows.next()? {
                Some(r) => Some(read_row(r)?),
                None => None,
            })
        };
        let mut a = next(&mut a_rows)?;
        let mut b = next(&mut b_rows)?;
        loop {
            match (a.take(), b.take()) {
                (None, None) => break,
                (Some(x), None) => {
                    if self.wanted(t, &x)? {
                        self.emit(t, Change::Removed, &x, vec![])?;
                    }
                    a = next(&mut a_rows)?;
                }
                (None, Some(y)) => {
                    if self.wanted(t, &y)? {
                        self.emit(t, Change::Added, &y, vec![])?;
                    }
                    b = next(&mut b_rows)?;
                }
                (Some(x), Some(y)) => match x.id.cmp(&y.id) {
                    std::cmp::Ordering::Less => {
                        if self.wanted(t, &x)? {
                            self.emit(t, Change::Removed, &x, vec![])?;
                        }
                        a = next(&mut a_rows)?;
                        b = Some(y);
                    }
                    std::cmp::Ordering::Greater => {
                        if self.wanted(t, &y)? {
                            self.emit(t, Change::Added, &y, vec![])?;
                        }
                        a = Some(x);
                        b = next(&mut b_rows)?;
                    }
                    std::cmp::Ordering::Equal => {
                        let same_bytes = x.data == y.data && x.expansion == y.expansion;
                        if !same_bytes && (self.wanted(t, &x)? || self.wanted(t, &y)?) {
                            let all = self.opts.all_fields;
                            let (vx, vy) = (comparable(t, &x, all)?, comparable(t, &y, all)?);
                            if vx != vy {
                                let mut fields = vec![];
                                differing(&vx, &vy, "", &mut fields);
                                self.emit(t, Change::Changed, &y, fields)?;
                            }
                        }
                        a = next(&mut a_rows)?;
                        b = next(&mut b_rows)?;
                    }
                },
            }
        }
        Ok(())
    }
}

/// Compares sync `old` with sync `new`.
pub fn diff(old: Side, new: Side, opts: &DiffOptions) -> Result<Diff, DiffError> {
    let mut run = Run {
        opts,
        diff: Diff {
            counts: Counts::default(),
            changes: vec![],
        },
    };
    for t in [Table::Resources, Table::Entitlements, Table::Grants] {
        run.table(old, new, t)?;
    }
    run.diff
        .changes
        .sort_by(|a, b| (a.kind, &a.id, a.change).cmp(&(b.kind, &b.id, b.change)));
    Ok(run.diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differing_reports_dotted_paths_and_whole_arrays() {
        let a = json!({"id": {"resource": "x"}, "profile": {"k": 1, "gone": true}, "annotations": [1, 2]});
        let b = json!({"id": {"resource": "x"}, "profile": {"k": 2, "new": "v"}, "annotations": [1, 3]});
        let mut out = vec![];
        differing(&a, &b, "", &mut out);
        assert_eq!(
            out,
            vec!["annotations", "profile.gone", "profile.k", "profile.new"]
        );
    }

    #[test]
    fn counts_have_every_combination() {
        let mut c = Counts::default();
        c.bump(ItemKind::DerivedGrant, Change::Added);
        assert_eq!(c.iter().count(), 12);
        assert_eq!(c.total(), 1);
        assert_eq!(c.to_json()["derived_grant"]["added"], 1);
        assert_eq!(c.to_json()["resource"]["changed"], 0);
    }
}
