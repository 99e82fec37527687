//! Live without polling: `GET /events` announces every state and backlog
//! change as server-sent events, a client that reconnects with `Last-Event-ID`
//! misses nothing, idle streams cost the server nothing that slows it, and
//! `GET /experiments/{id}?wait=S` answers as soon as an experiment ends.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
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
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let last = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{last}\r\n",
            server.addr
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
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
fn a_thousand_idle_event_streams_do_not_slow_the_backlog() {
    // Room for the streams in this process, whatever the soft limit.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    let server = Server::start(|_| {});
    let quiet = || {
        let started = Instant::now();
        for _ in 0..50 {
            assert_eq!(server.get("/backlog").status, 200);
        }
        started.elapsed() / 50
    };
    let before = quiet();
    let streams: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            write!(
                stream,
                "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                server.addr
            )
            .unwrap();
            stream
        })
        .collect();
    // Every stream is being served (its head and first line are sent).
    std::thread::sleep(Duration::from_millis(500));
    let during = quiet();
    eprintln!(
        "GET /backlog took {before:?} on average with no stream open, {during:?} with 1000 open"
    );
    assert_eq!(server.get("/backlog").status, 200);
    drop(streams);
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
    // Each experiment runs until the file named after it exists.
    let server = Server::start(|config| {
        config.command = Some(format!(
            "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done",
            gates.display()
        ))
    });
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
