//! The caller's access key: held in a type that never shows it.

use crate::Error;

/// A Descope access key (or, with an OIDC stack, a client secret).
///
/// Its `Debug` prints `AccessKey([redacted])` and it has no `Display`: the key reaches the token
/// function's request body and nothing else.
///
/// ```
/// use m2m_client::AccessKey;
///
/// let key = AccessKey::new("dev-reader-key").unwrap();
/// assert_eq!(format!("{key:?}"), "AccessKey([redacted])");
/// assert!(AccessKey::new("  ").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey(String);

/// The longest key the token function accepts (docs/contract.md section 1).
const MAX_KEY_BYTES: usize = 1024;

impl AccessKey {
    /// Takes the key's text, trimmed of surrounding whitespace (a key read from a file usually ends
    /// with a newline). Refused: empty, longer than 1024 bytes, or holding a space or a control character.
    pub fn new(key: impl Into<String>) -> Result<AccessKey, Error> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidAccessKey("it is empty"));
        }
        if trimmed.len() > MAX_KEY_BYTES {
            return Err(Error::InvalidAccessKey("it is longer than 1024 bytes"));
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidAccessKey(
                "it holds a space, a control or a non-ASCII character",
            ));
        }
        Ok(AccessKey(trimmed.to_owned()))
    }

    /// The key from the environment variable `DESCOPE_ACCESS_KEY`: `Ok(None)` when it is unset.
    ///
    /// ```
    /// # unsafe { std::env::set_var("DESCOPE_ACCESS_KEY", "dev-reader-key") };
    /// let key = m2m_client::AccessKey::from_env().unwrap().expect("DESCOPE_ACCESS_KEY is set");
    /// # let _ = key;
    /// ```
    pub fn from_env() -> Result<Option<AccessKey>, Error> {
        match std::env::var("DESCOPE_ACCESS_KEY") {
            Ok(value) => AccessKey::new(value).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidAccessKey(
                "DESCOPE_ACCESS_KEY is not valid text",
            )),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_trimmed() {
        assert_eq!(AccessKey::new("k1\n").unwrap().expose(), "k1");
        assert!(AccessKey::new("a b").is_err());
        assert!(AccessKey::new("x".repeat(1025)).is_err());
        assert!(AccessKey::new("").is_err());
    }
}
