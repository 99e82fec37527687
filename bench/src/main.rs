//! The benchmark suite of seqspool: the real `seqspool` binary, driven over
//! loopback by many concurrent keep-alive connections of its own, six workloads,
//! every figure the median of several runs with min and max beside its target.
//!
//! ```sh
//! cargo run --release -p seqspool-bench                      # everything, 3 runs each
//! cargo run --release -p seqspool-bench -- --only B1,B3 --runs 5
//! cargo run --release -p seqspool-bench -- --quick           # a smoke run, under a minute
//! ```
//!
//! Each run starts its own server (`--bind 127.0.0.1:0`, its address read from
//! its log) in its own temporary experiments directory, so runs do not see each
//! other's experiments; only B4 and B5 share one directory of experiments the
//! benchmark writes once. Directories are removed at the end, not between runs
//! (see [`Bench::tempdir`] for why). The client is a small hand-written HTTP/1.1 client on
//! tokio's `TcpStream` (readiness plus `try_read`/`try_write`, so the example
//! needs no tokio feature the server does not already have); it shares the
//! machine's cores with the server, as the issue's targets assume. A guard stops
//! every server it started (SIGTERM, then SIGKILL) on every path, panics
//! included, and the kernel sends the server SIGTERM if the benchmark itself dies.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use seqspool::model::{Id, Record, State};
use seqspool::query::Alphabet;
use seqspool::store::{QUERY_FILE, RECORD_FILE};
use seqspool::time::Timestamp;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

const USAGE: &str = "\
usage: cargo run --release -p seqspool-bench -- [options]

  --runs N            runs per workload; every figure is the median of them (default 3)
  --only B1,B3        run only these workloads (B1 .. B6)
  --quick             a smoke run: 1 run, short phases, small sizes (under a minute)
  --binary PATH       the seqspool binary to measure (default: target/release/seqspool,
                      rebuilt with `cargo build --release --bin seqspool` when run by cargo)
  --tmp DIR           where the experiments directories go (default: the system temp dir)
  --client-threads N  threads of the load generator's runtime (default 1)
  --perf DIR          record the server with `perf record --call-graph dwarf` during each
                      measured phase, into DIR/<workload>.data
  -h, --help          this text
";

/// Concurrent connections of B1 and B2 (issue 6), also used to submit in B3.
const CONNECTIONS: usize = 16;
/// A command that takes a whole core until it is stopped (B1's busy phase).
const BUSY_COMMAND: &str = "while :; do :; done";
/// A command that keeps the first experiment running, so the queue only grows.
const SLEEP_COMMAND: &str = "sleep 1000";
/// Generous: no benchmark phase lasts this long, but nothing outlives the server by much.
const COMMAND_TIMEOUT: &str = "600";
/// Capacity large enough that no workload meets a full queue.
const CAPACITY: &str = "1000000";
/// Residues of every generated query (B2, B3, B4, B5, B6).
const RESIDUES: usize = 300;
/// How long one request may take before the run counts as failed.
const REQUEST_PATIENCE: Duration = Duration::from_secs(30);
/// How long a server with 100 000 experiments may take to start before the run fails.
const START_PATIENCE: Duration = Duration::from_secs(120);
/// How long B3 waits for its experiments to finish before the run fails.
const DISPATCH_PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(msg) => {
            eprintln!("bench: {msg}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let binary = match find_binary(options.binary.clone()) {
        Ok(binary) => binary,
        Err(msg) => {
            eprintln!("bench: {msg}");
            std::process::exit(1);
        }
    };
    let tmp_root = options.tmp.clone().unwrap_or_else(std::env::temp_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads)
        .enable_all()
        .build()
        .expect("starting the client's runtime");
    let sizes = if options.quick {
        Sizes::QUICK
    } else {
        Sizes::FULL
    };
    runtime.spawn(interrupted());
    let bench = Bench {
        binary,
        tmp_root,
        runtime,
        sizes,
        perf: options.perf.clone(),
        stored: RefCell::new(None),
    };
    let machine = Machine::describe(&bench.tmp_root);
    eprintln!("{}", machine.render(&bench.binary));

    let mut reports = Vec::new();
    // The big directories of B4 and B5 last: the other figures come sooner.
    for name in ["B1", "B2", "B3", "B6", "B4", "B5"] {
        if !options.only.is_empty() && !options.only.iter().any(|only| only == name) {
            continue;
        }
        let workload = WORKLOADS
            .iter()
            .find(|w| w.name == name)
            .expect("a workload");
        reports.push(bench.measure(workload, options.runs));
        if INTERRUPTED.load(Ordering::SeqCst) {
            // The signal's task stops the servers, removes the directories and exits.
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    reports.sort_by_key(|report| report.name);
    let machine_after = Machine::load_average();
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine.render(&bench.binary));
    let _ = writeln!(out, "load average at the end: {machine_after}");
    let _ = writeln!(out, "command: {}", options.command_line());
    if options.quick {
        let _ = writeln!(
            out,
            "QUICK RUN: short phases and small sizes; totals are compared with targets scaled to the size"
        );
    }
    let _ = writeln!(out);
    out.push_str(&render_table(&reports, options.runs));
    println!("{out}");
    remove_directories();
}

/// Every experiments directory made, removed at the end (see [`Bench::tempdir`]).
static KEPT: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
/// The pids of the servers running now, for [`interrupted`].
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Set at Ctrl-C or SIGTERM: no further run or server starts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn remove_directories() {
    let kept = std::mem::take(&mut *lock(&KEPT));
    if !kept.is_empty() {
        eprintln!("bench: removing {} experiments directories", kept.len());
    }
    drop(kept);
}

/// Ctrl-C or SIGTERM: stop the servers (gracefully, so that they stop their
/// commands), remove the directories, and exit. If the benchmark is killed
/// outright, the kernel still sends each server SIGTERM (`PR_SET_PDEATHSIG`).
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    INTERRUPTED.store(true, Ordering::SeqCst);
    eprintln!("bench: interrupted; stopping the servers");
    let pids = lock(&RUNNING).clone();
    for pid in &pids {
        // SAFETY: kill only sends a signal to a server this benchmark started.
        unsafe { libc::kill(*pid as i32, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    // A stopped server is a zombie (or reaped) until the main thread waits for it.
    let alive = |pid: &u32| {
        fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    };
    while pids.iter().any(alive) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids.iter().filter(|pid| alive(pid)) {
        // SAFETY: as above; the server did not stop within the grace.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    remove_directories();
    std::process::exit(130);
}

/// The command line, parsed by hand: six flags do not need a parser crate.
#[derive(Debug)]
struct Options {
    runs: usize,
    only: Vec<String>,
    quick: bool,
    binary: Option<PathBuf>,
    tmp: Option<PathBuf>,
    client_threads: usize,
    perf: Option<PathBuf>,
    args: Vec<String>,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let args: Vec<String> = args.collect();
        let mut options = Options {
            runs: 3,
            only: Vec::new(),
            quick: false,
            binary: None,
            tmp: None,
            client_threads: 1,
            perf: None,
            args: args.clone(),
        };
        let mut runs = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--runs" => {
                    let n: usize = value("--runs")?
                        .parse()
                        .map_err(|_| "--runs takes a whole number".to_owned())?;
                    if n == 0 {
                        return Err("--runs must be at least 1".into());
                    }
                    runs = Some(n);
                }
                "--only" => {
                    for name in value("--only")?.split(',') {
                        let name = name.trim().to_ascii_uppercase();
                        if !WORKLOADS.iter().any(|w| w.name == name) {
                            return Err(format!("no workload '{name}'; there are B1 .. B6"));
                        }
                        options.only.push(name);
                    }
                }
                "--quick" => options.quick = true,
                "--binary" => options.binary = Some(value("--binary")?.into()),
                "--tmp" => options.tmp = Some(value("--tmp")?.into()),
                "--perf" => options.perf = Some(value("--perf")?.into()),
                "--client-threads" => {
                    options.client_threads = value("--client-threads")?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            "--client-threads takes a number of at least 1".to_owned()
                        })?;
                }
                "-h" | "--help" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option '{other}'")),
            }
        }
        options.runs = runs.unwrap_or(if options.quick { 1 } else { 3 });
        Ok(options)
    }

    fn command_line(&self) -> String {
        let mut line = "cargo run --release -p seqspool-bench".to_owned();
        if !self.args.is_empty() {
            line.push_str(" -- ");
            line.push_str(&self.args.join(" "));
        }
        line
    }
}

/// The binary to measure: the one given, or the release build beside this
/// tool, rebuilt first when cargo runs us so that a stale binary is never measured.
fn find_binary(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("--binary {}: no such file", path.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    // target/release/seqspool-bench -> target/release/seqspool
    let release = exe
        .parent()
        .ok_or_else(|| format!("{} is not in target/<profile>", exe.display()))?;
    let binary = release.join("seqspool");
    if release.file_name().is_some_and(|name| name != "release") {
        eprintln!(
            "bench: warning: this is not a release build ({}); figures of a debug build mean little",
            release.display()
        );
    }
    if let Some(cargo) = std::env::var_os("CARGO") {
        // The server is the workspace's root package, one directory up.
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-p",
            "seqspool",
            "--bin",
            "seqspool",
            "--manifest-path",
        ]);
        build.arg(&manifest);
        if release.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        eprintln!("bench: building the server: cargo build --release --bin seqspool");
        let status = build
            .status()
            .map_err(|e| format!("running cargo build: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build --release --bin seqspool failed ({status})"
            ));
        }
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release` first (or give --binary PATH)",
            binary.display()
        ))
    }
}

/// How big each workload is: the issue's sizes, or small ones for a smoke run.
#[derive(Clone, Copy)]
struct Sizes {
    /// Length of each measured phase of B1 and B2.
    phase: Duration,
    /// Experiments of B3.
    dispatched: usize,
    /// Experiments on disk for B4 and B5.
    stored: usize,
    /// Records of B6's FASTA.
    batch: usize,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        phase: Duration::from_secs(5),
        dispatched: 1000,
        stored: 100_000,
        batch: 10_000,
    };
    const QUICK: Sizes = Sizes {
        phase: Duration::from_secs(1),
        dispatched: 200,
        stored: 5000,
        batch: 1000,
    };
}

struct Workload {
    name: &'static str,
    title: &'static str,
    run: fn(&Bench) -> Result<Run, String>,
}

const WORKLOADS: [Workload; 6] = [
    Workload {
        name: "B1",
        title: "responsiveness: GET /backlog, 16 connections, worker idle then busy",
        run: b1_responsiveness,
    },
    Workload {
        name: "B2",
        title: "durable acceptance: POST /experiments (form, 300 nt), 16 connections",
        run: b2_acceptance,
    },
    Workload {
        name: "B3",
        title: "dispatch overhead: experiments running `true`, first submission to last completion",
        run: b3_dispatch,
    },
    Workload {
        name: "B4",
        title: "memory: resident memory idle and with experiments queued",
        run: b4_memory,
    },
    Workload {
        name: "B5",
        title:
            "restart: start until GET /backlog answers, half finished and half queued (warm cache)",
        run: b5_restart,
    },
    Workload {
        name: "B6",
        title: "batch: one text/x-fasta request of 300-nt records",
        run: b6_batch,
    },
];

/// What every workload needs.
struct Bench {
    binary: PathBuf,
    tmp_root: PathBuf,
    runtime: Runtime,
    sizes: Sizes,
    perf: Option<PathBuf>,
    stored: RefCell<Option<Stored>>,
}

/// The experiments B4 and B5 start from, written once and rewritten in place
/// (which allocates no inode) when B5 needs half of them finished.
struct Stored {
    dir: PathBuf,
    finished: usize,
}

/// The figures of one run.
#[derive(Default)]
struct Run {
    figures: Vec<(Metric, f64)>,
    notes: Vec<String>,
}

impl Run {
    fn figure(&mut self, metric: Metric, value: f64) {
        self.figures.push((metric, value));
    }
}

/// A row of the table: what is measured, in which unit, against which target.
#[derive(Clone, Copy, PartialEq)]
struct Metric {
    name: &'static str,
    unit: Unit,
    target: Option<Target>,
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    PerSecond,
    Millis,
    Seconds,
    Megabytes,
    Bytes,
    Ratio,
    Count,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(limit) => value >= limit,
            Target::AtMost(limit) => value <= limit,
            Target::Below(limit) => value < limit,
        }
    }

    fn render(self, unit: Unit) -> String {
        match self {
            Target::AtLeast(limit) => format!(">= {}", unit.render(limit)),
            Target::AtMost(limit) => format!("<= {}", unit.render(limit)),
            Target::Below(limit) => format!("< {}", unit.render(limit)),
        }
    }
}

impl Unit {
    fn render(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Millis => format!("{value:.3} ms"),
            Unit::Seconds => format!("{value:.3} s"),
            Unit::Megabytes => format!("{value:.1} MB"),
            Unit::Bytes => format!("{value:.0} B"),
            Unit::Ratio => format!("{value:.2}"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// The outcome of all runs of one workload.
struct Report {
    name: &'static str,
    title: &'static str,
    runs: Vec<Run>,
    error: Option<String>,
}

impl Bench {
    fn measure(&self, workload: &Workload, runs: usize) -> Report {
        let mut report = Report {
            name: workload.name,
            title: workload.title,
            runs: Vec::new(),
            error: None,
        };
        for n in 1..=runs {
            if INTERRUPTED.load(Ordering::SeqCst) {
                break;
            }
            eprintln!(
                "bench: {} run {n}/{runs}: {}",
                workload.name, workload.title
            );
            let started = Instant::now();
            match (workload.run)(self) {
                Ok(run) => {
                    let line: Vec<String> = run
                        .figures
                        .iter()
                        .map(|(m, v)| format!("{} {}", m.name, m.unit.render(*v)))
                        .collect();
                    eprintln!(
                        "bench: {} run {n} done in {:.1} s: {}",
                        workload.name,
                        started.elapsed().as_secs_f64(),
                        line.join(", ")
                    );
                    report.runs.push(run);
                }
                Err(err) => {
                    eprintln!("bench: {} run {n} failed: {err}", workload.name);
                    report.error = Some(format!("run {n} failed: {err}"));
                    break;
                }
            }
        }
        report
    }

    /// A new experiments directory, removed when the benchmark ends, not
    /// before: on ext4 without a journal, inodes deleted in the last seconds
    /// (minutes while their block is dirty) are skipped one by one when a new
    /// inode is allocated, so removing a run's directories at once would make
    /// the next run's file creations slower than they are on a lab's disk.
    fn tempdir(&self) -> Result<PathBuf, String> {
        fs::create_dir_all(&self.tmp_root)
            .map_err(|e| format!("creating {}: {e}", self.tmp_root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("seqspool-bench.")
            .tempdir_in(&self.tmp_root)
            .map_err(|e| format!("creating a directory in {}: {e}", self.tmp_root.display()))?;
        let path = dir.path().to_owned();
        lock(&KEPT).push(dir);
        Ok(path)
    }

    /// The directory of B4 and B5, with its first `finished` experiments
    /// COMPLETE and the rest QUEUED; written the first time it is asked for.
    fn stored(&self, finished: usize, run: &mut Run) -> Result<PathBuf, String> {
        let count = self.sizes.stored;
        let mut stored = self.stored.borrow_mut();
        match stored.as_mut() {
            Some(stored) if stored.finished == finished => {}
            Some(stored) => {
                let took = write_experiments(&stored.dir, count, finished, false)?;
                run.notes.push(format!(
                    "rewrote the {count} records in place ({finished} COMPLETE) in {:.1} s",
                    took.as_secs_f64()
                ));
                stored.finished = finished;
            }
            None => {
                let dir = self.tempdir()?;
                let took = write_experiments(&dir, count, finished, true)?;
                run.notes.push(format!(
                    "wrote {count} experiments ({finished} COMPLETE, {} QUEUED) in {:.1} s",
                    count - finished,
                    took.as_secs_f64()
                ));
                *stored = Some(Stored { dir, finished });
            }
        }
        Ok(stored.as_ref().expect("set above").dir.clone())
    }

    /// Starts the server on `dir` and waits until it logs its address.
    fn start(&self, dir: &Path, args: &[&str]) -> Result<Server, String> {
        Server::start(&self.binary, dir, args)
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs `perf record` on the server while `phase` runs, when asked to.
    fn profiled<T>(&self, server: &Server, label: &str, phase: impl FnOnce() -> T) -> T {
        let Some(dir) = &self.perf else {
            return phase();
        };
        let _ = fs::create_dir_all(dir);
        let output = dir.join(format!("{label}.data"));
        let recorder = Command::new("perf")
            // DWARF unwinding: a release build has no frame pointers to walk.
            .args(["record", "--call-graph", "dwarf,16384", "-F", "499", "-o"])
            .arg(&output)
            .args(["-p", &server.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        // perf needs a moment to attach before the phase it should see.
        std::thread::sleep(Duration::from_millis(300));
        let result = phase();
        match recorder {
            Ok(mut perf) => {
                // SAFETY: kill takes a pid we spawned and have not reaped yet.
                unsafe { libc::kill(perf.id() as i32, libc::SIGINT) };
                let _ = perf.wait();
                eprintln!(
                    "bench: profile in {} (perf report --stdio -i {})",
                    output.display(),
                    output.display()
                );
            }
            Err(err) => eprintln!("bench: perf record did not start: {err}"),
        }
        result
    }
}

// ---------------------------------------------------------------------------
// The workloads.

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
fn b1_responsiveness(bench: &Bench) -> Result<Run, String> {
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

    let id = bench.block_on(submit_one(addr, "busy-core"))?;
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
fn b2_acceptance(bench: &Bench) -> Result<Run, String> {
    let dir = bench.tempdir()?;
    let mut server = bench.start(
        &dir,
        &[
            "--command",
            SLEEP_COMMAND,
            "--timeout",
            COMMAND_TIMEOUT,
            "--capacity",
            CAPACITY,
        ],
    )?;
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
    let on_disk = experiment_dirs(&dir)?;
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
fn b3_dispatch(bench: &Bench) -> Result<Run, String> {
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
    let complete_on_disk = records_in_state(&dir, State::Complete)?;

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
fn b4_memory(bench: &Bench) -> Result<Run, String> {
    let count = bench.sizes.stored;
    let args = [
        "--command",
        SLEEP_COMMAND,
        "--timeout",
        COMMAND_TIMEOUT,
        "--capacity",
        CAPACITY,
    ];
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

const RESTART: Metric = Metric {
    name: "start until GET /backlog answers",
    unit: Unit::Seconds,
    target: Some(Target::Below(2.0)),
};

/// B5: from starting the process until GET /backlog answers, with experiments
/// on disk, half finished and half queued. The page cache is warm (the
/// benchmark wrote them, and earlier runs read them).
fn b5_restart(bench: &Bench) -> Result<Run, String> {
    let count = bench.sizes.stored;
    let mut run = Run::default();
    let dir = bench.stored(count / 2, &mut run)?;
    let started = Instant::now();
    let mut server = bench.start(
        &dir,
        &[
            "--command",
            SLEEP_COMMAND,
            "--timeout",
            COMMAND_TIMEOUT,
            "--capacity",
            CAPACITY,
        ],
    )?;
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
fn b6_batch(bench: &Bench) -> Result<Run, String> {
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
    let mut server = bench.start(
        &dir,
        &[
            "--command",
            SLEEP_COMMAND,
            "--timeout",
            COMMAND_TIMEOUT,
            "--capacity",
            CAPACITY,
            "--max-records",
            &records.max(10_000).to_string(),
            "--max-body",
            &(64 * 1024 * 1024).to_string(),
        ],
    )?;
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
    let on_disk = experiment_dirs(&dir)?;
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

// ---------------------------------------------------------------------------
// The server under test.

/// A running seqspool, stopped (SIGTERM, then SIGKILL) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    /// Process groups of commands it runs, killed if the server has to be killed.
    groups: Vec<i32>,
}

/// What the server logged that the benchmark keeps.
#[derive(Default)]
struct Log {
    tail: VecDeque<String>,
    recovered: Option<String>,
}

const LOG_TAIL: usize = 40;

impl Server {
    fn start(binary: &Path, dir: &Path, args: &[&str]) -> Result<Server, String> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        let mut command = Command::new(binary);
        command
            .args([
                "--bind",
                "127.0.0.1:0",
                "--shutdown-grace",
                "2",
                "--experiments",
            ])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The operator's own settings must not change what is measured.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SEQSPOOL_") {
                command.env_remove(name);
            }
        }
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to send
        // SIGTERM to the server if the benchmark dies without stopping it.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Log::default()));
        let (address, listening) = mpsc::channel();
        {
            let log = log.clone();
            // Drained to the end, so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let _ =
                            address.send(rest.split_whitespace().next().unwrap_or("").to_owned());
                    }
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    if line.contains("] recovered ") {
                        log.recovered = Some(line.clone());
                    }
                    if log.tail.len() == LOG_TAIL {
                        log.tail.pop_front();
                    }
                    log.tail.push_back(line);
                }
            });
        }
        lock(&RUNNING).push(child.id());
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            groups: Vec::new(),
        };
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            match listening.recv_timeout(Duration::from_millis(20)) {
                Ok(text) => {
                    server.addr = text.parse().map_err(|_| {
                        format!("the server logged an address '{text}' that does not parse")
                    })?;
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(format!(
                            "the server exited ({status}) before listening: {}",
                            server.log_tail(10).join(" | ")
                        ));
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "the server did not log its address within {} s: {}",
                        START_PATIENCE.as_secs(),
                        server.log_tail(10).join(" | ")
                    ))
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills this process group too if the server has to be killed.
    fn adopt_group(&mut self, pgid: i32) {
        if pgid > 1 {
            self.groups.push(pgid);
        }
    }

    fn log_tail(&self, lines: usize) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.tail.iter().rev().take(lines).rev().cloned().collect()
    }

    fn recovered_line(&self) -> Option<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.recovered.as_ref().map(|line| {
            line.split_once("] ")
                .map_or(line.as_str(), |(_, message)| message)
                .to_owned()
        })
    }

    /// Stops the server gracefully, and says so if it had to be killed.
    fn stop(&mut self) -> Result<(), String> {
        if self.terminate() {
            Ok(())
        } else {
            Err(format!(
                "the server did not stop within 10 s of SIGTERM and was killed: {}",
                self.log_tail(5).join(" | ")
            ))
        }
    }

    /// SIGTERM, up to 10 s, then SIGKILL for it and the groups it ran. True if
    /// it stopped by itself.
    fn terminate(&mut self) -> bool {
        // Before it can be reaped, so that an interruption never signals a reused pid.
        lock(&RUNNING).retain(|pid| *pid != self.child.id());
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return true;
        }
        let pid = self.child.id() as i32;
        // SAFETY: kill takes the pid of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pgid in self.groups.drain(..) {
            // SAFETY: a negative pid names a process group; ESRCH if it is gone already.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.terminate() {
            eprintln!("bench: a server had to be killed with SIGKILL");
        }
    }
}

/// CPU time used by some processes (and by the benchmark) over an interval, in cores.
struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<f64>,
    own: f64,
    started: Instant,
}

impl CpuMeter {
    fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            pids: pids.to_vec(),
            start: pids.iter().map(|pid| cpu_seconds(*pid)).collect(),
            own: own_cpu_seconds(),
            started: Instant::now(),
        }
    }

    /// Cores used by each process since the start, then by the benchmark itself.
    fn cores(&self) -> Vec<f64> {
        let wall = self.started.elapsed().as_secs_f64();
        let mut cores: Vec<f64> = self
            .pids
            .iter()
            .zip(&self.start)
            .map(|(pid, start)| (cpu_seconds(*pid) - start) / wall)
            .collect();
        cores.push((own_cpu_seconds() - self.own) / wall);
        cores
    }
}

/// User plus system time of a process (with its reaped children), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after it are plain.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime, stime, cutime, cstime are fields 14..17.
    let ticks: f64 = fields
        .get(11..15)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / hz
}

fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass for the call's length.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A field of /proc/PID/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

// ---------------------------------------------------------------------------
// The load generator: keep-alive connections, one request in flight on each.

/// A keep-alive HTTP/1.1 connection that reads answers by their Content-Length.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    chunk: Box<[u8]>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
        })
    }

    /// Sends a whole request and reads its answer, within [`REQUEST_PATIENCE`].
    async fn send(&mut self, request: &[u8]) -> Result<Answer, String> {
        let exchange = async {
            self.write_all(request).await?;
            self.read_answer().await
        };
        match tokio::time::timeout(REQUEST_PATIENCE, exchange).await {
            Ok(answer) => answer.map_err(|e| format!("a request failed: {e}")),
            Err(_) => Err(format!("no answer within {} s", REQUEST_PATIENCE.as_secs())),
        }
    }

    async fn get_json(&mut self, path: &str) -> Result<Value, String> {
        let answer = self.send(&get_request(path)).await?;
        if answer.status != 200 {
            return Err(format!(
                "GET {path} got {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        serde_json::from_slice(&answer.body).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| invalid("the answer's head is not UTF-8"))?;
                let status = head
                    .get(9..12)
                    .and_then(|code| code.parse().ok())
                    .ok_or_else(|| invalid("no status code"))?;
                let mut length = None;
                for line in head.split("\r\n").skip(1) {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse::<usize>().ok();
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(invalid(
                            "a chunked answer; this client reads Content-Length only",
                        ));
                    }
                }
                let length = length.ok_or_else(|| invalid("an answer without Content-Length"))?;
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Ok(Answer { status, body });
            }
            if self.buf.len() > 64 * 1024 {
                return Err(invalid("an answer's head longer than 64 KiB"));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        loop {
            match self.stream.try_read(&mut self.chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ))
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.readable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// A form submission, as `curl -d query_name=... -d query_sequence=...` sends it.
fn form_request(buf: &mut Vec<u8>, name: &str, sequence: &str) {
    let body = format!("query_name={name}&query_sequence={sequence}");
    buf.clear();
    let _ = write!(
        VecWriter(buf),
        "POST /experiments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes the request of connection `conn`'s `n`th exchange into the buffer.
type MakeRequest = Arc<dyn Fn(usize, u64, &mut Vec<u8>) + Send + Sync>;

fn fixed(request: Arc<Vec<u8>>) -> MakeRequest {
    Arc::new(move |_, _, buf: &mut Vec<u8>| {
        buf.clear();
        buf.extend_from_slice(&request);
    })
}

/// What a closed-loop phase saw.
struct Load {
    answered: u64,
    statuses: Vec<(u16, u64)>,
    /// Every answer's latency, in nanoseconds, sorted.
    latencies: Vec<u64>,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank =
            ((p * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1] as f64 / 1e6
    }

    fn count_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(status))
            .map(|(_, n)| n)
            .sum()
    }

    fn other_statuses(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .copied()
            .filter(|(status, _)| !(200..300).contains(status))
            .collect()
    }

    fn expect_all(&self, status: u16) -> Result<(), String> {
        match self.statuses.as_slice() {
            [(only, _)] if *only == status => Ok(()),
            other => Err(format!(
                "expected every answer to be {status}, got {other:?}"
            )),
        }
    }
}

/// Opens `connections` keep-alive connections, then on each sends a request,
/// waits for its answer, and sends the next, until `length` has passed since
/// the start. The answer in flight at the end is waited for and counted.
async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    length: Duration,
    make: MakeRequest,
) -> Result<Load, String> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut conn) in conns.into_iter().enumerate() {
        let make = make.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut statuses: Vec<(u16, u64)> = Vec::new();
            let mut buf = Vec::new();
            let mut n = 0;
            let mut last = started;
            while Instant::now() < deadline {
                make(index, n, &mut buf);
                n += 1;
                let sent = Instant::now();
                let answer = conn.send(&buf).await?;
                last = Instant::now();
                latencies.push((last - sent).as_nanos() as u64);
                match statuses.iter_mut().find(|(s, _)| *s == answer.status) {
                    Some((_, count)) => *count += 1,
                    None => statuses.push((answer.status, 1)),
                }
            }
            Ok::<_, String>((latencies, statuses, last))
        });
    }
    let mut load = Load {
        answered: 0,
        statuses: Vec::new(),
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, statuses, last) =
            done.map_err(|e| format!("a connection's task failed: {e}"))??;
        load.answered += latencies.len() as u64;
        load.latencies.extend(latencies);
        for (status, count) in statuses {
            match load.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, total)) => *total += count,
                None => load.statuses.push((status, count)),
            }
        }
        load.elapsed = load.elapsed.max(last - started);
    }
    load.latencies.sort_unstable();
    Ok(load)
}

/// Submits one experiment and gives its id.
async fn submit_one(addr: SocketAddr, name: &str) -> Result<String, String> {
    let mut conn = Conn::open(addr).await?;
    let mut buf = Vec::new();
    form_request(&mut buf, name, &dna(RESIDUES, 2));
    let answer = conn.send(&buf).await?;
    let record: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("the submission's answer is not JSON: {e}"))?;
    match (answer.status, record["id"].as_str()) {
        (202, Some(id)) => Ok(id.to_owned()),
        _ => Err(format!("the submission got {}: {record}", answer.status)),
    }
}

/// Waits until the experiment is RUNNING with its process recorded; gives its process group.
async fn wait_running(addr: SocketAddr, id: &str) -> Result<i32, String> {
    let mut conn = Conn::open(addr).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let record = conn.get_json(&format!("/experiments/{id}")).await?;
        if record["state"] == "RUNNING" {
            if let Some(pgid) = record["handle"]["pgid"].as_i64() {
                return Ok(pgid as i32);
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "experiment {id} was not RUNNING within 30 s: {record}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// Experiments on disk.

/// A reproducible DNA sequence of `length` residues.
fn dna(length: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..length)
        .map(|_| {
            // xorshift64: enough variety for a sequence nobody reads.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"ACGT"[(state >> 33) as usize % 4] as char
        })
        .collect()
}

/// Writes `count` experiments as the server's store would have: `query.fasta`
/// (when `create`) and `experiment.json` (the server's own [`Record`] type, so
/// the shape cannot drift), the first `finished` of them COMPLETE, the rest
/// QUEUED. Nothing is fsynced: the page cache is all a start-up scan reads from.
fn write_experiments(
    dir: &Path,
    count: usize,
    finished: usize,
    create: bool,
) -> Result<Duration, String> {
    let started = Instant::now();
    let command: Arc<str> = SLEEP_COMMAND.into();
    let definition = Arc::new(seqspool::pipeline::Definition::legacy(SLEEP_COMMAND));
    let sequence = dna(RESIDUES, 7);
    for n in 1..=count {
        let id = Id(n as u64);
        let path = dir.join(id.to_string());
        if create {
            fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        }
        let name = format!("plate7-{n:06}");
        let mut fasta = format!(">{name}\n");
        for line in sequence.as_bytes().chunks(60) {
            fasta.push_str(std::str::from_utf8(line).expect("ASCII"));
            fasta.push('\n');
        }
        let now = Timestamp::now();
        let done = n <= finished;
        let record = Record {
            id,
            query_name: name,
            description: None,
            alphabet: Alphabet::Dna,
            length: RESIDUES,
            notes: Vec::new(),
            batch: None,
            upload: None,
            state: if done { State::Complete } else { State::Queued },
            submitted_at: now,
            submitted_by: None,
            started_at: done.then_some(now),
            finished_at: done.then_some(now),
            exit_code: done.then_some(0),
            signal: None,
            error: None,
            attempts: u32::from(done),
            pipeline: "default".into(),
            params: Default::default(),
            command: command.clone(),
            definition: Some(definition.clone()),
            retry_of: None,
            retried_as: None,
            notify_url: None,
            notify_lab: false,
            moved_to_front: None,
            handle: None,
            processor: None,
        };
        let mut json = serde_json::to_vec_pretty(&record).map_err(|e| format!("encoding: {e}"))?;
        json.push(b'\n');
        let query = if create {
            fs::write(path.join(QUERY_FILE), fasta)
        } else {
            Ok(())
        };
        query
            .and_then(|()| fs::write(path.join(RECORD_FILE), json))
            .map_err(|e| format!("writing in {}: {e}", path.display()))?;
    }
    Ok(started.elapsed())
}

/// How many experiment directories (named by an id) the directory holds.
fn experiment_dirs(dir: &Path) -> Result<usize, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.parse::<Id>().is_ok())
                && entry.file_type().is_ok_and(|t| t.is_dir())
        })
        .count())
}

/// How many experiments' `experiment.json` on disk are in `state`.
fn records_in_state(dir: &Path, state: State) -> Result<usize, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<Id>().is_ok())
        })
        .filter(|entry| {
            seqspool::store::read_record(&entry.path()).is_ok_and(|record| record.state == state)
        })
        .count())
}

// ---------------------------------------------------------------------------
// The machine, and the table.

struct Machine {
    date: String,
    cores: usize,
    cpu: String,
    kernel: String,
    memory: String,
    filesystem: String,
    load: String,
}

impl Machine {
    fn describe(tmp: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown".to_owned(), |(_, model)| model.trim().to_owned());
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let kib: f64 = info
                    .lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            date: Timestamp::now().to_string(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or("unknown".into(), |k| k.trim().to_owned()),
            memory,
            filesystem: filesystem_of(tmp),
            load: Machine::load_average(),
        }
    }

    fn load_average() -> String {
        fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    }

    fn render(&self, binary: &Path) -> String {
        format!(
            "seqspool benchmark, {}\n\
             machine: {} cores (nproc), {}, {} RAM, Linux {}\n\
             experiments directories on: {}\n\
             server: {}\n\
             load average at the start: {} (the machine is shared with other builds)",
            self.date,
            self.cores,
            self.cpu,
            self.memory,
            self.kernel,
            self.filesystem,
            binary.display(),
            self.load
        )
    }
}

/// The file system holding `path`, from the longest matching mount point.
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(kind), Some(source)) =
            (fields.get(4), fields.get(dash + 1), fields.get(dash + 2))
        else {
            continue;
        };
        if path.starts_with(mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((
                mount.len(),
                format!(
                    "{} ({kind} on {source}, mounted at {mount})",
                    path.display()
                ),
            ));
        }
    }
    best.map_or_else(
        || format!("{} (file system unknown)", path.display()),
        |(_, text)| text,
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn render_table(reports: &[Report], runs: usize) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "".into(),
        "metric".into(),
        format!("median of {runs}"),
        "min".into(),
        "max".into(),
        "target".into(),
        "".into(),
    ]];
    let mut notes = String::new();
    for report in reports {
        let mut metrics: Vec<Metric> = Vec::new();
        for run in &report.runs {
            for (metric, _) in &run.figures {
                if !metrics.iter().any(|m| m.name == metric.name) {
                    metrics.push(*metric);
                }
            }
        }
        let mut first = true;
        for metric in metrics {
            let mut values: Vec<f64> = report
                .runs
                .iter()
                .flat_map(|run| &run.figures)
                .filter(|(m, _)| m.name == metric.name)
                .map(|(_, v)| *v)
                .collect();
            let mid = median(&mut values);
            let (min, max) = (values[0], values[values.len() - 1]);
            let (target, mark) = match metric.target {
                Some(target) => (
                    target.render(metric.unit),
                    if target.met(mid) { "✓" } else { "✗" }.to_owned(),
                ),
                None => (String::new(), String::new()),
            };
            rows.push([
                if first {
                    report.name.to_owned()
                } else {
                    String::new()
                },
                metric.name.to_owned(),
                metric.unit.render(mid),
                metric.unit.render(min),
                metric.unit.render(max),
                target,
                mark,
            ]);
            first = false;
        }
        if let Some(error) = &report.error {
            rows.push([
                if first {
                    report.name.to_owned()
                } else {
                    String::new()
                },
                format!("FAILED: {error}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "✗".into(),
            ]);
        }
        let _ = writeln!(notes, "{} {}", report.name, report.title);
        for (n, run) in report.runs.iter().enumerate() {
            for note in &run.notes {
                let _ = writeln!(notes, "  run {}: {note}", n + 1);
            }
        }
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            // Names read left to right; figures line up on the right.
            if (2..=4).contains(&c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if n == 0 {
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 12));
        }
    }
    let _ = writeln!(out, "\n{notes}");
    out
}
