//! `STACK_KEY_PRINCIPALS`: which IAM principals may have the stack's own key exchanged for them, and which of
//! its grants each may receive (docs/contract.md sections 1 and 2).
//!
//! A listed role matches the sessions of that role (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, the ARN
//! API Gateway reports for Lambda, ECS and EC2 callers) by partition, account and role name: an assumed-role
//! ARN carries no role path, so `role/team/reporting` matches `assumed-role/reporting/…`. Every other ARN
//! matches only itself. There are no wildcards, and nothing listed means nobody.

use m2m_auth::{ConfigError, parse_strict_object};

const VARIABLE: &str = "STACK_KEY_PRINCIPALS";
/// More principals than a policy of this kind should ever list; the variable's size is bounded anyway.
const MAX_PRINCIPALS: usize = 200;

/// What one principal may receive of the stack key's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    /// `["*"]`: every grant the key holds.
    All,
    /// Only these (and only those the key holds).
    Only(Vec<String>),
}

/// The parsed `STACK_KEY_PRINCIPALS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackKeyPrincipals {
    listed: Vec<(Principal, Allowance)>,
}

/// A listed ARN, as it is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    /// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`: the role's sessions.
    Role {
        partition: String,
        account: String,
        name: String,
    },
    /// Any other IAM or STS ARN: that principal exactly.
    Exact(String),
}

impl StackKeyPrincipals {
    /// Parses the variable's value: a JSON object from principal ARN to the grants it may receive.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::new(VARIABLE, reason);
        if text.trim().is_empty() {
            return Ok(StackKeyPrincipals::default());
        }
        let object = parse_strict_object(text.as_bytes()).map_err(|_| {
            invalid(
                "must be a JSON object from IAM principal ARN to a list of grants, without duplicate keys",
            )
        })?;
        if object.len() > MAX_PRINCIPALS {
            return Err(invalid("lists more than 200 principals"));
        }
        let mut listed = Vec::with_capacity(object.len());
        for (arn, grants) in &object {
            let principal = Principal::parse(arn).ok_or_else(|| {
                invalid(
                    "has a key that is not an IAM principal ARN (arn:aws:iam::123456789012:role/NAME, \
                     ...:user/NAME, or an arn:aws:sts:: one)",
                )
            })?;
            let allowance = Allowance::parse(grants).ok_or_else(|| {
                invalid(
                    "maps a principal to something other than a non-empty list of grants (\"*\" for all \
                     of the key's grants)",
                )
            })?;
            listed.push((principal, allowance));
        }
        Ok(StackKeyPrincipals { listed })
    }

    /// What the caller `arn` (as API Gateway reports it) may receive; `None` when it is not listed.
    pub fn allowance(&self, arn: &str) -> Option<&Allowance> {
        let session = AssumedRole::parse(arn);
        self.listed
            .iter()
            .find(|(principal, _)| principal.matches(arn, session.as_ref()))
            .map(|(_, allowance)| allowance)
    }
}

impl Allowance {
    fn parse(value: &serde_json::Value) -> Option<Allowance> {
        let items = value.as_array().filter(|items| !items.is_empty())?;
        let mut grants = Vec::with_capacity(items.len());
        for item in items {
            let grant = item.as_str()?;
            if grant == "*" {
                return items
                    .iter()
                    .all(serde_json::Value::is_string)
                    .then_some(Allowance::All);
            }
            if !m2m_auth::is_scope_token(grant) {
                return None;
            }
            if !grants.iter().any(|g| g == grant) {
                grants.push(grant.to_owned());
            }
        }
        Some(Allowance::Only(grants))
    }
}

/// `arn:PARTITION:SERVICE::ACCOUNT:RESOURCE` with SERVICE `iam` or `sts` and a 12-digit account.
fn split_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut fields = arn.splitn(6, ':');
    let (prefix, partition, service) = (fields.next()?, fields.next()?, fields.next()?);
    let (region, account, resource) = (fields.next()?, fields.next()?, fields.next()?);
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    };
    let resource_ok = !resource.is_empty()
        && resource.len() <= 512
        && resource.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'/' | b'+' | b'=' | b',' | b'.' | b'@' | b'-' | b'_')
        });
    (prefix == "arn"
        && plain(partition)
        && matches!(service, "iam" | "sts")
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource_ok)
        .then_some((partition, service, account, resource))
}

impl Principal {
    fn parse(arn: &str) -> Option<Principal> {
        let (partition, service, account, resource) = split_arn(arn)?;
        if service == "iam"
            && let Some(path_and_name) = resource.strip_prefix("role/")
        {
            let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty())?;
            return Some(Principal::Role {
                partition: partition.to_owned(),
                account: account.to_owned(),
                name: name.to_owned(),
            });
        }
        Some(Principal::Exact(arn.to_owned()))
    }

    fn matches(&self, arn: &str, session: Option<&AssumedRole<'_>>) -> bool {
        match self {
            Principal::Exact(listed) => listed == arn,
            Principal::Role {
                partition,
                account,
                name,
            } => session.is_some_and(|session| {
                session.partition == partition && session.account == account && session.role == name
            }),
        }
    }
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
struct AssumedRole<'a> {
    partition: &'a str,
    account: &'a str,
    role: &'a str,
}

impl<'a> AssumedRole<'a> {
    fn parse(arn: &'a str) -> Option<AssumedRole<'a>> {
        let (partition, service, account, resource) = split_arn(arn)?;
        let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
        (service == "sts" && !role.is_empty() && !session.is_empty() && !session.contains('/'))
            .then_some(AssumedRole {
                partition,
                account,
                role,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = r#"{
        "arn:aws:iam::123456789012:role/team/reporting": ["read:data"],
        "arn:aws:iam::123456789012:role/ops": ["*"],
        "arn:aws:iam::123456789012:user/alice": ["read:data", "write:data", "read:data"]
    }"#;

    #[test]
    fn roles_match_their_sessions_and_users_match_exactly() {
        let principals = StackKeyPrincipals::parse(LISTED).unwrap();
        let reader = Some(&Allowance::Only(vec!["read:data".into()]));
        for (arn, expected) in [
            (
                "arn:aws:sts::123456789012:assumed-role/reporting/i-0abc",
                reader,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/ops/task-1",
                Some(&Allowance::All),
            ),
            (
                "arn:aws:iam::123456789012:user/alice",
                Some(&Allowance::Only(vec![
                    "read:data".into(),
                    "write:data".into(),
                ])),
            ),
            // Another account, partition or role; a role's name as a user; no session; a longer name.
            (
                "arn:aws:sts::210987654321:assumed-role/reporting/i-0abc",
                None,
            ),
            (
                "arn:aws-cn:sts::123456789012:assumed-role/reporting/i-0abc",
                None,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/reporting2/i-0abc",
                None,
            ),
            ("arn:aws:sts::123456789012:assumed-role/reporting/", None),
            (
                "arn:aws:sts::123456789012:assumed-role/team/reporting/x",
                None,
            ),
            ("arn:aws:iam::123456789012:user/reporting", None),
            ("arn:aws:iam::123456789012:user/Alice", None),
            ("arn:aws:iam::123456789012:user/alice/x", None),
            // The role's own ARN is not a session of it.
            ("arn:aws:iam::123456789012:role/team/reporting", None),
            ("", None),
            ("*", None),
        ] {
            assert_eq!(principals.allowance(arn), expected, "{arn}");
        }
        assert_eq!(
            StackKeyPrincipals::parse("")
                .unwrap()
                .allowance("arn:aws:iam::123456789012:user/alice"),
            None,
            "unset means nobody"
        );
    }

    #[test]
    fn bad_values_are_init_errors_naming_the_variable() {
        for bad in [
            "[]",
            "not json",
            r#"{"arn:aws:iam::123456789012:role/a": "read:data"}"#,
            r#"{"arn:aws:iam::123456789012:role/a": []}"#,
            r#"{"arn:aws:iam::123456789012:role/a": [1]}"#,
            r#"{"arn:aws:iam::123456789012:role/a": ["has space"]}"#,
            r#"{"arn:aws:iam::123456789012:role/a": ["*", 2]}"#,
            r#"{"role/a": ["*"]}"#,
            r#"{"arn:aws:iam::*:role/a": ["*"]}"#,
            r#"{"arn:aws:iam::123456789012:role/*": ["*"]}"#,
            r#"{"arn:aws:s3:::bucket": ["*"]}"#,
            r#"{"arn:aws:iam:us-east-1:123456789012:role/a": ["*"]}"#,
            r#"{"arn:aws:iam::12345:role/a": ["*"]}"#,
            r#"{"arn:aws:iam::123456789012:role/": ["*"]}"#,
            r#"{"arn:aws:iam::123456789012:role/a": ["*"], "arn:aws:iam::123456789012:role/a": ["x"]}"#,
        ] {
            let error = StackKeyPrincipals::parse(bad).unwrap_err();
            assert_eq!(error.variable, "STACK_KEY_PRINCIPALS", "{bad}");
        }
    }
}
