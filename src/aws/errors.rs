//! One error type for every AWS call, classified into what a user acts on: denied, throttled,
//! timed out, not found, expired credentials, transient, not implemented by the endpoint.
//! Classes come from AWS's own error codes; an answer without a code is classified by its HTTP
//! status (every 5xx is transient, and retried by the SDK with back-off). Messages carry AWS's
//! code and text (never credentials). Also every allowance made for an emulator's answers (its
//! exact "not implemented" page, error bodies the SDK cannot read), with why each is safe
//! against AWS.
//!
//! Not here: making calls (`aws::call`), building clients (`aws::session`).

use std::fmt;

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use std::future::Future;

use super::op::{Op, observed};

/// What kind of failure an AWS error is. The snake_case names are recorded in outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// `sts:AssumeRole` into a role was refused (trust policy, External ID, missing role).
    AssumeRoleDenied,
    /// The credentials may not call this operation.
    AccessDenied,
    /// Throttled beyond the retry budget.
    Throttled,
    /// No answer in time.
    Timeout,
    /// The entity does not exist.
    NotFound,
    /// The session token expired.
    ExpiredToken,
    /// The credentials are not valid at all.
    InvalidCredentials,
    /// The caller's account is not in an organization.
    NotInOrganization,
    /// Network failure or a 5xx answer.
    Transient,
    /// The request was rejected as invalid (or a conflict).
    InvalidRequest,
    /// The endpoint does not implement the operation: AWS's own codes for that, HTTP 501, or
    /// the emulator's exact "not implemented" page (see below); never retried.
    NotImplemented,
    /// Anything else.
    Other,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::AssumeRoleDenied => "assume_role_denied",
            ErrorClass::AccessDenied => "access_denied",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Timeout => "timeout",
            ErrorClass::NotFound => "not_found",
            ErrorClass::ExpiredToken => "expired_token",
            ErrorClass::InvalidCredentials => "invalid_credentials",
            ErrorClass::NotInOrganization => "not_in_organization",
            ErrorClass::Transient => "transient",
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::NotImplemented => "not_implemented",
            ErrorClass::Other => "other",
        }
    }

    /// Classifies an AWS error code for `operation` (e.g. `AssumeRole`).
    pub fn from_code(code: &str, operation: &str) -> ErrorClass {
        match code {
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "AuthFailure" => {
                if operation == "AssumeRole" {
                    ErrorClass::AssumeRoleDenied
                } else {
                    ErrorClass::AccessDenied
                }
            }
            "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "SlowDown" => ErrorClass::Throttled,
            "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => ErrorClass::ExpiredToken,
            "NoSuchEntity"
            | "NoSuchEntityException"
            | "ResourceNotFoundException"
            | "AccountNotFoundException"
            | "ParentNotFoundException" => ErrorClass::NotFound,
            "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "IncompleteSignature" => ErrorClass::InvalidCredentials,
            "AWSOrganizationsNotInUseException" => ErrorClass::NotInOrganization,
            "ServiceFailure"
            | "ServiceFailureException"
            | "InternalFailure"
            | "InternalError"
            | "InternalServerError"
            | "InternalServerException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException" => ErrorClass::Transient,
            "RequestTimeout" | "RequestTimeoutException" => ErrorClass::Timeout,
            // AWS's answers for an operation the endpoint does not have: `InvalidAction` and
            // `UnknownOperationException` (Query and JSON protocols: the action is not one of
            // the service's), `NotImplemented` (S3, EC2: HTTP 501), `UnsupportedOperation`.
            "NotImplemented"
            | "NotImplementedException"
            | "InvalidAction"
            | "UnknownOperationException"
            | "UnsupportedOperation"
            | "UnsupportedOperationException" => ErrorClass::NotImplemented,
            "ValidationException"
            | "ValidationError"
            | "InvalidInput"
            | "InvalidInputException"
            | "MalformedPolicyDocument"
            | "ConflictException"
            | "EntityAlreadyExists"
            | "LimitExceeded"
            | "LimitExceededException"
            | "DeleteConflict" => ErrorClass::InvalidRequest,
            _ if code.contains("AccessDenied") => ErrorClass::AccessDenied,
            _ if code.contains("NotFound") || code.contains("NoSuch") => ErrorClass::NotFound,
            _ => ErrorClass::Other,
        }
    }
}

impl ErrorClass {
    /// Classifies an error answer that carried no error code.
    pub fn from_status(status: u16, operation: &str) -> ErrorClass {
        match status {
            401 | 403 if operation == "AssumeRole" => ErrorClass::AssumeRoleDenied,
            401 | 403 => ErrorClass::AccessDenied,
            404 => ErrorClass::NotFound,
            429 => ErrorClass::Throttled,
            501 => ErrorClass::NotImplemented,
            500..=599 => ErrorClass::Transient,
            _ => ErrorClass::Other,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed AWS call.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
#[error("{service}:{operation} failed ({class}){}: {message}", code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default())]
pub struct AwsError {
    /// The IAM action prefix of the service (`iam`, `sso`, …).
    pub service: String,
    /// The operation's name (`GetAccountAuthorizationDetails`).
    pub operation: String,
    pub class: ErrorClass,
    /// AWS's error code, when it answered with one.
    pub code: Option<String>,
    /// AWS's message or the transport failure.
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error of the operation `op`.
    pub fn from_sdk<E>(op: &Op, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (class, code, message) = match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                // When the SDK could not read the error shape (an emulator's, see
                // `code_and_message`), take the code and message from the body itself rather
                // than dumping the whole response.
                let (body_code, body_message) = if e.code().is_none() || e.message().is_none() {
                    code_and_message(se.raw().body().bytes().unwrap_or_default())
                } else {
                    (None, None)
                };
                let code = e.code().map(str::to_string).or(body_code);
                let status = se.raw().status().as_u16();
                let class = match code.as_deref() {
                    _ if se.raw().is_not_implemented() => ErrorClass::NotImplemented,
                    Some(c) => ErrorClass::from_code(c, &op.name),
                    // An answer without a parsable code is classified by its HTTP status.
                    None => ErrorClass::from_status(status, &op.name),
                };
                let message = e
                    .message()
                    .map(str::to_string)
                    .or(body_message)
                    .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
                (class, code, message)
            }
            SdkError::TimeoutError(_) => {
                (ErrorClass::Timeout, None, "no answer in time".to_string())
            }
            SdkError::DispatchFailure(d) => {
                let class = if d.is_timeout() {
                    ErrorClass::Timeout
                } else {
                    ErrorClass::Transient
                };
                (class, None, DisplayErrorContext(&err).to_string())
            }
            SdkError::ResponseError(_) => (
                ErrorClass::Transient,
                None,
                DisplayErrorContext(&err).to_string(),
            ),
            _ => (
                ErrorClass::Other,
                None,
                DisplayErrorContext(&err).to_string(),
            ),
        };
        AwsError {
            service: op.service.clone(),
            operation: op.name.clone(),
            class,
            code,
            message,
        }
    }

    /// A list call answered a page token it had already answered: following it would loop.
    pub fn repeated_page_token(op: &Op, token: &str) -> AwsError {
        let shown: String = token.chars().take(80).collect();
        AwsError::local(
            &op.service,
            &op.name,
            ErrorClass::Other,
            format!(
                "the answer repeated the page token '{shown}' it had already given; stopping rather than looping"
            ),
        )
    }

    /// An error made up by orgsync about an AWS answer (e.g. a missing field).
    pub fn local(
        service: &str,
        operation: &str,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            service: service.to_string(),
            operation: operation.to_string(),
            class,
            code: None,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Answers only an emulator gives.
//
// The tests run against moto (docs/moto-notes.md), whose answers differ from AWS's in two ways
// that reach this code; both are handled here and nowhere else:
//
// - An operation moto does not implement (or crashes in) is answered by its web framework,
//   Werkzeug: HTTP 500, a `Server: Werkzeug/<version> …` header and Werkzeug's standard
//   "Internal Server Error" page (moto/core/responses.py raises `NotImplementedError` "The
//   <action> action has not been implemented", which Werkzeug turns into that page). Only
//   that exact answer is classified [`ErrorClass::NotImplemented`] and never retried
//   ([`NotImplementedIsFinal`], installed on every client); an optional read skips it (Identity
//   Center permission-set details) and provisioning takes it as "nothing of this kind to
//   remove". AWS never answers with Werkzeug's page. Any other HTML 500 (a proxy's, a load
//   balancer's) is an ordinary 5xx: transient, retried with back-off. [`NotImplemented`] tells
//   the emulator's answer, or AWS's own codes for it, on whichever form of the answer a caller
//   holds.
// - Some error bodies have a shape the SDK cannot read (moto's auth-mode answers,
//   `<ErrorResponse><Errors><Error>…` for every service): [`code_and_message`] takes the code
//   and message from the body itself.

/// Whether an answer says the endpoint does not implement the operation (HTTP 501, or the
/// emulator's page, see above), on the raw answer, the SDK's error, or orgsync's [`AwsError`]
/// (which also knows AWS's error codes for it).
pub trait NotImplemented {
    fn is_not_implemented(&self) -> bool;
}

impl NotImplemented for HttpResponse {
    fn is_not_implemented(&self) -> bool {
        let status = self.status().as_u16();
        status == 501 || is_werkzeug_500(status, self.headers().get("server"), self.body().bytes())
    }
}

impl<E> NotImplemented for SdkError<E, HttpResponse> {
    fn is_not_implemented(&self) -> bool {
        self.raw_response()
            .is_some_and(HttpResponse::is_not_implemented)
    }
}

impl NotImplemented for AwsError {
    fn is_not_implemented(&self) -> bool {
        self.class == ErrorClass::NotImplemented
    }
}

/// Sends one request (`fut` is the SDK's `send()` future) and turns a failure into an
/// [`AwsError`] named after the operation the SDK reported. The building block of
/// `Scope::call` (`aws::call`); use it directly only where no scope exists yet (the hops).
pub async fn send<T, E, Fut>(fut: Fut) -> Result<T, AwsError>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    send_named(fut, false).await.map(|(v, _)| v)
}

/// [`send`], also returning the operation that answered; `retry` when it repeats a throttled
/// request (`aws::call`).
pub(crate) async fn send_named<T, E, Fut>(fut: Fut, retry: bool) -> Result<(T, Op), AwsError>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match observed(fut, retry).await {
        (Ok(v), op) => Ok((v, op)),
        (Err(e), op) => Err(AwsError::from_sdk(&op, e)),
    }
}

/// The title and text of Werkzeug's standard 500 page (werkzeug/exceptions.py,
/// `InternalServerError`), which moto answers for an operation it does not implement.
const WERKZEUG_500_TITLE: &str = "<title>500 Internal Server Error</title>";
const WERKZEUG_500_TEXT: &str = "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.";

/// True for the emulator's "not implemented" answer only: HTTP 500 from a Werkzeug server with
/// Werkzeug's own 500 page as the body.
fn is_werkzeug_500(status: u16, server: Option<&str>, body: Option<&[u8]>) -> bool {
    status == 500
        && server.is_some_and(|s| s.starts_with("Werkzeug/"))
        && body.is_some_and(|b| {
            let text = String::from_utf8_lossy(&b[..b.len().min(1024)]);
            text.trim_start()
                .to_ascii_lowercase()
                .starts_with("<!doctype html")
                && text.contains(WERKZEUG_500_TITLE)
                && text.contains(WERKZEUG_500_TEXT)
        })
}

/// Forbids retrying an answer saying the endpoint does not implement the operation: retrying
/// cannot make it implemented. Installed on every client a `Scope` builds. Every other answer
/// is left to the SDK's classifiers (which retry 5xx, throttling and transport failures).
#[derive(Debug)]
pub(crate) struct NotImplementedIsFinal;

impl ClassifyRetry for NotImplementedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if r.is_not_implemented() => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "orgsync-not-implemented-is-final"
    }
}

/// The error code and message of an error body the SDK could not parse: the first
/// `<Code>`/`<Message>` elements of an XML body, or `__type`/`message` of a JSON one.
fn code_and_message(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        let v = text[start..end].trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    if text.trim_start().starts_with('<') {
        return (element("Code"), element("Message"));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let code = field("__type").map(|t| t.rsplit('#').next().unwrap_or(&t).to_string());
            (code, field("message").or_else(|| field("Message")))
        }
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert_eq!(
            ErrorClass::from_code("AccessDenied", "AssumeRole"),
            ErrorClass::AssumeRoleDenied
        );
        assert_eq!(
            ErrorClass::from_code("AccessDenied", "ListUsers"),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            ErrorClass::from_code("Throttling", "GetAccountAuthorizationDetails"),
            ErrorClass::Throttled
        );
        assert_eq!(
            ErrorClass::from_code("TooManyRequestsException", "ListAccounts"),
            ErrorClass::Throttled
        );
        assert_eq!(
            ErrorClass::from_code("ExpiredToken", "ListRoles"),
            ErrorClass::ExpiredToken
        );
        assert_eq!(
            ErrorClass::from_code("NoSuchEntity", "GetRole"),
            ErrorClass::NotFound
        );
        assert_eq!(
            ErrorClass::from_code("AWSOrganizationsNotInUseException", "DescribeOrganization"),
            ErrorClass::NotInOrganization
        );
        assert_eq!(ErrorClass::from_code("Weird", "X"), ErrorClass::Other);
        assert_eq!(ErrorClass::AssumeRoleDenied.as_str(), "assume_role_denied");
        assert_eq!(
            ErrorClass::from_status(403, "AssumeRole"),
            ErrorClass::AssumeRoleDenied
        );
        assert_eq!(
            ErrorClass::from_status(403, "ListAccounts"),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            ErrorClass::from_status(503, "ListAccounts"),
            ErrorClass::Transient
        );
    }

    /// moto 5.2.5's answer to an operation it does not implement, byte for byte.
    const MOTO_PAGE: &[u8] = b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n";

    #[test]
    fn not_implemented_is_the_emulators_exact_answer_or_awss_codes() {
        let werkzeug = Some("Werkzeug/3.1.9 Python/3.11.7");
        assert!(is_werkzeug_500(500, werkzeug, Some(MOTO_PAGE)));
        // The same page from another server, another status, or another HTML 500 (a proxy's
        // or a load balancer's) is a plain server error: transient, retried.
        assert!(!is_werkzeug_500(500, Some("nginx"), Some(MOTO_PAGE)));
        assert!(!is_werkzeug_500(500, None, Some(MOTO_PAGE)));
        assert!(!is_werkzeug_500(503, werkzeug, Some(MOTO_PAGE)));
        let nginx = b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert!(!is_werkzeug_500(500, werkzeug, Some(nginx)));
        assert!(!is_werkzeug_500(
            500,
            werkzeug,
            Some(b"<!doctype html><title>oops</title>")
        ));
        assert!(!is_werkzeug_500(
            500,
            werkzeug,
            Some(br#"{"__type":"InternalServerException","message":"x"}"#)
        ));
        assert!(!is_werkzeug_500(500, werkzeug, None));
        assert_eq!(ErrorClass::from_status(500, "X"), ErrorClass::Transient);
        assert_eq!(ErrorClass::from_status(502, "X"), ErrorClass::Transient);
        assert_eq!(
            ErrorClass::from_status(501, "X"),
            ErrorClass::NotImplemented
        );
        for code in [
            "NotImplemented",
            "InvalidAction",
            "UnknownOperationException",
            "UnsupportedOperation",
        ] {
            assert_eq!(
                ErrorClass::from_code(code, "X"),
                ErrorClass::NotImplemented,
                "{code}"
            );
        }
        assert_eq!(
            ErrorClass::from_code("InternalError", "X"),
            ErrorClass::Transient
        );
        assert_eq!(ErrorClass::NotImplemented.as_str(), "not_implemented");
    }

    #[test]
    fn reads_code_and_message_from_bodies_the_sdk_could_not_parse() {
        let moto_auth = b"<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/u is not authorized to perform: iam:AddUserToGroup</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
        assert_eq!(
            code_and_message(moto_auth),
            (
                Some("AccessDenied".into()),
                Some(
                    "User: arn:aws:iam::1:user/u is not authorized to perform: iam:AddUserToGroup"
                        .into()
                )
            )
        );
        assert_eq!(
            code_and_message(br#"{"__type": "com.amazon#ConflictException", "message": "dup"}"#),
            (Some("ConflictException".into()), Some("dup".into()))
        );
        assert_eq!(
            code_and_message(b"<!doctype html><title>500</title>"),
            (None, None)
        );
        assert_eq!(code_and_message(b""), (None, None));
    }
}
