//! seqspool's end-to-end tests, in one binary: one module an area, each
//! talking to a real server over real HTTP, with real processes and real
//! files, and [`common`], the fixture they share (how a test that needs an
//! outside tool says so is written there, once).
//!
//! One binary links the crate once, where a binary a file linked it once a
//! file. A test is named by its area: `cargo test --test it access::` runs
//! one area, `cargo test --test it access::a_member_cannot` one test.

mod common;

mod access;
mod api;
mod batch;
mod blast;
mod browser;
mod builtin_blast;
mod cancel;
mod cli;
mod client;
mod databases;
mod downloads;
mod events;
mod examples;
mod faults;
mod groups;
mod hostile;
mod input;
mod layout;
mod metrics;
mod ncbi;
mod notify;
mod openapi;
mod pipelines;
mod processing;
mod queue_control;
mod recovery;
mod results;
mod slurm;
mod supervision;
mod tampering;
mod warm;
