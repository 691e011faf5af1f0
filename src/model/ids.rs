//! Entitlement, grant and resource IDs exactly as baton-aws writes them
//! (shared/spec/resource-model.md, c1z-v1.md §5), and their parsing back into typed references
//! for provisioning. Builders are the only place these strings are formatted.

use crate::arn::{AccountId, Arn, IdError};
use crate::ident::{self, shown};

use super::types as rt;

/// `<resource_type>:<resource>:<slug>` (baton-sdk `NewEntitlementID`).
pub fn entitlement_id(resource_type: &str, resource: &str, slug: &str) -> String {
    format!("{resource_type}:{resource}:{slug}")
}

/// `<entitlement_id>:<principal_type>:<principal>` (baton-sdk `NewGrantID`).
pub fn grant_id(entitlement_id: &str, principal_type: &str, principal: &str) -> String {
    format!("{entitlement_id}:{principal_type}:{principal}")
}

/// Account ↔ permission-set entitlement: `<accountId>|<permissionSetArn>`.
pub fn account_permission_set_entitlement(account: &str, permission_set_arn: &str) -> String {
    format!("{account}|{permission_set_arn}")
}

/// baton-aws's custom grant id: `grant:<principal_type>:<principal>:<entitlement_id>`.
pub fn prefixed_grant_id(principal_type: &str, principal: &str, entitlement_id: &str) -> String {
    format!("grant:{principal_type}:{principal}:{entitlement_id}")
}

/// Permission-set binding resource id: `<permissionSetArn>-<accountId>`.
pub fn binding_id(permission_set_arn: &str, account: &str) -> String {
    format!("{permission_set_arn}-{account}")
}

/// Inline policy resource id: `<parentArn>::inline::<policyName>`.
pub fn inline_policy_id(parent_arn: &str, name: &str) -> String {
    format!("{parent_arn}::inline::{name}")
}

/// The partition a region belongs to (`us-gov-west-1` → `aws-us-gov`, `cn-north-1` →
/// `aws-cn`, …; any other region → `aws`): the partition of the ARNs of resources there.
pub fn partition_of_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| region.starts_with(p))
        .map_or("aws", |(_, partition)| partition)
}

/// Synthetic identity-store user ARN:
/// `arn:<partition>:identitystore:<region>::<storeId>/user/<userId>`, the partition being the
/// region's.
pub fn sso_user_arn(region: &str, identity_store_id: &str, user_id: &str) -> String {
    let partition = partition_of_region(region);
    format!("arn:{partition}:identitystore:{region}::{identity_store_id}/user/{user_id}")
}

/// Synthetic identity-store group ARN (the partition being the region's).
pub fn sso_group_arn(region: &str, identity_store_id: &str, group_id: &str) -> String {
    let partition = partition_of_region(region);
    format!("arn:{partition}:identitystore:{region}::{identity_store_id}/group/{group_id}")
}

/// Legacy V1 entitlement identifier `membership:<arn>`.
pub fn v1_membership(arn: &str) -> String {
    format!("membership:{arn}")
}

/// Legacy V1 grant identifier for memberships `grant:membership:<groupArn>:<userArn>`.
pub fn v1_membership_grant(group_arn: &str, user_arn: &str) -> String {
    format!("grant:membership:{group_arn}:{user_arn}")
}

/// A synthetic identity-store ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityStoreRef {
    pub region: String,
    pub identity_store_id: String,
    /// `user` or `group`.
    pub kind: String,
    pub id: String,
}

impl IdentityStoreRef {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::ArnKind {
            value: shown(s),
            expected: "identity-store user or group",
        };
        let arn: Arn = s.parse().map_err(|_| bad())?;
        if arn.service != "identitystore" {
            return Err(bad());
        }
        let mut parts = arn.resource.splitn(3, '/');
        let (Some(store), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if store.is_empty() || id.is_empty() || !(kind == "user" || kind == "group") {
            return Err(bad());
        }
        Ok(IdentityStoreRef {
            region: arn.region,
            identity_store_id: store.to_string(),
            kind: kind.to_string(),
            id: id.to_string(),
        })
    }
}

/// A permission-set ARN, in either the AWS shape `arn:aws:sso:::permissionSet/ssoins-…/ps-…`
/// or moto's `arn:aws:sso:::instance/ssoins-…/ps-…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSetRef {
    pub arn: String,
    pub instance_id: String,
    pub permission_set_id: String,
}

impl PermissionSetRef {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::ArnKind {
            value: shown(s),
            expected: "permission set",
        };
        let arn: Arn = s.parse().map_err(|_| bad())?;
        if arn.service != "sso" {
            return Err(bad());
        }
        let mut parts = arn.resource.split('/');
        let (Some(kind), Some(ins), Some(ps), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !(kind == "permissionSet" || kind == "instance")
            || !ins.starts_with("ssoins-")
            || !ps.starts_with("ps-")
        {
            return Err(bad());
        }
        Ok(PermissionSetRef {
            arn: s.to_string(),
            instance_id: ins.to_string(),
            permission_set_id: ps.to_string(),
        })
    }
}

/// An entitlement ID taken apart into what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntitlementRef {
    /// `group:<groupArn>:member`
    GroupMember { group: Arn },
    /// `role:<roleArn>:assignment`
    RoleAssignment { role: Arn },
    /// `iam_policy:<policyArn>:attached`
    PolicyAttached { policy: Arn },
    /// `inline_policy:<parentArn>::inline::<name>:attached` (or a permission set's inline policy)
    InlineAttached { parent: String, name: String },
    /// `sso_group:<groupArn>:member`
    SsoGroupMember {
        group: IdentityStoreRef,
        arn: String,
    },
    /// `<accountId>|<permissionSetArn>`
    AccountPermissionSet {
        account: AccountId,
        permission_set: PermissionSetRef,
    },
    /// `permission_set_assignment:<psArn>-<accountId>:assigned`
    BindingAssigned {
        account: AccountId,
        permission_set: PermissionSetRef,
    },
}

/// Why an entitlement or grant ID could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    #[error("'{value}' is not an orgsync entitlement id: {why}")]
    Entitlement { value: String, why: String },
    #[error("'{value}' is not an orgsync grant id: {why}")]
    Grant { value: String, why: String },
}

fn ent_err(value: &str, why: impl Into<String>) -> ParseIdError {
    ParseIdError::Entitlement {
        value: shown(value),
        why: why.into(),
    }
}

impl EntitlementRef {
    pub fn parse(s: &str) -> Result<Self, ParseIdError> {
        if let Some((acct, ps)) = s.split_once('|') {
            let account: AccountId = acct
                .parse()
                .map_err(|e: IdError| ent_err(s, e.to_string()))?;
            let permission_set =
                PermissionSetRef::parse(ps).map_err(|e| ent_err(s, e.to_string()))?;
            return Ok(EntitlementRef::AccountPermissionSet {
                account,
                permission_set,
            });
        }
        let (ty, rest) = s
            .split_once(':')
            .ok_or_else(|| ent_err(s, "expected <resource type>:<resource>:<slug>"))?;
        let (resource, slug) = rest
            .rsplit_once(':')
            .ok_or_else(|| ent_err(s, "expected <resource type>:<resource>:<slug>"))?;
        let want = |expected: &str| -> Result<(), ParseIdError> {
            if slug == expected {
                Ok(())
            } else {
                Err(ent_err(
                    s,
                    format!("a {ty} entitlement ends in ':{expected}', not ':{slug}'"),
                ))
            }
        };
        let e = |err: IdError| ent_err(s, err.to_string());
        match ty {
            rt::GROUP => {
                want("member")?;
                Ok(EntitlementRef::GroupMember {
                    group: Arn::parse_iam(resource, "group", "IAM group").map_err(e)?,
                })
            }
            rt::ROLE => {
                want("assignment")?;
                Ok(EntitlementRef::RoleAssignment {
                    role: Arn::parse_iam(resource, "role", "IAM role").map_err(e)?,
                })
            }
            rt::IAM_POLICY => {
                want("attached")?;
                Ok(EntitlementRef::PolicyAttached {
                    policy: Arn::parse_iam(resource, "policy", "IAM policy").map_err(e)?,
                })
            }
            rt::INLINE_POLICY => {
                want("attached")?;
                let (parent, name) = resource.split_once("::inline::").ok_or_else(|| {
                    ent_err(s, "inline policy ids look like <parentArn>::inline::<name>")
                })?;
                let _: Arn = parent.parse().map_err(e)?;
                // IAM API reference, PutUserPolicy `PolicyName`: 1-128 of `[\w+=,.@-]`.
                ident::iam_name(name, "an inline policy name", 128)
                    .map_err(|e| ent_err(s, e.to_string()))?;
                Ok(EntitlementRef::InlineAttached {
                    parent: parent.to_string(),
                    name: name.to_string(),
                })
            }
            rt::SSO_GROUP => {
                want("member")?;
                let group = IdentityStoreRef::parse(resource).map_err(e)?;
                if group.kind != "group" {
                    return Err(ent_err(
                        s,
                        "an sso_group entitlement needs an identity-store group ARN",
                    ));
                }
                Ok(EntitlementRef::SsoGroupMember {
                    group,
                    arn: resource.to_string(),
                })
            }
            rt::PERMISSION_SET_ASSIGNMENT => {
                want("assigned")?;
                let (ps, acct) = resource.rsplit_once('-').ok_or_else(|| {
                    ent_err(s, "binding ids look like <permissionSetArn>-<accountId>")
                })?;
                Ok(EntitlementRef::BindingAssigned {
                    account: acct.parse().map_err(e)?,
                    permission_set: PermissionSetRef::parse(ps).map_err(e)?,
                })
            }
            other => Err(ent_err(
                s,
                format!("resource type '{other}' has no entitlements orgsync knows"),
            )),
        }
    }

    /// The resource type the entitlement sits on.
    pub fn resource_type(&self) -> &'static str {
        match self {
            EntitlementRef::GroupMember { .. } => rt::GROUP,
            EntitlementRef::RoleAssignment { .. } => rt::ROLE,
            EntitlementRef::PolicyAttached { .. } => rt::IAM_POLICY,
            EntitlementRef::InlineAttached { .. } => rt::INLINE_POLICY,
            EntitlementRef::SsoGroupMember { .. } => rt::SSO_GROUP,
            EntitlementRef::AccountPermissionSet { .. } => rt::ACCOUNT,
            EntitlementRef::BindingAssigned { .. } => rt::PERMISSION_SET_ASSIGNMENT,
        }
    }
}

/// A grant ID taken apart: the entitlement, and the principal holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRef {
    /// A grant whose id names its entitlement and principal.
    Direct {
        entitlement: String,
        principal_type: String,
        principal: String,
    },
    /// An Identity Store group membership grant: the opaque MembershipId.
    SsoMembership { membership_id: String },
}

const PRINCIPAL_TYPES: [&str; 8] = [
    rt::IAM_USER,
    rt::ROLE,
    rt::GROUP,
    rt::SSO_USER,
    rt::SSO_GROUP,
    rt::PERMISSION_SET,
    rt::PERMISSION_SET_ASSIGNMENT,
    rt::ACCOUNT_IAM,
];
const SLUGS: [&str; 4] = ["member", "assignment", "attached", "assigned"];

fn grant_err(value: &str, why: impl Into<String>) -> ParseIdError {
    ParseIdError::Grant {
        value: shown(value),
        why: why.into(),
    }
}

impl GrantRef {
    pub fn parse(s: &str) -> Result<Self, ParseIdError> {
        if s.is_empty() {
            return Err(grant_err(s, "empty"));
        }
        // baton-aws's prefixed form: grant:<ptype>:<principal>:<entitlement>
        if let Some(rest) = s.strip_prefix("grant:") {
            let (ptype, rest) = rest.split_once(':').ok_or_else(|| {
                grant_err(
                    s,
                    "expected grant:<principal type>:<principal>:<entitlement>",
                )
            })?;
            if ptype != rt::SSO_USER && ptype != rt::SSO_GROUP {
                return Err(grant_err(
                    s,
                    format!(
                        "principal type '{ptype}' cannot hold an account or binding entitlement"
                    ),
                ));
            }
            // The principal is an identity-store ARN: arn:aws:identitystore:<r>::<store>/<kind>/<id>
            // — six colon-separated fields, so the entitlement starts after the sixth colon.
            let mut idx = 0;
            for _ in 0..5 {
                idx += rest[idx..]
                    .find(':')
                    .ok_or_else(|| grant_err(s, "the principal is not an identity-store ARN"))?
                    + 1;
            }
            let cut = rest[idx..]
                .find(':')
                .map(|i| idx + i)
                .ok_or_else(|| grant_err(s, "no entitlement after the principal"))?;
            let (principal, entitlement) = (&rest[..cut], &rest[cut + 1..]);
            IdentityStoreRef::parse(principal).map_err(|e| grant_err(s, e.to_string()))?;
            EntitlementRef::parse(entitlement).map_err(|e| grant_err(s, e.to_string()))?;
            return Ok(GrantRef::Direct {
                entitlement: entitlement.to_string(),
                principal_type: ptype.to_string(),
                principal: principal.to_string(),
            });
        }
        // <entitlement>:<ptype>:<principal>, the entitlement ending in a known slug.
        for slug in SLUGS {
            let marker = format!(":{slug}:");
            let mut from = 0;
            while let Some(pos) = s[from..].find(&marker).map(|p| p + from) {
                let entitlement = &s[..pos + 1 + slug.len()];
                let rest = &s[pos + marker.len()..];
                if let Some((ptype, principal)) = rest.split_once(':')
                    && PRINCIPAL_TYPES.contains(&ptype)
                    && !principal.is_empty()
                    && EntitlementRef::parse(entitlement).is_ok()
                {
                    return Ok(GrantRef::Direct {
                        entitlement: entitlement.to_string(),
                        principal_type: ptype.to_string(),
                        principal: principal.to_string(),
                    });
                }
                from = pos + 1;
            }
        }
        // Identity-store membership ids are UUIDs (optionally prefixed by a store id and '-').
        let looks_like_membership = s.len() >= 32
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if looks_like_membership {
            return Ok(GrantRef::SsoMembership {
                membership_id: s.to_string(),
            });
        }
        Err(grant_err(
            s,
            "expected <entitlement id>:<principal type>:<principal id>, grant:<type>:<principal>:<entitlement>, or an Identity Store membership id",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef";
    const PS_MOTO: &str = "arn:aws:sso:::instance/ssoins-1234567890abcdef/ps-0123456789abcdef";
    const USER: &str = "arn:aws:identitystore:us-east-1::d-1234567890/user/abc-123";
    const GROUP: &str = "arn:aws:identitystore:us-east-1::d-1234567890/group/def-456";

    #[test]
    fn builders_match_baton_aws() {
        assert_eq!(
            entitlement_id("group", "arn:aws:iam::111122223333:group/admins", "member"),
            "group:arn:aws:iam::111122223333:group/admins:member"
        );
        assert_eq!(
            grant_id(
                "role:arn:aws:iam::1:role/r:assignment",
                "iam_user",
                "arn:aws:iam::1:user/u"
            ),
            "role:arn:aws:iam::1:role/r:assignment:iam_user:arn:aws:iam::1:user/u"
        );
        let ent = account_permission_set_entitlement("111122223333", PS);
        assert_eq!(ent, format!("111122223333|{PS}"));
        assert_eq!(
            prefixed_grant_id("sso_user", USER, &ent),
            format!("grant:sso_user:{USER}:111122223333|{PS}")
        );
        assert_eq!(binding_id(PS, "111122223333"), format!("{PS}-111122223333"));
        assert_eq!(
            inline_policy_id("arn:aws:iam::1:user/u", "p"),
            "arn:aws:iam::1:user/u::inline::p"
        );
        assert_eq!(sso_user_arn("us-east-1", "d-1234567890", "abc-123"), USER);
        assert_eq!(sso_group_arn("us-east-1", "d-1234567890", "def-456"), GROUP);
        // The partition is the region's.
        let gov = sso_user_arn("us-gov-west-1", "d-1234567890", "abc-123");
        assert_eq!(
            gov,
            "arn:aws-us-gov:identitystore:us-gov-west-1::d-1234567890/user/abc-123"
        );
        assert_eq!(
            IdentityStoreRef::parse(&gov).unwrap().region,
            "us-gov-west-1"
        );
        assert_eq!(
            sso_group_arn("cn-northwest-1", "d-1", "g"),
            "arn:aws-cn:identitystore:cn-northwest-1::d-1/group/g"
        );
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("us-gov-east-1", "aws-us-gov"),
            ("cn-north-1", "aws-cn"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(partition_of_region(region), partition, "{region}");
            assert!(partition.parse::<crate::arn::Partition>().is_ok());
        }
    }

    #[test]
    fn parses_every_entitlement_kind() {
        let g = EntitlementRef::parse("group:arn:aws:iam::111122223333:group/ops/admins:member")
            .unwrap();
        assert!(
            matches!(g, EntitlementRef::GroupMember { ref group } if group.resource_name() == "admins")
        );
        assert!(matches!(
            EntitlementRef::parse("role:arn:aws:iam::111122223333:role/r:assignment").unwrap(),
            EntitlementRef::RoleAssignment { .. }
        ));
        assert!(matches!(
            EntitlementRef::parse("iam_policy:arn:aws:iam::aws:policy/ReadOnlyAccess:attached")
                .unwrap(),
            EntitlementRef::PolicyAttached { .. }
        ));
        let i = EntitlementRef::parse(
            "inline_policy:arn:aws:iam::111122223333:user/u::inline::p1:attached",
        )
        .unwrap();
        assert_eq!(
            i,
            EntitlementRef::InlineAttached {
                parent: "arn:aws:iam::111122223333:user/u".into(),
                name: "p1".into()
            }
        );
        let sg = EntitlementRef::parse(&format!("sso_group:{GROUP}:member")).unwrap();
        assert!(
            matches!(sg, EntitlementRef::SsoGroupMember { ref group, .. } if group.id == "def-456")
        );
        for ps in [PS, PS_MOTO] {
            let a = EntitlementRef::parse(&format!("111122223333|{ps}")).unwrap();
            assert!(
                matches!(a, EntitlementRef::AccountPermissionSet { ref account, .. } if account.as_str() == "111122223333")
            );
            let b = EntitlementRef::parse(&format!(
                "permission_set_assignment:{ps}-111122223333:assigned"
            ))
            .unwrap();
            assert!(
                matches!(b, EntitlementRef::BindingAssigned { ref permission_set, .. } if permission_set.permission_set_id == "ps-0123456789abcdef")
            );
        }
    }

    #[test]
    fn rejects_bad_entitlements_naming_the_value() {
        for bad in [
            "",
            "nonsense",
            "group:arn:aws:iam::1:group/x:owner",
            "group:arn:aws:iam::111122223333:role/x:member",
            "iam_user:arn:aws:iam::111122223333:user/x:member",
            "12345|arn:aws:sso:::permissionSet/ssoins-1/ps-2",
            "111122223333|arn:aws:iam::1:role/x",
        ] {
            let err = EntitlementRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn parses_grants() {
        let g = GrantRef::parse(
            "group:arn:aws:iam::111122223333:group/admins:member:iam_user:arn:aws:iam::111122223333:user/alice",
        )
        .unwrap();
        assert_eq!(
            g,
            GrantRef::Direct {
                entitlement: "group:arn:aws:iam::111122223333:group/admins:member".into(),
                principal_type: "iam_user".into(),
                principal: "arn:aws:iam::111122223333:user/alice".into(),
            }
        );
        // A role whose name is a slug word does not confuse the split.
        let r = GrantRef::parse(
            "role:arn:aws:iam::111122223333:role/member:assignment:role:arn:aws:iam::111122223333:role/attached",
        )
        .unwrap();
        assert!(
            matches!(r, GrantRef::Direct { ref entitlement, ref principal, .. }
            if entitlement == "role:arn:aws:iam::111122223333:role/member:assignment"
            && principal == "arn:aws:iam::111122223333:role/attached")
        );
        let i = GrantRef::parse(
            "inline_policy:arn:aws:iam::1:role/r::inline::p:attached:role:arn:aws:iam::1:role/r",
        )
        .unwrap();
        assert!(
            matches!(i, GrantRef::Direct { ref principal_type, .. } if principal_type == "role")
        );
        let a = GrantRef::parse(&format!("grant:sso_group:{GROUP}:111122223333|{PS}")).unwrap();
        assert_eq!(
            a,
            GrantRef::Direct {
                entitlement: format!("111122223333|{PS}"),
                principal_type: "sso_group".into(),
                principal: GROUP.into(),
            }
        );
        let b = GrantRef::parse(&format!(
            "grant:sso_user:{USER}:permission_set_assignment:{PS}-111122223333:assigned"
        ))
        .unwrap();
        assert!(
            matches!(b, GrantRef::Direct { ref principal_type, .. } if principal_type == "sso_user")
        );
        assert_eq!(
            GrantRef::parse("3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b").unwrap(),
            GrantRef::SsoMembership {
                membership_id: "3f6a9c1e-8d2b-4f7a-9e3c-1b2d3e4f5a6b".into()
            }
        );
        for bad in [
            "",
            "x",
            "group:arn:aws:iam::1:group/g:member:nobody:x",
            "grant:iam_user:arn:aws:iam::1:user/u:x",
        ] {
            assert!(GrantRef::parse(bad).is_err(), "{bad}");
        }
    }
}
