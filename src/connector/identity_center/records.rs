//! Pure mapping of an Identity Center snapshot to records, per shared/spec/resource-model.md
//! §2.5–2.7, 2.11, 2.12, §3 and §4: `sso_user`, `sso_group` (+ `member` entitlements and
//! membership grants), `permission_set` (+ its inline policy and AWS-managed policy grants),
//! the `<account>|<permissionSetArn>` entitlements on each `account` with their assignment
//! grants, and the `permission_set_assignment` bindings with their `assigned` entitlements and
//! grants. Deliberate differences from baton-aws are listed in docs/RESOURCE-MODEL.md:
//!
//! - account entitlements exist for every (account, permission set) pair, provisioned or not
//!   (as baton-aws): an entitlement is what may be requested; `CreateAccountAssignment`
//!   provisions the set on demand. Grants exist only for real assignments;
//! - bindings exist for the pairs that have at least one assignment (baton-aws: the pairs
//!   `ListPermissionSetsProvisionedToAccount` returns), so every enumeration strategy yields
//!   the same records;
//! - users carry `login` (the user name) and a structured name, at most one primary email (the
//!   store's primary), no duplicate addresses; permission sets carry a profile.
//!
//! Not here: reading Identity Center (`read`), IAM's records (`iam::records`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value, json};

use crate::model::Record;
use crate::model::any::{child_type, grant_expandable, pack, v1_identifier};
use crate::model::build::{entitlement, entitlement_ref, grant, resource, rid};
use crate::model::ids;
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;

use super::model::*;
use crate::connector::iam::model::{Attached, ManagedPolicy};
use crate::connector::iam::records::{
    RecordSet, aws_policy_resource, inline_policy, policy_entitlement, policy_grant,
};

/// The records of one Identity Center read.
#[derive(Debug, Default)]
pub struct IcRecords {
    pub records: Vec<Record>,
    /// AWS-managed policies the permission sets use (IAM units may carry the same ones).
    pub shared: Vec<Record>,
    /// Assignments left out because their permission set is not in the snapshot.
    pub unknown_permission_set: usize,
}

/// The synthetic ARN of a user of `inst`'s identity store.
pub fn user_arn(inst: &Instance, user_id: &str) -> String {
    ids::sso_user_arn(&inst.region, &inst.identity_store_id, user_id)
}

/// The synthetic ARN of a group of `inst`'s identity store.
pub fn group_arn(inst: &Instance, group_id: &str) -> String {
    ids::sso_group_arn(&inst.region, &inst.identity_store_id, group_id)
}

fn external_ids_json(ext: &[ExternalId]) -> Value {
    Value::Array(
        ext.iter()
            .map(|e| json!({"id": e.id, "issuer": e.issuer}))
            .collect(),
    )
}

/// Emails in baton-aws's order (the user name when it is an address, then the store's list),
/// without duplicates, with exactly one primary: the store's primary, else the first.
pub fn user_emails(u: &IcUser) -> Vec<pb::user_trait::Email> {
    let mut list: Vec<(String, bool)> = vec![];
    let mut push = |addr: &str, primary: bool| {
        let addr = addr.trim();
        if addr.is_empty() {
            return;
        }
        match list.iter_mut().find(|(a, _)| a.eq_ignore_ascii_case(addr)) {
            Some(existing) => existing.1 |= primary,
            None => list.push((addr.to_string(), primary)),
        }
    };
    if u.user_name.contains('@') {
        push(&u.user_name, false);
    }
    for e in &u.emails {
        push(&e.value, e.primary);
    }
    let primary = list.iter().position(|(_, p)| *p).unwrap_or(0);
    list.into_iter()
        .enumerate()
        .map(|(i, (address, _))| pb::user_trait::Email {
            address,
            is_primary: i == primary,
        })
        .collect()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The `sso_user` resource.
pub fn user_resource(inst: &Instance, u: &IcUser) -> pb::Resource {
    let arn = user_arn(inst, &u.id);
    let structured_name = (!u.name.is_empty()).then(|| pb::user_trait::StructuredName {
        given_name: opt(&u.name.given),
        family_name: opt(&u.name.family),
        middle_names: u
            .name
            .middle
            .iter()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect(),
        prefix: opt(&u.name.prefix),
        suffix: opt(&u.name.suffix),
    });
    let trait_status = match u.status {
        UserStatus::Disabled => pb::user_trait::status::Status::Disabled,
        UserStatus::Enabled | UserStatus::Unknown => pb::user_trait::status::Status::Enabled,
    };
    let trait_ = pb::UserTrait {
        emails: user_emails(u),
        status: Some(pb::user_trait::Status {
            status: trait_status as i32,
            details: String::new(),
        }),
        account_type: pb::user_trait::AccountType::Human as i32,
        login: u.user_name.clone(),
        structured_name,
        ..Default::default()
    };
    let mut profile = Map::new();
    profile.insert("aws_user_type".into(), json!("sso"));
    profile.insert("aws_user_name".into(), json!(opt(&u.display_name)));
    profile.insert("aws_user_id".into(), json!(u.id));
    if !u.external_ids.is_empty() {
        profile.insert("external_ids".into(), external_ids_json(&u.external_ids));
    }
    let mut r = resource(
        rid(rt::SSO_USER, &arn),
        &u.user_name,
        None,
        vec![v1_identifier(&arn), pack(&trait_)],
        Some(to_struct(&Value::Object(profile))),
    );
    r.status = Some(pb::Status {
        status: match u.status {
            UserStatus::Enabled => pb::status::ResourceStatus::Enabled,
            UserStatus::Disabled => pb::status::ResourceStatus::Disabled,
            UserStatus::Unknown => pb::status::ResourceStatus::Unspecified,
        } as i32,
        details: String::new(),
    });
    r
}

/// The `sso_group` resource.
pub fn group_resource(inst: &Instance, g: &IcGroup) -> pb::Resource {
    let arn = group_arn(inst, &g.id);
    let mut profile = Map::new();
    profile.insert("aws_group_type".into(), json!("sso"));
    profile.insert("aws_group_name".into(), json!(g.display_name));
    profile.insert("aws_group_id".into(), json!(g.id));
    if !g.external_ids.is_empty() {
        profile.insert("external_ids".into(), external_ids_json(&g.external_ids));
    }
    let mut r = resource(
        rid(rt::SSO_GROUP, &arn),
        &g.display_name,
        None,
        vec![v1_identifier(&arn), pack(&pb::GroupTrait::default())],
        Some(to_struct(&Value::Object(profile))),
    );
    r.description = opt(&g.description);
    r
}

/// The `member` entitlement of an `sso_group` resource.
pub fn group_member_entitlement(group: &pb::Resource) -> pb::Entitlement {
    let arn = group.id.clone().unwrap_or_default().resource;
    entitlement(
        ids::entitlement_id(rt::SSO_GROUP, &arn, "member"),
        group.clone(),
        "member",
        format!("{} Group Member", group.display_name),
        format!("Is member of the {} SSO group in AWS", group.display_name),
        &[rt::SSO_USER],
        vec![v1_identifier(ids::v1_membership(&arn))],
    )
}

/// The `permission_set` resource; its profile (an orgsync addition) says what it grants.
pub fn permission_set_resource(ps: &PermissionSet) -> pb::Resource {
    let mut profile = Map::new();
    profile.insert("aws_permission_set_arn".into(), json!(ps.arn));
    if let Some(d) = &ps.session_duration {
        profile.insert("aws_session_duration".into(), json!(d));
    }
    if let Some(r) = ps.relay_state.as_ref().filter(|r| !r.is_empty()) {
        profile.insert("aws_relay_state".into(), json!(r));
    }
    profile.insert(
        "aws_managed_policies".into(),
        json!(ps.managed.iter().map(|p| &p.arn).collect::<Vec<_>>()),
    );
    profile.insert(
        "aws_customer_managed_policies".into(),
        json!(
            ps.customer_managed
                .iter()
                .map(CustomerPolicyRef::path_name)
                .collect::<Vec<_>>()
        ),
    );
    profile.insert("aws_inline_policy".into(), json!(ps.inline.is_some()));
    match &ps.boundary {
        Some(Boundary::Managed(arn)) => {
            profile.insert("aws_permissions_boundary".into(), json!(arn));
        }
        Some(Boundary::CustomerManaged(r)) => {
            profile.insert("aws_permissions_boundary".into(), json!(r.path_name()));
        }
        None => {}
    }
    let mut r = resource(
        rid(rt::PERMISSION_SET, &ps.arn),
        &ps.name,
        None,
        vec![
            child_type(rt::INLINE_POLICY),
            pack(&pb::RoleTrait::default()),
        ],
        Some(to_struct(&Value::Object(profile))),
    );
    r.description = opt(&ps.description);
    r
}

/// The `<account>|<psArn>` entitlement on an account resource, as listed (§3) or, with
/// `embedded`, as baton-aws embeds it in assignment grants (no slug, grantable_to reversed).
pub fn account_entitlement(
    account: &pb::Resource,
    account_id: &str,
    ps: &PermissionSet,
    embedded: bool,
) -> pb::Entitlement {
    let id = ids::account_permission_set_entitlement(account_id, &ps.arn);
    let mut e = entitlement(
        id.clone(),
        account.clone(),
        &format!("{} access", ps.name),
        format!("{} Permission Set", ps.name),
        opt(&ps.description),
        if embedded {
            &[rt::SSO_GROUP, rt::SSO_USER]
        } else {
            &[rt::SSO_USER, rt::SSO_GROUP]
        },
        vec![v1_identifier(&id)],
    );
    if embedded {
        e.slug = String::new();
    }
    e
}

/// The `permission_set_assignment` binding of `ps` to `account_id`.
pub fn binding_resource(ps: &PermissionSet, account_id: &str) -> pb::Resource {
    resource(
        rid(
            rt::PERMISSION_SET_ASSIGNMENT,
            &ids::binding_id(&ps.arn, account_id),
        ),
        &format!("{} on {account_id}", ps.name),
        Some(rid(rt::ACCOUNT, account_id)),
        vec![pack(&pb::ScopeBindingTrait {
            role_id: Some(rid(rt::PERMISSION_SET, &ps.arn)),
            scope_resource_id: Some(rid(rt::ACCOUNT, account_id)),
        })],
        None,
    )
}

/// The `assigned` entitlement of a binding.
pub fn binding_entitlement(binding: &pb::Resource) -> pb::Entitlement {
    let id = binding.id.clone().unwrap_or_default().resource;
    entitlement(
        ids::entitlement_id(rt::PERMISSION_SET_ASSIGNMENT, &id, "assigned"),
        binding.clone(),
        "assigned",
        "assigned".to_string(),
        String::new(),
        &[rt::SSO_USER, rt::SSO_GROUP],
        vec![],
    )
}

fn principal_of(inst: &Instance, a: &Assignment) -> (&'static str, String) {
    match a.kind {
        PrincipalKind::User => (rt::SSO_USER, user_arn(inst, &a.principal_id)),
        PrincipalKind::Group => (rt::SSO_GROUP, group_arn(inst, &a.principal_id)),
    }
}

/// The group's `member` entitlement id when the principal is a group: holders of it get the
/// grant too.
fn group_expansion(ptype: &str, principal: &str) -> Option<prost_types::Any> {
    (ptype == rt::SSO_GROUP).then(|| {
        grant_expandable(
            ids::entitlement_id(rt::SSO_GROUP, principal, "member"),
            false,
        )
    })
}

/// Maps a snapshot to records. `accounts` are the `account` resources that may hold
/// permission-set entitlements (the run's accounts Identity Center can assign to), by id;
/// `partition` resolves customer-managed policy references.
pub fn ic_records(
    snap: &IcSnapshot,
    accounts: &BTreeMap<String, pb::Resource>,
    partition: &str,
) -> IcRecords {
    let mut made = RecordSet::default();
    identity_store_records(snap, &mut made);
    let aws_policies = permission_set_records(snap, &mut made);
    let shared = shared_policy_records(&aws_policies);

    // Account entitlements: every permission set on every account.
    for (account_id, account) in accounts {
        for ps in &snap.permission_sets {
            made.ents
                .push(account_entitlement(account, account_id, ps, false));
        }
    }

    let ps_by_arn: BTreeMap<&str, &PermissionSet> = snap
        .permission_sets
        .iter()
        .map(|p| (p.arn.as_str(), p))
        .collect();
    let (bindings, unknown_permission_set) = account_grants(snap, accounts, &ps_by_arn, &mut made);
    let binding_ents = binding_records(&bindings, &ps_by_arn, partition, &mut made);
    binding_grants(snap, &binding_ents, &mut made);

    IcRecords {
        records: made.into_records(),
        shared,
        unknown_permission_set,
    }
}

/// Users, groups, their member entitlements and the membership grants (user members only).
fn identity_store_records(snap: &IcSnapshot, made: &mut RecordSet) {
    let inst = &snap.instance;
    for u in &snap.users {
        let mut r = user_resource(inst, u);
        if let Some(s) = snap.scim.get(&u.id) {
            let profile = r.profile.get_or_insert_with(Default::default);
            if let Some(active) = s.active {
                profile.fields.insert(
                    "aws_scim_active".into(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::BoolValue(active)),
                    },
                );
            }
            profile.fields.insert(
                "orgsync_scim_matched_by".into(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue(s.by.as_str().into())),
                },
            );
        }
        made.resources.push(r);
    }
    let users: HashSet<&str> = snap.users.iter().map(|u| u.id.as_str()).collect();
    for g in &snap.groups {
        let res = group_resource(inst, g);
        let ent = group_member_entitlement(&res);
        let garn = group_arn(inst, &g.id);
        for m in snap.memberships.iter().filter(|m| m.group_id == g.id) {
            if !users.contains(m.user_id.as_str()) {
                tracing::debug!(membership = %m.id, "membership of a user the store did not list; kept");
            }
            let uarn = user_arn(inst, &m.user_id);
            made.grants.push(grant(
                m.id.clone(),
                entitlement_ref(&ent.id, res.clone()),
                rid(rt::SSO_USER, &uarn),
                vec![v1_identifier(ids::v1_membership_grant(&garn, &uarn))],
            ));
        }
        made.ents.push(ent);
        made.resources.push(res);
    }
}

/// Permission sets: resource, inline policy, AWS-managed policy grants. Returns the
/// AWS-managed policies they use, by ARN.
fn permission_set_records<'a>(
    snap: &'a IcSnapshot,
    made: &mut RecordSet,
) -> BTreeMap<&'a str, &'a Attached> {
    let mut aws_policies: BTreeMap<&str, &Attached> = BTreeMap::new();
    for ps in &snap.permission_sets {
        made.resources.push(permission_set_resource(ps));
        if let Some(doc) = &ps.inline {
            let (r, e, g) = inline_policy(
                rt::PERMISSION_SET,
                &ps.arn,
                "inline",
                Some(doc),
                format!("Inline policy attached to permission set {}", ps.arn),
                None,
            );
            made.resources.push(r);
            made.ents.push(e);
            made.grants.push(g);
        }
        for p in &ps.managed {
            made.grants
                .push(policy_grant(p, rid(rt::PERMISSION_SET, &ps.arn), None));
            if p.arn.contains(":iam::aws:policy/") {
                aws_policies.insert(&p.arn, p);
            }
        }
    }
    aws_policies
}

/// Referenced AWS-managed policies exist as resources even if no IAM principal uses them.
fn shared_policy_records(aws_policies: &BTreeMap<&str, &Attached>) -> Vec<Record> {
    let mut shared = vec![];
    for p in aws_policies.values() {
        let r = aws_policy_resource(&ManagedPolicy {
            name: p.name.clone(),
            arn: p.arn.clone(),
            description: None,
            document: None,
        });
        shared.push(Record::Resource(r.clone()));
        shared.push(Record::Entitlement(policy_entitlement(&r)));
    }
    shared
}

/// The account grant of every assignment in the run's accounts. Returns the (account,
/// permission set) pairs assigned, and how many assignments name an unknown permission set.
fn account_grants<'a>(
    snap: &'a IcSnapshot,
    accounts: &BTreeMap<String, pb::Resource>,
    ps_by_arn: &BTreeMap<&str, &'a PermissionSet>,
    made: &mut RecordSet,
) -> (BTreeSet<(&'a str, &'a str)>, usize) {
    let mut unknown_permission_set = 0;
    let mut bindings: BTreeSet<(&str, &str)> = BTreeSet::new();
    for a in snap.assignments.iter().flatten() {
        let Some(account) = accounts.get(&a.account) else {
            continue;
        };
        let Some(ps) = ps_by_arn.get(a.permission_set.as_str()) else {
            unknown_permission_set += 1;
            continue;
        };
        let (ptype, principal) = principal_of(&snap.instance, a);
        let ent_id = ids::account_permission_set_entitlement(&a.account, &ps.arn);
        let mut anns = vec![v1_identifier(format!("grant:{ent_id}:{principal}"))];
        anns.extend(group_expansion(ptype, &principal));
        made.grants.push(grant(
            ids::prefixed_grant_id(ptype, &principal, &ent_id),
            account_entitlement(account, &a.account, ps, true),
            rid(ptype, &principal),
            anns,
        ));
        bindings.insert((a.account.as_str(), ps.arn.as_str()));
    }
    (bindings, unknown_permission_set)
}

/// A binding resource and `assigned` entitlement per assigned pair, with the grants of the
/// permission set's policies (customer-managed ones resolved in the account). Returns the
/// entitlements by pair.
fn binding_records<'a>(
    bindings: &BTreeSet<(&'a str, &'a str)>,
    ps_by_arn: &BTreeMap<&str, &PermissionSet>,
    partition: &str,
    made: &mut RecordSet,
) -> BTreeMap<(&'a str, &'a str), pb::Entitlement> {
    let mut binding_ents = BTreeMap::new();
    for &(account_id, ps_arn) in bindings {
        let Some(ps) = ps_by_arn.get(ps_arn) else {
            continue;
        };
        let res = binding_resource(ps, account_id);
        let ent = binding_entitlement(&res);
        let bid = ids::binding_id(&ps.arn, account_id);
        let policies = ps
            .managed
            .iter()
            .cloned()
            .chain(ps.customer_managed.iter().map(|r| Attached {
                name: r.name.clone(),
                arn: r.arn_in(partition, account_id),
            }));
        for p in policies {
            made.grants.push(policy_grant(
                &p,
                rid(rt::PERMISSION_SET_ASSIGNMENT, &bid),
                Some(grant_expandable(&ent.id, false)),
            ));
        }
        binding_ents.insert((account_id, ps_arn), ent.clone());
        made.ents.push(ent);
        made.resources.push(res);
    }
    binding_ents
}

/// The binding grant of every assignment whose pair has a binding.
fn binding_grants(
    snap: &IcSnapshot,
    binding_ents: &BTreeMap<(&str, &str), pb::Entitlement>,
    made: &mut RecordSet,
) {
    for a in snap.assignments.iter().flatten() {
        let Some(ent) = binding_ents.get(&(a.account.as_str(), a.permission_set.as_str())) else {
            continue;
        };
        let (ptype, principal) = principal_of(&snap.instance, a);
        let mut anns = vec![v1_identifier(format!("grant:{}:{principal}", ent.id))];
        anns.extend(group_expansion(ptype, &principal));
        made.grants.push(grant(
            ids::prefixed_grant_id(ptype, &principal, &ent.id),
            ent.clone(),
            rid(ptype, &principal),
            anns,
        ));
    }
}

#[cfg(test)]
mod tests;
