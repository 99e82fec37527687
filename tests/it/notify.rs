//! Completion notifications, end to end: a receiver on loopback (which the
//! tests allow, as a lab allows its own networks) gets one signed Standard
//! Webhooks event per finished experiment, signed with its submitter's own
//! secret; a failed delivery is tried again with the same id (also after a
//! SIGKILL and a restart), a redirect is not followed, receivers that never
//! answer hold nobody else's up, and the lab's `on_finish` command gets the
//! same event on its standard input, supervised (a `kill -9` of the server
//! takes it down, and the restart runs it once more). By default a
//! `notify_url` reaches no address of the workstation or the lab's networks,
//! in any spelling.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::{assert_error, wait_for_state, wait_until, Binary, Server};

/// What a receiver does with a request: answer with a status, redirect
/// elsewhere, or hold the connection open and never answer.
#[derive(Clone)]
enum Answer {
    Status(u16),
    Redirect(String),
    Never,
}

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the event is JSON")
    }

    /// Checks the signature as a Standard Webhooks receiver does, with the
    /// secret `secret` (`whsec_...`): HMAC-SHA256 over `id.timestamp.body`.
    fn assert_signed_with(&self, secret: &str) {
        assert!(
            self.verifies_with(secret),
            "the signature {} does not check out with that secret (id {}, timestamp {})",
            self.header("webhook-signature"),
            self.header("webhook-id"),
            self.header("webhook-timestamp")
        );
    }

    /// Whether a receiver holding `secret` takes this request as genuine.
    fn verifies_with(&self, secret: &str) -> bool {
        let timestamp = self.header("webhook-timestamp");
        assert!(timestamp.parse::<u64>().is_ok(), "{timestamp}");
        let expected = sign(secret, self.header("webhook-id"), timestamp, &self.body);
        // The header may hold several signatures, separated by spaces.
        self.header("webhook-signature")
            .split(' ')
            .any(|s| s == expected)
    }
}

/// The Standard Webhooks signature of `body` sent as `id` at `timestamp`,
/// with `secret` (`whsec_...`): what a receiver computes, and what a forger
/// holding `secret` would send.
fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(
            secret
                .trim()
                .strip_prefix("whsec_")
                .expect("a whsec_ secret"),
        )
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A webhook receiver on loopback: it answers the `n`th request (from 0) as
/// `answer(n)` says, and keeps what it got.
struct Receiver {
    addr: SocketAddr,
    got: Arc<(Mutex<Vec<Received>>, Condvar)>,
    /// Connections open now, the most ever open at once, and those closed.
    open: Arc<Mutex<(usize, usize, usize)>>,
}

impl Receiver {
    fn start(answer: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<(Mutex<Vec<Received>>, Condvar)> = Arc::default();
        let open: Arc<Mutex<(usize, usize, usize)>> = Arc::default();
        let answer = Arc::new(answer);
        let (got_, open_) = (got.clone(), open.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (got, open, answer) = (got_.clone(), open_.clone(), answer.clone());
                {
                    let mut open = open.lock().unwrap();
                    open.0 += 1;
                    open.1 = open.1.max(open.0);
                }
                thread::spawn(move || {
                    serve(stream, &got, &*answer);
                    let mut open = open.lock().unwrap();
                    open.0 -= 1;
                    open.2 += 1;
                });
            }
        });
        Receiver { addr, got, open }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.0.lock().unwrap().clone()
    }

    /// Waits until it has got `n` requests, and returns them.
    fn wait_for(&self, n: usize) -> Vec<Received> {
        wait_until(&format!("the receiver got {n} request(s)"), || {
            self.received().len() >= n
        });
        self.received()
    }

    /// The most connections that were ever open at once.
    fn most_open(&self) -> usize {
        self.open.lock().unwrap().1
    }

    /// The connections that were closed (by the client, for one never answered).
    fn closed(&self) -> usize {
        self.open.lock().unwrap().2
    }

    /// The connections open now.
    fn open_now(&self) -> usize {
        self.open.lock().unwrap().0
    }
}

/// Reads one request from `stream`, keeps it, and answers it (or not).
fn serve(
    mut stream: TcpStream,
    got: &(Mutex<Vec<Received>>, Condvar),
    answer: &dyn Fn(usize) -> Answer,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |length| length.parse().unwrap());
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let n = {
        let mut list = got.0.lock().unwrap();
        list.push(Received {
            path,
            headers,
            body,
        });
        got.1.notify_all();
        list.len() - 1
    };
    match answer(n) {
        Answer::Status(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
        Answer::Redirect(to) => {
            let _ = write!(
                stream,
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            );
        }
        // Held open until the client gives up and closes it.
        Answer::Never => {
            let _ = reader.read_to_end(&mut Vec::new());
        }
    }
}

/// A secret in the Standard Webhooks form, for the lab-wide URL.
const LAB_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The lab's secret the server made, which signs what goes to the lab's URL
/// when the configuration gives none.
fn lab_secret(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".notify-secret"))
        .expect("the server made its secret")
        .trim()
        .to_owned()
}

/// The receivers on loopback are the lab's own, here: allowed as a lab
/// allows its networks.
const ALLOW_LOOPBACK: &str = "notify_allow = [\"127.0.0.1\"]\n";

/// The secret `GET /notifications/secret` gives whoever sends `headers`
/// (a user's token; none: their address's, with access open).
fn own_secret(addr: SocketAddr, headers: &[(&str, &str)]) -> (String, String) {
    let answer = common::request(addr, "GET", "/notifications/secret", headers, b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
    let json = answer.json();
    (
        json["signed_for"].as_str().unwrap().to_owned(),
        json["secret"].as_str().unwrap().to_owned(),
    )
}

/// Applies a configuration file's text, as `--config` would.
fn configure(config: &mut seqspool::Config, toml: &str) {
    config
        .apply_file(toml, Path::new("seqspool.toml"), None)
        .unwrap_or_else(|err| panic!("the configuration is refused: {err}\n{toml}"));
}

/// A form that submits one query named `name`, whose end is posted to `url`.
fn form_to<'a>(name: &'a str, url: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("query_name", name),
        ("query_sequence", "ACGT"),
        ("notify_url", url),
    ]
}

/// Submits a query named `name` whose end is posted to `url`; returns its id.
fn submit_to(addr: SocketAddr, name: &str, url: &str) -> String {
    let answer = common::post_form(addr, "/experiments", &form_to(name, url));
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

/// The notifications a record shows, waiting until none is pending any more.
fn settled_notifications(addr: SocketAddr, id: &str) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("the notifications of {id} are settled"), || {
        last = common::request(addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
        last["notifications"]["deliveries"]
            .as_array()
            .is_some_and(|all| all.iter().all(|d| d["state"] != "pending"))
    });
    last["notifications"].clone()
}

/// A command that fails for the query named `fail`, runs a long time for
/// `slow`, and leaves a link where the `on_finish` command's log goes for `link`.
const COMMAND: &str = r#"case "$QUERY_NAME" in fail) exit 3;; slow) sleep 60;; link) ln -s ../victim.txt .on_finish.stderr.txt;; esac"#;

#[test]
fn every_end_is_posted_once_signed_to_the_submissions_url_and_to_the_labs() {
    let mine = Receiver::start(|_| Answer::Status(204));
    let lab = Receiver::start(|_| Answer::Status(200));
    let toml = format!(
        "command = '{COMMAND}'\n{ALLOW_LOOPBACK}[notify]\nurl = \"{}\"\nsecret = \"{LAB_SECRET}\"\n",
        lab.url("/lab?from=seqspool")
    );
    let server = Server::start(|config| configure(config, &toml));
    let url = mine.url("/hooks/mine");

    // Each way a submission names its URL: a form, JSON, a FASTA body's query string.
    let ok = server.post_form("/experiments", &form_to("ok", &url));
    assert_eq!(ok.status, 202, "{}", ok.text());
    let ok = ok.json();
    assert_eq!(ok["notify_url"], url.as_str());
    assert_eq!(ok["notify_lab"], true);
    let ok = ok["id"].as_str().unwrap().to_owned();
    let fail = server.post_json(
        "/experiments",
        &json!({"query_name": "fail", "query_sequence": "ACGT", "notify_url": url}),
    );
    assert_eq!(fail.status, 202, "{}", fail.text());
    let fail = fail.json()["id"].as_str().unwrap().to_owned();
    let slow = common::request(
        server.addr,
        "POST",
        &format!(
            "/experiments?notify_url={}",
            url.replace(':', "%3A").replace('/', "%2F")
        ),
        &[("Content-Type", "text/x-fasta")],
        b">slow\nACGT\n",
    );
    assert_eq!(slow.status, 202, "{}", slow.text());
    assert_eq!(slow.json()["notify_url"], url.as_str());
    let slow = slow.json()["id"].as_str().unwrap().to_owned();
    let waiting = server.post_form("/experiments", &form_to("waiting", &url));
    let waiting = waiting.json()["id"].as_str().unwrap().to_owned();

    // Cancelled while it waits, and while it runs.
    server.wait_for_state(&slow, "RUNNING");
    assert_eq!(
        server.delete(&format!("/experiments/{waiting}")).status,
        200
    );
    assert_eq!(server.delete(&format!("/experiments/{slow}")).status, 202);
    server.wait_for_state(&slow, "CANCELED");

    let expected = [
        (&ok, "experiment.completed", "COMPLETE"),
        (&fail, "experiment.failed", "EXECUTOR_ERROR"),
        (&slow, "experiment.canceled", "CANCELED"),
        (&waiting, "experiment.canceled", "CANCELED"),
    ];
    for (id, _, _) in &expected {
        let notifications = settled_notifications(server.addr, id);
        let deliveries = notifications["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 2, "{notifications}");
        for delivery in deliveries {
            assert_eq!(delivery["state"], "delivered", "{notifications}");
            assert_eq!(delivery["attempts"], 1, "{notifications}");
        }
        assert_eq!(deliveries[0]["to"], "notify_url");
        assert_eq!(deliveries[0]["url"], url.as_str());
        assert_eq!(deliveries[0]["signed_for"], "127.0.0.1");
        // The lab's URL may carry a token: the record does not show it.
        assert_eq!(deliveries[1]["to"], "lab");
        assert!(deliveries[1].get("url").is_none(), "{notifications}");
    }

    // One event per experiment at each receiver, each signed with its
    // secret: the submitter's own (access is open and no token was sent:
    // their address's), and the lab's.
    let (signed_for, own) = own_secret(server.addr, &[]);
    assert_eq!(signed_for, "127.0.0.1");
    assert_ne!(own, LAB_SECRET);
    assert_ne!(own, lab_secret(&server.dir));
    for (receiver, secret, path) in [
        (&mine, own.as_str(), "/hooks/mine"),
        (&lab, LAB_SECRET, "/lab?from=seqspool"),
    ] {
        let got = receiver.received();
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (id, kind, state) in &expected {
            let event: Vec<&Received> = got
                .iter()
                .filter(|r| r.json()["data"]["id"] == id.as_str())
                .collect();
            assert_eq!(event.len(), 1, "one event for {id}: {got:#?}");
            let event = event[0];
            event.assert_signed_with(secret);
            assert_eq!(event.path, path);
            assert_eq!(event.header("content-type"), "application/json");
            let body = event.json();
            assert_eq!(body["type"], *kind, "{body}");
            assert_eq!(body["data"]["state"], *state, "{body}");
            assert_eq!(body["timestamp"], body["data"]["finished_at"], "{body}");
            let record = server.get(&format!("/experiments/{id}")).json();
            assert_eq!(event.header("webhook-id"), record["notifications"]["id"]);
            assert_eq!(record["notifications"]["type"], *kind);
        }
    }
    // One id per experiment: a receiver tells a retry from a new event by it.
    let ids: Vec<String> = mine
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");

    // A signature made with another secret does not check out.
    let forged = std::panic::catch_unwind(|| mine.received()[0].assert_signed_with(LAB_SECRET));
    assert!(
        forged.is_err(),
        "a signature checked out with the wrong secret"
    );

    // The page says where each delivery stands.
    let page = common::request(
        server.addr,
        "GET",
        &format!("/experiments/{ok}"),
        &[("Accept", "text/html")],
        b"",
    );
    let html = page.text();
    assert!(html.contains("Notifications"), "{html}");
    assert_eq!(
        html.matches("data-delivery=\"delivered\"").count(),
        2,
        "{html}"
    );
    assert!(html.contains(&url), "{html}");
    assert!(
        !html.contains("from=seqspool"),
        "the lab's URL is not shown: {html}"
    );

    // Run again, it tells the same URL.
    let again = server.post_json(&format!("/experiments/{fail}/retry"), &json!({}));
    assert_eq!(again.status, 202, "{}", again.text());
    let again = again.json();
    assert_eq!(again["notify_url"], url.as_str(), "{again}");
    let again = again["id"].as_str().unwrap();
    let told = mine.wait_for(expected.len() + 1);
    assert_eq!(told[expected.len()].json()["data"]["id"], again);
}

#[test]
fn a_bad_notify_url_is_refused_and_nothing_is_written() {
    let server = Server::start(|_| {});
    let long = format!("http://lab.example.org/{}", "a".repeat(3000));
    for (url, says) in [
        ("ftp://lab.example.org/hook", "http://"),
        ("https://lab.example.org/hook", "https"),
        ("http://alice:secret@lab.example.org/hook", "password"),
        ("lab-bot:9000/hook", "URL"),
        (long.as_str(), "at most 2048 bytes"),
    ] {
        let form = server.post_form("/experiments", &form_to("q", url));
        assert_error(&form, 422, Some("notify_url"), &[says], url);
        let json = server.post_json(
            "/experiments",
            &json!({"query_name": "q", "query_sequence": "ACGT", "notify_url": url}),
        );
        assert_error(&json, 422, Some("notify_url"), &[says], url);
        let legacy = server.post_form("/", &form_to("q", url));
        assert_eq!(legacy.status, 422, "{}", legacy.text());
    }
    let fasta = common::request(
        server.addr,
        "POST",
        "/experiments?notify_url=https%3A%2F%2Flab.example.org%2Fhook",
        &[("Content-Type", "text/x-fasta")],
        b">q\nACGT\n",
    );
    assert_error(&fasta, 422, Some("notify_url"), &["https"], "a FASTA body");
    assert!(
        server.experiment_dirs().is_empty(),
        "{:?}",
        server.experiment_dirs()
    );
    // The server carries on, and a blank field is no URL.
    let blank = server.post_form("/experiments", &form_to("q", ""));
    assert_eq!(blank.status, 202, "{}", blank.text());
    let record = blank.json();
    assert!(record.get("notify_url").is_none(), "{record}");
    let id = record["id"].as_str().unwrap();
    let done = server.wait_for_state(id, "COMPLETE");
    assert!(done.get("notifications").is_none(), "{done}");
    assert!(!server.dir.join(id).join(".notify.json").exists());
}

#[test]
fn a_failed_delivery_is_tried_again_with_the_same_id_after_a_crash_and_a_restart() {
    let receiver = Receiver::start(|n| Answer::Status(if n == 0 { 500 } else { 204 }));
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    // The first server would wait an hour before trying again: it is killed long before.
    let mut first = Binary::spawn({
        let mut command = Binary::command(&experiments, &["--notify-allow", "127.0.0.1"]);
        command.env("SEQSPOOL_NOTIFY_BACKOFF", "3600");
        command
    });
    let url = receiver.url("/hook");
    let answer = common::post_form(first.addr, "/experiments", &form_to("q", &url));
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let refused = receiver.wait_for(1)[0].clone();
    let mut record = Value::Null;
    wait_until("the failed attempt is recorded", || {
        record = common::request(first.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
        record["notifications"]["deliveries"][0]["attempts"] == 1
    });
    let delivery = &record["notifications"]["deliveries"][0];
    assert_eq!(delivery["state"], "pending", "{record}");
    assert!(
        delivery["last_error"].as_str().unwrap().contains("500"),
        "{record}"
    );
    assert!(delivery["next_attempt_at"].is_string(), "{record}");
    assert!(first.log().contains("outcome=retry"), "{}", first.log());
    let metrics = common::request(first.addr, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("seqspool_webhook_deliveries_total{outcome=\"retry\"} 1"),
        "{metrics}"
    );
    first.crash();
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing more before the restart"
    );

    let second = Binary::spawn({
        let mut command = Binary::command(&experiments, &["--notify-allow", "127.0.0.1"]);
        command.env("SEQSPOOL_NOTIFY_BACKOFF", "0.2");
        command
    });
    let again = receiver.wait_for(2)[1].clone();
    assert_eq!(again.header("webhook-id"), refused.header("webhook-id"));
    assert_eq!(again.body, refused.body, "the same event, byte for byte");
    let (_, secret) = own_secret(second.addr, &[]);
    refused.assert_signed_with(&secret);
    again.assert_signed_with(&secret);
    let notifications = settled_notifications(second.addr, &id);
    let delivery = &notifications["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{notifications}");
    assert_eq!(delivery["attempts"], 2, "{notifications}");
    assert!(
        second.log().contains("resuming 1 pending notification"),
        "{}",
        second.log()
    );
    assert!(
        second.log().contains("outcome=delivered attempt=2"),
        "{}",
        second.log()
    );
    let metrics = common::request(second.addr, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("seqspool_webhook_deliveries_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    assert_eq!(receiver.received().len(), 2);
}

#[test]
fn an_end_whose_outbox_was_never_written_is_notified_at_the_next_start() {
    let receiver = Receiver::start(|_| Answer::Status(204));
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    let url = receiver.url("/hook");
    let allow = |config: &mut seqspool::Config| configure(config, ALLOW_LOOPBACK);
    let server = Server::start_in(&experiments, allow);
    let told = submit_to(server.addr, "told", &url);
    let quiet = server.submit("quiet", "ACGT");
    server.wait_for_state(&quiet, "COMPLETE");
    settled_notifications(server.addr, &told);
    server.stop().unwrap();
    assert_eq!(receiver.received().len(), 1);

    // As if the server had died between recording the end and writing the outbox.
    std::fs::remove_file(experiments.join(&told).join(".notify.json")).unwrap();
    let server = Server::start_in(&experiments, allow);
    let got = receiver.wait_for(2);
    assert_eq!(got[1].json()["data"]["id"], told.as_str());
    assert_eq!(got[1].json()["type"], "experiment.completed");
    got[1].assert_signed_with(&own_secret(server.addr, &[]).1);
    assert_eq!(
        settled_notifications(server.addr, &told)["deliveries"][0]["state"],
        "delivered"
    );
    // The experiment nobody asked about is not told, then or now.
    assert!(!experiments.join(&quiet).join(".notify.json").exists());
    let _ = wait_for_state(server.addr, &quiet, "COMPLETE");
    assert_eq!(receiver.received().len(), 2);
}

#[test]
fn a_receiver_that_never_answers_holds_up_neither_the_queue_nor_the_server_nor_other_receivers() {
    let dead = Receiver::start(|_| Answer::Never);
    let live = Receiver::start(|_| Answer::Status(204));
    let server = Server::start(|config| configure(config, ALLOW_LOOPBACK));
    let submit = |name: String, url: String| submit_to(server.addr, &name, &url);
    // More than the deliveries attempted at once to all receivers (16), each
    // held for its whole timeout.
    let told: Vec<String> = (0..20)
        .map(|n| submit(format!("told{n}"), dead.url("/hook")))
        .collect();
    let behind: Vec<String> = (0..3)
        .map(|n| submit(format!("behind{n}"), live.url("/hook")))
        .collect();
    // Twenty deliveries that never get an answer would hold a worker that
    // waited on them for minutes: the experiments behind run all the same.
    for id in told.iter().chain(&behind) {
        server.wait_for_state(id, "COMPLETE");
    }
    // And the live receiver hears of its experiments while every attempt at
    // the dead one still waits for an answer: they took none of its turns.
    let heard = live.wait_for(behind.len());
    assert_eq!(
        dead.closed(),
        0,
        "an attempt at the dead receiver gave up before the live one was told"
    );
    assert_eq!(heard.len(), behind.len());
    wait_until(
        "the dead receiver holds as many connections as one receiver may have",
        || dead.most_open() == 2,
    );
    let backlog = server.get("/backlog");
    assert_eq!(backlog.status, 200);
    assert_eq!(backlog.json(), json!(["Currently 0 jobs in the backlog."]));
    assert!(
        dead.most_open() <= 2,
        "{} connections at once",
        dead.most_open()
    );
    // Still being sent, not lost: each is pending in its outbox.
    for id in &told {
        let record = server.get(&format!("/experiments/{id}")).json();
        assert_eq!(
            record["notifications"]["deliveries"][0]["state"], "pending",
            "{record}"
        );
    }
}

#[test]
fn the_on_finish_command_gets_the_event_on_its_standard_input() {
    let out = tempfile::tempdir().unwrap();
    let toml = format!(
        "command = '{COMMAND}'\n[notify]\non_finish = [\"/bin/sh\", \"-c\", \
         'case \"$SEQSPOOL_EVENT_TYPE\" in experiment.canceled) echo no mail server >&2; exit 3;; esac; \
         cat > \"$1/$EXPERIMENT_ID.json\" && printf %s \"$SEQSPOOL_EVENT_ID\" > \"$1/$EXPERIMENT_ID.id\"', \
         \"on_finish\", \"{}\"]\n",
        out.path().display()
    );
    let server = Server::start(|config| {
        configure(config, &toml);
        // A failed run is tried again only long after the test.
        config.notify_backoff = Some(std::time::Duration::from_secs(3600));
    });
    let ok = server.submit("ok", "ACGT");
    let fail = server.submit("fail", "ACGT");
    let slow = server.submit("slow", "ACGT");
    server.wait_for_state(&slow, "RUNNING");
    assert_eq!(server.delete(&format!("/experiments/{slow}")).status, 202);
    for (id, kind, state) in [
        (&ok, "experiment.completed", "COMPLETE"),
        (&fail, "experiment.failed", "EXECUTOR_ERROR"),
    ] {
        let notifications = settled_notifications(server.addr, id);
        let delivery = &notifications["deliveries"][0];
        assert_eq!(delivery["to"], "on_finish", "{notifications}");
        assert_eq!(delivery["state"], "delivered", "{notifications}");
        assert!(delivery.get("running").is_none(), "{notifications}");
        let event: Value =
            serde_json::from_slice(&std::fs::read(out.path().join(format!("{id}.json"))).unwrap())
                .unwrap();
        assert_eq!(event["type"], kind);
        assert_eq!(event["data"]["id"], id.as_str());
        assert_eq!(event["data"]["state"], state);
        let event_id = std::fs::read_to_string(out.path().join(format!("{id}.id"))).unwrap();
        assert_eq!(event_id, notifications["id"].as_str().unwrap());
    }
    // A failed run says why, with what the command said, and keeps its
    // output in the experiment's directory.
    let mut record = Value::Null;
    wait_until("the failed run of on_finish is recorded", || {
        record = server.get(&format!("/experiments/{slow}")).json();
        record["notifications"]["deliveries"][0]["attempts"] == 1
    });
    let delivery = &record["notifications"]["deliveries"][0];
    assert_eq!(delivery["state"], "pending", "{record}");
    assert_eq!(
        delivery["last_error"], "exited with code 3: no mail server",
        "{record}"
    );
    let said = std::fs::read_to_string(server.dir.join(&slow).join(".on_finish.stderr.txt"));
    assert_eq!(said.unwrap(), "no mail server\n");
    assert!(!out.path().join(format!("{slow}.json")).exists());

    // A link an experiment's command left where the log goes is not followed.
    let victim = server.dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let link = server.submit("link", "ACGT");
    wait_until("the run of on_finish is refused", || {
        record = server.get(&format!("/experiments/{link}")).json();
        record["notifications"]["deliveries"][0]["attempts"] == 1
    });
    let error = record["notifications"]["deliveries"][0]["last_error"]
        .as_str()
        .unwrap();
    assert!(error.contains("could not start it"), "{error}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!out.path().join(format!("{link}.json")).exists());
}

/// Every spelling of an address of the workstation, and its name, each with
/// the path of one of its own services.
fn workstation_urls(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "[::1]",
        "0x7f000001",
        "2130706433",
        "127.1",
        "0177.0.0.1",
        "localhost",
        "[::ffff:127.0.0.1]",
        "0",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/queue/pause?reason=pwned"))
    .collect()
}

#[test]
fn a_notify_url_reaches_no_address_of_the_workstation_or_the_lab_unless_the_lab_allows_it() {
    let receiver = Receiver::start(|_| Answer::Status(204));
    let port = receiver.addr.port();
    let server = Server::start(|_| {});
    let mut urls = workstation_urls(port);
    urls.extend(
        [
            "http://10.0.0.7:9000/",
            "http://172.16.4.4/",
            "http://192.168.1.1/admin",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://224.0.0.251/",
            "http://255.255.255.255/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[ff02::1]/",
            "http://0.0.0.0/",
            "http://printer.localhost/",
        ]
        .map(str::to_owned),
    );
    for url in &urls {
        let form = server.post_form("/experiments", &form_to("q", url));
        assert_error(&form, 422, Some("notify_url"), &["notify_allow"], url);
        let json = server.post_json(
            "/experiments",
            &json!({"query_name": "q", "query_sequence": "ACGT", "notify_url": url}),
        );
        assert_error(&json, 422, Some("notify_url"), &["notify_allow"], url);
        let fasta = common::request(
            server.addr,
            "POST",
            &format!(
                "/experiments?notify_url={}",
                url.replace('%', "%25")
                    .replace(':', "%3A")
                    .replace('/', "%2F")
                    .replace('?', "%3F")
                    .replace('&', "%26")
                    .replace('=', "%3D")
                    .replace('[', "%5B")
                    .replace(']', "%5D")
            ),
            &[("Content-Type", "text/x-fasta")],
            b">q\nACGT\n",
        );
        assert_error(&fasta, 422, Some("notify_url"), &["notify_allow"], url);
        let legacy = server.post_form("/", &form_to("q", url));
        assert_eq!(legacy.status, 422, "{url}: {}", legacy.text());
    }
    let named = server.post_form("/experiments", &form_to("q", "http://0x7f000001:8000/"));
    assert!(
        named
            .text()
            .contains("0x7f000001 (127.0.0.1), a loopback address"),
        "{}",
        named.text()
    );
    assert!(
        server.experiment_dirs().is_empty(),
        "{:?}",
        server.experiment_dirs()
    );
    assert!(receiver.received().is_empty());
    assert_eq!(server.get("/queue").json()["paused"], false);
    // A public address, or a name (checked when it is delivered to), is taken.
    for url in [
        "http://192.0.43.10:9/hook",
        "http://receiver.example.org:9/hook",
    ] {
        let taken = server.post_form("/experiments", &form_to("q", url));
        assert_eq!(taken.status, 202, "{url}: {}", taken.text());
    }
    drop(server);

    // Allowed, every spelling reaches the receiver.
    let server =
        Server::start(|config| configure(config, "notify_allow = [\"127.0.0.0/8\", \"::1\"]"));
    let ipv4: Vec<String> = workstation_urls(port)
        .into_iter()
        .filter(|url| !url.contains("[::1]") && !url.contains("//0:"))
        .collect();
    for url in &ipv4 {
        let answer = server.post_form("/experiments", &form_to("q", url));
        assert_eq!(answer.status, 202, "{url}: {}", answer.text());
    }
    receiver.wait_for(ipv4.len());
    assert!(receiver
        .received()
        .iter()
        .all(|r| r.path == "/queue/pause?reason=pwned"));
}

#[test]
fn a_url_allowed_when_it_was_submitted_is_refused_at_delivery_once_it_no_longer_is() {
    let receiver = Receiver::start(|_| Answer::Status(204));
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    let server = Server::start_in(&experiments, |config| configure(config, ALLOW_LOOPBACK));
    assert_eq!(server.post_json("/queue/pause", &json!({})).status, 200);
    let url = receiver.url("/hook");
    let id = submit_to(server.addr, "q", &url);
    server.stop().unwrap();

    // The lab allows loopback no longer: the end is not delivered, and the
    // record says why.
    let server = Server::start_in(&experiments, |_| {});
    assert_eq!(server.post_json("/queue/resume", &json!({})).status, 200);
    server.wait_for_state(&id, "COMPLETE");
    let notifications = settled_notifications(server.addr, &id);
    let delivery = &notifications["deliveries"][0];
    assert_eq!(delivery["state"], "failed", "{notifications}");
    let error = delivery["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("refused: the notify_url names 127.0.0.1, a loopback address"),
        "{error}"
    );
    assert!(receiver.received().is_empty());
}

#[test]
fn a_redirect_is_a_failed_delivery_and_is_not_followed() {
    let elsewhere = Receiver::start(|_| Answer::Status(204));
    let to = elsewhere.url("/stolen");
    let redirecting = Receiver::start(move |_| Answer::Redirect(to.clone()));
    let server = Server::start(|config| {
        configure(config, ALLOW_LOOPBACK);
        config.notify_backoff = Some(std::time::Duration::from_secs(3600));
    });
    let id = submit_to(server.addr, "q", &redirecting.url("/hook"));
    redirecting.wait_for(1);
    let mut record = Value::Null;
    wait_until("the redirected attempt is recorded", || {
        record = server.get(&format!("/experiments/{id}")).json();
        record["notifications"]["deliveries"][0]["attempts"] == 1
    });
    let delivery = &record["notifications"]["deliveries"][0];
    assert_eq!(delivery["state"], "pending", "{record}");
    assert_eq!(
        delivery["last_error"],
        "answered 307 Temporary Redirect (redirects are not followed: give the URL it redirects to)",
        "{record}"
    );
    assert!(elsewhere.received().is_empty());
}

#[test]
fn each_users_receiver_verifies_with_a_secret_of_its_own_and_cannot_forge_anothers_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let anna = format!("Bearer {}", common::add_user(&dir, "anna", false));
    let ben = format!("Bearer {}", common::add_user(&dir, "ben", false));
    let lab = Receiver::start(|_| Answer::Status(204));
    let toml = format!("{ALLOW_LOOPBACK}[notify]\nurl = \"{}\"\n", lab.url("/lab"));
    let server = Server::start_in(&dir, |config| {
        configure(config, &toml);
        config.access = seqspool::config::AccessMode::Members;
    });
    let anna_receiver = Receiver::start(|_| Answer::Status(204));
    let ben_receiver = Receiver::start(|_| Answer::Status(204));
    let (anna_is, anna_secret) = own_secret(server.addr, &[("Authorization", &anna)]);
    let (ben_is, ben_secret) = own_secret(server.addr, &[("Authorization", &ben)]);
    assert_eq!((anna_is.as_str(), ben_is.as_str()), ("anna", "ben"));
    let secrets = [anna_secret.clone(), ben_secret.clone(), lab_secret(&dir)];
    assert!(secrets[0] != secrets[1] && secrets[0] != secrets[2] && secrets[1] != secrets[2]);
    // Anybody has no secret of a user's to ask for.
    let anybody = server.get("/notifications/secret");
    assert_error(&anybody, 401, None, &["sign in"], "anybody");
    // The page shows it to whoever is signed in, and asks anybody to sign in.
    let page = |headers: &[(&str, &str)]| {
        let mut headers = headers.to_vec();
        headers.push(("Accept", "text/html"));
        common::request(server.addr, "GET", "/notifications/secret", &headers, b"")
    };
    let shown = page(&[("Authorization", &anna)]);
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert_eq!(shown.header("Cache-Control"), Some("no-store"));
    assert!(shown.text().contains(&anna_secret), "{}", shown.text());
    assert!(!shown.text().contains(&ben_secret));
    let asked = page(&[]);
    assert_eq!(asked.status, 401);
    assert!(
        asked.text().contains("action=\"/sign-in\""),
        "{}",
        asked.text()
    );

    let submit = |token: &str, receiver: &Receiver| {
        let answer = common::request(
            server.addr,
            "POST",
            "/experiments",
            &[
                ("Authorization", token),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!(
                "query_name=q&query_sequence=ACGT&notify_url={}",
                receiver
                    .url("/hook")
                    .replace(':', "%3A")
                    .replace('/', "%2F")
            )
            .as_bytes(),
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
    };
    submit(&anna, &anna_receiver);
    submit(&ben, &ben_receiver);
    let for_anna = anna_receiver.wait_for(1)[0].clone();
    let for_ben = ben_receiver.wait_for(1)[0].clone();
    for_anna.assert_signed_with(&anna_secret);
    for_ben.assert_signed_with(&ben_secret);
    // Anna's receiver cannot verify Ben's event, nor Ben's hers, nor the
    // lab's receiver either: none of them holds the other's secret.
    assert!(!for_ben.verifies_with(&anna_secret));
    assert!(!for_anna.verifies_with(&ben_secret));
    assert!(!for_anna.verifies_with(&secrets[2]) && !for_ben.verifies_with(&secrets[2]));
    let lab_got = lab.wait_for(2);
    assert!(lab_got.iter().all(|event| event.verifies_with(&secrets[2])));
    assert!(lab_got
        .iter()
        .all(|event| !event.verifies_with(&anna_secret)));

    // So whoever holds Anna's secret cannot forge an event Ben's receiver takes.
    let mut forged = for_ben.clone();
    let body = String::from_utf8(forged.body.clone())
        .unwrap()
        .replace("\"COMPLETE\"", "\"EXECUTOR_ERROR\"");
    forged.body = body.into_bytes();
    let stamp = forged.header("webhook-timestamp").to_owned();
    let id = forged.header("webhook-id").to_owned();
    forged.headers.insert(
        "webhook-signature".into(),
        sign(&anna_secret, &id, &stamp, &forged.body),
    );
    assert!(forged.verifies_with(&anna_secret));
    assert!(!forged.verifies_with(&ben_secret), "a forgery checks out");

    // A new token (a user removed and added again) is a new secret.
    let out = common::user_command(&dir, &["remove", "anna"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let anna_again = format!("Bearer {}", common::add_user(&dir, "anna", false));
    let (_, renewed) = own_secret(server.addr, &[("Authorization", &anna_again)]);
    assert_ne!(renewed, anna_secret);
    assert_eq!(
        own_secret(server.addr, &[("Authorization", &ben)]).1,
        ben_secret
    );
}

#[test]
fn the_on_finish_command_is_killed_with_the_server_and_run_once_more_at_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Each run notes its pid, waits until the test says go, then notes that it finished.
    let config = dir.path().join("seqspool.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\non_finish = [\"/bin/sh\", \"-c\", \
             'echo $$ >> \"$1/started\"; echo $$ > \"$1/pid\"; \
             while [ ! -e \"$1/go\" ]; do sleep 0.05; done; echo $$ >> \"$1/finished\"', \
             \"on_finish\", \"{}\"]\n",
            out.display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let mut first = Binary::start(&experiments, &["--config", &config]);
    let id = common::submit(first.addr, "q", "ACGT");
    let running = common::Process::from_pid_file(&out.join("pid"));
    let record = common::request(first.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
    let delivery = &record["notifications"]["deliveries"][0];
    assert_eq!(delivery["to"], "on_finish", "{record}");
    assert!(delivery["running"]["since"].is_string(), "{record}");
    first.crash();
    // Killed with the server, as any command it runs.
    wait_until("the on_finish command ends with the server", || {
        running.is_gone()
    });
    std::fs::remove_file(out.join("pid")).unwrap();

    let second = Binary::start(&experiments, &["--config", &config]);
    let again = common::Process::from_pid_file(&out.join("pid"));
    assert_ne!(again, running);
    assert!(
        second.log().contains("was running since"),
        "{}",
        second.log()
    );
    std::fs::write(out.join("go"), "").unwrap();
    let notifications = settled_notifications(second.addr, &id);
    let delivery = &notifications["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{notifications}");
    assert_eq!(delivery["attempts"], 1, "{notifications}");
    assert!(delivery.get("running").is_none(), "{notifications}");
    let started = std::fs::read_to_string(out.join("started")).unwrap();
    let finished = std::fs::read_to_string(out.join("finished")).unwrap();
    assert_eq!(started.lines().count(), 2, "{started}");
    assert_eq!(
        finished.lines().collect::<Vec<_>>(),
        [again.pid.to_string()]
    );
    drop(second);

    // Delivered, it never runs again.
    let third = Binary::start(&experiments, &["--config", &config]);
    let notifications = settled_notifications(third.addr, &id);
    assert_eq!(notifications["deliveries"][0]["attempts"], 1);
    assert_eq!(
        std::fs::read_to_string(out.join("started"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn receivers_that_never_answer_hold_up_no_other_receivers_delivery() {
    // As many receivers as the deliveries once attempted at once in all, each
    // with more deliveries than its own lane takes.
    const SILENT: usize = 16;
    let silent: Vec<Receiver> = (0..SILENT)
        .map(|_| Receiver::start(|_| Answer::Never))
        .collect();
    let good = Receiver::start(|_| Answer::Status(204));
    let server = Server::start(|config| configure(config, ALLOW_LOOPBACK));
    for receiver in &silent {
        for n in 0..3 {
            submit_to(server.addr, &format!("silent{n}"), &receiver.url("/hook"));
        }
    }
    submit_to(server.addr, "good", &good.url("/hook"));
    // The good receiver is told while every attempt at a silent one still
    // waits for its answer: not one has given up (at its timeout) before.
    good.wait_for(1);
    for (n, receiver) in silent.iter().enumerate() {
        assert_eq!(receiver.closed(), 0, "silent receiver {n} gave up first");
    }
    // Each silent receiver holds its own lane full, and no more.
    wait_until("each silent receiver holds its two connections", || {
        silent.iter().all(|receiver| receiver.open_now() == 2)
    });
    for (n, receiver) in silent.iter().enumerate() {
        assert_eq!(receiver.most_open(), 2, "silent receiver {n}");
        assert_eq!(receiver.closed(), 0, "silent receiver {n}");
    }
}
