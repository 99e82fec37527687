//! B2, durable acceptance: form submissions on 16 keep-alive connections
//! while the first experiment sleeps, so that the queue only grows; then the
//! experiments on disk are counted against the 2xx answers, since an answer
//! promises an experiment that survives (issue 6: at least 1 500/s, p99 under 30 ms).

use std::fs;
use std::sync::Arc;

use crate::bench::{Bench, Workload, CONNECTIONS, SLEEPING_WORKER};
use crate::client::{closed_loop, form_request};
use crate::experiments::{self, dna, RESIDUES};
use crate::report::{Metric, Run, Target, Unit};
use crate::server::CpuMeter;

/// B2 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B2",
    title: "durable acceptance: POST /experiments (form, 300 nt), 16 connections",
    run,
};

const ACCEPTED_RATE: Metric = Metric {
    name: "accepted (2xx)",
    unit: Unit::PerSecond,
    target: Some(Target::AtLeast(1500.0)),
};
const ACCEPT_P50: Metric = Metric {
    name: "p50",
    unit: Unit::Millis,
    target: None,
};
const ACCEPT_P99: Metric = Metric {
    name: "p99",
    unit: Unit::Millis,
    target: Some(Target::Below(30.0)),
};
const ACCEPT_MAX: Metric = Metric {
    name: "max",
    unit: Unit::Millis,
    target: None,
};
const ON_DISK_MINUS_2XX: Metric = Metric {
    name: "on disk - 2xx answers",
    unit: Unit::Count,
    target: Some(Target::AtMost(0.0)),
};

/// B2: POST /experiments at 16 connections while the queue only grows; then
/// the experiments on disk are counted against the 2xx answers.
fn run(bench: &Bench) -> Result<Run, String> {
    let dir = bench.tempdir()?;
    let mut server = bench.start(&dir, &SLEEPING_WORKER)?;
    let addr = server.addr;
    let sequence = Arc::new(dna(RESIDUES, 1));
    let phase = bench.sizes.phase;
    let cpu = CpuMeter::start(&[server.pid()]);
    let load = bench.profiled(&server, "B2", || {
        bench.block_on(closed_loop(
            addr,
            CONNECTIONS,
            phase,
            Arc::new(move |conn: usize, n: u64, buf: &mut Vec<u8>| {
                form_request(buf, &format!("b2-{conn}-{n}"), &sequence)
            }),
        ))
    })?;
    let cores = cpu.cores();
    let on_disk = experiments::count(&dir)?;
    let staged_left = fs::read_dir(dir.join(".incoming"))
        .map(|d| d.count())
        .unwrap_or(0);
    let log_tail = server.log_tail(3);
    server.stop()?;

    let accepted = load.count_2xx();
    let mut run = Run::default();
    run.figure(ACCEPTED_RATE, accepted as f64 / load.elapsed.as_secs_f64());
    run.figure(ACCEPT_P50, load.percentile_ms(0.50));
    run.figure(ACCEPT_P99, load.percentile_ms(0.99));
    run.figure(ACCEPT_MAX, load.percentile_ms(1.0));
    run.figure(ON_DISK_MINUS_2XX, (on_disk as f64 - accepted as f64).abs());
    run.notes.push(format!(
        "{accepted} 2xx answers, {on_disk} experiment directories on disk, {} other answers {:?}, \
         {staged_left} left in .incoming; cores used: server {:.2}, load generator {:.2}",
        load.answered - accepted,
        load.other_statuses(),
        cores[0],
        cores.last().copied().unwrap_or_default()
    ));
    if load.answered != accepted {
        run.notes
            .push(format!("server log tail: {}", log_tail.join(" | ")));
    }
    Ok(run)
}
