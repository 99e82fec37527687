//! Request bodies and their limits, and streamed response bodies.
//!
//! A body is read within `--max-body` while it streams in (a `Content-Length`
//! is only checked early, never trusted), within a time limit, and dropped
//! when nothing of it arrives for `--body-stall`. The memory bodies hold is
//! counted as their bytes arrive, against budgets shared by all connections:
//! a client that promises a large body and sends nothing holds nothing, and
//! small bodies have a budget of their own, so large uploads, however many
//! and however slow, never keep a small submission out.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header;
use hyper::Request;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Body;
use crate::error::Error;

/// How long a client may take to send a request body: minutes for the
/// largest upload over a slow link, not for ever (a client that trickles a
/// byte now and then holds a connection and a handler).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Large request bodies that may be held in memory at once, in units of the
/// largest body (`--max-body`): room for many plates uploaded together (128
/// MiB by default), not for a thousand slow clients to exhaust the machine.
pub const BODIES_IN_FLIGHT: usize = 16;

/// The largest small body: a form or JSON body with a sequence of a few
/// kilobases, or a FASTA file of a few dozen primers, as scripts and the
/// page's form send them. A body stays small until it is known to be larger
/// (by its `Content-Length`, or by the bytes that arrived).
pub const SMALL_BODY: usize = 64 * 1024;

/// Small request bodies that may be held in memory at once (16 MiB in all):
/// more scripts and browsers submitting together than a lab has.
pub const SMALL_BODIES_IN_FLIGHT: usize = 256;

/// How request bodies are read: the bytes they may hold in memory across all
/// connections, and how long one may go without a byte arriving.
pub struct BodyBudget {
    /// Bytes held by bodies larger than [`SMALL_BODY`].
    large: Arc<Semaphore>,
    /// Bytes held by the others, which large uploads cannot take.
    small: Arc<Semaphore>,
    /// `--body-stall`.
    stall: Duration,
}

impl BodyBudget {
    pub fn new(max_body: usize, stall: Duration) -> BodyBudget {
        let semaphore = |bytes: usize| Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)));
        BodyBudget {
            large: semaphore(max_body.saturating_mul(BODIES_IN_FLIGHT)),
            small: semaphore(SMALL_BODY * SMALL_BODIES_IN_FLIGHT),
            stall,
        }
    }
}

/// A body's share of the [`BodyBudget`], given back when dropped.
pub struct BodyPermit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// Reads a request body, refusing one larger than `limit` while it streams
/// in, or one that stalls. Each part that arrives takes its size from
/// `budget`, held by the returned permit: when the budget is spent the answer
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
    let mut held = Held {
        budget,
        large: declared.is_some_and(|length| length > SMALL_BODY as u64),
        permit: None,
    };
    let deadline = Instant::now() + BODY_READ_TIMEOUT;
    let mut body = request.into_body();
    let mut parts = Vec::new();
    let mut length = 0;
    loop {
        let wait = deadline.min(Instant::now() + budget.stall);
        let frame = match tokio::time::timeout_at(wait, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                return Err(Error::Malformed(format!("reading the request body: {err}")))
            }
            Err(_) if wait == deadline => {
                return Err(Error::TooSlow(format!(
                    "the body did not arrive within {} s; send it again",
                    BODY_READ_TIMEOUT.as_secs()
                )))
            }
            Err(_) => {
                return Err(Error::TooSlow(format!(
                    "the body stalled: nothing arrived for {} s; send it again",
                    budget.stall.as_secs_f64()
                )))
            }
        };
        // Trailers carry nothing a submission needs.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        length += data.len();
        if length > limit {
            return Err(too_large());
        }
        held.take(data.len(), length)?;
        parts.push(data);
    }
    Ok((join(parts, length), BodyPermit(held.permit)))
}

/// The budget a body being read holds.
struct Held<'a> {
    budget: &'a BodyBudget,
    /// Whether the body is known to be larger than [`SMALL_BODY`].
    large: bool,
    permit: Option<OwnedSemaphorePermit>,
}

impl Held<'_> {
    /// Takes `more` bytes; `length` is the body's length with them.
    fn take(&mut self, more: usize, length: usize) -> Result<(), Error> {
        if !self.large && length > SMALL_BODY {
            // A body of unknown length outgrew the small budget: it moves,
            // all of it, to the large one (the small permit goes back).
            self.large = true;
            self.permit = Some(self.acquire(length)?);
            return Ok(());
        }
        let taken = self.acquire(more)?;
        match &mut self.permit {
            Some(permit) => permit.merge(taken),
            None => self.permit = Some(taken),
        }
        Ok(())
    }

    fn acquire(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Error> {
        let (pool, what) = match self.large {
            true => (&self.budget.large, "too many large requests"),
            false => (&self.budget.small, "too many requests"),
        };
        // More than u32::MAX bytes at once is more than any budget holds.
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        pool.clone().try_acquire_many_owned(bytes).map_err(|_| {
            Error::Busy(format!(
                "the server is receiving {what} at once; nothing was written, try again shortly"
            ))
        })
    }
}

/// The parts of a body as one buffer (for a moment, the body is held twice).
fn join(mut parts: Vec<Bytes>, length: usize) -> Bytes {
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut whole = BytesMut::with_capacity(length);
    for part in parts {
        whole.extend_from_slice(&part);
    }
    whole.freeze()
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

/// Bytes a [`StreamSink`] gathers before it hands them to the connection.
const STREAM_CHUNK: usize = 64 * 1024;

/// Chunks that may wait between a [`StreamSink`] and its connection: with
/// the chunk being gathered and the one being sent, at most about 400 KiB of
/// a streamed answer is in memory, whatever its size and however slowly the
/// client reads.
const STREAM_CHUNKS_WAITING: usize = 4;

/// An answer's body written from a blocking thread (an archive, a table),
/// sent as the client takes it: the [`StreamSink`] is a `std::io::Write`
/// whose writes wait while the client reads nothing (for at most `stall`),
/// and fail once it has gone, so the writer stops.
pub fn streamed(stall: Duration) -> (StreamSink, Body) {
    let (sender, chunks) = tokio::sync::mpsc::channel(STREAM_CHUNKS_WAITING);
    let sink = StreamSink {
        sender,
        runtime: tokio::runtime::Handle::current(),
        gathered: BytesMut::with_capacity(STREAM_CHUNK),
        stall,
    };
    (sink, channel(chunks, ()))
}

/// The writing end of a [`streamed`] body; not for use on the runtime's own
/// threads, since its writes wait.
pub struct StreamSink {
    sender: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    runtime: tokio::runtime::Handle,
    gathered: BytesMut,
    stall: Duration,
}

impl StreamSink {
    fn send(&mut self, chunk: io::Result<Bytes>) -> io::Result<()> {
        use tokio::sync::mpsc::error::SendTimeoutError;
        let sent = self
            .runtime
            .block_on(self.sender.send_timeout(chunk, self.stall));
        match sent {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Closed(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
            Err(SendTimeoutError::Timeout(_)) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", self.stall.as_secs_f64()),
            )),
        }
    }

    /// Ends the body with an error: the client sees the answer cut short (no
    /// last chunk), never a whole-looking one with a part missing.
    pub fn fail(mut self, err: io::Error) {
        // What was gathered is dropped: the answer is cut where it was.
        let _ = self.send(Err(err));
    }
}

impl io::Write for StreamSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.gathered.extend_from_slice(bytes);
        if self.gathered.len() >= STREAM_CHUNK {
            let chunk = self.gathered.split().freeze();
            self.send(Ok(chunk))?;
            self.gathered.reserve(STREAM_CHUNK);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.gathered.is_empty() {
            let chunk = self.gathered.split().freeze();
            self.send(Ok(chunk))?;
        }
        Ok(())
    }
}

/// A body of the chunks a channel brings, until its senders are gone; an
/// error ends it cut short. `guard` lives as long as the body does (an event
/// stream's place among the streams, held until the connection drops it).
pub fn channel<G: Send + Sync + Unpin + 'static>(
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    guard: G,
) -> Body {
    ChannelBody {
        chunks,
        _guard: guard,
    }
    .boxed()
}

struct ChannelBody<G> {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    _guard: G,
}

impl<G: Unpin> hyper::body::Body for ChannelBody<G> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let chunk = ready!(self.get_mut().chunks.poll_recv(cx));
        Poll::Ready(chunk.map(|chunk| chunk.map(Frame::data)))
    }
}
