//! B6, batch: one `text/x-fasta` request of many 300-nt records, timed from
//! sending it to its answer, and the experiments on disk checked against the
//! count it answers (issue 6: under 3 s for 10 000 records, scaled to the size
//! of a quick run).

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::Value;

use crate::bench::{Bench, Workload, SLEEPING_WORKER};
use crate::client::Conn;
use crate::experiments::{self, dna, RESIDUES};
use crate::report::{Metric, Run, Target, Unit};
use crate::server::CpuMeter;

/// B6 as the driver lists it.
pub(super) const WORKLOAD: Workload = Workload {
    name: "B6",
    title: "batch: one text/x-fasta request of 300-nt records",
    run,
};

const BATCH_TIME: Metric = Metric {
    name: "one request, N records",
    unit: Unit::Seconds,
    target: Some(Target::Below(3.0)),
};
const BATCH_PER_RECORD: Metric = Metric {
    name: "per record",
    unit: Unit::Millis,
    target: None,
};

/// B6: one FASTA of many 300-nt records, POSTed as text/x-fasta in one request.
fn run(bench: &Bench) -> Result<Run, String> {
    let records = bench.sizes.batch;
    let mut fasta = String::with_capacity(records * (RESIDUES + 20));
    for n in 1..=records {
        let _ = writeln!(fasta, ">well-{n:05} plate 1");
        for line in dna(RESIDUES, n as u64).as_bytes().chunks(60) {
            fasta.push_str(std::str::from_utf8(line).expect("ASCII"));
            fasta.push('\n');
        }
    }
    let mut request = format!(
        "POST /experiments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/x-fasta\r\nContent-Length: {}\r\n\r\n",
        fasta.len()
    )
    .into_bytes();
    request.extend_from_slice(fasta.as_bytes());

    let dir = bench.tempdir()?;
    let max_records = records.max(10_000).to_string();
    let max_body = (64 * 1024 * 1024).to_string();
    let mut args = SLEEPING_WORKER.to_vec();
    args.extend(["--max-records", &max_records, "--max-body", &max_body]);
    let mut server = bench.start(&dir, &args)?;
    let addr = server.addr;
    let cpu = CpuMeter::start(&[server.pid()]);
    let (took, answer) = bench.profiled(&server, "B6", || {
        bench.block_on(async {
            let mut conn = Conn::open(addr).await?;
            let started = Instant::now();
            let answer = conn.send(&request).await?;
            Ok::<_, String>((started.elapsed(), answer))
        })
    })?;
    let cores = cpu.cores();
    let on_disk = experiments::count(&dir)?;
    server.stop()?;
    if answer.status != 202 {
        return Err(format!(
            "the batch got {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
        ));
    }
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("the batch's answer is not JSON: {e}"))?;
    if body["count"].as_u64() != Some(records as u64) || on_disk != records {
        return Err(format!(
            "sent {records} records; the answer counts {}, the disk holds {on_disk}",
            body["count"]
        ));
    }
    let mut run = Run::default();
    let target = Target::Below(3.0 * records as f64 / 10_000.0);
    run.figure(
        Metric {
            target: Some(target),
            ..BATCH_TIME
        },
        took.as_secs_f64(),
    );
    run.figure(
        BATCH_PER_RECORD,
        took.as_secs_f64() * 1000.0 / records as f64,
    );
    run.notes.push(format!(
        "N = {records}; request {} bytes, answer {} bytes; {on_disk} experiments on disk; server used {:.2} cores",
        request.len(),
        answer.body.len(),
        cores[0]
    ));
    Ok(run)
}
