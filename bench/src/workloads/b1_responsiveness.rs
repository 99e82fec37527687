//! B1, responsiveness: `GET /backlog` on 16 keep-alive connections, first with
//! the worker idle, then while an experiment's command burns a whole core, so
//! that the two phases show what a busy worker costs the HTTP side (issue 6:
//! at least 30 000/s, p99 under 2 ms, and p99 busy at most 1.5 times idle).

use std::sync::Arc;
use std::time::Duration;

use crate::bench::{Bench, Workload, COMMAND_TIMEOUT, CONNECTIONS};
use crate::client::{closed_loop, fixed, get_request, submit_one, wait_running};
use crate::experiments::{dna, RESIDUES};
use crate::report::{Metric, Run, Target, Unit};
use crate::server::CpuMeter;

/// B1 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B1",
    title: "responsiveness: GET /backlog, 16 connections, worker idle then busy",
    run,
};

/// A command that takes a whole core until it is stopped (B1's busy phase).
const BUSY_COMMAND: &str = "while :; do :; done";

const IDLE_RPS: Metric = Metric {
    name: "idle: GET /backlog",
    unit: Unit::PerSecond,
    target: Some(Target::AtLeast(30_000.0)),
};
const IDLE_P50: Metric = Metric {
    name: "idle: p50",
    unit: Unit::Millis,
    target: None,
};
const IDLE_P99: Metric = Metric {
    name: "idle: p99",
    unit: Unit::Millis,
    target: Some(Target::Below(2.0)),
};
const IDLE_MAX: Metric = Metric {
    name: "idle: max",
    unit: Unit::Millis,
    target: None,
};
const BUSY_RPS: Metric = Metric {
    name: "busy: GET /backlog",
    unit: Unit::PerSecond,
    target: None,
};
const BUSY_P50: Metric = Metric {
    name: "busy: p50",
    unit: Unit::Millis,
    target: None,
};
const BUSY_P99: Metric = Metric {
    name: "busy: p99",
    unit: Unit::Millis,
    target: None,
};
const BUSY_MAX: Metric = Metric {
    name: "busy: max",
    unit: Unit::Millis,
    target: None,
};
const RATIO_RPS: Metric = Metric {
    name: "busy/idle req/s",
    unit: Unit::Ratio,
    target: None,
};
const RATIO_P99: Metric = Metric {
    name: "busy/idle p99",
    unit: Unit::Ratio,
    target: Some(Target::AtMost(1.5)),
};

/// B1: GET /backlog at 16 connections, with the worker idle and then while a
/// command burns a full core.
fn run(bench: &Bench) -> Result<Run, String> {
    let dir = bench.tempdir()?;
    let mut server = bench.start(
        &dir,
        &["--command", BUSY_COMMAND, "--timeout", COMMAND_TIMEOUT],
    )?;
    let addr = server.addr;
    let request = Arc::new(get_request("/backlog"));
    let phase = bench.sizes.phase;
    let mut run = Run::default();

    let cpu = CpuMeter::start(&[server.pid()]);
    let idle = bench.profiled(&server, "B1-idle", || {
        bench.block_on(closed_loop(
            addr,
            CONNECTIONS,
            phase,
            fixed(request.clone()),
        ))
    })?;
    let idle_cpu = cpu.cores();
    idle.expect_all(200)?;

    let id = bench.block_on(submit_one(addr, "busy-core", &dna(RESIDUES, 2)))?;
    let pgid = bench.block_on(wait_running(addr, &id))?;
    server.adopt_group(pgid);
    // Let the loop reach its full share of a core before measuring beside it.
    std::thread::sleep(Duration::from_millis(300));
    let cpu = CpuMeter::start(&[server.pid(), pgid as u32]);
    let busy = bench.profiled(&server, "B1-busy", || {
        bench.block_on(closed_loop(
            addr,
            CONNECTIONS,
            phase,
            fixed(request.clone()),
        ))
    })?;
    let busy_cpu = cpu.cores();
    busy.expect_all(200)?;
    server.stop()?;

    run.figure(IDLE_RPS, idle.rate());
    run.figure(IDLE_P50, idle.percentile_ms(0.50));
    run.figure(IDLE_P99, idle.percentile_ms(0.99));
    run.figure(IDLE_MAX, idle.percentile_ms(1.0));
    run.figure(BUSY_RPS, busy.rate());
    run.figure(BUSY_P50, busy.percentile_ms(0.50));
    run.figure(BUSY_P99, busy.percentile_ms(0.99));
    run.figure(BUSY_MAX, busy.percentile_ms(1.0));
    run.figure(RATIO_RPS, busy.rate() / idle.rate());
    run.figure(
        RATIO_P99,
        busy.percentile_ms(0.99) / idle.percentile_ms(0.99),
    );
    run.notes.push(format!(
        "idle: {} answers in {:.2} s; cores used: server {:.2}, load generator {:.2}",
        idle.answered,
        idle.elapsed.as_secs_f64(),
        idle_cpu[0],
        idle_cpu.last().copied().unwrap_or_default()
    ));
    run.notes.push(format!(
        "busy: {} answers in {:.2} s; cores used: server {:.2}, command {:.2}, load generator {:.2}",
        busy.answered,
        busy.elapsed.as_secs_f64(),
        busy_cpu[0],
        busy_cpu[1],
        busy_cpu.last().copied().unwrap_or_default()
    ));
    Ok(run)
}
