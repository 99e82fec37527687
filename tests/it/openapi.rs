//! `GET /openapi.json`: the OpenAPI 3.1 document is valid OpenAPI, it
//! describes every route the server answers for scripts (and no other), and
//! real answers of every one of them, successes and errors, match it; what
//! each operation says it needs (`x-access`) is what a real server in the
//! `members` and `closed` modes asks of anybody and of a member.
//!
//! Answers are checked more strictly than the document says: a field an
//! answer carries that its schema does not describe fails the check (the
//! published schemas leave objects open, so that clients tolerate fields
//! added later; this test makes sure they get described when they are).

use crate::common::*;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use seqspool::access::Need;
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
        .map(|route| {
            let method = route.method.as_str().to_ascii_lowercase();
            (method, route.pattern.to_owned())
        })
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
    // The bearer token, and what each operation needs: anybody may be asked
    // for a token (closed mode, or a token that is nobody's), and whatever
    // is more than reading may be refused to a user.
    assert_eq!(
        document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"], json!([{}, {"bearerAuth": []}]));
    for route in ROUTES.iter().filter(|route| route.answers != Answers::Html) {
        let (method, pattern) = (route.method.as_str().to_ascii_lowercase(), route.pattern);
        let operation = &document["paths"][pattern][&method];
        let what = format!("{} {pattern}", route.method);
        let needs = operation["x-access"].as_str().unwrap_or_default();
        // As the routes table declares it.
        let declared = match route.need {
            Need::Read => "read",
            Need::Write => "write",
            Need::Owner(_) => "owner",
            Need::Admin => "admin",
            Need::Nothing => "nothing",
        };
        assert_eq!(
            needs, declared,
            "{what}: x-access says {:?}, and api::routes::ROUTES that it needs {declared}",
            operation["x-access"]
        );
        assert_eq!(
            operation["responses"]["401"]["$ref"], "#/components/responses/Unauthenticated",
            "{what}"
        );
        if needs != "read" {
            assert_eq!(
                operation["responses"]["403"]["$ref"], "#/components/responses/Forbidden",
                "{what}"
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
    let python = python_with("openapi_spec_validator");
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
/// that takes long enough to be cancelled while it runs, and one that fails;
/// and lab-wide notifications, to a receiver that is not there and to a
/// command that takes every event (receivers on loopback allowed, as a lab
/// allows its own networks).
const LAB: &str = r#"
notify_allow = ["127.0.0.1"]

[notify]
url = "http://127.0.0.1:9/lab"
on_finish = ["true"]

[[pipeline]]
name = "table"
title = "Writes a table"
description = "Every part of a pipeline a lab may declare."
command = ["/bin/sh", "-c", "if [ -n \"${SEQSPOOL_GROUP:-}\" ]; then cut -f2 \"$SEQSPOOL_GROUP\" | while read -r d; do printf 'a\\tb\\n' > \"$d/table.tsv\"; done; else printf 'a\\tb\\n' > table.tsv; fi"]
group = 2
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

/// Opens `GET path` as an event stream, with `headers` besides, and returns
/// its head (as an answer without a body) and the stream to read events from.
fn open_events(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> (Response, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n",
        server.addr
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
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
                ("notify_url", "http://127.0.0.1:9/one"),
            ])
            .as_bytes(),
        ),
    );
    assert_eq!(one["notify_url"], "http://127.0.0.1:9/one", "{one}");
    assert_eq!(one["notify_lab"], true, "{one}");
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
    let named = success(
        "POST",
        "/experiments",
        post(
            "/experiments?pipeline=table&param.matrix=PAM30&name=single.fasta&notify_url=http%3A%2F%2F127.0.0.1%3A9%2Ff",
            "text/x-fasta",
            b">f\nACGTTT\n",
        ),
    );
    assert_eq!(named["upload"], "single.fasta", "{named}");
    assert_eq!(named["notify_url"], "http://127.0.0.1:9/f", "{named}");
    let (content_type, body) = multipart();
    let plate = success(
        "POST",
        "/experiments",
        post("/experiments", &content_type, &body),
    );
    assert_eq!(plate["count"], 2, "{plate}");
    let plate = plate["batch"].as_str().unwrap().to_owned();
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
                "application/x-www-form-urlencoded",
                form(&[
                    ("query_name", "n"),
                    ("query_sequence", "ACGT"),
                    ("notify_url", "https://lab.example/hook"),
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

    // The notifications of an experiment that ended: to its own URL and the
    // lab's (nobody listens there) and to the lab's command (delivered).
    server.wait_for_state(&one, "COMPLETE");
    wait_until("the on_finish command took the event", || {
        get(&format!("/experiments/{one}")).json()["notifications"]["deliveries"]
            .as_array()
            .is_some_and(|all| {
                all.iter()
                    .any(|d| d["to"] == "on_finish" && d["state"] == "delivered")
            })
    });
    let told = success(
        "GET",
        "/experiments/{id}",
        get(&format!("/experiments/{one}")),
    );
    let targets: BTreeSet<&str> = told["notifications"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["lab", "notify_url", "on_finish"]),
        "{told}"
    );

    // Listings by who submitted.
    let mine = success("GET", "/experiments", get("/experiments?mine=1"));
    assert!(
        !mine["experiments"].as_array().unwrap().is_empty(),
        "{mine}"
    );
    success(
        "GET",
        "/experiments",
        get("/experiments?submitted_by=127.0.0.1"),
    );
    let unsure = get("/experiments?mine=perhaps");
    assert_eq!(unsure.status, 400, "{}", unsure.text());
    check("GET", "/experiments", unsure);

    // A batch as a whole, and its downloads.
    let whole = success("GET", "/batches/{name}", get(&format!("/batches/{plate}")));
    assert_eq!(whole["upload"], "plate.fasta", "{whole}");
    assert_eq!(whole["progress"]["complete"], 2, "{whole}");
    assert_eq!(
        whole["experiments"][0]["result"]["first_row"], "",
        "{whole}"
    );
    let first = success(
        "GET",
        "/batches/{name}",
        get(&format!("/batches/{plate}?limit=1")),
    );
    assert!(first["next_page_token"].is_string(), "{first}");
    let zip = get(&format!("/batches/{plate}.zip"));
    assert!(
        zip.body.starts_with(b"PK"),
        "{:?}",
        zip.header("Content-Type")
    );
    success("GET", "/batches/{name}", zip);
    let tsv = get(&format!("/batches/{plate}.tsv"));
    assert_eq!(tsv.text().lines().count(), 3, "{}", tsv.text());
    success("GET", "/batches/{name}", tsv);
    for (answer, status) in [
        (get(&format!("/batches/{one}")), 404),
        (get("/batches/plate.zip"), 404),
        (get(&format!("/batches/{plate}?limit=0")), 400),
    ] {
        assert_eq!(answer.status, status, "{}", answer.text());
        check("GET", "/batches/{name}", answer);
    }

    // The queue, with one running and others waiting behind a pause.
    server.wait_for_state(&old, "COMPLETE");
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
    assert!(
        full.header("Retry-After").is_some(),
        "a full queue says when to come back"
    );
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
    assert_eq!(running["handle"]["executor"], "local", "{running}");
    slurm_shapes(&document, &running);
    warm_shapes(&document, &running);
    for (answer, status) in [
        (get(&format!("/experiments/{one}?wait=soon")), 400),
        (get("/experiments/000999"), 404),
    ] {
        assert_eq!(answer.status, status);
        check("GET", "/experiments/{id}", answer);
    }

    // An exception to first in, first out: the last one waiting runs next.
    let last = &waiting[CAPACITY - 1];
    let moved = success(
        "POST",
        "/experiments/{id}/front",
        post(&format!("/experiments/{last}/front"), "text/plain", b""),
    );
    assert_eq!(moved["position"], 1, "{moved}");
    assert_eq!(moved["moved_to_front"]["by"], "127.0.0.1", "{moved}");
    assert_eq!(get("/queue").json()["head"], last.as_str());
    for (answer, status) in [
        (
            post(&format!("/experiments/{one}/front"), "text/plain", b""),
            409,
        ),
        (
            post(&format!("/experiments/{slow}/front"), "text/plain", b""),
            409,
        ),
        (post("/experiments/000999/front", "text/plain", b""), 404),
        (
            request(
                server.addr,
                "POST",
                &format!("/experiments/{}/front", waiting[1]),
                &[("Origin", "http://elsewhere.example")],
                b"",
            ),
            403,
        ),
    ] {
        assert_eq!(answer.status, status, "{}", answer.text());
        check("POST", "/experiments/{id}/front", answer);
    }

    // Events: the stream, and what its events carry.
    let (head, mut events) = open_events(&server, "/events", &[]);
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
    let (refused, _) = open_events(&server, "/events?experiment=nobody", &[]);
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

    // Results, always downloads; formats only for a BLAST archive.
    let result = get(&format!("/experiments/{}/results/table.tsv", waiting[1]));
    assert_eq!(result.text(), "a\tb\n");
    assert!(
        result
            .header("Content-Disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "{:?}",
        result.headers
    );
    success("GET", "/experiments/{id}/results/{name}", result);
    for (answer, status) in [
        (
            get(&format!(
                "/experiments/{}/results/table.tsv?format=xml",
                waiting[1]
            )),
            404,
        ),
        (
            get(&format!(
                "/experiments/{}/results/table.tsv?format=word",
                waiting[1]
            )),
            400,
        ),
        (
            get(&format!("/experiments/{}/results/nothing.tsv", waiting[1])),
            404,
        ),
        (get("/experiments/000999/results/table.tsv"), 404),
    ] {
        assert_eq!(answer.status, status, "{}", answer.text());
        check("GET", "/experiments/{id}/results/{name}", answer);
    }

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

    // A drain: every submission is refused, with who, since when and why,
    // and no time to come back after; what waits still runs.
    let draining = success(
        "POST",
        "/queue/drain",
        post("/queue/drain?reason=moving%20rooms", "text/plain", b""),
    );
    assert_eq!(draining["drain"]["by"], "127.0.0.1", "{draining}");
    let queue = success("GET", "/queue", get("/queue"));
    assert_eq!(queue["draining"], true, "{queue}");
    let info = success("GET", "/service-info", get("/service-info"));
    assert_eq!(info["queue"]["drain"]["reason"], "moving rooms", "{info}");
    for (pattern, answer) in [
        (
            "/experiments",
            server.post_json(
                "/experiments",
                &json!({"query_name": "late", "query_sequence": "ACGT"}),
            ),
        ),
        (
            "/",
            post(
                "/",
                "application/x-www-form-urlencoded",
                form(&[("query_name", "late"), ("query_sequence", "ACGT")]).as_bytes(),
            ),
        ),
        (
            "/experiments/{id}/retry",
            post(&format!("/experiments/{slow}/retry"), "text/plain", b""),
        ),
    ] {
        assert_eq!(answer.status, 503, "{pattern}: {}", answer.text());
        assert!(answer.text().contains("moving rooms"), "{}", answer.text());
        assert_eq!(answer.header("Retry-After"), None, "{pattern}");
        check("POST", pattern, answer);
    }
    let too_long = post(
        &format!("/queue/drain?reason={}", "x".repeat(600)),
        "text/plain",
        b"",
    );
    assert_eq!(too_long.status, 422);
    check("POST", "/queue/drain", too_long);
    let reopened = success(
        "POST",
        "/queue/undrain",
        post("/queue/undrain", "text/plain", b""),
    );
    assert_eq!(reopened["draining"], false, "{reopened}");
    let crossing = request(
        server.addr,
        "POST",
        "/queue/undrain",
        &[("Origin", "http://elsewhere.example")],
        b"",
    );
    assert_eq!(crossing.status, 403);
    check("POST", "/queue/undrain", crossing);

    // A method a route does not take falls to the document's default error.
    let wrong = request(server.addr, "PUT", "/queue", &[], b"");
    assert_eq!(wrong.status, 405);
    check("GET", "/queue", wrong);

    // The operator's retention routes, and who may do what.
    retention(&document);
    access(&document);

    // Every route for scripts had a real success checked.
    let checked = document.checked.lock().unwrap();
    for route in ROUTES.iter().filter(|route| route.answers != Answers::Html) {
        assert!(
            checked.contains(&(route.method.as_str().to_owned(), route.pattern.to_owned())),
            "no success of {} {} was checked against the document: add a request for it to \
             tests/it/openapi.rs",
            route.method,
            route.pattern
        );
    }
}

/// The shapes a Slurm run gives a record and a pipeline, made with the
/// crate's own types from a real record (`running`, a local run's view): no
/// cluster is needed to hold them to the document.
fn slurm_shapes(document: &Document, running: &Value) {
    use seqspool::model::{Record, RunHandle, SlurmJob};
    use seqspool::pipeline::{ExecutorKind, Pipeline, SlurmOptions};
    use std::sync::Arc;

    let mut record: Record = serde_json::from_value(running.clone()).unwrap();
    record.handle = Some(Box::new(RunHandle::Slurm {
        slurm: SlurmJob {
            job_id: 42,
            state: "PENDING".into(),
            reason: Some("Priority".into()),
            running_since: Some(seqspool::time::Timestamp::now()),
        },
    }));
    let mut definition = (*record.definition()).clone();
    definition.executor = ExecutorKind::Slurm;
    definition.slurm = Some(SlurmOptions {
        partition: Some("gpu".into()),
        time: Some("2:00:00".into()),
        cpus: Some(8),
        mem: Some("16G".into()),
        gres: Some("gpu:1".into()),
        options: vec!["--account=lab".into()],
        max_running: 2,
    });
    let definition = Arc::new(definition);
    record.definition = Some(definition.clone());
    let mut view = serde_json::to_value(&record).unwrap();
    for field in ["position", "eta"] {
        if let Some(value) = running.get(field) {
            view[field] = value.clone();
        }
    }
    assert_eq!(view["handle"]["slurm"]["job_id"], 42, "{view}");
    document.validate(
        &document.schema("Experiment"),
        &view,
        "a record of a Slurm run",
    );
    let pipeline = Pipeline {
        name: "fold".into(),
        title: "Fold".into(),
        description: String::new(),
        alphabets: Vec::new(),
        params: Vec::new(),
        check: None,
        preload: false,
        definition,
    };
    let mut offered = serde_json::to_value(&pipeline).unwrap();
    offered["available"] = true.into();
    assert_eq!(offered["slurm"]["max_running"], 2, "{offered}");
    document.validate(
        &document.schema("Pipeline"),
        &offered,
        "a Slurm pipeline as GET /pipelines shows it",
    );
}

/// The shapes a warm run gives a record and a pipeline, made with the
/// crate's own types from a real record (`running`, a local run's view), as
/// `slurm_shapes` makes a Slurm run's (`warm` runs real ones).
fn warm_shapes(document: &Document, running: &Value) {
    use seqspool::model::{ProcessIdentity, Processor, Record, RunHandle, WarmRun};
    use seqspool::pipeline::{ExecutorKind, Pipeline};
    use std::sync::Arc;

    let mut record: Record = serde_json::from_value(running.clone()).unwrap();
    let processor = Processor {
        pid: 4242,
        started_at: seqspool::time::Timestamp::now(),
    };
    record.handle = Some(Box::new(RunHandle::Warm(WarmRun {
        runner: ProcessIdentity {
            pgid: 4241,
            start_ticks: 7,
            boot_id: "b".into(),
            mark: Some("1.2/warm/kmer-index/1".into()),
        },
        processor: processor.clone(),
    })));
    record.processor = Some(Box::new(processor));
    let mut definition = (*record.definition()).clone();
    definition.executor = ExecutorKind::Warm;
    definition.start_timeout_ms = Some(120_000);
    let definition = Arc::new(definition);
    record.definition = Some(definition.clone());
    let mut view = serde_json::to_value(&record).unwrap();
    for field in ["position", "eta"] {
        if let Some(value) = running.get(field) {
            view[field] = value.clone();
        }
    }
    assert_eq!(view["processor"]["pid"], 4242, "{view}");
    assert_eq!(view["handle"]["executor"], "warm", "{view}");
    document.validate(
        &document.schema("Experiment"),
        &view,
        "a record of a warm run",
    );
    let pipeline = Pipeline {
        name: "kmer-index".into(),
        title: "k-mer index".into(),
        description: String::new(),
        alphabets: Vec::new(),
        params: Vec::new(),
        check: None,
        preload: true,
        definition,
    };
    let mut offered = serde_json::to_value(&pipeline).unwrap();
    offered["available"] = true.into();
    assert_eq!(offered["preload"], true, "{offered}");
    document.validate(
        &document.schema("Pipeline"),
        &offered,
        "a warm pipeline as GET /pipelines shows it",
    );
}

/// A finished experiment's record, rewritten while no server runs as if it
/// had run long ago.
fn age(dir: &Path, id: &str) {
    let mut record = record_on_disk(dir, id);
    for field in ["submitted_at", "started_at", "finished_at"] {
        record[field] = "2020-01-06T10:00:00.000Z".into();
    }
    write_record(dir, id, &record);
}

/// `GET /retention` and `POST /retention/sweep`: retention off, then on with
/// old experiments to list and remove, and the events that say they went.
fn retention(document: &Document) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Server::start_in(&dir, |_| {});
    let check =
        |method: &str, pattern: &str, answer: Response| document.check(method, pattern, &answer);
    let success = |method: &str, pattern: &str, answer: Response| -> Value {
        assert!(
            (200..300).contains(&answer.status),
            "{method} {pattern}: {} {}",
            answer.status,
            answer.text()
        );
        document.check(method, pattern, &answer).unwrap()
    };
    let sweep = || request(server.addr, "POST", "/retention/sweep", &[], b"");

    // Off: nothing is due, a listing for some days says what would be, and no sweep.
    let off = success("GET", "/retention", server.get("/retention"));
    assert_eq!(off["retention_days"], Value::Null, "{off}");
    let single = server.submit("single", "ACGTACGT");
    let batch = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        b">a\nACGT\n>b\nGGCC\n",
    );
    assert_eq!(batch.status, 202, "{}", batch.text());
    let members: Vec<String> = batch.json()["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["id"].as_str().unwrap().to_owned())
        .collect();
    let old: Vec<&String> = std::iter::once(&single).chain(&members).collect();
    for id in &old {
        server.wait_for_state(id, "COMPLETE");
    }
    let preview = success("GET", "/retention", server.get("/retention?days=1"));
    assert_eq!(preview["days"], 1, "{preview}");
    for (answer, status) in [
        (server.get("/retention?days=0"), 422),
        (server.get("/retention?days=1&days=2"), 400),
    ] {
        assert_eq!(answer.status, status, "{}", answer.text());
        check("GET", "/retention", answer);
    }
    let refused = sweep();
    assert_eq!(refused.status, 409, "{}", refused.text());
    check("POST", "/retention/sweep", refused);
    server.stop().unwrap();

    // On, with experiments that finished years ago.
    for id in &old {
        age(&dir, id);
    }
    let server = Server::start_in(&dir, |config| config.retention_days = Some(30));
    let sweep = || request(server.addr, "POST", "/retention/sweep", &[], b"");
    let listing = success("GET", "/retention", server.get("/retention"));
    assert_eq!(listing["count"], 3, "{listing}");
    assert!(listing["next_sweep"].is_string(), "{listing}");
    assert_eq!(listing["experiments"][1]["batch"], members[0].as_str());
    let (_, mut events) = open_events(&server, "/events", &[]);
    let swept = success("POST", "/retention/sweep", sweep());
    assert_eq!(swept["sweep"]["count"], 3, "{swept}");
    let mut removed = 0;
    while removed < 3 {
        let (kind, data) = next_event(&mut events);
        let schema = match kind.as_str() {
            "removed" => "RemovedEvent",
            "experiment" => "Experiment",
            "backlog" => "BacklogEvent",
            other => panic!("an event of a kind the document does not name: {other}"),
        };
        let data: Value = serde_json::from_str(&data).unwrap();
        document.validate(&document.schema(schema), &data, &format!("a {kind} event"));
        removed += usize::from(kind == "removed");
    }
    let after = success("GET", "/retention", server.get("/retention"));
    assert_eq!(after["last_sweep"]["count"], 3, "{after}");
    assert_eq!(after["count"], 0, "{after}");
}

/// Who may do what, route by route, as each operation's `x-access` says: in
/// `members` mode anybody is refused (401) where it says `write`, `owner` or
/// `admin`, and a member (403) where it says `admin`, or `owner` of another's
/// experiment; in `closed` mode anybody is refused everywhere, and a token
/// that is nobody's is refused in any mode. Every answer is checked against
/// the document (a 401 with its challenge).
fn access(document: &Document) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let anna = format!("Bearer {}", add_user(&dir, "anna", false));
    let root = format!("Bearer {}", add_user(&dir, "root", true));
    let server = Server::start_in(&dir, |config| {
        config.access = seqspool::config::AccessMode::Members;
    });
    let info = server.get("/service-info");
    assert_eq!(
        document.check("GET", "/service-info", &info).unwrap()["access"],
        "members"
    );
    // The root's experiment and batch, finished, for the routes that name one.
    let submitted = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta"), ("Authorization", &root)],
        b">a\nACGT\n>b\nGGCC\n",
    );
    let submitted = document.check("POST", "/experiments", &submitted).unwrap();
    assert_eq!(
        submitted["experiments"][0]["submitted_by"], "root",
        "{submitted}"
    );
    let batch = submitted["batch"].as_str().unwrap().to_owned();
    let id = submitted["experiments"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_for_state(&id, "COMPLETE");

    // A request to `route`, with `headers`, read to its end (an event stream, to its head).
    let send = |server: &Server, method: &str, path: &str, headers: &[(&str, &str)]| {
        if path == "/events" {
            open_events(server, path, headers).0
        } else {
            request(server.addr, method, path, headers, b"")
        }
    };
    let path_of = |pattern: &str| -> String {
        let name = if pattern.starts_with("/batches/") {
            &batch
        } else {
            "query.fasta"
        };
        pattern.replace("{id}", &id).replace("{name}", name)
    };
    let for_scripts = || ROUTES.iter().filter(|route| route.answers != Answers::Html);
    for route in for_scripts() {
        let (method, pattern) = (route.method.as_str(), route.pattern);
        let path = path_of(pattern);
        let needs = document.operation(method, pattern)["x-access"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {pattern} has no x-access"))
            .to_owned();
        let anybody = send(&server, method, &path, &[]);
        let what = format!("{method} {path} ({needs}) by anybody, members mode");
        assert_eq!(
            anybody.status == 401,
            needs != "read",
            "{what}: {}",
            anybody.text()
        );
        document.check(method, pattern, &anybody);
        let member = send(&server, method, &path, &[("Authorization", &anna)]);
        let what = format!("{method} {path} ({needs}) by a member, members mode");
        assert_ne!(member.status, 401, "{what}: {}", member.text());
        assert_eq!(
            member.status == 403,
            needs == "admin" || needs == "owner",
            "{what}: {}",
            member.text()
        );
        document.check(method, pattern, &member);
    }
    // An admin drains, and the drain names them.
    let drained = request(
        server.addr,
        "POST",
        "/queue/drain",
        &[("Authorization", &root)],
        b"",
    );
    let drained = document.check("POST", "/queue/drain", &drained).unwrap();
    assert_eq!(drained["drain"]["by"], "root", "{drained}");
    let reopened = request(
        server.addr,
        "POST",
        "/queue/undrain",
        &[("Authorization", &root)],
        b"",
    );
    assert_eq!(reopened.status, 200, "{}", reopened.text());
    server.stop().unwrap();

    let server = Server::start_in(&dir, |config| {
        config.access = seqspool::config::AccessMode::Closed;
    });
    for route in for_scripts() {
        let (method, pattern) = (route.method.as_str(), route.pattern);
        let path = path_of(pattern);
        let anybody = send(&server, method, &path, &[]);
        assert_eq!(
            anybody.status, 401,
            "{method} {path} by anybody, closed mode"
        );
        assert_eq!(
            anybody.header("WWW-Authenticate"),
            Some("Bearer realm=\"seqspool\""),
            "{method} {path}"
        );
        document.check(method, pattern, &anybody);
    }
    let member = send(&server, "GET", "/queue", &[("Authorization", &anna)]);
    assert_eq!(member.status, 200, "{}", member.text());
    let stranger = send(
        &server,
        "GET",
        "/queue",
        &[("Authorization", "Bearer ssp_nobody")],
    );
    assert_eq!(stranger.status, 401, "{}", stranger.text());
    assert!(
        stranger
            .header("WWW-Authenticate")
            .is_some_and(|c| c.contains("error=\"invalid_token\"")),
        "{:?}",
        stranger.headers
    );
    document.check("GET", "/queue", &stranger);
}
