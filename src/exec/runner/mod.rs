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
//! killed (or `refused`, when it could not start); a command outside the
//! queue (the lab's `on_finish`) says what it reads on its standard input and
//! where its logs go; `{"op":"stop"}` sends
//! SIGTERM to the whole tree, then SIGKILL after the grace period. When
//! seqspool dies (SIGTERM from the kernel, or the end of its input), the
//! runner stops the tree and exits.
//!
//! A command that is one program and its plain arguments (`/opt/blast/run.sh
//! nt`, `true`) is started without the shell in between: the shell would
//! parse it into the same words and start the same program, one fork and
//! exec later.
//!
//! A runner may instead keep a warm processor (`exec::warm`): `{"op":"start"}`
//! starts a command that stays, its standard input a pipe and a descriptor of
//! its own for answers ([`ANSWER_FD_VAR`]), its output appended to the
//! pipeline's log (renamed to `.1` when full); `{"op":"send"}` writes it one
//! request line and copies what it prints into that experiment's logs too,
//! until an answer line comes back (`answer`). Each processor has a runner
//! of its own, so that its tree is exactly the runner's, and a stop kills it
//! and nothing else.
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
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{Deserialize, Serialize};

use super::process::{self, RUN_VAR};

pub(crate) mod client;
use crate::pipeline::Command as PipelineCommand;

/// The first argument that makes the binary a runner.
pub const SUBCOMMAND: &str = "__runner";

/// The server's pid, so the runner can tell it is still its parent.
pub const PARENT_VAR: &str = "SEQSPOOL_PARENT";
/// Names, in a warm processor's environment, the descriptor it answers on.
pub const ANSWER_FD_VAR: &str = "SEQSPOOL_ANSWER_FD";
/// The descriptor a warm processor answers on: the first after standard
/// error, which any shell can write to (`>&3`).
pub const ANSWER_FD: i32 = 3;

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

/// The longest answer line a warm processor may write; a longer one is cut
/// here (and then reads as nonsense): an answer says ok or why not.
const MAX_ANSWER: usize = 64 * 1024;

/// What seqspool asks of the runner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Start a command; only when none runs.
    Run(RunRequest),
    /// Start a warm processor; only when nothing runs.
    Start(StartRequest),
    /// Hand the warm processor one request.
    Send(SendRequest),
    /// Stop the running command's (or processor's) tree: SIGTERM, then SIGKILL after its grace.
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
    /// What the command reads on its standard input (none: nothing, `/dev/null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Where its standard output and error go (none: `stdout.txt` and
    /// `stderr.txt` in `dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<[PathBuf; 2]>,
}

/// A warm processor to start.
#[derive(Debug, Serialize, Deserialize)]
pub struct StartRequest {
    /// Its working directory.
    pub dir: PathBuf,
    pub command: crate::pipeline::Command,
    /// Added to the runner's environment (which is the server's).
    pub env: Vec<(String, String)>,
    /// The pipeline's log, which gets everything it prints.
    pub log: PathBuf,
    /// Bytes the log may reach before it is renamed to `<log>.1` and begun again.
    pub max_log: u64,
    /// Between SIGTERM and SIGKILL, in milliseconds.
    pub grace_ms: u64,
    /// The processor's mark, in [`RUN_VAR`] of every process it starts.
    pub mark: String,
}

/// One request for the warm processor.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendRequest {
    /// The line it is given on its standard input (without the newline).
    pub line: String,
    /// The experiment's directory: its `stdout.txt` and `stderr.txt` get
    /// what the processor prints until it answers.
    pub dir: PathBuf,
    /// Most bytes kept of each of them.
    pub max_output: u64,
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
    /// A warm processor has started, as process `pid`.
    Started { pid: i32 },
    /// A line the warm processor wrote on its answer descriptor.
    Answer { line: String },
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
    // Descriptor 3, held for a warm processor's answers: seqspool starts the
    // runner with 0, 1 and 2 only, so the first file opened here gets it.
    let answer_slot = File::open("/dev/null")
        .map(OwnedFd::from)
        .ok()
        .filter(|fd| fd.as_raw_fd() == ANSWER_FD);
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
        answer_slot,
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
    /// Descriptor [`ANSWER_FD`] (`/dev/null`, close-on-exec), which a warm
    /// processor is given as its end of the answers; none if the runner
    /// started with it taken.
    answer_slot: Option<OwnedFd>,
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
    /// A warm processor's requests, answers and log; none for a command.
    warm: Option<Warm>,
}

/// What the runner holds of a warm processor besides its output.
struct Warm {
    /// Its standard input (non-blocking).
    requests: File,
    /// Request bytes it has not taken yet.
    pending: Vec<u8>,
    answers: File,
    answers_open: bool,
    /// An answer line not whole yet.
    partial: Vec<u8>,
    log: Log,
    /// A request is out, unanswered: the output goes to its experiment too.
    busy: bool,
}

/// What a wait found ready, in the order it is dealt with: output before
/// answers (what a processor printed before it answered belongs to that
/// experiment), and requests last (a new request's logs get only what comes
/// after it).
enum Watched {
    Woken,
    Output(usize),
    Answers,
    Requests,
    Channel,
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

    /// Waits for a request, a signal, the command's output, a processor's
    /// answer or the kill deadline, and deals with what came.
    fn wait(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let deadline = self.active.as_ref().and_then(|active| active.kill_at);
        let mut watched = Vec::with_capacity(6);
        let mut fds = Vec::with_capacity(6);
        watched.push(Watched::Woken);
        fds.push(PollFd::new(&self.woken, PollFlags::IN));
        if let Some(active) = &self.active {
            for (n, output) in active.outputs.iter().enumerate() {
                if output.open {
                    watched.push(Watched::Output(n));
                    fds.push(PollFd::new(&output.from, PollFlags::IN));
                }
            }
            if let Some(warm) = &active.warm {
                if warm.answers_open {
                    watched.push(Watched::Answers);
                    fds.push(PollFd::new(&warm.answers, PollFlags::IN));
                }
                if !warm.pending.is_empty() {
                    watched.push(Watched::Requests);
                    fds.push(PollFd::new(&warm.requests, PollFlags::OUT));
                }
            }
        }
        if !self.closed {
            watched.push(Watched::Channel);
            fds.push(PollFd::new(&self.channel, PollFlags::IN));
        }
        match poll(&mut fds, timeout(deadline).as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        for (what, _) in watched.into_iter().zip(ready).filter(|(_, ready)| *ready) {
            match what {
                Watched::Woken => {
                    let mut woken = &self.woken;
                    while matches!(woken.read(buf), Ok(n) if n > 0) {}
                }
                Watched::Output(n) => {
                    if let Some(active) = &mut self.active {
                        let log = active.warm.as_mut().map(|warm| &mut warm.log);
                        active.outputs[n].copy(buf, log);
                    }
                }
                Watched::Answers => self.read_answers(buf)?,
                Watched::Requests => {
                    if let Some(warm) = self.active.as_mut().and_then(|a| a.warm.as_mut()) {
                        warm.flush();
                    }
                }
                Watched::Channel => self.read_requests(buf)?,
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
                Ok(Request::Start(start)) => self.start_processor(start)?,
                Ok(Request::Send(send)) => self.send(send)?,
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
            return self.refuse(&busy("a command is running already"));
        }
        match spawn(&run) {
            Ok(active) => {
                self.active = Some(active);
                Ok(())
            }
            Err(err) => self.refuse(&err),
        }
    }

    /// Starts a warm processor, and says whether it started (and as which process).
    fn start_processor(&mut self, start: StartRequest) -> io::Result<()> {
        if self.active.is_some() {
            return self.refuse(&busy("a command is running already"));
        }
        match spawn_processor(&start, &mut self.answer_slot) {
            Ok(active) => {
                let pid = active.shell.as_raw_pid();
                self.active = Some(active);
                self.say(&Event::Started { pid })
            }
            Err(err) => self.refuse(&err),
        }
    }

    /// Hands the warm processor a request: its output goes to the
    /// experiment's logs as well until it answers.
    fn send(&mut self, send: SendRequest) -> io::Result<()> {
        let Some(active) = self
            .active
            .as_mut()
            .filter(|active| active.warm.is_some() && active.status.is_none())
        else {
            return self.refuse(&io::Error::from_raw_os_error(
                rustix::io::Errno::SRCH.raw_os_error(),
            ));
        };
        let warm = active.warm.as_mut().expect("a processor runs");
        if warm.busy {
            return self.refuse(&busy("the processor has a request already"));
        }
        let logs = open_log(&send.dir.join("stdout.txt"))
            .and_then(|stdout| Ok([stdout, open_log(&send.dir.join("stderr.txt"))?]));
        let [stdout, stderr] = match logs {
            Ok(logs) => logs,
            Err(err) => return self.refuse(&err),
        };
        active.outputs[0].to = Some(Sink::new(stdout, send.max_output));
        active.outputs[1].to = Some(Sink::new(stderr, send.max_output));
        warm.busy = true;
        warm.pending.extend_from_slice(send.line.as_bytes());
        warm.pending.push(b'\n');
        warm.flush();
        Ok(())
    }

    /// Reads what the processor answered; each whole line goes to seqspool,
    /// once the output printed before it has been copied.
    fn read_answers(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let Some(warm) = self.active.as_mut().and_then(|a| a.warm.as_mut()) else {
            return Ok(());
        };
        match (&warm.answers).read(buf) {
            Ok(0) => warm.answers_open = false,
            Ok(n) => warm.partial.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => warm.answers_open = false,
        }
        let at_end = !warm.answers_open;
        self.pass_answers(buf, at_end)
    }

    /// Tells seqspool every whole answer line held (and, at the end of the
    /// answers, what is left); each ends the copy into its experiment's logs.
    fn pass_answers(&mut self, buf: &mut [u8], at_end: bool) -> io::Result<()> {
        loop {
            let Some(active) = self.active.as_mut() else {
                return Ok(());
            };
            let Some(warm) = active.warm.as_mut() else {
                return Ok(());
            };
            let end = match warm.partial.iter().position(|&b| b == b'\n') {
                Some(end) => end + 1,
                None if warm.partial.len() >= MAX_ANSWER => MAX_ANSWER,
                None if at_end && !warm.partial.is_empty() => warm.partial.len(),
                None => return Ok(()),
            };
            let line: Vec<u8> = warm.partial.drain(..end.min(warm.partial.len())).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            if warm.busy {
                warm.busy = false;
                drain_now(&mut active.outputs, &mut warm.log, buf);
                for output in &mut active.outputs {
                    output.finish();
                }
            }
            self.say(&Event::Answer { line })?;
        }
    }

    fn refuse(&mut self, err: &io::Error) -> io::Result<()> {
        self.say(&Event::Refused {
            errno: err.raw_os_error().unwrap_or(0),
            message: err.to_string(),
        })
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
        let mut log = active.warm.as_mut().map(|warm| &mut warm.log);
        while active.outputs.iter().any(|output| output.open) && Instant::now() < deadline {
            drain(&mut active.outputs, log.as_deref_mut(), deadline, &mut buf)?;
        }
        let status = active.status.expect("the shell has exited");
        let said = if active.warm.is_some() {
            "the processor left running"
        } else {
            "the command left running"
        };
        if strays > 0 {
            if let Some(to) = &mut active.outputs[1].to {
                let _ = writeln!(to.file, "[seqspool: killed {strays} process(es) {said}]");
            }
        }
        if let Some(warm) = &mut active.warm {
            // What it answered before it ended still counts.
            while warm.answers_open && Instant::now() < deadline {
                let mut fds = [PollFd::new(&warm.answers, PollFlags::IN)];
                let _ = poll(&mut fds, timeout(Some(deadline)).as_ref());
                match (&warm.answers).read(&mut buf) {
                    Ok(0) | Err(_) => warm.answers_open = false,
                    Ok(n) => warm.partial.extend_from_slice(&buf[..n]),
                }
            }
            let ended = process::describe(std::process::ExitStatus::from_raw(status));
            warm.log
                .write(format!("[seqspool: the processor {ended}]\n").as_bytes());
            if strays > 0 {
                warm.log
                    .write(format!("[seqspool: killed {strays} process(es) {said}]\n").as_bytes());
            }
        }
        self.active = Some(active);
        self.pass_answers(&mut buf, true)?;
        let mut active = self.active.take().expect("a command was running");
        for output in &mut active.outputs {
            output.finish();
        }
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
    let [stdout, stderr] = match &run.logs {
        Some([stdout, stderr]) => [open_log(stdout)?, open_log(stderr)?],
        None => [
            open_log(&run.dir.join("stdout.txt"))?,
            open_log(&run.dir.join("stderr.txt"))?,
        ],
    };
    // The input in a file of no name, read from its start: it never blocks
    // the runner, however much of it the command leaves unread.
    let input = match &run.input {
        Some(text) => {
            let mut file = tempfile::tempfile()?;
            file.write_all(text.as_bytes())?;
            io::Seek::rewind(&mut file)?;
            Some(file)
        }
        None => None,
    };
    let launched = start_command(&run.command, |command| {
        let stdin = match &input {
            Some(file) => Input::File(file.try_clone()?),
            None => Input::Null,
        };
        launch(command, &run.dir, &run.env, &run.mark, stdin)
    })?;
    Ok(Active {
        shell: launched.pid,
        outputs: [
            Output::new(launched.stdout, Some(Sink::new(stdout, run.max_output))),
            Output::new(launched.stderr, Some(Sink::new(stderr, run.max_output))),
        ],
        grace: Duration::from_millis(run.grace_ms),
        kill_at: None,
        status: None,
        warm: None,
    })
}

/// Starts a warm processor: its requests on a pipe to its standard input,
/// its answers on a pipe of their own, its output into the pipeline's log.
fn spawn_processor(start: &StartRequest, slot: &mut Option<OwnedFd>) -> io::Result<Active> {
    let mut log = Log::open(&start.log, start.max_log)?;
    let (answers, answers_end) = io::pipe()?;
    // The processor inherits its end of the answers without close-on-exec:
    // put in the slot (descriptor 3), or, without one, at whatever number it
    // has; its environment names it. This thread is the runner's only one,
    // so no other child can inherit it meanwhile.
    let fd = match slot.as_mut() {
        Some(slot) => {
            rustix::io::dup2(&answers_end, slot)?;
            slot.as_raw_fd()
        }
        None => {
            rustix::io::fcntl_setfd(&answers_end, rustix::io::FdFlags::empty())?;
            answers_end.as_raw_fd()
        }
    };
    let mut env = start.env.clone();
    env.push((ANSWER_FD_VAR.into(), fd.to_string()));
    let launched = start_command(&start.command, |command| {
        launch(command, &start.dir, &env, &start.mark, Input::Pipe)
    });
    // The runner keeps no writing end of the answers, so that they end when
    // the processor's tree has closed its own.
    drop(answers_end);
    if let Some(held) = slot.as_mut() {
        let emptied = File::open("/dev/null").and_then(|null| {
            rustix::io::dup2(&null, held)?;
            Ok(rustix::io::fcntl_setfd(
                &*held,
                rustix::io::FdFlags::CLOEXEC,
            )?)
        });
        if emptied.is_err() {
            *slot = None;
        }
    }
    let launched = launched?;
    let requests = File::from(OwnedFd::from(
        launched
            .stdin
            .expect("a processor is started with its input"),
    ));
    rustix::io::ioctl_fionbio(&requests, true)?;
    log.write(
        format!(
            "[seqspool {}: started the processor, pid {}: {}]\n",
            crate::time::Timestamp::now(),
            launched.pid.as_raw_pid(),
            start.command
        )
        .as_bytes(),
    );
    Ok(Active {
        shell: launched.pid,
        outputs: [
            Output::new(launched.stdout, None),
            Output::new(launched.stderr, None),
        ],
        grace: Duration::from_millis(start.grace_ms),
        kill_at: None,
        status: None,
        warm: Some(Warm {
            requests,
            pending: Vec::new(),
            answers: File::from(OwnedFd::from(answers)),
            answers_open: true,
            partial: Vec::new(),
            log,
            busy: false,
        }),
    })
}

/// Opens (making it, or emptying it) one of an experiment's logs, never through a link.
fn open_log(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

fn busy(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ResourceBusy, message.to_owned())
}

/// Starts a pipeline's command with `launch`: a program with its arguments
/// as the lab wrote them, a shell line that is one plain program the same
/// way, any other line with `/bin/sh -c`.
fn start_command<T>(
    command: &PipelineCommand,
    mut launch: impl FnMut(&mut Command) -> io::Result<T>,
) -> io::Result<T> {
    let line = match command {
        PipelineCommand::Program(words) => {
            // As the lab wrote it: no shell, so a program that is not there is
            // refused (the workstation's to fix).
            let (program, args) = words
                .split_first()
                .ok_or_else(|| io::Error::other("the command names no program"))?;
            return launch(Command::new(program).args(args));
        }
        PipelineCommand::Shell(line) => line,
    };
    if let Some(words) = plain_words(line) {
        match launch(Command::new(words[0]).args(&words[1..])) {
            // Not found, or not executable: the shell says so in the words
            // and with the exit code (127, 126) a user knows.
            Err(err) if is_missing(&err) => {}
            launched => return launched,
        }
    }
    launch(Command::new("/bin/sh").arg("-c").arg(line))
}

/// A started process and our ends of its pipes.
struct Launched {
    pid: Pid,
    stdout: io::PipeReader,
    stderr: io::PipeReader,
    /// Its standard input, when it takes one.
    stdin: Option<io::PipeWriter>,
}

/// What a launched command reads on its standard input.
enum Input {
    /// Nothing (`/dev/null`).
    Null,
    /// A new pipe, whose other end the runner writes.
    Pipe,
    /// A file, from where it stands.
    File(File),
}

/// Starts `command` in `dir` with `env` and the run's `mark`, in a process
/// group of its own, its output into new pipes, and its input as `input` says.
fn launch(
    command: &mut Command,
    dir: &std::path::Path,
    env: &[(String, String)],
    mark: &str,
    input: Input,
) -> io::Result<Launched> {
    let (out_read, out_write) = io::pipe()?;
    let (err_read, err_write) = io::pipe()?;
    let (stdin, input) = match input {
        Input::Null => (Stdio::null(), None),
        Input::Pipe => {
            let (read, write) = io::pipe()?;
            (Stdio::from(read), Some(write))
        }
        Input::File(file) => (Stdio::from(file), None),
    };
    let child = command
        .current_dir(dir)
        .env_remove(PARENT_VAR)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(RUN_VAR, mark)
        .stdin(stdin)
        .stdout(out_write)
        .stderr(err_write)
        .process_group(0)
        .spawn()?;
    Ok(Launched {
        pid: Pid::from_child(&child),
        stdout: out_read,
        stderr: err_read,
        stdin: input,
    })
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
    open: bool,
    /// The experiment's log it is copied into: always for a command; for a
    /// warm processor, while it works on an experiment.
    to: Option<Sink>,
}

/// An experiment's log, which keeps at most `max` bytes.
struct Sink {
    file: File,
    max: u64,
    kept: u64,
    dropped: u64,
}

impl Sink {
    fn new(file: File, max: u64) -> Sink {
        Sink {
            file,
            max,
            kept: 0,
            dropped: 0,
        }
    }

    /// Keeps what fits; the rest is counted as dropped.
    fn keep(&mut self, bytes: &[u8]) {
        let n = bytes.len() as u64;
        let keep = (self.max - self.kept).min(n) as usize;
        if keep > 0 && self.file.write_all(&bytes[..keep]).is_err() {
            // The disk is full: keep draining, so the command is not blocked.
            self.dropped += n;
            return;
        }
        self.kept += keep as u64;
        self.dropped += n - keep as u64;
    }

    fn finish(mut self) {
        if self.dropped > 0 {
            let _ = write!(
                self.file,
                "\n[seqspool: {} more bytes dropped; the log is capped at {} bytes]\n",
                self.dropped, self.max
            );
        }
    }
}

impl Output {
    fn new(from: io::PipeReader, to: Option<Sink>) -> Output {
        Output {
            from: File::from(OwnedFd::from(from)),
            open: true,
            to,
        }
    }

    /// Copies what is readable now into the experiment's log (at most its
    /// cap; the rest is read and dropped so the command never blocks on a
    /// full pipe) and into the processor's `log`, if any.
    fn copy(&mut self, buf: &mut [u8], log: Option<&mut Log>) {
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
        if let Some(log) = log {
            log.write(&buf[..n]);
        }
        if let Some(to) = &mut self.to {
            to.keep(&buf[..n]);
        }
    }

    /// Ends the copy into the experiment's log.
    fn finish(&mut self) {
        if let Some(to) = self.to.take() {
            to.finish();
        }
    }
}

/// A warm processor's log: appended to, renamed to `<log>.1` (replacing the
/// one before) when it reaches its cap, so it never holds more than twice that.
struct Log {
    path: PathBuf,
    file: File,
    max: u64,
    written: u64,
}

impl Log {
    fn open(path: &std::path::Path, max: u64) -> io::Result<Log> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        let written = file.metadata()?.len();
        Ok(Log {
            path: path.to_owned(),
            file,
            max,
            written,
        })
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.written > 0 && self.written + bytes.len() as u64 > self.max {
            let mut older = self.path.clone().into_os_string();
            older.push(".1");
            if fs::rename(&self.path, &older).is_ok() {
                if let Ok(log) = Log::open(&self.path, self.max) {
                    *self = log;
                }
            }
        }
        if self.file.write_all(bytes).is_ok() {
            self.written += bytes.len() as u64;
        }
    }
}

impl Warm {
    /// Writes what the processor can take now of the pending requests.
    fn flush(&mut self) {
        while !self.pending.is_empty() {
            match (&self.requests).write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                // It closed its input, or ended: its end is reported when it is reaped.
                Err(_) => self.pending.clear(),
            }
        }
    }
}

/// Copies what the outputs hold, waiting at most until `deadline`.
fn drain(
    outputs: &mut [Output; 2],
    mut log: Option<&mut Log>,
    deadline: Instant,
    buf: &mut [u8],
) -> io::Result<()> {
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
            output.copy(buf, log.as_deref_mut());
        }
    }
    Ok(())
}

/// Most passes of [`drain_now`]: a processor printing without pause must not
/// hold its answer back for ever.
const DRAIN_NOW_PASSES: usize = 16;

/// Copies what the outputs hold already, without waiting for more.
fn drain_now(outputs: &mut [Output; 2], log: &mut Log, buf: &mut [u8]) {
    for _ in 0..DRAIN_NOW_PASSES {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = outputs
                .iter()
                .filter(|output| output.open)
                .map(|output| PollFd::new(&output.from, PollFlags::IN))
                .collect();
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if poll(&mut fds, Some(&zero)).unwrap_or(0) == 0 {
                return;
            }
            fds.iter().map(|fd| !fd.revents().is_empty()).collect()
        };
        let mut ready = ready.into_iter();
        for output in outputs.iter_mut().filter(|output| output.open) {
            if ready.next() == Some(true) {
                output.copy(buf, Some(log));
            }
        }
    }
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
    for (pid, ppid) in process::process_parents() {
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
    fn a_processors_log_is_renamed_when_full_and_begun_again() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kmer.log");
        fs::write(&path, "earlier\n").unwrap();
        let mut log = Log::open(&path, 16).unwrap();
        log.write(b"0123456\n");
        log.write(b"abcdefg\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "abcdefg\n");
        assert_eq!(
            fs::read_to_string(tmp.path().join("kmer.log.1")).unwrap(),
            "earlier\n0123456\n"
        );
    }

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

    #[test]
    fn the_runners_events_are_read_as_it_writes_them() {
        let line = serde_json::to_string(&Event::Ended {
            status: 3 << 8,
            strays: 1,
        })
        .unwrap();
        assert_eq!(line, r#"{"event":"ended","status":768,"strays":1}"#);
        assert!(matches!(
            serde_json::from_str(&line).unwrap(),
            Event::Ended {
                status: 768,
                strays: 1
            }
        ));
    }
}
