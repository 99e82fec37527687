//! seqspool: a sequence-query server that processes experiments one at a time.
//!
//! [`run`] is the whole server: the binary calls it with a bound listener, and
//! so do the tests, on port 0 with their own experiments directory.

pub mod analysis;
pub mod config;
pub mod error;
pub mod http;
pub mod intake;
pub mod query;
pub mod queue;
pub mod routes;
pub mod runner;
pub mod store;
pub mod time;
pub mod ui;
pub mod worker;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::Config;
pub use error::Error;

use intake::Intake;
use queue::Queue;
use routes::App;
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
    let config = Arc::new(config);
    let (store, recovered) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || -> Result<_, Error> {
            let (store, mut scan) = Store::open(&config.experiments, config.faults.clone())?;
            let recovery = worker::recover(&store, &mut scan, &config);
            log::info!(
                "recovered {}: {} queued, {} requeued after an interruption, {} failed after an interruption, \
                 {} finished, {} skipped, {} unacknowledged discarded, in {:.3} s",
                store.root().display(),
                recovery.queued,
                recovery.requeued,
                recovery.failed,
                recovery.finished,
                scan.skipped,
                scan.discarded,
                scan.took.as_secs_f64()
            );
            Ok((store, scan))
        })
        .await
        .map_err(|err| Error::Internal(format!("recovering the experiments directory: {err}")))??
    };
    let store = Arc::new(store);
    let command: Arc<str> = config.command_label().into();
    let queue = Arc::new(Queue::new(config.capacity, recovered.records));
    // The queue holds the order and the bound; this channel only wakes the
    // worker when it sleeps, so one pending wake-up is all it ever needs.
    let (wake, woken) = tokio::sync::mpsc::channel(1);
    let worker = Worker {
        queue: queue.clone(),
        store: store.clone(),
        config: config.clone(),
        command: command.clone(),
    }
    .spawn(woken);
    let (intake, intake_thread) = Intake::spawn(
        store.clone(),
        queue.clone(),
        wake,
        recovered.next_id,
        command,
    );

    let app = Arc::new(App {
        config: config.clone(),
        limits: (&*config).into(),
        store,
        queue: queue.clone(),
        intake: intake.clone(),
        bodies: http::BodyBudget::new(config.max_body),
    });
    match listener.local_addr() {
        Ok(addr) => log::info!("listening on http://{addr}"),
        Err(err) => log::warn!("listening (address unknown: {err})"),
    }
    log::info!("processing command: {}", config.command_label());
    let stopping = {
        let queue = queue.clone();
        async move {
            shutdown.await;
            log::info!("shutting down: finishing requests in flight, stopping the running command");
            // At once, not after the connections: the command's grace runs alongside theirs.
            queue.close();
        }
    };
    http::serve(listener, app.clone(), stopping, config.shutdown_grace).await;

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
    let waiting = queue.backlog().total();
    log::info!("stopped; {waiting} experiment(s) waiting for the next start");
    Ok(())
}
