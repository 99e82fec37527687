//! The lingering close: after an early answer to a request whose body the
//! server did not read (413, 403, 404, ...), the connection reads and throws
//! away what the client still sends, within bounds, before it closes.
//!
//! Closing a socket with unread bytes in it makes the kernel reset the
//! connection. A client that sends its whole body before it reads the answer
//! (Python's `http.client`, so `urllib` and `requests`) then fails with a
//! broken pipe and never sees the answer that says why. Apache and nginx
//! linger for the same reason (`lingering_close`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::header::{self, HeaderMap};
use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The most a lingering close reads: eight bodies of the default
/// `--max-body`, so a file a few times too large still gets its answer read,
/// and a client that streams without end does not get the server's bandwidth.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;

/// The longest a lingering close lasts (nginx's `lingering_time`).
pub const LINGER_TIME: Duration = Duration::from_secs(30);

/// The longest a lingering close waits for the client's next bytes (nginx's
/// `lingering_timeout`): a client that has stopped sending is let go.
pub const LINGER_IDLE: Duration = Duration::from_secs(5);

/// Whether a request's body may still be on its way when it is answered: it
/// has one, and the client did not ask `Expect: 100-continue` (a client that
/// did sends no body it was not asked for).
pub fn body_in_flight(request: &HeaderMap) -> bool {
    let has_body = request.contains_key(header::TRANSFER_ENCODING)
        || request
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    let expects_continue = request
        .get(header::EXPECT)
        .is_some_and(|expect| expect.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    has_body && !expects_continue
}

/// Whether closing after an answer with `status` should linger: an error
/// answer may come before the body was read, unless the body was dropped for
/// arriving too slowly (lingering would only wait on it again).
pub fn lingers(body_in_flight: bool, status: StatusCode) -> bool {
    body_in_flight
        && (status.is_client_error() || status.is_server_error())
        && status != StatusCode::REQUEST_TIMEOUT
}

/// A connection's stream, which lingers when it is shut down if [`Lingering::armed`] says so.
pub struct Lingering<S> {
    stream: S,
    armed: Arc<AtomicBool>,
    state: State,
}

enum State {
    Open,
    Draining {
        until: Pin<Box<Sleep>>,
        idle: Pin<Box<Sleep>>,
        left: u64,
    },
    Closed,
}

impl<S> Lingering<S> {
    pub fn new(stream: S) -> Lingering<S> {
        Lingering {
            stream,
            armed: Arc::new(AtomicBool::new(false)),
            state: State::Open,
        }
    }

    /// Whether closing this connection now would leave a client sending: set
    /// after each answer, from [`lingers`].
    pub fn armed(&self) -> Arc<AtomicBool> {
        self.armed.clone()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    /// Sends the end of the answer (FIN) at once, then, if armed, reads what
    /// the client still sends until it stops, or a bound is reached.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Open => {
                    ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
                    this.state = match this.armed.load(Ordering::Relaxed) {
                        true => State::Draining {
                            until: Box::pin(tokio::time::sleep(LINGER_TIME)),
                            idle: Box::pin(tokio::time::sleep(LINGER_IDLE)),
                            left: LINGER_BYTES,
                        },
                        false => State::Closed,
                    };
                }
                State::Draining { until, idle, left } => {
                    if until.as_mut().poll(cx).is_ready() || idle.as_mut().poll(cx).is_ready() {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0; 16 * 1024];
                    let mut read = ReadBuf::new(&mut scratch);
                    if let Err(err) = ready!(Pin::new(&mut this.stream).poll_read(cx, &mut read)) {
                        log::debug!("reading what a client still sent after its answer: {err}");
                    }
                    let got = read.filled().len() as u64;
                    // The client's end (or an error): nothing more will come.
                    if got == 0 || got >= *left {
                        this.state = State::Closed;
                        continue;
                    }
                    *left -= got;
                    idle.as_mut().reset(Instant::now() + LINGER_IDLE);
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    #[test]
    fn only_an_error_answer_to_a_body_on_its_way_lingers() {
        let headers = |pairs: &[(header::HeaderName, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(name.clone(), HeaderValue::from_static(value));
            }
            headers
        };
        let sized = headers(&[(header::CONTENT_LENGTH, "9437184")]);
        let chunked = headers(&[(header::TRANSFER_ENCODING, "chunked")]);
        let asks = headers(&[
            (header::CONTENT_LENGTH, "9437184"),
            (header::EXPECT, "100-Continue"),
        ]);
        let empty = headers(&[(header::CONTENT_LENGTH, "0")]);
        assert!(body_in_flight(&sized));
        assert!(body_in_flight(&chunked));
        assert!(!body_in_flight(&asks));
        assert!(!body_in_flight(&empty));
        assert!(!body_in_flight(&HeaderMap::new()));
        assert!(lingers(true, StatusCode::PAYLOAD_TOO_LARGE));
        assert!(lingers(true, StatusCode::NOT_FOUND));
        assert!(lingers(true, StatusCode::SERVICE_UNAVAILABLE));
        assert!(!lingers(true, StatusCode::ACCEPTED));
        assert!(!lingers(true, StatusCode::REQUEST_TIMEOUT));
        assert!(!lingers(false, StatusCode::PAYLOAD_TOO_LARGE));
    }
}
