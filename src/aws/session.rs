//! Credentials and clients: the base credential chain, the optional management-role hop, a hop
//! into each member account (with External ID), credentials cached per account and refreshed
//! before expiry (or at once on `ExpiredToken`), and one client set per account with its own
//! SDK retry partition and IAM token bucket; no client retries an answer saying the operation
//! is not implemented. Endpoints configured through `AWS_ENDPOINT_URL*` reach every client,
//! including those built from hopped credentials.
//!
//! Not here: making calls (`aws::call`), which role to hop into per account
//! (`aws::member_roles`), error classification (`aws::errors`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_iam::config::IdentityCache;
use aws_sdk_iam::config::retry::{RetryConfig, RetryMode, RetryPartition, TokenBucket};
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::sync::Mutex;

use crate::arn::{AccountId, Arn, Partition};

use super::errors::{AwsError, ErrorClass, NotImplementedIsFinal};
use super::limits::{Limiter, ThrottlingIsPaced};
use super::metrics::CallMetrics;

/// How orgsync talks to AWS.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Region for STS and signing; `None` = the SDK's (env/profile), else us-east-1.
    pub region: Option<String>,
    /// Management role to hop into first.
    pub role_arn: Option<Arn>,
    pub external_id: Option<String>,
    pub session_name: String,
    /// Requested hop session length (role chaining caps it at one hour).
    pub hop_duration: Duration,
    /// Refresh hopped credentials this long before they expire.
    pub refresh_before: Duration,
    pub retry_mode: RetryMode,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    /// IAM requests per second per account.
    pub iam_rps: f64,
    /// Identity Center (sso-admin + identitystore) requests per second, org-wide.
    pub ic_rps: f64,
    /// Organizations requests per second.
    pub org_rps: f64,
    /// Items per page asked of paged IAM calls (AWS allows up to 1000).
    pub iam_page_size: i32,
    /// Items per page asked of paged Organizations calls (AWS allows up to 20).
    pub org_page_size: i32,
    /// Items per page asked of paged Identity Center and identity-store calls (AWS allows up
    /// to 100).
    pub ic_page_size: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: None,
            role_arn: None,
            external_id: None,
            session_name: "orgsync".into(),
            hop_duration: Duration::from_secs(3600),
            refresh_before: Duration::from_secs(300),
            retry_mode: RetryMode::Standard,
            max_attempts: 10,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(60),
            iam_rps: 15.0,
            ic_rps: 20.0,
            org_rps: 4.0,
            iam_page_size: 1000,
            org_page_size: 20,
            ic_page_size: 100,
        }
    }
}

/// Who the management credentials are.
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    pub account: AccountId,
    pub arn: String,
    pub partition: Partition,
}

/// A cached `sts:AssumeRole` hop. Credentials are reused until `refresh_before` their expiry;
/// `invalidate` forces a new hop (after an `ExpiredToken` answer).
pub struct Hop {
    sts: aws_sdk_sts::Client,
    parent: Option<Arc<Hop>>,
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    duration: Duration,
    refresh_before: Duration,
    cached: Mutex<Option<Credentials>>,
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hop")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("external_id", &self.external_id.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Hop {
    /// A hop into `role_arn` with the credentials `sts` signs with (`parent`: the hop those
    /// credentials come from, refreshed when this one answers `ExpiredToken`), sending
    /// `external_id` when set. Nothing is called until [`Hop::credentials`].
    fn new(
        sts: aws_sdk_sts::Client,
        parent: Option<Arc<Hop>>,
        role_arn: String,
        external_id: Option<String>,
        settings: &Settings,
        duration: Duration,
    ) -> Hop {
        Hop {
            sts,
            parent,
            role_arn,
            external_id,
            session_name: settings.session_name.clone(),
            duration,
            refresh_before: settings.refresh_before,
            cached: Mutex::new(None),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// Valid credentials for the role, hopping if none are cached or they are about to expire.
    pub async fn credentials(&self) -> Result<Credentials, AwsError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expiry()
                .map(|exp| exp > SystemTime::now() + self.refresh_before)
                .unwrap_or(true);
            if fresh {
                return Ok(c.clone());
            }
        }
        let creds = match self.assume().await {
            Err(e) if e.class == ErrorClass::ExpiredToken && self.parent.is_some() => {
                if let Some(p) = &self.parent {
                    p.invalidate().await;
                }
                self.assume().await?
            }
            other => other?,
        };
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// Drops the cached credentials so the next use hops again.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn assume(&self) -> Result<Credentials, AwsError> {
        let out = super::errors::send(
            self.sts
                .assume_role()
                .role_arn(&self.role_arn)
                .role_session_name(&self.session_name)
                .duration_seconds(self.duration.as_secs().clamp(900, 43_200) as i32)
                .set_external_id(self.external_id.clone())
                .send(),
        )
        .await?;
        let c = out.credentials().ok_or_else(|| {
            AwsError::local(
                "sts",
                "AssumeRole",
                ErrorClass::Other,
                "AssumeRole returned no credentials",
            )
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "orgsync-hop",
        ))
    }
}

#[derive(Debug, Clone)]
struct HopProvider(Arc<Hop>);

impl ProvideCredentials for HopProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0
                .credentials()
                .await
                .map_err(provider::error::CredentialsError::provider_error)
        })
    }
}

/// One account's view: its credentials and clients.
#[derive(Clone)]
pub struct Scope {
    pub account: AccountId,
    /// The role hopped into, if any (none for the management account).
    pub role_arn: Option<String>,
    sdk: SdkConfig,
    hop: Option<Arc<Hop>>,
    iam: aws_sdk_iam::Client,
    iam_limiter: Arc<Limiter>,
    metrics: Arc<CallMetrics>,
    settings: Arc<Settings>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("account", &self.account)
            .field("role_arn", &self.role_arn)
            .finish()
    }
}

impl Scope {
    /// This account's IAM client (own retry partition).
    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    /// The account's IAM token bucket.
    pub fn iam_limiter(&self) -> &Limiter {
        &self.iam_limiter
    }

    /// The SDK config carrying this account's credentials (for building other clients).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// Hops now (if this scope hops), so a refused role shows up before any other call.
    pub async fn verify(&self) -> Result<(), AwsError> {
        match &self.hop {
            Some(h) => h.credentials().await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// An Organizations client with these credentials.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.sdk)
            .interceptor(self.metrics.interceptor())
            .retry_classifier(NotImplementedIsFinal)
            .retry_classifier(ThrottlingIsPaced)
            .retry_partition(partition(format!("organizations-{}", self.account)))
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// An IAM Identity Center admin client in `region`.
    pub fn sso_admin(&self, region: &str) -> aws_sdk_ssoadmin::Client {
        let conf = aws_sdk_ssoadmin::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .interceptor(self.metrics.interceptor())
            .retry_classifier(NotImplementedIsFinal)
            .retry_classifier(ThrottlingIsPaced)
            .retry_partition(partition(format!("sso-{region}")))
            .build();
        aws_sdk_ssoadmin::Client::from_conf(conf)
    }

    /// An Identity Store client in `region`.
    pub fn identity_store(&self, region: &str) -> aws_sdk_identitystore::Client {
        let conf = aws_sdk_identitystore::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .interceptor(self.metrics.interceptor())
            .retry_classifier(NotImplementedIsFinal)
            .retry_classifier(ThrottlingIsPaced)
            .retry_partition(partition(format!("identitystore-{region}")))
            .build();
        aws_sdk_identitystore::Client::from_conf(conf)
    }

    /// An STS client with these credentials.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        sts_client(&self.sdk, &self.metrics, format!("sts-{}", self.account))
    }

    /// Drops the hop's cached credentials so the next call hops again; false when this scope
    /// does not hop (the base credentials cannot be refreshed that way).
    pub(crate) async fn refresh_hop(&self) -> bool {
        match &self.hop {
            Some(hop) => {
                hop.invalidate().await;
                true
            }
            None => false,
        }
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

fn partition(name: String) -> RetryPartition {
    RetryPartition::custom(name)
        .token_bucket(TokenBucket::builder().capacity(2_000).build())
        .build()
}

fn sts_client(
    sdk: &SdkConfig,
    metrics: &Arc<CallMetrics>,
    partition_name: String,
) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .interceptor(metrics.interceptor())
        .retry_classifier(NotImplementedIsFinal)
        .retry_partition(partition(partition_name))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// Failures while establishing the management session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "no usable AWS credentials: {0}. Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance/task/web-identity role is available"
    )]
    NoCredentials(String),
    #[error("cannot assume the management role {role}: {source}")]
    ManagementHop {
        role: String,
        #[source]
        source: AwsError,
    },
    #[error("cannot identify the caller (sts:GetCallerIdentity): {0}")]
    CallerIdentity(#[source] AwsError),
}

/// The base SDK config (credential chain, region, retries, timeouts, endpoints) with its
/// credentials resolved once, so a missing credential fails here with a clear message.
async fn load_base_config(settings: &Settings) -> Result<SdkConfig, SessionError> {
    let retry = RetryConfig::standard()
        .with_retry_mode(settings.retry_mode)
        .with_max_attempts(settings.max_attempts.max(1))
        .with_initial_backoff(settings.initial_backoff)
        .with_max_backoff(settings.max_backoff);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .operation_attempt_timeout(settings.attempt_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(super::http::shared_https_client())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(r) = &settings.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let mut base = loader.load().await;
    if base.region().is_none() {
        base = base.to_builder().region(Region::new("us-east-1")).build();
    }
    let Some(base_creds) = base.credentials_provider() else {
        return Err(SessionError::NoCredentials("no credential provider".into()));
    };
    if let Err(e) = base_creds.provide_credentials().await {
        return Err(SessionError::NoCredentials(
            aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        ));
    }
    Ok(base)
}

/// The management session: base credentials, optional management hop, and the factory of
/// per-account scopes.
pub struct Session {
    settings: Arc<Settings>,
    base: SdkConfig,
    mgmt: Scope,
    pub caller: CallerIdentity,
    pub metrics: Arc<CallMetrics>,
    /// One bucket for every Identity Center and identity-store call of the process (AWS
    /// enforces ~20 TPS for the whole organization).
    ic_limiter: Arc<Limiter>,
    /// Organizations calls (kept slow and serial).
    org_limiter: Arc<Limiter>,
}

impl Session {
    /// Loads base credentials, hops into the management role if one is set, and identifies the
    /// caller.
    pub async fn connect(
        settings: Settings,
        metrics: Arc<CallMetrics>,
    ) -> Result<Session, SessionError> {
        let settings = Arc::new(settings);
        let base = load_base_config(&settings).await?;
        let (mgmt_sdk, mgmt_hop) = match &settings.role_arn {
            Some(role) => {
                let hop = Arc::new(Hop::new(
                    sts_client(&base, &metrics, "sts-base".into()),
                    None,
                    role.to_string(),
                    settings.external_id.clone(),
                    &settings,
                    settings.hop_duration,
                ));
                hop.credentials()
                    .await
                    .map_err(|source| SessionError::ManagementHop {
                        role: role.to_string(),
                        source,
                    })?;
                (with_hop(&base, &hop), Some(hop))
            }
            None => (base.clone(), None),
        };
        let sts = sts_client(&mgmt_sdk, &metrics, "sts-management".into());
        let who = super::errors::send(sts.get_caller_identity().send())
            .await
            .map_err(SessionError::CallerIdentity)?;
        let bad = |what: &str| {
            SessionError::CallerIdentity(AwsError::local(
                "sts",
                "GetCallerIdentity",
                ErrorClass::Other,
                format!("the answer has no valid {what}"),
            ))
        };
        let account: AccountId = who
            .account()
            .unwrap_or_default()
            .parse()
            .map_err(|_| bad("Account"))?;
        let arn_text = who.arn().unwrap_or_default().to_string();
        let arn: Arn = arn_text.parse().map_err(|_| bad("Arn"))?;
        let partition: Partition = arn.partition.parse().map_err(|_| bad("partition"))?;
        let caller = CallerIdentity {
            account: account.clone(),
            arn: arn_text,
            partition,
        };
        let mgmt = build_scope(&settings, &metrics, account, mgmt_sdk, mgmt_hop, None);
        let ic_limiter = Arc::new(Limiter::under(settings.ic_rps));
        let org_limiter = Arc::new(Limiter::under(settings.org_rps));
        Ok(Session {
            settings,
            base,
            mgmt,
            caller,
            metrics,
            ic_limiter,
            org_limiter,
        })
    }

    /// The management (caller's) account scope.
    pub fn management(&self) -> &Scope {
        &self.mgmt
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The org-wide Identity Center token bucket (shared by sync and provisioning).
    pub fn ic_limiter(&self) -> &Limiter {
        &self.ic_limiter
    }

    /// The Organizations token bucket.
    pub fn org_limiter(&self) -> &Limiter {
        &self.org_limiter
    }

    /// The base SDK config (before any hop).
    pub fn base_config(&self) -> &SdkConfig {
        &self.base
    }

    /// The session's region: `--region`, else the SDK's (environment, profile), else
    /// us-east-1 (the base config always has one).
    pub fn region(&self) -> &str {
        self.base
            .region()
            .map(|r| r.as_ref())
            .unwrap_or("us-east-1")
    }

    /// A new scope hopping from the base credentials into the management role (`--role-arn`)
    /// with `external_id` instead of `--external-id`: `orgsync check` tries the hop without
    /// it. `None` without a management role. The hop happens lazily, as with [`Session::member`].
    pub fn management_with_external_id(&self, external_id: Option<&str>) -> Option<Scope> {
        let role = self.settings.role_arn.as_ref()?;
        let hop = Arc::new(Hop::new(
            sts_client(&self.base, &self.metrics, "sts-base-check".into()),
            None,
            role.to_string(),
            external_id.map(str::to_string),
            &self.settings,
            self.settings.hop_duration,
        ));
        let sdk = with_hop(&self.base, &hop);
        Some(build_scope(
            &self.settings,
            &self.metrics,
            self.caller.account.clone(),
            sdk,
            Some(hop),
            Some(role.to_string()),
        ))
    }

    /// A scope for `account`: the management scope for the caller's own account (never a hop
    /// into itself), otherwise a hop into `role` (a name with optional path) with `external_id`.
    /// The hop happens lazily; call [`Scope::verify`] to hop now.
    pub fn member(&self, account: &AccountId, role: &str, external_id: Option<&str>) -> Scope {
        if *account == self.caller.account {
            return self.mgmt.clone();
        }
        let role_arn = crate::arn::role_arn(&self.caller.partition, account, role);
        let hop = Arc::new(Hop::new(
            sts_client(&self.mgmt.sdk, &self.metrics, format!("sts-hop-{account}")),
            self.mgmt.hop.clone(),
            role_arn.clone(),
            external_id.map(str::to_string),
            &self.settings,
            self.settings.hop_duration.min(Duration::from_secs(3600)),
        ));
        let sdk = with_hop(&self.mgmt.sdk, &hop);
        build_scope(
            &self.settings,
            &self.metrics,
            account.clone(),
            sdk,
            Some(hop),
            Some(role_arn),
        )
    }
}

fn with_hop(parent: &SdkConfig, hop: &Arc<Hop>) -> SdkConfig {
    parent
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(HopProvider(Arc::clone(hop))))
        // The hop caches and refreshes itself; a second cache would hide `invalidate`.
        .identity_cache(IdentityCache::no_cache())
        .build()
}

fn build_scope(
    settings: &Arc<Settings>,
    metrics: &Arc<CallMetrics>,
    account: AccountId,
    sdk: SdkConfig,
    hop: Option<Arc<Hop>>,
    role_arn: Option<String>,
) -> Scope {
    let iam_conf = aws_sdk_iam::config::Builder::from(&sdk)
        .interceptor(metrics.interceptor())
        .retry_classifier(NotImplementedIsFinal)
        .retry_classifier(ThrottlingIsPaced)
        .retry_partition(partition(format!("iam-{account}")))
        .build();
    Scope {
        account,
        role_arn,
        iam: aws_sdk_iam::Client::from_conf(iam_conf),
        iam_limiter: Arc::new(Limiter::under(settings.iam_rps)),
        sdk,
        hop,
        metrics: Arc::clone(metrics),
        settings: Arc::clone(settings),
    }
}
