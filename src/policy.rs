//! The compiled policy and the single pass every request makes through it.
//!
//! A request is inspected once on the way in, the inner service is called, and the response
//! is finished once on the way out. Each control contributes a step to each half; all of them
//! read from one immutable [`Policy`] shared by every clone of the layer. A control that
//! refuses the request answers in place of the inner service, and that answer is finished like
//! any other response.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};

use crate::cookies::{CookieRules, Reissue};
use crate::cross_origin::CompiledCrossOrigin;
use crate::events::{Event, EventKind};
use crate::headers::{CspNonce, HeaderPolicy};
use crate::reject::{Refused, Rejection};

/// Everything the layer enforces, rendered at build time.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) headers: HeaderPolicy,
    pub(crate) cross_origin: Option<CompiledCrossOrigin>,
    pub(crate) cookies: Option<CookieRules>,
}

/// What the request half of the pass hands to the response half.
#[derive(Debug)]
pub(crate) struct RequestState {
    nonce: Option<CspNonce>,
    reissue: Option<Reissue>,
    /// Kept for the events the response half may emit (a dropped cookie).
    method: Method,
    uri: Uri,
}

impl Policy {
    /// Inspects and annotates a request before the inner service sees it, or refuses it with
    /// a finished response.
    pub(crate) fn on_request<B>(
        &self,
        request: &mut Request<B>,
    ) -> Result<RequestState, Box<Response<Bytes>>> {
        if let Some(cross_origin) = &self.cross_origin {
            if let Err(refusal) = cross_origin.check(request) {
                let status = StatusCode::FORBIDDEN;
                Event {
                    kind: EventKind::CrossOriginRefused,
                    rule: refusal.rule(),
                    status: Some(status.as_u16()),
                    method: request.method(),
                    path: request.uri().path(),
                    cookie: None,
                }
                .emit();
                let rejection = Rejection::new(status, Refused::CrossOrigin, request.headers());
                return Err(Box::new(self.refuse(rejection, request)));
            }
        }

        let reissue = self
            .cookies
            .as_ref()
            .and_then(CookieRules::integrity)
            .and_then(|integrity| integrity.on_request(request));
        Ok(RequestState {
            nonce: self.headers.on_request(request),
            reissue,
            method: request.method().clone(),
            uri: request.uri().clone(),
        })
    }

    /// Finishes a response from the inner service.
    pub(crate) fn on_response<B>(&self, state: RequestState, response: &mut Response<B>) {
        if let Some(cookies) = &self.cookies {
            let path = state.uri.path();
            cookies.on_response(response.headers_mut(), state.reissue, &state.method, path);
        }
        self.headers.on_response(state.nonce, response);
    }

    /// Lists every active control, for [`SecurityLayer::controls`](crate::SecurityLayer).
    pub(crate) fn describe(&self, out: &mut Vec<crate::Control>) {
        self.headers.describe(out);
        if let Some(cookies) = &self.cookies {
            cookies.describe(out);
        }
        if let Some(cross_origin) = &self.cross_origin {
            let summary = cross_origin.describe();
            out.push(crate::Control::new(
                "session security",
                "cross-origin protection",
                summary,
            ));
        }
    }

    /// The layer's own answer to a refused request, with the policy's headers.
    fn refuse<B>(&self, rejection: Rejection, request: &Request<B>) -> Response<Bytes> {
        let mut response = rejection.into_response();
        // A refusal renders no page, so it needs no nonce.
        let state = RequestState {
            nonce: None,
            reissue: None,
            method: request.method().clone(),
            uri: request.uri().clone(),
        };
        self.on_response(state, &mut response);
        response
    }
}
