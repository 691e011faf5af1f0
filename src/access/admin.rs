//! The "full administrative power" rule of `orgsync access --admin`, and the policy
//! entitlements of a sync it selects.
//!
//! A policy grants full administrative power when
//! - it is the AWS-managed `arn:<partition>:iam::aws:policy/AdministratorAccess` (by ARN: a
//!   sync stores the documents of AWS-managed policies only when an IAM principal uses them),
//!   or
//! - its stored document (`policy_document` in the profile of an `iam_policy` or
//!   `inline_policy` resource; permission-set inline policies included) has a statement with
//!   `"Effect": "Allow"`, an `Action` (string or list) containing `"*"` or `"*:*"`, a
//!   `Resource` (string or list) containing `"*"`, and no `Condition` (an empty `{}` counts as
//!   none).
//!
//! Statements with `NotAction` or `NotResource` never count: they exclude something, so the
//! power is not full (`PowerUserAccess`, Allow NotAction iam:* on *, is therefore not admin).
//! Deny statements are not evaluated, in this document or any other, and neither are
//! permission boundaries, SCPs or session policies: the rule says what a policy allows, not
//! what a principal can finally do. A document that is not JSON is not admin.
//!
//! Not here: finding who holds these entitlements (`search`).

use std::collections::BTreeSet;

use prost::Message;
use rusqlite::params;
use serde_json::Value;

use crate::model::pb;
use crate::model::profile;
use crate::model::types as rt;

use super::AccessError;

/// True when `arn` is the AWS-managed AdministratorAccess policy, in any partition.
pub fn is_administrator_access(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next().is_some()
        && parts.next() == Some("iam")
        && parts.next() == Some("")
        && parts.next() == Some("aws")
        && parts.next() == Some("policy/AdministratorAccess")
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// Whether one statement allows every action on every resource, unconditionally.
fn statement_is_admin(st: &Value) -> bool {
    let Some(st) = st.as_object() else {
        return false;
    };
    if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    if st.contains_key("NotAction") || st.contains_key("NotResource") {
        return false;
    }
    let conditional = match st.get("Condition") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    };
    if conditional {
        return false;
    }
    strings(st.get("Action"))
        .iter()
        .any(|a| *a == "*" || *a == "*:*")
        && strings(st.get("Resource")).contains(&"*")
}

/// Whether a policy document (JSON text) grants full administrative power (see the module
/// documentation for the exact rule).
pub fn document_is_admin(doc: &str) -> bool {
    let Ok(json) = serde_json::from_str::<Value>(doc) else {
        return false;
    };
    match json.get("Statement") {
        Some(Value::Array(sts)) => sts.iter().any(statement_is_admin),
        Some(st @ Value::Object(_)) => statement_is_admin(st),
        _ => false,
    }
}

/// The `attached` entitlements of the sync's policies that grant full administrative power:
/// every `iam_policy` / `inline_policy` resource is examined (a byte search in SQL skips the
/// ones whose record cannot contain `"*"`, `"*:*"` or the AdministratorAccess ARN).
pub fn admin_entitlements(
    conn: &rusqlite::Connection,
    sync_id: &str,
) -> Result<BTreeSet<String>, AccessError> {
    let mut stmt = conn.prepare(
        "select resource_type_id, external_id, data from v1_resources
         where sync_id = ?1 and resource_type_id in ('iam_policy', 'inline_policy')
           and (instr(data, cast('\"*\"' as blob)) > 0
                or instr(data, cast('\"*:*\"' as blob)) > 0
                or instr(data, cast(':iam::aws:policy/AdministratorAccess' as blob)) > 0)",
    )?;
    let mut rows = stmt.query(params![sync_id])?;
    let mut out = BTreeSet::new();
    while let Some(row) = rows.next()? {
        let rtype: String = row.get(0)?;
        let key: String = row.get(1)?;
        let id = key
            .strip_prefix(&format!("{rtype}:"))
            .unwrap_or(&key)
            .to_string();
        let admin = if rtype == rt::IAM_POLICY && is_administrator_access(&id) {
            true
        } else {
            let data: Vec<u8> = row.get(2)?;
            let r = pb::Resource::decode(data.as_slice())?;
            r.profile
                .as_ref()
                .and_then(|p| profile::get_str(p, "policy_document"))
                .is_some_and(document_is_admin)
        };
        if admin {
            out.insert(format!("{rtype}:{id}:attached"));
        }
    }
    // AdministratorAccess by ARN, also when only its entitlement exists (no resource row).
    let mut stmt = conn.prepare(
        "select external_id, resource_id from v1_entitlements
         where resource_type_id = 'iam_policy' and sync_id = ?1",
    )?;
    let rows = stmt.query_map(params![sync_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (id, arn) = row?;
        if is_administrator_access(&arn) {
            out.insert(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#)
    }

    #[test]
    fn allow_star_on_star_without_condition_is_admin() {
        for s in [
            r#"[{"Effect":"Allow","Action":"*","Resource":"*"}]"#,
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            r#"[{"Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["arn:aws:s3:::b","*"]}]"#,
            r#"[{"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]"#,
        ] {
            assert!(document_is_admin(&doc(s)), "{s}");
        }
    }

    #[test]
    fn near_misses_are_not_admin() {
        for s in [
            // a specific resource
            r#"[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket/*"}]"#,
            // a condition
            r#"[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]"#,
            // every action of one service only
            r#"[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]"#,
            // NotAction / NotResource
            r#"[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]"#,
            r#"[{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::x"}]"#,
            // Deny
            r#"[{"Effect":"Deny","Action":"*","Resource":"*"}]"#,
            // no resource at all
            r#"[{"Effect":"Allow","Action":"*"}]"#,
            // case matters in IAM's element values
            r#"[{"Effect":"allow","Action":"*","Resource":"*"}]"#,
        ] {
            assert!(!document_is_admin(&doc(s)), "{s}");
        }
        assert!(!document_is_admin("not json"));
        assert!(!document_is_admin("{}"));
    }

    #[test]
    fn administrator_access_is_recognised_by_arn_in_any_partition() {
        assert!(is_administrator_access(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(is_administrator_access(
            "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::aws:policy/AdministratorAccess-Amplify"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::111122223333:policy/AdministratorAccess"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::aws:policy/job-function/AdministratorAccess"
        ));
    }
}
