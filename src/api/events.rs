//! `GET /events`: server-sent events of every state and backlog change, and
//! `GET /experiments/{id}?wait=S`, which answers once the experiment ends.
//!
//! Each stream is a small task that forwards the queue's broadcast events
//! that match its filter (one experiment, one batch, or all) into the
//! response body. An idle stream costs a parked task and a comment line every
//! [`HEARTBEAT`]; nothing polls. It costs a connection too, for as long as
//! it is open, and so does a wait: each holds a place among the
//! [`Streams`](crate::events::Streams), counted in all and by client
//! address, so that streams never hold every connection the server keeps,
//! and one client never holds all the streams.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::call::Call;
use crate::access::Viewer;
use crate::app::{id_param, App};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::http::{body, Body};
use crate::model::Id;

/// How often an idle stream says it is alive: proxies and browsers close
/// connections that stay silent for a minute or two.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Events buffered for one stream before it waits for its client.
const STREAM_BUFFER: usize = 64;

/// The longest `?wait=` a client may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Which events a stream carries.
#[derive(Clone, Copy, Debug, Default)]
struct Topic {
    experiment: Option<Id>,
    batch: Option<Id>,
}

impl Topic {
    fn wants(&self, event: &Event) -> bool {
        match (self.experiment, self.batch) {
            // Its place and estimate move as the backlog does.
            (Some(id), _) => event.experiment == Some(id) || event.kind == "backlog",
            (None, Some(batch)) => event.batch == Some(batch) || event.kind == "backlog",
            (None, None) => true,
        }
    }
}

/// `GET /events?experiment=ID` or `?batch=ID`: the stream. A client that
/// reconnects sends the last id it saw in `Last-Event-ID` and gets what it
/// missed first (or a `reset` event when that is no longer kept).
pub async fn stream(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, request, viewer) = (call.app, &call.request, call.viewer);
    #[derive(Deserialize)]
    struct Params {
        experiment: Option<String>,
        batch: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(request.uri().query().unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let topic = Topic {
        experiment: id_param("experiment", params.experiment)?,
        batch: id_param("batch", params.batch)?,
    };
    let last = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let held = app.streams.hold(viewer.address)?;
    let events = app.queue.events();
    let subscription = events.subscribe(last.as_deref());
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(forward(events, subscription, topic, sender));
    let mut response = Response::new(body::channel(receiver, held));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// Sends what was missed, then each event as it comes, until the client goes.
async fn forward(
    events: Arc<Events>,
    subscription: crate::events::Subscription,
    topic: Topic,
    sender: mpsc::Sender<io::Result<Bytes>>,
) {
    let crate::events::Subscription {
        missed,
        gap,
        mut receiver,
    } = subscription;
    // How long a client waits before it reconnects, in milliseconds.
    if sender
        .send(Ok(Bytes::from_static(b"retry: 2000\n\n")))
        .await
        .is_err()
    {
        return;
    }
    if gap && sender.send(Ok(reset())).await.is_err() {
        return;
    }
    for event in missed.iter().filter(|event| topic.wants(event)) {
        if sender.send(Ok(frame(&events, event))).await.is_err() {
            return;
        }
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        let next = tokio::select! {
            received = receiver.recv() => received,
            _ = heartbeat.tick() => {
                if sender.send(Ok(Bytes::from_static(b": alive\n\n"))).await.is_err() {
                    return;
                }
                continue;
            }
            () = sender.closed() => return,
        };
        let bytes = match next {
            Ok(event) if topic.wants(&event) => frame(&events, &event),
            Ok(_) => continue,
            // Fell behind: it must read the state anew.
            Err(RecvError::Lagged(_)) => reset(),
            Err(RecvError::Closed) => return,
        };
        if sender.send(Ok(bytes)).await.is_err() {
            return;
        }
    }
}

fn frame(events: &Events, event: &Event) -> Bytes {
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        events.id(event),
        event.kind,
        event.data
    ))
}

fn reset() -> Bytes {
    Bytes::from_static(b"event: reset\ndata: {}\n\n")
}

/// Waits until experiment `id` has finished, or `wait` has passed, holding
/// one of the `viewer`'s places among the [`Streams`](crate::events::Streams); none left is 503.
pub async fn until_finished(
    app: &App,
    id: Id,
    wait: Duration,
    viewer: &Viewer,
) -> Result<(), Error> {
    let events = app.queue.events();
    let mut subscription = events.subscribe(None);
    // Subscribed first, then looked: no end can fall in between.
    if app
        .experiment(id)
        .is_ok_and(|view| view.record.state.is_finished())
    {
        return Ok(());
    }
    // Only a wait that waits holds a place: a finished one answers at once.
    let _held = app.streams.hold(viewer.address)?;
    let waiting = async {
        loop {
            match subscription.receiver.recv().await {
                Ok(event) if event.experiment == Some(id) => {
                    if app
                        .experiment(id)
                        .is_ok_and(|view| view.record.state.is_finished())
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    if app
                        .experiment(id)
                        .is_ok_and(|view| view.record.state.is_finished())
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    };
    let _ = tokio::time::timeout(wait, waiting).await;
    Ok(())
}

/// The `wait` of `?wait=S`, in seconds (fractions allowed), at most
/// [`MAX_WAIT`]: a longer one (`1e300`) is cut to it before it becomes a
/// `Duration`, which could not hold it; not a number, infinite or negative
/// is refused.
pub fn wait_of(query_string: Option<&str>) -> Result<Option<Duration>, Error> {
    #[derive(Deserialize)]
    struct Params {
        wait: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let Some(text) = params.wait.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    // Digits, a point and an exponent: so infinite only when too large, never `inf`.
    let digits = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let secs: f64 = text
        .parse()
        .ok()
        .filter(|s: &f64| digits && *s >= 0.0)
        .ok_or_else(|| Error::Malformed(format!("wait '{text}' is not a number of seconds")))?;
    // `max` also makes -0 a plain 0.
    Ok(Some(Duration::from_secs_f64(
        secs.min(MAX_WAIT.as_secs_f64()).max(0.0),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_seconds_and_bounded() {
        assert_eq!(
            wait_of(Some("wait=2.5")).unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(wait_of(Some("wait=99999")).unwrap(), Some(MAX_WAIT));
        // Past what a Duration holds: cut to the most, not a panic.
        for long in ["1e20", "1e300", "18446744073709551616", "1e400"] {
            assert_eq!(
                wait_of(Some(&format!("wait={long}"))).unwrap(),
                Some(MAX_WAIT),
                "{long}"
            );
        }
        assert_eq!(wait_of(Some("wait=-0")).unwrap(), Some(Duration::ZERO));
        assert_eq!(wait_of(Some("limit=3")).unwrap(), None);
        for bad in [
            "soon",
            "-1",
            "inf",
            "-inf",
            "+Infinity",
            "NaN",
            "0x10",
            "%2B",
            "1e-",
        ] {
            assert!(wait_of(Some(&format!("wait={bad}"))).is_err(), "{bad}");
        }
    }
}
