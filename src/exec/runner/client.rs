//! The server's side of a runner: starting one, asking it for things, and
//! hearing what it says.
//!
//! The local executor (for the experiments' commands and the lab's
//! `on_finish`) and the warm executor (one for each processor) hold a
//! [`Runner`]: the child process, the socket its requests go down, and a
//! thread that reads its events into [`Heard`] and wakes the run that waits
//! on them. Dropping it ends the runner.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal as Sig;

use super::{Event, Request, PARENT_VAR, SUBCOMMAND};
use crate::exec::process::{identify, kill_group};
use crate::exec::Signal;
use crate::model::ProcessIdentity;

/// How long past its own grace a runner told to stop may take before it is
/// killed outright: it only has to signal a tree and reap it.
pub(crate) const RUNNER_MARGIN: Duration = Duration::from_secs(5);

/// The runner process, and what it said.
pub(crate) struct Runner {
    child: Child,
    /// Requests go here.
    channel: UnixStream,
    pub(crate) heard: Arc<Heard>,
    pub(crate) identity: ProcessIdentity,
}

/// What the runner said, for the run that waits on it.
#[derive(Default)]
pub(crate) struct Heard {
    state: Mutex<HeardState>,
}

#[derive(Default)]
pub(crate) struct HeardState {
    pub(crate) events: VecDeque<Event>,
    /// The runner's output has ended: it is gone.
    pub(crate) gone: bool,
    /// Told of each event, when a run waits.
    pub(crate) listener: Option<Sender<Signal>>,
}

impl Heard {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HeardState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Runner {
    /// Starts the runner (of `what`, for the log) and the thread that listens to it.
    pub(crate) fn start(binary: &Path, what: &str) -> io::Result<Runner> {
        let (channel, theirs) = UnixStream::pair()?;
        let child = Command::new(binary)
            .arg(SUBCOMMAND)
            .env(PARENT_VAR, std::process::id().to_string())
            .stdin(std::os::fd::OwnedFd::from(theirs))
            .stdout(Stdio::null())
            .spawn()?;
        let heard = Arc::new(Heard::default());
        let reader = channel.try_clone()?;
        let listening = heard.clone();
        thread::Builder::new()
            .name("runner".into())
            .spawn(move || listen(reader, listening))?;
        let pid = child.id() as i32;
        log::info!("started the runner of {what} (pid {pid})");
        Ok(Runner {
            identity: identify(pid),
            child,
            channel,
            heard,
        })
    }

    pub(crate) fn ask(&mut self, request: &Request) -> io::Result<()> {
        let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
        line.push(b'\n');
        self.channel.write_all(&line)
    }

    /// Whether it still runs.
    pub(crate) fn is_alive(&mut self) -> bool {
        !self.heard.lock().gone && matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it outright (it did not stop when told), and reaps it.
    pub(crate) fn kill(&mut self) {
        kill_group(self.child.id() as i32, Sig::KILL);
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    /// The end of its input tells the runner to stop whatever runs and exit.
    fn drop(&mut self) {
        let _ = self.channel.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + RUNNER_MARGIN;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.kill();
    }
}

/// Reads the runner's events until it is gone; each one wakes the run that waits.
fn listen(channel: UnixStream, heard: Arc<Heard>) {
    for line in BufReader::new(channel).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Event>(&line) {
            Ok(event) => {
                let mut state = heard.lock();
                state.events.push_back(event);
                if let Some(listener) = &state.listener {
                    let _ = listener.send(Signal::Changed);
                }
            }
            Err(err) => log::warn!("the runner said something unreadable ({err}): {line}"),
        }
    }
    let mut state = heard.lock();
    state.gone = true;
    if let Some(listener) = &state.listener {
        let _ = listener.send(Signal::Changed);
    }
}
