//! Reads one account's IAM with as few calls as the data allows: GetAccountAuthorizationDetails
//! (users, groups, roles, local policies, attachments, inline documents; paged), ListRoles
//! (descriptions and session limits; paged), the credential report (password and key use, MFA),
//! ListAccessKeys only for users that have keys, and the documents of attached AWS-managed
//! policies once per organization. Per-user calls happen only when the report cannot be had.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_iam::types::{EntityType, ReportStateType};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use crate::aws::{AwsError, ErrorClass, Scope};
use crate::policy::decode_document;

use super::model::*;

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
    pub fn new() -> Arc<AwsPolicyDocs> {
        Arc::new(AwsPolicyDocs::default())
    }

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
        .call_legacy(lim, "iam", "GetPolicy", || {
            iam.get_policy().policy_arn(arn).send()
        })
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
        .call_legacy(lim, "iam", "GetPolicyVersion", || {
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

/// Converts an SDK timestamp.
pub fn utc(d: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(d.secs(), d.subsec_nanos())
}

fn name_from_arn(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

fn attached(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<Attached> {
    list.iter()
        .filter_map(|p| {
            let arn = p.policy_arn()?.to_string();
            let name = p
                .policy_name()
                .map(str::to_string)
                .unwrap_or_else(|| name_from_arn(&arn));
            Some(Attached { name, arn })
        })
        .collect()
}

fn inline(list: &[aws_sdk_iam::types::PolicyDetail]) -> Vec<Inline> {
    list.iter()
        .filter_map(|p| {
            Some(Inline {
                name: p.policy_name()?.to_string(),
                document: p.policy_document().map(decode_document),
            })
        })
        .collect()
}

fn tags(list: &[aws_sdk_iam::types::Tag]) -> Vec<(String, String)> {
    list.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Reads one account's IAM.
pub async fn read_account(
    scope: &Scope,
    docs: &AwsPolicyDocs,
    opts: &IamReadOptions,
) -> Result<IamSnapshot, AwsError> {
    let iam = scope.iam();
    let lim = scope.iam_limiter();
    let page_size = scope.settings().iam_page_size;
    let mut snap = IamSnapshot::default();

    // 1. Authorization details, all pages.
    let mut marker: Option<String> = None;
    loop {
        let page = scope
            .call_legacy(lim, "iam", "GetAccountAuthorizationDetails", || {
                iam.get_account_authorization_details()
                    .filter(EntityType::User)
                    .filter(EntityType::Group)
                    .filter(EntityType::Role)
                    .filter(EntityType::LocalManagedPolicy)
                    .max_items(page_size)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        for u in page.user_detail_list() {
            let (Some(name), Some(arn)) = (u.user_name(), u.arn()) else {
                continue;
            };
            snap.users.push(User {
                name: name.to_string(),
                arn: arn.to_string(),
                id: u.user_id().unwrap_or_default().to_string(),
                path: u.path().unwrap_or("/").to_string(),
                tags: tags(u.tags()),
                groups: u.group_list().to_vec(),
                attached: attached(u.attached_managed_policies()),
                inline: inline(u.user_policy_list()),
                created: u.create_date().and_then(utc),
            });
        }
        for g in page.group_detail_list() {
            let (Some(name), Some(arn)) = (g.group_name(), g.arn()) else {
                continue;
            };
            snap.groups.push(Group {
                name: name.to_string(),
                arn: arn.to_string(),
                id: g.group_id().unwrap_or_default().to_string(),
                path: g.path().unwrap_or("/").to_string(),
                attached: attached(g.attached_managed_policies()),
                inline: inline(g.group_policy_list()),
            });
        }
        for r in page.role_detail_list() {
            let (Some(name), Some(arn)) = (r.role_name(), r.arn()) else {
                continue;
            };
            snap.roles.push(Role {
                name: name.to_string(),
                arn: arn.to_string(),
                id: r.role_id().unwrap_or_default().to_string(),
                path: r.path().unwrap_or("/").to_string(),
                tags: tags(r.tags()),
                trust: r.assume_role_policy_document().map(decode_document),
                description: None,
                max_session_seconds: None,
                attached: attached(r.attached_managed_policies()),
                inline: inline(r.role_policy_list()),
                last_used: r
                    .role_last_used()
                    .and_then(|l| l.last_used_date())
                    .and_then(utc),
                last_used_region: r
                    .role_last_used()
                    .and_then(|l| l.region())
                    .map(str::to_string),
            });
        }
        for p in page.policies() {
            let Some(arn) = p.arn() else { continue };
            let document = p
                .policy_version_list()
                .iter()
                .find(|v| v.is_default_version())
                .and_then(|v| v.document())
                .map(decode_document);
            snap.policies.push(ManagedPolicy {
                name: p
                    .policy_name()
                    .map(str::to_string)
                    .unwrap_or_else(|| name_from_arn(arn)),
                arn: arn.to_string(),
                description: p.description().map(str::to_string),
                document,
            });
        }
        match (page.is_truncated(), page.marker()) {
            (true, Some(m)) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }

    // 2. Role descriptions and session limits (not in the authorization details).
    if !snap.roles.is_empty() {
        let mut extra: HashMap<String, (Option<String>, Option<i32>)> = HashMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = scope
                .call_legacy(lim, "iam", "ListRoles", || {
                    iam.list_roles()
                        .max_items(page_size)
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            for r in page.roles() {
                extra.insert(
                    r.arn().to_string(),
                    (
                        r.description().map(str::to_string),
                        r.max_session_duration(),
                    ),
                );
            }
            match (page.is_truncated(), page.marker()) {
                (true, Some(m)) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        for r in snap.roles.iter_mut() {
            if let Some((d, m)) = extra.remove(&r.arn) {
                r.description = d;
                r.max_session_seconds = m;
            }
        }
    }

    // 3. Credential facts and access keys.
    let report = if snap.users.is_empty() {
        Some(BTreeMap::new())
    } else {
        match credential_report(scope, opts.report_timeout).await {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::warn!(account = %scope.account, error = %e, "credential report unavailable; falling back to per-user calls");
                None
            }
        }
    };
    match &report {
        Some(rows) => {
            for u in &snap.users {
                if let Some(row) = rows.get(&u.name) {
                    snap.credentials.insert(
                        u.name.clone(),
                        Credentials {
                            password_last_used: row.password_last_used,
                            mfa_active: row.mfa_active,
                            key_last_used: row.keys.iter().filter_map(|k| k.last_used).max(),
                        },
                    );
                }
            }
        }
        None => {
            let mut marker: Option<String> = None;
            loop {
                let page = scope
                    .call_legacy(lim, "iam", "ListUsers", || {
                        iam.list_users()
                            .max_items(page_size)
                            .set_marker(marker.clone())
                            .send()
                    })
                    .await?;
                for u in page.users() {
                    snap.credentials.insert(
                        u.user_name().to_string(),
                        Credentials {
                            password_last_used: u.password_last_used().and_then(utc),
                            mfa_active: None,
                            key_last_used: None,
                        },
                    );
                }
                match (page.is_truncated(), page.marker()) {
                    (true, Some(m)) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => break,
                }
            }
        }
    }
    // Key ids are needed for access-key records; without the report they are also the only
    // source of key use (for last login).
    if opts.sync_secrets || report.is_none() {
        for u in &snap.users {
            let row = report.as_ref().and_then(|r| r.get(&u.name));
            let has_keys = match (&report, row) {
                (Some(_), Some(row)) => row.keys.iter().any(KeySlot::present),
                (Some(_), None) => false,
                (None, _) => true,
            };
            if !has_keys {
                continue;
            }
            let out = scope
                .call_legacy(lim, "iam", "ListAccessKeys", || {
                    iam.list_access_keys().user_name(&u.name).send()
                })
                .await?;
            let mut keys: Vec<AccessKey> = out
                .access_key_metadata()
                .iter()
                .filter_map(|k| {
                    Some(AccessKey {
                        id: k.access_key_id()?.to_string(),
                        user_name: u.name.clone(),
                        status: k
                            .status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        created: k.create_date().and_then(utc),
                        ..Default::default()
                    })
                })
                .collect();
            let unmatched = match row {
                Some(r) => match_report_slots(&mut keys, r),
                None => (0..keys.len()).collect(),
            };
            for i in unmatched {
                let id = keys[i].id.clone();
                let used = scope
                    .call_legacy(lim, "iam", "GetAccessKeyLastUsed", || {
                        iam.get_access_key_last_used().access_key_id(&id).send()
                    })
                    .await?;
                if let Some(l) = used.access_key_last_used() {
                    let key = &mut keys[i];
                    key.last_used = l
                        .last_used_date()
                        .and_then(utc)
                        .filter(|d| d.timestamp() > 0);
                    key.last_used_service =
                        Some(l.service_name().to_string()).filter(|s| s != "N/A" && !s.is_empty());
                    key.last_used_region =
                        Some(l.region().to_string()).filter(|s| s != "N/A" && !s.is_empty());
                }
            }
            if !keys.is_empty() {
                snap.keys.insert(u.name.clone(), keys);
            }
        }
    }

    // 4. AWS-managed policies attached to anything here.
    let mut aws_attached: BTreeMap<String, String> = BTreeMap::new();
    let all_attached = snap
        .users
        .iter()
        .flat_map(|u| u.attached.iter())
        .chain(snap.groups.iter().flat_map(|g| g.attached.iter()))
        .chain(snap.roles.iter().flat_map(|r| r.attached.iter()));
    for a in all_attached {
        if a.arn.contains(":iam::aws:policy/") {
            aws_attached.insert(a.arn.clone(), a.name.clone());
        }
    }
    let local: BTreeSet<&str> = snap.policies.iter().map(|p| p.arn.as_str()).collect();
    for (arn, name) in aws_attached {
        if local.contains(arn.as_str()) {
            continue;
        }
        let document = if opts.aws_policy_documents {
            docs.get(scope, &arn).await
        } else {
            None
        };
        snap.aws_policies.push(ManagedPolicy {
            name,
            arn,
            description: None,
            document,
        });
    }
    Ok(snap)
}

/// Generates (or reuses a recent) credential report, waits for it, and parses it.
async fn credential_report(
    scope: &Scope,
    timeout: Duration,
) -> Result<BTreeMap<String, ReportRow>, AwsError> {
    let iam = scope.iam();
    let lim = scope.iam_limiter();
    let start = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let generated = scope
            .call_legacy(lim, "iam", "GenerateCredentialReport", || {
                iam.generate_credential_report().send()
            })
            .await?;
        if generated.state() == Some(&ReportStateType::Complete) {
            match scope
                .call_legacy(lim, "iam", "GetCredentialReport", || {
                    iam.get_credential_report().send()
                })
                .await
            {
                Ok(out) => {
                    let bytes = out
                        .content()
                        .map(|b| b.as_ref().to_vec())
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(&bytes);
                    return parse_credential_report(&text).map_err(|e| {
                        AwsError::local(
                            "iam",
                            "GetCredentialReport",
                            ErrorClass::Other,
                            e.to_string(),
                        )
                    });
                }
                // Report expired or not yet visible: generate again.
                Err(e)
                    if matches!(
                        e.code.as_deref(),
                        Some("ReportNotPresent" | "ReportExpired" | "ReportInProgress")
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        if start.elapsed() >= timeout {
            return Err(AwsError::local(
                "iam",
                "GenerateCredentialReport",
                ErrorClass::Timeout,
                format!("the credential report was not ready after {timeout:?}"),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(4));
    }
}
