//! IAM as the sync's per-account collector: in an account the engine has entered, read IAM
//! (`read`) and map the snapshot to records (`records`). The documents of AWS-managed
//! policies are fetched once per run, whichever account first needs them.
//!
//! Not here: entering the account (the engine), which accounts (`sync::plan`).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::RESOURCE_TYPES;
use crate::aws::{AwsError, Scope};
use crate::connector::collector::{AccountCollector, Collected};

use super::read::{AwsPolicyDocs, IamReadOptions, read_account};
use super::records::{IamRecordOptions, iam_records};
use crate::connector::collector::AccountInfo;

/// Reads IAM in every account of a run.
pub(crate) struct IamCollector {
    opts: IamReadOptions,
    /// AWS-managed policy documents, shared by the accounts of the run.
    docs: Arc<AwsPolicyDocs>,
}

impl IamCollector {
    pub(crate) fn new(opts: IamReadOptions) -> IamCollector {
        IamCollector {
            opts,
            docs: AwsPolicyDocs::new(),
        }
    }

    async fn read(&self, scope: &Scope, account: &AccountInfo) -> Result<Collected, AwsError> {
        let snap = read_account(scope, &self.docs, &self.opts).await?;
        let record_opts = IamRecordOptions {
            sync_secrets: self.opts.sync_secrets,
        };
        let out = iam_records(account, &snap, record_opts);
        Ok(Collected {
            records: out.records,
            shared: out.shared,
        })
    }
}

impl AccountCollector for IamCollector {
    fn resource_types(&self) -> &'static [&'static str] {
        &RESOURCE_TYPES
    }

    fn collect<'a>(
        &'a self,
        scope: &'a Scope,
        account: &'a AccountInfo,
    ) -> BoxFuture<'a, Result<Collected, AwsError>> {
        Box::pin(self.read(scope, account))
    }
}
