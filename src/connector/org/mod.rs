//! AWS Organizations: the organization, its roots, the OU tree and its accounts, read once per
//! run from the management (or delegated-administrator) account (`read`), held as plain data
//! (`model`), and mapped to `organization`, `organizational_unit` and `account` records
//! (`records`). Its service control policies are a domain of their own (`connector::scp`).
//!
//! Not here: which accounts a sync enters and how it hops into them (`sync::plan`,
//! `aws::member_roles`).

pub mod account;
mod model;
mod read;
mod records;

pub use model::{NoOrganization, Node, OrgAccount, OrgKnowledge, OrgSnapshot, Organization};

use crate::model::types as rt;

/// The organization resource types.
pub(crate) const RESOURCE_TYPES: [&str; 3] =
    [rt::ORGANIZATION, rt::ORGANIZATIONAL_UNIT, rt::ACCOUNT];
pub use read::{Discovered, describe, discover, organization, walk};
pub use records::{account_resource, structure_records};
