//! The compiled policy and the single pass every request makes through it.
//!
//! A request is inspected once on the way in, the inner service is called, and the response
//! is finished once on the way out. Each control contributes a step to each half; all of them
//! read from one immutable [`Policy`] shared by every clone of the layer.

use http::{Request, Response};

use crate::headers::{CspNonce, HeaderPolicy};

/// Everything the layer enforces, rendered at build time.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) headers: HeaderPolicy,
}

/// What the request half of the pass hands to the response half.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestState {
    nonce: Option<CspNonce>,
}

impl Policy {
    /// Inspects and annotates a request before the inner service sees it.
    pub(crate) fn on_request<B>(&self, request: &mut Request<B>) -> RequestState {
        RequestState {
            nonce: self.headers.on_request(request),
        }
    }

    /// Finishes a response from the inner service.
    pub(crate) fn on_response<B>(&self, state: RequestState, response: &mut Response<B>) {
        self.headers.on_response(state.nonce, response);
    }
}
