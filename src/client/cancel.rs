//! `seqspool cancel` and `seqspool retry`: the two changes a user makes to
//! an experiment once it is submitted (`DELETE /experiments/{id}`, `POST
//! /experiments/{id}/retry`), each answered with the record it made.

use crate::model::Id;

use super::failure::Failure;
use super::record::Seen;
use super::server::Server;

/// What a cancel did.
pub enum Canceled {
    /// It is CANCELED (it had not started, or was cancelled before).
    Now(Seen),
    /// It was running: its command is being stopped, and it ends CANCELED
    /// in a moment (`--shutdown-grace` at most).
    Stopping(Seen),
}

/// Cancels experiment `id`.
pub fn cancel(server: &Server, id: Id) -> Result<Canceled, Failure> {
    let (status, record) = server.send("DELETE", &format!("/experiments/{id}"), None)?;
    let seen = Seen::of(record)?;
    Ok(match status {
        202 => Canceled::Stopping(seen),
        _ => Canceled::Now(seen),
    })
}

/// Runs a finished experiment that did not complete again: a new
/// experiment with its input, pipeline and parameters; returns its record.
pub fn retry(server: &Server, id: Id) -> Result<Seen, Failure> {
    let (_, record) = server.send("POST", &format!("/experiments/{id}/retry"), None)?;
    Seen::of(record)
}
