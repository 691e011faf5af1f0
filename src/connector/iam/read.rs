//! Reads one account's IAM with as few calls as the data allows: GetAccountAuthorizationDetails
//! (users, groups, roles, local policies, attachments, inline documents, permissions
//! boundaries; paged), ListRoles (descriptions and session limits; paged), the credential
//! report (console access, password and key use, MFA), ListAccessKeys only for users that have
//! keys, and the documents of attached AWS-managed policies once per organization. Per-user
//! calls (GetLoginProfile, GetAccessKeyLastUsed) happen only when the report cannot be had.
//! After the authorization details, the other reads run at the same time, and per-user calls
//! several at once: every call goes through `Scope::call` / `Scope::pages` with the account's
//! IAM token bucket, which sets the pace.
//!
//! Not here: the SDK-to-model mapping (`convert`), the credential report itself
//! (`credential_report`), records (`records`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_iam::types::EntityType;
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use crate::aws::call::marker;
use crate::aws::time::utc;
use crate::aws::{AwsError, ErrorClass, Scope};
use crate::policy::decode_document;

use super::convert::{access_key_of, group_of, policy_of, role_of, set_last_used, user_of};
use super::credential_report::{ReportGuess, ReportRow, credential_report, match_report_slots};
use super::model::*;

/// The credential report's rows by user name.
type Report = BTreeMap<String, ReportRow>;

/// Per-user (and per-policy) calls of one account in flight at once. The account's token
/// bucket sets the rate (15/s by default: at 50 ms a call, one or two in flight reach it); more
/// in flight keep the bucket busy when answers are slow.
const USER_CALLS: usize = 8;

/// How to read IAM.
#[derive(Debug, Clone)]
pub struct IamReadOptions {
    /// Read access-key metadata.
    pub sync_secrets: bool,
    /// Fetch documents of attached AWS-managed policies (2 calls per distinct policy per run).
    pub aws_policy_documents: bool,
    /// How long to wait for a credential report before falling back to per-user calls.
    pub report_timeout: Duration,
}

impl Default for IamReadOptions {
    fn default() -> Self {
        IamReadOptions {
            sync_secrets: true,
            aws_policy_documents: true,
            report_timeout: Duration::from_secs(60),
        }
    }
}

/// AWS-managed policy documents, fetched once per run and shared by every account.
#[derive(Default)]
pub struct AwsPolicyDocs {
    cells: Mutex<HashMap<String, Arc<OnceCell<Option<String>>>>>,
}

impl AwsPolicyDocs {
    /// The default-version document of `arn`, or `None` if it cannot be read.
    pub async fn get(&self, scope: &Scope, arn: &str) -> Option<String> {
        let cell = {
            let mut cells = match self.cells.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            Arc::clone(cells.entry(arn.to_string()).or_default())
        };
        cell.get_or_init(|| fetch_policy_document(scope, arn))
            .await
            .clone()
    }
}

async fn fetch_policy_document(scope: &Scope, arn: &str) -> Option<String> {
    let iam = scope.iam();
    let lim = scope.iam_limiter();
    let policy = match scope
        .call(lim, || iam.get_policy().policy_arn(arn).send())
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(policy = arn, error = %e, "cannot read AWS-managed policy; its document is left out");
            return None;
        }
    };
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())?
        .to_string();
    match scope
        .call(lim, || {
            iam.get_policy_version()
                .policy_arn(arn)
                .version_id(&version)
                .send()
        })
        .await
    {
        Ok(v) => v
            .policy_version()
            .and_then(|v| v.document())
            .map(decode_document),
        Err(e) => {
            tracing::warn!(policy = arn, error = %e, "cannot read AWS-managed policy version");
            None
        }
    }
}

/// What the accounts of one run share: the AWS-managed policy documents (fetched once per run)
/// and what the run has seen of credential reports.
#[derive(Default)]
pub struct RunShared {
    docs: AwsPolicyDocs,
    reports: ReportGuess,
}

impl RunShared {
    pub fn new() -> Arc<RunShared> {
        Arc::new(RunShared::default())
    }
}

/// Reads one account's IAM. Two branches at once, both in the account's IAM token bucket:
/// the authorization details, then (as soon as they are complete) the role details and the
/// AWS-managed policies; and, as soon as a page of the authorization details shows a user,
/// the credential report with the access keys of the users it shows with keys (the many
/// per-user calls of a large account so start without waiting for the last page). Without the
/// report, the per-user fallback runs once the authorization details are complete.
pub async fn read_account(
    scope: &Scope,
    shared: &RunShared,
    opts: &IamReadOptions,
) -> Result<IamSnapshot, AwsError> {
    let (has_users, users_seen) = tokio::sync::watch::channel(false);
    let details = async {
        let mut snap = authorization_details(scope, &has_users).await?;
        // Ends the report branch's wait when the account has no user.
        drop(has_users);
        let roles = async {
            if snap.roles.is_empty() {
                Ok(HashMap::new())
            } else {
                role_details(scope).await
            }
        };
        let policies = aws_managed_policies(scope, &shared.docs, opts, &snap);
        let (roles, policies) = futures::join!(roles, policies);
        add_role_details(&mut snap.roles, roles?);
        snap.aws_policies = policies;
        Ok::<_, AwsError>(snap)
    };
    let report = async {
        let mut seen = users_seen;
        if seen.wait_for(|&users| users).await.is_err() {
            // No user in the account (or the authorization details failed).
            return Ok((Some(Report::new()), BTreeMap::new()));
        }
        let Some(report) = report_or_fallback(scope, &shared.reports, opts).await else {
            return Ok((None, BTreeMap::new()));
        };
        // Key ids are needed for access-key records.
        let keys = if opts.sync_secrets {
            reported_keys(scope, &report).await?
        } else {
            BTreeMap::new()
        };
        Ok::<_, AwsError>((Some(report), keys))
    };
    let (snap, report) = futures::join!(details, report);
    let mut snap = snap?;
    let (report, mut keys) = report?;
    snap.credentials = credential_facts(scope, &snap.users, report.as_ref()).await?;
    match report {
        // Keys only of the users the authorization details list (the report may be a moment
        // newer).
        Some(_) => {
            let users: BTreeSet<&str> = snap.users.iter().map(|u| u.name.as_str()).collect();
            keys.retain(|name, _| users.contains(name.as_str()));
            snap.keys = keys;
        }
        // Without the report, keys are also the only source of key use (for last login).
        None => snap.keys = access_keys(scope, &snap.users, None).await?,
    }
    Ok(snap)
}

/// Users, groups, roles and local managed policies: every page of the authorization details,
/// each mapped as it arrives (a page of the SDK's answer is dropped before the next is asked).
/// `has_users` is set once a page has listed a user.
async fn authorization_details(
    scope: &Scope,
    has_users: &tokio::sync::watch::Sender<bool>,
) -> Result<IamSnapshot, AwsError> {
    let iam = scope.iam();
    let page_size = scope.settings().iam_page_size;
    let mut snap = IamSnapshot::default();
    scope
        .pages(
            scope.iam_limiter(),
            |m| {
                iam.get_account_authorization_details()
                    .filter(EntityType::User)
                    .filter(EntityType::Group)
                    .filter(EntityType::Role)
                    .filter(EntityType::LocalManagedPolicy)
                    .max_items(page_size)
                    .set_marker(m)
                    .send()
            },
            |page, _: &mut Vec<()>| {
                let next = marker(page.is_truncated(), page.marker());
                snap.users
                    .extend(page.user_detail_list().iter().filter_map(user_of));
                if !snap.users.is_empty() {
                    has_users.send_replace(true);
                }
                snap.groups
                    .extend(page.group_detail_list().iter().filter_map(group_of));
                snap.roles
                    .extend(page.role_detail_list().iter().filter_map(role_of));
                snap.policies
                    .extend(page.policies().iter().filter_map(policy_of));
                next
            },
        )
        .await?;
    Ok(snap)
}

/// Role descriptions and session limits by role ARN (not in the authorization details), from
/// ListRoles.
async fn role_details(scope: &Scope) -> Result<HashMap<String, RoleExtra>, AwsError> {
    let iam = scope.iam();
    let page_size = scope.settings().iam_page_size;
    Ok(scope
        .pages(
            scope.iam_limiter(),
            |m| iam.list_roles().max_items(page_size).set_marker(m).send(),
            |page, out| {
                out.extend(page.roles().iter().map(|r| {
                    (
                        r.arn().to_string(),
                        (
                            r.description().map(str::to_string),
                            r.max_session_duration(),
                        ),
                    )
                }));
                marker(page.is_truncated(), page.marker())
            },
        )
        .await?
        .into_iter()
        .collect())
}

/// A role's description and session limit.
type RoleExtra = (Option<String>, Option<i32>);

/// Adds what ListRoles said to the roles of the authorization details.
fn add_role_details(roles: &mut [Role], mut extra: HashMap<String, RoleExtra>) {
    for r in roles.iter_mut() {
        if let Some((d, m)) = extra.remove(&r.arn) {
            r.description = d;
            r.max_session_seconds = m;
        }
    }
}

/// The credential report of an account with users, or `None` when it cannot be had: the read
/// then falls back to per-user calls.
async fn report_or_fallback(
    scope: &Scope,
    guess: &ReportGuess,
    opts: &IamReadOptions,
) -> Option<Report> {
    match credential_report(scope, opts.report_timeout, guess).await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(account = %scope.account, error = %e, "credential report unavailable; falling back to per-user calls");
            None
        }
    }
}

/// Console access, password and MFA facts and key use by user name: from the report's rows,
/// else from ListUsers (password use) and GetLoginProfile per user (console access).
async fn credential_facts(
    scope: &Scope,
    users: &[User],
    report: Option<&Report>,
) -> Result<BTreeMap<String, Credentials>, AwsError> {
    if let Some(rows) = report {
        return Ok(users
            .iter()
            .filter_map(|u| {
                let row = rows.get(&u.name)?;
                Some((
                    u.name.clone(),
                    Credentials {
                        password_enabled: row.password_enabled,
                        password_last_changed: row.password_last_changed,
                        password_reset_required: None,
                        password_last_used: row.password_last_used,
                        mfa_active: row.mfa_active,
                        key_last_used: row.keys.iter().filter_map(|k| k.last_used).max(),
                    },
                ))
            })
            .collect());
    }
    let iam = scope.iam();
    let page_size = scope.settings().iam_page_size;
    let listed = scope
        .pages(
            scope.iam_limiter(),
            |m| iam.list_users().max_items(page_size).set_marker(m).send(),
            |page, out| {
                out.extend(page.users().iter().map(|u| {
                    (
                        u.user_name().to_string(),
                        Credentials {
                            password_last_used: u.password_last_used().and_then(utc),
                            ..Default::default()
                        },
                    )
                }));
                marker(page.is_truncated(), page.marker())
            },
        )
        .await?;
    let mut facts: BTreeMap<String, Credentials> = listed.into_iter().collect();
    for (user, creds) in facts.iter_mut() {
        login_profile(scope, user, creds).await?;
    }
    Ok(facts)
}

/// Console access of `user` without the report: GetLoginProfile (NoSuchEntity: no password).
async fn login_profile(scope: &Scope, user: &str, creds: &mut Credentials) -> Result<(), AwsError> {
    let iam = scope.iam();
    match scope
        .call(scope.iam_limiter(), || {
            iam.get_login_profile().user_name(user).send()
        })
        .await
    {
        Ok(out) => {
            let p = out.login_profile();
            creds.password_enabled = p.is_some();
            creds.password_last_changed = p.and_then(|p| utc(p.create_date()));
            creds.password_reset_required = p.map(|p| p.password_reset_required());
            Ok(())
        }
        Err(e) if e.class == ErrorClass::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Access keys by user name, for the users that have any (per the report; every user without
/// it), [`USER_CALLS`] users at a time within the account's token bucket.
async fn access_keys(
    scope: &Scope,
    users: &[User],
    report: Option<&Report>,
) -> Result<BTreeMap<String, Vec<AccessKey>>, AwsError> {
    // The futures are built before the stream (a stream of closures over borrowed items is
    // not `Send` for the compiler here).
    let mut reads = vec![];
    for u in users {
        let row = report.and_then(|r| r.get(&u.name));
        let has_keys = match (report, row) {
            (Some(_), Some(row)) => row.keys.iter().any(|k| k.present()),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if has_keys {
            reads.push(async move {
                Ok::<_, AwsError>((&u.name, user_keys(scope, &u.name, row).await?))
            });
        }
    }
    keys_by_user(reads).await
}

/// Runs the per-user key reads [`USER_CALLS`] at a time; the users that have keys, by name.
async fn keys_by_user<'a, F>(reads: Vec<F>) -> Result<BTreeMap<String, Vec<AccessKey>>, AwsError>
where
    F: std::future::Future<Output = Result<(&'a String, Vec<AccessKey>), AwsError>>,
{
    let found: Vec<(&String, Vec<AccessKey>)> = stream::iter(reads)
        .buffer_unordered(USER_CALLS)
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .filter(|(_, keys)| !keys.is_empty())
        .map(|(name, keys)| (name.clone(), keys))
        .collect())
}

/// Access keys by user name, for the users the report shows with a key, [`USER_CALLS`] users
/// at a time within the account's token bucket.
async fn reported_keys(
    scope: &Scope,
    report: &Report,
) -> Result<BTreeMap<String, Vec<AccessKey>>, AwsError> {
    let reads: Vec<_> = report
        .iter()
        .filter(|(_, row)| row.keys.iter().any(|k| k.present()))
        .map(|(name, row)| async move {
            Ok::<_, AwsError>((name, user_keys(scope, name, Some(row)).await?))
        })
        .collect();
    keys_by_user(reads).await
}

/// The access keys of `user`, with their last use from the report `row` where a key matches
/// one of its slots, else from GetAccessKeyLastUsed.
async fn user_keys(
    scope: &Scope,
    user: &str,
    row: Option<&ReportRow>,
) -> Result<Vec<AccessKey>, AwsError> {
    let iam = scope.iam();
    let lim = scope.iam_limiter();
    let listed = scope
        .call(lim, || iam.list_access_keys().user_name(user).send())
        .await?;
    let mut keys: Vec<AccessKey> = listed
        .access_key_metadata()
        .iter()
        .filter_map(|k| access_key_of(k, user))
        .collect();
    let unmatched = match row {
        Some(r) => match_report_slots(&mut keys, r),
        None => (0..keys.len()).collect(),
    };
    for i in unmatched {
        let id = keys[i].id.clone();
        let used = scope
            .call(lim, || {
                iam.get_access_key_last_used().access_key_id(&id).send()
            })
            .await?;
        if let Some(l) = used.access_key_last_used() {
            set_last_used(&mut keys[i], l);
        }
    }
    Ok(keys)
}

/// The AWS-managed policies attached to anything in `snap` (documents from `docs`, when
/// asked for, [`USER_CALLS`] at a time), in ARN order.
async fn aws_managed_policies(
    scope: &Scope,
    docs: &AwsPolicyDocs,
    opts: &IamReadOptions,
    snap: &IamSnapshot,
) -> Vec<ManagedPolicy> {
    let mut aws_attached: BTreeMap<&str, &str> = BTreeMap::new();
    let all_attached = snap
        .users
        .iter()
        .flat_map(|u| u.attached.iter())
        .chain(snap.groups.iter().flat_map(|g| g.attached.iter()))
        .chain(snap.roles.iter().flat_map(|r| r.attached.iter()));
    for a in all_attached {
        if a.arn.contains(":iam::aws:policy/") {
            aws_attached.insert(&a.arn, &a.name);
        }
    }
    let local: BTreeSet<&str> = snap.policies.iter().map(|p| p.arn.as_str()).collect();
    let mut reads = vec![];
    for (arn, name) in aws_attached {
        if local.contains(arn) {
            continue;
        }
        reads.push(async move {
            let document = if opts.aws_policy_documents {
                docs.get(scope, arn).await
            } else {
                None
            };
            ManagedPolicy {
                name: name.to_string(),
                arn: arn.to_string(),
                description: None,
                document,
            }
        });
    }
    stream::iter(reads).buffered(USER_CALLS).collect().await
}
