//! Executors: how one experiment runs, and how a run a crash interrupted is settled.
//!
//! The worker knows only this seam: it hands an executor the experiment at the
//! head of the queue and waits for the [`Outcome`]. Each executor owns its own
//! way of running (in process, a process tree here, a processor kept warm
//! between experiments, a batch job on a cluster) and its own handle on a
//! run ([`RunHandle`]), which it gives back through `started` before anything
//! runs, so that the worker records RUNNING with it first. At the next start,
//! [`Executor::recover`] settles what that handle left behind: a local run, or
//! the warm processor that had the experiment, is killed and requeued; a
//! Slurm job that still runs (or has finished) is re-attached and followed to
//! its end ([`Executor::follow`]).

pub(crate) mod builtin;
pub(crate) mod local;
pub(crate) mod process;
pub mod runner;
pub(crate) mod slurm;
pub(crate) mod warm;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::metrics::Metrics;
use crate::model::{Record, RunHandle};
use crate::pipeline::{self, Catalog, Check, Definition, ExecutorKind, Pipeline};
use crate::time::Timestamp;

/// What a running experiment can be told, by the rest of the server or by the
/// executor's own watchers.
#[derive(Debug)]
pub enum Signal {
    /// A client cancelled the experiment.
    Cancel,
    /// The server is shutting down; the experiment runs again at the next start.
    Shutdown,
    /// Something the executor waits for has happened (a process exited).
    Changed,
}

/// The channel a run is told things on. The worker keeps a sender for the
/// queue (cancel, shutdown); the executor may clone it for its watchers.
pub(crate) struct Control {
    pub(crate) sender: Sender<Signal>,
    pub(crate) receiver: Receiver<Signal>,
}

impl Control {
    pub(crate) fn new() -> Control {
        let (sender, receiver) = mpsc::channel();
        Control { sender, receiver }
    }
}

impl Default for Control {
    fn default() -> Control {
        Control::new()
    }
}

/// One experiment, or a group of them, as the worker hands it to an executor.
pub(crate) struct Run<'a> {
    /// The experiment's record; for a group, its first member's (the
    /// pipeline, parameters and definition are the same for all).
    pub(crate) record: &'a Record,
    /// The experiment's directory, where it runs and writes; for a group,
    /// the group's directory (see `store::group`).
    pub(crate) dir: &'a Path,
    /// How many experiments the run serves: more than one for a group,
    /// whose command finds its manifest in `SEQSPOOL_GROUP`.
    pub(crate) size: usize,
}

/// The variable that gives a grouped run's command its manifest.
pub(crate) const GROUP_VAR: &str = "SEQSPOOL_GROUP";

impl Run<'_> {
    /// The variables a processing command finds in its environment: the
    /// experiment (or, for a group, the group: its id, directory and
    /// queries, and its manifest in [`GROUP_VAR`]), then the pipeline's.
    pub(crate) fn environment(&self) -> Vec<(String, String)> {
        let record = self.record;
        let mut env = vec![
            ("EXPERIMENT_ID".into(), record.id.to_string()),
            ("EXPERIMENT_DIR".into(), self.dir.display().to_string()),
            (
                "QUERY_FASTA".into(),
                self.dir
                    .join(crate::store::QUERY_FILE)
                    .display()
                    .to_string(),
            ),
        ];
        if self.size > 1 {
            env.push((
                GROUP_VAR.into(),
                self.dir
                    .join(crate::store::MANIFEST_FILE)
                    .display()
                    .to_string(),
            ));
        } else {
            env.push(("QUERY_NAME".into(), record.query_name.clone()));
        }
        env.extend(pipeline::environment(
            &record.pipeline,
            &record.definition(),
            &record.params,
        ));
        env
    }

    /// How long its command may run: the pipeline's timeout (or the
    /// server's, `default`) per experiment it serves.
    pub(crate) fn timeout(&self, default: Option<Duration>) -> Option<Duration> {
        let per = self.record.definition().timeout().or(default)?;
        Some(per.saturating_mul(self.size as u32))
    }
}

/// Called by an executor once its run is identified and before anything of
/// it runs: the worker records RUNNING with the handle. An error means the
/// record could not be written, and the run must not begin. An executor may
/// call it again to record a change of its handle (a batch job that began
/// running); an error then is only logged.
pub(crate) type Started<'a> = dyn FnMut(Option<RunHandle>) -> Result<(), Error> + 'a;

/// How a run ended, before the worker applies it to the record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did what was asked: COMPLETE (with exit code 0, for a command).
    Complete { exit_code: Option<i32> },
    /// The processing failed: EXECUTOR_ERROR, with the exit code or signal when there was one.
    Failed {
        exit_code: Option<i32>,
        signal: Option<i32>,
        error: String,
    },
    /// seqspool could not run it: SYSTEM_ERROR.
    SystemError {
        exit_code: Option<i32>,
        error: String,
    },
    /// A client cancelled it while it ran.
    Canceled,
    /// The server shut down while it ran; it runs again at the next start.
    Interrupted,
    /// The server shut down while it ran, and it runs on without the server
    /// (a batch job): its record stays RUNNING with its handle, and the
    /// next start re-attaches to it.
    Detached,
    /// The workstation, not the query, is at fault (the disk is full, a
    /// program is missing, the process table is full): the experiment goes
    /// back to the head of the queue.
    Retry {
        error: String,
        /// Whether the command ran (its attempt counts).
        ran: bool,
        /// Whether the fault lasts until an operator fixes it (the queue
        /// pauses), or passes by itself (tried again after a moment).
        lasting: bool,
    },
}

/// The command `definition` runs, or the outcome of a run whose pipeline names none.
pub(crate) fn command_of(definition: &Definition) -> Result<&pipeline::Command, Outcome> {
    definition
        .command
        .as_ref()
        .ok_or_else(|| Outcome::SystemError {
            exit_code: None,
            error: "its pipeline names no command to run".into(),
        })
}

/// The outcome of a run whose directory is gone or is no longer a directory;
/// `nothing` says what did not happen ("nothing was run").
pub(crate) fn vanished(nothing: &str) -> Outcome {
    Outcome::SystemError {
        exit_code: None,
        error: format!("its directory is gone or is no longer a directory; {nothing}"),
    }
}

/// The outcome of a run that could not begin, for `error`: the workstation's
/// fault, lasting unless `passing` (out of descriptors or processes for a moment).
pub(crate) fn not_begun(error: String, passing: bool) -> Outcome {
    Outcome::Retry {
        error,
        ran: false,
        lasting: !passing,
    }
}

/// The outcome of a run whose start could not be recorded: the experiment's
/// own trouble when its directory was replaced or removed (a command can do
/// that to its own), the workstation's otherwise.
pub(crate) fn unrecorded(err: &Error) -> Outcome {
    if err.is_experiment_fault() {
        return Outcome::SystemError {
            exit_code: None,
            error: format!("not run: its directory was replaced or removed ({err})"),
        };
    }
    not_begun(
        format!("its start could not be recorded: {err}"),
        err.passes(),
    )
}

/// What becomes of a run that a crash or a kill of the server interrupted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recovered {
    /// Nothing of it is left running: it may run again (or fail, as the operator chose).
    Requeue,
    /// Nothing of it ever ran (a batch job submitted held and never
    /// released): it waits again at the head, this attempt uncounted,
    /// whatever `--on-interrupt` says.
    NeverRan,
    /// It runs on, or has finished, where its executor can still see it: it
    /// stays RUNNING with its handle, and the worker follows it
    /// ([`Executor::follow`]) before it starts anything new. With `pause`,
    /// the executor cannot tell now (the cluster does not answer): the
    /// queue pauses with that reason meanwhile.
    Reattach { pause: Option<String> },
}

/// One way of running experiments.
pub(crate) trait Executor: Send + Sync {
    /// Whether a run can be stopped once it began (a cancel of a running experiment).
    fn stoppable(&self) -> bool;

    /// Runs one experiment to its end. Calls `started` once, before anything
    /// runs; listens on `control` for cancel and shutdown.
    fn run(&self, run: &Run, control: Control, started: &mut Started) -> Outcome;

    /// Settles a run found RUNNING at start (`dir` is its directory):
    /// whatever its handle says is left of it is dealt with before anything
    /// else runs.
    fn recover(&self, record: &Record, dir: &Path) -> Recovered;

    /// Runs `run` to its end: anew ([`Executor::run`]), or, when
    /// `reattached` at start, following what is left of it ([`Executor::follow`]).
    fn drive(
        &self,
        reattached: bool,
        run: &Run,
        control: Control,
        started: &mut Started,
    ) -> Outcome {
        if reattached {
            self.follow(run, control, started)
        } else {
            self.run(run, control, started)
        }
    }

    /// Follows a run that [`Executor::recover`] re-attached to its end, as
    /// [`Executor::run`] would have; `run.record` holds its handle.
    fn follow(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let _ = (control, started);
        Outcome::SystemError {
            exit_code: None,
            error: format!(
                "experiment {}: its executor cannot re-attach to a run",
                run.record.id
            ),
        }
    }
}

/// What the executors take from the configuration (`Config::executors`
/// makes it): the executors never read the configuration itself, which
/// names this room and so sits above it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The experiments directory; warm processors work in its `.warm/`.
    pub experiments: PathBuf,
    /// The binary that runs local commands (`seqspool __runner`).
    pub runner: PathBuf,
    /// How long a command may run, unless its pipeline says otherwise.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when a command is stopped.
    pub shutdown_grace: Duration,
    /// The cap on each of a run's `stdout.txt` and `stderr.txt`.
    pub max_output: u64,
    /// Most warm processors alive at once.
    pub max_warm: usize,
    /// How long a warm processor may stay idle before it is stopped.
    pub warm_idle: Duration,
    /// Between two polls of the Slurm jobs in flight.
    pub slurm_poll: Duration,
}

/// The executors of this server, and which one runs an experiment.
pub(crate) struct Executors {
    builtin: builtin::Builtin,
    local: local::Local,
    slurm: slurm::Slurm,
    warm: warm::Warm,
}

impl Executors {
    /// The executors `config` sets up; they count what they start in `metrics`.
    pub(crate) fn new(config: &Settings, metrics: Arc<Metrics>) -> Executors {
        Executors {
            builtin: builtin::Builtin,
            local: local::Local::new(
                config.runner.clone(),
                config.timeout,
                config.shutdown_grace,
                config.max_output,
            ),
            slurm: slurm::Slurm::new(config.slurm_poll),
            warm: warm::Warm::new(config, metrics),
        }
    }

    /// Starts what the executors keep ready before the first experiment:
    /// the warm processors of the pipelines that preload. Called on the
    /// worker's thread.
    pub(crate) fn prepare(&self, catalog: &Catalog) {
        self.warm.preload(&catalog.pipelines());
    }

    /// The executor that runs experiments of `definition`.
    pub(crate) fn for_definition(&self, definition: &Definition) -> &dyn Executor {
        match definition.executor {
            ExecutorKind::Builtin => &self.builtin,
            ExecutorKind::Local => &self.local,
            ExecutorKind::Slurm => &self.slurm,
            ExecutorKind::Warm => &self.warm,
        }
    }
}

/// How long a pipeline's start-up check may take: it looks, it does not work.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Most bytes of a check's output kept for its result.
const CHECK_OUTPUT: u64 = 4096;

/// Runs a pipeline's start-up check (`/bin/sh -c`, in `dir`, with the
/// pipeline's environment) and says how it went.
pub(crate) fn check(pipeline: &Pipeline, line: &str, dir: &Path) -> Check {
    use std::io::{Read, Seek};
    use std::os::unix::process::CommandExt;
    let at = Timestamp::now();
    let failed = |detail: String| Check {
        passed: false,
        detail,
        at,
    };
    let output = match tempfile::tempfile() {
        Ok(file) => file,
        Err(err) => return failed(format!("could not make room for its output: {err}")),
    };
    let (stdout, stderr) = match (output.try_clone(), output.try_clone()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(err), _) | (_, Err(err)) => return failed(err.to_string()),
    };
    let env = pipeline::environment(&pipeline.name, &pipeline.definition, &Default::default());
    let spawned = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return failed(format!("could not start: {err}")),
    };
    let deadline = std::time::Instant::now() + CHECK_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Ok(None) => {
                if let Some(pgid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ =
                        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                break Err(format!("it took longer than {} s", CHECK_TIMEOUT.as_secs()));
            }
            Err(err) => break Err(err.to_string()),
        }
    };
    let mut said = String::new();
    let mut output = output;
    if let Ok(length) = output.seek(std::io::SeekFrom::End(0)) {
        let from = length.saturating_sub(CHECK_OUTPUT);
        if output.seek(std::io::SeekFrom::Start(from)).is_ok() {
            let _ = output.take(CHECK_OUTPUT).read_to_string(&mut said);
        }
    }
    let said = said.trim();
    match status {
        Ok(status) if status.success() => Check {
            passed: true,
            detail: if said.is_empty() {
                "passed".into()
            } else {
                said.to_owned()
            },
            at,
        },
        Ok(status) => failed(format!(
            "`{line}` {}{}",
            process::describe(status),
            if said.is_empty() {
                String::new()
            } else {
                format!(": {}", said.lines().last().unwrap_or(""))
            }
        )),
        Err(why) => failed(format!("`{line}`: {why}")),
    }
}
