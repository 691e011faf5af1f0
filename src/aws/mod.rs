//! Everything that talks to AWS at the transport level: sessions and hops, per-account clients,
//! rate limits, call metrics and error classification. Collectors build on it; sinks never see it.

pub mod call;
pub mod errors;
pub mod limits;
pub mod member_roles;
pub mod metrics;
pub mod session;

pub use errors::{AwsError, ErrorClass};
pub use limits::Limiter;
pub use metrics::CallMetrics;
pub use session::{Scope, Session, Settings};
