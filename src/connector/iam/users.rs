//! IAM users: `create-user --type iam_user` (`CreateUser`, in the caller's account or, through
//! the provisioning role, another) and `delete-resource --resource-type iam_user`, as steps
//! ([`UserStep`]). Deletion first removes everything that makes `DeleteUser` fail with
//! DeleteConflict, in the order AWS documents ([`BLOCKERS`]): login profile, access keys,
//! signing certificates, SSH public keys, service-specific credentials, MFA devices
//! (deactivated, and deleted when virtual), inline policies, attached managed policies, group
//! memberships; a failure part-way reports what was already removed. Creation is idempotent:
//! when `CreateUser` answers EntityAlreadyExists, `GetUser` compares the user's path and tags
//! with the request (the same: `already-exists`; others: a conflict, nothing changed). The
//! resulting record is the sync's `iam_user` resource, with the account's name
//! (`organizations:DescribeAccount`, made first, so a failure there changes nothing).
//! Not here: access changes (`provision`), Identity Center users.

use std::collections::HashMap;

use aws_sdk_iam::operation::{self as iam_op, create_user::builders::CreateUserInputBuilder};
use aws_sdk_iam::types::Tag;

use crate::arn::AccountId;
use crate::aws::ErrorClass;
use crate::connector::collector::AccountInfo;
use crate::connector::iam::model::{Credentials, IamSnapshot, User};
use crate::connector::iam::provision::{named_account, remove_user_from_group};
use crate::connector::iam::records::user_resource;
use crate::connector::org::account::describe_account;
use crate::model::Record;
use crate::provision::call::{Call, Context};
use crate::provision::exec::Exec;
use crate::provision::operations::Req;
use crate::provision::outcome::{ProvisionError, Status, deleted};
use crate::provision::request::{IamPrincipal, RequestError};
use crate::provision::step::{Change, Flow, Step};

/// What blocks `iam:DeleteUser` besides the login profile (which has no list call:
/// `DeleteLoginProfile` answers NoSuchEntity when there is none), in the order they are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Blocker {
    AccessKeys,
    SigningCertificates,
    SshPublicKeys,
    ServiceSpecificCredentials,
    MfaDevices,
    InlinePolicies,
    AttachedPolicies,
    Groups,
}

pub(crate) const BLOCKERS: [Blocker; 8] = [
    Blocker::AccessKeys,
    Blocker::SigningCertificates,
    Blocker::SshPublicKeys,
    Blocker::ServiceSpecificCredentials,
    Blocker::MfaDevices,
    Blocker::InlinePolicies,
    Blocker::AttachedPolicies,
    Blocker::Groups,
];

/// A step of creating or deleting an IAM user.
#[derive(Debug, Clone)]
pub(crate) enum UserStep {
    /// `organizations:DescribeAccount`: the name of the user's account (the caller's when
    /// `None`) for the record.
    AccountName(Option<AccountId>),
    /// `CreateUser` in `account` (the caller's when `None`); EntityAlreadyExists goes on to
    /// [`UserStep::Existing`].
    Create(NewIamUser),
    /// Check, after EntityAlreadyExists: `GetUser`, the same path and tags as the request
    /// (`already-exists`) or a conflict.
    Existing(NewIamUser),
    /// Check: `GetUser` (a user that does not exist is not found; its record otherwise).
    Get(IamPrincipal),
    /// `DeleteLoginProfile` (none is fine).
    DeleteLoginProfile(IamPrincipal),
    /// The user's items of one kind of blocker (every page).
    List(IamPrincipal, Blocker),
    /// Removes each item listed by the `List` step of the same blocker.
    Remove(IamPrincipal, Blocker),
    /// `DeleteVirtualMFADevice` for each virtual device listed (after its deactivation).
    DeleteVirtualMfa(IamPrincipal),
    /// `DeleteUser`: the end of the deletion.
    Delete(IamPrincipal),
}

/// The user `create-user --type iam_user` asks for.
#[derive(Debug, Clone)]
pub(crate) struct NewIamUser {
    /// The caller's account when `None`.
    account: Option<AccountId>,
    user_name: String,
    path: String,
    tags: Vec<Tag>,
}

/// What the steps of a user change found and did.
#[derive(Debug, Default)]
pub(crate) struct UserChange {
    /// The user's account, named (`AccountName`).
    account: Option<AccountInfo>,
    /// The user as `GetUser` answered (a deletion's first check).
    found: Option<aws_sdk_iam::types::User>,
    listed: HashMap<Blocker, Vec<String>>,
    /// What was removed so far ("access key AKIA…").
    done: Vec<String>,
}

impl UserChange {
    /// The account `AccountName` named.
    fn account(&self) -> Result<&AccountInfo, ProvisionError> {
        self.account.as_ref().ok_or_else(|| {
            ProvisionError::Unexpected("the user's account was not named before its record".into())
        })
    }

    /// The items the `List` step of `b` found.
    fn listed(&self, b: Blocker) -> Result<Vec<String>, ProvisionError> {
        self.listed.get(&b).cloned().ok_or_else(|| {
            ProvisionError::Unexpected(format!("{b:?} were not listed before their removal"))
        })
    }
}

/// `create-user --type iam_user`.
pub(crate) fn create(
    account: Option<&AccountId>,
    user_name: &str,
    path: &str,
    tags: &[(String, String)],
    cx: &Context,
) -> Result<Change<UserStep>, RequestError> {
    let mut tag_list = vec![];
    for (k, v) in tags {
        tag_list.push(
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| RequestError::Invalid(format!("tag {k}={v}: {e}")))?,
        );
    }
    let account = account.cloned().or_else(|| cx.caller.clone());
    let mut change =
        Change::new(UserChange::default()).then(UserStep::AccountName(account.clone()));
    if let Some(a) = &account {
        change = change.hop(a, cx);
    }
    let user = NewIamUser {
        account,
        user_name: user_name.to_string(),
        path: path.to_string(),
        tags: tag_list,
    };
    Ok(change
        .then(UserStep::Create(user.clone()))
        .then(UserStep::Existing(user)))
}

/// `delete-resource --resource-type iam_user`.
pub(crate) fn delete(user: &IamPrincipal, cx: &Context) -> Change<UserStep> {
    let mut change = Change::new(UserChange::default())
        .hop(&user.account, cx)
        .then(UserStep::Get(user.clone()))
        .then(UserStep::AccountName(Some(user.account.clone())))
        .then(UserStep::DeleteLoginProfile(user.clone()));
    for b in BLOCKERS {
        change = change
            .then(UserStep::List(user.clone(), b))
            .then(UserStep::Remove(user.clone(), b));
        if b == Blocker::MfaDevices {
            change = change.then(UserStep::DeleteVirtualMfa(user.clone()));
        }
    }
    change.then(UserStep::Delete(user.clone()))
}

/// Shown in a plan for an item a list step finds.
const LISTED: &str = "<listed above>";

fn create_user(user_name: &str, path: &str, tags: &[Tag]) -> Req<CreateUserInputBuilder> {
    let text = tags
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect::<Vec<_>>()
        .join(",");
    Req::new(|p| {
        let b = iam_op::create_user::CreateUserInput::builder()
            .user_name(p.put("UserName", user_name))
            .path(p.put("Path", path));
        if tags.is_empty() {
            b
        } else {
            p.put("Tags", &text);
            b.set_tags(Some(tags.to_vec()))
        }
    })
}

/// Requests that name the user only (`UserName`): `$f` builds the request of operation
/// module `$f` from its `$input` type.
macro_rules! of_user {
    ($($f:ident: $input:ident -> $builder:ident;)*) => {$(
        fn $f(n: &str) -> Req<iam_op::$f::builders::$builder> {
            Req::new(|p| iam_op::$f::$input::builder().user_name(p.put("UserName", n)))
        }
    )*};
}

of_user! {
    get_user: GetUserInput -> GetUserInputBuilder;
    delete_login_profile: DeleteLoginProfileInput -> DeleteLoginProfileInputBuilder;
    delete_user: DeleteUserInput -> DeleteUserInputBuilder;
    list_access_keys: ListAccessKeysInput -> ListAccessKeysInputBuilder;
    list_signing_certificates: ListSigningCertificatesInput -> ListSigningCertificatesInputBuilder;
    list_ssh_public_keys: ListSshPublicKeysInput -> ListSshPublicKeysInputBuilder;
    list_service_specific_credentials: ListServiceSpecificCredentialsInput -> ListServiceSpecificCredentialsInputBuilder;
    list_mfa_devices: ListMfaDevicesInput -> ListMfaDevicesInputBuilder;
    list_user_policies: ListUserPoliciesInput -> ListUserPoliciesInputBuilder;
    list_attached_user_policies: ListAttachedUserPoliciesInput -> ListAttachedUserPoliciesInputBuilder;
    list_groups_for_user: ListGroupsForUserInput -> ListGroupsForUserInputBuilder;
}

/// Requests that name the user (`UserName`) and one item of theirs (`$key`, set with
/// `$setter`).
macro_rules! of_user_item {
    ($($f:ident: $input:ident -> $builder:ident, $setter:ident $key:literal;)*) => {$(
        fn $f(n: &str, item: &str) -> Req<iam_op::$f::builders::$builder> {
            Req::new(|p| {
                iam_op::$f::$input::builder()
                    .user_name(p.put("UserName", n))
                    .$setter(p.put($key, item))
            })
        }
    )*};
}

of_user_item! {
    delete_access_key: DeleteAccessKeyInput -> DeleteAccessKeyInputBuilder, access_key_id "AccessKeyId";
    delete_signing_certificate: DeleteSigningCertificateInput -> DeleteSigningCertificateInputBuilder, certificate_id "CertificateId";
    delete_ssh_public_key: DeleteSshPublicKeyInput -> DeleteSshPublicKeyInputBuilder, ssh_public_key_id "SSHPublicKeyId";
    delete_service_specific_credential: DeleteServiceSpecificCredentialInput -> DeleteServiceSpecificCredentialInputBuilder, service_specific_credential_id "ServiceSpecificCredentialId";
    deactivate_mfa_device: DeactivateMfaDeviceInput -> DeactivateMfaDeviceInputBuilder, serial_number "SerialNumber";
    delete_user_policy: DeleteUserPolicyInput -> DeleteUserPolicyInputBuilder, policy_name "PolicyName";
    detach_user_policy: DetachUserPolicyInput -> DetachUserPolicyInputBuilder, policy_arn "PolicyArn";
}

fn delete_virtual_mfa_device(
    serial: &str,
) -> Req<iam_op::delete_virtual_mfa_device::builders::DeleteVirtualMfaDeviceInputBuilder> {
    Req::new(|p| {
        iam_op::delete_virtual_mfa_device::DeleteVirtualMfaDeviceInput::builder()
            .serial_number(p.put("SerialNumber", serial))
    })
}

/// Virtual MFA devices are IAM entities of their own (serial = their ARN); hardware and
/// security-key serials are not ARNs and have nothing to delete.
fn is_virtual_mfa(serial: &str) -> bool {
    serial.starts_with("arn:") && serial.contains(":mfa/")
}

/// The `$id` of each of `$items` (`$id?`: of each that has one).
macro_rules! ids {
    ($items:expr, $id:ident) => {
        $items.iter().map(|i| i.$id().to_string()).collect()
    };
    ($items:expr, $id:ident ?) => {
        $items
            .iter()
            .filter_map(|i| i.$id().map(str::to_string))
            .collect()
    };
}

impl Blocker {
    /// The list call, as a plan shows it.
    fn list_call(self, n: &str, account: &str) -> Call {
        match self {
            Blocker::AccessKeys => list_access_keys(n).call(account),
            Blocker::SigningCertificates => list_signing_certificates(n).call(account),
            Blocker::SshPublicKeys => list_ssh_public_keys(n).call(account),
            Blocker::ServiceSpecificCredentials => {
                list_service_specific_credentials(n).call(account)
            }
            Blocker::MfaDevices => list_mfa_devices(n).call(account),
            Blocker::InlinePolicies => list_user_policies(n).call(account),
            Blocker::AttachedPolicies => list_attached_user_policies(n).call(account),
            Blocker::Groups => list_groups_for_user(n).call(account),
        }
    }

    /// The user's items of this kind: every page of the list call.
    async fn list(self, x: &Exec<'_>, u: &IamPrincipal) -> Result<Vec<String>, ProvisionError> {
        let (a, n) = (&u.account, u.name());
        match self {
            Blocker::AccessKeys => {
                let r = list_access_keys(n);
                x.list(a, &r, |o| ids!(o.access_key_metadata(), access_key_id?))
                    .await
            }
            Blocker::SigningCertificates => {
                let r = list_signing_certificates(n);
                x.list(a, &r, |o| ids!(o.certificates(), certificate_id))
                    .await
            }
            Blocker::SshPublicKeys => {
                let r = list_ssh_public_keys(n);
                x.list(a, &r, |o| ids!(o.ssh_public_keys(), ssh_public_key_id))
                    .await
            }
            Blocker::ServiceSpecificCredentials => service_specific_credentials(x, u).await,
            Blocker::MfaDevices => {
                let r = list_mfa_devices(n);
                x.list(a, &r, |o| ids!(o.mfa_devices(), serial_number))
                    .await
            }
            Blocker::InlinePolicies => {
                let r = list_user_policies(n);
                x.list(a, &r, |o| o.policy_names().to_vec()).await
            }
            Blocker::AttachedPolicies => {
                let r = list_attached_user_policies(n);
                x.list(a, &r, |o| ids!(o.attached_policies(), policy_arn?))
                    .await
            }
            Blocker::Groups => {
                let r = list_groups_for_user(n);
                x.list(a, &r, |o| ids!(o.groups(), group_name)).await
            }
        }
    }

    /// The removal call of `item`.
    fn remove_call(self, n: &str, item: &str, account: &str) -> Call {
        match self {
            Blocker::AccessKeys => delete_access_key(n, item).call(account),
            Blocker::SigningCertificates => delete_signing_certificate(n, item).call(account),
            Blocker::SshPublicKeys => delete_ssh_public_key(n, item).call(account),
            Blocker::ServiceSpecificCredentials => {
                delete_service_specific_credential(n, item).call(account)
            }
            Blocker::MfaDevices => deactivate_mfa_device(n, item).call(account),
            Blocker::InlinePolicies => delete_user_policy(n, item).call(account),
            Blocker::AttachedPolicies => detach_user_policy(n, item).call(account),
            Blocker::Groups => remove_user_from_group(item, n).call(account),
        }
    }

    /// Removes `item`; returns how the deletion's detail names it.
    async fn remove(
        self,
        x: &Exec<'_>,
        u: &IamPrincipal,
        item: &str,
    ) -> Result<String, ProvisionError> {
        let (a, n) = (&u.account, u.name());
        match self {
            Blocker::AccessKeys => x.call(a, &delete_access_key(n, item)).await.map(drop),
            Blocker::SigningCertificates => {
                let req = delete_signing_certificate(n, item);
                x.call(a, &req).await.map(drop)
            }
            Blocker::SshPublicKeys => x.call(a, &delete_ssh_public_key(n, item)).await.map(drop),
            Blocker::ServiceSpecificCredentials => {
                let req = delete_service_specific_credential(n, item);
                x.call(a, &req).await.map(drop)
            }
            Blocker::MfaDevices => x.call(a, &deactivate_mfa_device(n, item)).await.map(drop),
            Blocker::InlinePolicies => x.call(a, &delete_user_policy(n, item)).await.map(drop),
            Blocker::AttachedPolicies => x.call(a, &detach_user_policy(n, item)).await.map(drop),
            Blocker::Groups => x.call(a, &remove_user_from_group(item, n)).await.map(drop),
        }?;
        Ok(match self {
            Blocker::AccessKeys => format!("access key {item}"),
            Blocker::SigningCertificates => format!("signing certificate {item}"),
            Blocker::SshPublicKeys => format!("SSH public key {item}"),
            Blocker::ServiceSpecificCredentials => format!("service-specific credential {item}"),
            Blocker::MfaDevices => format!("MFA device {item} (deactivated)"),
            Blocker::InlinePolicies => format!("inline policy {item}"),
            Blocker::AttachedPolicies => format!("policy attachment {item}"),
            Blocker::Groups => format!("membership of group {item}"),
        })
    }
}

/// `ListServiceSpecificCredentials` (not paged: a user holds at most two per service).
/// moto 5.2.5 does not implement the operation and answers HTML 500 (docs/moto-notes.md §3); it
/// cannot create such credentials either, so there that answer means "none to remove". AWS
/// never answers IAM with an HTML page, so a real failure still fails the deletion.
async fn service_specific_credentials(
    x: &Exec<'_>,
    u: &IamPrincipal,
) -> Result<Vec<String>, ProvisionError> {
    match x
        .call(&u.account, &list_service_specific_credentials(u.name()))
        .await
    {
        Ok(o) => Ok(o
            .service_specific_credentials()
            .iter()
            .map(|c| c.service_specific_credential_id().to_string())
            .collect()),
        Err(e) if e.aws_class() == Some(ErrorClass::NotImplemented) => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// The `iam_user` resource of `u` in `acct`. For a user just created, the credential facts are
/// known (no MFA, no password or key use), as the sync reads them from the credential report;
/// for one found existing (to delete, or created before) they are left out (orgsync does not
/// read the report to provision).
fn iam_user_record(acct: &AccountInfo, u: &aws_sdk_iam::types::User, fresh: bool) -> Record {
    let user = User {
        name: u.user_name().to_string(),
        arn: u.arn().to_string(),
        id: u.user_id().to_string(),
        path: u.path().to_string(),
        tags: tags_of(u),
        boundary: u
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        ..Default::default()
    };
    let mut snap = IamSnapshot::default();
    if fresh {
        snap.credentials.insert(
            user.name.clone(),
            Credentials {
                mfa_active: Some(false),
                ..Default::default()
            },
        );
    }
    Record::Resource(user_resource(acct, &user, &snap))
}

fn tags_of(u: &aws_sdk_iam::types::User) -> Vec<(String, String)> {
    u.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// `k=v,…` in key order (how a conflict shows tags).
fn tag_text(tags: &[(String, String)]) -> String {
    let mut sorted: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    sorted.sort();
    if sorted.is_empty() {
        "none".into()
    } else {
        sorted.join(",")
    }
}

/// How the existing user `u` differs from the request (path; tags as a set); empty when it
/// is what the request would have created.
fn differences(u: &aws_sdk_iam::types::User, want: &NewIamUser) -> Vec<String> {
    let mut out = vec![];
    if u.path() != want.path {
        out.push(format!("path {} (requested {})", u.path(), want.path));
    }
    let has = tags_of(u);
    let asked: Vec<(String, String)> = want
        .tags
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if tag_text(&has) != tag_text(&asked) {
        out.push(format!(
            "tags {} (requested {})",
            tag_text(&has),
            tag_text(&asked)
        ));
    }
    out
}

impl Step for UserStep {
    type State = UserChange;

    fn planned(&self, cx: &Context) -> Call {
        let signer =
            |a: &Option<AccountId>| a.as_ref().map_or_else(|| cx.mgmt(), |a| a.to_string());
        match self {
            UserStep::AccountName(account) => {
                let id = account.as_ref().map(|a| a.to_string());
                describe_account(id.as_deref().unwrap_or("<caller's account>"))
                    .call(cx.mgmt())
                    .when("for the record's account name; not in an organization (or not allowed): the account id")
            }
            UserStep::Create(u) => {
                create_user(&u.user_name, &u.path, &u.tags).call(signer(&u.account))
            }
            UserStep::Existing(u) => get_user(&u.user_name)
                .call(signer(&u.account))
                .when("only when CreateUser answers EntityAlreadyExists: the same path and tags are already-exists, others a conflict"),
            UserStep::Get(u) => get_user(u.name()).call(u.account.as_str()),
            UserStep::DeleteLoginProfile(u) => delete_login_profile(u.name())
                .call(u.account.as_str())
                .when("a missing login profile (NoSuchEntity) is fine"),
            UserStep::List(u, b) => b.list_call(u.name(), u.account.as_str()),
            UserStep::Remove(u, b) => b
                .remove_call(u.name(), LISTED, u.account.as_str())
                .when("once per item listed"),
            UserStep::DeleteVirtualMfa(u) => delete_virtual_mfa_device(LISTED)
                .call(u.account.as_str())
                .when("once per virtual MFA device listed"),
            UserStep::Delete(u) => delete_user(u.name()).call(u.account.as_str()),
        }
    }

    async fn run(&self, x: &Exec<'_>, st: &mut UserChange) -> Result<Flow, ProvisionError> {
        match self {
            UserStep::AccountName(account) => {
                let account = account.clone().unwrap_or_else(|| x.caller().clone());
                st.account = Some(named_account(x, &account).await?);
                Ok(Flow::Next)
            }
            UserStep::Create(want) => {
                let account = want.account.clone().unwrap_or_else(|| x.caller().clone());
                let req = create_user(&want.user_name, &want.path, &want.tags);
                let out = match x.call(&account, &req).await {
                    Ok(out) => out,
                    Err(e) if e.aws_code() == Some("EntityAlreadyExists") => {
                        return Ok(Flow::Next);
                    }
                    Err(e) => return Err(e),
                };
                let u = out.user().ok_or_else(|| {
                    ProvisionError::Unexpected(format!(
                        "iam:CreateUser answered without user {}",
                        want.user_name
                    ))
                })?;
                let detail = format!("created IAM user {}", u.arn());
                let record = iam_user_record(st.account()?, u, true);
                Ok(Flow::end(Status::Created, detail, Some(record)))
            }
            UserStep::Existing(want) => {
                let account = want.account.clone().unwrap_or_else(|| x.caller().clone());
                let got = x.call(&account, &get_user(&want.user_name)).await?;
                let u = got.user().ok_or_else(|| {
                    ProvisionError::Unexpected(format!(
                        "iam:GetUser answered without user {}",
                        want.user_name
                    ))
                })?;
                let diff = differences(u, want);
                if !diff.is_empty() {
                    return Err(ProvisionError::Conflict(format!(
                        "IAM user {} already exists with {}",
                        u.arn(),
                        diff.join(" and ")
                    )));
                }
                let detail = format!(
                    "IAM user {} already exists with the requested path and tags",
                    u.arn()
                );
                let record = iam_user_record(st.account()?, u, false);
                Ok(Flow::end(Status::AlreadyExists, detail, Some(record)))
            }
            UserStep::Get(u) => match x.call(&u.account, &get_user(u.name())).await {
                Ok(got) => {
                    st.found = got.user().cloned();
                    Ok(Flow::Next)
                }
                Err(e) if e.is_not_found() => {
                    let detail = format!("IAM user {} does not exist", u.arn);
                    Ok(Flow::end(Status::NotFound, detail, None))
                }
                Err(e) => Err(e),
            },
            UserStep::DeleteLoginProfile(u) => {
                match x.call(&u.account, &delete_login_profile(u.name())).await {
                    Ok(_) => st.done.push("the login profile".into()),
                    // NoSuchEntity: the user has no password.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
                Ok(Flow::Next)
            }
            UserStep::List(u, b) => {
                let items = b.list(x, u).await?;
                st.listed.insert(*b, items);
                Ok(Flow::Next)
            }
            UserStep::Remove(u, b) => {
                for item in st.listed(*b)? {
                    let what = b.remove(x, u, &item).await?;
                    st.done.push(what);
                }
                Ok(Flow::Next)
            }
            UserStep::DeleteVirtualMfa(u) => {
                for serial in st.listed(Blocker::MfaDevices)? {
                    if is_virtual_mfa(&serial) {
                        x.call(&u.account, &delete_virtual_mfa_device(&serial))
                            .await?;
                        st.done.push(format!("virtual MFA device {serial}"));
                    }
                }
                Ok(Flow::Next)
            }
            UserStep::Delete(u) => {
                x.call(&u.account, &delete_user(u.name())).await?;
                let detail = deleted(&format!("IAM user {}", u.arn), &st.done);
                let record = match &st.found {
                    Some(found) => Some(iam_user_record(st.account()?, found, false)),
                    None => None,
                };
                Ok(Flow::end(Status::Deleted, detail, record))
            }
        }
    }

    fn failed(st: &UserChange, e: ProvisionError) -> ProvisionError {
        e.after(&st.done)
    }
}
