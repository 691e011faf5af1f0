//! One organization account as `organizations:DescribeAccount` answers it ([`AccountFacts`]):
//! the request provisioning sends ([`describe_account`]), whether the account is ACTIVE
//! (provisioning changes Identity Center access only in active accounts), its name (the
//! `aws_account_name` of the IAM user records provisioning prints), and the `account` resource
//! an account grant embeds ([`account_resource`]).
//! Not here: the accounts of a sync (read per OU node, with the outcome of their sync, in the
//! parent module).

use aws_sdk_organizations::operation::describe_account::{
    DescribeAccountInput, builders::DescribeAccountInputBuilder,
};
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
use serde_json::json;

use crate::model::any::{child_type, pack, v1_identifier};
use crate::model::build::{resource, rid};
use crate::model::pb;
use crate::model::profile::to_struct;
use crate::model::types as rt;
use crate::provision::operations::Req;

/// `organizations:DescribeAccount` of `account` (a 12-digit id, or a plan's placeholder).
pub(crate) fn describe_account(account: &str) -> Req<DescribeAccountInputBuilder> {
    Req::new(|p| DescribeAccountInput::builder().account_id(p.put("AccountId", account)))
}

/// What organizations:DescribeAccount answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFacts {
    pub id: String,
    pub name: String,
    pub arn: String,
    /// `Status` as AWS spells it (`ACTIVE`, `SUSPENDED`, …), else `State`; empty when the answer
    /// has neither.
    pub status: String,
    pub active: bool,
}

impl AccountFacts {
    /// The facts of account `id` in a DescribeAccount answer. The older `Status` field wins
    /// over `State` when both are present.
    pub fn of(id: &str, a: &Account) -> AccountFacts {
        let (status, active) = match (a.status(), a.state()) {
            (Some(s), _) => (s.as_str().to_string(), *s == AccountStatus::Active),
            (None, Some(s)) => (s.as_str().to_string(), *s == AccountState::Active),
            (None, None) => (String::new(), false),
        };
        AccountFacts {
            id: id.to_string(),
            name: a.name().unwrap_or(id).to_string(),
            arn: a.arn().unwrap_or_default().to_string(),
            status,
            active,
        }
    }
}

/// The `account` resource embedded in an account grant. A sync's `account` resource also
/// carries its parent OU and the outcome of that account's sync, which provisioning does not
/// know (and does not spend calls on): the grant's id, entitlement and principal are the sync's.
pub fn account_resource(a: &AccountFacts) -> pb::Resource {
    resource(
        rid(rt::ACCOUNT, &a.id),
        &a.name,
        None,
        vec![
            v1_identifier(&a.id),
            child_type(rt::PERMISSION_SET_ASSIGNMENT),
            pack(&pb::AppTrait::default()),
        ],
        Some(to_struct(&json!({
            "aws_account_arn": a.arn,
            "aws_account_id": a.id,
            "aws_account_status": a.status,
        }))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_wins_over_state_and_only_active_is_active() {
        let id = "111122223333";
        let a = Account::builder()
            .id(id)
            .status(AccountStatus::Suspended)
            .state(AccountState::Active)
            .build();
        let f = AccountFacts::of(id, &a);
        assert_eq!((f.status.as_str(), f.active), ("SUSPENDED", false));
        assert_eq!(f.name, id, "no name: the id");
        let b = Account::builder()
            .id(id)
            .name("prod")
            .state(AccountState::Active)
            .build();
        let f = AccountFacts::of(id, &b);
        assert_eq!(
            (f.status.as_str(), f.active, f.name.as_str()),
            ("ACTIVE", true, "prod")
        );
        let none = AccountFacts::of(id, &Account::builder().id(id).build());
        assert_eq!((none.status.as_str(), none.active), ("", false));
        let r = account_resource(&f);
        assert_eq!(r.id.unwrap().resource, id);
    }
}
