//! Signing in on the page: a form to paste a token into, which sets the
//! session cookie, and signing out, which ends the session.
//!
//! A submission from the page by someone who must sign in first is not
//! lost: the sign-in form carries what they typed (as hidden fields: it
//! works without JavaScript), and once they are signed in the home page
//! puts it back in the form, to be submitted with a click.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other
//! site's page makes the browser send it) and `Secure` behind a TLS proxy
//! (see `access`); the sign-in and sign-out posts pass the router's
//! same-origin check like every other write.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use super::pages::{self, Form, Frame, Input};
use super::{first_page, home_page};
use crate::access::Viewer;
use crate::app::App;
use crate::error::Error;
use crate::http::{body, respond, Body};
use crate::submission::{self, Format};

/// The largest body the sign-in form sends beside a submission it carries:
/// a token and where to go next.
const SIGN_IN_FORM_MAX: usize = 4096;

/// The answer to a page request that needs a user: 401, with the
/// challenge scripts get, and the sign-in form, which leads back to `next`.
pub(crate) fn sign_in_required(err: &Error, next: &str) -> Response<Body> {
    let frame = Frame::default();
    respond::error(
        err,
        Some(pages::sign_in(&frame, local(next), None, None).into_string()),
    )
}

/// The answer to a submission from the page by someone who must sign in
/// first: 401, with the sign-in form carrying what they typed. What is
/// larger than a third of what a body may be is not carried (percent-encoded
/// in the sign-in form, a byte may take three); the page says to submit again.
pub(crate) async fn sign_in_to_submit(
    app: &App,
    request: Request<Incoming>,
    err: &Error,
) -> Response<Body> {
    let submission = app
        .read_submission(request, &[Format::Form, Format::Multipart])
        .await;
    let mut input = Input::from(submission.fields);
    if input.len() > app.config.max_body / 3 {
        input = Input {
            file: input.file,
            ..Input::default()
        };
    }
    let page = pages::sign_in(&Frame::default(), "/", None, Some(&input));
    respond::error(err, Some(page.into_string()))
}

/// `GET /sign-in?next=`: the form.
pub(crate) fn sign_in_form(query_string: Option<&str>, viewer: &Viewer) -> Response<Body> {
    #[derive(Deserialize)]
    struct Params {
        next: Option<String>,
    }
    let next = serde_urlencoded::from_str::<Params>(query_string.unwrap_or(""))
        .ok()
        .and_then(|params| params.next)
        .unwrap_or_default();
    let frame = Frame {
        viewer: viewer.clone(),
        ..Frame::default()
    };
    respond::page(
        StatusCode::OK,
        pages::sign_in(&frame, local(&next), None, None).into_string(),
    )
}

/// `POST /sign-in`: `token` and `next` from the form. A user's token opens a
/// session and leads on to `next` (303), or, when the form carries a
/// submission, to the home page with it back in the form (200); another
/// token comes back to the form (401), after the delay failed attempts get.
pub(crate) async fn sign_in(
    app: &App,
    request: Request<Incoming>,
    peer: SocketAddr,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    #[derive(Default, Deserialize)]
    struct Fields {
        token: Option<String>,
        next: Option<String>,
    }
    let headers = request.headers().clone();
    let most = SIGN_IN_FORM_MAX + app.config.max_body;
    let (body, _budget) = body::read(request, most, &app.bodies).await?;
    let fields: Fields = serde_urlencoded::from_bytes(&body)
        .map_err(|err| Error::Malformed(format!("malformed form: {err}")))?;
    let next = local(fields.next.as_deref().unwrap_or("/")).to_owned();
    let token = fields.token.unwrap_or_default();
    let carried = submission::parse_form(&body)
        .ok()
        .map(Input::from)
        .filter(|input| !input.is_empty());
    match app.access.sign_in(&token, &headers, peer).await {
        Ok((user, cookie)) => {
            let mut response = match carried {
                Some(input) => {
                    let viewer = Viewer {
                        user: Some(user),
                        session: true,
                        ..viewer.clone()
                    };
                    let form = Form {
                        input,
                        carried: true,
                        ..Form::default()
                    };
                    let page = home_page(app, &first_page(), &form, &viewer);
                    respond::page(StatusCode::OK, page.into_string())
                }
                None => respond::see_other(&next),
            };
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(err @ Error::Unauthenticated { .. }) => {
            let frame = Frame::default();
            let said = if token.trim().is_empty() {
                "Paste your token here first."
            } else {
                "That token is not a user's of this server: check that you pasted all of it."
            };
            let page = pages::sign_in(&frame, &next, Some(said), carried.as_ref());
            Ok(respond::error(&err, Some(page.into_string())))
        }
        Err(err) => Err(err),
    }
}

/// `POST /sign-out`: ends the session and goes home, signed out.
pub(crate) fn sign_out(app: &App, request: &Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let headers: &HeaderMap = request.headers();
    let cookie = app.access.sign_out(headers, peer);
    let mut response = respond::see_other("/");
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `next` if it is a path of this server, else `/`: a sign-in never leads
/// to another site (`//elsewhere`, `https://...`, `/\elsewhere`).
fn local(next: &str) -> &str {
    let ours = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ours {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_leads_only_to_a_path_of_this_server() {
        assert_eq!(local("/experiments/000001"), "/experiments/000001");
        assert_eq!(local("/?state=QUEUED"), "/?state=QUEUED");
        for away in [
            "",
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "x",
            "/a\nb",
        ] {
            assert_eq!(local(away), "/", "{away:?}");
        }
    }
}
