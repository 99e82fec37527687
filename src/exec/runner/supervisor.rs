//! The runner's own side: its state between two events, and the loop that
//! waits on seqspool's requests, the command's output, a processor's answers
//! and signals, and deals with each.
//!
//! The runner starts one command (or one warm processor) at a time, in a
//! process group of its own; as a child subreaper it reaps everything the
//! command leaves, and it kills the whole tree, found through `/proc`, when
//! told to stop, when the shell has exited and left something running, and
//! when seqspool dies.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitOptions};

use super::launch::{busy, launch, open_log, start_command, Input};
use super::output::{drain, drain_now, timeout, Log, Output, Sink};
use super::{
    Event, Request, RunRequest, SendRequest, StartRequest, ANSWER_FD, ANSWER_FD_VAR,
    COMMAND_NICENESS, PARENT_VAR,
};
use crate::exec::process;

/// How long the output is drained once the command's tree is gone; only a
/// process outside the tree holding the pipes open makes it wait this long.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Bytes read from the command's output at a time.
const CHUNK: usize = 64 * 1024;

/// The longest answer line a warm processor may write; a longer one is cut
/// here (and then reads as nonsense): an answer says ok or why not.
const MAX_ANSWER: usize = 64 * 1024;

/// Makes this process the runner (its own session, a subreaper that dies
/// with seqspool), then serves until seqspool ends or asks it to.
pub(super) fn serve() -> io::Result<()> {
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
