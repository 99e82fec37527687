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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::query::{Alphabet, AlphabetPolicy};
use crate::time::Timestamp;
use slurm::SlurmTable;

mod slurm;

pub use slurm::SlurmOptions;

/// The name of the pipeline a server without a configuration file runs: the
/// built-in analysis.
pub const ANALYSIS: &str = "analysis";
/// The name of the pipeline `--command` makes.
pub const DEFAULT: &str = "default";
/// How the built-in analysis is named where a command would be.
pub const BUILTIN_LABEL: &str = "builtin:analysis";

/// Longest pipeline name: it goes into URLs, forms and log lines.
const MAX_NAME: usize = 40;
/// Longest parameter name: it becomes `PARAM_<NAME>` in the environment.
const MAX_PARAM_NAME: usize = 32;
/// Default longest text a free-text parameter takes: a label, a short list,
/// not a document.
const DEFAULT_MAX_TEXT: usize = 200;

/// What a pipeline runs, and how: the part of it a record keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Definition {
    pub executor: ExecutorKind,
    /// What the command is (none for the built-in analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Milliseconds the command may run before it is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Milliseconds a warm processor may take to say it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout_ms: Option<u64>,
    /// Variables the lab gives every run of the pipeline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The files that are its results, and how to show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultFile>,
    /// What a Slurm pipeline's jobs ask of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmOptions>,
}

impl Definition {
    /// The definition of the built-in analysis.
    pub fn builtin() -> Definition {
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
        }
    }

    /// The command in one line, for the record, the pages and the log.
    pub fn label(&self) -> String {
        match &self.command {
            None => BUILTIN_LABEL.to_owned(),
            Some(command) => command.to_string(),
        }
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// How long a warm processor may take to say it is ready, if its pipeline says.
    pub fn start_timeout(&self) -> Option<Duration> {
        self.start_timeout_ms.map(Duration::from_millis)
    }

    /// Most runs of it in flight at once: one, unless a Slurm pipeline allows more.
    pub fn max_running(&self) -> usize {
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
pub enum Command {
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
pub struct ResultFile {
    /// Its name in the experiment's directory.
    pub file: String,
    /// How the page shows it.
    #[serde(default)]
    pub view: View,
    /// A heading for it on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// How a result file is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
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

/// A parameter a submission may set.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub name: String,
    pub label: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub help: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    /// The value when a submission gives none; none means the parameter is
    /// left out of the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A parameter's type, and what values it takes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ParamKind {
    Choice {
        options: Vec<String>,
    },
    Integer {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    Number {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// An exclusive lower bound: values must be greater (an E-value above 0).
        #[serde(skip_serializing_if = "Option::is_none")]
        above: Option<f64>,
        /// An exclusive upper bound: values must be smaller.
        #[serde(skip_serializing_if = "Option::is_none")]
        below: Option<f64>,
    },
    Boolean,
    Text {
        /// Values must match it whole.
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        max_length: usize,
        #[serde(skip)]
        regex: Option<regex::Regex>,
    },
}

impl ParamKind {
    /// What [`Param::check`] would refuse whatever a submission gave, if
    /// anything: every value (bounds the wrong way round, no room for a
    /// character), or an option no value can name (a value is trimmed, an
    /// empty one is no value, and none holds a control character).
    fn refuses_for_ever(&self) -> Option<String> {
        let nothing = |why: String| Some(format!("{why}: no value could ever be given"));
        if let ParamKind::Number { min, max, .. } = self {
            // NaN bounds nothing, and infinity bounds everything or nothing.
            for (name, bound) in [("min", min), ("max", max)] {
                if let Some(bound) = bound.filter(|bound| !bound.is_finite()) {
                    return Some(format!("{name} = {bound} is not a finite number"));
                }
            }
        }
        match self {
            ParamKind::Integer {
                min: Some(min),
                max: Some(max),
                ..
            } if min > max => nothing(format!("min = {min} is above max = {max}")),
            ParamKind::Number {
                min: Some(min),
                max: Some(max),
                ..
            } if min > max => nothing(format!("min = {min} is above max = {max}")),
            ParamKind::Text { max_length: 0, .. } => nothing("max_length = 0".into()),
            ParamKind::Choice { options } => options
                .iter()
                .find(|option| {
                    option.is_empty()
                        || option.trim() != option.as_str()
                        || option.chars().any(char::is_control)
                })
                .map(|option| {
                    format!(
                        "the option {option:?} could never be chosen: a value is trimmed, \
                         and holds no control character"
                    )
                }),
            _ => None,
        }
    }
}

/// Parameters as a submission gave them, by name: not yet checked.
pub type RawParams = BTreeMap<String, String>;

/// Parameters checked against a pipeline, with its defaults filled in.
pub type Params = BTreeMap<String, String>;

impl Pipeline {
    /// The built-in analysis, as the one pipeline of a server that declares none.
    pub fn analysis() -> Pipeline {
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
    pub fn default_command(command: &str, timeout: Option<Duration>) -> Pipeline {
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
            }),
        }
    }

    /// How a submission to this pipeline reads its sequences: as the server
    /// says, narrowed to what the pipeline takes.
    pub fn alphabet_policy(&self, server: AlphabetPolicy) -> AlphabetPolicy {
        let nucleotide = self.alphabets.iter().any(|a| a.is_nucleotide());
        let protein = self.alphabets.contains(&Alphabet::Protein);
        match (server, nucleotide, protein) {
            (AlphabetPolicy::Auto, true, false) => AlphabetPolicy::Nucleotide,
            (AlphabetPolicy::Auto, false, true) => AlphabetPolicy::Protein,
            (policy, _, _) => policy,
        }
    }

    /// Whether it takes a sequence read as `alphabet`; the error says what it takes.
    pub fn takes(&self, alphabet: Alphabet) -> Result<(), String> {
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
    pub fn check_params(&self, raw: &RawParams) -> Result<Params, Error> {
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
            let value = match raw.get(&param.name).map(|v| v.trim()) {
                Some(value) if !value.is_empty() => {
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

impl Param {
    /// Checks one value, and gives it as the command will see it.
    fn check(&self, value: &str) -> Result<String, String> {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(format!(
                "holds the control character U+{:04X}; use printable characters",
                u32::from(c)
            ));
        }
        match &self.kind {
            ParamKind::Choice { options } => {
                if options.iter().any(|option| option == value) {
                    Ok(value.to_owned())
                } else {
                    Err(format!("'{value}' is not one of {}", options.join(", ")))
                }
            }
            ParamKind::Integer { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("'{value}' is not a whole number"))?;
                in_bounds(n, *min, *max)?;
                Ok(n.to_string())
            }
            ParamKind::Number {
                min,
                max,
                above,
                below,
            } => {
                let n: f64 = value
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| format!("'{value}' is not a number"))?;
                in_bounds(n, *min, *max)?;
                match (above, below) {
                    (Some(above), _) if n <= *above => {
                        return Err(format!("{n} is too small: it must be above {above}"))
                    }
                    (_, Some(below)) if n >= *below => {
                        return Err(format!("{n} is too large: it must be below {below}"))
                    }
                    _ => {}
                }
                // As given (`1e-5` stays `1e-5`): it parsed, so it is a number and nothing else.
                Ok(value.to_owned())
            }
            ParamKind::Boolean => match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok("true".into()),
                "false" | "no" | "off" | "0" => Ok("false".into()),
                _ => Err(format!("'{value}' is not true or false")),
            },
            ParamKind::Text {
                max_length, regex, ..
            } => {
                let chars = value.chars().count();
                if chars > *max_length {
                    return Err(format!(
                        "is {chars} characters long; at most {max_length} are allowed"
                    ));
                }
                match regex {
                    Some(regex) if !regex.is_match(value) => Err(format!(
                        "'{value}' does not match the pattern {}",
                        regex.as_str()
                    )),
                    _ => Ok(value.to_owned()),
                }
            }
        }
    }
}

fn in_bounds<T: PartialOrd + fmt::Display>(
    n: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), String> {
    match (min, max) {
        (Some(min), _) if n < min => Err(format!("{n} is below the least allowed, {min}")),
        (_, Some(max)) if n > max => Err(format!("{n} is above the most allowed, {max}")),
        _ => Ok(()),
    }
}

/// Refuses a number's exclusive bounds that cannot stand: one given with
/// the inclusive bound of the same end, one not finite, or a range they
/// leave empty.
fn check_exclusive(
    min: Option<f64>,
    max: Option<f64>,
    above: Option<f64>,
    below: Option<f64>,
) -> Result<(), String> {
    for (exclusive, inclusive, name, other) in
        [(above, min, "above", "min"), (below, max, "below", "max")]
    {
        match (exclusive, inclusive) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "give `{other}` or `{name}`, not both: one bound for each end"
                ))
            }
            (Some(bound), None) if !bound.is_finite() => {
                return Err(format!("{name} = {bound} is not a finite number"))
            }
            _ => {}
        }
    }
    let low = above
        .map(|a| (a, format!("above = {a}")))
        .or(min.map(|m| (m, format!("min = {m}"))));
    let high = below
        .map(|b| (b, format!("below = {b}")))
        .or(max.map(|m| (m, format!("max = {m}"))));
    match (low, high) {
        (Some((low, said_low)), Some((high, said_high)))
            if (above.is_some() || below.is_some()) && low >= high =>
        {
            Err(format!(
                "{said_low} and {said_high} leave no number to choose"
            ))
        }
        _ => Ok(()),
    }
}

/// The pipelines a server offers, the first the default, and how their
/// start-up checks went.
#[derive(Debug)]
pub struct Catalog {
    pub pipelines: Vec<Arc<Pipeline>>,
    checks: Mutex<BTreeMap<String, Check>>,
    /// Set when the checks should run before anything more starts: at
    /// start, and when an operator resumes the queue (something was fixed).
    checks_due: AtomicBool,
}

/// How a pipeline's check went, the last time it ran.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub passed: bool,
    /// What it said, or why it failed, in words.
    pub detail: String,
    pub at: Timestamp,
}

impl Catalog {
    pub fn new(pipelines: Vec<Arc<Pipeline>>) -> Catalog {
        Catalog {
            pipelines,
            checks: Mutex::new(BTreeMap::new()),
            checks_due: AtomicBool::new(true),
        }
    }

    /// How the pipeline's check went last, if it has one and it ran.
    pub fn checked(&self, name: &str) -> Option<Check> {
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Notes how a pipeline's check went.
    pub fn record_check(&self, name: &str, check: Check) {
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), check);
    }

    /// Asks for the checks to run again before anything more starts.
    pub fn check_again(&self) {
        self.checks_due.store(true, Ordering::SeqCst);
    }

    /// Whether the checks are due, clearing it.
    pub fn take_checks_due(&self) -> bool {
        self.checks_due.swap(false, Ordering::SeqCst)
    }

    /// The pipeline named `name`, or the first when none is named; an unknown
    /// name is refused naming those there are.
    pub fn choose(&self, name: Option<&str>) -> Result<Arc<Pipeline>, Error> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        let found = match name {
            None => self.pipelines.first(),
            Some(name) => self.pipelines.iter().find(|p| p.name == name),
        };
        found.cloned().ok_or_else(|| {
            let names: Vec<&str> = self.pipelines.iter().map(|p| p.name.as_str()).collect();
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
    pub fn get(&self, name: &str) -> Option<&Arc<Pipeline>> {
        self.pipelines.iter().find(|p| p.name == name)
    }
}

/// The variables a run of `pipeline` with `params` adds to a command's
/// environment: the pipeline's own, `PIPELINE`, and `PARAM_<NAME>` each.
pub fn environment(
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

// ---------------------------------------------------------------------------
// The configuration file's `[[pipeline]]` tables.

/// One `[[pipeline]]` table as the file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineTable {
    name: String,
    title: Option<String>,
    description: Option<String>,
    /// A program and its arguments (`["blastn", "-task", "megablast"]`), or a
    /// shell line; none with the built-in executor.
    command: Option<Command>,
    #[serde(default)]
    executor: Option<ExecutorKind>,
    alphabets: Option<Vec<Alphabet>>,
    /// Seconds.
    timeout: Option<f64>,
    check: Option<String>,
    /// A warm pipeline's: start its processor with the server.
    preload: Option<bool>,
    /// A warm pipeline's: seconds its processor may take to say it is ready.
    start_timeout: Option<f64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default, rename = "param")]
    params: Vec<ParamTable>,
    #[serde(default, rename = "result")]
    results: Vec<ResultFile>,
    /// `[pipeline.slurm]`: what its jobs ask of the cluster.
    slurm: Option<SlurmTable>,
    /// Most jobs of a Slurm pipeline in flight at once.
    max_running: Option<usize>,
}

/// One `[[pipeline.param]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamTable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    label: Option<String>,
    #[serde(default)]
    help: String,
    default: Option<toml::Value>,
    options: Option<Vec<String>>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    /// A number's exclusive bounds, beside (not with) `min` and `max`.
    above: Option<toml::Value>,
    below: Option<toml::Value>,
    pattern: Option<String>,
    max_length: Option<usize>,
}

impl PipelineTable {
    /// The pipeline it declares; `config_dir` replaces `${CONFIG_DIR}` in its
    /// command, check and environment, and `timeout` is the server's default.
    pub fn build(self, config_dir: &str, timeout: Option<Duration>) -> Result<Pipeline, String> {
        let name = self.name;
        let at = |msg: String| format!("pipeline '{name}': {msg}");
        check_name(&name, MAX_NAME, "pipeline").map_err(at)?;
        let expand = |text: &str| text.replace("${CONFIG_DIR}", config_dir);
        let executor = self.executor.unwrap_or(match self.command {
            Some(_) => ExecutorKind::Local,
            None => ExecutorKind::Builtin,
        });
        let command = match (executor, self.command) {
            (ExecutorKind::Builtin, None) => None,
            (ExecutorKind::Builtin, Some(_)) => {
                return Err(at(
                    "the built-in executor runs no command; remove `command`".into(),
                ))
            }
            (_, None) => return Err(at("give its `command`".into())),
            (_, Some(Command::Program(words))) if words.is_empty() || words[0].is_empty() => {
                return Err(at("`command` names no program".into()))
            }
            (_, Some(Command::Program(words))) => {
                Some(Command::Program(words.iter().map(|w| expand(w)).collect()))
            }
            (_, Some(Command::Shell(line))) if line.trim().is_empty() => {
                return Err(at("`command` is empty".into()))
            }
            (_, Some(Command::Shell(line))) => Some(Command::Shell(expand(&line))),
        };
        let seconds = |name: &str, secs: f64| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| at(format!("{name} {secs} is not a number of seconds above 0")))
        };
        let timeout = match self.timeout {
            Some(secs) => Some(seconds("timeout", secs)?),
            None => timeout,
        };
        if executor != ExecutorKind::Warm {
            for (given, name) in [
                (self.preload.is_some(), "preload"),
                (self.start_timeout.is_some(), "start_timeout"),
            ] {
                if given {
                    return Err(at(format!(
                        "`{name}` is for a warm pipeline (executor = \"warm\")"
                    )));
                }
            }
        }
        let start_timeout = self
            .start_timeout
            .map(|secs| seconds("start_timeout", secs))
            .transpose()?;
        let alphabets = self
            .alphabets
            .unwrap_or_else(|| vec![Alphabet::Dna, Alphabet::Rna, Alphabet::Protein]);
        if alphabets.is_empty() {
            return Err(at("`alphabets` is empty; name dna, rna or protein".into()));
        }
        let mut params: Vec<Param> = Vec::new();
        for table in self.params {
            let param = table.build().map_err(at)?;
            if params.iter().any(|p| p.name == param.name) {
                return Err(at(format!(
                    "the parameter '{}' is declared twice",
                    param.name
                )));
            }
            params.push(param);
        }
        let mut env = BTreeMap::new();
        for (key, value) in self.env {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(at(format!("'{key}' is not an environment variable's name")));
            }
            env.insert(key, expand(&value));
        }
        let results = self.results;
        for result in &results {
            if result.file.is_empty() || result.file.contains('/') || result.file.starts_with('.') {
                return Err(at(format!(
                    "the result '{}' is not a file name in the experiment's directory",
                    result.file
                )));
            }
        }
        let slurm = match (executor, self.slurm) {
            (ExecutorKind::Slurm, table) => Some(
                table
                    .unwrap_or_default()
                    .build(self.max_running, self.timeout.is_some())
                    .map_err(at)?,
            ),
            (_, Some(_)) => {
                return Err(at(
                    "a [pipeline.slurm] table needs `executor = \"slurm\"`".into()
                ))
            }
            (_, None) => None,
        };
        if executor != ExecutorKind::Slurm && self.max_running.is_some_and(|n| n != 1) {
            return Err(at(
                "only a Slurm pipeline may run more than one experiment at once (max_running)"
                    .into(),
            ));
        }
        let results = if results.is_empty() && executor == ExecutorKind::Builtin {
            Definition::builtin().results
        } else {
            results
        };
        Ok(Pipeline {
            title: self.title.unwrap_or_else(|| name.clone()),
            description: self.description.unwrap_or_default(),
            alphabets,
            params,
            check: self.check.map(|check| expand(&check)),
            preload: self.preload.unwrap_or(false),
            definition: Arc::new(Definition {
                executor,
                command,
                timeout_ms: timeout.map(|t| t.as_millis() as u64),
                start_timeout_ms: start_timeout.map(|t| t.as_millis() as u64),
                env,
                results,
                slurm,
            }),
            name,
        })
    }
}

impl ParamTable {
    fn build(self) -> Result<Param, String> {
        let name = self.name;
        check_name(&name, MAX_PARAM_NAME, "parameter")?;
        let at = |msg: String| format!("parameter '{name}': {msg}");
        let int = |value: &Option<toml::Value>| -> Result<Option<i64>, String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_integer()
                        .ok_or_else(|| at(format!("{v} is not a whole number")))
                })
                .transpose()
        };
        let num = |value: &Option<toml::Value>| -> Result<Option<f64>, String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_float()
                        .or_else(|| v.as_integer().map(|n| n as f64))
                        .ok_or_else(|| at(format!("{v} is not a number")))
                })
                .transpose()
        };
        if self.kind != "number" && (self.above.is_some() || self.below.is_some()) {
            return Err(at(format!(
                "`above` and `below` bound a number; {}",
                if self.kind == "integer" {
                    "an integer's bounds are `min` and `max` (above = 0 is min = 1)"
                } else {
                    "this parameter is not one"
                }
            )));
        }
        let kind = match self.kind.as_str() {
            "choice" => match self.options {
                Some(options) if !options.is_empty() => ParamKind::Choice { options },
                _ => return Err(at("a choice needs its `options`".into())),
            },
            "integer" => ParamKind::Integer {
                min: int(&self.min)?,
                max: int(&self.max)?,
            },
            "number" => {
                let (min, max) = (num(&self.min)?, num(&self.max)?);
                let (above, below) = (num(&self.above)?, num(&self.below)?);
                check_exclusive(min, max, above, below).map_err(at)?;
                ParamKind::Number {
                    min,
                    max,
                    above,
                    below,
                }
            }
            "boolean" => ParamKind::Boolean,
            "text" => {
                let regex = self
                    .pattern
                    .as_deref()
                    .map(|pattern| {
                        regex::Regex::new(&format!("^(?:{pattern})$"))
                            .map_err(|err| at(format!("the pattern does not read: {err}")))
                    })
                    .transpose()?;
                ParamKind::Text {
                    pattern: self.pattern,
                    max_length: self.max_length.unwrap_or(DEFAULT_MAX_TEXT),
                    regex,
                }
            }
            other => {
                return Err(at(format!(
                    "type '{other}' is not one of choice, integer, number, boolean, text"
                )))
            }
        };
        if let Some(why) = kind.refuses_for_ever() {
            return Err(at(why));
        }
        let mut param = Param {
            label: self.label.unwrap_or_else(|| name.clone()),
            name: name.clone(),
            help: self.help,
            kind,
            default: None,
        };
        if let Some(default) = self.default {
            let text = match default {
                toml::Value::String(text) => text,
                other => other.to_string(),
            };
            param.default = Some(
                param
                    .check(&text)
                    .map_err(|msg| at(format!("its default {msg}")))?,
            );
        }
        Ok(param)
    }
}

/// Names go into URLs, forms and environment variables: lower-case letters,
/// digits, `_` (and `-` in a pipeline's), starting with a letter.
fn check_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let good = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '_'
                || (c == '-' && what == "pipeline")
        })
        && name.len() <= max;
    if good {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a {what} name: up to {max} lower-case letters, digits{} and '_', starting with a letter",
            if what == "pipeline" { ", '-'" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blastn() -> Pipeline {
        let table: PipelineTable = toml::from_str(
            r#"
            name = "blastn"
            command = ["${CONFIG_DIR}/blastn.sh", "--fast"]
            alphabets = ["dna", "rna"]
            env = { BLAST_DB = "${CONFIG_DIR}/db/reference" }
            [[param]]
            name = "evalue"
            type = "number"
            default = 1e-5
            min = 0
            [[param]]
            name = "task"
            type = "choice"
            options = ["megablast", "blastn", "blastn-short"]
            default = "megablast"
            [[param]]
            name = "label"
            type = "text"
            pattern = "[A-Za-z0-9_]+"
            [[param]]
            name = "note"
            type = "text"
            [[param]]
            name = "hits"
            type = "integer"
            min = 1
            max = 500
            [[result]]
            file = "hits.tsv"
            view = "table"
            "#,
        )
        .unwrap();
        table.build("/lab", None).unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pipeline_is_read_with_its_config_dir_and_defaults() {
        let pipeline = blastn();
        assert_eq!(
            pipeline.definition.command,
            Some(Command::Program(vec![
                "/lab/blastn.sh".into(),
                "--fast".into()
            ]))
        );
        assert_eq!(pipeline.definition.env["BLAST_DB"], "/lab/db/reference");
        assert_eq!(
            pipeline.check_params(&raw(&[])).unwrap(),
            raw(&[("evalue", "0.00001"), ("task", "megablast")])
        );
        assert_eq!(
            pipeline.alphabet_policy(AlphabetPolicy::Auto),
            AlphabetPolicy::Nucleotide
        );
    }

    #[test]
    fn parameters_are_checked_and_each_error_names_its_field() {
        let pipeline = blastn();
        let field = |pairs: &[(&str, &str)]| {
            pipeline
                .check_params(&raw(pairs))
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert_eq!(field(&[("evalue", "-1")]).as_deref(), Some("param.evalue"));
        assert_eq!(
            field(&[("evalue", "1e-5; rm -rf /")]).as_deref(),
            Some("param.evalue")
        );
        assert_eq!(field(&[("task", "tblastx")]).as_deref(), Some("param.task"));
        assert_eq!(
            field(&[("label", "$(touch pwned)")]).as_deref(),
            Some("param.label")
        );
        assert_eq!(field(&[("hits", "501")]).as_deref(), Some("param.hits"));
        assert_eq!(field(&[("colour", "red")]).as_deref(), Some("param.colour"));
        let ok = pipeline
            .check_params(&raw(&[
                ("note", "a;b"),
                ("hits", " 20 "),
                ("label", "run_7"),
            ]))
            .unwrap();
        assert_eq!(ok["note"], "a;b");
        assert_eq!(ok["hits"], "20");
        let env = environment("blastn", &pipeline.definition, &ok);
        assert!(env.contains(&("PARAM_NOTE".into(), "a;b".into())));
        assert!(env.contains(&("PIPELINE".into(), "blastn".into())));
    }

    #[test]
    fn a_bad_table_says_what_is_wrong_with_it() {
        let build = |text: &str| {
            toml::from_str::<PipelineTable>(text)
                .map_err(|e| e.to_string())
                .and_then(|table| table.build("/lab", None))
                .unwrap_err()
        };
        assert!(build("name = \"Blast N\"\ncommand = \"x\"").contains("is not a pipeline name"));
        assert!(build("name = \"b\"\nexecutor = \"local\"").contains("give its `command`"));
        assert!(
            build("name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\ntype = \"float\"")
                .contains("type 'float'")
        );
        assert!(build("name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\ntype = \"integer\"\ndefault = 0\nmin = 1")
            .contains("its default 0 is below"));
        assert!(build("name = \"b\"\ncommand = \"x\"\nbogus = 1").contains("unknown field"));
        assert!(
            build("name = \"b\"\ncommand = \"x\"\npreload = true").contains("for a warm pipeline")
        );
        assert!(build("name = \"b\"\nexecutor = \"warm\"").contains("give its `command`"));
    }

    #[test]
    fn a_parameter_that_could_never_take_a_value_is_refused_naming_it() {
        let param = |lines: &str| {
            toml::from_str::<PipelineTable>(&format!(
                "name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\n{lines}"
            ))
            .map_err(|e| e.to_string())
            .and_then(|table| table.build("/lab", None))
            .map(|_| ())
        };
        for (lines, why) in [
            (
                "type = \"integer\"\nmin = 10\nmax = 5",
                "min = 10 is above max = 5",
            ),
            (
                "type = \"number\"\nmin = 1.5\nmax = 0.5",
                "min = 1.5 is above max = 0.5",
            ),
            (
                "type = \"number\"\nmin = nan",
                "min = NaN is not a finite number",
            ),
            (
                "type = \"number\"\nmax = -inf",
                "max = -inf is not a finite number",
            ),
            ("type = \"text\"\nmax_length = 0", "max_length = 0"),
            (
                "type = \"choice\"\noptions = [\"a\", \"\"]",
                "the option \"\" could never be chosen",
            ),
            (
                "type = \"choice\"\noptions = [\" a\"]",
                "the option \" a\" could never be chosen",
            ),
            (
                "type = \"choice\"\noptions = []",
                "a choice needs its `options`",
            ),
            (
                "type = \"choice\"\noptions = [\"a\"]\ndefault = \"b\"",
                "its default 'b' is not one of a",
            ),
            (
                "type = \"integer\"\nmax = 5\ndefault = 6",
                "its default 6 is above",
            ),
            (
                "type = \"text\"\npattern = \"(\"",
                "the pattern does not read",
            ),
        ] {
            let err = param(lines).unwrap_err();
            assert!(err.starts_with("pipeline 'b': parameter 'e': "), "{err}");
            assert!(err.contains(why), "{lines}: {err}");
        }
        for fine in [
            "type = \"integer\"\nmin = 5\nmax = 5",
            "type = \"number\"\nmin = -1\nmax = 1",
            "type = \"text\"\nmax_length = 1",
            "type = \"choice\"\noptions = [\"a b\"]",
        ] {
            param(fine).unwrap();
        }
    }

    #[test]
    fn a_number_may_have_exclusive_bounds_and_they_are_checked() {
        let param = |bounds: &str| {
            toml::from_str::<ParamTable>(&format!("name = \"evalue\"\ntype = \"number\"\n{bounds}"))
                .map_err(|e| e.to_string())
                .and_then(ParamTable::build)
        };
        let evalue = param("above = 0\nmax = 1000").unwrap();
        assert_eq!(
            evalue.check("0").unwrap_err(),
            "0 is too small: it must be above 0"
        );
        assert_eq!(
            evalue.check("-0.0").unwrap_err(),
            "-0 is too small: it must be above 0"
        );
        assert_eq!(evalue.check("1e-300").unwrap(), "1e-300");
        assert_eq!(evalue.check("1000").unwrap(), "1000");
        let json = serde_json::to_value(&evalue).unwrap();
        assert_eq!(json["above"], 0.0);
        assert!(json.get("min").is_none() && json.get("below").is_none());
        let fraction = param("min = 0\nbelow = 1").unwrap();
        assert_eq!(
            fraction.check("1").unwrap_err(),
            "1 is too large: it must be below 1"
        );
        assert_eq!(fraction.check("0").unwrap(), "0");

        for (bounds, says) in [
            ("min = 0\nabove = 0", "give `min` or `above`, not both"),
            ("max = 1\nbelow = 2", "give `max` or `below`, not both"),
            (
                "above = 1\nbelow = 1",
                "above = 1 and below = 1 leave no number",
            ),
            (
                "above = 5\nmax = 2",
                "above = 5 and max = 2 leave no number",
            ),
            (
                "min = 1\nbelow = 1",
                "min = 1 and below = 1 leave no number",
            ),
            ("above = nan", "above = NaN is not a finite number"),
            ("below = inf", "below = inf is not a finite number"),
            ("above = \"0\"", "\"0\" is not a number"),
            ("above = 0\ndefault = 0", "its default 0 is too small"),
        ] {
            let err = param(bounds).unwrap_err();
            assert!(err.contains(says), "{bounds}: {err}");
            assert!(err.starts_with("parameter 'evalue': "), "{bounds}: {err}");
        }
        let err = toml::from_str::<ParamTable>("name = \"k\"\ntype = \"integer\"\nabove = 0")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            err.contains("an integer's bounds are `min` and `max`"),
            "{err}"
        );
    }

    #[test]
    fn a_slurm_pipeline_keeps_its_options_in_its_definition() {
        let table: PipelineTable = toml::from_str(
            r#"
            name = "fold"
            executor = "slurm"
            command = ["${CONFIG_DIR}/fold.sh"]
            max_running = 3
            timeout = 90
            [slurm]
            partition = "gpu"
            gres = "gpu:1"
            options = ["--account=lab"]
            "#,
        )
        .unwrap();
        let pipeline = table.build("/lab", None).unwrap();
        let definition = &pipeline.definition;
        assert_eq!(definition.executor, ExecutorKind::Slurm);
        assert_eq!(definition.max_running(), 3);
        let slurm = definition.slurm.as_ref().unwrap();
        assert_eq!(
            slurm.arguments(definition.timeout()),
            [
                "--partition=gpu",
                "--time=2",
                "--gres=gpu:1",
                "--account=lab"
            ]
        );
        // The record keeps it, and reads it back.
        let json = serde_json::to_value(&**definition).unwrap();
        assert_eq!(json["executor"], "slurm");
        assert_eq!(json["slurm"]["max_running"], 3);
        assert_eq!(
            serde_json::from_value::<Definition>(json).unwrap(),
            **definition
        );
        // Older records, and every other executor, run one at a time.
        assert_eq!(Definition::legacy("true").max_running(), 1);
        assert!(serde_json::to_value(Definition::legacy("true"))
            .unwrap()
            .get("slurm")
            .is_none());
    }

    #[test]
    fn a_program_is_shown_as_a_shell_would_read_it() {
        let command = Command::Program(vec!["/opt/x".into(), "a b".into(), "it's".into()]);
        assert_eq!(command.to_string(), r"/opt/x 'a b' 'it'\''s'");
    }
}
