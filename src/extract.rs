//! [`CspNonce`] as an axum extractor (feature `axum`).
//!
//! # Example
//!
//! ```
//! use axum::{response::Html, routing::get, Router};
//! use tower_security::{CspNonce, SecurityLayer};
//!
//! async fn page(nonce: CspNonce) -> Html<String> {
//!     Html(format!(r#"<script nonce="{nonce}">console.log("trusted")</script>"#))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(page))
//!     .layer(SecurityLayer::strict());
//! ```

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, header};

use crate::CspNonce;

/// Rejection of the [`CspNonce`] extractor: the request did not pass through a
/// [`SecurityLayer`](crate::SecurityLayer) whose CSP uses a nonce.
///
/// This is a wiring mistake in the server, not a client error, so it answers
/// `500 Internal Server Error` with a generic body. Extract `Option<CspNonce>` where a route
/// may legitimately run without the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingCspNonce;

impl std::fmt::Display for MissingCspNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no CSP nonce: the request did not pass through a nonce-based SecurityLayer")
    }
}

impl std::error::Error for MissingCspNonce {}

impl IntoResponse for MissingCspNonce {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Internal Server Error",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = MissingCspNonce;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CspNonce>()
            .copied()
            .ok_or(MissingCspNonce)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CspNonce {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<CspNonce>().copied())
    }
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    #[tokio::test]
    async fn extracts_the_nonce_or_rejects_with_a_generic_500() {
        let (mut with, ()) = Request::new(()).into_parts();
        let nonce = CspNonce::generate();
        with.extensions.insert(nonce);
        let (mut without, ()) = Request::new(()).into_parts();

        let found = <CspNonce as FromRequestParts<()>>::from_request_parts(&mut with, &()).await;
        let missing =
            <CspNonce as FromRequestParts<()>>::from_request_parts(&mut without, &()).await;
        let optional =
            <CspNonce as OptionalFromRequestParts<()>>::from_request_parts(&mut without, &()).await;

        assert_eq!(found, Ok(nonce));
        assert_eq!(missing, Err(MissingCspNonce));
        assert_eq!(optional, Ok(None));
        let response = MissingCspNonce.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
