//! The supervisor: one small process per run, between seqspool and the command.
//!
//! seqspool starts its own binary as `seqspool __supervise` for each local
//! run. The supervisor makes itself a session of its own (so the command's
//! CPU use falls into a scheduling group of its own, whose niceness is set
//! low: nice values act only inside a group), a child subreaper (so every
//! process the command starts stays in its tree, even one that calls `setsid`
//! or double-forks: an orphan is handed to the supervisor, not to init), and
//! asks the kernel to tell it when seqspool dies (`PR_SET_PDEATHSIG`). It
//! waits at the gate until seqspool has recorded the run, starts the command
//! with `/bin/sh -c`, copies its output into the logs (capped, at the
//! command's priority, not the server's), and at the end kills whatever of
//! the tree is left. Told to stop (SIGTERM: a cancel, a timeout, a shutdown,
//! or the death of seqspool), it sends SIGTERM to the whole tree, then
//! SIGKILL after the grace period.
//!
//! It talks to seqspool over its standard input, a socket: seqspool writes
//! `go` when the command may start; the supervisor answers with one line at
//! the end, `status RAW` (the command's wait status) or `error ERRNO TEXT`.
//!
//! What can still escape: a process that asks something outside its tree to
//! start a process for it (`systemd-run`, `at`, `ssh localhost`, a container
//! runtime). Every process of a run also carries `SEQSPOOL_RUN` in its
//! environment, by which recovery finds survivors of a supervisor that was
//! itself killed; a process that clears its environment as well loses that.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal, WaitOptions};

/// The first argument that makes the binary a supervisor.
pub const SUBCOMMAND: &str = "__supervise";

/// The environment the supervisor is given, besides the command's own.
pub const COMMAND_VAR: &str = "SEQSPOOL_COMMAND";
pub const PARENT_VAR: &str = "SEQSPOOL_PARENT";
pub const MAX_OUTPUT_VAR: &str = "SEQSPOOL_MAX_OUTPUT";
pub const GRACE_VAR: &str = "SEQSPOOL_GRACE_MS";
/// Marks every process of a run (it is left in the command's environment).
pub const RUN_VAR: &str = "SEQSPOOL_RUN";

/// The niceness a command runs at: the lowest priority, as for any batch job.
/// The HTTP side must answer at once however hard the command works: at nice
/// 19, in a scheduling group of its own, the command yields the CPU whenever
/// the server wants it, and still gets every cycle the server leaves idle.
pub const COMMAND_NICENESS: i32 = 19;

/// The supervisor's exit code when it ran nothing (the gate closed unopened,
/// or its settings were missing).
pub const NOT_RUN: i32 = 125;

/// How long the output is drained once the command's tree is gone; only a
/// process outside the tree holding the pipes open makes it wait this long.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Bytes read from the command's output at a time.
const CHUNK: usize = 64 * 1024;

/// Runs the supervisor; never returns.
pub fn main() -> ! {
    let code = match supervise() {
        Ok(()) => 0,
        Err(Refusal(message)) => {
            let _ = writeln!(io::stderr(), "[seqspool: {message}]");
            NOT_RUN
        }
    };
    std::process::exit(code)
}

/// Why nothing was run.
struct Refusal(String);

impl From<io::Error> for Refusal {
    fn from(err: io::Error) -> Refusal {
        Refusal(err.to_string())
    }
}

impl From<rustix::io::Errno> for Refusal {
    fn from(err: rustix::io::Errno) -> Refusal {
        Refusal(io::Error::from(err).to_string())
    }
}

fn setting<T: std::str::FromStr>(name: &str) -> Result<T, Refusal> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| Refusal(format!("the supervisor was started without {name}")))
}

fn supervise() -> Result<(), Refusal> {
    let command: String = setting(COMMAND_VAR)?;
    let parent: i32 = setting(PARENT_VAR)?;
    let max_output: u64 = setting(MAX_OUTPUT_VAR)?;
    let grace = Duration::from_millis(setting(GRACE_VAR)?);

    // A session, and so a process group and an autogroup, of its own.
    let _ = rustix::process::setsid();
    let _ = fs::write("/proc/self/autogroup", COMMAND_NICENESS.to_string());
    let _ = rustix::process::setpriority_process(None, COMMAND_NICENESS);
    // A core dump of the supervisor would land in the experiment's directory.
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: None,
        },
    );
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
    if rustix::process::getppid().map(Pid::as_raw_pid) != Some(parent) {
        return Err(Refusal(
            "seqspool ended before the command could start".into(),
        ));
    }
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let (wake, woken) = UnixStream::pair()?;
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, stop.clone())?;
        signal_hook::low_level::pipe::register(signal, wake.try_clone()?)?;
    }
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, wake)?;

    let mut channel = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    wait_at_gate(&mut channel, &stop)?;

    let (out_read, out_write) = io::pipe()?;
    let (err_read, err_write) = io::pipe()?;
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .env_remove(COMMAND_VAR)
        .env_remove(PARENT_VAR)
        .env_remove(MAX_OUTPUT_VAR)
        .env_remove(GRACE_VAR)
        .stdin(Stdio::null())
        .stdout(out_write)
        .stderr(err_write)
        .spawn();
    let shell = match spawned {
        Ok(shell) => Pid::from_child(&shell),
        Err(err) => {
            let errno = err.raw_os_error().unwrap_or(0);
            let _ = writeln!(channel, "error {errno} {err}");
            return Ok(());
        }
    };
    let mut outputs = [
        Output::new(out_read, io::stdout().as_fd(), max_output)?,
        Output::new(err_read, io::stderr().as_fd(), max_output)?,
    ];

    let status = Run {
        shell,
        stop: &stop,
        woken,
        grace,
    }
    .follow(&mut outputs)?;

    // The command's tree is gone: what is left in the pipes is all there is.
    let deadline = Instant::now() + DRAIN_WAIT;
    while outputs.iter().any(|output| output.open) && Instant::now() < deadline {
        pump(&mut outputs, None, Some(deadline))?;
    }
    for output in &mut outputs {
        output.finish();
    }
    let _ = writeln!(channel, "status {}", status.into_raw());
    Ok(())
}

/// Reads the gate: `go` lets the command start; an end of file (seqspool
/// died before recording the run) or a stop request runs nothing.
fn wait_at_gate(channel: &mut UnixStream, stop: &AtomicBool) -> Result<(), Refusal> {
    let mut byte = [0u8; 1];
    let mut line = Vec::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(Refusal("stopped before the command started".into()));
        }
        match channel.read(&mut byte) {
            Ok(0) => return Err(Refusal("seqspool closed the gate; nothing was run".into())),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        }
    }
    if line != b"go" {
        return Err(Refusal("the gate opened with an unknown word".into()));
    }
    Ok(())
}

/// One of the command's output streams, copied into its log.
struct Output {
    from: File,
    to: File,
    open: bool,
    max: u64,
    kept: u64,
    dropped: u64,
}

impl Output {
    fn new(from: io::PipeReader, to: std::os::fd::BorrowedFd, max: u64) -> io::Result<Output> {
        Ok(Output {
            from: File::from(OwnedFd::from(from)),
            to: File::from(to.try_clone_to_owned()?),
            open: true,
            max,
            kept: 0,
            dropped: 0,
        })
    }

    /// Copies what is readable now, keeping at most `max` bytes in all; the
    /// rest is read and dropped so the command never blocks on a full pipe.
    fn copy(&mut self, buf: &mut [u8]) {
        let n = match self.from.read(buf) {
            Ok(0) => {
                self.open = false;
                return;
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => {
                self.open = false;
                return;
            }
        };
        let keep = (self.max - self.kept).min(n as u64) as usize;
        if keep > 0 && self.to.write_all(&buf[..keep]).is_err() {
            // The disk is full: keep draining, so the command is not blocked.
            self.dropped += n as u64;
            return;
        }
        self.kept += keep as u64;
        self.dropped += (n - keep) as u64;
    }

    fn finish(&mut self) {
        if self.dropped > 0 {
            let _ = write!(
                self.to,
                "\n[seqspool: {} more bytes dropped; the log is capped at {} bytes]\n",
                self.dropped, self.max
            );
        }
    }
}

/// Waits until an output is readable, a signal arrives or `deadline` passes,
/// and copies what the outputs hold.
fn pump(
    outputs: &mut [Output; 2],
    woken: Option<&UnixStream>,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    let mut buf = vec![0u8; CHUNK];
    let mut fds: Vec<PollFd> = Vec::with_capacity(3);
    let mut which = Vec::with_capacity(3);
    for (index, output) in outputs.iter().enumerate() {
        if output.open {
            fds.push(PollFd::new(&output.from, PollFlags::IN));
            which.push(Some(index));
        }
    }
    if let Some(woken) = woken {
        fds.push(PollFd::new(woken, PollFlags::IN));
        which.push(None);
    }
    let timeout = deadline.map(|deadline| {
        let left = deadline.saturating_duration_since(Instant::now());
        Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        }
    });
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(false),
        Err(err) => return Err(err.into()),
    }
    let ready: Vec<(Option<usize>, PollFlags)> = fds
        .iter()
        .zip(&which)
        .map(|(fd, which)| (*which, fd.revents()))
        .collect();
    drop(fds);
    let mut signalled = false;
    for (which, revents) in ready {
        if revents.is_empty() {
            continue;
        }
        match which {
            Some(index) => outputs[index].copy(&mut buf),
            None => {
                signalled = true;
                if let Some(mut woken) = woken {
                    let _ = woken.read(&mut buf);
                }
            }
        }
    }
    Ok(signalled)
}

/// The command, followed to its end.
struct Run<'a> {
    shell: Pid,
    stop: &'a AtomicBool,
    woken: UnixStream,
    grace: Duration,
}

impl Run<'_> {
    /// Copies the output and reaps children until the shell has exited and
    /// nothing of its tree is left; returns the shell's status.
    fn follow(self, outputs: &mut [Output; 2]) -> io::Result<ExitStatus> {
        self.woken.set_nonblocking(true)?;
        let mut status = None;
        let mut killing_at: Option<Instant> = None;
        let mut stopping = false;
        loop {
            if self.stop.load(Ordering::SeqCst) && !stopping {
                stopping = true;
                kill_tree(Signal::TERM);
                killing_at = Some(Instant::now() + self.grace);
            }
            if killing_at.is_some_and(|at| Instant::now() >= at) {
                kill_tree(Signal::KILL);
                killing_at = None;
            }
            let children_left = reap(self.shell, &mut status)?;
            if let Some(status) = status {
                if children_left {
                    // The command is done; what it left running goes now.
                    let killed = kill_tree(Signal::KILL);
                    while reap_blocking()? {}
                    if killed > 0 {
                        let _ = writeln!(
                            outputs[1].to,
                            "[seqspool: killed {killed} process(es) the command left running]"
                        );
                    }
                }
                return Ok(status);
            }
            pump(outputs, Some(&self.woken), killing_at)?;
        }
    }
}

/// Reaps every child that has exited, noting the shell's status; returns
/// whether any child is left. (`wait`, for any child: `waitpid` without a pid
/// waits only for children in our own process group, and an escapee has one
/// of its own.)
fn reap(shell: Pid, status: &mut Option<ExitStatus>) -> io::Result<bool> {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, wait))) => {
                if pid == shell {
                    *status = Some(ExitStatus::from_raw(wait.as_raw()));
                }
            }
            Ok(None) => return Ok(true),
            Err(rustix::io::Errno::CHILD) => return Ok(false),
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// Waits for one child to exit; false once there are none.
fn reap_blocking() -> io::Result<bool> {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::CHILD) => return Ok(false),
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// Sends `signal` to every process below this one, found by walking the
/// parent links in `/proc`; returns how many were signalled. As a subreaper,
/// this process is an ancestor of every process the command started.
fn kill_tree(signal: Signal) -> usize {
    let me = rustix::process::getpid().as_raw_pid();
    let mut signalled = HashSet::new();
    // A process may fork between the scan and the signal: scan again until
    // a pass finds nobody new.
    loop {
        let found: Vec<i32> = descendants(me)
            .into_iter()
            .filter(|pid| !signalled.contains(pid))
            .collect();
        if found.is_empty() {
            return signalled.len();
        }
        for pid in found {
            if let Some(target) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(target, signal);
            }
            signalled.insert(pid);
        }
    }
}

/// The live processes below `root`.
fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, ppid) in super::local::process_parents() {
        children.entry(ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            found.push(child);
            stack.push(child);
        }
    }
    found
}
