//! What a client may send, held under attack and exhaustion, over real HTTP:
//! FASTA descriptions are bounded, names and descriptions hold no control or
//! invisible formatting characters, a field given twice is refused whatever
//! the format, a JSON body may start with a byte-order mark, comment lines may
//! come before a pasted sequence's header, a DNA read that one stray
//! letter makes a "protein" says so, and the pipeline and parameters an
//! upload's URL names count whatever the body.

use crate::common::*;

use serde_json::{json, Value};

/// The most characters a FASTA description may hold, as the README states it.
const MAX_DESCRIPTION_CHARS: usize = 1000;

const BOUNDARY: &str = "----WebKitFormBoundaryq4ZGd0Ha8Fw2sT3x";

/// A multipart form of text fields and, if `file` is given, one FASTA file.
fn multipart(fields: &[(&str, &str)], file: Option<&str>) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    if let Some(content) = file {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.fa\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

fn post_multipart(server: &Server, fields: &[(&str, &str)], file: Option<&str>) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    post(
        server,
        "/experiments",
        &content_type,
        &multipart(fields, file),
    )
}

fn listing(server: &Server) -> Response {
    let answer = server.get("/experiments?limit=1000");
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer
}

#[test]
fn an_8_mb_header_line_is_refused_naming_the_bound_and_nothing_is_written() {
    let server = Server::start(|_| {});
    let before = snapshot(&server.dir);
    let huge = "x".repeat(8_000_000);
    let fasta = format!(">big {huge}\nACGT\n");
    assert_error(
        &post_fasta(&server, &fasta),
        422,
        Some("query_sequence"),
        &[
            "record 1 (big)",
            "description",
            "8000000 characters",
            "at most 1000",
        ],
        "an 8 MB header line as a FASTA body",
    );
    let in_a_batch = format!(">small\nACGT\n>big {huge}\nACGT\n");
    assert_error(
        &post_fasta(&server, &in_a_batch),
        422,
        Some("query_sequence"),
        &["record 2 (big)", "at most 1000"],
        "an 8 MB header line in a batch's second record",
    );
    let pasted = json!({ "query_name": "q", "query_sequence": fasta });
    assert_error(
        &server.post_json("/experiments", &pasted),
        422,
        Some("query_sequence"),
        &["description", "at most 1000"],
        "an 8 MB header line pasted in JSON",
    );
    assert_error(
        &post_multipart(&server, &[], Some(&fasta)),
        422,
        Some("file"),
        &["record 1 (big)", "at most 1000"],
        "an 8 MB header line in an uploaded file",
    );
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused request wrote something"
    );

    // A description of exactly the bound is taken, and written as it came.
    let longest = "d".repeat(MAX_DESCRIPTION_CHARS);
    let answer = post_fasta(&server, &format!(">fits {longest}\nACGT\n"));
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    assert_eq!(record["description"], longest.as_str());
    let id = record["id"].as_str().unwrap();
    let stored = server
        .get(&format!("/experiments/{id}/files/query.fasta"))
        .text();
    assert_eq!(stored, format!(">fits {longest}\nACGT\n"));
}

#[test]
fn control_and_invisible_formatting_characters_are_refused_by_name_in_names_and_descriptions() {
    let server = Server::start(|_| {});
    let before = snapshot(&server.dir);
    let named = |name: &str| {
        server.post_form(
            "/experiments",
            &[("query_name", name), ("query_sequence", "ACGT")],
        )
    };
    for (name, shown) in [
        ("a\0b", "U+0000"),
        ("red\u{1b}[31m", "U+001B"),
        ("over\rwritten", "U+000D"),
        ("evil\u{202e}txt.fasta", "U+202E"),
        ("left\u{200e}mark", "U+200E"),
        ("isolate\u{2066}d", "U+2066"),
        ("zero\u{feff}width", "U+FEFF"),
    ] {
        assert_error(
            &named(name),
            422,
            Some("query_name"),
            &["name", shown],
            &format!("a query_name holding {shown}"),
        );
    }

    for (description, shown) in [
        ("a\0b", "U+0000"),
        ("clear\u{1b}[2Jscreen", "U+001B"),
        ("over\rwritten", "U+000D"),
        ("gfp \u{202e}esrever", "U+202E"),
        ("right\u{200f}mark", "U+200F"),
        ("pop\u{2069}isolate", "U+2069"),
    ] {
        let fasta = format!(">seq1 {description}\nACGT\n");
        assert_error(
            &post_fasta(&server, &format!(">ok\nACGT\n{fasta}")),
            422,
            Some("query_sequence"),
            &["record 2 (seq1)", "description", shown],
            &format!("a batch record's description holding {shown}"),
        );
        assert_error(
            &server.post_json(
                "/experiments",
                &json!({ "query_name": "q", "query_sequence": fasta }),
            ),
            422,
            Some("query_sequence"),
            &["description", shown],
            &format!("a pasted header's description holding {shown}"),
        );
    }
    // A name taken from a header is checked as a given one is.
    assert_error(
        &server.post_json(
            "/experiments",
            &json!({ "query_sequence": ">evil\u{202e}af.exe\nACGT" }),
        ),
        422,
        Some("query_sequence"),
        &["name", "U+202E"],
        "a header's name holding U+202E",
    );
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused request wrote something"
    );

    // A tab, as some tools write between the fields of a description, is kept.
    let answer = post_fasta(&server, ">tabbed gene=gfp\tlength=720\nACGT\n");
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["description"], "gene=gfp\tlength=720");

    // Printable text of any script is fine, and a Windows line end is a line end.
    let answer = post_fasta(&server, ">α-globin β chain, 5′ end — ünïcödé\r\nACGT\r\n");
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    assert_eq!(record["query_name"], "α-globin");
    assert_eq!(record["description"], "β chain, 5′ end — ünïcödé");
}

#[test]
fn a_listing_stays_small_whatever_the_descriptions_sent() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    // Quotes double and this emoji takes four bytes once written as JSON.
    let filler = "\"🧬\\".repeat(40_000);
    for i in 0..25 {
        let answer = post_fasta(&server, &format!(">huge{i} {filler}\nACGT\n"));
        assert_ne!(
            answer.status, 202,
            "a 120 000-character description was taken"
        );
    }
    // As much as may be sent: the longest name and the longest description, of wide characters.
    let name = "🧬".repeat(256);
    let description = "\"🧬".repeat(MAX_DESCRIPTION_CHARS / 2);
    for _ in 0..25 {
        let answer = post_fasta(&server, &format!(">{name} {description}\nACGT\n"));
        assert_eq!(answer.status, 202, "{}", answer.text());
    }
    // The record of the longest sequence holds its length, not its residues.
    let longest = "A".repeat(seqspool::config::DEFAULT_MAX_RESIDUES);
    let answer = post_fasta(&server, &format!(">long\n{longest}\n"));
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert!(answer.body.len() < 1024, "{}", answer.text());

    let answer = listing(&server);
    let listed = answer.json()["experiments"].as_array().unwrap().len();
    assert_eq!(listed, 26);
    // A record is its bounded text (under 6 kB here) and a few hundred bytes of the rest.
    let bound = 26 * 8 * 1024;
    assert!(
        answer.body.len() < bound,
        "a listing of 26 experiments is {} bytes, more than {bound}",
        answer.body.len()
    );
}

#[test]
fn a_field_given_twice_is_refused_in_every_format_naming_it() {
    let server = Server::start(|_| {});
    let before = snapshot(&server.dir);
    let json_type = "application/json";
    let multipart_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let cases: [(&str, &str, Vec<u8>, &str); 5] = [
        (
            "a form",
            "application/x-www-form-urlencoded",
            b"query_name=a&query_name=b&query_sequence=ACGT".to_vec(),
            "query_name",
        ),
        (
            "JSON",
            json_type,
            br#"{"query_name": "a", "query_sequence": "ACGT", "query_name": "b"}"#.to_vec(),
            "query_name",
        ),
        (
            "JSON",
            json_type,
            br#"{"query_name": "a", "query_sequence": "ACGT", "query_sequence": "TTTT"}"#.to_vec(),
            "query_sequence",
        ),
        (
            "JSON, the first one null",
            json_type,
            br#"{"query_name": null, "query_name": "b", "query_sequence": "ACGT"}"#.to_vec(),
            "query_name",
        ),
        (
            "a multipart form",
            &multipart_type,
            multipart(
                &[
                    ("query_name", "a"),
                    ("query_sequence", "ACGT"),
                    ("query_name", "b"),
                ],
                None,
            ),
            "query_name",
        ),
    ];
    for (what, content_type, body, field) in &cases {
        assert_error(
            &post(&server, "/experiments", content_type, body),
            400,
            None,
            &[&format!("'{field}' is given twice")],
            &format!("{what} naming {field} twice"),
        );
    }
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused request wrote something"
    );
    // Fields that are not ours (a submit button's) are not ours to judge.
    let body = multipart(
        &[
            ("query_name", "a"),
            ("query_sequence", "ACGT"),
            ("go", "1"),
            ("go", "2"),
        ],
        None,
    );
    let answer = post(&server, "/experiments", &multipart_type, &body);
    assert_eq!(answer.status, 202, "{}", answer.text());
}

#[test]
fn a_json_body_may_start_with_a_byte_order_mark() {
    let server = Server::start(|_| {});
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend_from_slice(br#"{"query_name": "notepad", "query_sequence": "ACGT"}"#);
    let answer = post(&server, "/experiments", "application/json", &body);
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["query_name"], "notepad");

    let mut form = "\u{feff}".as_bytes().to_vec();
    form.extend_from_slice(b"query_name=saved&query_sequence=ACGT");
    let answer = post(
        &server,
        "/experiments",
        "application/x-www-form-urlencoded",
        &form,
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["query_name"], "saved");
}

#[test]
fn comment_lines_before_a_pasted_header_are_skipped() {
    let server = Server::start(|_| {});
    let text = "; exported by SnapGene\r\n;2024-06-04\r\n\r\n>gfp start of the coding sequence\r\natgagtaaaggagaagaac\r\n";
    let answer = server.post_form("/experiments", &[("query_sequence", text)]);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    assert_eq!(record["query_name"], "gfp");
    assert_eq!(record["description"], "start of the coding sequence");
    assert_eq!(record["length"], 19);
    let given = server.post_json(
        "/experiments",
        &json!({ "query_name": "mine", "query_sequence": text }),
    );
    assert_eq!(given.status, 202, "{}", given.text());
    assert_eq!(given.json()["query_name"], "mine");
}

/// A 35-base read with one stray letter, `E`, at position 17.
const READ_WITH_A_TYPO: &str = "ACGTTGCAACGTTGCAEGTACGTTGCAACGTTGCA";

fn notes(record: &Value) -> Vec<String> {
    record["notes"]
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_dna_read_made_protein_by_a_stray_letter_says_so() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    assert_eq!(READ_WITH_A_TYPO.len(), 35);
    assert_eq!(READ_WITH_A_TYPO.find('E'), Some(16));
    let answer = server.post_form(
        "/experiments",
        &[("query_name", "read"), ("query_sequence", READ_WITH_A_TYPO)],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    assert_eq!(
        record["alphabet"], "protein",
        "today's classification is kept"
    );
    let noted = notes(&record);
    assert_eq!(noted.len(), 1, "{record:#}");
    for part in ["'E' at position 17", "if this is DNA"] {
        assert!(noted[0].contains(part), "{:?} lacks {part:?}", noted[0]);
    }
    // The record says so wherever it is read.
    let id = record["id"].as_str().unwrap();
    assert_eq!(
        notes(&server.get(&format!("/experiments/{id}")).json()),
        noted
    );
    assert_eq!(
        notes(&listing(&server).json()["experiments"][0]),
        noted,
        "the listing"
    );

    // Two stray letters are both named; a protein and a clean read get no note.
    let two = READ_WITH_A_TYPO.replacen("GTTG", "GTFG", 1);
    let answer = server.post_form(
        "/experiments",
        &[("query_name", "two"), ("query_sequence", &two)],
    );
    let noted = notes(&answer.json());
    assert_eq!(noted.len(), 1, "{}", answer.text());
    assert!(
        noted[0].contains("'F' at position 5") && noted[0].contains("'E' at position 17"),
        "{noted:?}"
    );
    for (name, sequence) in [
        ("lysozyme", "KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQA"),
        ("clean", "ACGTTGCAACGTTGCAAGTACGTTGCAACGTTGCA"),
    ] {
        let answer = server.post_form(
            "/experiments",
            &[("query_name", name), ("query_sequence", sequence)],
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
        assert!(answer.json().get("notes").is_none(), "{}", answer.text());
    }
}

#[test]
fn the_note_on_a_stray_letter_is_logged_at_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(&dir.path().join("experiments"), &["--command", "true"]);
    let answer = post_form(
        server.addr,
        "/experiments",
        &[("query_name", "read"), ("query_sequence", READ_WITH_A_TYPO)],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    wait_until("the acceptance is logged with its note", || {
        server.log().lines().any(|line| {
            line.contains("experiment 000001 accepted") && line.contains("'E' at position 17")
        })
    });
}

/// Two pipelines: `first`, the default, and `second`, with an E-value.
const TWO_PIPELINES: &str = r#"
[[pipeline]]
name = "first"
command = "true"

[[pipeline]]
name = "second"
command = "true"

[[pipeline.param]]
name = "evalue"
type = "number"
default = 0.001
min = 0
max = 10
"#;

#[test]
fn the_pipeline_and_parameters_an_uploads_url_names_count_whatever_the_body() {
    let config = tempfile::tempdir().unwrap();
    let server = Server::start(|c| {
        c.apply_file(TWO_PIPELINES, &config.path().join("lab.toml"), None)
            .unwrap();
    });
    // Nothing runs: what was accepted is read from the records.
    assert_eq!(server.post_form("/queue/pause", &[]).status, 200);
    let multipart_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let reads = ">r1\nACGTACGT\n>r2\nTTGCAACG\n";
    let upload = multipart(&[], Some(reads));
    let url = "/experiments?pipeline=second&param.evalue=0.5";

    // As the README says it: the file uploaded, the pipeline in the URL.
    let answer = post(&server, url, &multipart_type, &upload);
    assert_eq!(answer.status, 202, "{}", answer.text());
    for experiment in answer.json()["experiments"].as_array().unwrap() {
        assert_eq!(experiment["pipeline"], "second", "{experiment}");
        assert_eq!(experiment["params"]["evalue"], "0.5", "{experiment}");
    }
    // The same for every other body.
    let form = b"query_name=f&query_sequence=ACGTACGT".to_vec();
    let json = br#"{"query_name": "j", "query_sequence": "ACGTACGT"}"#.to_vec();
    let fields = multipart(&[("query_name", "m"), ("query_sequence", "ACGT")], None);
    for (what, content_type, body) in [
        ("a form", "application/x-www-form-urlencoded", &form),
        ("JSON", "application/json", &json),
        (
            "a multipart form's text fields",
            multipart_type.as_str(),
            &fields,
        ),
        ("a FASTA body", "text/x-fasta", &reads.as_bytes().to_vec()),
    ] {
        let answer = post(&server, url, content_type, body);
        assert_eq!(answer.status, 202, "{what}: {}", answer.text());
        let record = match answer.json().get("experiments") {
            Some(all) => all[0].clone(),
            None => answer.json(),
        };
        assert_eq!(record["pipeline"], "second", "{what}: {record}");
        assert_eq!(record["params"]["evalue"], "0.5", "{what}: {record}");
    }
    // Both name the same: no conflict.
    let answer = post(
        &server,
        "/experiments?pipeline=second",
        "application/x-www-form-urlencoded",
        b"query_name=f&query_sequence=ACGT&pipeline=second",
    );
    assert_eq!(answer.status, 202, "{}", answer.text());

    let before = snapshot(&server.dir);
    // An unknown pipeline or a bad value is refused, naming the field, whatever the body.
    for (what, content_type, body) in [
        ("an upload", multipart_type.as_str(), &upload),
        ("a form", "application/x-www-form-urlencoded", &form),
        ("JSON", "application/json", &json),
        ("a FASTA body", "text/x-fasta", &reads.as_bytes().to_vec()),
    ] {
        for (path, field, says) in [
            (
                "/experiments?pipeline=nosuch",
                "pipeline",
                "no pipeline 'nosuch' here; this server offers first, second",
            ),
            (
                "/experiments?pipeline=second&param.evalue=11",
                "param.evalue",
                "above the most allowed",
            ),
            (
                "/experiments?pipeline=first&param.evalue=1",
                "param.evalue",
                "first takes no parameters",
            ),
        ] {
            let answer = post(&server, path, content_type, body);
            assert_error(
                &answer,
                422,
                Some(field),
                &[says],
                &format!("{what} to {path}"),
            );
        }
    }
    // The URL and the body naming different ones: refused, saying which says what.
    let answer = post(
        &server,
        "/experiments?pipeline=second",
        "application/x-www-form-urlencoded",
        b"query_name=f&query_sequence=ACGT&pipeline=first",
    );
    assert_error(
        &answer,
        422,
        Some("pipeline"),
        &["the URL gives 'second' and the form gives 'first'; give it in one place"],
        "a form against its URL",
    );
    let answer = post(
        &server,
        url,
        &multipart_type,
        &multipart(&[("param.evalue", "2")], Some(reads)),
    );
    assert_error(
        &answer,
        422,
        Some("param.evalue"),
        &["the URL gives '0.5' and the multipart form gives '2'"],
        "an upload's parameter against its URL",
    );
    let answer = post(
        &server,
        "/experiments?pipeline=first",
        "application/json",
        br#"{"query_name": "j", "query_sequence": "ACGT", "pipeline": "second"}"#,
    );
    assert_error(
        &answer,
        422,
        Some("pipeline"),
        &["the JSON body gives 'second'"],
        "JSON against its URL",
    );
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused upload wrote something"
    );
}
