//! IAM Identity Center, read once per organization, and how a sync takes it in. The instance
//! is found by `discover` (which `orgsync check` uses too), read by `read` (identity store,
//! permission sets, account assignments by the cheapest `strategy`), the SDK's answers mapped
//! to the plain `model` by `convert` (which provisioning uses too, so what it prints is what a
//! sync reads), and the model mapped to records by `records`. This file holds the options a
//! sync takes ([`IcOptions`]) and the engine wiring: [`attach`] decides whether the phase runs
//! and `run_phase` runs it.
//!
//! Not here: the command-line flags (`cli::ic_args`), provisioning (`membership`,
//! `assignment`), application assignments.

pub mod assignment;
mod convert;
pub(crate) mod discover;
pub mod membership;
pub mod model;
mod read;
pub mod records;
pub mod strategy;

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::{AwsError, ErrorClass, Session};
use crate::model::pb;
use crate::model::types as rt;

use crate::sync::engine::{Phase, PhaseInput, PhaseOutput, Plan};
pub(crate) use convert::{ic_group_of, ic_user_of};
use discover::{Located, locate};
use model::*;
use read::Reader;
use records::ic_records;
use strategy::StrategyChoice;

/// Whether a sync reads Identity Center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcMode {
    /// When an instance is found; off (with a note) when there is none or the caller may not
    /// list instances.
    Auto,
    /// Must be synced: a missing or unreadable instance fails the phase (exit 3).
    On,
    Off,
}

/// How a sync (and `orgsync check`) treats Identity Center.
#[derive(Debug, Clone)]
pub struct IcOptions {
    pub mode: IcMode,
    /// The instance's region; `None` searches the session's region then
    /// `discover::PROBE_REGIONS`.
    pub sso_region: Option<String>,
    /// The instance to sync when the caller sees several; `None` takes the organization
    /// instance.
    pub instance_arn: Option<String>,
    /// How account assignments are enumerated.
    pub strategy: StrategyChoice,
}

/// The resource types an Identity Center sync declares.
pub const IC_TYPES: [&str; 4] = [
    rt::SSO_USER,
    rt::SSO_GROUP,
    rt::PERMISSION_SET,
    rt::PERMISSION_SET_ASSIGNMENT,
];

/// Decides whether Identity Center is synced and, if so, adds its resource types and phase to
/// `plan` (one `ListInstances` per searched region; see `discover::PROBE_REGIONS`).
pub async fn attach(session: &Session, opts: &IcOptions, plan: &mut Plan) {
    if opts.mode == IcMode::Off {
        return;
    }
    let Located {
        tried,
        management,
        found,
    } = locate(
        session,
        plan,
        opts.sso_region.as_deref(),
        opts.instance_arn.as_deref(),
    )
    .await;
    let caller = session.caller.account.to_string();
    let (instance, notes) = match found {
        Ok(p) => p,
        Err(missing) => {
            let why = missing.why(&tried);
            if opts.mode == IcMode::Auto {
                plan.notes.push(format!("Identity Center: off ({why})"));
                return;
            }
            let err = missing.error().cloned().unwrap_or_else(|| {
                AwsError::local("sso", "ListInstances", ErrorClass::NotFound, why.clone())
            });
            add_types(plan);
            plan.phases.push(Phase {
                name: "identity center".into(),
                run: Box::new(move |_input| {
                    Box::pin(async move {
                        PhaseOutput {
                            notes: vec![format!("Identity Center: not synced ({why})")],
                            error: Some(err),
                            ..Default::default()
                        }
                    })
                }),
            });
            return;
        }
    };
    let delegated = instance.kind == InstanceKind::Organization
        && instance.owner_account.as_deref() != Some(caller.as_str());
    let mut head = format!(
        "Identity Center: {} instance {} in {} (identity store {}, owner {}){}",
        instance.kind.as_str(),
        instance.arn,
        instance.region,
        instance.identity_store_id,
        instance.owner_account.as_deref().unwrap_or("unknown"),
        if opts.sso_region.is_some() {
            " from --sso-region".to_string()
        } else {
            format!("; regions searched: {}", tried.join(", "))
        }
    );
    if delegated {
        head.push_str(&format!(
            "; running as delegated administrator {caller}: the management account's assignments are not visible to it and are left out"
        ));
    }
    if instance.kind == InstanceKind::Account {
        head.push_str("; account instances have no permission sets or account assignments");
    }
    tracing::info!(instance = %instance.arn, region = %instance.region, kind = instance.kind.as_str(), "Identity Center instance");
    plan.notes.push(head);
    plan.notes.extend(notes);
    add_types(plan);
    let ctx = PhaseContext {
        instance,
        strategy: opts.strategy,
        skip_account: delegated.then_some(management).flatten(),
        partition: session.caller.partition.to_string(),
    };
    plan.phases.push(Phase {
        name: "identity center".into(),
        run: Box::new(move |input| Box::pin(run_phase(input, ctx))),
    });
}

fn add_types(plan: &mut Plan) {
    for t in IC_TYPES {
        if !plan.resource_types.contains(&t) {
            plan.resource_types.push(t);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The phase.

/// What the phase needs from planning.
#[derive(Debug, Clone)]
struct PhaseContext {
    instance: Instance,
    strategy: StrategyChoice,
    /// An account Identity Center will not show the caller (the management account, for a
    /// delegated administrator).
    skip_account: Option<String>,
    partition: String,
}

/// False for an account resource marked disabled: `connector::org` gives every account that is
/// not ACTIVE (suspended, pending closure) the Disabled status, and such accounts cannot be
/// assigned to.
pub fn account_is_active(r: &pb::Resource) -> bool {
    r.status
        .as_ref()
        .is_none_or(|s| s.status != pb::status::ResourceStatus::Disabled as i32)
}

async fn run_phase(input: PhaseInput<'_>, ctx: PhaseContext) -> PhaseOutput {
    let session = input.session;
    let reader = Reader::new(session.management(), session.ic_limiter(), &ctx.instance);
    let accounts: BTreeMap<String, pb::Resource> = input
        .accounts
        .iter()
        .filter(|(id, r)| Some(id.as_str()) != ctx.skip_account.as_deref() && account_is_active(r))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    let mut out = PhaseOutput::default();
    let mut snap = IcSnapshot {
        instance: ctx.instance.clone(),
        users: vec![],
        groups: vec![],
        memberships: vec![],
        permission_sets: vec![],
        assignments: None,
    };
    let org = ctx.instance.kind == InstanceKind::Organization;
    match reader.identity_store().await {
        Ok((u, g, m)) => {
            snap.users = u;
            snap.groups = g;
            snap.memberships = m;
        }
        Err(e) => {
            out.notes
                .push(format!("Identity Center: identity store not read ({e})"));
            out.error = Some(e);
            return out;
        }
    }
    if org {
        match reader.permission_sets().await {
            Ok(p) => snap.permission_sets = p,
            Err(e) => {
                out.notes
                    .push(format!("Identity Center: permission sets not read ({e})"));
                out.error = Some(e);
            }
        }
    }
    if org && out.error.is_none() {
        if accounts.is_empty() {
            out.notes.push(
                "Identity Center: no account in this run, so no account assignments were read"
                    .into(),
            );
        } else {
            let ids: BTreeSet<String> = accounts.keys().cloned().collect();
            match reader
                .assignments(
                    ctx.strategy,
                    &snap.users,
                    &snap.groups,
                    &snap.permission_sets,
                    &ids,
                )
                .await
            {
                Ok((set, report)) => {
                    tracing::info!(strategy = %report.strategy, calls = report.calls, estimate = %report.estimate, "Identity Center assignments read");
                    out.notes.push(report.note());
                    snap.assignments = Some(set);
                }
                Err(e) => {
                    out.notes
                        .push(format!("Identity Center: assignments not read ({e})"));
                    out.error = Some(e);
                }
            }
        }
    }
    let unimplemented = reader.unimplemented();
    if !unimplemented.is_empty() {
        out.notes.push(format!(
            "Identity Center: the endpoint does not implement {}; those permission-set details are left out",
            unimplemented.join(", ")
        ));
    }
    let recs = ic_records(&snap, &accounts, &ctx.partition);
    if recs.unknown_permission_set > 0 {
        out.notes.push(format!(
            "Identity Center: {} assignments name a permission set that ListPermissionSets did not return; left out",
            recs.unknown_permission_set
        ));
    }
    out.notes.push(format!(
        "Identity Center: {} users, {} groups, {} memberships, {} permission sets, {} account assignments",
        snap.users.len(),
        snap.groups.len(),
        snap.memberships.len(),
        snap.permission_sets.len(),
        snap.assignments.as_ref().map(|a| a.len()).unwrap_or(0)
    ));
    out.records = recs.records;
    out.shared = recs.shared;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ic_accounts_that_are_not_active_cannot_be_assigned() {
        use crate::connector::org::{OrgAccount, OrgSnapshot, account_resource};
        use crate::sync::engine::AccountStatus;
        // The account resources exactly as the organization read writes them.
        let account = |status: &str| {
            let a = OrgAccount {
                id: "222222222222".into(),
                name: "dev".into(),
                arn: "arn:aws:organizations::111111111111:account/o-abc/222222222222".into(),
                email: "dev@example.com".into(),
                status: status.into(),
                joined: None,
                joined_method: None,
                parent: "r-ab12".into(),
            };
            let snap = OrgSnapshot {
                org: None,
                roots: vec![],
                ous: vec![],
                accounts: vec![a.clone()],
            };
            account_resource(&snap, &a, &AccountStatus::Ok)
        };
        assert!(account_is_active(&account("ACTIVE")));
        for status in ["SUSPENDED", "PENDING_CLOSURE"] {
            assert!(!account_is_active(&account(status)), "{status}");
        }
        // An account resource without a status (not from the organization read) is usable.
        let mut bare = account("ACTIVE");
        bare.status = None;
        assert!(account_is_active(&bare));
    }
}
