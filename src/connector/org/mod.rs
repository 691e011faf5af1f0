//! AWS Organizations: the organization, its roots, the OU tree and its accounts, read once per
//! run from the management (or delegated-administrator) account (`read`), held as plain data
//! (`model`), and mapped to `organization`, `organizational_unit` and `account` records
//! (`records`).
//!
//! Not here: which accounts a sync enters and how it hops into them (`sync::plan`,
//! `aws::member_roles`).

pub mod account;
mod model;
mod read;
mod records;

pub use model::{NoOrganization, Node, OrgAccount, OrgSnapshot, Organization};
pub use read::{Discovered, describe, discover, walk};
pub use records::{account_resource, structure_records};
