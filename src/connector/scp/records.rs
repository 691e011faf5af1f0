//! Pure mapping of service control policies to records: a `service_control_policy` resource
//! per policy (no parent: the organization owns it), its `attached` entitlement, and a grant
//! of it to every `organization` (root), `organizational_unit` and `account` it is attached
//! to. IDs follow baton's shapes (`service_control_policy:<policyArn>:attached`,
//! `…:attached:<type>:<id>`); the types and IDs of existing records are untouched.
//!
//! Not here: reading (`read`).

use serde_json::{Map, Value, json};

use crate::model::Record;
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid, stub};
use crate::model::ids;
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;

use super::{SCP_TYPE, Scp, TargetKind};

fn principal_type(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Root => rt::ORGANIZATION,
        TargetKind::OrganizationalUnit => rt::ORGANIZATIONAL_UNIT,
        TargetKind::Account => rt::ACCOUNT,
    }
}

/// The `service_control_policy` resource of `p`.
pub fn scp_resource(p: &Scp) -> pb::Resource {
    let mut profile = Map::new();
    profile.insert("aws_policy_id".into(), json!(p.id));
    profile.insert("aws_policy_arn".into(), json!(p.arn));
    profile.insert("aws_policy_name".into(), json!(p.name));
    profile.insert("aws_policy_type".into(), json!(SCP_TYPE));
    profile.insert("aws_managed".into(), json!(p.aws_managed));
    if let Some(d) = &p.document {
        profile.insert("policy_document".into(), json!(d));
    }
    let mut r = resource(
        rid(rt::SERVICE_CONTROL_POLICY, &p.arn),
        &p.name,
        None,
        vec![],
        Some(to_struct(&Value::Object(profile))),
    );
    r.description = p.description.clone();
    r
}

/// Every policy's resource, then the entitlements, then the grants.
pub fn scp_records(scps: &[Scp]) -> Vec<Record> {
    let mut resources = vec![];
    let mut ents = vec![];
    let mut grants = vec![];
    for p in scps {
        let res = scp_resource(p);
        let ent_id = ids::entitlement_id(rt::SERVICE_CONTROL_POLICY, &p.arn, "attached");
        ents.push(entitlement(
            ent_id.clone(),
            res.clone(),
            "attached",
            format!("{} Service Control Policy", p.name),
            format!(
                "Is governed by the {} service control policy of AWS Organizations",
                p.name
            ),
            &[rt::ORGANIZATION, rt::ORGANIZATIONAL_UNIT, rt::ACCOUNT],
            vec![],
        ));
        for t in &p.targets {
            let ptype = principal_type(t.kind);
            grants.push(grant(
                ids::grant_id(&ent_id, ptype, &t.id),
                entitlement_ref(
                    &ent_id,
                    stub(rid(rt::SERVICE_CONTROL_POLICY, &p.arn), &p.name),
                ),
                rid(ptype, &t.id),
                vec![],
            ));
        }
        resources.push(res);
    }
    let mut out: Vec<Record> = resources.into_iter().map(Record::Resource).collect();
    out.extend(ents.into_iter().map(Record::Entitlement));
    out.extend(grants.into_iter().map(Record::Grant));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::scp::Target;

    #[test]
    fn a_policy_with_its_entitlement_and_a_grant_per_target() {
        let arn = "arn:aws:organizations::111111111111:policy/o-abc/service_control_policy/p-1";
        let scp = Scp {
            id: "p-1".into(),
            arn: arn.into(),
            name: "deny-leave".into(),
            description: "no leaving".into(),
            aws_managed: false,
            document: Some("{\"Version\":\"2012-10-17\"}".into()),
            targets: [
                Target {
                    kind: TargetKind::Root,
                    id: "r-ab12".into(),
                },
                Target {
                    kind: TargetKind::OrganizationalUnit,
                    id: "ou-ab12-eng".into(),
                },
                Target {
                    kind: TargetKind::Account,
                    id: "222222222222".into(),
                },
            ]
            .into(),
        };
        let recs = scp_records(&[scp]);
        let ids: Vec<String> = recs.iter().map(|r| r.external_id()).collect();
        assert_eq!(
            ids,
            vec![
                format!("service_control_policy:{arn}"),
                format!("service_control_policy:{arn}:attached"),
                format!("service_control_policy:{arn}:attached:organization:r-ab12"),
                format!("service_control_policy:{arn}:attached:organizational_unit:ou-ab12-eng"),
                format!("service_control_policy:{arn}:attached:account:222222222222"),
            ]
        );
        let Record::Resource(r) = &recs[0] else {
            panic!()
        };
        assert_eq!(r.description, "no leaving");
        assert!(r.parent_resource_id.is_none());
        let p = crate::model::profile::from_struct(r.profile.as_ref().unwrap());
        assert_eq!(p["aws_policy_type"], "SERVICE_CONTROL_POLICY");
        assert_eq!(p["policy_document"], "{\"Version\":\"2012-10-17\"}");
        assert_eq!(p["aws_managed"], false);
        let Record::Entitlement(e) = &recs[1] else {
            panic!()
        };
        let to: Vec<&str> = e.grantable_to.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(to, ["organization", "organizational_unit", "account"]);
    }
}
