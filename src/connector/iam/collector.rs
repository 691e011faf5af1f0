//! IAM as the sync's per-account collector: in an account the engine has entered, read IAM
//! (`read`) and map the snapshot to records (`records`), handing them to the writer in parts
//! as they are made. The documents of AWS-managed
//! policies are fetched once per run, whichever account first needs them; what one account
//! learns about credential reports guides the next (`credential_report::ReportGuess`).
//!
//! Not here: entering the account (the engine), which accounts (`sync::plan`).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::RESOURCE_TYPES;
use crate::aws::{AwsError, Scope};
use crate::connector::collector::{AccountCollector, AccountInfo, Collected, Parts};

use super::read::{IamReadOptions, RunShared, read_account};
use super::records::{IamRecordOptions, iam_records_in_parts};

/// Records per part handed to the writer while an account is mapped: a 5,000-user account
/// makes some 40,000 records (about 1.3 KiB each in memory); in parts of this size only a few
/// parts are in memory at once (the one being made, and the writer's queue).
const PART_RECORDS: usize = 1000;

/// Reads IAM in every account of a run.
pub(crate) struct IamCollector {
    opts: IamReadOptions,
    /// AWS-managed policy documents and credential-report knowledge, shared by the accounts
    /// of the run.
    shared: Arc<RunShared>,
}

impl IamCollector {
    pub(crate) fn new(opts: IamReadOptions) -> IamCollector {
        IamCollector {
            opts,
            shared: RunShared::new(),
        }
    }

    async fn read(
        &self,
        scope: &Scope,
        account: &AccountInfo,
        parts: &Parts,
    ) -> Result<Collected, AwsError> {
        let snap = read_account(scope, &self.shared, &self.opts).await?;
        let record_opts = IamRecordOptions {
            sync_secrets: self.opts.sync_secrets,
        };
        // Every read succeeded: the mapping's parts go to the writer as they are made, on a
        // blocking thread (it is CPU work, and the writer may make it wait).
        let (account, parts) = (account.clone(), parts.clone());
        let mapped = tokio::task::spawn_blocking(move || {
            iam_records_in_parts(&account, &snap, record_opts, PART_RECORDS, &mut |part| {
                parts.send(part)
            })
        })
        .await;
        match mapped {
            Ok(shared) => Ok(Collected {
                records: vec![],
                shared,
            }),
            // The mapping panicked: a bug, not an AWS failure; keep its panic.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
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
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Collected, AwsError>> {
        Box::pin(self.read(scope, account, parts))
    }
}
