//! The client commands as a scientist runs them: the real binary against a
//! real server on port 0, on a server for members (with a token) and on an
//! open one; `--wait` on a pseudo-terminal, where the progress bar is drawn,
//! and on a pipe, where it is not; the exit codes; the 401's advice; an
//! unknown id; results into `--out` and a batch's zip; and the completions
//! and manual pages generated from the same definition. Following never
//! polls: the server's metrics count what the client asked.

use crate::common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use seqspool::config::AccessMode;
use serde_json::Value;

/// What a client command did.
#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `seqspool ARGS` as a client of the server at `addr` (`SEQSPOOL_URL`),
/// without a token or a proxy from the test's environment.
fn client(addr: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seqspool"));
    command
        .args(args)
        .env("SEQSPOOL_URL", format!("http://{addr}"))
        .stdin(Stdio::null());
    for variable in [
        "SEQSPOOL_TOKEN",
        "SEQSPOOL_TOKEN_FILE",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(variable);
    }
    command
}

fn run(command: &mut Command) -> Ran {
    let output = output_within(command);
    Ran {
        code: output.status.code().expect("the client exited, not killed"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `seqspool ARGS` against `addr` and expects exit code `code`.
fn expect(addr: SocketAddr, args: &[&str], code: i32) -> Ran {
    let ran = run(&mut client(addr, args));
    assert_eq!(ran.code, code, "seqspool {args:?}: {ran:#?}");
    ran
}

/// A client command still running, whose output the test reads as it comes.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let into = bytes.clone();
    let reader = thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        // A terminal whose last writer closed reads EIO: its end.
        while let Ok(read @ 1..) = from.read(&mut chunk) {
            into.lock().unwrap().extend_from_slice(&chunk[..read]);
        }
    });
    (bytes, reader)
}

impl Running {
    /// Starts `command` with its output on pipes.
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the client");
        let (stdout, out) = collect(child.stdout.take().unwrap());
        let (stderr, err) = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            readers: vec![out, err],
        }
    }

    /// Starts `command` with its standard error on a pseudo-terminal 100
    /// columns wide, as a person's terminal is; `stderr` is what it shows.
    fn on_a_terminal(mut command: Command) -> Running {
        use rustix::fs::{Mode, OFlags};
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let terminal = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("opening the terminal's side");
        let size = rustix::termios::Winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&terminal, size).unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::from(terminal)))
            .spawn()
            .expect("starting the client");
        // The command holds the terminal's side until dropped: then only
        // the child does, and its exit ends what the master reads.
        drop(command);
        let (stdout, out) = collect(child.stdout.take().unwrap());
        let (stderr, err) = collect(std::fs::File::from(master));
        Running {
            child,
            stdout,
            stderr,
            readers: vec![out, err],
        }
    }

    fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until its standard error shows `text`.
    fn wait_for(&self, text: &str) {
        wait_until(&format!("the client shows {text:?}"), || {
            self.stderr_so_far().contains(text)
        });
    }

    fn finish(mut self) -> Ran {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the client did not finish; it showed:\n{}",
                    self.stderr_so_far()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers {
            reader.join().unwrap();
        }
        Ran {
            code: status.code().expect("the client exited, not killed"),
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        }
    }
}

/// Lets the gated experiment named `name` finish.
fn open_gate(gates: &Path, name: &str) {
    std::fs::write(gates.join(name), "").unwrap();
}

/// A server whose experiments run until their gate is open, that allows one
/// event stream or wait per client: while the client holds its own, the
/// test's `HEAD /events` is refused, which is how the test knows the client
/// is waiting on the server.
fn gated_server_of_one_stream(gates: &Path) -> Server {
    let command = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done; echo done > result.txt",
        gates.display()
    );
    Server::start(move |config| {
        config.command = Some(command);
        config.max_streams = Some(4);
        config.max_streams_per_client = Some(1);
    })
}

fn client_is_waiting(addr: SocketAddr) {
    wait_until("the client holds its wait or its stream", || {
        request(addr, "HEAD", "/events", &[], b"").status == 503
    });
}

fn plate(dir: &Path, names: &[&str]) -> String {
    let path = dir.join("plate.fasta");
    let text: String = names
        .iter()
        .map(|name| format!(">{name} well {name}\nACGTACGTTGCAACGT\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn ids(stdout: &str) -> Vec<String> {
    stdout.lines().map(str::to_owned).collect()
}

#[test]
fn on_a_members_server_submit_wait_shows_a_bar_on_a_terminal_and_results_fetch_the_plate() {
    let tmp = tempfile::tempdir().unwrap();
    let gates = tmp.path().join("gates");
    std::fs::create_dir(&gates).unwrap();
    let command = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done; echo \"$PARAM_EVALUE\" > hits.tsv",
        gates.display()
    );
    let file = tmp.path().join("seqspool.toml");
    let toml = format!(
        "[[pipeline]]\nname = \"blastn\"\ncommand = '''{command}'''\n\
         [[pipeline.param]]\nname = \"evalue\"\ntype = \"number\"\ndefault = 1e-5\nabove = 0\n\
         [[pipeline.result]]\nfile = \"hits.tsv\"\nview = \"table\"\n"
    );
    let server = Server::start(|config| {
        config.access = AccessMode::Members;
        config.apply_file(&toml, &file, None).unwrap();
    });
    let token = add_user(&server.dir, "anna", false);
    let plate = plate(tmp.path(), &["A01", "A02", "A03"]);
    let args = [
        "submit",
        plate.as_str(),
        "--pipeline",
        "blastn",
        "--param",
        "evalue=1e-10",
        "--wait",
    ];

    // Without the token: what to do, and nothing written.
    let refused = expect(server.addr, &args, 3);
    assert!(
        refused.stderr.contains("needs a user")
            && refused.stderr.contains("SEQSPOOL_TOKEN")
            && refused.stderr.contains("seqspool user add NAME"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
    assert!(server.experiment_dirs().is_empty());

    // With it, on a terminal: the ids at once, a bar while they run, 0 at the end.
    let mut command = client(server.addr, &args);
    command.env("SEQSPOOL_TOKEN", &token);
    let running = Running::on_a_terminal(command);
    running.wait_for("0/3 done, 1 running, 2 queued, 0 failed");
    for name in ["A01", "A02"] {
        open_gate(&gates, name);
    }
    running.wait_for("2/3 done, 1 running, 0 queued, 0 failed");
    open_gate(&gates, "A03");
    let ran = running.finish();
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(ids(&ran.stdout), ["000001", "000002", "000003"]);
    assert!(
        ran.stderr.contains("\r\x1b[2K["),
        "a bar redrawn in place: {ran:?}"
    );
    assert_eq!(
        ran.stderr
            .matches(
                "batch 000001: 3 experiments; `seqspool results --batch 000001` fetches their zip"
            )
            .count(),
        1,
        "{ran:?}"
    );
    assert!(
        ran.stderr.trim_end().ends_with("3 experiments COMPLETE"),
        "{:?}",
        ran.stderr
    );
    let record = server.get("/experiments/000002").json();
    assert_eq!(record["submitted_by"], "anna");
    assert_eq!(record["params"]["evalue"], "1e-10", "{record:#}");
    assert_eq!(record["upload"], "plate.fasta", "{record:#}");

    // The batch's zip, under the server's name for it, and one experiment's files.
    let out = tmp.path().join("out");
    let out_arg = out.to_str().unwrap();
    let zip = expect(
        server.addr,
        &["results", "--batch", "1", "--out", out_arg],
        0,
    );
    assert_eq!(
        zip.stdout.trim(),
        out.join("plate-000001.zip").to_str().unwrap()
    );
    let archive =
        zip::ZipArchive::new(std::fs::File::open(out.join("plate-000001.zip")).unwrap()).unwrap();
    let names: Vec<&str> = archive.file_names().collect();
    assert!(names.contains(&"000003-A03/hits.tsv"), "{names:?}");
    let files = expect(server.addr, &["results", "2", "--out", out_arg], 0);
    let hits = out.join("000002-A02/hits.tsv");
    assert!(
        files.stdout.lines().any(|line| Path::new(line) == hits),
        "{files:?}"
    );
    assert_eq!(std::fs::read_to_string(hits).unwrap(), "1e-10\n");
}

#[test]
fn on_a_pipe_wait_draws_nothing_and_one_experiment_is_waited_for_with_one_long_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let server = gated_server_of_one_stream(tmp.path());
    let mut command = client(
        server.addr,
        &[
            "submit",
            "--name",
            "primer",
            "--sequence",
            "ATGGCCTAA",
            "--wait",
        ],
    );
    command.env("SEQSPOOL_TOKEN_FILE", tmp.path().join("none"));
    // A token file that is not there is the user's mistake, said before anything is sent.
    let ran = run(&mut command);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("reading the token file"), "{ran:#?}");

    let running = Running::start(client(
        server.addr,
        &[
            "submit",
            "--name",
            "primer",
            "--sequence",
            "ATGGCCTAA",
            "--wait",
        ],
    ));
    client_is_waiting(server.addr);
    open_gate(tmp.path(), "primer");
    let ran = running.finish();
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(ran.stdout, "000001\n");
    assert_eq!(ran.stderr, "experiment 000001 COMPLETE\n");
    // One read, held by the server until the run ended: no poll, no stream.
    assert_eq!(
        requests_answered(server.addr, "/experiments/{id}", 200),
        1.0
    );
}

#[test]
fn several_experiments_are_followed_on_one_event_stream_and_a_failure_exits_1_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let server = gated_server_of_one_stream(tmp.path());
    let a = server.submit("first", "ACGT");
    let b = server.submit("second", "ACGT");
    let c = server.submit("third", "ACGT");
    let before = requests_answered(server.addr, "/experiments/{id}", 200);

    let running = Running::start(client(server.addr, &["wait", &a, &b, "--json"]));
    client_is_waiting(server.addr);
    let streams = requests_answered(server.addr, "/events", 200);
    open_gate(tmp.path(), "first");
    // The second fails: its command is cancelled.
    // Seen in the queue, not by its record: the test reads no record the client did not.
    wait_until("the second runs", || {
        server.get("/queue").json()["current"] == b.as_str()
    });
    assert_eq!(server.delete(&format!("/experiments/{b}")).status, 202);
    let ran = running.finish();
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(
        ran.stderr.contains("1 of 2 experiments did not complete")
            && ran.stderr.contains(&format!(
                "{b}  second  CANCELED  canceled by a client while it ran"
            )),
        "{}",
        ran.stderr
    );
    let records: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(records[0]["state"], "COMPLETE");
    assert_eq!(records[1]["state"], "CANCELED");
    // Their records read once each, then one stream: no poll, no second stream.
    assert_eq!(
        requests_answered(server.addr, "/experiments/{id}", 200) - before,
        2.0
    );
    assert_eq!(requests_answered(server.addr, "/events", 200), streams);

    // The third, waited for alone (its long poll).
    open_gate(tmp.path(), "third");
    let done = expect(server.addr, &["wait", &c], 0);
    assert_eq!(done.stderr, format!("experiment {c} COMPLETE\n"));
}

#[test]
fn status_and_list_show_tables_tab_separated_lines_or_json_and_an_unknown_id_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(|config| config.access = AccessMode::Members);
    let anna = add_user(&server.dir, "anna", false);
    let ben = add_user(&server.dir, "ben", false);
    let plate = plate(tmp.path(), &["p1", "p2"]);
    let mut submit = client(server.addr, &["submit", &plate, "--wait"]);
    assert_eq!(run(submit.env("SEQSPOOL_TOKEN", &anna)).code, 0);
    let mut submit = client(
        server.addr,
        &["submit", "--sequence", ">solo\nACGT", "--wait"],
    );
    assert_eq!(run(submit.env("SEQSPOOL_TOKEN", &ben)).code, 0);

    let status = expect(server.addr, &["status", "1", "000003"], 0);
    let rows: Vec<Vec<&str>> = status
        .stdout
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{status:?}");
    assert_eq!(
        rows[0][..5],
        ["000001", "COMPLETE", "analysis", "p1", "anna"]
    );
    assert_eq!(
        rows[1][..5],
        ["000003", "COMPLETE", "analysis", "solo", "ben"]
    );

    let unknown = expect(server.addr, &["status", "2", "999999"], 3);
    assert!(
        unknown.stdout.starts_with("000002\tCOMPLETE"),
        "{unknown:?}"
    );
    assert!(
        unknown.stderr.contains("no experiment 999999") && unknown.stderr.contains("404"),
        "{}",
        unknown.stderr
    );

    let batch = expect(server.addr, &["list", "--batch", "1", "--json"], 0);
    let records: Value = serde_json::from_str(&batch.stdout).unwrap();
    let names: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["query_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["p2", "p1"], "newest first");
    let mut mine = client(server.addr, &["list", "--mine"]);
    let mine = run(mine.env("SEQSPOOL_TOKEN", &ben));
    assert_eq!(ids(&mine.stdout).len(), 1, "{mine:?}");
    assert!(mine.stdout.starts_with("000003\t"), "{mine:?}");
    let none = expect(server.addr, &["list", "--state", "queued"], 0);
    assert_eq!(none.stdout, "");
    let limited = expect(server.addr, &["list", "--limit", "2"], 0);
    assert_eq!(ids(&limited.stdout).len(), 2);
    assert!(limited.stderr.contains("--limit"), "{limited:?}");
}

#[test]
fn cancel_retry_and_queue_do_what_the_server_allows_and_say_what_it_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let gates = tmp.path().join("gates");
    std::fs::create_dir(&gates).unwrap();
    let command = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done",
        gates.display()
    );
    let server = Server::start(|config| {
        config.access = AccessMode::Members;
        config.command = Some(command);
    });
    let anna = add_user(&server.dir, "anna", false);
    let boss = add_user(&server.dir, "boss", true);
    let token_file = tmp.path().join("anna.token");
    std::fs::write(&token_file, format!("{anna}\n")).unwrap();
    let as_anna = |args: &[&str]| {
        let mut command = client(server.addr, args);
        command.env("SEQSPOOL_TOKEN_FILE", &token_file);
        run(&mut command)
    };
    let submitted = as_anna(&["submit", &plate(tmp.path(), &["run", "wait"])]);
    assert_eq!(
        ids(&submitted.stdout),
        ["000001", "000002"],
        "{submitted:?}"
    );
    assert!(
        submitted.stderr.contains("others may read the token file"),
        "{submitted:?}"
    );
    wait_for_state(server.addr, "000001", "RUNNING");

    let canceled = as_anna(&["cancel", "2", "1"]);
    assert_eq!(canceled.code, 0, "{canceled:?}");
    assert_eq!(canceled.stdout, "000002 CANCELED\n000001 STOPPING\n");
    wait_for_state(server.addr, "000001", "CANCELED");
    let again = as_anna(&["cancel", "1"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "000001 CANCELED\n")
    );

    let retried = as_anna(&["retry", "1"]);
    assert_eq!(
        (retried.code, retried.stdout.as_str()),
        (0, "000003\n"),
        "{retried:?}"
    );
    open_gate(&gates, "run");
    let done = as_anna(&["wait", "3"]);
    assert_eq!(done.code, 0, "{done:?}");
    let finished = as_anna(&["cancel", "3"]);
    assert_eq!(finished.code, 3, "{finished:?}");
    assert!(
        finished.stderr.contains("has finished (COMPLETE)"),
        "{finished:?}"
    );
    let complete = as_anna(&["retry", "3"]);
    assert_eq!(complete.code, 3, "{complete:?}");
    assert!(
        complete.stderr.contains("there is nothing to run again"),
        "{complete:?}"
    );

    let queue = expect(server.addr, &["queue"], 0);
    assert!(queue.stdout.contains("paused    no\n"), "{queue:?}");
    let member = as_anna(&["queue", "pause", "--reason", "swapping the GPU"]);
    assert_eq!(member.code, 3, "{member:?}");
    assert!(member.stderr.contains("only an admin"), "{member:?}");
    let mut pause = client(
        server.addr,
        &["queue", "pause", "--reason", "swapping the GPU"],
    );
    let paused = run(pause.env("SEQSPOOL_TOKEN", &boss));
    assert_eq!(paused.code, 0, "{paused:?}");
    assert!(
        paused.stdout.contains("by boss: swapping the GPU"),
        "{paused:?}"
    );
    let json = expect(server.addr, &["queue", "--json"], 0);
    assert_eq!(
        serde_json::from_str::<Value>(&json.stdout).unwrap()["paused"],
        true
    );
    let mut resume = client(server.addr, &["queue", "resume"]);
    let resumed = run(resume.env("SEQSPOOL_TOKEN", &boss));
    assert!(resumed.stdout.contains("paused    no\n"), "{resumed:?}");
}

#[test]
fn results_of_an_unfinished_experiment_exit_5_and_a_failed_ones_files_come_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let gates = tmp.path().join("gates");
    std::fs::create_dir(&gates).unwrap();
    let command = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done; echo oops >&2; exit 3",
        gates.display()
    );
    let server = Server::start(move |config| config.command = Some(command));
    let id = server.submit("doomed", "ACGT");
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let unfinished = expect(server.addr, &["results", &id, "--out", out], 5);
    assert!(
        unfinished.stderr.contains("seqspool wait 000001"),
        "{unfinished:?}"
    );
    let no_batch = expect(server.addr, &["results", "--batch", &id, "--out", out], 3);
    assert!(no_batch.stderr.contains("no batch"), "{no_batch:?}");

    open_gate(&gates, "doomed");
    let failed = expect(server.addr, &["wait", &id], 1);
    assert!(
        failed
            .stderr
            .contains("EXECUTOR_ERROR  the command exited with code 3"),
        "{failed:?}"
    );
    let fetched = expect(server.addr, &["results", &id, "--out", out], 1);
    let stderr_file = Path::new(out).join("000001-doomed/stderr.txt");
    assert!(
        fetched.stdout.contains(stderr_file.to_str().unwrap()),
        "{fetched:?}"
    );
    assert_eq!(std::fs::read_to_string(stderr_file).unwrap(), "oops\n");
}

#[test]
fn submit_takes_standard_input_and_usage_errors_and_an_unreachable_server_have_their_codes() {
    let server = Server::start(|_| {});
    let mut command = client(server.addr, &["submit", "-", "--json"]);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b">from-stdin\nACGTTGCA\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["query_name"], "from-stdin");

    let refused = expect(
        server.addr,
        &["submit", "--name", "bad", "--sequence", "ACGT@"],
        3,
    );
    assert!(
        refused.stderr.contains("invalid character '@'") && refused.stderr.contains("422"),
        "{refused:?}"
    );
    for (args, says) in [
        (&["submit"][..], "required"),
        (&["submit", "--sequence", "ACGT"], "--name NAME"),
        (
            &["submit", "--sequence", "ACGT", "--param", "evalue"],
            "NAME=VALUE",
        ),
        (
            &["submit", "/no/such/plate.fasta"],
            "reading /no/such/plate.fasta",
        ),
        (&["status", "abc"], "not an experiment id"),
        (&["wait"], "required"),
        (&["list", "--state", "done"], "not a state"),
        (&["status", "1", "--server", "https://lab-ws"], "plain http"),
    ] {
        let ran = expect(server.addr, args, 2);
        assert!(ran.stderr.contains(says), "{args:?}: {ran:?}");
    }

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let ran = expect(addr, &["status", "1"], 4);
    assert!(ran.stderr.contains("is the server running"), "{ran:?}");
}

#[test]
fn completions_and_manual_pages_are_generated_for_every_command() {
    let commands = [
        "serve",
        "submit",
        "status",
        "list",
        "wait",
        "results",
        "cancel",
        "retry",
        "queue",
        "user",
        "retention",
    ];
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = expect(addr, &["completions", shell], 0).stdout;
        for command in commands {
            assert!(script.contains(command), "{shell}: {command}");
        }
        assert!(
            !script.contains("__runner"),
            "{shell}: the runner is hidden"
        );
    }
    let bash = expect(addr, &["completions", "bash"], 0).stdout;
    if on_path("bash") {
        let checked = Command::new("bash")
            .args(["-c", "source /dev/stdin && complete -p seqspool"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(bash.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(checked.status.success(), "{checked:?}");
        assert!(String::from_utf8_lossy(&checked.stdout).contains("seqspool"));
    }
    expect(addr, &["completions", "tcsh"], 2);

    let page = expect(addr, &["man"], 0).stdout;
    assert!(page.contains(".TH seqspool 1"), "{page}");
    for command in commands {
        assert!(page.contains(command), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let written = expect(addr, &["man", "--out", dir.path().to_str().unwrap()], 0);
    for command in [
        "seqspool",
        "seqspool-submit",
        "seqspool-queue-pause",
        "seqspool-user-add",
    ] {
        let path = dir.path().join(format!("{command}.1"));
        assert!(
            written.stdout.contains(path.to_str().unwrap()),
            "{written:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(".TH"), "{command}");
    }
    let submit = std::fs::read_to_string(dir.path().join("seqspool-submit.1")).unwrap();
    assert!(
        submit.contains("SEQSPOOL_TOKEN") && submit.contains("Exit status"),
        "{submit}"
    );
    assert!(!dir.path().join("seqspool-__runner.1").exists());
}
