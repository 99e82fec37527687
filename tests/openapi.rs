//! `GET /openapi.json`: the OpenAPI 3.1 document is valid OpenAPI, it
//! describes every route the server answers for scripts (and no other), and
//! real answers of every one of them, successes and errors, match it.
//!
//! Answers are checked more strictly than the document says: a field an
//! answer carries that its schema does not describe fails the check (the
//! published schemas leave objects open, so that clients tolerate fields
//! added later; this test makes sure they get described when they are).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use seqspool::api::routes::{Answers, ROUTES};

/// The document as the server serves it, and what the checks found.
struct Document {
    /// Every schema with `properties` and no `additionalProperties` closed.
    strict: Value,
    /// The (method, pattern) of the routes a 2xx answer of was checked.
    checked: Mutex<BTreeSet<(String, String)>>,
}

impl Document {
    fn fetch(server: &Server) -> Document {
        let answer = server.get("/openapi.json");
        assert_eq!(answer.status, 200, "{}", answer.text());
        let mut strict = answer.json();
        close(&mut strict);
        let document = Document {
            strict,
            checked: Mutex::new(BTreeSet::new()),
        };
        document.check("GET", "/openapi.json", &answer);
        document
    }

    /// The operation of `method` on `pattern`.
    fn operation(&self, method: &str, pattern: &str) -> &Value {
        let operation = &self.strict["paths"][pattern][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "src/api/openapi.json does not describe {method} {pattern}: add it under \"paths\""
        );
        operation
    }

    /// What `reference` (`#/components/...`) names, or `value` itself when it is no reference.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(reference) => self
                .strict
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{reference} names nothing in the document")),
            None => value,
        }
    }

    /// Checks a real answer of `method` on `pattern` against the document:
    /// its status is listed for the operation (only 405, 421 and 5xx may
    /// fall to `default`), its content type is, its required headers are
    /// there, and a JSON body matches the schema. Returns the JSON body.
    fn check(&self, method: &str, pattern: &str, answer: &Response) -> Option<Value> {
        let what = format!("{method} {pattern} answered {}", answer.status);
        let responses = &self.operation(method, pattern)["responses"];
        let status = answer.status.to_string();
        let falls_to_default =
            matches!(answer.status, 405 | 421) || (500..600).contains(&answer.status);
        let response = match responses.get(&status) {
            Some(response) => response,
            None if falls_to_default && responses.get("default").is_some() => &responses["default"],
            None => panic!(
                "{what}, a status src/api/openapi.json does not list for it: {}",
                answer.text()
            ),
        };
        let response = self.resolve(response);
        if let Some(headers) = response["headers"].as_object() {
            for (name, header) in headers {
                if header["required"] == true {
                    assert!(answer.header(name).is_some(), "{what} without {name}");
                }
            }
        }
        let media = answer
            .header("Content-Type")
            .map(|t| t.split(';').next().unwrap().trim().to_ascii_lowercase())
            .unwrap_or_default();
        let content = response["content"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: the document gives it no content"));
        let described = content
            .get(&media)
            .or_else(|| content.get("*/*"))
            .unwrap_or_else(|| {
                panic!(
                    "{what} with {media}; the document says {:?}",
                    content.keys().collect::<Vec<_>>()
                )
            });
        if (200..300).contains(&answer.status) {
            self.checked
                .lock()
                .unwrap()
                .insert((method.to_owned(), pattern.to_owned()));
        }
        if media != "application/json" {
            return None;
        }
        let body = answer.json();
        self.validate(&described["schema"], &body, &what);
        Some(body)
    }

    /// Checks `instance` against `schema`, whose references point into the document.
    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let root = json!({
            "components": self.strict["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|err| panic!("{what}: the document's schema does not compile: {err}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|err| format!("  at '{}': {err}", err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}, which does not match src/api/openapi.json:\n{}\nthe answer: {instance:#}",
            errors.join("\n")
        );
    }

    /// The schema `#/components/schemas/{name}`.
    fn schema(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }
}

/// Closes every object schema that lists its properties and says nothing of
/// others, so that an undescribed field fails the check.
fn close(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

#[test]
fn the_document_describes_every_route_for_scripts_and_no_other() {
    let document: Value = serde_json::from_str(seqspool::api::openapi::DOCUMENT).unwrap();
    let for_scripts: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|route| route.answers != Answers::Html)
        .map(|route| (route.method.to_ascii_lowercase(), route.pattern.to_owned()))
        .collect();
    for (method, pattern) in &for_scripts {
        assert!(
            document["paths"][pattern][method].is_object(),
            "the server answers {} {pattern} (api::routes::ROUTES), which src/api/openapi.json \
             does not describe: add \"{pattern}\": {{\"{method}\": ...}} under \"paths\"",
            method.to_ascii_uppercase()
        );
    }
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    for (pattern, item) in document["paths"].as_object().unwrap() {
        for method in methods.iter().filter(|m| item.get(**m).is_some()) {
            assert!(
                for_scripts.contains(&(method.to_string(), pattern.clone())),
                "src/api/openapi.json describes {} {pattern}, which api::routes::ROUTES does not \
                 list for scripts",
                method.to_ascii_uppercase()
            );
        }
    }
    // The document as served is the one in the source tree, with this version.
    let server = Server::start(|_| {});
    let mut served = server.get("/openapi.json").json();
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
    served["info"]["version"] = document["info"]["version"].clone();
    assert_eq!(served, document);
}

#[test]
#[cfg_attr(
    not(seqspool_test_python_packages),
    ignore = "needs tests/requirements.txt in .venv (see the README)"
)]
fn the_document_is_valid_openapi_3_1() {
    let Some(python) = python_with(
        "openapi_spec_validator",
        "the_document_is_valid_openapi_3_1",
    ) else {
        return;
    };
    let server = Server::start(|_| {});
    let answer = server.get("/openapi.json");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &answer.body).unwrap();
    let printed = run_python(
        &python,
        r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
with open(sys.argv[1], encoding="utf-8") as file:
    document = json.load(file)
try:
    validate(document)
except OpenAPIValidationError as err:
    sys.exit(f"not valid OpenAPI: {err}")
print(document["openapi"])
"#,
        &[file.path().as_os_str()],
    );
    assert!(printed.trim().starts_with("3.1."), "{printed}");
}

/// Pipelines whose descriptions use every part of a pipeline's schema, one
/// that takes long enough to be cancelled while it runs, and one that fails.
const LAB: &str = r#"
[[pipeline]]
name = "table"
title = "Writes a table"
description = "Every part of a pipeline a lab may declare."
command = ["/bin/sh", "-c", "printf 'a\\tb\\n' > table.tsv"]
timeout = 60
check = "true"
env = { LAB = "yes" }
alphabets = ["dna", "rna"]

[[pipeline.param]]
name = "evalue"
type = "number"
label = "E-value"
help = "Hits at or below it."
default = 0.001
min = 0
max = 10

[[pipeline.param]]
name = "matrix"
type = "choice"
options = ["BLOSUM62", "PAM30"]
default = "BLOSUM62"

[[pipeline.param]]
name = "hits"
type = "integer"
min = 1
max = 5
default = 2

[[pipeline.param]]
name = "verbose"
type = "boolean"

[[pipeline.param]]
name = "tag"
type = "text"
pattern = "[a-z]+"

[[pipeline.result]]
file = "table.tsv"
view = "table"
title = "Table"

[[pipeline]]
name = "slow"
command = "sleep 60"

[[pipeline]]
name = "fails"
command = "exit 3"
"#;

/// A multipart form with a FASTA file of two records.
fn multipart() -> (String, Vec<u8>) {
    let boundary = "seqspool-openapi-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"pipeline\"\r\n\r\ntable\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plate.fasta\"\r\n\
         Content-Type: text/plain\r\n\r\n>a\nACGTAC\n>b\nGGCCTA\n\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// Opens `GET path` as an event stream and returns its head (as an answer
/// without a body) and the stream to read events from.
fn open_events(server: &Server, path: &str) -> (Response, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        let (name, value) = text.split_once(':').unwrap();
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut head = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if status != 200 {
        // An error has a length: read it whole.
        let length: usize = head.header("Content-Length").unwrap().parse().unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head.body = body;
    }
    (head, reader)
}

/// The next event of a stream: its kind and data (comments, `retry:` and
/// the chunk sizes of the transfer encoding are skipped).
fn next_event(reader: &mut BufReader<TcpStream>) -> (String, String) {
    let (mut kind, mut data) = (String::new(), String::new());
    let mut line = String::new();
    loop {
        line.clear();
        reader
            .read_line(&mut line)
            .expect("an event within PATIENCE");
        let text = line.trim_end_matches(['\r', '\n']);
        if let Some(k) = text.strip_prefix("event: ") {
            kind = k.to_owned();
        } else if let Some(d) = text.strip_prefix("data: ") {
            data = d.to_owned();
        } else if text.is_empty() && !kind.is_empty() {
            return (kind, data);
        }
    }
}

/// The most experiments that wait: room for every submission before the
/// queue is filled on purpose.
const CAPACITY: usize = 6;

#[test]
fn real_answers_of_every_route_match_the_document() {
    let server = Server::start(|config| {
        config.apply_file(LAB, Path::new("lab.toml"), None).unwrap();
        config.capacity = CAPACITY;
        config.max_body = 4096;
    });
    let document = Document::fetch(&server);
    // Checks an answer against the document; a success must be one.
    let check = |method: &str, pattern: &str, answer: Response| -> Option<Value> {
        document.check(method, pattern, &answer)
    };
    let success = |method: &str, pattern: &str, answer: Response| -> Value {
        assert!(
            (200..300).contains(&answer.status),
            "{method} {pattern}: {} {}",
            answer.status,
            answer.text()
        );
        document.check(method, pattern, &answer).unwrap_or_default()
    };
    let form = |fields: &[(&str, &str)]| serde_urlencoded::to_string(fields).unwrap();
    let post = |path: &str, content_type: &str, body: &[u8]| {
        request(
            server.addr,
            "POST",
            path,
            &[("Content-Type", content_type)],
            body,
        )
    };
    let get = |path: &str| server.get(path);

    // What the server is and runs, once its pipelines' checks have run.
    wait_until("the pipelines' checks ran", || {
        get("/pipelines").json()["pipelines"][0]["last_check"].is_object()
    });
    success("GET", "/service-info", get("/service-info"));
    let pipelines = success("GET", "/pipelines", get("/pipelines"));
    assert_eq!(
        pipelines["pipelines"][0]["params"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    success("GET", "/backlog", get("/backlog"));
    success("GET", "/backlog/", get("/backlog/"));
    success("GET", "/metrics", get("/metrics"));
    success(
        "GET",
        "/metrics",
        request(
            server.addr,
            "GET",
            "/metrics",
            &[("Accept", "application/openmetrics-text;version=1.0.0")],
            b"",
        ),
    );

    // Submissions in every format, and refusals.
    let one = success(
        "POST",
        "/experiments",
        post(
            "/experiments",
            "application/x-www-form-urlencoded",
            form(&[
                ("query_name", "one"),
                ("query_sequence", "ACGTACGT"),
                ("param.tag", "abc"),
                ("param.verbose", "true"),
            ])
            .as_bytes(),
        ),
    );
    let one = one["id"].as_str().unwrap().to_owned();
    let batch = success(
        "POST",
        "/experiments",
        server.post_json(
            "/experiments",
            &json!({"query_sequence": ">x\nACGT\n>y\nGGCC\n", "pipeline": "table", "params": {"hits": 3, "evalue": 0.5}}),
        ),
    );
    assert_eq!(batch["count"], 2);
    success(
        "POST",
        "/experiments",
        post(
            "/experiments?pipeline=table&param.matrix=PAM30",
            "text/x-fasta",
            b">f\nACGTTT\n",
        ),
    );
    let (content_type, body) = multipart();
    success(
        "POST",
        "/experiments",
        post("/experiments", &content_type, &body),
    );
    // Room again for what follows.
    wait_until("the submissions ran", || {
        get("/backlog").json()[0] == "Currently 0 jobs in the backlog."
    });
    let legacy = success(
        "POST",
        "/",
        post(
            "/",
            "application/x-www-form-urlencoded",
            form(&[("query_name", "old"), ("query_sequence", "ACGTAC")]).as_bytes(),
        ),
    );
    let old = legacy["Query ID"].as_str().unwrap().to_owned();
    for (answer, status) in [
        (
            post("/experiments", "application/json", b"{\"query_name\": "),
            400,
        ),
        (post("/experiments", "application/xml", b"<q/>"), 415),
        (
            post(
                "/experiments",
                "application/x-www-form-urlencoded",
                form(&[("query_name", "bad"), ("query_sequence", "")]).as_bytes(),
            ),
            422,
        ),
        (
            post(
                "/experiments",
                "application/x-www-form-urlencoded",
                form(&[
                    ("query_name", "p"),
                    ("query_sequence", "MKVLAAGIVGLLLQRW"),
                    ("pipeline", "table"),
                ])
                .as_bytes(),
            ),
            422,
        ),
        (
            post(
                "/experiments",
                "text/x-fasta",
                format!(">big\n{}\n", "A".repeat(5000)).as_bytes(),
            ),
            413,
        ),
        (
            request(
                server.addr,
                "POST",
                "/experiments",
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Origin", "http://elsewhere.example"),
                ],
                form(&[("query_name", "x"), ("query_sequence", "ACGT")]).as_bytes(),
            ),
            403,
        ),
    ] {
        assert_eq!(answer.status, status, "{}", answer.text());
        check("POST", "/experiments", answer);
    }
    let refused = post(
        "/",
        "application/x-www-form-urlencoded",
        form(&[("query_name", "old"), ("query_sequence", "")]).as_bytes(),
    );
    assert_eq!(refused.status, 422);
    check("POST", "/", refused);

    // The queue, with one running and others waiting behind a pause.
    for id in [&one, &old] {
        server.wait_for_state(id, "COMPLETE");
    }
    let slow = server
        .post_json(
            "/experiments",
            &json!({"query_name": "slow", "query_sequence": "ACGT", "pipeline": "slow"}),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_for_state(&slow, "RUNNING");
    let paused = success(
        "POST",
        "/queue/pause",
        post("/queue/pause?reason=new%20disk", "text/plain", b""),
    );
    assert_eq!(paused["pause"]["by"], "operator");
    let too_long = post(
        &format!("/queue/pause?reason={}", "x".repeat(600)),
        "text/plain",
        b"",
    );
    assert_eq!(too_long.status, 422);
    check("POST", "/queue/pause", too_long);
    let waiting: Vec<String> = (0..CAPACITY)
        .map(|n| {
            server
                .post_json(
                    "/experiments",
                    &json!({"query_name": format!("w{n}"), "query_sequence": "ACGT", "pipeline": "table"}),
                )
                .json()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let full = server.post_json(
        "/experiments",
        &json!({"query_name": "full", "query_sequence": "ACGT"}),
    );
    assert_eq!(full.status, 503, "{}", full.text());
    check("POST", "/experiments", full);
    let queue = success("GET", "/queue", get("/queue"));
    assert_eq!(queue["current"], slow.as_str());
    success("GET", "/service-info", get("/service-info"));
    let listed = success("GET", "/experiments", get("/experiments?limit=2"));
    assert!(listed["next_page_token"].is_string());
    success("GET", "/experiments", get("/experiments?state=queued"));
    success(
        "GET",
        "/experiments",
        get(&format!(
            "/experiments?batch={}",
            batch["batch"].as_str().unwrap()
        )),
    );
    let bad = get("/experiments?state=sleepy");
    assert_eq!(bad.status, 400);
    check("GET", "/experiments", bad);
    let queued = success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{}", waiting[1])),
    );
    assert_eq!(queued["position"], 2);
    let running = success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{slow}")),
    );
    assert!(running["handle"].is_object(), "{running}");
    for (answer, status) in [
        (get(&format!("/experiments/{one}?wait=soon")), 400),
        (get("/experiments/000999"), 404),
    ] {
        assert_eq!(answer.status, status);
        check("GET", "/experiments/{id}", answer);
    }

    // Events: the stream, and what its events carry.
    let (head, mut events) = open_events(&server, "/events");
    success("GET", "/events", head);
    assert_eq!(
        server
            .delete(&format!("/experiments/{}", waiting[2]))
            .status,
        200
    );
    let mut kinds = BTreeSet::new();
    while kinds.len() < 2 {
        let (kind, data) = next_event(&mut events);
        let data: Value = serde_json::from_str(&data).unwrap();
        let schema = match kind.as_str() {
            "experiment" => "Experiment",
            "backlog" => "BacklogEvent",
            other => panic!("an event of a kind the document does not name: {other}"),
        };
        document.validate(&document.schema(schema), &data, &format!("a {kind} event"));
        kinds.insert(kind);
    }
    let (refused, _) = open_events(&server, "/events?experiment=nobody");
    assert_eq!(refused.status, 400);
    check("GET", "/events", refused);

    // Cancel while waiting, while running, and what cannot be cancelled.
    success(
        "DELETE",
        "/experiments/{id}",
        server.delete(&format!("/experiments/{}", waiting[0])),
    );
    let stopping = server.delete(&format!("/experiments/{slow}"));
    assert_eq!(stopping.status, 202);
    success("DELETE", "/experiments/{id}", stopping);
    server.wait_for_state(&slow, "CANCELED");
    for (answer, status) in [
        (server.delete(&format!("/experiments/{one}")), 409),
        (server.delete("/experiments/000999"), 404),
    ] {
        assert_eq!(answer.status, status);
        check("DELETE", "/experiments/{id}", answer);
    }
    success(
        "POST",
        "/queue/resume",
        post("/queue/resume", "text/plain", b""),
    );
    let crossing = request(
        server.addr,
        "POST",
        "/queue/resume",
        &[("Origin", "http://elsewhere.example")],
        b"",
    );
    assert_eq!(crossing.status, 403);
    check("POST", "/queue/resume", crossing);
    let done = server.wait_for_state(&waiting[1], "COMPLETE");
    let finished = success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{}", waiting[1])),
    );
    assert_eq!(finished["files"], done["files"]);
    let failed = server
        .post_json(
            "/experiments",
            &json!({"query_name": "fails", "query_sequence": "ACGT", "pipeline": "fails"}),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_for_state(&failed, "EXECUTOR_ERROR");
    success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{failed}")),
    );

    // Files.
    success(
        "GET",
        "/experiments/{id}/files/{name}",
        get(&format!("/experiments/{}/files/table.tsv", waiting[1])),
    );
    success(
        "GET",
        "/experiments/{id}/files/{name}",
        get(&format!(
            "/experiments/{}/files/query.fasta?download=1",
            waiting[1]
        )),
    );
    let missing = get(&format!("/experiments/{}/files/nothing.txt", waiting[1]));
    assert_eq!(missing.status, 404);
    check("GET", "/experiments/{id}/files/{name}", missing);

    // Retry: what failed or was cancelled runs again; what completed does not.
    let again = post(&format!("/experiments/{slow}/retry"), "text/plain", b"");
    assert_eq!(again.status, 202, "{}", again.text());
    success("POST", "/experiments/{id}/retry", again);
    success(
        "POST",
        "/experiments/{id}/retry",
        post(&format!("/experiments/{failed}/retry"), "text/plain", b""),
    );
    for (answer, status) in [
        (
            post(&format!("/experiments/{one}/retry"), "text/plain", b""),
            409,
        ),
        (post("/experiments/000999/retry", "text/plain", b""), 404),
    ] {
        assert_eq!(answer.status, status);
        check("POST", "/experiments/{id}/retry", answer);
    }
    let linked = success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{slow}")),
    );
    assert!(linked["retried_as"].is_string(), "{linked}");

    // A method a route does not take falls to the document's default error.
    let wrong = request(server.addr, "PUT", "/queue", &[], b"");
    assert_eq!(wrong.status, 405);
    check("GET", "/queue", wrong);

    // Every route for scripts had a real success checked.
    let checked = document.checked.lock().unwrap();
    for route in ROUTES.iter().filter(|route| route.answers != Answers::Html) {
        assert!(
            checked.contains(&(route.method.to_owned(), route.pattern.to_owned())),
            "no success of {} {} was checked against the document: add a request for it to \
             tests/openapi.rs",
            route.method,
            route.pattern
        );
    }
}
