//! FASTA batches and sequences as scientists have them (issue 4), over real HTTP.
//!
//! A multi-record FASTA, sent as a FASTA body, a form field or a browser's file
//! upload, becomes one experiment per record, contiguous and sharing a batch id;
//! a bad record or a queue without room for all refuses the whole batch with
//! nothing written. The input forms a lab's files come in are each accepted and
//! stored as the clean sequence the processing command reads.

mod common;
use common::*;

use serde_json::Value;

/// The boundary Chromium puts in a form upload: `----WebKitFormBoundary` and 16 characters.
const BOUNDARY: &str = "----WebKitFormBoundaryq4ZGd0Ha8Fw2sT3x";

/// The wells of a 96-well plate in reading order: A01, A02, ..., H12.
fn wells() -> Vec<String> {
    ('A'..='H')
        .flat_map(|row| (1..=12).map(move |column| format!("{row}{column:02}")))
        .collect()
}

/// A 96-record FASTA: one primer-sized nucleotide sequence per well, each with a description.
fn plate() -> String {
    let bases = ['A', 'C', 'G', 'T'];
    wells()
        .iter()
        .enumerate()
        .map(|(i, well)| {
            let sequence: String = (0..30)
                .map(|j| bases[(i * 7 + j * 3 + j / 5) % 4])
                .collect();
            format!(">{well} primer {} forward, plate 7\n{sequence}\n", i + 1)
        })
        .collect()
}

fn post(server: &Server, path: &str, content_type: &str, body: &[u8]) -> Response {
    request(
        server.addr,
        "POST",
        path,
        &[("Content-Type", content_type)],
        body,
    )
}

fn post_fasta(server: &Server, text: &str) -> Response {
    post(server, "/experiments", "text/x-fasta", text.as_bytes())
}

/// One part of a multipart form: a text field, or a file with its name and type.
enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        name: &'a str,
        filename: &'a str,
        content: &'a [u8],
    },
}

/// A multipart body byte for byte as Chromium sends a form: CRLF line ends, a
/// `Content-Type: application/octet-stream` on every file part (also an empty
/// one, when no file was chosen), and none on text parts.
fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File {
                name,
                filename,
                content,
            } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(content);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn post_multipart(server: &Server, parts: &[Part]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    post(server, "/experiments", &content_type, &multipart(parts))
}

/// The ids a batch answer lists, in its order.
fn ids(answer: &Value) -> Vec<String> {
    answer["experiments"]
        .as_array()
        .expect("a list of experiments")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// What the processing command reads: the experiment's `query.fasta`.
fn query_fasta(server: &Server, id: &str) -> String {
    let answer = server.get(&format!("/experiments/{id}/files/query.fasta"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

/// Submits one text and returns the clean FASTA stored for it.
fn stored(server: &Server, answer: Response) -> String {
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"]
        .as_str()
        .expect("one experiment, not a batch")
        .to_owned();
    query_fasta(server, &id)
}

/// What acceptance writes: the experiment directories, and what is being written
/// in `.incoming/`; not the files a running worker adds inside an experiment.
fn accepted(server: &Server) -> Vec<String> {
    snapshot(&server.dir)
        .into_iter()
        .filter(|path| !path.contains('/') || path.starts_with(".incoming/"))
        .collect()
}

#[test]
fn a_96_record_plate_becomes_96_contiguous_experiments_in_file_order() {
    let server = Server::start(|_| {});
    let answer = post_fasta(&server, &plate());
    assert_eq!(answer.status, 202, "{}", answer.text());
    let body = answer.json();
    let ids = ids(&body);
    assert_eq!(body["count"], 96);
    assert_eq!(ids.len(), 96);
    assert_eq!(body["batch"], ids[0].as_str());
    assert_eq!(
        answer.header("Location"),
        Some(format!("/experiments?batch={}", ids[0]).as_str())
    );

    // Contiguous ids, in the file's order, named and described by the headers.
    let first: u64 = ids[0].parse().unwrap();
    for (i, (experiment, well)) in body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(wells())
        .enumerate()
    {
        assert_eq!(
            experiment["id"].as_str().unwrap().parse::<u64>().unwrap(),
            first + i as u64
        );
        assert_eq!(experiment["query_name"], well.as_str());
        assert_eq!(
            experiment["description"],
            format!("primer {} forward, plate 7", i + 1).as_str()
        );
        assert_eq!(experiment["batch"], ids[0].as_str());
        assert_eq!(experiment["alphabet"], "dna");
        assert_eq!(experiment["length"], 30);
    }
    assert_eq!(server.experiment_dirs(), ids);

    // The listing of the batch holds all of them (newest first) on one default page.
    let listed = server.get(&format!("/experiments?batch={}", ids[0])).json();
    let mut listed_ids = self::ids(&listed);
    listed_ids.reverse();
    assert_eq!(listed_ids, ids);
    assert_eq!(listed["next_page_token"], Value::Null);

    // Each record's own page says where it came from, and its file is its record alone.
    let record = server.get(&format!("/experiments/{}", ids[95])).json();
    assert_eq!(
        (record["query_name"].as_str(), record["batch"].as_str()),
        (Some("H12"), Some(ids[0].as_str()))
    );
    let fasta = query_fasta(&server, &ids[95]);
    assert!(
        fasta.starts_with(">H12 primer 96 forward, plate 7\n"),
        "{fasta}"
    );
    assert_eq!(fasta.lines().count(), 2, "{fasta}");
}

#[test]
fn one_bad_record_rejects_the_whole_batch_naming_its_number_and_name() {
    let server = Server::start(|_| {});
    let before = snapshot(&server.dir);
    let text = plate().replace(
        ">E09 primer 57 forward, plate 7\n",
        ">E09 primer 57 forward, plate 7\nACGT!\n",
    );
    assert_error(
        &post_fasta(&server, &text),
        422,
        Some("query_sequence"),
        &["record 57 (E09)", "invalid character '!'"],
        "the plate as a FASTA body",
    );

    // The same file uploaded from a browser: the file is at fault.
    let upload = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "plate.fasta",
            content: text.as_bytes(),
        }],
    );
    assert_error(
        &upload,
        422,
        Some("file"),
        &["record 57 (E09)"],
        "the plate uploaded",
    );

    // A record with no residues at all, in a form field.
    let form = server.post_form(
        "/experiments",
        &[("query_sequence", ">a\nACGT\n>b empty\n\n>c\nACGT\n")],
    );
    assert_error(
        &form,
        422,
        Some("query_sequence"),
        &["record 2 (b)", "no residues"],
        "an empty record in a form field",
    );

    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused batch wrote something"
    );
    assert_eq!(
        server.get("/experiments").json()["experiments"],
        serde_json::json!([])
    );
}

#[test]
fn a_batch_that_does_not_fit_the_queue_is_refused_whole() {
    let server = Server::start(|config| {
        config.capacity = 10;
        config.command = Some("sleep 60".into());
    });
    let records =
        |count: usize| -> String { (1..=count).map(|i| format!(">r{i}\nACGTACGT\n")).collect() };
    let before = snapshot(&server.dir);
    // Larger than the whole queue: waiting would never help, so 413, not 503.
    let answer = post_fasta(&server, &records(11));
    assert_error(
        &answer,
        413,
        None,
        &["11 records", "the 10 the queue holds", "--capacity"],
        "a batch larger than the queue",
    );
    assert!(answer.header("Retry-After").is_none());
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a batch larger than the queue wrote something"
    );

    // One runs (a running experiment takes no room in the queue); six wait.
    let running = server.submit("first", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    assert_eq!(post_fasta(&server, &records(6)).status, 202);
    let before = accepted(&server);
    assert_error(
        &post_fasta(&server, &records(5)),
        503,
        None,
        &["queue is full"],
        "a batch larger than the room left",
    );
    assert_eq!(
        accepted(&server),
        before,
        "a batch that did not fit wrote something"
    );
    assert_eq!(
        server.get("/backlog").json()[0],
        "Currently 7 jobs in the backlog."
    );

    // Exactly the room that is left is taken.
    let answer = post_fasta(&server, &records(4));
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(server.experiment_dirs().len(), 11);
}

#[test]
fn windows_line_ends_are_accepted() {
    let server = Server::start(|_| {});
    let answer = post_fasta(
        &server,
        ">crlf read from a Windows PC\r\nACGTAC\r\nGTTTGA\r\n\r\n",
    );
    assert_eq!(
        stored(&server, answer),
        ">crlf read from a Windows PC\nACGTACGTTTGA\n"
    );
    let form = server.post_form(
        "/experiments",
        &[
            ("query_name", "crlf2"),
            ("query_sequence", "ACGT\r\nTTGA\r\n"),
        ],
    );
    assert_eq!(stored(&server, form), ">crlf2\nACGTTTGA\n");
}

#[test]
fn lower_case_is_stored_upper_case() {
    let server = Server::start(|_| {});
    let answer = post_fasta(&server, ">low\nacgtnnacgt\nAcGt\n");
    assert_eq!(stored(&server, answer), ">low\nACGTNNACGTACGT\n");
}

#[test]
fn a_trailing_stop_on_a_protein_is_dropped() {
    let server = Server::start(|_| {});
    let answer = post_fasta(&server, ">sp|P69905|HBA_HUMAN hemoglobin subunit alpha\nMVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHF*\n");
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    assert_eq!(
        (record["query_name"].as_str(), record["alphabet"].as_str()),
        (Some("sp|P69905|HBA_HUMAN"), Some("protein"))
    );
    assert_eq!(
        stored(&server, answer),
        ">sp|P69905|HBA_HUMAN hemoglobin subunit alpha\nMVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHF\n"
    );
}

#[test]
fn blank_lines_and_comment_lines_are_skipped() {
    let server = Server::start(|_| {});
    // Comments before, inside and between records, as old FASTA files and some exporters write them.
    let text =
        "; exported by the sequencer\n;run 2024-06-04\n\n>s1 first\nACGT\n\n  ; a note\nACGT\n\n\n\
                ; end of s1\n>s2\n\nGGCC\n\n>s3\nTTAA\n";
    let answer = post_fasta(&server, text);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let ids = ids(&answer.json());
    assert_eq!(ids.len(), 3);
    assert_eq!(query_fasta(&server, &ids[0]), ">s1 first\nACGTACGT\n");
    assert_eq!(query_fasta(&server, &ids[1]), ">s2\nGGCC\n");
    assert_eq!(query_fasta(&server, &ids[2]), ">s3\nTTAA\n");
}

#[test]
fn genbank_numbered_and_spaced_text_is_accepted() {
    let server = Server::start(|_| {});
    let origin = "        1 gatcctccat atacaacggt atctccacct caggtttaga tctcaacaac\n       51 ggaaccattg ccgacatgag\n";
    let form = server.post_form(
        "/experiments",
        &[("query_name", "pasted_origin"), ("query_sequence", origin)],
    );
    assert_eq!(
        stored(&server, form),
        ">pasted_origin\nGATCCTCCATATACAACGGTATCTCCACCTCAGGTTTAGATCTCAACAACGGAACCATTG\nCCGACATGAG\n"
    );
    let answer = post_fasta(&server, &format!(">gb_record\n{origin}"));
    assert_eq!(
        query_fasta(&server, answer.json()["id"].as_str().unwrap())
            .lines()
            .nth(1)
            .unwrap()
            .len(),
        60
    );
}

#[test]
fn a_utf8_byte_order_mark_is_ignored() {
    let server = Server::start(|_| {});
    let answer = post_fasta(
        &server,
        "\u{feff}>bom saved by Notepad\nACGT\n>bom2\nTTTT\n",
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let ids = ids(&answer.json());
    assert_eq!(
        query_fasta(&server, &ids[0]),
        ">bom saved by Notepad\nACGT\n"
    );
    let upload = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "one.fa",
            content: "\u{feff}>bom3\r\nacgt\r\n".as_bytes(),
        }],
    );
    assert_eq!(stored(&server, upload), ">bom3\nACGT\n");
}

#[test]
fn a_browser_file_upload_becomes_a_batch() {
    let server = Server::start(|_| {});
    let file = "; plate 7\r\n>A01 forward\r\nACGTACGTAC\r\n>A02 reverse\r\nGTACGTACGT\r\n>A03\r\nmkvlaagivg*\r\n";
    // The form as a page with a name box, a text area and a file picker sends it.
    let answer = post_multipart(
        &server,
        &[
            Part::Text("query_name", ""),
            Part::Text("query_sequence", ""),
            Part::File {
                name: "file",
                filename: "plate.fasta",
                content: file.as_bytes(),
            },
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["count"], 3);
    let names: Vec<&str> = body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["query_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A01", "A02", "A03"]);
    let ids = ids(&body);
    assert_eq!(query_fasta(&server, &ids[1]), ">A02 reverse\nGTACGTACGT\n");
    assert_eq!(query_fasta(&server, &ids[2]), ">A03\nMKVLAAGIVG\n");
    assert_eq!(body["experiments"][2]["alphabet"], "protein");

    // curl -F 'fasta=@plate.fasta' names the part differently; any part with a file name will do.
    let answer = post_multipart(
        &server,
        &[Part::File {
            name: "upload",
            filename: "x.fa",
            content: b">solo\nACGT\n",
        }],
    );
    assert_eq!(stored(&server, answer), ">solo\nACGT\n");
}

#[test]
fn a_browser_form_without_a_chosen_file_uses_its_text_fields() {
    let server = Server::start(|_| {});
    // No file chosen: Chromium still sends the file part, empty, with filename="".
    let answer = post_multipart(
        &server,
        &[
            Part::Text("query_name", "typed"),
            Part::Text("query_sequence", "acgt\r\nacgt"),
            Part::File {
                name: "file",
                filename: "",
                content: b"",
            },
        ],
    );
    assert_eq!(stored(&server, answer), ">typed\nACGTACGT\n");

    // An empty name box and a pasted FASTA record: the header names it.
    let answer = post_multipart(
        &server,
        &[
            Part::Text("query_name", ""),
            Part::Text("query_sequence", ">pasted one\nGGGG"),
            Part::File {
                name: "file",
                filename: "",
                content: b"",
            },
        ],
    );
    assert_eq!(stored(&server, answer), ">pasted one\nGGGG\n");

    // Nothing typed and nothing chosen.
    let empty = post_multipart(
        &server,
        &[
            Part::Text("query_name", ""),
            Part::Text("query_sequence", ""),
            Part::File {
                name: "file",
                filename: "",
                content: b"",
            },
        ],
    );
    assert_error(
        &empty,
        422,
        Some("query_sequence"),
        &["is missing or empty"],
        "no file and no text",
    );
}

#[test]
fn a_broken_upload_is_refused_with_nothing_written() {
    let server = Server::start(|_| {});
    let before = snapshot(&server.dir);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");

    // Cut off before its closing boundary.
    let whole = multipart(&[Part::File {
        name: "file",
        filename: "a.fa",
        content: b">a\nACGT\n",
    }]);
    let cut = &whole[..whole.len() - BOUNDARY.len() - 10];
    assert_error(
        &post(&server, "/experiments", &content_type, cut),
        400,
        None,
        &["malformed multipart form"],
        "a cut-off upload",
    );
    // No boundary in the content type.
    assert_error(
        &post(&server, "/experiments", "multipart/form-data", &whole),
        400,
        None,
        &["malformed multipart form"],
        "an upload without a boundary",
    );
    // A compressed file is not a FASTA file.
    let gzip = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xfe,
    ];
    let upload = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "plate.fasta.gz",
            content: &gzip,
        }],
    );
    assert_error(
        &upload,
        422,
        Some("file"),
        &["not UTF-8 text"],
        "a gzip file",
    );
    // A file and a pasted sequence: which one was meant?
    let both = post_multipart(
        &server,
        &[
            Part::Text("query_sequence", "ACGT"),
            Part::File {
                name: "file",
                filename: "a.fa",
                content: b">a\nACGT\n",
            },
        ],
    );
    assert_error(
        &both,
        422,
        Some("file"),
        &["either a FASTA file or a pasted sequence"],
        "a file and a pasted sequence",
    );

    assert_eq!(snapshot(&server.dir), before);
}

#[test]
fn fasta_bodies_are_taken_under_both_media_types() {
    let server = Server::start(|_| {});
    let text = ">one\nACGT\n>two\nTTTT\n";
    for content_type in [
        "text/x-fasta",
        "application/x-fasta",
        "text/x-fasta; charset=utf-8",
    ] {
        let answer = post(&server, "/experiments", content_type, text.as_bytes());
        assert_eq!(answer.status, 202, "{content_type}: {}", answer.text());
        assert_eq!(answer.json()["count"], 2, "{content_type}");
    }
    // One record is one experiment, answered as one.
    let answer = post(
        &server,
        "/experiments",
        "application/x-fasta",
        b">single\nACGT\n",
    );
    assert_eq!(answer.status, 202);
    assert_eq!(
        answer.header("Location"),
        Some(format!("/experiments/{}", answer.json()["id"].as_str().unwrap()).as_str())
    );

    // Not text: refused, naming the problem, nothing written.
    let before = accepted(&server);
    assert_error(
        &post(
            &server,
            "/experiments",
            "text/x-fasta",
            b">latin1 \xe9\nACGT\n",
        ),
        400,
        None,
        &["not UTF-8"],
        "a Latin-1 FASTA body",
    );
    assert_error(
        &post(&server, "/experiments", "text/x-fasta", b"ACGT\n"),
        422,
        Some("query_sequence"),
        &["before the first header"],
        "a FASTA body without a header",
    );
    // The legacy route keeps its form-only shape.
    assert_error(
        &post(&server, "/", "text/x-fasta", text.as_bytes()),
        415,
        None,
        &["application/x-www-form-urlencoded"],
        "a FASTA body to POST /",
    );
    assert_eq!(accepted(&server), before);
}

#[test]
fn a_nucleotide_only_server_refuses_a_protein_clearly() {
    let server =
        Server::start(|config| config.alphabet = seqspool::config::AlphabetPolicy::Nucleotide);
    let before = snapshot(&server.dir);
    let form = server.post_form(
        "/experiments",
        &[
            ("query_name", "hba"),
            ("query_sequence", "MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMF"),
        ],
    );
    assert_error(
        &form,
        422,
        Some("query_sequence"),
        &[
            "reads as a protein",
            "nucleotide sequences only",
            "--alphabet nucleotide",
        ],
        "a protein in a form",
    );
    let batch = post_fasta(
        &server,
        ">dna\nACGTACGT\n>rna\nACGUACGU\n>pep\nMKVLAAGIVGLLLW\n",
    );
    assert_error(
        &batch,
        422,
        Some("query_sequence"),
        &["record 3 (pep)", "reads as a protein"],
        "a protein in a batch",
    );
    assert_eq!(snapshot(&server.dir), before);

    // Nucleotides pass, and each record says which alphabet it was read as.
    let answer = post_fasta(&server, ">dna\nACGTACGT\n>rna\nACGUACGU\n");
    assert_eq!(answer.status, 202, "{}", answer.text());
    let body = answer.json();
    let alphabets: Vec<&str> = body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alphabet"].as_str().unwrap())
        .collect();
    assert_eq!(alphabets, ["dna", "rna"]);
}

#[test]
fn too_many_records_is_413_naming_the_limit() {
    let server = Server::start(|config| config.max_records = 5);
    let before = snapshot(&server.dir);
    let six: String = (1..=6).map(|i| format!(">r{i}\nACGT\n")).collect();
    assert_error(
        &post_fasta(&server, &six),
        413,
        None,
        &["more than 5 records", "--max-records"],
        "six records as a FASTA body",
    );
    let upload = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "six.fa",
            content: six.as_bytes(),
        }],
    );
    assert_error(
        &upload,
        413,
        None,
        &["more than 5 records"],
        "six records uploaded",
    );
    assert_eq!(snapshot(&server.dir), before);
    let five: String = (1..=5).map(|i| format!(">r{i}\nACGT\n")).collect();
    assert_eq!(post_fasta(&server, &five).status, 202);
}

#[test]
fn too_many_residues_is_422_naming_the_limit() {
    let server = Server::start(|config| config.max_residues = 100);
    let before = snapshot(&server.dir);
    let text = format!(
        ">fits\n{}\n>long one\n{}\n",
        "A".repeat(100),
        "ACGTA".repeat(20) + "C"
    );
    assert_error(
        &post_fasta(&server, &text),
        422,
        Some("query_sequence"),
        &[
            "record 2 (long)",
            "more than 100 residues",
            "--max-residues",
        ],
        "a record of 101 residues",
    );
    assert_eq!(snapshot(&server.dir), before);
}

#[test]
fn a_body_over_the_limit_is_413_naming_the_limit() {
    let server = Server::start(|config| config.max_body = 1000);
    let before = snapshot(&server.dir);
    let text: String = (1..=40)
        .map(|i| format!(">r{i}\nACGTACGTACGTACGTACGT\n"))
        .collect();
    assert!(text.len() > 1000);
    assert_error(
        &post_fasta(&server, &text),
        413,
        None,
        &["larger than 1000 bytes", "--max-body"],
        "a FASTA body over --max-body",
    );
    let upload = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "big.fa",
            content: text.as_bytes(),
        }],
    );
    assert_error(
        &upload,
        413,
        None,
        &["larger than 1000 bytes"],
        "an upload over --max-body",
    );
    assert_eq!(snapshot(&server.dir), before);
}

#[test]
fn a_batch_of_the_most_records_fits_a_server_with_default_settings() {
    // Every limit at its default; a command that waits, so that the worker
    // does not compete with the acceptance of ten thousand experiments.
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let most = seqspool::config::DEFAULT_MAX_RECORDS;
    let text: String = (1..=most)
        .map(|i| format!(">r{i:05}\nACGTACGTACGTACGTACGTACGTACGTAC\n"))
        .collect();
    let answer = post_fasta(&server, &text);
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["count"], most);
}
