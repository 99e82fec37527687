//! The HTTP/1 server: the accept loop, graceful shutdown, body limits, and the
//! one place where an [`Error`] becomes a response.
//!
//! Connections are served by hyper on the tokio runtime. At shutdown the
//! listener is dropped and open connections get a bounded grace period to
//! finish what they were answering, as hyper-util's graceful example does.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;
use crate::routes::{self, App};

/// Every response body: whole (JSON, HTML) or streamed (files).
pub type Body = BoxBody<Bytes, io::Error>;

/// How long a client may take to send its request headers: a slow or stalled
/// client must not hold a connection open for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to send a request body: minutes for the
/// largest upload over a slow link, not for ever (a stalled client holds a
/// connection and a handler).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Seconds a client is told to wait when the queue is full or the server is stopping.
pub const RETRY_AFTER_SECS: u64 = 10;

/// Serves connections until `shutdown` completes, then lets open connections
/// finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: wait a moment rather than spin.
                    log::warn!("accepting a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers must not wait for Nagle's algorithm and a delayed ACK.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(routes::handle(&app, request).await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                log::debug!("connection from {peer}: {err}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => log::warn!("some connections were still open after the {} s grace period", grace.as_secs_f64()),
    }
}

/// Request bodies that may be held in memory at once, in units of the largest
/// body (`--max-body`): room for many plates uploaded together (128 MiB by
/// default), not for a thousand slow clients to exhaust the machine.
pub const BODIES_IN_FLIGHT: usize = 16;

/// The bytes of request bodies held in memory, across all connections.
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    pub fn new(max_body: usize) -> BodyBudget {
        BodyBudget(Arc::new(Semaphore::new(
            max_body
                .saturating_mul(BODIES_IN_FLIGHT)
                .min(Semaphore::MAX_PERMITS),
        )))
    }
}

/// A body's share of the [`BodyBudget`], given back when dropped.
pub struct BodyPermit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// Reads a request body, refusing one larger than `limit` while it streams in
/// (a `Content-Length` is not trusted, only checked early). The body's share
/// of `budget` (its declared length, or `limit`) is taken first and held by the
/// returned permit: when the budget is spent the answer is 503, not memory.
pub async fn read_body(
    request: Request<Incoming>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, BodyPermit), Error> {
    let too_large = || {
        Error::TooLarge(format!(
            "the body is larger than {limit} bytes, the most this server takes (--max-body)"
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let share = declared
        .map_or(limit, |length| length as usize)
        .clamp(1, u32::MAX as usize) as u32;
    let permit = budget.0.clone().try_acquire_many_owned(share).map_err(|_| {
        Error::Busy("the server is receiving too many large requests at once; nothing was written, try again shortly".into())
    })?;
    let collected = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await
    .map_err(|_| {
        Error::TooSlow(format!(
            "the body did not arrive within {} s; send it again",
            BODY_READ_TIMEOUT.as_secs()
        ))
    })?;
    match collected {
        Ok(collected) => Ok((collected.to_bytes(), BodyPermit(Some(permit)))),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(err) => Err(Error::BadRequest(format!(
            "reading the request body: {err}"
        ))),
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let mut body = serde_json::to_vec(value).expect("answers serialize");
    body.push(b'\n');
    whole(status, "application/json", body)
}

/// An answer whose body is all in memory.
pub fn whole(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The error answer: `{"msg", "status_code", "field"?}` with the error's status.
pub fn error_response(err: &Error) -> Response<Body> {
    #[derive(Serialize)]
    struct Answer<'a> {
        msg: String,
        status_code: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    }
    let status = err.status();
    if status.is_server_error() && !err.is_temporary() {
        log::error!("{err}");
    }
    let mut response = json(
        status,
        &Answer {
            msg: err.to_string(),
            status_code: status.as_u16(),
            field: err.field(),
        },
    );
    let headers = response.headers_mut();
    if let Error::MethodNotAllowed { allow } = err {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if err.is_temporary() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// Streams a file, at most `length` bytes of it (its size when opened: a log
/// that is still growing is served as it was).
pub fn file_body(file: std::fs::File, length: u64) -> Body {
    FileBody {
        file: tokio::fs::File::from_std(file),
        remaining: length,
        buf: vec![0; 64 * 1024],
    }
    .boxed()
}

struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this.buf.len().min(this.remaining as usize);
        let mut buf = ReadBuf::new(&mut this.buf[..want]);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut buf))?;
        let read = buf.filled();
        if read.is_empty() {
            // The file shrank since it was opened; end here rather than lie.
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was sent",
            ))));
        }
        this.remaining -= read.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(read)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}
