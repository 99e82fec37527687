//! What every workload is handed: the binary under test, the client's
//! runtime, the sizes of this run (the or a smoke run's), fresh
//! experiments directories, the one directory of stored experiments B4 and B5
//! share, `perf` around a measured phase, and the settings every workload's
//! server shares. Here too what a workload is, and running one several times
//! into a [`Report`], so that a workload's file holds only what it measures.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::experiments;
use crate::report::{Report, Run};
use crate::server::{self, Server};

/// Concurrent connections of B1 and B2 (issue 6), also used to submit in B3.
pub(crate) const CONNECTIONS: usize = 16;
/// A command that keeps the first experiment running, so the queue only grows.
const SLEEP_COMMAND: &str = "sleep 1000";
/// Generous: no benchmark phase lasts this long, but nothing outlives the server by much.
pub(crate) const COMMAND_TIMEOUT: &str = "600";
/// Capacity large enough that no workload meets a full queue.
pub(crate) const CAPACITY: &str = "1000000";
/// The arguments of a server whose first experiment sleeps, so that its queue
/// only grows (B2, B4, B5, B6).
pub(crate) const SLEEPING_WORKER: [&str; 6] = [
    "--command",
    SLEEP_COMMAND,
    "--timeout",
    COMMAND_TIMEOUT,
    "--capacity",
    CAPACITY,
];

/// How big each workload is: the sizes, or small ones for a smoke run.
#[derive(Clone, Copy)]
pub(crate) struct Sizes {
    /// Length of each measured phase of B1 and B2.
    pub(crate) phase: Duration,
    /// Experiments of B3.
    pub(crate) dispatched: usize,
    /// Experiments on disk for B4 and B5.
    pub(crate) stored: usize,
    /// Records of B6's FASTA.
    pub(crate) batch: usize,
}

impl Sizes {
    /// The sizes of issue 6.
    pub(crate) const FULL: Sizes = Sizes {
        phase: Duration::from_secs(5),
        dispatched: 1000,
        stored: 100_000,
        batch: 10_000,
    };
    /// A smoke run's, under a minute on an idle machine.
    pub(crate) const QUICK: Sizes = Sizes {
        phase: Duration::from_secs(1),
        dispatched: 200,
        stored: 5000,
        batch: 1000,
    };
}

/// One workload of the suite: B1 .. B6, each in its file of `workloads/`.
pub(crate) struct Workload {
    /// `B1` .. `B6`, as `--only` and the table name it.
    pub(crate) name: &'static str,
    /// What it measures, in a line.
    pub(crate) title: &'static str,
    /// One run: a server or two started, driven, stopped, and the figures.
    pub(crate) run: fn(&Bench) -> Result<Run, String>,
}

/// What every workload needs.
pub(crate) struct Bench {
    /// The seqspool binary under test.
    pub(crate) binary: PathBuf,
    /// Where the experiments directories are made.
    pub(crate) tmp_root: PathBuf,
    /// The load generator's runtime, for [`Bench::block_on`].
    runtime: Runtime,
    pub(crate) sizes: Sizes,
    perf: Option<PathBuf>,
    stored: RefCell<Option<Stored>>,
}

/// The experiments B4 and B5 start from, written once and rewritten in place
/// (which allocates no inode) when B5 needs half of them finished.
struct Stored {
    dir: PathBuf,
    finished: usize,
}

impl Bench {
    /// `perf`, when given, is where each measured phase's profile goes.
    pub(crate) fn new(
        binary: PathBuf,
        tmp_root: PathBuf,
        runtime: Runtime,
        sizes: Sizes,
        perf: Option<PathBuf>,
    ) -> Bench {
        Bench {
            binary,
            tmp_root,
            runtime,
            sizes,
            perf,
            stored: RefCell::new(None),
        }
    }

    /// Runs `workload` `runs` times, or until a run fails or the benchmark is interrupted.
    pub(crate) fn measure(&self, workload: &Workload, runs: usize) -> Report {
        let mut report = Report {
            name: workload.name,
            title: workload.title,
            runs: Vec::new(),
            error: None,
        };
        for n in 1..=runs {
            if server::interrupted() {
                break;
            }
            eprintln!(
                "bench: {} run {n}/{runs}: {}",
                workload.name, workload.title
            );
            let started = Instant::now();
            match (workload.run)(self) {
                Ok(run) => {
                    eprintln!(
                        "bench: {} run {n} done in {:.1} s: {}",
                        workload.name,
                        started.elapsed().as_secs_f64(),
                        run.summary()
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

    /// A new experiments directory under `--tmp`, removed when the benchmark ends.
    pub(crate) fn tempdir(&self) -> Result<PathBuf, String> {
        experiments::tempdir(&self.tmp_root)
    }

    /// The directory of B4 and B5, with its first `finished` experiments
    /// COMPLETE and the rest QUEUED; written the first time it is asked for.
    pub(crate) fn stored(&self, finished: usize, run: &mut Run) -> Result<PathBuf, String> {
        let count = self.sizes.stored;
        let mut stored = self.stored.borrow_mut();
        match stored.as_mut() {
            Some(stored) if stored.finished == finished => {}
            Some(stored) => {
                let took = experiments::write(&stored.dir, count, finished, false, SLEEP_COMMAND)?;
                run.notes.push(format!(
                    "rewrote the {count} records in place ({finished} COMPLETE) in {:.1} s",
                    took.as_secs_f64()
                ));
                stored.finished = finished;
            }
            None => {
                let dir = self.tempdir()?;
                let took = experiments::write(&dir, count, finished, true, SLEEP_COMMAND)?;
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
    pub(crate) fn start(&self, dir: &Path, args: &[&str]) -> Result<Server, String> {
        Server::start(&self.binary, dir, args)
    }

    /// Runs `future` on the client's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs `perf record` on the server while `phase` runs, when asked to.
    pub(crate) fn profiled<T>(&self, server: &Server, label: &str, phase: impl FnOnce() -> T) -> T {
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
