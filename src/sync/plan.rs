//! Plans a run: which accounts are read, with which role and External ID, and which resource
//! types the output declares.

use clap::Args;

use crate::aws::Session;
use crate::model::types as rt;

use super::engine::{AccountPlan, Plan};
use super::iam_records::AccountInfo;

/// Planning flags of `orgsync sync`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {}

/// Validated planning options.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {}

impl PlanArgs {
    pub fn options(&self) -> Result<PlanOptions, anyhow::Error> {
        Ok(PlanOptions {})
    }
}

/// The IAM resource types every run declares.
pub const IAM_TYPES: [&str; 7] = [
    rt::ACCOUNT_IAM,
    rt::IAM_USER,
    rt::GROUP,
    rt::ROLE,
    rt::IAM_POLICY,
    rt::INLINE_POLICY,
    rt::ACCESS_KEY,
];

/// Builds the plan: the caller's account.
pub async fn build(session: &Session, _opts: &PlanOptions) -> anyhow::Result<Plan> {
    let account = session.caller.account.to_string();
    Ok(Plan {
        resource_types: IAM_TYPES.to_vec(),
        org_records: vec![],
        accounts: vec![AccountPlan {
            info: AccountInfo {
                account_id: account.clone(),
                name: account,
                arn: None,
                is_caller: true,
                partition: session.caller.partition.to_string(),
            },
            role: String::new(),
            external_id: None,
            skip: None,
            account_record: None,
        }],
        notes: vec![],
        phases: vec![],
    })
}
