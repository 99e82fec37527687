//! What changed, as events: every change of an experiment's record and of the
//! backlog, numbered, kept for a while, and sent to whoever listens.
//!
//! The queue publishes an event at each change, under its own lock, so events
//! come in the order the changes happened. Listeners (`GET /events`, a
//! `?wait=` read) subscribe to a broadcast channel; one that reconnects with
//! the id of the last event it saw gets what it missed from the recent ones,
//! or, when too much has passed (or the server restarted), a `reset` telling
//! it to read the state anew. A listener that holds a connection open (a
//! stream, a wait) holds a place among the [`Streams`] while it listens.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::error::Error;
use crate::model::Id;
use crate::time::Timestamp;

/// Events kept for listeners that reconnect: at a busy lab's few changes a
/// second, minutes of them.
const RECENT: usize = 4096;

/// Events a slow listener may fall behind by before it is told to read anew.
const LAG: usize = 1024;

/// One change.
#[derive(Debug)]
pub struct Event {
    /// Increasing within a server's life; see [`Events::id`] for the form
    /// listeners see.
    pub seq: u64,
    /// `experiment` or `backlog`.
    pub kind: &'static str,
    /// The experiment it is about, for an `experiment` event.
    pub experiment: Option<Id>,
    /// That experiment's batch, if it has one.
    pub batch: Option<Id>,
    /// The event's data, JSON.
    pub data: String,
}

/// The events of this server's life.
pub struct Events {
    /// This server's start, in milliseconds: an id from another life is not ours.
    epoch: u64,
    recent: Mutex<VecDeque<Arc<Event>>>,
    sender: broadcast::Sender<Arc<Event>>,
}

/// What a listener gets when it subscribes.
pub struct Subscription {
    /// The events it missed since the id it gave, oldest first.
    pub missed: Vec<Arc<Event>>,
    /// Whether what it missed is more than is kept: it must read anew.
    pub gap: bool,
    pub receiver: broadcast::Receiver<Arc<Event>>,
}

impl Events {
    pub fn new() -> Events {
        Events {
            epoch: Timestamp::now().millis(),
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            sender: broadcast::channel(LAG).0,
        }
    }

    /// Publishes a change; `data` is its JSON.
    pub fn publish(
        &self,
        kind: &'static str,
        experiment: Option<Id>,
        batch: Option<Id>,
        data: String,
    ) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let seq = recent.back().map_or(1, |last| last.seq + 1);
        let event = Arc::new(Event {
            seq,
            kind,
            experiment,
            batch,
            data,
        });
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        // Nobody listening is fine.
        let _ = self.sender.send(event);
    }

    /// Subscribes, with what was missed since `last` (an id as [`Events::id`] gives it).
    pub fn subscribe(&self, last: Option<&str>) -> Subscription {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        // Subscribed under the lock: no event falls between what is replayed and what follows.
        let receiver = self.sender.subscribe();
        let Some(last) = last else {
            return Subscription {
                missed: Vec::new(),
                gap: false,
                receiver,
            };
        };
        let seq = last
            .split_once('.')
            .filter(|(epoch, _)| epoch.parse() == Ok(self.epoch))
            .and_then(|(_, seq)| seq.parse::<u64>().ok());
        match seq {
            Some(seq) if recent.front().is_none_or(|first| first.seq <= seq + 1) => Subscription {
                missed: recent.iter().filter(|e| e.seq > seq).cloned().collect(),
                gap: false,
                receiver,
            },
            _ => Subscription {
                missed: Vec::new(),
                gap: true,
                receiver,
            },
        }
    }

    /// An event's id as listeners see it: `EPOCH.SEQ`.
    pub fn id(&self, event: &Event) -> String {
        format!("{}.{}", self.epoch, event.seq)
    }
}

impl Default for Events {
    fn default() -> Events {
        Events::new()
    }
}

/// The event streams and waits open now, and how many may be
/// (`--max-streams`, `--max-streams-per-client`): past either, a new one gets
/// 503 with `Retry-After`, and the connections left serve ordinary requests.
pub struct Streams {
    /// The most open at once.
    most: usize,
    /// The most one client may hold.
    per_client: usize,
    open: Mutex<Open>,
}

/// What is open: every count is above zero, so the map holds at most `most` clients.
#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One stream's or wait's place among the [`Streams`], given back when it is dropped.
pub struct Held {
    streams: Arc<Streams>,
    client: IpAddr,
}

impl Streams {
    pub fn new(most: usize, per_client: usize) -> Arc<Streams> {
        Arc::new(Streams {
            most,
            per_client,
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more stream or wait of the client at `address`, if there is room.
    pub fn hold(self: &Arc<Self>, address: IpAddr) -> Result<Held, Error> {
        let client = client_of(address);
        let mut open = self.lock();
        let theirs = open.by_client.get(&client).copied().unwrap_or(0);
        if theirs >= self.per_client {
            return Err(Error::Busy(format!(
                "{theirs} event streams and waits are open from {}, the most one client may hold \
                 (--max-streams-per-client); close one, or try again later",
                address
            )));
        }
        if open.total >= self.most {
            return Err(Error::Busy(format!(
                "{} event streams and waits are open, the most this server keeps beside room for \
                 other requests (--max-streams); try again later",
                open.total
            )));
        }
        open.total += 1;
        *open.by_client.entry(client).or_default() += 1;
        Ok(Held {
            streams: self.clone(),
            client,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.streams.lock();
        open.total -= 1;
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

/// The client an address counts as: itself, or for IPv6 its /64, which one
/// host or network is given whole (counted by address, it would have more
/// addresses than the server has connections).
fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_by_client_and_in_all_and_given_back() {
        let streams = Streams::new(3, 2);
        let from = |address: &str| -> IpAddr { address.parse().unwrap() };
        let (anna, ben) = (from("192.0.2.7"), from("192.0.2.8"));
        let first = streams.hold(anna).unwrap();
        let _second = streams.hold(anna).unwrap();
        let refused = streams.hold(anna).err().unwrap();
        assert!(
            refused.to_string().contains("--max-streams-per-client"),
            "{refused}"
        );
        let _third = streams.hold(ben).unwrap();
        let refused = streams.hold(from("192.0.2.9")).err().unwrap();
        assert!(refused.to_string().contains("(--max-streams)"), "{refused}");
        assert!(refused.is_temporary(), "503 with Retry-After");
        drop(first);
        let _again = streams.hold(anna).unwrap();
        assert_eq!(streams.lock().by_client.len(), 2);
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_one_its_address() {
        let client = |text: &str| client_of(text.parse().unwrap()).to_string();
        assert_eq!(client("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(client("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::");
        assert_eq!(client("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(client("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn a_listener_that_reconnects_gets_what_it_missed_or_is_told_to_read_anew() {
        let events = Events::new();
        events.publish("backlog", None, None, "{}".into());
        let first = {
            let recent = events.recent.lock().unwrap();
            events.id(&recent[0])
        };
        events.publish(
            "experiment",
            Some(Id(1)),
            None,
            "{\"state\":\"QUEUED\"}".into(),
        );
        events.publish(
            "experiment",
            Some(Id(1)),
            None,
            "{\"state\":\"RUNNING\"}".into(),
        );
        let missed = events.subscribe(Some(&first));
        assert!(!missed.gap);
        assert_eq!(missed.missed.len(), 2);
        assert_eq!(missed.missed[1].data, "{\"state\":\"RUNNING\"}");
        // An id of another life of the server, or no id it knows.
        assert!(events.subscribe(Some("1.1")).gap);
        assert!(events.subscribe(Some("garbage")).gap);
        for _ in 0..RECENT {
            events.publish("backlog", None, None, "{}".into());
        }
        assert!(events.subscribe(Some(&first)).gap);
    }
}
