//! The client: the commands a scientist runs at the terminal against a
//! running server (`seqspool submit`, `status`, `list`, `wait`, `results`,
//! `cancel`, `retry`, `queue`), over its HTTP API as any script would use
//! it, so the server keeps one way in. The command line that reads them is
//! `cli/`'s; this room does the talking, the following and the showing,
//! and nothing of the server runs here.
//!
//! One file per concern: `server.rs` (requests, and refusals in words),
//! `token.rs` (the user's token, never from the arguments), `failure.rs`
//! (what went wrong, each kind with its exit code), `record.rs` (a record
//! as the client reads it), `submit.rs`, `follow.rs` (to the end without
//! polling: `?wait=` and `GET /events`, read by `sse.rs`), `progress.rs`
//! (the line on a terminal), `listing.rs` (status and list), `results.rs`,
//! `cancel.rs` (cancel and retry) and `queue.rs`.

pub mod cancel;
pub mod failure;
pub mod follow;
pub mod listing;
pub mod progress;
pub mod queue;
pub mod record;
pub mod results;
pub mod server;
pub mod sse;
pub mod submit;
pub mod token;

pub use failure::Failure;
pub use server::Server;
pub use token::Token;
