//! The plan file (`orgsync plan --file PLAN`, read by `orgsync sync --shard I/N --plan PLAN`):
//! the organization's listing written once, so that N shards do not each list the whole
//! organization under one organization-wide Organizations limit.
//!
//! Owns the file's format (JSON, `"format": "orgsync-plan/1"`), writing it from a listing
//! ([`write`]), and reading it back into an [`OrgSnapshot`] ([`read`]), refusing a file that
//! is not a plan, is inconsistent (an account in a node the tree does not have, an OU path
//! that is not the tree's, an id listed twice) or older than the caller's maximum age; and
//! refusing it for an organization other than the caller's ([`LoadedPlan::check_organization`]).
//!
//! What the file holds: the organization (id, ARN, management account, feature set), the
//! account that listed it, when, with which orgsync; the roots (with the policy types enabled
//! in each), the OUs, and every account with its status, parent and OU path. Nothing else: no
//! credential, no role, no External ID (each shard resolves roles and External IDs from its
//! own configuration), no filter (each shard applies its own).
//!
//! Not here: listing the organization (`connector::org`), planning the accounts from the
//! listing (`sync::plan`), the flags (`cli::cmd::plan`, `cli::cmd::sync`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::arn::AccountId;
use crate::connector::org::{Node, OrgAccount, OrgSnapshot, Organization};

/// The `format` of the files this build writes and reads.
pub const FORMAT: &str = "orgsync-plan/1";

/// Why a plan file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("plan file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plan file {path} is not an orgsync plan: {reason}")]
    NotAPlan { path: PathBuf, reason: String },
    #[error(
        "plan file {path} is of format '{found}'; this orgsync reads '{FORMAT}' (write it again with this version's `orgsync plan`)"
    )]
    Format { path: PathBuf, found: String },
    #[error("plan file {path} is inconsistent: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
    #[error(
        "plan file {path} was written at {created_at}, {age} ago, more than --plan-max-age ({max_age}): the organization may have changed since; run `orgsync plan` again"
    )]
    Stale {
        path: PathBuf,
        created_at: String,
        age: String,
        max_age: String,
    },
    #[error(
        "plan file {path} lists organization {planned}, but the caller's organization is {actual}: it is another organization's plan"
    )]
    Foreign {
        path: PathBuf,
        planned: String,
        actual: String,
    },
    #[error(
        "plan file {path} lists organization {planned}, but the caller is not in an organization it can describe ({reason})"
    )]
    NoOrganization {
        path: PathBuf,
        planned: String,
        reason: String,
    },
    #[error("writing plan file {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// The file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanDoc {
    format: String,
    /// RFC 3339, UTC.
    created_at: String,
    orgsync_version: String,
    /// The account whose credentials listed the organization (management or delegated
    /// administrator).
    listed_by: String,
    organization: OrganizationDoc,
    roots: Vec<RootDoc>,
    organizational_units: Vec<OuDoc>,
    accounts: Vec<AccountDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationDoc {
    id: String,
    arn: String,
    management_account_id: String,
    feature_set: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RootDoc {
    id: String,
    name: String,
    arn: String,
    /// Policy types enabled in the root (e.g. SERVICE_CONTROL_POLICY).
    enabled_policy_types: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OuDoc {
    id: String,
    name: String,
    arn: String,
    parent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountDoc {
    id: String,
    name: String,
    arn: String,
    email: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joined: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joined_method: Option<String>,
    /// The root or OU the account sits in.
    parent: String,
    /// Root first, `parent` last.
    ou_path: Vec<String>,
}

/// A plan file read and checked (format, consistency, age).
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub listed_by: String,
    /// The organization, roots, OUs and accounts as listed (accounts in id order).
    pub snapshot: OrgSnapshot,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `snap` (a listed organization: it must have one) as the plan file `path`,
/// atomically; `listed_by` is the caller's account, `now` the creation time.
pub fn write(
    path: &Path,
    snap: &OrgSnapshot,
    listed_by: &AccountId,
    now: DateTime<Utc>,
) -> Result<(), PlanFileError> {
    let werr = |reason: String| PlanFileError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let org = snap
        .org
        .as_ref()
        .ok_or_else(|| werr("the listing has no organization".into()))?;
    let mut accounts: Vec<&OrgAccount> = snap.accounts.iter().collect();
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    let doc = PlanDoc {
        format: FORMAT.into(),
        created_at: rfc3339(now),
        orgsync_version: env!("CARGO_PKG_VERSION").into(),
        listed_by: listed_by.to_string(),
        organization: OrganizationDoc {
            id: org.id.clone(),
            arn: org.arn.clone(),
            management_account_id: org.master_account_id.clone(),
            feature_set: org.feature_set.clone(),
        },
        roots: snap
            .roots
            .iter()
            .map(|r| RootDoc {
                id: r.id.clone(),
                name: r.name.clone(),
                arn: r.arn.clone(),
                enabled_policy_types: snap
                    .root_policy_types
                    .get(&r.id)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect(),
        organizational_units: snap
            .ous
            .iter()
            .map(|o| OuDoc {
                id: o.id.clone(),
                name: o.name.clone(),
                arn: o.arn.clone(),
                parent: o.parent.clone().unwrap_or_default(),
            })
            .collect(),
        accounts: accounts
            .into_iter()
            .map(|a| AccountDoc {
                id: a.id.clone(),
                name: a.name.clone(),
                arn: a.arn.clone(),
                email: a.email.clone(),
                status: a.status.clone(),
                // Full precision: the account's record carries it.
                joined: a
                    .joined
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                joined_method: a.joined_method.clone(),
                parent: a.parent.clone(),
                ou_path: snap.path(&a.parent),
            })
            .collect(),
    };
    // Checked as a reader would: a listing that could not be read back is not written.
    to_snapshot(path, doc.clone())?;
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| werr(e.to_string()))?;
    text.push('\n');
    crate::store::atomic::write_file(path, text.as_bytes()).map_err(|e| werr(e.to_string()))
}

/// Reads the plan file `path`, refusing it when it is not a plan of this format, is
/// inconsistent, or was written more than `max_age` before `now`.
pub fn read(
    path: &Path,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Result<LoadedPlan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let not_a_plan = |reason: String| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        reason,
    };
    // The format first, so that a later format is named as such rather than as a bad field.
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_a_plan(format!("not JSON ({e})")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(PlanFileError::Format {
                path: path.to_path_buf(),
                found: other.to_string(),
            });
        }
        None => return Err(not_a_plan("it has no \"format\"".into())),
    }
    let doc: PlanDoc = serde_json::from_value(value).map_err(|e| not_a_plan(e.to_string()))?;
    let created_at = DateTime::parse_from_rfc3339(&doc.created_at)
        .map_err(|e| not_a_plan(format!("created_at '{}': {e}", doc.created_at)))?
        .with_timezone(&Utc);
    // A plan from a clock slightly ahead is fresh, not refused.
    let age = (now - created_at).to_std().unwrap_or_default();
    if age > max_age {
        return Err(PlanFileError::Stale {
            path: path.to_path_buf(),
            created_at: rfc3339(created_at),
            age: humantime::format_duration(Duration::from_secs(age.as_secs())).to_string(),
            max_age: humantime::format_duration(max_age).to_string(),
        });
    }
    let listed_by = doc.listed_by.clone();
    let snapshot = to_snapshot(path, doc)?;
    Ok(LoadedPlan {
        path: path.to_path_buf(),
        created_at,
        listed_by,
        snapshot,
    })
}

impl LoadedPlan {
    /// The organization's id as the plan lists it.
    pub fn organization_id(&self) -> &str {
        self.snapshot.org.as_ref().map_or("", |o| o.id.as_str())
    }

    /// Refuses the plan when `actual` (the caller's organization, as described now) is not
    /// the one it lists.
    pub fn check_organization(&self, actual: &Organization) -> Result<(), PlanFileError> {
        if actual.id == self.organization_id() {
            return Ok(());
        }
        Err(PlanFileError::Foreign {
            path: self.path.clone(),
            planned: self.organization_id().to_string(),
            actual: actual.id.clone(),
        })
    }

    /// The refusal of the plan for a caller that is not in an organization it can describe.
    pub fn no_organization(&self, reason: &str) -> PlanFileError {
        PlanFileError::NoOrganization {
            path: self.path.clone(),
            planned: self.organization_id().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The listing `doc` holds, refused when it is inconsistent.
fn to_snapshot(path: &Path, doc: PlanDoc) -> Result<OrgSnapshot, PlanFileError> {
    let bad = |reason: String| PlanFileError::Inconsistent {
        path: path.to_path_buf(),
        reason,
    };
    if doc.organization.id.is_empty() {
        return Err(bad("the organization has no id".into()));
    }
    if doc.roots.is_empty() {
        return Err(bad("the organization has no root".into()));
    }
    let mut ids = BTreeSet::new();
    for id in doc
        .roots
        .iter()
        .map(|r| &r.id)
        .chain(doc.organizational_units.iter().map(|o| &o.id))
        .chain(doc.accounts.iter().map(|a| &a.id))
    {
        if id.is_empty() || !ids.insert(id.as_str()) {
            return Err(bad(format!("the id '{id}' is empty or listed twice")));
        }
    }
    let nodes: BTreeSet<String> = doc
        .roots
        .iter()
        .map(|r| r.id.clone())
        .chain(doc.organizational_units.iter().map(|o| o.id.clone()))
        .collect();
    for o in &doc.organizational_units {
        if !nodes.contains(&o.parent) || o.parent == o.id {
            return Err(bad(format!(
                "OU {} has the parent '{}', which is not another root or OU of the plan",
                o.id, o.parent
            )));
        }
    }
    let mut snap = OrgSnapshot {
        org: Some(Organization {
            id: doc.organization.id,
            arn: doc.organization.arn,
            master_account_id: doc.organization.management_account_id,
            feature_set: doc.organization.feature_set,
        }),
        roots: vec![],
        ous: doc
            .organizational_units
            .into_iter()
            .map(|o| Node {
                id: o.id,
                name: o.name,
                arn: o.arn,
                parent: Some(o.parent),
            })
            .collect(),
        accounts: vec![],
        root_policy_types: BTreeMap::new(),
    };
    for r in doc.roots {
        snap.root_policy_types
            .insert(r.id.clone(), r.enabled_policy_types);
        snap.roots.push(Node {
            id: r.id,
            name: r.name,
            arn: r.arn,
            parent: None,
        });
    }
    // Every OU must reach a root (a cycle would not).
    for o in &snap.ous {
        let path = snap.path(&o.id);
        if !path
            .first()
            .is_some_and(|top| snap.roots.iter().any(|r| &r.id == top))
        {
            return Err(bad(format!("OU {} does not lead to a root", o.id)));
        }
    }
    for a in doc.accounts {
        if !nodes.contains(&a.parent) {
            return Err(bad(format!(
                "account {} is in '{}', which is not a root or OU of the plan",
                a.id, a.parent
            )));
        }
        let path = snap.path(&a.parent);
        if a.ou_path != path {
            return Err(bad(format!(
                "account {}'s ou_path {:?} is not its parent's path in the tree {:?}",
                a.id, a.ou_path, path
            )));
        }
        let joined = match a.joined.as_deref() {
            None => None,
            Some(j) => Some(
                DateTime::parse_from_rfc3339(j)
                    .map_err(|e| bad(format!("account {}'s joined '{j}': {e}", a.id)))?
                    .with_timezone(&Utc),
            ),
        };
        snap.accounts.push(OrgAccount {
            id: a.id,
            name: a.name,
            arn: a.arn,
            email: a.email,
            status: a.status,
            joined,
            joined_method: a.joined_method,
            parent: a.parent,
        });
    }
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>) -> Node {
        Node {
            id: id.into(),
            name: format!("{id}-name"),
            arn: format!("arn:aws:organizations::111111111111:ou/o-abc/{id}"),
            parent: parent.map(str::to_string),
        }
    }

    fn account(id: &str, status: &str, parent: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: format!("acct-{id}"),
            arn: format!("arn:aws:organizations::111111111111:account/o-abc/{id}"),
            email: format!("{id}@example.com"),
            status: status.into(),
            joined: DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123456Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            joined_method: Some("CREATED".into()),
            parent: parent.into(),
        }
    }

    fn snapshot() -> OrgSnapshot {
        OrgSnapshot {
            org: Some(Organization {
                id: "o-abc".into(),
                arn: "arn:aws:organizations::111111111111:organization/o-abc".into(),
                master_account_id: "111111111111".into(),
                feature_set: "ALL".into(),
            }),
            roots: vec![node("r-ab12", None)],
            ous: vec![
                node("ou-ab12-work", Some("r-ab12")),
                node("ou-ab12-prod", Some("ou-ab12-work")),
            ],
            accounts: vec![
                account("333333333333", "SUSPENDED", "ou-ab12-prod"),
                account("111111111111", "ACTIVE", "r-ab12"),
                account("222222222222", "ACTIVE", "ou-ab12-work"),
            ],
            root_policy_types: BTreeMap::from([(
                "r-ab12".to_string(),
                BTreeSet::from(["SERVICE_CONTROL_POLICY".to_string()]),
            )]),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn written(dir: &Path) -> PathBuf {
        let p = dir.join("plan.json");
        write(&p, &snapshot(), &"111111111111".parse().unwrap(), now()).unwrap();
        p
    }

    /// Rewrites the JSON of the plan at `p` with `edit`.
    fn edited(p: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(p, v.to_string()).unwrap();
    }

    #[test]
    fn a_written_plan_reads_back_as_the_listing_with_paths_and_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = written(dir.path());
        let loaded = read(&p, HOUR, now() + chrono::Duration::minutes(59)).unwrap();
        let mut want = snapshot();
        want.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(loaded.snapshot, want);
        assert_eq!(loaded.created_at, now());
        assert_eq!(loaded.listed_by, "111111111111");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["organization"]["id"], "o-abc");
        let prod = &v["accounts"][2];
        assert_eq!(prod["status"], "SUSPENDED");
        assert_eq!(
            prod["ou_path"],
            serde_json::json!(["r-ab12", "ou-ab12-work", "ou-ab12-prod"])
        );
        let text = std::fs::read_to_string(&p).unwrap().to_lowercase();
        for word in ["external", "secret", "credential", "token", "role"] {
            assert!(!text.contains(word), "{word} in the plan file");
        }
    }

    #[test]
    fn a_plan_older_than_the_maximum_age_is_refused_naming_its_age() {
        let dir = tempfile::tempdir().unwrap();
        let p = written(dir.path());
        let e = read(&p, HOUR, now() + chrono::Duration::minutes(61))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("written at 2026-01-01T12:00:00Z, 1h 1m ago"),
            "{e}"
        );
        assert!(e.contains("run `orgsync plan` again"), "{e}");
        // A clock a little behind the writer's is not an error.
        read(&p, HOUR, now() - chrono::Duration::minutes(2)).unwrap();
    }

    #[test]
    fn another_organizations_plan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = read(&written(dir.path()), HOUR, now()).unwrap();
        let mut other = snapshot().org.unwrap();
        loaded.check_organization(&other).unwrap();
        other.id = "o-other".into();
        let e = loaded.check_organization(&other).unwrap_err().to_string();
        assert!(
            e.contains("lists organization o-abc, but the caller's organization is o-other"),
            "{e}"
        );
    }

    /// A change to a plan file's JSON.
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

    #[test]
    fn files_that_are_not_plans_or_are_inconsistent_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = written(dir.path());
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["format"] = "orgsync-plan/9".into()),
                "is of format 'orgsync-plan/9'",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("format");
                }),
                "it has no \"format\"",
            ),
            (
                Box::new(|v| v["secret"] = "x".into()),
                "unknown field `secret`",
            ),
            (
                Box::new(|v| v["accounts"][0]["parent"] = "ou-ab12-gone".into()),
                "is in 'ou-ab12-gone', which is not a root or OU",
            ),
            (
                Box::new(|v| v["accounts"][1]["ou_path"] = serde_json::json!(["r-ab12"])),
                "is not its parent's path in the tree",
            ),
            (
                Box::new(|v| v["accounts"][1]["id"] = "111111111111".into()),
                "'111111111111' is empty or listed twice",
            ),
            (
                Box::new(|v| {
                    v["organizational_units"][0]["parent"] = "ou-ab12-prod".into();
                    v["accounts"][1]["ou_path"] = serde_json::json!([]);
                }),
                "does not lead to a root",
            ),
            (
                Box::new(|v| v["created_at"] = "yesterday".into()),
                "created_at 'yesterday'",
            ),
        ];
        for (edit, says) in cases {
            std::fs::copy(&p, dir.path().join("bad.json")).unwrap();
            let bad = dir.path().join("bad.json");
            edited(&bad, edit);
            let e = read(&bad, HOUR, now()).unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        std::fs::write(dir.path().join("junk"), "SQLite format 3").unwrap();
        let e = read(&dir.path().join("junk"), HOUR, now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not an orgsync plan: not JSON"), "{e}");
        let e = read(&dir.path().join("missing.json"), HOUR, now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}
