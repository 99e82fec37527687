//! Signed-in browsers: a random session id in a cookie, and what it stands
//! for held here, in memory.
//!
//! Only the id's hash is kept, so the lookup of a guessed id can leak nothing
//! through its timing. Held in memory, sessions end with the server: a
//! restart signs everyone out, and they paste their token once more.
//!
//! A session stands for a user and the token they signed in with: it lasts
//! only while that very token is theirs (`Access::identify` checks it at each
//! use), so a token removed or rotated signs out every page it signed in,
//! and a name given again to someone else inherits none of them. Each user
//! holds at most [`MAX_SESSIONS_PER_USER`]: a new sign-in past it ends that
//! user's oldest, never anyone else's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::token::{self, Hash};

/// How long a sign-in lasts: a working day and the evening after it.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Most sessions one user holds at once; a sign-in past it ends their oldest.
/// A person signs in from a few browsers on a few machines (the lab's PC,
/// a laptop, a phone), so 16 leaves room for all of them; and the table can
/// hold no more than this many per user the operator added, so one user
/// signing in without end cannot grow it, nor sign anyone else out.
pub const MAX_SESSIONS_PER_USER: usize = 16;

/// The sessions open now.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    /// Whose: checked against the users file at each use, so a removed user's
    /// sessions end with them.
    user: String,
    /// The hash of the token they signed in with: the session lasts only
    /// while it is still theirs.
    token: Hash,
    expires: Instant,
}

impl Sessions {
    /// Opens a session for `user`, signed in with the token whose hash is
    /// `token`; returns its id, for the cookie. Their sessions with another
    /// token (one rotated since) end, and past [`MAX_SESSIONS_PER_USER`] so
    /// does their oldest.
    pub fn open(&self, user: &str, token: Hash) -> Result<String, std::io::Error> {
        let id = token::new_session_id()?;
        let now = Instant::now();
        let mut open = self.open.lock().expect("the sessions lock is not poisoned");
        open.retain(|_, session| {
            session.expires > now && (session.user != user || session.token.matches(&token))
        });
        let mut theirs: Vec<([u8; 32], Instant)> = open
            .iter()
            .filter(|(_, session)| session.user == user)
            .map(|(key, session)| (*key, session.expires))
            .collect();
        if theirs.len() >= MAX_SESSIONS_PER_USER {
            // Every session lasts as long, so the first to expire is the oldest.
            theirs.sort_by_key(|(_, expires)| *expires);
            for (key, _) in &theirs[..=theirs.len() - MAX_SESSIONS_PER_USER] {
                open.remove(key);
            }
        }
        open.insert(
            Hash::of(&id).0,
            Session {
                user: user.to_owned(),
                token,
                expires: now + SESSION_LIFETIME,
            },
        );
        Ok(id)
    }

    /// The user of the session `id` and the hash of the token they signed in
    /// with, while it lasts.
    pub fn user(&self, id: &str) -> Option<(String, Hash)> {
        let open = self.open.lock().expect("the sessions lock is not poisoned");
        open.get(&Hash::of(id).0)
            .filter(|session| session.expires > Instant::now())
            .map(|session| (session.user.clone(), session.token))
    }

    /// Ends the session `id`, if there is one.
    pub fn close(&self, id: &str) {
        let mut open = self.open.lock().expect("the sessions lock is not poisoned");
        open.remove(&Hash::of(id).0);
    }

    /// How many sessions `user` holds.
    #[cfg(test)]
    fn count(&self, user: &str) -> usize {
        let open = self.open.lock().expect("the sessions lock is not poisoned");
        open.values().filter(|session| session.user == user).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stands_for_its_user_and_token_until_closed() {
        let sessions = Sessions::default();
        let token = Hash::of("t-anna");
        let id = sessions.open("anna", token).unwrap();
        assert_eq!(sessions.user(&id), Some(("anna".to_owned(), token)));
        assert_eq!(sessions.user("guess"), None);
        sessions.close(&id);
        assert_eq!(sessions.user(&id), None);
    }

    #[test]
    fn one_user_signing_in_without_end_ends_only_their_own_oldest_sessions() {
        let sessions = Sessions::default();
        let root = sessions.open("root", Hash::of("t-root")).unwrap();
        let anna = Hash::of("t-anna");
        let first = sessions.open("anna", anna).unwrap();
        let second = sessions.open("anna", anna).unwrap();
        for _ in 0..10 * MAX_SESSIONS_PER_USER {
            sessions.open("anna", anna).unwrap();
        }
        assert_eq!(sessions.count("anna"), MAX_SESSIONS_PER_USER);
        assert_eq!(sessions.user(&first), None, "her oldest ended");
        assert_eq!(sessions.user(&second), None);
        assert!(sessions.user(&root).is_some(), "nobody else's ended");

        // A sign-in with a new token ends those of the old one.
        let rotated = sessions.open("anna", Hash::of("t-anna-2")).unwrap();
        assert_eq!(sessions.count("anna"), 1);
        assert!(sessions.user(&rotated).is_some());
    }
}
