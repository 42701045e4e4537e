//! Fuzz target `set_cookie`: arbitrary `Set-Cookie` fields from the application, through the
//! layer under one of several cookie policies.
//!
//! The policies cover the strict default, each `SameSite` default, a policy that appends
//! nothing, per-cookie exemptions, and signed and encrypted cookies with a fallback key (the
//! request may carry cookies sealed under the old key, which the layer re-issues).
//!
//! Checked on every run:
//!
//! - no panic;
//! - every `Set-Cookie` out is a valid, non-empty field value carrying `Secure`, `HttpOnly`
//!   and a recognised `SameSite` unless the policy exempts that cookie, `Secure` wherever a
//!   prefix or `SameSite=None` needs it, and a `__Host-` cookie has `Path=/` and no `Domain`;
//! - the fields out are the fields in, less the `cookie_dropped` events, plus the re-issued
//!   cookies; where no cookie is sealed, each field out starts with its field in, in order;
//! - every log record is one line without control characters.

#![no_main]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Empty;
use libfuzzer_sys::fuzz_target;
use tower_layer::Layer;
use tower_security::cookies::{CookiePolicy, SameSite, SecretKey};
use tower_security::{RequestBody, SecurityLayer};
use tower_security_fuzz::cookie::{Required, SetCookie, check_hardened};
use tower_security_fuzz::{check_response_headers, drive, logs};
use tower_service::Service;

/// The most `Set-Cookie` fields the application sends.
const MAX_COOKIES: usize = 64;
/// The current key of the sealing preset.
const KEY: &str = "p9Vx2kQ7rT4mW8zL1cB6nH3jF5sD0gYaEuIoRyXw";
/// The fallback key of the sealing preset, under which the old cookies were sealed.
const OLD_KEY: &str = "k8#Pz2!qW5@rT9$uY3%iO7^pA1&sD6*f";
/// The cookies the sealing preset signs and encrypts.
const SEALED: [&str; 2] = ["sig", "enc"];

/// A cookie policy under test and what it lets cookies go without.
struct Preset {
    /// The layer, with this policy and every other setting strict.
    layer: SecurityLayer,
    /// What every cookie must carry, before exemptions.
    default: Required,
    /// Cookies that need no `HttpOnly`.
    script_readable: &'static [&'static str],
    /// Cookies that need no `Secure`.
    plain_http: &'static [&'static str],
    /// Cookies that need a `SameSite` even though the default adds none.
    same_site_for: &'static [&'static str],
    /// Whether cookies are sealed, which rewrites their values.
    sealing: bool,
}

impl Preset {
    /// What the cookie `name` must carry under this policy.
    fn required(&self, name: &[u8]) -> Required {
        let listed = |list: &[&str]| list.iter().any(|n| n.as_bytes() == name);
        Required {
            secure: self.default.secure && !listed(self.plain_http),
            http_only: self.default.http_only && !listed(self.script_readable),
            same_site: self.default.same_site || listed(self.same_site_for),
        }
    }
}

/// Everything appended: the strict policy's promise.
const ALL: Required = Required {
    secure: true,
    http_only: true,
    same_site: true,
};

/// The presets, and the request `Cookie` values sealed under the old key, built once.
struct Setup {
    /// The policies under test.
    presets: Vec<Preset>,
    /// `name=value` pairs that the sealing preset verifies with its fallback key.
    old_cookies: Vec<(&'static str, String)>,
}

/// Builds the presets, and seals the old cookies, on first use.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let with = |policy: CookiePolicy| {
            SecurityLayer::builder()
                .cookies(policy)
                .build()
                .expect("a cookie preset builds")
        };
        let preset = |layer, default| Preset {
            layer,
            default,
            script_readable: &[],
            plain_http: &[],
            same_site_for: &[],
            sealing: false,
        };
        let nothing = Required {
            secure: false,
            http_only: false,
            same_site: false,
        };
        let lax = CookiePolicy::strict().same_site(SameSite::Lax);
        let none = CookiePolicy::strict().same_site(SameSite::None);
        let bare = || {
            CookiePolicy::strict()
                .secure(false)
                .http_only(false)
                .same_site(None)
        };
        let exempt = CookiePolicy::strict()
            .script_readable("csrf")
            .same_site_for("remember", SameSite::Lax)
            .insecure_plain_http("dev")
            .same_site_for("embed", SameSite::None);
        let sealed = CookiePolicy::strict()
            .signed(SEALED[0])
            .encrypted(SEALED[1]);
        let key = |text: &str| SecretKey::new(text).expect("the fuzz keys are strong");
        let sealing = SecurityLayer::builder()
            .cookies(sealed.clone())
            .secret_key(key(KEY))
            .fallback_secret_keys([key(OLD_KEY)])
            .build()
            .expect("the sealing preset builds");
        let presets = vec![
            preset(SecurityLayer::strict(), ALL),
            preset(with(lax), ALL),
            preset(with(none), ALL),
            preset(with(bare()), nothing),
            Preset {
                script_readable: &["csrf"],
                plain_http: &["dev"],
                ..preset(with(exempt), ALL)
            },
            Preset {
                same_site_for: &["embed", "lax"],
                ..preset(
                    with(
                        bare()
                            .same_site_for("embed", SameSite::None)
                            .same_site_for("lax", SameSite::Lax),
                    ),
                    nothing,
                )
            },
            Preset {
                sealing: true,
                ..preset(sealing, ALL)
            },
        ];

        // The old cookies come from a layer whose current key is the old one, as they would
        // have before the key was rotated.
        let old_layer = SecurityLayer::builder()
            .cookies(sealed)
            .secret_key(key(OLD_KEY))
            .build()
            .expect("the old-key layer builds");
        let plain = SEALED
            .map(|name| HeaderValue::try_from(format!("{name}=old-{name}-value")).expect("ASCII"));
        let response = exchange(&old_layer, &plain, Method::GET, StatusCode::OK, false, None);
        let old_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .zip(SEALED)
            .map(|(value, name)| {
                let pair = value
                    .as_bytes()
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or_default();
                let pair = String::from_utf8(pair.to_vec()).expect("a sealed value is ASCII");
                let value = pair
                    .strip_prefix(&format!("{name}="))
                    .expect("the name comes first");
                (name, value.to_owned())
            })
            .collect();
        Setup {
            presets,
            old_cookies,
        }
    })
}

/// One fuzz input.
#[derive(Arbitrary, Debug)]
struct Spec {
    /// Which preset, modulo their number.
    preset: u8,
    /// Each field's bytes, and whether it is marked sensitive.
    cookies: Vec<(Vec<u8>, bool)>,
    /// Which of [`STATUSES`], modulo their number.
    status: u8,
    /// Send `HEAD` rather than `GET`.
    head: bool,
    /// Answer as gRPC, which the layer finishes another way.
    grpc: bool,
    /// Send the cookies sealed under the old key, which the sealing preset re-issues.
    old_cookies: bool,
    /// A `Cookie` field of the request's own, tampered-with values and all.
    request_cookie: Option<Vec<u8>>,
}

/// The statuses the application answers with: success, redirect, client and server errors
/// (the last two scrubbed by the layer, which keeps their cookies).
const STATUSES: [u16; 6] = [200, 204, 302, 404, 500, 503];

fuzz_target!(
    init: tower_security_fuzz::init(),
    |spec: Spec| run(spec)
);

/// One run: the cookies through the layer, then every check.
fn run(spec: Spec) {
    let setup = setup();
    let preset = &setup.presets[usize::from(spec.preset) % setup.presets.len()];
    let mut sent: Vec<HeaderValue> = Vec::new();
    for (bytes, sensitive) in spec.cookies.iter().take(MAX_COOKIES) {
        if let Ok(mut value) = HeaderValue::from_bytes(bytes) {
            value.set_sensitive(*sensitive);
            sent.push(value);
        }
    }
    let mut cookie_pairs: Vec<String> = Vec::new();
    if spec.old_cookies {
        cookie_pairs.extend(setup.old_cookies.iter().map(|(n, v)| format!("{n}={v}")));
    }
    let request_cookie = spec
        .request_cookie
        .as_deref()
        .and_then(|bytes| HeaderValue::from_bytes(bytes).ok());
    let cookie = match (cookie_pairs.is_empty(), request_cookie) {
        (true, extra) => extra,
        (false, None) => Some(HeaderValue::try_from(cookie_pairs.join("; ")).expect("ASCII")),
        (false, Some(extra)) => {
            let mut joined = cookie_pairs.join("; ").into_bytes();
            joined.extend_from_slice(b"; ");
            joined.extend_from_slice(extra.as_bytes());
            HeaderValue::from_bytes(&joined).ok()
        }
    };
    let method = if spec.head { Method::HEAD } else { Method::GET };
    let status = STATUSES[usize::from(spec.status) % STATUSES.len()];
    let status = StatusCode::from_u16(status).expect("a listed status");

    let log = logs::Run::start();
    let response = exchange(&preset.layer, &sent, method, status, spec.grpc, cookie);
    let captured = log.finish();

    check_response_headers(response.headers());
    let out: Vec<&HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .collect();
    for value in &out {
        let name = SetCookie::parse(value.as_bytes()).name;
        check_hardened(value.as_bytes(), preset.required(name));
    }

    let dropped = captured.count("cookie_dropped");
    let reissued = captured.count("cookie_reissued");
    let added = if preset.sealing && spec.old_cookies {
        assert_eq!(reissued, SEALED.len(), "each old-key cookie is re-issued");
        // A cookie the application sets itself is not re-issued over it.
        SEALED
            .iter()
            .filter(|name| {
                !sent
                    .iter()
                    .any(|v| SetCookie::parse(v.as_bytes()).name == name.as_bytes())
            })
            .count()
    } else {
        assert_eq!(reissued, 0, "a re-issue without an old-key cookie");
        0
    };
    assert_eq!(
        out.len() + dropped,
        sent.len() + added,
        "{} cookies sent and {added} re-issued, {} out, {dropped} reported dropped",
        sent.len(),
        out.len()
    );
    if !preset.sealing {
        assert!(
            kept_in_order(&sent, &out),
            "the cookies out are not the cookies in, hardened, in order"
        );
    }
}

/// Sends one GET or HEAD through `layer` to an application that answers `status` with the
/// `cookies`; returns the response head.
fn exchange(
    layer: &SecurityLayer,
    cookies: &[HeaderValue],
    method: Method,
    status: StatusCode,
    grpc: bool,
    request_cookie: Option<HeaderValue>,
) -> Response<()> {
    let app = CookieApp {
        cookies: cookies.to_vec(),
        status,
        grpc,
    };
    let mut service = layer.layer(app);
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.method_mut() = method;
    *request.uri_mut() = http::Uri::from_static("/");
    let headers = request.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_static("example.com"));
    if let Some(cookie) = request_cookie {
        headers.insert(header::COOKIE, cookie);
    }

    let future = service.call(request);
    let response = drive::block_on(future).expect("the layer's future never fails");
    let (parts, body) = response.into_parts();
    let collected = drive::collect(body);
    assert!(collected.error.is_none(), "an empty body failed");
    Response::from_parts(parts, ())
}

/// The application: answers with its status and its `Set-Cookie` fields, sensitivity kept.
struct CookieApp {
    /// The `Set-Cookie` fields, in order.
    cookies: Vec<HeaderValue>,
    /// The status.
    status: StatusCode,
    /// Whether to answer with `Content-Type: application/grpc`.
    grpc: bool,
}

impl Service<Request<RequestBody<Empty<Bytes>>>> for CookieApp {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Empty<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<RequestBody<Empty<Bytes>>>) -> Self::Future {
        let mut response = Response::new(Empty::new());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.grpc {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
        }
        for cookie in &self.cookies {
            headers.append(header::SET_COOKIE, cookie.clone());
        }
        ready(Ok(response))
    }
}

/// Whether `out` is `sent` with some fields left out and the others extended, in order: each
/// field out starts with the bytes of its field in, and keeps its sensitivity.
fn kept_in_order(sent: &[HeaderValue], out: &[&HeaderValue]) -> bool {
    // `fits[i][j]`: `out[j..]` can be matched, in order, to fields of `sent[i..]`. A dropped
    // field can be a prefix of a later one (`" "` of `" a=b"`), so a greedy match may fail.
    let mut fits = vec![vec![false; out.len() + 1]; sent.len() + 1];
    for row in &mut fits {
        row[out.len()] = true;
    }
    for i in (0..sent.len()).rev() {
        for j in (0..out.len()).rev() {
            let extends = out[j].as_bytes().starts_with(sent[i].as_bytes())
                && out[j].is_sensitive() == sent[i].is_sensitive();
            fits[i][j] = (extends && fits[i + 1][j + 1]) || fits[i + 1][j];
        }
    }
    fits[0][0]
}
