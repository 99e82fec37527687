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
//! (see [`experiments::tempdir`] for why). The client is a small hand-written
//! HTTP/1.1 client on tokio's `TcpStream`; it shares the machine's cores with
//! the server, as the issue's targets assume. A guard stops
//! every server it started (SIGTERM, then SIGKILL) on every path, panics
//! included, and the kernel sends the server SIGTERM if the benchmark itself dies.
//!
//! This file is the driver: the command line, the binary to measure, the
//! order of the workloads, the table at the end, and the one place that
//! handles signals and exits. The rooms below it, each importing only the ones
//! after it in this list: `workloads/` (B1 .. B6, one file each), `bench`
//! (what every workload is handed), `report` (figures, targets, the machine,
//! the table), `server` (the process under test and what `/proc` says of it),
//! `client` (the HTTP/1.1 client and the load generator) and `experiments`
//! (the directories on disk).

mod bench;
mod client;
mod experiments;
mod report;
mod server;
mod workloads;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bench::{Bench, Sizes};
use report::{render_table, Machine};
use workloads::WORKLOADS;

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
    runtime.spawn(stop_on_signal());
    let bench = Bench::new(binary, tmp_root, runtime, sizes, options.perf.clone());
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
        if server::interrupted() {
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
    experiments::remove_directories();
}

/// Ctrl-C or SIGTERM: stop the servers (gracefully, so that they stop their
/// commands), remove the directories, and exit. If the benchmark is killed
/// outright, the kernel still sends each server SIGTERM (`PR_SET_PDEATHSIG`).
async fn stop_on_signal() {
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
    server::interrupt().await;
    experiments::remove_directories();
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
