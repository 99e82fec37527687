//! seqspool: a sequence-query server that processes experiments one at a time.
//!
//! `run` is the whole server: the binary calls it with a bound listener, and so
//! do the tests, on port 0 with their own experiments directory.

pub mod analysis;
pub mod config;
pub mod error;
pub mod query;

pub use config::Config;
pub use error::Error;
