//! One folder per AWS domain: what orgsync reads there (`read`), the plain model of what was
//! read (`model`), the pure mapping of that model to records (`records`), and the write side
//! used by provisioning. Organizations (`org`), their service control policies (`scp`), IAM per
//! account (`iam`), IAM Identity Center (`identity_center`); and the collector interface
//! through which the sync runs them (`collector`). Nothing here imports the sync.

pub mod collector;
pub mod iam;
pub mod identity_center;
pub mod org;
pub mod scp;
