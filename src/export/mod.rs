//! `orgsync export --format csv`: one sync of a c1z file as flat CSV tables for spreadsheets
//! and SQL tools — resources, entitlements, grants and effective access — with display names
//! and account ids (and names) resolved, written into a directory atomically: the tables are
//! written into a new temp directory next to the target, which then replaces the target in one
//! rename (on Linux an atomic exchange when the target exists), so readers see the old set or
//! the new set, and a failure leaves the target as it was and no temp directory behind.
//!
//! Not here: the paths of effective access (`crate::access`, through `crate::report`), the
//! command line (`cli::cmd::export`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::access::account_of as id_account;
use crate::model::types as rt;
use crate::model::{any, pb, profile};
use crate::report::{self, ReportError, ReviewOptions};
use crate::store::StoreError;
use crate::store::atomic::{self, io_err};
use crate::store::c1z::{C1zReader, Filter, join_expansion};

/// The tables, in the order they are written.
pub const TABLES: [&str; 4] = [
    "resources.csv",
    "entitlements.csv",
    "grants.csv",
    "effective_access.csv",
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The target directory cannot be (re)placed: bad input.
    #[error("{path}: {why}")]
    Target { path: PathBuf, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("writing {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

impl ExportError {
    /// True when the request is at fault (exit 2).
    pub fn is_input(&self) -> bool {
        match self {
            ExportError::Target { .. } => true,
            ExportError::Report(ReportError::Access(a)) => a.is_input(),
            _ => false,
        }
    }
}

/// Rows written per table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Written {
    pub resources: usize,
    pub entitlements: usize,
    pub grants: usize,
    pub effective_access: usize,
}

/// Checks that `dir` can be replaced by an export: it does not exist (its parent does), or it
/// is a directory holding nothing but export tables.
pub fn check_target(dir: &Path) -> Result<(), ExportError> {
    let bad = |why: String| ExportError::Target {
        path: dir.to_path_buf(),
        why,
    };
    let parent = atomic::parent_dir(dir);
    if !parent.is_dir() {
        return Err(bad(format!(
            "directory {} does not exist",
            parent.display()
        )));
    }
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(bad(e.to_string())),
        Ok(m) if !m.is_dir() => Err(bad("it exists and is not a directory".into())),
        Ok(_) => {
            let entries = fs::read_dir(dir).map_err(|e| bad(e.to_string()))?;
            for e in entries {
                let name = e.map_err(|e| bad(e.to_string()))?.file_name();
                let name = name.to_string_lossy();
                if !TABLES.contains(&name.as_ref()) {
                    return Err(bad(format!(
                        "it holds {name}, which is not an export table; name a new directory or an earlier export's"
                    )));
                }
            }
            Ok(())
        }
    }
}

/// Writes the tables of the sync `reader` shows into `dir`, replacing an earlier export there.
pub fn export_csv(
    reader: &C1zReader,
    dir: &Path,
    opts: &ReviewOptions,
) -> Result<Written, ExportError> {
    check_target(dir)?;
    let tmp = atomic::temp_path(dir);
    fs::create_dir(&tmp).map_err(io_err(&tmp))?;
    let guard = TempDir(tmp.clone());
    let written = write_tables(reader, &tmp, opts)?;
    place(&tmp, dir)?;
    std::mem::forget(guard);
    Ok(written)
}

/// Removes a temp directory unless forgotten.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Puts the finished temp directory `tmp` at `dir`: a plain rename when `dir` does not exist;
/// else an atomic exchange (Linux) or two renames, and the old tables are removed.
fn place(tmp: &Path, dir: &Path) -> Result<(), ExportError> {
    if fs::symlink_metadata(dir).is_err() {
        fs::rename(tmp, dir).map_err(io_err(dir))?;
        fsync_parent(dir);
        return Ok(());
    }
    exchange(tmp, dir)?;
    // `tmp` now holds the previous export.
    let _ = fs::remove_dir_all(tmp);
    fsync_parent(dir);
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<(), ExportError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| ExportError::Target {
            path: p.to_path_buf(),
            why: "the path holds a NUL byte".into(),
        })
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 reads them and touches no memory of ours.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io_err(b)(std::io::Error::last_os_error()).into())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<(), ExportError> {
    let old = atomic::temp_path(b);
    fs::rename(b, &old).map_err(io_err(b))?;
    if let Err(e) = fs::rename(a, b) {
        let _ = fs::rename(&old, b);
        return Err(io_err(b)(e).into());
    }
    fs::rename(&old, a).map_err(io_err(a))?;
    Ok(())
}

fn fsync_parent(p: &Path) {
    if let Ok(d) = fs::File::open(atomic::parent_dir(p)) {
        let _ = d.sync_all();
    }
}

/// Display names by (type, id), account names by id.
struct Names {
    resources: HashMap<(String, String), String>,
    accounts: BTreeMap<String, String>,
    entitlements: HashMap<String, String>,
}

impl Names {
    fn resource(&self, t: &str, id: &str) -> &str {
        self.resources
            .get(&(t.to_string(), id.to_string()))
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn account(&self, id: &Option<String>) -> &str {
        id.as_ref()
            .and_then(|a| self.accounts.get(a))
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// The account a resource is in: from its id, or for an access key its user's.
fn resource_account(r: &pb::Resource) -> Option<String> {
    let id = r.id.as_ref()?;
    if id.resource_type == rt::ACCESS_KEY {
        let user = r
            .profile
            .as_ref()
            .and_then(|p| profile::get_str(p, "aws_user_arn"))?;
        return id_account(rt::IAM_USER, user);
    }
    id_account(&id.resource_type, &id.resource)
}

struct Table {
    w: csv::Writer<fs::File>,
    path: PathBuf,
    rows: usize,
}

impl Table {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Table, ExportError> {
        let path = dir.join(name);
        let f = fs::File::create(&path).map_err(io_err(&path))?;
        let mut t = Table {
            w: csv::Writer::from_writer(f),
            path,
            rows: 0,
        };
        t.write(header)?;
        t.rows = 0;
        Ok(t)
    }

    fn write<I, S>(&mut self, row: I) -> Result<(), ExportError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.w
            .write_record(row)
            .map_err(|source| ExportError::Csv {
                path: self.path.clone(),
                source,
            })?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<usize, ExportError> {
        let path = self.path;
        let f = self.w.into_inner().map_err(|e| ExportError::Csv {
            path: path.clone(),
            source: e.into_error().into(),
        })?;
        f.sync_all().map_err(io_err(&path))?;
        Ok(self.rows)
    }
}

fn write_tables(
    reader: &C1zReader,
    dir: &Path,
    opts: &ReviewOptions,
) -> Result<Written, ExportError> {
    let resources = reader.resources(&Filter::default())?;
    let mut names = Names {
        resources: resources
            .iter()
            .filter_map(|r| {
                let id = r.id.as_ref()?;
                Some((
                    (id.resource_type.clone(), id.resource.clone()),
                    r.display_name.clone(),
                ))
            })
            .collect(),
        accounts: report::account_names(reader)?,
        entitlements: HashMap::new(),
    };
    let resources_written = write_resources(dir, &names, &resources)?;
    drop(resources);
    let entitlements = write_entitlements(reader, dir, &mut names)?;
    Ok(Written {
        resources: resources_written,
        entitlements,
        grants: write_grants(reader, dir, &names)?,
        effective_access: write_effective_access(reader, dir, &names, opts)?,
    })
}

/// resources.csv: every resource with its account and parent.
fn write_resources(
    dir: &Path,
    names: &Names,
    resources: &[pb::Resource],
) -> Result<usize, ExportError> {
    let mut t = Table::create(
        dir,
        "resources.csv",
        &[
            "resource_type",
            "resource_id",
            "display_name",
            "account_id",
            "account_name",
            "parent_resource_type",
            "parent_resource_id",
            "description",
        ],
    )?;
    for r in resources {
        let id = r.id.clone().unwrap_or_default();
        let account = resource_account(r);
        let parent = r.parent_resource_id.clone().unwrap_or_default();
        t.write([
            id.resource_type.as_str(),
            &id.resource,
            &r.display_name,
            account.as_deref().unwrap_or_default(),
            names.account(&account),
            &parent.resource_type,
            &parent.resource,
            &r.description,
        ])?;
    }
    t.finish()
}

/// entitlements.csv: every entitlement with its resource and account; their names join the
/// grants' rows.
fn write_entitlements(
    reader: &C1zReader,
    dir: &Path,
    names: &mut Names,
) -> Result<usize, ExportError> {
    let entitlements = reader.entitlements(&Filter::default())?;
    names.entitlements = entitlements
        .iter()
        .map(|e| (e.id.clone(), e.display_name.clone()))
        .collect();
    let mut t = Table::create(
        dir,
        "entitlements.csv",
        &[
            "entitlement_id",
            "display_name",
            "slug",
            "resource_type",
            "resource_id",
            "resource_name",
            "account_id",
            "account_name",
            "grantable_to",
        ],
    )?;
    for e in &entitlements {
        let rid = e
            .resource
            .as_ref()
            .and_then(|r| r.id.clone())
            .unwrap_or_default();
        let account = id_account(&rid.resource_type, &rid.resource);
        let to: Vec<&str> = e.grantable_to.iter().map(|g| g.id.as_str()).collect();
        t.write([
            e.id.as_str(),
            &e.display_name,
            &e.slug,
            &rid.resource_type,
            &rid.resource,
            names.resource(&rid.resource_type, &rid.resource),
            account.as_deref().unwrap_or_default(),
            names.account(&account),
            &to.join(","),
        ])?;
    }
    t.finish()
}

/// grants.csv: every grant with the entitlement, the principal and their accounts, streamed.
fn write_grants(reader: &C1zReader, dir: &Path, names: &Names) -> Result<usize, ExportError> {
    let mut t = Table::create(
        dir,
        "grants.csv",
        &[
            "grant_id",
            "entitlement_id",
            "entitlement_name",
            "resource_type",
            "resource_id",
            "resource_name",
            "account_id",
            "account_name",
            "principal_type",
            "principal_id",
            "principal_name",
            "principal_account_id",
            "principal_account_name",
            "derived",
            "expands_from",
        ],
    )?;
    // Grants one at a time, as `C1zReader::grants` decodes them (a million grants do not fit
    // in memory decoded at once).
    let sql = StoreError::Sqlite;
    let mut stmt = reader
        .connection()
        .prepare("select data, expansion from v1_grants where sync_id = ?1 order by id")
        .map_err(sql)?;
    let mut found = stmt.query([&reader.sync().sync_id]).map_err(sql)?;
    while let Some(row) = found.next().map_err(sql)? {
        let data: Vec<u8> = row.get(0).map_err(sql)?;
        let grant = pb::Grant::decode(data.as_slice()).map_err(StoreError::Decode)?;
        let g = join_expansion(grant, row.get(1).map_err(sql)?);
        let ent = g.entitlement.as_ref();
        let ent_id = ent.map(|e| e.id.as_str()).unwrap_or_default();
        let rid = ent
            .and_then(|e| e.resource.as_ref())
            .and_then(|r| r.id.clone())
            .unwrap_or_default();
        let pid = g
            .principal
            .as_ref()
            .and_then(|p| p.id.clone())
            .unwrap_or_default();
        let account = id_account(&rid.resource_type, &rid.resource);
        let paccount = id_account(&pid.resource_type, &pid.resource);
        let derived = g.annotations.iter().any(any::is::<pb::GrantImmutable>)
            || g.sources
                .as_ref()
                .is_some_and(|s| !s.sources.is_empty() && !s.sources.contains_key(ent_id));
        let from = any::find::<pb::GrantExpandable>(&g.annotations)
            .map(|ge| ge.entitlement_ids.join(","))
            .unwrap_or_default();
        t.write([
            g.id.as_str(),
            ent_id,
            names
                .entitlements
                .get(ent_id)
                .map(String::as_str)
                .unwrap_or_default(),
            &rid.resource_type,
            &rid.resource,
            names.resource(&rid.resource_type, &rid.resource),
            account.as_deref().unwrap_or_default(),
            names.account(&account),
            &pid.resource_type,
            &pid.resource,
            names.resource(&pid.resource_type, &pid.resource),
            paccount.as_deref().unwrap_or_default(),
            names.account(&paccount),
            if derived { "true" } else { "false" },
            &from,
        ])?;
    }
    t.finish()
}

/// effective_access.csv: per account, who gets in and how (`report::account_reviews`).
fn write_effective_access(
    reader: &C1zReader,
    dir: &Path,
    names: &Names,
    opts: &ReviewOptions,
) -> Result<usize, ExportError> {
    let mut t = Table::create(
        dir,
        "effective_access.csv",
        &[
            "account_id",
            "account_name",
            "principal_type",
            "principal_id",
            "principal_name",
            "principal_account_id",
            "admin",
            "target",
            "target_name",
            "hops",
            "path",
            "paths_found",
        ],
    )?;
    for a in report::account_reviews(reader, &names.accounts, opts)? {
        for e in &a.entrants {
            let paccount = id_account(&e.who.resource_type, &e.who.id);
            for w in &e.ways {
                let path: Vec<String> = w
                    .steps
                    .iter()
                    .map(|(kind, ent)| format!("{kind} {ent}"))
                    .collect();
                t.write([
                    a.id.as_str(),
                    &a.name,
                    &e.who.resource_type,
                    &e.who.id,
                    &e.who.name,
                    paccount.as_deref().unwrap_or_default(),
                    if w.admin { "true" } else { "false" },
                    &w.target,
                    w.target_name.as_deref().unwrap_or_default(),
                    &w.hops.to_string(),
                    &path.join(" > "),
                    &w.paths_found.to_string(),
                ])?;
            }
        }
    }
    t.finish()
}
