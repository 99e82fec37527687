//! The operator's routes beside pause and resume: drain and undrain the
//! server, move an experiment to the front, and the retention policy's dry
//! run and sweep. Each is for admins (`access`), and names who asked by the
//! viewer's name: the user, or the client's address when the server is open.

use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::call::Call;
use super::native::queue_state;
use crate::app::reason_of;
use crate::error::Error;
use crate::http::{respond, Body};

/// `POST /queue/drain?reason=`: no new submissions (503, with who, since when
/// and why); what is queued and running finishes.
pub async fn drain(call: Call<'_>) -> Result<Response<Body>, Error> {
    let reason = reason_of(call.query(), "drained by an operator")?;
    call.app.drain(reason, call.viewer.name()).await?;
    Ok(respond::json(StatusCode::OK, &queue_state(call.app)))
}

/// `POST /queue/undrain`: takes submissions again.
pub async fn undrain(call: Call<'_>) -> Result<Response<Body>, Error> {
    call.app.undrain(call.viewer.name()).await?;
    Ok(respond::json(StatusCode::OK, &queue_state(call.app)))
}

/// `POST /experiments/{id}/front`: the queued experiment runs next; its record
/// says who moved it and when.
pub async fn front(call: Call<'_>) -> Result<Response<Body>, Error> {
    let view = call
        .app
        .move_to_front(call.id()?, call.viewer.name())
        .await?;
    Ok(respond::json(StatusCode::OK, &view))
}

/// `GET /retention?days=`: what the next sweep would remove (or, with
/// `days`, what a sweep would remove if experiments were kept that long); removes nothing.
pub async fn retention(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, query_string) = (call.app, call.query());
    #[derive(Deserialize)]
    struct Params {
        days: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let days = match params.days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<u32>()
                .ok()
                .filter(|days| *days > 0)
                .ok_or_else(|| Error::Invalid {
                    field: "days".into(),
                    msg: format!(
                        "'{text}' is not a number of days; give a whole number of at least 1"
                    ),
                })?,
        ),
    };
    let listing = app.retention(days).await?;
    Ok(respond::json(StatusCode::OK, &listing))
}

/// `POST /retention/sweep`: sweeps now, as the daily sweep does; 409 while
/// retention is off.
pub async fn sweep(call: Call<'_>) -> Result<Response<Body>, Error> {
    let sweep = call.app.sweep().await?;
    Ok(respond::json(StatusCode::OK, &json!({ "sweep": sweep })))
}
