//! An application that sets and reports cookies, and the helpers the cookie tests share.

use std::convert::Infallible;
use std::fmt;

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::Full;
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::cookies::{CookiePolicy, SecretKey};
use tower_security::{RequestBody, SecurityLayer};

use super::events::CapturedEvent;

/// Two keys that pass every strength rule.
pub const KEY_A: &str = "p9Vx2kQ7rT4mW8zL1cB6nH3jF5sD0gYaEuIoRyXw";
pub const KEY_B: &str = "Zq4Lm8Tn2Rv6Xw0Yc3Hb7Jd1Kf5Gs9PaUe";

/// What the strict policy appends to a session cookie sealed from `session=user-42; Path=/`.
pub const SEALED_SUFFIX: &str = "; Path=/; Secure; HttpOnly; SameSite=Strict";

/// The body of every request and response here.
pub type Body = Full<Bytes>;

/// The request the application receives: the body, counted against the size limit.
pub type AppRequest = Request<RequestBody<Body>>;

/// The `Cookie` fields the handler received, carried back in the response's extensions.
#[derive(Clone)]
pub struct Received(pub Vec<HeaderValue>);

/// An application that answers every request with these `Set-Cookie` fields, in order, and
/// reports the `Cookie` fields it was given.
pub fn raw_app(
    set_cookies: Vec<HeaderValue>,
) -> impl Service<AppRequest, Response = Response<Body>, Error = Infallible> + fmt::Debug {
    service_fn(move |request: AppRequest| {
        let received = Received(request.headers().get_all(COOKIE).iter().cloned().collect());
        let mut response = Response::new(Full::default());
        for value in &set_cookies {
            response.headers_mut().append(SET_COOKIE, value.clone());
        }
        response.extensions_mut().insert(received);
        async move { Ok::<_, Infallible>(response) }
    })
}

/// [`raw_app`] with text `Set-Cookie` fields.
pub fn app(
    set_cookies: &[&str],
) -> impl Service<AppRequest, Response = Response<Body>, Error = Infallible> + fmt::Debug {
    raw_app(
        set_cookies
            .iter()
            .map(|value| HeaderValue::from_str(value).unwrap())
            .collect(),
    )
}

/// A `GET /account` with one `Cookie` field per entry of `cookies`, naming its host as every
/// real client does.
pub fn get(cookies: &[&str]) -> Request<Body> {
    let mut request = Request::get("/account")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    for cookie in cookies {
        let value = HeaderValue::from_str(cookie).unwrap();
        request.headers_mut().append(COOKIE, value);
    }
    request
}

/// What one request through the layer came to.
pub struct Exchange {
    /// The `Cookie` fields the handler received.
    pub received: Vec<String>,
    /// The response's `Set-Cookie` fields, in order.
    pub set_cookies: Vec<HeaderValue>,
    /// Every response header.
    pub headers: HeaderMap,
}

impl Exchange {
    /// The `Set-Cookie` fields as text, for cookies written in ASCII.
    pub fn set_cookie_text(&self) -> Vec<&str> {
        self.set_cookies
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect()
    }
}

/// Sends `request` through `service` and records what the handler saw and what came out.
pub async fn send<S, B>(service: S, request: Request<Body>) -> Exchange
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: fmt::Debug,
{
    let response = service.oneshot(request).await.unwrap();

    let received = response.extensions().get::<Received>().unwrap().0.iter();
    Exchange {
        received: received
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect(),
        set_cookies: response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .cloned()
            .collect(),
        headers: response.headers().clone(),
    }
}

/// The `Set-Cookie` fields `layer` makes of `set_cookies`.
pub async fn hardened(layer: &SecurityLayer, set_cookies: &[&str]) -> Vec<String> {
    let exchange = send(layer.layer(app(set_cookies)), get(&[])).await;
    exchange
        .set_cookie_text()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

pub fn layer_with(cookies: CookiePolicy) -> SecurityLayer {
    SecurityLayer::builder().cookies(cookies).build().unwrap()
}

pub fn key(text: &str) -> SecretKey {
    SecretKey::new(text).unwrap()
}

/// A layer sealing the cookies `policy` names under `current`, still accepting `fallbacks`.
pub fn sealing(policy: &CookiePolicy, current: &str, fallbacks: &[&str]) -> SecurityLayer {
    SecurityLayer::builder()
        .cookies(policy.clone())
        .secret_key(key(current))
        .fallback_secret_keys(fallbacks.iter().map(|text| key(text)))
        .build()
        .unwrap()
}

/// The sealing modes, with whether the plain value stays readable in the sealed one.
pub fn sealing_modes() -> [(&'static str, CookiePolicy, bool); 2] {
    [
        ("signed", CookiePolicy::strict().signed("session"), true),
        (
            "encrypted",
            CookiePolicy::strict().encrypted("session"),
            false,
        ),
    ]
}

/// The `Set-Cookie` a layer with only `current` makes of `session=user-42`.
pub async fn sealed_under(policy: &CookiePolicy, current: &str) -> String {
    let layer = sealing(policy, current, &[]);
    let issued = send(layer.layer(app(&["session=user-42"])), get(&[])).await;
    issued.set_cookie_text()[0].to_owned()
}

/// The value of a `Set-Cookie` field's cookie-pair.
pub fn value_of(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1
}

/// `value` with the ASCII character at `at` replaced by another base64 character.
pub fn flip(value: &str, at: usize) -> String {
    let replacement = if &value[at..=at] == "A" { "B" } else { "A" };
    format!("{}{replacement}{}", &value[..at], &value[at + 1..])
}

/// The value of the `session` cookie in a `Cookie` field.
pub fn session_value(cookie: &str) -> &str {
    let pair = cookie.split("; ").find(|pair| pair.starts_with("session="));
    pair.unwrap().trim_start_matches("session=")
}

/// Whether the event's `cookie` field names `name`, escaped the way the log shows it.
pub fn names_cookie(event: &CapturedEvent, name: &str) -> bool {
    event
        .field("cookie")
        .is_some_and(|cookie| cookie.contains(&format!("{name:?}")))
}
