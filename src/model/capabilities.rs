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
    use super::*;

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
    }
}
