//! What a browser gets from the routes: each handler here hands a request to
//! its page in `ui`, which renders it. The routes table names these as the
//! pages of its routes (and `/ui/{name}`'s assets as its handler), so the
//! pages need not know how the router passes a request on.

use hyper::Response;

use super::call::Call;
use crate::error::Error;
use crate::http::{respond, Body};
use crate::ui;

/// `GET /`: the lab's page.
pub async fn home(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::home(call.app, call.query(), call.viewer)
}

/// `GET /experiments`: the experiments a filter lists, or a batch's page.
pub async fn listing(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::listing(call.app, call.query(), call.viewer).await
}

/// `POST /experiments` from the page's form.
pub async fn submit(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(ui::submit(call.app, call.request, call.viewer).await)
}

/// `GET /experiments/{id}`: the experiment's page.
pub async fn experiment(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::experiment(call.app, call.param("id"), call.viewer).await
}

/// `POST /experiments/{id}/retry` from the Run again button.
pub async fn retry(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::retry(call.app, call.param("id"), call.viewer).await
}

/// `POST /experiments/{id}/cancel`: the Cancel button, or its confirmation.
pub async fn cancel(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::cancel(call.app, call.param("id"), call.request, call.viewer).await
}

/// `POST /experiments/{id}/front` from the Move to front button.
pub async fn front(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::front(call.app, call.param("id"), call.viewer.name()).await
}

/// `GET /batches/{name}`: the batch's page; its downloads (`ID.zip`,
/// `ID.tsv`) are files, whose errors are answered as a script gets them.
pub async fn batch(call: Call<'_>) -> Result<Response<Body>, Error> {
    let name = call.param("name");
    if name.contains('.') {
        let answer = super::batch::get(call).await;
        return Ok(answer.unwrap_or_else(|err| respond::error(&err, None)));
    }
    ui::batch(call.app, name, call.query(), call.viewer).await
}

/// `GET /notifications/secret`: the secret, on a page.
pub async fn notification_secret(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(ui::notification_secret(call.app, call.viewer).await)
}

/// `GET /ui/{name}`: the stylesheet, the scripts and the icon.
pub async fn asset(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::asset(call.param("name"))
}

/// `GET /sign-in`: the form.
pub async fn sign_in_form(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(ui::sign_in_form(call.query(), call.viewer))
}

/// `POST /sign-in`: the form sent.
pub async fn sign_in(call: Call<'_>) -> Result<Response<Body>, Error> {
    ui::sign_in(call.app, call.request, call.peer, call.viewer).await
}

/// `POST /sign-out`.
pub async fn sign_out(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(ui::sign_out(call.app, &call.request, call.peer))
}
