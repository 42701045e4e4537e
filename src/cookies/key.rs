//! The secret key: checked for strength once, then only ever used, never shown.

use std::fmt;

use crate::ConfigError;

/// Shortest key accepted, in bytes: 256 bits of key material at one bit per byte at worst.
const MIN_LEN: usize = 32;
/// Fewest distinct bytes accepted. A random hex key of 32 characters has about 14.
const MIN_DISTINCT: usize = 8;

/// Text that only a placeholder, an example or a development key contains.
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "change-this",
    "change_this",
    "replaceme",
    "replace-me",
    "replace_me",
    "placeholder",
    "your-secret",
    "your_secret",
    "yoursecret",
    "secret-key",
    "secret_key",
    "secretkey",
    "strong-random",
    "random-key",
    "django-insecure",
    "insecure",
    "example",
    "password",
    "default",
    "dummy",
    "sample",
    "12345678",
    "abcdefgh",
    "qwerty",
];

/// A secret key for signing and encrypting cookies, checked for strength when created.
///
/// A key is refused ([`ConfigError`]) when it is shorter than 32 bytes, has fewer than 8
/// distinct bytes or repeats a short pattern, or looks like a placeholder (`changeme`,
/// `<strong-random-key>`, `secret`, `your-secret-key`, `django-insecure-…`, ...). Generate
/// one with, for example, `openssl rand -base64 48`.
///
/// The key never appears in `Debug` output, in an error message or in a log.
///
/// # Example
///
/// ```
/// use tower_security::cookies::SecretKey;
///
/// assert!(SecretKey::new("changeme").is_err());
/// let key = SecretKey::new("dGhpcyBpcyBub3QgYSByZWFsIGtleSwganVzdCBhIGRlbW8")?;
/// assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
/// # Ok::<(), tower_security::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    bytes: Box<[u8]>,
}

impl SecretKey {
    /// Checks `key` and keeps it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for the setting `secret_key` when the key is weak; the message says
    /// which rule failed and never contains the key.
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        Self::named("secret_key", key.into())
    }

    /// Checks a key that came from the setting `setting` (such as `SECRET_KEY`).
    pub(crate) fn named(setting: &str, key: String) -> Result<Self, ConfigError> {
        check(setting, key.as_bytes())?;
        Ok(Self {
            bytes: key.into_bytes().into_boxed_slice(),
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

fn check(setting: &str, key: &[u8]) -> Result<(), ConfigError> {
    let weak = |expected| Err(ConfigError::secret(setting, expected));
    if key.is_empty() {
        return weak("a secret key; none was given");
    }
    if key.len() < MIN_LEN {
        return weak("a key of at least 32 bytes, such as the output of `openssl rand -base64 48`");
    }
    let mut seen = [false; 256];
    for &b in key {
        seen[usize::from(b)] = true;
    }
    if seen.iter().filter(|&&s| s).count() < MIN_DISTINCT {
        return weak("a random key; this one uses fewer than 8 distinct characters");
    }
    // A key that repeats a pattern of up to 8 bytes has at most 8 bytes of secret in it.
    if (1..=8).any(|period| key.iter().skip(period).zip(key).all(|(a, b)| a == b)) {
        return weak("a random key; this one repeats a short pattern");
    }
    let lower = key.to_ascii_lowercase();
    let contains = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    let placeholder = PLACEHOLDERS.iter().any(|p| contains(p.as_bytes()))
        || (lower.first() == Some(&b'<') && lower.last() == Some(&b'>'))
        || lower.starts_with(b"secret")
        || lower.starts_with(b"${");
    if placeholder {
        return weak("a generated random key, not a placeholder or example value");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_keys_are_refused_without_echoing_them() {
        let cases = [
            ("empty", ""),
            ("short", "Zx9!kQ2#mV7$"),
            ("31 bytes", "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0e"),
            ("low variety", "abababababababababababcabababababababab"),
            ("repeated pattern", "Ab3$Xy9!Ab3$Xy9!Ab3$Xy9!Ab3$Xy9!Ab3$"),
            (
                "placeholder in brackets",
                "<strong-random-key-goes-here-0123456789>",
            ),
            ("changeme", "changeme-7f3a9c1e5b2d8f4a6c0e9b3d7f1a5c8e"),
            (
                "django insecure",
                "django-insecure-k2j3h4g5f6d7s8a9q0w1e2r3t4y5",
            ),
            ("secret prefix", "secret1234567890abcdefghijklmnopqrstuv"),
            ("your-secret-key", "your-secret-key-1234567890abcdefghijkl"),
            ("template", "${SECRET_KEY_FROM_VAULT_1234567890_abcdef}"),
        ];

        for (name, key) in cases {
            let err = SecretKey::named("SECRET_KEY", key.to_owned()).unwrap_err();

            assert_eq!(err.setting(), "SECRET_KEY", "{name}");
            if !key.is_empty() {
                assert!(!err.to_string().contains(key), "{name}: key echoed");
            }
        }
    }

    #[test]
    fn random_keys_are_accepted() {
        let keys = [
            "dGhpcyBpcyBub3QgYSByZWFsIGtleSwganVzdCBhIGRlbW8",
            "3f9a1c7e5b2d8f4a6c0e9b3d7f1a5c8e",
            "k8#Pz2!qW5@rT9$uY3%iO7^pA1&sD6*f",
        ];

        for key in keys {
            assert!(SecretKey::new(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = SecretKey::new("3f9a1c7e5b2d8f4a6c0e9b3d7f1a5c8e").unwrap();

        let shown = format!("{key:?}");

        assert_eq!(shown, "SecretKey(<redacted>)");
    }
}
