//! IAM Identity Center's SCIM endpoint as a source of user status: `GET <endpoint>/Users`
//! with a bearer token, every page (RFC 9865 cursor paging as IAM Identity Center documents it:
//! `cursor` then `nextCursor`; RFC 7644 index paging, `startIndex`/`count` up to
//! `totalResults`, when the server does not page by cursor), and the rule that matches SCIM
//! users to identity-store users ([`match_users`]). The sync sets an `sso_user`'s status from
//! its SCIM user's `active`.
//!
//! The token is a secret: it lives in [`ScimToken`], whose `Debug` prints no part of it, is
//! sent in a header marked sensitive, and is scrubbed from any message an answer carries.
//!
//! Not here: the flags and where the token comes from (`cli::ic_args`), the phase that calls
//! this (`phase`), the records (`records`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::aws::{AwsError, ErrorClass};

use super::model::{IcUser, MatchedBy, ScimStatus};

/// Results asked for per page (IAM Identity Center's maximum).
pub const PAGE_SIZE: usize = 100;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per page for answers worth retrying (429, 5xx, no connection).
const ATTEMPTS: u32 = 3;
/// A bound on pages, so a server that never ends paging cannot loop forever.
const MAX_PAGES: usize = 100_000;

/// The bearer token of the SCIM endpoint. Never printed: `Debug` shows `***`, and there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScimToken(String);

impl ScimToken {
    /// A token read from the environment or a file (surrounding whitespace dropped); `None`
    /// when nothing is left.
    pub fn new(raw: &str) -> Option<ScimToken> {
        let t = raw.trim();
        (!t.is_empty()).then(|| ScimToken(t.to_string()))
    }

    /// `text` with every occurrence of the token replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

impl std::fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScimToken(***)")
    }
}

/// A SCIM base URL (`https://scim.<region>.amazonaws.com/<tenant>/scim/v2`), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimEndpoint {
    base: String,
}

impl ScimEndpoint {
    /// Parses `s`: an absolute https URL, or http on a loopback host (a bearer token never
    /// crosses a network in clear text).
    pub fn parse(s: &str) -> Result<ScimEndpoint, String> {
        let uri: Uri = s.parse().map_err(|e| format!("'{s}' is not a URL: {e}"))?;
        let host = uri.host().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            Some("http") => {
                return Err(format!(
                    "'{s}': the SCIM endpoint must be https (http only on a loopback address)"
                ));
            }
            _ => return Err(format!("'{s}' is not an http(s) URL")),
        }
        if uri.query().is_some() {
            return Err(format!("'{s}': the SCIM endpoint takes no query"));
        }
        Ok(ScimEndpoint {
            base: s.trim_end_matches('/').to_string(),
        })
    }

    fn is_https(&self) -> bool {
        self.base.starts_with("https:")
    }

    /// The host (for notes: no path, which holds the tenant id).
    pub fn host(&self) -> String {
        self.base
            .parse::<Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_default()
    }

    fn users(&self, query: &str) -> String {
        format!("{}/Users?{query}", self.base)
    }
}

/// Where and how to read user status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimOptions {
    pub endpoint: ScimEndpoint,
    pub token: ScimToken,
}

/// A user as the SCIM endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `active`; `None` when the endpoint does not say.
    pub active: Option<bool>,
}

/// How the pages were walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Cursor,
    Index,
}

/// What one read of the endpoint gave.
#[derive(Debug, Clone)]
pub struct ScimRead {
    pub users: Vec<ScimUser>,
    pub pages: usize,
    pub paging: Paging,
}

/// A failed SCIM read, as the sync records a phase's failure (service `scim`).
fn error(class: ErrorClass, message: impl Into<String>) -> AwsError {
    AwsError::local("scim", "ListUsers", class, message)
}

/// One page's answer: the status and the body.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

/// Every user of the endpoint.
pub async fn list_users(opts: &ScimOptions) -> Result<ScimRead, AwsError> {
    if opts.endpoint.is_https() {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| {
                error(
                    ErrorClass::Other,
                    format!("no root certificates to check the SCIM endpoint's with: {e}"),
                )
            })?
            .https_only()
            .enable_http1()
            .build();
        walk(&Client::builder(TokioExecutor::new()).build(https), opts).await
    } else {
        let http = hyper_util::client::legacy::connect::HttpConnector::new();
        walk(&Client::builder(TokioExecutor::new()).build(http), opts).await
    }
}

/// Pages by cursor; a server that does not (an error answer to `cursor`, or an index-paged
/// answer) is paged by index instead.
async fn walk<C>(client: &Client<C, Empty<Bytes>>, opts: &ScimOptions) -> Result<ScimRead, AwsError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let first = get(client, opts, &format!("cursor=&count={PAGE_SIZE}")).await?;
    let cursor_refused = matches!(
        first.status,
        StatusCode::BAD_REQUEST | StatusCode::NOT_IMPLEMENTED
    );
    if cursor_refused {
        tracing::debug!(status = %first.status, "the SCIM endpoint does not page by cursor; paging by index");
        return by_index(client, opts).await;
    }
    let page = parse_page(opts, first)?;
    let mut users = page.users;
    let mut pages = 1;
    match page.next_cursor {
        Some(mut cursor) => {
            let mut seen: HashSet<String> = HashSet::new();
            loop {
                if !seen.insert(cursor.clone()) || pages >= MAX_PAGES {
                    return Err(error(
                        ErrorClass::Other,
                        "the SCIM endpoint repeated a page cursor; stopping rather than looping",
                    ));
                }
                let q = format!("cursor={}&count={PAGE_SIZE}", encode(&cursor));
                let page = parse_page(opts, get(client, opts, &q).await?)?;
                pages += 1;
                users.extend(page.users);
                match page.next_cursor {
                    Some(c) => cursor = c,
                    None => break,
                }
            }
            Ok(ScimRead {
                users,
                pages,
                paging: Paging::Cursor,
            })
        }
        // Answered with index paging (or everything fits in one page).
        None => match page.total {
            Some(total) if users.len() < total => {
                let mut rest = by_index_from(client, opts, users.len() + 1, total).await?;
                users.append(&mut rest.users);
                Ok(ScimRead {
                    users,
                    pages: pages + rest.pages,
                    paging: Paging::Index,
                })
            }
            _ => Ok(ScimRead {
                users,
                pages,
                paging: Paging::Index,
            }),
        },
    }
}

async fn by_index<C>(
    client: &Client<C, Empty<Bytes>>,
    opts: &ScimOptions,
) -> Result<ScimRead, AwsError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    by_index_from(client, opts, 1, usize::MAX).await
}

/// Index paging from `start` (1-based) until `totalResults` (or `total`, if the first answer
/// gave it) users are read, or a page comes back empty.
async fn by_index_from<C>(
    client: &Client<C, Empty<Bytes>>,
    opts: &ScimOptions,
    mut start: usize,
    mut total: usize,
) -> Result<ScimRead, AwsError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut users = vec![];
    let mut pages = 0;
    while start <= total && pages < MAX_PAGES {
        let q = format!("startIndex={start}&count={PAGE_SIZE}");
        let page = parse_page(opts, get(client, opts, &q).await?)?;
        pages += 1;
        if let Some(t) = page.total {
            total = t;
        }
        if page.users.is_empty() {
            break;
        }
        start += page.users.len();
        users.extend(page.users);
    }
    Ok(ScimRead {
        users,
        pages,
        paging: Paging::Index,
    })
}

/// Query-encodes a cursor value.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One GET of `/Users?query`, retried on 429, 5xx and transport failures.
async fn get<C>(
    client: &Client<C, Empty<Bytes>>,
    opts: &ScimOptions,
    query: &str,
) -> Result<Answer, AwsError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let url = opts.endpoint.users(query);
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        let mut auth =
            header::HeaderValue::from_str(&format!("Bearer {}", opts.token.0)).map_err(|_| {
                error(
                    ErrorClass::InvalidRequest,
                    "the SCIM token is not a valid header value",
                )
            })?;
        auth.set_sensitive(true);
        let req = Request::get(&url)
            .header(header::AUTHORIZATION, auth)
            .header(header::ACCEPT, "application/scim+json, application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| error(ErrorClass::InvalidRequest, e.to_string()))?;
        let sent = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = client.request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Answer { status, body })
        })
        .await;
        if let Ok(Ok(a)) = &sent {
            tracing::trace!(query, status = %a.status, bytes = a.body.len(), attempt, "SCIM page");
        }
        let retry = match sent {
            // 501: the server does not do what was asked (cursor paging); not worth a retry.
            Ok(Ok(a)) if a.status == StatusCode::NOT_IMPLEMENTED => return Ok(a),
            Ok(Ok(a))
                if a.status == StatusCode::TOO_MANY_REQUESTS || a.status.is_server_error() =>
            {
                error(
                    if a.status == StatusCode::TOO_MANY_REQUESTS {
                        ErrorClass::Throttled
                    } else {
                        ErrorClass::Transient
                    },
                    format!("HTTP {}: {}", a.status, detail(opts, &a.body)),
                )
            }
            Ok(Ok(a)) => return Ok(a),
            Ok(Err(e)) => error(
                ErrorClass::Transient,
                opts.token
                    .scrub(&format!("no answer from {}: {e}", opts.endpoint.host())),
            ),
            Err(_) => error(
                ErrorClass::Timeout,
                format!(
                    "no answer from {} in {REQUEST_TIMEOUT:?}",
                    opts.endpoint.host()
                ),
            ),
        };
        tracing::debug!(attempt, error = %retry, "SCIM request failed");
        last = Some(retry);
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
    Err(last.unwrap_or_else(|| error(ErrorClass::Other, "no attempt made")))
}

/// The `detail` of a SCIM error body (or the start of the body), without the token.
fn detail(opts: &ScimOptions, body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    opts.token.scrub(&text)
}

/// One page of a list answer.
struct Page {
    users: Vec<ScimUser>,
    total: Option<usize>,
    next_cursor: Option<String>,
}

fn parse_page(opts: &ScimOptions, a: Answer) -> Result<Page, AwsError> {
    match a.status {
        s if s.is_success() => {}
        StatusCode::UNAUTHORIZED => {
            return Err(error(
                ErrorClass::InvalidCredentials,
                format!(
                    "the SCIM endpoint {} refused the bearer token (HTTP 401: {}); check ORGSYNC_IC_SCIM_TOKEN or --ic-scim-token-file (IAM Identity Center tokens expire after a year)",
                    opts.endpoint.host(),
                    detail(opts, &a.body)
                ),
            ));
        }
        StatusCode::FORBIDDEN => {
            return Err(error(
                ErrorClass::AccessDenied,
                format!(
                    "the SCIM endpoint {} denied listing users (HTTP 403: {})",
                    opts.endpoint.host(),
                    detail(opts, &a.body)
                ),
            ));
        }
        s => {
            return Err(error(
                ErrorClass::from_status(s.as_u16(), "ListUsers"),
                format!("HTTP {s}: {}", detail(opts, &a.body)),
            ));
        }
    }
    let v: Value = serde_json::from_slice(&a.body).map_err(|e| {
        error(
            ErrorClass::Other,
            format!("the SCIM endpoint's answer is not JSON: {e}"),
        )
    })?;
    let users = v["Resources"]
        .as_array()
        .map(|list| list.iter().filter_map(scim_user).collect())
        .unwrap_or_default();
    Ok(Page {
        users,
        total: v["totalResults"].as_u64().map(|t| t as usize),
        next_cursor: v["nextCursor"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_string),
    })
}

fn scim_user(v: &Value) -> Option<ScimUser> {
    Some(ScimUser {
        id: v["id"].as_str()?.to_string(),
        user_name: v["userName"].as_str().unwrap_or_default().to_string(),
        external_id: v["externalId"].as_str().map(str::to_string),
        active: v["active"].as_bool(),
    })
}

/// The outcome of matching.
#[derive(Debug, Default, Clone)]
pub struct Matches {
    /// By identity-store user id.
    pub status: BTreeMap<String, ScimStatus>,
    /// SCIM users that match no identity-store user (or several).
    pub unmatched: usize,
}

/// Matches SCIM users to identity-store users: by `id`, else `userName`, else `externalId`;
/// the first rule that finds exactly one store user not matched already wins.
pub fn match_users(store: &[IcUser], scim: &[ScimUser]) -> Matches {
    let by_id: HashMap<&str, &IcUser> = store.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut out = Matches::default();
    for s in scim {
        let candidates = |rule: MatchedBy| -> Vec<&IcUser> {
            match rule {
                MatchedBy::Id => by_id.get(s.id.as_str()).copied().into_iter().collect(),
                MatchedBy::UserName => {
                    let exact: Vec<&IcUser> = store
                        .iter()
                        .filter(|u| u.user_name == s.user_name)
                        .collect();
                    if exact.is_empty() && !s.user_name.is_empty() {
                        store
                            .iter()
                            .filter(|u| u.user_name.eq_ignore_ascii_case(&s.user_name))
                            .collect()
                    } else {
                        exact
                    }
                }
                MatchedBy::ExternalId => match &s.external_id {
                    Some(x) if !x.is_empty() => store
                        .iter()
                        .filter(|u| u.external_ids.iter().any(|e| &e.id == x))
                        .collect(),
                    _ => vec![],
                },
            }
        };
        let found = [MatchedBy::Id, MatchedBy::UserName, MatchedBy::ExternalId]
            .into_iter()
            .find_map(|rule| match candidates(rule)[..] {
                [u] if !out.status.contains_key(&u.id) => Some((u, rule)),
                _ => None,
            });
        match found {
            Some((u, by)) => {
                out.status.insert(
                    u.id.clone(),
                    ScimStatus {
                        active: s.active,
                        by,
                    },
                );
            }
            None => out.unmatched += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::identity_center::model::{ExternalId, PersonName, UserStatus};

    fn store_user(id: &str, name: &str, ext: Option<&str>) -> IcUser {
        IcUser {
            id: id.into(),
            user_name: name.into(),
            display_name: None,
            status: UserStatus::Unknown,
            name: PersonName::default(),
            emails: vec![],
            external_ids: ext
                .map(|x| {
                    vec![ExternalId {
                        issuer: "https://idp.example.com".into(),
                        id: x.into(),
                    }]
                })
                .unwrap_or_default(),
        }
    }

    fn scim(id: &str, name: &str, ext: Option<&str>, active: Option<bool>) -> ScimUser {
        ScimUser {
            id: id.into(),
            user_name: name.into(),
            external_id: ext.map(str::to_string),
            active,
        }
    }

    #[test]
    fn users_match_by_id_then_user_name_then_external_id() {
        let store = vec![
            store_user("u-1", "ada@example.com", None),
            store_user("u-2", "Bo@Example.com", None),
            store_user("u-3", "cy@example.com", Some("okta-3")),
            store_user("u-4", "di@example.com", None),
        ];
        let m = match_users(
            &store,
            &[
                scim("u-1", "renamed@example.com", None, Some(true)),
                scim("s-2", "bo@example.com", None, Some(false)),
                scim("s-3", "other@example.com", Some("okta-3"), Some(false)),
                scim("s-9", "ghost@example.com", Some("okta-9"), Some(true)),
                // A second SCIM user for a store user already matched does not steal it.
                scim("s-1", "ada@example.com", None, Some(false)),
            ],
        );
        assert_eq!(
            m.status["u-1"],
            ScimStatus {
                active: Some(true),
                by: MatchedBy::Id
            }
        );
        assert_eq!(m.status["u-2"].by, MatchedBy::UserName);
        assert_eq!(m.status["u-2"].active, Some(false));
        assert_eq!(m.status["u-3"].by, MatchedBy::ExternalId);
        assert!(!m.status.contains_key("u-4"));
        assert_eq!(m.unmatched, 2);
    }

    #[test]
    fn endpoints_are_https_or_loopback_and_tokens_never_show() {
        assert!(ScimEndpoint::parse("https://scim.us-east-1.amazonaws.com/abc/scim/v2/").is_ok());
        assert!(ScimEndpoint::parse("http://127.0.0.1:8080/v2").is_ok());
        assert!(ScimEndpoint::parse("http://[::1]:8080/v2").is_ok());
        assert!(ScimEndpoint::parse("http://localhost/v2").is_ok());
        let e = ScimEndpoint::parse("http://scim.example.com/v2").unwrap_err();
        assert!(e.contains("https"), "{e}");
        assert!(ScimEndpoint::parse("ftp://x/v2").is_err());
        assert!(ScimEndpoint::parse("not a url").is_err());
        let ep = ScimEndpoint::parse("https://scim.us-east-1.amazonaws.com/abc/scim/v2/").unwrap();
        assert_eq!(
            ep.users("count=1"),
            "https://scim.us-east-1.amazonaws.com/abc/scim/v2/Users?count=1"
        );
        assert_eq!(ep.host(), "scim.us-east-1.amazonaws.com");
        let t = ScimToken::new(" s3cr3t-t0ken\n").unwrap();
        let opts = ScimOptions {
            endpoint: ep,
            token: t.clone(),
        };
        assert!(!format!("{opts:?}").contains("s3cr3t"));
        assert_eq!(t.scrub("echo s3cr3t-t0ken"), "echo ***");
        assert!(ScimToken::new(" \n").is_none());
    }
}
