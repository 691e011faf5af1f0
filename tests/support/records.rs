//! Comparing the records two runs wrote: decoded, as sorted canonical JSON lines, with the
//! role "last used" facts removed (every run's own AssumeRole updates them in moto), and
//! optionally after grant expansion of a private copy of the file's sync.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use orgsync::store::c1z::C1zReader;

fn strip_last_used(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("aws_role_last_used");
            o.remove("aws_role_last_used_region");
            o.values_mut().for_each(strip_last_used);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_last_used),
        _ => {}
    }
}

/// The decoded records of the c1z at `path` (expanded first when `expand`).
pub fn lines(path: &Path, expand: bool) -> Vec<String> {
    let reader = C1zReader::open(path).unwrap();
    if expand {
        let id = reader.sync().sync_id.clone();
        orgsync::expand::sqlite::expand_sync(
            reader.connection(),
            &id,
            &orgsync::expand::Options::default(),
            &mut (),
        )
        .unwrap();
    }
    let mut lines: Vec<String> = reader
        .records()
        .unwrap()
        .iter()
        .map(|r| {
            let mut v = r.to_json();
            strip_last_used(&mut v);
            v.to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// Asserts that `a` (expanded first when `expand_a`) and `b` hold the same records, showing
/// only the lines that differ.
pub fn assert_same(a: &Path, expand_a: bool, b: &Path) {
    let (x, y) = (lines(a, expand_a), lines(b, false));
    let xs: BTreeSet<&String> = x.iter().collect();
    let ys: BTreeSet<&String> = y.iter().collect();
    let short = |l: &&String| l.chars().take(600).collect::<String>();
    let only_a: Vec<String> = xs.difference(&ys).map(short).collect();
    let only_b: Vec<String> = ys.difference(&xs).map(short).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "only in {}: {only_a:#?}\nonly in {}: {only_b:#?}",
        a.display(),
        b.display()
    );
    assert_eq!(x.len(), y.len(), "duplicate records");
}
