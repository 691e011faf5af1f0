//! The access review as one self-contained HTML page: inline CSS and script, no fonts,
//! images or requests (a Content-Security-Policy forbids any), readable without the script.
//! The script does one thing: the search box hides the principal rows that do not match,
//! and applies `#q=<text>` (or `?q=<text>`) from the address on load, so a link can carry a
//! search.
//!
//! Not here: gathering the facts (`super`).

use std::fmt::Write;

use super::{AccountReview, Entrant, Review, Who};

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee8; --bg:#f6f7fa; --admin:#b3261e; --adminbg:#fde8e6; --warn:#8a5a00; --warnbg:#fff4d6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px 64px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 24px; }
.card.bad b { color: var(--admin); }
.search { position: sticky; top: 0; background: var(--bg); padding: 10px 0; z-index: 1; display: flex; gap: 12px; align-items: center; }
.search input { font-size: 15px; padding: 7px 10px; width: 420px; border: 1px solid var(--line); border-radius: 6px; }
#matches { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); margin-bottom: 8px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: #eef1f6; font-weight: 600; white-space: nowrap; }
td.id, span.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; color: var(--muted); word-break: break-all; }
tr.admin td { background: var(--adminbg); }
.badge { display: inline-block; font-size: 11px; font-weight: 700; border-radius: 4px; padding: 1px 6px; margin-right: 4px; }
.badge.admin { background: var(--admin); color: #fff; }
.badge.type { background: #e3e8f2; color: var(--fg); font-weight: 600; }
.badge.warn { background: var(--warnbg); color: var(--warn); }
ol.path { margin: 2px 0 6px; padding-left: 20px; }
ol.path li { font-size: 12px; }
.kind { font-weight: 600; }
.way { margin-bottom: 4px; }
.none { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; }
"#;

/// Hides every `tr.p` whose `data-q` does not contain the search text, and every section
/// left without a shown row; shows the count. Runs on input and on load (from the address).
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var box = document.getElementById("q");
  var status = document.getElementById("matches");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.p"));
  function apply(text) {
    var q = text.trim().toLowerCase();
    var shown = 0;
    var who = {};
    rows.forEach(function (tr) {
      var hit = q === "" || tr.getAttribute("data-q").indexOf(q) >= 0;
      if (hit) { tr.removeAttribute("hidden"); shown++; who[tr.getAttribute("data-who")] = true; }
      else { tr.setAttribute("hidden", ""); }
    });
    document.querySelectorAll("section.filterable").forEach(function (s) {
      var any = s.querySelector("tr.p:not([hidden])") !== null;
      if (q === "" || any) { s.removeAttribute("hidden"); }
      else { s.setAttribute("hidden", ""); }
    });
    var n = Object.keys(who).length;
    status.textContent = q === "" ? "" : n + " principal" + (n === 1 ? "" : "s") + " match \u201c" + text.trim() + "\u201d (" + shown + " row" + (shown === 1 ? "" : "s") + ")";
    document.body.setAttribute("data-query", q);
  }
  function fromAddress() {
    var m = /[#?&]q=([^&]*)/.exec(location.hash + "&" + location.search);
    if (!m) { return ""; }
    try { return decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { return m[1]; }
  }
  box.addEventListener("input", function () {
    apply(box.value);
    if (history.replaceState) { history.replaceState(null, "", box.value ? "#q=" + encodeURIComponent(box.value) : "#"); }
  });
  window.addEventListener("hashchange", function () { box.value = fromAddress(); apply(box.value); });
  box.value = fromAddress();
  apply(box.value);
})();
"##;

/// The page.
pub fn render(r: &Review) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Access review — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&r.file)
    );
    let _ = write!(
        h,
        "<h1>Access review</h1>\n<p class=\"meta\">File <span class=\"id\">{}</span> · sync <span class=\"id\">{}</span>{} · report made {} · role chains of at most {} hop(s)</p>\n",
        escape(&r.file),
        escape(&r.sync_id),
        r.sync_ended
            .as_deref()
            .map(|e| format!(" (ended {})", escape(e)))
            .unwrap_or_else(|| " (unfinished)".into()),
        escape(&r.generated_at),
        r.max_hops
    );
    cards(&mut h, r);
    h.push_str(
        "<div class=\"search\"><label for=\"q\"><b>Search principals</b></label>\
         <input id=\"q\" type=\"search\" placeholder=\"name, ARN or id, e.g. alice\" autocomplete=\"off\">\
         <span id=\"matches\" role=\"status\"></span></div>\n",
    );
    findings(&mut h, r);
    h.push_str("<h2 id=\"accounts\">Who can get into each account, and how</h2>\n");
    h.push_str("<p class=\"note\">Admins (red) have a path ending in full administrative power in the account: AdministratorAccess, or a stored policy allowing <code>*</code> on <code>*</code> without a Condition (the <code>orgsync access --admin</code> rule). Each principal shows its shortest path per thing it reaches. Not evaluated: ");
    h.push_str(&escape(crate::access::NOT_EVALUATED));
    h.push_str(".</p>\n");
    for a in &r.accounts {
        account(&mut h, a);
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    h
}

fn cards(h: &mut String, r: &Review) {
    let card = |h: &mut String, n: usize, label: &str, bad: bool| {
        let _ = write!(
            h,
            "<div class=\"card{}\"><b>{n}</b>{}</div>",
            if bad && n > 0 { " bad" } else { "" },
            escape(label)
        );
    };
    h.push_str("<div class=\"cards\">");
    card(h, r.accounts.len(), "accounts", false);
    card(h, r.principal_count(), "principals with access", false);
    card(h, r.admin_count(), "admins", true);
    card(
        h,
        r.console_without_mfa.len(),
        "console users without MFA",
        true,
    );
    card(
        h,
        r.stale_keys.len(),
        &format!("access keys unused {}+ days or never", r.stale_days),
        true,
    );
    card(
        h,
        r.outside_trust.len(),
        "trusts outside the organization",
        true,
    );
    h.push_str("</div>\n");
}

/// The searchable text of a principal: type, id and name, lower case.
fn data_q(w: &Who) -> String {
    escape(&format!("{} {} {}", w.resource_type, w.id, w.name).to_lowercase())
}

fn who_attrs(w: &Who) -> String {
    format!(
        "data-q=\"{}\" data-who=\"{}\"",
        data_q(w),
        escape(&format!("{}:{}", w.resource_type, w.id))
    )
}

fn who_cell(w: &Who) -> String {
    format!(
        "<span class=\"badge type\">{}</span><b>{}</b><br><span class=\"id\">{}</span>",
        escape(&w.resource_type),
        escape(&w.name),
        escape(&w.id)
    )
}

fn opt(s: &Option<String>, none: &str) -> String {
    match s {
        Some(s) => escape(s),
        None => format!("<span class=\"none\">{}</span>", escape(none)),
    }
}

fn findings(h: &mut String, r: &Review) {
    h.push_str("<h2 id=\"findings\">Findings</h2>\n");

    h.push_str("<section class=\"filterable\" id=\"console-no-mfa\"><h3>IAM users with console access and no MFA</h3>\n");
    if r.console_without_mfa.is_empty() {
        h.push_str("<p class=\"none\">None.</p>\n");
    } else {
        h.push_str("<table><thead><tr><th>User</th><th>Account</th><th>MFA</th><th>Password last used</th></tr></thead><tbody>\n");
        for u in &r.console_without_mfa {
            let _ = writeln!(
                h,
                "<tr class=\"p\" {}><td>{}</td><td class=\"id\">{}</td><td>{}</td><td>{}</td></tr>",
                who_attrs(&u.who),
                who_cell(&u.who),
                opt(&u.account, "?"),
                match u.mfa_active {
                    Some(_) => "<span class=\"badge admin\">none</span>",
                    None => "<span class=\"badge warn\">unknown (no credential report)</span>",
                },
                opt(&u.password_last_used, "never"),
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");

    let _ = writeln!(
        h,
        "<section class=\"filterable\" id=\"stale-keys\"><h3>Access keys unused for {} days or never used</h3>",
        r.stale_days
    );
    if r.stale_keys.is_empty() {
        h.push_str("<p class=\"none\">None.</p>\n");
    } else {
        h.push_str("<table><thead><tr><th>User</th><th>Key</th><th>Account</th><th>Status</th><th>Created</th><th>Last used</th></tr></thead><tbody>\n");
        for k in &r.stale_keys {
            let last = match (&k.last_used, k.idle_days) {
                (Some(t), Some(d)) => format!("{} ({d} days ago)", escape(t)),
                _ => "<span class=\"badge warn\">never</span>".to_string(),
            };
            let _ = writeln!(
                h,
                "<tr class=\"p\" {}><td>{}</td><td class=\"id\">{}</td><td class=\"id\">{}</td><td>{}</td><td>{}</td><td>{last}</td></tr>",
                who_attrs(&k.user),
                who_cell(&k.user),
                escape(&k.key_id),
                opt(&k.account, "?"),
                escape(&k.status),
                opt(&k.created, "?"),
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");

    h.push_str("<section class=\"filterable\" id=\"outside-trust\"><h3>Roles trusting principals outside the organization</h3>\n");
    h.push_str("<p class=\"note\">Outside: an account that is not one of the sync's accounts, any principal (<code>*</code>), or a principal the sync could not resolve. Conditions are shown, not evaluated.</p>\n");
    if r.outside_trust.is_empty() {
        h.push_str("<p class=\"none\">None.</p>\n");
    } else {
        h.push_str("<table><thead><tr><th>Role</th><th>Account</th><th>Trusts</th><th>Why</th><th>Condition</th></tr></thead><tbody>\n");
        for t in &r.outside_trust {
            let why = match t.why {
                "outside_account" => format!(
                    "account {} is outside the organization",
                    escape(t.principal_account.as_deref().unwrap_or("?"))
                ),
                "any_principal" => "any AWS principal".to_string(),
                _ => "principal not resolved to an account".to_string(),
            };
            let _ = writeln!(
                h,
                "<tr class=\"p\" {}><td>{}</td><td class=\"id\">{}</td><td class=\"id\">{}</td><td>{why}</td><td>{}</td></tr>",
                who_attrs(&t.role),
                who_cell(&t.role),
                opt(&t.account, "?"),
                escape(&t.principal),
                if t.conditional {
                    "<span class=\"badge warn\">has a condition</span>"
                } else {
                    "none"
                },
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

fn account(h: &mut String, a: &AccountReview) {
    let admins = a.admins_total;
    let _ = writeln!(
        h,
        "<section class=\"filterable account\" id=\"account-{}\"><h3>{} <span class=\"id\">{}</span> — {} principal(s), {} admin(s){}</h3>",
        escape(&a.id),
        escape(&a.name),
        escape(&a.id),
        a.entrants_total,
        admins,
        if a.complete {
            ""
        } else {
            " <span class=\"badge warn\">incomplete: the search stopped at its step budget</span>"
        }
    );
    if a.entrants.is_empty() {
        h.push_str("<p class=\"none\">Nobody found.</p>\n</section>\n");
        return;
    }
    h.push_str("<table><thead><tr><th>Principal</th><th>How</th></tr></thead><tbody>\n");
    for e in &a.entrants {
        entrant(h, e);
    }
    h.push_str("</tbody></table>\n");
    let more = a.entrants_total.saturating_sub(a.entrants.len());
    if more > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note more\">… and {more} more principal(s), not listed here (--max-rows; admins come first): <code>orgsync access --account {}</code> or <code>orgsync export</code> lists them all.</p>",
            escape(&a.id)
        );
    }
    h.push_str("</section>\n");
}

fn entrant(h: &mut String, e: &Entrant) {
    let _ = write!(
        h,
        "<tr class=\"p{}\" {}><td>{}{}</td><td>",
        if e.admin { " admin" } else { "" },
        who_attrs(&e.who),
        if e.admin {
            "<span class=\"badge admin\">ADMIN</span>"
        } else {
            ""
        },
        who_cell(&e.who)
    );
    for w in e.ways.iter().take(MAX_WAYS) {
        let _ = write!(
            h,
            "<div class=\"way\">→ {}<b>{}</b>{}",
            if w.admin {
                "<span class=\"badge admin\">full admin</span>"
            } else {
                ""
            },
            escape(w.target_name.as_deref().unwrap_or(&w.target)),
            if w.target_name.is_some() {
                format!(" <span class=\"id\">{}</span>", escape(&w.target))
            } else {
                String::new()
            }
        );
        if !w.steps.is_empty() {
            h.push_str("<ol class=\"path\">");
            for (kind, ent) in &w.steps {
                let _ = write!(
                    h,
                    "<li><span class=\"kind\">{}</span> <span class=\"id\">{}</span></li>",
                    escape(kind),
                    escape(ent)
                );
            }
            h.push_str("</ol>");
        }
        if w.paths_found > 1 {
            let _ = write!(
                h,
                "<span class=\"note\">{} paths; the shortest ({} hop(s)) shown</span>",
                w.paths_found, w.hops
            );
        }
        h.push_str("</div>");
    }
    if e.ways.len() > MAX_WAYS {
        let _ = write!(
            h,
            "<span class=\"note\">… and {} more thing(s) it reaches in this account</span>",
            e.ways.len() - MAX_WAYS
        );
    }
    h.push_str("</td></tr>\n");
}

/// Ways shown per principal and account (admin ways first).
const MAX_WAYS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_page_has_no_external_reference() {
        let page = render(&Review {
            file: "<x>.c1z".into(),
            sync_id: "s".into(),
            sync_ended: None,
            generated_at: "t".into(),
            stale_days: 90,
            max_hops: 5,
            accounts: vec![],
            console_without_mfa: vec![],
            stale_keys: vec![],
            outside_trust: vec![],
            principals_total: 0,
            admins_total: 0,
        });
        for bad in ["http:", "https:", "src=", "href=", "@import", "url("] {
            assert!(!page.contains(bad), "{bad} in the page");
        }
        assert!(page.contains("&lt;x&gt;.c1z"));
    }
}
