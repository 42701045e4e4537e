//! The error returned when a policy cannot be built.
//!
//! Every setting of a [`SecurityLayer`](crate::SecurityLayer) is checked once, by
//! [`SecurityLayerBuilder::build`](crate::SecurityLayerBuilder::build); a value that could make a
//! response invalid, or silently weaken the policy, is refused there with a [`ConfigError`] that
//! names the setting and the form it expects. Nothing is checked, and nothing can fail, per
//! request.
//!
//! # Example
//!
//! ```
//! use tower_security::{headers::ContentSecurityPolicy, SecurityLayer};
//!
//! // `self` must be quoted in a CSP source list: an unquoted `self` names a host called "self".
//! let csp = ContentSecurityPolicy::new().directive("script-src", ["self"]);
//! let err = SecurityLayer::builder().content_security_policy(csp).build().unwrap_err();
//!
//! assert_eq!(err.setting(), "content_security_policy.script-src");
//! assert!(err.to_string().contains("'self'"));
//! ```

use std::fmt;

/// A setting that cannot be turned into a valid, effective policy.
///
/// Its [`Display`](fmt::Display) form names the setting, quotes the offending value (escaped)
/// and states the expected form, so it can be shown to whoever wrote the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    setting: String,
    kind: ConfigErrorKind,
    value: Option<String>,
    expected: &'static str,
}

/// What is wrong with a setting, for code that reacts to a [`ConfigError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The value is not of the expected form.
    Invalid,
    /// The same directive, feature or name is given twice.
    Duplicate,
    /// The value is well formed but contradicts another part of the same setting.
    Conflict,
    /// A configuration file or variable names a setting that does not exist.
    UnknownKey,
    /// The self-audit reports a finding at or above the severity given to
    /// [`refuse_findings_at`](crate::SecurityLayerBuilder::refuse_findings_at).
    Audit,
}

impl ConfigError {
    pub(crate) fn invalid(setting: impl Into<String>, value: &str, expected: &'static str) -> Self {
        Self::new(setting, ConfigErrorKind::Invalid, Some(value), expected)
    }

    pub(crate) fn duplicate(
        setting: impl Into<String>,
        value: &str,
        expected: &'static str,
    ) -> Self {
        Self::new(setting, ConfigErrorKind::Duplicate, Some(value), expected)
    }

    /// A secret that fails a strength rule; the value is never kept, so it cannot be shown.
    pub(crate) fn secret(setting: impl Into<String>, expected: &'static str) -> Self {
        Self::new(setting, ConfigErrorKind::Invalid, None, expected)
    }

    pub(crate) fn conflict(setting: impl Into<String>, expected: &'static str) -> Self {
        Self::new(setting, ConfigErrorKind::Conflict, None, expected)
    }

    /// A key of a configuration file that names no setting; `key` is the last segment.
    #[cfg(feature = "serde")]
    pub(crate) fn unknown(setting: impl Into<String>, key: &str, expected: &'static str) -> Self {
        Self::new(setting, ConfigErrorKind::UnknownKey, Some(key), expected)
    }

    /// A value of the wrong type, where the text of the value is not at hand.
    #[cfg(feature = "serde")]
    pub(crate) fn wrong_form(setting: impl Into<String>, expected: &'static str) -> Self {
        Self::new(setting, ConfigErrorKind::Invalid, None, expected)
    }

    /// The same error, reported against another name for the same setting: an environment
    /// variable rather than a key path.
    pub(crate) fn renamed(mut self, setting: impl Into<String>) -> Self {
        self.setting = setting.into();
        self
    }

    /// A self-audit finding that `refuse_findings_at` does not accept; `id` is a catalogue
    /// id, never configuration text.
    pub(crate) fn audit(id: &str, expected: &'static str) -> Self {
        Self::new("audit", ConfigErrorKind::Audit, Some(id), expected)
    }

    fn new(
        setting: impl Into<String>,
        kind: ConfigErrorKind,
        value: Option<&str>,
        expected: &'static str,
    ) -> Self {
        // Configuration can come from files or the environment; keep a pathological value from
        // turning one error line into megabytes.
        const MAX_VALUE_CHARS: usize = 80;
        let value = value.map(|v| match v.char_indices().nth(MAX_VALUE_CHARS) {
            Some((cut, _)) => format!("{}...", &v[..cut]),
            None => v.to_owned(),
        });
        Self {
            setting: setting.into(),
            kind,
            value,
            expected,
        }
    }

    /// The setting at fault, as a dotted path such as `content_security_policy.script-src`.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The form the setting expects, in words.
    pub fn expected(&self) -> &'static str {
        self.expected
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self.kind {
            ConfigErrorKind::Invalid => "invalid value",
            ConfigErrorKind::Duplicate => "duplicate entry",
            ConfigErrorKind::Conflict => "conflicting values",
            ConfigErrorKind::Audit => "refused finding",
            ConfigErrorKind::UnknownKey => "unknown key",
        };
        write!(f, "`{}`: {problem}", self.setting)?;
        if let Some(value) = &self.value {
            // `{:?}` escapes control characters and quotes, so the message stays one line.
            write!(f, " {value:?}")?;
        }
        write!(f, "; expected {}", self.expected)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_setting_value_and_expected_form() {
        let err = ConfigError::invalid("hsts.max_age", "a\r\nb", "a number of seconds");

        let text = err.to_string();

        assert_eq!(
            text,
            r#"`hsts.max_age`: invalid value "a\r\nb"; expected a number of seconds"#
        );
        assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    }

    #[test]
    fn long_values_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(200);

        let err = ConfigError::duplicate("x", &long, "y");

        assert!(err.to_string().len() < 200);
        assert!(err.to_string().contains("é..."));
    }
}
