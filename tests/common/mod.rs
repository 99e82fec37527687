//! What the end-to-end tests share: a real server on port 0 with its own
//! experiments directory (in-process, or the real binary for crash tests), a
//! small HTTP/1.1 client over `TcpStream`, and waiting with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use seqspool::Config;
use serde_json::Value;
use tempfile::TempDir;

/// How long a test waits for something that should happen within moments.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A seqspool server running in this process, stopped (gracefully) on drop.
pub struct Server {
    pub addr: SocketAddr,
    /// The experiments directory.
    pub dir: PathBuf,
    _tmp: Option<TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), seqspool::Error>>>,
}

impl Server {
    /// Starts a server with its own temporary experiments directory; `configure` changes the defaults.
    pub fn start(configure: impl FnOnce(&mut Config)) -> Server {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let mut server = Server::start_in(&tmp.path().join("experiments"), configure);
        server._tmp = Some(tmp);
        server
    }

    /// Starts a server on an experiments directory the test owns.
    pub fn start_in(dir: &Path, configure: impl FnOnce(&mut Config)) -> Server {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut config = Config::new(dir);
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
            _tmp: None,
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

/// The real `seqspool` binary, for tests that need a real process death. It is
/// killed (SIGKILL) on drop if still running.
pub struct Binary {
    pub addr: SocketAddr,
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Binary {
    /// Starts the binary on port 0 with `args` and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Binary {
        let mut child = Binary::command(dir, args)
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
        let mut command = Command::new(env!("CARGO_BIN_EXE_seqspool"));
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
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as i32, signal) };
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
        self.signal(libc::SIGKILL);
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

/// Sends one request on a new connection (`Connection: close`) and reads the answer.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // The server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "a malformed answer: {:?}",
            String::from_utf8_lossy(&raw)
        ))
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
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

/// Whether a test that needs an outside tool must fail (in CI, which installs
/// it) rather than skip when the tool is missing: `SEQSPOOL_TEST_REQUIRE` lists
/// the tools, comma-separated.
pub fn required(tool: &str) -> bool {
    std::env::var("SEQSPOOL_TEST_REQUIRE")
        .is_ok_and(|list| list.split(',').any(|t| t.trim() == tool))
}

/// Whether `program` can be found on the PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
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
        let mut pid = None;
        wait_until(&format!("{} holds a pid", file.display()), || {
            pid = std::fs::read_to_string(file)
                .ok()
                .and_then(|text| text.trim().parse().ok());
            pid.is_some()
        });
        let pid = pid.unwrap();
        match proc_stat(pid) {
            Some((state, start_ticks)) if state != 'Z' => Process { pid, start_ticks },
            _ => panic!("process {pid} (from {}) is not running", file.display()),
        }
    }

    /// Whether it has ended: no such process, a zombie (nobody reaped it yet),
    /// or its pid now belongs to another process.
    pub fn is_gone(&self) -> bool {
        match proc_stat(self.pid) {
            None => true,
            Some((state, start_ticks)) => state == 'Z' || start_ticks != self.start_ticks,
        }
    }

    /// Kills it if it is still alive: clean-up after a test that failed half-way.
    pub fn kill(&self) {
        if !self.is_gone() {
            // SAFETY: only sends a signal, to the process identified above.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// The state (field 3) and start time (field 22) in `/proc/PID/stat`, counted
/// from the last `)` because the command name may hold spaces.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some((
        fields.first()?.chars().next()?,
        fields.get(19)?.parse().ok()?,
    ))
}
