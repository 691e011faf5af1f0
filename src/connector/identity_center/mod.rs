//! IAM Identity Center, read once per organization: find the instance ([`locate`], which
//! `orgsync check` uses too: `--sso-region`, or a bounded list of regions), then read the
//! identity store (users, groups, memberships), the permission sets (with their managed,
//! customer-managed, inline policies and boundary; a detail the endpoint does not implement is
//! asked for once and left out) and the account assignments by the cheapest strategy
//! (`sync::ic_strategy`). Every call goes through the session's org-wide Identity Center
//! token bucket. The mapping to records is
//! `sync::ic_records`; this module only reads and plans (its mapping of identity-store answers
//! to `sync::ic_model`, `ic_user_of!` / `ic_group_of!`, serves provisioning too).
//!
//! Not here: provisioning (assignment create/delete), application assignments.

pub mod assignment;
pub mod membership;
pub mod model;
pub mod object_records;
pub mod records;
pub mod strategy;
pub mod users;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_identitystore::types as ids_types;
use aws_sdk_ssoadmin::types as sso_types;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::errors::is_not_implemented as not_implemented;
use crate::aws::limits::Limiter;
use crate::aws::{AwsError, ErrorClass, Scope, Session};
use crate::model::pb;
use crate::model::types as rt;

use crate::connector::iam::model::Attached;
use crate::connector::iam::read::utc;
use crate::sync::engine::{OrgKnowledge, Phase, PhaseInput, PhaseOutput, Plan};
use model::*;
use records::ic_records;
use strategy::{FirstStep, Known, Strategy, StrategyArg, first_step, keep_pairs};

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

/// Identity Center calls in flight at once (the token bucket sets the rate).
const IC_CONCURRENCY: usize = 8;

/// `--identity-center` (of `sync`, `check` and `policy`; true/false are baton-aws's
/// BATON_GLOBAL_AWS_SSO_ENABLED values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IcMode {
    /// On when an instance is found; off (with a note) when there is none or the caller may
    /// not list instances.
    Auto,
    /// Must be synced: a missing or unreadable instance fails the phase (exit 3).
    #[value(alias = "true")]
    On,
    #[value(alias = "false")]
    Off,
}

fn parse_region(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}' is not an AWS region (e.g. us-east-1)"))
    }
}

fn parse_instance_arn(s: &str) -> Result<String, String> {
    let ok = s.starts_with("arn:")
        && s.split(':').nth(2) == Some("sso")
        && s.rsplit('/')
            .next()
            .is_some_and(|i| i.starts_with("ssoins-"));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)"
        ))
    }
}

/// Identity Center flags of `orgsync sync` (and `check`).
#[derive(Debug, Clone, Args)]
pub struct IcArgs {
    /// Sync IAM Identity Center: auto (when an instance is found), on, off. true/false are
    /// accepted too (baton-aws's BATON_GLOBAL_AWS_SSO_ENABLED).
    #[arg(
        long = "identity-center",
        env = "ORGSYNC_IDENTITY_CENTER",
        value_enum,
        ignore_case = true,
        default_value = "auto",
        value_name = "auto|on|off",
        help_heading = "Identity Center"
    )]
    pub identity_center: IcMode,

    /// Region of the Identity Center instance (default: the session's region, then
    /// us-east-1, us-west-2, eu-west-1, eu-central-1, ap-southeast-2, ap-northeast-1,
    /// ap-southeast-1, stopping at the first with an instance).
    #[arg(long, env = "ORGSYNC_SSO_REGION", value_parser = parse_region, help_heading = "Identity Center")]
    pub sso_region: Option<String>,

    /// The instance to sync when the caller sees several (default: the organization instance).
    #[arg(long, env = "ORGSYNC_IC_INSTANCE_ARN", value_parser = parse_instance_arn, help_heading = "Identity Center")]
    pub ic_instance_arn: Option<String>,

    /// How to enumerate account assignments: auto picks the cheapest by estimated call count.
    #[arg(
        long,
        env = "ORGSYNC_IC_ASSIGNMENT_STRATEGY",
        value_enum,
        default_value = "auto",
        help_heading = "Identity Center"
    )]
    pub ic_assignment_strategy: StrategyArg,
}

/// The resource types an Identity Center sync declares.
pub const IC_TYPES: [&str; 4] = [
    rt::SSO_USER,
    rt::SSO_GROUP,
    rt::PERMISSION_SET,
    rt::PERMISSION_SET_ASSIGNMENT,
];

/// The old name of [`crate::aws::errors::is_not_implemented_answer`], kept so provisioning
/// builds until it tests [`crate::aws::errors::is_not_implemented`] on its `AwsError`s instead.
pub use crate::aws::errors::is_not_implemented_answer as is_not_implemented;

// ---------------------------------------------------------------------------------------------
// Instance discovery.

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
pub(crate) async fn list_instances(
    scope: &Scope,
    lim: &Limiter,
    region: &str,
    management: Option<&str>,
) -> Result<Vec<Instance>, AwsError> {
    let sso = scope.sso_admin(region);
    let page = scope.settings().ic_page_size;
    pages(
        scope,
        lim,
        "sso",
        "ListInstances",
        None,
        |t| {
            sso.list_instances()
                .max_results(page)
                .set_next_token(t)
                .send()
        },
        |r, out| {
            out.extend(r.instances().iter().filter_map(|i| {
                Some(Instance {
                    arn: i.instance_arn()?.to_string(),
                    identity_store_id: i.identity_store_id()?.to_string(),
                    region: region.to_string(),
                    owner_account: i.owner_account_id().map(str::to_string),
                    name: i.name().map(str::to_string),
                    status: i.status().map(|s| s.as_str().to_string()),
                    kind: classify(i.owner_account_id(), management),
                })
            }));
            r.next_token().map(str::to_string)
        },
    )
    .await
}

/// Every page of a list call: `call` asks for the page after a token, `take` keeps a page's
/// items and returns the next token. Stops at a missing, empty or already seen token. Each
/// call waits for a token of `lim` and is counted in `counter`.
async fn pages<R, E, Fut, T>(
    scope: &Scope,
    lim: &Limiter,
    service: &'static str,
    op: &'static str,
    counter: Option<&AtomicU64>,
    call: impl Fn(Option<String>) -> Fut,
    mut take: impl FnMut(R, &mut Vec<T>) -> Option<String>,
) -> Result<Vec<T>, AwsError>
where
    Fut: Future<Output = Result<R, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut out = vec![];
    let mut token: Option<String> = None;
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let t = token.take();
        let resp = scope
            .call_legacy(lim, service, op, || call(t.clone()))
            .await?;
        match take(resp, &mut out) {
            Some(next) if !next.is_empty() && seen.insert(next.clone()) => token = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Looks for instances region by region. Stops at the first region with an organization
/// instance, or (when there is no organization) with any instance. Refusals are remembered
/// and the search goes on (a region-deny policy refuses only some regions).
async fn discover(
    scope: &Scope,
    lim: &Limiter,
    regions: &[String],
    management: Option<&str>,
) -> Discovery {
    let mut d = Discovery::default();
    let mut fallback: Option<Vec<Instance>> = None;
    for region in regions {
        d.tried.push(region.clone());
        match list_instances(scope, lim, region, management).await {
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
async fn management_account(session: &Session, plan: &Plan) -> Option<String> {
    match &plan.organization {
        OrgKnowledge::Management(m) => return Some(m.clone()),
        OrgKnowledge::None => return None,
        OrgKnowledge::Unknown => {}
    }
    // Planning did not look (--orgs off): ask once.
    let scope = session.management();
    let org = scope.organizations();
    match scope
        .call_legacy(
            session.org_limiter(),
            "organizations",
            "DescribeOrganization",
            || org.describe_organization().send(),
        )
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
/// management account (from `plan`), the candidate regions (`--sso-region`, or the
/// session's region then [`PROBE_REGIONS`]), one `ListInstances` per region until one has
/// it, then [`select_instance`].
pub async fn locate(session: &Session, opts: &IcArgs, plan: &Plan) -> Located {
    let management = management_account(session, plan).await;
    let regions = candidate_regions(opts.sso_region.as_deref(), session.region());
    let d = discover(
        session.management(),
        session.ic_limiter(),
        &regions,
        management.as_deref(),
    )
    .await;
    let caller = session.caller.account.to_string();
    let found = match (d.instances.is_empty(), d.denied, d.errors.last()) {
        (true, Some(e), _) => Err(Missing::Denied(e)),
        (true, None, Some(e)) => Err(Missing::Failed(e.clone())),
        (true, None, None) => Err(Missing::NoInstance),
        (false, ..) => select_instance(&d.instances, opts.ic_instance_arn.as_deref(), &caller)
            .map_err(Missing::NotChosen),
    };
    Located {
        tried: d.tried,
        management,
        found,
    }
}

/// Decides whether Identity Center is synced and, if so, adds its resource types and phase to
/// `plan` (one `ListInstances` per searched region; see [`PROBE_REGIONS`]).
pub async fn attach(session: &Session, opts: &IcArgs, plan: &mut Plan) {
    if opts.identity_center == IcMode::Off {
        return;
    }
    let Located {
        tried,
        management,
        found,
    } = locate(session, opts, plan).await;
    let caller = session.caller.account.to_string();
    let (instance, notes) = match found {
        Ok(p) => p,
        Err(missing) => {
            let why = missing.why(&tried);
            if opts.identity_center == IcMode::Auto {
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
        strategy: opts.ic_assignment_strategy,
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
    strategy: StrategyArg,
    /// An account Identity Center will not show the caller (the management account, for a
    /// delegated administrator).
    skip_account: Option<String>,
    partition: String,
}

/// False for an account resource marked disabled: `sync::org` gives every account that is
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

// ---------------------------------------------------------------------------------------------
// Reads.

/// How the assignments were enumerated, for notes and logs.
#[derive(Debug, Clone)]
pub struct AssignmentReport {
    pub strategy: Strategy,
    /// Chosen by auto (else forced by the flag).
    pub auto: bool,
    /// Auto discovered pairs with a pair strategy, then found asking principals cheaper.
    pub switched_from: Option<Strategy>,
    pub estimate: String,
    /// Calls actually made (pages included).
    pub calls: u64,
}

impl AssignmentReport {
    fn note(&self) -> String {
        let how = match (self.auto, self.switched_from) {
            (true, Some(from)) => format!(
                "auto chose {} after {from} discovery showed more pairs than principals",
                self.strategy
            ),
            (true, None) => format!("auto chose {}", self.strategy),
            (false, _) => format!("{} (--ic-assignment-strategy)", self.strategy),
        };
        format!(
            "Identity Center assignments: {how}; estimated calls: {}; made {} calls",
            self.estimate, self.calls
        )
    }
}

struct Reader<'a> {
    scope: &'a Scope,
    lim: &'a Limiter,
    sso: aws_sdk_ssoadmin::Client,
    ids: aws_sdk_identitystore::Client,
    instance: &'a Instance,
    page: i32,
    calls: AtomicU64,
    /// Per optional operation: `None` until its first answer, then whether the endpoint
    /// implements it.
    implemented: Mutex<BTreeMap<&'static str, Arc<tokio::sync::Mutex<Option<bool>>>>>,
}

type Pairs = BTreeSet<(String, String)>;

impl<'a> Reader<'a> {
    fn new(scope: &'a Scope, lim: &'a Limiter, instance: &'a Instance) -> Reader<'a> {
        Reader {
            scope,
            lim,
            sso: scope.sso_admin(&instance.region),
            ids: scope.identity_store(&instance.region),
            instance,
            page: scope.settings().ic_page_size,
            calls: AtomicU64::new(0),
            implemented: Mutex::new(BTreeMap::new()),
        }
    }

    /// The optional operations the endpoint answered "not implemented".
    fn unimplemented(&self) -> Vec<&'static str> {
        let gates = self
            .implemented
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        gates
            .iter()
            .filter(|(_, g)| g.try_lock().is_ok_and(|k| *k == Some(false)))
            .map(|(op, _)| *op)
            .collect()
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Every page of a list call (see [`pages`]), counted.
    async fn all<R, E, Fut, T>(
        &self,
        service: &'static str,
        op: &'static str,
        call: impl Fn(Option<String>) -> Fut,
        take: impl FnMut(R, &mut Vec<T>) -> Option<String>,
    ) -> Result<Vec<T>, AwsError>
    where
        Fut: Future<Output = Result<R, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        pages(
            self.scope,
            self.lim,
            service,
            op,
            Some(&self.calls),
            call,
            take,
        )
        .await
    }

    /// One call that is not paged, counted.
    async fn one<R, E, Fut>(
        &self,
        service: &'static str,
        op: &'static str,
        call: impl Fn() -> Fut,
    ) -> Result<R, AwsError>
    where
        Fut: Future<Output = Result<R, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.scope.call_legacy(self.lim, service, op, call).await
    }

    /// `read` (calls of `op`, an operation an endpoint may not implement), or `None` when the
    /// endpoint does not implement `op`. The first read of `op` runs alone and settles that,
    /// so such an endpoint is asked once, not once per permission set; the reads after it run
    /// concurrently, or not at all.
    async fn optional<T, Fut>(
        &self,
        op: &'static str,
        read: impl FnOnce() -> Fut,
    ) -> Result<Option<T>, AwsError>
    where
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let gate = Arc::clone(
            self.implemented
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(op)
                .or_default(),
        );
        let known = gate.lock().await;
        let first = match *known {
            Some(false) => return Ok(None),
            Some(true) => {
                drop(known);
                None
            }
            None => Some(known),
        };
        let answer = read().await;
        if let Some(mut known) = first {
            *known = Some(!answer.as_ref().is_err_and(not_implemented));
        }
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(e) if not_implemented(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Users, groups and the user memberships of every group (one paged call per group).
    async fn identity_store(
        &self,
    ) -> Result<(Vec<IcUser>, Vec<IcGroup>, Vec<Membership>), AwsError> {
        let store = self.instance.identity_store_id.as_str();
        let users = self
            .all(
                "identitystore",
                "ListUsers",
                |t| {
                    self.ids
                        .list_users()
                        .identity_store_id(store)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.users().iter().map(|u| ic_user_of!(u)));
                    r.next_token().map(str::to_string)
                },
            )
            .await?;
        let groups = self
            .all(
                "identitystore",
                "ListGroups",
                |t| {
                    self.ids
                        .list_groups()
                        .identity_store_id(store)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.groups().iter().map(|g| ic_group_of!(g)));
                    r.next_token().map(str::to_string)
                },
            )
            .await?;
        let mut memberships = each_unordered(&groups, |g| async move {
            self.all(
                "identitystore",
                "ListGroupMemberships",
                |t| {
                    self.ids
                        .list_group_memberships()
                        .identity_store_id(store)
                        .group_id(&g.id)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.group_memberships().iter().filter_map(|m| {
                        let user = match m.member_id() {
                            Some(ids_types::MemberId::UserId(u)) => u.clone(),
                            _ => return None,
                        };
                        Some(Membership {
                            id: m.membership_id().to_string(),
                            group_id: m.group_id().unwrap_or(&g.id).to_string(),
                            user_id: user,
                        })
                    }));
                    r.next_token().map(str::to_string)
                },
            )
            .await
        })
        .await?;
        memberships.sort();
        memberships.dedup_by(|a, b| a.id == b.id);
        Ok((users, groups, memberships))
    }

    /// Every permission set with its details (five calls each; the optional ones tolerate an
    /// endpoint that does not implement them), in ARN order.
    async fn permission_sets(&self) -> Result<Vec<PermissionSet>, AwsError> {
        let inst = self.instance.arn.as_str();
        let arns: BTreeSet<String> = self
            .all(
                "sso",
                "ListPermissionSets",
                |t| {
                    self.sso
                        .list_permission_sets()
                        .instance_arn(inst)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.permission_sets().iter().cloned());
                    r.next_token().map(str::to_string)
                },
            )
            .await?
            .into_iter()
            .collect();
        let mut sets = each_unordered(&arns, |arn| async move {
            self.permission_set(arn).await.map(|p| vec![p])
        })
        .await?;
        sets.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(sets)
    }

    async fn permission_set(&self, arn: &str) -> Result<PermissionSet, AwsError> {
        let inst = self.instance.arn.as_str();
        let described = self
            .one("sso", "DescribePermissionSet", || {
                self.sso
                    .describe_permission_set()
                    .instance_arn(inst)
                    .permission_set_arn(arn)
                    .send()
            })
            .await?;
        let d = described.permission_set();
        let managed = self
            .optional("ListManagedPoliciesInPermissionSet", || {
                self.all(
                    "sso",
                    "ListManagedPoliciesInPermissionSet",
                    |t| {
                        self.sso
                            .list_managed_policies_in_permission_set()
                            .instance_arn(inst)
                            .permission_set_arn(arn)
                            .max_results(self.page)
                            .set_next_token(t)
                            .send()
                    },
                    |r, out| {
                        out.extend(r.attached_managed_policies().iter().filter_map(|p| {
                            let arn = p.arn()?.to_string();
                            let name = p.name().map(str::to_string).unwrap_or_else(|| {
                                arn.rsplit('/').next().unwrap_or(&arn).to_string()
                            });
                            Some(Attached { name, arn })
                        }));
                        r.next_token().map(str::to_string)
                    },
                )
            })
            .await?
            .unwrap_or_default();
        let customer_managed = self
            .optional("ListCustomerManagedPolicyReferencesInPermissionSet", || {
                self.all(
                    "sso",
                    "ListCustomerManagedPolicyReferencesInPermissionSet",
                    |t| {
                        self.sso
                            .list_customer_managed_policy_references_in_permission_set()
                            .instance_arn(inst)
                            .permission_set_arn(arn)
                            .max_results(self.page)
                            .set_next_token(t)
                            .send()
                    },
                    |r, out| {
                        out.extend(
                            r.customer_managed_policy_references()
                                .iter()
                                .map(|c| CustomerPolicyRef::new(c.name(), c.path())),
                        );
                        r.next_token().map(str::to_string)
                    },
                )
            })
            .await?
            .unwrap_or_default();
        let inline = self
            .optional("GetInlinePolicyForPermissionSet", || async {
                let r = self
                    .one("sso", "GetInlinePolicyForPermissionSet", || {
                        self.sso
                            .get_inline_policy_for_permission_set()
                            .instance_arn(inst)
                            .permission_set_arn(arn)
                            .send()
                    })
                    .await?;
                Ok(r.inline_policy()
                    .filter(|p| !p.trim().is_empty())
                    .map(str::to_string))
            })
            .await?
            .flatten();
        let boundary = self
            .optional("GetPermissionsBoundaryForPermissionSet", || async {
                let r = self
                    .one("sso", "GetPermissionsBoundaryForPermissionSet", || {
                        self.sso
                            .get_permissions_boundary_for_permission_set()
                            .instance_arn(inst)
                            .permission_set_arn(arn)
                            .send()
                    })
                    .await;
                match r {
                    Ok(r) => Ok(r.permissions_boundary().and_then(boundary_of)),
                    // A permission set without a boundary is answered with
                    // ResourceNotFoundException.
                    Err(e) if e.class == ErrorClass::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?
            .flatten();
        Ok(PermissionSet {
            arn: arn.to_string(),
            name: d
                .and_then(|d| d.name())
                .map(str::to_string)
                .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_string()),
            description: d
                .and_then(|d| d.description())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            session_duration: d.and_then(|d| d.session_duration()).map(str::to_string),
            relay_state: d
                .and_then(|d| d.relay_state())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            created: d.and_then(|d| d.created_date()).and_then(utc),
            managed,
            customer_managed,
            inline,
            boundary,
        })
    }

    /// Account assignments in `accounts`, by `arg` (auto: see `sync::ic_strategy`).
    async fn assignments(
        &self,
        arg: StrategyArg,
        users: &[IcUser],
        groups: &[IcGroup],
        sets: &[PermissionSet],
        accounts: &BTreeSet<String>,
    ) -> Result<(BTreeSet<Assignment>, AssignmentReport), AwsError> {
        let known = Known {
            users: users.len() as u64,
            groups: groups.len() as u64,
            permission_sets: sets.len() as u64,
            accounts: accounts.len() as u64,
        };
        let start = self.calls();
        let mut report = AssignmentReport {
            strategy: Strategy::Principal,
            auto: arg.fixed().is_none(),
            switched_from: None,
            estimate: known.describe(None),
            calls: 0,
        };
        if known.nothing_to_ask() {
            report.estimate = "none: no permission set or no account".into();
            return Ok((BTreeSet::new(), report));
        }
        let set_arns: BTreeSet<&str> = sets.iter().map(|s| s.arn.as_str()).collect();
        let plan = match arg.fixed() {
            Some(s) => s,
            None => match first_step(&known) {
                FirstStep::Principal => Strategy::Principal,
                FirstStep::Discover(s) => s,
            },
        };
        report.strategy = plan;
        let discovered = match plan {
            Strategy::Principal => None,
            Strategy::PermissionSet => Some(self.pairs_by_permission_set(sets).await?),
            Strategy::Account => Some(self.pairs_by_account(accounts).await?),
        };
        let result = if let Some(discovered) = discovered {
            let pairs: Pairs = discovered
                .into_iter()
                .filter(|(acct, ps)| accounts.contains(acct) && set_arns.contains(ps.as_str()))
                .collect();
            report.estimate = known.describe(Some(pairs.len() as u64));
            if report.auto && !keep_pairs(&known, pairs.len() as u64) {
                report.switched_from = Some(plan);
                report.strategy = Strategy::Principal;
                self.by_principal(users, groups, accounts).await?
            } else {
                self.by_pairs(&pairs).await?
            }
        } else {
            self.by_principal(users, groups, accounts).await?
        };
        report.calls = self.calls() - start;
        Ok((result, report))
    }

    async fn by_principal(
        &self,
        users: &[IcUser],
        groups: &[IcGroup],
        accounts: &BTreeSet<String>,
    ) -> Result<BTreeSet<Assignment>, AwsError> {
        let inst = self.instance.arn.as_str();
        let principals: Vec<(PrincipalKind, &str)> = users
            .iter()
            .map(|u| (PrincipalKind::User, u.id.as_str()))
            .chain(groups.iter().map(|g| (PrincipalKind::Group, g.id.as_str())))
            .collect();
        let found = each_unordered(principals, |(kind, id)| async move {
            let ptype = match kind {
                PrincipalKind::User => sso_types::PrincipalType::User,
                PrincipalKind::Group => sso_types::PrincipalType::Group,
            };
            self.all(
                "sso",
                "ListAccountAssignmentsForPrincipal",
                |t| {
                    self.sso
                        .list_account_assignments_for_principal()
                        .instance_arn(inst)
                        .principal_id(id)
                        .principal_type(ptype.clone())
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.account_assignments().iter().filter_map(|a| {
                        Some(Assignment {
                            account: a.account_id()?.to_string(),
                            permission_set: a.permission_set_arn()?.to_string(),
                            kind: a
                                .principal_type()
                                .map(principal_kind)
                                .unwrap_or(Some(kind))?,
                            principal_id: a.principal_id().unwrap_or(id).to_string(),
                        })
                    }));
                    r.next_token().map(str::to_string)
                },
            )
            .await
        })
        .await?;
        Ok(found
            .into_iter()
            .filter(|a| accounts.contains(&a.account))
            .collect())
    }

    /// The provisioned (account, permission set) pairs, one
    /// `ListAccountsForProvisionedPermissionSet` per permission set.
    async fn pairs_by_permission_set(
        &self,
        sets: &[PermissionSet],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let inst = self.instance.arn.as_str();
        each_unordered(sets, |ps| async move {
            self.all(
                "sso",
                "ListAccountsForProvisionedPermissionSet",
                |t| {
                    self.sso
                        .list_accounts_for_provisioned_permission_set()
                        .instance_arn(inst)
                        .permission_set_arn(&ps.arn)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.account_ids().iter().map(|a| (a.clone(), ps.arn.clone())));
                    r.next_token().map(str::to_string)
                },
            )
            .await
        })
        .await
    }

    /// The provisioned (account, permission set) pairs, one
    /// `ListPermissionSetsProvisionedToAccount` per account.
    async fn pairs_by_account(
        &self,
        accounts: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let inst = self.instance.arn.as_str();
        each_unordered(accounts, |acct| async move {
            self.all(
                "sso",
                "ListPermissionSetsProvisionedToAccount",
                |t| {
                    self.sso
                        .list_permission_sets_provisioned_to_account()
                        .instance_arn(inst)
                        .account_id(acct)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(
                        r.permission_sets()
                            .iter()
                            .map(|ps| (acct.clone(), ps.clone())),
                    );
                    r.next_token().map(str::to_string)
                },
            )
            .await
        })
        .await
    }

    /// `ListAccountAssignments` for every pair.
    async fn by_pairs(&self, pairs: &Pairs) -> Result<BTreeSet<Assignment>, AwsError> {
        let inst = self.instance.arn.as_str();
        let found = each_unordered(pairs, |(acct, ps)| async move {
            self.all(
                "sso",
                "ListAccountAssignments",
                |t| {
                    self.sso
                        .list_account_assignments()
                        .instance_arn(inst)
                        .account_id(acct)
                        .permission_set_arn(ps)
                        .max_results(self.page)
                        .set_next_token(t)
                        .send()
                },
                |r, out| {
                    out.extend(r.account_assignments().iter().filter_map(|a| {
                        Some(Assignment {
                            account: a.account_id().unwrap_or(acct).to_string(),
                            permission_set: a.permission_set_arn().unwrap_or(ps).to_string(),
                            kind: principal_kind(a.principal_type()?)?,
                            principal_id: a.principal_id()?.to_string(),
                        })
                    }));
                    r.next_token().map(str::to_string)
                },
            )
            .await
        })
        .await?;
        Ok(found
            .into_iter()
            .filter(|a| pairs.contains(&(a.account.clone(), a.permission_set.clone())))
            .collect())
    }
}

/// `read` for every item, [`IC_CONCURRENCY`] at a time in any order; what they found, in one
/// list.
async fn each_unordered<I, T, Fut>(
    items: impl IntoIterator<Item = I>,
    read: impl FnMut(I) -> Fut,
) -> Result<Vec<T>, AwsError>
where
    Fut: Future<Output = Result<Vec<T>, AwsError>>,
{
    let found: Vec<Vec<T>> = stream::iter(items.into_iter().map(read).collect::<Vec<_>>())
        .buffer_unordered(IC_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

fn principal_kind(t: &sso_types::PrincipalType) -> Option<PrincipalKind> {
    match t {
        sso_types::PrincipalType::User => Some(PrincipalKind::User),
        sso_types::PrincipalType::Group => Some(PrincipalKind::Group),
        _ => None,
    }
}

pub(crate) fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty()).map(str::to_string)
}

pub(crate) fn external_ids(ext: &[ids_types::ExternalId]) -> Vec<ExternalId> {
    ext.iter()
        .map(|e| ExternalId {
            issuer: e.issuer().to_string(),
            id: e.id().to_string(),
        })
        .collect()
}

pub(crate) fn person_name(n: Option<&ids_types::Name>) -> PersonName {
    n.map(|n| PersonName {
        given: nonempty(n.given_name()),
        family: nonempty(n.family_name()),
        middle: nonempty(n.middle_name()),
        prefix: nonempty(n.honorific_prefix()),
        suffix: nonempty(n.honorific_suffix()),
    })
    .unwrap_or_default()
}

pub(crate) fn user_status(s: Option<&ids_types::UserStatus>) -> UserStatus {
    match s {
        Some(ids_types::UserStatus::Enabled) => UserStatus::Enabled,
        Some(ids_types::UserStatus::Disabled) => UserStatus::Disabled,
        _ => UserStatus::Unknown,
    }
}

/// The addresses that have a value, with the store's primary flag.
pub(crate) fn emails(e: &[ids_types::Email]) -> Vec<Email> {
    e.iter()
        .filter_map(|e| {
            Some(Email {
                value: nonempty(e.value())?,
                primary: e.primary(),
            })
        })
        .collect()
}

/// A group's display name, or its id when it has none.
pub(crate) fn group_display_name(display_name: Option<&str>, id: &str) -> String {
    display_name
        .filter(|d| !d.is_empty())
        .unwrap_or(id)
        .to_string()
}

/// The [`IcUser`] of an identity-store user: a `ListUsers` item or a `DescribeUser` answer
/// (different SDK types with the same accessors, hence a macro). Provisioning describes users
/// through it, so what it reports is what a sync reads.
macro_rules! ic_user_of {
    ($u:expr) => {{
        use $crate::connector::identity_center as sic;
        let u = $u;
        $crate::connector::identity_center::model::IcUser {
            id: u.user_id().to_string(),
            user_name: u.user_name().unwrap_or_default().to_string(),
            display_name: sic::nonempty(u.display_name()),
            status: sic::user_status(u.user_status()),
            name: sic::person_name(u.name()),
            emails: sic::emails(u.emails()),
            external_ids: sic::external_ids(u.external_ids()),
        }
    }};
}
pub(crate) use ic_user_of;

/// The [`IcGroup`] of an identity-store group: a `ListGroups` item or a `DescribeGroup` answer
/// (see [`ic_user_of`]).
macro_rules! ic_group_of {
    ($g:expr) => {{
        use $crate::connector::identity_center as sic;
        let g = $g;
        $crate::connector::identity_center::model::IcGroup {
            id: g.group_id().to_string(),
            display_name: sic::group_display_name(g.display_name(), g.group_id()),
            description: sic::nonempty(g.description()),
            external_ids: sic::external_ids(g.external_ids()),
        }
    }};
}
pub(crate) use ic_group_of;

fn boundary_of(b: &sso_types::PermissionsBoundary) -> Option<Boundary> {
    if let Some(arn) = nonempty(b.managed_policy_arn()) {
        return Some(Boundary::Managed(arn));
    }
    b.customer_managed_policy_reference()
        .map(|c| Boundary::CustomerManaged(CustomerPolicyRef::new(c.name(), c.path())))
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
    fn ic_modes_accept_baton_booleans() {
        for (s, m) in [
            ("auto", IcMode::Auto),
            ("on", IcMode::On),
            ("TRUE", IcMode::On),
            ("false", IcMode::Off),
            ("Off", IcMode::Off),
        ] {
            assert_eq!(IcMode::from_str(s, true), Ok(m), "{s}");
        }
        assert!(IcMode::from_str("yes please", true).is_err());
        assert!(parse_region("eu-west-1").is_ok());
        assert!(parse_region("us-gov-west-1").is_ok());
        assert!(parse_region("EU-west-1").is_err());
        assert!(parse_region("europe").is_err());
        assert!(parse_instance_arn("arn:aws:sso:::instance/ssoins-1234").is_ok());
        assert!(parse_instance_arn("arn:aws:iam::1:role/x").is_err());
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
