//! Holds the permission lists to the code by reading the sources: every AWS request the code
//! sends must be allowed by one of the lists, and every read permission granted must be sent
//! somewhere (least privilege). A test-only module.
//!
//! What counts as a request: an SDK request chain ending in `.send()`, e.g.
//! `scope.iam().get_account_authorization_details().filter(…).send()`. The chain is read back
//! from `.send()` to where it starts; the client is the first link named after an SDK client
//! ([`CLIENTS`]: a variable `iam`, a field `self.sso`, an accessor `scope.sso_admin(region)`),
//! and the operation is the method called on it (`get_account_authorization_details` →
//! `iam:GetAccountAuthorizationDetails`). A `.send()` whose chain starts nowhere this can see
//! is an error, so a new way of sending cannot slip past the scan. Provisioning sends the
//! SDK input builders listed in its table of operations (`sdk_requests!(aws_sdk_iam {
//! add_user_to_group: AddUserToGroup, …})` in `provision/operations.rs`); every operation of
//! that table counts as sent and must be listed too.
//!
//! Not here: the calls a real run makes (`tests/ops.rs` compares the read policy with the
//! calls a sync's metrics counted; `tests/provision.rs` the write policy with provisioning's
//! call log).

use std::path::{Path, PathBuf};

use super::*;

/// Names an SDK client goes by in the sources (variables, fields, `Scope` accessors), and the
/// IAM action prefix of its service.
const CLIENTS: &[(&str, &str)] = &[
    ("iam", "iam"),
    ("sts", "sts"),
    ("sso", "sso"),
    ("sso_admin", "sso"),
    ("ids", "identitystore"),
    ("ids_client", "identitystore"),
    ("identity_store", "identitystore"),
    ("org", "organizations"),
    ("orgs", "organizations"),
    ("organizations", "organizations"),
];

/// Requests the scan must find (one or more per service, read and write side): if it finds
/// fewer, it has stopped seeing requests.
const KNOWN: &[&str] = &[
    "iam:GetAccountAuthorizationDetails",
    "iam:ListRoles",
    "iam:GenerateCredentialReport",
    "iam:AddUserToGroup",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "organizations:DescribeOrganization",
    "organizations:ListAccountsForParent",
    "organizations:ListTargetsForPolicy",
    "sso:ListInstances",
    "sso:ListAccountAssignmentsForPrincipal",
    "sso:CreateAccountAssignment",
    "identitystore:ListGroupMemberships",
    "identitystore:CreateGroupMembership",
];

/// Where a `.send()` chain starts.
#[derive(Debug, PartialEq)]
enum Request {
    /// `method` called on a client of `service`.
    Sent { service: String, method: String },
    /// No client in the chain; `start` is what it starts with.
    Unresolved { start: String },
}

/// Every permission of every list.
fn listed() -> Vec<&'static str> {
    [
        IAM_READ,
        STS_READ,
        STS_HOP,
        ORG_READ,
        SCP_READ,
        IC_READ,
        IAM_WRITE,
        ORG_WRITE,
        IC_WRITE,
        IC_WRITE_SSO_ROLES,
    ]
    .concat()
}

/// The listed permission `method` of `service` is (`list_ssh_public_keys` →
/// `iam:ListSSHPublicKeys`), or `None`.
fn permission_of(service: &str, method: &str) -> Option<&'static str> {
    let wanted = method.replace('_', "");
    listed().into_iter().find(|p| {
        p.split_once(':')
            .is_some_and(|(s, op)| s == service && op.eq_ignore_ascii_case(&wanted))
    })
}

/// `list_group_memberships` → `ListGroupMemberships` (for messages; IAM's own spelling of
/// acronyms, `ListSSHPublicKeys`, is in the lists).
fn pascal(method: &str) -> String {
    method
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `text` without `//` comments (doc comments included), so examples in prose do not count.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            }
            if !in_str && c == '/' && prev == '/' {
                cut = i - 1;
                break;
            }
            prev = c;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_ws_back(b: &[u8], mut i: usize) -> usize {
    while i > 0 && b[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    i
}

/// The index of the bracket opening the one closed at `close`, skipping string literals.
fn opening(b: &[u8], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = close + 1;
    while i > 0 {
        i -= 1;
        match b[i] {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'"' => {
                // Back to the quote opening this string.
                while i > 0 {
                    i -= 1;
                    if b[i] == b'"' && (i == 0 || b[i - 1] != b'\\') {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The links of the method chain that ends just before `end` (where `.send()` starts), root
/// first: the root's path (`self`, `sso`), then each method called (`list_instances`, …).
/// A chain starting with a free call (`req()`) or a macro parameter (`$req`) has that as its
/// first link; a macro call (`m!(sso.op()).x()`) is read through to the chain inside it.
fn chain_before(text: &str, end: usize) -> Vec<String> {
    let b = text.as_bytes();
    let mut methods: Vec<String> = vec![];
    let mut i = end;
    loop {
        i = skip_ws_back(b, i);
        if i == 0 || b[i - 1] != b')' {
            break;
        }
        let Some(open) = opening(b, i - 1) else { break };
        if open > 0 && b[open - 1] == b'!' {
            // `mac!(inner).rest…`: the chain goes on inside the macro's arguments.
            let mut links = chain_before(text, i - 1);
            methods.reverse();
            links.extend(methods);
            return links;
        }
        let mut j = open;
        while j > 0 && is_ident(b[j - 1]) {
            j -= 1;
        }
        let name = &text[j..open];
        if name.is_empty() {
            break;
        }
        let k = skip_ws_back(b, j);
        if k > 0 && b[k - 1] == b'.' {
            methods.push(name.to_string());
            i = k - 1;
            continue;
        }
        // A free call (`req()`) starts the chain.
        methods.push(format!("{name}()"));
        methods.reverse();
        return methods;
    }
    // The root: a path of identifiers (`self.sso`, `iam`, `$req`).
    let mut root: Vec<String> = vec![];
    loop {
        let e = skip_ws_back(b, i);
        let mut s = e;
        while s > 0 && (is_ident(b[s - 1]) || b[s - 1] == b'$') {
            s -= 1;
        }
        if s == e {
            break;
        }
        root.push(text[s..e].to_string());
        let d = skip_ws_back(b, s);
        if d > 0 && b[d - 1] == b'.' {
            i = d - 1;
        } else {
            break;
        }
    }
    root.reverse();
    methods.reverse();
    root.extend(methods);
    root
}

/// What the chain `links` sends.
fn request_of(links: &[String]) -> Request {
    for (i, link) in links.iter().enumerate() {
        let name = link.trim_end_matches("()");
        if let Some((_, service)) = CLIENTS.iter().find(|(c, _)| *c == name)
            && let Some(method) = links.get(i + 1)
        {
            return Request::Sent {
                service: service.to_string(),
                method: method.clone(),
            };
        }
    }
    Request::Unresolved {
        start: links.first().cloned().unwrap_or_default(),
    }
}

/// Every `.send()` of `text`, with its line.
fn requests_in(text: &str) -> Vec<(usize, Request)> {
    let code = code_only(text);
    code.match_indices(".send()")
        .map(|(i, _)| {
            let line = code[..i].matches('\n').count() + 1;
            (line, request_of(&chain_before(&code, i)))
        })
        .collect()
}

/// The operations of provisioning's table of SDK requests in `text`: each
/// `sdk_requests!(aws_sdk_<crate> { <module>: <Operation>, … })` entry, as `service:Operation`.
fn table_in(text: &str) -> Vec<String> {
    const CRATES: [(&str, &str); 5] = [
        ("aws_sdk_iam", "iam"),
        ("aws_sdk_sts", "sts"),
        ("aws_sdk_organizations", "organizations"),
        ("aws_sdk_ssoadmin", "sso"),
        ("aws_sdk_identitystore", "identitystore"),
    ];
    let code = code_only(text);
    let mut out = vec![];
    for (i, _) in code.match_indices("sdk_requests!(") {
        let rest = &code[i + "sdk_requests!(".len()..];
        let Some((krate, body)) = rest.split_once('{') else {
            continue;
        };
        let Some((_, service)) = CRATES.iter().find(|(c, _)| *c == krate.trim()) else {
            out.push(format!("unknown-crate:{}", krate.trim()));
            continue;
        };
        let body = body.split('}').next().unwrap_or_default();
        for entry in body.split(';') {
            if let Some((_, rest)) = entry.split_once(':') {
                let op: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if !op.is_empty() {
                    out.push(format!("{service}:{op}"));
                }
            }
        }
    }
    out
}

/// The `.rs` files under `src/`, this module's parent excepted (its lists and examples).
fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![];
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("permissions") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("permissions.rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    out
}

/// Every request the sources send is allowed by a list, every operation provisioning names is
/// listed, and every read permission is sent somewhere.
#[test]
fn every_request_in_the_sources_is_listed() {
    let mut sent: Vec<&str> = vec![];
    let mut problems: Vec<String> = vec![];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in sources() {
        let path = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let at = |line: usize| format!("{}:{line}", path.display());
        for (line, req) in requests_in(&text) {
            match req {
                Request::Sent { service, method } => match permission_of(&service, &method) {
                    Some(p) => sent.push(p),
                    None => problems.push(format!(
                        "{} sends {service}:{}, which no permission list has",
                        at(line),
                        pascal(&method)
                    )),
                },
                Request::Unresolved { start } => problems.push(format!(
                    "{}: cannot tell what this .send() sends (its chain starts with `{start}`): start it from a client named as in CLIENTS",
                    at(line)
                )),
            }
        }
        for op in table_in(&text) {
            match listed().iter().find(|l| **l == op) {
                Some(l) => sent.push(l),
                None => problems.push(format!(
                    "{} sends {op} (its table of SDK requests), which no permission list has",
                    path.display()
                )),
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "src/permissions.rs:\n{}",
        problems.join("\n")
    );
    for k in KNOWN {
        assert!(sent.contains(k), "the scan no longer sees {k} being sent");
    }
    // Least privilege: nothing is granted for reading that no read sends.
    for p in IAM_READ
        .iter()
        .chain(STS_READ)
        .chain(STS_HOP)
        .chain(ORG_READ)
        .chain(SCP_READ)
        .chain(IC_READ)
    {
        assert!(sent.contains(p), "{p} is granted but never sent");
    }
}

#[test]
fn chains_are_read_back_to_their_client() {
    let text = r#"
        let a = scope.iam().list_roles().max_items(5).set_marker(m.clone()).send();
        let b = self
            .sso
            .list_permission_sets()
            .instance_arn(inst) // a comment with x.send()
            .filter(|s| s.contains(")"))
            .send()
            .await;
        let c = x.mgmt().sso_admin(region).list_instances().send();
        this_assignment!(sso.create_account_assignment()).send()
        // iam.delete_user().send() in prose does not count
        $req.send()
        req().policy_name(name).send()
        client.get_thing().send()
    "#;
    let got: Vec<Request> = requests_in(text).into_iter().map(|(_, r)| r).collect();
    let sent = |s: &str, m: &str| Request::Sent {
        service: s.into(),
        method: m.into(),
    };
    let unresolved = |s: &str| Request::Unresolved { start: s.into() };
    assert_eq!(
        got,
        vec![
            sent("iam", "list_roles"),
            sent("sso", "list_permission_sets"),
            sent("sso", "list_instances"),
            sent("sso", "create_account_assignment"),
            unresolved("$req"),
            unresolved("req()"),
            unresolved("client"),
        ]
    );
    assert_eq!(
        permission_of("iam", "list_ssh_public_keys"),
        Some("iam:ListSSHPublicKeys")
    );
    assert_eq!(permission_of("identitystore", "list_roles"), None);
    assert_eq!(pascal("list_group_memberships"), "ListGroupMemberships");
    assert_eq!(
        table_in(
            "sdk_requests!(aws_sdk_iam {\n    get_group: GetGroup, GetGroupInputBuilder, O, E;\n    // no_op: Nope, X, Y, Z;\n    add_user_to_group: AddUserToGroup, B, O, E;\n});\nsdk_requests!(aws_sdk_ssoadmin { list_instances: ListInstances, B, O, E; });"
        ),
        vec!["iam:GetGroup", "iam:AddUserToGroup", "sso:ListInstances"]
    );
    assert_eq!(
        table_in("sdk_requests!(aws_sdk_s3 { get_object: GetObject, B, O, E; });"),
        vec!["unknown-crate:aws_sdk_s3"]
    );
}
