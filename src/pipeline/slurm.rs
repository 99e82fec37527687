//! What a Slurm pipeline asks of the cluster: its `[pipeline.slurm]` table,
//! checked once when the configuration is read, and kept in each record's
//! definition so an accepted experiment is submitted as it was accepted.
//! The Slurm executor (`exec::slurm`) turns it into `sbatch` arguments.
//!
//! Every value becomes one `sbatch` argument of its own; no shell reads
//! them. They are the lab's words, not a client's, but they are still
//! checked, so that a typo is refused at start rather than by `sbatch` at
//! the first experiment, and so that nothing here can undo what seqspool
//! sets itself (the job's name, directory, logs, environment and hold).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The sbatch options of a Slurm pipeline, as its definition keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlurmOptions {
    /// `--partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--time`, in Slurm's words (`90`, `2:00:00`, `1-12`); without it the
    /// pipeline's timeout, rounded up to whole minutes, is the job's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `--cpus-per-task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// `--mem` (`16G`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// `--gres` (`gpu:1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// Further sbatch options, each one word (`--account=lab`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Most jobs of the pipeline in flight at once (submitted, pending or running).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub max_running: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// A `[pipeline.slurm]` table as the file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmTable {
    partition: Option<String>,
    time: Option<String>,
    cpus: Option<u32>,
    mem: Option<String>,
    gres: Option<String>,
    #[serde(default)]
    options: Vec<String>,
}

/// The sbatch options seqspool sets itself, which a pipeline may not give:
/// the job's name, directory, logs, environment, hold, requeueing and how
/// `sbatch` answers.
const OWN_OPTIONS: [(&str, Option<char>); 14] = [
    ("job-name", Some('J')),
    ("chdir", Some('D')),
    ("output", Some('o')),
    ("error", Some('e')),
    ("input", Some('i')),
    ("export", None),
    ("export-file", None),
    ("hold", Some('H')),
    ("parsable", None),
    ("wrap", None),
    ("wait", Some('W')),
    ("array", Some('a')),
    ("requeue", None),
    ("no-requeue", None),
];

impl SlurmTable {
    /// The options it declares, or what is wrong with them. `max_running` is
    /// the pipeline's; `timeout_too` says the pipeline gives a `timeout` of
    /// its own, which a `time` would contradict.
    pub(crate) fn build(
        self,
        max_running: Option<usize>,
        timeout_too: bool,
    ) -> Result<SlurmOptions, String> {
        let word = |what: &str, value: Option<String>, allowed: &dyn Fn(char) -> bool| match value {
            Some(value) if value.is_empty() || !value.chars().all(allowed) => Err(format!(
                "slurm.{what} = '{value}' is not a {what} sbatch takes"
            )),
            value => Ok(value),
        };
        let name_char = |c: char| c.is_ascii_alphanumeric() || "_.-,".contains(c);
        let partition = word("partition", self.partition, &name_char)?;
        let time = word("time", self.time, &|c| {
            c.is_ascii_digit() || c == ':' || c == '-'
        })?;
        if time.is_some() && timeout_too {
            return Err(
                "give the job's limit once: `timeout` (seconds; seqspool cancels the job, and Slurm's --time is \
                 rounded up to minutes from it) or slurm.time, not both"
                    .into(),
            );
        }
        let mem = word("mem", self.mem, &|c| {
            c.is_ascii_digit() || "KMGTkmgt".contains(c)
        })?;
        if mem
            .as_deref()
            .is_some_and(|mem| !mem.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(format!(
                "slurm.mem = '{}' is not an amount of memory (as in 16G)",
                mem.unwrap()
            ));
        }
        let gres = word("gres", self.gres, &|c| name_char(c) || c == ':' || c == '=')?;
        if self.cpus == Some(0) {
            return Err("slurm.cpus = 0: a job needs at least one CPU".into());
        }
        for option in &self.options {
            check_option(option)?;
        }
        let max_running = max_running.unwrap_or(1);
        if max_running == 0 {
            return Err("max_running = 0 would run nothing; give at least 1".into());
        }
        Ok(SlurmOptions {
            partition,
            time,
            cpus: self.cpus,
            mem,
            gres,
            options: self.options,
            max_running,
        })
    }
}

/// Checks one free sbatch option: one word starting with `-`, printable,
/// and none of those seqspool sets itself (nor an abbreviation of one,
/// which sbatch would take for it).
fn check_option(option: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("slurm.options: '{option}' {why}"));
    if option.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refuse(
            "is not one word; give each option as one, with its value after '=' (--account=lab)",
        );
    }
    if let Some(long) = option.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or("");
        if name.is_empty() {
            return refuse("names no option");
        }
        if let Some((own, _)) = OWN_OPTIONS.iter().find(|(own, _)| own.starts_with(name)) {
            return refuse(&format!("would set --{own}, which seqspool sets itself"));
        }
        return Ok(());
    }
    match option.strip_prefix('-').and_then(|short| short.chars().next()) {
        Some(letter) => match OWN_OPTIONS.iter().find(|(_, short)| *short == Some(letter)) {
            Some((own, _)) => refuse(&format!("would set --{own}, which seqspool sets itself")),
            None => Ok(()),
        },
        None => refuse("is not an option; give each one starting with '-', with its value after '=' (--account=lab)"),
    }
}

impl SlurmOptions {
    /// The job's time limit for sbatch: `time` if given, else `timeout`
    /// rounded up to whole minutes (Slurm counts in minutes).
    pub(crate) fn time_limit(&self, timeout: Option<Duration>) -> Option<String> {
        self.time.clone().or_else(|| {
            timeout.map(|timeout| timeout.as_millis().div_ceil(60_000).max(1).to_string())
        })
    }

    /// The sbatch arguments these options make, with `timeout` for `--time`.
    pub(crate) fn arguments(&self, timeout: Option<Duration>) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(partition) = &self.partition {
            args.push(format!("--partition={partition}"));
        }
        if let Some(time) = self.time_limit(timeout) {
            args.push(format!("--time={time}"));
        }
        if let Some(cpus) = self.cpus {
            args.push(format!("--cpus-per-task={cpus}"));
        }
        if let Some(mem) = &self.mem {
            args.push(format!("--mem={mem}"));
        }
        if let Some(gres) = &self.gres {
            args.push(format!("--gres={gres}"));
        }
        args.extend(self.options.iter().cloned());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<SlurmOptions, String> {
        toml::from_str::<SlurmTable>(text)
            .map_err(|err| err.to_string())?
            .build(None, false)
    }

    #[test]
    fn a_table_becomes_one_argument_per_option() {
        let options = table(
            "partition = \"gpu\"\ncpus = 8\nmem = \"16G\"\ngres = \"gpu:1\"\noptions = [\"--account=lab\", \"--qos=short\"]",
        )
        .unwrap();
        assert_eq!(
            options.arguments(Some(Duration::from_secs(90))),
            [
                "--partition=gpu",
                "--time=2",
                "--cpus-per-task=8",
                "--mem=16G",
                "--gres=gpu:1",
                "--account=lab",
                "--qos=short"
            ]
        );
        assert_eq!(options.max_running, 1);
    }

    #[test]
    fn the_timeout_is_rounded_up_to_whole_minutes() {
        let options = SlurmOptions::default();
        assert_eq!(options.time_limit(None), None);
        assert_eq!(
            options.time_limit(Some(Duration::from_secs(3))).as_deref(),
            Some("1")
        );
        assert_eq!(
            options.time_limit(Some(Duration::from_secs(60))).as_deref(),
            Some("1")
        );
        assert_eq!(
            options
                .time_limit(Some(Duration::from_millis(60_500)))
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            options
                .time_limit(Some(Duration::from_secs(3601)))
                .as_deref(),
            Some("61")
        );
        let given = SlurmOptions {
            time: Some("1-00:00:00".into()),
            ..SlurmOptions::default()
        };
        assert_eq!(
            given.time_limit(Some(Duration::from_secs(3))).as_deref(),
            Some("1-00:00:00")
        );
    }

    #[test]
    fn what_seqspool_sets_itself_is_refused() {
        for bad in [
            "--export=NONE",
            "--exp=NONE",
            "-Jname",
            "-D/tmp",
            "--output=/tmp/x",
            "--wrap=true",
            "--account lab",
            "lab",
            "--",
            "--hold",
        ] {
            let err = table(&format!("options = [\"{bad}\"]")).unwrap_err();
            assert!(err.contains("slurm.options"), "{bad}: {err}");
        }
        table("options = [\"--exclusive\", \"-A\", \"--constraint=avx2\"]").unwrap();
    }

    #[test]
    fn values_that_are_not_sbatchs_are_refused() {
        assert!(table("partition = \"gpu; rm\"")
            .unwrap_err()
            .contains("partition"));
        assert!(table("mem = \"lots\"").unwrap_err().contains("mem"));
        assert!(table("time = \"soon\"").unwrap_err().contains("time"));
        assert!(table("cpus = 0").unwrap_err().contains("cpus"));
        assert!(table("nodes = 2").unwrap_err().contains("unknown field"));
        let both = toml::from_str::<SlurmTable>("time = \"10\"")
            .unwrap()
            .build(None, true);
        assert!(both.unwrap_err().contains("not both"));
        let none = SlurmTable::default().build(Some(0), false);
        assert!(none.unwrap_err().contains("max_running"));
    }
}
