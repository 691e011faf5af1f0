//! What orgsync can do per resource type (`orgsync capabilities`): which types a sync writes
//! and under which condition, and which entitlements can be granted or revoked, following
//! baton-aws's capability table (shared/spec/resource-model.md §1).
//!
//! Not here: the provisioning itself (`provision`), or the types' records (`model::types`).

use serde::Serialize;

use super::types as rt;

/// A capability, in baton's `CAPABILITY_*` spelling without the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capability {
    Sync,
    Provision,
    AccountProvisioning,
    ResourceDelete,
}

/// An entitlement that can be provisioned.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionableEntitlement {
    /// The entitlement id pattern (resource-model.md §3).
    pub id: &'static str,
    /// Principal resource types that can receive it.
    pub grantable_to: &'static [&'static str],
    pub grant: bool,
    pub revoke: bool,
}

/// One resource type's capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct TypeCapabilities {
    pub id: &'static str,
    pub display_name: String,
    /// When a sync writes this type.
    pub synced_when: &'static str,
    pub capabilities: Vec<Capability>,
    pub provisionable_entitlements: Vec<ProvisionableEntitlement>,
}

/// The whole table.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    pub connector: &'static str,
    pub version: &'static str,
    pub capabilities: Vec<Capability>,
    pub resource_types: Vec<TypeCapabilities>,
}

fn synced_when(id: &str) -> &'static str {
    match id {
        rt::ORGANIZATION | rt::ORGANIZATIONAL_UNIT | rt::ACCOUNT => {
            "the caller's account is in an organization (management or delegated administrator)"
        }
        rt::SSO_USER | rt::SSO_GROUP | rt::PERMISSION_SET | rt::PERMISSION_SET_ASSIGNMENT => {
            "Identity Center is found (--identity-center auto, the default) or required (on)"
        }
        rt::ACCESS_KEY => "--sync-secrets is true (the default); metadata only, never secrets",
        rt::SERVICE_CONTROL_POLICY => {
            "the organization has the SCP policy type enabled and the caller may read it (--sync-scps true, the default)"
        }
        _ => "always (every synced account's IAM)",
    }
}

fn entitlements(id: &str) -> Vec<ProvisionableEntitlement> {
    let e = |id, grantable_to, revoke_only: bool| ProvisionableEntitlement {
        id,
        grantable_to,
        grant: !revoke_only,
        revoke: true,
    };
    match id {
        rt::GROUP => vec![e("group:<groupArn>:member", &[rt::IAM_USER], false)],
        rt::SSO_GROUP => vec![e("sso_group:<groupArn>:member", &[rt::SSO_USER], false)],
        rt::ACCOUNT => vec![e(
            "<accountId>|<permissionSetArn>",
            &[rt::SSO_USER, rt::SSO_GROUP],
            false,
        )],
        rt::PERMISSION_SET_ASSIGNMENT => vec![e(
            "permission_set_assignment:<permissionSetArn>-<accountId>:assigned",
            &[rt::SSO_USER, rt::SSO_GROUP],
            false,
        )],
        rt::IAM_POLICY => vec![e(
            "iam_policy:<policyArn>:attached",
            &[rt::IAM_USER, rt::GROUP, rt::ROLE],
            false,
        )],
        rt::INLINE_POLICY => vec![e(
            "inline_policy:<inlineId>:attached",
            &[rt::IAM_USER, rt::GROUP, rt::ROLE],
            true,
        )],
        _ => vec![],
    }
}

fn type_capabilities(id: &str) -> Vec<Capability> {
    use Capability::*;
    match id {
        rt::GROUP
        | rt::SSO_GROUP
        | rt::ACCOUNT
        | rt::PERMISSION_SET_ASSIGNMENT
        | rt::IAM_POLICY
        | rt::INLINE_POLICY => vec![Sync, Provision],
        rt::IAM_USER | rt::SSO_USER => vec![Sync, AccountProvisioning, ResourceDelete],
        _ => vec![Sync],
    }
}

/// The capability table of this build.
pub fn capabilities() -> Capabilities {
    use Capability::*;
    Capabilities {
        connector: "orgsync",
        version: env!("CARGO_PKG_VERSION"),
        capabilities: vec![Provision, Sync, AccountProvisioning, ResourceDelete],
        resource_types: rt::ALL
            .iter()
            .map(|id| TypeCapabilities {
                id,
                display_name: rt::known(id).display_name,
                synced_when: synced_when(id),
                capabilities: type_capabilities(id),
                provisionable_entitlements: entitlements(id),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::ids;
    use crate::provision::request::{self, Change};

    /// The type of the entitlement a provisioning change is about.
    fn entitlement_type(c: &Change) -> &'static str {
        match c {
            Change::GroupMember { .. } => rt::GROUP,
            Change::ManagedPolicy { .. } => rt::IAM_POLICY,
            Change::InlinePolicy { .. } => rt::INLINE_POLICY,
            Change::SsoGroupMember { .. } | Change::SsoMembership { .. } => rt::SSO_GROUP,
            Change::AccountAssignment { binding: false, .. } => rt::ACCOUNT,
            Change::AccountAssignment { binding: true, .. } => rt::PERMISSION_SET_ASSIGNMENT,
        }
    }

    const ACCOUNT: &str = "111122223333";
    const STORE: &str = "d-1234567890";
    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";

    /// An example principal of a grantable type, as a sync writes its id.
    fn principal(principal_type: &str) -> String {
        match principal_type {
            rt::IAM_USER => format!("arn:aws:iam::{ACCOUNT}:user/eng/bob"),
            rt::GROUP => format!("arn:aws:iam::{ACCOUNT}:group/devs"),
            rt::ROLE => format!("arn:aws:iam::{ACCOUNT}:role/app"),
            rt::SSO_USER => {
                ids::sso_user_arn("us-east-1", STORE, "11111111-2222-3333-4444-555555555555")
            }
            rt::SSO_GROUP => {
                ids::sso_group_arn("us-east-1", STORE, "66666666-7777-8888-9999-000000000000")
            }
            other => panic!("no example principal of type {other}"),
        }
    }

    /// The advertised id pattern with its placeholders filled in for `principal`.
    fn example(pattern: &str, resource_type: &str, principal: &str) -> String {
        let group = if resource_type == rt::SSO_GROUP {
            ids::sso_group_arn("us-east-1", STORE, "77777777-8888-9999-aaaa-bbbbbbbbbbbb")
        } else {
            format!("arn:aws:iam::{ACCOUNT}:group/eng/devs")
        };
        let id = pattern
            .replace("<groupArn>", &group)
            .replace("<accountId>", ACCOUNT)
            .replace("<permissionSetArn>", PS)
            .replace("<policyArn>", "arn:aws:iam::aws:policy/ReadOnlyAccess")
            .replace("<inlineId>", &ids::inline_policy_id(principal, "tmp-s3"));
        assert!(
            !id.contains('<'),
            "a placeholder this test does not know: {id}"
        );
        id
    }

    #[test]
    fn matches_the_baton_capability_table() {
        let c = capabilities();
        assert_eq!(c.resource_types.len(), rt::ALL.len());
        let caps = |id: &str| {
            c.resource_types
                .iter()
                .find(|t| t.id == id)
                .unwrap()
                .capabilities
                .clone()
        };
        use Capability::*;
        for id in [
            rt::GROUP,
            rt::SSO_GROUP,
            rt::ACCOUNT,
            rt::PERMISSION_SET_ASSIGNMENT,
            rt::IAM_POLICY,
            rt::INLINE_POLICY,
        ] {
            assert_eq!(caps(id), vec![Sync, Provision], "{id}");
        }
        for id in [rt::IAM_USER, rt::SSO_USER] {
            assert_eq!(caps(id), vec![Sync, AccountProvisioning, ResourceDelete]);
        }
        for id in [
            rt::ROLE,
            rt::ACCESS_KEY,
            rt::ORGANIZATION,
            rt::PERMISSION_SET,
            rt::SERVICE_CONTROL_POLICY,
        ] {
            assert_eq!(caps(id), vec![Sync], "{id}");
        }
        let inline = c
            .resource_types
            .iter()
            .find(|t| t.id == rt::INLINE_POLICY)
            .unwrap();
        assert!(!inline.provisionable_entitlements[0].grant, "revoke only");
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["capabilities"][2], "ACCOUNT_PROVISIONING");
        let group = v["resource_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == rt::GROUP)
            .unwrap();
        assert_eq!(
            group["capabilities"],
            serde_json::json!(["SYNC", "PROVISION"])
        );
    }

    /// Every advertised entitlement really is provisionable: granted (unless revoke only) to
    /// and revoked from every principal type it names, through the parser the provisioning
    /// commands use, into a change of that entitlement's kind. A kind advertised as revoke
    /// only is refused as a grant.
    #[test]
    fn every_advertised_entitlement_parses_into_a_provisioning_change() {
        let mut seen = 0;
        for t in capabilities().resource_types {
            assert_eq!(
                t.capabilities.contains(&Capability::Provision),
                !t.provisionable_entitlements.is_empty(),
                "{}: PROVISION if and only if it lists entitlements",
                t.id
            );
            for e in &t.provisionable_entitlements {
                assert!(
                    e.revoke,
                    "{}: every provisionable entitlement can be revoked",
                    e.id
                );
                for &ptype in e.grantable_to {
                    let who = principal(ptype);
                    let ent = example(e.id, t.id, &who);
                    let granted = request::grant(&ent, ptype, &who);
                    if e.grant {
                        let r =
                            granted.unwrap_or_else(|err| panic!("grant {ent} to {ptype}: {err}"));
                        assert_eq!(entitlement_type(&r.change), t.id, "{ent}");
                    } else {
                        assert!(
                            matches!(granted, Err(request::RequestError::Unsupported { .. })),
                            "{ent} is advertised as revoke only: {granted:?}"
                        );
                    }
                    // The grant id as a sync writes it.
                    let grant_id = match t.id {
                        rt::ACCOUNT | rt::PERMISSION_SET_ASSIGNMENT => {
                            ids::prefixed_grant_id(ptype, &who, &ent)
                        }
                        _ => ids::grant_id(&ent, ptype, &who),
                    };
                    let r = request::revoke(&grant_id)
                        .unwrap_or_else(|err| panic!("revoke {grant_id}: {err}"));
                    assert_eq!(entitlement_type(&r.change), t.id, "{grant_id}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 6, "only {seen} entitlement/principal pairs");
    }

    /// Types advertised with RESOURCE_DELETE are exactly the ones `delete-resource` accepts
    /// (the `create-user --type` side is tested with the command line, in the binary).
    #[test]
    fn delete_types_are_the_ones_delete_resource_accepts() {
        for t in capabilities().resource_types {
            let id = match t.id {
                rt::IAM_USER | rt::GROUP | rt::ROLE | rt::SSO_USER | rt::SSO_GROUP => {
                    principal(t.id)
                }
                _ => format!("arn:aws:iam::{ACCOUNT}:user/x"),
            };
            assert_eq!(
                t.capabilities.contains(&Capability::ResourceDelete),
                request::delete_target(t.id, &id).is_ok(),
                "{}",
                t.id
            );
        }
    }

    /// The synced types are the ones the sync declares (organization, IAM, Identity Center),
    /// each with the condition of its group.
    #[test]
    fn synced_types_are_the_ones_a_sync_declares() {
        use crate::connector::iam::RESOURCE_TYPES as IAM_TYPES;
        use crate::connector::identity_center::IC_TYPES;
        use crate::connector::org::RESOURCE_TYPES as ORG_TYPES;
        use crate::connector::scp::SCP_TYPES;
        let declared: BTreeSet<&str> = ORG_TYPES
            .iter()
            .chain(&IAM_TYPES)
            .chain(&IC_TYPES)
            .chain(&SCP_TYPES)
            .copied()
            .collect();
        let c = capabilities();
        let listed: BTreeSet<&str> = c.resource_types.iter().map(|t| t.id).collect();
        assert_eq!(listed, declared);
        for t in &c.resource_types {
            assert!(t.capabilities.contains(&Capability::Sync), "{}", t.id);
            let when = t.synced_when;
            if ORG_TYPES.contains(&t.id) || SCP_TYPES.contains(&t.id) {
                assert!(when.contains("organization"), "{}: {when}", t.id);
            } else if IC_TYPES.contains(&t.id) {
                assert!(when.contains("Identity Center"), "{}: {when}", t.id);
            } else if t.id == rt::ACCESS_KEY {
                assert!(when.contains("--sync-secrets"), "{when}");
            } else {
                assert!(when.starts_with("always"), "{}: {when}", t.id);
            }
        }
    }
}
