//! Fault-injection HTTP proxy for tests and benchmarks. Sits between the SDK (pointed at it via
//! AWS_ENDPOINT_URL) and moto, and per service / operation / target account can inject
//! throttling in each protocol's real wire format, 5xx answers (AWS's, or a load balancer's
//! HTML page), dropped connections, latency, AccessDenied, ExpiredToken and moto's exact "not
//! implemented" answer; a rule can skip its first N matches (`after`) and stop after N
//! injections (`limit`), so "N failures, then pass-through" is `limit(N)`. It records every request
//! it saw (service, operation, account, and the AssumeRole parameters), so tests can assert
//! External IDs and session names.
//! The target account of a request is known from its access key: the proxy reads AssumeRole
//! answers and remembers which account each issued key belongs to.
//! With [`FaultProxy::aws_limits`] it also throttles like AWS: a token bucket per (account, API
//! family) at AWS's rates (`support::throttle`), refusing only when the bucket is empty.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::throttle::{AwsLimits, Buckets};

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with the service's throttling error.
    Throttle,
    /// Answer 500 InternalFailure.
    ServerError,
    /// Close the connection without answering.
    Drop,
    /// Forward after a delay.
    Latency(Duration),
    /// Answer AccessDenied (AccessDeniedException for JSON services).
    AccessDenied,
    /// Answer ExpiredToken.
    ExpiredToken,
    /// Answer exactly as moto does for an operation it does not implement: HTTP 500 from a
    /// Werkzeug server with Werkzeug's standard error page.
    NotImplemented,
    /// Answer as a proxy or load balancer in front of AWS may: HTTP 500 with its own HTML page
    /// (nginx's). Not the emulator's "not implemented" answer: a transient server error.
    HtmlServerError,
}

/// A fault rule: all given fields must match.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `iam`, `sts`, `organizations`, `sso`, `identitystore`.
    pub service: Option<String>,
    pub operation: Option<String>,
    /// Target account (the account whose credentials sign the request, or for AssumeRole the
    /// account of the requested role).
    pub account: Option<String>,
    /// Only requests that do not carry this parameter (e.g. `ExternalId`: an AssumeRole
    /// without an External ID, to emulate a trust policy that requires one).
    pub missing_param: Option<String>,
    pub fault: Fault,
    /// Fraction of matching requests affected (deterministic pseudo-random), 1.0 = all.
    pub rate: f64,
    /// Stop after this many injections.
    pub limit: Option<u64>,
    /// Skip this many matching requests before injecting.
    pub after: u64,
}

impl Rule {
    pub fn new(fault: Fault) -> Rule {
        Rule {
            service: None,
            operation: None,
            account: None,
            missing_param: None,
            fault,
            rate: 1.0,
            limit: None,
            after: 0,
        }
    }
    pub fn service(mut self, s: &str) -> Rule {
        self.service = Some(s.to_string());
        self
    }
    pub fn operation(mut self, s: &str) -> Rule {
        self.operation = Some(s.to_string());
        self
    }
    pub fn account(mut self, s: &str) -> Rule {
        self.account = Some(s.to_string());
        self
    }
    pub fn missing_param(mut self, name: &str) -> Rule {
        self.missing_param = Some(name.to_string());
        self
    }
    pub fn rate(mut self, r: f64) -> Rule {
        self.rate = r;
        self
    }
    pub fn limit(mut self, n: u64) -> Rule {
        self.limit = Some(n);
        self
    }
    pub fn after(mut self, n: u64) -> Rule {
        self.after = n;
        self
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub service: String,
    pub operation: String,
    pub account: Option<String>,
    /// Form or JSON parameters of interest (RoleArn, ExternalId, RoleSessionName, MaxResults,
    /// ...; JSON numbers as their text).
    pub params: HashMap<String, String>,
    pub status: u16,
    pub injected: Option<String>,
    /// When the request arrived and when its answer left (benchmarks draw phase spans).
    pub arrived_at: Option<std::time::Instant>,
    pub answered_at: Option<std::time::Instant>,
}

#[derive(Default)]
struct State {
    rules: Vec<(Rule, u64, u64)>, // rule, matched, injected
    seen: Vec<Seen>,
    /// Requests by `service:operation` as they arrive (before any delay or answer).
    arrived: HashMap<String, u64>,
    key_accounts: HashMap<String, String>,
    rng: u64,
    /// AWS-like token buckets, when on.
    aws: Option<Buckets>,
}

/// A running proxy. Dropping it stops it.
pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`).
    pub fn start(upstream: &str) -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let state = Arc::new(Mutex::new(State {
            rng: 0x9E37_79B9_7F4A_7C15,
            ..Default::default()
        }));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let upstream = upstream.trim_end_matches('/').to_string();
        let st = Arc::clone(&state);
        runtime.spawn(async move {
            let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = Arc::clone(&st);
                let client = client.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(req, Arc::clone(&st), client.clone(), upstream.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FaultProxy {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push((rule, 0, 0));
    }

    /// Declares that requests signed with `access_key` act on `account` (for the base
    /// credentials, which no AssumeRole issued).
    pub fn map_key(&self, access_key: &str, account: &str) {
        self.state
            .lock()
            .unwrap()
            .key_accounts
            .insert(access_key.to_string(), account.to_string());
    }

    /// Throttles like AWS from now on: a token bucket per (account, API family) with `limits`'
    /// rates; a request that finds its bucket empty gets the family's throttling error (after
    /// any latency rule's delay). Replaces the buckets of an earlier call (full again).
    pub fn aws_limits(&self, limits: AwsLimits) {
        self.state.lock().unwrap().aws = Some(Buckets::new(limits));
    }

    /// Turns AWS-like throttling off.
    pub fn no_aws_limits(&self) {
        self.state.lock().unwrap().aws = None;
    }

    /// Requests refused by the AWS-like buckets since they were set, by family.
    pub fn aws_throttled(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let st = self.state.lock().unwrap();
        st.aws.as_ref().map(Buckets::throttled).unwrap_or_default()
    }

    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn clear_seen(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// How many faults each rule injected, in rule order.
    pub fn injected(&self) -> Vec<u64> {
        self.state
            .lock()
            .unwrap()
            .rules
            .iter()
            .map(|(_, _, n)| *n)
            .collect()
    }

    /// Requests of `service:operation` that have arrived, answered or not (a delayed request
    /// counts while it is still in flight).
    pub fn arrived(&self, service: &str, operation: &str) -> u64 {
        let st = self.state.lock().unwrap();
        st.arrived
            .get(&format!("{service}:{operation}"))
            .copied()
            .unwrap_or(0)
    }

    /// Requests of `service:operation`.
    pub fn count(&self, service: &str, operation: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.service == service && s.operation == operation)
            .count()
    }

    /// `AssumeRole` requests into `account` (hops, including refreshed ones).
    pub fn hops_into(&self, account: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation == "AssumeRole" && s.account.as_deref() == Some(account))
            .count()
    }
}

impl Seen {
    fn answered(mut self) -> Seen {
        self.answered_at = Some(std::time::Instant::now());
        self
    }
}

fn form_params(body: &[u8]) -> HashMap<String, String> {
    url_decode_pairs(&String::from_utf8_lossy(body))
}

fn url_decode_pairs(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn classify(
    req: &hyper::http::request::Parts,
    body: &[u8],
) -> (String, String, Option<String>, HashMap<String, String>) {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // Credential=AKID/date/region/service/aws4_request
    let cred = between(&auth, "Credential=", ",")
        .unwrap_or_default()
        .to_string();
    let mut parts = cred.split('/');
    let access_key = parts.next().unwrap_or_default().to_string();
    let service = parts.nth(2).unwrap_or_default().to_string();
    let access_key = (!access_key.is_empty()).then_some(access_key);
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        let params: HashMap<String, String> = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|m| {
                m.into_iter()
                    .filter_map(|(k, v)| {
                        let text = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some((k, text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        return (service, op, access_key, params);
    }
    let mut params = form_params(body);
    if let Some(q) = req.uri.query() {
        params.extend(url_decode_pairs(q));
    }
    let op = params.get("Action").cloned().unwrap_or_default();
    (service, op, access_key, params)
}

fn json_service(service: &str) -> bool {
    matches!(service, "organizations" | "sso" | "identitystore")
}

fn fault_response(service: &str, fault: &Fault) -> Option<Response<Full<Bytes>>> {
    let (status, code, msg) = match fault {
        Fault::Throttle => (
            400,
            match service {
                "organizations" => "TooManyRequestsException",
                "sso" | "identitystore" => "ThrottlingException",
                _ => "Throttling",
            },
            "Rate exceeded",
        ),
        Fault::ServerError => (
            500,
            if json_service(service) {
                "InternalServerException"
            } else {
                "ServiceFailure"
            },
            "injected server error",
        ),
        Fault::AccessDenied => (
            if json_service(service) { 400 } else { 403 },
            if json_service(service) {
                "AccessDeniedException"
            } else {
                "AccessDenied"
            },
            "User is not authorized to perform this action (injected)",
        ),
        Fault::ExpiredToken => (
            if json_service(service) { 400 } else { 403 },
            if json_service(service) {
                "ExpiredTokenException"
            } else {
                "ExpiredToken"
            },
            "The security token included in the request is expired",
        ),
        Fault::NotImplemented => {
            // moto 5.2.5 behind Werkzeug 3.1, byte for byte (docs/moto-notes.md §0).
            return Response::builder()
                .status(500)
                .header("server", "Werkzeug/3.1.9 Python/3.11.7")
                .header("content-type", "text/html; charset=utf-8")
                .body(Full::new(Bytes::from_static(
                    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n",
                )))
                .ok();
        }
        Fault::HtmlServerError => {
            return Response::builder()
                .status(500)
                .header("server", "nginx")
                .header("content-type", "text/html")
                .body(Full::new(Bytes::from_static(
                    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                )))
                .ok();
        }
        Fault::Drop | Fault::Latency(_) => return None,
    };
    let resp = if json_service(service) {
        Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-errortype", code)
            .body(Full::new(Bytes::from(format!(
                r#"{{"__type":"{code}","message":"{msg}"}}"#
            ))))
    } else {
        Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{msg}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
            ))))
    };
    resp.ok()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (service, operation, access_key, params) = classify(&parts, &body);
    *state
        .lock()
        .unwrap()
        .arrived
        .entry(format!("{service}:{operation}"))
        .or_default() += 1;
    let arrived_at = Some(std::time::Instant::now());
    let mut seen = Seen {
        arrived_at,
        service: service.clone(),
        operation: operation.clone(),
        params: params
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "RoleArn"
                        | "ExternalId"
                        | "RoleSessionName"
                        | "UserName"
                        | "GroupName"
                        | "PolicyArn"
                        | "AccountId"
                        | "PermissionSetArn"
                        | "MaxResults"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Default::default()
    };
    // Which account the request acts on.
    let account = {
        let st = state.lock().unwrap();
        if operation == "AssumeRole" {
            params
                .get("RoleArn")
                .and_then(|a| a.split(':').nth(4))
                .map(str::to_string)
        } else {
            access_key
                .as_ref()
                .and_then(|k| st.key_accounts.get(k).cloned())
        }
    };
    seen.account = account.clone();
    // Whose buckets the request draws from: the account of the signing key (for AssumeRole the
    // caller's, not the role's).
    let caller = {
        let st = state.lock().unwrap();
        access_key
            .as_ref()
            .and_then(|k| st.key_accounts.get(k).cloned())
    };

    // Pick a fault.
    let fault = {
        let mut st = state.lock().unwrap();
        let mut chosen = None;
        let mut rng = st.rng;
        for (rule, matched, injected) in st.rules.iter_mut() {
            let ok = rule.service.as_deref().is_none_or(|s| s == service)
                && rule.operation.as_deref().is_none_or(|o| o == operation)
                && rule
                    .account
                    .as_deref()
                    .is_none_or(|a| Some(a) == account.as_deref())
                && rule
                    .missing_param
                    .as_deref()
                    .is_none_or(|p| !params.contains_key(p));
            if !ok {
                continue;
            }
            *matched += 1;
            if *matched <= rule.after || rule.limit.is_some_and(|l| *injected >= l) {
                continue;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let roll = (rng % 10_000) as f64 / 10_000.0;
            if roll < rule.rate {
                *injected += 1;
                chosen = Some(rule.fault.clone());
                break;
            }
        }
        st.rng = rng;
        chosen
    };

    if let Some(f) = &fault {
        seen.injected = Some(format!("{f:?}"));
        match f {
            Fault::Latency(d) => tokio::time::sleep(*d).await,
            Fault::Drop => {
                state.lock().unwrap().seen.push(seen.answered());
                // Answering with an aborted body makes hyper close the connection mid-response.
                return Ok(Response::builder()
                    .status(200)
                    .header("content-length", "1000")
                    .body(Full::new(Bytes::from_static(b"partial")))
                    .unwrap());
            }
            other => {
                if let Some(resp) = fault_response(&service, other) {
                    seen.status = resp.status().as_u16();
                    state.lock().unwrap().seen.push(seen.answered());
                    return Ok(resp);
                }
            }
        }
    }

    // AWS-like throttling: only when the request's bucket is empty.
    let refused = {
        let mut st = state.lock().unwrap();
        st.aws
            .as_mut()
            .is_some_and(|b| !b.admit(&service, caller.as_deref(), std::time::Instant::now()))
    };
    if refused && let Some(resp) = fault_response(&service, &Fault::Throttle) {
        seen.injected = Some("AwsThrottle".into());
        seen.status = resp.status().as_u16();
        state.lock().unwrap().seen.push(seen.answered());
        return Ok(resp);
    }

    // Forward to moto.
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut fwd = Request::builder().method(parts.method.clone()).uri(uri);
    for (k, v) in parts.headers.iter() {
        fwd = fwd.header(k, v);
    }
    let resp = match client.request(fwd.body(Full::new(body)).unwrap()).await {
        Ok(r) => r,
        Err(e) => {
            seen.status = 502;
            state.lock().unwrap().seen.push(seen.answered());
            return Ok(Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::from(format!(
                    "proxy: upstream failed: {e}"
                ))))
                .unwrap());
        }
    };
    let (rparts, rbody) = resp.into_parts();
    let rbytes = rbody
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.status = rparts.status.as_u16();
    {
        let mut st = state.lock().unwrap();
        if operation == "AssumeRole" && rparts.status.is_success() {
            let text = String::from_utf8_lossy(&rbytes);
            if let (Some(key), Some(acct)) = (
                between(&text, "<AccessKeyId>", "</AccessKeyId>"),
                account.clone(),
            ) {
                st.key_accounts.insert(key.to_string(), acct);
            }
        }
        st.seen.push(seen.answered());
    }
    let mut out = Response::builder().status(rparts.status);
    for (k, v) in rparts.headers.iter() {
        if k != "content-length" && k != "transfer-encoding" {
            out = out.header(k, v);
        }
    }
    Ok(out.body(Full::new(rbytes)).unwrap())
}
