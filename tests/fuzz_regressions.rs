//! Inputs the fuzz targets in `fuzz/` found to break a promise of the layer, each replayed
//! through the public API so that the fix stays in place.

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use tower::{BoxError, ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::guards::limits::RequestLimits;
use tower_security::{Refused, RequestBody, SecurityLayer};

mod common;

use common::events::capture;

/// Found by the `request` target: a handler that passes the body's `LengthLimitError` on as
/// its own error, as the error's documentation allows, got its client a scrubbed `500` rather
/// than the promised `413`.
///
/// The input: the layer with a 4 KiB body limit and no request guard but the limits, a
/// `PATCH` to the target `b` over HTTP/1.0, with 11,636 bytes whose exact size is known but
/// not declared in a `Content-Length`.
#[tokio::test]
async fn a_body_error_passed_on_by_the_handler_is_still_a_413() {
    let (_guard, captured) = capture();
    let layer = SecurityLayer::builder()
        .request_limits(RequestLimits::strict().max_body_size(4 << 10))
        .allowed_hosts(None)
        .allowed_methods(None)
        .uri_rules(None)
        .cross_origin_protection(None)
        .https(None)
        .scrub_client_errors(true)
        .build()
        .unwrap();
    let service = layer.layer(service_fn(
        |request: Request<RequestBody<Full<Bytes>>>| async move {
            // The shortest handler there is: the body's error goes back with `?`.
            request.into_body().collect().await?;
            Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::new())))
        },
    ));
    let request = Request::builder()
        .method(Method::PATCH)
        .uri("b")
        .version(Version::HTTP_10)
        .body(Full::new(Bytes::from(vec![0; 11_636])))
        .unwrap();

    let response = service.oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.extensions().get::<Refused>(),
        Some(&Refused::BodyTooLarge)
    );
    // The rest of the body stays unread: an HTTP/1 client must not reuse the connection.
    assert_eq!(response.headers()["connection"], "close");
    assert_eq!(captured.security_event_names(), ["body_too_large"]);
}
