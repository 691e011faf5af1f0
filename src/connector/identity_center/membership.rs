//! Identity Center group membership, as steps ([`Membership`]). By group and user:
//! `DescribeGroup` (its answer becomes the record's group through the sync's own mapping), then
//! `GetGroupMembershipId` (moto stores a duplicate membership where AWS answers
//! ConflictException, and a repeat must report `already-granted` anyway), then
//! `CreateGroupMembership` / `DeleteGroupMembership`. By MembershipId (the grant id a sync
//! writes): `DescribeGroupMembership` first (moto "deletes" unknown ids without complaint),
//! the group, then the deletion. Every call uses the management credentials and the org-wide
//! Identity Center token bucket. Also the identity store of a region ([`find_store`], for
//! requests whose IDs name none) and the identity-store requests the user steps share.
//! Not here: users (`users`), account assignments (`assignment`).

use aws_sdk_identitystore::operation as ids_op;
use aws_sdk_identitystore::types::MemberId;
use aws_sdk_ssoadmin::operation as sso_op;

use crate::connector::identity_center::ic_group_of;
use crate::connector::identity_center::model::IcGroup;
use crate::connector::identity_center::object_records::{instance_of, membership_grant};
use crate::connector::identity_center::records::group_resource;
use crate::model::Record;
use crate::model::ids::{self, IdentityStoreRef};
use crate::model::pb;
use crate::provision::call::{Call, Context};
use crate::provision::exec::Exec;
use crate::provision::operations::Req;
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::request::{Direction, SsoPrincipal};
use crate::provision::step::{Change, Flow, Step};

/// Shown in a plan for the identity store `ListInstances` finds.
pub(crate) const FROM_LIST_INSTANCES: &str = "<from ListInstances>";

/// `sso:ListInstances` in `region` (logged with the region, which is not a parameter).
pub(crate) fn list_instances(
    region: &str,
) -> Req<sso_op::list_instances::builders::ListInstancesInputBuilder> {
    Req::new(|p| {
        p.put("region", region);
        sso_op::list_instances::ListInstancesInput::builder()
    })
}

/// The identity store of the first Identity Center instance in `region`.
pub(crate) async fn find_store(x: &Exec<'_>, region: &str) -> Result<String, ProvisionError> {
    let out = x.call(region, &list_instances(region)).await?;
    out.instances()
        .iter()
        .find_map(|i| i.identity_store_id().map(str::to_string))
        .ok_or_else(|| {
            ProvisionError::Unexpected(format!(
                "no IAM Identity Center instance in {region}; name the region with --sso-region or the store with --identity-store-id"
            ))
        })
}

/// A value found by an earlier step, or the error of a step that ran too early.
pub(crate) fn found<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str, ProvisionError> {
    v.as_deref().ok_or_else(|| {
        ProvisionError::Unexpected(format!("the {what} was not found before it was needed"))
    })
}

fn describe_group(
    store: &str,
    group_id: &str,
) -> Req<ids_op::describe_group::builders::DescribeGroupInputBuilder> {
    Req::new(|p| {
        ids_op::describe_group::DescribeGroupInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .group_id(p.put("GroupId", group_id))
    })
}

fn get_group_membership_id(
    group: &SsoPrincipal,
    user: &SsoPrincipal,
) -> Req<ids_op::get_group_membership_id::builders::GetGroupMembershipIdInputBuilder> {
    Req::new(|p| {
        ids_op::get_group_membership_id::GetGroupMembershipIdInput::builder()
            .identity_store_id(p.put("IdentityStoreId", &group.store.identity_store_id))
            .group_id(p.put("GroupId", group.id()))
            .member_id(MemberId::UserId(
                p.put("MemberId.UserId", user.id()).to_string(),
            ))
    })
}

fn create_group_membership(
    group: &SsoPrincipal,
    user: &SsoPrincipal,
) -> Req<ids_op::create_group_membership::builders::CreateGroupMembershipInputBuilder> {
    Req::new(|p| {
        ids_op::create_group_membership::CreateGroupMembershipInput::builder()
            .identity_store_id(p.put("IdentityStoreId", &group.store.identity_store_id))
            .group_id(p.put("GroupId", group.id()))
            .member_id(MemberId::UserId(
                p.put("MemberId.UserId", user.id()).to_string(),
            ))
    })
}

/// `DeleteGroupMembership` of `membership_id` in identity store `store`.
pub(crate) fn delete_group_membership(
    store: &str,
    membership_id: &str,
) -> Req<ids_op::delete_group_membership::builders::DeleteGroupMembershipInputBuilder> {
    Req::new(|p| {
        ids_op::delete_group_membership::DeleteGroupMembershipInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .membership_id(p.put("MembershipId", membership_id))
    })
}

fn describe_group_membership(
    store: &str,
    membership_id: &str,
) -> Req<ids_op::describe_group_membership::builders::DescribeGroupMembershipInputBuilder> {
    Req::new(|p| {
        ids_op::describe_group_membership::DescribeGroupMembershipInput::builder()
            .identity_store_id(p.put("IdentityStoreId", store))
            .membership_id(p.put("MembershipId", membership_id))
    })
}

/// Identity-store group `group_id` as the sync reads groups (None when it does not exist).
async fn group_facts(
    x: &Exec<'_>,
    region: &str,
    store: &str,
    group_id: &str,
) -> Result<Option<IcGroup>, ProvisionError> {
    match x.call(region, &describe_group(store, group_id)).await {
        Ok(g) => Ok(Some(ic_group_of(&g))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// An identity store: the request names it, or `ListInstances` finds it in the region.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub region: String,
    pub known: Option<String>,
}

impl Store {
    /// The store id as a plan shows it.
    pub fn planned(&self) -> &str {
        self.known.as_deref().unwrap_or(FROM_LIST_INSTANCES)
    }

    /// The store id at run time: the known one, else the one found.
    pub fn id<'a>(&'a self, found_id: &'a Option<String>) -> Result<&'a str, ProvisionError> {
        match &self.known {
            Some(s) => Ok(s),
            None => found(found_id, "identity store"),
        }
    }
}

/// A step of an Identity Center membership change.
#[derive(Debug, Clone)]
pub(crate) enum Membership {
    /// `ListInstances`: the identity store when the request names none.
    FindStore(Store),
    /// Check: the group exists (`DescribeGroup`; its facts go into the record).
    Group {
        group: SsoPrincipal,
        user: SsoPrincipal,
    },
    /// Check: the user's membership of the group (`GetGroupMembershipId`).
    MemberOf {
        group: SsoPrincipal,
        user: SsoPrincipal,
    },
    /// Change: `CreateGroupMembership`, unless a member.
    Add {
        group: SsoPrincipal,
        user: SsoPrincipal,
    },
    /// Change: `DeleteGroupMembership` of the membership found, only if a member.
    Remove {
        group: SsoPrincipal,
        user: SsoPrincipal,
    },
    /// Check: the membership by id exists (`DescribeGroupMembership`): its group and user.
    DescribeById { store: Store, membership_id: String },
    /// The group of the membership (`DescribeGroup`; a group gone keeps its id as its name).
    GroupById(Store),
    /// Change: `DeleteGroupMembership` by id.
    DeleteById { store: Store, membership_id: String },
}

/// What the steps of a membership change found.
#[derive(Debug)]
pub(crate) struct Found {
    dir: Direction,
    store: Option<String>,
    membership_id: Option<String>,
    group: Option<pb::Resource>,
    group_id: Option<String>,
    user_arn: Option<String>,
}

impl Found {
    fn new(dir: Direction) -> Found {
        Found {
            dir,
            store: None,
            membership_id: None,
            group: None,
            group_id: None,
            user_arn: None,
        }
    }

    /// The membership grant of `user_arn` in the group found.
    fn record(&self, membership_id: &str, user_arn: &str) -> Result<Record, ProvisionError> {
        let group = self.group.as_ref().ok_or_else(|| {
            ProvisionError::Unexpected("the group was not described before its record".into())
        })?;
        Ok(Record::Grant(membership_grant(
            membership_id,
            group,
            user_arn,
        )))
    }
}

/// Adds `user` to (or removes it from) Identity Center group `group`.
pub(crate) fn group_member(
    dir: Direction,
    group: &SsoPrincipal,
    user: &SsoPrincipal,
) -> Change<Membership> {
    let (g, u) = (group.clone(), user.clone());
    let change = match dir {
        Direction::Grant => Membership::Add { group: g, user: u },
        Direction::Revoke => Membership::Remove { group: g, user: u },
    };
    Change::new(Found::new(dir))
        .then(Membership::Group {
            group: group.clone(),
            user: user.clone(),
        })
        .then(Membership::MemberOf {
            group: group.clone(),
            user: user.clone(),
        })
        .then(change)
}

/// Revokes the membership whose id a sync wrote as the grant id; `group` is known when a c1z
/// named it (otherwise the identity store is looked up in the Identity Center region).
pub(crate) fn revoke_by_id(
    membership_id: &str,
    group: Option<&SsoPrincipal>,
    cx: &Context,
) -> Change<Membership> {
    let store = match group {
        Some(g) => Store {
            region: g.store.region.clone(),
            known: Some(g.store.identity_store_id.clone()),
        },
        None => Store {
            region: cx.sso_region.clone(),
            known: None,
        },
    };
    let mut change = Change::new(Found::new(Direction::Revoke));
    if store.known.is_none() {
        change = change.then(Membership::FindStore(store.clone()));
    }
    change
        .then(Membership::DescribeById {
            store: store.clone(),
            membership_id: membership_id.to_string(),
        })
        .then(Membership::GroupById(store.clone()))
        .then(Membership::DeleteById {
            store,
            membership_id: membership_id.to_string(),
        })
}

impl Step for Membership {
    type State = Found;

    fn planned(&self, cx: &Context) -> Call {
        let m = cx.mgmt();
        match self {
            Membership::FindStore(s) => list_instances(&s.region).call(m),
            Membership::Group { group, .. } => {
                describe_group(&group.store.identity_store_id, group.id()).call(m)
            }
            Membership::MemberOf { group, user } => get_group_membership_id(group, user).call(m),
            Membership::Add { group, user } => create_group_membership(group, user)
                .call(m)
                .when("unless the user is already a member"),
            Membership::Remove { group, .. } => {
                delete_group_membership(&group.store.identity_store_id, "<found above>")
                    .call(m)
                    .when("only if the user is a member")
            }
            Membership::DescribeById {
                store,
                membership_id,
            } => describe_group_membership(store.planned(), membership_id).call(m),
            Membership::GroupById(store) => {
                describe_group(store.planned(), "<from the membership>")
                    .call(m)
                    .when("only if the membership exists")
            }
            Membership::DeleteById {
                store,
                membership_id,
            } => delete_group_membership(store.planned(), membership_id)
                .call(m)
                .when("only if the membership exists"),
        }
    }

    async fn run(&self, x: &Exec<'_>, st: &mut Found) -> Result<Flow, ProvisionError> {
        match self {
            Membership::FindStore(s) => {
                st.store = Some(find_store(x, &s.region).await?);
                Ok(Flow::Next)
            }
            Membership::Group { group, user } => check_group(x, st, group, user).await,
            Membership::MemberOf { group, user } => {
                match x
                    .call(
                        group.store.region.as_str(),
                        &get_group_membership_id(group, user),
                    )
                    .await
                {
                    Ok(o) => st.membership_id = Some(o.membership_id().to_string()),
                    Err(e) if e.is_not_found() => st.membership_id = None,
                    Err(e) => return Err(e),
                }
                Ok(Flow::Next)
            }
            Membership::Add { group, user } => {
                if let Some(mid) = &st.membership_id {
                    let detail = format!(
                        "{} is already a member of {} (membership {mid})",
                        user.arn, group.arn
                    );
                    let record = st.record(mid, &user.arn)?;
                    return Ok(Flow::end(Status::AlreadyGranted, detail, Some(record)));
                }
                let req = create_group_membership(group, user);
                let out = x.call(group.store.region.as_str(), &req).await?;
                let mid = out.membership_id();
                let detail = format!("added {} to {} (membership {mid})", user.arn, group.arn);
                let record = st.record(mid, &user.arn)?;
                Ok(Flow::end(Status::Granted, detail, Some(record)))
            }
            Membership::Remove { group, user } => {
                let Some(mid) = &st.membership_id else {
                    let detail = format!("{} is not a member of {}", user.arn, group.arn);
                    return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
                };
                let req = delete_group_membership(&group.store.identity_store_id, mid);
                x.call(group.store.region.as_str(), &req).await?;
                let detail = format!("removed {} from {} (membership {mid})", user.arn, group.arn);
                let record = st.record(mid, &user.arn)?;
                Ok(Flow::end(Status::Revoked, detail, Some(record)))
            }
            Membership::DescribeById {
                store,
                membership_id,
            } => check_membership(x, st, store, membership_id).await,
            Membership::GroupById(store) => {
                let store_id = store.id(&st.store)?.to_string();
                let group_id = found(&st.group_id, "group of the membership")?.to_string();
                let facts = group_facts(x, &store.region, &store_id, &group_id)
                    .await?
                    .unwrap_or_else(|| IcGroup {
                        id: group_id.clone(),
                        display_name: group_id.clone(),
                        description: None,
                        external_ids: vec![],
                    });
                let inst = instance_of(&IdentityStoreRef {
                    region: store.region.clone(),
                    identity_store_id: store_id,
                    kind: "group".into(),
                    id: group_id,
                });
                st.group = Some(group_resource(&inst, &facts));
                Ok(Flow::Next)
            }
            Membership::DeleteById {
                store,
                membership_id,
            } => {
                let store_id = store.id(&st.store)?;
                let req = delete_group_membership(store_id, membership_id);
                x.call(store.region.as_str(), &req).await?;
                let user_arn = found(&st.user_arn, "user of the membership")?;
                let group_id = found(&st.group_id, "group of the membership")?;
                let group_arn = ids::sso_group_arn(&store.region, store_id, group_id);
                let detail =
                    format!("removed {user_arn} from {group_arn} (membership {membership_id})");
                let record = st.record(membership_id, user_arn)?;
                Ok(Flow::end(Status::Revoked, detail, Some(record)))
            }
        }
    }
}

/// `DescribeGroup` of a group-member change: a group that does not exist has no members (a
/// revoke is already done, a grant fails); otherwise its facts make the record's group.
async fn check_group(
    x: &Exec<'_>,
    st: &mut Found,
    group: &SsoPrincipal,
    user: &SsoPrincipal,
) -> Result<Flow, ProvisionError> {
    let (region, store) = (&group.store.region, &group.store.identity_store_id);
    let Some(facts) = group_facts(x, region, store, group.id()).await? else {
        return match st.dir {
            Direction::Revoke => Ok(Flow::end(
                Status::AlreadyRevoked,
                format!(
                    "group {} does not exist, so {} is not a member",
                    group.arn, user.arn
                ),
                None,
            )),
            Direction::Grant => Err(ProvisionError::Unexpected(format!(
                "Identity Center group {} does not exist (identitystore:DescribeGroup: ResourceNotFoundException)",
                group.arn
            ))),
        };
    };
    st.group = Some(group_resource(&instance_of(&group.store), &facts));
    Ok(Flow::Next)
}

/// `DescribeGroupMembership` of a revoke by id: nothing to revoke when it does not exist;
/// otherwise its group and user.
async fn check_membership(
    x: &Exec<'_>,
    st: &mut Found,
    store: &Store,
    membership_id: &str,
) -> Result<Flow, ProvisionError> {
    let store_id = store.id(&st.store)?.to_string();
    let req = describe_group_membership(&store_id, membership_id);
    let m = match x.call(store.region.as_str(), &req).await {
        Ok(m) => m,
        Err(e) if e.is_not_found() => {
            let detail = format!("identity store {store_id} has no membership {membership_id}");
            return Ok(Flow::end(Status::AlreadyRevoked, detail, None));
        }
        Err(e) => return Err(e),
    };
    let Some(MemberId::UserId(user)) = m.member_id() else {
        return Err(ProvisionError::Unexpected(format!(
            "membership {membership_id} does not name a user member"
        )));
    };
    st.user_arn = Some(ids::sso_user_arn(&store.region, &store_id, user));
    st.group_id = Some(m.group_id().to_string());
    Ok(Flow::Next)
}
