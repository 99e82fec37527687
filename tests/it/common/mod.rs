//! What the end-to-end tests share: a [`Lab`] (a test's scratch directory:
//! experiments, configuration file, logs), a real server on port 0 on it
//! ([`Server`] in this process, stopped on drop; [`Binary`], the real
//! binary, for crashes, signals and logs), the one way to run the binary
//! ([`seqspool`]) and to add a user ([`add_user`]), an HTTP client (ureq,
//! set up to show exactly what the server answered), the answer to a request
//! a test writes byte for byte itself, one check of error answers, a reader
//! of `/proc/PID/stat`, and waiting with a deadline; in [`blast`], BLAST+ and
//! its databases; in [`slurm`], a real Slurm cluster on this machine.
//!
//! # Tests that need an outside tool
//!
//! BLAST+ (`blast`), chromium and chromedriver (`chromium`), `python3`, the
//! Python packages of `tests/requirements.txt` (`python-packages`), a Slurm
//! cluster (`slurm`) and root to mount a tmpfs (`tmpfs`) are outside tools.
//! `build.rs` looks for each when the tests are built and sets a `cfg`
//! (`seqspool_test_blast`, `seqspool_test_chromium`, `seqspool_test_python3`,
//! `seqspool_test_python_packages`, `seqspool_test_slurm`,
//! `seqspool_test_tmpfs`) for each it finds and each `SEQSPOOL_TEST_REQUIRE`
//! names (CI names them all). A test that needs tools says so once, above
//! itself, and gets each tool from the helper that fails when it is missing:
//!
//! ```ignore
//! #[test]
//! #[cfg_attr(
//!     not(all(seqspool_test_blast, seqspool_test_python_packages)),
//!     ignore = "needs NCBI BLAST+ and tests/requirements.txt in .venv"
//! )]
//! fn biopython_finds_the_hit() {
//!     need_blast();
//!     let python = python_with("Bio.Blast.NCBIWWW");
//!     ...
//! }
//! ```
//!
//! The helpers: [`blast::need_blast`], [`python3`], [`python_with`],
//! [`slurm::cluster`], the browser tests' `Browser::start` and the fault
//! tests' `Tmpfs::mount`. Without its tool a test is reported *ignored*,
//! with the reason; it never passes. When it runs all the same (the tool was
//! required, or the test was asked for with `--ignored`) and the tool is not
//! there, the helper fails it through [`missing`], naming the tool and how to
//! install it: no test returns early as if it had passed.

pub mod blast;
pub mod slurm;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use seqspool::Config;
use serde_json::Value;
use tempfile::TempDir;

/// How long a test waits for something that should happen within moments.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A server whose experiments each run until `gates` holds a file named
/// after them (`std::fs::write(gates.join(name), "")` lets one finish).
pub fn gated_server(gates: &Path) -> Server {
    let command = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done",
        gates.display()
    );
    Server::start(move |config| config.command = Some(command))
}

/// Pauses the queue of the server at `addr` (`POST /queue/pause`) with
/// `reason` (already encoded for a query string), expecting 200.
pub fn pause_queue(addr: SocketAddr, reason: &str) {
    let paused = request(
        addr,
        "POST",
        &format!("/queue/pause?reason={reason}"),
        &[],
        b"",
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
}

/// What a browser (Chromium) sends when it asks for a page.
pub const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The lab's configuration file, in its directory.
const LAB_TOML: &str = "lab.toml";

/// The log the lab's commands append to, in its directory.
const RUN_LOG: &str = "run.log";

/// A test's lab: a scratch directory holding the experiments directory, the
/// lab's configuration file (`lab.toml`), and the logs and pid files its
/// commands write; removed on drop. Its servers run on its experiments
/// directory with `lab.toml` once one is written: [`Lab::server`] in this
/// process, [`Lab::binary`] the real binary.
pub struct Lab {
    tmp: TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The lab's directory.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `name` in the lab's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The experiments directory (its first server makes it).
    pub fn experiments(&self) -> PathBuf {
        self.path("experiments")
    }

    /// Writes `lab.toml` with `text`, where `@LAB@` stands for the lab's
    /// directory and `@LOG@` for its run log; returns its path.
    pub fn config(&self, text: &str) -> PathBuf {
        let path = self.path(LAB_TOML);
        let text = text
            .replace("@LOG@", &self.path(RUN_LOG).display().to_string())
            .replace("@LAB@", &self.dir().display().to_string());
        std::fs::write(&path, text).expect("writing lab.toml");
        path
    }

    /// The lines of the run log, as the commands have written them so far.
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path(RUN_LOG))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A server in this process, with `lab.toml` if one was written (read as
    /// `--config` reads it), then `configure`.
    pub fn server(&self, configure: impl FnOnce(&mut Config)) -> Server {
        let file = self.path(LAB_TOML);
        let text = std::fs::read_to_string(&file).ok();
        Server::start_in(&self.experiments(), move |config| {
            if let Some(text) = text {
                config
                    .apply_file(&text, &file, None)
                    .unwrap_or_else(|err| panic!("lab.toml: {err}"));
            }
            configure(config);
        })
    }

    /// The command that starts the real binary with `args`, and with
    /// `--config lab.toml` if one was written (see [`Binary::command`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Binary::command(&self.experiments(), args);
        let file = self.path(LAB_TOML);
        if file.is_file() {
            command.arg("--config").arg(file);
        }
        command
    }

    /// The real binary with `args` (and `lab.toml`), once it listens.
    pub fn binary(&self, args: &[&str]) -> Binary {
        Binary::spawn(self.command(args))
    }
}

/// A seqspool server running in this process, stopped (gracefully) on drop.
pub struct Server {
    pub addr: SocketAddr,
    /// The experiments directory.
    pub dir: PathBuf,
    _lab: Option<Lab>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), seqspool::Error>>>,
}

impl Server {
    /// Starts a server in a lab of its own; `configure` changes the defaults.
    pub fn start(configure: impl FnOnce(&mut Config)) -> Server {
        let lab = Lab::new();
        let mut server = Server::start_in(&lab.experiments(), configure);
        server._lab = Some(lab);
        server
    }

    /// Starts a server on an experiments directory the test owns.
    pub fn start_in(dir: &Path, configure: impl FnOnce(&mut Config)) -> Server {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut config = Config::new(dir);
        // The server runs in this test's process: its commands are run by the real binary.
        config.runner = Some(SEQSPOOL.into());
        configure(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("binding port 0");
                ready.send(listener.local_addr().unwrap()).unwrap();
                seqspool::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = bound.recv().expect("the server thread reports its address");
        let server = Server {
            addr,
            dir: dir.to_owned(),
            _lab: None,
            stop: Some(stop),
            thread: Some(thread),
        };
        // run() recovers the directory before it serves: wait until it answers.
        wait_until("the server answers", || {
            try_request(addr, "GET", "/backlog", &[], b"").is_ok()
        });
        server
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    pub fn delete(&self, path: &str) -> Response {
        request(self.addr, "DELETE", path, &[], b"")
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        post_form(self.addr, path, fields)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        request(
            self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    /// Submits one query to `POST /experiments` and returns its id.
    pub fn submit(&self, name: &str, sequence: &str) -> String {
        submit(self.addr, name, sequence)
    }

    /// Waits until experiment `id` is in `state`, and returns its record.
    pub fn wait_for_state(&self, id: &str, state: &str) -> Value {
        wait_for_state(self.addr, id, state)
    }

    /// The experiment directories on disk, sorted (what a client can see was written).
    pub fn experiment_dirs(&self) -> Vec<String> {
        experiment_dirs(&self.dir)
    }

    /// Stops the server gracefully and returns what `run` returned.
    pub fn stop(mut self) -> Result<(), seqspool::Error> {
        self.shut_down().expect("the server was running")
    }

    fn shut_down(&mut self) -> Option<Result<(), seqspool::Error>> {
        let _ = self.stop.take()?.send(());
        Some(
            self.thread
                .take()?
                .join()
                .expect("the server thread panicked"),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(Err(err)) = self.shut_down() {
            if !thread::panicking() {
                panic!("the server stopped with an error: {err}");
            }
        }
    }
}

/// The real `seqspool` binary, built for these tests: the one every test
/// runs, as the runner of the servers in this process and as a process of
/// its own.
pub const SEQSPOOL: &str = env!("CARGO_BIN_EXE_seqspool");

/// The one way to run the real binary: a command for [`SEQSPOOL`] with
/// standard input closed and none of the `SEQSPOOL_*` settings of the shell
/// that runs the tests (a developer's own server's) in its environment.
pub fn seqspool() -> Command {
    let mut command = Command::new(SEQSPOOL);
    command.stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SEQSPOOL_") && !name.starts_with("SEQSPOOL_TEST_") {
            command.env_remove(&*name);
        }
    }
    command
}

/// The real `seqspool` binary serving, for tests that need a real process
/// death, signals or its log. It is killed (SIGKILL) on drop if still running.
pub struct Binary {
    pub addr: SocketAddr,
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Binary {
    /// Starts the binary on port 0 with `args` and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Binary {
        Binary::spawn(Binary::command(dir, args))
    }

    /// Starts the binary as `command` says (see [`Binary::command`]) and
    /// waits until it listens.
    pub fn spawn(mut command: Command) -> Binary {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the seqspool binary");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_found, addr) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let collected = log.clone();
        thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = addr_found.send(rest.trim().parse::<SocketAddr>().unwrap());
                }
                let mut log = collected.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match addr.recv_timeout(PATIENCE) {
            Ok(addr) => addr,
            Err(_) => panic!(
                "the binary did not start listening; its log:\n{}",
                log.lock().unwrap()
            ),
        };
        Binary { addr, child, log }
    }

    /// The command that starts the binary (for tests that expect it to fail).
    pub fn command(dir: &Path, args: &[&str]) -> Command {
        let mut command = seqspool();
        command
            .args(["--bind", "127.0.0.1:0", "--experiments"])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` to the server process.
    pub fn signal(&self, signal: rustix::process::Signal) {
        // Our own child, not reaped yet: its pid is still its own.
        let _ =
            rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal);
    }

    /// Waits for the process to exit and returns its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not exit; its log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    pub fn crash(&mut self) {
        self.signal(rustix::process::Signal::KILL);
        self.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}), status {}: {}", self.status, self.text())
        })
    }
}

/// An HTTP client that reports what the server said, whatever it said: a 4xx
/// or 5xx is an answer, not an error; a redirect is returned, not followed
/// (tests check the 303 and its `Location`); no proxy from the environment
/// stands in between; and it adds no `Accept` (ureq's default is `*/*`) nor
/// `Accept-Encoding`, so the server's content negotiation sees only the headers
/// a test sends. It keeps no connection for reuse: every request has its own,
/// as a one-off client's would, and a server a test stopped leaves nothing
/// behind in a pool. `timeout` bounds each whole exchange.
pub fn http_client(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .accept("")
        .accept_encoding("")
        .max_idle_connections(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// The client for requests to the servers under test.
static CLIENT: LazyLock<ureq::Agent> = LazyLock::new(|| http_client(PATIENCE));

/// Sends one request and reads the whole answer; panics if the server does not answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|err| panic!("{method} {path}: no answer from {addr}: {err}"))
}

/// Sends one request to the server at `addr` and reads the whole answer. A
/// body goes with its `Content-Length`; an empty one (`b""`) is no body at
/// all, except on a POST, which says `Content-Length: 0`.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, ureq::Error> {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if body.is_empty() && method != "POST" {
        exchange(&CLIENT, request.body(())?)
    } else {
        exchange(&CLIENT, request.body(body)?)
    }
}

/// Sends `request` with `client` and reads the whole answer.
pub fn exchange(
    client: &ureq::Agent,
    request: ureq::http::Request<impl ureq::AsSendBody>,
) -> Result<Response, ureq::Error> {
    let answer = client.run(request)?;
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    // No size limit: a test reads whole files of any size.
    let body = answer.into_body().into_with_config().read_to_vec()?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Reads the answer to a request a test wrote on `stream` itself (with
/// `Connection: close`), for the few requests no client library sends: the
/// answer may come, and the server close, before the test has sent its whole
/// body, so the stream may end in a reset after the answer; what arrived
/// before is the answer. It must have a `Content-Length` (error answers do),
/// and all of its body must have arrived.
pub fn read_raw_answer(stream: &mut TcpStream) -> Response {
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("setting a read timeout");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let shown = || String::from_utf8_lossy(&raw).into_owned();
    let mut names = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut names);
    let end = match head.parse(&raw) {
        Ok(httparse::Status::Complete(end)) => end,
        other => panic!("not a whole answer head ({other:?}): {:?}", shown()),
    };
    let status = head.code.expect("a parsed answer has a status");
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|header| {
            (
                header.name.to_owned(),
                String::from_utf8_lossy(header.value).into_owned(),
            )
        })
        .collect();
    let answer = Response {
        status,
        headers,
        body: raw[end..].to_vec(),
    };
    let length = answer
        .header("Content-Length")
        .and_then(|length| length.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("an answer without a Content-Length: {:?}", shown()));
    assert_eq!(
        answer.body.len(),
        length,
        "the answer's body did not arrive whole: {:?}",
        shown()
    );
    answer
}

/// `POST path` to `server` with `body` as `content_type`.
pub fn post(server: &Server, path: &str, content_type: &str, body: &[u8]) -> Response {
    request(
        server.addr,
        "POST",
        path,
        &[("Content-Type", content_type)],
        body,
    )
}

/// A FASTA text to `POST /experiments`.
pub fn post_fasta(server: &Server, text: &str) -> Response {
    post(server, "/experiments", "text/x-fasta", text.as_bytes())
}

pub fn post_form(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> Response {
    let body = serde_urlencoded::to_string(fields).unwrap();
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

/// Submits one query to `POST /experiments`, expecting 202, and returns its id.
pub fn submit(addr: SocketAddr, name: &str, sequence: &str) -> String {
    let answer = post_form(
        addr,
        "/experiments",
        &[("query_name", name), ("query_sequence", sequence)],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

pub fn wait_for_state(addr: SocketAddr, id: &str, state: &str) -> Value {
    let mut last = Value::Null;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        last = request(addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
        if last["state"] == state {
            return last;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("experiment {id} did not reach {state}; its record: {last:#}");
}

/// How many requests to `route` (a pattern of the routes table, such as
/// `/experiments/{id}`) the server at `addr` has answered with `status`, by
/// its metrics: what a client asked for, whatever it printed.
pub fn requests_answered(addr: SocketAddr, route: &str, status: u16) -> f64 {
    request(addr, "GET", "/metrics", &[], b"")
        .text()
        .lines()
        .filter(|line| {
            line.starts_with("seqspool_http_requests_total{")
                && line.contains(&format!("route=\"{route}\""))
                && line.contains(&format!("status=\"{status}\""))
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Checks an error answer and returns its JSON body: its status is `status`,
/// it is JSON (`{msg, status_code, field?}`) with that `status_code`, its
/// `field` is `field` (and absent for `None`: no one field is at fault), and
/// its `msg` is not empty and holds every one of `parts`. `what` names the case
/// in a failure.
pub fn assert_error(
    answer: &Response,
    status: u16,
    field: Option<&str>,
    parts: &[&str],
    what: &str,
) -> Value {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    assert!(
        answer
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{what}: the error is not JSON: {:?}",
        answer.headers
    );
    let body = answer.json();
    let msg = body["msg"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no msg in {body}"));
    assert!(!msg.trim().is_empty(), "{what}: an empty msg");
    assert_eq!(body["status_code"], status, "{what}: {body}");
    match field {
        Some(field) => assert_eq!(body["field"], field, "{what}: {body}"),
        None => assert!(
            body.get("field").is_none(),
            "{what}: no one field is at fault: {body}"
        ),
    }
    for part in parts {
        assert!(
            msg.contains(part),
            "{what}: the message {msg:?} does not mention {part:?}"
        );
    }
    body
}

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The experiment directories under `dir`, sorted.
pub fn experiment_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The record of experiment `id` as it is on disk in the experiments directory `dir`.
pub fn record_on_disk(dir: &Path, id: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(id).join("experiment.json"))
        .unwrap_or_else(|err| panic!("reading {id}/experiment.json: {err}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{id}/experiment.json is not JSON ({err}): {text}"))
}

/// Writes `record` as experiment `id`'s record in `dir`, as if the server had
/// (only while no server runs on `dir`).
pub fn write_record(dir: &Path, id: &str, record: &Value) {
    let path = dir.join(id).join("experiment.json");
    std::fs::write(&path, serde_json::to_vec_pretty(record).unwrap())
        .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
}

/// Everything under `dir` (names of all entries, recursively, hidden ones too),
/// for checking that a refused request changed nothing.
pub fn snapshot(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                let path = entry.path();
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(path);
                }
            }
        }
    }
    found.sort();
    found
}

/// Fails a test whose outside tool `tool` (as `build.rs` and
/// `SEQSPOOL_TEST_REQUIRE` name it) is not there after all; `why` says what
/// is missing and how to install it. See the module's doc.
pub fn missing(tool: &str, why: &str) -> ! {
    panic!(
        "this test needs {tool}: {why}. It ran because {tool} was found or required \
         (SEQSPOOL_TEST_REQUIRE) when the tests were built, or because it was asked for \
         with --ignored; a test whose tool is missing fails, it never passes"
    )
}

/// Whether `program` can be found on the PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `python3`, for a test marked `seqspool_test_python3`; fails the test
/// (see [`missing`]) when it is not on the PATH.
pub fn python3() -> &'static str {
    if !on_path("python3") {
        missing(
            "python3",
            "python3 is not on the PATH (Debian: apt-get install python3)",
        );
    }
    "python3"
}

/// Runs `command` to its end and returns what it printed; panics (after
/// killing it) if it is still running after [`PATIENCE`], so a server that
/// should have refused to start fails the test instead of hanging it.
pub fn output_within(command: &mut Command) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a command");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} was still running after {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Reads the pid a command wrote into `file`, waiting until it has.
pub fn read_pid(file: &Path) -> i32 {
    let mut pid = None;
    wait_until(&format!("{} holds a pid", file.display()), || {
        pid = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

/// Whether process `pid` exists and has not ended (see [`ProcStat::ended`]).
/// A pid alone can be given again to another process: [`Process`] can tell.
pub fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|stat| !stat.ended())
}

/// A process seen alive once, known by its pid and its start time
/// (`/proc/PID/stat` field 22), so that a pid given again to a stranger is
/// never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    start_ticks: u64,
}

impl Process {
    /// The process whose pid a command wrote into `file` (waiting until it
    /// has); it must be alive now.
    pub fn from_pid_file(file: &Path) -> Process {
        let pid = read_pid(file);
        match proc_stat(pid) {
            Some(stat) if !stat.ended() => Process {
                pid,
                start_ticks: stat.start_ticks,
            },
            _ => panic!("process {pid} (from {}) is not running", file.display()),
        }
    }

    /// Whether it has ended: no such process, one that ended but was not
    /// reaped yet, or its pid now belongs to another process.
    pub fn is_gone(&self) -> bool {
        match proc_stat(self.pid) {
            None => true,
            Some(stat) => stat.ended() || stat.start_ticks != self.start_ticks,
        }
    }

    /// Kills it if it is still alive: clean-up after a test that failed half-way.
    pub fn kill(&self) {
        if !self.is_gone() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Processes a test expects to end: any still alive when it is dropped are
/// killed, so that a test that fails half-way leaves nothing running.
pub struct Leftovers(pub Vec<Process>);

impl Leftovers {
    /// Whether every one has ended.
    pub fn all_gone(&self) -> bool {
        self.0.iter().all(Process::is_gone)
    }

    /// Whether none has ended.
    pub fn none_gone(&self) -> bool {
        self.0.iter().all(|process| !process.is_gone())
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.0.iter().for_each(Process::kill);
    }
}

/// What a test needs of `/proc/PID/stat`.
struct ProcStat {
    /// Field 3: `R`, `S`, `D`, ..., `Z` (zombie), `X` (dead).
    state: char,
    /// Field 22: when the process started, in clock ticks after boot.
    start_ticks: u64,
}

impl ProcStat {
    /// Whether the process has ended and only waits to be reaped: a zombie
    /// (nobody reaped it yet) or dead (being reaped).
    fn ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Reads `/proc/PID/stat`, counting fields from the last `)` because the
/// command name may hold spaces; `None` if there is no such process.
fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// The Python that has the tests' Python packages (`tests/requirements.txt`),
/// for a test marked `seqspool_test_python_packages`: `SEQSPOOL_TEST_PYTHON`
/// when set, else the project's `.venv` when there is one (made as the README
/// says; CI makes it), else `python3` on the PATH, as `build.rs` looks for
/// it. Fails the test (see [`missing`]) when it cannot import `module`.
pub fn python_with(module: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    let python = if let Some(chosen) = std::env::var_os("SEQSPOOL_TEST_PYTHON") {
        PathBuf::from(chosen)
    } else if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let imports = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !imports {
        missing(
            "python-packages",
            &format!(
                "{} cannot import {module}; install tests/requirements.txt into .venv as the \
                 README says",
                python.display()
            ),
        );
    }
    python
}

/// Runs Python `script` with `args` and returns what it printed; panics with
/// its standard error if it fails.
pub fn run_python(python: &Path, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = output_within(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::null()),
    );
    assert!(
        output.status.success(),
        "the Python script failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("Python printed UTF-8")
}

/// `seqspool user ARGS --experiments DIR`, run to its end.
pub fn user_command(dir: &Path, args: &[&str]) -> std::process::Output {
    output_within(
        seqspool()
            .arg("user")
            .args(args)
            .arg("--experiments")
            .arg(dir),
    )
}

/// Adds a user with the real binary and returns the token it printed.
pub fn add_user(dir: &Path, name: &str, admin: bool) -> String {
    let mut args = vec!["add", name];
    if admin {
        args.push("--admin");
    }
    let out = user_command(dir, &args);
    assert!(
        out.status.success(),
        "user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("ssp_"), "{token}");
    token
}
