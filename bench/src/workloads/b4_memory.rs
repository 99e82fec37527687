//! B4, memory: the resident memory of an idle server, and of one that
//! recovered many queued experiments the benchmark wrote on disk, so that the
//! difference is what the in-memory index costs an experiment (issue 6: under
//! 10 MB idle, under 512 bytes a queued experiment).

use std::time::Duration;

use crate::bench::{Bench, Workload, SLEEPING_WORKER};
use crate::client::Conn;
use crate::report::{Metric, Run, Target, Unit};
use crate::server::{proc_status_kib, Server};

/// B4 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B4",
    title: "memory: resident memory idle and with experiments queued",
    run,
};

const RSS_IDLE: Metric = Metric {
    name: "resident, idle",
    unit: Unit::Megabytes,
    target: Some(Target::Below(10.0)),
};
const RSS_LOADED: Metric = Metric {
    name: "resident, N queued",
    unit: Unit::Megabytes,
    target: None,
};
const RSS_PEAK: Metric = Metric {
    name: "peak resident (VmHWM), N queued",
    unit: Unit::Megabytes,
    target: None,
};
const BYTES_PER_QUEUED: Metric = Metric {
    name: "per queued experiment",
    unit: Unit::Bytes,
    target: Some(Target::Below(512.0)),
};

/// B4: resident memory of an idle server, and of one with many experiments
/// queued (written on disk by the benchmark before the server starts).
fn run(bench: &Bench) -> Result<Run, String> {
    let count = bench.sizes.stored;
    let args = SLEEPING_WORKER;
    let mut run = Run::default();
    let dir = bench.stored(0, &mut run)?;

    let empty = bench.tempdir()?;
    let mut idle = bench.start(&empty, &args)?;
    let idle_kib = bench.block_on(settle_and_measure(&idle, 0))?;
    idle.stop()?;

    let mut loaded = bench.start(&dir, &args)?;
    let loaded_kib = bench.block_on(settle_and_measure(&loaded, count))?;
    let peak_kib = proc_status_kib(loaded.pid(), "VmHWM:")?;
    loaded.stop()?;

    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    run.figure(RSS_IDLE, mb(idle_kib));
    run.figure(RSS_LOADED, mb(loaded_kib));
    run.figure(RSS_PEAK, mb(peak_kib));
    run.figure(
        BYTES_PER_QUEUED,
        (loaded_kib.saturating_sub(idle_kib) * 1024) as f64 / count as f64,
    );
    run.notes.push(format!(
        "N = {count}; MB = 10^6 bytes; VmRSS from /proc/PID/status"
    ));
    Ok(run)
}

/// Waits until the server reports `expected` jobs in the backlog (recovery is
/// over), lets it settle, and reads its resident memory in KiB.
async fn settle_and_measure(server: &Server, queued: usize) -> Result<u64, String> {
    let mut conn = Conn::open(server.addr).await?;
    let answer = conn.get_json("/backlog").await?;
    let expected = format!("Currently {queued} jobs in the backlog.");
    if answer[0].as_str() != Some(expected.as_str()) {
        return Err(format!(
            "expected [\"{expected}\"], the backlog says {answer}"
        ));
    }
    // The first experiment starts a moment after the listener answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.get_json("/backlog").await?;
    proc_status_kib(server.pid(), "VmRSS:")
}
