//! The end-of-run summary of `orgsync sync` and `orgsync run` on stderr: records written per
//! type, AWS calls per operation, accounts not synced, the sync type with its scope.
//!
//! Not here: running the sync or writing its files (`cmd::sync`).

use std::path::Path;

use orgsync::aws::CallMetrics;
use orgsync::model::stats::{AccountStatus, Scope, SyncType};
use orgsync::store::WriteReport;
use orgsync::sync::RunResult;

use crate::cli::table;

/// Prints the end-of-run summary to stderr.
pub fn print_summary(
    result: &RunResult,
    written: &WriteReport,
    metrics: &CallMetrics,
    file: Option<&Path>,
) {
    let accounts = result.account_counts();
    let totals = metrics.totals();
    let mut out = String::new();
    out.push_str(&format!(
        "\nAccounts: {} ok, {} failed, {} skipped   AWS requests: {} ({} retries, {} throttled)   Duration: {:.1}s\n",
        accounts.ok,
        accounts.failed,
        accounts.skipped,
        totals.requests,
        totals.retries(),
        totals.throttled,
        result.duration.as_secs_f64()
    ));
    if let Some(f) = file {
        out.push_str(&format!("Wrote {}\n", f.display()));
        out.push_str(&format!("Sync type: {}\n", sync_type_line(&result.scope)));
        match &written.expansion {
            Some(e) => out.push_str(&format!(
                "Grant expansion: {} derived grants written, {} grants gained sources ({} edges, {:.1}s)\n",
                e.derived_grants,
                e.updated_grants,
                e.edges,
                e.duration_ms as f64 / 1000.0
            )),
            None => out.push_str(
                "Grant expansion: not run (--expand-grants=false); direct grants only\n",
            ),
        }
    }
    for n in &result.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    if !written.counts.is_empty() {
        out.push_str(&format!("\nRecords\n{}\n", records_table(written)));
    }
    let calls = metrics.snapshot();
    if !calls.is_empty() {
        out.push_str(&format!("\nAWS calls\n{}\n", calls_table(&calls)));
    }
    if let Some(t) = accounts_not_synced(result) {
        out.push_str(&format!("\nAccounts not synced\n{t}\n"));
    }
    for p in &result.phases {
        if let Some(e) = &p.error {
            out.push_str(&format!("\nPhase {} failed: {e}\n", p.name));
        }
    }
    eprint!("{out}");
}

/// `full`, or `partial (why)`.
pub fn sync_type_line(scope: &Scope) -> String {
    match scope.sync_type {
        SyncType::Full => "full".to_string(),
        SyncType::Partial => format!("partial ({})", scope.reasons().join("; ")),
    }
}

/// Records written per declared resource type.
fn records_table(written: &WriteReport) -> comfy_table::Table {
    let mut types: std::collections::BTreeSet<&String> = std::collections::BTreeSet::new();
    for m in written.counts.values() {
        types.extend(m.keys());
    }
    let mut t = table(&["RESOURCE TYPE", "RESOURCES", "ENTITLEMENTS", "GRANTS"]);
    let get = |kind: &str, ty: &str| {
        written
            .counts
            .get(kind)
            .and_then(|m| m.get(ty))
            .copied()
            .unwrap_or(0)
    };
    for ty in types.iter().filter(|t| {
        written
            .counts
            .get("resource_type")
            .is_some_and(|m| m.contains_key(**t))
    }) {
        t.add_row(vec![
            ty.to_string(),
            get("resource", ty).to_string(),
            get("entitlement", ty).to_string(),
            get("grant", ty).to_string(),
        ]);
    }
    t
}

/// AWS calls by operation.
fn calls_table(
    calls: &std::collections::BTreeMap<String, orgsync::aws::metrics::OpStats>,
) -> comfy_table::Table {
    let mut t = table(&["AWS OPERATION", "CALLS", "REQUESTS", "THROTTLED", "ERRORS"]);
    for (op, s) in calls {
        t.add_row(vec![
            op.clone(),
            s.calls.to_string(),
            s.requests.to_string(),
            s.throttled.to_string(),
            s.errors.to_string(),
        ]);
    }
    t
}

/// The failed and skipped accounts with why, if there are any.
fn accounts_not_synced(result: &RunResult) -> Option<comfy_table::Table> {
    let mut t = table(&["ACCOUNT", "NAME", "STATUS", "DETAIL"]);
    let mut any = false;
    for a in &result.accounts {
        let (status, detail) = match &a.status {
            AccountStatus::Failed { class, message, .. } => {
                (format!("failed: {class}"), message.clone())
            }
            AccountStatus::Skipped { reason } => ("skipped".to_string(), reason.clone()),
            AccountStatus::Ok => continue,
        };
        any = true;
        t.add_row(vec![
            a.account_id.to_string(),
            a.name.clone(),
            status,
            detail,
        ]);
    }
    any.then_some(t)
}
