//! A batch's whole download streams (issue 12): the zip of a batch of ten
//! thousand experiments, larger than the server's memory could hold at
//! ease, is sent as the client reads it, with the server's memory staying
//! within a bound while a slow client downloads it.
//!
//! The real binary serves it, so that the measure is of the server alone:
//! its resident memory (`VmRSS` in `/proc/PID/status`) is sampled during the
//! download, and its peak (`VmHWM`, reset through `/proc/PID/clear_refs`
//! just before) read after.

use crate::common::*;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Experiments in the batch: the most one submission may hold by default.
const RECORDS: usize = 10_000;

/// Residues of each record's sequence: with ten thousand records, a zip of
/// about 92 MiB, more than five times the bound below (a debug build takes
/// some 20 s to accept that much).
const RESIDUES: usize = 9_000;

/// How much the server's resident memory may grow while it streams the zip,
/// generously: the stream itself holds a few hundred kilobytes (the chunks
/// waiting for the connection, the copy buffer), the zip's central directory
/// about 80 bytes an entry (1.6 MB for these 20 000 entries), and the
/// download's thread its stack and allocator arena; 4 MiB was measured.
const GROWTH_BOUND: u64 = 16 * 1024 * 1024;

/// Bytes the slow client reads at a time, and how long it waits after each:
/// at most about 32 MB/s (less, as the reads and samples take time too), so
/// the server is always ahead of it.
const CLIENT_READ: usize = 64 * 1024;
const CLIENT_PAUSE: Duration = Duration::from_millis(2);

/// A value of `/proc/PID/status` in bytes (`VmRSS:   123456 kB`).
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's status");
    let line = status
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in the server's status"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {line}"));
    kb * 1024
}

/// A FASTA text of `RECORDS` random DNA sequences (random, so that nothing
/// in the way could shrink them).
fn random_plate() -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut text = String::with_capacity(RECORDS * (RESIDUES + 20));
    for n in 1..=RECORDS {
        text.push_str(&format!(">well{n:05}\n"));
        let mut left = RESIDUES;
        while left > 0 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bits = state;
            for _ in 0..32.min(left) {
                text.push(['A', 'C', 'G', 'T'][(bits & 3) as usize]);
                bits >>= 2;
            }
            left -= 32.min(left);
        }
        text.push('\n');
    }
    text
}

#[test]
fn the_zip_of_ten_thousand_experiments_streams_within_a_memory_bound() {
    // On tmpfs where there is one: ten thousand experiments are a lot of
    // writing, flushing and removing for a disk that other work shares, and
    // what is measured here is memory.
    let tmp = match Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::tempdir_in(shm),
        _ => tempfile::tempdir(),
    }
    .unwrap();
    let dir = tmp.path().join("experiments");

    // The batch is written by a server of its own, which holds the whole
    // submission in memory for a moment; the one measured starts afterwards.
    let writer = Server::start_in(&dir, |config| config.max_body = 256 * 1024 * 1024);
    let paused = request(writer.addr, "POST", "/queue/pause", &[], b"");
    assert_eq!(paused.status, 200, "{}", paused.text());
    let plate = random_plate();
    let submitted = Instant::now();
    let answer = exchange(
        &http_client(Duration::from_secs(300)),
        ureq::http::Request::post(format!("http://{}/experiments?name=big.fasta", writer.addr))
            .header("Content-Type", "text/x-fasta")
            .body(plate.as_bytes())
            .unwrap(),
    )
    .expect("the batch is answered");
    eprintln!(
        "{RECORDS} experiments of {RESIDUES} residues accepted in {:.1} s",
        submitted.elapsed().as_secs_f64()
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    writer.stop().unwrap();

    // Still paused: all ten thousand wait, and the zip holds each one's
    // input and record.
    let server = Binary::start(&dir, &[]);
    let pid = server.child.id();
    let before = status_bytes(pid, "VmRSS");
    fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting the server's peak");

    let client = http_client(Duration::from_secs(120));
    let answer = client
        .get(format!("http://{}/batches/{batch}.zip", server.addr))
        .call()
        .expect("the zip is answered");
    assert_eq!(answer.status(), 200);
    let mut body = answer.into_body().into_reader();
    let mut saved = Vec::new();
    let mut buffer = vec![0; CLIENT_READ];
    let (mut received, mut sampled_peak) = (0u64, before);
    let started = Instant::now();
    loop {
        let read = body.read(&mut buffer).expect("the zip streams to its end");
        if read == 0 {
            break;
        }
        saved.extend_from_slice(&buffer[..read]);
        received += read as u64;
        sampled_peak = sampled_peak.max(status_bytes(pid, "VmRSS"));
        std::thread::sleep(CLIENT_PAUSE);
    }
    let took = started.elapsed();
    let peak = status_bytes(pid, "VmHWM").max(sampled_peak);
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    eprintln!(
        "zip of {RECORDS} experiments: {:.1} MiB in {:.1} s; server RSS {:.1} MiB before, \
         peak {:.1} MiB during (VmHWM), sampled peak {:.1} MiB: grew {:.1} MiB",
        mib(received),
        took.as_secs_f64(),
        mib(before),
        mib(peak),
        mib(sampled_peak),
        mib(peak.saturating_sub(before)),
    );
    assert!(
        received > 5 * GROWTH_BOUND,
        "the zip ({received} bytes) is not much larger than the bound"
    );
    assert!(
        peak <= before + GROWTH_BOUND,
        "the server grew from {:.1} MiB to {:.1} MiB while it sent {:.1} MiB",
        mib(before),
        mib(peak),
        mib(received)
    );

    // What arrived is the whole batch.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(saved)).expect("a whole zip");
    assert_eq!(archive.len(), 2 * RECORDS);
    let first: u64 = batch.parse().unwrap();
    let last = format!("{:06}-well{RECORDS:05}", first + RECORDS as u64 - 1);
    assert_eq!(
        archive.name_for_index(2 * RECORDS - 2),
        Some(format!("{last}/query.fasta").as_str())
    );
    let mut query = String::new();
    archive
        .by_index(2 * RECORDS - 2)
        .unwrap()
        .read_to_string(&mut query)
        .expect("the entry reads, CRC and all");
    let on_disk = fs::read_to_string(
        dir.join(format!("{:06}", first + RECORDS as u64 - 1))
            .join("query.fasta"),
    )
    .unwrap();
    assert_eq!(query, on_disk);
    assert!(
        server.log().contains("sent its zip of 10000 experiments"),
        "{}",
        server.log()
    );
}

#[test]
fn a_client_that_goes_away_frees_its_download() {
    let server = Server::start(|config| config.max_body = 64 * 1024 * 1024);
    let paused = request(server.addr, "POST", "/queue/pause", &[], b"");
    assert_eq!(paused.status, 200, "{}", paused.text());
    // A zip of about 20 MB: more than the connection's buffers hold, so its
    // writer is still waiting on the client when the client goes.
    let sequence = "ACGT".repeat(2_500);
    let text: String = (1..=2_000)
        .map(|n| format!(">r{n}\n{sequence}\n"))
        .collect();
    let answer = exchange(
        &http_client(Duration::from_secs(120)),
        ureq::http::Request::post(format!("http://{}/experiments", server.addr))
            .header("Content-Type", "text/x-fasta")
            .body(text.as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();

    // More clients than downloads may be written at once (8) each read a
    // little and go; if a download outlived its client, the last would be
    // refused with 503.
    let client = http_client(Duration::from_secs(60));
    for _ in 0..12 {
        let mut started = None;
        wait_until("a download is taken", || {
            let answer = client
                .get(format!("http://{}/batches/{batch}.zip", server.addr))
                .call()
                .unwrap();
            match answer.status().as_u16() {
                200 => {
                    started = Some(answer);
                    true
                }
                503 => false,
                other => panic!("the zip answered {other}"),
            }
        });
        let mut body = started.unwrap().into_body().into_reader();
        let mut first = [0; 4096];
        body.read_exact(&mut first).unwrap();
        assert_eq!(&first[..4], b"PK\x03\x04");
        // Dropped here: the connection closes with most of the zip unsent.
    }

    // And a whole one still arrives, whole.
    let whole = exchange(
        &client,
        ureq::http::Request::get(format!("http://{}/batches/{batch}.zip", server.addr))
            .body(())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(whole.status, 200);
    let archive = zip::ZipArchive::new(std::io::Cursor::new(whole.body)).unwrap();
    assert_eq!(archive.len(), 4_000);
}
