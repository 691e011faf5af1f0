//! AWS Organizations: the organization, its roots, the OU tree and its accounts (with their
//! parent), read serially through the Organizations token bucket; and the pure mapping to
//! `organization`, `organizational_unit` and `account` records. Accounts are listed per node
//! (`ListAccountsForParent`), so no per-account `ListParents` call is needed.

pub mod account;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::aws::{AwsError, ErrorClass, Limiter, Scope};
use crate::model::Record;
use crate::model::any::{child_type, pack, v1_identifier};
use crate::model::build::{resource, rid};
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;

use crate::connector::iam::read::utc;
use crate::sync::engine::AccountStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub arn: String,
    pub master_account_id: String,
    pub feature_set: String,
}

/// A root or an OU.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub arn: String,
    /// None for roots.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub email: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
    pub status: String,
    pub joined: Option<DateTime<Utc>>,
    pub joined_method: Option<String>,
    /// The root or OU the account sits in.
    pub parent: String,
}

/// What was read of the organization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgSnapshot {
    pub org: Option<Organization>,
    pub roots: Vec<Node>,
    pub ous: Vec<Node>,
    pub accounts: Vec<OrgAccount>,
}

impl OrgSnapshot {
    /// Ancestors of a node, root first, the node itself last.
    pub fn path(&self, node: &str) -> Vec<String> {
        let parents: BTreeMap<&str, Option<&str>> = self
            .roots
            .iter()
            .chain(self.ous.iter())
            .map(|n| (n.id.as_str(), n.parent.as_deref()))
            .collect();
        let mut path = vec![];
        let mut cur = Some(node);
        while let Some(n) = cur {
            if path.iter().any(|p: &String| p == n) {
                break; // defensive: no cycles
            }
            path.push(n.to_string());
            cur = parents.get(n).copied().flatten();
        }
        path.reverse();
        path
    }

    /// Every node id under (and including) the given roots/OUs.
    pub fn subtree(&self, tops: &BTreeSet<String>) -> BTreeSet<String> {
        self.roots
            .iter()
            .chain(self.ous.iter())
            .filter(|n| self.path(&n.id).iter().any(|p| tops.contains(p)))
            .map(|n| n.id.clone())
            .collect()
    }
}

/// The caller is not in an organization, or may not list it.
#[derive(Debug, Clone)]
pub struct NoOrganization {
    pub reason: String,
    /// The management account, when the organization could be described but not listed.
    pub management_account: Option<String>,
}

/// Reads the organization. `Ok(Err(..))` means "no organization to read" (not in one, or not
/// allowed to list it), which callers treat as single-account mode. `descend` limits which
/// subtrees have their accounts listed (None = all).
pub async fn discover(
    scope: &Scope,
    limiter: &Limiter,
    descend: Option<&BTreeSet<String>>,
) -> Result<Result<OrgSnapshot, NoOrganization>, AwsError> {
    let orgs = scope.organizations();
    let page_size = scope.settings().org_page_size;
    let described = scope
        .call_legacy(limiter, "organizations", "DescribeOrganization", || {
            orgs.describe_organization().send()
        })
        .await;
    let o = match described {
        Ok(o) => o,
        Err(e) if e.class == ErrorClass::NotInOrganization => {
            return Ok(Err(NoOrganization {
                reason: format!(
                    "account {} is not a member of an AWS Organization",
                    scope.account
                ),
                management_account: None,
            }));
        }
        Err(e) if e.class == ErrorClass::AccessDenied => {
            return Ok(Err(NoOrganization {
                reason: format!(
                    "the caller may not describe the organization ({})",
                    e.message
                ),
                management_account: None,
            }));
        }
        Err(e) => return Err(e),
    };
    let org = o.organization().map(|o| Organization {
        id: o.id().unwrap_or_default().to_string(),
        arn: o.arn().unwrap_or_default().to_string(),
        master_account_id: o.master_account_id().unwrap_or_default().to_string(),
        feature_set: o
            .feature_set()
            .map(|f| f.as_str().to_string())
            .unwrap_or_default(),
    });
    let mut snap = OrgSnapshot {
        org,
        ..Default::default()
    };

    // Roots.
    let mut token: Option<String> = None;
    loop {
        let page = match scope
            .call_legacy(limiter, "organizations", "ListRoots", || {
                orgs.list_roots()
                    .max_results(page_size)
                    .set_next_token(token.clone())
                    .send()
            })
            .await
        {
            Ok(p) => p,
            Err(e) if e.class == ErrorClass::AccessDenied => {
                return Ok(Err(NoOrganization {
                    reason: format!(
                        "the caller may not list the organization (only the management account or a delegated administrator can): {}",
                        e.message
                    ),
                    management_account: snap
                        .org
                        .as_ref()
                        .map(|o| o.master_account_id.clone())
                        .filter(|m| !m.is_empty()),
                }));
            }
            Err(e) => return Err(e),
        };
        for r in page.roots() {
            let Some(id) = r.id() else { continue };
            snap.roots.push(Node {
                id: id.to_string(),
                name: r.name().filter(|n| !n.is_empty()).unwrap_or(id).to_string(),
                arn: r.arn().unwrap_or_default().to_string(),
                parent: None,
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }

    // Breadth-first over the OU tree; accounts listed per node.
    let mut queue: VecDeque<String> = snap.roots.iter().map(|r| r.id.clone()).collect();
    let mut descend_set: Option<BTreeSet<String>> = descend.cloned();
    while let Some(node) = queue.pop_front() {
        let mut token: Option<String> = None;
        loop {
            let page = scope
                .call_legacy(
                    limiter,
                    "organizations",
                    "ListOrganizationalUnitsForParent",
                    || {
                        orgs.list_organizational_units_for_parent()
                            .parent_id(&node)
                            .max_results(page_size)
                            .set_next_token(token.clone())
                            .send()
                    },
                )
                .await?;
            for ou in page.organizational_units() {
                let Some(id) = ou.id() else { continue };
                snap.ous.push(Node {
                    id: id.to_string(),
                    name: ou
                        .name()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(id)
                        .to_string(),
                    arn: ou.arn().unwrap_or_default().to_string(),
                    parent: Some(node.clone()),
                });
                // A selected OU's children are selected too.
                if let Some(set) = descend_set.as_mut()
                    && set.contains(&node)
                {
                    set.insert(id.to_string());
                }
                queue.push_back(id.to_string());
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        if descend_set.as_ref().is_some_and(|s| !s.contains(&node)) {
            continue;
        }
        let mut token: Option<String> = None;
        loop {
            let page = scope
                .call_legacy(limiter, "organizations", "ListAccountsForParent", || {
                    orgs.list_accounts_for_parent()
                        .parent_id(&node)
                        .max_results(page_size)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for a in page.accounts() {
                let Some(id) = a.id() else { continue };
                let status = a
                    .state()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.status().map(|s| s.as_str().to_string()))
                    .unwrap_or_else(|| "UNKNOWN".to_string());
                snap.accounts.push(OrgAccount {
                    id: id.to_string(),
                    name: a.name().filter(|n| !n.is_empty()).unwrap_or(id).to_string(),
                    arn: a.arn().unwrap_or_default().to_string(),
                    email: a.email().unwrap_or_default().to_string(),
                    status,
                    joined: a.joined_timestamp().and_then(utc),
                    joined_method: a.joined_method().map(|m| m.as_str().to_string()),
                    parent: node.clone(),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Ok(snap))
}

fn parent_rid(snap: &OrgSnapshot, node: &str) -> pb::ResourceId {
    if snap.roots.iter().any(|r| r.id == node) {
        rid(rt::ORGANIZATION, node)
    } else {
        rid(rt::ORGANIZATIONAL_UNIT, node)
    }
}

/// `organization` records (one per root) and `organizational_unit` records.
pub fn structure_records(snap: &OrgSnapshot) -> Vec<Record> {
    let mut out = vec![];
    for r in &snap.roots {
        let mut profile = Map::new();
        profile.insert("aws_root_arn".into(), json!(r.arn));
        if let Some(o) = &snap.org {
            profile.insert("aws_organization_id".into(), json!(o.id));
            profile.insert("aws_organization_arn".into(), json!(o.arn));
            profile.insert(
                "aws_management_account_id".into(),
                json!(o.master_account_id),
            );
            profile.insert("aws_feature_set".into(), json!(o.feature_set));
        }
        out.push(Record::Resource(resource(
            rid(rt::ORGANIZATION, &r.id),
            &r.name,
            None,
            vec![child_type(rt::ORGANIZATIONAL_UNIT)],
            Some(to_struct(&Value::Object(profile))),
        )));
    }
    for ou in &snap.ous {
        out.push(Record::Resource(resource(
            rid(rt::ORGANIZATIONAL_UNIT, &ou.id),
            &ou.name,
            ou.parent.as_deref().map(|p| parent_rid(snap, p)),
            vec![child_type(rt::ORGANIZATIONAL_UNIT)],
            Some(to_struct(
                &json!({"aws_ou_arn": ou.arn, "aws_ou_id": ou.id}),
            )),
        )));
    }
    out
}

/// The `account` resource of an organization account, with the outcome of its sync.
pub fn account_resource(
    snap: &OrgSnapshot,
    a: &OrgAccount,
    status: &AccountStatus,
) -> pb::Resource {
    let mut profile = Map::new();
    profile.insert("aws_account_arn".into(), json!(a.arn));
    profile.insert("aws_account_id".into(), json!(a.id));
    profile.insert("aws_account_status".into(), json!(a.status));
    if let Some(j) = a.joined {
        profile.insert("aws_account_joined".into(), json!(j.to_rfc3339()));
    }
    if let Some(m) = &a.joined_method {
        profile.insert("aws_account_joined_method".into(), json!(m));
    }
    let (sync_status, class, detail) = match status {
        AccountStatus::Ok => ("ok", None, None),
        AccountStatus::Failed { class, message, .. } => {
            ("failed", Some(class.as_str()), Some(message.clone()))
        }
        AccountStatus::Skipped { reason } => ("skipped", None, Some(reason.clone())),
    };
    profile.insert("orgsync_sync_status".into(), json!(sync_status));
    if let Some(c) = class {
        profile.insert("orgsync_error_class".into(), json!(c));
    }
    if let Some(d) = detail {
        profile.insert("orgsync_sync_detail".into(), json!(d));
    }
    let active = a.status == "ACTIVE";
    let app = pb::AppTrait {
        flags: if active {
            vec![]
        } else {
            vec![pb::app_trait::AppFlag::Inactive as i32]
        },
        ..Default::default()
    };
    let mut r = resource(
        rid(rt::ACCOUNT, &a.id),
        &a.name,
        Some(parent_rid(snap, &a.parent)),
        vec![
            v1_identifier(&a.id),
            child_type(rt::PERMISSION_SET_ASSIGNMENT),
            pack(&app),
        ],
        Some(to_struct(&Value::Object(profile))),
    );
    r.status = Some(pb::Status {
        status: if active {
            pb::status::ResourceStatus::Enabled as i32
        } else {
            pb::status::ResourceStatus::Disabled as i32
        },
        details: a.status.clone(),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::any;

    fn snap() -> OrgSnapshot {
        OrgSnapshot {
            org: Some(Organization {
                id: "o-abc".into(),
                arn: "arn:aws:organizations::111111111111:organization/o-abc".into(),
                master_account_id: "111111111111".into(),
                feature_set: "ALL".into(),
            }),
            roots: vec![Node {
                id: "r-ab12".into(),
                name: "Root".into(),
                arn: "arn:r".into(),
                parent: None,
            }],
            ous: vec![
                Node {
                    id: "ou-ab12-eng".into(),
                    name: "Engineering".into(),
                    arn: "arn:e".into(),
                    parent: Some("r-ab12".into()),
                },
                Node {
                    id: "ou-ab12-plat".into(),
                    name: "Platform".into(),
                    arn: "arn:p".into(),
                    parent: Some("ou-ab12-eng".into()),
                },
            ],
            accounts: vec![OrgAccount {
                id: "222222222222".into(),
                name: "dev".into(),
                arn: "arn:aws:organizations::111111111111:account/o-abc/222222222222".into(),
                email: "dev@example.com".into(),
                status: "SUSPENDED".into(),
                joined: None,
                joined_method: Some("CREATED".into()),
                parent: "ou-ab12-plat".into(),
            }],
        }
    }

    #[test]
    fn paths_and_subtrees() {
        let s = snap();
        assert_eq!(
            s.path("ou-ab12-plat"),
            vec!["r-ab12", "ou-ab12-eng", "ou-ab12-plat"]
        );
        let sub = s.subtree(&["ou-ab12-eng".to_string()].into());
        assert_eq!(
            sub,
            ["ou-ab12-eng".to_string(), "ou-ab12-plat".to_string()].into()
        );
    }

    #[test]
    fn maps_structure_and_accounts() {
        let s = snap();
        let recs = structure_records(&s);
        assert_eq!(recs.len(), 3);
        let Record::Resource(plat) = &recs[2] else {
            panic!()
        };
        assert_eq!(
            plat.parent_resource_id.as_ref().unwrap().resource_type,
            "organizational_unit"
        );
        let Record::Resource(eng) = &recs[1] else {
            panic!()
        };
        assert_eq!(
            eng.parent_resource_id.as_ref().unwrap(),
            &rid("organization", "r-ab12")
        );
        let failed = AccountStatus::Failed {
            class: ErrorClass::AssumeRoleDenied,
            operation: "sts:AssumeRole".into(),
            message: "denied".into(),
        };
        let a = account_resource(&s, &s.accounts[0], &failed);
        let p = crate::model::profile::from_struct(a.profile.as_ref().unwrap());
        assert_eq!(p["orgsync_sync_status"], "failed");
        assert_eq!(p["orgsync_error_class"], "assume_role_denied");
        assert_eq!(p["aws_account_status"], "SUSPENDED");
        assert_eq!(
            a.status.as_ref().unwrap().status,
            pb::status::ResourceStatus::Disabled as i32
        );
        let app: pb::AppTrait = any::find(&a.annotations).unwrap();
        assert_eq!(app.flags, vec![pb::app_trait::AppFlag::Inactive as i32]);
        assert_eq!(
            a.parent_resource_id.unwrap(),
            rid("organizational_unit", "ou-ab12-plat")
        );
    }
}
