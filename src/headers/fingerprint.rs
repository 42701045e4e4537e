//! Response headers that disclose the server's stack, removed before a response leaves.

use http::HeaderMap;

/// The OWASP Secure Headers Project's list of response headers to remove
/// (`headers_remove.json`, 2026-07-19), lowercased and sorted, so a binary search finds a
/// name. These are the names
/// [`strip_fingerprint_headers`](crate::SecurityLayerBuilder::strip_fingerprint_headers)
/// removes; the list is embedded so the crate never reads a file at run time.
///
/// ```
/// use tower_security::headers::FINGERPRINT_HEADERS;
///
/// assert!(FINGERPRINT_HEADERS.binary_search(&"x-powered-by").is_ok());
/// assert!(FINGERPRINT_HEADERS.binary_search(&"content-type").is_err());
/// ```
pub const FINGERPRINT_HEADERS: &[&str] = &[
    "$wsep",
    "host-header",
    "k-proxy-request",
    "liferay-portal",
    "oraclecommercecloud-version",
    "pega-host",
    "powered-by",
    "product",
    "server",
    "sourcemap",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-atmosphere-error",
    "x-atmosphere-first-request",
    "x-atmosphere-tracking-id",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-spanid",
    "x-b3-traceid",
    "x-backside-transport",
    "x-beserver",
    "x-calculatedbetarget",
    "x-cf-powered-by",
    "x-cms",
    "x-cocoon-version",
    "x-content-encoded-by",
    "x-datadog-origin",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-tags",
    "x-datadog-trace-id",
    "x-diaginfo",
    "x-dtagentid",
    "x-dthealthcheck",
    "x-dtinjectedservlet",
    "x-envoy-attempt-count",
    "x-envoy-external-address",
    "x-envoy-internal",
    "x-envoy-original-dst-host",
    "x-envoy-upstream-service-time",
    "x-feserver",
    "x-framework",
    "x-generated-by",
    "x-generator",
    "x-gitlab-meta",
    "x-jitsi-release",
    "x-joomla-version",
    "x-kong-admin-latency",
    "x-kong-client-latency",
    "x-kong-proxy-latency",
    "x-kong-request-id",
    "x-kong-response-latency",
    "x-kong-third-party-latency",
    "x-kong-total-latency",
    "x-kong-upstream-latency",
    "x-kong-upstream-status",
    "x-kubernetes-pf-flowschema-ui",
    "x-kubernetes-pf-prioritylevel-uid",
    "x-litespeed-cache",
    "x-litespeed-cache-control",
    "x-litespeed-purge",
    "x-litespeed-tag",
    "x-litespeed-vary",
    "x-mod-pagespeed",
    "x-nextjs-cache",
    "x-nextjs-matched-path",
    "x-nextjs-page",
    "x-nextjs-redirect",
    "x-old-content-length",
    "x-oneagent-js-injection",
    "x-owa-version",
    "x-page-speed",
    "x-php-version",
    "x-powered-by",
    "x-powered-by-plesk",
    "x-powered-cms",
    "x-redirect-by",
    "x-ruxit-js-agent",
    "x-server-powered-by",
    "x-sourcefiles",
    "x-sourcemap",
    "x-turbo-charged-by",
    "x-tyk-trace-id",
    "x-umbraco-version",
    "x-varnish-backend",
    "x-varnish-server",
    "x-woodpecker-version",
];

/// For each first byte, a bit per name length (lengths over 63 share bit 63) of the names
/// above: most response headers fail this test and skip the search. `content-type` does,
/// although a listed name starts with `c`, because none of those is 12 bytes long.
const fn lengths_by_first_byte() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < FINGERPRINT_HEADERS.len() {
        let name = FINGERPRINT_HEADERS[i].as_bytes();
        let len = if name.len() > 63 { 63 } else { name.len() };
        table[name[0] as usize] |= 1 << len;
        i += 1;
    }
    table
}

static LENGTHS_BY_FIRST_BYTE: [u64; 256] = lengths_by_first_byte();

pub(crate) fn is_fingerprint(name: &str) -> bool {
    let Some(&first) = name.as_bytes().first() else {
        return false;
    };
    let bit = 1u64 << name.len().min(63);
    LENGTHS_BY_FIRST_BYTE[usize::from(first)] & bit != 0
        && FINGERPRINT_HEADERS.binary_search(&name).is_ok()
}

/// Removes every header on the list, and every name in `extra`, from `headers`.
///
/// The common case, a response with none of them, costs one pass over the response's names
/// and no allocation.
pub(crate) fn strip(headers: &mut HeaderMap, extra: &[http::HeaderName]) {
    let found = headers
        .keys()
        .any(|name| is_fingerprint(name.as_str()) || extra.contains(name));
    if !found {
        return;
    }
    let doomed: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| is_fingerprint(name.as_str()) || extra.contains(name))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn list_is_sorted_lowercase_and_valid_header_names() {
        assert!(FINGERPRINT_HEADERS.windows(2).all(|w| w[0] < w[1]));
        for name in FINGERPRINT_HEADERS {
            assert_eq!(name.to_ascii_lowercase(), *name);
            assert!(HeaderName::from_bytes(name.as_bytes()).is_ok(), "{name}");
        }
    }

    #[test]
    fn strips_listed_and_extra_headers_only() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("server", "nginx/1.25"),
            ("x-powered-by", "Express"),
            ("x-powered-by", "PHP/8"),
            ("x-aspnet-version", "4.0"),
            ("x-internal-build", "abc"),
            ("content-type", "text/html"),
            ("x-request-id", "1"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let extra = [HeaderName::from_static("x-internal-build")];

        strip(&mut headers, &extra);

        // Removal may move other names around; their order carries no meaning (RFC 9110 §5.3).
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-request-id"]);
    }
}
