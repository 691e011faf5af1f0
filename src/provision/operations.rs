//! Every AWS request provisioning sends, as the SDK defines it. A request is built once, as an
//! SDK input builder, by a [`Req`]: each parameter is stated once, in the expression that both
//! records it for the call log ([`Params::put`]) and sets it on the request. The operation a
//! request's [`Call`] names is the SDK's own (read from the operation's metadata through
//! [`SdkRequest::op`]), so a logged or planned call cannot name another operation than the one
//! sent; [`Paged`] says how a list request asks for its next page.
//!
//! Not here: where a request is sent and with which token bucket (`exec`), the order of
//! requests (the steps of each change, in the domain folders).

use std::future::Future;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::call::marker;
use crate::aws::op::Op;

use super::call::{Call, Params, sdk_op};

/// A request ready to send: the SDK input and the parameters its log line shows.
#[derive(Debug, Clone)]
pub(crate) struct Req<I> {
    pub(super) input: I,
    pub(super) params: Params,
}

impl<I: SdkRequest> Req<I> {
    /// Builds the request; `build` sets each parameter through [`Params::put`] (or without it,
    /// for what the log does not show: page sizes, tags as a list, a user's name parts).
    pub fn new(build: impl FnOnce(&mut Params) -> I) -> Req<I> {
        let mut params = Params::default();
        let input = build(&mut params);
        Req { input, params }
    }

    /// The request's call, signed by `account`.
    pub fn call(&self, account: impl Into<String>) -> Call {
        Call::new(&I::op(), account, self.params.clone())
    }
}

/// An SDK input builder provisioning sends: its operation (from the SDK) and how it is sent.
pub(crate) trait SdkRequest: Clone + Send + Sync + 'static {
    type Client: Send + Sync;
    type Output: Send;
    type Error: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static;

    /// The operation, as the SDK's metadata names it.
    fn op() -> Op;

    /// Sends the request with `client`.
    fn send_to(
        self,
        client: &Self::Client,
    ) -> impl Future<Output = Result<Self::Output, SdkError<Self::Error, HttpResponse>>> + Send;
}

/// A list request: how it asks for a page, and where its answer says the next one starts.
pub(crate) trait Paged: SdkRequest {
    fn page(self, token: Option<String>) -> Self;
    fn next_page(out: &Self::Output) -> Option<String>;
}

/// IAM lists ask for this many items a page (AWS's maximum).
const IAM_PAGE: i32 = 1000;

macro_rules! sdk_requests {
    ($sdk:ident { $($module:ident: $op:ident, $builder:ident, $output:ident, $error:ident;)* }) => {$(
        impl SdkRequest for $sdk::operation::$module::builders::$builder {
            type Client = $sdk::Client;
            type Output = $sdk::operation::$module::$output;
            type Error = $sdk::operation::$module::$error;

            fn op() -> Op {
                sdk_op($sdk::operation::$module::$op::new())
            }

            fn send_to(
                self,
                client: &Self::Client,
            ) -> impl Future<Output = Result<Self::Output, SdkError<Self::Error, HttpResponse>>> + Send {
                self.send_with(client)
            }
        }
    )*};
}

/// Pages by `Marker` / `IsTruncated` (IAM).
macro_rules! marker_paged {
    ($sdk:ident { $($module:ident: $builder:ident;)* }) => {$(
        impl Paged for $sdk::operation::$module::builders::$builder {
            fn page(self, token: Option<String>) -> Self {
                self.max_items(IAM_PAGE).set_marker(token)
            }
            fn next_page(out: &Self::Output) -> Option<String> {
                marker(out.is_truncated(), out.marker())
            }
        }
    )*};
}

/// Pages by `NextToken` (Identity Center, identity store).
macro_rules! token_paged {
    ($sdk:ident { $($module:ident: $builder:ident;)* }) => {$(
        impl Paged for $sdk::operation::$module::builders::$builder {
            fn page(self, token: Option<String>) -> Self {
                self.set_next_token(token)
            }
            fn next_page(out: &Self::Output) -> Option<String> {
                out.next_token().map(str::to_string)
            }
        }
    )*};
}

sdk_requests!(aws_sdk_iam {
    get_group: GetGroup, GetGroupInputBuilder, GetGroupOutput, GetGroupError;
    add_user_to_group: AddUserToGroup, AddUserToGroupInputBuilder, AddUserToGroupOutput, AddUserToGroupError;
    remove_user_from_group: RemoveUserFromGroup, RemoveUserFromGroupInputBuilder, RemoveUserFromGroupOutput, RemoveUserFromGroupError;
    list_attached_user_policies: ListAttachedUserPolicies, ListAttachedUserPoliciesInputBuilder, ListAttachedUserPoliciesOutput, ListAttachedUserPoliciesError;
    list_attached_group_policies: ListAttachedGroupPolicies, ListAttachedGroupPoliciesInputBuilder, ListAttachedGroupPoliciesOutput, ListAttachedGroupPoliciesError;
    list_attached_role_policies: ListAttachedRolePolicies, ListAttachedRolePoliciesInputBuilder, ListAttachedRolePoliciesOutput, ListAttachedRolePoliciesError;
    attach_user_policy: AttachUserPolicy, AttachUserPolicyInputBuilder, AttachUserPolicyOutput, AttachUserPolicyError;
    attach_group_policy: AttachGroupPolicy, AttachGroupPolicyInputBuilder, AttachGroupPolicyOutput, AttachGroupPolicyError;
    attach_role_policy: AttachRolePolicy, AttachRolePolicyInputBuilder, AttachRolePolicyOutput, AttachRolePolicyError;
    detach_user_policy: DetachUserPolicy, DetachUserPolicyInputBuilder, DetachUserPolicyOutput, DetachUserPolicyError;
    detach_group_policy: DetachGroupPolicy, DetachGroupPolicyInputBuilder, DetachGroupPolicyOutput, DetachGroupPolicyError;
    detach_role_policy: DetachRolePolicy, DetachRolePolicyInputBuilder, DetachRolePolicyOutput, DetachRolePolicyError;
    get_user_policy: GetUserPolicy, GetUserPolicyInputBuilder, GetUserPolicyOutput, GetUserPolicyError;
    get_group_policy: GetGroupPolicy, GetGroupPolicyInputBuilder, GetGroupPolicyOutput, GetGroupPolicyError;
    get_role_policy: GetRolePolicy, GetRolePolicyInputBuilder, GetRolePolicyOutput, GetRolePolicyError;
    delete_user_policy: DeleteUserPolicy, DeleteUserPolicyInputBuilder, DeleteUserPolicyOutput, DeleteUserPolicyError;
    delete_group_policy: DeleteGroupPolicy, DeleteGroupPolicyInputBuilder, DeleteGroupPolicyOutput, DeleteGroupPolicyError;
    delete_role_policy: DeleteRolePolicy, DeleteRolePolicyInputBuilder, DeleteRolePolicyOutput, DeleteRolePolicyError;
    create_user: CreateUser, CreateUserInputBuilder, CreateUserOutput, CreateUserError;
    get_user: GetUser, GetUserInputBuilder, GetUserOutput, GetUserError;
    delete_user: DeleteUser, DeleteUserInputBuilder, DeleteUserOutput, DeleteUserError;
    delete_login_profile: DeleteLoginProfile, DeleteLoginProfileInputBuilder, DeleteLoginProfileOutput, DeleteLoginProfileError;
    list_access_keys: ListAccessKeys, ListAccessKeysInputBuilder, ListAccessKeysOutput, ListAccessKeysError;
    delete_access_key: DeleteAccessKey, DeleteAccessKeyInputBuilder, DeleteAccessKeyOutput, DeleteAccessKeyError;
    list_signing_certificates: ListSigningCertificates, ListSigningCertificatesInputBuilder, ListSigningCertificatesOutput, ListSigningCertificatesError;
    delete_signing_certificate: DeleteSigningCertificate, DeleteSigningCertificateInputBuilder, DeleteSigningCertificateOutput, DeleteSigningCertificateError;
    list_ssh_public_keys: ListSSHPublicKeys, ListSshPublicKeysInputBuilder, ListSshPublicKeysOutput, ListSSHPublicKeysError;
    delete_ssh_public_key: DeleteSSHPublicKey, DeleteSshPublicKeyInputBuilder, DeleteSshPublicKeyOutput, DeleteSSHPublicKeyError;
    list_service_specific_credentials: ListServiceSpecificCredentials, ListServiceSpecificCredentialsInputBuilder, ListServiceSpecificCredentialsOutput, ListServiceSpecificCredentialsError;
    delete_service_specific_credential: DeleteServiceSpecificCredential, DeleteServiceSpecificCredentialInputBuilder, DeleteServiceSpecificCredentialOutput, DeleteServiceSpecificCredentialError;
    list_mfa_devices: ListMFADevices, ListMfaDevicesInputBuilder, ListMfaDevicesOutput, ListMFADevicesError;
    deactivate_mfa_device: DeactivateMFADevice, DeactivateMfaDeviceInputBuilder, DeactivateMfaDeviceOutput, DeactivateMFADeviceError;
    delete_virtual_mfa_device: DeleteVirtualMFADevice, DeleteVirtualMfaDeviceInputBuilder, DeleteVirtualMfaDeviceOutput, DeleteVirtualMFADeviceError;
    list_user_policies: ListUserPolicies, ListUserPoliciesInputBuilder, ListUserPoliciesOutput, ListUserPoliciesError;
    list_groups_for_user: ListGroupsForUser, ListGroupsForUserInputBuilder, ListGroupsForUserOutput, ListGroupsForUserError;
});

marker_paged!(aws_sdk_iam {
    get_group: GetGroupInputBuilder;
    list_attached_user_policies: ListAttachedUserPoliciesInputBuilder;
    list_attached_group_policies: ListAttachedGroupPoliciesInputBuilder;
    list_attached_role_policies: ListAttachedRolePoliciesInputBuilder;
    list_access_keys: ListAccessKeysInputBuilder;
    list_signing_certificates: ListSigningCertificatesInputBuilder;
    list_ssh_public_keys: ListSshPublicKeysInputBuilder;
    list_mfa_devices: ListMfaDevicesInputBuilder;
    list_user_policies: ListUserPoliciesInputBuilder;
    list_groups_for_user: ListGroupsForUserInputBuilder;
});

sdk_requests!(aws_sdk_identitystore {
    describe_group: DescribeGroup, DescribeGroupInputBuilder, DescribeGroupOutput, DescribeGroupError;
    describe_user: DescribeUser, DescribeUserInputBuilder, DescribeUserOutput, DescribeUserError;
    get_group_membership_id: GetGroupMembershipId, GetGroupMembershipIdInputBuilder, GetGroupMembershipIdOutput, GetGroupMembershipIdError;
    create_group_membership: CreateGroupMembership, CreateGroupMembershipInputBuilder, CreateGroupMembershipOutput, CreateGroupMembershipError;
    delete_group_membership: DeleteGroupMembership, DeleteGroupMembershipInputBuilder, DeleteGroupMembershipOutput, DeleteGroupMembershipError;
    describe_group_membership: DescribeGroupMembership, DescribeGroupMembershipInputBuilder, DescribeGroupMembershipOutput, DescribeGroupMembershipError;
    create_user: CreateUser, CreateUserInputBuilder, CreateUserOutput, CreateUserError;
    delete_user: DeleteUser, DeleteUserInputBuilder, DeleteUserOutput, DeleteUserError;
    list_group_memberships_for_member: ListGroupMembershipsForMember, ListGroupMembershipsForMemberInputBuilder, ListGroupMembershipsForMemberOutput, ListGroupMembershipsForMemberError;
});

token_paged!(aws_sdk_identitystore {
    list_group_memberships_for_member: ListGroupMembershipsForMemberInputBuilder;
});

sdk_requests!(aws_sdk_ssoadmin {
    list_instances: ListInstances, ListInstancesInputBuilder, ListInstancesOutput, ListInstancesError;
    describe_permission_set: DescribePermissionSet, DescribePermissionSetInputBuilder, DescribePermissionSetOutput, DescribePermissionSetError;
    list_account_assignments_for_principal: ListAccountAssignmentsForPrincipal, ListAccountAssignmentsForPrincipalInputBuilder, ListAccountAssignmentsForPrincipalOutput, ListAccountAssignmentsForPrincipalError;
    create_account_assignment: CreateAccountAssignment, CreateAccountAssignmentInputBuilder, CreateAccountAssignmentOutput, CreateAccountAssignmentError;
    delete_account_assignment: DeleteAccountAssignment, DeleteAccountAssignmentInputBuilder, DeleteAccountAssignmentOutput, DeleteAccountAssignmentError;
    describe_account_assignment_creation_status: DescribeAccountAssignmentCreationStatus, DescribeAccountAssignmentCreationStatusInputBuilder, DescribeAccountAssignmentCreationStatusOutput, DescribeAccountAssignmentCreationStatusError;
    describe_account_assignment_deletion_status: DescribeAccountAssignmentDeletionStatus, DescribeAccountAssignmentDeletionStatusInputBuilder, DescribeAccountAssignmentDeletionStatusOutput, DescribeAccountAssignmentDeletionStatusError;
});

token_paged!(aws_sdk_ssoadmin {
    list_account_assignments_for_principal: ListAccountAssignmentsForPrincipalInputBuilder;
});

sdk_requests!(aws_sdk_organizations {
    describe_account: DescribeAccount, DescribeAccountInputBuilder, DescribeAccountOutput, DescribeAccountError;
    list_parents: ListParents, ListParentsInputBuilder, ListParentsOutput, ListParentsError;
});

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::add_user_to_group::AddUserToGroupInput;
    use aws_sdk_iam::operation::list_mfa_devices::builders::ListMfaDevicesInputBuilder;
    use aws_sdk_organizations::operation::list_parents::builders::ListParentsInputBuilder;
    use aws_sdk_ssoadmin::operation::list_instances::builders::ListInstancesInputBuilder;

    #[test]
    fn operations_are_named_by_the_sdk() {
        assert_eq!(
            ListMfaDevicesInputBuilder::op().to_string(),
            "iam:ListMFADevices"
        );
        assert_eq!(
            ListInstancesInputBuilder::op().to_string(),
            "sso:ListInstances"
        );
        assert_eq!(
            ListParentsInputBuilder::op().to_string(),
            "organizations:ListParents"
        );
    }

    #[test]
    fn a_request_records_each_parameter_it_sets() {
        let r = Req::new(|p| {
            AddUserToGroupInput::builder()
                .group_name(p.put("GroupName", "devs"))
                .user_name(p.put("UserName", "bob"))
        });
        assert_eq!(r.input.get_group_name().as_deref(), Some("devs"));
        let c = r.call("111122223333");
        assert_eq!(
            c.to_string(),
            "iam:AddUserToGroup [111122223333] GroupName=devs UserName=bob"
        );
    }
}
