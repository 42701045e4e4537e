//! Configuration from environment variables, in the names enterprise policies and Django-style
//! deployments already use.
//!
//! The variables are documented on [`SecurityLayerBuilder::from_env`].
//!
//! Names are matched exactly; values ignore case and surrounding spaces; an empty variable
//! counts as unset. The session variables apply to every cookie the application sends, not
//! only the session cookie, because the layer hardens them all.

use crate::cookies::{SameSite, SecretKey};
use crate::{ConfigError, SecurityLayer, SecurityLayerBuilder};

const SECURE: &str = "SESSION_COOKIE_SECURE";
const HTTPONLY: &str = "SESSION_COOKIE_HTTPONLY";
const SAMESITE: &str = "SESSION_COOKIE_SAMESITE";
const SECRET_KEY: &str = "SECRET_KEY";
const SECRET_KEY_FALLBACKS: &str = "SECRET_KEY_FALLBACKS";

impl SecurityLayer {
    /// The strict policy adjusted by the environment variables of the
    /// [`from_env`](SecurityLayerBuilder::from_env) table, built.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable and the values it accepts.
    pub fn from_env() -> Result<Self, ConfigError> {
        SecurityLayerBuilder::from_env()?.build()
    }
}

impl SecurityLayerBuilder {
    /// Starts from [`SecurityLayer::strict`] and applies these environment variables:
    ///
    /// | variable | accepted values | effect |
    /// |---|---|---|
    /// | `SESSION_COOKIE_SECURE` | `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` | `Secure` |
    /// | `SESSION_COOKIE_HTTPONLY` | the same | `HttpOnly` |
    /// | `SESSION_COOKIE_SAMESITE` | `Strict`, `Lax` or `None` | `SameSite`, where unset |
    /// | `SECRET_KEY` | at least 32 random bytes | signs and encrypts cookies |
    /// | `SECRET_KEY_FALLBACKS` | older keys, comma-separated, newest first | still verify |
    ///
    /// A value that verifies only under a fallback key is re-issued under `SECRET_KEY`.
    ///
    /// Every other setting is read from its `TOWER_SECURITY_*` variable first (the table in
    /// [`config`](crate::config)); the session variables above are applied after them.
    ///
    /// Values ignore case and surrounding spaces; an empty variable counts as unset. The
    /// session variables apply to every cookie the application sends. `SECRET_KEY` is checked
    /// whenever it is set (see [`SecretKey`]), and required once a cookie is signed or
    /// encrypted; its value never appears in an error, `Debug` output or a log.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] whose [`setting`](ConfigError::setting) is the variable's name.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_security::SecurityLayerBuilder;
    ///
    /// let vars = |name: &str| match name {
    ///     "SESSION_COOKIE_SECURE" => Some("maybe".to_owned()),
    ///     _ => None,
    /// };
    /// let err = SecurityLayerBuilder::from_vars(vars).unwrap_err();
    /// assert_eq!(err.setting(), "SESSION_COOKIE_SECURE");
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        SecurityLayer::builder().with_env()
    }

    /// Like [`from_env`](Self::from_env), reading the variables through `lookup` instead of
    /// the process environment: a parsed `.env` file, a secrets manager, or a test's table.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl FnMut(&str) -> Option<String>) -> Result<Self, ConfigError> {
        SecurityLayer::builder().with_vars(lookup)
    }

    /// Applies the [`from_env`](Self::from_env) variables to this builder, keeping the rest of
    /// its cookie policy (the cookies it signs or exempts, say).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    ///
    /// # Example
    ///
    /// ```
    /// use tower_security::cookies::CookiePolicy;
    /// use tower_security::SecurityLayer;
    ///
    /// let vars = |name: &str| match name {
    ///     "SESSION_COOKIE_SAMESITE" => Some("Lax".to_owned()),
    ///     "SECRET_KEY" => Some("q7Vd2Lx9Rk4Tz8Wm1Nc6Hp3Jf5Sb0GaY".to_owned()),
    ///     _ => None,
    /// };
    /// let layer = SecurityLayer::builder()
    ///     .cookies(CookiePolicy::strict().signed("prefs"))
    ///     .with_vars(vars)?
    ///     .build()?;
    /// # drop(layer);
    /// # Ok::<(), tower_security::ConfigError>(())
    /// ```
    pub fn with_env(self) -> Result<Self, ConfigError> {
        let this = self.apply(&crate::config::PolicyConfig::from_env()?)?;
        let mut values = Vec::with_capacity(5);
        for name in [SECURE, HTTPONLY, SAMESITE, SECRET_KEY, SECRET_KEY_FALLBACKS] {
            match std::env::var(name) {
                Ok(value) => values.push((name, value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(ConfigError::secret(name, "UTF-8 text"));
                }
            }
        }
        this.with_session_vars(|name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// Like [`with_env`](Self::with_env), reading the variables through `lookup`.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn with_vars(
        self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let config = crate::config::PolicyConfig::from_vars(&mut lookup)?;
        self.apply(&config)?.with_session_vars(lookup)
    }

    /// Applies the session variables only.
    fn with_session_vars(
        mut self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut get = |name| lookup(name).filter(|v| !v.trim().is_empty());
        let secure = get(SECURE).map(|v| parse_bool(SECURE, &v)).transpose()?;
        let http_only = get(HTTPONLY)
            .map(|v| parse_bool(HTTPONLY, &v))
            .transpose()?;
        let same_site = get(SAMESITE).map(|v| parse_same_site(&v)).transpose()?;
        let key = get(SECRET_KEY)
            .map(|v| SecretKey::named(SECRET_KEY, v.trim().to_owned()))
            .transpose()?;
        let fallbacks = get(SECRET_KEY_FALLBACKS)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| SecretKey::named(SECRET_KEY_FALLBACKS, k.to_owned()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        if same_site == Some(SameSite::None) && secure == Some(false) {
            return Err(ConfigError::conflict(
                SAMESITE,
                "SESSION_COOKIE_SECURE=true with SameSite=None: browsers refuse a \
                 SameSite=None cookie without Secure",
            ));
        }

        if secure.is_some() || http_only.is_some() || same_site.is_some() {
            let cookies = self.cookies.take().unwrap_or_default();
            self.cookies = Some(cookies.with_flags(secure, http_only, same_site));
        }
        self.key_setting = SECRET_KEY;
        if let Some(key) = key {
            self = self.secret_key(key);
        }
        if !fallbacks.is_empty() {
            self = self.fallback_secret_keys(fallbacks);
        }
        Ok(self)
    }
}

pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::invalid(
            name,
            value,
            "true or false (also 1/0, yes/no, on/off)",
        )),
    }
}

fn parse_same_site(value: &str) -> Result<SameSite, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "strict" => Ok(SameSite::Strict),
        "lax" => Ok(SameSite::Lax),
        "none" => Ok(SameSite::None),
        _ => Err(ConfigError::invalid(SAMESITE, value, "Strict, Lax or None")),
    }
}
