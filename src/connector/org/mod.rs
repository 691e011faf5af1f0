//! AWS Organizations: the organization, its roots, the OU tree and its accounts, read once per
//! run from the management (or delegated-administrator) account (`read`), held as plain data
//! (`model`), and mapped to `organization`, `organizational_unit` and `account` records
//! (`records`). Its service control policies are in `scp`.
//!
//! Not here: which accounts a sync enters and how it hops into them (`sync::plan`,
//! `aws::member_roles`).

mod model;
mod read;
mod records;
pub mod scp;

pub use model::{NoOrganization, Node, OrgAccount, OrgSnapshot, Organization};
pub use read::{Discovered, discover};
pub use records::{account_resource, structure_records};
