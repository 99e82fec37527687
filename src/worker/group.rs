//! A grouped run: one run of a pipeline's command that serves several
//! experiments next in line (its `group`), as the worker runs it.
//!
//! Every member is recorded RUNNING, with the group and the executor's
//! handle, before the command starts; the command works in the group's
//! directory (`store::group`) and writes each member's results in its output
//! directory. When it exits 0, each member in turn has its results moved
//! into its own directory and only then is recorded COMPLETE (or
//! EXECUTOR_ERROR, if the command wrote it a `failed` file). A group whose
//! command fails is not its members' failure: they wait again at the head,
//! in order, each marked to run alone (`solo`), so only a query that fails
//! alone fails. A member cancelled while the command runs is CANCELED at
//! once by the cancel itself (`queue::group`) and is left alone here.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc as channel;
use std::time::Instant;

use super::{Next, Worker};
use crate::error::Error;
use crate::exec::{Control, Outcome, Run};
use crate::model::{Group, Id, Record, RunHandle, State};
use crate::time::Timestamp;

/// Most bytes of a group's log copied into each member's log: the end of
/// it, where errors are; the whole stays in the group's directory while it runs.
const MEMBER_LOG: u64 = 64 * 1024;

impl Worker {
    /// Runs the group `members` make (or follows it, `reattached`) to its
    /// end, and settles each member. `begun` hears when its start is recorded.
    pub(super) fn run_group(
        &self,
        mut members: Vec<Record>,
        control: Control,
        reattached: bool,
        mut begun: Option<channel::Sender<()>>,
    ) -> Next {
        let group = members[0].group.expect("the members of a group name it");
        let id = group.id;
        let definition = members[0].definition();
        let executor = self.executors.for_definition(&definition);
        log::info!(
            "group {id} {} ({} experiments, attempt {}, pipeline {}): {}",
            if reattached { "re-attached" } else { "started" },
            group.size,
            members[0].attempts,
            members[0].pipeline,
            members[0].command
        );
        let started = Instant::now();
        let dir = if reattached {
            self.store.group_dir(id)
        } else {
            match self.store.make_group_dir(&members) {
                Ok(dir) => dir,
                Err(err) => {
                    let _ = self.store.remove_group_dir(id);
                    let error = format!("its group's directory could not be made: {err}");
                    if err.is_experiment_fault() {
                        // A member's directory is gone: each runs alone, and that one fails alone.
                        return self.run_alone(members, &error);
                    }
                    return self.requeue_all(members, error, false, !err.passes());
                }
            }
        };
        let first = members[0].clone();
        let run = Run {
            record: &first,
            dir: &dir,
            size: group.size as usize,
        };
        let mut first_call = !reattached;
        let mut none_left = false;
        let outcome = {
            let mut record_start = |handle: Option<RunHandle>| -> Result<(), Error> {
                {
                    // A cancel writes its member holding the pen: never overwritten here.
                    let pen = self.queue.member_pen();
                    let _held = pen.lock().unwrap_or_else(|p| p.into_inner());
                    let still = self.queue.members(id);
                    for member in members.iter_mut().filter(|m| still.contains(&m.id)) {
                        member.handle = handle.clone().map(Box::new);
                        self.store.write_record(member)?;
                        self.queue.update_running(member.clone());
                    }
                }
                if std::mem::take(&mut first_call) {
                    for mut canceled in self.queue.begin_group(id) {
                        canceled.handle = None;
                        if self.record_end(&canceled) {
                            log::info!(
                                "experiment {} canceled as its group {id} started",
                                canceled.id
                            );
                        }
                    }
                    if self.queue.members(id).is_empty() {
                        none_left = true;
                        return Err(Error::WrongState(format!(
                            "every experiment of group {id} was canceled before it started"
                        )));
                    }
                }
                if let Some(begun) = begun.take() {
                    let _ = begun.send(());
                }
                Ok(())
            };
            executor.drive(reattached, &run, control, &mut record_start)
        };
        let took = started.elapsed();
        // From here on, a cancel of a member comes too late: it ends as its run did.
        let claimed = self.queue.settle_group(id);
        members.retain(|member| claimed.contains(&member.id));
        if outcome == Outcome::Detached {
            // Still RUNNING on disk, with its handle: the next start re-attaches to it.
            for member in members {
                self.queue.finish(member);
            }
            log::info!(
                "group {id} left running without the server after {:.1} s",
                took.as_secs_f64()
            );
            return Next::Sleep;
        }
        for member in &mut members {
            member.handle = None;
        }
        let outcome = if none_left {
            Outcome::Canceled
        } else {
            self.disk_fault(outcome)
        };
        let next = match outcome {
            Outcome::Complete { .. } => self.publish(id, group, &dir, members, took.as_secs_f64()),
            Outcome::Failed { error, .. } | Outcome::SystemError { error, .. } => {
                log::warn!(
                    "group {id} failed after {:.1} s: {error}; its {} experiment(s) run again, each alone",
                    took.as_secs_f64(),
                    members.len()
                );
                self.run_alone(members, &format!("its group {id} failed: {error}"))
            }
            Outcome::Retry {
                error,
                ran,
                lasting,
            } => self.requeue_all(members, format!("its group {id}: {error}"), ran, lasting),
            Outcome::Canceled => {
                for mut member in members {
                    member.state = State::Canceled;
                    member.finished_at = Some(Timestamp::now());
                    member.error = Some("canceled by a client while its group ran".into());
                    if self.record_end(&member) {
                        self.queue.finish(member);
                    }
                }
                Next::Run
            }
            Outcome::Interrupted => {
                for mut member in members {
                    // Still RUNNING on disk: recovery requeues it at the head.
                    member.error = Some(
                        "interrupted by a server shutdown; it runs again first at the next start"
                            .into(),
                    );
                    self.persist(&member);
                    self.queue.finish(member);
                }
                log::info!(
                    "group {id} interrupted by the shutdown after {:.1} s",
                    took.as_secs_f64()
                );
                Next::Sleep
            }
            Outcome::Detached => unreachable!("a detached run was dealt with above"),
        };
        if let Err(err) = self.store.remove_group_dir(id) {
            log::warn!("group {id}: {err}");
        }
        next
    }

    /// Moves each member's results into its directory, then records it
    /// COMPLETE, or EXECUTOR_ERROR if the command failed it alone.
    fn publish(&self, id: Id, group: Group, dir: &Path, members: Vec<Record>, took: f64) -> Next {
        let logs = [
            ("stdout.txt", member_log(dir, "stdout.txt", group)),
            ("stderr.txt", member_log(dir, "stderr.txt", group)),
        ];
        let mut failed = 0;
        for mut member in members {
            let mut error = self.store.member_failed(id, member.id);
            if let Err(err) = self.store.adopt_results(id, member.id) {
                error = Some(format!(
                    "its results could not be moved into its directory: {err}"
                ));
            }
            for (name, text) in &logs {
                let scratch = format!(".{name}.next");
                if let Err(err) = self.store.write_own(member.id, name, &scratch, text) {
                    log::warn!(
                        "experiment {}: could not write its {name}: {err}",
                        member.id
                    );
                }
            }
            member.state = if error.is_some() {
                failed += 1;
                State::ExecutorError
            } else {
                State::Complete
            };
            member.finished_at = Some(Timestamp::now());
            member.exit_code = Some(0);
            member.signal = None;
            member.error = error;
            if !self.record_end(&member) {
                return Next::Sleep; // closing: the disk still says RUNNING, so it runs again
            }
            self.queue.finish(member);
        }
        log::info!(
            "group {id} finished in {took:.1} s: {} experiment(s), {failed} failed alone",
            group.size
        );
        Next::Run
    }

    /// Puts the members of a failed group back at the head of the queue,
    /// in order, each to run alone; their attempts do not count the group's.
    fn run_alone(&self, members: Vec<Record>, why: &str) -> Next {
        for mut member in members {
            member.state = State::Queued;
            member.started_at = None;
            member.attempts = member.attempts.saturating_sub(1);
            member.group = None;
            member.handle = None;
            member.solo = Some(why.into());
            member.error = None;
            self.persist(&member);
            self.queue.finish(member);
        }
        Next::Run
    }

    /// Puts the members of a group the workstation failed back at the head
    /// of the queue; a lasting fault pauses the queue once.
    fn requeue_all(&self, members: Vec<Record>, error: String, ran: bool, lasting: bool) -> Next {
        let mut next = Next::Run;
        let last = members.len().saturating_sub(1);
        for (at, member) in members.into_iter().enumerate() {
            next = self.requeue(member, error.clone(), ran, lasting && at == last);
        }
        next
    }
}

/// What a member's log says: which group served it, and the end of the
/// group's log `name`.
fn member_log(dir: &Path, name: &str, group: Group) -> Vec<u8> {
    let others = group.size.saturating_sub(1);
    let mut tail = Vec::new();
    let mut cut = false;
    if let Ok(mut file) = fs::File::open(dir.join(name)) {
        let length = file.metadata().map_or(0, |meta| meta.len());
        cut = length > MEMBER_LOG;
        if file
            .seek(SeekFrom::Start(length.saturating_sub(MEMBER_LOG)))
            .is_ok()
        {
            let _ = file.take(MEMBER_LOG).read_to_end(&mut tail);
        }
    }
    let mut text = format!(
        "seqspool: searched with {others} other{} in one run (group {}); the group's {name}{} follows\n",
        if others == 1 { "" } else { "s" },
        group.id,
        if cut { ", its last 64 KiB," } else { "" }
    )
    .into_bytes();
    text.extend_from_slice(&tail);
    text
}
