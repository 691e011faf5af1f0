//! The IAM permissions orgsync needs, as least-privilege policy documents (`orgsync policy`,
//! the CloudFormation templates in `deploy/cloudformation/`).
//!
//! The action lists are the call plan: every AWS operation a collector (read) or the
//! provisioner (write) sends, in IAM's `service:Action` spelling, which is also how
//! `aws::metrics` names operations. Tests hold the lists to the code: every operation a sync
//! actually sends must be in the read policy (`tests/ops.rs`), and every SDK request the
//! sources send must be in one of the lists, every read permission sent somewhere
//! (`source_scan`).
//!
//! Not here: deciding whether a call is allowed at run time (AWS does that), or the trust
//! policies (the templates own those).

use serde::Serialize;
use serde_json::{Value, json};

/// An IAM policy document (fields in the order AWS writes them).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// One Allow statement.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    #[serde(rename = "Resource")]
    pub resource: Value,
}

/// Read by every run, in every synced account (the management account included).
pub const IAM_READ: &[&str] = &[
    "iam:GetAccountAuthorizationDetails",
    "iam:ListRoles",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListUsers",
    "iam:GetLoginProfile",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
];

/// Who the credentials are (every run, `orgsync check`).
pub const STS_READ: &[&str] = &["sts:GetCallerIdentity"];

/// The hop into member accounts (its resource is the member role).
pub const STS_HOP: &[&str] = &["sts:AssumeRole"];

/// Organization discovery (management or delegated-administrator account only): the OU tree
/// breadth-first with the accounts of each node, so no `ListAccounts`, `ListParents` or
/// `DescribeAccount` is needed.
pub const ORG_READ: &[&str] = &[
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
];

/// Service control policies (management or delegated-administrator account; `--sync-scps`):
/// the policies with their documents, and their attachments by either read plan.
pub const SCP_READ: &[&str] = &[
    "organizations:ListPolicies",
    "organizations:DescribePolicy",
    "organizations:ListTargetsForPolicy",
    "organizations:ListPoliciesForTarget",
];

/// IAM Identity Center and its identity store (once per organization, from the management
/// or delegated-administrator account).
pub const IC_READ: &[&str] = &[
    "sso:ListInstances",
    "sso:ListPermissionSets",
    "sso:DescribePermissionSet",
    "sso:ListManagedPoliciesInPermissionSet",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
    "sso:GetInlinePolicyForPermissionSet",
    "sso:GetPermissionsBoundaryForPermissionSet",
    "sso:ListAccountAssignments",
    "sso:ListAccountAssignmentsForPrincipal",
    "sso:ListPermissionSetsProvisionedToAccount",
    "sso:ListAccountsForProvisionedPermissionSet",
    "identitystore:ListUsers",
    "identitystore:ListGroups",
    "identitystore:ListGroupMemberships",
];

/// Provisioning in an account's IAM: group membership, managed-policy attachment, inline
/// policy removal, user creation and deletion (with the cleanup IAM requires before
/// `DeleteUser`).
pub const IAM_WRITE: &[&str] = &[
    "iam:AddUserToGroup",
    "iam:RemoveUserFromGroup",
    "iam:GetGroup",
    "iam:ListAttachedUserPolicies",
    "iam:ListAttachedGroupPolicies",
    "iam:ListAttachedRolePolicies",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:DetachUserPolicy",
    "iam:DetachGroupPolicy",
    "iam:DetachRolePolicy",
    "iam:GetUserPolicy",
    "iam:GetGroupPolicy",
    "iam:GetRolePolicy",
    "iam:DeleteUserPolicy",
    "iam:DeleteGroupPolicy",
    "iam:DeleteRolePolicy",
    "iam:CreateUser",
    "iam:TagUser",
    "iam:GetUser",
    "iam:DeleteUser",
    "iam:ListGroupsForUser",
    "iam:ListUserPolicies",
    "iam:ListAccessKeys",
    "iam:DeleteAccessKey",
    "iam:DeleteLoginProfile",
    "iam:ListSigningCertificates",
    "iam:DeleteSigningCertificate",
    "iam:ListSSHPublicKeys",
    "iam:DeleteSSHPublicKey",
    "iam:ListServiceSpecificCredentials",
    "iam:DeleteServiceSpecificCredential",
    "iam:ListMFADevices",
    "iam:DeactivateMFADevice",
    "iam:DeleteVirtualMFADevice",
];

/// Provisioning from the management account: the OU path of an account, to apply the OU
/// entries of `--account-config` to its write hop.
pub const ORG_WRITE: &[&str] = &["organizations:ListParents"];

/// Provisioning in Identity Center: account assignments (after `organizations:DescribeAccount`
/// refuses accounts that are not ACTIVE) and identity-store users and group
/// memberships.
pub const IC_WRITE: &[&str] = &[
    "sso:ListInstances",
    "sso:DescribePermissionSet",
    "sso:ListAccountAssignmentsForPrincipal",
    "sso:CreateAccountAssignment",
    "sso:DeleteAccountAssignment",
    "sso:DescribeAccountAssignmentCreationStatus",
    "sso:DescribeAccountAssignmentDeletionStatus",
    "identitystore:DescribeUser",
    "identitystore:CreateUser",
    "identitystore:DeleteUser",
    "identitystore:DescribeGroup",
    "identitystore:GetGroupMembershipId",
    "identitystore:DescribeGroupMembership",
    "identitystore:CreateGroupMembership",
    "identitystore:DeleteGroupMembership",
    "identitystore:ListGroupMembershipsForMember",
    "organizations:DescribeAccount",
];

/// What `sso:CreateAccountAssignment` needs in IAM: Identity Center creates and updates the
/// `AWSReservedSSO_*` roles in the target account with the caller's permissions (as AWS's
/// `AWSSSOMasterAccountAdministrator` policy grants), on those roles only.
pub const IC_WRITE_SSO_ROLES: &[&str] = &[
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
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
];

/// Which role the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// The identity orgsync runs as (or its `--role-arn`): organization discovery, Identity
    /// Center, the hop into members, and the management account's own IAM.
    Management,
    /// The role assumed in each member account: that account's IAM only.
    Member,
}

/// What the policy must allow.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    pub role: RoleKind,
    pub read: bool,
    pub write: bool,
    pub identity_center: bool,
    /// Service control policies (read, management role).
    pub scps: bool,
    /// Member role name with optional path (for the `sts:AssumeRole` resource).
    pub member_role: String,
    pub partition: String,
}

impl Default for PolicyRequest {
    fn default() -> Self {
        PolicyRequest {
            role: RoleKind::Management,
            read: true,
            write: false,
            identity_center: false,
            scps: true,
            member_role: crate::sync::plan::DEFAULT_MEMBER_ROLE.into(),
            partition: "aws".into(),
        }
    }
}

fn statement(sid: &str, actions: &[&str], resource: Value) -> Statement {
    let mut action: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    action.sort_unstable();
    action.dedup();
    Statement {
        sid: sid.to_string(),
        effect: "Allow",
        action,
        resource,
    }
}

/// The policy document for `req`.
pub fn policy(req: &PolicyRequest) -> PolicyDocument {
    let p = &req.partition;
    let mut statements = vec![];
    let mgmt = req.role == RoleKind::Management;
    if req.read {
        let mut read: Vec<&str> = IAM_READ.to_vec();
        read.extend(STS_READ);
        statements.push(statement("OrgSyncIamRead", &read, json!("*")));
        if mgmt {
            statements.push(statement("OrgSyncOrganizationsRead", ORG_READ, json!("*")));
            let role = req.member_role.trim_matches('/');
            statements.push(statement(
                "OrgSyncAssumeMemberRoles",
                STS_HOP,
                json!(format!("arn:{p}:iam::*:role/{role}")),
            ));
            if req.identity_center {
                statements.push(statement("OrgSyncIdentityCenterRead", IC_READ, json!("*")));
            }
            if req.scps {
                statements.push(statement(
                    "OrgSyncServiceControlPoliciesRead",
                    SCP_READ,
                    json!("*"),
                ));
            }
        }
    }
    if req.write {
        statements.push(statement("OrgSyncIamWrite", IAM_WRITE, json!("*")));
        if mgmt {
            statements.push(statement(
                "OrgSyncOrganizationsWrite",
                ORG_WRITE,
                json!("*"),
            ));
        }
        if mgmt && !req.read {
            // A separate write role identifies itself and hops into the member write roles.
            statements.push(statement("OrgSyncWriteCaller", STS_READ, json!("*")));
            let role = req.member_role.trim_matches('/');
            statements.push(statement(
                "OrgSyncAssumeMemberWriteRoles",
                STS_HOP,
                json!(format!("arn:{p}:iam::*:role/{role}")),
            ));
        }
        if mgmt && req.identity_center {
            statements.push(statement(
                "OrgSyncIdentityCenterWrite",
                IC_WRITE,
                json!("*"),
            ));
            statements.push(statement(
                "OrgSyncIdentityCenterRoles",
                IC_WRITE_SSO_ROLES,
                json!(format!(
                    "arn:{p}:iam::*:role/aws-reserved/sso.amazonaws.com/*"
                )),
            ));
            statements.push(statement(
                "OrgSyncIdentityCenterSamlProvider",
                &["iam:GetSAMLProvider"],
                json!(format!(
                    "arn:{p}:iam::*:saml-provider/AWSSSO_*_DO_NOT_DELETE"
                )),
            ));
        }
    }
    PolicyDocument {
        version: "2012-10-17",
        statement: statements,
    }
}

/// Every action of `doc`.
pub fn actions(doc: &PolicyDocument) -> Vec<String> {
    let mut out: Vec<String> = doc
        .statement
        .iter()
        .flat_map(|s| s.action.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod source_scan;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_read_is_iam_only() {
        let doc = policy(&PolicyRequest {
            role: RoleKind::Member,
            ..Default::default()
        });
        let a = actions(&doc);
        assert!(
            a.iter()
                .all(|x| x.starts_with("iam:") || x.starts_with("sts:Get"))
        );
        assert!(a.contains(&"iam:GetAccountAuthorizationDetails".to_string()));
        assert!(!a.iter().any(|x| x.starts_with("organizations:")));
    }

    #[test]
    fn management_read_hops_into_the_member_role_only() {
        let doc = policy(&PolicyRequest {
            member_role: "/ops/OrgSyncMember".into(),
            partition: "aws-us-gov".into(),
            ..Default::default()
        });
        let hop = doc
            .statement
            .iter()
            .find(|s| s.sid == "OrgSyncAssumeMemberRoles")
            .unwrap();
        assert_eq!(hop.resource, "arn:aws-us-gov:iam::*:role/ops/OrgSyncMember");
        let text = serde_json::to_string(&doc).unwrap();
        assert!(
            text.starts_with(r#"{"Version":"2012-10-17","Statement":[{"Sid":"#),
            "{text}"
        );
        let a = actions(&doc);
        assert!(a.contains(&"organizations:ListAccountsForParent".to_string()));
        assert!(
            !a.iter().any(|x| x.starts_with("sso:")),
            "no IC unless asked"
        );
        assert!(
            !a.contains(&"iam:AddUserToGroup".to_string()),
            "no write unless asked"
        );
        assert!(a.contains(&"organizations:ListTargetsForPolicy".to_string()));
        let no_scps = actions(&policy(&PolicyRequest {
            scps: false,
            ..Default::default()
        }));
        assert!(
            !no_scps
                .iter()
                .any(|x| x.starts_with("organizations:") && x.contains("Polic")),
            "{no_scps:?}"
        );
    }

    #[test]
    fn identity_center_and_write_add_their_statements() {
        let doc = policy(&PolicyRequest {
            read: false,
            write: true,
            identity_center: true,
            ..Default::default()
        });
        let a = actions(&doc);
        assert!(a.contains(&"sso:CreateAccountAssignment".to_string()));
        assert!(a.contains(&"iam:AddUserToGroup".to_string()));
        assert!(!a.contains(&"iam:GetAccountAuthorizationDetails".to_string()));
        let read_ic = actions(&policy(&PolicyRequest {
            identity_center: true,
            ..Default::default()
        }));
        assert!(read_ic.contains(&"sso:ListInstances".to_string()));
        assert!(read_ic.contains(&"identitystore:ListUsers".to_string()));
    }
}
