//! Queue control for operators, end to end: who paused the queue (said in
//! its record, `GET /queue`, the page, the log and the events), draining the server (every
//! submission route refuses with 503 and says who drains and why, while what
//! is queued finishes; it survives a restart), moving a queued experiment to
//! the front (it runs next, its record says who moved it, and the order
//! survives `kill -9`), and the retention policy (off by default; the dry run
//! lists and removes nothing; the sweep removes old finished experiments,
//! never a queued or running one, nor part of a batch, crash-safely, and their
//! ids are never given again).

use crate::common::*;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

const SEQUENCE: &str = "ACGTACGTTGCA";

/// A lab whose command (`command.sh`) logs each run's start and end in the
/// run log; a query named block* waits until `go` exists, one named fail*
/// fails.
fn lab_with_command() -> Lab {
    let lab = Lab::new();
    let script = r#"t='DIR'
echo "start $EXPERIMENT_ID" >> "$t/run.log"
case "$QUERY_NAME" in
  block*) while [ ! -e "$t/go" ]; do sleep 0.05; done ;;
  fail*) exit 3 ;;
esac
echo "end $EXPERIMENT_ID" >> "$t/run.log"
"#
    .replace("DIR", &lab.dir().display().to_string());
    fs::write(lab.path("command.sh"), script).unwrap();
    lab
}

fn lab_command(lab: &Lab) -> String {
    format!("sh '{}'", lab.path("command.sh").display())
}

/// Starts a server on the lab's experiments directory, running the command.
fn start_server(lab: &Lab, configure: impl FnOnce(&mut seqspool::Config)) -> Server {
    let command = lab_command(lab);
    lab.server(|config| {
        config.command = Some(command);
        configure(config);
    })
}

/// Lets blocked runs end.
fn release(lab: &Lab) {
    fs::write(lab.path("go"), "").unwrap();
}

/// The experiments whose runs started, in order.
fn starts(lab: &Lab) -> Vec<String> {
    lab.log()
        .iter()
        .filter_map(|line| line.strip_prefix("start "))
        .map(str::to_owned)
        .collect()
}

/// A page request as a browser on this server's page sends it.
fn page_headers(addr: std::net::SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("Accept", BROWSER_ACCEPT.to_owned()),
        ("Origin", format!("http://{addr}")),
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ]
}

fn request_with(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Response {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request(server.addr, method, path, &headers, body)
}

fn post(server: &Server, path: &str) -> Response {
    request(server.addr, "POST", path, &[], b"")
}

fn page(server: &Server, path: &str) -> String {
    let answer = request(server.addr, "GET", path, &[("Accept", BROWSER_ACCEPT)], b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

/// Waits until experiment `id` is gone from the index (404).
fn wait_until_gone(server: &Server, id: &str) {
    wait_until(&format!("experiment {id} is removed"), || {
        server.get(&format!("/experiments/{id}")).status == 404
    });
}

// ---- pause ------------------------------------------------------------------

#[test]
fn a_pause_says_who_paused_in_its_record_the_queue_the_page_the_log_and_the_events() {
    let lab = lab_with_command();
    let dir = lab.experiments();
    let command = lab_command(&lab);
    let args = ["--access", "members", "--command", command.as_str()];
    let mut server = Binary::start(&dir, &args);
    let root = add_user(&dir, "root", true);

    // Listening to the events before the pause.
    let mut events = TcpStream::connect(server.addr).unwrap();
    events.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        events,
        "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut events = BufReader::new(events);
    let mut line = String::new();
    events.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");

    let paused = post_as(server.addr, "/queue/pause?reason=new+column", &root);
    assert_eq!(paused.status, 200, "{}", paused.text());
    let pause = &paused.json()["pause"];
    assert_eq!(pause["by"], "operator", "{pause}");
    assert_eq!(pause["operator"], "root", "{pause}");
    assert_eq!(server_queue(server.addr)["pause"]["operator"], "root");

    // The event that says so.
    loop {
        line.clear();
        events.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the event stream ended");
        if line.starts_with("data: ") && line.contains(r#""paused":true"#) {
            assert!(line.contains(r#""operator":"root""#), "{line}");
            assert!(line.contains(r#""reason":"new column""#), "{line}");
            break;
        }
    }
    let home = request(server.addr, "GET", "/", &[("Accept", BROWSER_ACCEPT)], b"").text();
    assert!(
        home.contains("Paused by <span data-paused-by>root</span>"),
        "{home}"
    );
    wait_until("the log says who paused", || {
        server
            .log()
            .contains("the queue is paused by root: new column")
    });

    // The record of the pause keeps it across a restart.
    server.crash();
    let server = Binary::start(&dir, &args);
    let pause = server_queue(server.addr)["pause"].clone();
    assert_eq!(pause["operator"], "root", "{pause}");
    assert_eq!(pause["reason"], "new column", "{pause}");
    let resumed = post_as(server.addr, "/queue/resume", &root);
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    wait_until("the log says who paused what was resumed", || {
        server.log().contains("by root: new column)")
    });
}

/// `POST path` with `token`.
fn post_as(addr: std::net::SocketAddr, path: &str, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    request(addr, "POST", path, &[("Authorization", auth.as_str())], b"")
}

fn server_queue(addr: std::net::SocketAddr) -> Value {
    request(addr, "GET", "/queue", &[], b"").json()
}

// ---- drain ------------------------------------------------------------------

#[test]
fn a_drained_server_refuses_every_submission_while_what_is_queued_finishes_and_it_survives_a_restart(
) {
    let lab = lab_with_command();
    let server = start_server(&lab, |_| {});
    let failed = server.submit("fail-0", SEQUENCE);
    let blocking = server.submit("block-1", SEQUENCE);
    let queued = [server.submit("q2", SEQUENCE), server.submit("q3", SEQUENCE)];
    server.wait_for_state(&failed, "EXECUTOR_ERROR");
    server.wait_for_state(&blocking, "RUNNING");

    // A reason that is not text changes nothing.
    let bad = post(&server, "/queue/drain?reason=a%0Ab");
    assert_error(
        &bad,
        422,
        Some("reason"),
        &["printable"],
        "a reason with a newline",
    );
    assert_eq!(server.get("/queue").json()["draining"], false);
    assert_eq!(server.get("/queue/drain").status, 405);

    let drained = post(&server, "/queue/drain?reason=moving+to+the+new+workstation");
    assert_eq!(drained.status, 200, "{}", drained.text());
    let state = drained.json();
    assert_eq!(state["draining"], true, "{state}");
    assert_eq!(state["drain"]["reason"], "moving to the new workstation");
    assert_eq!(state["drain"]["by"], "127.0.0.1");
    assert!(state["drain"]["since"].is_string(), "{state}");
    assert_eq!(server.get("/queue").json()["drain"], state["drain"]);
    assert_eq!(
        server.get("/service-info").json()["queue"]["drain"],
        state["drain"]
    );
    // A second drain keeps the first's reason.
    let again = post(&server, "/queue/drain?reason=another");
    assert_eq!(again.json()["drain"], state["drain"]);

    let refused = |server: &Server| {
        let before = snapshot(&server.dir);
        let parts = [
            "draining",
            "moving to the new workstation",
            "127.0.0.1",
            "still run",
        ];
        let form = [("query_name", "late"), ("query_sequence", SEQUENCE)];
        let answers = [
            ("POST /", server.post_form("/", &form)),
            (
                "POST /experiments, a form",
                server.post_form("/experiments", &form),
            ),
            (
                "POST /experiments, JSON",
                server.post_json(
                    "/experiments",
                    &serde_json::json!({"query_name": "late", "query_sequence": SEQUENCE}),
                ),
            ),
            (
                "POST /experiments, FASTA",
                request(
                    server.addr,
                    "POST",
                    "/experiments",
                    &[("Content-Type", "text/x-fasta")],
                    b">a\nACGT\n>b\nACGT\n",
                ),
            ),
            (
                "a retry",
                post(server, &format!("/experiments/{failed}/retry")),
            ),
        ];
        for (what, answer) in &answers {
            assert_error(answer, 503, None, &parts, what);
            // Not a short wait: no Retry-After to hammer the server with.
            assert_eq!(answer.header("Retry-After"), None, "{what}");
        }
        // The page's form: the form again, with the reason.
        let body = serde_urlencoded::to_string(form).unwrap();
        let answer = request_with(
            server,
            "POST",
            "/experiments",
            &page_headers(server.addr),
            body.as_bytes(),
        );
        assert_eq!(answer.status, 503, "{}", answer.text());
        assert!(answer.text().contains("moving to the new workstation"));
        assert!(answer.text().contains("Submissions are closed"));
        assert_eq!(snapshot(&server.dir), before, "nothing was written");
    };
    refused(&server);
    let home = page(&server, "/");
    assert!(home.contains("Submissions are closed"), "{home}");
    assert!(home.contains("moving to the new workstation"), "{home}");
    assert!(page(&server, &format!("/experiments/{blocking}")).contains("Submissions are closed"));

    // What was queued before the drain runs to its end.
    release(&lab);
    for id in std::iter::once(&blocking).chain(&queued) {
        server.wait_for_state(id, "COMPLETE");
    }
    assert_eq!(server.get("/queue").json()["draining"], true);

    // The drain holds across a restart.
    server.stop().unwrap();
    let server = start_server(&lab, |_| {});
    assert_eq!(server.get("/queue").json()["drain"], state["drain"]);
    refused(&server);

    let reopened = post(&server, "/queue/undrain");
    assert_eq!(reopened.status, 200, "{}", reopened.text());
    assert_eq!(reopened.json()["draining"], false);
    assert!(reopened.json().get("drain").is_none());
    assert!(!page(&server, "/").contains("Submissions are closed"));
    let late = server.submit("late", SEQUENCE);
    server.wait_for_state(&late, "COMPLETE");
    assert_eq!(
        post(&server, &format!("/experiments/{failed}/retry")).status,
        202
    );

    // And so does its end.
    server.stop().unwrap();
    let server = start_server(&lab, |_| {});
    assert_eq!(server.get("/queue").json()["draining"], false);
    server.submit("later", SEQUENCE);
}

// ---- move to front ------------------------------------------------------------

#[test]
fn an_experiment_moved_to_the_front_runs_next_and_says_who_moved_it() {
    let lab = lab_with_command();
    let server = start_server(&lab, |_| {});
    let first = server.submit("block-first", SEQUENCE);
    server.wait_for_state(&first, "RUNNING");
    let ids: Vec<String> = (2..=5)
        .map(|n| server.submit(&format!("q{n}"), SEQUENCE))
        .collect();
    let (second, third, fourth, fifth) = (&ids[0], &ids[1], &ids[2], &ids[3]);

    // Only a queued experiment moves.
    let running = post(&server, &format!("/experiments/{first}/front"));
    assert_error(
        &running,
        409,
        None,
        &["RUNNING", "queued"],
        "the running one",
    );
    assert_error(
        &post(&server, "/experiments/999999/front"),
        404,
        None,
        &["999999"],
        "an unknown one",
    );
    assert_eq!(post(&server, "/experiments/..%2F/front").status, 404);
    assert_eq!(
        server.get(&format!("/experiments/{fourth}/front")).status,
        405
    );

    let moved = post(&server, &format!("/experiments/{fourth}/front"));
    assert_eq!(moved.status, 200, "{}", moved.text());
    let record = moved.json();
    assert_eq!(record["position"], 1, "{record}");
    assert_eq!(record["moved_to_front"]["by"], "127.0.0.1", "{record}");
    let at = record["moved_to_front"]["at"].as_str().unwrap().to_owned();
    let position = |id: &str| server.get(&format!("/experiments/{id}")).json()["position"].clone();
    assert_eq!(
        [second, third, fourth, fifth].map(|id| position(id)),
        [2, 3, 1, 4]
    );
    assert_eq!(server.get("/queue").json()["head"], fourth.as_str());

    // From the page: its button posts a form, and the page comes back.
    let cross_site = request(
        server.addr,
        "POST",
        &format!("/experiments/{fifth}/front"),
        &[
            ("Accept", BROWSER_ACCEPT),
            ("Origin", "http://elsewhere.example"),
        ],
        b"",
    );
    assert_eq!(cross_site.status, 403, "{}", cross_site.text());
    assert_eq!(position(fifth), 4, "a page of another site moves nothing");
    let experiment_page = page(&server, &format!("/experiments/{fifth}"));
    assert!(
        experiment_page.contains(&format!("action=\"/experiments/{fifth}/front\"")),
        "{experiment_page}"
    );
    let from_page = request_with(
        &server,
        "POST",
        &format!("/experiments/{fifth}/front"),
        &page_headers(server.addr),
        b"",
    );
    assert_eq!(from_page.status, 303, "{}", from_page.text());
    assert_eq!(
        from_page.header("Location"),
        Some(format!("/experiments/{fifth}").as_str())
    );
    // The latest moved runs first.
    assert_eq!(
        [second, third, fourth, fifth].map(|id| position(id)),
        [3, 4, 2, 1]
    );

    // The exceptions are shown: on their pages, in the listing (JSON and page).
    let shown = page(&server, &format!("/experiments/{fourth}"));
    assert!(shown.contains("Moved to the front"), "{shown}");
    assert!(shown.contains(&at), "{shown}");
    let listing = server.get("/experiments").json();
    let listed = |id: &str| {
        listing["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|view| view["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(listed(fourth)["moved_to_front"]["at"], at.as_str());
    assert!(listed(second).get("moved_to_front").is_none());
    let home = page(&server, "/");
    assert_eq!(home.matches("data-moved").count(), 2, "{home}");

    // On disk before the answer.
    let on_disk = record_on_disk(&server.dir, fourth);
    assert_eq!(on_disk["moved_to_front"]["at"], at.as_str());

    release(&lab);
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
    assert_eq!(
        starts(&lab),
        [&first, fifth, fourth, second, third].map(|id| id.to_owned())
    );
    // It ran, and its record still says it was moved.
    assert_eq!(
        server.get(&format!("/experiments/{fourth}")).json()["moved_to_front"]["at"],
        at.as_str()
    );
    assert_error(
        &post(&server, &format!("/experiments/{fourth}/front")),
        409,
        None,
        &["COMPLETE"],
        "a finished one",
    );
}

#[test]
fn the_order_a_move_made_survives_kill_9() {
    let lab = lab_with_command();
    let command = lab_command(&lab);
    let args = ["--command", command.as_str()];
    let mut server = Binary::start(&lab.experiments(), &args);
    let first = submit(server.addr, "block-first", SEQUENCE);
    wait_for_state(server.addr, &first, "RUNNING");
    let queued: Vec<String> = (2..=4)
        .map(|n| submit(server.addr, &format!("q{n}"), SEQUENCE))
        .collect();
    let last = &queued[2];
    let moved = request(
        server.addr,
        "POST",
        &format!("/experiments/{last}/front"),
        &[],
        b"",
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    let at = moved.json()["moved_to_front"]["at"].clone();
    let logged = format!(
        "experiment {last} moved to the front of the queue by 127.0.0.1 (it was at position 3)"
    );
    wait_until("the log says who moved it", || {
        server.log().contains(&logged)
    });

    // Held, so that the order can be read after the restart before anything runs.
    let paused = request(
        server.addr,
        "POST",
        "/queue/pause?reason=reading+the+order",
        &[],
        b"",
    );
    assert_eq!(paused.status, 200, "{}", paused.text());

    server.crash();
    let server = Binary::start(&lab.experiments(), &args);
    let record =
        |id: &str| request(server.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
    // The moved one still comes first; the interrupted one is first of the rest.
    let view = record(last);
    assert_eq!(view["moved_to_front"]["at"], at, "{view}");
    assert_eq!(view["moved_to_front"]["by"], "127.0.0.1", "{view}");
    assert_eq!(
        [last, &first, &queued[0], &queued[1]].map(|id| record(id)["position"].clone()),
        [1, 2, 3, 4]
    );
    let resumed = request(server.addr, "POST", "/queue/resume", &[], b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    wait_for_state(server.addr, last, "COMPLETE");
    release(&lab);
    for id in std::iter::once(&first).chain(&queued) {
        wait_for_state(server.addr, id, "COMPLETE");
    }
    // The runs since the restart (the first one's start before the crash may
    // or may not have been logged by then).
    let starts = starts(&lab);
    assert_eq!(
        starts[starts.len() - 4..],
        [last, &first, &queued[0], &queued[1]].map(|id| id.to_owned()),
        "{starts:?}"
    );
}

// ---- retention ------------------------------------------------------------------

/// Rewrites fields of an experiment's record while no server runs.
fn age(dir: &Path, id: &str, fields: &[&str], days: u64) {
    let mut record = record_on_disk(dir, id);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - days * 24 * 3600 * 1000;
    let secs = millis / 1000;
    // RFC 3339 in UTC, as the records write it (civil from days, proleptic Gregorian).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let time = secs % 86_400;
    let text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    );
    for field in fields {
        record[*field] = Value::String(text.clone());
    }
    write_record(dir, id, &record);
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|due| due["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `seqspool retention --dry-run` with `args`, and what it printed.
fn dry_run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = seqspool();
    command.arg("retention").args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = output_within(&mut command);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn retention_lists_first_then_removes_old_finished_experiments_and_never_queued_or_running_ones() {
    let lab = lab_with_command();
    let dir = lab.experiments();
    let server = start_server(&lab, |_| {});
    let done = server.submit("old-done", SEQUENCE);
    let failed = server.submit("fail-old", SEQUENCE);
    let recent = server.submit("recent-done", SEQUENCE);
    server.wait_for_state(&done, "COMPLETE");
    server.wait_for_state(&failed, "EXECUTOR_ERROR");
    server.wait_for_state(&recent, "COMPLETE");
    let running = server.submit("block-running", SEQUENCE);
    server.wait_for_state(&running, "RUNNING");
    let canceled = server.submit("canceled", SEQUENCE);
    assert_eq!(
        server.delete(&format!("/experiments/{canceled}")).status,
        200
    );
    let waiting = server.submit("waiting", SEQUENCE);
    let batch = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        b">batch-a\nACGT\n>batch-b\nACGT\n",
    );
    assert_eq!(batch.status, 202, "{}", batch.text());
    let members = ids_of(&batch.json()["experiments"]);
    assert_eq!(
        server
            .delete(&format!("/experiments/{}", members[0]))
            .status,
        200
    );
    server.stop().unwrap();

    // Sixty days pass for all but one. The queued and running ones (and the
    // queued member of the batch) get an old end in their records too: only
    // their state keeps them.
    for id in [&done, &failed, &canceled, &members[0]] {
        age(&dir, id, &["finished_at"], 60);
    }
    for id in [&running, &waiting, &members[1]] {
        age(&dir, id, &["submitted_at", "finished_at"], 60);
    }
    let old = [&done, &failed, &canceled].map(|id| id.to_owned());

    // Off by default: nothing is due, nothing is swept, whatever the knob says.
    let server = start_server(&lab, |config| {
        config.retention_every = Some(Duration::from_millis(50))
    });
    server.wait_for_state(&running, "RUNNING");
    let listing = server.get("/retention").json();
    assert_eq!(listing["retention_days"], Value::Null, "{listing}");
    assert_eq!(listing["experiments"], serde_json::json!([]), "{listing}");
    assert_eq!(
        server.get("/service-info").json()["retention_days"],
        Value::Null
    );
    assert_error(
        &post(&server, "/retention/sweep"),
        409,
        None,
        &["retention is off", "--retention-days"],
        "a sweep while retention is off",
    );
    // What a policy of 30 days would remove.
    let preview = server.get("/retention?days=30").json();
    assert_eq!(ids_of(&preview["experiments"]), old, "{preview}");
    assert_error(
        &server.get("/retention?days=0"),
        422,
        Some("days"),
        &["days"],
        "no days",
    );
    // The command line lists the same from the directory, beside the running server.
    let dir_arg = dir.display().to_string();
    let (ok, out, err) = dry_run(
        &[
            "--dry-run",
            "--experiments",
            &dir_arg,
            "--retention-days",
            "30",
        ],
        &[],
    );
    assert!(ok, "{err}");
    let listed: Vec<&str> = out
        .lines()
        .filter_map(|line| line.split('\t').next())
        .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(listed, old, "{out}");
    assert!(out.contains("would remove 3 experiment(s)"), "{out}");
    assert!(
        out.contains("EXECUTOR_ERROR") && out.contains("old-done"),
        "{out}"
    );
    let (ok, env_out, _) = dry_run(
        &["--dry-run", "--experiments", &dir_arg],
        &[("SEQSPOOL_RETENTION_DAYS", "30")],
    );
    assert!(ok);
    // The same, but for the instant the cutoff was computed at.
    assert_eq!(
        env_out.lines().skip(1).collect::<Vec<_>>(),
        out.lines().skip(1).collect::<Vec<_>>()
    );
    let (ok, off, _) = dry_run(&["--dry-run", "--experiments", &dir_arg], &[]);
    assert!(ok && off.contains("retention is off"), "{off}");
    let (ok, _, err) = dry_run(&["--experiments", &dir_arg, "--retention-days", "30"], &[]);
    assert!(!ok && err.contains("--dry-run"), "{err}");
    server.stop().unwrap();
    for id in &old {
        assert!(dir.join(id).is_dir(), "the dry runs removed {id}");
    }

    // On, with the daily sweep far away: the listing says what it will remove.
    let server = start_server(&lab, |config| config.retention_days = Some(30));
    let listing = server.get("/retention").json();
    assert_eq!(listing["retention_days"], 30, "{listing}");
    assert!(listing["next_sweep"].is_string(), "{listing}");
    assert_eq!(listing["last_sweep"], Value::Null, "{listing}");
    assert_eq!(ids_of(&listing["experiments"]), old, "{listing}");
    let first = &listing["experiments"][0];
    assert_eq!(first["query_name"], "old-done");
    assert_eq!(first["state"], "COMPLETE");
    assert!(first["finished_at"].is_string());
    assert!(first["bytes"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(listing["count"], 3);
    server.stop().unwrap();

    // The sweep, as the timer runs it.
    let server = start_server(&lab, |config| {
        config.retention_days = Some(30);
        config.retention_every = Some(Duration::from_millis(100));
    });
    for id in &old {
        wait_until_gone(&server, id);
        assert!(!dir.join(id).exists(), "{id}'s directory is gone");
    }
    // The sweep is over once it says what it removed; their files are deleted by then.
    let mut last = Value::Null;
    wait_until("the sweep says what it removed", || {
        last = server.get("/retention").json()["last_sweep"].clone();
        !last.is_null()
    });
    assert_eq!(ids_of(&last["removed"]), old, "{last}");
    let trash: Vec<_> = fs::read_dir(dir.join(".trash")).unwrap().collect();
    assert!(trash.is_empty(), "{trash:?}");
    // Never the running, the queued, the recent, nor part of a batch still waiting.
    assert_eq!(
        server.wait_for_state(&running, "RUNNING")["id"],
        running.as_str()
    );
    for id in [&recent, &waiting, &members[0], &members[1]] {
        assert_eq!(
            server.get(&format!("/experiments/{id}")).status,
            200,
            "{id}"
        );
        assert!(dir.join(id).is_dir(), "{id}");
    }
    let batch_page = page(&server, &format!("/experiments?batch={}", members[0]));
    assert!(batch_page.contains("batch-a") && batch_page.contains("batch-b"));

    // The rest finishes now, and later sweeps leave it: it is recent.
    release(&lab);
    let mut ended = String::new();
    for id in [&running, &waiting, &members[1]] {
        let view = server.wait_for_state(id, "COMPLETE");
        ended = ended.max(view["finished_at"].as_str().unwrap().to_owned());
    }
    wait_until("a sweep after the last end", || {
        server.get("/retention").json()["last_sweep"]["at"]
            .as_str()
            .is_some_and(|at| at > ended.as_str())
    });
    for id in [&recent, &running, &waiting, &members[0], &members[1]] {
        assert_eq!(
            server.get(&format!("/experiments/{id}")).status,
            200,
            "{id}"
        );
    }
}

#[test]
fn a_removal_a_crash_interrupted_is_finished_at_start_and_removed_ids_are_never_given_again() {
    let lab = lab_with_command();
    let dir = lab.experiments();
    let server = start_server(&lab, |_| {});
    let ids = [
        server.submit("one", SEQUENCE),
        server.submit("two", SEQUENCE),
    ];
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
    server.stop().unwrap();
    for id in &ids {
        age(&dir, id, &["finished_at"], 60);
    }
    // A sweep that a crash stopped right after it moved the first aside.
    fs::create_dir_all(dir.join(".trash")).unwrap();
    fs::rename(dir.join(&ids[0]), dir.join(".trash").join(&ids[0])).unwrap();

    let server = start_server(&lab, |config| config.retention_days = Some(30));
    assert!(!dir.join(".trash").join(&ids[0]).exists());
    assert_eq!(server.get(&format!("/experiments/{}", ids[0])).status, 404);
    // The newest experiment goes too.
    let swept = post(&server, "/retention/sweep");
    assert_eq!(swept.status, 200, "{}", swept.text());
    assert_eq!(ids_of(&swept.json()["sweep"]["removed"]), [ids[1].clone()]);
    assert_eq!(server.get(&format!("/experiments/{}", ids[1])).status, 404);
    assert!(server.experiment_dirs().is_empty());
    assert_eq!(server.get("/retention/sweep").status, 405);
    server.stop().unwrap();

    // No directory tells the next start these ids were used; the queue's state does.
    let server = start_server(&lab, |_| {});
    let next = server.submit("three", SEQUENCE);
    assert_eq!(next, "000003");
}
