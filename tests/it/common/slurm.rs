//! A real Slurm cluster on this machine, for the Slurm executor's tests: its
//! own munge daemon (key, socket and state in a private directory), a
//! controller and one node (this host) on a private pair of ports, state and
//! spool in that directory. It is started once per run of the tests, on first use,
//! and `SLURM_CONF` names its configuration for the servers under test.
//!
//! The daemons outlive any one test, so a guardian stops them: a shell in a
//! process group of its own, reading a pipe that only this process holds.
//! When the tests' process exits, however it exits, the pipe closes, and the
//! guardian cancels every job, stops the daemons and removes the directory.
//!
//! It needs Debian's `munge`, `slurmctld`, `slurmd` and `slurm-client`, and
//! root (the node runs jobs as their user): a test marked
//! `seqspool_test_slurm` (see `common`'s doc) gets it from [`cluster`], which
//! fails the test when the cluster cannot start.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::missing;

/// How long the cluster may take to come up: it takes a few seconds.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// The programs the cluster needs.
const PROGRAMS: [&str; 8] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scontrol",
    "scancel",
    "sinfo",
];

/// CPUs the node offers (more than this machine has: jobs here mostly sleep),
/// so that jobs of tests running side by side never wait for one another.
const NODE_CPUS: u32 = 16;

/// The test cluster.
pub struct Cluster {
    /// Its `slurm.conf`: the value of `SLURM_CONF`.
    pub conf: PathBuf,
    dir: PathBuf,
    /// Tests that stop the controller hold it alone; the others share it.
    turns: RwLock<()>,
    /// Closing it (when the process exits) makes the guardian stop the cluster.
    _guardian: Mutex<(Child, ChildStdin)>,
}

/// The cluster, started on first use; fails the test (see [`missing`]) when
/// it cannot start.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match CLUSTER.get_or_init(Cluster::start) {
        Ok(cluster) => cluster,
        Err(why) => missing(
            "slurm",
            &format!(
                "the test Slurm cluster did not start: {why} (Debian: apt-get install munge \
                 slurmctld slurmd slurm-client, and run the tests as root)"
            ),
        ),
    }
}

/// The full path of `program`: on the PATH, or in an `sbin` directory a
/// user's PATH may lack.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port nobody listens on now.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("finding a free port: {err}"))
}

impl Cluster {
    fn start() -> Result<Cluster, String> {
        let missing: Vec<&str> = PROGRAMS
            .into_iter()
            .filter(|name| program(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!("{} not found", missing.join(", ")));
        }
        if !rustix::process::geteuid().is_root() {
            return Err("the tests do not run as root, which slurmd needs".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("seqspool-slurm.")
            .tempdir()
            .map_err(|err| format!("making the cluster's directory: {err}"))?
            .keep();
        let made = Cluster::make(&dir);
        if made.is_err() {
            // Nothing may be left running; the guardian, if it started, cleans up.
            let _ = std::fs::remove_dir_all(&dir);
        }
        made
    }

    fn make(dir: &Path) -> Result<Cluster, String> {
        let fail = |what: &str, err: std::io::Error| format!("{what}: {err}");
        let munge = dir.join("munge");
        for sub in [&munge, &dir.join("state"), &dir.join("spool")] {
            std::fs::create_dir_all(sub).map_err(|e| fail("making a directory", e))?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&munge, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("securing munge's directory", e))?;
        let key = munge.join("munge.key");
        let mut bytes = vec![0u8; 1024];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom")
                .map_err(|e| fail("opening /dev/urandom", e))?,
            &mut bytes,
        )
        .map_err(|e| fail("reading /dev/urandom", e))?;
        std::fs::write(&key, &bytes).map_err(|e| fail("writing munge's key", e))?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400))
            .map_err(|e| fail("securing munge's key", e))?;
        let socket = munge.join("munge.socket");
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let host = host.split('.').next().unwrap_or(&host).to_owned();
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        let (ctld_port, node_port) = (free_port()?, free_port()?);
        let at = |name: &str| dir.join(name).display().to_string();
        let conf = dir.join("slurm.conf");
        std::fs::write(dir.join("plugstack.conf"), "")
            .map_err(|e| fail("writing plugstack.conf", e))?;
        std::fs::write(
            &conf,
            format!(
                "# The seqspool tests' private cluster: one node, this host.\n\
                 ClusterName=seqspooltest\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={ctld_port}\n\
                 SlurmdPort={node_port}\n\
                 SlurmUser={user}\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 CredType=cred/munge\n\
                 AuthInfo=socket={socket}\n\
                 StateSaveLocation={state}\n\
                 SlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={ctld_pid}\n\
                 SlurmdPidFile={node_pid}\n\
                 SlurmctldLogFile={ctld_log}\n\
                 SlurmdLogFile={node_log}\n\
                 PlugStackConfig={plugstack}\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_Core\n\
                 SlurmdParameters=config_overrides\n\
                 AccountingStorageType=accounting_storage/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 JobCompType=jobcomp/none\n\
                 MpiDefault=none\n\
                 SwitchType=switch/none\n\
                 MailProg=/bin/true\n\
                 ReturnToService=2\n\
                 KillWait=5\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory=4000 State=UNKNOWN\n\
                 PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                socket = socket.display(),
                state = at("state"),
                spool = at("spool"),
                ctld_pid = at("slurmctld.pid"),
                node_pid = at("slurmd.pid"),
                ctld_log = at("slurmctld.log"),
                node_log = at("slurmd.log"),
                plugstack = at("plugstack.conf"),
            ),
        )
        .map_err(|e| fail("writing slurm.conf", e))?;

        // The guardian first: from here on, whatever starts is stopped at exit.
        let mut guardian = Command::new("/bin/sh")
            .arg("-c")
            .arg(
                r#"cat >/dev/null
scancel --quiet --user="$(id -un)" 2>/dev/null
sleep 1
for pid in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
done
sleep 1
cd / && rm -rf "$CLUSTER_DIR""#,
            )
            .current_dir(dir)
            .env("SLURM_CONF", &conf)
            .env("CLUSTER_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| fail("starting the cluster's guardian", e))?;
        let pipe = guardian
            .stdin
            .take()
            .expect("the guardian's input is a pipe");
        let cluster = Cluster {
            conf: conf.clone(),
            dir: dir.to_owned(),
            turns: RwLock::new(()),
            _guardian: Mutex::new((guardian, pipe)),
        };

        let munged = program("munged").unwrap();
        cluster.daemon(
            Command::new(munged)
                .arg("--force")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--key-file={}", key.display()))
                .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
                .arg(format!(
                    "--seed-file={}",
                    munge.join("munged.seed").display()
                ))
                .arg(format!("--log-file={}", munge.join("munged.log").display())),
            "munged",
        )?;
        cluster.start_controller()?;
        cluster.daemon(
            Command::new(program("slurmd").unwrap())
                .arg("-f")
                .arg(&conf)
                .arg("-N")
                .arg(&host),
            "slurmd",
        )?;
        cluster.wait_for("the node to be idle", || {
            cluster
                .client("sinfo", &["--noheader", "--Node", "--format=%T"])
                .is_ok_and(|said| said.trim() == "idle")
        })?;
        Ok(cluster)
    }

    /// Starts a daemon, which forks into the background; fails with its log's end.
    fn daemon(&self, command: &mut Command, name: &str) -> Result<(), String> {
        let status = command
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|err| format!("starting {name}: {err}"))?;
        if status.status.success() {
            return Ok(());
        }
        Err(format!(
            "{name} did not start ({}): {}{}",
            status.status,
            String::from_utf8_lossy(&status.stderr),
            self.logs()
        ))
    }

    /// The end of the daemons' logs, for a failure's message.
    fn logs(&self) -> String {
        let mut said = String::new();
        for log in ["munge/munged.log", "slurmctld.log", "slurmd.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(log)) {
                let lines: Vec<&str> = text.lines().collect();
                said.push_str(&format!("\n--- {log}:\n"));
                said.push_str(&lines[lines.len().saturating_sub(15)..].join("\n"));
            }
        }
        said
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + START_PATIENCE;
        while !done() {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}{}", self.logs()));
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Runs a Slurm client command against this cluster; what it printed, or why it failed.
    pub fn client(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let output = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("{program}: {err}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// A turn among the tests that leave the controller alone (they run side by side).
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.turns.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The cluster alone, for a test that stops the controller.
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.turns.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the controller (SIGTERM, as an operator would) and waits until it is gone.
    pub fn stop_controller(&self) {
        let pid_file = self.dir.join("slurmctld.pid");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the controller's pid file")
            .trim()
            .parse()
            .expect("a pid");
        let pid = rustix::process::Pid::from_raw(pid).expect("a positive pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + START_PATIENCE;
        while rustix::process::test_kill_process(pid).is_ok() {
            assert!(Instant::now() < deadline, "the controller did not stop");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the controller (again) and waits until it answers.
    pub fn start_controller(&self) -> Result<(), String> {
        self.daemon(
            Command::new(program("slurmctld").unwrap())
                .arg("-f")
                .arg(&self.conf),
            "slurmctld",
        )?;
        self.wait_for("the controller to answer", || {
            self.client("squeue", &["--noheader"]).is_ok()
        })
    }

    /// What Slurm says of a job: `(state, reason)`, or `None` if it does not know it.
    pub fn job(&self, job_id: u64) -> Option<(String, String)> {
        let said = self
            .client(
                "squeue",
                &[
                    "--noheader",
                    "--states=all",
                    &format!("--jobs={job_id},{job_id}"),
                    "--format=%T|%r",
                ],
            )
            .ok()?;
        let line = said.lines().next()?;
        let (state, reason) = line.split_once('|')?;
        Some((state.trim().to_owned(), reason.trim().to_owned()))
    }

    /// Cancels every job working under `dir` (a test's directory), so that
    /// none outlives the test that made it.
    pub fn cancel_jobs_under(&self, dir: &Path) {
        let Ok(said) = self.client(
            "squeue",
            &[
                "--noheader",
                "--states=PENDING,RUNNING,CONFIGURING",
                "--format=%i|%Z",
            ],
        ) else {
            return;
        };
        for line in said.lines() {
            if let Some((id, workdir)) = line.split_once('|') {
                if Path::new(workdir.trim()).starts_with(dir) {
                    let _ = self.client("scancel", &[id.trim()]);
                }
            }
        }
    }
}
