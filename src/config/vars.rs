//! [`PolicyConfig::from_vars`]: the `TOWER_SECURITY_*` variables, parsed without serde.

use std::collections::BTreeMap;

use super::{PolicyConfig, SETTINGS, Switch, expected};
use crate::env::parse_bool;
use crate::{ConfigError, SecurityLayerBuilder};

/// The prefix of every variable [`PolicyConfig::from_vars`] reads.
pub const VARIABLE_PREFIX: &str = "TOWER_SECURITY_";

/// The variable for the key path `path`: `headers.hsts.max_age` is
/// `TOWER_SECURITY_HEADERS_HSTS_MAX_AGE`.
pub(crate) fn variable(path: &str) -> String {
    let mut name = String::from(VARIABLE_PREFIX);
    name.extend(path.chars().map(|c| match c {
        '.' => '_',
        c => c.to_ascii_uppercase(),
    }));
    name
}

impl PolicyConfig {
    /// Reads the `TOWER_SECURITY_*` variables of the [table](crate::config) from the process
    /// environment.
    ///
    /// # Errors
    ///
    /// As [`from_vars`](Self::from_vars).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads the `TOWER_SECURITY_*` variables of the [table](crate::config) through `lookup`:
    /// a parsed `.env` file, a secrets manager, or a test's table. An empty variable counts as
    /// unset.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] whose [`setting`](ConfigError::setting) is the variable's name.
    pub fn from_vars(mut lookup: impl FnMut(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for (path, _) in SETTINGS {
            let name = variable(path);
            let Some(value) = lookup(&name).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            set(&mut config, path, &value).map_err(|err| err.renamed(&name))?;
        }
        // Values of the right type but the wrong form, such as an unknown `X-Frame-Options`
        // token, are caught by the shared conversion.
        if let Err(err) = SecurityLayerBuilder::strict().apply(&config) {
            let name = variable(err.setting());
            return Err(err.renamed(name));
        }
        Ok(config)
    }
}

/// Sets the field at `path` from the variable's text.
fn set(c: &mut PolicyConfig, path: &str, v: &str) -> Result<(), ConfigError> {
    let (section, key) = path.split_once('.').unwrap_or((path, ""));
    match section {
        "headers" => set_header(c.headers.get_or_insert_default(), key, path, v)?,
        "cookies" if key.is_empty() => c.cookies = Some(off(path, v)?),
        "cookies" => {
            let s = on(&mut c.cookies);
            match key {
                "secure" => s.secure = Some(boolean(path, v)?),
                "http_only" => s.http_only = Some(boolean(path, v)?),
                "same_site" => s.same_site = Some(switch(v, str::to_owned)),
                "script_readable" => s.script_readable = Some(list(v)),
                "same_site_for" => s.same_site_for = Some(map(path, v, |_, v| Ok(v.to_owned()))?),
                "insecure_plain_http" => s.insecure_plain_http = Some(list(v)),
                "signed" => s.signed = Some(list(v)),
                _ => s.encrypted = Some(list(v)),
            }
        }
        "limits" if key.is_empty() => c.limits = Some(off(path, v)?),
        "limits" => {
            let s = on(&mut c.limits);
            match key {
                "max_body" => {
                    s.max_body = Some(match is_off(v) {
                        true => Switch::Off,
                        false => Switch::On(number(path, v)?),
                    });
                }
                "max_body_for" => s.max_body_for = Some(map(path, v, number)?),
                "max_header_fields" => s.max_header_fields = Some(number(path, v)?),
                "max_header_bytes" => s.max_header_bytes = Some(number(path, v)?),
                _ => s.max_header_value_bytes = Some(number(path, v)?),
            }
        }
        "uri" if key.is_empty() => c.uri = Some(off(path, v)?),
        "uri" => {
            let s = on(&mut c.uri);
            match key {
                "relax" => s.relax = Some(list(v)),
                "max_target_length" => s.max_target_length = Some(number(path, v)?),
                "max_query_length" => s.max_query_length = Some(number(path, v)?),
                _ => s.max_query_parameters = Some(number(path, v)?),
            }
        }
        "methods" => c.methods = Some(switch(v, list)),
        "hosts" => c.hosts = Some(switch(v, list)),
        "trusted_proxies" => c.trusted_proxies = Some(list(v)),
        "https" if key.is_empty() => c.https = Some(off(path, v)?),
        "https" => {
            let s = on(&mut c.https);
            match key {
                "canonical_host" => s.canonical_host = Some(v.trim().to_owned()),
                _ => s.exempt_paths = Some(list(v)),
            }
        }
        "development_mode" => c.development_mode = Some(boolean(path, v)?),
        "request_ids" => c.request_ids = Some(boolean(path, v)?),
        "scrub" => {
            let s = c.scrub.get_or_insert_default();
            match key {
                "server_errors" => s.server_errors = Some(boolean(path, v)?),
                _ => s.client_errors = Some(boolean(path, v)?),
            }
        }
        "cross_origin" if key.is_empty() => c.cross_origin = Some(off(path, v)?),
        "cross_origin" => {
            let s = on(&mut c.cross_origin);
            match key {
                "trusted_origins" => s.trusted_origins = Some(list(v)),
                _ => s.exempt_paths = Some(list(v)),
            }
        }
        _ => {
            let s = c.audit.get_or_insert_default();
            match key {
                "silence" => s.silence = Some(list(v)),
                _ => s.refuse_at = Some(v.trim().to_owned()),
            }
        }
    }
    Ok(())
}

fn set_header(
    h: &mut super::HeadersConfig,
    key: &str,
    path: &str,
    v: &str,
) -> Result<(), ConfigError> {
    let token = |v: &str| v.trim().to_owned();
    match key {
        "csp" => h.csp = Some(switch(v, directives)),
        "csp_report_only" => h.csp_report_only = Some(switch(v, directives)),
        "csp_report_to" => h.csp_report_to = Some(token(v)),
        "hsts" => h.hsts = Some(off(path, v)?),
        "hsts.max_age" => on(&mut h.hsts).max_age = Some(number(path, v)?),
        "hsts.include_subdomains" => {
            on(&mut h.hsts).include_subdomains = Some(boolean(path, v)?);
        }
        "hsts.preload" => on(&mut h.hsts).preload = Some(boolean(path, v)?),
        "frame_options" => h.frame_options = Some(switch(v, token)),
        "nosniff" => h.nosniff = Some(boolean(path, v)?),
        "referrer_policy" => h.referrer_policy = Some(switch(v, token)),
        "permissions_policy" => h.permissions_policy = Some(switch(v, list)),
        "coop" => h.coop = Some(switch(v, token)),
        "corp" => h.corp = Some(switch(v, token)),
        "coep" => h.coep = Some(switch(v, token)),
        "origin_agent_cluster" => h.origin_agent_cluster = Some(boolean(path, v)?),
        "dns_prefetch" => h.dns_prefetch = Some(boolean(path, v)?),
        "cross_domain" => h.cross_domain = Some(boolean(path, v)?),
        "no_store" => h.no_store = Some(boolean(path, v)?),
        "xss_protection" => h.xss_protection = Some(switch(v, token)),
        "strip_fingerprints" => h.strip_fingerprints = Some(boolean(path, v)?),
        "strip_headers" => h.strip_headers = Some(list(v)),
        _ => h.override_app_headers = Some(boolean(path, v)?),
    }
    Ok(())
}

/// The section's settings, switching it on if it was unset or off.
fn on<T: Default>(section: &mut Option<Switch<T>>) -> &mut T {
    if !matches!(section, Some(Switch::On(_))) {
        *section = Some(Switch::On(T::default()));
    }
    match section {
        Some(Switch::On(section)) => section,
        _ => unreachable!("the section was switched on above"),
    }
}

/// `false` or `off` switches a setting off; every other value is the setting's.
fn is_off(value: &str) -> bool {
    let value = value.trim();
    value.eq_ignore_ascii_case("false") || value.eq_ignore_ascii_case("off")
}

fn switch<T>(value: &str, on: impl FnOnce(&str) -> T) -> Switch<T> {
    match is_off(value) {
        true => Switch::Off,
        false => Switch::On(on(value)),
    }
}

/// A section's own variable, which only switches it off.
fn off<T>(path: &str, value: &str) -> Result<Switch<T>, ConfigError> {
    match is_off(value) {
        true => Ok(Switch::Off),
        false => Err(ConfigError::invalid(path, value, expected(path))),
    }
}

fn boolean(path: &str, value: &str) -> Result<bool, ConfigError> {
    parse_bool(path, value)
}

fn number<N: std::str::FromStr>(path: &str, value: &str) -> Result<N, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::invalid(path, value, expected(path)))
}

/// A comma-separated list; empty entries are skipped.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// CSP directives, separated by `;` as in the header.
fn directives(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma-separated list of `key=value` pairs.
fn map<T>(
    path: &str,
    value: &str,
    parse: impl Fn(&str, &str) -> Result<T, ConfigError>,
) -> Result<BTreeMap<String, T>, ConfigError> {
    list(value)
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_owned(), parse(path, v.trim())?)),
            None => Err(ConfigError::invalid(path, entry, expected(path))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_documented_table_lists_exactly_the_variables_read() {
        let read = RefCell::new(BTreeSet::new());
        let table = include_str!("../../docs/configuration.md");

        PolicyConfig::from_vars(|name| {
            read.borrow_mut().insert(name.to_owned());
            None
        })
        .unwrap();
        let documented: BTreeSet<String> = table
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|line| line.split_once('`'))
            .map(|(name, _)| name.to_owned())
            .filter(|name| name.starts_with(VARIABLE_PREFIX))
            .collect();

        assert_eq!(documented, read.into_inner());
    }

    #[test]
    fn variable_names_follow_the_key_path() {
        assert_eq!(
            variable("headers.hsts.max_age"),
            "TOWER_SECURITY_HEADERS_HSTS_MAX_AGE"
        );
    }
}
