//! The runner: one long-lived process beside the server that starts each
//! local command and watches it to its end.
//!
//! seqspool starts its own binary once as `seqspool __runner`. The runner
//! makes itself a session of its own (so every command it starts falls into a
//! scheduling group of its own, whose niceness is set low: nice values act
//! only inside a group), a child subreaper (so every process a command starts
//! stays in its tree, even one that calls `setsid` or double-forks: an orphan
//! is handed to the runner, not to init), and asks the kernel to tell it when
//! seqspool dies (`PR_SET_PDEATHSIG`). Being started once, it costs one fork
//! and exec per experiment (the command's shell), not two.
//!
//! It runs one command at a time, as seqspool asks over its standard input (a
//! socket), one JSON object a line: `{"op":"run",...}` starts `/bin/sh -c`
//! in the experiment's directory, its output copied into the logs (capped, at
//! the command's priority, not the server's), and answers `ended` with the
//! wait status once the shell has exited and whatever it left running is
//! killed (or `refused`, when it could not start); `{"op":"stop"}` sends
//! SIGTERM to the whole tree, then SIGKILL after the grace period. When
//! seqspool dies (SIGTERM from the kernel, or the end of its input), the
//! runner stops the tree and exits.
//!
//! A command that is one program and its plain arguments (`/opt/blast/run.sh
//! nt`, `true`) is started without the shell in between: the shell would
//! parse it into the same words and start the same program, one fork and
//! exec later.
//!
//! What can still escape: a process that asks something outside its tree to
//! start a process for it (`systemd-run`, `at`, `ssh localhost`, a container
//! runtime). Every process of a run also carries `SEQSPOOL_RUN` in its
//! environment, by which recovery finds survivors of a runner that was
//! itself killed; a process that clears its environment as well loses that.

use std::collections::HashMap;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{Deserialize, Serialize};

use crate::pipeline::Command as PipelineCommand;

/// The first argument that makes the binary a runner.
pub const SUBCOMMAND: &str = "__runner";

/// The server's pid, so the runner can tell it is still its parent.
pub const PARENT_VAR: &str = "SEQSPOOL_PARENT";
/// Marks every process of a run (it is left in the command's environment).
pub const RUN_VAR: &str = "SEQSPOOL_RUN";

/// The niceness a command runs at: the lowest priority, as for any batch job.
/// The HTTP side must answer at once however hard the command works: at nice
/// 19, in a scheduling group of its own, the command yields the CPU whenever
/// the server wants it, and still gets every cycle the server leaves idle.
pub const COMMAND_NICENESS: i32 = 19;

/// How long the output is drained once the command's tree is gone; only a
/// process outside the tree holding the pipes open makes it wait this long.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Bytes read from the command's output at a time.
const CHUNK: usize = 64 * 1024;

/// What seqspool asks of the runner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Start a command; only when none runs.
    Run(RunRequest),
    /// Stop the running command's tree: SIGTERM, then SIGKILL after its grace.
    Stop,
}

/// One command to run.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunRequest {
    /// The experiment's directory: the command's working directory, where its logs go.
    pub dir: PathBuf,
    /// A program and its arguments, or a line for `/bin/sh -c`.
    pub command: crate::pipeline::Command,
    /// Added to the runner's environment (which is the server's).
    pub env: Vec<(String, String)>,
    /// Most bytes kept of each of stdout and stderr.
    pub max_output: u64,
    /// Between SIGTERM and SIGKILL, in milliseconds.
    pub grace_ms: u64,
    /// The run's mark, in [`RUN_VAR`] of every process it starts.
    pub mark: String,
}

/// What the runner tells seqspool.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// The command could not be started (the shell, the logs); nothing runs.
    Refused { errno: i32, message: String },
    /// The shell has exited (`status` is its wait status), and `strays`
    /// processes it left running were killed.
    Ended { status: i32, strays: usize },
}

/// Runs the runner; never returns.
pub fn main() -> ! {
    let code = match serve() {
        Ok(()) => 0,
        Err(err) => {
            let _ = writeln!(io::stderr(), "seqspool runner: {err}");
            1
        }
    };
    std::process::exit(code)
}

fn serve() -> io::Result<()> {
    let parent: i32 = std::env::var(PARENT_VAR)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| io::Error::other(format!("started without {PARENT_VAR}")))?;
    // A session, and so a process group and an autogroup, of its own.
    let _ = rustix::process::setsid();
    let _ = fs::write("/proc/self/autogroup", COMMAND_NICENESS.to_string());
    let _ = rustix::process::setpriority_process(None, COMMAND_NICENESS);
    // A core dump would land in an experiment's directory.
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: None,
        },
    );
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
    if rustix::process::getppid().map(Pid::as_raw_pid) != Some(parent) {
        return Err(io::Error::other("seqspool ended before the runner started"));
    }
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let (wake, woken) = UnixStream::pair()?;
    woken.set_nonblocking(true)?;
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, stop.clone())?;
        signal_hook::low_level::pipe::register(signal, wake.try_clone()?)?;
    }
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, wake)?;

    let channel = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    channel.set_nonblocking(true)?;
    Runner {
        channel,
        woken,
        stop,
        input: Vec::new(),
        active: None,
        closed: false,
    }
    .serve()
}

/// The runner's state between two events.
struct Runner {
    /// From and to seqspool.
    channel: UnixStream,
    /// Readable when a signal arrived.
    woken: UnixStream,
    /// Set by SIGTERM, SIGINT or SIGHUP: seqspool died, or asks the runner to end.
    stop: Arc<AtomicBool>,
    /// What seqspool sent that is not a whole line yet.
    input: Vec<u8>,
    active: Option<Active>,
    /// seqspool closed its end.
    closed: bool,
}

/// The command being run.
struct Active {
    shell: Pid,
    outputs: [Output; 2],
    grace: Duration,
    /// When the tree gets SIGKILL, once it was told to stop.
    kill_at: Option<Instant>,
    /// The shell's wait status, once it has exited.
    status: Option<i32>,
}

impl Runner {
    fn serve(mut self) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let ending = self.closed || self.stop.load(Ordering::SeqCst);
            if ending {
                match &mut self.active {
                    Some(active) if active.kill_at.is_none() && active.status.is_none() => {
                        kill_tree(Signal::TERM);
                        active.kill_at = Some(Instant::now() + active.grace);
                    }
                    Some(_) => {}
                    None => {
                        kill_tree(Signal::KILL);
                        return Ok(());
                    }
                }
            }
            if let Some(active) = &mut self.active {
                if active.kill_at.is_some_and(|at| Instant::now() >= at) {
                    kill_tree(Signal::KILL);
                    active.kill_at = None;
                }
                let children_left = reap(active.shell, &mut active.status)?;
                if active.status.is_some() {
                    self.end(children_left)?;
                    continue;
                }
            }
            self.wait(&mut buf)?;
        }
    }

    /// Waits for a request, a signal, the command's output or the kill
    /// deadline, and deals with what came.
    fn wait(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let deadline = self.active.as_ref().and_then(|active| active.kill_at);
        let mut fds = Vec::with_capacity(4);
        if !self.closed {
            fds.push(PollFd::new(&self.channel, PollFlags::IN));
        }
        fds.push(PollFd::new(&self.woken, PollFlags::IN));
        let outputs_at = fds.len();
        if let Some(active) = &self.active {
            for output in &active.outputs {
                if output.open {
                    fds.push(PollFd::new(&output.from, PollFlags::IN));
                }
            }
        }
        match poll(&mut fds, timeout(deadline).as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let mut at = 0;
        if !self.closed {
            if ready[at] {
                self.read_requests(buf)?;
            }
            at += 1;
        }
        if ready[at] {
            let mut woken = &self.woken;
            while matches!(woken.read(buf), Ok(n) if n > 0) {}
        }
        debug_assert_eq!(at + 1, outputs_at);
        if let Some(active) = &mut self.active {
            let mut ready = ready[outputs_at..].iter();
            for output in active.outputs.iter_mut().filter(|output| output.open) {
                if ready.next() == Some(&true) {
                    output.copy(buf);
                }
            }
        }
        Ok(())
    }

    fn read_requests(&mut self, buf: &mut [u8]) -> io::Result<()> {
        loop {
            match (&self.channel).read(buf) {
                Ok(0) => {
                    self.closed = true;
                    return Ok(());
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        while let Some(end) = self.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.input.drain(..=end).collect();
            match serde_json::from_slice::<Request>(&line) {
                Ok(Request::Run(run)) => self.start(run)?,
                Ok(Request::Stop) => {
                    if let Some(active) = &mut self.active {
                        if active.kill_at.is_none() && active.status.is_none() {
                            kill_tree(Signal::TERM);
                            active.kill_at = Some(Instant::now() + active.grace);
                        }
                    }
                }
                Err(err) => {
                    let _ = writeln!(
                        io::stderr(),
                        "seqspool runner: a request it cannot read: {err}"
                    );
                }
            }
        }
        Ok(())
    }

    /// Starts a command, and says whether it started.
    fn start(&mut self, run: RunRequest) -> io::Result<()> {
        if self.active.is_some() {
            let busy = rustix::io::Errno::BUSY.raw_os_error();
            return self.say(&Event::Refused {
                errno: busy,
                message: "a command is running already".into(),
            });
        }
        match spawn(&run) {
            Ok(active) => {
                self.active = Some(active);
                Ok(())
            }
            Err(err) => self.say(&Event::Refused {
                errno: err.raw_os_error().unwrap_or(0),
                message: err.to_string(),
            }),
        }
    }

    /// The shell has exited: what it left running goes, the output is
    /// drained, and seqspool is told.
    fn end(&mut self, children_left: bool) -> io::Result<()> {
        let mut active = self.active.take().expect("a command was running");
        let mut strays = 0;
        if children_left {
            strays = kill_tree(Signal::KILL);
            while reap_blocking()? {}
        }
        let deadline = Instant::now() + DRAIN_WAIT;
        let mut buf = vec![0u8; CHUNK];
        while active.outputs.iter().any(|output| output.open) && Instant::now() < deadline {
            drain(&mut active.outputs, deadline, &mut buf)?;
        }
        if strays > 0 {
            let _ = writeln!(
                active.outputs[1].to,
                "[seqspool: killed {strays} process(es) the command left running]"
            );
        }
        for output in &mut active.outputs {
            output.finish();
        }
        let status = active.status.expect("the shell has exited");
        self.say(&Event::Ended { status, strays })
    }

    fn say(&mut self, event: &Event) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut written = 0;
        while written < line.len() {
            match (&self.channel).write(&line[written..]) {
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(&self.channel, PollFlags::OUT)];
                    let _ = poll(&mut fds, None);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // seqspool is gone: the end of its input says so too.
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }
}

/// Opens the logs and starts the command in the experiment's directory, in a
/// process group of its own within the runner's session.
fn spawn(run: &RunRequest) -> io::Result<Active> {
    let log = |name: &str| {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(run.dir.join(name))
    };
    let (stdout, stderr) = (log("stdout.txt")?, log("stderr.txt")?);
    let line = match &run.command {
        PipelineCommand::Program(words) => {
            // As the lab wrote it: no shell, so a program that is not there is
            // refused (the workstation's to fix).
            let (program, args) = words
                .split_first()
                .ok_or_else(|| io::Error::other("the command names no program"))?;
            return active(
                start(run, Command::new(program).args(args))?,
                stdout,
                stderr,
                run,
            );
        }
        PipelineCommand::Shell(line) => line,
    };
    let started = match plain_words(line) {
        Some(words) => match start(run, Command::new(words[0]).args(&words[1..])) {
            // Not found, or not executable: the shell says so in the words
            // and with the exit code (127, 126) a user knows.
            Err(err) if is_missing(&err) => None,
            started => Some(started?),
        },
        None => None,
    };
    let started = match started {
        Some(started) => started,
        None => start(run, Command::new("/bin/sh").arg("-c").arg(line))?,
    };
    active(started, stdout, stderr, run)
}

/// The run of a started command.
fn active(
    (shell, out_read, err_read): (Pid, io::PipeReader, io::PipeReader),
    stdout: File,
    stderr: File,
    run: &RunRequest,
) -> io::Result<Active> {
    Ok(Active {
        shell,
        outputs: [
            Output::new(out_read, stdout, run.max_output),
            Output::new(err_read, stderr, run.max_output),
        ],
        grace: Duration::from_millis(run.grace_ms),
        kill_at: None,
        status: None,
    })
}

/// Starts `command` as the run asks, its output into new pipes.
fn start(
    run: &RunRequest,
    command: &mut Command,
) -> io::Result<(Pid, io::PipeReader, io::PipeReader)> {
    let (out_read, out_write) = io::pipe()?;
    let (err_read, err_write) = io::pipe()?;
    let child = command
        .current_dir(&run.dir)
        .env_remove(PARENT_VAR)
        .envs(run.env.iter().map(|(k, v)| (k, v)))
        .env(RUN_VAR, &run.mark)
        .stdin(Stdio::null())
        .stdout(out_write)
        .stderr(err_write)
        .process_group(0)
        .spawn()?;
    Ok((Pid::from_child(&child), out_read, err_read))
}

/// Whether a program could not be started because it is not there or not
/// executable: the shell's "not found" (127) and "cannot execute" (126).
fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    )
}

/// The words of a command that is one program and its plain arguments, which
/// the shell would run as they are: no quotes, variables, globs, operators or
/// redirections, and a program that is not one of the shell's own builtins or
/// keywords (whose meaning only the shell gives them).
fn plain_words(command: &str) -> Option<Vec<&str>> {
    /// The shell's builtins and reserved words, as POSIX and dash know them.
    const SHELL_WORDS: &[&str] = &[
        "!", ".", ":", "[", "alias", "bg", "break", "case", "cd", "command", "continue", "do",
        "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "fc", "fg", "fi", "for",
        "function", "getopts", "hash", "if", "in", "jobs", "local", "printf", "pwd", "read",
        "readonly", "return", "set", "shift", "test", "then", "times", "trap", "type", "ulimit",
        "umask", "unalias", "unset", "until", "wait", "while", "{", "}", "echo",
    ];
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c);
    let words: Vec<&str> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let first = *words.first()?;
    let usable = words.iter().all(|word| word.chars().all(plain))
        && !SHELL_WORDS.contains(&first)
        && !first.contains('=')
        && !first.starts_with('-');
    usable.then_some(words)
}

fn timeout(deadline: Option<Instant>) -> Option<Timespec> {
    deadline.map(|deadline| {
        let left = deadline.saturating_duration_since(Instant::now());
        Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        }
    })
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
    fn new(from: io::PipeReader, to: File, max: u64) -> Output {
        Output {
            from: File::from(OwnedFd::from(from)),
            to,
            open: true,
            max,
            kept: 0,
            dropped: 0,
        }
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

/// Copies what the outputs hold, waiting at most until `deadline`.
fn drain(outputs: &mut [Output; 2], deadline: Instant, buf: &mut [u8]) -> io::Result<()> {
    let mut fds: Vec<PollFd> = outputs
        .iter()
        .filter(|output| output.open)
        .map(|output| PollFd::new(&output.from, PollFlags::IN))
        .collect();
    match poll(&mut fds, timeout(Some(deadline)).as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(err) => return Err(err.into()),
    }
    let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
    drop(fds);
    let mut ready = ready.into_iter();
    for output in outputs.iter_mut().filter(|output| output.open) {
        if ready.next() == Some(true) {
            output.copy(buf);
        }
    }
    Ok(())
}

/// Reaps every child that has exited, noting the shell's wait status; returns
/// whether any child is left. (`wait`, for any child: `waitpid` without a pid
/// waits only for children in our own process group, and a command has one
/// of its own.)
fn reap(shell: Pid, status: &mut Option<i32>) -> io::Result<bool> {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, wait))) => {
                if pid == shell {
                    *status = Some(wait.as_raw());
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
/// this process is an ancestor of every process a command started.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_program_and_its_plain_arguments_skip_the_shell() {
        assert_eq!(plain_words("true"), Some(vec!["true"]));
        assert_eq!(
            plain_words("/opt/blast/run.sh  -db nt:v5 --evalue=1e-5"),
            Some(vec!["/opt/blast/run.sh", "-db", "nt:v5", "--evalue=1e-5"])
        );
        for shell in [
            "exit 3",
            "echo $HOME",
            "a && b",
            "sleep 1 &",
            "cat < in",
            "ls *.txt",
            "say 'hi'",
            "FOO=1 env",
            "cmd; other",
            "cd /tmp",
            "while true",
            "x\nrm",
            "",
            "~/bin/x",
        ] {
            assert_eq!(plain_words(shell), None, "{shell}");
        }
    }
}
