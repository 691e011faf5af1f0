//! Identity Center as the sync's per-organization collector (the `identity center` phase).
//! [`attach`] decides, while the run is planned, whether it is read: it locates the instance
//! ([`super::discover::locate`]) and notes what it found; with `--identity-center on` and no instance,
//! the phase still runs and fails. The phase reads the identity store, the permission sets
//! and the account assignments in the run's active accounts (`super::read`; while the
//! organization is still being listed, in every account, kept to the run's once it is) while
//! the accounts are synced, and maps them to records ([`super::records`]) once the accounts are
//! done: the `account` resources it embeds carry each account's final sync status.
//!
//! Not here: the reads and instance discovery themselves (`super`), provisioning.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;

use crate::aws::{AwsError, ErrorClass, Session};
use crate::connector::collector::{Handover, OrgCollector, OrgInput, OrgOutput, PlannedAccounts};
use crate::connector::org::OrgKnowledge;
use crate::model::pb;

use super::discover::{FirstRegion, Located, locate_from};
use super::model::MatchedBy;
use super::model::{IcSnapshot, Instance, InstanceKind, UserStatus};
use super::read::{AccountScope, Reader};
use super::records::ic_records;
use super::scim::{self, ScimOptions};
use super::strategy::StrategyChoice;
use super::{IC_TYPES, IcMode, IcOptions};

/// The phase's name in notes, logs and statistics.
const NAME: &str = "identity center";

/// Decides whether Identity Center is synced (one `ListInstances` per searched region; see
/// [`super::discover::PROBE_REGIONS`]) and returns its collector, adding its notes to `notes`.
/// `first`: the first searched region's `ListInstances`, asked while the run was planned.
/// `accounts_listed_later`: the run's accounts are listed while the phase runs, so it reads
/// the assignments without waiting for them where the strategy allows.
pub(crate) async fn attach(
    session: &Session,
    opts: &IcOptions,
    organization: &OrgKnowledge,
    accounts_listed_later: bool,
    first: Option<FirstRegion>,
    notes: &mut Vec<String>,
) -> Option<Box<dyn OrgCollector>> {
    if opts.mode == IcMode::Off {
        return None;
    }
    let Located {
        tried,
        management,
        found,
    } = locate_from(
        session,
        organization,
        opts.sso_region.as_deref(),
        opts.instance_arn.as_deref(),
        first,
    )
    .await;
    let (instance, others) = match found {
        Ok(p) => p,
        Err(missing) => {
            let why = missing.why(&tried);
            if opts.mode == IcMode::Auto {
                notes.push(format!("Identity Center: off ({why})"));
                return None;
            }
            let error = missing.error().cloned().unwrap_or_else(|| {
                AwsError::local("sso", "ListInstances", ErrorClass::NotFound, why.clone())
            });
            return Some(Box::new(Unavailable { why, error }));
        }
    };
    let caller = session.caller.account.to_string();
    let delegated = instance.kind == InstanceKind::Organization
        && instance.owner_account.as_deref() != Some(caller.as_str());
    tracing::info!(instance = %instance.arn, region = %instance.region, kind = instance.kind.as_str(), "Identity Center instance");
    notes.push(instance_note(&instance, opts, &tried, delegated, &caller));
    notes.extend(others);
    Some(Box::new(IdentityCenter {
        instance,
        strategy: opts.strategy,
        scim: opts.scim.clone(),
        skip_account: delegated.then_some(management).flatten(),
        accounts_listed_later,
        partition: session.caller.partition.to_string(),
    }))
}

/// The note naming the instance that is read, where it was found, and what is left out.
fn instance_note(
    instance: &Instance,
    opts: &IcOptions,
    tried: &[String],
    delegated: bool,
    caller: &str,
) -> String {
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
    head
}

/// `--identity-center on` without an instance: the phase fails, with why.
struct Unavailable {
    why: String,
    error: AwsError,
}

impl OrgCollector for Unavailable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn resource_types(&self) -> &'static [&'static str] {
        &IC_TYPES
    }

    fn collect<'a>(&'a self, _input: OrgInput<'a>) -> BoxFuture<'a, OrgOutput> {
        Box::pin(async move {
            OrgOutput {
                notes: vec![format!("Identity Center: not synced ({})", self.why)],
                error: Some(self.error.clone()),
                ..Default::default()
            }
        })
    }
}

/// Reads the located instance.
#[derive(Debug, Clone)]
struct IdentityCenter {
    instance: Instance,
    strategy: StrategyChoice,
    /// Users' status from the SCIM endpoint too.
    scim: Option<ScimOptions>,
    /// An account Identity Center will not show the caller (the management account, for a
    /// delegated administrator).
    skip_account: Option<String>,
    /// The organization's accounts are listed while the phase reads (not planned first).
    accounts_listed_later: bool,
    partition: String,
}

impl OrgCollector for IdentityCenter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn resource_types(&self) -> &'static [&'static str] {
        &IC_TYPES
    }

    fn collect<'a>(&'a self, input: OrgInput<'a>) -> BoxFuture<'a, OrgOutput> {
        Box::pin(self.run(input))
    }
}

/// False for an account resource marked disabled: `connector::org` gives every account that
/// is not ACTIVE (suspended, pending closure) the Disabled status, and such accounts cannot
/// be assigned to.
fn account_is_active(r: &pb::Resource) -> bool {
    r.status
        .as_ref()
        .is_none_or(|s| s.status != pb::status::ResourceStatus::Disabled as i32)
}

impl IdentityCenter {
    /// Reads while the accounts are read (the assignments in the run's planned ACTIVE
    /// accounts, once the organization is listed), then maps with the accounts' final
    /// `account` resources.
    async fn run(&self, input: OrgInput<'_>) -> OrgOutput {
        let session = input.session;
        let reader = Reader::new(session.management(), session.ic_limiter(), &self.instance);
        let mut out = OrgOutput::default();
        let Some(mut snap) = self.read(&reader, input.planned, &mut out).await else {
            return out;
        };
        if let Some(scim) = &self.scim {
            scim_status(scim, &mut snap, &mut out).await;
        }
        let Some(done) = input.accounts.wait().await else {
            return out;
        };
        let accounts: BTreeMap<String, pb::Resource> = done
            .iter()
            .filter(|(id, r)| {
                Some(id.as_str()) != self.skip_account.as_deref() && account_is_active(r)
            })
            .map(|(id, r)| (id.to_string(), r.clone()))
            .collect();
        let unimplemented = reader.unimplemented();
        if !unimplemented.is_empty() {
            out.notes.push(format!(
                "Identity Center: the endpoint does not implement {}; those permission-set details are left out",
                unimplemented.join(", ")
            ));
        }
        let recs = ic_records(&snap, &accounts, &self.partition);
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
        out.collected.records = recs.records;
        out.collected.shared = recs.shared;
        out
    }

    /// The identity store, then (organization instances) the permission sets and the
    /// assignments in the planned ACTIVE accounts ([`IdentityCenter::assignments`]). A failure is
    /// noted and set on `out`; without the identity store there is nothing to map (`None`),
    /// otherwise what was read is kept.
    async fn read(
        &self,
        reader: &Reader<'_>,
        planned: Handover<PlannedAccounts>,
        out: &mut OrgOutput,
    ) -> Option<IcSnapshot> {
        let (users, groups, memberships) = match reader.identity_store().await {
            Ok(store) => store,
            Err(e) => {
                fail(out, "identity store", e);
                return None;
            }
        };
        let mut snap = IcSnapshot {
            instance: self.instance.clone(),
            users,
            groups,
            memberships,
            permission_sets: vec![],
            assignments: None,
            scim: BTreeMap::new(),
        };
        if self.instance.kind != InstanceKind::Organization {
            return Some(snap);
        }
        match reader.permission_sets().await {
            Ok(p) => snap.permission_sets = p,
            Err(e) => {
                fail(out, "permission sets", e);
                return Some(snap);
            }
        }
        self.assignments(reader, &mut snap, planned, out).await;
        Some(snap)
    }

    /// The assignments in the planned ACTIVE accounts into `snap`. While the organization is
    /// still being listed (and the strategy does not need its accounts) they are read at
    /// once, in every account, and filtered to the planned ones once those are known;
    /// otherwise read in the planned ones. A failure is noted and set on `out`.
    async fn assignments(
        &self,
        reader: &Reader<'_>,
        snap: &mut IcSnapshot,
        planned: Handover<PlannedAccounts>,
        out: &mut OrgOutput,
    ) {
        let early = self.accounts_listed_later && self.strategy != StrategyChoice::Account;
        let read = |scope| {
            let s = &*snap;
            reader.assignments(
                self.strategy,
                &s.users,
                &s.groups,
                &s.permission_sets,
                scope,
            )
        };
        let found = if early {
            let except = self.skip_account.as_deref();
            let found = read(AccountScope::Unlisted { except }).await;
            let Some(ids) = self.run_accounts(planned, out).await else {
                return;
            };
            found.map(|(set, report)| {
                let kept = set.into_iter().filter(|a| ids.contains(&a.account));
                (kept.collect(), report)
            })
        } else {
            let Some(ids) = self.run_accounts(planned, out).await else {
                return;
            };
            read(AccountScope::Listed(&ids)).await
        };
        match found {
            Ok((set, report)) => {
                tracing::info!(strategy = %report.strategy, calls = report.calls, estimate = %report.estimate, "Identity Center assignments read");
                out.notes.push(report.note());
                snap.assignments = Some(set);
            }
            Err(e) => fail(out, "assignments", e),
        }
    }

    /// The planned ACTIVE accounts whose assignments are visible (once planned), or `None`
    /// when there are none (noted) or the run stopped first.
    async fn run_accounts(
        &self,
        planned: Handover<PlannedAccounts>,
        out: &mut OrgOutput,
    ) -> Option<BTreeSet<String>> {
        let planned = planned.wait().await?;
        let ids: BTreeSet<String> = planned
            .iter()
            .filter(|(id, active)| **active && Some(id.as_str()) != self.skip_account.as_deref())
            .map(|(id, _)| id.to_string())
            .collect();
        if ids.is_empty() {
            out.notes.push(
                "Identity Center: no account in this run, so no account assignments were read"
                    .into(),
            );
            return None;
        }
        Some(ids)
    }
}

/// Sets users' status from the SCIM endpoint's `active` (matched by `scim::match_users`'s
/// rule). A failure is noted and fails the phase; the identity store's statuses stay.
async fn scim_status(opts: &ScimOptions, snap: &mut IcSnapshot, out: &mut OrgOutput) {
    let read = match scim::list_users(opts).await {
        Ok(r) => r,
        Err(e) => {
            out.notes.push(format!(
                "Identity Center: user status not read from SCIM ({e}); the identity store's statuses are kept"
            ));
            out.error.get_or_insert(e);
            return;
        }
    };
    let matches = scim::match_users(&snap.users, &read.users);
    let count = |by: MatchedBy| matches.status.values().filter(|s| s.by == by).count();
    for u in &mut snap.users {
        match matches.status.get(&u.id).and_then(|s| s.active) {
            Some(true) => u.status = UserStatus::Enabled,
            Some(false) => u.status = UserStatus::Disabled,
            None => {}
        }
    }
    out.notes.push(format!(
        "Identity Center: SCIM {}: {} users in {} pages ({} paging); {} matched ({} by id, {} by userName, {} by externalId), {} match no identity-store user, {} identity-store users not in SCIM keep the store's status",
        opts.endpoint.host(),
        read.users.len(),
        read.pages,
        match read.paging {
            scim::Paging::Cursor => "cursor",
            scim::Paging::Index => "index",
        },
        matches.status.len(),
        count(MatchedBy::Id),
        count(MatchedBy::UserName),
        count(MatchedBy::ExternalId),
        matches.unmatched,
        snap.users.len() - matches.status.len(),
    ));
    snap.scim = matches.status;
}

/// Notes that `what` was not read and sets the phase's error.
fn fail(out: &mut OrgOutput, what: &str, e: AwsError) {
    out.notes
        .push(format!("Identity Center: {what} not read ({e})"));
    out.error = Some(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ic_accounts_that_are_not_active_cannot_be_assigned() {
        use crate::connector::org::{OrgAccount, OrgSnapshot, account_resource};
        use crate::model::stats::AccountStatus;
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
                ..Default::default()
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
