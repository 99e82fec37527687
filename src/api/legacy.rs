//! The two routes that keep the shape of the FastAPI server this project grew
//! from, so the scripts written for it keep working: `POST /` and `GET /backlog`.

use hyper::{Response, StatusCode};
use serde_json::json;

use super::call::Call;
use crate::error::Error;
use crate::http::{respond, Body};
use crate::submission::Format;

/// `POST /`: a form with `query_name` and `query_sequence`; the answer the
/// FastAPI server gave.
pub async fn submit(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, viewer) = (call.app, call.viewer);
    let accepted = app
        .read_submission(call.request, &[Format::Form])
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
pub async fn backlog(call: Call<'_>) -> Result<Response<Body>, Error> {
    let count = call.app.queue.backlog().total();
    Ok(respond::json(
        StatusCode::OK,
        &[format!("Currently {count} jobs in the backlog.")],
    ))
}
