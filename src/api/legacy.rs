//! The two routes that keep the shape of the FastAPI server this project grew
//! from, so the scripts written for it keep working: `POST /` and `GET /backlog`.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use crate::access::Viewer;
use crate::app::App;
use crate::error::Error;
use crate::http::{respond, Body};
use crate::submission::Format;

/// `POST /`: a form with `query_name` and `query_sequence`; the answer the
/// FastAPI server gave.
pub async fn submit(
    app: &App,
    request: Request<Incoming>,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let accepted = app
        .read_submission(request, &[Format::Form])
        .await
        .accepted?;
    if accepted.queries.len() > 1 {
        return Err(Error::Invalid {
            field: "query_sequence".into(),
            msg: format!("holds {} FASTA records; POST / takes one sequence, POST /experiments takes a batch", accepted.queries.len()),
        });
    }
    let sequence = accepted.queries[0].sequence().to_owned();
    let record = app.submit(accepted, viewer).await?.remove(0).record;
    let id = record.id.to_string();
    let body = json!({
        "Query created": {
            "query_name": record.query_name,
            "query_sequence": sequence,
            "experiment_id": id,
            "status": "pending",
            "experiment_dir": app.store.dir(record.id),
        },
        "Query ID": id,
        "Backlog Length": app.queue.backlog().total(),
    });
    Ok(respond::with_location(
        respond::json(StatusCode::OK, &body),
        &format!("/experiments/{id}"),
    ))
}

/// `GET /backlog`: `["Currently N jobs in the backlog."]`, N = queued + running,
/// in the seed's exact words (scripts match them).
pub fn backlog(app: &App) -> Response<Body> {
    let count = app.queue.backlog().total();
    respond::json(
        StatusCode::OK,
        &[format!("Currently {count} jobs in the backlog.")],
    )
}
