//! Secrets: access tokens and session ids, made from 256 random bits, kept
//! only as SHA-256 hashes, and compared in constant time.
//!
//! A token is as hard to guess as a 256-bit key, so a fast hash is enough to
//! store it (a slow password hash guards weak secrets people choose; these are
//! not chosen): whoever reads the users file learns no token from it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a token or a session id: 256 bits.
const SECRET_BYTES: usize = 32;

/// What every token starts with, so that a token pasted into the wrong place
/// (a chat, a repository) is recognised for what it is.
pub const TOKEN_PREFIX: &str = "ssp_";

/// A secret's SHA-256 hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash of `secret`.
    pub fn of(secret: &str) -> Hash {
        Hash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Lower-case hex, as the users file holds it.
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    /// Reads lower- or upper-case hex of 64 digits.
    pub fn from_hex(text: &str) -> Option<Hash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut hash = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let digits = std::str::from_utf8(pair).ok()?;
            hash[i] = u8::from_str_radix(digits, 16).ok()?;
        }
        Some(Hash(hash))
    }

    /// Whether two hashes are equal, taking the same time whichever bytes differ.
    pub fn matches(&self, other: &Hash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A new access token: the prefix and 256 random bits in hex.
pub fn new_token() -> Result<String, std::io::Error> {
    Ok(format!("{TOKEN_PREFIX}{}", hex(&random()?)))
}

/// A new session id: 256 random bits in hex.
pub fn new_session_id() -> Result<String, std::io::Error> {
    Ok(hex(&random()?))
}

/// Bytes from the kernel's random number generator (`getrandom(2)`), which
/// blocks only until it is seeded at boot.
fn random() -> Result<[u8; SECRET_BYTES], std::io::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    let mut filled = 0;
    while filled < SECRET_BYTES {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_kept_only_as_hashes() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        let hash = Hash::of(&a);
        assert_eq!(Hash::from_hex(&hash.to_hex()), Some(hash));
        assert!(hash.matches(&Hash::of(&a)));
        assert!(!hash.matches(&Hash::of(&b)));
        assert_eq!(
            Hash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex("ab"), None);
        assert_eq!(Hash::from_hex(&"g".repeat(64)), None);
        assert_eq!(new_session_id().unwrap().len(), 64);
    }
}
