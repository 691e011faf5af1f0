//! `orgsync grant`, `revoke`, `create-user`, `delete-resource`: parse and check the request
//! (exit 2 before any AWS call), print the call plan with `--dry-run`, otherwise connect with the
//! write role, run it, and print the status and the resulting record (text or `-o json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::arn::{AccountId, Arn};
use crate::aws::member_roles::AccountConfig;
use crate::aws::{CallMetrics, Session};
use crate::model::Record;
use crate::provision::call::connect_calls;
use crate::provision::request::{self, NewUser};
use crate::provision::verify_ids::SyncFile;
use crate::provision::{Call, Context, Options, Outcome};
use crate::provisioner::{self, Job, Provisioner};
use crate::sync::plan::DEFAULT_MEMBER_ROLE;

use crate::cli::args::{AwsArgs, checked, parse_arn, parse_duration};
use crate::cli::exit;
use crate::ident::{ExternalId, IdentityStoreId, Region, RoleRef};

/// `--account`: a 12-digit account id.
fn parse_account(s: &str) -> Result<AccountId, String> {
    s.parse::<AccountId>().map_err(|e| e.to_string())
}

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The roles and regions changes are made with.
#[derive(Debug, Clone, Args)]
pub struct WriteRoleArgs {
    /// Member role (name, optionally with a path) assumed in other accounts to make changes
    /// [default: --member-role-name], so the sync's role can stay read-only.
    #[arg(
        long,
        env = "ORGSYNC_PROVISIONING_ROLE_NAME",
        value_parser = checked::<RoleRef>,
        help_heading = "Write role"
    )]
    pub provisioning_role_name: Option<RoleRef>,

    /// The sync's member role, used for changes when --provisioning-role-name is not set.
    #[arg(
        long,
        env = "ORGSYNC_MEMBER_ROLE_NAME",
        default_value = DEFAULT_MEMBER_ROLE,
        value_parser = checked::<RoleRef>,
        help_heading = "Write role"
    )]
    pub member_role_name: RoleRef,

    /// External ID sent when assuming the member role.
    #[arg(long, env = "ORGSYNC_MEMBER_EXTERNAL_ID", value_parser = checked::<ExternalId>, help_heading = "Write role")]
    pub member_external_id: Option<ExternalId>,

    /// The sync's per-account / per-OU overrides file (role_name, external_id): applied to
    /// member hops when --provisioning-role-name is not set (a separate write role is the same
    /// in every account). OU entries are matched with organizations:ListParents.
    #[arg(
        long,
        env = "ORGSYNC_ACCOUNT_CONFIG",
        value_name = "FILE",
        help_heading = "Write role"
    )]
    pub account_config: Option<std::path::PathBuf>,

    /// Management role assumed first for changes [default: --role-arn].
    #[arg(long, env = "ORGSYNC_PROVISIONING_ROLE_ARN", value_parser = parse_arn, help_heading = "Write role")]
    pub provisioning_role_arn: Option<Arn>,

    /// External ID for --provisioning-role-arn [default: --external-id].
    #[arg(
        long,
        env = "ORGSYNC_PROVISIONING_EXTERNAL_ID",
        value_parser = checked::<ExternalId>,
        help_heading = "Write role"
    )]
    pub provisioning_external_id: Option<ExternalId>,

    /// IAM Identity Center region, for requests whose IDs name none (a membership id without
    /// --file, create-user --type sso_user) [default: --region, else us-east-1].
    #[arg(long, env = "ORGSYNC_SSO_REGION", value_parser = checked::<Region>, help_heading = "Write role")]
    pub sso_region: Option<Region>,

    /// How long to wait for an account assignment to leave IN_PROGRESS.
    #[arg(long, env = "ORGSYNC_ASSIGNMENT_TIMEOUT", default_value = "5m", value_parser = parse_duration, help_heading = "Write role")]
    pub assignment_timeout: Duration,
}

/// Flags every provisioning command takes.
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// Print the AWS calls that would be made, in order, and make none.
    #[arg(long, env = "ORGSYNC_DRY_RUN")]
    pub dry_run: bool,

    /// Output: a line for people (text) or {status, detail, calls, record} (json).
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ORGSYNC_OUTPUT"
    )]
    pub output: OutputFormat,

    /// A c1z written by `orgsync sync`: refuse IDs it does not hold (checked before any AWS
    /// call). Without it the IDs are parsed directly and no prior sync is needed. (Its
    /// variable is not ORGSYNC_FILE, which names the sync's output and is often set.)
    #[arg(long, short = 'f', env = "ORGSYNC_CHECK_FILE", value_name = "SYNC.c1z")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub write: WriteRoleArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

const GRANT_EXAMPLES: &str = "\
Examples (IDs as `orgsync sync` writes them; see `orgsync inspect entitlements`):
  # IAM group membership (made in the group's account)
  orgsync grant --entitlement 'group:arn:aws:iam::111122223333:group/devs:member' \\
      --principal-type iam_user --principal arn:aws:iam::111122223333:user/bob
  # A managed policy on a user, group or role (AWS-managed or customer-managed)
  orgsync grant --entitlement 'iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached' \\
      --principal-type role --principal arn:aws:iam::111122223333:role/auditor
  # IAM Identity Center group membership
  orgsync grant --entitlement 'sso_group:arn:aws:identitystore:us-east-1::d-1234567890/group/<GroupId>:member' \\
      --principal-type sso_user --principal 'arn:aws:identitystore:us-east-1::d-1234567890/user/<UserId>'
  # A permission set on an account, for an Identity Center user or group
  orgsync grant --entitlement '111122223333|arn:aws:sso:::permissionSet/ssoins-…/ps-…' \\
      --principal-type sso_group --principal 'arn:aws:identitystore:us-east-1::d-1234567890/group/<GroupId>'

A repeated grant reports already-granted (exit 0). Role `assignment` entitlements and inline
policies cannot be granted (exit 2). Exit codes: 0 done, 1 AWS refused or failed (AWS's reason is
printed; nothing else changed), 2 bad input (no AWS call made).";

const REVOKE_EXAMPLES: &str = "\
Examples (grant IDs as `orgsync sync` writes them; see `orgsync inspect grants`):
  orgsync revoke --grant 'group:arn:aws:iam::111122223333:group/devs:member:iam_user:arn:aws:iam::111122223333:user/bob'
  orgsync revoke --grant 'iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached:role:arn:aws:iam::111122223333:role/auditor'
  orgsync revoke --grant 'inline_policy:arn:aws:iam::111122223333:user/bob::inline::tmp:attached:iam_user:arn:aws:iam::111122223333:user/bob'
  orgsync revoke --grant 3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b --file sync.c1z   # Identity Center membership
  orgsync revoke --grant 'grant:sso_group:arn:aws:identitystore:us-east-1::d-1234567890/group/<GroupId>:111122223333|arn:aws:sso:::permissionSet/ssoins-…/ps-…'

Revoking an inline policy deletes it. A repeated revoke reports already-revoked (exit 0).";

const CREATE_EXAMPLES: &str = "\
Examples:
  orgsync create-user --type iam_user --user-name bob --path /engineering/ --tag team=platform
  orgsync create-user --type iam_user --user-name deploy-bot --account 111122223333
  orgsync create-user --type sso_user --user-name ann@example.com --given-name Ann \\
      --family-name Example --email ann@example.com";

const DELETE_EXAMPLES: &str = "\
Examples:
  orgsync delete-resource --resource-type iam_user --resource arn:aws:iam::111122223333:user/bob
  orgsync delete-resource --resource-type sso_user \\
      --resource 'arn:aws:identitystore:us-east-1::d-1234567890/user/<UserId>'

An IAM user's login profile, access keys, signing certificates, SSH keys, service-specific
credentials, MFA devices, inline and attached policies and group memberships are removed first.
A user that does not exist reports not-found (exit 0).";

/// `orgsync grant`.
#[derive(Debug, Clone, Args)]
#[command(after_help = GRANT_EXAMPLES)]
pub struct GrantArgs {
    /// Entitlement ID, as a sync writes it.
    #[arg(long, short = 'e', env = "ORGSYNC_ENTITLEMENT")]
    pub entitlement: String,
    /// iam_user, group, role, sso_user or sso_group.
    #[arg(long, env = "ORGSYNC_PRINCIPAL_TYPE")]
    pub principal_type: String,
    /// Principal ID, as a sync writes it (an IAM ARN or an identity-store ARN).
    #[arg(long, short = 'p', env = "ORGSYNC_PRINCIPAL")]
    pub principal: String,
    #[command(flatten)]
    pub common: ProvisionArgs,
}

/// `orgsync revoke`.
#[derive(Debug, Clone, Args)]
#[command(after_help = REVOKE_EXAMPLES)]
pub struct RevokeArgs {
    /// Grant ID, as a sync writes it.
    #[arg(long, short = 'g', env = "ORGSYNC_GRANT")]
    pub grant: String,
    #[command(flatten)]
    pub common: ProvisionArgs,
}

/// `create-user --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserType {
    #[value(name = "iam_user")]
    IamUser,
    #[value(name = "sso_user")]
    SsoUser,
}

/// `orgsync create-user`.
#[derive(Debug, Clone, Args)]
#[command(after_help = CREATE_EXAMPLES)]
pub struct CreateUserArgs {
    /// iam_user or sso_user.
    #[arg(long = "type", value_enum, env = "ORGSYNC_TYPE")]
    pub user_type: UserType,
    /// User name.
    #[arg(long, env = "ORGSYNC_USER_NAME")]
    pub user_name: String,
    /// iam_user: IAM path.
    #[arg(long, default_value = "/", env = "ORGSYNC_PATH")]
    pub path: String,
    /// iam_user: a tag KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", env = "ORGSYNC_TAG")]
    pub tags: Vec<String>,
    /// iam_user: account to create it in [default: the caller's].
    #[arg(long, env = "ORGSYNC_ACCOUNT", value_parser = parse_account)]
    pub account: Option<AccountId>,
    /// sso_user: display name [default: "<given name> <family name>"].
    #[arg(long, env = "ORGSYNC_DISPLAY_NAME")]
    pub display_name: Option<String>,
    /// sso_user: given name.
    #[arg(long, env = "ORGSYNC_GIVEN_NAME")]
    pub given_name: Option<String>,
    /// sso_user: family name.
    #[arg(long, env = "ORGSYNC_FAMILY_NAME")]
    pub family_name: Option<String>,
    /// sso_user: email address (repeatable; the first is primary).
    #[arg(long = "email", env = "ORGSYNC_EMAIL")]
    pub emails: Vec<String>,
    /// sso_user: identity store [default: the first IAM Identity Center instance's].
    #[arg(long, env = "ORGSYNC_IDENTITY_STORE_ID", value_parser = checked::<IdentityStoreId>)]
    pub identity_store_id: Option<IdentityStoreId>,
    #[command(flatten)]
    pub common: ProvisionArgs,
}

/// `orgsync delete-resource`.
#[derive(Debug, Clone, Args)]
#[command(after_help = DELETE_EXAMPLES)]
pub struct DeleteResourceArgs {
    /// iam_user or sso_user.
    #[arg(long, env = "ORGSYNC_RESOURCE_TYPE")]
    pub resource_type: String,
    /// Resource ID, as a sync writes it (the user's ARN).
    #[arg(long, short = 'r', env = "ORGSYNC_RESOURCE")]
    pub resource: String,
    #[command(flatten)]
    pub common: ProvisionArgs,
}

fn open_file(c: &ProvisionArgs) -> anyhow::Result<Option<SyncFile>> {
    match &c.file {
        Some(f) => Ok(Some(SyncFile::open(f).map_err(exit::usage)?)),
        None => Ok(None),
    }
}

/// Runs `orgsync grant`.
pub async fn run_grant(a: GrantArgs) -> anyhow::Result<u8> {
    let req =
        request::grant(&a.entitlement, &a.principal_type, &a.principal).map_err(exit::usage)?;
    if let Some(f) = open_file(&a.common)? {
        f.check_grant(&a.entitlement, &a.principal_type, &a.principal)
            .map_err(exit::usage)?;
    }
    execute(&a.common, Job::Change(req)).await
}

/// Runs `orgsync revoke`.
pub async fn run_revoke(a: RevokeArgs) -> anyhow::Result<u8> {
    let mut req = request::revoke(&a.grant).map_err(exit::usage)?;
    if let Some(f) = open_file(&a.common)? {
        f.check_revoke(&a.grant, &mut req).map_err(exit::usage)?;
    }
    execute(&a.common, Job::Change(req)).await
}

/// Runs `orgsync create-user`.
pub async fn run_create_user(a: CreateUserArgs) -> anyhow::Result<u8> {
    let bad = |m: String| exit::usage(anyhow::anyhow!(m));
    let user = match a.user_type {
        UserType::IamUser => {
            for (flag, set) in [
                ("--display-name", a.display_name.is_some()),
                ("--given-name", a.given_name.is_some()),
                ("--family-name", a.family_name.is_some()),
                ("--email", !a.emails.is_empty()),
                ("--identity-store-id", a.identity_store_id.is_some()),
            ] {
                if set {
                    return Err(bad(format!("{flag} is for --type sso_user")));
                }
            }
            request::check_iam_user(&a.user_name, &a.path).map_err(exit::usage)?;
            let mut tags = vec![];
            for t in &a.tags {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| bad(format!("'{t}' is not a tag (expected KEY=VALUE)")))?;
                if k.is_empty() {
                    return Err(bad(format!("'{t}' has an empty tag key")));
                }
                tags.push((k.to_string(), v.to_string()));
            }
            NewUser::Iam {
                account: a.account.clone(),
                user_name: a.user_name.clone(),
                path: a.path.clone(),
                tags,
            }
        }
        UserType::SsoUser => {
            for (flag, set) in [
                ("--tag", !a.tags.is_empty()),
                ("--account", a.account.is_some()),
                ("--path", a.path != "/"),
            ] {
                if set {
                    return Err(bad(format!("{flag} is for --type iam_user")));
                }
            }
            let (Some(given), Some(family)) = (&a.given_name, &a.family_name) else {
                return Err(bad(
                    "--type sso_user needs --given-name and --family-name".into()
                ));
            };
            crate::ident::identity_store_user_name(&a.user_name)
                .map_err(|e| bad(format!("--user-name: {e}")))?;
            NewUser::Sso {
                identity_store_id: a.identity_store_id.as_ref().map(|i| i.to_string()),
                user_name: a.user_name.clone(),
                display_name: a
                    .display_name
                    .clone()
                    .unwrap_or_else(|| format!("{given} {family}")),
                given_name: given.clone(),
                family_name: family.clone(),
                emails: a.emails.clone(),
            }
        }
    };
    execute(&a.common, Job::Create(user)).await
}

/// Runs `orgsync delete-resource`.
pub async fn run_delete_resource(a: DeleteResourceArgs) -> anyhow::Result<u8> {
    let target = request::delete_target(&a.resource_type, &a.resource).map_err(exit::usage)?;
    if let Some(f) = open_file(&a.common)? {
        f.check_resource(&a.resource_type, &a.resource)
            .map_err(exit::usage)?;
    }
    execute(&a.common, Job::Delete(target)).await
}

fn management_role(c: &ProvisionArgs) -> Option<&Arn> {
    c.write
        .provisioning_role_arn
        .as_ref()
        .or(c.aws.role_arn.as_ref())
}

fn member_role(c: &ProvisionArgs) -> String {
    c.write
        .provisioning_role_name
        .as_ref()
        .unwrap_or(&c.write.member_role_name)
        .trimmed()
        .to_string()
}

/// The overrides that apply to write hops: the sync's `--account-config`, unless a separate
/// provisioning role is named. A bad file is bad input (exit 2, no AWS call).
fn overrides(c: &ProvisionArgs) -> anyhow::Result<Option<AccountConfig>> {
    match (&c.write.account_config, &c.write.provisioning_role_name) {
        (Some(path), None) => Ok(Some(AccountConfig::load(path).map_err(exit::usage)?)),
        _ => Ok(None),
    }
}

/// What the steps are built from in a dry run: the flags (the caller is known only when a
/// management role names it).
fn plan_context(c: &ProvisionArgs, overrides: Option<AccountConfig>) -> Context {
    let mgmt = management_role(c);
    Context {
        management_role: mgmt.map(|a| a.to_string()),
        caller: mgmt.and_then(|a| a.account_id()),
        partition: mgmt
            .map(|a| a.partition.clone())
            .unwrap_or_else(|| "aws".into()),
        member_role: member_role(c),
        member_external_id: c.write.member_external_id.is_some(),
        overrides,
        sso_region: c
            .write
            .sso_region
            .as_ref()
            .or(c.aws.region.as_ref())
            .map(|r| r.to_string())
            .unwrap_or_else(|| "<the session's region>".into()),
    }
}

async fn execute(c: &ProvisionArgs, job: Job) -> anyhow::Result<u8> {
    let overrides = overrides(c)?;
    let cx = plan_context(c, overrides.clone());
    if c.dry_run {
        let calls = provisioner::plan(&job, &cx).map_err(exit::usage)?;
        print_plan(c.output, &calls)?;
        return Ok(exit::OK);
    }

    let mut settings = c.aws.settings();
    settings.role_arn = management_role(c).cloned();
    settings.external_id = c
        .write
        .provisioning_external_id
        .as_ref()
        .or(c.aws.external_id.as_ref())
        .map(|x| x.to_string());
    let metrics = CallMetrics::new();
    let session = Session::connect(settings, Arc::clone(&metrics))
        .await
        .context("connecting to AWS")?;
    let caller = session.caller.account.clone();
    tracing::info!(account = %caller, caller = %session.caller.arn, "connected");
    let sso_region = c
        .write
        .sso_region
        .as_ref()
        .map(|r| r.to_string())
        .or_else(|| {
            session
                .base_config()
                .region()
                .map(|r| r.as_ref().to_string())
        })
        .unwrap_or_else(|| "us-east-1".into());
    let opts = Options {
        member_role: member_role(c),
        member_external_id: c.write.member_external_id.as_ref().map(|x| x.to_string()),
        overrides,
        sso_region,
        assignment_timeout: c.write.assignment_timeout,
        ..Options::default()
    };
    let prov = Provisioner::new(session, opts);
    let result = prov.run(&job).await;
    let totals = metrics.totals();
    // The operations the SDK itself reported, per `service:Operation` (what the outcome's
    // calls must match; tests/provision.rs holds them together).
    let operations: std::collections::BTreeMap<String, u64> = metrics
        .snapshot()
        .into_iter()
        .map(|(op, s)| (op, s.calls))
        .collect();
    tracing::info!(
        requests = totals.requests,
        retries = totals.retries(),
        operations = %serde_json::json!(operations),
        "AWS requests made"
    );
    match result {
        Ok(mut outcome) => {
            // Connecting made these calls; the caller is known now.
            let connected = Context {
                caller: Some(caller),
                ..cx
            };
            let mut calls: Vec<Call> = connect_calls(&connected);
            calls.append(&mut outcome.calls);
            outcome.calls = calls;
            print_outcome(c.output, &outcome)?;
            Ok(exit::OK)
        }
        Err(e) if e.is_usage() => Err(exit::usage(e)),
        Err(e) => Err(exit::with_code(exit::FAILURE, e)),
    }
}

fn print_plan(output: OutputFormat, calls: &[Call]) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "status": "dry-run",
                "detail": "no AWS call was made",
                "calls": calls,
                "record": null,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        OutputFormat::Text => {
            println!("dry run: no AWS call made. A real run makes these calls, in order:");
            for (i, call) in calls.iter().enumerate() {
                println!("  {:>2}. {call}", i + 1);
            }
        }
    }
    Ok(())
}

fn print_outcome(output: OutputFormat, o: &Outcome) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&o.to_json())?),
        OutputFormat::Text => {
            println!("{}: {}", o.status, o.detail);
            match &o.record {
                Some(Record::Grant(g)) => println!("grant id: {}", g.id),
                Some(r @ Record::Resource(_)) => println!("resource: {}", r.external_id()),
                _ => {}
            }
        }
    }
    Ok(())
}
