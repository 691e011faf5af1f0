//! Records of single Identity Center objects, as provisioning reports them: the instance an
//! identity-store ARN belongs to ([`instance_of`]), a permission set from
//! `DescribePermissionSet`, a membership grant (its id is the MembershipId), an account
//! (`<account>|<psArn>`) and a binding (`permission_set_assignment`) grant, each built with the
//! sync's own builders (`records`) so a printed record is the one the next sync writes.
//! Not here: the mapping of a whole Identity Center read (`records`), the `account` resource an
//! account grant embeds (`connector::org::account`).

use crate::model::any::{grant_expandable, v1_identifier};
use crate::model::build::{entitlement_ref, grant, rid};
use crate::model::ids::{self, IdentityStoreRef};
use crate::model::pb;
use crate::model::types as rt;

use super::model::{Instance, InstanceKind, PermissionSet};
use super::records;

/// The instance a synthetic identity-store ARN belongs to, as far as record ids need it
/// (region and identity store).
pub fn instance_of(store: &IdentityStoreRef) -> Instance {
    Instance {
        arn: String::new(),
        identity_store_id: store.identity_store_id.clone(),
        region: store.region.clone(),
        owner_account: None,
        name: None,
        status: None,
        kind: InstanceKind::Organization,
    }
}

/// An identity-store membership grant: its id is the MembershipId.
pub fn membership_grant(membership_id: &str, group: &pb::Resource, user_arn: &str) -> pb::Grant {
    let ent = records::group_member_entitlement(group);
    let group_arn = group
        .id
        .as_ref()
        .map(|i| i.resource.as_str())
        .unwrap_or_default();
    grant(
        membership_id.to_string(),
        entitlement_ref(&ent.id, group.clone()),
        rid(rt::SSO_USER, user_arn),
        vec![v1_identifier(ids::v1_membership_grant(group_arn, user_arn))],
    )
}

/// A permission set as far as its records need it (from sso-admin:DescribePermissionSet).
pub fn permission_set(arn: &str, name: &str, description: Option<&str>) -> PermissionSet {
    PermissionSet {
        arn: arn.to_string(),
        name: name.to_string(),
        description: description.filter(|d| !d.is_empty()).map(str::to_string),
        session_duration: None,
        relay_state: None,
        created: None,
        managed: vec![],
        customer_managed: vec![],
        inline: None,
        boundary: None,
    }
}

fn principal_annotations(
    entitlement_id: &str,
    principal_type: &str,
    principal_arn: &str,
) -> Vec<prost_types::Any> {
    let mut anns = vec![v1_identifier(format!(
        "grant:{entitlement_id}:{principal_arn}"
    ))];
    if principal_type == rt::SSO_GROUP {
        anns.push(grant_expandable(
            ids::entitlement_id(rt::SSO_GROUP, principal_arn, "member"),
            false,
        ));
    }
    anns
}

/// The account entitlement `<account>|<psArn>` grant to an Identity Center user or group;
/// `account` is the account resource the entitlement belongs to.
pub fn account_grant(
    account: &pb::Resource,
    account_id: &str,
    ps: &PermissionSet,
    principal_type: &str,
    principal_arn: &str,
) -> pb::Grant {
    let ent = records::account_entitlement(account, account_id, ps, true);
    grant(
        ids::prefixed_grant_id(principal_type, principal_arn, &ent.id),
        ent.clone(),
        rid(principal_type, principal_arn),
        principal_annotations(&ent.id, principal_type, principal_arn),
    )
}

/// The `permission_set_assignment:<psArn>-<account>:assigned` grant.
pub fn binding_grant(
    account_id: &str,
    ps: &PermissionSet,
    principal_type: &str,
    principal_arn: &str,
) -> pb::Grant {
    let ent = records::binding_entitlement(&records::binding_resource(ps, account_id));
    grant(
        ids::prefixed_grant_id(principal_type, principal_arn, &ent.id),
        ent.clone(),
        rid(principal_type, principal_arn),
        principal_annotations(&ent.id, principal_type, principal_arn),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::identity_center::model::IcGroup;
    use crate::connector::org::account::{AccountFacts, account_resource};
    use crate::model::ids::GrantRef;

    const USER: &str = "arn:aws:identitystore:us-east-1::d-1234567890/user/u-1";
    const GROUP: &str = "arn:aws:identitystore:us-east-1::d-1234567890/group/g-1";
    const PS: &str = "arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef";

    #[test]
    fn grant_ids_parse_back_to_what_was_granted() {
        let acct = account_resource(&AccountFacts {
            id: "111122223333".into(),
            name: "prod".into(),
            arn: "arn:aws:organizations::1:account/o-1/111122223333".into(),
            status: "ACTIVE".into(),
            active: true,
        });
        let ps = permission_set(PS, "Admin", Some("d"));
        for (t, p) in [(rt::SSO_USER, USER), (rt::SSO_GROUP, GROUP)] {
            let g = account_grant(&acct, "111122223333", &ps, t, p);
            assert_eq!(g.id, format!("grant:{t}:{p}:111122223333|{PS}"));
            assert!(matches!(GrantRef::parse(&g.id).unwrap(),
                GrantRef::Direct { ref entitlement, ref principal, .. }
                if entitlement == &format!("111122223333|{PS}") && principal == p));
            assert_eq!(g.annotations.len(), if t == rt::SSO_GROUP { 2 } else { 1 });
            let e = g.entitlement.unwrap();
            assert_eq!(e.display_name, "Admin Permission Set");
            assert!(
                e.slug.is_empty(),
                "embedded account entitlements have no slug"
            );
            let b = binding_grant("111122223333", &ps, t, p);
            assert!(GrantRef::parse(&b.id).is_ok(), "{}", b.id);
            assert_eq!(
                b.entitlement.unwrap().id,
                format!("permission_set_assignment:{PS}-111122223333:assigned")
            );
        }
        let store = IdentityStoreRef::parse(GROUP).unwrap();
        let group = records::group_resource(
            &instance_of(&store),
            &IcGroup {
                id: "g-1".into(),
                display_name: "Ops".into(),
                description: None,
                external_ids: vec![],
            },
        );
        assert_eq!(group.id.as_ref().unwrap().resource, GROUP);
        let m = membership_grant("3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b", &group, USER);
        assert_eq!(
            m.entitlement.unwrap().id,
            format!("sso_group:{GROUP}:member")
        );
    }
}
