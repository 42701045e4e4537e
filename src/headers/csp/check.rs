//! The rules a CSP directive and its sources must follow before the policy is rendered.

use super::ContentSecurityPolicy;
use crate::ConfigError;

/// How a directive's value is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A source list, where the nonce is allowed.
    Scripts,
    /// A source list.
    Sources,
    /// Bare tokens (`sandbox allow-forms`, `report-to group`, `trusted-types name`).
    Tokens,
    /// No value at all.
    Flag,
}

/// CSP Level 3 (§6), Trusted Types and the fenced-frame and WebRTC drafts.
pub(super) fn directive_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "default-src" | "script-src" | "script-src-elem" | "style-src" | "style-src-elem" => {
            Kind::Scripts
        }
        "script-src-attr" | "style-src-attr" | "child-src" | "connect-src" | "font-src"
        | "frame-src" | "img-src" | "manifest-src" | "media-src" | "object-src" | "worker-src"
        | "fenced-frame-src" | "prefetch-src" | "base-uri" | "form-action" | "frame-ancestors" => {
            Kind::Sources
        }
        "sandbox"
        | "report-to"
        | "report-uri"
        | "trusted-types"
        | "require-trusted-types-for"
        | "webrtc" => Kind::Tokens,
        "upgrade-insecure-requests" | "block-all-mixed-content" => Kind::Flag,
        _ => return None,
    })
}

/// Keywords that must be single-quoted (CSP3 §2.3.1, plus the hash and nonce prefixes).
const KEYWORDS: &[&str] = &[
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "strict-dynamic",
    "unsafe-hashes",
    "report-sample",
    "unsafe-allow-redirects",
    "wasm-unsafe-eval",
    "inline-speculation-rules",
    "trusted-types-eval",
    "script",
    "allow-duplicates",
];

pub(super) fn check_sources(
    at: &str,
    name: &str,
    kind: Kind,
    sources: &[String],
) -> Result<(), ConfigError> {
    if kind == Kind::Flag {
        return match sources.first() {
            Some(source) => Err(ConfigError::invalid(
                at,
                source,
                "no value for this directive",
            )),
            None => Ok(()),
        };
    }
    for source in sources {
        check_token(at, source)?;
        if kind == Kind::Tokens {
            continue;
        }
        if source == ContentSecurityPolicy::NONCE {
            if kind != Kind::Scripts {
                return Err(ConfigError::invalid(
                    at,
                    source,
                    "the nonce only in default-src, script-src, script-src-elem, style-src \
                     or style-src-elem",
                ));
            }
            continue;
        }
        check_source(at, source)?;
    }
    if sources.len() > 1 && sources.iter().any(|s| s.eq_ignore_ascii_case("'none'")) {
        return Err(ConfigError::conflict(
            at,
            "'none' as the only source of a directive; beside other sources it is ignored",
        ));
    }
    if name == "frame-ancestors"
        && let Some(bad) = sources
            .iter()
            .find(|s| s.starts_with('\'') && !matches!(s.as_str(), "'self'" | "'none'"))
    {
        return Err(ConfigError::invalid(
            at,
            bad,
            "hosts, schemes, 'self' or 'none' (frame-ancestors ignores other keywords)",
        ));
    }
    Ok(())
}

/// One token: no separators a parser would act on, nothing a header cannot carry.
fn check_token(at: &str, token: &str) -> Result<(), ConfigError> {
    let clean = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
    if clean {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            at,
            token,
            "one source expression of visible ASCII without `;`, `,` or whitespace",
        ))
    }
}

fn check_source(at: &str, source: &str) -> Result<(), ConfigError> {
    let lower = source.to_ascii_lowercase();
    if let Some(inner) = lower.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        if inner.starts_with("nonce-") {
            return Err(ConfigError::invalid(
                at,
                source,
                "`ContentSecurityPolicy::NONCE` for a fresh nonce per request, never a fixed one",
            ));
        }
        let hash = ["sha256-", "sha384-", "sha512-"]
            .iter()
            .any(|prefix| inner.starts_with(prefix) && inner.len() > prefix.len());
        if hash || KEYWORDS.contains(&inner) {
            return Ok(());
        }
        return Err(ConfigError::invalid(
            at,
            source,
            "a CSP keyword such as 'self', 'none' or 'strict-dynamic', or a 'sha256-…' hash",
        ));
    }
    let bare_keyword = KEYWORDS.contains(&lower.as_str())
        || ["nonce-", "sha256-", "sha384-", "sha512-"]
            .iter()
            .any(|prefix| lower.starts_with(prefix));
    if bare_keyword || source.contains('\'') {
        return Err(ConfigError::invalid(
            at,
            source,
            "keywords in single quotes, such as 'self' or 'none'",
        ));
    }
    Ok(())
}

pub(super) fn check_report_url(at: &str, url: &str) -> Result<(), ConfigError> {
    const EXPECTED: &str = "an https:// URL, a path such as /csp-reports, or an http:// URL on \
                            localhost, with no quote, comma, semicolon or whitespace";
    let chars_ok = !url.is_empty()
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b',' | b';'));
    let lower = url.to_ascii_lowercase();
    // The Reporting API delivers only to potentially trustworthy URLs (W3C Reporting §2.2).
    let trustworthy = lower.starts_with("https://")
        || (lower.starts_with('/') && !lower.starts_with("//"))
        || ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|host| {
                lower.strip_prefix(host).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(':') || rest.starts_with('/')
                })
            });
    if chars_ok && trustworthy {
        Ok(())
    } else {
        Err(ConfigError::invalid(at, url, EXPECTED))
    }
}
