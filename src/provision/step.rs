//! A change as its ordered steps: each [`Step`] is one AWS operation the change may make — a
//! check ("is the user in the group"), a change ("add the user to the group"), a poll — that
//! can say which call it makes ([`Step::planned`], what `--dry-run` prints) and make it
//! ([`Step::run`]). A [`Change`] is built once from the request and the [`Context`]; the
//! dry-run printer lists its steps' calls and the executor runs the same steps in order, where
//! a step may end the change early (already granted, already revoked, not found). The hop into
//! the account that owns an IAM entity is made of two steps every domain shares ([`Hop`]).
//!
//! Not here: the steps of each kind of change (the domain folders), how a call is sent
//! (`exec`).

use std::future::Future;

use crate::arn::{AccountId, Partition, role_arn};

use super::call::{Call, Context, assume_role};
use super::exec::{Exec, list_parents};
use super::outcome::{Done, ProvisionError, Status};
use crate::model::Record;

/// What a step tells the executor.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Go on with the next step.
    Next,
    /// The change is over (done, or nothing to do).
    End(Box<Done>),
}

impl Flow {
    /// Ends the change with `status`.
    pub fn end(status: Status, detail: impl Into<String>, record: Option<Record>) -> Flow {
        Flow::End(Box::new(Done {
            status,
            detail: detail.into(),
            record,
        }))
    }
}

/// One AWS operation of a change.
pub(crate) trait Step: Send + Sync {
    /// What the steps of one change find and hand on to the later ones.
    type State: Send;

    /// The call this step makes as a plan lists it: what is known without AWS (values found
    /// by earlier steps shown as placeholders), and when it happens.
    fn planned(&self, cx: &Context) -> Call;

    /// Makes the step's call (a list step: every page; a step per item: one call per item
    /// listed; a poll: until the answer is final) and says whether the change goes on.
    fn run(
        &self,
        x: &Exec<'_>,
        st: &mut Self::State,
    ) -> impl Future<Output = Result<Flow, ProvisionError>> + Send;

    /// The error a change reports when a step fails (e.g. naming what was already done).
    fn failed(_st: &Self::State, e: ProvisionError) -> ProvisionError {
        e
    }
}

/// The hop into a member account to change its IAM.
#[derive(Debug, Clone)]
pub(crate) enum Hop {
    /// `organizations:ListParents` up to the root, to match the OU entries of
    /// `--account-config` (only when the file has some).
    OuPath(AccountId),
    /// `sts:AssumeRole` into the provisioning member role.
    AssumeRole(AccountId),
}

impl Hop {
    /// The hop steps into `account`: none for the caller's own account.
    pub fn steps(account: &AccountId, cx: &Context) -> Vec<Hop> {
        if cx.is_caller(account) {
            return vec![];
        }
        let mut steps = vec![];
        if cx.overrides.as_ref().is_some_and(|c| !c.ous.is_empty()) {
            steps.push(Hop::OuPath(account.clone()));
        }
        steps.push(Hop::AssumeRole(account.clone()));
        steps
    }

    fn planned(&self, cx: &Context) -> Call {
        match self {
            Hop::OuPath(account) => list_parents(account.as_str())
                .call(cx.mgmt())
                .when("once per level up to the root, to match the OU entries of --account-config"),
            Hop::AssumeRole(account) => plan_assume_role(account, cx),
        }
    }

    async fn run(&self, x: &Exec<'_>) -> Result<Flow, ProvisionError> {
        match self {
            Hop::OuPath(account) => x.find_ou_path(account).await?,
            Hop::AssumeRole(account) => x.hop(account).await?,
        }
        Ok(Flow::Next)
    }
}

/// The member hop as far as it is known without AWS: account and default entries of
/// `--account-config` apply; an OU entry needs the account's OU path, read at run time.
fn plan_assume_role(account: &AccountId, cx: &Context) -> Call {
    let ou_entries = cx.overrides.as_ref().is_some_and(|c| !c.ous.is_empty());
    let (member_role, external_id) = match &cx.overrides {
        Some(cfg) => {
            let r = cfg.resolve(account, &[], &cx.member_role, None);
            let ext = match (&r.external_id, cx.member_external_id) {
                (Some(_), _) => Some("<--account-config>"),
                (None, true) => Some("<--member-external-id>"),
                (None, false) => None,
            };
            (r.role_name, ext)
        }
        None => (
            cx.member_role.clone(),
            cx.member_external_id.then_some("<--member-external-id>"),
        ),
    };
    let partition = cx.partition.parse().unwrap_or_else(|_| Partition::aws());
    let role = role_arn(&partition, account, &member_role);
    let call = assume_role(cx.mgmt(), &role, external_id);
    let mut when = vec![];
    if cx.caller.is_none() {
        when.push(format!("unless {account} is the caller's own account"));
    }
    if ou_entries {
        when.push(
            "role and External ID as the account's OU entry says, if one applies".to_string(),
        );
    }
    if when.is_empty() {
        call
    } else {
        call.when(when.join("; "))
    }
}

/// A step of a change: a shared hop step or one of the change's own.
#[derive(Debug, Clone)]
enum Stage<S> {
    Hop(Hop),
    Own(S),
}

/// One change: its steps in order and the state they share.
pub(crate) struct Change<S: Step> {
    steps: Vec<Stage<S>>,
    state: S::State,
}

impl<S: Step> Change<S> {
    /// A change with no steps yet, starting from `state`.
    pub fn new(state: S::State) -> Change<S> {
        Change {
            steps: vec![],
            state,
        }
    }

    /// Adds the hop into `account` (nothing for the caller's own account).
    pub fn hop(mut self, account: &AccountId, cx: &Context) -> Change<S> {
        self.steps
            .extend(Hop::steps(account, cx).into_iter().map(Stage::Hop));
        self
    }

    /// Adds `step`.
    pub fn then(mut self, step: S) -> Change<S> {
        self.steps.push(Stage::Own(step));
        self
    }

    /// The calls of every step, in order, as `--dry-run` prints them.
    pub fn calls(&self, cx: &Context) -> Vec<Call> {
        self.steps
            .iter()
            .map(|s| match s {
                Stage::Hop(h) => h.planned(cx),
                Stage::Own(s) => s.planned(cx),
            })
            .collect()
    }

    /// Runs the steps in order until one ends the change.
    pub async fn run(mut self, x: &Exec<'_>) -> Result<Done, ProvisionError> {
        for step in &self.steps {
            let flow = match step {
                Stage::Hop(h) => h.run(x).await,
                Stage::Own(s) => s.run(x, &mut self.state).await,
            };
            match flow {
                Ok(Flow::Next) => {}
                Ok(Flow::End(done)) => return Ok(*done),
                Err(e) => return Err(S::failed(&self.state, e)),
            }
        }
        Err(ProvisionError::Unexpected(
            "the steps of the change ended without an outcome".into(),
        ))
    }
}
