//! One AWS call as data: [`Call`] names the service and operation as the SDK does
//! ([`sdk_op`]), the account whose credentials sign it, its parameters ([`Params`], never a
//! secret) and, in a plan, the condition under which it happens. `--dry-run` prints the calls of
//! a change's steps; a real run logs the calls its steps make in the same shape. Also
//! [`Context`], what the steps of a change are built from besides the request, and the calls of
//! connecting ([`connect_calls`]).
//!
//! Not here: the requests themselves (`operations`), the steps (`step` and the domain folders).

use std::collections::BTreeMap;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

use crate::arn::AccountId;
use crate::aws::member_roles::AccountConfig;
use crate::aws::op::Op;

/// One AWS call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// `iam`, `sts`, `sso` (sso-admin), `identitystore`, `organizations`.
    pub service: String,
    pub operation: String,
    /// The account whose credentials sign the call (`management` in a plan when the caller's
    /// account is not known without asking AWS).
    pub account: String,
    pub params: BTreeMap<&'static str, String>,
    /// For planned calls: when the call happens (absent = always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl Call {
    pub fn new(op: &Op, account: impl Into<String>, params: Params) -> Call {
        Call {
            service: op.service.clone(),
            operation: op.name.clone(),
            account: account.into(),
            params: params.0,
            when: None,
        }
    }

    /// The call with the condition under which a plan says it happens.
    pub fn when(mut self, w: impl Into<String>) -> Call {
        self.when = Some(w.into());
        self
    }

    /// `service:Operation`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} [{}]", self.service, self.operation, self.account)?;
        for (k, v) in &self.params {
            write!(f, " {k}={v}")?;
        }
        if let Some(w) = &self.when {
            write!(f, "   ({w})")?;
        }
        Ok(())
    }
}

/// The parameters of one call as the log shows them (never a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<&'static str, String>);

impl Params {
    /// Records `key` = `value` and hands `value` on (to the request's setter).
    pub fn put<'v>(&mut self, key: &'static str, value: &'v str) -> &'v str {
        self.0.insert(key, value.to_string());
        value
    }
}

/// The operation an SDK operation type describes (its `Metadata`), as IAM policies spell it.
pub fn sdk_op(operation: impl RuntimePlugin) -> Op {
    let meta = operation
        .config()
        .and_then(|layer| layer.load::<Metadata>().cloned());
    match meta {
        Some(m) => Op::from_sdk(m.service(), m.name()),
        // Every operation the SDK generates stores its metadata; this is not reached.
        None => Op {
            service: "unknown".into(),
            name: "unknown".into(),
        },
    }
}

/// What the steps of a change are built from besides the request. A dry run knows it from the
/// flags (the caller only when a management role names it); a real run from the session.
#[derive(Debug, Clone)]
pub struct Context {
    /// The management role to hop into first (`--provisioning-role-arn`, else `--role-arn`).
    pub management_role: Option<String>,
    /// The caller's account, when known.
    pub caller: Option<AccountId>,
    pub partition: String,
    /// Member role (name with optional path) used for changes in other accounts.
    pub member_role: String,
    pub member_external_id: bool,
    /// `--account-config` overrides for the member hop (when no provisioning role is named).
    pub overrides: Option<AccountConfig>,
    /// Identity Center region when no principal ARN names one.
    pub sso_region: String,
}

impl Context {
    /// The account that signs management calls (Identity Center, Organizations).
    pub fn mgmt(&self) -> String {
        self.caller
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "management".into())
    }

    /// True when `account` is known to be the caller's own.
    pub fn is_caller(&self, account: &AccountId) -> bool {
        self.caller.as_ref() == Some(account)
    }
}

/// A hop into `role_arn` signed by `signer`; `external_id` says where its External ID comes
/// from (the log never shows its value).
pub fn assume_role(signer: impl Into<String>, role_arn: &str, external_id: Option<&str>) -> Call {
    let mut p = Params::default();
    p.put("RoleArn", role_arn);
    if let Some(x) = external_id {
        p.put("ExternalId", x);
    }
    Call::new(
        &sdk_op(aws_sdk_sts::operation::assume_role::AssumeRole::new()),
        signer,
        p,
    )
}

/// The calls made while connecting: the management hop (if any) and sts:GetCallerIdentity.
pub fn connect_calls(cx: &Context) -> Vec<Call> {
    let mut out = vec![];
    if let Some(role) = &cx.management_role {
        out.push(assume_role("base credentials", role, None));
    }
    out.push(Call::new(
        &sdk_op(aws_sdk_sts::operation::get_caller_identity::GetCallerIdentity::new()),
        cx.mgmt(),
        Params::default(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connecting_hops_first_when_a_management_role_is_named() {
        let mut cx = Context {
            management_role: Some("arn:aws:iam::111122223333:role/Writer".into()),
            caller: Some("111122223333".parse().unwrap()),
            partition: "aws".into(),
            member_role: "OrgWriter".into(),
            member_external_id: false,
            overrides: None,
            sso_region: "us-east-1".into(),
        };
        let text: Vec<String> = connect_calls(&cx).iter().map(Call::to_string).collect();
        assert_eq!(
            text,
            [
                "sts:AssumeRole [base credentials] RoleArn=arn:aws:iam::111122223333:role/Writer",
                "sts:GetCallerIdentity [111122223333]"
            ]
        );
        cx.management_role = None;
        cx.caller = None;
        let calls = connect_calls(&cx);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].to_string(), "sts:GetCallerIdentity [management]");
        assert_eq!(
            calls[0].clone().when("always").to_string(),
            "sts:GetCallerIdentity [management]   (always)"
        );
    }
}
