//! The lab's `on_finish` command: run with each event on its standard input,
//! through a runner as the experiments' commands are (its whole tree
//! stopped at its timeout or at shutdown), its run recorded in the outbox
//! before it starts, its output kept beside the outbox, bounded.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use super::{Attempt, Event, Outbox, Running, Shared};
use crate::exec::local::{self, Ended, Once};
use crate::exec::process;
use crate::exec::{Control, Signal};
use crate::model::Id;
use crate::time::Timestamp;

/// How long the `on_finish` command may run before it is stopped with
/// everything it started.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes kept of each of the `on_finish` command's outputs: a mailer's
/// complaint fits, a runaway script fills no disk.
const COMMAND_OUTPUT: u64 = 64 * 1024;

/// The `on_finish` command's standard output and error, in the experiment's
/// directory (hidden files, as the outbox is).
pub(super) const COMMAND_LOGS: [&str; 2] = [".on_finish.stdout.txt", ".on_finish.stderr.txt"];

/// What of the command's standard error the reason it failed quotes.
const STDERR_KEPT: usize = 500;

impl Shared {
    /// Registers how to stop a run of the `on_finish` command; false once
    /// the server stops (nothing is to start then).
    fn register(&self, key: (Id, usize), stop: Sender<Signal>) -> bool {
        let mut commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        match commands.as_mut() {
            Some(commands) => {
                commands.insert(key, stop);
                true
            }
            None => false,
        }
    }

    fn unregister(&self, key: (Id, usize)) {
        let mut commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(commands) = commands.as_mut() {
            commands.remove(&key);
        }
    }

    /// Runs the `on_finish` command with the event on its standard input,
    /// through a runner (as the experiments' commands run), its run recorded
    /// in the outbox before it starts; its output goes to [`COMMAND_LOGS`]
    /// in the experiment's directory.
    pub(super) async fn run_on_finish(
        self: &Arc<Self>,
        event: &Event,
        outbox: &Arc<tokio::sync::Mutex<Outbox>>,
        at: usize,
    ) -> Attempt {
        let Some(program) = self.settings.on_finish.first().cloned() else {
            return Attempt::Never(
                "the configuration no longer has an on_finish command ([notify] on_finish)".into(),
            );
        };
        let key = (event.experiment, at);
        let control = Control::new();
        if !self.register(key, control.sender.clone()) {
            return Attempt::Interrupted;
        }
        let shared = self.clone();
        let outbox = outbox.clone();
        let input = String::from_utf8_lossy(&event.body).into_owned();
        let env = vec![
            ("SEQSPOOL_EVENT_ID".to_owned(), event.id.clone()),
            ("SEQSPOOL_EVENT_TYPE".to_owned(), event.kind.clone()),
            ("EXPERIMENT_ID".to_owned(), event.experiment.to_string()),
            (
                "EXPERIMENT_DIR".to_owned(),
                self.store.dir(event.experiment).display().to_string(),
            ),
        ];
        let experiment = event.experiment;
        let ended = tokio::task::spawn_blocking(move || {
            let dir = shared.store.dir(experiment);
            let logs = COMMAND_LOGS.map(|name| dir.join(name));
            let command = crate::pipeline::Command::Program(shared.settings.on_finish.clone());
            let once = Once {
                command: &command,
                dir: shared.store.root(),
                env,
                input,
                logs: logs.clone(),
                max_output: COMMAND_OUTPUT,
                mark: local::once_mark(&format!("{experiment}/on_finish")),
                timeout: COMMAND_TIMEOUT,
                grace: shared.grace,
            };
            let what = format!("the on_finish command of experiment {experiment}");
            let ended = local::once(&shared.runner, &what, once, control, |process| {
                let mut outbox = outbox.blocking_lock();
                outbox.deliveries[at].running = Some(Running {
                    since: Timestamp::now(),
                    process,
                });
                shared.write_checked(&outbox)
            });
            (ended, said(&logs[1]))
        })
        .await;
        self.unregister(key);
        let Ok((ended, said)) = ended else {
            return Attempt::Interrupted;
        };
        Attempt::Done(match ended {
            Ended::Exited(status) if status.success() => Ok(()),
            Ended::Exited(status) => Err(format!("{}{said}", process::describe(status))),
            Ended::TimedOut => Err(format!(
                "still running after {} s; it was stopped with everything it started",
                COMMAND_TIMEOUT.as_secs()
            )),
            Ended::Interrupted => return Attempt::Interrupted,
            Ended::Failed(why) => Err(format!("{program}: {why}")),
        })
    }
}

/// What a command wrote first on its standard error (kept in `log`), as the
/// end of a reason: `: no mail server`, or nothing.
fn said(log: &Path) -> String {
    use std::io::Read;
    let mut kept = Vec::new();
    if let Ok(file) = std::fs::File::open(log) {
        let _ = file.take(STDERR_KEPT as u64).read_to_end(&mut kept);
    }
    let said = String::from_utf8_lossy(&kept);
    match said.trim() {
        "" => String::new(),
        said => format!(": {said}"),
    }
}
