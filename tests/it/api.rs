//! The HTTP API end to end: submitting (the FastAPI-compatible `POST /` and the
//! native `POST /experiments`), refusing bad input without writing anything,
//! and the read routes, against a real server on port 0 over real HTTP.
//!
//! Most tests use a blocking command (`sleep 30`) where they need experiments
//! to stay QUEUED or RUNNING; the server's graceful stop on drop ends it.

use crate::common::*;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// A sequence the built-in analysis has known answers for: one ORF, ATG…TGA.
const ORF_DNA: &str = "ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG";

/// A command that keeps the first experiment RUNNING and the rest QUEUED.
const BLOCKING: &str = "sleep 30";

/// A command whose outcome the query's name chooses, for a server with
/// experiments in several states at once.
const BY_NAME: &str = r#"case "$QUERY_NAME" in fail*) exit 1;; block*) sleep 30;; esac"#;

#[test]
fn a_form_post_to_the_root_creates_the_experiment_and_answers_in_the_fastapi_shape() {
    let server = Server::start(|config| config.command = Some(BLOCKING.into()));

    let answer = server.post_form(
        "/",
        &[
            ("query_name", "sample-1"),
            ("query_sequence", "ACGTACGTTTGA"),
        ],
    );

    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(keys(&body), ["Backlog Length", "Query ID", "Query created"]);
    let created = &body["Query created"];
    assert_eq!(
        keys(created),
        [
            "experiment_dir",
            "experiment_id",
            "query_name",
            "query_sequence",
            "status"
        ]
    );
    let id = body["Query ID"].as_str().expect("the Query ID is a string");
    assert_eq!(created["experiment_id"], id);
    assert_eq!(created["query_name"], "sample-1");
    assert_eq!(created["query_sequence"], "ACGTACGTTTGA");
    assert_eq!(created["status"], "pending");
    assert_eq!(
        body["Backlog Length"], 1,
        "the queue was empty before this submission"
    );
    assert_eq!(
        answer.header("Location"),
        Some(format!("/experiments/{id}").as_str())
    );

    let dir = Path::new(
        created["experiment_dir"]
            .as_str()
            .expect("experiment_dir is a string"),
    );
    assert!(
        dir.is_absolute(),
        "experiment_dir {} is not absolute",
        dir.display()
    );
    assert!(
        dir.is_dir(),
        "experiment_dir {} does not exist",
        dir.display()
    );
    assert_eq!(dir.file_name().unwrap().to_str(), Some(id));
    assert_eq!(
        fs::read_to_string(dir.join("query.fasta")).unwrap(),
        ">sample-1\nACGTACGTTTGA\n"
    );
    let record: Value =
        serde_json::from_slice(&fs::read(dir.join("experiment.json")).unwrap()).unwrap();
    assert_eq!(record["id"], id);
    assert_eq!(record["query_name"], "sample-1");

    let second = server.post_form(
        "/",
        &[("query_name", "sample-2"), ("query_sequence", "ACGT")],
    );
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(
        second.json()["Backlog Length"],
        2,
        "the first is still running"
    );
    assert!(
        second.json()["Query ID"].as_str().unwrap() > id,
        "ids grow in acceptance order"
    );
}

#[test]
fn post_experiments_takes_a_form_or_json_and_answers_202_with_location_and_the_record() {
    let server = Server::start(|config| config.command = Some(BLOCKING.into()));

    let by_form = server.post_form(
        "/experiments",
        &[("query_name", "form-query"), ("query_sequence", "ACGTACGT")],
    );
    let by_json = server.post_json(
        "/experiments",
        &json!({"query_name": "json-query", "query_sequence": ">json-query\nMKVLAAGIVG"}),
    );

    for (answer, name, alphabet) in [
        (&by_form, "form-query", "dna"),
        (&by_json, "json-query", "protein"),
    ] {
        assert_eq!(answer.status, 202, "{}", answer.text());
        let record = answer.json();
        let id = record["id"].as_str().expect("the record has an id");
        assert_eq!(id.len(), 6, "ids are six digits: {id}");
        assert!(
            id.bytes().all(|b| b.is_ascii_digit()),
            "ids are digits: {id}"
        );
        assert_eq!(
            answer.header("Location"),
            Some(format!("/experiments/{id}").as_str())
        );
        assert_eq!(record["query_name"], name);
        assert_eq!(record["alphabet"], alphabet);
        assert!(
            ["QUEUED", "RUNNING"].contains(&record["state"].as_str().unwrap()),
            "{record:#}"
        );
        assert_rfc3339_now(&record["submitted_at"]);
        // The worker may have taken the first one already.
        let started = record["state"] == "RUNNING";
        assert_eq!(record["attempts"], u32::from(started), "{record:#}");
        assert_eq!(record["command"], BLOCKING);

        let read = server.get(&format!("/experiments/{id}"));
        assert_eq!(read.status, 200);
        assert_eq!(read.json()["query_name"], name);
        assert!(server.dir.join(id).join("query.fasta").is_file());
    }
    let second = by_json.json();
    assert_eq!(
        second["state"], "QUEUED",
        "the first experiment holds the worker"
    );
    assert!(
        second["position"].as_u64().is_some_and(|p| p >= 1),
        "a queued record has a position: {second:#}"
    );
}

#[test]
fn every_bad_input_gets_its_status_and_a_json_error_and_nothing_is_written() {
    let server = Server::start(|config| {
        config.command = Some(BLOCKING.into());
        config.max_body = 1000;
    });
    let before = snapshot(&server.dir);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let json_type = [("Content-Type", "application/json")];
    let long_name = "n".repeat(257);
    let large = format!("query_name=big&query_sequence={}", "A".repeat(5000));

    struct Case<'a> {
        what: &'a str,
        method: &'a str,
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: Vec<u8>,
        status: u16,
        field: Option<&'a str>,
    }
    let case = |what, method, path, headers, body: &[u8], status, field| Case {
        what,
        method,
        path,
        headers,
        body: body.to_vec(),
        status,
        field,
    };
    let cases = [
        case(
            "no query_name",
            "POST",
            "/experiments",
            &form[..],
            b"query_sequence=ACGT",
            422,
            Some("query_name"),
        ),
        case(
            "an empty query_name",
            "POST",
            "/",
            &form,
            b"query_name=&query_sequence=ACGT",
            422,
            Some("query_name"),
        ),
        case(
            "a blank query_name",
            "POST",
            "/experiments",
            &form,
            b"query_name=+++&query_sequence=ACGT",
            422,
            Some("query_name"),
        ),
        case(
            "no query_sequence",
            "POST",
            "/experiments",
            &form,
            b"query_name=q",
            422,
            Some("query_sequence"),
        ),
        case(
            "an empty query_sequence",
            "POST",
            "/",
            &form,
            b"query_name=q&query_sequence=",
            422,
            Some("query_sequence"),
        ),
        case(
            "a query_sequence of white space and digits",
            "POST",
            "/experiments",
            &form,
            b"query_name=q&query_sequence=+12+%0A",
            422,
            Some("query_sequence"),
        ),
        case(
            "a name of 257 characters",
            "POST",
            "/experiments",
            &form,
            format!("query_name={long_name}&query_sequence=ACGT").as_bytes(),
            422,
            Some("query_name"),
        ),
        case(
            "a name with a control character",
            "POST",
            "/experiments",
            &form,
            b"query_name=a%01b&query_sequence=ACGT",
            422,
            Some("query_name"),
        ),
        case(
            "a name with a tab",
            "POST",
            "/",
            &form,
            b"query_name=a%09b&query_sequence=ACGT",
            422,
            Some("query_name"),
        ),
        case(
            "empty JSON fields",
            "POST",
            "/experiments",
            &json_type,
            br#"{"query_name": "", "query_sequence": "ACGT"}"#,
            422,
            Some("query_name"),
        ),
        case(
            "a body over --max-body",
            "POST",
            "/experiments",
            &form,
            large.as_bytes(),
            413,
            None,
        ),
        case(
            "a body over --max-body to POST /",
            "POST",
            "/",
            &form,
            large.as_bytes(),
            413,
            None,
        ),
        case(
            "text/plain to POST /",
            "POST",
            "/",
            &[("Content-Type", "text/plain")],
            b"ACGT",
            415,
            None,
        ),
        case(
            "JSON to POST /, which takes forms",
            "POST",
            "/",
            &json_type,
            br#"{"query_name":"q","query_sequence":"ACGT"}"#,
            415,
            None,
        ),
        case(
            "text/plain to POST /experiments",
            "POST",
            "/experiments",
            &[("Content-Type", "text/plain")],
            b"ACGT",
            415,
            None,
        ),
        case(
            "no content type",
            "POST",
            "/experiments",
            &[],
            b"query_name=q&query_sequence=ACGT",
            415,
            None,
        ),
        case("an unknown route", "GET", "/nowhere", &[], b"", 404, None),
        case(
            "a POST to an unknown route",
            "POST",
            "/nowhere",
            &form,
            b"query_name=q&query_sequence=ACGT",
            404,
            None,
        ),
        case(
            "an unknown experiment",
            "GET",
            "/experiments/000999",
            &[],
            b"",
            404,
            None,
        ),
        case(
            "an id that is not a number",
            "GET",
            "/experiments/abc",
            &[],
            b"",
            404,
            None,
        ),
        case(
            "PUT /experiments",
            "PUT",
            "/experiments",
            &form,
            b"query_name=q&query_sequence=ACGT",
            405,
            None,
        ),
        case("DELETE /backlog", "DELETE", "/backlog", &[], b"", 405, None),
        case(
            "POST /service-info",
            "POST",
            "/service-info",
            &form,
            b"query_name=q&query_sequence=ACGT",
            405,
            None,
        ),
        case(
            "malformed JSON",
            "POST",
            "/experiments",
            &json_type,
            br#"{"query_name": "q", "query_seq"#,
            400,
            None,
        ),
        case(
            "JSON that is a string",
            "POST",
            "/experiments",
            &json_type,
            b"\"ACGT\"",
            400,
            None,
        ),
        case(
            "a JSON name that is a number",
            "POST",
            "/experiments",
            &json_type,
            br#"{"query_name": 5, "query_sequence": "ACGT"}"#,
            400,
            None,
        ),
        case(
            "a form that is not UTF-8",
            "POST",
            "/experiments",
            &form,
            b"query_name=\xff\xfe&query_sequence=ACGT",
            400,
            None,
        ),
        case(
            "a form that is not UTF-8 to POST /",
            "POST",
            "/",
            &form,
            b"query_name=q&query_sequence=AC\xc3GT",
            400,
            None,
        ),
        case(
            "a form naming a field twice",
            "POST",
            "/experiments",
            &form,
            b"query_name=a&query_name=b&query_sequence=ACGT",
            400,
            None,
        ),
        case(
            "a bad state filter",
            "GET",
            "/experiments?state=FINISHED",
            &[],
            b"",
            400,
            None,
        ),
    ];

    for case in &cases {
        let answer = request(
            server.addr,
            case.method,
            case.path,
            case.headers,
            &case.body,
        );
        assert_error(&answer, case.status, case.field, &[], case.what);
        if case.status == 405 {
            let allow = answer
                .header("Allow")
                .unwrap_or_else(|| panic!("{}: 405 without Allow", case.what));
            assert!(allow.contains("GET"), "{}: Allow is '{allow}'", case.what);
        }
    }
    let put = request(server.addr, "PUT", "/experiments", &[], b"");
    assert!(
        put.header("Allow").unwrap().contains("POST"),
        "POST /experiments is allowed"
    );

    let bad_letter = server.post_form(
        "/experiments",
        &[("query_name", "q"), ("query_sequence", "ACG!T")],
    );
    // The message names the character and where.
    assert_error(
        &bad_letter,
        422,
        Some("query_sequence"),
        &["'!'", "position 4"],
        "a '!' in the sequence",
    );
    let after_header = server.post_form(
        "/",
        &[("query_name", "q"), ("query_sequence", ">h\nACGT\nAC@")],
    );
    // The position counts the header.
    assert_error(
        &after_header,
        422,
        Some("query_sequence"),
        &["'@'", "position 11"],
        "a '@' after a header",
    );

    // The limit holds while the body streams in, not only against Content-Length.
    let chunked = chunked_post(server.addr, "/experiments", &large);
    assert_error(&chunked, 413, None, &[], "a chunked body over --max-body");

    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused request wrote something"
    );
    assert!(server.get("/experiments").json()["experiments"]
        .as_array()
        .unwrap()
        .is_empty());

    // The server carries on: a name of exactly 256 characters is fine.
    let name = "n".repeat(256);
    let id = server.submit(&name, "ACGT");
    assert_eq!(
        server.get(&format!("/experiments/{id}")).json()["query_name"],
        name.as_str()
    );
    assert_eq!(server.experiment_dirs(), [id]);
}

#[test]
fn the_backlog_counts_queued_and_running_experiments_with_or_without_a_trailing_slash() {
    let server = Server::start(|config| config.command = Some(BLOCKING.into()));
    for path in ["/backlog", "/backlog/"] {
        let answer = server.get(path);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json(), json!(["Currently 0 jobs in the backlog."]));
    }
    let first = server.submit("a", "ACGT");
    server.submit("b", "ACGT");
    server.submit("c", "ACGT");
    server.wait_for_state(&first, "RUNNING");
    for path in ["/backlog", "/backlog/"] {
        assert_eq!(
            server.get(path).json(),
            json!(["Currently 3 jobs in the backlog."])
        );
    }
}

#[test]
fn the_listing_is_newest_first_filters_by_state_and_pages() {
    let (server, ids) = server_with_every_state();
    let [done1, failed, done2, running, queued] = ids.each_ref().map(String::as_str);

    let all = server.get("/experiments");
    assert_eq!(all.status, 200);
    let all = all.json();
    assert_eq!(listed_ids(&all), [queued, running, done2, failed, done1]);
    assert_eq!(all["next_page_token"], Value::Null);

    assert_eq!(
        listed_ids(&server.get("/experiments?state=COMPLETE").json()),
        [done2, done1]
    );
    assert_eq!(
        listed_ids(&server.get("/experiments?state=EXECUTOR_ERROR").json()),
        [failed]
    );
    assert_eq!(
        listed_ids(&server.get("/experiments?state=RUNNING").json()),
        [running]
    );
    let waiting = server.get("/experiments?state=QUEUED").json();
    assert_eq!(listed_ids(&waiting), [queued]);
    assert_eq!(waiting["experiments"][0]["position"], 1);
    assert!(listed_ids(&server.get("/experiments?state=CANCELED").json()).is_empty());

    let mut paged = Vec::new();
    let mut path = "/experiments?limit=2".to_owned();
    for _ in 0..10 {
        let page = server.get(&path).json();
        let ids = listed_ids(&page);
        assert!(ids.len() <= 2, "a page of limit=2 holds {ids:?}");
        paged.extend(ids);
        match page["next_page_token"].as_str() {
            Some(token) => path = format!("/experiments?limit=2&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(
        paged,
        listed_ids(&all),
        "the pages together are the whole listing, once each"
    );

    let filtered_page = server.get("/experiments?state=COMPLETE&limit=1").json();
    assert_eq!(listed_ids(&filtered_page), [done2]);
    let token = filtered_page["next_page_token"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let rest = server
        .get(&format!(
            "/experiments?state=COMPLETE&limit=1&page_token={token}"
        ))
        .json();
    assert_eq!(listed_ids(&rest), [done1]);
    assert_eq!(rest["next_page_token"], Value::Null);

    for bad in [
        "/experiments?state=DONE",
        "/experiments?limit=0",
        "/experiments?limit=many",
        "/experiments?page_token=x",
    ] {
        assert_error(&server.get(bad), 400, None, &[], bad);
    }
}

#[test]
fn one_experiment_is_its_record_with_a_position_while_queued_and_its_files() {
    let server = Server::start(|config| config.command = Some(BLOCKING.into()));
    let running = server.submit("runs", "ACGT");
    let second = server.submit("second", "ACGT");
    let third = server.submit("third", "ACGTACGT");
    server.wait_for_state(&running, "RUNNING");

    let record = server.get(&format!("/experiments/{third}")).json();
    assert_eq!(record["id"], third.as_str());
    assert_eq!(record["state"], "QUEUED");
    assert_eq!(record["position"], 2);
    assert_eq!(
        server.get(&format!("/experiments/{second}")).json()["position"],
        1
    );
    assert_eq!(record["length"], 8);
    assert_eq!(record["started_at"], Value::Null);
    assert_eq!(file_sizes(&record), sizes_on_disk(&server.dir.join(&third)));

    let record = server.get(&format!("/experiments/{running}")).json();
    assert_eq!(record["state"], "RUNNING");
    assert!(
        record.get("position").is_none(),
        "only a queued experiment has a position: {record:#}"
    );
    assert_eq!(record["attempts"], 1);
    assert_rfc3339_now(&record["started_at"]);
    let files = file_sizes(&record);
    for name in ["experiment.json", "query.fasta", "stdout.txt", "stderr.txt"] {
        assert!(
            files.iter().any(|(n, _)| n == name),
            "{name} is not listed: {files:?}"
        );
    }

    assert_error(
        &server.get("/experiments/000999"),
        404,
        None,
        &[],
        "an unknown id",
    );
    assert_error(
        &server.get("/experiments/abc"),
        404,
        None,
        &[],
        "an id that is not a number",
    );
    assert_error(
        &server.get("/experiments/..%2F.lock"),
        404,
        None,
        &[],
        "a path as an id",
    );
}

#[test]
fn the_file_route_serves_plain_files_of_the_experiment_and_nothing_else() {
    let server = Server::start(|_| {});
    let id = server.submit("files", ORF_DNA);
    server.wait_for_state(&id, "COMPLETE");
    let dir = server.dir.join(&id);
    let outside = server.dir.parent().unwrap().join("secret.txt");
    fs::write(&outside, "not for clients\n").unwrap();

    for name in ["query.fasta", "analysis.json", "experiment.json"] {
        let answer = server.get(&format!("/experiments/{id}/files/{name}"));
        assert_eq!(answer.status, 200, "{name}: {}", answer.text());
        assert_eq!(
            answer.body,
            fs::read(dir.join(name)).unwrap(),
            "{name} is served byte for byte"
        );
    }
    assert_eq!(
        server
            .get(&format!("/experiments/{id}/files/analysis.json"))
            .header("Content-Type"),
        Some("application/json")
    );

    std::os::unix::fs::symlink(&outside, dir.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    std::os::unix::fs::symlink(dir.join("query.fasta"), dir.join("inside.fasta")).unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    fs::write(dir.join("sub").join("nested.txt"), "nested\n").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("creating a FIFO");

    let refused = [
        "..",
        "%2e%2e",
        "%2E%2E",
        "..%2F..%2Fetc%2Fpasswd",
        "..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "escape.txt",
        "passwd",
        "inside.fasta",
        "sub",
        "sub%2Fnested.txt",
        "pipe",
        "no-such-file.txt",
        ".",
        "",
        "query.fasta%00.txt",
        "bad%zz",
    ];
    for name in refused {
        let path = format!("/experiments/{id}/files/{name}");
        assert_error(&server.get(&path), 404, None, &[], &path);
    }
    let unrouted = [
        format!("/experiments/{id}/files/../../secret.txt"),
        format!("/experiments/{id}/files/sub/nested.txt"),
        format!("/experiments/{id}/files/%2e%2e/%2e%2e/secret.txt"),
        "/experiments/000999/files/query.fasta".to_owned(),
        "/experiments/..%2F..%2Fsecret.txt/files/query.fasta".to_owned(),
    ];
    for path in &unrouted {
        let answer = server.get(path);
        assert_eq!(answer.status, 404, "{path}: {}", answer.text());
        assert!(
            !answer.text().contains("not for clients"),
            "{path} leaked a file"
        );
    }

    let record = server.get(&format!("/experiments/{id}")).json();
    let listed: Vec<String> = file_sizes(&record)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        listed,
        ["analysis.json", "experiment.json", "query.fasta"],
        "links, directories and FIFOs are not listed"
    );
}

#[test]
fn service_info_tells_the_version_the_capacity_and_the_counts_per_state() {
    let (server, _) = server_with_every_state();
    let answer = server.get("/service-info");
    assert_eq!(answer.status, 200);
    let info = answer.json();
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["capacity"], 7);
    assert_eq!(info["command"], BY_NAME);
    assert_eq!(
        info["counts"],
        json!({"QUEUED": 1, "RUNNING": 1, "COMPLETE": 2, "EXECUTOR_ERROR": 1, "SYSTEM_ERROR": 0, "CANCELED": 0})
    );
    assert_eq!(info["backlog"], 2);
}

#[test]
fn a_query_name_full_of_shell_syntax_is_stored_verbatim_and_never_executed() {
    let server = Server::start(|config| {
        config.command = Some(
            r#"mkdir x; printf '%s\n' "$QUERY_NAME" > name.txt; cat "$QUERY_FASTA" > copy.fasta"#
                .into(),
        )
    });
    let names = [
        "$(touch pwned)",
        "`touch pwned2`",
        "; rm -rf x",
        "x\"; touch pwned5; echo \"",
        "' ; touch pwned6 ; '",
        "&& touch pwned7 | tee pwned8 > pwned9",
    ];
    let mut ids = Vec::new();
    for name in names {
        ids.push((
            server.submit(name, "ACGTACGT"),
            name.to_owned(),
            format!(">{name}\nACGTACGT\n"),
        ));
    }
    // A FASTA header's description reaches the command only through query.fasta, too.
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "$(touch pwned4)"),
            ("query_sequence", ">h1 $(touch pwned3)\nACGT"),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    ids.push((
        id,
        "$(touch pwned4)".to_owned(),
        ">$(touch pwned4) $(touch pwned3)\nACGT\n".to_owned(),
    ));

    for (id, name, fasta) in &ids {
        let record = server.wait_for_state(id, "COMPLETE");
        assert_eq!(record["query_name"], name.as_str());
        let dir = server.dir.join(id);
        let on_disk: Value =
            serde_json::from_slice(&fs::read(dir.join("experiment.json")).unwrap()).unwrap();
        assert_eq!(
            on_disk["query_name"],
            name.as_str(),
            "experiment.json holds the name verbatim"
        );
        assert_eq!(
            fs::read_to_string(dir.join("name.txt")).unwrap(),
            format!("{name}\n")
        );
        assert_eq!(&fs::read_to_string(dir.join("copy.fasta")).unwrap(), fasta);
        assert!(dir.join("x").is_dir(), "'rm -rf x' never ran in {id}");
    }
    let tmp = server.dir.parent().unwrap();
    let pwned: Vec<String> = snapshot(tmp)
        .into_iter()
        .filter(|path| path.contains("pwned"))
        .collect();
    assert!(pwned.is_empty(), "something was executed: {pwned:?}");
    let cwd = std::env::current_dir().unwrap();
    let pwned: Vec<String> = snapshot_top(&cwd)
        .into_iter()
        .filter(|name| name.starts_with("pwned"))
        .collect();
    assert!(
        pwned.is_empty(),
        "something was executed in {}: {pwned:?}",
        cwd.display()
    );
}

#[test]
fn the_built_in_analysis_gives_the_known_answers() {
    let server = Server::start(|_| {});
    let dna = server.submit("orf", ORF_DNA);
    let protein = server.submit("peptide", "MKVLAAGIVG");
    let rna = server.submit("rna", "AUGGCCAUUGUAAUGGGCCGCUGA");

    let analysis = analysis_of(&server, &dna);
    assert_eq!(analysis["alphabet"], "dna");
    assert_eq!(analysis["length"], 39);
    assert_close(&analysis["gc_fraction"], 22.0 / 39.0, 1e-4, "GC fraction");
    assert_eq!(
        analysis["residue_counts"],
        json!({"A": 9, "C": 8, "G": 14, "T": 8})
    );
    assert_eq!(
        analysis["reverse_complement"],
        "CTATCGGGCACCCTTTCAGCGGCCCATTACAATGGCCAT"
    );
    let orf = &analysis["longest_orf"];
    assert_eq!(orf["protein"], "MAIVMGR");
    assert_eq!(orf["strand"], "+");
    assert_eq!(
        (&orf["frame"], &orf["start"], &orf["end"]),
        (&json!(1), &json!(1), &json!(24))
    );
    assert_eq!(orf["complete"], true);

    let analysis = analysis_of(&server, &protein);
    assert_eq!(analysis["alphabet"], "protein");
    assert_eq!(analysis["length"], 10);
    assert_close(
        &analysis["molecular_weight"],
        958.22,
        0.01,
        "molecular weight of MKVLAAGIVG",
    );
    assert_eq!(analysis["gc_fraction"], Value::Null);
    assert_eq!(analysis["longest_orf"], Value::Null);

    let analysis = analysis_of(&server, &rna);
    assert_eq!(analysis["alphabet"], "rna");
    assert_eq!(analysis["longest_orf"]["protein"], "MAIVMGR");
}

/// Starts a server (capacity 7) holding two COMPLETE experiments, one
/// EXECUTOR_ERROR, one RUNNING and one QUEUED, and returns their ids in that
/// (acceptance) order.
fn server_with_every_state() -> (Server, [String; 5]) {
    let server = Server::start(|config| {
        config.command = Some(BY_NAME.into());
        config.capacity = 7;
    });
    let ids = ["done-1", "fail-1", "done-2", "block-1", "waits-1"]
        .map(|name| server.submit(name, "ACGT"));
    server.wait_for_state(&ids[0], "COMPLETE");
    server.wait_for_state(&ids[1], "EXECUTOR_ERROR");
    server.wait_for_state(&ids[2], "COMPLETE");
    server.wait_for_state(&ids[3], "RUNNING");
    (server, ids)
}

/// Sends a POST whose body is chunked, so the server only learns its size as
/// it reads it. Raw, because the server answers 413 and closes part-way
/// through the body: a client library fails on the chunks it can no longer
/// send and never shows the answer.
fn chunked_post(addr: std::net::SocketAddr, path: &str, body: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    for chunk in body.as_bytes().chunks(500) {
        // The server may answer 413 and close before the last chunk.
        if write!(stream, "{:x}\r\n", chunk.len())
            .and_then(|()| stream.write_all(chunk))
            .and_then(|()| stream.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    read_raw_answer(&mut stream)
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn listed_ids(listing: &Value) -> Vec<String> {
    listing["experiments"]
        .as_array()
        .expect("a listing holds an experiments array")
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `files` of a record, as (name, size), sorted by name.
fn file_sizes(record: &Value) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = record["files"]
        .as_array()
        .unwrap_or_else(|| panic!("a record lists its files: {record:#}"))
        .iter()
        .map(|file| {
            (
                file["name"].as_str().unwrap().to_owned(),
                file["size"].as_u64().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn sizes_on_disk(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The names directly inside `dir`.
fn snapshot_top(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits for the built-in analysis of `id` and reads `analysis.json` over HTTP.
fn analysis_of(server: &Server, id: &str) -> Value {
    server.wait_for_state(id, "COMPLETE");
    let answer = server.get(&format!("/experiments/{id}/files/analysis.json"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn assert_close(value: &Value, expected: f64, tolerance: f64, what: &str) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {value}"));
    assert!(
        (got - expected).abs() <= tolerance,
        "{what}: {got}, expected {expected}"
    );
}

/// Checks that `value` is an RFC 3339 UTC time (`2026-01-02T03:04:05.678Z`)
/// within a day of now: a real clock reading, not a placeholder.
fn assert_rfc3339_now(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time is a string: {value}"));
    let b = text.as_bytes();
    let shape = b.len() >= 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit))
        && (text[19..] == *"Z"
            || text[19..]
                .strip_prefix('.')
                .and_then(|f| f.strip_suffix('Z'))
                .is_some_and(|f| !f.is_empty() && f.bytes().all(|d| d.is_ascii_digit())));
    assert!(shape, "not an RFC 3339 UTC time: {text}");
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((secs - now).abs() < 86_400, "{text} is not about now");
}

#[test]
fn a_page_of_another_site_cannot_submit_or_cancel() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let blocker = server.submit("blocker", "ACGT");
    server.wait_for_state(&blocker, "RUNNING");
    wait_until("the running record is on disk", || {
        std::fs::read_to_string(server.dir.join(&blocker).join("experiment.json"))
            .is_ok_and(|r| r.contains("RUNNING"))
    });
    let form = "query_name=q&query_sequence=ACGT";
    let foreign = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", "http://elsewhere.example"),
    ];
    let before = snapshot(&server.dir);
    for path in ["/", "/experiments"] {
        let answer = request(server.addr, "POST", path, &foreign, form.as_bytes());
        assert_eq!(answer.status, 403, "{path}: {}", answer.text());
        assert!(answer.json()["msg"]
            .as_str()
            .unwrap()
            .contains("another site"));
    }
    let answer = request(
        server.addr,
        "DELETE",
        &format!("/experiments/{blocker}"),
        &foreign[1..],
        b"",
    );
    assert_eq!(answer.status, 403);
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a foreign page changed something"
    );

    // This server's own page, and scripts (no Origin), go through.
    let own = format!("http://{}", server.addr);
    let answer = request(
        server.addr,
        "POST",
        "/experiments",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &own),
        ],
        form.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(
        server.delete(&format!("/experiments/{blocker}")).status,
        202
    );
}

#[test]
fn large_uploads_that_hold_the_body_budget_get_503_not_memory() {
    // Bodies over 64 KiB draw on the budget for large ones (16 bodies of
    // --max-body), taken as their bytes arrive. The stall time is longer than
    // the test: these uploads stay until the test drops them.
    let max_body = 128 * 1024;
    let server = Server::start(|config| {
        config.max_body = max_body;
        config.body_stall = std::time::Duration::from_secs(120);
    });
    // Each sends all of a full-size body but its last byte, then stalls:
    // together they hold all of the budget but 16 bytes. Raw, because a
    // client library sends the whole body it announces.
    let hold = || {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let head = format!(
            "POST /experiments HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {max_body}\r\n\r\n",
            server.addr
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![b'A'; max_body - 1]).unwrap();
        stream
    };
    let mut stalled: Vec<TcpStream> = (0..16).map(|_| hold()).collect();
    // A large invalid submission: while there is budget it gets 422 and writes nothing.
    let sequence = format!("AC!GT{}", "A".repeat(100_000));
    let large = || {
        server.post_form(
            "/experiments",
            &[("query_name", "q"), ("query_sequence", &sequence)],
        )
    };
    let mut busy = None;
    wait_until("the stalled uploads hold the whole budget", || {
        // Budget is taken as bytes arrive: a probe read before an upload's
        // bytes were may have taken the room that upload needed, and the
        // upload was refused. It is sent again.
        for upload in &mut stalled {
            if answered(upload) {
                *upload = hold();
            }
        }
        let answer = large();
        let full = answer.status == 503;
        busy = full.then_some(answer);
        full
    });
    let busy = busy.unwrap();
    assert!(busy.header("Retry-After").is_some());
    assert_error(
        &busy,
        503,
        None,
        &["too many large requests"],
        "a large body",
    );
    assert!(server.experiment_dirs().is_empty());

    // A small body draws on a budget of its own: large uploads never keep it out.
    let small = server.submit("small", "ACGT");
    assert_eq!(server.experiment_dirs(), [small]);

    drop(stalled);
    wait_until("the budget is given back", || large().status == 422);
}

/// Whether the server has answered on `stream` (without waiting for it).
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let peeked = stream.peek(&mut [0; 1]);
    stream.set_nonblocking(false).unwrap();
    peeked.is_ok()
}
