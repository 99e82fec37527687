//! Request ids: what a script polls a search by.
//!
//! An RID is 11 upper-case letters and digits, as NCBI's are (some clients
//! take exactly 11 characters). Ours is made from the experiment, so it needs
//! no table and survives restarts: 7 base-36 digits of the experiment's id,
//! then 4 of a check made from the id and the second the experiment was
//! accepted. A mistyped RID, or one from before the experiments directory
//! was started afresh, names no experiment rather than another one.

use std::fmt;

use crate::model::{Id, Record};

const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ID_DIGITS: usize = 7;
const CHECK_DIGITS: usize = 4;
pub(super) const LENGTH: usize = ID_DIGITS + CHECK_DIGITS;

/// A search's request id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rid(String);

impl Rid {
    /// The RID of an experiment; none for an id beyond 36⁷ (78 billion).
    pub(crate) fn of(record: &Record) -> Option<Rid> {
        let id = record.id.0;
        if id >= 36u64.pow(ID_DIGITS as u32) {
            return None;
        }
        let mut text = base36(id, ID_DIGITS);
        text.push_str(&base36(check(record), CHECK_DIGITS));
        Some(Rid(text))
    }

    /// The experiment an RID names, if it is one of ours at all; whether it
    /// is that experiment's is for [`Rid::names`] to say.
    pub(crate) fn id(text: &str) -> Option<Id> {
        let text = text.trim();
        if text.len() != LENGTH || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let upper = text.to_ascii_uppercase();
        from_base36(&upper[..ID_DIGITS]).map(Id)
    }

    /// Whether `text` is the RID of `record` (in any case: clients upper-case it, people type it).
    pub(crate) fn names(text: &str, record: &Record) -> bool {
        Rid::of(record).is_some_and(|rid| rid.0.eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check: the acceptance second, mixed with the id, in 36⁴ values.
fn check(record: &Record) -> u64 {
    let second = record.submitted_at.millis() / 1000;
    // splitmix64's finaliser: every bit of both inputs moves every bit out.
    let mut x = second ^ record.id.0.rotate_left(32);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x % 36u64.pow(CHECK_DIGITS as u32)
}

fn base36(mut n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(digits).expect("base-36 digits are ASCII")
}

fn from_base36(text: &str) -> Option<u64> {
    text.bytes().try_fold(0u64, |n, b| {
        let digit = DIGITS.iter().position(|&d| d == b)? as u64;
        Some(n * 36 + digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    #[test]
    fn an_rid_is_eleven_letters_and_digits_and_names_its_experiment_only() {
        for id in [1, 42, 999_999, 36u64.pow(7) - 1] {
            let record = Record::for_test(id, State::Queued);
            let rid = Rid::of(&record).unwrap().to_string();
            assert_eq!(rid.len(), 11, "{rid}");
            assert!(rid
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
            assert_eq!(Rid::id(&rid), Some(Id(id)));
            assert!(Rid::names(&rid, &record));
            assert!(Rid::names(&rid.to_ascii_lowercase(), &record));
            // Another experiment with the same id (a directory started afresh) has another RID.
            let mut other = record.clone();
            other.submitted_at = record.submitted_at.after(std::time::Duration::from_secs(1));
            assert!(!Rid::names(&rid, &other));
        }
        assert_eq!(
            Rid::of(&Record::for_test(36u64.pow(7), State::Queued)),
            None
        );
        assert_eq!(Rid::id("TOO-SHORT"), None);
        assert_eq!(Rid::id("0000001-ABC"), None);
    }
}
