//! Slowing down whoever keeps presenting wrong tokens: each failed attempt
//! from an address is answered later than the one before, up to a bound.
//!
//! The delay is an async sleep of the failing request alone, so it holds no
//! thread and slows no other client; it is kept per address (per /64 for
//! IPv6, which a single host may fill), forgotten after a quiet while, and
//! the table is bounded, so a flood of addresses cannot grow it without end.
//! (A 256-bit token is not found by guessing; this keeps a misconfigured
//! script from flooding the log, and an attacker from trying fast.)

use std::collections::HashMap;
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

/// Failed attempts per address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
}

impl Throttle {
    /// Counts a failed attempt from `address`; returns how long to wait
    /// before answering it, and how many failures in a row it has made.
    pub fn failed(&self, address: IpAddr) -> (Duration, u32) {
        let key = key(address);
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .expect("the throttle lock is not poisoned");
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&key) {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_ADDRESSES {
                if let Some(quietest) = failures
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(key, _)| *key)
                {
                    failures.remove(&quietest);
                }
            }
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        (delay(entry.count), entry.count)
    }

    /// Forgets the failures of `address`: it has just presented a good token.
    pub fn succeeded(&self, address: IpAddr) {
        let key = key(address);
        let mut failures = self
            .failures
            .lock()
            .expect("the throttle lock is not poisoned");
        failures.remove(&key);
    }
}

/// The delay after the `count`th failure in a row.
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
    fn each_failure_waits_longer_up_to_a_bound_and_only_for_its_address() {
        let throttle = Throttle::default();
        let mallory: IpAddr = "10.0.0.66".parse().unwrap();
        let delays: Vec<Duration> = (0..8).map(|_| throttle.failed(mallory).0).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(delays[7], MAX_DELAY);
        // Another address starts afresh; a good token clears the slate.
        assert_eq!(throttle.failed("10.0.0.7".parse().unwrap()).0, FIRST_DELAY);
        throttle.succeeded(mallory);
        assert_eq!(throttle.failed(mallory).0, FIRST_DELAY);
        // One IPv6 host's many addresses count as one.
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        throttle.failed(a);
        assert_eq!(throttle.failed(b).1, 2);
    }
}
