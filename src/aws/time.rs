//! The SDK's timestamps as `chrono` times, for every domain's model.
//!
//! Not here: parsing timestamps out of text (the credential report does its own).

use chrono::{DateTime, Utc};

/// An SDK timestamp as UTC (`None` when out of chrono's range).
pub fn utc(d: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(d.secs(), d.subsec_nanos())
}
