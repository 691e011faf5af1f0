//! `orgsync report`: the facts of an access review, gathered from one sync of a c1z file —
//! per account, who can get in and how (the paths of `crate::access`, admins marked by its
//! `--admin` rule); IAM users with console access and no MFA; access keys not used for N days
//! or never; roles whose trust policy lets in principals outside the organization.
//! docs/REPORT.md states each rule.
//!
//! Not here: the HTML page (`html`), the command line (`cli::cmd::report`), the path search
//! (`crate::access`).

pub mod html;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use prost_types::value::Kind as ValueKind;
use serde::Serialize;

use crate::access::{self, AccessError, Options, Reach, Subject, Target, arn_account};
use crate::model::types as rt;
use crate::model::{any, pb, profile};
use crate::store::StoreError;
use crate::store::c1z::{C1zReader, Filter};

/// Why a review could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to review.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// Keys not used for this many days (or never) are listed.
    pub stale_days: u32,
    /// At most this many role assumptions per path.
    pub max_hops: u32,
    /// At most this many paths kept per (principal, target); the page shows the shortest.
    pub max_paths: usize,
    /// At most this many principals kept per account (admins first); None: all.
    pub max_rows: Option<usize>,
    /// The time "not used for N days" is counted back from.
    pub now: DateTime<Utc>,
}

/// A principal as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Who {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    /// The display name, else the id.
    pub name: String,
}

/// One way a principal gets into an account.
#[derive(Debug, Clone, Serialize)]
pub struct Way {
    /// What is reached (an entitlement id, or "IAM principal of the account").
    pub target: String,
    /// Its resource's display name, when known.
    pub target_name: Option<String>,
    /// The shortest path, as (step kind, entitlement) pairs; empty for account principals.
    pub steps: Vec<(String, String)>,
    pub hops: u32,
    /// How many paths exist (within `max_hops`).
    pub paths_found: u64,
    /// The path ends in full administrative power (`access --admin`).
    pub admin: bool,
}

/// A principal that can get into an account.
#[derive(Debug, Clone, Serialize)]
pub struct Entrant {
    pub who: Who,
    /// It has a path ending in full administrative power in this account (`access --admin`).
    pub admin: bool,
    pub ways: Vec<Way>,
}

/// One account of the review.
#[derive(Debug, Clone, Serialize)]
pub struct AccountReview {
    pub id: String,
    pub name: String,
    pub entrants: Vec<Entrant>,
    /// How many principals get in (more than `entrants.len()` when `max_rows` cut the list).
    pub entrants_total: usize,
    /// How many of them are admins.
    pub admins_total: usize,
    /// False when a path search stopped at its step budget.
    pub complete: bool,
}

/// An IAM user that can sign in to the console without an MFA device.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleUser {
    pub who: Who,
    pub account: Option<String>,
    /// `Some(false)`: no MFA device; `None`: the sync does not know (no credential report).
    pub mfa_active: Option<bool>,
    pub password_last_used: Option<String>,
}

/// An access key not used for `stale_days` days, or never.
#[derive(Debug, Clone, Serialize)]
pub struct StaleKey {
    pub key_id: String,
    pub user: Who,
    pub account: Option<String>,
    /// Active or Inactive, as IAM says.
    pub status: String,
    pub created: Option<String>,
    /// None: never used.
    pub last_used: Option<String>,
    /// Days since its last use (None: never used).
    pub idle_days: Option<i64>,
}

/// A role whose trust policy lets in something outside the organization.
#[derive(Debug, Clone, Serialize)]
pub struct OutsideTrust {
    pub role: Who,
    pub account: Option<String>,
    /// The principal as the trust policy names it (`account_iam:<id>`, a user or role ARN,
    /// `*`, or an unrecognised principal string).
    pub principal: String,
    /// The outside account, when the principal names one.
    pub principal_account: Option<String>,
    /// Why it counts: outside_account, any_principal, unresolved_principal.
    pub why: &'static str,
    /// The trust policy has a Condition (which may restrict this principal; not evaluated).
    pub conditional: bool,
}

/// The whole review.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub file: String,
    pub sync_id: String,
    pub sync_ended: Option<String>,
    pub generated_at: String,
    pub stale_days: u32,
    pub max_hops: u32,
    pub accounts: Vec<AccountReview>,
    pub console_without_mfa: Vec<ConsoleUser>,
    pub stale_keys: Vec<StaleKey>,
    pub outside_trust: Vec<OutsideTrust>,
    /// Distinct principals that get into some account, and of them admins somewhere.
    pub principals_total: usize,
    pub admins_total: usize,
}

impl Review {
    /// Distinct principals with an admin path in some account (listed or not).
    pub fn admin_count(&self) -> usize {
        self.admins_total
    }

    /// Distinct principals that can get into some account (listed or not).
    pub fn principal_count(&self) -> usize {
        self.principals_total
    }
}

/// Gathers the review of the sync `reader` shows; `file` is only printed.
pub fn review(reader: &C1zReader, file: &str, opts: &ReviewOptions) -> Result<Review, ReportError> {
    let sync = reader.sync();
    let names = account_names(reader)?;
    let mut principals = BTreeSet::new();
    let mut admins = BTreeSet::new();
    let accounts = reviews(reader, &names, opts, &mut |e: &Entrant| {
        principals.insert(e.who.clone());
        if e.admin {
            admins.insert(e.who.clone());
        }
    })?;
    Ok(Review {
        principals_total: principals.len(),
        admins_total: admins.len(),
        file: file.to_string(),
        sync_id: sync.sync_id.clone(),
        sync_ended: sync.ended_at.clone(),
        generated_at: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stale_days: opts.stale_days,
        max_hops: opts.max_hops,
        console_without_mfa: console_without_mfa(reader)?,
        stale_keys: stale_keys(reader, opts)?,
        outside_trust: outside_trust(reader, &names)?,
        accounts,
    })
}

/// Who can get into each of the accounts `names` (`account_names`), and how.
pub fn account_reviews(
    reader: &C1zReader,
    names: &BTreeMap<String, String>,
    opts: &ReviewOptions,
) -> Result<Vec<AccountReview>, ReportError> {
    reviews(reader, names, opts, &mut |_| {})
}

/// [`account_reviews`], showing `seen` every entrant before `max_rows` cuts the lists.
fn reviews(
    reader: &C1zReader,
    names: &BTreeMap<String, String>,
    opts: &ReviewOptions,
    seen: &mut dyn FnMut(&Entrant),
) -> Result<Vec<AccountReview>, ReportError> {
    // Every admin path of the file at once (`access --admin`), split by the account it lands
    // in: the same rows as one `--account X --admin` question per account, for one search.
    let o = Options {
        admin: true,
        max_hops: opts.max_hops,
        max_paths: opts.max_paths,
        assume_account_principals: false,
    };
    let admins = access::answer(
        reader.connection(),
        &reader.sync().sync_id,
        &Subject::Everyone,
        &o,
    )?;
    let mut by_account: BTreeMap<String, Vec<Reach>> = BTreeMap::new();
    for r in admins.results {
        if let Some(a) = r.account.clone() {
            by_account.entry(a).or_default().push(r);
        }
    }
    names
        .iter()
        .map(|(id, name)| {
            let admin = by_account.remove(id).unwrap_or_default();
            account_review(reader, id, name, &admin, admins.complete, opts, seen)
        })
        .collect()
}

/// The accounts of the sync (`account` and `account_iam` resources), id → display name.
pub fn account_names(reader: &C1zReader) -> Result<BTreeMap<String, String>, StoreError> {
    let mut names = BTreeMap::new();
    for ty in [rt::ACCOUNT_IAM, rt::ACCOUNT] {
        let filter = Filter {
            resource_type: Some(ty.to_string()),
            ..Default::default()
        };
        for r in reader.resources(&filter)? {
            if let Some(id) = r.id {
                // The organization's name (`account`) wins over the IAM view's.
                names.insert(id.resource, r.display_name);
            }
        }
    }
    Ok(names)
}

fn who(p: &access::Principal) -> Who {
    Who {
        resource_type: p.resource_type.clone(),
        id: p.id.clone(),
        name: p.name.clone().unwrap_or_else(|| p.id.clone()),
    }
}

fn account_review(
    reader: &C1zReader,
    id: &str,
    name: &str,
    admins: &[Reach],
    admins_complete: bool,
    opts: &ReviewOptions,
    seen: &mut dyn FnMut(&Entrant),
) -> Result<AccountReview, ReportError> {
    let conn = reader.connection();
    let sync_id = reader.sync().sync_id.as_str();
    let o = Options {
        admin: false,
        max_hops: opts.max_hops,
        max_paths: opts.max_paths,
        assume_account_principals: false,
    };
    let all = access::answer(conn, sync_id, &Subject::Account(id.to_string()), &o)?;
    let admin_set: BTreeSet<(String, String)> = admins
        .iter()
        .map(|r| (r.principal.resource_type.clone(), r.principal.id.clone()))
        .collect();
    let mut by: BTreeMap<Who, Vec<Way>> = BTreeMap::new();
    for r in &all.results {
        by.entry(who(&r.principal)).or_default().push(way(r, false));
    }
    // The admin paths: for the account's own users and roles these are the only paths shown
    // besides being a principal of the account (a policy is not a way in, it is what the way
    // in gives).
    for r in admins {
        by.entry(who(&r.principal)).or_default().push(way(r, true));
    }
    let mut entrants: Vec<Entrant> = by
        .into_iter()
        .map(|(w, mut ways)| {
            // Admin ways first (the page shows the first few).
            ways.sort_by_key(|w| !w.admin);
            (w, ways)
        })
        .map(|(w, ways)| Entrant {
            admin: admin_set.contains(&(w.resource_type.clone(), w.id.clone())),
            who: w,
            ways,
        })
        .collect();
    // Admins first, then by type and name.
    entrants.sort_by(|a, b| {
        (!a.admin, &a.who.resource_type, &a.who.name).cmp(&(
            !b.admin,
            &b.who.resource_type,
            &b.who.name,
        ))
    });
    entrants.iter().for_each(&mut *seen);
    let entrants_total = entrants.len();
    let admins_total = entrants.iter().filter(|e| e.admin).count();
    if let Some(max) = opts.max_rows {
        entrants.truncate(max);
    }
    Ok(AccountReview {
        id: id.to_string(),
        name: name.to_string(),
        entrants,
        entrants_total,
        admins_total,
        complete: all.complete && admins_complete,
    })
}

fn way(r: &Reach, admin: bool) -> Way {
    let (target, target_name) = match &r.target {
        Target::Entitlement { id, name, .. } => (id.clone(), name.clone()),
        Target::AccountPrincipal => ("IAM principal of the account".to_string(), None),
    };
    let shortest = r.paths.first();
    Way {
        target,
        target_name,
        steps: shortest
            .map(|p| {
                p.steps
                    .iter()
                    .map(|s| (s.kind.as_str().to_string(), s.entitlement.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        hops: shortest.map(|p| p.hops).unwrap_or(0),
        paths_found: r.paths_found,
        admin,
    }
}

fn profile_bool(r: &pb::Resource, key: &str) -> Option<bool> {
    match r.profile.as_ref()?.fields.get(key)?.kind {
        Some(ValueKind::BoolValue(b)) => Some(b),
        _ => None,
    }
}

fn profile_str(r: &pb::Resource, key: &str) -> Option<String> {
    r.profile
        .as_ref()
        .and_then(|p| profile::get_str(p, key))
        .map(str::to_string)
}

fn profile_strings(r: &pb::Resource, key: &str) -> Vec<String> {
    let Some(ValueKind::ListValue(l)) = r
        .profile
        .as_ref()
        .and_then(|p| p.fields.get(key))
        .and_then(|v| v.kind.clone())
    else {
        return vec![];
    };
    l.values
        .into_iter()
        .filter_map(|v| match v.kind {
            Some(ValueKind::StringValue(s)) => Some(s),
            _ => None,
        })
        .collect()
}

fn resources_of(reader: &C1zReader, ty: &str) -> Result<Vec<pb::Resource>, StoreError> {
    reader.resources(&Filter {
        resource_type: Some(ty.to_string()),
        ..Default::default()
    })
}

fn resource_who(r: &pb::Resource) -> Who {
    let id = r.id.clone().unwrap_or_default();
    Who {
        name: if r.display_name.is_empty() {
            id.resource.clone()
        } else {
            r.display_name.clone()
        },
        resource_type: id.resource_type,
        id: id.resource,
    }
}

/// IAM users whose profile says `aws_console_access: true` and not `aws_mfa_active: true`.
fn console_without_mfa(reader: &C1zReader) -> Result<Vec<ConsoleUser>, StoreError> {
    let mut out = vec![];
    for r in resources_of(reader, rt::IAM_USER)? {
        if profile_bool(&r, "aws_console_access") != Some(true) {
            continue;
        }
        let mfa = profile_bool(&r, "aws_mfa_active");
        if mfa == Some(true) {
            continue;
        }
        let w = resource_who(&r);
        out.push(ConsoleUser {
            account: arn_account(&w.id).map(str::to_string),
            who: w,
            mfa_active: mfa,
            password_last_used: profile_str(&r, "aws_password_last_used"),
        });
    }
    out.sort_by(|a, b| (&a.account, &a.who).cmp(&(&b.account, &b.who)));
    Ok(out)
}

fn timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Access keys with no last use, or a last use more than `stale_days` days before `now`
/// (SecretTrait.last_used_at), active or not.
fn stale_keys(reader: &C1zReader, opts: &ReviewOptions) -> Result<Vec<StaleKey>, StoreError> {
    let users: BTreeMap<String, String> = resources_of(reader, rt::IAM_USER)?
        .into_iter()
        .filter_map(|r| Some((r.id?.resource, r.display_name)))
        .collect();
    let cutoff = opts.now - chrono::Duration::days(i64::from(opts.stale_days));
    let mut out = vec![];
    for r in resources_of(reader, rt::ACCESS_KEY)? {
        let secret = any::find::<pb::SecretTrait>(&r.annotations);
        let last_used = secret
            .as_ref()
            .and_then(|s| s.last_used_at.as_ref())
            .and_then(timestamp);
        if last_used.is_some_and(|t| t >= cutoff) {
            continue;
        }
        let user_arn = profile_str(&r, "aws_user_arn")
            .or_else(|| {
                secret
                    .as_ref()
                    .and_then(|s| s.identity_id.as_ref())
                    .map(|i| i.resource.clone())
            })
            .unwrap_or_default();
        let key_id =
            r.id.as_ref()
                .map(|i| i.resource.clone())
                .unwrap_or_default();
        out.push(StaleKey {
            user: Who {
                resource_type: rt::IAM_USER.to_string(),
                name: users
                    .get(&user_arn)
                    .cloned()
                    .or_else(|| profile_str(&r, "aws_user_name"))
                    .unwrap_or_else(|| user_arn.clone()),
                id: user_arn.clone(),
            },
            account: arn_account(&user_arn).map(str::to_string),
            status: profile_str(&r, "aws_access_key_status").unwrap_or_default(),
            created: r.created_at.as_ref().and_then(timestamp).map(rfc3339),
            last_used: last_used.map(rfc3339),
            idle_days: last_used.map(|t| (opts.now - t).num_days()),
            key_id,
        });
    }
    out.sort_by(|a, b| (&a.account, &a.user, &a.key_id).cmp(&(&b.account, &b.user, &b.key_id)));
    Ok(out)
}

/// Roles whose trust lets in an account that is not one of the sync's accounts (a grant of
/// the role's `assignment` to `account_iam:<id>`, or to a user or role of such an account),
/// any principal (`*`), or a principal the sync could not resolve
/// (`aws_trust_other_principals`).
fn outside_trust(
    reader: &C1zReader,
    org: &BTreeMap<String, String>,
) -> Result<Vec<OutsideTrust>, StoreError> {
    let roles: BTreeMap<String, pb::Resource> = resources_of(reader, rt::ROLE)?
        .into_iter()
        .filter_map(|r| Some((r.id.clone()?.resource, r)))
        .collect();
    let mut out: BTreeMap<(String, String), OutsideTrust> = BTreeMap::new();
    let role_who = |arn: &str| match roles.get(arn) {
        Some(r) => resource_who(r),
        None => Who {
            resource_type: rt::ROLE.to_string(),
            id: arn.to_string(),
            name: arn.to_string(),
        },
    };
    let conditional = |arn: &str| {
        roles
            .get(arn)
            .and_then(|r| profile_bool(r, "aws_trust_conditional"))
            == Some(true)
    };
    let grants = reader.grants(&Filter {
        resource_type: Some(rt::ROLE.to_string()),
        ..Default::default()
    })?;
    for g in grants {
        let Some(ent) = g.entitlement.as_ref() else {
            continue;
        };
        let Some(role_arn) = ent
            .id
            .strip_prefix("role:")
            .and_then(|s| s.strip_suffix(":assignment"))
        else {
            continue;
        };
        let Some(p) = g.principal.as_ref().and_then(|p| p.id.as_ref()) else {
            continue;
        };
        let acct = match p.resource_type.as_str() {
            rt::ACCOUNT_IAM => Some(p.resource.as_str()),
            rt::IAM_USER | rt::ROLE => arn_account(&p.resource),
            _ => None,
        };
        let Some(acct) = acct.filter(|a| !org.contains_key(*a)) else {
            continue;
        };
        let principal = format!("{}:{}", p.resource_type, p.resource);
        out.entry((role_arn.to_string(), principal.clone()))
            .or_insert_with(|| OutsideTrust {
                role: role_who(role_arn),
                account: arn_account(role_arn).map(str::to_string),
                principal,
                principal_account: Some(acct.to_string()),
                why: "outside_account",
                conditional: conditional(role_arn),
            });
    }
    for (arn, r) in &roles {
        let mut add = |principal: String, principal_account: Option<String>, why| {
            out.entry((arn.clone(), principal.clone()))
                .or_insert_with(|| OutsideTrust {
                    role: resource_who(r),
                    account: arn_account(arn).map(str::to_string),
                    principal,
                    principal_account,
                    why,
                    conditional: conditional(arn),
                });
        };
        if profile_bool(r, "aws_trust_any_principal") == Some(true) {
            add("*".to_string(), None, "any_principal");
        }
        for other in profile_strings(r, "aws_trust_other_principals") {
            match arn_account(&other) {
                Some(a) if org.contains_key(a) => {}
                Some(a) => {
                    let a = a.to_string();
                    add(other, Some(a), "outside_account");
                }
                None => add(other, None, "unresolved_principal"),
            }
        }
    }
    let mut v: Vec<OutsideTrust> = out.into_values().collect();
    v.sort_by(|a, b| (&a.account, &a.role, &a.principal).cmp(&(&b.account, &b.role, &b.principal)));
    Ok(v)
}

#[cfg(test)]
mod tests;
