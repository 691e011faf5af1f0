//! The crate's layout holds: no import cycle between modules, at any depth of the module tree
//! (between top-level modules such as `sync` and `connector`, between folders such as
//! `connector::iam` and `connector::collector`, and between files). Imports are read from the
//! sources (`crate::…` and `super::…` paths outside test modules), so a new cycle fails here
//! with the modules that form it. And no function outside tests is longer than 120 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/` with its module path (`connector::iam::read`).
fn modules() -> BTreeMap<String, PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("src/ is readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts.join("::"), p);
            }
        }
    }
    out
}

/// The source without its `#[cfg(test)] mod tests { … }` tail and without comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths that follow `prefix` in `code` (`crate::sync::plan::Plan` → `sync::plan::Plan`).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(i, _)| {
            !code[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

/// The longest prefix of `path` (a `::` path) that is a module.
fn module_of(mods: &BTreeMap<String, PathBuf>, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| mods.contains_key(m))
}

/// Module → the modules it imports (file level).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, path) in &mods {
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        let is_dir_module = path.ends_with("mod.rs");
        let parent: Vec<&str> = if m.is_empty() {
            vec![]
        } else if is_dir_module {
            m.split("::").collect::<Vec<_>>()[..m.split("::").count() - 1].to_vec()
        } else {
            let v: Vec<&str> = m.split("::").collect();
            v[..v.len() - 1].to_vec()
        };
        let mut targets: Vec<String> = paths_after(&code, "crate::")
            .into_iter()
            .filter_map(|p| module_of(&mods, p))
            .collect();
        for p in paths_after(&code, "super::") {
            let full = parent
                .iter()
                .copied()
                .chain(p.split("::"))
                .collect::<Vec<_>>()
                .join("::");
            targets.extend(module_of(&mods, &full));
        }
        for t in targets {
            // A module may use its own descendants and ancestors (re-exports, parent items).
            if t != *m && !m.starts_with(&format!("{t}::")) && !t.starts_with(&format!("{m}::")) {
                out.entry(m.clone()).or_default().insert(t);
            }
        }
    }
    out
}

/// The graph cut to the first `depth` segments of each module path.
fn at_depth(
    g: &BTreeMap<String, BTreeSet<String>>,
    depth: usize,
) -> BTreeMap<String, BTreeSet<String>> {
    let cut = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in g {
        for b in bs {
            let (a, b) = (cut(a), cut(b));
            let nested = a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
            if a != b && !nested {
                out.entry(a).or_default().insert(b);
            }
        }
    }
    out
}

/// A cycle of `g`, if it has one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(g, m, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(g, n, &mut state, &mut vec![])
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_cycle_at_any_depth() {
    let g = imports();
    assert!(
        g.contains_key("sync::run") && g["sync::run"].contains("connector::collector"),
        "the import scan no longer sees sync::run using connector::collector"
    );
    let deepest = modules()
        .keys()
        .map(|m| m.split("::").count())
        .max()
        .unwrap_or(1);
    for depth in 1..=deepest {
        if let Some(c) = find_cycle(&at_depth(&g, depth)) {
            panic!(
                "import cycle between modules (depth {depth}): {}",
                c.join(" -> ")
            );
        }
    }
}

#[test]
fn the_scan_finds_a_cycle_when_there_is_one() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a::x".to_string(), BTreeSet::from(["b::y".to_string()])),
        ("b::y".to_string(), BTreeSet::from(["a::z".to_string()])),
    ]
    .into();
    assert!(find_cycle(&at_depth(&g, 2)).is_none());
    assert_eq!(
        find_cycle(&at_depth(&g, 1)).unwrap(),
        vec!["a".to_string(), "b".to_string(), "a".to_string()]
    );
    assert_eq!(
        paths_after(
            "use crate::sync::plan::{Plan};\nlet x = $crate::y;",
            "crate::"
        ),
        vec!["sync::plan"]
    );
}

/// The longest functions outside tests, as (lines, module, name), from the signature's first
/// line to the closing brace. Braces are counted in the code without comments; string
/// literals with unbalanced braces would skew it, and the crate has none in function bodies.
fn function_lengths() -> Vec<(usize, String, String)> {
    let mut out = vec![];
    for (module, path) in modules() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "tests.rs" || file.ends_with("_tests.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = fn_name(line) else { continue };
            let mut depth = 0i64;
            let mut opened = false;
            for (j, l) in lines.iter().enumerate().skip(i) {
                for c in l.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        ';' if !opened && depth == 0 => break,
                        _ => {}
                    }
                }
                if !opened && l.trim_end().ends_with(';') {
                    break; // a declaration without a body
                }
                if opened && depth == 0 {
                    out.push((j - i + 1, module.clone(), name.to_string()));
                    break;
                }
            }
        }
    }
    out.sort_by(|a, b| b.cmp(a));
    out
}

/// The function a line declares, if it declares one (`pub(crate) async fn run(` → `run`).
fn fn_name(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let before_ok = words[..at].iter().all(|w| {
        w.starts_with("pub") || matches!(*w, "async" | "const" | "unsafe" | "extern" | "\"C\"")
    });
    if !before_ok {
        return None;
    }
    let name = words.get(at + 1)?;
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    (end > 0).then(|| &name[..end])
}

/// Issue 9's bound: no function outside tests over ~120 lines (a longer one mixes steps that
/// want names of their own).
#[test]
fn no_function_is_longer_than_120_lines() {
    let all = function_lengths();
    assert!(
        all.len() > 500,
        "the scan found only {} functions",
        all.len()
    );
    let long: Vec<_> = all.iter().filter(|f| f.0 > 120).collect();
    assert!(long.is_empty(), "functions over 120 lines: {long:?}");
}

#[test]
fn the_length_scan_measures_a_function() {
    assert_eq!(fn_name("    pub(crate) async fn run<'a>("), Some("run"));
    assert_eq!(fn_name("let f = |x| x; // fn"), None);
    let all = function_lengths();
    let f = all
        .iter()
        .find(|f| f.1 == "sync::shard" && f.2 == "fnv1a64")
        .expect("sync::shard::fnv1a64 is measured");
    assert_eq!(f.0, 7, "{f:?}");
}
