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
    aws_policy_resource, inline_policy, policy_entitlement, policy_grant,
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
    let inst = &snap.instance;
    let mut resources: Vec<pb::Resource> = vec![];
    let mut ents: Vec<pb::Entitlement> = vec![];
    let mut grants: Vec<pb::Grant> = vec![];
    let mut shared: Vec<Record> = vec![];

    for u in &snap.users {
        resources.push(user_resource(inst, u));
    }

    // Groups, their member entitlements and the membership grants (user members only).
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
            grants.push(grant(
                m.id.clone(),
                entitlement_ref(&ent.id, res.clone()),
                rid(rt::SSO_USER, &uarn),
                vec![v1_identifier(ids::v1_membership_grant(&garn, &uarn))],
            ));
        }
        ents.push(ent);
        resources.push(res);
    }

    // Permission sets: resource, inline policy, AWS-managed policy grants.
    let mut aws_policies: BTreeMap<&str, &Attached> = BTreeMap::new();
    let ps_by_arn: BTreeMap<&str, &PermissionSet> = snap
        .permission_sets
        .iter()
        .map(|p| (p.arn.as_str(), p))
        .collect();
    for ps in &snap.permission_sets {
        resources.push(permission_set_resource(ps));
        if let Some(doc) = &ps.inline {
            let (r, e, g) = inline_policy(
                rt::PERMISSION_SET,
                &ps.arn,
                "inline",
                Some(doc),
                format!("Inline policy attached to permission set {}", ps.arn),
                None,
            );
            resources.push(r);
            ents.push(e);
            grants.push(g);
        }
        for p in &ps.managed {
            grants.push(policy_grant(p, rid(rt::PERMISSION_SET, &ps.arn), None));
            if p.arn.contains(":iam::aws:policy/") {
                aws_policies.insert(&p.arn, p);
            }
        }
    }
    // Referenced AWS-managed policies exist as resources even if no IAM principal uses them.
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

    // Account entitlements: every permission set on every account.
    for (account_id, account) in accounts {
        for ps in &snap.permission_sets {
            ents.push(account_entitlement(account, account_id, ps, false));
        }
    }

    // Assignments: account grants, bindings, binding grants.
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
        let (ptype, principal) = principal_of(inst, a);
        let ent_id = ids::account_permission_set_entitlement(&a.account, &ps.arn);
        let mut anns = vec![v1_identifier(format!("grant:{ent_id}:{principal}"))];
        anns.extend(group_expansion(ptype, &principal));
        grants.push(grant(
            ids::prefixed_grant_id(ptype, &principal, &ent_id),
            account_entitlement(account, &a.account, ps, true),
            rid(ptype, &principal),
            anns,
        ));
        bindings.insert((a.account.as_str(), ps.arn.as_str()));
    }
    let mut binding_ents: BTreeMap<(&str, &str), pb::Entitlement> = BTreeMap::new();
    for &(account_id, ps_arn) in &bindings {
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
            grants.push(policy_grant(
                &p,
                rid(rt::PERMISSION_SET_ASSIGNMENT, &bid),
                Some(grant_expandable(&ent.id, false)),
            ));
        }
        binding_ents.insert((account_id, ps_arn), ent.clone());
        ents.push(ent);
        resources.push(res);
    }
    for a in snap.assignments.iter().flatten() {
        let Some(ent) = binding_ents.get(&(a.account.as_str(), a.permission_set.as_str())) else {
            continue;
        };
        let (ptype, principal) = principal_of(inst, a);
        let mut anns = vec![v1_identifier(format!("grant:{}:{principal}", ent.id))];
        anns.extend(group_expansion(ptype, &principal));
        grants.push(grant(
            ids::prefixed_grant_id(ptype, &principal, &ent.id),
            ent.clone(),
            rid(ptype, &principal),
            anns,
        ));
    }

    let mut records: Vec<Record> = resources.into_iter().map(Record::Resource).collect();
    records.extend(ents.into_iter().map(Record::Entitlement));
    records.extend(grants.into_iter().map(Record::Grant));
    let mut seen = HashSet::new();
    records.retain(|r| seen.insert((r.kind(), r.external_id())));
    IcRecords {
        records,
        shared,
        unknown_permission_set,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::any;
    use crate::model::profile::from_struct;

    const PS1: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-aaaaaaaaaaaaaaaa";
    const PS2: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-bbbbbbbbbbbbbbbb";
    const A1: &str = "111111111111";
    const A2: &str = "222222222222";
    const UA: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/user/u-1";
    const UB: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/user/u-2";
    const GA: &str = "arn:aws:identitystore:eu-west-1::d-1234567890/group/g-1";

    fn instance() -> Instance {
        Instance {
            arn: "arn:aws:sso:::instance/ssoins-1111111111111111".into(),
            identity_store_id: "d-1234567890".into(),
            region: "eu-west-1".into(),
            owner_account: Some(A1.into()),
            name: None,
            status: Some("ACTIVE".into()),
            kind: InstanceKind::Organization,
        }
    }

    fn user(id: &str, name: &str, emails: &[(&str, bool)]) -> IcUser {
        IcUser {
            id: id.into(),
            user_name: name.into(),
            display_name: Some(format!("{name} display")),
            status: UserStatus::Unknown,
            name: PersonName {
                given: Some("Ada".into()),
                family: Some("Lovelace".into()),
                ..Default::default()
            },
            emails: emails
                .iter()
                .map(|(v, p)| Email {
                    value: v.to_string(),
                    primary: *p,
                })
                .collect(),
            external_ids: vec![],
        }
    }

    fn account(id: &str) -> pb::Resource {
        resource(
            rid(rt::ACCOUNT, id),
            &format!("acct-{id}"),
            None,
            vec![v1_identifier(id), pack(&pb::AppTrait::default())],
            None,
        )
    }

    fn snapshot() -> IcSnapshot {
        let a = |account: &str, ps: &str, kind, principal: &str| Assignment {
            account: account.into(),
            permission_set: ps.into(),
            kind,
            principal_id: principal.into(),
        };
        IcSnapshot {
            instance: instance(),
            users: vec![
                user(
                    "u-1",
                    "ada@example.com",
                    &[
                        ("ada@example.com", false),
                        ("ADA@example.com", false),
                        ("ada@home.example", true),
                    ],
                ),
                user("u-2", "bob", &[]),
            ],
            groups: vec![IcGroup {
                id: "g-1".into(),
                display_name: "Ops".into(),
                description: Some("Operators".into()),
                external_ids: vec![ExternalId {
                    issuer: "https://idp.example".into(),
                    id: "ops".into(),
                }],
            }],
            memberships: vec![Membership {
                id: "m-1".into(),
                group_id: "g-1".into(),
                user_id: "u-2".into(),
            }],
            permission_sets: vec![
                PermissionSet {
                    arn: PS1.into(),
                    name: "Admin".into(),
                    description: Some("Full access".into()),
                    session_duration: Some("PT4H".into()),
                    relay_state: None,
                    created: None,
                    managed: vec![Attached {
                        name: "AdministratorAccess".into(),
                        arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                    }],
                    customer_managed: vec![CustomerPolicyRef::new("deploy", Some("/app"))],
                    inline: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
                    boundary: Some(Boundary::CustomerManaged(CustomerPolicyRef::new(
                        "edge", None,
                    ))),
                },
                PermissionSet {
                    arn: PS2.into(),
                    name: "ReadOnly".into(),
                    description: None,
                    session_duration: Some("PT1H".into()),
                    relay_state: Some("https://console.aws.amazon.com/".into()),
                    created: None,
                    managed: vec![],
                    customer_managed: vec![],
                    inline: None,
                    boundary: None,
                },
            ],
            assignments: Some(
                [
                    a(A1, PS1, PrincipalKind::User, "u-1"),
                    a(A2, PS1, PrincipalKind::Group, "g-1"),
                    // Not in the run's accounts, and a permission set the snapshot lacks.
                    a("333333333333", PS1, PrincipalKind::User, "u-1"),
                    a(
                        A1,
                        "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-cccccccccccccccc",
                        PrincipalKind::User,
                        "u-2",
                    ),
                ]
                .into_iter()
                .collect(),
            ),
        }
    }

    fn accounts() -> BTreeMap<String, pb::Resource> {
        [A1, A2]
            .iter()
            .map(|a| (a.to_string(), account(a)))
            .collect()
    }

    fn ids_of(out: &IcRecords, kind: crate::model::Kind) -> BTreeSet<String> {
        out.records
            .iter()
            .filter(|r| r.kind() == kind)
            .map(|r| r.external_id())
            .collect()
    }

    fn set(items: &[String]) -> BTreeSet<String> {
        items.iter().cloned().collect()
    }

    #[test]
    fn ic_records_exact_ids() {
        use crate::model::Kind;
        let out = ic_records(&snapshot(), &accounts(), "aws");
        let inline = format!("{PS1}::inline::inline");
        assert_eq!(
            ids_of(&out, Kind::Resource),
            set(&[
                format!("sso_user:{UA}"),
                format!("sso_user:{UB}"),
                format!("sso_group:{GA}"),
                format!("permission_set:{PS1}"),
                format!("permission_set:{PS2}"),
                format!("inline_policy:{inline}"),
                format!("permission_set_assignment:{PS1}-{A1}"),
                format!("permission_set_assignment:{PS1}-{A2}"),
            ])
        );
        assert_eq!(
            ids_of(&out, Kind::Entitlement),
            set(&[
                format!("sso_group:{GA}:member"),
                format!("inline_policy:{inline}:attached"),
                format!("{A1}|{PS1}"),
                format!("{A1}|{PS2}"),
                format!("{A2}|{PS1}"),
                format!("{A2}|{PS2}"),
                format!("permission_set_assignment:{PS1}-{A1}:assigned"),
                format!("permission_set_assignment:{PS1}-{A2}:assigned"),
            ]),
            "every permission set on every account, bindings only where assigned"
        );
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        assert_eq!(
            ids_of(&out, Kind::Grant),
            set(&[
                "m-1".to_string(),
                format!("inline_policy:{inline}:attached:permission_set:{PS1}"),
                format!("iam_policy:{admin}:attached:permission_set:{PS1}"),
                format!("grant:sso_user:{UA}:{A1}|{PS1}"),
                format!("grant:sso_group:{GA}:{A2}|{PS1}"),
                format!("grant:sso_user:{UA}:permission_set_assignment:{PS1}-{A1}:assigned"),
                format!("grant:sso_group:{GA}:permission_set_assignment:{PS1}-{A2}:assigned"),
                format!("iam_policy:{admin}:attached:permission_set_assignment:{PS1}-{A1}"),
                format!("iam_policy:{admin}:attached:permission_set_assignment:{PS1}-{A2}"),
                format!(
                    "iam_policy:arn:aws:iam::{A1}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A1}"
                ),
                format!(
                    "iam_policy:arn:aws:iam::{A2}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A2}"
                ),
            ])
        );
        assert_eq!(out.unknown_permission_set, 1);
        let shared: Vec<String> = out.shared.iter().map(|r| r.external_id()).collect();
        assert_eq!(
            shared,
            vec![
                format!("iam_policy:{admin}"),
                format!("iam_policy:{admin}:attached")
            ]
        );
    }

    fn find_grant<'a>(out: &'a IcRecords, id: &str) -> &'a pb::Grant {
        out.records
            .iter()
            .find_map(|r| match r {
                Record::Grant(g) if g.id == id => Some(g),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no grant {id}"))
    }

    #[test]
    fn ic_records_users_have_one_primary_email_login_and_name() {
        let u = user_resource(&instance(), &snapshot().users[0]);
        assert_eq!(u.display_name, "ada@example.com");
        let t: pb::UserTrait = any::find(&u.annotations).unwrap();
        let emails: Vec<(&str, bool)> = t
            .emails
            .iter()
            .map(|e| (e.address.as_str(), e.is_primary))
            .collect();
        assert_eq!(
            emails,
            vec![("ada@example.com", false), ("ada@home.example", true)],
            "no duplicate, the store's primary wins"
        );
        assert_eq!(t.login, "ada@example.com");
        assert_eq!(t.account_type, pb::user_trait::AccountType::Human as i32);
        let n = t.structured_name.unwrap();
        assert_eq!(
            (n.given_name.as_str(), n.family_name.as_str()),
            ("Ada", "Lovelace")
        );
        assert_eq!(u.status.unwrap().status, 0, "no UserStatus: unspecified");
        assert_eq!(
            any::find::<pb::V1Identifier>(&u.annotations).unwrap().id,
            UA
        );
        assert_eq!(
            from_struct(u.profile.as_ref().unwrap()),
            json!({"aws_user_type": "sso", "aws_user_name": "ada@example.com display", "aws_user_id": "u-1"})
        );
        // No store primary: the first address is primary.
        let mut plain = snapshot().users[0].clone();
        plain.emails.iter_mut().for_each(|e| e.primary = false);
        plain.status = UserStatus::Disabled;
        let r = user_resource(&instance(), &plain);
        let t: pb::UserTrait = any::find(&r.annotations).unwrap();
        assert!(t.emails[0].is_primary && !t.emails[1].is_primary);
        assert_eq!(
            t.status.unwrap().status,
            pb::user_trait::status::Status::Disabled as i32
        );
        assert_eq!(
            r.status.unwrap().status,
            pb::status::ResourceStatus::Disabled as i32
        );
    }

    #[test]
    fn ic_records_groups_memberships_and_permission_sets() {
        let out = ic_records(&snapshot(), &accounts(), "aws");
        let m = find_grant(&out, "m-1");
        assert_eq!(
            m.principal.as_ref().unwrap().id,
            Some(rid(rt::SSO_USER, UB))
        );
        let ent = m.entitlement.as_ref().unwrap();
        assert_eq!(ent.id, format!("sso_group:{GA}:member"));
        let embedded = ent.resource.as_ref().unwrap();
        assert_eq!(embedded.display_name, "Ops", "the full group resource");
        assert_eq!(embedded.description, "Operators");
        assert_eq!(
            from_struct(embedded.profile.as_ref().unwrap())["external_ids"],
            json!([{"id": "ops", "issuer": "https://idp.example"}])
        );
        assert_eq!(
            any::find::<pb::V1Identifier>(&m.annotations).unwrap().id,
            format!("grant:membership:{GA}:{UB}")
        );
        let ps = out
            .records
            .iter()
            .find_map(|r| match r {
                Record::Resource(x) if x.id == Some(rid(rt::PERMISSION_SET, PS1)) => Some(x),
                _ => None,
            })
            .unwrap();
        assert_eq!(ps.description, "Full access");
        assert_eq!(
            from_struct(ps.profile.as_ref().unwrap()),
            json!({
                "aws_permission_set_arn": PS1,
                "aws_session_duration": "PT4H",
                "aws_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                "aws_customer_managed_policies": ["/app/deploy"],
                "aws_inline_policy": true,
                "aws_permissions_boundary": "/edge",
            })
        );
        assert_eq!(
            any::find::<pb::ChildResourceType>(&ps.annotations)
                .unwrap()
                .resource_type_id,
            rt::INLINE_POLICY
        );
    }

    #[test]
    fn ic_records_account_grants_match_baton_aws() {
        let out = ic_records(&snapshot(), &accounts(), "aws");
        let g = find_grant(&out, &format!("grant:sso_group:{GA}:{A2}|{PS1}"));
        let anns = &g.annotations;
        assert_eq!(
            any::find::<pb::V1Identifier>(anns).unwrap().id,
            format!("grant:{A2}|{PS1}:{GA}")
        );
        let ge: pb::GrantExpandable = any::find(anns).unwrap();
        assert_eq!(ge.entitlement_ids, vec![format!("sso_group:{GA}:member")]);
        assert!(!ge.shallow);
        let e = g.entitlement.as_ref().unwrap();
        assert_eq!(e.display_name, "Admin Permission Set");
        assert_eq!(e.description, "Full access");
        assert_eq!(e.slug, "", "embedded without slug");
        let to: Vec<&str> = e.grantable_to.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(to, vec![rt::SSO_GROUP, rt::SSO_USER]);
        assert_eq!(
            e.resource.as_ref().unwrap(),
            &account(A2),
            "the full account"
        );
        // A user's grant has no expansion.
        let u = find_grant(&out, &format!("grant:sso_user:{UA}:{A1}|{PS1}"));
        assert!(any::find::<pb::GrantExpandable>(&u.annotations).is_none());
        // The listed entitlement has the slug and baton's grantable_to order.
        let listed = out
            .records
            .iter()
            .find_map(|r| match r {
                Record::Entitlement(x) if x.id == format!("{A1}|{PS2}") => Some(x),
                _ => None,
            })
            .unwrap();
        assert_eq!(listed.slug, "ReadOnly access");
        let to: Vec<&str> = listed.grantable_to.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(to, vec![rt::SSO_USER, rt::SSO_GROUP]);
    }

    #[test]
    fn ic_records_bindings_and_their_grants() {
        let out = ic_records(&snapshot(), &accounts(), "aws");
        let b = out
            .records
            .iter()
            .find_map(|r| match r {
                Record::Resource(x)
                    if x.id == Some(rid(rt::PERMISSION_SET_ASSIGNMENT, &format!("{PS1}-{A2}"))) =>
                {
                    Some(x)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(b.display_name, format!("Admin on {A2}"));
        assert_eq!(b.parent_resource_id, Some(rid(rt::ACCOUNT, A2)));
        let sb: pb::ScopeBindingTrait = any::find(&b.annotations).unwrap();
        assert_eq!(sb.role_id, Some(rid(rt::PERMISSION_SET, PS1)));
        assert_eq!(sb.scope_resource_id, Some(rid(rt::ACCOUNT, A2)));
        let assigned = format!("permission_set_assignment:{PS1}-{A2}:assigned");
        let g = find_grant(&out, &format!("grant:sso_group:{GA}:{assigned}"));
        assert_eq!(g.entitlement.as_ref().unwrap().slug, "assigned");
        assert_eq!(g.entitlement.as_ref().unwrap().resource.as_ref(), Some(b));
        assert_eq!(
            any::find::<pb::V1Identifier>(&g.annotations).unwrap().id,
            format!("grant:{assigned}:{GA}")
        );
        let p = find_grant(
            &out,
            &format!(
                "iam_policy:arn:aws:iam::{A2}:policy/app/deploy:attached:permission_set_assignment:{PS1}-{A2}"
            ),
        );
        let ge: pb::GrantExpandable = any::find(&p.annotations).unwrap();
        assert_eq!(ge.entitlement_ids, vec![assigned]);
        assert_eq!(
            p.entitlement
                .as_ref()
                .unwrap()
                .resource
                .as_ref()
                .unwrap()
                .display_name,
            "deploy"
        );
    }

    #[test]
    fn ic_records_without_accounts_have_no_account_data() {
        let out = ic_records(&snapshot(), &BTreeMap::new(), "aws");
        assert!(!out.records.iter().any(|r| {
            let id = r.external_id();
            id.contains('|') || id.contains("permission_set_assignment")
        }));
        assert_eq!(
            CustomerPolicyRef::new("x", Some("a/b")).path_name(),
            "/a/b/x"
        );
    }
}
