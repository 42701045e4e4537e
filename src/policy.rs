//! The compiled policy and the single pass every request makes through it.
//!
//! A request is inspected once on the way in, the inner service is called, and the response
//! is finished once on the way out. Each control contributes a step to each half; all of them
//! read from one immutable [`Policy`] shared by every clone of the layer. A control that
//! refuses the request answers in place of the inner service, and that answer is finished like
//! any other response.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};

use crate::audit::Audit;
use crate::body::{Origin, ResponseBody};
use crate::cookies::{CookieRules, Reissue};
use crate::cross_origin::CompiledCrossOrigin;
use crate::events::{Event, EventKind, Requester};
use crate::guards::body::{Counter, RequestBody};
use crate::guards::host::CompiledHosts;
use crate::guards::limits::CompiledLimits;
use crate::guards::method::CompiledMethods;
use crate::guards::uri::CompiledUriRules;
use crate::headers::{CspNonce, HeaderPolicy};
use crate::reject::{Format, Refused, Rejection};
use crate::scrub;
use crate::transport::https::{CompiledHttps, Verdict, is_https};
use crate::transport::proxies::CompiledProxies;
use crate::transport::request_id::{RequestId, X_REQUEST_ID};

/// Everything the layer enforces, rendered at build time.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) headers: HeaderPolicy,
    pub(crate) proxies: CompiledProxies,
    pub(crate) hosts: Option<CompiledHosts>,
    /// `None` in development mode, or when switched off.
    pub(crate) https: Option<CompiledHttps>,
    pub(crate) development: bool,
    pub(crate) request_ids: bool,
    pub(crate) scrub: ScrubSettings,
    pub(crate) methods: Option<CompiledMethods>,
    pub(crate) uri: Option<CompiledUriRules>,
    pub(crate) limits: Option<CompiledLimits>,
    pub(crate) cross_origin: Option<CompiledCrossOrigin>,
    pub(crate) cookies: Option<CookieRules>,
    /// The self-audit of the settings this policy was built from.
    pub(crate) audit: Audit,
}

/// Which error bodies are replaced.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScrubSettings {
    pub(crate) server_errors: bool,
    pub(crate) client_errors: bool,
}

/// What the request half of the pass hands to the response half.
#[derive(Debug)]
pub(crate) struct RequestState {
    nonce: Option<CspNonce>,
    reissue: Option<Reissue>,
    /// Set when a counted body crossed the limit: the answer is then a `413`.
    body_tripped: Option<Arc<AtomicBool>>,
    /// Kept for the events and refusals the response half may produce.
    method: Method,
    uri: Uri,
    /// What the client accepts and whether it speaks gRPC, for answers the response half
    /// makes itself.
    accept: Option<HeaderValue>,
    grpc: bool,
    /// HTTP/1: a refusal from the response half asks the client to close, since the rest of
    /// its body stays unread.
    http1: bool,
    context: Context,
}

/// What every answer to a request carries, refusals included.
#[derive(Debug, Default)]
struct Context {
    request_id: Option<RequestId>,
    client: Option<std::net::IpAddr>,
    /// What is known of the transport: `Some(false)` for plain HTTP.
    https: Option<bool>,
}

/// The request half's result: the request for the inner service and the state for the
/// response half, or the layer's own finished answer.
pub(crate) type Pass<B> = Result<(Request<RequestBody<B>>, RequestState), Box<Response<Bytes>>>;

/// A refusal decided by one of the guards, before the event and the answer are made.
struct Refusal {
    status: StatusCode,
    reason: Refused,
    event: EventKind,
    rule: &'static str,
    header: Option<(HeaderName, HeaderValue)>,
}

impl Refusal {
    fn new(status: StatusCode, reason: Refused, event: EventKind, rule: &'static str) -> Self {
        Self {
            status,
            reason,
            event,
            rule,
            header: None,
        }
    }
}

impl RequestState {
    fn format(&self) -> Format {
        Format::from_parts(self.grpc, self.accept.as_ref())
    }

    /// The request facts a response body keeps, for the event a panic in it writes.
    fn into_origin(self) -> Origin {
        Origin {
            method: self.method,
            uri: self.uri,
            request_id: self.context.request_id,
            client: self.context.client,
        }
    }
}

impl Policy {
    /// Inspects and annotates a request, and wraps its body, before the inner service sees
    /// it; or refuses it with a finished response.
    pub(crate) fn on_request<B: http_body::Body>(&self, request: Request<B>) -> Pass<B> {
        let mut request = request;
        // Before any other guard: untrusted forwarded headers must not survive to be read.
        let resolved = self.proxies.resolve(&mut request);
        let request_id = self
            .request_ids
            .then(|| RequestId::for_request(request.headers(), resolved.client.via_trusted_proxy));
        let context = Context {
            https: is_https(&request, &resolved.client),
            client: resolved.client.addr,
            request_id,
        };
        if resolved.stripped {
            Event {
                kind: EventKind::ForwardedHeadersStripped,
                rule: "untrusted-peer",
                status: None,
                method: request.method(),
                path: request.uri().path(),
                cookie: None,
                request_id: context.request_id.as_ref().map(RequestId::as_str),
                client: context.client,
                detail: None,
            }
            .emit();
        }
        let counter = match self.guard(&request, context.https) {
            Ok(counter) => counter,
            Err(refusal) => return Err(Box::new(self.refuse(refusal, &request, context))),
        };
        // After the guards, which judge the headers the client sent.
        if let Some(id) = &context.request_id {
            // Code that reads the header rather than the extension sees the same id, never
            // one an untrusted client chose.
            let value = id.header_value().clone();
            request.headers_mut().insert(X_REQUEST_ID, value);
            request.extensions_mut().insert(id.clone());
        }
        request.extensions_mut().insert(resolved.client);

        let reissue = self
            .cookies
            .as_ref()
            .and_then(CookieRules::integrity)
            .and_then(|integrity| integrity.on_request(&mut request));
        // Only a body that may still grow past the limit is counted: an empty one (a GET, or
        // HTTP/2 headers that end the stream) or one whose exact size is known costs nothing.
        let body = request.body();
        let counter = counter.filter(|&limit| {
            !body.is_end_stream() && body.size_hint().upper().is_none_or(|upper| upper > limit)
        });
        let (counter, body_tripped) = match counter {
            Some(limit) => {
                let (counter, tripped) = Counter::new(limit);
                (Some(counter), Some(tripped))
            }
            None => (None, None),
        };
        let state = RequestState {
            nonce: self.headers.on_request(&mut request),
            reissue,
            // For the answers the response half may make itself: a 413, a scrubbed error.
            accept: request.headers().get(header::ACCEPT).cloned(),
            grpc: scrub::is_grpc(request.headers()),
            http1: request.version() <= Version::HTTP_11,
            body_tripped,
            method: request.method().clone(),
            uri: request.uri().clone(),
            context,
        };
        Ok((request.map(|body| RequestBody::new(body, counter)), state))
    }

    /// Runs the guards in order; on success, the limit a streamed body must be counted
    /// against, if it needs counting.
    fn guard<B>(&self, request: &Request<B>, https: Option<bool>) -> Result<Option<u64>, Refusal> {
        if let Some(methods) = &self.methods {
            methods
                .check(request.method(), request.uri(), request.headers())
                .map_err(|r| Refusal {
                    status: r.status,
                    reason: match r.status {
                        StatusCode::METHOD_NOT_ALLOWED => Refused::MethodNotAllowed,
                        _ => Refused::Malformed,
                    },
                    event: EventKind::MethodRefused,
                    rule: r.rule,
                    header: r.allow.map(|allow| (header::ALLOW, allow)),
                })?;
        }

        if let Some(uri) = &self.uri {
            uri.check(request.uri()).map_err(|r| Refusal {
                status: r.status,
                reason: Refused::Target,
                event: EventKind::PathRefused,
                rule: r.rule,
                header: None,
            })?;
        }

        if let Some(hosts) = &self.hosts {
            hosts.check(request).map_err(|r| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Refused::Host,
                    EventKind::HostRefused,
                    r.rule,
                )
            })?;
        }

        // After the Host check, so a refused host never gets a redirect; the redirect itself
        // goes to the canonical host only.
        if let Some(enforcement) = self.https.as_ref().filter(|_| https == Some(false)) {
            match enforcement.check(request) {
                None => {}
                Some(Verdict::Redirect(status, location)) => {
                    return Err(Refusal {
                        header: Some((header::LOCATION, location)),
                        ..Refusal::new(
                            status,
                            Refused::PlainHttp,
                            EventKind::HttpsRedirect,
                            "plain-http",
                        )
                    });
                }
                Some(Verdict::Refuse) => {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        Refused::PlainHttp,
                        EventKind::HttpsRequired,
                        "plain-http",
                    ));
                }
            }
        }

        let mut count_limit = None;
        if let Some(limits) = &self.limits {
            let headers = request.headers();
            limits.check_headers(headers).map_err(|r| Refusal {
                status: r.status,
                reason: Refused::HeadersTooLarge,
                event: EventKind::HeaderLimit,
                rule: r.rule,
                header: None,
            })?;
            let limit = limits.body_limit(request.uri().path());
            let declared = limits.check_length(headers, limit).map_err(|r| {
                let too_large = r.status == StatusCode::PAYLOAD_TOO_LARGE;
                Refusal {
                    status: r.status,
                    reason: if too_large {
                        Refused::BodyTooLarge
                    } else {
                        Refused::Malformed
                    },
                    event: if too_large {
                        EventKind::BodyTooLarge
                    } else {
                        EventKind::InvalidRequest
                    },
                    rule: r.rule,
                    header: None,
                }
            })?;
            // A declared length within the limit bounds the body already: HTTP/1 framing and
            // HTTP/2 (RFC 9113 §8.1.1) refuse more data than it announces.
            count_limit = limit.filter(|_| declared.is_none());
        }

        if let Some(cross_origin) = &self.cross_origin {
            cross_origin.check(request).map_err(|r| Refusal {
                status: StatusCode::FORBIDDEN,
                reason: Refused::CrossOrigin,
                event: EventKind::CrossOriginRefused,
                rule: r.rule(),
                header: None,
            })?;
        }
        Ok(count_limit)
    }

    /// Finishes a response from the inner service.
    pub(crate) fn on_response<B>(
        &self,
        mut state: RequestState,
        response: Response<B>,
    ) -> Response<ResponseBody<B>> {
        // The handler saw the body fail; whatever it answered, the client gets a 413.
        if let Some(refused) = self.body_too_large(&mut state) {
            return refused;
        }
        let mut response = response;
        let status = response.status();
        if scrub::is_grpc(response.headers()) {
            // gRPC reports failure in `grpc-status`, in the head of a trailers-only answer or
            // in the trailers; the body wrapper scrubs the latter.
            if scrub::grpc_message(response.headers_mut()) {
                self.log_scrubbed(&state, "grpc-message", status);
            }
            self.finish(&mut state, &mut response);
            let origin = state.into_origin();
            return response.map(|body| ResponseBody::inner(body, true, Some(origin)));
        }
        let scrub = (status.is_server_error() && self.scrub.server_errors)
            || (status.is_client_error() && self.scrub.client_errors);
        if scrub {
            self.log_scrubbed(&state, "error-body", status);
            let id = state.context.request_id.as_ref();
            let head = state.method == Method::HEAD;
            let body = scrub::replace_body(&mut response, state.format(), id, head);
            self.finish(&mut state, &mut response);
            // The application's body is dropped unread.
            return response.map(|_| ResponseBody::generated(body));
        }
        self.finish(&mut state, &mut response);
        let origin = state.into_origin();
        response.map(|body| ResponseBody::inner(body, false, Some(origin)))
    }

    /// The answer when the application panicked (`what` is the `payload`) or failed before
    /// it had a response.
    pub(crate) fn on_failure<B>(
        &self,
        mut state: RequestState,
        panic: Option<&Box<dyn std::any::Any + Send>>,
        place: &'static str,
    ) -> Response<ResponseBody<B>> {
        // An error after the body crossed the limit is most likely the `LengthLimitError`
        // passed on, which promises a 413 however the handler reacts. A panic stays a 500: it
        // is the application's own fault, whatever the body did.
        if panic.is_none()
            && let Some(refused) = self.body_too_large(&mut state)
        {
            return refused;
        }
        let id = state.context.request_id.as_ref();
        match panic {
            Some(payload) => Event {
                kind: EventKind::Panic,
                rule: place,
                status: Some(StatusCode::INTERNAL_SERVER_ERROR.as_u16()),
                method: &state.method,
                path: state.uri.path(),
                cookie: None,
                request_id: id.map(RequestId::as_str),
                client: state.context.client,
                detail: Some(scrub::panic_message(payload.as_ref())),
            }
            .emit(),
            None => self.log_scrubbed(&state, place, StatusCode::INTERNAL_SERVER_ERROR),
        }
        let mut response = scrub::internal_error(state.format(), id);
        self.finish(&mut state, &mut response);
        response.map(ResponseBody::generated)
    }

    /// The `413` that replaces the application's answer once a counted body crossed the
    /// limit, or `None` while it has not.
    fn body_too_large<B>(&self, state: &mut RequestState) -> Option<Response<ResponseBody<B>>> {
        let tripped = state.body_tripped.as_ref()?;
        if !tripped.load(Ordering::Relaxed) {
            return None;
        }
        let refusal = Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: Refused::BodyTooLarge,
            event: EventKind::BodyTooLarge,
            rule: "body-size",
            header: None,
        };
        let mut rejection = self.rejection(
            refusal,
            &state.method,
            &state.uri,
            state.format(),
            &state.context,
        );
        rejection.close = state.http1;
        let mut refused = rejection.into_response();
        self.finish(state, &mut refused);
        Some(refused.map(ResponseBody::generated))
    }

    fn log_scrubbed(&self, state: &RequestState, rule: &'static str, status: StatusCode) {
        Event {
            kind: EventKind::ErrorScrubbed,
            rule,
            status: Some(status.as_u16()),
            method: &state.method,
            path: state.uri.path(),
            cookie: None,
            request_id: state.context.request_id.as_ref().map(RequestId::as_str),
            client: state.context.client,
            detail: None,
        }
        .emit();
    }

    /// Applies the response half of every control.
    fn finish<B>(&self, state: &mut RequestState, response: &mut Response<B>) {
        let context = &state.context;
        let id = context.request_id.as_ref();
        if let Some(cookies) = &self.cookies {
            let path = state.uri.path();
            let headers = response.headers_mut();
            let who = Requester {
                id: id.map(RequestId::as_str),
                client: context.client,
            };
            let reissue = state.reissue.take();
            cookies.on_response(headers, reissue, &state.method, path, who);
        }
        let id = id.map(RequestId::header_value);
        self.headers
            .on_response(state.nonce, context.https, id, response);
    }

    /// Lists every active control, for [`SecurityLayer::controls`](crate::SecurityLayer).
    pub(crate) fn describe(&self, out: &mut Vec<crate::Control>) {
        if self.development {
            out.push(crate::Control::new(
                "transport",
                "development mode",
                "ON: no HTTPS enforcement and no HSTS; never use in production".to_owned(),
            ));
        }
        self.headers.describe(out);
        if let Some(https) = &self.https {
            out.push(crate::Control::new(
                "transport",
                "https enforcement",
                https.describe(),
            ));
        }
        if let Some(hosts) = &self.hosts {
            out.push(crate::Control::new(
                "input validation",
                "hosts",
                hosts.describe(),
            ));
        }
        if self.request_ids {
            let value = "X-Request-Id from trusted proxies, else generated".to_owned();
            out.push(crate::Control::new(
                "security logging",
                "request ids",
                value,
            ));
        }
        out.push(crate::Control::new(
            "transport",
            "trusted proxies",
            self.proxies.describe(),
        ));
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
        if let Some(methods) = &self.methods {
            out.push(crate::Control::new(
                "input validation",
                "methods",
                methods.describe(),
            ));
        }
        if let Some(limits) = &self.limits {
            out.push(crate::Control::new(
                "input validation",
                "size limits",
                limits.describe(),
            ));
        }
        if let Some(uri) = &self.uri {
            let summary = uri.describe();
            out.push(crate::Control::new(
                "input validation",
                "request target",
                summary,
            ));
        }
    }

    /// Logs a refusal and makes the answer, without the finishing headers.
    fn rejection(
        &self,
        refusal: Refusal,
        method: &Method,
        uri: &Uri,
        format: Format,
        context: &Context,
    ) -> Rejection {
        Event {
            kind: refusal.event,
            rule: refusal.rule,
            status: Some(refusal.status.as_u16()),
            method,
            path: uri.path(),
            cookie: None,
            request_id: context.request_id.as_ref().map(RequestId::as_str),
            client: context.client,
            detail: None,
        }
        .emit();
        Rejection {
            status: refusal.status,
            reason: refusal.reason,
            format,
            header: refusal.header,
            close: false,
        }
    }

    /// The layer's own answer to a refused request, with the policy's headers.
    fn refuse<B>(
        &self,
        refusal: Refusal,
        request: &Request<B>,
        context: Context,
    ) -> Response<Bytes> {
        let format = Format::of(request.headers());
        let mut rejection =
            self.rejection(refusal, request.method(), request.uri(), format, &context);
        // An HTTP/1 request whose body is left unread: closing is the only way the client
        // reads this answer rather than a reset, or the next request misread.
        rejection.close = request.version() <= Version::HTTP_11 && has_body(request);
        let mut response = rejection.into_response();
        // A refusal renders no page, so it needs no nonce.
        let mut state = RequestState {
            nonce: None,
            reissue: None,
            body_tripped: None,
            method: request.method().clone(),
            uri: request.uri().clone(),
            accept: None,
            grpc: format == Format::Grpc,
            http1: false,
            context,
        };
        self.finish(&mut state, &mut response);
        response
    }
}

/// Whether the request announces a body: a non-zero `Content-Length`, or any
/// `Transfer-Encoding`.
fn has_body<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}
