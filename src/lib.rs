//! orgsync: answers "who can access what" across an AWS Organization. Collectors read AWS
//! (IAM, Organizations, Identity Center) and produce records; sinks write them to a
//! baton-compatible c1z file and/or JSON lines; the provisioner changes access.

pub mod access;
pub mod arn;
pub mod aws;
pub mod cli;
pub mod connector;
pub mod diff;
pub mod doctor;
pub mod expand;
pub mod ident;
pub mod model;
pub mod permissions;
pub mod policy;
pub mod provision;
pub mod provisioner;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod sync;
