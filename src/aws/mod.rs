//! Everything that talks to AWS at the transport level: sessions and hops, per-account clients,
//! the one call wrapper and paginator, rate limits, call metrics, error classification and
//! SDK timestamps. Collectors build on it; sinks never see it.

pub mod call;
pub mod errors;
pub mod http;
pub mod limits;
pub mod member_roles;
pub mod metrics;
pub mod op;
pub mod session;
pub mod time;

pub use errors::{AwsError, ErrorClass};
pub use limits::Limiter;
pub use metrics::CallMetrics;
pub use session::{Scope, Session, Settings};
