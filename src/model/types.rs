//! The resource types orgsync writes: ids, display names, traits and type-level annotations
//! (including the CapabilityPermissions lists) as baton-aws registers them
//! (shared/spec/resource-model.md §1).

use super::any::{child_type, pack, v1_identifier};
use super::pb::{self, ResourceType, resource_type::Trait};

pub const IAM_USER: &str = "iam_user";
pub const ROLE: &str = "role";
pub const GROUP: &str = "group";
pub const IAM_POLICY: &str = "iam_policy";
pub const INLINE_POLICY: &str = "inline_policy";
pub const SSO_USER: &str = "sso_user";
pub const SSO_GROUP: &str = "sso_group";
pub const ACCOUNT: &str = "account";
pub const ACCOUNT_IAM: &str = "account_iam";
pub const ACCESS_KEY: &str = "access-key";
pub const PERMISSION_SET: &str = "permission_set";
pub const PERMISSION_SET_ASSIGNMENT: &str = "permission_set_assignment";
pub const ORGANIZATION: &str = "organization";
pub const ORGANIZATIONAL_UNIT: &str = "organizational_unit";
/// An orgsync addition (baton-aws has no SCPs): a service control policy of AWS Organizations.
pub const SERVICE_CONTROL_POLICY: &str = "service_control_policy";

/// Every resource type id orgsync knows, in the order orgsync writes them.
pub const ALL: [&str; 15] = [
    ORGANIZATION,
    ORGANIZATIONAL_UNIT,
    ACCOUNT,
    SERVICE_CONTROL_POLICY,
    ACCOUNT_IAM,
    IAM_USER,
    GROUP,
    ROLE,
    IAM_POLICY,
    INLINE_POLICY,
    ACCESS_KEY,
    SSO_USER,
    SSO_GROUP,
    PERMISSION_SET,
    PERMISSION_SET_ASSIGNMENT,
];

fn permissions(type_id: &str) -> &'static [&'static str] {
    match type_id {
        ROLE => &[
            "iam:ListRoles",
            "iam:GetRole",
            "iam:ListAttachedRolePolicies",
        ],
        GROUP => &[
            "iam:ListGroups",
            "iam:GetGroup",
            "iam:ListAttachedGroupPolicies",
            "iam:AddUserToGroup",
            "iam:RemoveUserFromGroup",
        ],
        SSO_GROUP => &[
            "sso:ListInstances",
            "identitystore:ListGroups",
            "identitystore:ListGroupMemberships",
            "identitystore:GetGroupMembershipId",
            "identitystore:CreateGroupMembership",
            "identitystore:DeleteGroupMembership",
        ],
        ACCOUNT => &[
            "organizations:ListAccounts",
            "organizations:DescribeOrganization",
            "organizations:ListParents",
            "sso:ListPermissionSets",
            "sso:DescribePermissionSet",
            "sso:ListPermissionSetsProvisionedToAccount",
            "sso:ListAccountAssignments",
            "sso:ListInstances",
            "sso:CreateAccountAssignment",
            "sso:DeleteAccountAssignment",
            "sso:DescribeAccountAssignmentCreationStatus",
            "sso:DescribeAccountAssignmentDeletionStatus",
            "iam:ListPolicies",
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:GetRole",
            "iam:ListAttachedRolePolicies",
            "iam:ListRolePolicies",
            "iam:PutRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
            "iam:GetSAMLProvider",
        ],
        ACCOUNT_IAM => &["iam:ListAccountAliases"],
        SSO_USER => &[
            "identitystore:ListUsers",
            "sso:ListInstances",
            "identitystore:CreateUser",
            "identitystore:DeleteUser",
        ],
        IAM_USER => &[
            "iam:ListUsers",
            "iam:GetUser",
            "iam:ListAccessKeys",
            "iam:GetAccessKeyLastUsed",
            "iam:ListSigningCertificates",
            "iam:ListSSHPublicKeys",
            "iam:ListServiceSpecificCredentials",
            "iam:ListMFADevices",
            "iam:ListUserPolicies",
            "iam:ListAttachedUserPolicies",
            "iam:ListGroupsForUser",
            "iam:CreateUser",
            "iam:DeleteLoginProfile",
            "iam:DeleteAccessKey",
            "iam:DeleteSigningCertificate",
            "iam:DeleteSSHPublicKey",
            "iam:DeleteServiceSpecificCredential",
            "iam:DeactivateMFADevice",
            "iam:DeleteUserPolicy",
            "iam:DetachUserPolicy",
            "iam:DeleteUser",
            "iam:TagUser",
        ],
        ACCESS_KEY => &["iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"],
        PERMISSION_SET => &[
            "sso:ListInstances",
            "sso:ListPermissionSets",
            "sso:DescribePermissionSet",
            "sso:ListManagedPoliciesInPermissionSet",
        ],
        PERMISSION_SET_ASSIGNMENT => &[
            "sso:ListInstances",
            "sso:ListPermissionSetsProvisionedToAccount",
            "sso:DescribePermissionSet",
            "sso:ListAccountAssignments",
            "sso:ListManagedPoliciesInPermissionSet",
            "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
            "sso:CreateAccountAssignment",
            "sso:DeleteAccountAssignment",
            "sso:DescribeAccountAssignmentCreationStatus",
            "sso:DescribeAccountAssignmentDeletionStatus",
            "organizations:DescribeAccount",
        ],
        ORGANIZATION => &[
            "organizations:ListRoots",
            "organizations:ListOrganizationalUnitsForParent",
        ],
        ORGANIZATIONAL_UNIT => &["organizations:ListOrganizationalUnitsForParent"],
        SERVICE_CONTROL_POLICY => &[
            "organizations:ListPolicies",
            "organizations:DescribePolicy",
            "organizations:ListTargetsForPolicy",
            "organizations:ListPoliciesForTarget",
        ],
        IAM_POLICY => &[
            "iam:ListPolicies",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:AttachUserPolicy",
            "iam:AttachRolePolicy",
            "iam:AttachGroupPolicy",
            "iam:DetachUserPolicy",
            "iam:DetachRolePolicy",
            "iam:DetachGroupPolicy",
        ],
        INLINE_POLICY => &[
            "iam:ListUserPolicies",
            "iam:ListRolePolicies",
            "iam:ListGroupPolicies",
            "sso:GetInlinePolicyForPermissionSet",
            "iam:GetUserPolicy",
            "iam:GetRolePolicy",
            "iam:GetGroupPolicy",
            "iam:DeleteUserPolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteGroupPolicy",
        ],
        _ => &[],
    }
}

fn capability_permissions(type_id: &str) -> prost_types::Any {
    pack(&pb::CapabilityPermissions {
        permissions: permissions(type_id)
            .iter()
            .map(|p| pb::CapabilityPermission {
                permission: p.to_string(),
            })
            .collect(),
    })
}

/// The `ResourceType` record for `type_id`, or `None` for an unknown id.
pub fn resource_type(type_id: &str) -> Option<ResourceType> {
    use Trait::*;
    let skip_ents = || pack(&pb::SkipEntitlements {});
    let skip_all = || pack(&pb::SkipEntitlementsAndGrants {});
    let opt_in = || pack(&pb::OptInRequired {});
    let (name, traits, mut annotations): (&str, Vec<Trait>, Vec<prost_types::Any>) = match type_id {
        IAM_USER => (
            "IAM User",
            vec![User],
            vec![skip_ents(), v1_identifier(IAM_USER)],
        ),
        ROLE => ("IAM Role", vec![Role], vec![v1_identifier(ROLE)]),
        GROUP => ("Group", vec![Group], vec![v1_identifier(GROUP)]),
        IAM_POLICY => (
            "IAM Managed Policy",
            vec![Role],
            vec![v1_identifier(IAM_POLICY)],
        ),
        INLINE_POLICY => (
            "Inline Policy",
            vec![Role],
            vec![v1_identifier(INLINE_POLICY)],
        ),
        SSO_USER => (
            "SSO User",
            vec![User],
            vec![skip_all(), v1_identifier(SSO_USER)],
        ),
        SSO_GROUP => ("SSO Group", vec![Group], vec![v1_identifier(SSO_GROUP)]),
        ACCOUNT => (
            "Account",
            vec![App],
            vec![
                v1_identifier(ACCOUNT),
                child_type(PERMISSION_SET_ASSIGNMENT),
            ],
        ),
        ACCOUNT_IAM => (
            "Account IAM",
            vec![App],
            vec![skip_all(), v1_identifier(ACCOUNT_IAM)],
        ),
        ACCESS_KEY => ("Access Key", vec![Secret], vec![skip_all()]),
        PERMISSION_SET => ("Permission Set", vec![Role], vec![skip_ents(), opt_in()]),
        PERMISSION_SET_ASSIGNMENT => (
            "Permission Set Assignment",
            vec![ScopeBinding],
            vec![opt_in()],
        ),
        ORGANIZATION => (
            "Organization Root",
            vec![],
            vec![skip_all(), opt_in(), child_type(ORGANIZATIONAL_UNIT)],
        ),
        ORGANIZATIONAL_UNIT => (
            "Organizational Unit",
            vec![],
            vec![skip_all(), opt_in(), child_type(ORGANIZATIONAL_UNIT)],
        ),
        SERVICE_CONTROL_POLICY => ("Service Control Policy", vec![], vec![]),
        _ => return None,
    };
    annotations.push(capability_permissions(type_id));
    Some(ResourceType {
        id: type_id.to_string(),
        display_name: name.to_string(),
        traits: traits.into_iter().map(|t| t as i32).collect(),
        annotations,
        description: String::new(),
        sourced_externally: false,
    })
}

/// The full `ResourceType` for a known id. Panics only on a programming error (an id that
/// is not one of the constants above).
pub fn known(type_id: &str) -> ResourceType {
    resource_type(type_id).unwrap_or_else(|| panic!("unknown resource type constant {type_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::any;

    #[test]
    fn every_type_is_defined_with_capability_permissions_last() {
        for id in ALL {
            let t = known(id);
            assert_eq!(t.id, id);
            let last = t.annotations.last().unwrap();
            assert!(any::is::<pb::CapabilityPermissions>(last), "{id}");
            assert!(!permissions(id).is_empty(), "{id}");
        }
        assert!(resource_type("nope").is_none());
        let user = known(IAM_USER);
        assert_eq!(user.traits, vec![Trait::User as i32]);
        assert!(any::is::<pb::SkipEntitlements>(&user.annotations[0]));
        assert!(known(ORGANIZATION).traits.is_empty());
    }
}
