//! Following experiments to their end without polling: one experiment by
//! the server's long poll (`GET /experiments/{id}?wait=S`, answered when it
//! ends), several by its event stream (`GET /events`, filtered by batch when
//! they are one), which is read from before their records are, so that no
//! change falls between the two; a change read twice is harmless, since a
//! finished experiment never changes again. A connection that breaks (a
//! server restarting) is made again, asking for the events missed.
//!
//! The server is asked on a thread of its own; the caller's thread keeps the
//! records and redraws the progress line once a second.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::model::Id;
use crate::time::Timestamp;

use super::failure::Failure;
use super::progress::{self, Bar, Counts};
use super::record::Seen;
use super::server::Server;
use super::sse::Events;

/// The longest `?wait=` the server grants (its `MAX_WAIT`).
const LONG_POLL: Duration = Duration::from_secs(300);

/// How long one event stream is read before it is opened again (with
/// `Last-Event-ID`, so nothing is missed): a server that vanished without
/// closing the connection is noticed by then.
const STREAM_LIFE: Duration = Duration::from_secs(300);

/// How long a server may stay unreachable (a restart, an upgrade) before
/// following gives up.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(300);

/// The longest pause between two attempts to reach it again.
const MOST_BACKOFF: Duration = Duration::from_secs(10);

/// How often the progress line is redrawn while nothing changes (its
/// estimate counts down).
const TICK: Duration = Duration::from_secs(1);

/// What to follow.
pub enum Target {
    /// One experiment (its record as last seen, when known).
    One(Id, Option<Box<Seen>>),
    /// Several experiments.
    Ids(Vec<Id>),
    /// Every experiment of a batch.
    Batch(Id),
}

/// What the thread that asks the server tells the one that keeps the records.
enum Update {
    /// The event stream is open (again): records read from now on miss nothing.
    Connected,
    /// An experiment's record.
    Record(Box<Seen>),
    /// The server says events were missed: read every record anew.
    Reset,
    /// The server cannot be reached, or refused: following ends.
    Lost(Failure),
}

/// Follows `target` until every experiment has finished, drawing the
/// progress on a terminal; returns their last records, in id order.
pub fn follow(server: &Server, target: Target) -> Result<Vec<Seen>, Failure> {
    let mut bar = Bar::on_stderr();
    let (sender, updates) = mpsc::channel();
    let (batch, mut records) = match target {
        Target::One(id, known) => {
            let records = match known {
                Some(seen) if seen.id == id => BTreeMap::from([(id, *seen)]),
                _ => snapshot(server, &[id])?,
            };
            if !records[&id].is_finished() {
                let server = server.clone();
                std::thread::spawn(move || long_poll(&server, id, &sender));
            }
            (None, records)
        }
        Target::Ids(ids) => {
            start_stream(server, "/events".to_owned(), sender, &updates)?;
            (None, snapshot(server, &ids)?)
        }
        Target::Batch(batch) => {
            start_stream(server, format!("/events?batch={batch}"), sender, &updates)?;
            (Some(batch), batch_snapshot(server, batch)?)
        }
    };
    loop {
        if records.values().all(Seen::is_finished) {
            break;
        }
        bar.draw(
            Counts::of(records.values()),
            progress::left(records.values(), Timestamp::now()),
        );
        match updates.recv_timeout(TICK) {
            Ok(Update::Record(seen)) => {
                let ended = apply(&mut records, *seen);
                if ended && bar.is_shown() {
                    refresh_last(server, &mut records);
                }
            }
            Ok(Update::Reset) => {
                let ids: Vec<Id> = records.keys().copied().collect();
                let fresh = match batch {
                    Some(batch) => batch_snapshot(server, batch)?,
                    None => snapshot(server, &ids)?,
                };
                for seen in fresh.into_values() {
                    apply(&mut records, seen);
                }
            }
            Ok(Update::Connected) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Update::Lost(failure)) => return Err(failure),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::Unreachable(format!(
                    "following the experiments on {} stopped",
                    server.url()
                )))
            }
        }
    }
    bar.clear();
    Ok(records.into_values().collect())
}

/// Takes `seen` as the record of its experiment unless that has finished
/// already (a finished experiment never changes: what says otherwise is an
/// older change read late). Returns whether it has just finished.
fn apply(records: &mut BTreeMap<Id, Seen>, seen: Seen) -> bool {
    match records.get_mut(&seen.id) {
        Some(old) if !old.is_finished() => {
            let ended = seen.is_finished();
            *old = seen;
            ended
        }
        _ => false,
    }
}

/// Reads the record of the last experiment still waiting or running again,
/// for its estimate: the server's estimates move as the queue does, and an
/// experiment's events only say when it itself changes.
fn refresh_last(server: &Server, records: &mut BTreeMap<Id, Seen>) {
    let Some(last) = records.values().rev().find(|seen| !seen.is_finished()) else {
        return;
    };
    if let Ok(seen) = server
        .get_json(&format!("/experiments/{}", last.id))
        .and_then(Seen::of)
    {
        apply(records, seen);
    }
}

/// The records of `ids`, read one by one.
fn snapshot(server: &Server, ids: &[Id]) -> Result<BTreeMap<Id, Seen>, Failure> {
    let mut records = BTreeMap::new();
    for id in ids {
        let seen = Seen::of(server.get_json(&format!("/experiments/{id}"))?)?;
        records.insert(*id, seen);
    }
    Ok(records)
}

/// The records of every experiment of `batch`, a page at a time.
fn batch_snapshot(server: &Server, batch: Id) -> Result<BTreeMap<Id, Seen>, Failure> {
    // Its own route says "no batch" in the server's words when there is none.
    server.get_json(&format!("/batches/{batch}?limit=1"))?;
    let mut records = BTreeMap::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut path = format!("/experiments?batch={batch}&limit=1000");
        if let Some(token) = &page_token {
            path.push_str(&format!("&page_token={token}"));
        }
        let page = server.get_json(&path)?;
        for record in page["experiments"].as_array().into_iter().flatten() {
            let seen = Seen::of(record.clone())?;
            records.insert(seen.id, seen);
        }
        match page["next_page_token"].as_str() {
            Some(token) if token.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                page_token = Some(token.to_owned())
            }
            _ => return Ok(records),
        }
    }
}

/// Opens the event stream on a thread of its own, and returns once it is
/// open (or could not be).
fn start_stream(
    server: &Server,
    path: String,
    sender: Sender<Update>,
    updates: &Receiver<Update>,
) -> Result<(), Failure> {
    let url = server.url().to_owned();
    let server = server.clone();
    std::thread::spawn(move || stream(&server, &path, &sender));
    match updates.recv() {
        Ok(Update::Connected) => Ok(()),
        Ok(Update::Lost(failure)) => Err(failure),
        _ => Err(Failure::Unreachable(format!(
            "the event stream of {url} ended before it began"
        ))),
    }
}

/// Reads the event stream at `path`, opening it again whenever it ends,
/// until the receiver is gone or the server cannot be reached for
/// [`RECONNECT_PATIENCE`].
fn stream(server: &Server, path: &str, sender: &Sender<Update>) {
    let mut last: Option<String> = None;
    let mut trying = Retry::new();
    loop {
        match server.events(path, last.as_deref(), STREAM_LIFE) {
            Ok(reader) => {
                trying = Retry::new();
                if sender.send(Update::Connected).is_err() {
                    return;
                }
                let mut events = Events::new(reader, last.take());
                // A timeout or a broken connection ends this stream; the
                // next one starts after the last event seen.
                while let Ok(Some(event)) = events.next_event() {
                    let update = match event.kind.as_str() {
                        "experiment" => match serde_json::from_str(&event.data)
                            .map_err(|err| Failure::Unreachable(err.to_string()))
                            .and_then(Seen::of)
                        {
                            Ok(seen) => Update::Record(Box::new(seen)),
                            Err(failure) => Update::Lost(failure),
                        },
                        "reset" => Update::Reset,
                        _ => continue,
                    };
                    if sender.send(update).is_err() {
                        return;
                    }
                }
                last = events.last_id;
            }
            Err(failure) => {
                if !trying.again(&failure) {
                    let _ = sender.send(Update::Lost(failure));
                    return;
                }
            }
        }
    }
}

/// Asks for experiment `id` with `?wait=` until it has finished.
fn long_poll(server: &Server, id: Id, sender: &Sender<Update>) {
    let mut trying = Retry::new();
    let path = format!("/experiments/{id}?wait={}", LONG_POLL.as_secs());
    loop {
        match server.get_json_held(&path, LONG_POLL).and_then(Seen::of) {
            Ok(seen) => {
                trying = Retry::new();
                let finished = seen.is_finished();
                if sender.send(Update::Record(Box::new(seen))).is_err() || finished {
                    return;
                }
            }
            Err(failure) => {
                if !trying.again(&failure) {
                    let _ = sender.send(Update::Lost(failure));
                    return;
                }
            }
        }
    }
}

/// Attempts to reach the server again after a failure that may pass: it
/// restarting (unreachable), or too many streams open (503).
struct Retry {
    since: Instant,
    pause: Duration,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            since: Instant::now(),
            pause: Duration::from_secs(1),
        }
    }

    /// Whether to try again after `failure`, having waited before it.
    fn again(&mut self, failure: &Failure) -> bool {
        let passing = matches!(
            failure,
            Failure::Unreachable(_) | Failure::Refused { status: 503, .. }
        );
        if !passing || self.since.elapsed() > RECONNECT_PATIENCE {
            return false;
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(MOST_BACKOFF);
        true
    }
}

/// What the experiments came to: a line when all are COMPLETE, else the
/// failure that names each one that is not.
pub fn outcome(records: &[Seen]) -> Result<String, Failure> {
    let failed: Vec<&Seen> = records
        .iter()
        .filter(|seen| seen.state != crate::model::State::Complete)
        .collect();
    if failed.is_empty() {
        return Ok(match records {
            [one] => format!("experiment {} COMPLETE", one.id),
            all => format!("{} experiments COMPLETE", all.len()),
        });
    }
    /// The failures listed by name; the rest are counted.
    const LISTED: usize = 50;
    let mut text = match records.len() {
        1 => "the experiment did not complete:".to_owned(),
        all => format!("{} of {all} experiments did not complete:", failed.len()),
    };
    for seen in failed.iter().take(LISTED) {
        text.push_str(&format!(
            "\n  {}  {}  {}  {}",
            seen.id,
            seen.query_name,
            seen.state.as_str(),
            seen.error.as_deref().unwrap_or("")
        ));
    }
    if failed.len() > LISTED {
        text.push_str(&format!(
            "\n  and {} more (seqspool status ID for each)",
            failed.len() - LISTED
        ));
    }
    Err(Failure::Experiments(text))
}
