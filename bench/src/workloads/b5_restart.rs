//! B5, restart: from starting the process until `GET /backlog` answers, on
//! the directory of stored experiments with half of them finished and half
//! queued, so that the figure is the start-up scan and recovery (issue 6:
//! under 2 s for 100 000 experiments, scaled to the size of a quick run).

use std::time::Instant;

use crate::bench::{Bench, Workload, SLEEPING_WORKER};
use crate::client::Conn;
use crate::report::{Metric, Run, Target, Unit};

/// B5 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B5",
    title: "restart: start until GET /backlog answers, half finished and half queued (warm cache)",
    run,
};

const RESTART: Metric = Metric {
    name: "start until GET /backlog answers",
    unit: Unit::Seconds,
    target: Some(Target::Below(2.0)),
};

/// B5: from starting the process until GET /backlog answers, with experiments
/// on disk, half finished and half queued. The page cache is warm (the
/// benchmark wrote them, and earlier runs read them).
fn run(bench: &Bench) -> Result<Run, String> {
    let count = bench.sizes.stored;
    let mut run = Run::default();
    let dir = bench.stored(count / 2, &mut run)?;
    let started = Instant::now();
    let mut server = bench.start(&dir, &SLEEPING_WORKER)?;
    let answer = bench.block_on(async {
        let mut conn = Conn::open(server.addr).await?;
        conn.get_json("/backlog").await
    })?;
    let took = started.elapsed();
    let recovered = server.recovered_line().unwrap_or_default();
    server.stop()?;
    let expected = format!("Currently {} jobs in the backlog.", count - count / 2);
    if answer[0].as_str() != Some(expected.as_str()) {
        return Err(format!(
            "expected [\"{expected}\"], the backlog says {answer}"
        ));
    }
    let target = Target::Below(2.0 * count as f64 / 100_000.0);
    run.figure(
        Metric {
            target: Some(target),
            ..RESTART
        },
        took.as_secs_f64(),
    );
    run.notes
        .push(format!("N = {count}; the server's log: {recovered}"));
    Ok(run)
}
