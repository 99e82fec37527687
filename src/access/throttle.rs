//! Slowing down whoever keeps presenting wrong tokens, per client address.
//!
//! Every failure from an address counts, those sent at the same moment too,
//! and each is answered later than the one before it: the answers to an
//! address's failures wait in one line, each given its own delay (doubling
//! with each failure, up to a bound) after the one ahead of it. So N guesses
//! sent at once are answered over the sum of their delays, the Nth after
//! about N times the bound, not all of them after the longest delay.
//!
//! A good token does not wipe the count (a guesser who also holds one would
//! gain nothing by alternating), and is answered at once, or as the line of
//! failures ahead of it ends: no answer tells a guess right or wrong before
//! its turn. The line is bounded ([`MAX_IN_LINE`]): past it a request is
//! refused unheard, right or wrong, so one client cannot hold the server's
//! connections in it.
//!
//! Counts are kept per address (per /64 for IPv6, which a single host may
//! fill), forgotten after a quiet while, and the table is bounded, so a flood
//! of addresses cannot grow it without end. The waiting is the request's own
//! async sleep: it holds no thread and slows no other address. (A 256-bit
//! token is not found by guessing; this keeps a misconfigured script from
//! flooding the log, and an attacker from trying fast.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The delay of a first failure: a person who mistyped barely notices it.
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// The longest delay: each failure after the first doubles it, up to here.
const MAX_DELAY: Duration = Duration::from_secs(8);

/// After this long without a failure, an address starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// Addresses remembered at most; past it the one quiet longest is forgotten.
const MAX_ADDRESSES: usize = 10_000;

/// Answers to one address's failures that may wait at once. A script that
/// retries a few requests in parallel fits; each waiting answer holds a
/// connection, and this keeps one client's to a small part of the server's
/// (`--max-connections`, hundreds at least). The last in a full line waits
/// about a minute and a half.
pub const MAX_IN_LINE: usize = 16;

/// Failures per address, and the line of their answers.
#[derive(Default)]
pub struct Throttle {
    addresses: Mutex<HashMap<IpAddr, Address>>,
}

struct Address {
    /// Failures since the address was last quiet for [`FORGET_AFTER`].
    failures: u32,
    /// When the last of them came.
    last: Instant,
    /// When each answer to a failure still waiting is given, in order.
    line: VecDeque<Instant>,
}

impl Address {
    /// Forgets the answers given by `now`.
    fn given(&mut self, now: Instant) {
        while self.line.front().is_some_and(|&at| at <= now) {
            self.line.pop_front();
        }
    }

    /// The refusal of a request while the line is full.
    fn full(&self, now: Instant) -> Result<(), Full> {
        match self.line.front() {
            Some(&first) if self.line.len() >= MAX_IN_LINE => Err(Full {
                waiting: self.line.len(),
                free_in: first.saturating_duration_since(now),
            }),
            _ => Ok(()),
        }
    }
}

/// A failure counted, and when to answer it.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// Failures from the address, this one included.
    pub count: u32,
    /// Answers to its failures that were waiting when it came.
    pub ahead: usize,
    /// Its own delay, after those.
    pub delay: Duration,
    /// When to answer it: after those, and its own delay.
    pub at: Instant,
}

/// The line of an address is full: the request is refused unheard.
#[derive(Debug, PartialEq, Eq)]
pub struct Full {
    /// Answers waiting in it.
    pub waiting: usize,
    /// Until the first of them is given.
    pub free_in: Duration,
}

impl Throttle {
    /// Counts a failed attempt from `address`: when to answer it, or
    /// [`Full`] (and nothing counted) when its line is full.
    pub fn failed(&self, address: IpAddr) -> Result<Failure, Full> {
        self.failed_at(address, Instant::now())
    }

    /// When to answer a request from `address` that presented a good token:
    /// now, or as the answers to its failures waiting ahead are given; or
    /// [`Full`], as a failure would be. Its failures stay counted.
    pub fn succeeded(&self, address: IpAddr) -> Result<Instant, Full> {
        self.succeeded_at(address, Instant::now())
    }

    fn failed_at(&self, address: IpAddr, now: Instant) -> Result<Failure, Full> {
        let key = key(address);
        let mut addresses = self
            .addresses
            .lock()
            .expect("the throttle lock is not poisoned");
        if addresses.len() >= MAX_ADDRESSES && !addresses.contains_key(&key) {
            addresses.retain(|_, a| now.duration_since(a.last) < FORGET_AFTER);
            if addresses.len() >= MAX_ADDRESSES {
                if let Some(quietest) = addresses
                    .iter()
                    .min_by_key(|(_, a)| a.last)
                    .map(|(key, _)| *key)
                {
                    addresses.remove(&quietest);
                }
            }
        }
        let entry = addresses.entry(key).or_insert(Address {
            failures: 0,
            last: now,
            line: VecDeque::new(),
        });
        entry.given(now);
        entry.full(now)?;
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        let ahead = entry.line.len();
        let start = entry.line.back().map_or(now, |&last| last.max(now));
        let delay = delay(entry.failures);
        let at = start + delay;
        entry.line.push_back(at);
        Ok(Failure {
            count: entry.failures,
            ahead,
            delay,
            at,
        })
    }

    fn succeeded_at(&self, address: IpAddr, now: Instant) -> Result<Instant, Full> {
        let mut addresses = self
            .addresses
            .lock()
            .expect("the throttle lock is not poisoned");
        let Some(entry) = addresses.get_mut(&key(address)) else {
            return Ok(now);
        };
        entry.given(now);
        entry.full(now)?;
        Ok(entry.line.back().map_or(now, |&last| last.max(now)))
    }
}

/// The delay of the `count`th failure.
fn delay(count: u32) -> Duration {
    let doublings = count.saturating_sub(1).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// What failures are counted by: the address, or an IPv6 address's /64.
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_a_bound() {
        let delays: Vec<Duration> = (1..=8).map(delay).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(delays[7], MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn failures_sent_together_are_answered_one_after_another() {
        let throttle = Throttle::default();
        let mallory: IpAddr = "10.0.0.66".parse().unwrap();
        let now = Instant::now();
        let mut at = now;
        for n in 1..=10u32 {
            let failure = throttle.failed_at(mallory, now).unwrap();
            assert_eq!(failure.count, n);
            assert_eq!(failure.ahead, n as usize - 1);
            assert_eq!(failure.delay, delay(n));
            // Each after the one before it, and its own delay.
            assert_eq!(failure.at, at + delay(n));
            at = failure.at;
        }
        // The tenth waits the sum: far past the longest single delay.
        assert_eq!(
            at - now,
            Duration::from_millis(250 + 500 + 1000 + 2000 + 4000) + MAX_DELAY * 5
        );
        // Another address has a line of its own.
        let other = throttle
            .failed_at("10.0.0.7".parse().unwrap(), now)
            .unwrap();
        assert_eq!(
            (other.count, other.ahead, other.at),
            (1, 0, now + FIRST_DELAY)
        );
        // One IPv6 host's many addresses count as one.
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        throttle.failed_at(a, now).unwrap();
        assert_eq!(throttle.failed_at(b, now).unwrap().count, 2);
    }

    #[test]
    fn a_good_token_waits_its_turn_and_wipes_nothing() {
        let throttle = Throttle::default();
        let anna: IpAddr = "10.0.0.5".parse().unwrap();
        let now = Instant::now();
        // Nobody's failures ahead: at once.
        assert_eq!(throttle.succeeded_at(anna, now), Ok(now));
        let first = throttle.failed_at(anna, now).unwrap();
        // A good token sent meanwhile is answered when that failure is.
        assert_eq!(throttle.succeeded_at(anna, now), Ok(first.at));
        // Good and bad alternating: the count goes on, and so do the delays.
        let later = first.at + Duration::from_secs(1);
        assert_eq!(throttle.succeeded_at(anna, later), Ok(later));
        let second = throttle.failed_at(anna, later).unwrap();
        assert_eq!((second.count, second.at), (2, later + delay(2)));
        // Only a quiet while forgets them.
        let quiet = second.at + FORGET_AFTER;
        assert_eq!(throttle.failed_at(anna, quiet).unwrap().count, 1);
    }

    #[test]
    fn a_full_line_refuses_unheard_right_or_wrong_until_an_answer_is_given() {
        let throttle = Throttle::default();
        let mallory: IpAddr = "10.0.0.66".parse().unwrap();
        let now = Instant::now();
        let first = throttle.failed_at(mallory, now).unwrap();
        for _ in 1..MAX_IN_LINE {
            throttle.failed_at(mallory, now).unwrap();
        }
        let full = Full {
            waiting: MAX_IN_LINE,
            free_in: first.at - now,
        };
        assert_eq!(throttle.failed_at(mallory, now), Err(full));
        assert!(throttle.succeeded_at(mallory, now).is_err());
        // Refused unheard, not counted.
        let next = throttle.failed_at(mallory, first.at).unwrap();
        assert_eq!(next.count, MAX_IN_LINE as u32 + 1);
        assert_eq!(next.ahead, MAX_IN_LINE - 1);
    }
}
