//! The promises hold when clients misbehave, by accident or on purpose:
//! uploads that stall cannot shut submissions out, a client whose body is
//! refused still reads why, a page of another site cannot reach the server by
//! pointing its own name here (DNS rebinding), and every GET route answers
//! HEAD. Each against a real server on port 0 over real HTTP.

use crate::common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use seqspool::config::DEFAULT_MAX_BODY;
use serde_json::Value;

/// A command that keeps the first experiment RUNNING and the rest QUEUED.
const BLOCKING: &str = "sleep 30";

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Opens an upload to `POST /experiments` that declares `length` bytes,
/// sends `sent` of them and then stalls. It asks `Expect: 100-continue`, as
/// curl does for large bodies, and waits for the server's `100 Continue`: a
/// handler is reading this body now, so the test never races the server.
/// Raw, because a client library sends the whole body it announces.
fn stalled_upload(addr: SocketAddr, length: usize, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /experiments HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut got = vec![0; expected.len()];
    stream
        .read_exact(&mut got)
        .expect("the server asks for the body");
    assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&got));
    stream.write_all(&vec![b'A'; sent]).unwrap();
    stream
}

/// Sends one request with the `Host` a test chooses (a client library sets it
/// from the URL), on a connection of its own, and reads the answer.
fn with_host(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    read_raw_answer(&mut stream)
}

/// A server with one experiment RUNNING (`sleep 30`, recorded on disk) and
/// one QUEUED behind it; returns the queued one's id.
fn server_with_a_queued_experiment(
    configure: impl FnOnce(&mut seqspool::Config),
) -> (Server, String) {
    let server = Server::start(|config| {
        config.command = Some(BLOCKING.into());
        configure(config);
    });
    let blocker = server.submit("blocker", "ACGT");
    server.wait_for_state(&blocker, "RUNNING");
    wait_until("the running record is on disk", || {
        std::fs::read_to_string(server.dir.join(&blocker).join("experiment.json"))
            .is_ok_and(|record| record.contains("RUNNING"))
    });
    let waiting = server.submit("waiting", "ACGT");
    (server, waiting)
}

#[test]
fn stalled_uploads_leave_room_for_a_small_submission() {
    // A stall time longer than the test: it is not what lets the submission in.
    let server = Server::start(|config| config.body_stall = Duration::from_secs(120));
    // Sixteen full-size bodies promised and none sent: they hold no memory.
    let stalled: Vec<TcpStream> = (0..16)
        .map(|_| stalled_upload(server.addr, DEFAULT_MAX_BODY, 0))
        .collect();
    let id = server.submit("small", "ACGT");
    assert_eq!(server.experiment_dirs(), [id]);
    drop(stalled);
}

#[test]
fn a_stalled_body_is_dropped_with_408_and_a_slow_steady_one_is_not() {
    let stall = Duration::from_secs(1);
    let server = Server::start(|config| config.body_stall = stall);
    let started = Instant::now();
    let mut silent = stalled_upload(server.addr, DEFAULT_MAX_BODY, 0);
    let mut halfway = stalled_upload(server.addr, 1000, 500);
    for (what, stream) in [("nothing sent", &mut silent), ("half sent", &mut halfway)] {
        let answer = read_raw_answer(stream);
        assert_error(
            &answer,
            408,
            None,
            &["nothing arrived", "send it again"],
            what,
        );
    }
    assert!(
        started.elapsed() >= stall,
        "a body was dropped before it stalled for {stall:?}"
    );
    assert!(server.experiment_dirs().is_empty());

    // A body that keeps arriving, however slowly, is read to its end.
    let body = b"query_name=steady&query_sequence=ACGTACGTACGT";
    let mut steady = stalled_upload(server.addr, body.len(), 0);
    for piece in body.chunks(10) {
        thread::sleep(stall / 2);
        steady.write_all(piece).unwrap();
    }
    let answer = read_raw_answer(&mut steady);
    assert_eq!(answer.status, 202, "{}", answer.text());
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn python_clients_read_why_a_body_was_refused() {
    let python = python3();
    let server = Server::start(|_| {});
    // Python's http.client sends the whole body before it reads the answer,
    // so it sees an early answer only if the server reads what it sends.
    let script = r#"
import json, sys, urllib.error, urllib.request
base = sys.argv[1]
big = b"A" * (9 * 1024 * 1024)
form = {"Content-Type": "application/x-www-form-urlencoded"}
def chunks():
    for start in range(0, len(big), 65536):
        yield big[start:start + 65536]
cases = [
    ("declared", "POST", "/experiments", form, big),
    ("streamed", "POST", "/experiments", form, chunks()),
    ("format", "POST", "/experiments", {"Content-Type": "text/plain"}, big),
    ("route", "POST", "/nowhere", form, big),
    ("method", "PUT", "/backlog", form, big),
    ("origin", "POST", "/experiments", dict(form, Origin="http://elsewhere.example"), big),
]
for what, method, path, headers, data in cases:
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    print(json.dumps({"what": what, "status": status, "body": body.decode("utf-8", "replace")}))
"#;
    let output = output_within(
        Command::new(python)
            .args(["-c", script])
            .arg(format!("http://{}", server.addr)),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the python client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let answers: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected = [
        ("declared", 413, "--max-body"),
        ("streamed", 413, "--max-body"),
        ("format", 415, "text/plain"),
        ("route", 404, "/nowhere"),
        ("method", 405, "GET"),
        ("origin", 403, "another site"),
    ];
    assert_eq!(answers.len(), expected.len(), "{stdout}");
    for (answer, (what, status, part)) in answers.iter().zip(expected) {
        assert_eq!(answer["what"], what);
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap())
            .unwrap_or_else(|err| panic!("{what}: not JSON ({err}): {answer}"));
        assert_eq!(answer["status"], status, "{what}: {body}");
        assert_eq!(body["status_code"], status, "{what}: {body}");
        let msg = body["msg"].as_str().unwrap();
        assert!(
            msg.contains(part),
            "{what}: {msg:?} does not mention {part:?}"
        );
    }
    assert!(server.experiment_dirs().is_empty());
}

#[test]
fn a_page_that_points_its_name_at_the_server_is_refused_everywhere() {
    let (server, waiting) = server_with_a_queued_experiment(|_| {});
    let evil = format!("evil.example:{}", server.addr.port());
    let origin = format!("http://{evil}");
    let form = b"query_name=q&query_sequence=ACGT";
    let before = snapshot(&server.dir);
    let cases: [(&str, String, &[u8]); 6] = [
        ("GET", "/experiments".into(), b""),
        ("GET", "/backlog".into(), b""),
        (
            "GET",
            format!("/experiments/{waiting}/files/query.fasta"),
            b"",
        ),
        ("POST", "/experiments".into(), form),
        ("POST", "/".into(), form),
        ("DELETE", format!("/experiments/{waiting}"), b""),
    ];
    for (method, path, body) in cases {
        let headers = [("Origin", origin.as_str()), FORM];
        let answer = with_host(server.addr, method, &path, &evil, &headers, body);
        assert_error(
            &answer,
            421,
            None,
            &["evil.example", "localhost", "--allow-host"],
            &format!("{method} {path}"),
        );
    }
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a rebinding page changed something"
    );
    let record = server.get(&format!("/experiments/{waiting}")).json();
    assert_eq!(record["state"], "QUEUED", "{record:#}");
}

#[test]
fn the_names_the_server_is_reached_by_are_accepted() {
    let server = Server::start(|config| config.allow_hosts = vec!["lab-ws.example.org".into()]);
    let port = server.addr.port();
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let own = own.trim();
    for host in [
        format!("localhost:{port}"),
        "localhost".into(),
        format!("127.0.0.1:{port}"),
        "127.0.0.1".into(),
        format!("[::1]:{port}"),
        "[::1]".into(),
        format!("LAB-WS.example.org:{port}"),
        "lab-ws.example.org".into(),
        format!("{own}:{port}"),
    ] {
        let answer = with_host(server.addr, "GET", "/backlog", &host, &[], b"");
        assert_eq!(answer.status, 200, "{host}: {}", answer.text());
    }
    // A page served under a configured name submits to itself.
    let named = format!("lab-ws.example.org:{port}");
    let origin = format!("http://{named}");
    let answer = with_host(
        server.addr,
        "POST",
        "/experiments",
        &named,
        &[FORM, ("Origin", &origin)],
        b"query_name=q&query_sequence=ACGT",
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    // Names that only look like the accepted ones are other names.
    for host in [
        "lab-ws.example.org.evil.example",
        "evil-lab-ws.example.org",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "::1",
    ] {
        let answer = with_host(server.addr, "GET", "/backlog", host, &[], b"");
        assert_error(&answer, 421, None, &["--allow-host"], host);
    }
}

#[test]
fn a_write_from_another_site_without_an_origin_is_told_by_its_referer() {
    let (server, waiting) = server_with_a_queued_experiment(|_| {});
    let foreign = ("Referer", "http://elsewhere.example/lab-tools.html");
    let form = b"query_name=q&query_sequence=ACGT";
    let before = snapshot(&server.dir);
    for path in ["/", "/experiments"] {
        let answer = request(server.addr, "POST", path, &[FORM, foreign], form);
        assert_error(&answer, 403, None, &["another site"], path);
    }
    let cancel = format!("/experiments/{waiting}");
    let answer = request(server.addr, "DELETE", &cancel, &[foreign], b"");
    assert_error(&answer, 403, None, &["another site"], "DELETE");
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a foreign page changed something"
    );

    // This server's own page sends its own address as the Referer.
    let own = format!("http://{}/", server.addr);
    let answer = request(
        server.addr,
        "POST",
        "/experiments",
        &[FORM, ("Referer", &own)],
        form,
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
}

#[test]
fn every_get_route_answers_head_with_its_status_and_headers_and_no_body() {
    let server = Server::start(|_| {});
    let id = server.submit("head", "ACGT");
    server.wait_for_state(&id, "COMPLETE");
    let html = [("Accept", "text/html")];
    let record = format!("/experiments/{id}");
    let file = format!("/experiments/{id}/files/analysis.json");
    let cases: [(&str, &[(&str, &str)]); 10] = [
        ("/", &[]),
        ("/backlog", &[]),
        ("/backlog/", &[]),
        (&record, &[]),
        (&record, &html),
        (&file, &[]),
        ("/service-info", &[]),
        ("/experiments", &[]),
        ("/ui/style.css", &[]),
        ("/experiments/999999", &[]),
    ];
    let without_date = |answer: &Response| {
        let mut headers: Vec<(String, String)> = answer
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        headers.sort();
        headers
    };
    for (path, headers) in cases {
        let get = request(server.addr, "GET", path, headers, b"");
        let head = request(server.addr, "HEAD", path, headers, b"");
        assert_eq!(head.status, get.status, "HEAD {path}: {}", head.text());
        assert_eq!(without_date(&head), without_date(&get), "HEAD {path}");

        // Nothing follows the head on the wire.
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let mut raw = format!(
            "HEAD {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            server.addr
        );
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        stream.write_all(raw.as_bytes()).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer);
        let end = text.find("\r\n\r\n").expect("a whole head") + 4;
        assert_eq!(&text[end..], "", "HEAD {path} sent a body");
    }
}

#[test]
fn more_idle_connections_than_descriptors_fail_no_experiment_and_the_service_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    // 160 open files in all, as a tight service limit would give; the usual
    // soft limit of 1 024 is the same story with a thousand connections.
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=160:160")
        .arg(SEQSPOOL)
        .args(["--bind", "127.0.0.1:0", "--experiments"])
        .arg(&dir)
        .args(["--command", "sleep 0.3"]);
    let server = Binary::spawn(command);
    assert!(
        server.log().contains("serving at most 48 connections"),
        "{}",
        server.log()
    );
    let ids: Vec<String> = (0..6)
        .map(|n| submit(server.addr, &format!("q{n}"), "ACGT"))
        .collect();

    // More idle connections than the descriptors left, while the experiments
    // run (the kernel holds those past the server's limit in its backlog).
    let idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(server.addr).expect("a connection"))
        .collect();
    assert_ne!(
        record_state(&dir, ids.last().unwrap()),
        "COMPLETE",
        "the experiments ran before the connections came"
    );
    let record = |id: &str| record_on_disk(&dir, id);
    wait_until("the server says it keeps no more connections", || {
        server.log().contains("the most this server keeps")
    });
    wait_until("every experiment ends", || {
        ids.iter()
            .all(|id| record(id)["state"] != "QUEUED" && record(id)["state"] != "RUNNING")
    });
    for id in &ids {
        assert_eq!(record(id)["state"], "COMPLETE", "{:#}", record(id));
    }

    // The idle ones go; the service answers again.
    drop(idle);
    let answer = request(server.addr, "GET", "/backlog", &[], b"");
    assert_eq!(answer.status, 200);
    assert!(
        !server.log().contains("Too many open files"),
        "{}",
        server.log()
    );
}

fn record_state(dir: &std::path::Path, id: &str) -> String {
    record_on_disk(dir, id)["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn files_a_command_writes_can_run_no_script_here_and_keep_their_names() {
    let server = Server::start(|config| {
        config.command = Some(
            "printf '<script>document.title=\"owned\"</script>' > x.html; \
             printf '<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>' > plot.svg; \
             printf 'hits' > hits.tsv; \
             printf 'odd' > \"$(printf 'it'\"'\"'s \"quoted\"\\nname.txt')\""
                .into(),
        )
    });
    let id = server.submit("files", "ACGT");
    let record = server.wait_for_state(&id, "COMPLETE");
    let names: Vec<String> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    let odd = names
        .iter()
        .find(|n| n.starts_with("it's"))
        .expect("the oddly named file is listed")
        .clone();
    assert_eq!(odd, "it's \"quoted\"\nname.txt");
    let get = |name: &str| {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        server.get(&format!("/experiments/{id}/files/{encoded}"))
    };
    for (name, content_type, disposition) in [
        ("x.html", "text/html; charset=utf-8", "attachment"),
        ("plot.svg", "image/svg+xml", "attachment"),
        ("hits.tsv", "text/plain; charset=utf-8", "inline"),
    ] {
        let answer = get(name);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Content-Type"), Some(content_type), "{name}");
        let csp = answer.header("Content-Security-Policy").unwrap();
        assert!(
            csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
        let cd = answer.header("Content-Disposition").unwrap();
        assert!(
            cd.starts_with(disposition) && cd.contains(&format!("filename*=UTF-8''{name}")),
            "{name}: {cd}"
        );
    }
    let answer = get(&odd);
    assert_eq!(answer.text(), "odd");
    assert_eq!(
        answer.header("Content-Disposition"),
        Some("inline; filename=\"it's _quoted__name.txt\"; filename*=UTF-8''it%27s%20%22quoted%22%0Aname.txt")
    );
    let forced = server.get(&format!("/experiments/{id}/files/hits.tsv?download=1"));
    assert!(forced
        .header("Content-Disposition")
        .unwrap()
        .starts_with("attachment"));
}
