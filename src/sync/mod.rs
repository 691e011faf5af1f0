//! Collectors: read AWS and turn what they read into records. Each concept has a reader (AWS
//! calls only) and a pure mapping to records; the engine runs them and hands records to sinks.

pub mod account_config;
pub mod engine;
pub mod iam;
pub mod iam_model;
pub mod iam_records;
pub mod ic_model;
pub mod ic_records;
pub mod ic_strategy;
pub mod identity_center;
pub mod org;
pub mod plan;
