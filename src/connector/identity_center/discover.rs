//! Finding the Identity Center instance a sync reads ([`locate`], which `orgsync check` uses
//! too): the management account (from planning, or one `DescribeOrganization`), the regions to
//! search (`--sso-region`, or the session's region then [`PROBE_REGIONS`]), one
//! `ListInstances` per region until one has an instance, then the choice among the instances
//! found ([`select_instance`]) or why there is none ([`Missing`]).
//!
//! Not here: what a sync does with the instance (`mod.rs`), reading it (`read`).

use crate::aws::{AwsError, ErrorClass, Limiter, Scope, Session};
use crate::connector::org::OrgKnowledge;

use super::convert::instance_of;
use super::model::{Instance, InstanceKind};

/// Regions searched for the instance when `--sso-region` is not set, after the session's own
/// region: the regions organizations most often enable Identity Center in. At most this many
/// plus one `ListInstances` calls; the search stops at the first region with an instance.
pub const PROBE_REGIONS: [&str; 7] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-southeast-1",
];

/// Where instances were looked for and what was found.
#[derive(Debug, Default)]
struct Discovery {
    /// Regions asked, in order.
    tried: Vec<String>,
    /// The instances of the region the search stopped at.
    instances: Vec<Instance>,
    /// `ListInstances` was refused.
    denied: Option<AwsError>,
    /// Other failures, per region.
    errors: Vec<AwsError>,
}

/// Regions to search: `--sso-region` alone, else the session's region then [`PROBE_REGIONS`].
fn candidate_regions(sso_region: Option<&str>, session_region: &str) -> Vec<String> {
    if let Some(r) = sso_region {
        return vec![r.to_string()];
    }
    let mut out: Vec<String> = vec![];
    for r in std::iter::once(session_region).chain(PROBE_REGIONS) {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    out
}

/// Organization instance when owned by the management account; account instance otherwise
/// (also when there is no organization).
pub fn classify(owner: Option<&str>, management: Option<&str>) -> InstanceKind {
    match (owner, management) {
        (Some(o), Some(m)) if o == m => InstanceKind::Organization,
        _ => InstanceKind::Account,
    }
}

/// The instances `sso:ListInstances` lists in `region`, classified against `management`.
async fn list_instances(
    scope: &Scope,
    lim: &Limiter,
    region: &str,
    management: Option<&str>,
) -> Result<Vec<Instance>, AwsError> {
    let sso = scope.sso_admin(region);
    let page = scope.settings().ic_page_size;
    scope
        .pages(
            lim,
            |t| {
                sso.list_instances()
                    .max_results(page)
                    .set_next_token(t)
                    .send()
            },
            |r, out| {
                out.extend(r.instances().iter().filter_map(|i| {
                    instance_of(i, region, classify(i.owner_account_id(), management))
                }));
                r.next_token().map(str::to_string)
            },
        )
        .await
}

/// Looks for instances region by region. Stops at the first region with an organization
/// instance, or (when there is no organization) with any instance. Refusals are remembered
/// and the search goes on (a region-deny policy refuses only some regions).
async fn discover(
    scope: &Scope,
    lim: &Limiter,
    regions: &[String],
    management: Option<&str>,
    mut first: Option<FirstRegion>,
) -> Discovery {
    let mut d = Discovery::default();
    let mut fallback: Option<Vec<Instance>> = None;
    for region in regions {
        d.tried.push(region.clone());
        let answer = match first.take().filter(|f| &f.region == region) {
            Some(f) => f.answer.map(|found| reclassify(found, management)),
            None => list_instances(scope, lim, region, management).await,
        };
        match answer {
            Ok(found) if found.is_empty() => {}
            Ok(found) => {
                let org = found.iter().any(|i| i.kind == InstanceKind::Organization);
                if org || management.is_none() {
                    d.instances = found;
                    return d;
                }
                if fallback.is_none() {
                    fallback = Some(found);
                }
            }
            // A refusal may be one region's (a region-deny SCP): keep looking elsewhere.
            Err(e) if matches!(e.class, ErrorClass::AccessDenied) => {
                tracing::debug!(region = %region, error = %e, "ListInstances refused in this region");
                d.denied.get_or_insert(e);
            }
            Err(e) => {
                tracing::debug!(region = %region, error = %e, "ListInstances failed in this region");
                d.errors.push(e);
            }
        }
    }
    if let Some(found) = fallback {
        d.instances = found;
    }
    d
}

/// `ListInstances` in the first region [`locate`] searches, asked before the management
/// account is known (while the organization is described), its instances classified once it
/// is.
#[derive(Debug)]
pub struct FirstRegion {
    region: String,
    answer: Result<Vec<Instance>, AwsError>,
}

/// Asks `ListInstances` in the first region `locate` will search (`sso_region`, else the
/// session's), so that the search need not wait for the organization to be described.
pub async fn first_region(session: &Session, sso_region: Option<&str>) -> FirstRegion {
    let region = sso_region.unwrap_or(session.region()).to_string();
    let answer = list_instances(session.management(), session.ic_limiter(), &region, None).await;
    FirstRegion { region, answer }
}

/// `found` (listed without a management account) classified against `management`.
fn reclassify(mut found: Vec<Instance>, management: Option<&str>) -> Vec<Instance> {
    for i in &mut found {
        i.kind = classify(i.owner_account.as_deref(), management);
    }
    found
}

/// Picks the instance to sync: `--ic-instance-arn`, else the organization instance, else the
/// caller's own account instance. Returns it and notes about the others.
pub fn select_instance(
    instances: &[Instance],
    wanted: Option<&str>,
    caller: &str,
) -> Result<(Instance, Vec<String>), String> {
    let chosen = match wanted {
        Some(arn) => instances.iter().find(|i| i.arn == arn).ok_or_else(|| {
            format!(
                "instance {arn} is not among those found ({})",
                instances
                    .iter()
                    .map(|i| i.arn.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
        None => instances
            .iter()
            .find(|i| i.kind == InstanceKind::Organization)
            .or_else(|| {
                instances
                    .iter()
                    .find(|i| i.owner_account.as_deref() == Some(caller))
            })
            .or_else(|| instances.first())
            .ok_or_else(|| "no instance found".to_string())?,
    };
    let mut notes = vec![];
    for other in instances.iter().filter(|i| i.arn != chosen.arn) {
        notes.push(format!(
            "Identity Center: {} instance {} (owner {}) not synced{}",
            other.kind.as_str(),
            other.arn,
            other.owner_account.as_deref().unwrap_or("unknown"),
            if other.kind == InstanceKind::Account {
                ": account instances cannot grant AWS account access"
            } else {
                "; choose it with --ic-instance-arn"
            }
        ));
    }
    Ok((chosen.clone(), notes))
}

/// The management account, as planning learnt it (one `DescribeOrganization` here only when
/// planning did not look, with `--orgs off`).
async fn management_account(session: &Session, organization: &OrgKnowledge) -> Option<String> {
    match organization {
        OrgKnowledge::Management(m) => return Some(m.clone()),
        OrgKnowledge::None => return None,
        OrgKnowledge::Unknown => {}
    }
    // Planning did not look (--orgs off): ask once.
    let scope = session.management();
    let org = scope.organizations();
    match scope
        .call(session.org_limiter(), || org.describe_organization().send())
        .await
    {
        Ok(o) => o
            .organization()
            .and_then(|o| o.master_account_id())
            .map(str::to_string),
        Err(e) => {
            tracing::debug!(error = %e, "no organization: Identity Center instances are account instances");
            None
        }
    }
}

/// Why no instance was located.
#[derive(Debug, Clone)]
pub enum Missing {
    /// No instance, and `ListInstances` was refused (in at least one region).
    Denied(AwsError),
    /// No instance, and `ListInstances` failed in some region (the last failure).
    Failed(AwsError),
    /// No instance in the regions searched.
    NoInstance,
    /// Instances were found but none could be chosen (`--ic-instance-arn` names none of them).
    NotChosen(String),
}

impl Missing {
    /// Why Identity Center is not synced, for a note.
    pub fn why(&self, tried: &[String]) -> String {
        let tried = tried.join(", ");
        match self {
            Missing::Denied(e) => {
                format!("the caller may not list Identity Center instances ({e})")
            }
            Missing::Failed(e) => format!(
                "no Identity Center instance found in {tried} (last error: {e}); set --sso-region"
            ),
            Missing::NoInstance => format!(
                "no Identity Center instance found in {tried}; set --sso-region if it is elsewhere"
            ),
            Missing::NotChosen(why) => why.clone(),
        }
    }

    /// The AWS error behind it, if any.
    pub fn error(&self) -> Option<&AwsError> {
        match self {
            Missing::Denied(e) | Missing::Failed(e) => Some(e),
            Missing::NoInstance | Missing::NotChosen(_) => None,
        }
    }
}

/// Where the instance to sync was looked for, and what was found.
#[derive(Debug)]
pub struct Located {
    /// Regions asked, in order.
    pub tried: Vec<String>,
    /// The management account (`None` without an organization).
    pub management: Option<String>,
    /// The instance to sync and notes about the others, or why there is none.
    pub found: Result<(Instance, Vec<String>), Missing>,
}

/// Finds the instance a sync reads, as `attach` and `orgsync check` both find it: the
/// management account (from what planning learnt, `organization`), the candidate regions (`sso_region`, or the session's
/// region then [`PROBE_REGIONS`]), one `ListInstances` per region until one has it, then
/// [`select_instance`] (`instance_arn`, else the organization instance).
pub async fn locate(
    session: &Session,
    organization: &OrgKnowledge,
    sso_region: Option<&str>,
    instance_arn: Option<&str>,
) -> Located {
    locate_from(session, organization, sso_region, instance_arn, None).await
}

/// [`locate`], with the first region's answer already asked ([`first_region`]).
pub async fn locate_from(
    session: &Session,
    organization: &OrgKnowledge,
    sso_region: Option<&str>,
    instance_arn: Option<&str>,
    first: Option<FirstRegion>,
) -> Located {
    let management = management_account(session, organization).await;
    let regions = candidate_regions(sso_region, session.region());
    let d = discover(
        session.management(),
        session.ic_limiter(),
        &regions,
        management.as_deref(),
        first,
    )
    .await;
    let caller = session.caller.account.to_string();
    let found = match (d.instances.is_empty(), d.denied, d.errors.last()) {
        (true, Some(e), _) => Err(Missing::Denied(e)),
        (true, None, Some(e)) => Err(Missing::Failed(e.clone())),
        (true, None, None) => Err(Missing::NoInstance),
        (false, ..) => {
            select_instance(&d.instances, instance_arn, &caller).map_err(Missing::NotChosen)
        }
    };
    Located {
        tried: d.tried,
        management,
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(arn: &str, owner: &str, kind: InstanceKind) -> Instance {
        Instance {
            arn: arn.into(),
            identity_store_id: "d-1".into(),
            region: "us-east-1".into(),
            owner_account: Some(owner.into()),
            name: None,
            status: None,
            kind,
        }
    }

    #[test]
    fn ic_regions_are_bounded_and_start_with_the_session_region() {
        assert_eq!(
            candidate_regions(Some("eu-west-1"), "us-east-1"),
            vec!["eu-west-1"]
        );
        let r = candidate_regions(None, "eu-west-1");
        assert_eq!(r[0], "eu-west-1");
        assert_eq!(r[1], "us-east-1");
        assert_eq!(r.len(), PROBE_REGIONS.len(), "no duplicate of eu-west-1");
        assert_eq!(
            candidate_regions(None, "sa-east-1").len(),
            PROBE_REGIONS.len() + 1
        );
    }

    #[test]
    fn ic_instances_are_classified_by_owner() {
        assert_eq!(
            classify(Some("111111111111"), Some("111111111111")),
            InstanceKind::Organization
        );
        assert_eq!(
            classify(Some("222222222222"), Some("111111111111")),
            InstanceKind::Account
        );
        assert_eq!(classify(Some("222222222222"), None), InstanceKind::Account);
    }

    #[test]
    fn ic_selection_prefers_the_organization_instance() {
        let org = inst(
            "arn:aws:sso:::instance/ssoins-org",
            "111111111111",
            InstanceKind::Organization,
        );
        let own = inst(
            "arn:aws:sso:::instance/ssoins-own",
            "222222222222",
            InstanceKind::Account,
        );
        let all = vec![own.clone(), org.clone()];
        // A delegated administrator (222…) sees both: the organization's wins, its own is noted.
        let (chosen, notes) = select_instance(&all, None, "222222222222").unwrap();
        assert_eq!(chosen, org);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("ssoins-own") && notes[0].contains("cannot grant"),
            "{notes:?}"
        );
        // Explicit choice.
        let (chosen, _) = select_instance(&all, Some(&own.arn), "222222222222").unwrap();
        assert_eq!(chosen, own);
        assert!(
            select_instance(&all, Some("arn:aws:sso:::instance/ssoins-nope"), "x")
                .unwrap_err()
                .contains("ssoins-org")
        );
        // No organization instance: the caller's own account instance.
        let other = inst(
            "arn:aws:sso:::instance/ssoins-b",
            "333333333333",
            InstanceKind::Account,
        );
        let (chosen, _) = select_instance(&[other, own.clone()], None, "222222222222").unwrap();
        assert_eq!(chosen, own);
        assert!(select_instance(&[], None, "x").is_err());
    }
}
