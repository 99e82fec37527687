//! The server under test: the real `seqspool` binary started on
//! `127.0.0.1:0` with its own experiments directory, its address and the lines
//! worth keeping read from its log, and stopped (SIGTERM, then SIGKILL) on
//! every path; the servers running now, so that an interruption stops them all
//! and no further one starts; and what `/proc` says of its processes (CPU
//! time, resident memory). It knows nothing of HTTP.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server with 100 000 experiments may take to start before the run fails.
const START_PATIENCE: Duration = Duration::from_secs(120);

/// The pids of the servers running now, for [`interrupt`].
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Set at Ctrl-C or SIGTERM: no further run or server starts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether [`interrupt`] was called: no further run or server starts.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Stops every server running now, gracefully (so that they stop their
/// commands), killing those still alive after 5 s; none starts after it.
pub(crate) async fn interrupt() {
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
}

/// A running seqspool, stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Server {
    child: Child,
    /// Where it listens, read from its log.
    pub(crate) addr: SocketAddr,
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

/// Lines of the log kept for error messages: more than any message shows.
const LOG_TAIL: usize = 40;

impl Server {
    /// Starts `binary` on `dir` with `args` and waits until it logs its address.
    pub(crate) fn start(binary: &Path, dir: &Path, args: &[&str]) -> Result<Server, String> {
        if interrupted() {
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

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills this process group too if the server has to be killed.
    pub(crate) fn adopt_group(&mut self, pgid: i32) {
        if pgid > 1 {
            self.groups.push(pgid);
        }
    }

    pub(crate) fn log_tail(&self, lines: usize) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.tail.iter().rev().take(lines).rev().cloned().collect()
    }

    pub(crate) fn recovered_line(&self) -> Option<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.recovered.as_ref().map(|line| {
            line.split_once("] ")
                .map_or(line.as_str(), |(_, message)| message)
                .to_owned()
        })
    }

    /// Stops the server gracefully, and says so if it had to be killed.
    pub(crate) fn stop(&mut self) -> Result<(), String> {
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
pub(crate) struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<f64>,
    own: f64,
    started: Instant,
}

impl CpuMeter {
    pub(crate) fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            pids: pids.to_vec(),
            start: pids.iter().map(|pid| cpu_seconds(*pid)).collect(),
            own: own_cpu_seconds(),
            started: Instant::now(),
        }
    }

    /// Cores used by each process since the start, then by the benchmark itself.
    pub(crate) fn cores(&self) -> Vec<f64> {
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
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}
