//! The provisioning session: the write role (management hop and member role, which may differ
//! from the read-only sync roles), one cached hop per account, the call wrappers that apply the
//! right token bucket (IAM per account, the org-wide Identity Center bucket shared with sync,
//! Organizations) and record every call made, and the entry points that dispatch a request to
//! its executor. Not here: what each change does (see `iam`, `identity_center`, `assignment`,
//! `users`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::arn::AccountId;
use crate::aws::{AwsError, Limiter, Scope, Session};
use crate::model::Record;

use super::call::Call;
use super::outcome::{Outcome, ProvisionError, Status};
use super::request::{Change, DeleteTarget, NewUser, Request};
use super::users;
use crate::aws::member_roles::AccountConfig;
use crate::connector::iam::provision as iam;
use crate::connector::identity_center::assignment::{self, AssignmentGate};
use crate::connector::identity_center::membership as identity_center;

/// How changes are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// Member role (name with optional path) assumed in other accounts for changes.
    pub member_role: String,
    /// External ID sent on that hop.
    pub member_external_id: Option<String>,
    /// The sync's per-account / per-OU overrides (`--account-config`), applied to the member
    /// hop when no separate provisioning role is named. OU entries are matched through
    /// `organizations:ListParents`.
    pub overrides: Option<AccountConfig>,
    /// Identity Center region used when no ARN in the request names one.
    pub sso_region: String,
    /// How long to wait for an account assignment to leave IN_PROGRESS.
    pub assignment_timeout: Duration,
    /// First and longest wait between assignment status polls (doubling in between).
    pub poll_initial: Duration,
    pub poll_max: Duration,
    /// Account-assignment operations in flight at once (AWS allows 10).
    pub max_assignments_in_flight: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            member_role: "OrganizationAccountAccessRole".into(),
            member_external_id: None,
            overrides: None,
            sso_region: "us-east-1".into(),
            assignment_timeout: Duration::from_secs(300),
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            max_assignments_in_flight: assignment::MAX_IN_FLIGHT,
        }
    }
}

/// Makes changes. One per process is typical; it may serve concurrent requests (hops are
/// shared, assignment operations are capped).
pub struct Provisioner {
    session: Session,
    opts: Options,
    scopes: tokio::sync::Mutex<HashMap<AccountId, Scope>>,
    gate: AssignmentGate,
}

/// What an executor decided.
#[derive(Debug)]
pub(crate) struct Done {
    pub status: Status,
    pub detail: String,
    pub record: Option<Record>,
}

impl Provisioner {
    /// A provisioner on `session` (connected with the provisioning management role).
    pub fn new(session: Session, opts: Options) -> Provisioner {
        let gate = AssignmentGate::new(opts.max_assignments_in_flight);
        Provisioner {
            session,
            opts,
            scopes: tokio::sync::Mutex::new(HashMap::new()),
            gate,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The cap on concurrent account-assignment operations (and its high-water mark).
    pub fn assignment_gate(&self) -> &AssignmentGate {
        &self.gate
    }

    /// Grants or revokes.
    pub async fn apply(&self, req: &Request) -> Result<Outcome, ProvisionError> {
        let x = Exec::new(self);
        let dir = req.direction;
        let done = match &req.change {
            Change::GroupMember {
                group,
                account,
                user,
            } => iam::group_member(&x, dir, group, account, user).await,
            Change::ManagedPolicy { policy, principal } => {
                iam::managed_policy(&x, dir, policy, principal).await
            }
            Change::InlinePolicy { parent, name } => iam::delete_inline(&x, parent, name).await,
            Change::SsoGroupMember { group, user } => {
                identity_center::group_member(&x, dir, group, user).await
            }
            Change::SsoMembership {
                membership_id,
                group,
            } => identity_center::revoke_membership(&x, membership_id, group.as_ref()).await,
            Change::AccountAssignment {
                account,
                permission_set,
                principal,
                binding,
            } => {
                assignment::account_assignment(
                    &x,
                    dir,
                    account,
                    permission_set,
                    principal,
                    *binding,
                )
                .await
            }
        };
        x.finish(done)
    }

    /// Creates an IAM or Identity Center user.
    pub async fn create_user(&self, user: &NewUser) -> Result<Outcome, ProvisionError> {
        let x = Exec::new(self);
        let done = match user {
            NewUser::Iam { .. } => users::create_iam_user(&x, user).await,
            NewUser::Sso { .. } => users::create_sso_user(&x, user).await,
        };
        x.finish(done)
    }

    /// Deletes an IAM or Identity Center user (and what blocks its deletion).
    pub async fn delete(&self, target: &DeleteTarget) -> Result<Outcome, ProvisionError> {
        let x = Exec::new(self);
        let done = match target {
            DeleteTarget::IamUser(u) => users::delete_iam_user(&x, u).await,
            DeleteTarget::SsoUser(u) => users::delete_sso_user(&x, u).await,
        };
        x.finish(done)
    }
}

/// One request's execution: the provisioner plus the calls made so far.
pub(crate) struct Exec<'p> {
    pub p: &'p Provisioner,
    calls: Mutex<Vec<Call>>,
}

impl<'p> Exec<'p> {
    fn new(p: &'p Provisioner) -> Exec<'p> {
        Exec {
            p,
            calls: Mutex::new(vec![]),
        }
    }

    fn finish(self, done: Result<Done, ProvisionError>) -> Result<Outcome, ProvisionError> {
        let calls = self.calls.into_inner().unwrap_or_else(|p| p.into_inner());
        match done {
            Ok(d) => Ok(Outcome {
                status: d.status,
                detail: d.detail,
                calls,
                record: d.record,
            }),
            Err(e) => {
                for c in &calls {
                    tracing::debug!(call = %c, "made before the failure");
                }
                Err(e)
            }
        }
    }

    fn log(&self, c: Call) {
        tracing::debug!(call = %c, "aws call");
        match self.calls.lock() {
            Ok(mut v) => v.push(c),
            Err(p) => p.into_inner().push(c),
        }
    }

    /// The caller's (management) account.
    pub fn caller(&self) -> &AccountId {
        &self.p.session.caller.account
    }

    pub fn partition(&self) -> String {
        self.p.session.caller.partition.to_string()
    }

    pub fn opts(&self) -> &Options {
        &self.p.opts
    }

    /// The management scope (Identity Center, Organizations, the caller's own IAM).
    pub fn mgmt(&self) -> &Scope {
        self.p.session.management()
    }

    /// The scope for IAM changes in `account`: the management scope for the caller's own
    /// account, otherwise a hop into the provisioning member role (made now, once, so a refused
    /// hop fails before anything else happens).
    pub async fn iam_scope(&self, account: &AccountId) -> Result<Scope, ProvisionError> {
        if account == self.caller() {
            return Ok(self.mgmt().clone());
        }
        let mut scopes = self.p.scopes.lock().await;
        if let Some(s) = scopes.get(account) {
            return Ok(s.clone());
        }
        let (member_role, external_id) = self.member_hop(account).await?;
        let scope = self
            .p
            .session
            .member(account, &member_role, external_id.as_deref());
        let role = scope.role_arn.clone().unwrap_or_default();
        let mut params = vec![("RoleArn", role.as_str())];
        if external_id.is_some() {
            params.push(("ExternalId", "<set>"));
        }
        self.log(Call::new(
            "sts",
            "AssumeRole",
            self.caller().to_string(),
            &params,
        ));
        scope.verify().await.map_err(|cause| ProvisionError::Hop {
            account: account.to_string(),
            role: role.clone(),
            cause: Box::new(cause),
        })?;
        scopes.insert(account.clone(), scope.clone());
        Ok(scope)
    }

    /// The member role and External ID for a hop into `account`: the CLI's, unless the
    /// overrides file says otherwise for the account, its OUs or by default.
    async fn member_hop(
        &self,
        account: &AccountId,
    ) -> Result<(String, Option<String>), ProvisionError> {
        let opts = &self.p.opts;
        let Some(cfg) = &opts.overrides else {
            return Ok((opts.member_role.clone(), opts.member_external_id.clone()));
        };
        let path = if cfg.ous.is_empty() {
            vec![]
        } else {
            self.ou_path(account).await?
        };
        let r = cfg.resolve(
            account,
            &path,
            &opts.member_role,
            opts.member_external_id.as_deref(),
        );
        Ok((r.role_name, r.external_id))
    }

    /// The OUs and root above `account`, root first (`organizations:ListParents` per level).
    async fn ou_path(&self, account: &AccountId) -> Result<Vec<String>, ProvisionError> {
        let orgs = self.mgmt().organizations();
        let mut path = vec![];
        let mut child = account.to_string();
        // An organization is at most 5 OU levels deep below its root.
        for _ in 0..8 {
            let out = self
                .org("ListParents", &[("ChildId", child.as_str())], || {
                    orgs.list_parents().child_id(&child).send()
                })
                .await?;
            let Some(parent) = out.parents().first() else {
                break;
            };
            let Some(id) = parent.id() else { break };
            path.push(id.to_string());
            if parent.r#type() == Some(&aws_sdk_organizations::types::ParentType::Root) {
                break;
            }
            child = id.to_string();
        }
        path.reverse();
        Ok(path)
    }

    /// One IAM call in `scope`'s account, paced by that account's IAM bucket.
    pub async fn iam<T, E, Fut>(
        &self,
        scope: &Scope,
        operation: &'static str,
        params: &[(&'static str, &str)],
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call(scope, scope.iam_limiter(), "iam", operation, params, f)
            .await
    }

    /// One Identity Center call (`sso` or `identitystore`) with the management credentials,
    /// paced by the org-wide Identity Center bucket the sync uses too.
    pub async fn ic<T, E, Fut>(
        &self,
        service: &'static str,
        operation: &'static str,
        params: &[(&'static str, &str)],
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let limiter = self.p.session.ic_limiter();
        self.call(self.mgmt(), limiter, service, operation, params, f)
            .await
    }

    /// One Organizations call with the management credentials.
    pub async fn org<T, E, Fut>(
        &self,
        operation: &'static str,
        params: &[(&'static str, &str)],
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let limiter = self.p.session.org_limiter();
        self.call(self.mgmt(), limiter, "organizations", operation, params, f)
            .await
    }

    /// Records the call (signed by `scope`'s account), then makes it paced by `limiter`.
    async fn call<T, E, Fut>(
        &self,
        scope: &Scope,
        limiter: &Limiter,
        service: &'static str,
        operation: &'static str,
        params: &[(&'static str, &str)],
        f: impl Fn() -> Fut,
    ) -> Result<T, AwsError>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.log(Call::new(
            service,
            operation,
            scope.account.to_string(),
            params,
        ));
        scope.call_legacy(limiter, service, operation, f).await
    }
}

/// Every page of an IAM list call made with [`Exec::iam`]: `$req` builds the request from the
/// marker `$m`, `$items` takes what a page `$page` holds. Used inside an async fn returning a
/// `Result` whose error converts from `AwsError`.
macro_rules! iam_pages {
    ($x:expr, $scope:expr, $op:expr, $params:expr, |$m:ident| $req:expr, |$page:ident| $items:expr) => {{
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let cur = next.clone();
            let $page = $x
                .iam($scope, $op, $params, || {
                    let $m = cur.clone();
                    $req.send()
                })
                .await?;
            out.extend($items);
            match ($page.is_truncated(), $page.marker()) {
                (true, Some(mk)) if !mk.is_empty() => next = Some(mk.to_string()),
                _ => break,
            }
        }
        out
    }};
}
pub(crate) use iam_pages;
