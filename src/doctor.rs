//! `orgsync check`: validates a setup before the first sync, step by step, and says how to
//! fix what is broken. Base credentials and the management hop (the sync's own
//! `Session::connect`, its failures mapped to findings), the organization listing (the
//! sync's own planner, so filters and overrides apply), every member hop with a
//! representative IAM read, and Identity Center access. Every hop that uses an External ID is
//! tried again without it: if AWS lets that through, the role is open to the confused-deputy
//! problem and a warning says so; every hop configured without one gets a warning with the
//! trust-policy condition to add.
//!
//! Not here: rendering (`cli::cmd::check`), or reading anything beyond one cheap call per
//! permission that a sync needs.

use std::sync::Arc;

use aws_sdk_iam::types::EntityType;
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::aws::session::{Session, SessionError, Settings};
use crate::aws::{AwsError, CallMetrics, ErrorClass, Scope};
use crate::connector::identity_center::discover::{Missing, locate};
use crate::connector::identity_center::{IcMode, IcOptions};
use crate::sync::plan::{self, AccountPlan, OrgMode, Plan, PlanError, PlanOptions};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Works, but something is wrong or unverified (e.g. a role assumable without its
    /// External ID).
    Warn,
    /// Broken: a sync would fail or miss data.
    Fail,
    /// Not applicable (e.g. no management role, a suspended account).
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked: `credentials`, `management_hop`, `external_id`, `organization`,
    /// `member_hop`, `iam_read`, `identity_center`.
    pub check: &'static str,
    /// The account, role or region it was about.
    pub target: String,
    pub status: Status,
    pub detail: String,
    /// What to change, for failures and warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn new(
        check: &'static str,
        target: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            target: target.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub plan: PlanOptions,
    /// Identity Center as `sync` would use it (`--identity-center off` skips the check).
    pub ic: IcOptions,
    /// Accounts checked at the same time.
    pub concurrency: usize,
}

/// `arn:aws:sts::A:assumed-role/NAME/SESSION` → `arn:aws:iam::A:role/NAME` (the principal a
/// trust policy names); other ARNs unchanged.
pub fn principal_of(caller_arn: &str) -> String {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    if parts.len() == 6
        && parts[2] == "sts"
        && let Some(rest) = parts[5].strip_prefix("assumed-role/")
        && let Some((name, _session)) = rest.rsplit_once('/')
    {
        return format!("arn:{}:iam::{}:role/{name}", parts[1], parts[4]);
    }
    caller_arn.to_string()
}

fn hop_fix(
    e: &AwsError,
    role_arn: &str,
    principal: &str,
    external_id_flag: Option<&str>,
) -> String {
    match e.class {
        ErrorClass::AssumeRoleDenied | ErrorClass::AccessDenied | ErrorClass::NotFound => {
            let condition = external_id_flag
                .map(|f| format!(" with the condition StringEquals sts:ExternalId = the value of {f}"))
                .unwrap_or_default();
            format!(
                "make sure {role_arn} exists and its trust policy allows {principal} to call sts:AssumeRole{condition}; {principal} itself needs sts:AssumeRole on it (`orgsync policy --read`). The templates in deploy/cloudformation/ set up both sides"
            )
        }
        ErrorClass::InvalidCredentials | ErrorClass::ExpiredToken => {
            "the credentials that hop are not valid (expired session or wrong key): refresh them".into()
        }
        ErrorClass::Throttled | ErrorClass::Timeout | ErrorClass::Transient => {
            "AWS did not answer in time: check the network, proxies and AWS_ENDPOINT_URL, then run check again".into()
        }
        _ => format!("see the AWS error; `orgsync policy --read` lists what {principal} needs"),
    }
}

/// The verdict on `open`, a hop into `role_arn` without the External ID `flag` sets: ok when
/// AWS refuses it, a warning when it lets it through (or cannot tell).
async fn external_id_finding(open: &Scope, target: &str, role_arn: &str, flag: &str) -> Finding {
    match open.verify().await {
        Ok(()) => Finding::new(
            "external_id",
            target,
            Status::Warn,
            format!("{role_arn} can be assumed WITHOUT the External ID: the role is open to the confused-deputy problem"),
        )
        .fix(format!(
            "add to the trust policy of {role_arn} the condition {{\"StringEquals\": {{\"sts:ExternalId\": \"<the value of {flag}>\"}}}}"
        )),
        Err(e) if matches!(e.class, ErrorClass::AssumeRoleDenied | ErrorClass::AccessDenied) => {
            Finding::new(
                "external_id",
                target,
                Status::Ok,
                "refused without the External ID",
            )
        }
        Err(e) => Finding::new(
            "external_id",
            target,
            Status::Warn,
            format!("could not verify that the External ID is required: {e}"),
        ),
    }
}

/// The trust-policy condition that makes AWS require an External ID on a hop.
const EXTERNAL_ID_CONDITION: &str =
    r#""Condition": {"StringEquals": {"sts:ExternalId": "<value>"}}"#;

/// The warning for a hop into `role_arn` configured without an External ID (`how` says how to
/// give one).
fn no_external_id(target: &str, role_arn: &str, how: &str) -> Finding {
    Finding::new(
        "external_id",
        target,
        Status::Warn,
        format!("the hop into {role_arn} is configured without an External ID: any caller that can make this identity assume the role gets its access (confused deputy)"),
    )
    .fix(format!(
        "choose a secret value, give it to orgsync with {how}, and add to the trust policy of {role_arn} (its sts:AssumeRole statement): {EXTERNAL_ID_CONDITION}"
    ))
}

/// One cheap IAM read with the account's credentials (the sync's main call).
async fn iam_read(scope: &Scope, target: &str, role_hint: &str) -> Finding {
    let iam = scope.iam();
    let r = scope
        .call(scope.iam_limiter(), || {
            iam.get_account_authorization_details()
                .filter(EntityType::LocalManagedPolicy)
                .max_items(1)
                .send()
        })
        .await;
    allowed(
        "iam_read",
        target,
        "iam:GetAccountAuthorizationDetails",
        r,
        |e| match e.class {
            ErrorClass::AccessDenied => format!(
                "attach the read policy to {role_hint}: `orgsync policy --read --member` (deploy/cloudformation/orgsync-member-role.yaml has it)"
            ),
            _ => "see the AWS error and run check again".to_string(),
        },
    )
}

/// The finding of a one-call permission probe: ok ("`op` allowed") when AWS answered, else
/// FAIL with AWS's error and the fix `fix` gives for it.
fn allowed<T>(
    check: &'static str,
    target: &str,
    op: &str,
    answer: Result<T, AwsError>,
    fix: impl FnOnce(&AwsError) -> String,
) -> Finding {
    match answer {
        Ok(_) => Finding::new(check, target, Status::Ok, format!("{op} allowed")),
        Err(e) => {
            let fix = fix(&e);
            Finding::new(check, target, Status::Fail, e.to_string()).fix(fix)
        }
    }
}

async fn check_member(session: &Session, acct: &AccountPlan, principal: &str) -> Vec<Finding> {
    let id = &acct.info.account_id;
    let target = if acct.info.name == id.as_str() {
        id.to_string()
    } else {
        format!("{} ({})", acct.info.account_id, acct.info.name)
    };
    if let Some(reason) = &acct.skip {
        return vec![Finding::new(
            "member_hop",
            target,
            Status::Skipped,
            reason.clone(),
        )];
    }
    if acct.info.is_caller {
        return vec![
            Finding::new(
                "member_hop",
                &target,
                Status::Skipped,
                "the caller's own account: read without a hop",
            ),
            iam_read(session.management(), &target, principal).await,
        ];
    }
    let scope = session.member(id, &acct.role, acct.external_id.as_deref());
    let role_arn = scope.role_arn.clone().unwrap_or_default();
    let mut out = vec![];
    if acct.external_id.is_none() {
        out.push(no_external_id(
            &target,
            &role_arn,
            "--member-external-id (or the account's `external_id` in --account-config)",
        ));
    }
    match scope.verify().await {
        Ok(()) => out.push(Finding::new(
            "member_hop",
            &target,
            Status::Ok,
            format!(
                "assumed {role_arn}{}",
                if acct.external_id.is_some() {
                    " with the External ID"
                } else {
                    ""
                }
            ),
        )),
        Err(e) => {
            let flag = acct
                .external_id
                .as_ref()
                .map(|_| "--member-external-id (or the account's override)");
            out.push(
                Finding::new("member_hop", &target, Status::Fail, e.to_string())
                    .fix(hop_fix(&e, &role_arn, principal, flag)),
            );
            return out;
        }
    }
    out.push(iam_read(&scope, &target, &role_arn).await);
    if acct.external_id.is_some() {
        let open = session.member(id, &acct.role, None);
        out.push(external_id_finding(&open, &target, &role_arn, "--member-external-id").await);
    }
    out
}

/// Identity Center as the sync finds it (`identity_center::discover`: the same regions, the same
/// instance choice), then one identity-store read and one permission-set read on it.
async fn identity_center(session: &Session, ic: &IcOptions, plan: &Plan) -> Vec<Finding> {
    let located = locate(
        session,
        &plan.organization,
        ic.sso_region.as_deref(),
        ic.instance_arn.as_deref(),
    )
    .await;
    let target = format!("regions {}", located.tried.join(","));
    let required = ic.mode == IcMode::On;
    let (instance, notes) = match located.found {
        Ok(p) => p,
        Err(missing) => {
            // A sync in auto mode leaves Identity Center out; a refusal or failure is still
            // worth a warning, and `on` makes any of them a failure.
            let (detail, fix, suspicious) = match &missing {
                Missing::Denied(e) => (
                    format!("sso:ListInstances refused: {e}"),
                    "grant the Identity Center reads (`orgsync policy --read`), or pass --identity-center off",
                    true,
                ),
                Missing::Failed(e) => (
                    format!("no instance found (last error: {e})"),
                    "set --sso-region to the instance's region",
                    true,
                ),
                Missing::NoInstance => (
                    "no Identity Center instance found; a sync leaves Identity Center out".into(),
                    "set --sso-region to the instance's region, or --identity-center off",
                    false,
                ),
                Missing::NotChosen(why) => {
                    return vec![
                        Finding::new("identity_center", &target, Status::Fail, why.clone())
                            .fix("pass --ic-instance-arn with one of the instances found"),
                    ];
                }
            };
            let status = match (required, suspicious) {
                (true, _) => Status::Fail,
                (false, true) => Status::Warn,
                (false, false) => Status::Skipped,
            };
            let f = Finding::new("identity_center", &target, status, detail);
            return vec![if status == Status::Skipped {
                f
            } else {
                f.fix(fix)
            }];
        }
    };
    let (scope, lim) = (session.management(), session.ic_limiter());
    let target = format!("region {}", instance.region);
    let mut out = vec![Finding::new(
        "identity_center",
        &target,
        Status::Ok,
        format!(
            "instance {} (identity store {}, owner {})",
            instance.arn,
            instance.identity_store_id,
            instance.owner_account.as_deref().unwrap_or("unknown")
        ),
    )];
    for n in notes {
        out.push(Finding::new("identity_center", &target, Status::Warn, n));
    }
    let ids = scope.identity_store(&instance.region);
    let users = scope
        .call(lim, || {
            ids.list_users()
                .identity_store_id(&instance.identity_store_id)
                .max_results(1)
                .send()
        })
        .await
        .map(drop);
    let sso = scope.sso_admin(&instance.region);
    let sets = scope
        .call(lim, || {
            sso.list_permission_sets()
                .instance_arn(&instance.arn)
                .max_results(1)
                .send()
        })
        .await
        .map(drop);
    for (op, answer) in [
        ("identitystore:ListUsers", users),
        ("sso:ListPermissionSets", sets),
    ] {
        out.push(allowed("identity_center", &target, op, answer, |_| {
            "grant the Identity Center reads (`orgsync policy --read`)".into()
        }));
    }
    out
}

/// The findings of a session that could not be established: which step failed and its fix.
async fn session_failure(settings: &Settings, e: SessionError) -> Vec<Finding> {
    let unusable = |e: &AwsError| match e.class {
        ErrorClass::InvalidCredentials | ErrorClass::ExpiredToken => {
            Some("the base credentials are not valid or have expired: refresh them")
        }
        ErrorClass::Throttled | ErrorClass::Timeout | ErrorClass::Transient => {
            Some("cannot reach STS: check the network, proxies, AWS_REGION and AWS_ENDPOINT_URL")
        }
        _ => None,
    };
    let base = "base credentials";
    match e {
        SessionError::NoCredentials(_) => vec![Finding::new("credentials", base, Status::Fail, e.to_string()).fix(
            "give orgsync AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance, task or web-identity (IRSA) role",
        )],
        // The hop was refused for the base credentials themselves (not valid, STS not reached).
        SessionError::ManagementHop { ref source, .. } if unusable(source).is_some() => {
            let fix = unusable(source).unwrap_or_default();
            vec![Finding::new("credentials", base, Status::Fail, e.to_string()).fix(fix)]
        }
        SessionError::ManagementHop { role, source } => {
            // The base identity is what the trust policy must name: ask who it is (only
            // here, when the hop failed).
            let mut without_hop = settings.clone();
            without_hop.role_arn = None;
            without_hop.external_id = None;
            let caller = Session::connect(without_hop, CallMetrics::new())
                .await
                .ok()
                .map(|s| s.caller.arn);
            let principal = caller
                .as_deref()
                .map(principal_of)
                .unwrap_or_else(|| "the base identity".into());
            let flag = settings.external_id.as_ref().map(|_| "--external-id");
            let fix = hop_fix(&source, &role, &principal, flag);
            vec![
                Finding::new(
                    "credentials",
                    base,
                    Status::Ok,
                    caller
                        .map(|c| format!("caller {c}"))
                        .unwrap_or_else(|| "resolved".into()),
                ),
                Finding::new("management_hop", role, Status::Fail, source.to_string()).fix(fix),
            ]
        }
        SessionError::CallerIdentity(ref source) => {
            let fix = unusable(source).unwrap_or("see the AWS error and run check again");
            let target = if settings.role_arn.is_some() {
                "management session"
            } else {
                base
            };
            vec![Finding::new("credentials", target, Status::Fail, e.to_string()).fix(fix)]
        }
    }
}

/// Runs every check; never fails as a whole (each problem is a finding).
pub async fn run_checks(settings: Settings, opts: &CheckOptions) -> Vec<Finding> {
    let metrics = CallMetrics::new();

    // 1. Base credentials and the management hop: the session the sync would use.
    let session = match Session::connect(settings.clone(), Arc::clone(&metrics)).await {
        Ok(s) => s,
        Err(e) => return session_failure(&settings, e).await,
    };
    // 2. (With an External ID) the same hop without it.
    let mut out = management_findings(&session, &settings).await;

    let principal = principal_of(&session.caller.arn);

    // 3. The organization, planned exactly as a sync plans it.
    let plan = match plan::build(&session, &opts.plan).await {
        Ok(p) => p,
        Err(e) => {
            out.push(plan_failure(&session, &principal, e));
            return out;
        }
    };
    out.extend(organization_findings(&session, &plan, opts.plan.orgs));

    // 4. Every member hop.
    let members: Vec<Vec<Finding>> = stream::iter(&plan.accounts)
        .map(|a| check_member(&session, a, &principal))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    out.extend(members.into_iter().flatten());

    // 5. Identity Center, with what planning learnt about the organization.
    if opts.ic.mode != IcMode::Off {
        out.extend(identity_center(&session, &opts.ic, &plan).await);
    }
    out
}

/// The base credentials and the management hop of an established session; with an External
/// ID, the same hop tried without it.
async fn management_findings(session: &Session, settings: &Settings) -> Vec<Finding> {
    let Some(role) = &settings.role_arn else {
        return vec![
            Finding::new(
                "credentials",
                "base credentials",
                Status::Ok,
                format!("caller {}", session.caller.arn),
            ),
            Finding::new(
                "management_hop",
                "(no --role-arn)",
                Status::Skipped,
                "the base credentials act as the management identity",
            ),
        ];
    };
    let role = role.to_string();
    let with = if settings.external_id.is_some() {
        " with the External ID"
    } else {
        ""
    };
    let mut out = vec![
        Finding::new(
            "credentials",
            "base credentials",
            Status::Ok,
            "resolved; they assumed the management role",
        ),
        Finding::new(
            "management_hop",
            &role,
            Status::Ok,
            format!("assumed{with} as {}", session.caller.arn),
        ),
    ];
    if settings.external_id.is_none() {
        out.push(no_external_id(&role, &role, "--external-id"));
    } else if let Some(open) = session.management_with_external_id(None) {
        out.push(external_id_finding(&open, &role, &role, "--external-id").await);
    }
    out
}

/// Why planning failed, and its fix.
fn plan_failure(session: &Session, principal: &str, e: PlanError) -> Finding {
    let account = session.caller.account.to_string();
    match e {
        PlanError::NoOrganization(_) => Finding::new("organization", account, Status::Fail, e.to_string())
            .fix("run from the management account or a delegated administrator (--role-arn), or use --orgs auto/off"),
        PlanError::Aws(e) => {
            let fix = match e.class {
                ErrorClass::AccessDenied => {
                    format!("grant {principal} the Organizations reads (`orgsync policy --read`)")
                }
                _ => "see the AWS error and run check again".into(),
            };
            Finding::new("organization", account, Status::Fail, e.to_string()).fix(fix)
        }
    }
}

/// What planning found of the organization: its size and notes, or why a sync would read the
/// caller's account alone.
fn organization_findings(session: &Session, plan: &Plan, orgs: OrgMode) -> Vec<Finding> {
    let account = session.caller.account.to_string();
    if plan.org_records.is_empty() {
        let why = plan
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| "organization mode is off".into());
        let status = if orgs == OrgMode::Off {
            Status::Skipped
        } else {
            Status::Warn
        };
        let mut f = Finding::new("organization", account, status, why);
        if status == Status::Warn {
            f = f.fix("to sync the whole organization, run from the management account or a delegated administrator (--role-arn) with the Organizations reads (`orgsync policy --read`)");
        }
        return vec![f];
    }
    let skipped = plan.accounts.iter().filter(|a| a.skip.is_some()).count();
    let mut out = vec![Finding::new(
        "organization",
        &account,
        Status::Ok,
        format!(
            "{} accounts planned ({} to read, {skipped} skipped), {} organizational units",
            plan.accounts.len(),
            plan.accounts.len() - skipped,
            plan.ou_count
        ),
    )];
    for n in &plan.notes {
        out.push(Finding::new(
            "organization",
            &account,
            Status::Warn,
            n.clone(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_principal_of_an_assumed_role() {
        assert_eq!(
            principal_of("arn:aws:sts::111122223333:assumed-role/OrgSyncManagement/orgsync"),
            "arn:aws:iam::111122223333:role/OrgSyncManagement"
        );
        assert_eq!(
            principal_of("arn:aws:iam::111122223333:user/ops"),
            "arn:aws:iam::111122223333:user/ops"
        );
    }
}
