//! B3, dispatch overhead: experiments whose command is `true`, submitted on
//! 16 connections at once, timed from the first submission to the last
//! completion, so that the figure is what the queue, the worker and the runner
//! add per experiment; beside it the floor of only spawning `sh -c true`
//! (issue 6: at most 2 ms an experiment).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seqspool::model::State;

use crate::bench::{Bench, Workload, CAPACITY, COMMAND_TIMEOUT, CONNECTIONS};
use crate::client::{form_request, Conn};
use crate::experiments::{self, dna, RESIDUES};
use crate::report::{Metric, Run, Target, Unit};
use crate::server::CpuMeter;

/// B3 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B3",
    title: "dispatch overhead: experiments running `true`, first submission to last completion",
    run,
};

/// How long B3 waits for its experiments to finish before the run fails.
const DISPATCH_PATIENCE: Duration = Duration::from_secs(120);

const DISPATCH_PER_EXPERIMENT: Metric = Metric {
    name: "per experiment",
    unit: Unit::Millis,
    target: Some(Target::AtMost(2.0)),
};
const DISPATCH_TOTAL: Metric = Metric {
    name: "first submission to last completion",
    unit: Unit::Seconds,
    target: None,
};
const DISPATCH_ACCEPTED: Metric = Metric {
    name: "  of which all accepted after",
    unit: Unit::Seconds,
    target: None,
};
const SPAWN_FLOOR: Metric = Metric {
    name: "floor: spawn+wait `sh -c true`",
    unit: Unit::Millis,
    target: None,
};

/// B3: experiments running `true`, submitted concurrently, from the first
/// submission to the last completion; beside it the cost of only spawning `sh -c true`.
fn run(bench: &Bench) -> Result<Run, String> {
    let count = bench.sizes.dispatched;
    let dir = bench.tempdir()?;
    let mut server = bench.start(
        &dir,
        &[
            "--command",
            "true",
            "--timeout",
            COMMAND_TIMEOUT,
            "--capacity",
            CAPACITY,
        ],
    )?;
    let addr = server.addr;
    let sequence = dna(RESIDUES, 3);
    let cpu = CpuMeter::start(&[server.pid()]);
    let (accepted_after, finished_after, counts) = bench.profiled(&server, "B3", || {
        bench.block_on(async {
            let started = Instant::now();
            let next = Arc::new(AtomicU64::new(0));
            let mut submitters = tokio::task::JoinSet::new();
            for _ in 0..CONNECTIONS {
                let next = next.clone();
                let sequence = sequence.clone();
                submitters.spawn(async move {
                    let mut conn = Conn::open(addr).await?;
                    let mut buf = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= count as u64 {
                            return Ok::<_, String>(());
                        }
                        form_request(&mut buf, &format!("b3-{n}"), &sequence);
                        let answer = conn.send(&buf).await?;
                        if answer.status != 202 {
                            return Err(format!(
                                "a submission got {}: {}",
                                answer.status,
                                String::from_utf8_lossy(&answer.body)
                            ));
                        }
                    }
                });
            }
            let mut poller = Conn::open(addr).await?;
            let mut accepted_after = None;
            let deadline = started + DISPATCH_PATIENCE;
            loop {
                while let Some(done) = submitters.try_join_next() {
                    done.map_err(|e| format!("a submitter panicked: {e}"))??;
                }
                if accepted_after.is_none() && submitters.is_empty() {
                    accepted_after = Some(started.elapsed());
                }
                let info = poller.get_json("/service-info").await?;
                let counts = &info["counts"];
                let finished: u64 = ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"]
                    .iter()
                    .map(|state| counts[*state].as_u64().unwrap_or(0))
                    .sum();
                if finished >= count as u64 {
                    let finished_after = started.elapsed();
                    return Ok::<_, String>((
                        accepted_after.unwrap_or(finished_after),
                        finished_after,
                        counts.clone(),
                    ));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "only {finished} of {count} experiments finished in {} s",
                        DISPATCH_PATIENCE.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    })?;
    let cores = cpu.cores();
    server.stop()?;
    let complete_on_disk = experiments::count_in_state(&dir, State::Complete)?;

    let floor_started = Instant::now();
    for _ in 0..count {
        let status = Command::new("sh")
            .args(["-c", "true"])
            .status()
            .map_err(|e| format!("spawning sh -c true: {e}"))?;
        if !status.success() {
            return Err(format!("sh -c true ended with {status}"));
        }
    }
    let floor = floor_started.elapsed();

    let mut run = Run::default();
    run.figure(
        DISPATCH_PER_EXPERIMENT,
        finished_after.as_secs_f64() * 1000.0 / count as f64,
    );
    run.figure(DISPATCH_TOTAL, finished_after.as_secs_f64());
    run.figure(DISPATCH_ACCEPTED, accepted_after.as_secs_f64());
    run.figure(SPAWN_FLOOR, floor.as_secs_f64() * 1000.0 / count as f64);
    run.notes.push(format!(
        "{count} experiments; counts at the end {counts}; {complete_on_disk} experiment.json on disk say COMPLETE; \
         cores used during the phase: server and its commands {:.2}, load generator {:.2}",
        cores[0],
        cores.last().copied().unwrap_or_default()
    ));
    if complete_on_disk != count {
        return Err(format!(
            "only {complete_on_disk} of {count} experiments are recorded COMPLETE on disk"
        ));
    }
    Ok(run)
}
