//! `AUTHORIZER_GRANTS`: which grant each route requires (docs/contract.md section 6), and the execute-api
//! resource ARNs the policies name.
//!
//! A route key is `METHOD /path` as API Gateway writes `$context.routeKey` (`GET /reports/{id}`); `ANY` stands
//! for every method. A path parameter (`{id}`, `{proxy+}`) matches any characters, `/` included, exactly as
//! the `*` it becomes in a policy's resource ARN does, so that the decision for a request and the policy a
//! REST `TOKEN` authorizer caches can never disagree.

use m2m_auth::{Grants, Require, is_scope_token, parse_strict_object};

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];
const MAX_ROUTE_KEY_CHARS: usize = 256;
const MAX_ROUTES: usize = 200;

/// A route key of `AUTHORIZER_GRANTS`, kept as the glob over `METHOD/path` it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    key: String,
    /// `GET/reports/*`: the resource-ARN tail, `*` for each parameter and for `ANY`.
    glob: String,
}

impl RoutePattern {
    pub fn parse(key: &str) -> Result<RoutePattern, String> {
        let shown: String = key.chars().filter(|c| !c.is_control()).take(64).collect();
        let bad = |why: &str| Err(format!("route key '{shown}' {why}"));
        if key.len() > MAX_ROUTE_KEY_CHARS {
            return bad("is too long");
        }
        let Some((method, path)) = key.split_once(' ') else {
            return bad("must be 'METHOD /path'");
        };
        if !METHODS.contains(&method) {
            return bad(
                "has an unknown method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY)",
            );
        }
        let Some(rest) = path.strip_prefix('/') else {
            return bad("must have a path starting with '/'");
        };
        let mut glob = String::from(if method == "ANY" { "*" } else { method });
        glob.push('/');
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (index, segment) in segments.iter().enumerate() {
            if index > 0 {
                glob.push('/');
            }
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, greedy) = match name.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (name, false),
                };
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return bad("has a malformed path parameter");
                }
                if greedy && index + 1 != segments.len() {
                    return bad("has a greedy parameter that is not the last segment");
                }
                glob.push('*');
            } else if segment.is_empty()
                || !segment.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'')
                        || matches!(
                            b,
                            b'(' | b')' | b'+' | b',' | b';' | b'=' | b':' | b'@' | b'%'
                        )
                })
            {
                return bad("has an empty segment or a character a path cannot hold");
            } else {
                glob.push_str(segment);
            }
        }
        Ok(RoutePattern {
            key: key.to_owned(),
            glob,
        })
    }

    /// Whether a request to `target` (`METHOD/path`, without the path's leading `/`) is on this route.
    pub fn matches(&self, target: &str) -> bool {
        glob_matches(&self.glob, target)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn glob(&self) -> &str {
        &self.glob
    }
}

/// `*` matches any run of characters (IAM's resource wildcard); everything else matches itself.
fn glob_matches(glob: &str, target: &str) -> bool {
    let (glob, target) = (glob.as_bytes(), target.as_bytes());
    let (mut g, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while t < target.len() {
        if g < glob.len() && glob[g] == b'*' {
            resume = Some((g, t));
            g += 1;
        } else if g < glob.len() && glob[g] == target[t] {
            g += 1;
            t += 1;
        } else if let Some((star, at)) = resume {
            g = star + 1;
            t = at + 1;
            resume = Some((star, at + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

/// The grant table: each named route with what it requires.
#[derive(Debug, Clone, Default)]
pub struct RouteGrants {
    routes: Vec<(RoutePattern, Require)>,
}

impl RouteGrants {
    /// Parses `AUTHORIZER_GRANTS`: a JSON object, route key → grant (1-128 characters of the OAuth 2.0
    /// scope character set). Errors say what is wrong; the caller names the variable.
    pub fn parse(text: &str) -> Result<RouteGrants, String> {
        if text.trim().is_empty() {
            return Ok(RouteGrants::default());
        }
        let object = parse_strict_object(text.as_bytes())
            .map_err(|_| "must be a JSON object (route key -> grant) without duplicate keys")?;
        if object.len() > MAX_ROUTES {
            return Err(format!("names more than {MAX_ROUTES} routes"));
        }
        let mut routes = Vec::with_capacity(object.len());
        for (key, grant) in &object {
            let pattern = RoutePattern::parse(key)?;
            let grant = match grant.as_str() {
                Some(grant) if is_scope_token(grant) => grant,
                _ => {
                    return Err(format!(
                        "the grant of '{}' must be a string of 1-128 characters of the OAuth 2.0 scope character set",
                        pattern.key()
                    ));
                }
            };
            // Read once at start-up and kept for the life of the process, like the rest of the configuration.
            let grant: &'static str = Box::leak(grant.to_owned().into_boxed_str());
            routes.push((pattern, Require::Grant(grant)));
        }
        Ok(RouteGrants { routes })
    }

    pub fn iter(&self) -> impl Iterator<Item = &(RoutePattern, Require)> {
        self.routes.iter()
    }

    /// The first grant `grants` lacks among the routes `target` is on; `None` when the request is allowed
    /// (a route not named needs a valid token only).
    pub fn missing(&self, grants: &Grants, target: &str) -> Option<&'static str> {
        self.routes
            .iter()
            .filter(|(pattern, _)| pattern.matches(target))
            .find_map(|(_, require)| require.check(grants).err())
    }
}

/// An execute-api ARN (`arn:aws:execute-api:region:account:api/stage/METHOD/path`), split into the API's
/// stage and the request's `METHOD/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn<'a> {
    /// `arn:aws:execute-api:region:account:api/stage`.
    pub stage: &'a str,
    /// `GET/reports/1`.
    pub target: &'a str,
}

impl<'a> MethodArn<'a> {
    pub fn parse(arn: &'a str) -> Option<MethodArn<'a>> {
        let mut fields = arn.splitn(6, ':');
        let (prefix, partition, service) = (fields.next()?, fields.next()?, fields.next()?);
        let (region, account, resource) = (fields.next()?, fields.next()?, fields.next()?);
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if prefix != "arn"
            || service != "execute-api"
            || ![partition, region, account].iter().all(|s| plain(s))
        {
            return None;
        }
        let mut parts = resource.splitn(3, '/');
        let (api, stage) = (parts.next()?, parts.next()?);
        let target = parts.next()?;
        if !plain(api) || !(plain(stage) || stage == "$default") || target.is_empty() {
            return None;
        }
        let stage_end = arn.len() - target.len() - 1;
        Some(MethodArn {
            stage: &arn[..stage_end],
            target,
        })
    }
}

/// `GET /reports/{id}` (a route key as `$context.routeKey` writes it) as a match target: `GET/reports/{id}`.
pub fn route_key_target(route_key: &str) -> Option<String> {
    let (method, path) = route_key.split_once(' ')?;
    Some(format!("{method}/{}", path.strip_prefix('/')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_checked() {
        for good in [
            "GET /",
            "POST /api/admin",
            "ANY /reports/{id}",
            "GET /files/{proxy+}",
        ] {
            RoutePattern::parse(good).unwrap();
        }
        for bad in [
            "",
            "GET",
            "get /x",
            "GET x",
            "GET /a//b",
            "GET /a/",
            "GET /{}",
            "GET /{a+}/b",
            "GET /a*",
            "$default",
            "GET  /x",
        ] {
            assert!(RoutePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_match_any_value_as_the_policy_wildcard_does() {
        let pattern = RoutePattern::parse("GET /reports/{id}").unwrap();
        assert_eq!(pattern.glob(), "GET/reports/*");
        assert!(pattern.matches("GET/reports/1"));
        assert!(pattern.matches("GET/reports/{id}"));
        assert!(pattern.matches("GET/reports/1/details"));
        assert!(!pattern.matches("POST/reports/1"));
        assert!(!pattern.matches("GET/reportsX"));
        let any = RoutePattern::parse("ANY /a/{x}/b").unwrap();
        assert!(any.matches("DELETE/a/1/b") && !any.matches("DELETE/a/1/c"));
        assert!(RoutePattern::parse("GET /").unwrap().matches("GET/"));
    }

    #[test]
    fn method_arns_split_into_stage_and_target() {
        let arn = MethodArn::parse(
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/reports/1",
        )
        .unwrap();
        assert_eq!(
            arn.stage,
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
        );
        assert_eq!(arn.target, "GET/reports/1");
        for bad in [
            "",
            "arn:aws:s3:eu-west-1:1:abc/prod/GET/x",
            "arn:aws:execute-api:eu-west-1:1:abc/prod",
            "arn:aws:execute-api:eu-west-1:1:a*c/prod/GET/x",
        ] {
            assert_eq!(MethodArn::parse(bad), None, "{bad}");
        }
    }
}
