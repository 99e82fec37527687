//! A request as its handler gets it ([`Call`]), and what a handler is: any
//! `async fn(Call<'_>) -> Result<Response<Body>, Error>` ([`Handler`]). The
//! routes table names handlers, and the handlers take calls: both import this,
//! neither the other.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::access::Viewer;
use crate::app::{parse_id, App};
use crate::error::Error;
use crate::http::Body;
use crate::model::Id;

/// A request as its handler gets it.
pub(crate) struct Call<'a> {
    pub(crate) app: &'a App,
    pub(crate) request: Request<Incoming>,
    /// Who sent it, as `access` identified them.
    pub(crate) viewer: &'a Viewer,
    /// The address of the connection's other end.
    pub(crate) peer: SocketAddr,
    params: Params<'a>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(
        app: &'a App,
        request: Request<Incoming>,
        viewer: &'a Viewer,
        peer: SocketAddr,
        params: Params<'a>,
    ) -> Call<'a> {
        Call {
            app,
            request,
            viewer,
            peer,
            params,
        }
    }

    /// The query string, if the request has one.
    pub(crate) fn query(&self) -> Option<&str> {
        self.request.uri().query()
    }

    /// The path segment the route's `{name}` took, as it was sent.
    pub(crate) fn param(&self, name: &str) -> &'a str {
        self.params.get(name).unwrap_or_else(|| {
            panic!("a route's handler asked for {{{name}}}, which its pattern lacks")
        })
    }

    /// The experiment `{id}` names; "not found" when it names none.
    pub(crate) fn id(&self) -> Result<Id, Error> {
        parse_id(self.param("id"))
    }
}

/// What a handler's future gives: its answer, or the error that
/// `http::respond` (or, for a page, `ui`) answers with.
pub(crate) type Answer<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Error>> + Send + 'a>>;

/// A route's handler: every `async fn(Call<'_>) -> Result<Response<Body>, Error>` is one.
pub(crate) trait Handler: Sync {
    fn call<'a>(&self, call: Call<'a>) -> Answer<'a>;
}

/// An async function of a [`Call`] with any lifetime; what makes such a
/// function a [`Handler`].
pub(crate) trait HandlerFn<'a>: Sync {
    type Future: Future<Output = Result<Response<Body>, Error>> + Send + 'a;

    fn invoke(&self, call: Call<'a>) -> Self::Future;
}

impl<'a, F, Fut> HandlerFn<'a> for F
where
    F: Fn(Call<'a>) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send + 'a,
{
    type Future = Fut;

    fn invoke(&self, call: Call<'a>) -> Fut {
        self(call)
    }
}

impl<F> Handler for F
where
    F: for<'a> HandlerFn<'a>,
{
    fn call<'a>(&self, call: Call<'a>) -> Answer<'a> {
        Box::pin(self.invoke(call))
    }
}

/// The most `{name}` parts a pattern has.
pub(super) const MAX_PARAMS: usize = 2;

/// The segments of a path that a pattern's `{name}` parts took.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Params<'p> {
    taken: [(&'static str, &'p str); MAX_PARAMS],
    len: usize,
}

impl<'p> Params<'p> {
    /// The segment `{name}` took.
    pub(crate) fn get(&self, name: &str) -> Option<&'p str> {
        self.taken[..self.len]
            .iter()
            .find(|(taker, _)| *taker == name)
            .map(|(_, segment)| *segment)
    }

    /// Takes `segment` for `{name}`; `None` past [`MAX_PARAMS`] (the routes
    /// table's test keeps every pattern within it).
    pub(super) fn take(&mut self, name: &'static str, segment: &'p str) -> Option<()> {
        *self.taken.get_mut(self.len)? = (name, segment);
        self.len += 1;
        Some(())
    }
}
