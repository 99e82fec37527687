//! Live without polling: `GET /events` announces every state and backlog
//! change as server-sent events, a client that reconnects with `Last-Event-ID`
//! misses nothing, idle streams are capped so that requests keep their room
//! (what a thousand of them cost `GET /backlog` is measured by
//! `bench/streams.sh`, not here), and `GET /experiments/{id}?wait=S` answers
//! as soon as an experiment ends.

use crate::common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// An open event stream, read line by line.
struct Stream {
    reader: BufReader<TcpStream>,
}

/// One event as the stream sends it.
#[derive(Debug, Default)]
struct Sse {
    id: Option<String>,
    kind: String,
    data: String,
}

impl Stream {
    /// Opens `GET path` as a browser's EventSource does (raw: it never ends).
    fn open(server: &Server, path: &str, last: Option<&str>) -> Stream {
        let last = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        Stream::open_at(server.addr, path, &last)
    }

    /// Opens `GET path` on the server at `addr`, with `headers` (whole
    /// lines, each ending in CRLF) besides the usual.
    fn open_at(addr: SocketAddr, path: &str, headers: &str) -> Stream {
        let mut reader = BufReader::new(ask_for_stream(addr, path, headers));
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut chunked = false;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.to_ascii_lowercase().starts_with("content-type:") {
                assert!(line.contains("text/event-stream"), "{line}");
            }
            chunked |= line.to_ascii_lowercase().contains("chunked");
            if line == "\r\n" {
                break;
            }
        }
        assert!(chunked, "a stream of unknown length is chunked");
        Stream { reader }
    }

    /// The next event (comments and the `retry:` line are skipped), within
    /// PATIENCE: the stream's heartbeats do not count.
    fn next(&mut self) -> Sse {
        let started = Instant::now();
        let mut event = Sse::default();
        let mut line = String::new();
        loop {
            assert!(started.elapsed() < PATIENCE, "no event within {PATIENCE:?}");
            line.clear();
            self.reader
                .read_line(&mut line)
                .expect("an event within PATIENCE");
            let text = line.trim_end_matches(['\r', '\n']);
            // Chunk sizes of the transfer encoding: hex digits alone on a line.
            if !text.is_empty()
                && text.chars().all(|c| c.is_ascii_hexdigit())
                && !text.contains(':')
            {
                continue;
            }
            if let Some(id) = text.strip_prefix("id: ") {
                event.id = Some(id.to_owned());
            } else if let Some(kind) = text.strip_prefix("event: ") {
                event.kind = kind.to_owned();
            } else if let Some(data) = text.strip_prefix("data: ") {
                event.data = data.to_owned();
            } else if text.is_empty() && !event.kind.is_empty() {
                return event;
            }
        }
    }

    /// The next event about experiment `id`, skipping backlog events.
    fn next_about(&mut self, id: &str) -> (Sse, Value) {
        loop {
            let event = self.next();
            if event.kind == "experiment" {
                let data: Value = serde_json::from_str(&event.data).unwrap();
                if data["id"] == id {
                    return (event, data);
                }
            }
        }
    }
}

#[test]
fn an_experiment_is_followed_from_queued_to_complete_by_events_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = tmp.path().join("gate");
    let server = Server::start(|config| {
        config.command = Some(format!(
            "while [ ! -e '{}' ]; do sleep 0.02; done",
            gate.display()
        ))
    });
    let mut stream = Stream::open(&server, "/events", None);
    let id = server.submit("followed", "ACGT");
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("COMPLETE") {
        let (_, data) = stream.next_about(&id);
        let state = data["state"].as_str().unwrap().to_owned();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == "RUNNING" {
            std::fs::write(&gate, "").unwrap();
        }
    }
    assert_eq!(states, ["QUEUED", "RUNNING", "COMPLETE"]);

    // A stream for one experiment carries its events, and the backlog's (they move its place).
    let other = server.submit("other", "ACGT");
    let mut only = Stream::open(&server, &format!("/events?experiment={other}"), None);
    let (_, data) = only.next_about(&other);
    assert_eq!(data["id"], other.as_str());
}

#[test]
fn a_client_that_reconnects_with_last_event_id_misses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = tmp.path().join("gate");
    let server = Server::start(|config| {
        config.command = Some(format!(
            "while [ ! -e '{}' ]; do sleep 0.02; done",
            gate.display()
        ))
    });
    let mut stream = Stream::open(&server, "/events", None);
    let first = server.submit("one", "ACGT");
    let (event, _) = stream.next_about(&first);
    let last = event.id.expect("events carry ids");
    drop(stream);

    // While nobody listens: more experiments, and the first one ends.
    let second = server.submit("two", "ACGT");
    std::fs::write(&gate, "").unwrap();
    server.wait_for_state(&second, "COMPLETE");

    let mut stream = Stream::open(&server, "/events", Some(&last));
    let mut seen = Vec::new();
    let mut previous = last.clone();
    while !seen.contains(&format!("{second} COMPLETE")) {
        let event = stream.next();
        let id = event.id.clone().unwrap();
        let seq = |id: &str| id.split_once('.').unwrap().1.parse::<u64>().unwrap();
        assert!(seq(&id) > seq(&previous), "{id} after {previous}");
        previous = id;
        if event.kind == "experiment" {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            seen.push(format!(
                "{} {}",
                data["id"].as_str().unwrap(),
                data["state"].as_str().unwrap()
            ));
        }
    }
    for expected in [
        format!("{first} RUNNING"),
        format!("{first} COMPLETE"),
        format!("{second} QUEUED"),
        format!("{second} RUNNING"),
        format!("{second} COMPLETE"),
    ] {
        assert!(seen.contains(&expected), "missed {expected}: {seen:?}");
    }

    // An id the server no longer has (another life of it) gets a reset.
    let mut stale = Stream::open(&server, "/events", Some("1.1"));
    assert_eq!(stale.next().kind, "reset");
}

#[test]
fn a_read_with_wait_answers_as_soon_as_the_experiment_ends_or_when_the_wait_is_over() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = tmp.path().join("gate");
    let server = Server::start(|config| {
        config.command = Some(format!(
            "while [ ! -e '{}' ]; do sleep 0.02; done",
            gate.display()
        ))
    });
    let id = server.submit("waited", "ACGT");
    server.wait_for_state(&id, "RUNNING");
    let record = server.get(&format!("/experiments/{id}?wait=0.2")).json();
    assert_eq!(record["state"], "RUNNING");
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::write(gate, "").unwrap();
        })
    };
    let record = server.get(&format!("/experiments/{id}?wait=30")).json();
    assert_eq!(record["state"], "COMPLETE", "{record:#}");
    assert!(record["files"].is_array());
    opener.join().unwrap();
    assert_error(
        &server.get(&format!("/experiments/{id}?wait=soon")),
        400,
        None,
        &["not a number of seconds"],
        "a bad wait",
    );
}

#[test]
fn a_wait_too_long_for_any_clock_is_cut_to_the_most_and_one_that_is_no_number_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Binary::start(&tmp.path().join("experiments"), &["--command", "true"]);
    let id = submit(server.addr, "done", "ACGT");
    wait_for_state(server.addr, &id, "COMPLETE");
    let get = |wait: &str| {
        request(
            server.addr,
            "GET",
            &format!("/experiments/{id}?wait={wait}"),
            &[],
            b"",
        )
    };
    // Longer than a Duration holds: the most a wait may be (the experiment
    // has ended, so the answer comes at once).
    for long in ["1e20", "1e300", "18446744073709551616", "1e400", "-0"] {
        let answer = get(long);
        assert_eq!(answer.status, 200, "wait={long}: {}", answer.text());
        assert_eq!(answer.json()["state"], "COMPLETE", "wait={long}");
    }
    for bad in [
        "inf", "-inf", "Infinity", "NaN", "nan", "-1", "-1e20", "1e", "0x10", "%2B",
    ] {
        assert_error(
            &get(bad),
            400,
            None,
            &["is not a number of seconds"],
            &format!("wait={bad}"),
        );
    }
    assert_eq!(
        request(server.addr, "GET", "/backlog", &[], b"").status,
        200
    );
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_estimate_is_null_until_its_pipeline_has_completed_a_run_and_each_page_hears_it_move() {
    let tmp = tempfile::tempdir().unwrap();
    let gates = tmp.path();
    let server = gated_server(gates);
    let first = server.submit("first", "ACGT");
    server.wait_for_state(&first, "RUNNING");
    let second = server.submit("second", "ACGT");
    let third = server.submit("third", "ACGT");
    let record = server.get(&format!("/experiments/{third}")).json();
    assert_eq!(
        record.get("eta"),
        Some(&Value::Null),
        "no estimate before a run has completed: {record}"
    );

    // The stream of one experiment hears the backlog move, which moves it.
    let mut stream = Stream::open(&server, &format!("/events?experiment={third}"), None);
    std::fs::write(gates.join("first"), "").unwrap();
    assert_eq!(stream.next().kind, "backlog");
    server.wait_for_state(&first, "COMPLETE");
    server.wait_for_state(&second, "RUNNING");
    let eta = server.get(&format!("/experiments/{third}")).json()["eta"].clone();
    let (start, finish) = (eta["start"].as_str(), eta["finish"].as_str());
    let (Some(start), Some(finish)) = (start, finish) else {
        panic!("a queued experiment's estimate has a start and a finish: {eta}");
    };
    // RFC 3339 in UTC with milliseconds: ordered as text.
    assert!(start.ends_with('Z') && start.len() == 24, "{start}");
    assert!(start < finish, "{start} {finish}");
    let running = server.get(&format!("/experiments/{second}")).json();
    assert!(running["eta"]["start"].is_null() && running["eta"]["finish"].is_string());
    let done = server.get(&format!("/experiments/{first}")).json();
    assert!(done.get("eta").is_none(), "a finished one has none: {done}");

    // A batch's rows carry theirs.
    let batch = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        b">fourth\nACGT\n>fifth\nACGT\n",
    )
    .json();
    let batch_id = batch["batch"].as_str().unwrap().to_owned();
    let rows = server.get(&format!("/batches/{batch_id}")).json()["experiments"].clone();
    assert!(
        rows[1]["eta"]["start"].as_str() > rows[0]["eta"]["start"].as_str(),
        "{rows}"
    );
    // Up to the backlog event that counts the batch in.
    while !stream.next().data.contains("\"queued\":3") {}

    // A move to the front changes no count, but every place behind it.
    let fifth = rows[1]["id"].as_str().unwrap();
    let moved = request(
        server.addr,
        "POST",
        &format!("/experiments/{fifth}/front"),
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(stream.next().kind, "backlog");
    let record = server.get(&format!("/experiments/{third}")).json();
    assert_eq!(record["position"], 2);
    assert!(record["eta"]["start"].as_str().unwrap() > start);
}

/// Connects and sends `GET path` as an EventSource does, with `headers`
/// (whole lines, each ending in CRLF) besides the usual.
fn ask_for_stream(addr: SocketAddr, path: &str, headers: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{headers}\r\n"
    )
    .unwrap();
    stream
}

/// Asks for a stream that is refused, and reads the whole answer (a refusal has a length).
fn refused_stream(addr: SocketAddr, path: &str, headers: &str) -> Response {
    let mut stream = ask_for_stream(addr, path, &format!("{headers}Connection: close\r\n"));
    read_raw_answer(&mut stream)
}

#[test]
fn idle_event_streams_are_capped_per_client_and_in_all_and_leave_room_for_requests() {
    // The usual soft limit of open files: 384 connections, of which idle
    // streams took every one before. A trusted proxy in front (this test)
    // tells the server which client each stream is for.
    let tmp = tempfile::tempdir().unwrap();
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=1024:1024")
        .arg(SEQSPOOL)
        .args(["--bind", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1"])
        .arg("--experiments")
        .arg(tmp.path().join("experiments"));
    let server = Binary::spawn(command);
    assert!(
        server.log().contains(
            "serving at most 384 connections at once; of them at most 192 event streams and waits, \
             32 from one client"
        ),
        "{}",
        server.log()
    );
    let addr = server.addr;

    // One client: 32 streams, then 503, while its ordinary requests are answered.
    let mine: Vec<Stream> = (0..32)
        .map(|_| Stream::open_at(addr, "/events", ""))
        .collect();
    for path in ["/events", "/events?experiment=000001"] {
        let refused = refused_stream(addr, path, "");
        assert_eq!(refused.header("Retry-After"), Some("10"), "{refused:?}");
        assert_error(
            &refused,
            503,
            None,
            &[
                "32 event streams and waits are open from 127.0.0.1",
                "--max-streams-per-client",
            ],
            "a 33rd stream from one client",
        );
    }
    // Paused, so that what is submitted waits, and a wait for it would wait.
    let paused = request(
        addr,
        "POST",
        "/queue/pause",
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
    let id = submit(addr, "mine", "ACGT");
    let waited = request(addr, "GET", &format!("/experiments/{id}?wait=30"), &[], b"");
    assert_error(
        &waited,
        503,
        None,
        &["--max-streams-per-client"],
        "a wait past the limit",
    );
    assert_eq!(waited.header("Retry-After"), Some("10"));
    assert_eq!(request(addr, "GET", "/backlog", &[], b"").status, 200);

    // Other clients, one stream each, up to the server's 192 in all.
    let forwarded = |n: usize| format!("X-Forwarded-For: 10.0.{}.{}\r\n", n / 200, n % 200 + 1);
    let theirs: Vec<Stream> = (0..160)
        .map(|n| Stream::open_at(addr, "/events", &forwarded(n)))
        .collect();
    let refused = refused_stream(addr, "/events", &forwarded(500));
    assert_eq!(refused.header("Retry-After"), Some("10"));
    assert_error(
        &refused,
        503,
        None,
        &["192 event streams and waits are open", "(--max-streams)"],
        "a stream past the server's limit",
    );
    // What every page and script needs still answers, on connections of their own.
    for _ in 0..50 {
        assert_eq!(request(addr, "GET", "/backlog", &[], b"").status, 200);
    }
    let other = submit(addr, "other", "ACGT");
    assert_eq!(
        request(addr, "GET", &format!("/experiments/{other}"), &[], b"").status,
        200
    );

    // Streams that close give their places back.
    drop(mine);
    wait_until("the closed streams' places are given back", || {
        let mut line = String::new();
        BufReader::new(ask_for_stream(addr, "/events", ""))
            .read_line(&mut line)
            .unwrap();
        line.starts_with("HTTP/1.1 200")
    });
    drop(theirs);
}

#[test]
fn while_the_queue_is_paused_a_queued_experiment_promises_no_start_and_says_it_waits_for_the_pause()
{
    let tmp = tempfile::tempdir().unwrap();
    let gates = tmp.path();
    let server = gated_server(gates);
    std::fs::write(gates.join("first"), "").unwrap();
    let first = server.submit("first", "ACGT");
    server.wait_for_state(&first, "COMPLETE");
    let second = server.submit("second", "ACGT");
    server.wait_for_state(&second, "RUNNING");
    let third = server.submit("third", "ACGT");
    let record = server.get(&format!("/experiments/{third}")).json();
    assert!(record["eta"]["start"].is_string(), "{record}");

    let mut stream = Stream::open(&server, "/events", None);
    pause_queue(server.addr, "a+new+disk");
    let held = |id: &str| -> Value {
        let record = server.get(&format!("/experiments/{id}")).json();
        let eta = record["eta"].clone();
        assert_eq!(eta["waits_for"], "pause", "{record}");
        let reason = eta["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the queue is paused (since ")
                && reason.contains("a new disk")
                && reason.ends_with("nothing starts until it is resumed"),
            "{reason}"
        );
        assert!(
            eta.get("start").is_none() && eta.get("finish").is_none(),
            "{eta}"
        );
        eta
    };
    let eta = held(&third);
    // The one running goes on: its finish is still an estimate.
    let running = server.get(&format!("/experiments/{second}")).json();
    assert!(running["eta"]["finish"].is_string(), "{running}");
    // Listings and events say the same; one submitted now, too.
    let listed = server.get("/experiments?state=QUEUED").json();
    assert_eq!(listed["experiments"][0]["eta"], eta, "{listed}");
    let fourth = server.submit("fourth", "ACGT");
    let (_, data) = stream.next_about(&fourth);
    assert_eq!(data["eta"]["waits_for"], "pause", "{data}");
    assert!(data["eta"].get("start").is_none(), "{data}");
    held(&fourth);
    // The page says so, in words, with no time.
    let page = request(
        server.addr,
        "GET",
        &format!("/experiments/{third}"),
        &[("Accept", "text/html")],
        b"",
    )
    .text();
    assert!(
        page.contains(">waits until the queue is resumed</span>"),
        "{page}"
    );
    assert!(page.contains("a new disk; nothing starts until it is resumed"));

    // Resumed, it has a start again.
    let resumed = request(server.addr, "POST", "/queue/resume", &[], b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let record = server.get(&format!("/experiments/{third}")).json();
    assert!(record["eta"]["start"].is_string(), "{record}");
    for name in ["second", "third", "fourth"] {
        std::fs::write(gates.join(name), "").unwrap();
    }
    server.wait_for_state(&fourth, "COMPLETE");
}
