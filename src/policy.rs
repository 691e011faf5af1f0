//! IAM policy documents: URL-decoding what IAM returns, and reading a role's trust policy into
//! who may assume it (AWS principals, services, federated providers, anyone) and the role's
//! non-human-identity kind. Pure functions; no AWS calls.

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// IAM returns policy documents URL-encoded (RFC 3986). Returns the JSON text; text that is
/// already JSON (or not valid percent-encoding) is returned as given.
pub fn decode_document(raw: &str) -> String {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') {
        return raw.to_string();
    }
    match percent_decode_str(raw).decode_utf8() {
        Ok(s) => s.into_owned(),
        Err(_) => raw.to_string(),
    }
}

/// One AWS principal allowed to assume a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AwsPrincipal {
    /// `arn:…:iam::<acct>:user/…`
    User(String),
    /// `arn:…:iam::<acct>:role/…`
    Role(String),
    /// The whole account: `arn:…:iam::<acct>:root` or a bare 12-digit id.
    Account(String),
    /// Anything else (assumed-role sessions, federated users, unique ids of deleted principals).
    Other(String),
}

impl AwsPrincipal {
    fn parse(s: &str) -> AwsPrincipal {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            return AwsPrincipal::Account(s.to_string());
        }
        match s.parse::<crate::arn::Arn>() {
            Ok(a) if a.service == "iam" => match a.resource_kind() {
                "user" => AwsPrincipal::User(s.to_string()),
                "role" => AwsPrincipal::Role(s.to_string()),
                "root" => AwsPrincipal::Account(a.account.clone()),
                _ => AwsPrincipal::Other(s.to_string()),
            },
            _ => AwsPrincipal::Other(s.to_string()),
        }
    }

    /// The account the principal lives in, when known.
    pub fn account(&self) -> Option<String> {
        match self {
            AwsPrincipal::Account(account) => Some(account.clone()),
            AwsPrincipal::User(a) | AwsPrincipal::Role(a) | AwsPrincipal::Other(a) => a
                .parse::<crate::arn::Arn>()
                .ok()
                .map(|a| a.account)
                .filter(|a| !a.is_empty()),
        }
    }
}

/// Who may assume a role, read from its trust policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// AWS principals in Allow statements whose actions cover `sts:AssumeRole`.
    pub aws: Vec<AwsPrincipal>,
    /// Service principals (e.g. `ec2.amazonaws.com`) of Allow statements for any
    /// `sts:AssumeRole*` action.
    pub services: Vec<String>,
    /// Federated principals (SAML / OIDC provider ARNs, `cognito-identity.amazonaws.com`).
    pub federated: Vec<String>,
    /// An Allow with `"Principal": "*"` or `{"AWS": "*"}` (possibly narrowed by a condition).
    pub any_principal: bool,
    /// Whether any counted statement carries a Condition block.
    pub conditional: bool,
    /// The document parsed as a JSON policy.
    pub parsed: bool,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Case-insensitive match of an IAM action pattern (`*` and `?` wildcards) against `action`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn rec(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], a) || (!a.is_empty() && rec(p, &a[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => rec(&p[1..], &a[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), action.as_bytes())
}

/// Reads a trust policy (decoded JSON text).
pub fn parse_trust(doc: &str) -> Trust {
    let mut trust = Trust::default();
    let Ok(json) = serde_json::from_str::<Value>(doc) else {
        return trust;
    };
    trust.parsed = json.is_object();
    let statements = match json.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => vec![],
    };
    for st in &statements {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let actions = strings(st.get("Action"));
        let assume = actions.iter().any(|a| action_matches(a, "sts:AssumeRole"));
        let assume_family = actions.iter().any(|a| {
            [
                "sts:AssumeRole",
                "sts:AssumeRoleWithSAML",
                "sts:AssumeRoleWithWebIdentity",
            ]
            .iter()
            .any(|x| action_matches(a, x))
        });
        if !assume_family {
            continue;
        }
        let conditional = st
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty()));
        let mut counted = false;
        match st.get("Principal") {
            Some(Value::String(s)) if s == "*" => {
                trust.any_principal = true;
                counted = true;
            }
            Some(Value::Object(p)) => {
                for (key, val) in p {
                    let vals = strings(Some(val));
                    match key.as_str() {
                        "AWS" if assume => {
                            for v in vals {
                                if v == "*" {
                                    trust.any_principal = true;
                                } else {
                                    trust.aws.push(AwsPrincipal::parse(&v));
                                }
                                counted = true;
                            }
                        }
                        "Service" => {
                            trust.services.extend(vals);
                            counted = true;
                        }
                        "Federated" => {
                            trust.federated.extend(vals);
                            counted = true;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        trust.conditional |= counted && conditional;
    }
    trust.aws.sort();
    trust.aws.dedup();
    trust.services.sort();
    trust.services.dedup();
    trust.federated.sort();
    trust.federated.dedup();
    trust
}

/// Non-human-identity kind of a role, as baton-aws derives it: `(nhi_type, nhi_detail)` with
/// nhi_type 2 = ASSUMABLE_ROLE, 3 = MANAGED_IDENTITY.
pub fn nhi_kind(path: &str, role_account: &str, trust_doc: Option<&str>) -> (i32, String) {
    const ASSUMABLE: i32 = 2;
    const MANAGED: i32 = 3;
    if path.starts_with("/aws-service-role/") {
        return (MANAGED, "aws.service_linked_role".into());
    }
    let Some(doc) = trust_doc else {
        return (ASSUMABLE, "aws.role".into());
    };
    let trust = parse_trust(doc);
    if !trust.parsed {
        return (ASSUMABLE, "aws.role".into());
    }
    // Service principals of statements whose action starts with sts:AssumeRole.
    if let Some(svc) = trust
        .services
        .iter()
        .map(|s| {
            s.split('.')
                .next()
                .unwrap_or(s)
                .to_ascii_lowercase()
                .replace('-', "_")
        })
        .min()
    {
        return (ASSUMABLE, format!("aws.role.{svc}"));
    }
    if !trust.federated.is_empty() {
        let kind = if trust
            .federated
            .iter()
            .any(|f| f.contains(":oidc-provider/"))
        {
            "oidc"
        } else if trust
            .federated
            .iter()
            .any(|f| f.contains(":saml-provider/"))
        {
            "saml"
        } else {
            "federated"
        };
        return (ASSUMABLE, format!("aws.role.{kind}"));
    }
    if trust
        .aws
        .iter()
        .any(|p| p.account().is_some_and(|a| a != role_account))
    {
        return (ASSUMABLE, "aws.role.cross_account".into());
    }
    (ASSUMABLE, "aws.role".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_documents() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_document(enc),
            r#"{"Version":"2012-10-17","Statement":[]}"#
        );
        let plain = r#"{"a": "50%"}"#;
        assert_eq!(decode_document(plain), plain);
        // '+' is not a space in RFC 3986 encoding.
        assert_eq!(
            decode_document("%7B%22a%22%3A%22x+y%20z%22%7D"),
            r#"{"a":"x+y z"}"#
        );
    }

    #[test]
    fn glob_actions() {
        assert!(action_matches("sts:AssumeRole", "sts:AssumeRole"));
        assert!(action_matches("STS:assumerole", "sts:AssumeRole"));
        assert!(action_matches("sts:*", "sts:AssumeRole"));
        assert!(action_matches("*", "sts:AssumeRole"));
        assert!(action_matches("sts:Assume*", "sts:AssumeRole"));
        assert!(action_matches("sts:AssumeRol?", "sts:AssumeRole"));
        assert!(!action_matches("sts:AssumeRoleWithSAML", "sts:AssumeRole"));
        assert!(!action_matches("iam:*", "sts:AssumeRole"));
    }

    #[test]
    fn trust_principal_forms() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/ops/Deployer","444455556666","arn:aws:iam::777788889999:root","arn:aws:sts::111122223333:assumed-role/x/s"]},"Action":["sts:AssumeRole","sts:TagSession"]},
            {"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:GetObject"}
        ]}"#;
        let t = parse_trust(doc);
        assert!(t.parsed);
        assert_eq!(
            t.aws,
            vec![
                AwsPrincipal::User("arn:aws:iam::111122223333:user/alice".into()),
                AwsPrincipal::Role("arn:aws:iam::111122223333:role/ops/Deployer".into()),
                AwsPrincipal::Account("444455556666".into()),
                AwsPrincipal::Account("777788889999".into()),
                AwsPrincipal::Other("arn:aws:sts::111122223333:assumed-role/x/s".into()),
            ]
        );
        assert_eq!(
            t.services,
            vec!["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]
        );
        assert_eq!(
            t.federated,
            vec!["arn:aws:iam::111122223333:saml-provider/Okta"]
        );
        assert!(!t.any_principal);
        assert!(t.conditional);
    }

    #[test]
    fn trust_star_and_single_statement_object() {
        let t = parse_trust(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}}"#,
        );
        assert!(t.any_principal && t.conditional && t.aws.is_empty());
        let t = parse_trust(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:*"}]}"#,
        );
        assert!(t.any_principal && !t.conditional);
        let t = parse_trust("not json");
        assert!(!t.parsed && t.aws.is_empty());
        let t = parse_trust(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root"]},"Action":"*"}]}"#,
        );
        assert_eq!(
            t.aws,
            vec![AwsPrincipal::Account("123456789012".into())],
            "root ARN and bare id are one principal"
        );
    }

    #[test]
    fn nhi_classification_follows_baton_aws_order() {
        let svc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            nhi_kind("/", "111122223333", Some(svc)),
            (2, "aws.role.ecs_tasks".into())
        );
        assert_eq!(
            nhi_kind("/aws-service-role/x/", "1", Some(svc)),
            (3, "aws.service_linked_role".into())
        );
        assert_eq!(nhi_kind("/", "1", None), (2, "aws.role".into()));
        assert_eq!(nhi_kind("/", "1", Some("{bad")), (2, "aws.role".into()));
        let oidc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        assert_eq!(nhi_kind("/", "1", Some(oidc)), (2, "aws.role.oidc".into()));
        let saml = r#"{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:saml-provider/x"},"Action":"sts:AssumeRoleWithSAML"}]}"#;
        assert_eq!(nhi_kind("/", "1", Some(saml)), (2, "aws.role.saml".into()));
        let cross = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            nhi_kind("/", "111122223333", Some(cross)),
            (2, "aws.role.cross_account".into())
        );
        let same = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/a"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            nhi_kind("/", "111122223333", Some(same)),
            (2, "aws.role".into())
        );
    }
}
