//! The signing secrets, in the Standard Webhooks form (`whsec_` and the key in
//! base64), and the signature they make.
//!
//! A receiver checks `webhook-signature` = `v1,` + base64(HMAC-SHA256(key,
//! `webhook-id.webhook-timestamp.body`)), which proves the event came from
//! whoever holds the key and was not changed on the way.
//!
//! Every receiver has a secret of its own, so that no receiver can sign an
//! event another would take: the lab's (`[notify] secret`, or the server's
//! own in [`LAB_SECRET_FILE`]), and one per user and per client address,
//! each made from the server's root key ([`ROOT_KEY_FILE`], never shown to
//! anyone) by HMAC over who it is for ([`Secret::derive`]). Knowing one
//! such secret tells nothing of another, nor of the root key.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::Error;

/// What every secret starts with, as Standard Webhooks writes them.
const PREFIX: &str = "whsec_";

/// Bytes of a generated key: 256 bits, as HMAC-SHA256's own output.
const GENERATED_BYTES: usize = 32;

/// The key lengths Standard Webhooks asks for: 24 to 64 bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The lab's secret, beside the experiments: it signs the events posted to
/// the lab-wide URL when the configuration gives no secret of its own (and
/// those to a `notify_url` of an experiment from before users).
pub const LAB_SECRET_FILE: &str = ".notify-secret";

/// The key every user's and every address's secret is made from, beside the
/// experiments; it never leaves the server.
pub const ROOT_KEY_FILE: &str = ".notify-key";

/// What sets the secrets [`Secret::derive`] makes apart from any other use of
/// the root key; a new version would make new secrets.
const DERIVATION: &[u8] = b"seqspool webhook secret v1";

/// A signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

impl Secret {
    /// Reads a secret as Standard Webhooks writes one: `whsec_` and base64.
    pub fn parse(text: &str) -> Result<Secret, String> {
        let how = "make one with: python3 -c 'import base64, os; print(\"whsec_\" + base64.b64encode(os.urandom(32)).decode())'";
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("a secret starts with {PREFIX}; {how}"))?;
        let key = STANDARD_PAD_INDIFFERENT
            .decode(encoded)
            .map_err(|err| format!("the secret after {PREFIX} is not base64 ({err}); {how}"))?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(format!(
                "the secret's key is {} bytes; give {} to {} bytes; {how}",
                key.len(),
                KEY_BYTES.start(),
                KEY_BYTES.end()
            ));
        }
        Ok(Secret { key })
    }

    /// A new random secret.
    pub fn generate() -> std::io::Result<Secret> {
        Ok(Secret {
            key: random_bytes::<GENERATED_BYTES>()?.to_vec(),
        })
    }

    /// The secret as Standard Webhooks writes it, for the receiver's owner.
    pub fn to_text(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The secret made from this key for `kind` (`user`, `address`) and
    /// `parts`: HMAC-SHA256 of them, each after its length (so no two lists
    /// of parts read alike).
    pub fn derive(&self, kind: &str, parts: &[&str]) -> Secret {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(DERIVATION);
        for part in std::iter::once(kind).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        Secret {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// The `webhook-signature` of `body` sent with id `id` at `timestamp`
    /// (Unix seconds).
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// `N` bytes from the kernel's random source.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    let mut filled = 0;
    while filled < N {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(bytes)
}

/// Reads the secret kept in `file` of the experiments directory `root`
/// ([`LAB_SECRET_FILE`], [`ROOT_KEY_FILE`]), making it the first time: a
/// random key, written readable by the server's account alone, flushed, so
/// receivers set up with it keep working across restarts.
pub fn kept(root: &Path, file: &str) -> Result<(Secret, PathBuf), Error> {
    let path = root.join(file);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let secret = Secret::parse(&text)
                .map_err(|err| Error::Internal(format!("reading {}: {err}", path.display())))?;
            return Ok((secret, path));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io("reading", path, err)),
    }
    let secret = Secret::generate().map_err(|e| Error::io("making a secret for", &path, e))?;
    let mut file = tempfile::Builder::new()
        .tempfile_in(root) // 0600: only the server's account reads it
        .map_err(|e| Error::io("creating a temporary file in", root, e))?;
    writeln!(file, "{}", secret.to_text())
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| Error::io("writing", &path, e))?;
    file.persist_noclobber(&path)
        .map_err(|e| Error::io("creating", &path, e.error))?;
    File::open(root)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io("flushing", root, e))?;
    log::info!(
        "made a signing secret for notifications, in {}",
        path.display()
    );
    Ok((secret, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its
    /// reference libraries' tests): this secret, id, timestamp and body sign
    /// to this signature.
    #[test]
    fn the_signature_is_the_one_the_specification_gives() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_is_whsec_and_base64_of_a_key_of_the_usual_length() {
        let made = Secret::generate().unwrap();
        assert_eq!(Secret::parse(&made.to_text()).unwrap(), made);
        assert_ne!(Secret::generate().unwrap(), made);
        for (text, says) in [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with whsec_"),
            ("whsec_not base64!", "not base64"),
            ("whsec_c2hvcnQ=", "is 5 bytes"),
        ] {
            let err = Secret::parse(text).unwrap_err();
            assert!(
                err.contains(says) && err.contains("python3"),
                "{text}: {err}"
            );
        }
        assert!(!format!("{made:?}").contains(&made.to_text()[6..]));
    }

    #[test]
    fn each_receivers_secret_is_its_own() {
        let root = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let anna = root.derive("user", &["anna", "ab12"]);
        assert_eq!(anna, root.derive("user", &["anna", "ab12"]));
        for other in [
            root.derive("user", &["anna", "ab13"]),
            root.derive("user", &["ben", "ab12"]),
            root.derive("user", &["anna\0ab12"]),
            root.derive("address", &["anna", "ab12"]),
            Secret::generate()
                .unwrap()
                .derive("user", &["anna", "ab12"]),
        ] {
            assert_ne!(anna, other);
        }
        assert_ne!(anna, root);
        // A secret a receiver can use as Standard Webhooks writes it.
        assert_eq!(Secret::parse(&anna.to_text()).unwrap(), anna);
    }

    #[test]
    fn a_kept_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, path) = kept(dir.path(), LAB_SECRET_FILE).unwrap();
        let (again, _) = kept(dir.path(), LAB_SECRET_FILE).unwrap();
        assert_eq!(first, again);
        let (root, _) = kept(dir.path(), ROOT_KEY_FILE).unwrap();
        assert_ne!(first, root);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
