//! `GET /metrics`: what Prometheus scrapes parses with the Prometheus
//! project's own parsers (its Python client's, for both text formats), and
//! its numbers are the experiments run: accepted, ended by state and
//! pipeline, timed, and the queue as it stands; requests are counted by route
//! pattern, warm processor starts by pipeline, and no label ever carries an
//! experiment's id.

use crate::common::*;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use serde::Deserialize;
use serde_json::json;

/// Parses the metrics in the file named by the second argument with the
/// parser of the format named by the first, and prints every sample as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus_text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == "openmetrics" else prometheus_text
with open(sys.argv[2], encoding="utf-8") as text:
    families = list(parse(text.read()))
print(json.dumps([
    {"family": f.name, "type": f.type, "name": s.name, "labels": s.labels, "value": s.value}
    for f in families for s in f.samples
]))
"#;

/// One sample, as the parser read it.
#[derive(Debug, Deserialize)]
struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed.
struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample `name` whose labels are exactly `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// Like [`Scrape::get`], 0 when there is no such sample (a counter not yet counted).
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    fn kind_of(&self, family: &str) -> Option<&str> {
        self.samples
            .iter()
            .find(|s| s.family == family)
            .map(|s| s.kind.as_str())
    }
}

/// Scrapes `server` (as Prometheus does when `openmetrics`) and parses the
/// answer with the parser of its format.
fn scrape(server: &Server, python: &Path, openmetrics: bool) -> Scrape {
    let headers: &[(&str, &str)] = if openmetrics {
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )]
    } else {
        &[]
    };
    let answer = request(server.addr, "GET", "/metrics", headers, b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let content_type = answer.header("Content-Type").unwrap_or_default();
    let format = if openmetrics {
        assert!(
            content_type.starts_with("application/openmetrics-text; version=1.0.0"),
            "{content_type}"
        );
        "openmetrics"
    } else {
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        "prometheus"
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &answer.body).unwrap();
    let printed = run_python(
        python,
        PARSE,
        &[OsStr::new(format), file.path().as_os_str()],
    );
    Scrape {
        samples: serde_json::from_str(&printed).unwrap(),
    }
}

/// Pipelines that complete, fail and wait, so every way of ending happens.
const LAB: &str = r#"
[[pipeline]]
name = "ok"
command = "true"

[[pipeline]]
name = "fails"
command = "exit 3"

[[pipeline]]
name = "slow"
command = "sleep 60"
"#;

fn lab_server() -> Server {
    Server::start(|config| {
        // Its commands name no file: the file's own directory does not matter.
        config.apply_file(LAB, Path::new("lab.toml"), None).unwrap();
    })
}

fn submit_to(server: &Server, pipeline: &str, name: &str) -> String {
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": name, "query_sequence": "ACGTACGTAC", "pipeline": pipeline}),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn the_counts_are_the_experiments_run_by_state_and_pipeline() {
    let python = python_with("prometheus_client");
    let server = lab_server();
    let start = scrape(&server, &python, false);
    assert_eq!(start.get("seqspool_jobs_submitted_total", &[]), Some(0.0));
    assert_eq!(start.get("seqspool_queue_depth", &[]), Some(0.0));

    let mut ids = Vec::new();
    for (pipeline, state) in [
        ("ok", "COMPLETE"),
        ("ok", "COMPLETE"),
        ("fails", "EXECUTOR_ERROR"),
    ] {
        let id = submit_to(&server, pipeline, pipeline);
        server.wait_for_state(&id, state);
        ids.push(id);
    }
    // One runs and one waits behind it.
    let slow = submit_to(&server, "slow", "slow");
    server.wait_for_state(&slow, "RUNNING");
    let waiting = submit_to(&server, "ok", "behind");
    ids.extend([slow.clone(), waiting.clone()]);
    let mut busy = scrape(&server, &python, false);
    wait_until("the oldest waiting experiment has waited", || {
        busy = scrape(&server, &python, false);
        busy.get("seqspool_oldest_queued_job_age_seconds", &[]) > Some(0.0)
    });
    assert_eq!(busy.get("seqspool_queue_depth", &[]), Some(1.0));
    assert_eq!(busy.get("seqspool_jobs_running", &[]), Some(1.0));
    assert_eq!(busy.get("seqspool_queue_paused", &[]), Some(0.0));
    assert_eq!(server.post_form("/queue/pause", &[]).status, 200);
    let paused = scrape(&server, &python, false);
    assert_eq!(paused.get("seqspool_queue_paused", &[]), Some(1.0));

    // Cancelled while waiting (it never runs), and while running.
    assert_eq!(
        server.delete(&format!("/experiments/{waiting}")).status,
        200
    );
    assert_eq!(server.delete(&format!("/experiments/{slow}")).status, 202);
    server.wait_for_state(&slow, "CANCELED");
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);

    let end = scrape(&server, &python, false);
    assert_eq!(end.get("seqspool_jobs_submitted_total", &[]), Some(5.0));
    let finished = "seqspool_jobs_finished_total";
    for (state, pipeline, count) in [
        ("COMPLETE", "ok", 2.0),
        ("EXECUTOR_ERROR", "fails", 1.0),
        ("CANCELED", "slow", 1.0),
        ("CANCELED", "ok", 1.0),
        ("COMPLETE", "fails", 0.0),
        ("SYSTEM_ERROR", "ok", 0.0),
    ] {
        assert_eq!(
            end.count(finished, &[("state", state), ("pipeline", pipeline)]),
            count,
            "{state} in {pipeline}"
        );
    }
    // Every run that started was timed, and its wait; the one cancelled
    // while it waited never ran.
    for histogram in [
        "seqspool_job_duration_seconds",
        "seqspool_job_queue_wait_seconds",
    ] {
        assert_eq!(end.kind_of(histogram), Some("histogram"));
        for (pipeline, runs) in [("ok", 2.0), ("fails", 1.0), ("slow", 1.0)] {
            let labels = [("pipeline", pipeline)];
            assert_eq!(
                end.get(&format!("{histogram}_count"), &labels),
                Some(runs),
                "{histogram} of {pipeline}"
            );
            let buckets: Vec<f64> = end
                .samples
                .iter()
                .filter(|s| {
                    s.name == format!("{histogram}_bucket")
                        && s.labels.get("pipeline").map(String::as_str) == Some(pipeline)
                })
                .map(|s| s.value)
                .collect();
            assert!(buckets.len() > 10, "{histogram}: {buckets:?}");
            assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
            assert_eq!(
                buckets.last(),
                Some(&runs),
                "the +Inf bucket holds them all"
            );
        }
    }
    assert_eq!(end.get("seqspool_queue_depth", &[]), Some(0.0));
    assert_eq!(end.get("seqspool_jobs_running", &[]), Some(0.0));
    assert_eq!(end.get("seqspool_queue_paused", &[]), Some(0.0));
    assert_eq!(
        end.get("seqspool_oldest_queued_job_age_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(
        end.get(
            "seqspool_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    // The deliveries of notifications are a family of their own, counted by outcome.
    assert!(end
        .samples
        .iter()
        .all(|s| s.family != "seqspool_webhook_deliveries" || s.labels.contains_key("outcome")));

    // No label names an experiment, whatever was asked for.
    assert_eq!(server.get(&format!("/experiments/{}", ids[0])).status, 200);
    assert_eq!(server.get("/experiments/000999").status, 404);
    let end = scrape(&server, &python, false);
    for sample in &end.samples {
        for value in sample.labels.values() {
            assert!(
                !ids.iter().any(|id| value.contains(id.as_str())) && !value.contains("000999"),
                "an experiment id in a label: {sample:?}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn requests_are_counted_by_route_pattern_and_status() {
    let python = python_with("prometheus_client");
    let server = Server::start(|_| {});
    let id = server.submit("q", "ACGT");
    server.wait_for_state(&id, "COMPLETE");
    let before = scrape(&server, &python, false);
    for _ in 0..3 {
        assert_eq!(server.get("/backlog").status, 200);
    }
    assert_eq!(server.get(&format!("/experiments/{id}")).status, 200);
    assert_eq!(server.get(&format!("/experiments/{id}?wait=1")).status, 200);
    assert_eq!(server.get("/experiments/000777").status, 404);
    assert_eq!(server.get("/experiments/not-an-id").status, 404);
    assert_eq!(
        server
            .get(&format!("/experiments/{id}/files/query.fasta"))
            .status,
        200
    );
    assert_eq!(server.get("/no/such/route").status, 404);
    assert_eq!(server.get("/no-such-page-000777").status, 404);
    assert_eq!(request(server.addr, "PUT", "/queue", &[], b"").status, 405);
    let after = scrape(&server, &python, false);
    let counted = |scrape: &Scrape, route: &str, status: &str| {
        scrape.count(
            "seqspool_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    for (route, status, more) in [
        ("/backlog", "200", 3.0),
        ("/experiments/{id}", "200", 2.0),
        ("/experiments/{id}", "404", 2.0),
        ("/experiments/{id}/files/{name}", "200", 1.0),
        ("unknown", "404", 2.0),
        ("/queue", "405", 1.0),
        // The scrape before this one.
        ("/metrics", "200", 1.0),
        ("/experiments", "202", 0.0),
    ] {
        assert_eq!(
            counted(&after, route, status) - counted(&before, route, status),
            more,
            "{route} {status}"
        );
    }
    // Only patterns, and one value for every path no route answers.
    for sample in after
        .samples
        .iter()
        .filter(|s| s.family == "seqspool_http_requests")
    {
        let route = &sample.labels["route"];
        assert!(
            route == "unknown"
                || seqspool::api::routes::ROUTES
                    .iter()
                    .any(|r| r.pattern == route),
            "{sample:?}"
        );
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn both_text_formats_parse_and_say_the_same() {
    let python = python_with("prometheus_client");
    let server = Server::start(|_| {});
    let id = server.submit("q", "ACGT");
    server.wait_for_state(&id, "COMPLETE");
    let text = scrape(&server, &python, false);
    let open = scrape(&server, &python, true);
    for scrape in [&text, &open] {
        assert_eq!(scrape.kind_of("seqspool_jobs_submitted"), Some("counter"));
        assert_eq!(scrape.kind_of("seqspool_jobs_finished"), Some("counter"));
        assert_eq!(scrape.kind_of("seqspool_queue_depth"), Some("gauge"));
        assert_eq!(
            scrape.kind_of("seqspool_oldest_queued_job_age_seconds"),
            Some("gauge")
        );
        assert_eq!(scrape.get("seqspool_jobs_submitted_total", &[]), Some(1.0));
        assert_eq!(
            scrape.get(
                "seqspool_jobs_finished_total",
                &[("state", "COMPLETE"), ("pipeline", "analysis")]
            ),
            Some(1.0)
        );
        assert_eq!(
            scrape.get(
                "seqspool_job_duration_seconds_count",
                &[("pipeline", "analysis")]
            ),
            Some(1.0)
        );
    }
    // A browser shows the older format as text.
    let shown = request(
        server.addr,
        "GET",
        "/metrics",
        &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        b"",
    );
    assert!(shown
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(
        request(server.addr, "POST", "/metrics", &[], b"").status,
        405
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn counters_start_from_zero_at_each_start() {
    let python = python_with("prometheus_client");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Server::start_in(&dir, |_| {});
    let id = server.submit("q", "ACGT");
    server.wait_for_state(&id, "COMPLETE");
    server.stop().unwrap();

    let server = Server::start_in(&dir, |_| {});
    assert_eq!(server.get("/service-info").json()["counts"]["COMPLETE"], 1);
    let scrape = scrape(&server, &python, false);
    assert_eq!(scrape.get("seqspool_jobs_submitted_total", &[]), Some(0.0));
    assert_eq!(
        scrape.count(
            "seqspool_jobs_finished_total",
            &[("state", "COMPLETE"), ("pipeline", "analysis")]
        ),
        0.0
    );
}

/// Two warm pipelines whose processor (in `sh`) answers every request at
/// once, and a local one.
const WARM: &str = r#"
[[pipeline]]
name = "warm-a"
executor = "warm"
command = ["/bin/sh", "-c", '''
echo '{"ready": true}' >&"$SEQSPOOL_ANSWER_FD"
while read -r line; do
    id=${line#*\"id\":\"}; id=${id%%\"*}
    echo "{\"id\": \"$id\", \"ok\": true}" >&"$SEQSPOOL_ANSWER_FD"
done
''']

[[pipeline]]
name = "warm-b"
executor = "warm"
command = ["/bin/sh", "-c", '''
echo '{"ready": true}' >&"$SEQSPOOL_ANSWER_FD"
while read -r line; do
    id=${line#*\"id\":\"}; id=${id%%\"*}
    echo "{\"id\": \"$id\", \"ok\": true}" >&"$SEQSPOOL_ANSWER_FD"
done
''']

[[pipeline]]
name = "ok"
command = "true"
"#;

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn warm_processor_starts_are_counted_by_pipeline() {
    let python = python_with("prometheus_client");
    let server = Server::start(|config| {
        config
            .apply_file(WARM, Path::new("lab.toml"), None)
            .unwrap();
    });
    // One processor may stay alive (--max-warm 1): a stays warm for its
    // second experiment, b's first stops it, and a's third starts it again.
    for (pipeline, name) in [
        ("warm-a", "a1"),
        ("warm-a", "a2"),
        ("ok", "local"),
        ("warm-b", "b1"),
        ("warm-a", "a3"),
    ] {
        let id = submit_to(&server, pipeline, name);
        server.wait_for_state(&id, "COMPLETE");
    }
    for openmetrics in [false, true] {
        let scrape = scrape(&server, &python, openmetrics);
        assert_eq!(
            scrape.kind_of("seqspool_warm_processor_starts"),
            Some("counter")
        );
        let starts = "seqspool_warm_processor_starts_total";
        assert_eq!(scrape.get(starts, &[("pipeline", "warm-a")]), Some(2.0));
        assert_eq!(scrape.get(starts, &[("pipeline", "warm-b")]), Some(1.0));
        assert_eq!(scrape.get(starts, &[("pipeline", "ok")]), None);
    }
}
