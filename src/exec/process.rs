//! The process toolbox: what `/proc` says of processes, what identifies a
//! run's processes after a crash, and how to kill what a run left behind.
//!
//! The local and warm executors find a crashed server's runs again by the
//! identity they recorded (a runner's session, its leader's start time, this
//! boot) and by the mark every process of a run carries in its environment
//! ([`RUN_VAR`]); the runner walks `/proc` to kill its own tree. Both sides
//! use this module, so neither needs the other.

use std::collections::HashSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal as Sig};

use crate::model::ProcessIdentity;

/// Marks every process of a run (it is left in the command's environment).
pub const RUN_VAR: &str = "SEQSPOOL_RUN";

/// Kills what is left of a run after a server crash: its runner's session,
/// and the processes marked as the run's; returns how many were signalled.
pub fn kill_run(process: &ProcessIdentity, grace: Duration) -> usize {
    let marked = process
        .mark
        .as_deref()
        .filter(|_| process.boot_id == boot_id())
        .map_or(0, |mark| kill_marked(mark, grace));
    kill_leftover(process, grace) + marked
}

/// This server in a mark: its pid and start time.
pub(super) fn server_mark() -> &'static str {
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let pid = std::process::id() as i32;
        format!("{pid}.{}", start_ticks(pid).unwrap_or(0))
    })
}

/// Signals a whole group; ESRCH (nobody left) is fine.
pub(super) fn kill_group(pgid: i32, signal: Sig) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Kills, after a server crash, any process still marked as belonging to the
/// run `mark` (whose supervisor was killed before it could clean up);
/// returns how many there were.
pub(super) fn kill_marked(mark: &str, grace: Duration) -> usize {
    kill_carrying(&format!("{RUN_VAR}={mark}"), grace)
}

/// Kills every process whose environment holds `mark` (`NAME=value`):
/// SIGTERM, then SIGKILL after `grace`; returns how many there were.
pub(super) fn kill_carrying(mark: &str, grace: Duration) -> usize {
    let marked = || -> Vec<i32> {
        pids()
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    environ.split(|&b| b == 0).any(|var| var == mark.as_bytes())
                })
            })
            .filter(|&pid| start_ticks(pid).is_some())
            .collect()
    };
    let found: HashSet<i32> = marked().into_iter().collect();
    if found.is_empty() {
        return 0;
    }
    let signal_all = |signal: Sig| {
        for pid in marked() {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    };
    signal_all(Sig::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !marked().is_empty() {
        thread::sleep(Duration::from_millis(20));
    }
    signal_all(Sig::KILL);
    found.len()
}

/// Every live process and its parent, from `/proc`.
pub(super) fn process_parents() -> Vec<(i32, i32)> {
    live().map(|(pid, stat)| (pid, stat.ppid)).collect()
}

/// What identifies the group whose leader is `pid`, for recovery after a crash.
pub fn identify(pid: i32) -> ProcessIdentity {
    ProcessIdentity {
        pgid: pid,
        start_ticks: start_ticks(pid).unwrap_or(0),
        boot_id: boot_id(),
        mark: None,
    }
}

/// Kills what is left of a run after a server crash, if it is still alive and
/// still the same; returns how many processes were signalled. `process` is
/// the runner's identity: it leads a session (and a group) whose members are
/// the runner and every command it started, unless one left the session,
/// which [`kill_marked`] finds by its mark. (Records from before the runner
/// name a command's process group; their members are found the same way.)
///
/// A session or group whose leader is alive is ours only if the leader's
/// start time matches. One whose leader is gone is recognised by members
/// started no earlier than the leader was: its id cannot have been given
/// again while they lived.
pub fn kill_leftover(process: &ProcessIdentity, grace: Duration) -> usize {
    if process.boot_id != boot_id() {
        return 0; // the machine rebooted since: nothing of it can be left
    }
    let members = |process: &ProcessIdentity| -> Vec<i32> {
        if let Some(ticks) = start_ticks(process.pgid) {
            if ticks != process.start_ticks {
                return Vec::new(); // the leader's pid now belongs to someone else
            }
        }
        members_of(process.pgid)
            .into_iter()
            .filter(|&(_, ticks)| ticks >= process.start_ticks)
            .map(|(pid, _)| pid)
            .collect()
    };
    let found = members(process);
    if found.is_empty() {
        return 0;
    }
    let signal_all = |signal: Sig| {
        kill_group(process.pgid, signal);
        for pid in members(process) {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    };
    signal_all(Sig::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !members(process).is_empty() {
        thread::sleep(Duration::from_millis(20));
    }
    if !members(process).is_empty() {
        signal_all(Sig::KILL);
    }
    found.len()
}

/// Every live process in the session or the process group `id`, with its start time.
fn members_of(id: i32) -> Vec<(i32, u64)> {
    live()
        .filter(|(_, stat)| stat.pgrp == id || stat.session == id)
        .map(|(pid, stat)| (pid, stat.start_ticks))
        .collect()
}

/// The pid of every process in `/proc` (none if it cannot be read).
fn pids() -> impl Iterator<Item = i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
}

/// Every process that has not ended (a zombie has), with its `/proc/PID/stat`.
fn live() -> impl Iterator<Item = (i32, Stat)> {
    pids()
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .filter(|(_, stat)| stat.state != 'Z')
}

struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
    start_ticks: u64,
}

/// The fields we need of `/proc/PID/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn proc_stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

fn start_ticks(pid: i32) -> Option<u64> {
    proc_stat(pid)
        .filter(|stat| stat.state != 'Z')
        .map(|stat| stat.start_ticks)
}

/// This boot's id; it cannot change while the process lives, so it is read once.
fn boot_id() -> String {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|id| id.trim().to_owned())
                .unwrap_or_default()
        })
        .clone()
}

/// Describes how a process ended, in words for `error`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => "ended in an unknown way".into(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    const NAMES: [(Sig, &str); 13] = [
        (Sig::HUP, "SIGHUP"),
        (Sig::INT, "SIGINT"),
        (Sig::QUIT, "SIGQUIT"),
        (Sig::ILL, "SIGILL"),
        (Sig::ABORT, "SIGABRT"),
        (Sig::BUS, "SIGBUS"),
        (Sig::FPE, "SIGFPE"),
        (Sig::KILL, "SIGKILL"),
        (Sig::SEGV, "SIGSEGV"),
        (Sig::PIPE, "SIGPIPE"),
        (Sig::TERM, "SIGTERM"),
        (Sig::XCPU, "SIGXCPU"),
        (Sig::XFSZ, "SIGXFSZ"),
    ];
    NAMES
        .iter()
        .find(|(sig, _)| sig.as_raw() == signal)
        .map_or("unnamed", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_described_in_words() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(Sig::KILL.as_raw())),
            "killed by signal 9 (SIGKILL)"
        );
    }
}
