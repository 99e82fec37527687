//! The load generator's side of the wire: a small hand-written HTTP/1.1
//! client on tokio's `TcpStream` (readiness plus `try_read`/`try_write`, so it
//! needs no tokio feature the server does not already have), the requests the
//! workloads send, closed-loop phases on many keep-alive connections with their
//! latencies, and the helpers that submit an experiment and wait for it to run.
//! It knows nothing of how the server was started: an address is all it needs.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpStream;

/// How long one request may take before the run counts as failed.
const REQUEST_PATIENCE: Duration = Duration::from_secs(30);

/// A keep-alive HTTP/1.1 connection that reads answers by their Content-Length.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    chunk: Box<[u8]>,
}

/// An answer's status and body; the client needs none of its headers after reading it.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`, with Nagle's delay off.
    pub(crate) async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
        })
    }

    /// Sends a whole request and reads its answer, within [`REQUEST_PATIENCE`].
    pub(crate) async fn send(&mut self, request: &[u8]) -> Result<Answer, String> {
        let exchange = async {
            self.write_all(request).await?;
            self.read_answer().await
        };
        match tokio::time::timeout(REQUEST_PATIENCE, exchange).await {
            Ok(answer) => answer.map_err(|e| format!("a request failed: {e}")),
            Err(_) => Err(format!("no answer within {} s", REQUEST_PATIENCE.as_secs())),
        }
    }

    /// GET `path`, expecting 200 and a JSON body.
    pub(crate) async fn get_json(&mut self, path: &str) -> Result<Value, String> {
        let answer = self.send(&get_request(path)).await?;
        if answer.status != 200 {
            return Err(format!(
                "GET {path} got {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        serde_json::from_slice(&answer.body).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| invalid("the answer's head is not UTF-8"))?;
                let status = head
                    .get(9..12)
                    .and_then(|code| code.parse().ok())
                    .ok_or_else(|| invalid("no status code"))?;
                let mut length = None;
                for line in head.split("\r\n").skip(1) {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse::<usize>().ok();
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(invalid(
                            "a chunked answer; this client reads Content-Length only",
                        ));
                    }
                }
                let length = length.ok_or_else(|| invalid("an answer without Content-Length"))?;
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Ok(Answer { status, body });
            }
            if self.buf.len() > 64 * 1024 {
                return Err(invalid("an answer's head longer than 64 KiB"));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        loop {
            match self.stream.try_read(&mut self.chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ))
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.readable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// A form submission, as `curl -d query_name=... -d query_sequence=...` sends it.
pub(crate) fn form_request(buf: &mut Vec<u8>, name: &str, sequence: &str) {
    let body = format!("query_name={name}&query_sequence={sequence}");
    buf.clear();
    let _ = write!(
        VecWriter(buf),
        "POST /experiments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes the request of connection `conn`'s `n`th exchange into the buffer.
pub(crate) type MakeRequest = Arc<dyn Fn(usize, u64, &mut Vec<u8>) + Send + Sync>;

/// The same request on every exchange.
pub(crate) fn fixed(request: Arc<Vec<u8>>) -> MakeRequest {
    Arc::new(move |_, _, buf: &mut Vec<u8>| {
        buf.clear();
        buf.extend_from_slice(&request);
    })
}

/// What a closed-loop phase saw.
pub(crate) struct Load {
    pub(crate) answered: u64,
    statuses: Vec<(u16, u64)>,
    /// Every answer's latency, in nanoseconds, sorted.
    latencies: Vec<u64>,
    /// From the start of the phase to the last answer.
    pub(crate) elapsed: Duration,
}

impl Load {
    pub(crate) fn rate(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank =
            ((p * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1] as f64 / 1e6
    }

    pub(crate) fn count_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(status))
            .map(|(_, n)| n)
            .sum()
    }

    pub(crate) fn other_statuses(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .copied()
            .filter(|(status, _)| !(200..300).contains(status))
            .collect()
    }

    pub(crate) fn expect_all(&self, status: u16) -> Result<(), String> {
        match self.statuses.as_slice() {
            [(only, _)] if *only == status => Ok(()),
            other => Err(format!(
                "expected every answer to be {status}, got {other:?}"
            )),
        }
    }
}

/// Opens `connections` keep-alive connections, then on each sends a request,
/// waits for its answer, and sends the next, until `length` has passed since
/// the start. The answer in flight at the end is waited for and counted.
pub(crate) async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    length: Duration,
    make: MakeRequest,
) -> Result<Load, String> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut conn) in conns.into_iter().enumerate() {
        let make = make.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut statuses: Vec<(u16, u64)> = Vec::new();
            let mut buf = Vec::new();
            let mut n = 0;
            let mut last = started;
            while Instant::now() < deadline {
                make(index, n, &mut buf);
                n += 1;
                let sent = Instant::now();
                let answer = conn.send(&buf).await?;
                last = Instant::now();
                latencies.push((last - sent).as_nanos() as u64);
                match statuses.iter_mut().find(|(s, _)| *s == answer.status) {
                    Some((_, count)) => *count += 1,
                    None => statuses.push((answer.status, 1)),
                }
            }
            Ok::<_, String>((latencies, statuses, last))
        });
    }
    let mut load = Load {
        answered: 0,
        statuses: Vec::new(),
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, statuses, last) =
            done.map_err(|e| format!("a connection's task failed: {e}"))??;
        load.answered += latencies.len() as u64;
        load.latencies.extend(latencies);
        for (status, count) in statuses {
            match load.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, total)) => *total += count,
                None => load.statuses.push((status, count)),
            }
        }
        load.elapsed = load.elapsed.max(last - started);
    }
    load.latencies.sort_unstable();
    Ok(load)
}

/// Submits one experiment of `sequence` and gives its id.
pub(crate) async fn submit_one(
    addr: SocketAddr,
    name: &str,
    sequence: &str,
) -> Result<String, String> {
    let mut conn = Conn::open(addr).await?;
    let mut buf = Vec::new();
    form_request(&mut buf, name, sequence);
    let answer = conn.send(&buf).await?;
    let record: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("the submission's answer is not JSON: {e}"))?;
    match (answer.status, record["id"].as_str()) {
        (202, Some(id)) => Ok(id.to_owned()),
        _ => Err(format!("the submission got {}: {record}", answer.status)),
    }
}

/// Waits until the experiment is RUNNING with its process recorded; gives its process group.
pub(crate) async fn wait_running(addr: SocketAddr, id: &str) -> Result<i32, String> {
    let mut conn = Conn::open(addr).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let record = conn.get_json(&format!("/experiments/{id}")).await?;
        if record["state"] == "RUNNING" {
            if let Some(pgid) = record["handle"]["pgid"].as_i64() {
                return Ok(pgid as i32);
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "experiment {id} was not RUNNING within 30 s: {record}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
