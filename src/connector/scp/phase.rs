//! Service control policies as the sync's per-organization phase (`service control policies`,
//! after Identity Center). [`attach`] decides while the run is planned, without a call: only
//! in an organization with all features whose root has the SCP policy type enabled (else a
//! note says why not). The phase reads them (`read`) and maps them (`records`); a caller that
//! may not read them, or an organization where the type turns out not to be enabled, gets a
//! note and no records, not a failure. Any other error fails the phase (exit 3).
//!
//! Not here: the reads (`read`), the records (`records`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::aws::{AwsError, ErrorClass, Session};
use crate::connector::collector::{OrgCollector, OrgInput, OrgOutput};
use crate::connector::org::OrgSnapshot;

use super::read::{Read, RunNodes, read_scps};
use super::records::scp_records;
use super::{SCP_TYPE, SCP_TYPES, ScpOptions, ScpStrategy, TargetKind};

/// The phase's name in notes, logs and statistics.
const NAME: &str = "service control policies";

/// The SCP phase when `opts` and the organization planning read (`org`, none without an
/// organization) allow it; otherwise a note in `notes` says why not (nothing when the run has
/// no organization or SCPs are turned off).
pub(crate) fn attach(
    opts: &ScpOptions,
    org: Option<&Arc<OrgSnapshot>>,
    notes: &mut Vec<String>,
) -> Option<Box<dyn OrgCollector>> {
    if !opts.enabled {
        return None;
    }
    let org = Arc::clone(org?);
    let why_not = match &org.org {
        Some(o) if o.feature_set != "ALL" => Some(format!(
            "the organization has the {} feature set; service control policies need all features",
            o.feature_set
        )),
        _ if !org
            .root_policy_types
            .values()
            .any(|types| types.contains(SCP_TYPE)) =>
        {
            Some("the SERVICE_CONTROL_POLICY policy type is not enabled in the root".to_string())
        }
        _ => None,
    };
    if let Some(why) = why_not {
        notes.push(format!("Service control policies: not synced ({why})"));
        return None;
    }
    Some(Box::new(Scps {
        strategy: opts.strategy,
    }))
}

struct Scps {
    strategy: ScpStrategy,
}

impl OrgCollector for Scps {
    fn name(&self) -> &'static str {
        NAME
    }

    fn resource_types(&self) -> &'static [&'static str] {
        &SCP_TYPES
    }

    fn collect<'a>(&'a self, input: OrgInput<'a>) -> BoxFuture<'a, OrgOutput> {
        Box::pin(self.run(input))
    }
}

/// An answer that means "no SCPs to read here" rather than a failure: the caller may not
/// read them, or the organization does not have them.
fn unavailable(e: &AwsError) -> bool {
    e.class == ErrorClass::AccessDenied
        || e.class == ErrorClass::NotInOrganization
        || matches!(
            e.code.as_deref(),
            Some(
                "PolicyTypeNotEnabledException" | "PolicyTypeNotAvailableForOrganizationException"
            )
        )
}

impl Scps {
    /// Reads once the organization is listed (while the accounts are read), the attachments
    /// of its roots, OUs and the run's accounts.
    async fn run(&self, input: OrgInput<'_>) -> OrgOutput {
        let mut out = OrgOutput::default();
        let (Some(org), Some(planned)) = (input.org.wait().await, input.planned.wait().await)
        else {
            // The run stopped before the organization was listed: its output is dropped.
            return out;
        };
        let mut nodes: RunNodes = BTreeMap::new();
        for r in &org.roots {
            nodes.insert(r.id.clone(), TargetKind::Root);
        }
        for ou in &org.ous {
            nodes.insert(ou.id.clone(), TargetKind::OrganizationalUnit);
        }
        for id in planned.keys() {
            nodes.insert(id.to_string(), TargetKind::Account);
        }
        let org_nodes = org.roots.len() + org.ous.len() + org.accounts.len();
        let session: &Session = input.session;
        match read_scps(
            session.management(),
            session.org_limiter(),
            self.strategy,
            &nodes,
            org_nodes,
        )
        .await
        {
            Ok(Read {
                scps,
                strategy,
                estimate,
            }) => {
                let attachments: usize = scps.iter().map(|s| s.targets.len()).sum();
                out.notes.push(format!(
                    "Service control policies: {} policies, {attachments} attachments to the run's roots, OUs and accounts; attachments read {} (estimated calls: {} ListTargetsForPolicy, {} ListPoliciesForTarget)",
                    scps.len(),
                    match strategy {
                        ScpStrategy::ByTarget => "per root, OU and account",
                        _ => "per policy",
                    },
                    estimate.by_policy,
                    estimate.by_target,
                ));
                out.collected.records = scp_records(&scps);
            }
            Err(e) if unavailable(&e) => {
                tracing::info!(error = %e, "service control policies not readable; left out");
                out.notes.push(format!(
                    "Service control policies: not synced (the caller may not read them, or the organization does not have them: {e}); grant the reads of `orgsync policy --read`, or pass --sync-scps false"
                ));
            }
            Err(e) => {
                out.notes
                    .push(format!("Service control policies: not read ({e})"));
                out.error = Some(e);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::org::{Node, Organization};

    fn org(feature_set: &str, enabled: bool) -> Arc<OrgSnapshot> {
        let mut snap = OrgSnapshot {
            org: Some(Organization {
                id: "o-abc".into(),
                arn: String::new(),
                master_account_id: "111111111111".into(),
                feature_set: feature_set.into(),
            }),
            roots: vec![Node {
                id: "r-ab12".into(),
                name: "Root".into(),
                arn: String::new(),
                parent: None,
            }],
            ..Default::default()
        };
        let types = if enabled {
            [SCP_TYPE.to_string(), "TAG_POLICY".to_string()].into()
        } else {
            ["TAG_POLICY".to_string()].into()
        };
        snap.root_policy_types.insert("r-ab12".into(), types);
        Arc::new(snap)
    }

    #[test]
    fn attached_only_where_scps_can_exist_with_a_note_otherwise() {
        let on = ScpOptions::default();
        let mut notes = vec![];
        assert!(attach(&on, Some(&org("ALL", true)), &mut notes).is_some());
        assert!(notes.is_empty(), "{notes:?}");

        let mut notes = vec![];
        assert!(attach(&on, Some(&org("ALL", false)), &mut notes).is_none());
        assert_eq!(
            notes,
            [
                "Service control policies: not synced (the SERVICE_CONTROL_POLICY policy type is not enabled in the root)"
            ]
        );

        let mut notes = vec![];
        assert!(attach(&on, Some(&org("CONSOLIDATED_BILLING", true)), &mut notes).is_none());
        assert!(
            notes[0].contains("CONSOLIDATED_BILLING feature set"),
            "{notes:?}"
        );

        // Turned off, or no organization: nothing, and nothing to say.
        let off = ScpOptions {
            enabled: false,
            ..Default::default()
        };
        let mut notes = vec![];
        assert!(attach(&off, Some(&org("ALL", true)), &mut notes).is_none());
        assert!(attach(&on, None, &mut notes).is_none());
        assert!(notes.is_empty());
    }
}
