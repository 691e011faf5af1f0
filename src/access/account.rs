//! Which AWS account a record belongs to, read from its ids alone: ARNs carry the account in
//! their fifth field, `account` / `account_iam` resources are the account id, bindings end in
//! `-<account>`, inline policies belong to their parent's account. Used by `access` (the
//! account a path lands in) and `diff` (`--account`). Not here: anything that needs a record's
//! body (access keys carry their owner only in the profile; `diff` looks there itself).

use crate::model::types as rt;

/// True for a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account field of an ARN (`arn:<partition>:<service>:<region>:<account>:…`), when it is
/// an account id (AWS-managed policies say `aws`, identity-store ARNs leave it empty).
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let account = parts.nth(3)?;
    parts.next()?;
    is_account_id(account).then_some(account)
}

/// The account a resource of `resource_type` with id `id` belongs to, when its id says so.
pub fn account_of(resource_type: &str, id: &str) -> Option<String> {
    match resource_type {
        rt::ACCOUNT | rt::ACCOUNT_IAM => is_account_id(id).then(|| id.to_string()),
        rt::PERMISSION_SET_ASSIGNMENT => id
            .rsplit_once('-')
            .map(|(_, a)| a)
            .filter(|a| is_account_id(a))
            .map(str::to_string),
        rt::INLINE_POLICY => id
            .split_once("::inline::")
            .and_then(|(parent, _)| arn_account(parent))
            .map(str::to_string),
        _ => arn_account(id).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_arns_account_ids_and_binding_suffixes() {
        let cases = [
            (
                "iam_user",
                "arn:aws:iam::111122223333:user/a/b",
                Some("111122223333"),
            ),
            (
                "role",
                "arn:aws-us-gov:iam::444455556666:role/x",
                Some("444455556666"),
            ),
            (
                "iam_policy",
                "arn:aws:iam::aws:policy/AdministratorAccess",
                None,
            ),
            (
                "inline_policy",
                "arn:aws:iam::111122223333:role/r::inline::p",
                Some("111122223333"),
            ),
            (
                "inline_policy",
                "arn:aws:sso:::permissionSet/ssoins-1/ps-2::inline::inline",
                None,
            ),
            ("account", "111122223333", Some("111122223333")),
            ("account_iam", "12345", None),
            (
                "permission_set_assignment",
                "arn:aws:sso:::permissionSet/ssoins-1/ps-2-111122223333",
                Some("111122223333"),
            ),
            (
                "sso_user",
                "arn:aws:identitystore:us-east-1::d-1/user/u",
                None,
            ),
            ("access-key", "AKIA0000", None),
            ("iam_user", "arn:aws:iam::11112222333:user/short", None),
        ];
        for (t, id, want) in cases {
            assert_eq!(account_of(t, id).as_deref(), want, "{t} {id}");
        }
    }
}
