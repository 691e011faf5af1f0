//! Command-line arguments shared by the commands that talk to AWS. Every flag also reads an
//! `ORGSYNC_<FLAG>` environment variable; baton-aws's `BATON_*` names are accepted as aliases.

use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use orgsync::arn::Arn;
use orgsync::aws::Settings;
use orgsync::ident::{ExternalId, Region, SessionName};

/// `--role-arn` and the other management-role flags: an IAM role ARN by IAM's rules
/// (`Arn::parse_role`).
pub(crate) fn parse_arn(s: &str) -> Result<Arn, String> {
    Arn::parse_role(s).map_err(|e| e.to_string())
}

/// A value parser for a string newtype of `ident` (its error names the value, shortened).
pub(crate) fn checked<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = orgsync::ident::Invalid>,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration (e.g. 500ms, 30s, 5m): {e}"))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a rate (requests per second, 0 = unlimited)"
        )),
    }
}

/// `--retry-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryModeArg {
    Standard,
    Adaptive,
}

/// How to reach AWS.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS region for STS and signing (default: from the environment/profile, else us-east-1).
    #[arg(long, env = "ORGSYNC_REGION", value_parser = checked::<Region>, help_heading = "AWS")]
    pub region: Option<Region>,

    /// Management role to assume first (e.g. arn:aws:iam::123456789012:role/OrgSyncReader).
    #[arg(long, env = "ORGSYNC_ROLE_ARN", value_parser = parse_arn, help_heading = "AWS")]
    pub role_arn: Option<Arn>,

    /// External ID for the management-role hop.
    #[arg(long, env = "ORGSYNC_EXTERNAL_ID", value_parser = checked::<ExternalId>, help_heading = "AWS")]
    pub external_id: Option<ExternalId>,

    /// Session name on every hop (shows up in CloudTrail).
    #[arg(
        long,
        env = "ORGSYNC_SESSION_NAME",
        default_value = "orgsync",
        value_parser = checked::<SessionName>,
        help_heading = "AWS"
    )]
    pub session_name: SessionName,

    /// How the SDK retries errors and timeouts (adaptive adds its own client-side rate
    /// limiting after throttling). Throttled IAM, Organizations and Identity Center calls are
    /// retried by orgsync through its rate limits, whatever the mode.
    #[arg(
        long,
        env = "ORGSYNC_RETRY_MODE",
        value_enum,
        default_value = "standard",
        help_heading = "AWS"
    )]
    pub retry_mode: RetryModeArg,

    /// Attempts per AWS call, the first included.
    #[arg(
        long,
        env = "ORGSYNC_MAX_ATTEMPTS",
        default_value_t = 10,
        help_heading = "AWS"
    )]
    pub max_attempts: u32,

    /// First retry backoff (jittered, doubling up to --retry-max-backoff).
    #[arg(long, env = "ORGSYNC_RETRY_INITIAL_BACKOFF", default_value = "500ms", value_parser = parse_duration, help_heading = "AWS")]
    pub retry_initial_backoff: Duration,

    /// Longest retry backoff.
    #[arg(long, env = "ORGSYNC_RETRY_MAX_BACKOFF", default_value = "20s", value_parser = parse_duration, help_heading = "AWS")]
    pub retry_max_backoff: Duration,

    /// Timeout of one HTTP attempt.
    #[arg(long, env = "ORGSYNC_ATTEMPT_TIMEOUT", default_value = "60s", value_parser = parse_duration, help_heading = "AWS")]
    pub attempt_timeout: Duration,

    /// IAM requests per second per account (0 = unlimited).
    #[arg(long, env = "ORGSYNC_IAM_RATE_LIMIT", default_value = "15", value_parser = parse_rate, help_heading = "AWS")]
    pub iam_rate_limit: f64,

    /// Identity Center requests per second for the whole organization (0 = unlimited).
    #[arg(long, env = "ORGSYNC_IC_RATE_LIMIT", default_value = "20", value_parser = parse_rate, help_heading = "AWS")]
    pub ic_rate_limit: f64,

    /// Organizations requests per second (0 = unlimited).
    #[arg(long, env = "ORGSYNC_ORG_RATE_LIMIT", default_value = "4", value_parser = parse_rate, help_heading = "AWS")]
    pub org_rate_limit: f64,

    /// Items per page of paged IAM calls (1-1000).
    #[arg(long, env = "ORGSYNC_IAM_PAGE_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000), hide = true)]
    pub iam_page_size: i32,

    /// Items per page of paged Organizations calls (1-20).
    #[arg(long, env = "ORGSYNC_ORG_PAGE_SIZE", default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=20), hide = true)]
    pub org_page_size: i32,

    /// Items per page of paged Identity Center and identity-store calls (1-100).
    #[arg(long, env = "ORGSYNC_IC_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=100), hide = true)]
    pub ic_page_size: i32,

    /// Refresh hopped credentials this long before they expire.
    #[arg(long, env = "ORGSYNC_CREDENTIAL_REFRESH", default_value = "5m", value_parser = parse_duration, help_heading = "AWS", action = ArgAction::Set)]
    pub credential_refresh: Duration,
}

impl AwsArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            region: self.region.as_ref().map(|r| r.to_string()),
            role_arn: self.role_arn.clone(),
            external_id: self.external_id.as_ref().map(|x| x.to_string()),
            session_name: self.session_name.to_string(),
            retry_mode: match self.retry_mode {
                RetryModeArg::Standard => aws_sdk_iam::config::retry::RetryMode::Standard,
                RetryModeArg::Adaptive => aws_sdk_iam::config::retry::RetryMode::Adaptive,
            },
            max_attempts: self.max_attempts.max(1),
            initial_backoff: self.retry_initial_backoff,
            max_backoff: self.retry_max_backoff,
            attempt_timeout: self.attempt_timeout,
            iam_rps: self.iam_rate_limit,
            ic_rps: self.ic_rate_limit,
            org_rps: self.org_rate_limit,
            refresh_before: self.credential_refresh,
            iam_page_size: self.iam_page_size,
            org_page_size: self.org_page_size,
            ic_page_size: self.ic_page_size,
            ..Settings::default()
        }
    }
}

/// baton-aws environment variables accepted as aliases: (baton name, orgsync name).
pub const BATON_ALIASES: &[(&str, &str)] = &[
    ("BATON_ROLE_ARN", "ORGSYNC_ROLE_ARN"),
    ("BATON_EXTERNAL_ID", "ORGSYNC_EXTERNAL_ID"),
    ("BATON_GLOBAL_REGION", "ORGSYNC_REGION"),
    ("BATON_GLOBAL_ROLE_ARN", "ORGSYNC_ROLE_ARN"),
    ("BATON_GLOBAL_EXTERNAL_ID", "ORGSYNC_EXTERNAL_ID"),
    ("BATON_IAM_ASSUME_ROLE_NAME", "ORGSYNC_MEMBER_ROLE_NAME"),
    ("BATON_GLOBAL_AWS_ORGS_ENABLED", "ORGSYNC_ORGS"),
    ("BATON_GLOBAL_AWS_SSO_ENABLED", "ORGSYNC_IDENTITY_CENTER"),
    ("BATON_GLOBAL_AWS_SSO_REGION", "ORGSYNC_SSO_REGION"),
    ("BATON_SYNC_SECRETS", "ORGSYNC_SYNC_SECRETS"),
    ("BATON_FILE", "ORGSYNC_FILE"),
];
