//! Identity Center group membership: `GetGroupMembershipId` first (moto stores a duplicate
//! membership where AWS answers ConflictException, and a repeat must report `already-granted`
//! anyway), then `CreateGroupMembership` / `DeleteGroupMembership`; a revoke by MembershipId
//! (the grant id a sync writes) looks the membership up with `DescribeGroupMembership` first
//! (moto "deletes" unknown ids without complaint). Every call uses the management credentials
//! and the org-wide Identity Center token bucket. Also the identity-store lookup
//! (`sso:ListInstances`) and `DescribeGroup` / `DescribeUser`, whose answers become record
//! facts through the sync's own mapping (`identity_center::ic_group_of` /
//! `ic_user_of`).

use aws_sdk_identitystore::types::MemberId;

use crate::aws::ErrorClass;
use crate::model::Record;
use crate::model::ids;

use crate::connector::identity_center::model::{IcGroup, IcUser};
use crate::connector::identity_center::{ic_group_of, ic_user_of};
use crate::model::ids::IdentityStoreRef;
use crate::provision::outcome::{ProvisionError, Status};
use crate::provision::provisioner::{Done, Exec};

use crate::provision::records::{instance_of, membership_grant, sso_group_resource};
use crate::provision::request::{Direction, SsoKind, SsoPrincipal};

/// The identity store of the first Identity Center instance in `region`.
pub(crate) async fn identity_store(x: &Exec<'_>, region: &str) -> Result<String, ProvisionError> {
    let sso = x.mgmt().sso_admin(region);
    let out = x
        .ic("sso", "ListInstances", &[("region", region)], || {
            sso.list_instances().send()
        })
        .await?;
    out.instances()
        .iter()
        .find_map(|i| i.identity_store_id().map(str::to_string))
        .ok_or_else(|| {
            ProvisionError::Unexpected(format!(
                "no IAM Identity Center instance in {region}; name the region with --sso-region or the store with --identity-store-id"
            ))
        })
}

/// Identity-store group `group_id` as the sync reads groups (None when it does not exist).
pub(crate) async fn describe_group(
    x: &Exec<'_>,
    region: &str,
    store: &str,
    group_id: &str,
) -> Result<Option<IcGroup>, ProvisionError> {
    let ids = x.mgmt().identity_store(region);
    match x
        .ic(
            "identitystore",
            "DescribeGroup",
            &[("IdentityStoreId", store), ("GroupId", group_id)],
            || {
                ids.describe_group()
                    .identity_store_id(store)
                    .group_id(group_id)
                    .send()
            },
        )
        .await
    {
        Ok(g) => Ok(Some(ic_group_of(&g))),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Identity-store user `user` as the sync reads users (None when it does not exist).
pub(crate) async fn describe_user(
    x: &Exec<'_>,
    user: &SsoPrincipal,
) -> Result<Option<IcUser>, ProvisionError> {
    let ids = x.mgmt().identity_store(&user.store.region);
    let store = user.store.identity_store_id.as_str();
    match x
        .ic(
            "identitystore",
            "DescribeUser",
            &[("IdentityStoreId", store), ("UserId", user.id())],
            || {
                ids.describe_user()
                    .identity_store_id(store)
                    .user_id(user.id())
                    .send()
            },
        )
        .await
    {
        Ok(u) => Ok(Some(ic_user_of(&u))),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Adds `user` to (or removes it from) Identity Center group `group`.
pub(crate) async fn group_member(
    x: &Exec<'_>,
    dir: Direction,
    group: &SsoPrincipal,
    user: &SsoPrincipal,
) -> Result<Done, ProvisionError> {
    let region = group.store.region.as_str();
    let store = group.store.identity_store_id.as_str();
    let Some(facts) = describe_group(x, region, store, group.id()).await? else {
        if dir == Direction::Revoke {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!(
                    "group {} does not exist, so {} is not a member",
                    group.arn, user.arn
                ),
                record: None,
            });
        }
        return Err(ProvisionError::Unexpected(format!(
            "Identity Center group {} does not exist (identitystore:DescribeGroup: ResourceNotFoundException)",
            group.arn
        )));
    };
    let group_res = sso_group_resource(&instance_of(&group.store), &facts);
    let ids = x.mgmt().identity_store(region);
    let params = [
        ("IdentityStoreId", store),
        ("GroupId", group.id()),
        ("MemberId.UserId", user.id()),
    ];
    let member = MemberId::UserId(user.id().to_string());
    let existing = match x
        .ic("identitystore", "GetGroupMembershipId", &params, || {
            ids.get_group_membership_id()
                .identity_store_id(store)
                .group_id(group.id())
                .member_id(member.clone())
                .send()
        })
        .await
    {
        Ok(o) => Some(o.membership_id().to_string()),
        Err(e) if e.class == ErrorClass::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let done = match (dir, existing) {
        (Direction::Grant, Some(mid)) => Done {
            status: Status::AlreadyGranted,
            detail: format!(
                "{} is already a member of {} (membership {mid})",
                user.arn, group.arn
            ),
            record: Some(Record::Grant(membership_grant(&mid, &group_res, &user.arn))),
        },
        (Direction::Grant, None) => {
            let out = x
                .ic("identitystore", "CreateGroupMembership", &params, || {
                    ids.create_group_membership()
                        .identity_store_id(store)
                        .group_id(group.id())
                        .member_id(member.clone())
                        .send()
                })
                .await?;
            let mid = out.membership_id().to_string();
            Done {
                status: Status::Granted,
                detail: format!("added {} to {} (membership {mid})", user.arn, group.arn),
                record: Some(Record::Grant(membership_grant(&mid, &group_res, &user.arn))),
            }
        }
        (Direction::Revoke, None) => Done {
            status: Status::AlreadyRevoked,
            detail: format!("{} is not a member of {}", user.arn, group.arn),
            record: None,
        },
        (Direction::Revoke, Some(mid)) => {
            delete_membership(x, region, store, &mid).await?;
            Done {
                status: Status::Revoked,
                detail: format!("removed {} from {} (membership {mid})", user.arn, group.arn),
                record: Some(Record::Grant(membership_grant(&mid, &group_res, &user.arn))),
            }
        }
    };
    Ok(done)
}

pub(crate) async fn delete_membership(
    x: &Exec<'_>,
    region: &str,
    store: &str,
    membership_id: &str,
) -> Result<(), ProvisionError> {
    let ids = x.mgmt().identity_store(region);
    x.ic(
        "identitystore",
        "DeleteGroupMembership",
        &[("IdentityStoreId", store), ("MembershipId", membership_id)],
        || {
            ids.delete_group_membership()
                .identity_store_id(store)
                .membership_id(membership_id)
                .send()
        },
    )
    .await?;
    Ok(())
}

/// Revokes the membership whose id a sync wrote as the grant id.
pub(crate) async fn revoke_membership(
    x: &Exec<'_>,
    membership_id: &str,
    group: Option<&SsoPrincipal>,
) -> Result<Done, ProvisionError> {
    let (region, store) = match group {
        Some(g) => (g.store.region.clone(), g.store.identity_store_id.clone()),
        None => {
            let region = x.opts().sso_region.clone();
            let store = identity_store(x, &region).await?;
            (region, store)
        }
    };
    let ids = x.mgmt().identity_store(&region);
    let params = [
        ("IdentityStoreId", store.as_str()),
        ("MembershipId", membership_id),
    ];
    let m = match x
        .ic("identitystore", "DescribeGroupMembership", &params, || {
            ids.describe_group_membership()
                .identity_store_id(&store)
                .membership_id(membership_id)
                .send()
        })
        .await
    {
        Ok(m) => m,
        Err(e) if e.class == ErrorClass::NotFound => {
            return Ok(Done {
                status: Status::AlreadyRevoked,
                detail: format!("identity store {store} has no membership {membership_id}"),
                record: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let group_id = m.group_id().to_string();
    let user_arn = match m.member_id() {
        Some(MemberId::UserId(u)) => ids::sso_user_arn(&region, &store, u),
        _ => {
            return Err(ProvisionError::Unexpected(format!(
                "membership {membership_id} does not name a user member"
            )));
        }
    };
    let group_arn = ids::sso_group_arn(&region, &store, &group_id);
    let facts = describe_group(x, &region, &store, &group_id)
        .await?
        .unwrap_or_else(|| IcGroup {
            id: group_id.clone(),
            display_name: group_id.clone(),
            description: None,
            external_ids: vec![],
        });
    let inst = instance_of(&IdentityStoreRef {
        region: region.clone(),
        identity_store_id: store.clone(),
        kind: "group".into(),
        id: group_id.clone(),
    });
    delete_membership(x, &region, &store, membership_id).await?;
    Ok(Done {
        status: Status::Revoked,
        detail: format!("removed {user_arn} from {group_arn} (membership {membership_id})"),
        record: Some(Record::Grant(membership_grant(
            membership_id,
            &sso_group_resource(&inst, &facts),
            &user_arn,
        ))),
    })
}

/// Whether `p` is a group (for messages).
pub(crate) fn word(p: &SsoPrincipal) -> &'static str {
    match p.kind {
        SsoKind::User => "user",
        SsoKind::Group => "group",
    }
}
