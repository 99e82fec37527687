//! The HTTP/1 transport: the accept loop, graceful shutdown, request bodies,
//! the percent coding of path segments, and how answers are shaped. It knows
//! nothing of seqspool's routes: [`serve`] takes a service, as axum's `serve`
//! and mini-redis's `server::run` do.
//!
//! Connections are served by hyper on the tokio runtime. At shutdown the
//! listener is dropped and open connections get a bounded grace period to
//! finish what they were answering, as hyper-util's graceful example does.
//! A connection closed on a client still sending a body lingers ([`linger`]),
//! so the client reads the answer.

pub mod body;
pub mod host;
pub mod linger;
pub mod negotiate;
pub mod percent;
pub mod respond;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Every response body: whole (JSON, HTML) or streamed (files).
pub type Body = BoxBody<Bytes, io::Error>;

/// How long a client may take to send its request headers: a slow or stalled
/// client must not hold a connection open for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the log says again that the connections are at their limit.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Serves connections until `shutdown` completes, then lets open connections
/// finish for at most `grace`. `service` answers each request; it is given the
/// address of the client that sent it. At most `max_connections` are open at
/// once: past it the accept loop waits (the kernel holds new ones in the
/// listen backlog) until one closes, so clients cannot take the descriptors
/// the worker and the store need.
pub async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    max_connections: usize,
) where
    S: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut warned: Option<std::time::Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned.is_none_or(|at| at.elapsed() > FULL_WARNING_EVERY) {
                    warned = Some(std::time::Instant::now());
                    log::warn!(
                        "{max_connections} connections are open, the most this server keeps (--max-connections); new ones wait until one closes"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
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
        let stream = linger::Lingering::new(stream);
        let armed = stream.armed();
        let service = service.clone();
        let answer = service_fn(move |request: Request<Incoming>| {
            let in_flight = linger::body_in_flight(request.headers());
            let answered = service(request, peer);
            let armed = armed.clone();
            async move {
                let response = answered.await;
                armed.store(
                    linger::lingers(in_flight, response.status()),
                    Ordering::Relaxed,
                );
                Ok::<_, Infallible>(response)
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), answer));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                log::debug!("connection from {peer}: {err}");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => log::warn!("some connections were still open after the {} s grace period", grace.as_secs_f64()),
    }
}
