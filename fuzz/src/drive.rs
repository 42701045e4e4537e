//! Drives futures and bodies to completion with a no-op waker and a bounded number of polls.
//!
//! No runtime is involved: every `Poll::Pending` is simply polled again. A target's pending
//! points are bounded by its input, far below [`MAX_POLLS`], so a future or body that is still
//! pending after that many polls has lost a wake-up or loops, and the harness panics.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Buf;
use http::HeaderMap;
use http_body::Body;

/// The most polls a future, or a whole body, gets before the harness calls it a hang.
pub const MAX_POLLS: usize = 10_000;

/// Polls `future` until it is ready.
///
/// # Panics
///
/// When the future is still pending after [`MAX_POLLS`] polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..MAX_POLLS {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a future was still pending after {MAX_POLLS} polls");
}

/// What a body yielded until it ended or failed.
#[derive(Debug, Default)]
pub struct Collected<E> {
    /// The data frames' bytes, in order.
    pub data: Vec<u8>,
    /// The trailers, if a trailers frame came.
    pub trailers: Option<HeaderMap>,
    /// The error the body ended with, if it failed.
    pub error: Option<E>,
}

/// Polls `body` until it ends or fails; a body is not polled again after an error.
///
/// # Panics
///
/// When the body has not ended after [`MAX_POLLS`] polls in all.
pub fn collect<B: Body>(body: B) -> Collected<B::Error> {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    let mut collected = Collected {
        data: Vec::new(),
        trailers: None,
        error: None,
    };
    for _ in 0..MAX_POLLS {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(None) => return collected,
            Poll::Ready(Some(Err(error))) => {
                collected.error = Some(error);
                return collected;
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        collected.data.extend_from_slice(chunk);
                        let len = chunk.len();
                        data.advance(len);
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        collected.trailers = Some(trailers);
                    }
                }
            },
        }
    }
    panic!("a body had not ended after {MAX_POLLS} polls");
}
