//! The organization's records: an `organization` per root, an `organizational_unit` per OU
//! (parented in the tree), and each `account` with the outcome of its sync. Pure mapping.
//!
//! Not here: reading the organization (`read`).

use serde_json::{Map, Value, json};

use crate::model::Record;
use crate::model::any::{child_type, pack, v1_identifier};
use crate::model::build::{resource, rid};
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::stats::AccountStatus;
use crate::model::types as rt;

use super::model::{OrgAccount, OrgSnapshot};

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
    use crate::aws::ErrorClass;
    use crate::connector::org::model::{Node, Organization};
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
            ..Default::default()
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
