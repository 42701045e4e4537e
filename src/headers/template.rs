//! The pre-built response headers of a [`HeaderPolicy`] and their merge with the
//! application's: the common path of every response.
//!
//! A template is a `HeaderMap` holding every header a response gets that does not change
//! from one request to the next. Cloning it copies entries without hashing a name; the
//! application's headers are then moved over it, so only their names are hashed.
//!
//! What a response looks like after the merge: the application's own values stay, the
//! policy's are added around them.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{header, Request, Response};
//! use tower::{service_fn, Layer, ServiceExt};
//! use tower_security::SecurityLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = service_fn(|_: Request<_>| async {
//!     let mut response = Response::new(String::from("{}"));
//!     let headers = response.headers_mut();
//!     headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
//!     headers.insert("x-request-id", "from-the-app".parse().unwrap());
//!     Ok::<_, Infallible>(response)
//! });
//! let service = SecurityLayer::strict().layer(app);
//!
//! let request = Request::builder().header(header::HOST, "example.com").body(String::new());
//! let response = service.oneshot(request.unwrap()).await.unwrap();
//!
//! assert_eq!(response.status(), 200);
//! let headers = response.headers();
//! assert_eq!(headers[header::CONTENT_TYPE], "application/json");
//! assert_eq!(headers["x-request-id"], "from-the-app");
//! assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("'nonce-"));
//! assert!(headers.values().all(|value| !value.is_empty()));
//! # }
//! ```

use http::header;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{CspNonce, HeaderPolicy, reporting_endpoints};
use crate::transport::request_id::X_REQUEST_ID;

/// Which template a response takes: plain HTTP or not, whether `no-store` is added, and
/// whether the application's response has a `Content-Type`.
fn template_index(plain: bool, no_store: bool, typed: bool) -> usize {
    usize::from(plain) * 4 + usize::from(no_store) * 2 + usize::from(typed)
}

/// What a template's slot holds until the response's own value replaces it; never sent.
const SLOT: HeaderValue = HeaderValue::from_static("");

impl HeaderPolicy {
    /// Tells the policy whether responses get an `X-Request-Id`, which then has a slot in
    /// the templates.
    pub(crate) fn issuing_request_ids(mut self, issuing: bool) -> Self {
        if self.request_id_slot != issuing {
            self.request_id_slot = issuing;
            self.build_templates();
        }
        self
    }

    pub(super) fn build_templates(&mut self) {
        let mut templates: [HeaderMap; 8] = Default::default();
        for plain in [false, true] {
            for no_store in [false, true] {
                for typed in [false, true] {
                    templates[template_index(plain, no_store, typed)] =
                        self.template(plain, no_store, typed);
                }
            }
        }
        self.templates = templates;
    }

    /// The headers every response gets for a transport and a caching decision, all but a
    /// CSP that carries a nonce; then slots for the headers whose values differ from one
    /// response to the next.
    ///
    /// A clone of a `HeaderMap` has room for exactly the entries it holds, so a response's
    /// first name the template lacks would reallocate the whole map. The slots are entries
    /// for the names nearly every response adds, the application's `Content-Type` (in the
    /// `typed` templates, picked only when the response has one), the request id and a CSP
    /// with a nonce, so that filling them replaces a value in place.
    fn template(&self, plain: bool, no_store: bool, typed: bool) -> HeaderMap {
        let https = if plain { Some(false) } else { None };
        let mut map = HeaderMap::with_capacity(self.fixed.len() + 8);
        for (name, csp) in self.csps(https).filter(|(_, csp)| !csp.uses_nonce()) {
            map.insert(name, csp.value(None));
        }
        if let Some(hsts) = self.hsts.as_ref().filter(|_| !plain) {
            map.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        if let Some(endpoints) = self.reporting_endpoints.as_ref().filter(|_| !plain) {
            map.insert(reporting_endpoints(), endpoints.clone());
        }
        for (name, value) in self.fixed.iter() {
            map.insert(name, value.clone());
        }
        if let Some(no_store) = self.no_store.as_ref().filter(|_| no_store) {
            map.insert(header::CACHE_CONTROL, no_store.clone());
        }
        if typed {
            map.insert(header::CONTENT_TYPE, SLOT);
        }
        if self.request_id_slot {
            map.insert(X_REQUEST_ID, SLOT);
        }
        for (name, _) in self.csps(https).filter(|(_, csp)| csp.uses_nonce()) {
            map.insert(name, SLOT);
        }
        map
    }

    /// The common case, where the application's headers win: the policy's headers are a
    /// clone of a pre-built template, and the application's are moved over it, so only the
    /// application's names are hashed. A name the application set replaces the template's.
    pub(super) fn merge(
        &self,
        nonce: Option<CspNonce>,
        https: Option<bool>,
        request_id: Option<&HeaderValue>,
        headers: &mut HeaderMap,
    ) {
        // One pass over the application's names (a response has a few) rather than a
        // hashed lookup for each name that matters here.
        let (mut caching, mut typed, mut app_id, mut app_csp) = (false, false, false, [false; 2]);
        for name in headers.keys() {
            if name == header::CONTENT_TYPE {
                typed = true;
            } else if name == header::CACHE_CONTROL || name == header::EXPIRES {
                caching = true;
            } else if name == header::CONTENT_SECURITY_POLICY {
                app_csp[0] = true;
            } else if name == header::CONTENT_SECURITY_POLICY_REPORT_ONLY {
                app_csp[1] = true;
            } else if name == X_REQUEST_ID {
                app_id = true;
            }
        }
        let plain = https == Some(false);
        let no_store = self.no_store.is_some() && !caching;
        let mut merged = self.templates[template_index(plain, no_store, typed)].clone();
        let mut last: Option<HeaderName> = None;
        for (name, value) in std::mem::take(headers) {
            // The first field of each name comes with it; the others follow with `None`.
            match name {
                Some(name) => {
                    merged.insert(&name, value);
                    last = Some(name);
                }
                None => {
                    if let Some(name) = &last {
                        merged.append(name, value);
                    }
                }
            }
        }
        if !app_id {
            match request_id {
                Some(id) => {
                    merged.insert(X_REQUEST_ID, id.clone());
                }
                // Only a response without a request's context (none is made so today) would
                // leave the slot empty; it must not go out.
                None if self.request_id_slot => {
                    merged.remove(X_REQUEST_ID);
                }
                None => {}
            }
        }
        if self.nonce {
            for (name, csp) in self.csps(https).filter(|(_, csp)| csp.uses_nonce()) {
                let app_set = app_csp[usize::from(name != header::CONTENT_SECURITY_POLICY)];
                if !app_set {
                    merged.insert(name, csp.value(nonce.as_ref()));
                }
            }
        }
        *headers = merged;
    }
}
