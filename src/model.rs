//! What an experiment is: its id, its state, its record, and the executor's
//! handle on its run.
//!
//! These types are shared by every room: the store writes them, the queue
//! indexes them, the worker and the executors change them, the routes show
//! them. They hold data and the rules of the data (an id is digits, a state is
//! final or not), nothing about where they are kept or how they are served.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pipeline::{Definition, Params, Pipeline};
use crate::query::{Alphabet, Query};
use crate::time::Timestamp;

/// An experiment's id: a number given in acceptance order, written with at least
/// six digits (`000042`). Never taken from user input, never reused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for Id {
    type Err = ();

    /// Only ASCII digits: anything else (`..`, `/`, signs) is not an id.
    fn from_str(text: &str) -> Result<Id, ()> {
        if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        text.parse().map(Id).map_err(|_| ())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse()
            .map_err(|()| serde::de::Error::custom(format!("'{text}' is not an experiment id")))
    }
}

/// Where an experiment stands, with the GA4GH WES/TES names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Queued,
    Running,
    Complete,
    ExecutorError,
    SystemError,
    Canceled,
}

impl State {
    pub(crate) const ALL: [State; 6] = [
        State::Queued,
        State::Running,
        State::Complete,
        State::ExecutorError,
        State::SystemError,
        State::Canceled,
    ];

    pub(crate) fn is_finished(self) -> bool {
        !matches!(self, State::Queued | State::Running)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Queued => "QUEUED",
            State::Running => "RUNNING",
            State::Complete => "COMPLETE",
            State::ExecutorError => "EXECUTOR_ERROR",
            State::SystemError => "SYSTEM_ERROR",
            State::Canceled => "CANCELED",
        }
    }

    /// Position in [`State::ALL`], for per-state counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for State {
    type Err = ();

    fn from_str(text: &str) -> Result<State, ()> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(text))
            .ok_or(())
    }
}

/// The executor's handle on a run: what identifies it across a crash of the
/// server, so the executor can settle it at the next start. Written with the
/// executor's name (`"executor": "local"`), so each executor adds its own kind
/// of handle and old records stay readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "lowercase")]
pub enum RunHandle {
    /// A process group on this machine.
    Local(ProcessIdentity),
    /// A request to a warm processor on this machine.
    Warm(WarmRun),
    /// A batch job on a Slurm cluster (`{"executor": "slurm", "slurm": {"job_id": 42, "state": "PENDING"}}`).
    Slurm { slurm: SlurmJob },
}

impl RunHandle {
    /// The warm processor the run was handed to, if it was.
    pub(crate) fn processor(&self) -> Option<&Processor> {
        match self {
            RunHandle::Warm(run) => Some(&run.processor),
            RunHandle::Local(_) | RunHandle::Slurm { .. } => None,
        }
    }
}

/// What identifies a request to a warm processor across a server crash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmRun {
    /// The processor's runner, which leads the session its tree is in; its
    /// `mark` is the processor's.
    pub runner: ProcessIdentity,
    pub processor: Processor,
}

/// A warm processor, as the record of an experiment it ran names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processor {
    /// The processor's own pid (not its runner's).
    pub pid: i32,
    /// When it was started: with the pid, which instance ran the experiment.
    pub started_at: Timestamp,
}

/// A Slurm batch job, as the record keeps it while the experiment is RUNNING.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmJob {
    /// The job's id, as `sbatch` gave it.
    pub job_id: u64,
    /// Where it stands: `HELD` from its submission until seqspool released
    /// it, then Slurm's state as last polled (`PENDING`, `RUNNING`, ...).
    /// The experiment is running in Slurm's sense only once this says `RUNNING`.
    pub state: String,
    /// Slurm's reason for that state, when it gives one (`Priority`, `Resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When seqspool first saw it RUNNING; its timeout counts from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<Timestamp>,
}

/// What identifies a running command's process group across a server crash:
/// the group id alone could be reused after a reboot or a long time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// The process group id, which is also the group leader's pid.
    pub pgid: i32,
    /// The leader's start time, in clock ticks since boot (`/proc/PID/stat`, field 22).
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` when the command started.
    pub boot_id: String,
    /// The mark every process of the run carries in its environment
    /// (`SEQSPOOL_RUN`), unique to this run of this server on this boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
}

/// Reads a handle as written today, or as records before executors had names
/// wrote it (a bare process identity under `process`).
fn read_handle<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RunHandle>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Named(RunHandle),
        Unnamed(ProcessIdentity),
    }
    Ok(
        Option::<Written>::deserialize(deserializer)?.map(|written| {
            Box::new(match written {
                Written::Named(handle) => handle,
                Written::Unnamed(process) => RunHandle::Local(process),
            })
        }),
    )
}

/// The record of one experiment: `experiment.json`, and the in-memory index entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: Id,
    pub query_name: String,
    /// The rest of the FASTA header after the name, when the query had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub alphabet: Alphabet,
    /// Residues in the query.
    pub length: usize,
    /// What the scientist should know about how the query was read (see
    /// [`Query::notes`]); records written before notes existed have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The id of the first experiment of the batch this one was submitted in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Id>,
    /// The name of the file its query came in (a multipart upload's file
    /// name, or a FASTA body's `?name=`), shared by every record of the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Arc<str>>,
    pub state: State,
    pub submitted_at: Timestamp,
    /// Who submitted it: their user name, or their client address when
    /// access is open to anybody (records from before users have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<Arc<str>>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// The processing command's exit code, when it exited by itself.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The signal that ended the processing command, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Why the experiment did not complete, in words.
    #[serde(default)]
    pub error: Option<String>,
    /// How many times the processor was started on it (more than one after an interruption).
    #[serde(default)]
    pub attempts: u32,
    /// The pipeline it runs in.
    #[serde(default)]
    pub pipeline: Arc<str>,
    /// Its parameters, as checked against its pipeline at acceptance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: Params,
    /// The processing command it ran, or will run, in one line.
    pub command: Arc<str>,
    /// What it runs, as its pipeline was when it was accepted: a later change
    /// of the configuration never changes it. (Records from before pipelines
    /// have none; [`Record::upgrade`] makes it from their command.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Arc<Definition>>,
    /// The experiment this one runs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Id>,
    /// The experiment that runs this one again, the latest if several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_as: Option<Id>,
    /// Where the submission asked its end to be posted (see `notify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<Arc<str>>,
    /// Whether the lab-wide notifications (`[notify]` in the configuration)
    /// were on when it was accepted, and so are told of its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify_lab: bool,
    /// When and by whom it was moved to the front of the queue, if it was:
    /// an exception to first in, first out, kept with the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to_front: Option<Moved>,
    /// The executor's handle on the run, recorded while RUNNING. Boxed: only
    /// the few running experiments have one, and every record in the index
    /// would otherwise carry its 80 bytes.
    #[serde(
        default,
        alias = "process",
        deserialize_with = "read_handle",
        skip_serializing_if = "Option::is_none"
    )]
    pub handle: Option<Box<RunHandle>>,
    /// The warm processor that ran it (in its last attempt), for a warm
    /// pipeline. Boxed, as the handle: few records have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<Box<Processor>>,
    /// The grouped run that serves (or served) it with others next in line,
    /// from its start; none for a run of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Why it runs alone, never grouped again: the group it was in failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solo: Option<Box<str>>,
}

/// A grouped run, as each member's record names it: one run of the
/// pipeline's command served `size` experiments, the first of them `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's id: its first member's.
    pub id: Id,
    /// How many experiments the run served (more than one).
    pub size: u32,
}

/// The pipeline a query was submitted to and what it runs there.
#[derive(Clone, Debug)]
pub struct Choice {
    pub(crate) pipeline: Arc<str>,
    pub(crate) params: Params,
    pub(crate) definition: Arc<Definition>,
    /// The definition's command in one line.
    pub(crate) command: Arc<str>,
    /// The experiment these run again, for a retry.
    pub(crate) retry_of: Option<Id>,
    /// The name of the file the queries came in, if they came in one.
    pub(crate) upload: Option<Arc<str>>,
    /// Who submits them (see [`Record::submitted_by`]).
    pub(crate) submitted_by: Option<Arc<str>>,
    /// Where their ends are posted, as the submission asked.
    pub(crate) notify_url: Option<Arc<str>>,
    /// Whether the lab-wide notifications are told of their ends.
    pub(crate) notify_lab: bool,
}

impl Choice {
    pub(crate) fn new(pipeline: &Pipeline, params: Params) -> Choice {
        Choice {
            pipeline: pipeline.name.as_str().into(),
            params,
            command: pipeline.definition.label().into(),
            definition: pipeline.definition.clone(),
            retry_of: None,
            upload: None,
            submitted_by: None,
            notify_url: None,
            notify_lab: false,
        }
    }
}

impl Record {
    /// The record of a newly accepted query.
    pub(crate) fn new(
        id: Id,
        query: &Query,
        batch: Option<Id>,
        choice: &Choice,
        now: Timestamp,
    ) -> Record {
        Record {
            id,
            query_name: query.name().to_owned(),
            description: query.description().map(str::to_owned),
            alphabet: query.alphabet(),
            length: query.sequence().len(),
            notes: query.notes().to_vec(),
            batch,
            upload: choice.upload.clone(),
            state: State::Queued,
            submitted_at: now,
            submitted_by: choice.submitted_by.clone(),
            started_at: None,
            finished_at: None,
            exit_code: None,
            signal: None,
            error: None,
            attempts: 0,
            pipeline: choice.pipeline.clone(),
            params: choice.params.clone(),
            command: choice.command.clone(),
            definition: Some(choice.definition.clone()),
            retry_of: choice.retry_of,
            retried_as: None,
            notify_url: choice.notify_url.clone(),
            notify_lab: choice.notify_lab,
            moved_to_front: None,
            handle: None,
            processor: None,
            group: None,
            solo: None,
        }
    }

    /// What it runs.
    pub fn definition(&self) -> Arc<Definition> {
        self.definition
            .clone()
            .unwrap_or_else(|| Arc::new(Definition::legacy(&self.command)))
    }

    /// Fills in what a record written before pipelines lacks: its pipeline
    /// (`analysis` for the built-in analysis, `default` for a command) and
    /// the definition its command makes.
    pub(crate) fn upgrade(&mut self) {
        if self.definition.is_none() {
            self.definition = Some(Arc::new(Definition::legacy(&self.command)));
        }
        if self.pipeline.is_empty() {
            self.pipeline = if &*self.command == crate::pipeline::BUILTIN_LABEL {
                crate::pipeline::ANALYSIS.into()
            } else {
                crate::pipeline::DEFAULT.into()
            };
        }
    }
}

/// One copy of what many records hold alike: their pipeline, command and
/// definition, who submitted them, the file they came in and where their
/// ends are posted. Records read from disk each read their own copy; passed
/// through [`Sharing::share`] they hold one between them, as newly accepted
/// ones do. The copy a record gave up is freed at once, so the next record
/// read on the same thread takes its place instead of leaving a hole in the
/// heap between the records kept.
#[derive(Default)]
pub(crate) struct Sharing {
    names: HashSet<Arc<str>>,
    definitions: HashSet<Arc<Definition>>,
}

impl Sharing {
    /// Makes `record` hold the copies already seen, or keeps its own as the one for the next.
    pub(crate) fn share(&mut self, record: &mut Record) {
        fn one<T: ?Sized + Eq + std::hash::Hash>(seen: &mut HashSet<Arc<T>>, value: &mut Arc<T>) {
            match seen.get(&**value) {
                Some(shared) => *value = shared.clone(),
                None => {
                    seen.insert(value.clone());
                }
            }
        }
        one(&mut self.names, &mut record.pipeline);
        one(&mut self.names, &mut record.command);
        for name in [
            &mut record.submitted_by,
            &mut record.upload,
            &mut record.notify_url,
        ]
        .into_iter()
        .flatten()
        {
            one(&mut self.names, name);
        }
        if let Some(definition) = &mut record.definition {
            one(&mut self.definitions, definition);
        }
    }
}

#[cfg(test)]
impl Record {
    /// A record for unit tests: four residues of DNA named `q{id}`, never started.
    pub(crate) fn for_test(id: u64, state: State) -> Record {
        Record {
            id: Id(id),
            query_name: format!("q{id}"),
            description: None,
            alphabet: Alphabet::Dna,
            length: 4,
            notes: Vec::new(),
            batch: None,
            upload: None,
            state,
            submitted_at: Timestamp::now(),
            submitted_by: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            signal: None,
            error: None,
            attempts: 0,
            pipeline: "default".into(),
            params: Params::new(),
            command: "true".into(),
            definition: Some(Arc::new(Definition::legacy("true"))),
            retry_of: None,
            retried_as: None,
            notify_url: None,
            notify_lab: false,
            moved_to_front: None,
            handle: None,
            processor: None,
            group: None,
            solo: None,
        }
    }
}

/// Why the queue holds: nothing new starts until it is resumed; submissions
/// are still accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// In words, for the log, the pages and the API.
    pub(crate) reason: String,
    pub(crate) since: Timestamp,
    pub(crate) by: PausedBy,
    /// Who paused it, for an operator's pause: their user name, or their
    /// address when access is open, as drains and moves say it. None for
    /// the workstation's, and for a pause recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operator: Option<String>,
}

/// Who paused the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PausedBy {
    /// seqspool, because the workstation is at fault (the disk is full, a
    /// program is missing): lifted by an operator, or by a restart whose
    /// start-up checks pass.
    Workstation,
    /// An operator: lifted only by an operator.
    Operator,
}

/// An experiment moved to the front of the queue: it runs before everything
/// else waiting (the most recently moved first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// When; also its place among the moved ones, latest first (the queue
    /// keeps these instants distinct, so a restart rebuilds the same order).
    pub(crate) at: Timestamp,
    /// Who moved it: the client's identity as the routes know it.
    pub(crate) by: String,
}

/// Why the server takes no new submissions: it is draining, so that what is
/// queued finishes and nothing new comes (before a move, an upgrade, a
/// maintenance). Lifted only by an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drain {
    /// In words, for the refused clients, the pages and the log.
    pub(crate) reason: String,
    pub(crate) since: Timestamp,
    /// Who asked for it: the client's identity as the routes know it.
    pub(crate) by: String,
}

/// A file of an experiment directory, as listed to clients.
#[derive(Clone, Debug, Serialize)]
pub struct FileInfo {
    pub(crate) name: String,
    pub(crate) size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_in_the_index_is_small_and_shares_what_records_hold_alike() {
        // Every experiment's record lives in the index: its inline size is
        // most of what a queued experiment costs (bench B4, under 512 bytes).
        // (400 before a grouped run's `group` and `solo`, issue 21.)
        assert!(
            std::mem::size_of::<Record>() <= 424,
            "{} bytes",
            std::mem::size_of::<Record>()
        );
        // As records read from disk come: each with its own copies.
        let read = |id| -> Record {
            let mut record = Record::for_test(id, State::Queued);
            record.submitted_by = Some("anna".into());
            // One instant for every read, so two reads of one id are equal.
            record.submitted_at = Timestamp::parse("2026-12-07T10:00:00Z").unwrap();
            serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap()
        };
        let (mut first, mut second) = (read(1), read(2));
        assert!(!Arc::ptr_eq(
            first.definition.as_ref().unwrap(),
            second.definition.as_ref().unwrap()
        ));
        let mut sharing = Sharing::default();
        sharing.share(&mut first);
        sharing.share(&mut second);
        assert!(Arc::ptr_eq(
            first.definition.as_ref().unwrap(),
            second.definition.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(&first.pipeline, &second.pipeline));
        assert!(Arc::ptr_eq(&first.command, &second.command));
        assert!(Arc::ptr_eq(
            first.submitted_by.as_ref().unwrap(),
            second.submitted_by.as_ref().unwrap()
        ));
        assert_eq!(second, read(2), "shared, not changed");
    }

    #[test]
    fn ids_are_digits_only() {
        assert_eq!("000042".parse(), Ok(Id(42)));
        assert_eq!(Id(42).to_string(), "000042");
        assert_eq!(Id(1_234_567).to_string(), "1234567");
        for bad in [
            "",
            "..",
            "-1",
            "+1",
            "4 2",
            "00004a",
            "99999999999999999999",
        ] {
            assert_eq!(bad.parse::<Id>(), Err(()), "{bad}");
        }
    }

    #[test]
    fn a_handle_is_written_with_its_executor_and_old_records_still_read() {
        let process = ProcessIdentity {
            pgid: 42,
            start_ticks: 7,
            boot_id: "b".into(),
            mark: None,
        };
        let record = Record {
            handle: Some(Box::new(RunHandle::Local(process.clone()))),
            ..Record::for_test(1, State::Running)
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["handle"]["executor"], "local");
        assert_eq!(json["handle"]["pgid"], 42);
        let back: Record = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);

        // A record written before executors had names.
        let mut old = serde_json::to_value(Record::for_test(1, State::Running)).unwrap();
        old["process"] = serde_json::json!({"pgid": 42, "start_ticks": 7, "boot_id": "b"});
        let read: Record = serde_json::from_value(old).unwrap();
        assert_eq!(read.handle.as_deref(), Some(&RunHandle::Local(process)));
    }

    #[test]
    fn a_warm_run_names_its_processor_and_reads_back() {
        let processor = Processor {
            pid: 4242,
            started_at: Timestamp::parse("2026-11-29T10:00:00.000Z").unwrap(),
        };
        let handle = RunHandle::Warm(WarmRun {
            runner: ProcessIdentity {
                pgid: 41,
                start_ticks: 7,
                boot_id: "b".into(),
                mark: Some("1.2/warm/kmer/1".into()),
            },
            processor: processor.clone(),
        });
        assert_eq!(handle.processor(), Some(&processor));
        let record = Record {
            handle: Some(Box::new(handle)),
            processor: Some(Box::new(processor)),
            ..Record::for_test(1, State::Running)
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["handle"]["executor"], "warm");
        assert_eq!(json["handle"]["runner"]["pgid"], 41);
        assert_eq!(json["processor"]["pid"], 4242);
        assert_eq!(json["processor"]["started_at"], "2026-11-29T10:00:00.000Z");
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
    }

    #[test]
    fn a_slurm_job_is_written_under_its_executors_name() {
        let record = Record {
            handle: Some(Box::new(RunHandle::Slurm {
                slurm: SlurmJob {
                    job_id: 42,
                    state: "PENDING".into(),
                    reason: Some("Priority".into()),
                    running_since: None,
                },
            })),
            ..Record::for_test(1, State::Running)
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json["handle"],
            serde_json::json!({"executor": "slurm", "slurm": {"job_id": 42, "state": "PENDING", "reason": "Priority"}})
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
    }

    #[test]
    fn notes_are_written_when_there_are_some_and_old_records_have_none() {
        let quiet = serde_json::to_value(Record::for_test(1, State::Queued)).unwrap();
        assert!(quiet.get("notes").is_none(), "{quiet}");
        let read: Record = serde_json::from_value(quiet).unwrap();
        assert!(read.notes.is_empty());

        let noted = Record {
            notes: vec!["read as protein because of 'E' at position 17".into()],
            ..Record::for_test(2, State::Queued)
        };
        let json = serde_json::to_value(&noted).unwrap();
        assert_eq!(json["notes"][0], noted.notes[0].as_str());
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), noted);
    }
}
