//! The Slurm client commands, run as an operator would run them: `sbatch`,
//! `squeue`, `scontrol` and `scancel` from the PATH, talking to the
//! controller that `SLURM_CONF` (or the system's configuration) names.
//!
//! Each call is bounded: a controller that does not answer makes a client
//! retry for about ten seconds and fail; one that hangs is killed after
//! [`CALL_DEADLINE`]. Output goes to unnamed temporary files, not pipes, so a
//! long answer can never block the client while we wait for it to exit.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Read, Seek, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one client call may take before it is killed: far beyond the
/// ten seconds a client spends on a controller that does not answer.
pub const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// Most bytes of a client's output kept: a batch of our jobs' states, or
/// one job's description, is far smaller.
const MAX_OUTPUT: u64 = 1 << 20;

/// What Slurm says of one job: its state (`PENDING`, `RUNNING`,
/// `COMPLETED`, ...) and the reason it gives, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub state: String,
    pub reason: Option<String>,
    /// The job's name (seqspool names each job after its experiment).
    pub name: String,
    /// The job's working directory.
    pub workdir: String,
}

/// Runs one client command with `args`, `env` added to its environment and
/// `stdin` as its input; returns what it printed, or why it failed in words.
pub fn call(
    program: &str,
    args: &[OsString],
    env: &[(String, String)],
    stdin: Option<&[u8]>,
) -> Result<String, String> {
    let (stdout, stderr) = match (tempfile::tempfile(), tempfile::tempfile()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(err), _) | (_, Err(err)) => {
            return Err(format!(
                "{program}: could not make room for its answer: {err}"
            ))
        }
    };
    let spawned = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(stdout.try_clone().map_err(|err| err.to_string())?)
        .stderr(stderr.try_clone().map_err(|err| err.to_string())?)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "{program} is not on this machine's PATH: seqspool needs the Slurm client commands"
            ))
        }
        Err(err) => return Err(format!("could not start {program}: {err}")),
    };
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        // Small (a script of a few lines): it fits the pipe, so this cannot block for long.
        let _ = input.write_all(text);
    }
    let deadline = Instant::now() + CALL_DEADLINE;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not answer within {} s",
                    CALL_DEADLINE.as_secs()
                ));
            }
            Err(err) => return Err(format!("waiting for {program}: {err}")),
        }
    };
    let said = read_all(stdout);
    if status.success() {
        return Ok(said);
    }
    let complaint = read_all(stderr);
    let last = complaint
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned();
    Err(if last.is_empty() {
        format!("{program} failed ({status})")
    } else {
        last
    })
}

fn read_all(mut file: std::fs::File) -> String {
    let mut text = String::new();
    if file.rewind().is_ok() {
        let _ = file.take(MAX_OUTPUT).read_to_string(&mut text);
    }
    text
}

fn os(text: impl Into<OsString>) -> OsString {
    text.into()
}

/// Submits a batch job (`sbatch --parsable` with `args`, the script on its
/// input) with `env` in sbatch's environment; returns the job's id.
pub fn sbatch(args: &[OsString], env: &[(String, String)], script: &str) -> Result<u64, String> {
    let said = call("sbatch", args, env, Some(script.as_bytes()))?;
    parse_job_id(&said).ok_or_else(|| format!("sbatch answered no job id: {:?}", said.trim()))
}

/// Lets a held job be scheduled.
pub fn release(job: u64) -> Result<(), String> {
    call("scontrol", &[os("release"), os(job.to_string())], &[], None).map(drop)
}

/// Cancels a job (Slurm signals its processes, then kills them after its KillWait).
pub fn scancel(job: u64) -> Result<(), String> {
    call("scancel", &[os(job.to_string())], &[], None).map(drop)
}

/// What Slurm says of `jobs`, in one `squeue` call; a job it does not know
/// (any more) is missing from the answer. An error means the controller
/// could not be asked: nothing can be concluded from it.
pub fn squeue(jobs: &[u64]) -> Result<BTreeMap<u64, JobStatus>, String> {
    if jobs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let list: Vec<String> = jobs.iter().map(u64::to_string).collect();
    // Given several ids, squeue asks for the whole job table and picks them
    // out; --me has the controller send only this user's jobs.
    let args = [
        os("--me"),
        os("--noheader"),
        os("--states=all"),
        os(format!("--jobs={}", list.join(","))),
        os(FORMAT),
    ];
    match call("squeue", &args, &[], None) {
        Ok(said) => Ok(parse_squeue(&said)),
        // Asked for one job it has forgotten, squeue fails instead of answering nothing.
        Err(err) if err.contains("Invalid job id") => Ok(BTreeMap::new()),
        Err(err) => Err(err),
    }
}

/// The pending jobs named `name`, in one `squeue` call.
pub fn pending_named(name: &str) -> Result<BTreeMap<u64, JobStatus>, String> {
    let args = [
        os("--me"),
        os("--noheader"),
        os("--states=PENDING"),
        os(format!("--name={name}")),
        os(FORMAT),
    ];
    call("squeue", &args, &[], None).map(|said| parse_squeue(&said))
}

/// The exit code and signal Slurm recorded for a finished job (`ExitCode=3:0`).
pub fn exit_code(job: u64) -> Result<Option<(i32, i32)>, String> {
    let said = call(
        "scontrol",
        &[os("show"), os("job"), os("--oneliner"), os(job.to_string())],
        &[],
        None,
    )?;
    Ok(parse_exit_code(&said))
}

/// squeue's columns: id, state, reason, name, working directory. The
/// directory is last: a path may hold the separator, nothing before it can.
const FORMAT: &str = "--format=%i|%T|%r|%j|%Z";

/// The job id `sbatch --parsable` printed (`42`, or `42;cluster`).
pub fn parse_job_id(said: &str) -> Option<u64> {
    said.lines()
        .find(|line| !line.trim().is_empty())?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Reads squeue's lines in [`FORMAT`].
pub fn parse_squeue(said: &str) -> BTreeMap<u64, JobStatus> {
    said.lines()
        .filter_map(|line| {
            let mut fields = line.trim_end_matches(['\r', '\n']).splitn(5, '|');
            let id = fields.next()?.trim().parse().ok()?;
            let state = fields.next()?.trim().to_owned();
            let reason = fields.next()?.trim();
            let name = fields.next().unwrap_or("").to_owned();
            let workdir = fields.next().unwrap_or("").to_owned();
            if state.is_empty() {
                return None;
            }
            let reason = (!reason.is_empty() && reason != "None" && reason != "(null)")
                .then(|| reason.to_owned());
            Some((
                id,
                JobStatus {
                    state,
                    reason,
                    name,
                    workdir,
                },
            ))
        })
        .collect()
}

/// The `ExitCode=CODE:SIGNAL` of `scontrol show job` (not `DerivedExitCode`).
pub fn parse_exit_code(said: &str) -> Option<(i32, i32)> {
    let value = said
        .split_whitespace()
        .find_map(|field| field.strip_prefix("ExitCode="))?;
    let (code, signal) = value.split_once(':')?;
    Some((code.parse().ok()?, signal.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbatch_answers_an_id_with_or_without_its_cluster() {
        assert_eq!(parse_job_id("42\n"), Some(42));
        assert_eq!(parse_job_id("42;lab\n"), Some(42));
        assert_eq!(parse_job_id("\n"), None);
        assert_eq!(parse_job_id("Submitted batch job 42"), None);
    }

    #[test]
    fn squeue_lines_are_read_by_column() {
        let found = parse_squeue(
            "12|PENDING|JobHeldUser|000003|/lab/exp|periments/000003\n13|RUNNING|None|000004|/x\n\nnoise\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[&12].state, "PENDING");
        assert_eq!(found[&12].reason.as_deref(), Some("JobHeldUser"));
        assert_eq!(found[&12].name, "000003");
        assert_eq!(found[&12].workdir, "/lab/exp|periments/000003");
        assert_eq!(found[&13].reason, None);
    }

    #[test]
    fn the_exit_code_is_not_the_derived_one() {
        let said = "JobId=5 JobState=FAILED Reason=NonZeroExitCode DerivedExitCode=0:0 ExitCode=3:0 RunTime=00:00:01";
        assert_eq!(parse_exit_code(said), Some((3, 0)));
        assert_eq!(
            parse_exit_code("JobState=CANCELLED ExitCode=0:15"),
            Some((0, 15))
        );
        assert_eq!(parse_exit_code("JobState=COMPLETED"), None);
    }

    #[test]
    fn a_missing_client_is_named() {
        let err = call("seqspool-no-such-client", &[], &[], None).unwrap_err();
        assert!(err.contains("PATH"), "{err}");
    }
}
