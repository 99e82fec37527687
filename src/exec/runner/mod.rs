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
//!
//! This module holds what both sides share (the subcommand, the variables and
//! the protocol); [`client`] is seqspool's side (start a runner, ask, hear),
//! and the runner's own is `supervisor` (its loop), `launch` (how a command
//! starts) and `output` (where its output goes).

use std::io::{self, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) mod client;
mod launch;
mod output;
mod supervisor;

/// The first argument that makes the binary a runner.
pub const SUBCOMMAND: &str = "__runner";

/// The server's pid, so the runner can tell it is still its parent.
pub(crate) const PARENT_VAR: &str = "SEQSPOOL_PARENT";
/// Names, in a warm processor's environment, the descriptor it answers on.
pub(crate) const ANSWER_FD_VAR: &str = "SEQSPOOL_ANSWER_FD";
/// The descriptor a warm processor answers on: the first after standard
/// error, which any shell can write to (`>&3`).
pub(crate) const ANSWER_FD: i32 = 3;

/// The niceness a command runs at: the lowest priority, as for any batch job.
/// The HTTP side must answer at once however hard the command works: at nice
/// 19, in a scheduling group of its own, the command yields the CPU whenever
/// the server wants it, and still gets every cycle the server leaves idle.
pub(crate) const COMMAND_NICENESS: i32 = 19;

/// What seqspool asks of the runner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(crate) enum Request {
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
pub(crate) struct RunRequest {
    /// The experiment's directory: the command's working directory, where its logs go.
    pub(crate) dir: PathBuf,
    /// A program and its arguments, or a line for `/bin/sh -c`.
    pub(crate) command: crate::pipeline::Command,
    /// Added to the runner's environment (which is the server's).
    pub(crate) env: Vec<(String, String)>,
    /// Most bytes kept of each of stdout and stderr.
    pub(crate) max_output: u64,
    /// Between SIGTERM and SIGKILL, in milliseconds.
    pub(crate) grace_ms: u64,
    /// The run's mark, in [`RUN_VAR`](crate::exec::process::RUN_VAR) of every process it starts.
    pub(crate) mark: String,
    /// What the command reads on its standard input (none: nothing, `/dev/null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input: Option<String>,
    /// Where its standard output and error go (none: `stdout.txt` and
    /// `stderr.txt` in `dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) logs: Option<[PathBuf; 2]>,
}

/// A warm processor to start.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StartRequest {
    /// Its working directory.
    pub(crate) dir: PathBuf,
    pub(crate) command: crate::pipeline::Command,
    /// Added to the runner's environment (which is the server's).
    pub(crate) env: Vec<(String, String)>,
    /// The pipeline's log, which gets everything it prints.
    pub(crate) log: PathBuf,
    /// Bytes the log may reach before it is renamed to `<log>.1` and begun again.
    pub(crate) max_log: u64,
    /// Between SIGTERM and SIGKILL, in milliseconds.
    pub(crate) grace_ms: u64,
    /// The processor's mark, in [`RUN_VAR`](crate::exec::process::RUN_VAR) of every process it starts.
    pub(crate) mark: String,
}

/// One request for the warm processor.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SendRequest {
    /// The line it is given on its standard input (without the newline).
    pub(crate) line: String,
    /// The experiment's directory: its `stdout.txt` and `stderr.txt` get
    /// what the processor prints until it answers.
    pub(crate) dir: PathBuf,
    /// Most bytes kept of each of them.
    pub(crate) max_output: u64,
}

/// What the runner tells seqspool.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub(crate) enum Event {
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
    let code = match supervisor::serve() {
        Ok(()) => 0,
        Err(err) => {
            let _ = writeln!(io::stderr(), "seqspool runner: {err}");
            1
        }
    };
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

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
