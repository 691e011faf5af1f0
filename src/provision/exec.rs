//! Making the calls of one request. [`Shared`] is what every request of a provisioner shares:
//! the session (connected with the write role), the [`Options`], the [`Context`] the steps are
//! built from, one hop per account made so far, and the [`AssignmentGate`]. [`Exec`] is one
//! request's execution on it: the hops it makes (the `ListParents` walk that matches OU
//! entries of `--account-config`, then `AssumeRole`), the one call wrapper and the one pager
//! ([`Exec::call`], [`Exec::pages`]) that route a request by its client type ([`Route`]: the
//! scope that signs it and the token bucket that paces it — IAM per account, the org-wide
//! Identity Center bucket shared with sync, Organizations), send it through [`Scope::call`] /
//! [`Scope::pages`] and log it, and the log itself.
//!
//! Not here: which calls a change makes and in which order (the steps, in the domain folders),
//! how a request is built (`operations`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_organizations::operation as org_op;
use aws_sdk_organizations::types::ParentType;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::arn::AccountId;
use crate::aws::member_roles::AccountConfig;
use crate::aws::member_roles::DEFAULT_MEMBER_ROLE;
use crate::aws::{Limiter, Scope, Session};

use super::call::{Call, Context, assume_role};
use super::operations::{Paged, Req, SdkRequest};
use super::outcome::{Done, Outcome, ProvisionError};

/// AWS runs at most 10 account-assignment operations of an instance at a time.
pub const MAX_IN_FLIGHT: usize = 10;

/// An organization is at most 5 OU levels deep below its root; the walk up stops after this
/// many `ListParents` calls whatever the answers say.
const MAX_OU_DEPTH: usize = 8;

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
            member_role: DEFAULT_MEMBER_ROLE.into(),
            member_external_id: None,
            overrides: None,
            sso_region: "us-east-1".into(),
            assignment_timeout: Duration::from_secs(300),
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            max_assignments_in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// Caps concurrent assignment operations (create/delete until their status is final) and
/// remembers the most that were ever in flight.
#[derive(Debug, Clone)]
pub struct AssignmentGate {
    inner: Arc<GateInner>,
}

#[derive(Debug)]
struct GateInner {
    sem: Arc<Semaphore>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// One operation's place in the gate; dropping it frees the place.
#[derive(Debug)]
pub struct GatePass {
    gate: Arc<GateInner>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for GatePass {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AssignmentGate {
    pub fn new(max: usize) -> AssignmentGate {
        AssignmentGate {
            inner: Arc::new(GateInner {
                sem: Arc::new(Semaphore::new(max.max(1))),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        }
    }

    /// Waits for a free place.
    pub async fn enter(&self) -> GatePass {
        // `acquire_owned` fails only on a closed semaphore, and this one is never closed.
        let permit = Arc::clone(&self.inner.sem).acquire_owned().await.ok();
        let now = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.peak.fetch_max(now, Ordering::SeqCst);
        GatePass {
            gate: Arc::clone(&self.inner),
            _permit: permit,
        }
    }

    /// The most operations that were in flight at once.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// Operations in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }
}

/// What every request of one provisioner shares.
pub(crate) struct Shared {
    session: Session,
    opts: Options,
    cx: Context,
    scopes: tokio::sync::Mutex<HashMap<AccountId, Scope>>,
    gate: AssignmentGate,
}

impl Shared {
    pub fn new(session: Session, opts: Options) -> Shared {
        let cx = Context {
            management_role: None,
            caller: Some(session.caller.account.clone()),
            partition: session.caller.partition.to_string(),
            member_role: opts.member_role.clone(),
            member_external_id: opts.member_external_id.is_some(),
            overrides: opts.overrides.clone(),
            sso_region: opts.sso_region.clone(),
        };
        Shared {
            gate: AssignmentGate::new(opts.max_assignments_in_flight),
            session,
            opts,
            cx,
            scopes: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The context the steps of a change are built from (the caller is known).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    pub fn gate(&self) -> &AssignmentGate {
        &self.gate
    }
}

/// The token bucket that paces a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bucket {
    /// The IAM bucket of the scope's account.
    Iam,
    /// The org-wide Identity Center bucket (sso-admin and identitystore), shared with sync.
    IdentityCenter,
    Organizations,
}

/// Where the requests of an SDK client go: the scope whose credentials sign them, the bucket
/// that paces them, and the client itself.
pub(crate) trait Route: Sized {
    /// What names the place: an account (IAM), a region (Identity Center), nothing
    /// (Organizations).
    type At: ?Sized + Sync;

    fn route(
        x: &Exec<'_>,
        at: &Self::At,
    ) -> impl Future<Output = Result<(Scope, Bucket, Self), ProvisionError>> + Send;
}

impl Route for aws_sdk_iam::Client {
    type At = AccountId;

    /// IAM in `account`: its own scope (the caller's, or the hop of the change).
    async fn route(
        x: &Exec<'_>,
        account: &AccountId,
    ) -> Result<(Scope, Bucket, Self), ProvisionError> {
        let scope = x.iam_scope(account).await?;
        let client = scope.iam().clone();
        Ok((scope, Bucket::Iam, client))
    }
}

impl Route for aws_sdk_ssoadmin::Client {
    type At = str;

    async fn route(x: &Exec<'_>, region: &str) -> Result<(Scope, Bucket, Self), ProvisionError> {
        let client = x.mgmt().sso_admin(region);
        Ok((x.mgmt().clone(), Bucket::IdentityCenter, client))
    }
}

impl Route for aws_sdk_identitystore::Client {
    type At = str;

    async fn route(x: &Exec<'_>, region: &str) -> Result<(Scope, Bucket, Self), ProvisionError> {
        let client = x.mgmt().identity_store(region);
        Ok((x.mgmt().clone(), Bucket::IdentityCenter, client))
    }
}

impl Route for aws_sdk_organizations::Client {
    type At = ();

    async fn route(x: &Exec<'_>, _: &()) -> Result<(Scope, Bucket, Self), ProvisionError> {
        let client = x.mgmt().organizations();
        Ok((x.mgmt().clone(), Bucket::Organizations, client))
    }
}

/// `organizations:ListParents` of `child` (an account or OU).
pub(crate) fn list_parents(
    child: &str,
) -> Req<org_op::list_parents::builders::ListParentsInputBuilder> {
    Req::new(|p| {
        org_op::list_parents::ListParentsInput::builder().child_id(p.put("ChildId", child))
    })
}

/// One request's execution: the shared state plus the calls made so far.
pub(crate) struct Exec<'s> {
    s: &'s Shared,
    calls: Mutex<Vec<Call>>,
    /// The OUs and root above an account, root first, found for its hop.
    ou_paths: Mutex<HashMap<AccountId, Vec<String>>>,
}

impl<'s> Exec<'s> {
    pub fn new(s: &'s Shared) -> Exec<'s> {
        Exec {
            s,
            calls: Mutex::new(vec![]),
            ou_paths: Mutex::new(HashMap::new()),
        }
    }

    /// The outcome of what the steps decided, with the calls made (on failure, the calls made
    /// before it are logged and the error returned).
    pub fn finish(self, done: Result<Done, ProvisionError>) -> Result<Outcome, ProvisionError> {
        let calls = self
            .calls
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
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
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(c);
    }

    pub fn cx(&self) -> &Context {
        &self.s.cx
    }

    pub fn opts(&self) -> &Options {
        &self.s.opts
    }

    pub fn gate(&self) -> &AssignmentGate {
        &self.s.gate
    }

    /// The caller's (management) account.
    pub fn caller(&self) -> &AccountId {
        &self.s.session.caller.account
    }

    /// The management scope (Identity Center, Organizations, the caller's own IAM).
    fn mgmt(&self) -> &Scope {
        self.s.session.management()
    }

    /// The scope for IAM calls in `account`: the management scope for the caller's own
    /// account, otherwise the hop the change's `AssumeRole` step made.
    async fn iam_scope(&self, account: &AccountId) -> Result<Scope, ProvisionError> {
        if account == self.caller() {
            return Ok(self.mgmt().clone());
        }
        self.s
            .scopes
            .lock()
            .await
            .get(account)
            .cloned()
            .ok_or_else(|| {
                ProvisionError::Unexpected(format!(
                    "no hop into account {account} was made before its IAM calls"
                ))
            })
    }

    /// True when no hop into `account` is needed (the caller's) or one is made already.
    async fn hopped(&self, account: &AccountId) -> bool {
        account == self.caller() || self.s.scopes.lock().await.contains_key(account)
    }

    /// Finds the OUs and root above `account` (`organizations:ListParents` per level), for the
    /// OU entries of the overrides; nothing when the hop is made already.
    pub async fn find_ou_path(&self, account: &AccountId) -> Result<(), ProvisionError> {
        if self.hopped(account).await {
            return Ok(());
        }
        let mut path = vec![];
        let mut child = account.to_string();
        for _ in 0..MAX_OU_DEPTH {
            let out = self.call(&(), &list_parents(&child)).await?;
            let Some(parent) = out.parents().first() else {
                break;
            };
            let Some(id) = parent.id() else { break };
            path.push(id.to_string());
            if parent.r#type() == Some(&ParentType::Root) {
                break;
            }
            child = id.to_string();
        }
        path.reverse();
        self.ou_paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.clone(), path);
        Ok(())
    }

    /// Hops into `account` with the provisioning member role (now, once per provisioner, so a
    /// refused hop fails before anything else happens).
    pub async fn hop(&self, account: &AccountId) -> Result<(), ProvisionError> {
        if account == self.caller() {
            return Ok(());
        }
        let mut scopes = self.s.scopes.lock().await;
        if scopes.contains_key(account) {
            return Ok(());
        }
        let (member_role, external_id) = self.member_role(account)?;
        let scope = self
            .s
            .session
            .member(account, &member_role, external_id.as_deref());
        let role = scope.role_arn.clone().unwrap_or_default();
        self.log(assume_role(
            self.caller().to_string(),
            &role,
            external_id.as_ref().map(|_| "<set>"),
        ));
        scope.verify().await.map_err(|cause| ProvisionError::Hop {
            account: account.to_string(),
            role: role.clone(),
            cause: Box::new(cause),
        })?;
        scopes.insert(account.clone(), scope);
        Ok(())
    }

    /// The member role and External ID for a hop into `account`: the options', unless the
    /// overrides say otherwise for the account, its OUs (found by [`Exec::find_ou_path`]) or
    /// by default.
    fn member_role(&self, account: &AccountId) -> Result<(String, Option<String>), ProvisionError> {
        let opts = &self.s.opts;
        let Some(cfg) = &opts.overrides else {
            return Ok((opts.member_role.clone(), opts.member_external_id.clone()));
        };
        let path = if cfg.ous.is_empty() {
            vec![]
        } else {
            let paths = self.ou_paths.lock().unwrap_or_else(PoisonError::into_inner);
            paths.get(account).cloned().ok_or_else(|| {
                ProvisionError::Unexpected(format!(
                    "the OU path of account {account} was not looked up before its hop"
                ))
            })?
        };
        let r = cfg.resolve(
            account,
            &path,
            &opts.member_role,
            opts.member_external_id.as_deref(),
        );
        Ok((r.role_name, r.external_id))
    }

    fn limiter<'a>(&'a self, scope: &'a Scope, bucket: Bucket) -> &'a Limiter {
        match bucket {
            Bucket::Iam => scope.iam_limiter(),
            Bucket::IdentityCenter => self.s.session.ic_limiter(),
            Bucket::Organizations => self.s.session.org_limiter(),
        }
    }

    /// Sends `r`, paced by the bucket of its service, logging each attempt (one, or two after
    /// an expired session is refreshed) as signed by the account of the scope its client
    /// routes it to: `at`'s for IAM, the caller's otherwise.
    pub async fn call<I>(
        &self,
        at: &<I::Client as Route>::At,
        r: &Req<I>,
    ) -> Result<I::Output, ProvisionError>
    where
        I: SdkRequest,
        I::Client: Route,
    {
        let (scope, bucket, client) = I::Client::route(self, at).await?;
        let call = r.call(scope.account.to_string());
        let out = scope
            .call(self.limiter(&scope, bucket), || {
                self.log(call.clone());
                r.input.clone().send_to(&client)
            })
            .await?;
        Ok(out)
    }

    /// Every page of the list request `r` (each page logged as [`Exec::call`] logs a call);
    /// `take` moves a page's items into the output and returns false to stop before the last
    /// page.
    pub async fn pages<I, T>(
        &self,
        at: &<I::Client as Route>::At,
        r: &Req<I>,
        mut take: impl FnMut(I::Output, &mut Vec<T>) -> bool,
    ) -> Result<Vec<T>, ProvisionError>
    where
        I: Paged,
        I::Client: Route,
    {
        let (scope, bucket, client) = I::Client::route(self, at).await?;
        let call = r.call(scope.account.to_string());
        let items = scope
            .pages(
                self.limiter(&scope, bucket),
                |token| {
                    self.log(call.clone());
                    r.input.clone().page(token).send_to(&client)
                },
                |page, out| {
                    let next = I::next_page(&page);
                    if take(page, out) { next } else { None }
                },
            )
            .await?;
        Ok(items)
    }

    /// Every item of every page of `r`: what `items` finds in each page.
    pub async fn list<I, T>(
        &self,
        at: &<I::Client as Route>::At,
        r: &Req<I>,
        items: impl Fn(&I::Output) -> Vec<T>,
    ) -> Result<Vec<T>, ProvisionError>
    where
        I: Paged,
        I::Client: Route,
    {
        self.pages(at, r, |page, out| {
            out.extend(items(&page));
            true
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_ten_operations_in_flight() {
        let gate = AssignmentGate::new(MAX_IN_FLIGHT);
        let mut tasks = vec![];
        for _ in 0..25 {
            let g = gate.clone();
            tasks.push(tokio::spawn(async move {
                let _pass = g.enter().await;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(gate.peak(), MAX_IN_FLIGHT);
        assert_eq!(gate.in_flight(), 0);
    }
}
