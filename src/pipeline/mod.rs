//! Pipelines: the lab's tools, as its configuration file declares them.
//!
//! A pipeline has a name, words for the page, what it runs (the built-in
//! analysis, a program with its arguments, or a shell line), the alphabets it
//! takes, typed parameters, an optional timeout, a start-up check, and the
//! result files it writes. A submission names its pipeline and parameters;
//! they are checked here before anything is written, and the experiment's
//! record keeps a [`Definition`]: a snapshot of what it runs, so a restart
//! with a changed configuration never changes what was accepted. Parameters
//! reach a command only as environment variables (`PARAM_EVALUE=1e-5`).
//!
//! Here: what a pipeline is and the catalog a server offers; `param` holds
//! the parameters and their checks, `file` the configuration file's tables,
//! `slurm` what a Slurm pipeline asks of the cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::query::Alphabet;
use crate::time::Timestamp;

mod file;
mod param;
mod slurm;

pub(crate) use file::{PipelineTable, MAX_GROUP};
pub use param::{Param, Params};
pub(crate) use param::{ParamKind, RawParams, Size};
pub use slurm::SlurmOptions;

/// The name of the pipeline a server without a configuration file runs: the
/// built-in analysis.
pub(crate) const ANALYSIS: &str = "analysis";
/// The name of the pipeline `--command` makes.
pub(crate) const DEFAULT: &str = "default";
/// How the built-in analysis is named where a command would be.
pub(crate) const BUILTIN_LABEL: &str = "builtin:analysis";

/// What a pipeline runs, and how: the part of it a record keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Definition {
    pub executor: ExecutorKind,
    /// What the command is (none for the built-in analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) command: Option<Command>,
    /// Milliseconds the command may run before it is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    /// Milliseconds a warm processor may take to say it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout_ms: Option<u64>,
    /// Variables the lab gives every run of the pipeline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The files that are its results, and how to show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) results: Vec<ResultFile>,
    /// What a Slurm pipeline's jobs ask of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmOptions>,
    /// Most experiments one run serves (`group = N`): 1, never grouped,
    /// unless the pipeline says so (see `group`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub group: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Definition {
    /// The definition of the built-in analysis.
    pub(crate) fn builtin() -> Definition {
        Definition {
            executor: ExecutorKind::Builtin,
            command: None,
            timeout_ms: None,
            start_timeout_ms: None,
            env: BTreeMap::new(),
            results: vec![ResultFile {
                file: "analysis.json".into(),
                view: View::Analysis,
                title: Some("Analysis".into()),
            }],
            slurm: None,
            group: 1,
        }
    }

    /// The definition of a record written before pipelines, which kept only
    /// the command it ran (`builtin:analysis` for the analysis).
    pub fn legacy(command: &str) -> Definition {
        if command == BUILTIN_LABEL {
            return Definition::builtin();
        }
        Definition {
            executor: ExecutorKind::Local,
            command: Some(Command::Shell(command.to_owned())),
            timeout_ms: None,
            start_timeout_ms: None,
            env: BTreeMap::new(),
            results: Vec::new(),
            slurm: None,
            group: 1,
        }
    }

    /// The command in one line, for the record, the pages and the log.
    pub(crate) fn label(&self) -> String {
        match &self.command {
            None => BUILTIN_LABEL.to_owned(),
            Some(command) => command.to_string(),
        }
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// How long a warm processor may take to say it is ready, if its pipeline says.
    pub(crate) fn start_timeout(&self) -> Option<Duration> {
        self.start_timeout_ms.map(Duration::from_millis)
    }

    /// Most experiments one run of it serves: 1 unless its pipeline groups them.
    pub(crate) fn group_size(&self) -> usize {
        self.group.max(1)
    }

    /// Most runs of it in flight at once: one, unless a Slurm pipeline allows more.
    pub(crate) fn max_running(&self) -> usize {
        match (&self.executor, &self.slurm) {
            (ExecutorKind::Slurm, Some(slurm)) => slurm.max_running.max(1),
            _ => 1,
        }
    }
}

/// Which executor runs a pipeline's experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// In process: the built-in analysis.
    Builtin,
    /// A process tree on this machine.
    Local,
    /// One batch job on a Slurm cluster.
    Slurm,
    /// A processor on this machine, started once and fed experiments one at a time.
    Warm,
}

/// A pipeline's command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Command {
    /// A program and its arguments, run as they are (no shell).
    Program(Vec<String>),
    /// A line run with `/bin/sh -c`.
    Shell(String),
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell(line) => f.write_str(line),
            Command::Program(words) => {
                for (n, word) in words.iter().enumerate() {
                    if n > 0 {
                        f.write_str(" ")?;
                    }
                    if word
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c))
                        && !word.is_empty()
                    {
                        f.write_str(word)?;
                    } else {
                        write!(f, "'{}'", word.replace('\'', r"'\''"))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A file a pipeline writes that is one of its results.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultFile {
    /// Its name in the experiment's directory.
    pub(crate) file: String,
    /// How the page shows it.
    #[serde(default)]
    pub(crate) view: View,
    /// A heading for it on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<String>,
}

/// How a result file is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum View {
    /// A TSV or CSV file as a table.
    Table,
    /// A BLAST search's archive (`-outfmt 11`): hits, alignments, an overview.
    Blast,
    /// The built-in analysis.
    Analysis,
    /// The first lines of a text file.
    Text,
    /// A picture.
    Image,
    /// A link to download it.
    #[default]
    File,
}

/// A pipeline, as the configuration declares it and the server offers it.
#[derive(Clone, Debug, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub title: String,
    pub description: String,
    /// The alphabets it takes.
    pub alphabets: Vec<Alphabet>,
    pub params: Vec<Param>,
    /// Run at start; a failure pauses the queue (a shell line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// A warm pipeline whose processor starts with the server, not at its first experiment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preload: bool,
    #[serde(flatten)]
    pub definition: Arc<Definition>,
}

impl Pipeline {
    /// The built-in analysis, as the one pipeline of a server that declares none.
    pub(crate) fn analysis() -> Pipeline {
        Pipeline {
            name: ANALYSIS.into(),
            title: "Built-in analysis".into(),
            description: "Composition, GC content, molecular weight, the reverse complement and \
                          the longest open reading frame of each sequence."
                .into(),
            alphabets: vec![Alphabet::Dna, Alphabet::Rna, Alphabet::Protein],
            params: Vec::new(),
            check: None,
            preload: false,
            definition: Arc::new(Definition::builtin()),
        }
    }

    /// The one pipeline `--command CMD` makes: `CMD` with `/bin/sh -c`.
    pub(crate) fn default_command(command: &str, timeout: Option<Duration>) -> Pipeline {
        Pipeline {
            name: DEFAULT.into(),
            title: "Processing command".into(),
            description: "The command this server runs for every experiment.".into(),
            alphabets: vec![Alphabet::Dna, Alphabet::Rna, Alphabet::Protein],
            params: Vec::new(),
            check: None,
            preload: false,
            definition: Arc::new(Definition {
                executor: ExecutorKind::Local,
                command: Some(Command::Shell(command.to_owned())),
                timeout_ms: timeout.map(|t| t.as_millis() as u64),
                start_timeout_ms: None,
                env: BTreeMap::new(),
                results: Vec::new(),
                slurm: None,
                group: 1,
            }),
        }
    }

    /// Whether it takes a sequence read as `alphabet`; the error says what it takes.
    pub(crate) fn takes(&self, alphabet: Alphabet) -> Result<(), String> {
        if self.alphabets.contains(&alphabet) {
            return Ok(());
        }
        let takes: Vec<&str> = self.alphabets.iter().map(|a| a.word()).collect();
        Err(format!(
            "{} takes {}; this sequence reads as {}",
            self.name,
            takes.join(" or "),
            alphabet.word()
        ))
    }

    /// Checks a submission's parameters: every one must be declared and valid;
    /// those not given take their defaults. Each error names its field
    /// (`param.NAME`).
    pub(crate) fn check_params(&self, raw: &RawParams) -> Result<Params, Error> {
        for name in raw.keys() {
            if !self.params.iter().any(|param| &param.name == name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Invalid {
                    field: format!("param.{name}").into(),
                    msg: if known.is_empty() {
                        format!("{} takes no parameters", self.name)
                    } else {
                        format!(
                            "{} has no parameter '{name}'; it takes {}",
                            self.name,
                            known.join(", ")
                        )
                    },
                });
            }
        }
        let mut params = Params::new();
        for param in &self.params {
            // An empty value is a field left blank, so the default; but a
            // choice of several sent empty is every box unticked: refused.
            let value = match raw.get(&param.name).map(|v| v.trim()) {
                Some(value) if !value.is_empty() || param.takes_several() => {
                    param.check(value).map_err(|msg| Error::Invalid {
                        field: format!("param.{}", param.name).into(),
                        msg,
                    })?
                }
                _ => match &param.default {
                    Some(default) => default.clone(),
                    None => continue,
                },
            };
            params.insert(param.name.clone(), value);
        }
        Ok(params)
    }
}

/// The pipelines a server offers, the first the default, and how their
/// start-up checks went. The list may change while the server runs (a
/// BLAST database added, `blast::shelf`): a reader takes it whole, once.
#[derive(Debug)]
pub struct Catalog {
    pipelines: RwLock<Arc<[Arc<Pipeline>]>>,
    checks: Mutex<BTreeMap<String, Check>>,
    /// Set when the checks should run before anything more starts: at
    /// start, and when an operator resumes the queue (something was fixed).
    checks_due: AtomicBool,
}

/// How a pipeline's check went, the last time it ran.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Check {
    pub(crate) passed: bool,
    /// What it said, or why it failed, in words.
    pub(crate) detail: String,
    pub(crate) at: Timestamp,
}

impl Catalog {
    pub(crate) fn new(pipelines: Vec<Arc<Pipeline>>) -> Catalog {
        Catalog {
            pipelines: RwLock::new(pipelines.into()),
            checks: Mutex::new(BTreeMap::new()),
            checks_due: AtomicBool::new(true),
        }
    }

    /// The pipelines offered now, the first the default.
    pub(crate) fn pipelines(&self) -> Arc<[Arc<Pipeline>]> {
        self.pipelines
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Offers `pipelines` from now on, their checks run again before
    /// anything more starts (a program may be new).
    pub(crate) fn replace(&self, pipelines: Vec<Arc<Pipeline>>) {
        *self.pipelines.write().unwrap_or_else(|p| p.into_inner()) = pipelines.into();
        self.check_again();
    }

    /// How the pipeline's check went last, if it has one and it ran.
    pub(crate) fn checked(&self, name: &str) -> Option<Check> {
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Notes how a pipeline's check went.
    pub(crate) fn record_check(&self, name: &str, check: Check) {
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), check);
    }

    /// Asks for the checks to run again before anything more starts.
    pub(crate) fn check_again(&self) {
        self.checks_due.store(true, Ordering::SeqCst);
    }

    /// Whether the checks are due, clearing it.
    pub(crate) fn take_checks_due(&self) -> bool {
        self.checks_due.swap(false, Ordering::SeqCst)
    }

    /// The pipeline named `name`, or the first when none is named; an unknown
    /// name is refused naming those there are.
    pub(crate) fn choose(&self, name: Option<&str>) -> Result<Arc<Pipeline>, Error> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        let pipelines = self.pipelines();
        let found = match name {
            None => pipelines.first(),
            Some(name) => pipelines.iter().find(|p| p.name == name),
        };
        found.cloned().ok_or_else(|| {
            let names: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
            Error::Invalid {
                field: "pipeline".into(),
                msg: format!(
                    "no pipeline '{}' here; this server offers {}",
                    name.unwrap_or(""),
                    names.join(", ")
                ),
            }
        })
    }

    /// The pipeline named `name`, if this server offers it.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Pipeline>> {
        self.pipelines().iter().find(|p| p.name == name).cloned()
    }
}

/// The variables a run of `pipeline` with `params` adds to a command's
/// environment: the pipeline's own, `PIPELINE`, and `PARAM_<NAME>` each.
pub(crate) fn environment(
    pipeline: &str,
    definition: &Definition,
    params: &Params,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = definition
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("PIPELINE".into(), pipeline.to_owned()));
    for (name, value) in params {
        env.push((
            format!("PARAM_{}", name.to_ascii_uppercase()),
            value.clone(),
        ));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_shown_as_a_shell_would_read_it() {
        let command = Command::Program(vec!["/opt/x".into(), "a b".into(), "it's".into()]);
        assert_eq!(command.to_string(), r"/opt/x 'a b' 'it'\''s'");
    }
}
