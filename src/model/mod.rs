//! The record model: protobuf types generated from proto/, Any and Struct helpers, the
//! resource-type table, ID builders/parsers and the `Record` that flows to sinks.

pub mod any;
pub mod build;
pub mod capabilities;
pub mod ids;
pub mod json;
pub mod pb;
pub mod profile;
pub mod record;
pub mod stats;
pub mod types;
pub(crate) mod wire;

pub use record::{Kind, Record};

#[cfg(test)]
mod wire_tests;
