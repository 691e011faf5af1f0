//! Assembling one account's records from its snapshot: which resources, entitlements and
//! grants an account yields and in which order (`iam_records`), handed over in parts for a
//! large account (`iam_records_in_parts`), with group membership and role trust grants.
//!
//! Not here: the record of each single IAM entity (the parent module).

use std::collections::HashSet;

use crate::connector::collector::AccountInfo;
use crate::model::{Kind, Record, ids, pb};
use crate::policy::{AwsPrincipal, parse_trust};

use super::*;

/// Records of one unit in the making, each kind in the order it is made.
#[derive(Default)]
pub(crate) struct RecordSet {
    pub resources: Vec<pb::Resource>,
    pub ents: Vec<pb::Entitlement>,
    pub grants: Vec<pb::Grant>,
}

impl RecordSet {
    /// Resources, then entitlements, then grants, each id once: a policy may name one
    /// principal twice (e.g. the root ARN and the bare account id), and the first record of
    /// an id is kept.
    pub(crate) fn into_records(mut self) -> Vec<Record> {
        self.take_records(&mut HashSet::new())
    }

    /// The records made so far, as [`RecordSet::into_records`] orders them, leaving the set
    /// empty: a record whose (kind, id) is in `seen` (an earlier take) is left out, the others
    /// are added to it.
    pub(crate) fn take_records(&mut self, seen: &mut HashSet<(Kind, String)>) -> Vec<Record> {
        let mut records = Vec::with_capacity(self.len());
        records.extend(self.resources.drain(..).map(Record::Resource));
        records.extend(self.ents.drain(..).map(Record::Entitlement));
        records.extend(self.grants.drain(..).map(Record::Grant));
        records.retain(|r| seen.insert((r.kind(), r.external_id())));
        records
    }

    /// Records made so far.
    pub(crate) fn len(&self) -> usize {
        self.resources.len() + self.ents.len() + self.grants.len()
    }
}

/// Maps one account's IAM snapshot to records (the `account_iam` resource included).
pub fn iam_records(
    acct: &AccountInfo,
    snap: &IamSnapshot,
    opts: IamRecordOptions,
) -> AccountRecords {
    let mut records = vec![];
    let shared = iam_records_in_parts(acct, snap, opts, usize::MAX, &mut |part| {
        records.extend(part)
    });
    AccountRecords { records, shared }
}

/// [`iam_records`] handed to `emit` in parts of about `part` records, as they are made (each
/// record once over all parts; each part ordered as [`RecordSet::into_records`] orders them),
/// so that a large account's records need not all be in memory at once. Returns the shared
/// records (AWS-managed policies).
pub fn iam_records_in_parts(
    acct: &AccountInfo,
    snap: &IamSnapshot,
    opts: IamRecordOptions,
    part: usize,
    emit: &mut dyn FnMut(Vec<Record>),
) -> Vec<Record> {
    let mut made = RecordSet {
        resources: vec![account_iam_resource(acct)],
        ..Default::default()
    };
    let mut seen = HashSet::new();
    let mut flush = |made: &mut RecordSet, last: bool| {
        if (last && made.len() > 0) || made.len() >= part {
            emit(made.take_records(&mut seen));
        }
    };
    let mut shared: Vec<Record> = vec![];

    // Managed policies: the account's own, then AWS-managed ones (shared across accounts).
    for p in &snap.policies {
        let r = policy_resource(acct, p);
        made.ents.push(policy_entitlement(&r));
        made.resources.push(with_account_name(r, acct));
        flush(&mut made, false);
    }
    for p in &snap.aws_policies {
        let r = policy_resource(acct, p);
        shared.push(Record::Resource(r.clone()));
        shared.push(Record::Entitlement(policy_entitlement(&r)));
    }

    let mut inline_out: Vec<InlineOut> = vec![];
    for u in &snap.users {
        made.resources.push(user_resource(acct, u, snap));
        for p in &u.attached {
            made.grants
                .push(principal_policy_grant(p, rt::IAM_USER, &u.arn));
        }
        for p in &u.inline {
            inline_out.push(iam_inline(acct, rt::IAM_USER, &u.arn, p));
        }
        flush(&mut made, false);
    }
    for g in &snap.groups {
        group_records(acct, g, snap, &mut made, &mut inline_out);
        flush(&mut made, false);
    }
    for r in &snap.roles {
        role_records(acct, r, &mut made, &mut inline_out);
        flush(&mut made, false);
    }
    for i in inline_out {
        made.resources.push(i.resource);
        made.ents.push(i.entitlement);
        made.grants.push(i.grant);
        flush(&mut made, false);
    }

    if opts.sync_secrets {
        for u in &snap.users {
            for k in snap.keys.get(&u.name).into_iter().flatten() {
                made.resources.push(access_key_resource(acct, k, &u.arn));
            }
            flush(&mut made, false);
        }
    }
    flush(&mut made, true);
    shared
}

/// A group: resource, member entitlement, member grants, policy grants (inline policies into
/// `inline_out`).
fn group_records(
    acct: &AccountInfo,
    g: &Group,
    snap: &IamSnapshot,
    made: &mut RecordSet,
    inline_out: &mut Vec<InlineOut>,
) {
    let res = group_resource(acct, g);
    let member_id = ids::entitlement_id(rt::GROUP, &g.arn, "member");
    made.ents.push(entitlement(
        member_id.clone(),
        res.clone(),
        "member",
        format!("{} Group Member", g.name),
        format!("Is member of the {} IAM group in AWS", g.name),
        &[rt::IAM_USER],
        vec![v1_identifier(ids::v1_membership(&g.arn))],
    ));
    for u in snap
        .users
        .iter()
        .filter(|u| u.groups.iter().any(|n| n == &g.name))
    {
        made.grants.push(group_member_grant(&res, &u.arn));
    }
    for p in &g.attached {
        made.grants
            .push(principal_policy_grant(p, rt::GROUP, &g.arn));
    }
    for p in &g.inline {
        inline_out.push(iam_inline(acct, rt::GROUP, &g.arn, p));
    }
    made.resources.push(with_account_name(res, acct));
}

/// A role: resource, assignment entitlement, trust grants, policy grants (inline policies into
/// `inline_out`).
fn role_records(
    acct: &AccountInfo,
    r: &Role,
    made: &mut RecordSet,
    inline_out: &mut Vec<InlineOut>,
) {
    let res = role_resource(acct, r);
    let assign_id = ids::entitlement_id(rt::ROLE, &r.arn, "assignment");
    made.ents.push(entitlement(
        assign_id.clone(),
        res.clone(),
        "assignment",
        format!("{} Role", r.name),
        format!("Can assume the {} role in AWS", r.name),
        // baton-aws's four, and account_iam: an account root in the trust policy is a grant
        // to the account (docs/RESOURCE-MODEL.md), so the entitlement says it may be.
        &[
            rt::IAM_USER,
            rt::ROLE,
            rt::GROUP,
            rt::SSO_USER,
            rt::ACCOUNT_IAM,
        ],
        vec![v1_identifier(ids::v1_membership(&r.arn))],
    ));
    if let Some(doc) = &r.trust {
        made.grants.extend(trust_grants(doc, &res, &assign_id));
    }
    for p in &r.attached {
        made.grants
            .push(principal_policy_grant(p, rt::ROLE, &r.arn));
    }
    for p in &r.inline {
        inline_out.push(iam_inline(acct, rt::ROLE, &r.arn, p));
    }
    made.resources.push(with_account_name(res, acct));
}

/// A grant of the role's `assignment` entitlement `assign_id` to every AWS principal its
/// trust policy `doc` names (a role principal's own assumers through expansion).
fn trust_grants(doc: &str, res: &pb::Resource, assign_id: &str) -> Vec<pb::Grant> {
    let mut out = vec![];
    for p in parse_trust(doc).aws {
        let (principal, expand) = match &p {
            AwsPrincipal::User(arn) => (rid(rt::IAM_USER, arn), None),
            AwsPrincipal::Role(arn) => (
                rid(rt::ROLE, arn),
                Some(grant_expandable(
                    ids::entitlement_id(rt::ROLE, arn, "assignment"),
                    false,
                )),
            ),
            AwsPrincipal::Account(account) => (rid(rt::ACCOUNT_IAM, account), None),
            AwsPrincipal::Other(_) => continue,
        };
        out.push(grant(
            ids::grant_id(assign_id, &principal.resource_type, &principal.resource),
            entitlement_ref(assign_id, res.clone()),
            principal,
            expand.into_iter().collect(),
        ));
    }
    out
}
