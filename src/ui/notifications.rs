//! The page that shows a user the secret their notifications are signed
//! with (`GET /notifications/secret` from a browser); its HTML is
//! `pages::notifications`.

use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Response, StatusCode};

use super::pages;
use crate::access::Viewer;
use crate::app::App;
use crate::error::Error;
use crate::http::{respond, Body};

/// `GET /notifications/secret` from a browser: the secret, and how a
/// receiver checks a signature with it. Anybody who must sign in first is
/// asked to, and brought back.
pub(crate) async fn secret(app: &App, viewer: &Viewer) -> Response<Body> {
    let (who, secret) = match app.notification_secret(viewer).await {
        Ok(found) => found,
        Err(err @ Error::Unauthenticated { .. }) => {
            return super::sign_in_required(&err, "/notifications/secret")
        }
        Err(err) => return super::error(&err),
    };
    let own = viewer.user.is_some();
    let page = pages::secret(&super::frame(app, viewer), &who, &secret.to_text(), own);
    let mut response = respond::page(StatusCode::OK, page.into_string());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
