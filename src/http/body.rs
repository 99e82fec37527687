//! Request bodies and their limits, and streamed response bodies.
//!
//! A body is read within `--max-body` while it streams in (a `Content-Length`
//! is only checked early, never trusted), within a time limit, and within a
//! budget of memory shared by all connections, so no client can make the
//! server hold more than it can afford.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header;
use hyper::Request;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Body;
use crate::error::Error;

/// How long a client may take to send a request body: minutes for the
/// largest upload over a slow link, not for ever (a stalled client holds a
/// connection and a handler).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(300);

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

/// Reads a request body, refusing one larger than `limit` while it streams in.
/// The body's share of `budget` (its declared length, or `limit`) is taken
/// first and held by the returned permit: when the budget is spent the answer
/// is 503, not memory.
pub async fn read(
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
        Err(err) => Err(Error::Malformed(format!("reading the request body: {err}"))),
    }
}

/// Streams a file, at most `length` bytes of it (its size when opened: a log
/// that is still growing is served as it was).
pub fn file(file: std::fs::File, length: u64) -> Body {
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
