//! Who may do what: the lab's users and their tokens, the page's sign-in
//! sessions, and the rules of the three access modes.
//!
//! Every request is first identified ([`Access::identify`]: a bearer token, a
//! session cookie, or nobody, from an address), then checked against the
//! [`Need`] its route declares in the routes table (`api::routes`), with the
//! experiment its path names ([`Access::authorize`]): every write needs a user
//! unless access is open, the queue's controls and the retention policy need
//! an admin, and a member cancels and runs again only their own experiments.
//! The one route whose method does not say whether it writes, NCBI's
//! `/Blast.cgi` (`CMD=Put` submits, by GET too), needs reading; its handler
//! asks for the rest by the command it has parsed ([`Viewer::check_write`]).
//! And just before experiments are written, [`Access::confirm_writer`] asks
//! again, since a user may have been removed while their upload streamed in.
//!
//! - `open` (the default): today's behaviour, anyone may do anything; a token
//!   or a sign-in only says who did it.
//! - `members`: anyone may read; writing needs a user's token.
//! - `closed`: everything but the sign-in page and its assets needs a token.

mod mode;
mod sessions;
mod throttle;
pub mod token;
pub mod users;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use hyper::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::Id;
pub use mode::Mode;
use sessions::{Sessions, SESSION_LIFETIME};
use throttle::{Full, Throttle};
use token::Hash;
use users::Users;

/// The cookie that holds a signed-in browser's session id.
pub const SESSION_COOKIE: &str = "seqspool_session";

/// What a user may do beyond their own experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Anyone's experiments, and the queue's controls.
    Admin,
    /// Their own experiments.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// A user of the lab, as the users file names them.
#[derive(Debug, PartialEq, Eq)]
pub struct User {
    pub name: Arc<str>,
    pub role: Role,
}

/// Who sent a request, and so what they may do.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub mode: Mode,
    /// The user their token or session names; `None` for anybody.
    pub user: Option<Arc<User>>,
    /// The client's address (the proxy's client, behind a trusted proxy).
    pub address: IpAddr,
    /// Whether they are signed in on the page (so they may sign out).
    pub session: bool,
    /// The hash of the token that names `user` (sent, or signed in with):
    /// they are `user` only while it is theirs.
    pub credential: Option<Hash>,
}

impl Default for Viewer {
    /// Anybody, with access open: what pages made outside a request show.
    fn default() -> Viewer {
        Viewer {
            mode: Mode::Open,
            user: None,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            session: false,
            credential: None,
        }
    }
}

impl Viewer {
    /// What `submitted_by` records of them: their user name, or their address.
    pub fn name(&self) -> String {
        match &self.user {
            Some(user) => user.name.to_string(),
            None => self.address.to_string(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|user| user.role == Role::Admin)
    }

    /// Whether they may read: list, look, download.
    pub fn may_read(&self) -> bool {
        self.mode != Mode::Closed || self.user.is_some()
    }

    /// Whether they may submit.
    pub fn may_write(&self) -> bool {
        self.mode == Mode::Open || self.user.is_some()
    }

    /// That they may submit, or the refusal of anybody where writing needs a user.
    pub fn check_write(&self) -> Result<(), Error> {
        if self.may_write() {
            Ok(())
        } else {
            Err(needs_user())
        }
    }

    /// Whether they may use the queue's controls (pause, resume, ...).
    pub fn may_administer(&self) -> bool {
        self.mode == Mode::Open || self.is_admin()
    }

    /// Whether they may cancel or run again an experiment `submitted_by` someone.
    pub fn may_change(&self, submitted_by: Option<&str>) -> bool {
        self.mode == Mode::Open
            || self.is_admin()
            || self
                .user
                .as_ref()
                .is_some_and(|user| submitted_by == Some(&*user.name))
    }

    /// ` by anna`, or ` by 10.0.0.5`: who did something, for the log.
    pub fn by(&self) -> String {
        format!(" by {}", self.name())
    }
}

/// What a route needs of whoever asks, as the routes table declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the sign-in page and the pages' assets.
    Nothing,
    Read,
    Write,
    /// An admin: the queue's controls, the retention policy.
    Admin,
    /// The submitter of the experiment `{id}` names, or an admin; the
    /// change, in words ("cancel"). A path whose `{id}` is no id needs a
    /// writer: there is no such experiment, which the route answers.
    Owner(&'static str),
}

/// The token an `Authorization` header presents: `Bearer TOKEN`, or
/// `Basic` with the token as the password (whatever the user name), which is
/// how NCBI's clients send credentials (Biopython's `qblast(password=...)`).
fn presented_token(value: &HeaderValue) -> Option<String> {
    use base64::Engine as _;
    let (scheme, credentials) = value.to_str().ok()?.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// The refusal of anybody where writing needs a user.
fn needs_user() -> Error {
    Error::Unauthenticated {
        msg: "submitting and changing experiments needs a user: sign in on the page, \
              or send Authorization: Bearer TOKEN (the operator gives tokens out)"
            .to_owned(),
        invalid_token: false,
    }
}

/// The lab's users, their sessions, and the mode.
pub struct Access {
    pub mode: Mode,
    users: Users,
    sessions: Sessions,
    throttle: Throttle,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    proxies: Vec<IpAddr>,
}

impl Access {
    /// Reads the users file of `experiments`; a damaged one is an error.
    pub fn open(mode: Mode, experiments: &Path, proxies: &[IpAddr]) -> Result<Access, Error> {
        Ok(Access {
            mode,
            users: Users::open(experiments)?,
            sessions: Sessions::default(),
            throttle: Throttle::default(),
            proxies: proxies.iter().map(IpAddr::to_canonical).collect(),
        })
    }

    /// Says at start what the mode means for `addr`: open to a network, or
    /// closed to everyone for want of users.
    pub async fn warn_at_start(&self, addr: SocketAddr) {
        let users = self.users.table(true).await.len();
        log::info!(
            "access: {}, {users} user(s) in {}",
            self.mode.as_str(),
            self.users.path().display()
        );
        match self.mode {
            Mode::Open if !addr.ip().is_loopback() => log::warn!(
                "access is open and this server listens on {addr}: anyone who can reach it may \
                 submit, cancel anyone's experiments and pause the queue. To share it with the lab, \
                 add users (seqspool user add NAME [--admin]) and start with --access members"
            ),
            Mode::Members | Mode::Closed if users == 0 => log::warn!(
                "access is {} and {} names no users: nobody can {}. Add one with \
                 `seqspool user add NAME --admin`",
                self.mode.as_str(),
                self.users.path().display(),
                if self.mode == Mode::Closed {
                    "use this server"
                } else {
                    "submit or cancel"
                }
            ),
            _ => {}
        }
    }

    /// Who sent a request: the user of its bearer token or of its session
    /// cookie, or anybody. A token that is nobody's is refused (whatever the
    /// mode: the client meant to be someone), logged and answered late (see
    /// `throttle`); a session that ended (a restart, its expiry, its user
    /// removed or their token replaced) is anybody.
    pub async fn identify(&self, headers: &HeaderMap, peer: SocketAddr) -> Result<Viewer, Error> {
        let address = self.client_address(headers, peer);
        let mut viewer = Viewer {
            mode: self.mode,
            user: None,
            address,
            session: false,
            credential: None,
        };
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let hash = presented_token(value).map(|token| Hash::of(&token));
            let user = match &hash {
                Some(hash) => self.user_of(hash).await,
                None => None,
            };
            viewer.user = Some(self.checked(user, address, "a token").await?);
            viewer.credential = hash;
        } else if let Some(id) = cookie(headers, SESSION_COOKIE) {
            if let Some((name, token)) = self.sessions.user(id) {
                // Only while the token it was signed in with is still theirs.
                match self.users.table(false).await.find(&token) {
                    Some(user) if *user.name == *name => {
                        viewer.user = Some(user);
                        viewer.session = true;
                        viewer.credential = Some(token);
                    }
                    _ => self.sessions.close(id),
                }
            }
        }
        Ok(viewer)
    }

    /// Checks, just before experiments are written for `viewer`, that they
    /// still may write: whoever may not is refused as [`Access::authorize`]
    /// refuses them, and a user whose token was removed or replaced since
    /// the request came in (while an upload streamed in) is refused, so
    /// nothing is written in the name of someone who is no longer a user.
    pub async fn confirm_writer(&self, viewer: &Viewer) -> Result<(), Error> {
        viewer.check_write()?;
        let (Some(user), Some(credential)) = (&viewer.user, &viewer.credential) else {
            return Ok(());
        };
        match self.users.table(true).await.find(credential) {
            Some(now) if now.name == user.name => Ok(()),
            _ => {
                log::warn!(
                    "refused a submission from {}: {} is no longer a user with the token it was sent with",
                    viewer.address,
                    user.name
                );
                Err(Error::Unauthenticated {
                    msg: format!(
                        "{} is no longer a user of this server with this token (removed, or given a \
                         new one, while the request came in): nothing was accepted",
                        user.name
                    ),
                    invalid_token: true,
                })
            }
        }
    }

    /// Signs in with a token pasted into the page: the user, and the cookie
    /// that holds their new session. A wrong token is refused as in [`Access::identify`].
    pub async fn sign_in(
        &self,
        token: &str,
        headers: &HeaderMap,
        peer: SocketAddr,
    ) -> Result<(Arc<User>, HeaderValue), Error> {
        let address = self.client_address(headers, peer);
        let hash = Hash::of(token.trim());
        let user = self.user_of(&hash).await;
        let user = self
            .checked(user, address, "a token in the sign-in form")
            .await?;
        let id = self
            .sessions
            .open(&user.name, hash)
            .map_err(|err| Error::Internal(format!("making a session id: {err}")))?;
        let cookie = format!(
            "{SESSION_COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
            SESSION_LIFETIME.as_secs(),
            self.secure(headers, peer)
        );
        log::info!(
            "{} ({}) signed in on the page from {address}",
            user.name,
            user.role.as_str()
        );
        let cookie = HeaderValue::from_str(&cookie).expect("a session cookie is a header value");
        Ok((user, cookie))
    }

    /// Ends the request's session, if it has one; returns the cookie that
    /// removes it from the browser.
    pub fn sign_out(&self, headers: &HeaderMap, peer: SocketAddr) -> HeaderValue {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.sessions.close(id);
        }
        let cookie = format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
            self.secure(headers, peer)
        );
        HeaderValue::from_str(&cookie).expect("a session cookie is a header value")
    }

    /// Checks that `viewer` may make a request that `need`s this, to the
    /// experiment `id` (as its path gives it, when it names one); `owner`
    /// says who submitted an experiment (`None`: there is no such
    /// experiment, which the route will answer).
    pub fn authorize(
        &self,
        viewer: &Viewer,
        need: Need,
        id: Option<&str>,
        owner: impl FnOnce(Id) -> Option<Option<Arc<str>>>,
    ) -> Result<(), Error> {
        let need = match (need, id.and_then(|id| id.parse::<Id>().ok())) {
            (Need::Owner(what), Some(id)) => Some((id, what)).map_or(need, |_| need),
            (Need::Owner(_), None) => Need::Write,
            (need, _) => need,
        };
        match need {
            Need::Nothing => Ok(()),
            Need::Read if viewer.may_read() => Ok(()),
            Need::Read => Err(Error::Unauthenticated {
                msg: "this server is open to the lab's users only: sign in on its page, \
                      or send Authorization: Bearer TOKEN (the operator gives tokens out)"
                    .to_owned(),
                invalid_token: false,
            }),
            Need::Write | Need::Admin | Need::Owner(_)
                if viewer.user.is_none() && viewer.mode != Mode::Open =>
            {
                Err(needs_user())
            }
            Need::Write => Ok(()),
            Need::Admin if viewer.may_administer() => Ok(()),
            Need::Admin => Err(Error::Forbidden(format!(
                "only an admin may control the queue; {} is a member",
                viewer.name()
            ))),
            Need::Owner(what) => {
                // A path that names no experiment is answered by its route.
                let Some(id) = id.and_then(|id| id.parse::<Id>().ok()) else {
                    return Ok(());
                };
                match owner(id) {
                    Some(by) if !viewer.may_change(by.as_deref()) => {
                        Err(Error::Forbidden(format!(
                            "experiment {id} was submitted by {}; only they or an admin may {what} it",
                            by.as_deref().unwrap_or("somebody else")
                        )))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// The user whose token hashes to `hash`. A token nobody's makes the
    /// users file be read again at once, in case it was just added.
    async fn user_of(&self, hash: &Hash) -> Option<Arc<User>> {
        match self.users.table(false).await.find(hash) {
            Some(user) => Some(user),
            None => self.users.table(true).await.find(hash),
        }
    }

    /// `user`, or the refusal of a failed attempt from `address` with
    /// `what`, logged; either answered when the throttle says (a failure
    /// after those of its address ahead of it and its own delay), or refused
    /// unheard while the address's line is full.
    async fn checked(
        &self,
        user: Option<Arc<User>>,
        address: IpAddr,
        what: &str,
    ) -> Result<Arc<User>, Error> {
        let unheard = |full: Full| {
            Error::Busy(format!(
                "{} answers to wrong tokens from {address} wait their turn already; \
                 try again in {} s",
                full.waiting,
                full.free_in.as_secs() + 1
            ))
        };
        if let Some(user) = user {
            let at = self.throttle.succeeded(address).map_err(unheard)?;
            tokio::time::sleep_until(at.into()).await;
            return Ok(user);
        }
        let failure = self.throttle.failed(address).map_err(unheard)?;
        log::warn!(
            "refused {what} that is nobody's from {address} (failure {} from it; answered after \
             {:.2} s: {} ahead of it, then {:.2} s of its own)",
            failure.count,
            failure
                .at
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
            failure.ahead,
            failure.delay.as_secs_f64()
        );
        tokio::time::sleep_until(failure.at.into()).await;
        Err(Error::Unauthenticated {
            msg: "this token is not a user's of this server: check it, or ask the operator \
                  for a new one (seqspool user add NAME)"
                .into(),
            invalid_token: true,
        })
    }

    /// The client's address: the peer's, or behind a trusted proxy the last
    /// address it put in `X-Forwarded-For`.
    pub fn client_address(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        let peer = peer.ip().to_canonical();
        if !self.proxies.contains(&peer) {
            return peer;
        }
        last_value(headers, "x-forwarded-for")
            .and_then(|value| value.parse::<IpAddr>().ok())
            .map_or(peer, |ip| ip.to_canonical())
    }

    /// `; Secure` when the browser reached the server over TLS, which a
    /// trusted proxy says in `X-Forwarded-Proto` (seqspool itself speaks
    /// plain HTTP only).
    fn secure(&self, headers: &HeaderMap, peer: SocketAddr) -> &'static str {
        let proxied = self.proxies.contains(&peer.ip().to_canonical());
        let https = last_value(headers, "x-forwarded-proto")
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        if proxied && https {
            "; Secure"
        } else {
            ""
        }
    }
}

/// The last comma-separated value of the last `name` header: what the
/// nearest proxy added.
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next().map(str::trim)
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_asked_only_of_a_path_that_names_an_experiment() {
        let dir = tempfile::tempdir().unwrap();
        let access = Access::open(Mode::Members, dir.path(), &[]).unwrap();
        let anna = Viewer {
            mode: Mode::Members,
            user: Some(Arc::new(User {
                name: "anna".into(),
                role: Role::Member,
            })),
            ..Viewer::default()
        };
        let bobs = |id: Id| {
            assert_eq!(id, Id(4));
            Some(Some(Arc::from("bob")))
        };
        let cancel = Need::Owner("cancel");
        let refused = access.authorize(&anna, cancel, Some("000004"), bobs);
        assert!(
            matches!(&refused, Err(Error::Forbidden(msg)) if msg.contains("only they or an admin may cancel it")),
            "{refused:?}"
        );
        // No experiment: the route answers 404, to anyone who may write.
        let nobody = |_| panic!("no experiment to ask about");
        assert!(access.authorize(&anna, cancel, Some("x"), nobody).is_ok());
        let anybody = Viewer {
            mode: Mode::Members,
            ..Viewer::default()
        };
        let refused = access.authorize(&anybody, cancel, Some("x"), nobody);
        assert!(
            matches!(refused, Err(Error::Unauthenticated { .. })),
            "{refused:?}"
        );
        assert!(access.authorize(&anybody, Need::Read, None, nobody).is_ok());
        assert!(access
            .authorize(&anybody, Need::Nothing, None, nobody)
            .is_ok());
    }

    #[test]
    fn members_change_their_own_and_admins_anyones() {
        let user = |name: &str, role| {
            Some(Arc::new(User {
                name: name.into(),
                role,
            }))
        };
        let viewer = |mode, user| Viewer {
            mode,
            user,
            ..Viewer::default()
        };
        let anna = viewer(Mode::Members, user("anna", Role::Member));
        assert!(anna.may_change(Some("anna")));
        assert!(!anna.may_change(Some("bob")));
        assert!(!anna.may_change(None));
        assert!(!anna.may_administer());
        let root = viewer(Mode::Members, user("root", Role::Admin));
        assert!(root.may_change(Some("bob")) && root.may_administer());
        let anybody = viewer(Mode::Members, None);
        assert!(anybody.may_read() && !anybody.may_write());
        assert!(!viewer(Mode::Closed, None).may_read());
        let open = viewer(Mode::Open, None);
        assert!(open.may_write() && open.may_administer() && open.may_change(Some("bob")));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; seqspool_session=abc; other=1"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let access = Access::open(Mode::Members, dir.path(), &[proxy]).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.5"),
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let via_proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let direct: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        assert_eq!(
            access.client_address(&headers, via_proxy),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            access.client_address(&headers, direct),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(access.secure(&headers, via_proxy), "; Secure");
        assert_eq!(access.secure(&headers, direct), "");
    }
}
