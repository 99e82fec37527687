//! Signed-in browsers: a random session id in a cookie, and what it stands
//! for held here, in memory.
//!
//! Only the id's hash is kept, so the lookup of a guessed id can leak nothing
//! through its timing. Held in memory, sessions end with the server: a
//! restart signs everyone out, and they paste their token once more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::token::{self, Hash};

/// How long a sign-in lasts: a working day and the evening after it.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Most sessions held at once; past it the oldest is forgotten. A lab has
/// tens of people with a few browsers each: this leaves room for every one.
const MAX_SESSIONS: usize = 10_000;

/// The sessions open now.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    /// Whose: checked against the users file at each use, so a removed user's
    /// sessions end with them.
    user: String,
    expires: Instant,
}

impl Sessions {
    /// Opens a session for `user`; returns its id, for the cookie.
    pub fn open(&self, user: &str) -> Result<String, std::io::Error> {
        let id = token::new_session_id()?;
        let now = Instant::now();
        let mut open = self.open.lock().expect("the sessions lock is not poisoned");
        open.retain(|_, session| session.expires > now);
        if open.len() >= MAX_SESSIONS {
            if let Some(oldest) = open
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(key, _)| *key)
            {
                open.remove(&oldest);
            }
        }
        open.insert(
            Hash::of(&id).0,
            Session {
                user: user.to_owned(),
                expires: now + SESSION_LIFETIME,
            },
        );
        Ok(id)
    }

    /// The user of the session `id`, while it lasts.
    pub fn user(&self, id: &str) -> Option<String> {
        let open = self.open.lock().expect("the sessions lock is not poisoned");
        open.get(&Hash::of(id).0)
            .filter(|session| session.expires > Instant::now())
            .map(|session| session.user.clone())
    }

    /// Ends the session `id`, if there is one.
    pub fn close(&self, id: &str) {
        let mut open = self.open.lock().expect("the sessions lock is not poisoned");
        open.remove(&Hash::of(id).0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stands_for_its_user_until_closed() {
        let sessions = Sessions::default();
        let id = sessions.open("anna").unwrap();
        assert_eq!(sessions.user(&id).as_deref(), Some("anna"));
        assert_eq!(sessions.user("guess"), None);
        sessions.close(&id);
        assert_eq!(sessions.user(&id), None);
    }
}
