//! Identity Center users: `create-user --type sso_user` (`identitystore:CreateUser`, in the
//! store the request names or the one `ListInstances` finds) and `delete-resource
//! --resource-type sso_user`, as steps ([`SsoUserStep`]). Deletion first removes the user's
//! group memberships: AWS drops a deleted user's memberships itself, moto leaves them behind
//! pointing at the deleted user (docs/moto-notes.md §6), so removing them first is right on
//! both; a failure part-way reports what was already removed. Creation is idempotent: when
//! `CreateUser` answers ConflictException, the user of that name (`GetUserId`,
//! `DescribeUser`) is compared with the request: the same display name, given and family
//! name and emails are `already-exists`, others a conflict (nothing changed). The resulting
//! record is the sync's `sso_user` resource.
//! Not here: IAM users (`connector::iam::users`), memberships of their own (`membership`).

use aws_sdk_identitystore::operation as ids_op;
use aws_sdk_identitystore::types::{AlternateIdentifier, Email, MemberId, Name, UniqueAttribute};
use aws_smithy_types::Document;

use crate::connector::identity_center::ic_user_of;
use crate::connector::identity_center::membership::{
    Store, delete_group_membership, find_store, list_instances,
};
use crate::connector::identity_center::model::{Email as IcEmail, IcUser, PersonName, UserStatus};
use crate::connector::identity_center::object_records::instance_of;
use crate::connector::identity_center::records::user_resource;
use crate::model::Record;
use crate::model::ids::{self, IdentityStoreRef};
use crate::provision::call::{Call, Context};
use crate::provision::exec::Exec;
use crate::provision::operations::Req;
use crate::provision::outcome::{ProvisionError, Status, deleted};
use crate::provision::request::SsoPrincipal;
use crate::provision::step::{Change, Flow, Step};

/// A user `create-user --type sso_user` makes.
#[derive(Debug, Clone)]
pub(crate) struct NewSsoUser {
    pub user_name: String,
    pub display_name: String,
    pub given_name: String,
    pub family_name: String,
    pub emails: Vec<String>,
}

/// A step of creating or deleting an Identity Center user.
#[derive(Debug, Clone)]
pub(crate) enum SsoUserStep {
    /// `ListInstances`: the identity store when the request names none.
    FindStore(Store),
    /// `CreateUser`: the end of the creation, unless the user name is taken
    /// (ConflictException).
    Create(Store, NewSsoUser),
    /// After a ConflictException: `GetUserId` of the user name.
    FindExisting(Store, NewSsoUser),
    /// `DescribeUser` of the user found: the same attributes are `already-exists`, others a
    /// conflict.
    Existing(Store, NewSsoUser),
    /// Check: `DescribeUser` (a user that does not exist is not found; its record otherwise).
    Describe(SsoPrincipal),
    /// The user's memberships (`ListGroupMembershipsForMember`, every page).
    ListMemberships(SsoPrincipal),
    /// `DeleteGroupMembership` of each membership listed.
    RemoveMemberships(SsoPrincipal),
    /// `DeleteUser`: the end of the deletion.
    Delete(SsoPrincipal),
}

/// What the steps of a user change found and did.
#[derive(Debug, Default)]
pub(crate) struct UserChange {
    store: Option<String>,
    /// The id of the user a creation found under its name.
    existing: Option<String>,
    memberships: Option<Vec<String>>,
    /// What was removed so far ("membership …").
    done: Vec<String>,
    record: Option<Record>,
}

/// `create-user --type sso_user` in `identity_store_id`, else the store of the Identity Center
/// region's instance.
pub(crate) fn create(
    identity_store_id: Option<&str>,
    user: NewSsoUser,
    cx: &Context,
) -> Change<SsoUserStep> {
    let store = Store {
        region: cx.sso_region.clone(),
        known: identity_store_id.map(str::to_string),
    };
    let mut change = Change::new(UserChange::default());
    if store.known.is_none() {
        change = change.then(SsoUserStep::FindStore(store.clone()));
    }
    change
        .then(SsoUserStep::Create(store.clone(), user.clone()))
        .then(SsoUserStep::FindExisting(store.clone(), user.clone()))
        .then(SsoUserStep::Existing(store, user))
}

/// `delete-resource --resource-type sso_user`.
pub(crate) fn delete(user: &SsoPrincipal) -> Change<SsoUserStep> {
    Change::new(UserChange::default())
        .then(SsoUserStep::Describe(user.clone()))
        .then(SsoUserStep::ListMemberships(user.clone()))
        .then(SsoUserStep::RemoveMemberships(user.clone()))
        .then(SsoUserStep::Delete(user.clone()))
}

fn create_user(
    store: &str,
    u: &NewSsoUser,
) -> Req<ids_op::create_user::builders::CreateUserInputBuilder> {
    let name = Name::builder()
        .given_name(&u.given_name)
        .family_name(&u.family_name)
        .build();
    let emails: Vec<Email> = u
        .emails
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
    Req::new(|p| {
        ids_op::create_user::CreateUserInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .user_name(p.put("UserName", &u.user_name))
            .display_name(p.put("DisplayName", &u.display_name))
            .name(name)
            .set_emails((!emails.is_empty()).then_some(emails))
    })
}

fn describe_user(
    u: &SsoPrincipal,
) -> Req<ids_op::describe_user::builders::DescribeUserInputBuilder> {
    describe_user_id(&u.store.identity_store_id, u.id())
}

fn describe_user_id(
    store: &str,
    user_id: &str,
) -> Req<ids_op::describe_user::builders::DescribeUserInputBuilder> {
    Req::new(|p| {
        ids_op::describe_user::DescribeUserInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .user_id(p.put("UserId", user_id))
    })
}

/// `GetUserId` of the user named `user_name` (its `userName` unique attribute).
fn get_user_id(
    store: &str,
    user_name: &str,
) -> Req<ids_op::get_user_id::builders::GetUserIdInputBuilder> {
    let unique = UniqueAttribute::builder()
        .attribute_path("userName")
        .attribute_value(Document::String(user_name.to_string()))
        .build()
        .expect("both fields of the unique attribute are set");
    Req::new(|p| {
        p.put("UserName", user_name);
        ids_op::get_user_id::GetUserIdInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(unique))
    })
}

/// How the existing user `u` differs from the request (display name, given and family name,
/// emails in order, the first primary); empty when it is what the request would have created.
fn differences(u: &IcUser, want: &NewSsoUser) -> Vec<String> {
    let mut out = vec![];
    let mut differ = |what: &str, has: String, asked: String| {
        if has != asked {
            out.push(format!("{what} '{has}' (requested '{asked}')"));
        }
    };
    differ(
        "display name",
        u.display_name.clone().unwrap_or_default(),
        want.display_name.clone(),
    );
    differ(
        "given name",
        u.name.given.clone().unwrap_or_default(),
        want.given_name.clone(),
    );
    differ(
        "family name",
        u.name.family.clone().unwrap_or_default(),
        want.family_name.clone(),
    );
    let has: Vec<String> = u
        .emails
        .iter()
        .map(|e| {
            if e.primary {
                format!("{} (primary)", e.value)
            } else {
                e.value.clone()
            }
        })
        .collect();
    let asked: Vec<String> = want
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i == 0 {
                format!("{e} (primary)")
            } else {
                e.clone()
            }
        })
        .collect();
    differ("emails", has.join(", "), asked.join(", "));
    out
}

fn list_memberships(
    u: &SsoPrincipal,
) -> Req<
    ids_op::list_group_memberships_for_member::builders::ListGroupMembershipsForMemberInputBuilder,
> {
    Req::new(|p| {
        ids_op::list_group_memberships_for_member::ListGroupMembershipsForMemberInput::builder()
            .identity_store_id(p.put("IdentityStoreId", &u.store.identity_store_id))
            .member_id(MemberId::UserId(p.put("UserId", u.id()).to_string()))
    })
}

fn delete_user(u: &SsoPrincipal) -> Req<ids_op::delete_user::builders::DeleteUserInputBuilder> {
    Req::new(|p| {
        ids_op::delete_user::DeleteUserInput::builder()
            .identity_store_id(p.put("IdentityStoreId", &u.store.identity_store_id))
            .user_id(p.put("UserId", u.id()))
    })
}

/// The `sso_user` resource of a user just created: what the store now holds (it sets no
/// status on create; the sync reads the same).
fn created_record(region: &str, store: &str, user_id: &str, u: &NewSsoUser) -> Record {
    let user = IcUser {
        id: user_id.to_string(),
        user_name: u.user_name.clone(),
        display_name: Some(u.display_name.clone()).filter(|d| !d.is_empty()),
        status: UserStatus::Unknown,
        name: PersonName {
            given: Some(u.given_name.clone()),
            family: Some(u.family_name.clone()),
            ..Default::default()
        },
        emails: u
            .emails
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
        region: region.to_string(),
        identity_store_id: store.to_string(),
        kind: "user".into(),
        id: user_id.to_string(),
    });
    Record::Resource(user_resource(&inst, &user))
}

impl Step for SsoUserStep {
    type State = UserChange;

    fn planned(&self, cx: &Context) -> Call {
        let m = cx.mgmt();
        match self {
            SsoUserStep::FindStore(s) => list_instances(&s.region).call(m),
            SsoUserStep::Create(store, u) => create_user(store.planned(), u).call(m),
            SsoUserStep::FindExisting(store, u) => get_user_id(store.planned(), &u.user_name)
                .call(m)
                .when("only when CreateUser answers ConflictException (the user name is taken)"),
            SsoUserStep::Existing(store, _) => describe_user_id(store.planned(), "<found above>")
                .call(m)
                .when("after GetUserId: the same attributes are already-exists, others a conflict"),
            SsoUserStep::Describe(u) => describe_user(u).call(m),
            SsoUserStep::ListMemberships(u) => list_memberships(u).call(m),
            SsoUserStep::RemoveMemberships(u) => {
                delete_group_membership(&u.store.identity_store_id, "<listed above>")
                    .call(m)
                    .when("once per membership listed")
            }
            SsoUserStep::Delete(u) => delete_user(u).call(m),
        }
    }

    async fn run(&self, x: &Exec<'_>, st: &mut UserChange) -> Result<Flow, ProvisionError> {
        match self {
            SsoUserStep::FindStore(s) => {
                st.store = Some(find_store(x, &s.region).await?);
                Ok(Flow::Next)
            }
            SsoUserStep::Create(store, u) => {
                let store_id = store.id(&st.store)?;
                let out = match x
                    .call(store.region.as_str(), &create_user(store_id, u))
                    .await
                {
                    Ok(out) => out,
                    Err(e) if e.aws_code() == Some("ConflictException") => return Ok(Flow::Next),
                    Err(e) => return Err(e),
                };
                let user_id = out.user_id();
                let arn = ids::sso_user_arn(&store.region, store_id, user_id);
                let record = created_record(&store.region, store_id, user_id, u);
                let detail = format!("created Identity Center user {arn}");
                Ok(Flow::end(Status::Created, detail, Some(record)))
            }
            SsoUserStep::FindExisting(store, u) => {
                let store_id = store.id(&st.store)?;
                let req = get_user_id(store_id, &u.user_name);
                let out = x.call(store.region.as_str(), &req).await?;
                st.existing = Some(out.user_id().to_string());
                Ok(Flow::Next)
            }
            SsoUserStep::Existing(store, want) => {
                let store_id = store.id(&st.store)?;
                let user_id = st.existing.clone().ok_or_else(|| {
                    ProvisionError::Unexpected("the existing user was not found first".into())
                })?;
                let out = x
                    .call(store.region.as_str(), &describe_user_id(store_id, &user_id))
                    .await?;
                let facts = ic_user_of(&out);
                let arn = ids::sso_user_arn(&store.region, store_id, &user_id);
                let diff = differences(&facts, want);
                if !diff.is_empty() {
                    return Err(ProvisionError::Conflict(format!(
                        "Identity Center user {arn} ({}) already exists with {}",
                        want.user_name,
                        diff.join(" and ")
                    )));
                }
                let inst = instance_of(&IdentityStoreRef {
                    region: store.region.clone(),
                    identity_store_id: store_id.to_string(),
                    kind: "user".into(),
                    id: user_id.clone(),
                });
                let record = Record::Resource(user_resource(&inst, &facts));
                let detail = format!(
                    "Identity Center user {arn} ({}) already exists with the requested attributes",
                    want.user_name
                );
                Ok(Flow::end(Status::AlreadyExists, detail, Some(record)))
            }
            SsoUserStep::Describe(u) => {
                match x.call(u.store.region.as_str(), &describe_user(u)).await {
                    Ok(out) => {
                        let facts = ic_user_of(&out);
                        let resource = user_resource(&instance_of(&u.store), &facts);
                        st.record = Some(Record::Resource(resource));
                        Ok(Flow::Next)
                    }
                    Err(e) if e.is_not_found() => {
                        let detail = format!("Identity Center user {} does not exist", u.arn);
                        Ok(Flow::end(Status::NotFound, detail, None))
                    }
                    Err(e) => Err(e),
                }
            }
            SsoUserStep::ListMemberships(u) => {
                let ids = x
                    .list(u.store.region.as_str(), &list_memberships(u), |page| {
                        let listed = page.group_memberships().iter();
                        listed.map(|m| m.membership_id().to_string()).collect()
                    })
                    .await?;
                st.memberships = Some(ids);
                Ok(Flow::Next)
            }
            SsoUserStep::RemoveMemberships(u) => {
                let listed = st.memberships.clone().ok_or_else(|| {
                    ProvisionError::Unexpected("the memberships were not listed".into())
                })?;
                for m in listed {
                    let req = delete_group_membership(&u.store.identity_store_id, &m);
                    x.call(u.store.region.as_str(), &req).await?;
                    st.done.push(format!("membership {m}"));
                }
                Ok(Flow::Next)
            }
            SsoUserStep::Delete(u) => {
                x.call(u.store.region.as_str(), &delete_user(u)).await?;
                let detail = deleted(&format!("Identity Center user {}", u.arn), &st.done);
                Ok(Flow::end(Status::Deleted, detail, st.record.take()))
            }
        }
    }

    fn failed(st: &UserChange, e: ProvisionError) -> ProvisionError {
        e.after(&st.done)
    }
}
