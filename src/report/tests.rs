//! The finding rules on a hand-made sync, with cases the fixtures cannot make (moto reports
//! no key use days ago, no MFA device state without a report, no foreign user in a trust):
//! the stale-key cut-off, MFA unknown vs. off vs. on, and which trusts are outside.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::model::Record;
use crate::model::any::pack;
use crate::model::build::{entitlement_ref, grant, resource, rid, timestamp};
use crate::model::profile::to_struct;
use crate::store::c1z::C1zWriter;

const ORG: &str = "111122223333";
const OUTSIDE: &str = "999988887777";

fn user(name: &str, profile: serde_json::Value) -> Record {
    Record::Resource(resource(
        rid(rt::IAM_USER, &format!("arn:aws:iam::{ORG}:user/{name}")),
        name,
        None,
        vec![],
        Some(to_struct(&profile)),
    ))
}

fn key(id: &str, user: &str, last_used: Option<DateTime<Utc>>) -> Record {
    let secret = pb::SecretTrait {
        last_used_at: last_used.map(timestamp),
        ..Default::default()
    };
    Record::Resource(resource(
        rid(rt::ACCESS_KEY, id),
        id,
        None,
        vec![pack(&secret)],
        Some(to_struct(&json!({
            "aws_user_arn": format!("arn:aws:iam::{ORG}:user/{user}"),
            "aws_access_key_status": "Active",
        }))),
    ))
}

fn role(name: &str, profile: serde_json::Value) -> (pb::Resource, Record) {
    let r = resource(
        rid(rt::ROLE, &format!("arn:aws:iam::{ORG}:role/{name}")),
        name,
        None,
        vec![],
        Some(to_struct(&profile)),
    );
    (r.clone(), Record::Resource(r))
}

fn trust(role: &pb::Resource, ptype: &str, pid: &str) -> Record {
    let arn = &role.id.as_ref().unwrap().resource;
    let ent = format!("role:{arn}:assignment");
    Record::Grant(grant(
        format!("{ent}:{ptype}:{pid}"),
        entitlement_ref(&ent, role.clone()),
        rid(ptype, pid),
        vec![],
    ))
}

#[test]
fn findings_follow_their_rules() {
    let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.c1z");
    let (vendor, vendor_rec) = role("vendor", json!({}));
    let (_, open_rec) = role(
        "open",
        json!({"aws_trust_any_principal": true, "aws_trust_conditional": true,
               "aws_trust_other_principals": ["AROAGONEGONEGONE", format!("arn:aws:iam::{ORG}:role/x"), format!("arn:aws:sts::{OUTSIDE}:assumed-role/r/s")]}),
    );
    let (inside, inside_rec) = role("inside", json!({}));
    let records = vec![
        Record::Resource(resource(
            rid(rt::ACCOUNT_IAM, ORG),
            "org",
            None,
            vec![],
            None,
        )),
        user(
            "nomfa",
            json!({"aws_console_access": true, "aws_mfa_active": false}),
        ),
        user("unknown", json!({"aws_console_access": true})),
        user(
            "mfa",
            json!({"aws_console_access": true, "aws_mfa_active": true}),
        ),
        user(
            "noconsole",
            json!({"aws_console_access": false, "aws_mfa_active": false}),
        ),
        key("AKIANEVER", "nomfa", None),
        key("AKIAOLD", "nomfa", Some(now - Duration::days(91))),
        key("AKIAEDGE", "nomfa", Some(now - Duration::days(90))),
        key("AKIARECENT", "mfa", Some(now - Duration::days(10))),
        vendor_rec,
        open_rec,
        inside_rec,
        trust(&vendor, rt::ACCOUNT_IAM, OUTSIDE),
        trust(
            &vendor,
            rt::IAM_USER,
            &format!("arn:aws:iam::{OUTSIDE}:user/bob"),
        ),
        trust(&inside, rt::ACCOUNT_IAM, ORG),
        trust(&inside, rt::ROLE, &format!("arn:aws:iam::{ORG}:role/open")),
    ];
    let mut w = C1zWriter::create(&path).unwrap();
    w.write(&records).unwrap();
    let stats = w.stats().unwrap();
    w.finish(&stats).unwrap();
    let reader = C1zReader::open(&path).unwrap();
    let r = review(
        &reader,
        "rules.c1z",
        &ReviewOptions {
            stale_days: 90,
            max_hops: 5,
            max_paths: 3,
            max_rows: None,
            now,
        },
    )
    .unwrap();

    let console: Vec<(&str, Option<bool>)> = r
        .console_without_mfa
        .iter()
        .map(|u| (u.who.name.as_str(), u.mfa_active))
        .collect();
    assert_eq!(console, vec![("nomfa", Some(false)), ("unknown", None)]);

    let keys: Vec<(&str, Option<i64>)> = r
        .stale_keys
        .iter()
        .map(|k| (k.key_id.as_str(), k.idle_days))
        .collect();
    // 90 days exactly is not "more than 90 days"; 91 is.
    assert_eq!(keys, vec![("AKIANEVER", None), ("AKIAOLD", Some(91))]);

    let outside: Vec<(&str, &str, &str, bool)> = r
        .outside_trust
        .iter()
        .map(|t| {
            (
                t.role.name.as_str(),
                t.principal.as_str(),
                t.why,
                t.conditional,
            )
        })
        .collect();
    let bob = format!("iam_user:arn:aws:iam::{OUTSIDE}:user/bob");
    let outside_root = format!("account_iam:{OUTSIDE}");
    let session = format!("arn:aws:sts::{OUTSIDE}:assumed-role/r/s");
    assert_eq!(
        outside,
        vec![
            ("open", "*", "any_principal", true),
            ("open", "AROAGONEGONEGONE", "unresolved_principal", true),
            ("open", session.as_str(), "outside_account", true),
            ("vendor", outside_root.as_str(), "outside_account", false),
            ("vendor", bob.as_str(), "outside_account", false),
        ]
    );
    assert_eq!(r.accounts.len(), 1);
    assert_eq!(r.accounts[0].id, ORG);
}
