//! Creating and deleting users. IAM user deletion first removes everything that makes
//! `DeleteUser` fail with DeleteConflict, in the order AWS documents: login profile, access keys,
//! signing certificates, SSH public keys, service-specific credentials, MFA devices (deactivated,
//! and deleted when virtual), inline policies, attached managed policies, group memberships.
//! Identity Center user deletion first removes the user's group memberships. A failure part-way
//! reports what was already removed. Not here: access changes (`iam`, `identity_center`,
//! `assignment`).

use std::future::Future;

use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::arn::AccountId;
use crate::aws::{ErrorClass, Scope};
use crate::connector::iam::model::{Credentials, IamSnapshot, User};
use crate::connector::iam::records::user_resource;
use crate::model::Record;
use crate::model::ids;

use super::call::{create_user_params, tags_text};
use super::outcome::{ProvisionError, Status};
use super::provisioner::{Done, Exec, iam_pages};
use super::records::{instance_of, sso_user_resource};
use super::request::{IamPrincipal, NewUser, RequestError, SsoPrincipal};
use crate::aws::errors::NotImplemented;
use crate::connector::iam::provision::account_info;
use crate::connector::identity_center::membership::{
    self as identity_center, delete_membership, describe_user,
};
use crate::connector::identity_center::model::{Email as IcEmail, IcUser, PersonName, UserStatus};
use crate::model::ids::IdentityStoreRef;

/// What blocks `iam:DeleteUser`, as (list operation, removal operations), after the login
/// profile (which has no list call: `DeleteLoginProfile` answers NoSuchEntity when there is none).
pub const IAM_USER_BLOCKERS: [(&str, &[&str]); 8] = [
    ("ListAccessKeys", &["DeleteAccessKey"]),
    ("ListSigningCertificates", &["DeleteSigningCertificate"]),
    ("ListSSHPublicKeys", &["DeleteSSHPublicKey"]),
    (
        "ListServiceSpecificCredentials",
        &["DeleteServiceSpecificCredential"],
    ),
    (
        "ListMFADevices",
        &["DeactivateMFADevice", "DeleteVirtualMFADevice"],
    ),
    ("ListUserPolicies", &["DeleteUserPolicy"]),
    ("ListAttachedUserPolicies", &["DetachUserPolicy"]),
    ("ListGroupsForUser", &["RemoveUserFromGroup"]),
];

fn tags_of(u: &aws_sdk_iam::types::User) -> Vec<(String, String)> {
    u.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The `iam_user` resource of `u`. For a user just created, the credential facts are known
/// (no MFA, no password or key use), as the sync reads them from the credential report; for
/// one about to be deleted they are left out (orgsync does not read the report to delete).
fn iam_user_record(
    x: &Exec<'_>,
    account: &AccountId,
    u: &aws_sdk_iam::types::User,
    fresh: bool,
) -> Record {
    let user = User {
        name: u.user_name().to_string(),
        arn: u.arn().to_string(),
        id: u.user_id().to_string(),
        path: u.path().to_string(),
        tags: tags_of(u),
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
    Record::Resource(user_resource(&account_info(x, account), &user, &snap))
}

/// `create-user --type iam_user`.
pub(crate) async fn create_iam_user(x: &Exec<'_>, spec: &NewUser) -> Result<Done, ProvisionError> {
    let NewUser::Iam {
        account,
        user_name,
        path,
        tags,
    } = spec
    else {
        return Err(RequestError::Invalid("not an IAM user".into()).into());
    };
    let account = account.clone().unwrap_or_else(|| x.caller().clone());
    let scope = x.iam_scope(&account).await?;
    let iam = scope.iam();
    let mut tag_list = vec![];
    for (k, v) in tags {
        tag_list.push(
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| RequestError::Invalid(format!("tag {k}={v}: {e}")))?,
        );
    }
    let tag_text = tags_text(tags);
    let params = create_user_params(user_name, path, &tag_text);
    let out = x
        .iam(&scope, "CreateUser", &params, || {
            iam.create_user()
                .user_name(user_name)
                .path(path)
                .set_tags((!tag_list.is_empty()).then(|| tag_list.clone()))
                .send()
        })
        .await?;
    let u = out.user().ok_or_else(|| {
        ProvisionError::Unexpected(format!("iam:CreateUser answered without user {user_name}"))
    })?;
    Ok(Done {
        status: Status::Created,
        detail: format!("created IAM user {}", u.arn()),
        record: Some(iam_user_record(x, &account, u, true)),
    })
}

/// `delete-resource --resource-type iam_user`.
pub(crate) async fn delete_iam_user(
    x: &Exec<'_>,
    u: &IamPrincipal,
) -> Result<Done, ProvisionError> {
    let scope = x.iam_scope(&u.account).await?;
    let iam = scope.iam();
    let n = u.name();
    let got = match x
        .iam(&scope, "GetUser", &[("UserName", n)], || {
            iam.get_user().user_name(n).send()
        })
        .await
    {
        Ok(g) => g,
        Err(e) if e.class == ErrorClass::NotFound => {
            return Ok(Done {
                status: Status::NotFound,
                detail: format!("IAM user {} does not exist", u.arn),
                record: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let record = got
        .user()
        .map(|usr| iam_user_record(x, &u.account, usr, false));
    let mut done: Vec<String> = vec![];
    let result = async {
        remove_iam_user_blockers(x, &scope, n, &mut done).await?;
        x.iam(&scope, "DeleteUser", &[("UserName", n)], || {
            iam.delete_user().user_name(n).send()
        })
        .await?;
        Ok::<_, ProvisionError>(())
    }
    .await;
    deletion_outcome(result, done, &format!("IAM user {}", u.arn), record)
}

/// How a user deletion ended: `Deleted` (naming what was removed first); the error itself when
/// it failed before anything was removed; `Partial` with what was removed when it failed
/// part-way.
fn deletion_outcome(
    result: Result<(), ProvisionError>,
    done: Vec<String>,
    user: &str,
    record: Option<Record>,
) -> Result<Done, ProvisionError> {
    match result {
        Ok(()) => Ok(Done {
            status: Status::Deleted,
            detail: if done.is_empty() {
                format!("deleted {user}")
            } else {
                format!("deleted {user} after removing {}", done.join(", "))
            },
            record,
        }),
        Err(e) if done.is_empty() => Err(e),
        Err(e) => Err(ProvisionError::Partial {
            done,
            error: Box::new(e),
        }),
    }
}

/// Removes what blocks `iam:DeleteUser` for `user`, one item at a time, noting each in `done`.
struct Removal<'a, 'p> {
    x: &'a Exec<'p>,
    scope: &'a Scope,
    user: &'a str,
    done: &'a mut Vec<String>,
}

impl Removal<'_, '_> {
    /// Sends `op` for every item (`UserName` and `key` = the item; `send` builds and sends the
    /// request for one item) and notes each as "`what` <item>".
    async fn each<R, E, Fut>(
        &mut self,
        op: &'static str,
        key: &'static str,
        items: Vec<String>,
        what: &str,
        send: impl Fn(String) -> Fut,
    ) -> Result<(), ProvisionError>
    where
        Fut: Future<Output = Result<R, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        for item in items {
            self.x
                .iam(
                    self.scope,
                    op,
                    &[("UserName", self.user), (key, &item)],
                    || send(item.clone()),
                )
                .await?;
            self.done.push(format!("{what} {item}"));
        }
        Ok(())
    }
}

async fn remove_iam_user_blockers(
    x: &Exec<'_>,
    scope: &Scope,
    n: &str,
    done: &mut Vec<String>,
) -> Result<(), ProvisionError> {
    let iam = scope.iam();
    let user = [("UserName", n)];
    let mut r = Removal {
        x,
        scope,
        user: n,
        done,
    };

    match x
        .iam(scope, "DeleteLoginProfile", &user, || {
            iam.delete_login_profile().user_name(n).send()
        })
        .await
    {
        Ok(_) => r.done.push("the login profile".into()),
        // NoSuchEntity: the user has no password.
        Err(e) if e.class == ErrorClass::NotFound => {}
        Err(e) => return Err(e.into()),
    }

    let keys: Vec<String> = iam_pages!(
        x,
        scope,
        "ListAccessKeys",
        &user,
        |m| iam
            .list_access_keys()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id().map(str::to_string))
    );
    r.each("DeleteAccessKey", "AccessKeyId", keys, "access key", |k| {
        iam.delete_access_key().user_name(n).access_key_id(k).send()
    })
    .await?;

    let certs: Vec<String> = iam_pages!(
        x,
        scope,
        "ListSigningCertificates",
        &user,
        |m| iam
            .list_signing_certificates()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page
            .certificates()
            .iter()
            .map(|c| c.certificate_id().to_string())
    );
    r.each(
        "DeleteSigningCertificate",
        "CertificateId",
        certs,
        "signing certificate",
        |c| {
            iam.delete_signing_certificate()
                .user_name(n)
                .certificate_id(c)
                .send()
        },
    )
    .await?;

    let ssh: Vec<String> = iam_pages!(
        x,
        scope,
        "ListSSHPublicKeys",
        &user,
        |m| iam
            .list_ssh_public_keys()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page
            .ssh_public_keys()
            .iter()
            .map(|k| k.ssh_public_key_id().to_string())
    );
    r.each(
        "DeleteSSHPublicKey",
        "SSHPublicKeyId",
        ssh,
        "SSH public key",
        |k| {
            iam.delete_ssh_public_key()
                .user_name(n)
                .ssh_public_key_id(k)
                .send()
        },
    )
    .await?;

    // ListServiceSpecificCredentials is not paged (a user holds at most two per service).
    // moto 5.2.5 does not implement the operation and answers HTML 500 (docs/moto-notes.md §3);
    // it cannot create such credentials either, so there that answer means "none to remove".
    // AWS never answers IAM with an HTML page, so a real failure still fails the deletion.
    let creds = x
        .iam(scope, "ListServiceSpecificCredentials", &user, || async {
            match iam
                .list_service_specific_credentials()
                .user_name(n)
                .send()
                .await
            {
                Ok(o) => Ok(Some(o)),
                Err(e) if e.is_not_implemented() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
    let creds: Vec<String> = creds
        .map(|o| {
            o.service_specific_credentials()
                .iter()
                .map(|c| c.service_specific_credential_id().to_string())
                .collect()
        })
        .unwrap_or_default();
    r.each(
        "DeleteServiceSpecificCredential",
        "ServiceSpecificCredentialId",
        creds,
        "service-specific credential",
        |c| {
            iam.delete_service_specific_credential()
                .user_name(n)
                .service_specific_credential_id(c)
                .send()
        },
    )
    .await?;

    let mfa: Vec<String> = iam_pages!(
        x,
        scope,
        "ListMFADevices",
        &user,
        |m| iam
            .list_mfa_devices()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page
            .mfa_devices()
            .iter()
            .map(|d| d.serial_number().to_string())
    );
    for serial in mfa {
        x.iam(
            scope,
            "DeactivateMFADevice",
            &[("UserName", n), ("SerialNumber", &serial)],
            || {
                iam.deactivate_mfa_device()
                    .user_name(n)
                    .serial_number(&serial)
                    .send()
            },
        )
        .await?;
        r.done.push(format!("MFA device {serial} (deactivated)"));
        // Virtual devices are IAM entities of their own (serial = their ARN); hardware and
        // security-key serials are not ARNs and have nothing to delete.
        if serial.starts_with("arn:") && serial.contains(":mfa/") {
            x.iam(
                scope,
                "DeleteVirtualMFADevice",
                &[("SerialNumber", &serial)],
                || {
                    iam.delete_virtual_mfa_device()
                        .serial_number(&serial)
                        .send()
                },
            )
            .await?;
            r.done.push(format!("virtual MFA device {serial}"));
        }
    }

    let inline: Vec<String> = iam_pages!(
        x,
        scope,
        "ListUserPolicies",
        &user,
        |m| iam
            .list_user_policies()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page.policy_names().to_vec()
    );
    r.each(
        "DeleteUserPolicy",
        "PolicyName",
        inline,
        "inline policy",
        |p| iam.delete_user_policy().user_name(n).policy_name(p).send(),
    )
    .await?;

    let attached: Vec<String> = iam_pages!(
        x,
        scope,
        "ListAttachedUserPolicies",
        &user,
        |m| iam
            .list_attached_user_policies()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
    );
    r.each(
        "DetachUserPolicy",
        "PolicyArn",
        attached,
        "policy attachment",
        |p| iam.detach_user_policy().user_name(n).policy_arn(p).send(),
    )
    .await?;

    let groups: Vec<String> = iam_pages!(
        x,
        scope,
        "ListGroupsForUser",
        &user,
        |m| iam
            .list_groups_for_user()
            .user_name(n)
            .max_items(1000)
            .set_marker(m),
        |page| page.groups().iter().map(|g| g.group_name().to_string())
    );
    r.each(
        "RemoveUserFromGroup",
        "GroupName",
        groups,
        "membership of group",
        |g| {
            iam.remove_user_from_group()
                .group_name(g)
                .user_name(n)
                .send()
        },
    )
    .await
}

/// `create-user --type sso_user`.
pub(crate) async fn create_sso_user(x: &Exec<'_>, spec: &NewUser) -> Result<Done, ProvisionError> {
    let NewUser::Sso {
        identity_store_id,
        user_name,
        display_name,
        given_name,
        family_name,
        emails,
    } = spec
    else {
        return Err(RequestError::Invalid("not an Identity Center user".into()).into());
    };
    let region = x.opts().sso_region.clone();
    let store = match identity_store_id {
        Some(s) => s.clone(),
        None => identity_center::identity_store(x, &region).await?,
    };
    let ids_client = x.mgmt().identity_store(&region);
    let name = Name::builder()
        .given_name(given_name)
        .family_name(family_name)
        .build();
    let email_list: Vec<Email> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Email::builder()
                .value(e)
                .r#type("work")
                .primary(i == 0)
                .build()
        })
        .collect();
    let out = x
        .ic(
            "identitystore",
            "CreateUser",
            &[
                ("IdentityStoreId", store.as_str()),
                ("UserName", user_name),
                ("DisplayName", display_name),
            ],
            || {
                ids_client
                    .create_user()
                    .identity_store_id(&store)
                    .user_name(user_name)
                    .display_name(display_name)
                    .name(name.clone())
                    .set_emails((!email_list.is_empty()).then(|| email_list.clone()))
                    .send()
            },
        )
        .await?;
    let user_id = out.user_id().to_string();
    let arn = ids::sso_user_arn(&region, &store, &user_id);
    // What the store now holds (it sets no status on create; the sync reads the same).
    let user = IcUser {
        id: user_id.clone(),
        user_name: user_name.clone(),
        display_name: Some(display_name.clone()).filter(|d| !d.is_empty()),
        status: UserStatus::Unknown,
        name: PersonName {
            given: Some(given_name.clone()),
            family: Some(family_name.clone()),
            ..Default::default()
        },
        emails: emails
            .iter()
            .enumerate()
            .map(|(i, e)| IcEmail {
                value: e.clone(),
                primary: i == 0,
            })
            .collect(),
        external_ids: vec![],
    };
    let inst = instance_of(&IdentityStoreRef {
        region,
        identity_store_id: store,
        kind: "user".into(),
        id: user_id,
    });
    Ok(Done {
        status: Status::Created,
        detail: format!("created Identity Center user {arn}"),
        record: Some(Record::Resource(sso_user_resource(&inst, &user))),
    })
}

/// `delete-resource --resource-type sso_user`.
pub(crate) async fn delete_sso_user(
    x: &Exec<'_>,
    u: &SsoPrincipal,
) -> Result<Done, ProvisionError> {
    let Some(facts) = describe_user(x, u).await? else {
        return Ok(Done {
            status: Status::NotFound,
            detail: format!("Identity Center user {} does not exist", u.arn),
            record: None,
        });
    };
    let record = Some(Record::Resource(sso_user_resource(
        &instance_of(&u.store),
        &facts,
    )));
    let region = u.store.region.as_str();
    let store = u.store.identity_store_id.as_str();
    let ids_client = x.mgmt().identity_store(region);
    let mut done: Vec<String> = vec![];
    let result = async {
        // AWS drops a deleted user's memberships itself; moto leaves them behind pointing at
        // the deleted user (docs/moto-notes.md §6). Removing them first is right on both.
        let member = MemberId::UserId(u.id().to_string());
        let mut token: Option<String> = None;
        let mut memberships: Vec<String> = vec![];
        loop {
            let page = x
                .ic(
                    "identitystore",
                    "ListGroupMembershipsForMember",
                    &[("IdentityStoreId", store), ("UserId", u.id())],
                    || {
                        ids_client
                            .list_group_memberships_for_member()
                            .identity_store_id(store)
                            .member_id(member.clone())
                            .set_next_token(token.clone())
                            .send()
                    },
                )
                .await?;
            memberships.extend(
                page.group_memberships()
                    .iter()
                    .map(|m| m.membership_id().to_string()),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        for m in memberships {
            delete_membership(x, region, store, &m).await?;
            done.push(format!("membership {m}"));
        }
        x.ic(
            "identitystore",
            "DeleteUser",
            &[("IdentityStoreId", store), ("UserId", u.id())],
            || {
                ids_client
                    .delete_user()
                    .identity_store_id(store)
                    .user_id(u.id())
                    .send()
            },
        )
        .await?;
        Ok::<_, ProvisionError>(())
    }
    .await;
    deletion_outcome(
        result,
        done,
        &format!("Identity Center user {}", u.arn),
        record,
    )
}
