//! Every option seqspool has: its flag, its environment variable, its line in
//! the configuration file, and its default; and the lab's pipelines.
//!
//! The command line, the environment and the configuration file are read here
//! and nowhere else. An option given on the command line or in the
//! environment wins over the file. Tests build a [`Config`] with
//! [`Config::new`] and change the fields they care about, so each default
//! lives in one named constant.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::Deserialize;

pub use crate::access::Mode as AccessMode;
use crate::blast::ncbi::{NcbiTable, Services};
use crate::fault::Faults;
use crate::pipeline::{Pipeline, PipelineTable};
pub use crate::query::AlphabetPolicy;
use crate::query::Limits;

/// Default address: loopback only, so a fresh start exposes nothing to the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
/// Default bound of the queue: two batches of the most records
/// ([`DEFAULT_MAX_RECORDS`]), so that a full-size batch fits by default, also
/// behind another. At about 450 bytes a waiting experiment (bench B4; more
/// with a long name and description, both bounded), that is under 10 MB of memory.
pub const DEFAULT_CAPACITY: usize = 2 * DEFAULT_MAX_RECORDS;
/// Default body limit, 8 MiB: a few thousand sequences of a few kilobases each.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Default records per batch: a 96- or 384-well plate with room to spare.
pub const DEFAULT_MAX_RECORDS: usize = 10_000;
/// Default residues per sequence: a bacterial chromosome is larger, a query is not.
pub const DEFAULT_MAX_RESIDUES: usize = 1_000_000;
/// Default grace period, for requests in flight at shutdown and for a command
/// told to stop (SIGTERM) before it is killed (SIGKILL).
pub const DEFAULT_GRACE_SECS: f64 = 10.0;
/// Default cap on each of `stdout.txt` and `stderr.txt`: a command that floods
/// its output fills its own log up to here, not the disk.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 * 1024 * 1024;
/// Default seconds a request body may go without a byte arriving: a client on
/// a slow link sends something every second; one that sends nothing for this
/// long has stalled or is holding the connection on purpose.
pub const DEFAULT_BODY_STALL_SECS: f64 = 10.0;

/// Default room the experiments' disk must keep free for a run to start:
/// one full log (`--max-output`). Below it the queue pauses rather than let
/// commands fail for want of space, one experiment after another.
pub const DEFAULT_MIN_FREE: u64 = 64 * 1024 * 1024;

/// Default most warm processors alive at once: one, so that switching
/// pipelines stops the idle processor first, and two models never share a
/// workstation's one GPU.
pub const DEFAULT_MAX_WARM: usize = 1;

/// Default seconds a warm processor may stay idle before it is stopped: a
/// quarter of an hour keeps it through a lab's burst of submissions, and
/// does not hold a GPU's memory through the night.
pub const DEFAULT_WARM_IDLE_SECS: f64 = 900.0;

/// Default seconds between two polls of the Slurm jobs in flight: one
/// `squeue` for all of them each time, so a job's end is seen within this
/// long, at the cost of one short call to the controller.
pub const DEFAULT_SLURM_POLL_SECS: f64 = 2.0;

/// The share of the connections (`--max-connections`) event streams and
/// waits may hold by default: half. However many are open, the other half
/// is left to ordinary requests, which come and go.
pub const DEFAULT_STREAMS_SHARE: usize = 2;

/// The most event streams and waits one client address may hold by
/// default, when a quarter of `--max-streams` is more: a browser keeps at
/// most six connections to one server, so this is the pages of a few
/// people behind one address, and their scripts.
pub const DEFAULT_STREAMS_PER_CLIENT: usize = 32;

/// Default most experiments one run of a built-in BLAST program serves: a
/// 96-well plate in one search (one scan of the database, not 96), with
/// room to spare; 1 turns grouping off.
pub const DEFAULT_BLAST_GROUP: usize = 100;

/// What to do at start with an experiment that was RUNNING when the server stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInterrupt {
    /// Put it back at the head of the queue; it runs again first.
    Requeue,
    /// Mark it SYSTEM_ERROR, for commands that must not run twice.
    Fail,
}

/// Every option of the server. The command line (the `cli` room, above
/// this one) flattens it into `seqspool` and `seqspool serve`, and into
/// `seqspool retention`, which reads the same directory and file.
#[derive(Clone, Debug, Parser)]
#[command(name = "seqspool")]
pub struct Config {
    /// The lab's configuration file (TOML): its pipelines, and any option
    /// below; the command line and the environment win over it.
    #[arg(long, env = "SEQSPOOL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "SEQSPOOL_BIND", default_value = DEFAULT_BIND, value_name = "ADDR")]
    pub bind: SocketAddr,

    /// Directory holding one sub-directory per experiment; created if missing.
    #[arg(
        long,
        env = "SEQSPOOL_EXPERIMENTS",
        default_value = "./experiments",
        value_name = "DIR"
    )]
    pub experiments: PathBuf,

    /// Processing command, run with /bin/sh -c in the experiment's directory
    /// [default: the built-in analysis, which writes analysis.json]
    #[arg(long, env = "SEQSPOOL_COMMAND", value_name = "CMD")]
    pub command: Option<String>,

    /// A directory of BLAST databases: each one under it (found with
    /// blastdbcmd -list) is offered by the built-in pipelines blastn, blastp,
    /// blastx, tblastn and tblastx [default: none, no built-in BLAST]
    #[arg(long, env = "SEQSPOOL_BLAST_DATABASES", value_name = "DIR")]
    pub blast_databases: Option<PathBuf>,

    /// Most experiments next in line one run of a built-in BLAST program
    /// serves (the same program and settings, from the same submitter); 1
    /// runs each alone.
    #[arg(long, env = "SEQSPOOL_BLAST_GROUP", default_value_t = DEFAULT_BLAST_GROUP,
          value_parser = parse_group, value_name = "N")]
    pub blast_group: usize,

    /// Most experiments that may wait in the queue; past it submissions get 503.
    #[arg(long, env = "SEQSPOOL_CAPACITY", default_value_t = DEFAULT_CAPACITY,
          value_parser = parse_capacity, value_name = "N")]
    pub capacity: usize,

    /// Seconds a command may run before it is stopped (SIGTERM, then SIGKILL) [default: none]
    #[arg(long, env = "SEQSPOOL_TIMEOUT", value_parser = parse_timeout, value_name = "SECS")]
    pub timeout: Option<Duration>,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "SEQSPOOL_MAX_BODY", default_value_t = DEFAULT_MAX_BODY,
          value_parser = parse_at_least_one, value_name = "BYTES")]
    pub max_body: usize,

    /// Most records one FASTA batch may hold; more get 413.
    #[arg(long, env = "SEQSPOOL_MAX_RECORDS", default_value_t = DEFAULT_MAX_RECORDS,
          value_parser = parse_at_least_one, value_name = "N")]
    pub max_records: usize,

    /// Most residues one sequence may hold; more get 422.
    #[arg(long, env = "SEQSPOOL_MAX_RESIDUES", default_value_t = DEFAULT_MAX_RESIDUES,
          value_parser = parse_at_least_one, value_name = "N")]
    pub max_residues: usize,

    /// Which sequences to accept.
    #[arg(long, env = "SEQSPOOL_ALPHABET", value_enum, default_value_t = AlphabetPolicy::Auto)]
    pub alphabet: AlphabetPolicy,

    /// What to do at start with an experiment that was running when the server stopped.
    #[arg(long, env = "SEQSPOOL_ON_INTERRUPT", value_enum, default_value_t = OnInterrupt::Requeue)]
    pub on_interrupt: OnInterrupt,

    /// Seconds of grace: for requests in flight at shutdown, and between SIGTERM
    /// and SIGKILL when a command is stopped.
    #[arg(long, env = "SEQSPOOL_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_seconds, value_name = "SECS")]
    pub shutdown_grace: Duration,

    /// Largest stdout.txt or stderr.txt kept per experiment, in bytes; the rest is dropped.
    #[arg(long, env = "SEQSPOOL_MAX_OUTPUT", default_value_t = DEFAULT_MAX_OUTPUT, value_name = "BYTES")]
    pub max_output: u64,

    /// Most connections open at once; past it new ones wait [default: from the open-files limit]
    #[arg(long, env = "SEQSPOOL_MAX_CONNECTIONS", value_parser = parse_at_least_one, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Most event streams (GET /events) and waits (?wait=) open at once; past
    /// it they get 503 [default: half of --max-connections]
    #[arg(long, env = "SEQSPOOL_MAX_STREAMS", value_parser = parse_at_least_one, value_name = "N")]
    pub max_streams: Option<usize>,

    /// Most event streams and waits one client address may hold at once;
    /// past it they get 503 [default: a quarter of --max-streams, at most 32]
    #[arg(long, env = "SEQSPOOL_MAX_STREAMS_PER_CLIENT", value_parser = parse_at_least_one, value_name = "N")]
    pub max_streams_per_client: Option<usize>,

    /// Bytes the experiments' disk must keep free for a run to start; below it the queue pauses.
    #[arg(long, env = "SEQSPOOL_MIN_FREE", default_value_t = DEFAULT_MIN_FREE, value_name = "BYTES")]
    pub min_free: u64,

    /// Most warm processors alive at once; starting another stops the one idle longest first.
    #[arg(long, env = "SEQSPOOL_MAX_WARM", default_value_t = DEFAULT_MAX_WARM,
          value_parser = parse_at_least_one, value_name = "N")]
    pub max_warm: usize,

    /// Seconds a warm processor may stay idle before it is stopped.
    #[arg(long, env = "SEQSPOOL_WARM_IDLE", default_value = "900", value_parser = parse_seconds, value_name = "SECS")]
    pub warm_idle: Duration,

    /// The binary that runs local commands (`seqspool __runner`): this one,
    /// unless set (tests that run the server in their own process set it).
    #[arg(skip)]
    #[doc(hidden)]
    pub runner: Option<PathBuf>,

    /// Seconds between two polls of the Slurm jobs in flight (one `squeue` for all of them).
    #[arg(long, env = "SEQSPOOL_SLURM_POLL", default_value = "2", value_parser = parse_poll, value_name = "SECS")]
    pub slurm_poll: Duration,

    /// Seconds a request body may go without a byte arriving before it is dropped with 408.
    #[arg(long, env = "SEQSPOOL_BODY_STALL", default_value = "10", value_parser = parse_stall, value_name = "SECS")]
    pub body_stall: Duration,

    /// A host name this server is reached by, besides IP addresses, localhost and
    /// this machine's name (requests naming any other host get 421); repeat for
    /// several, or separate them with commas in the environment variable.
    #[arg(long = "allow-host", env = "SEQSPOOL_ALLOW_HOSTS", value_delimiter = ',',
          value_parser = parse_host_name, value_name = "NAME")]
    pub allow_hosts: Vec<String>,

    /// Who may do what: open (anyone, anything), members (anyone reads,
    /// users with a token write), closed (only users, with a token).
    #[arg(long, env = "SEQSPOOL_ACCESS", value_enum, default_value_t = AccessMode::Open)]
    pub access: AccessMode,

    /// The address of a reverse proxy in front of seqspool: requests from it
    /// count as from the address it puts in X-Forwarded-For, and over HTTPS
    /// when its X-Forwarded-Proto says so (session cookies are then Secure);
    /// repeat for several, or separate them with commas in the environment variable.
    #[arg(
        long = "trusted-proxy",
        env = "SEQSPOOL_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "IP"
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Days a finished experiment is kept after it finished; a daily sweep
    /// removes older ones (never a queued or running one) [default: kept for ever]
    #[arg(long, env = "SEQSPOOL_RETENTION_DAYS", value_parser = parse_days, value_name = "DAYS")]
    pub retention_days: Option<u32>,

    /// How long after the start the first retention sweep comes, and between
    /// two sweeps: a test knob, never set from the command line (the server
    /// sweeps five minutes after its start, then daily).
    #[arg(skip)]
    #[doc(hidden)]
    pub retention_every: Option<Duration>,

    /// The pipelines the configuration file declares (none: `--command`, or
    /// the built-in analysis, is the one pipeline).
    #[arg(skip)]
    pub pipelines: Vec<Arc<Pipeline>>,

    /// What NCBI's BLAST URL API offers: the configuration file's `[ncbi]` section.
    #[arg(skip)]
    pub ncbi: Arc<Services>,

    /// The `[ncbi]` section, and the file's directory, when it may name the
    /// built-in BLAST pipelines (`--blast-databases`): it is checked against
    /// them once the databases are found, at start.
    #[arg(skip)]
    #[doc(hidden)]
    pub ncbi_section: Option<(NcbiTable, String)>,

    /// Faults injected into the store's writes, for tests; never set from the command line.
    #[arg(skip)]
    #[doc(hidden)]
    pub faults: Faults,

    /// The lab-wide notifications: the configuration file's `[notify]` section.
    #[arg(skip)]
    pub notify: crate::notify::Settings,

    /// A network (10.0.0.0/8), address or host name a submission's notify_url
    /// may reach besides public addresses (this workstation, private and
    /// link-local networks are refused unless allowed here); repeat for
    /// several, or separate them with commas in the environment variable.
    #[arg(long = "notify-allow", env = "SEQSPOOL_NOTIFY_ALLOW", value_delimiter = ',',
          value_parser = crate::notify::parse_allowed, value_name = "NET")]
    pub notify_allow: Vec<crate::notify::Allowed>,

    /// For tests only: every wait between two attempts at a notification
    /// is this many seconds, instead of Standard Webhooks' schedule.
    #[arg(long, env = "SEQSPOOL_NOTIFY_BACKOFF", hide = true, value_parser = parse_seconds, value_name = "SECS")]
    #[doc(hidden)]
    pub notify_backoff: Option<Duration>,
}

impl Config {
    /// The defaults, with experiments kept in `experiments`: what tests start from.
    pub fn new(experiments: impl Into<PathBuf>) -> Config {
        Config {
            bind: DEFAULT_BIND.parse().expect("the default address parses"),
            experiments: experiments.into(),
            command: None,
            blast_databases: None,
            blast_group: DEFAULT_BLAST_GROUP,
            capacity: DEFAULT_CAPACITY,
            timeout: None,
            max_body: DEFAULT_MAX_BODY,
            max_records: DEFAULT_MAX_RECORDS,
            max_residues: DEFAULT_MAX_RESIDUES,
            alphabet: AlphabetPolicy::Auto,
            on_interrupt: OnInterrupt::Requeue,
            shutdown_grace: Duration::from_secs_f64(DEFAULT_GRACE_SECS),
            max_output: DEFAULT_MAX_OUTPUT,
            min_free: DEFAULT_MIN_FREE,
            max_warm: DEFAULT_MAX_WARM,
            warm_idle: Duration::from_secs_f64(DEFAULT_WARM_IDLE_SECS),
            max_connections: None,
            max_streams: None,
            max_streams_per_client: None,
            runner: None,
            body_stall: Duration::from_secs_f64(DEFAULT_BODY_STALL_SECS),
            slurm_poll: Duration::from_secs_f64(DEFAULT_SLURM_POLL_SECS),
            allow_hosts: Vec::new(),
            access: AccessMode::Open,
            trusted_proxies: Vec::new(),
            retention_days: None,
            retention_every: None,
            config: None,
            pipelines: Vec::new(),
            ncbi: Arc::default(),
            ncbi_section: None,
            faults: Faults::default(),
            notify: Default::default(),
            notify_allow: Vec::new(),
            notify_backoff: None,
        }
    }

    /// Reads the command line `args` (the first is the program's name) and
    /// the environment, then the configuration file they name, if any.
    pub fn load_from<I, T>(args: I) -> Result<Config, Refused>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Config::command()
            .try_get_matches_from(args)
            .map_err(Refused::CommandLine)?;
        let mut config = Config::from_arg_matches(&matches).map_err(Refused::CommandLine)?;
        config.read_file(&matches).map_err(Refused::File)?;
        Ok(config)
    }

    /// Reads the configuration file `--config` names, if any, for the
    /// options `matches` (the command line and the environment) left unset.
    pub fn read_file(&mut self, matches: &ArgMatches) -> Result<(), String> {
        if let Some(path) = self.config.clone() {
            let text = std::fs::read_to_string(&path).map_err(|err| {
                format!("reading the configuration file {}: {err}", path.display())
            })?;
            self.apply_file(&text, &path, Some(matches))
                .map_err(|err| format!("{}: {err}", path.display()))?;
        }
        Ok(())
    }

    /// Takes every option the command line and the environment left at its
    /// default from the file (`text`, read from `path`), and the pipelines it
    /// declares. Relative paths in the file are relative to the file's
    /// directory, as `${CONFIG_DIR}` is. With no `matches` (tests), the file
    /// sets every option it names.
    pub fn apply_file(
        &mut self,
        text: &str,
        path: &Path,
        matches: Option<&ArgMatches>,
    ) -> Result<(), String> {
        let file: FileOptions = toml::from_str(text).map_err(|err| err.to_string())?;
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        let unset = |id: &str| {
            matches.is_none_or(|matches| {
                matches!(
                    matches.value_source(id),
                    None | Some(ValueSource::DefaultValue)
                )
            })
        };
        let seconds = |name: &str, secs: f64| {
            Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("{name} = {secs} is not a number of seconds"))
        };
        macro_rules! take {
            ($($field:ident),* $(,)?) => {$(
                if let Some(value) = file.$field {
                    if unset(stringify!($field)) {
                        self.$field = value.into();
                    }
                }
            )*};
        }
        // A limit of none would refuse every submission, or run nothing:
        // wrong in the file, whatever the command line says.
        for (name, value) in [
            ("capacity", file.capacity),
            ("max_body", file.max_body),
            ("max_records", file.max_records),
            ("max_residues", file.max_residues),
            ("max_warm", file.max_warm),
            ("max_connections", file.max_connections),
            ("max_streams", file.max_streams),
            ("max_streams_per_client", file.max_streams_per_client),
        ] {
            if value == Some(0) {
                return Err(format!(
                    "{name} = 0 would take nothing: give a whole number of at least 1"
                ));
            }
        }
        take!(
            bind,
            capacity,
            max_body,
            max_records,
            max_residues,
            alphabet,
            on_interrupt,
            max_output,
            min_free,
            max_warm,
            access,
            trusted_proxies
        );
        if let Some(group) = file.blast_group {
            parse_group(&group.to_string())
                .map_err(|err| format!("blast_group = {group}: {err}"))?;
            if unset("blast_group") {
                self.blast_group = group;
            }
        }
        if let Some(experiments) = file.experiments {
            if unset("experiments") {
                self.experiments = dir.join(experiments);
            }
        }
        if let Some(databases) = file.blast_databases {
            if unset("blast_databases") {
                self.blast_databases = Some(dir.join(databases));
            }
        }
        if let Some(command) = file.command {
            if unset("command") {
                self.command = Some(command);
            }
        }
        if let Some(days) = file.retention_days {
            if unset("retention_days") {
                self.retention_days = Some(
                    parse_days(&days.to_string())
                        .map_err(|why| format!("retention_days = {days}: {why}"))?,
                );
            }
        }
        for (name, given, field) in [
            (
                "max_connections",
                file.max_connections,
                &mut self.max_connections,
            ),
            ("max_streams", file.max_streams, &mut self.max_streams),
            (
                "max_streams_per_client",
                file.max_streams_per_client,
                &mut self.max_streams_per_client,
            ),
        ] {
            if let Some(max) = given {
                if unset(name) {
                    *field = Some(max);
                }
            }
        }
        if let Some(hosts) = file.allow_hosts {
            if unset("allow_hosts") {
                self.allow_hosts = hosts
                    .iter()
                    .map(|host| parse_host_name(host))
                    .collect::<Result<_, _>>()?;
            }
        }
        if let Some(secs) = file.timeout {
            if unset("timeout") {
                self.timeout = Some(
                    parse_timeout(&secs.to_string())
                        .map_err(|why| format!("timeout = {secs}: {why}"))?,
                );
            }
        }
        if let Some(secs) = file.shutdown_grace {
            if unset("shutdown_grace") {
                self.shutdown_grace = seconds("shutdown_grace", secs)?;
            }
        }
        if let Some(secs) = file.warm_idle {
            if unset("warm_idle") {
                self.warm_idle = seconds("warm_idle", secs)?;
            }
        }
        if let Some(secs) = file.body_stall {
            if unset("body_stall") {
                self.body_stall = parse_stall(&secs.to_string())
                    .map_err(|why| format!("body_stall = {secs}: {why}"))?;
            }
        }
        if let Some(secs) = file.slurm_poll {
            if unset("slurm_poll") {
                self.slurm_poll = parse_poll(&secs.to_string())
                    .map_err(|why| format!("slurm_poll = {secs}: {why}"))?;
            }
        }
        let dir_text = dir.display().to_string();
        let mut pipelines: Vec<Arc<Pipeline>> = Vec::new();
        for table in file.pipeline {
            let pipeline = table.build(&dir_text, self.timeout)?;
            if pipelines.iter().any(|p| p.name == pipeline.name) {
                return Err(format!(
                    "the pipeline '{}' is declared twice",
                    pipeline.name
                ));
            }
            pipelines.push(Arc::new(pipeline));
        }
        for pipeline in &pipelines {
            if !pipeline.alphabets.iter().any(|a| self.alphabet.allows(*a)) {
                return Err(format!(
                    "pipeline '{}' takes only {}, which this server never reads (alphabet = \"{}\", \
                     or --alphabet): it could never accept a sequence",
                    pipeline.name,
                    pipeline
                        .alphabets
                        .iter()
                        .map(|a| a.word())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    self.alphabet.as_str()
                ));
            }
        }
        if !pipelines.is_empty() && self.command.is_some() {
            return Err(
                "it declares pipelines, and a command is given too (--command, SEQSPOOL_COMMAND or `command`): \
                 give the command as a pipeline of its own, or no pipelines"
                    .into(),
            );
        }
        self.pipelines = pipelines;
        if let Some(ncbi) = file.ncbi {
            if self.blast_databases.is_some() {
                self.ncbi_section = Some((ncbi, dir_text));
            } else {
                self.ncbi = Arc::new(Services::build(ncbi, &self.offered(), &dir_text)?);
            }
        }
        if let Some(notify) = file.notify {
            self.notify = notify.build(&dir)?;
        }
        if let Some(allowed) = file.notify_allow {
            if unset("notify_allow") {
                self.notify_allow = allowed
                    .iter()
                    .map(|entry| {
                        crate::notify::parse_allowed(entry)
                            .map_err(|err| format!("notify_allow: {err}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(())
    }

    /// The pipelines this server offers, the first the default: those the
    /// configuration declares, or the one `--command` makes, or the built-in analysis.
    pub fn offered(&self) -> Vec<Arc<Pipeline>> {
        if !self.pipelines.is_empty() {
            return self.pipelines.clone();
        }
        match &self.command {
            Some(command) => vec![Arc::new(Pipeline::default_command(command, self.timeout))],
            None => vec![Arc::new(Pipeline::analysis())],
        }
    }

    /// The binary that runs local commands.
    pub fn runner(&self) -> PathBuf {
        self.runner.clone().unwrap_or_else(|| {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("seqspool"))
        })
    }

    /// The most event streams and waits open at once, in all and from one
    /// client address, among `max_connections`: as given, or half the
    /// connections and a quarter of that (at most
    /// [`DEFAULT_STREAMS_PER_CLIENT`]). Streams given as many as the
    /// connections or more would leave none for ordinary requests: the
    /// default is kept instead, and the log says so.
    pub fn stream_limits(&self, max_connections: usize) -> (usize, usize) {
        let share = (max_connections / DEFAULT_STREAMS_SHARE).max(1);
        let streams = match self.max_streams {
            Some(given) if given >= max_connections => {
                log::warn!(
                    "--max-streams {given} leaves no room for other requests among {max_connections} \
                     connections (--max-connections); keeping {share}"
                );
                share
            }
            Some(given) => given,
            None => share,
        };
        let per_client = self
            .max_streams_per_client
            .unwrap_or((streams / 4).clamp(1, DEFAULT_STREAMS_PER_CLIENT))
            .min(streams);
        (streams, per_client)
    }

    /// What the executors take from these options.
    pub(crate) fn executors(&self) -> crate::exec::Settings {
        crate::exec::Settings {
            experiments: self.experiments.clone(),
            runner: self.runner(),
            timeout: self.timeout,
            shutdown_grace: self.shutdown_grace,
            max_output: self.max_output,
            max_warm: self.max_warm,
            warm_idle: self.warm_idle,
            slurm_poll: self.slurm_poll,
        }
    }

    /// What the notifier takes from these options.
    pub(crate) fn notifier(&self) -> crate::notify::Setup {
        crate::notify::Setup {
            settings: self.notify.clone(),
            allowed: self.notify_allow.clone(),
            runner: self.runner(),
            grace: self.shutdown_grace,
            backoff: self.notify_backoff,
        }
    }

    /// The limits every submission is checked against.
    pub fn limits(&self) -> Limits {
        Limits {
            max_records: self.max_records,
            max_residues: self.max_residues,
            alphabet: self.alphabet,
        }
    }
}

/// Parses the queue's capacity: a queue that holds nothing would refuse everything.
fn parse_capacity(text: &str) -> Result<usize, String> {
    match text.trim().parse() {
        Ok(0) | Err(_) => Err(format!(
            "'{text}' is not a capacity; give a whole number of at least 1"
        )),
        Ok(n) => Ok(n),
    }
}

/// Parses a count that must be at least 1.
fn parse_at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a whole number of at least 1")),
        Ok(n) => Ok(n),
    }
}

/// Parses `--blast-group`: at least 1 (alone), at most what one run may serve.
fn parse_group(text: &str) -> Result<usize, String> {
    match text.trim().parse() {
        Ok(n) if (1..=crate::pipeline::MAX_GROUP).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{text}' is not a group size: give a whole number from 1 (each alone) to {}",
            crate::pipeline::MAX_GROUP
        )),
    }
}

/// Parses a number of seconds, fractions allowed ("0.5"), into a duration.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("'{text}' is not a usable number of seconds"))
}

/// Parses `--retention-days`: whole days, at least one (to keep everything,
/// leave the option out).
fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse() {
        Ok(0) | Err(_) => Err(format!(
            "'{text}' is not a number of days; give a whole number of at least 1 \
             (without the option, finished experiments are kept for ever)"
        )),
        Ok(days) => Ok(days),
    }
}

/// Parses `--timeout`: none at all would stop every command as it starts.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        timeout if timeout.is_zero() => Err(format!(
            "'{text}' would stop every command as it starts; give a number of seconds above 0 \
             (without the option, commands run as long as they take)"
        )),
        timeout => Ok(timeout),
    }
}

/// Parses the body stall time: with none at all, every body would be dropped.
fn parse_stall(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        stall if stall.is_zero() => Err(format!(
            "'{text}' is no stall time; give a number of seconds above 0"
        )),
        stall => Ok(stall),
    }
}

/// Parses the interval between two polls of Slurm: none at all would ask
/// the controller without pause.
fn parse_poll(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        poll if poll.is_zero() => Err(format!(
            "'{text}' is no interval between polls of Slurm; give a number of seconds above 0"
        )),
        poll => Ok(poll),
    }
}

/// Parses a host name for `--allow-host`: a bare name (`lab-ws.example.org`),
/// compared without regard to case; no scheme, port or path.
fn parse_host_name(text: &str) -> Result<String, String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "'{text}' is not a host name; give the name alone, as in lab-ws.example.org (no scheme, port or path)"
        ))
    }
}

/// Why the options could not be read.
#[derive(Debug)]
pub enum Refused {
    /// The command line (or `--help`, `--version`, which clap answers this way).
    CommandLine(clap::Error),
    /// The configuration file, in words.
    File(String),
}

/// The options a configuration file may set, as it names them (the flags'
/// names, with `_` for `-`), and its pipelines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOptions {
    bind: Option<SocketAddr>,
    experiments: Option<PathBuf>,
    command: Option<String>,
    blast_databases: Option<PathBuf>,
    blast_group: Option<usize>,
    capacity: Option<usize>,
    /// Seconds.
    timeout: Option<f64>,
    max_body: Option<usize>,
    max_records: Option<usize>,
    max_residues: Option<usize>,
    alphabet: Option<AlphabetPolicy>,
    on_interrupt: Option<OnInterrupt>,
    /// Seconds.
    shutdown_grace: Option<f64>,
    max_output: Option<u64>,
    max_connections: Option<usize>,
    max_streams: Option<usize>,
    max_streams_per_client: Option<usize>,
    min_free: Option<u64>,
    max_warm: Option<usize>,
    /// Seconds.
    warm_idle: Option<f64>,
    /// Seconds.
    body_stall: Option<f64>,
    /// Seconds.
    slurm_poll: Option<f64>,
    allow_hosts: Option<Vec<String>>,
    access: Option<AccessMode>,
    trusted_proxies: Option<Vec<IpAddr>>,
    retention_days: Option<i64>,
    #[serde(default)]
    pipeline: Vec<PipelineTable>,
    ncbi: Option<NcbiTable>,
    /// The lab-wide notifications.
    notify: Option<crate::notify::Table>,
    /// Networks, addresses and host names a `notify_url` may reach besides public addresses.
    notify_allow: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_defaults_match_the_constants() {
        let parsed = Config::try_parse_from(["seqspool", "--experiments", "e"]).unwrap();
        let built = Config::new("e");
        assert_eq!(parsed.bind, built.bind);
        assert_eq!(parsed.capacity, built.capacity);
        assert_eq!(parsed.max_body, built.max_body);
        assert_eq!(parsed.shutdown_grace, built.shutdown_grace);
        assert_eq!(parsed.max_output, built.max_output);
        assert_eq!(parsed.body_stall, built.body_stall);
        assert_eq!(parsed.slurm_poll, built.slurm_poll);
        assert_eq!(parsed.allow_hosts, built.allow_hosts);
        assert_eq!(parsed.max_warm, built.max_warm);
        assert_eq!(parsed.warm_idle, built.warm_idle);
        assert_eq!(parsed.blast_group, built.blast_group);
        assert_eq!(parsed.timeout, None);
        // Nothing is ever removed unless the operator asks for it.
        assert_eq!((parsed.retention_days, built.retention_days), (None, None));
        // A batch as large as a submission may be fits an empty queue.
        assert!(built.capacity >= built.max_records);
    }

    #[test]
    fn event_streams_leave_room_for_other_requests() {
        let config = Config::new("e");
        // The usual 1 024 open files make 384 connections (`lib::connections_for`).
        assert_eq!(config.stream_limits(384), (192, 32));
        assert_eq!(config.stream_limits(48), (24, 6));
        assert_eq!(config.stream_limits(1), (1, 1));
        let mut given = Config::new("e");
        given.max_streams = Some(100);
        given.max_streams_per_client = Some(500);
        assert_eq!(given.stream_limits(384), (100, 100));
        given.max_streams = Some(384);
        assert_eq!(
            given.stream_limits(384).0,
            192,
            "as many as the connections"
        );
        for zero in [
            "--max-streams",
            "--max-streams-per-client",
            "--max-connections",
        ] {
            assert!(
                Config::try_parse_from(["seqspool", zero, "0"]).is_err(),
                "{zero}"
            );
        }
    }

    #[test]
    fn a_limit_of_none_in_the_file_is_refused_whatever_the_command_line_says() {
        let file = Path::new("/etc/seqspool/seqspool.toml");
        let matches = Config::command()
            .try_get_matches_from(["seqspool", "--max-body", "1000"])
            .unwrap();
        let mut config = Config::from_arg_matches(&matches).unwrap();
        let err = config
            .apply_file("max_body = 0", file, Some(&matches))
            .unwrap_err();
        assert!(err.starts_with("max_body = 0 would take nothing"), "{err}");
        for (text, field) in [
            ("body_stall = 0", "body_stall = 0: "),
            ("slurm_poll = 0", "slurm_poll = 0: "),
            ("timeout = -1", "timeout = -1: "),
        ] {
            let err = Config::new("e").apply_file(text, file, None).unwrap_err();
            assert!(err.starts_with(field), "{err}");
        }
    }

    #[test]
    fn seconds_may_be_fractions_but_not_negative() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(Config::try_parse_from(["seqspool", "--capacity", "0"]).is_err());
        assert!(Config::try_parse_from(["seqspool", "--body-stall", "0"]).is_err());
        for days in ["0", "-1", "1.5", "soon"] {
            assert!(
                Config::try_parse_from(["seqspool", "--retention-days", days]).is_err(),
                "{days}"
            );
        }
    }

    #[test]
    fn retention_days_come_from_the_file_unless_the_command_line_says_otherwise() {
        let file = Path::new("/etc/seqspool/seqspool.toml");
        let mut config = Config::new("e");
        config
            .apply_file("retention_days = 14", file, None)
            .unwrap();
        assert_eq!(config.retention_days, Some(14));
        for bad in ["retention_days = 0", "retention_days = -3"] {
            assert!(
                Config::new("e").apply_file(bad, file, None).is_err(),
                "{bad}"
            );
        }
        let matches = Config::command()
            .try_get_matches_from(["seqspool", "--retention-days", "90"])
            .unwrap();
        let mut config = Config::from_arg_matches(&matches).unwrap();
        config
            .apply_file("retention_days = 14", file, Some(&matches))
            .unwrap();
        assert_eq!(config.retention_days, Some(90));
    }

    #[test]
    fn allowed_hosts_repeat_and_are_bare_names() {
        let parsed = Config::try_parse_from([
            "seqspool",
            "--allow-host",
            "Lab-WS.example.org",
            "--allow-host",
            "seqspool.lab.",
        ])
        .unwrap();
        assert_eq!(parsed.allow_hosts, ["lab-ws.example.org", "seqspool.lab"]);
        for bad in ["http://lab", "lab:8000", "lab/x", ""] {
            assert!(
                Config::try_parse_from(["seqspool", "--allow-host", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn notification_allowances_come_from_the_command_line_or_the_file() {
        let parsed = Config::try_parse_from([
            "seqspool",
            "--notify-allow",
            "10.0.0.0/8,lab-bot.lab",
            "--notify-allow",
            "::1",
        ])
        .unwrap();
        let shown: Vec<String> = parsed.notify_allow.iter().map(|a| a.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "lab-bot.lab", "::1/128"]);
        assert!(Config::try_parse_from(["seqspool", "--notify-allow", "10.0.0.0/40"]).is_err());
        let file = Path::new("/etc/seqspool/seqspool.toml");
        let mut config = Config::new("e");
        config
            .apply_file(r#"notify_allow = ["192.168.0.0/16"]"#, file, None)
            .unwrap();
        assert_eq!(config.notify_allow.len(), 1);
        let err = Config::new("e")
            .apply_file(r#"notify_allow = ["http://lab/"]"#, file, None)
            .unwrap_err();
        assert!(err.starts_with("notify_allow: 'http://lab/'"), "{err}");
    }
}
