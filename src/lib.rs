//! seqspool: a sequence-query server that processes experiments one at a time.
//!
//! [`run`] is the whole server: the binary calls it with a bound listener, and
//! so do the tests, on port 0 with their own experiments directory.
//!
//! # Layout
//!
//! A request flows one way, from the transport to the disk, and the worker
//! takes it from there:
//!
//! ```text
//! http ─▶ api / ui ─▶ app ─▶ submission ─▶ intake ─▶ store, queue ─▶ worker ─▶ exec ─▶ store
//! ```
//!
//! - `http`: the transport: the accept loop, bodies and their limits, content
//!   negotiation, host names, and `respond`, the one place an error becomes
//!   an answer. It knows nothing of the routes.
//! - `api`: the routes, written once in `api::routes` (method, pattern, who
//!   may, what it answers, the handler), and their JSON handlers: native,
//!   legacy, a batch as a whole, NCBI's `Blast.cgi`, the admin's, events,
//!   metrics, the OpenAPI document.
//! - `ui`: the pages, their handlers and their templates (`ui::results` draws
//!   an experiment's results), embedded in the binary.
//! - `app`: the state the routes share, and the operations the API, the
//!   pages and NCBI's `Put` all perform, one file each (submit, cancel,
//!   retry, drain, front, retention).
//! - `access`: who may do what: the modes, users and tokens, sign-in sessions.
//! - `submission`: one parser for every submission body; `query`: the
//!   validated [`query::Query`] values it makes.
//! - `intake`: acceptance: reserve, write, flush together, publish, answer.
//! - `store`: the experiments directory: the scan, staging and publishing,
//!   records, the queue's state, the trash, files opened without links, a
//!   grouped run's directory and the move of its members' results.
//! - `queue`: the in-memory index: FIFO order, positions, counts, estimates,
//!   cancel, and which experiments a grouped run takes.
//! - `worker`: the one thread that starts experiments, in order, one run at
//!   a time (a run may serve a group of alike experiments next in line; a
//!   Slurm pipeline may allow several runs).
//! - `exec`: the executors behind one seam: `builtin` (the analysis, in
//!   process), `local` (a command as a process tree, through the `runner`
//!   process), `warm` (a processor started once and fed one experiment at a
//!   time) and `slurm` (a batch job on the lab's cluster).
//! - `pipeline`: the lab's tools as the configuration declares them: their
//!   parameters, their TOML tables, what a Slurm pipeline asks of the cluster.
//! - `blast`: BLAST in one home: the formats made from a search's archive
//!   with `blast_formatter`, the hit model read from BLAST's JSON, and
//!   `blast::ncbi`, NCBI's BLAST URL API as the configuration maps it onto
//!   pipelines (programs, databases, settings, RIDs); `api::ncbi` speaks it.
//! - `results`: an experiment's result files read as its page shows them,
//!   their downloads, and `summary` (one result in a few words, for a
//!   batch's page and its merged TSV): data, which `ui` renders.
//! - `notify`: completion notifications (signed webhooks, the lab's
//!   `on_finish` command), durable in each experiment's outbox.
//! - `events`, `metrics`, `retention`, `zipstream`: what changed, what
//!   Prometheus scrapes, what a sweep removes, a streamed ZIP.
//! - `config`: every option, above the rooms it configures (they take their
//!   settings, never the configuration); `cli`: the command line, above
//!   everything, imported only by the binary.
//! - `client`: the commands a scientist runs against a running server
//!   (submit, status, list, wait, results, cancel, retry, queue), over its
//!   HTTP API; only `cli` imports it, and it imports nothing of the server
//!   but the leaves (`model`, `time`, `zipstream`, `http::percent`).
//! - `model`: what an experiment is (id, state, record, run handle);
//!   `error`, `time` and `fault` (a test hook) are leaves everyone may use.
//!
//! `docs/architecture.md` tells the same at length: each room, the
//! directory, the executors, recovery, and the promises with their tests.

pub mod access;
pub mod api;
pub(crate) mod app;
pub(crate) mod blast;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub(crate) mod events;
pub mod exec;
pub mod fault;
pub(crate) mod http;
pub(crate) mod intake;
pub(crate) mod metrics;
pub mod model;
pub(crate) mod notify;
pub mod pipeline;
pub mod query;
pub(crate) mod queue;
pub(crate) mod results;
pub(crate) mod retention;
pub mod store;
pub(crate) mod submission;
pub mod time;
pub(crate) mod ui;
pub(crate) mod worker;
pub(crate) mod zipstream;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::Config;
pub use error::Error;

use app::App;
use exec::Executors;
use intake::Intake;
use model::{Pause, PausedBy};
use pipeline::Catalog;
use queue::Queue;
use store::Store;
use worker::Worker;

/// Serves until `shutdown` completes, then stops in order: no new connections,
/// requests in flight finish (within the grace period), the running command is
/// stopped and left to run first at the next start.
///
/// Before the listener accepts anything, the experiments directory is locked,
/// scanned and recovered, so a client never sees a half-recovered server.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut config = config;
    let shelf = blast::shelf::Shelf::open(
        config.blast_databases.clone(),
        blast::programs::Settings {
            binary: config.runner(),
            group: config.blast_group,
            timeout: config.timeout,
        },
        config.offered(),
        !config.pipelines.is_empty() || config.command.is_some(),
        config.ncbi_section.take(),
        config.ncbi.clone(),
    )
    .await?;
    config.ncbi = shelf.services();
    let config = Arc::new(config);
    let catalog = shelf.catalog().clone();
    let max_connections = config
        .max_connections
        .unwrap_or_else(|| connections_for(raise_open_files_limit()));
    let (max_streams, streams_per_client) = config.stream_limits(max_connections);
    log::info!(
        "serving at most {max_connections} connections at once; of them at most {max_streams} \
         event streams and waits, {streams_per_client} from one client"
    );
    // One set of counters: the queue's, and the executors' (warm processor starts).
    let metrics = Arc::new(metrics::Metrics::new());
    let executors = Arc::new(Executors::new(&config.executors(), metrics.clone()));
    let (store, recovered) = {
        let config = config.clone();
        let executors = executors.clone();
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || -> Result<_, Error> {
            let (store, mut scan) = Store::open(&config.experiments, config.faults.clone())?;
            let mut recovery = worker::recover(&store, &mut scan, &config, &executors);
            scan.pause = check_at_start(&store, scan.pause.take(), config.min_free);
            if let Some(reason) = recovery.pause.take().filter(|_| scan.pause.is_none()) {
                let pause = Pause {
                    reason,
                    since: time::Timestamp::now(),
                    by: PausedBy::Workstation,
                    operator: None,
                };
                if let Err(err) = store.write_pause(Some(&pause)) {
                    log::error!("could not record the queue's state: {err}");
                }
                scan.pause = Some(pause);
            }
            log::info!(
                "recovered {}: {} queued, {} requeued after an interruption, {} failed after an interruption, \
                 {} re-attached, {} finished, {} skipped, {} unacknowledged discarded, in {:.3} s",
                store.root().display(),
                recovery.queued,
                recovery.requeued,
                recovery.failed,
                recovery.reattached,
                recovery.finished,
                scan.skipped,
                scan.discarded,
                scan.took.as_secs_f64()
            );
            if scan.trashed > 0 {
                log::info!(
                    "finished the removal of {} experiment(s) that a stop interrupted (retention)",
                    scan.trashed
                );
            }
            report_changed_definitions(&scan.records, &catalog);
            Ok((store, scan))
        })
        .await
        .map_err(|err| Error::Internal(format!("recovering the experiments directory: {err}")))??
    };
    let access = {
        let (mode, root, proxies) = (
            config.access,
            store.root().to_owned(),
            config.trusted_proxies.clone(),
        );
        tokio::task::spawn_blocking(move || access::Access::open(mode, &root, &proxies))
            .await
            .map_err(|err| Error::Internal(format!("reading the users: {err}")))??
    };
    let store = Arc::new(store);
    // Before the queue takes the records: the ends they still owe notifications for.
    let owed: Vec<_> = recovered
        .records
        .iter()
        .filter(|record| notify::owed(record))
        .cloned()
        .collect();
    let queue = Arc::new(
        Queue::new(config.capacity, recovered.records, recovered.pause).counting_in(metrics),
    );
    let notifier =
        notify::Notifier::start(store.clone(), config.notifier(), owed, queue.metrics()).await?;
    let notifier = Arc::new(notifier);
    if let Some(drain) = recovered.drain.clone() {
        queue.drain(drain);
    }
    // The queue holds the order and the bound; this channel only wakes the
    // worker when it sleeps, so one pending wake-up is all it ever needs.
    let (wake, woken) = tokio::sync::mpsc::channel(1);
    let worker = Worker {
        queue: queue.clone(),
        store: store.clone(),
        executors,
        catalog: catalog.clone(),
        min_free: config.min_free,
        notifier: notifier.clone(),
    }
    .spawn(woken);
    let (intake, intake_thread) = Intake::spawn(
        store.clone(),
        queue.clone(),
        wake.clone(),
        recovered.next_id,
    );

    let app = Arc::new(App {
        config: config.clone(),
        limits: config.limits(),
        catalog: catalog.clone(),
        shelf: shelf.clone(),
        store,
        queue: queue.clone(),
        metrics: queue.metrics(),
        intake: intake.clone(),
        sweeps: Default::default(),
        wake,
        bodies: http::body::BodyBudget::new(config.max_body, config.body_stall),
        hosts: http::host::Hosts::new(&config.allow_hosts),
        access,
        notifier: notifier.clone(),
        streams: events::Streams::new(max_streams, streams_per_client),
    });
    shelf.watch();
    match listener.local_addr() {
        Ok(addr) => {
            app.access.warn_at_start(addr).await;
            log::info!("listening on http://{addr}");
        }
        Err(err) => log::warn!("listening (address unknown: {err})"),
    }
    for pipeline in catalog.pipelines().iter() {
        log::info!(
            "pipeline {}: {}",
            pipeline.name,
            pipeline.definition.label()
        );
    }
    if let Some(drain) = queue.drained() {
        log::warn!(
            "the server is draining since {}, by {}: {}; it takes no new experiments until an operator \
             undrains it (POST /queue/undrain)",
            drain.since,
            drain.by,
            drain.reason
        );
    }
    if let Some(pause) = queue.paused() {
        log::warn!(
            "the queue is paused since {}: {}; nothing starts until an operator resumes it (POST /queue/resume)",
            pause.since,
            pause.reason
        );
    }
    let stopping = {
        let queue = queue.clone();
        let wake = app.wake.clone();
        async move {
            shutdown.await;
            log::info!("shutting down: finishing requests in flight, stopping the running command");
            // At once, not after the connections: the command's grace runs alongside theirs.
            queue.close();
            // A sleeping worker wakes, sees the queue closing, and ends.
            let _ = wake.try_send(());
        }
    };
    let sweeper = app::spawn_sweeps(app.clone());
    let service = move |request, peer| api::handle(app.clone(), request, peer);
    http::serve(
        listener,
        service,
        stopping,
        config.shutdown_grace,
        max_connections,
    )
    .await;

    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    // The intake ends, closing the worker's channel, so an idle worker wakes and ends too.
    intake.close().await;
    let joined = tokio::task::spawn_blocking(move || {
        let intake = intake_thread.join();
        let worker = worker.join();
        intake.and(worker)
    })
    .await;
    if !matches!(joined, Ok(Ok(()))) {
        return Err(Error::Internal(
            "the worker or the intake thread panicked".into(),
        ));
    }
    // What is still to be delivered waits in the outboxes for the next start.
    notifier.close();
    let waiting = queue.backlog().total();
    log::info!("stopped; {waiting} experiment(s) waiting for the next start");
    Ok(())
}

/// Says how many waiting experiments run a pipeline as it was when they were
/// accepted, which the configuration has changed or no longer declares: they
/// run as accepted, and the operator should know.
fn report_changed_definitions(records: &[model::Record], catalog: &Catalog) {
    let mut changed: std::collections::BTreeMap<&str, (usize, bool)> = Default::default();
    for record in records.iter().filter(|r| r.state == model::State::Queued) {
        let current = catalog.get(&record.pipeline);
        if current
            .as_ref()
            .is_none_or(|pipeline| *pipeline.definition != *record.definition())
        {
            let entry = changed
                .entry(&record.pipeline)
                .or_insert((0, current.is_some()));
            entry.0 += 1;
        }
    }
    if changed.is_empty() {
        return;
    }
    let total: usize = changed.values().map(|(n, _)| n).sum();
    let which: Vec<String> = changed
        .iter()
        .map(|(name, (n, still))| {
            if *still {
                format!("{n} of pipeline {name} (changed since)")
            } else {
                format!("{n} of pipeline {name} (no longer configured)")
            }
        })
        .collect();
    log::warn!(
        "{total} queued experiment(s) run a pipeline as it was when they were accepted, not as the configuration has it now: {}",
        which.join(", ")
    );
}

/// The start-up checks: the store can be written and has room. A pause the
/// workstation caused is lifted when they pass; when they fail, the queue
/// pauses (submissions are still taken, nothing runs until it is resumed).
fn check_at_start(store: &Store, pause: Option<Pause>, min_free: u64) -> Option<Pause> {
    let checked = store.check(min_free);
    let pause = match (pause, checked) {
        (Some(pause), Ok(())) if pause.by == PausedBy::Workstation => {
            log::info!(
                "lifting the pause of {} ({}): the start-up checks pass",
                pause.since,
                pause.reason
            );
            None
        }
        (Some(pause), _) => return Some(pause),
        (None, Err(reason)) => Some(Pause {
            reason,
            since: time::Timestamp::now(),
            by: PausedBy::Workstation,
            operator: None,
        }),
        (None, Ok(())) => return None,
    };
    if let Err(err) = store.write_pause(pause.as_ref()) {
        log::error!("could not record the queue's state: {err}");
    }
    pause
}

/// File descriptors kept for the worker, the store and each run (pipes, logs,
/// the supervisor's socket, the intake's flushes), out of the open-files
/// limit: a quarter of it, and never fewer than this.
const RESERVED_FILES: u64 = 64;

/// Descriptors one connection may hold: its socket, and a file it serves.
const FILES_PER_CONNECTION: u64 = 2;

/// The connections that fit in `limit` open files beside what the worker and
/// the store need.
fn connections_for(limit: u64) -> usize {
    let reserved = RESERVED_FILES.max(limit / 4);
    (limit.saturating_sub(reserved) / FILES_PER_CONNECTION).clamp(1, MAX_CONNECTIONS) as usize
}

/// Connections beyond any workstation's need, whatever the limit of open files.
const MAX_CONNECTIONS: u64 = 100_000;

/// Raises this process's soft limit of open files to its hard limit (the
/// usual soft limit, 1 024, is a thousand idle connections); returns the limit.
fn raise_open_files_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let Some(soft) = limit.current else {
        return u64::MAX; // unlimited
    };
    if limit.maximum.is_none_or(|hard| hard > soft) {
        let raised = Rlimit {
            current: limit.maximum.or(Some(soft)),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                log::info!(
                    "raised the open-files limit from {soft} to {}",
                    limit
                        .maximum
                        .map_or("unlimited".to_owned(), |hard| hard.to_string())
                );
                return limit.maximum.unwrap_or(u64::MAX);
            }
            Err(err) => log::warn!("could not raise the open-files limit from {soft}: {err}"),
        }
    }
    soft
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_room_for_the_worker_and_the_store() {
        assert_eq!(connections_for(1024), (1024 - 256) / 2);
        assert_eq!(connections_for(160), (160 - 64) / 2);
        assert_eq!(connections_for(10), 1);
    }
}
