//! FASTA batches and sequences as scientists have them (issue 4), over real HTTP.
//!
//! A multi-record FASTA, sent as a FASTA body, a form field or a browser's file
//! upload, becomes one experiment per record, contiguous and sharing a batch id;
//! a bad record or a queue without room for all refuses the whole batch with
//! nothing written. The input forms a lab's files come in are each accepted and
//! stored as the clean sequence the processing command reads; FASTQ reads
//! from a sequencer too, their qualities kept beside it.

use crate::common::*;

use serde_json::Value;

/// The boundary Chromium puts in a form upload: `----WebKitFormBoundary` and 16 characters.
const BOUNDARY: &str = "----WebKitFormBoundaryq4ZGd0Ha8Fw2sT3x";

/// The wells of a 96-well plate in reading order: A01, A02, ..., H12.
pub(crate) fn wells() -> Vec<String> {
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

/// Eight reads as a sequencer writes them: four lines each, Illumina's
/// header, a '+' alone, and qualities of which some start with '@'.
fn fastq_run() -> String {
    let bases = ['A', 'C', 'G', 'T'];
    (1..=8)
        .map(|read| {
            let sequence: String = (0..36).map(|j| bases[(read * 5 + j * 7) % 4]).collect();
            let quality: String = (0..36)
                .map(|j| char::from(b'@' + ((read + j) % 10) as u8))
                .collect();
            format!(
                "@M05437:88:000000000-L9Q2K:1:1101:{read}:1 1:N:0:1\n{sequence}\n+\n{quality}\n"
            )
        })
        .collect()
}

#[test]
fn fastq_reads_become_one_experiment_each_with_their_qualities_kept() {
    let server = Server::start(|_| {});
    server.post_form("/queue/pause", &[]);
    let run = fastq_run();
    let expected: Vec<&str> = run.split_inclusive('\n').collect();
    let check = |what: &str, answer: Response| {
        assert_eq!(answer.status, 202, "{what}: {}", answer.text());
        let ids = ids(&answer.json());
        assert_eq!(ids.len(), 8, "{what}");
        for (n, id) in ids.iter().enumerate() {
            let record = server.get(&format!("/experiments/{id}")).json();
            assert_eq!(
                record["query_name"],
                format!("M05437:88:000000000-L9Q2K:1:1101:{}:1", n + 1),
                "{what}"
            );
            assert_eq!(record["description"], "1:N:0:1", "{what}");
            assert_eq!(record["length"], 36, "{what}");
            // The command reads query.fasta; the read as it came is beside it.
            let fasta = query_fasta(&server, id);
            assert_eq!(
                fasta.lines().nth(1),
                Some(expected[n * 4 + 1].trim_end()),
                "{what}"
            );
            let fastq = server.get(&format!("/experiments/{id}/files/query.fastq"));
            assert_eq!(fastq.status, 200, "{what}: {}", fastq.text());
            assert_eq!(fastq.text(), expected[n * 4..n * 4 + 4].concat(), "{what}");
        }
    };
    check(
        "a FASTQ body",
        post(&server, "/experiments", "text/x-fastq", run.as_bytes()),
    );
    check(
        "a FASTQ body typed as FASTA",
        post(
            &server,
            "/experiments",
            "application/x-fasta",
            run.as_bytes(),
        ),
    );
    check(
        "an uploaded file",
        post_multipart(
            &server,
            &[Part::File {
                name: "file",
                filename: "run88_S1_L001_R1_001.fastq",
                content: run.replace('\n', "\r\n").as_bytes(),
            }],
        ),
    );
    check(
        "a form's text",
        server.post_form("/experiments", &[("query_sequence", &run)]),
    );
    // One read pasted is one experiment, named as the form says.
    let one = expected[..4].concat();
    let answer = server.post_form(
        "/experiments",
        &[("query_name", "mine"), ("query_sequence", &one)],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["query_name"], "mine");
    // A batch's zip carries the reads' qualities too.
    let batch =
        ids(&post(&server, "/experiments", "text/x-fastq", run.as_bytes()).json())[0].clone();
    let zip = server.get(&format!("/batches/{batch}.zip"));
    assert_eq!(zip.status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.body)).unwrap();
    let names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().to_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("/query.fastq")),
        "{names:?}"
    );

    // The page's file picker offers FASTQ files too.
    let page = request(server.addr, "GET", "/", &[("Accept", "text/html")], b"").text();
    assert!(
        page.contains(r#"accept=".fasta,.fa,.fna,.faa,.fastq,.fq,.txt""#),
        "{page}"
    );

    // A failed read runs again with its qualities.
    let failing = Server::start(|c| c.command = Some("false".into()));
    let answer = post(&failing, "/experiments", "text/x-fastq", one.as_bytes());
    let failed = answer.json()["id"].as_str().unwrap().to_owned();
    failing.wait_for_state(&failed, "EXECUTOR_ERROR");
    let again = failing.post_form(&format!("/experiments/{failed}/retry"), &[]);
    assert_eq!(again.status, 202, "{}", again.text());
    let again = again.json()["id"].as_str().unwrap().to_owned();
    let fastq = failing.get(&format!("/experiments/{again}/files/query.fastq"));
    assert_eq!(fastq.text(), one);
}

#[test]
fn a_bad_fastq_record_refuses_the_file_naming_the_record_and_what_is_wrong() {
    let server = Server::start(|_| {});
    let before = accepted(&server);
    let run = fastq_run();
    let mut lines: Vec<String> = run.lines().map(str::to_owned).collect();
    let short = {
        let mut lines = lines.clone();
        lines[4 * 5 + 3].pop();
        lines.join("\n")
    };
    let wrapped = {
        let mut lines = lines.clone();
        let sequence = lines[4 * 2 + 1].clone();
        lines[4 * 2 + 1] = sequence[..20].to_owned();
        lines.insert(4 * 2 + 2, sequence[20..].to_owned());
        lines.join("\n")
    };
    lines[4 * 6 + 1].replace_range(9..10, ".");
    let dotted = lines.join("\n");
    for (what, text, says) in [
        (
            "a quality line one short",
            short,
            "record 6 (M05437:88:000000000-L9Q2K:1:1101:6:1): line 24: 35 quality characters for 36 residues",
        ),
        (
            "a wrapped sequence",
            wrapped,
            "record 3 (M05437:88:000000000-L9Q2K:1:1101:3:1): line 11: expected the '+' line after the sequence line",
        ),
        (
            "a '.' for an N",
            dotted,
            "record 7 (M05437:88:000000000-L9Q2K:1:1101:7:1): invalid character '.' at position 10 of its sequence",
        ),
    ] {
        assert_error(
            &post(&server, "/experiments", "text/x-fastq", text.as_bytes()),
            422,
            Some("query_sequence"),
            &[says],
            what,
        );
        assert_error(
            &post_multipart(
                &server,
                &[Part::File {
                    name: "file",
                    filename: "run.fastq",
                    content: text.as_bytes(),
                }],
            ),
            422,
            Some("file"),
            &[says],
            &format!("{what}, uploaded"),
        );
    }
    assert_eq!(accepted(&server), before, "a refused file wrote something");
}

#[test]
fn a_bad_plate_record_is_named_with_its_place_in_the_record_and_the_files_line() {
    let server = Server::start(|_| {});
    let before = accepted(&server);
    // D05 is the plate's 41st record: its header is line 81 of the file.
    let text = plate().replace(
        ">D05 primer 41 forward, plate 7\n",
        ">D05 primer 41 forward, plate 7\nACGTACGTAC\nACGJACG@T\n",
    );
    assert_error(
        &post_fasta(&server, &text),
        422,
        Some("query_sequence"),
        &[
            "record 41 (D05): invalid character '@' at position 18 of its sequence \
           (line 3 of the record, column 8; line 83 of the file)",
        ],
        "a plate with a bad letter in D05",
    );
    assert_eq!(accepted(&server), before);
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

// ---- batches read as plates (issue 12) ----------------------------------------

/// A page as a browser asks for it.
fn page(server: &Server, path: &str) -> String {
    let answer = request(server.addr, "GET", path, &[("Accept", "text/html")], b"");
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.text()
}

/// The names in the rows of a batch page's table, top to bottom.
fn row_names(html: &str) -> Vec<String> {
    html.split("<td class=\"name\">")
        .skip(1)
        .map(|cell| {
            let link = &cell[cell.find('>').unwrap() + 1..];
            link[..link.find("</a>").unwrap()].to_owned()
        })
        .collect()
}

/// Waits until every experiment of the batch has finished; returns `GET /batches/{id}`.
fn wait_for_batch(server: &Server, batch: &str) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("batch {batch} finishes"), || {
        last = server.get(&format!("/batches/{batch}?limit=1000")).json();
        let progress = &last["progress"];
        progress["queued"] == 0 && progress["running"] == 0
    });
    last
}

/// The entries of a zip, by name, with their contents.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("the download is a zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .expect("the entry reads, CRC and all");
            (entry.name().to_owned(), data)
        })
        .collect()
}

/// A download: its status, type and file name checked; its body.
fn download(server: &Server, path: &str, content_type: &str, file_name: &str) -> Vec<u8> {
    let answer = server.get(path);
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    assert_eq!(answer.header("Content-Type"), Some(content_type), "{path}");
    let disposition = answer.header("Content-Disposition").unwrap_or_default();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"{file_name}\"")),
        "{path}: {disposition}"
    );
    answer.body
}

#[test]
fn a_96_well_plate_reads_in_well_order_with_its_results_and_downloads_whole() {
    let server = Server::start(|_| {});
    let answer = post_multipart(
        &server,
        &[Part::File {
            name: "file",
            filename: "plate7.fasta",
            content: plate().as_bytes(),
        }],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let first: u64 = batch.parse().unwrap();
    let status = wait_for_batch(&server, &batch);
    assert_eq!(status["upload"], "plate7.fasta");
    assert_eq!(status["progress"]["total"], 96);
    assert_eq!(status["progress"]["complete"], 96);
    assert_eq!(status["experiments"][0]["query_name"], "A01");
    assert_eq!(status["experiments"][0]["result"]["length"], "30");
    assert_eq!(
        status["columns"][0]["columns"],
        serde_json::json!(["length", "gc_percent"])
    );

    // Every record says which file it came in.
    let record = server.get(&format!("/experiments/{batch}")).json();
    assert_eq!(record["upload"], "plate7.fasta");

    // The page: the file's name, the wells in order on one page, the progress, the results.
    let html = page(&server, &format!("/experiments?batch={batch}"));
    assert!(html.contains("<h1>plate7.fasta</h1>"));
    assert!(html.contains("<title>plate7.fasta · seqspool</title>"));
    assert_eq!(row_names(&html), wells());
    assert!(html.contains("<span data-finished>96</span> of 96 finished"));
    assert!(html.contains("data-batch-count=\"complete\">96<"));
    assert!(html.contains("30 nt, GC "));
    assert!(html.contains(&format!("href=\"/batches/{batch}.zip\"")));
    assert!(!html.contains("Next →"), "96 wells fit on one page");
    // The same page at the batch's own address.
    assert_eq!(
        row_names(&page(&server, &format!("/batches/{batch}"))),
        wells()
    );

    // The zip: a folder per well, in order, each with its input, record and result.
    let zip = download(
        &server,
        &format!("/batches/{batch}.zip"),
        "application/zip",
        &format!("plate7-{batch}.zip"),
    );
    let entries = unzip(&zip);
    let mut folders: Vec<String> = Vec::new();
    for (name, _) in &entries {
        let (folder, _) = name.split_once('/').expect("every entry is in a folder");
        if folders.last().map(String::as_str) != Some(folder) {
            folders.push(folder.to_owned());
        }
    }
    let expected: Vec<String> = wells()
        .iter()
        .enumerate()
        .map(|(i, well)| format!("{:06}-{well}", first + i as u64))
        .collect();
    assert_eq!(folders, expected);
    for folder in &expected {
        let files: Vec<&str> = entries
            .iter()
            .filter_map(|(name, _)| name.strip_prefix(&format!("{folder}/")))
            .collect();
        assert_eq!(
            files,
            ["query.fasta", "experiment.json", "analysis.json"],
            "{folder}"
        );
    }
    let (_, h12) = &entries[entries.len() - 3];
    assert!(String::from_utf8_lossy(h12).starts_with(">H12 primer 96 forward, plate 7\n"));
    let analysis: Value = serde_json::from_slice(&entries[2].1).unwrap();
    assert_eq!(analysis["length"], 30);

    // The merged table: a header and one row per well, in order.
    let tsv = download(
        &server,
        &format!("/batches/{batch}.tsv"),
        "text/tab-separated-values; charset=utf-8",
        &format!("plate7-{batch}.tsv"),
    );
    let tsv = String::from_utf8(tsv).unwrap();
    let lines: Vec<Vec<&str>> = tsv.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(lines.len(), 97, "{tsv}");
    assert_eq!(
        lines[0],
        [
            "id",
            "name",
            "state",
            "pipeline",
            "summary",
            "length",
            "gc_percent"
        ]
    );
    let names: Vec<&str> = lines[1..].iter().map(|row| row[1]).collect();
    assert_eq!(names, wells());
    for row in &lines[1..] {
        assert_eq!(
            (row[2], row[3], row[5]),
            ("COMPLETE", "analysis", "30"),
            "{row:?}"
        );
        assert!(row[4].starts_with("30 nt, GC "), "{row:?}");
        assert!(row[6].parse::<f64>().is_ok(), "{row:?}");
    }
}

#[test]
fn a_fasta_body_names_its_file_in_the_query_string() {
    let server = Server::start(|_| {});
    let text = ">s1\nACGTACGT\n>s2\nGGGGCCCC\n";
    let answer = post(
        &server,
        "/experiments?name=run%2012%20%3Cb%3E.fa",
        "text/x-fasta",
        text.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["experiments"][1]["upload"], "run 12 <b>.fa");
    let batch = body["batch"].as_str().unwrap().to_owned();
    wait_for_batch(&server, &batch);
    let html = page(&server, &format!("/experiments?batch={batch}"));
    assert!(html.contains("<h1>run 12 &lt;b&gt;.fa</h1>"));
    let answer = server.get(&format!("/batches/{batch}.zip"));
    assert!(
        answer
            .header("Content-Disposition")
            .unwrap()
            .starts_with(&format!("attachment; filename=\"run_12_b-{batch}.zip\"")),
        "{:?}",
        answer.headers
    );

    // Given twice, it is refused as any field would be, with nothing written.
    let before = accepted(&server);
    assert_error(
        &post(
            &server,
            "/experiments?name=a.fa&name=b.fa",
            "text/x-fasta",
            text.as_bytes(),
        ),
        400,
        None,
        &["'name' is given twice"],
        "two names",
    );
    assert_eq!(accepted(&server), before);

    // Without a name, a batch is titled by its id; a pasted batch has no file.
    let answer = post_fasta(&server, text);
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let html = page(&server, &format!("/experiments?batch={batch}"));
    assert!(html.contains(&format!("<h1>Batch {batch}</h1>")));
    assert!(answer.json()["experiments"][0].get("upload").is_none());
}

/// A lab's BLAST pipeline as the example scripts write its report: a header,
/// the 12 standard columns and `stitle`. Each query's hit is named after it;
/// A03's search fails.
const BLAST_LAB: &str = r#"
[[pipeline]]
name = "blastn"
title = "BLASTN"
command = '''
if [ "$QUERY_NAME" = A03 ]; then echo "blastn: no database" >&2; exit 2; fi
printf 'qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\tstitle\n' > hits.tsv
printf '%s\tref_%s\t99.5\t30\t0\t0\t1\t30\t1\t30\t3e-12\t58.4\tref_%s synthetic reference, plate 7\n' "$QUERY_NAME" "$QUERY_NAME" "$QUERY_NAME" >> hits.tsv
printf '%s\tother\t80\t30\t6\t0\t1\t30\t1\t30\t0.5\t20\tanother\n' "$QUERY_NAME" >> hits.tsv
echo archive > hits.asn
'''

[[pipeline.result]]
file = "hits.asn"
view = "blast"

[[pipeline.result]]
file = "hits.tsv"
view = "table"
"#;

#[test]
fn a_blast_plate_shows_each_top_hit_and_downloads_its_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lab.toml");
    std::fs::write(&path, BLAST_LAB).unwrap();
    let server = Server::start(|config| config.apply_file(BLAST_LAB, &path, None).unwrap());
    let text: String = ["A01", "A02", "A03", "A04"]
        .iter()
        .map(|well| format!(">{well}\nACGTACGTACGTACGTACGTACGTACGTAC\n"))
        .collect();
    let answer = post(
        &server,
        "/experiments?name=blast.fasta",
        "text/x-fasta",
        text.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let status = wait_for_batch(&server, &batch);
    assert_eq!(status["progress"]["complete"], 3, "{status:#}");
    assert_eq!(status["progress"]["failed"], 1, "{status:#}");
    let a01 = &status["experiments"][0];
    assert_eq!(a01["summary"], "ref_A01 (E = 3e-12)");
    assert_eq!(a01["detail"], "ref_A01 synthetic reference, plate 7");
    assert_eq!(a01["result"]["evalue"], "3e-12");
    assert_eq!(a01["result"]["identity"], "99.5");
    let a03 = &status["experiments"][2];
    assert_eq!(a03["state"], "EXECUTOR_ERROR");
    assert!(a03["summary"].as_str().unwrap().contains("exit"), "{a03}");

    let html = page(&server, &format!("/experiments?batch={batch}"));
    assert!(html.contains("Top hit (e-value)"));
    assert!(html.contains(">ref_A04 (E = 3e-12)<"));
    assert!(html.contains("title=\"ref_A04 synthetic reference, plate 7\""));
    assert!(html.contains("data-batch-count=\"failed\">1<"));

    let tsv = String::from_utf8(server.get(&format!("/batches/{batch}.tsv")).body).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(
        lines[0],
        "id\tname\tstate\tpipeline\tsummary\thit\thit_title\tidentity\tevalue\tbitscore"
    );
    let a02: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(
        &a02[1..],
        [
            "A02",
            "COMPLETE",
            "blastn",
            "ref_A02 (E = 3e-12)",
            "ref_A02",
            "ref_A02 synthetic reference, plate 7",
            "99.5",
            "3e-12",
            "58.4"
        ]
    );
    let a03: Vec<&str> = lines[3].split('\t').collect();
    assert_eq!((a03[2], a03[5]), ("EXECUTOR_ERROR", ""));

    // The zip holds each search's reports and logs; the failed one, what it left.
    let entries = unzip(&server.get(&format!("/batches/{batch}.zip")).body);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    let first: u64 = batch.parse().unwrap();
    let a01 = format!("{first:06}-A01");
    for file in [
        "query.fasta",
        "experiment.json",
        "stdout.txt",
        "stderr.txt",
        "hits.asn",
        "hits.tsv",
    ] {
        assert!(
            names.contains(&format!("{a01}/{file}").as_str()),
            "{file}: {names:?}"
        );
    }
    let a03 = format!("{:06}-A03", first + 2);
    let (_, stderr) = entries
        .iter()
        .find(|(name, _)| *name == format!("{a03}/stderr.txt"))
        .unwrap();
    assert_eq!(stderr, b"blastn: no database\n");
    assert!(!names.contains(&format!("{a03}/hits.tsv").as_str()));
}

/// [`BLAST_LAB`] with each hit named after its query, as is its title, and a
/// negative bit score.
fn named_hits() -> String {
    BLAST_LAB
        .replace("ref_%s", "%s")
        .replace(r"\t58.4\t", r"\t-7\t")
}

#[test]
fn the_batch_table_gives_text_that_a_spreadsheet_would_run_as_a_formula_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lab.toml");
    let lab = named_hits();
    std::fs::write(&path, &lab).unwrap();
    let server = Server::start(|config| config.apply_file(&lab, &path, None).unwrap());
    let names = ["=cmd|'", "+1+1", "@SUM(1)", "-2+3", "-5", "A01"];
    let text: String = names
        .iter()
        .map(|name| format!(">{name}\nACGTACGTACGTACGTACGTACGTACGTAC\n"))
        .collect();
    let answer = post_fasta(&server, &text);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let status = wait_for_batch(&server, &batch);
    assert_eq!(status["progress"]["complete"], names.len(), "{status:#}");
    // The JSON and the page say the names as they are.
    assert_eq!(status["experiments"][0]["query_name"], "=cmd|'");

    let tsv = String::from_utf8(server.get(&format!("/batches/{batch}.tsv")).body).unwrap();
    let rows: Vec<Vec<&str>> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let row = |n: usize| rows[n][1..].to_vec();
    // name, state, pipeline, summary, hit, hit_title, identity, evalue, bitscore
    assert_eq!(
        row(0),
        [
            "'=cmd|'",
            "COMPLETE",
            "blastn",
            "'=cmd|' (E = 3e-12)",
            "'=cmd|'",
            "'=cmd|' synthetic reference, plate 7",
            "99.5",
            "3e-12",
            "-7"
        ],
        "{tsv}"
    );
    for (n, guarded) in [(1, "'+1+1"), (2, "'@SUM(1)"), (3, "'-2+3")] {
        assert_eq!((rows[n][1], rows[n][5]), (guarded, guarded), "{tsv}");
        assert!(rows[n][6].starts_with(guarded), "{tsv}");
    }
    // A number is a number, a negative one too; text that begins with a sign is text.
    assert_eq!(
        row(4),
        [
            "-5",
            "COMPLETE",
            "blastn",
            "'-5 (E = 3e-12)",
            "-5",
            "'-5 synthetic reference, plate 7",
            "99.5",
            "3e-12",
            "-7"
        ],
        "{tsv}"
    );
    assert_eq!((rows[5][1], rows[5][5]), ("A01", "A01"));
}

#[test]
fn a_batch_still_waiting_downloads_what_exists_now() {
    let server = Server::start(|_| {});
    let paused = request(server.addr, "POST", "/queue/pause", &[], b"");
    assert_eq!(paused.status, 200, "{}", paused.text());
    // Names that would climb out of a folder, or into another, if taken as they are.
    let text = ">../../escape\nACGT\n>a/b\\c\nACGT\n>..\nACGT\n";
    let answer = post_fasta(&server, text);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let first: u64 = batch.parse().unwrap();

    let entries = unzip(&server.get(&format!("/batches/{batch}.zip")).body);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{first:06}-_escape/query.fasta"),
            format!("{first:06}-_escape/experiment.json"),
            format!("{:06}-a_b_c/query.fasta", first + 1),
            format!("{:06}-a_b_c/experiment.json", first + 1),
            format!("{:06}/query.fasta", first + 2),
            format!("{:06}/experiment.json", first + 2),
        ]
    );
    let record: Value = serde_json::from_slice(&entries[1].1).unwrap();
    assert_eq!(
        (record["query_name"].as_str(), record["state"].as_str()),
        (Some("../../escape"), Some("QUEUED"))
    );

    let tsv = String::from_utf8(server.get(&format!("/batches/{batch}.tsv")).body).unwrap();
    assert_eq!(tsv.lines().count(), 4, "{tsv}");
    assert!(
        tsv.lines()
            .nth(1)
            .unwrap()
            .ends_with("\t../../escape\tQUEUED\tanalysis\t\t\t"),
        "{tsv}"
    );
    let html = page(&server, &format!("/experiments?batch={batch}"));
    assert!(html.contains("<span data-finished>0</span> of 3 finished"));
    assert!(html.contains("data-batch-count=\"queued\">3<"));
}

#[test]
fn a_large_batch_pages_in_submission_order() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let text: String = (1..=250).map(|i| format!(">r{i:03}\nACGT\n")).collect();
    let batch = post_fasta(&server, &text).json()["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = page(&server, &format!("/experiments?batch={batch}"));
    let names = row_names(&first);
    assert_eq!(
        (names.len(), names[0].as_str(), names[99].as_str()),
        (100, "r001", "r100")
    );
    let next = first
        .split("href=\"")
        .find_map(|link| {
            link.split_once("\" data-older>Next →")
                .map(|(href, _)| href)
        })
        .expect("a link to the next page")
        .replace("&amp;", "&");
    let second = row_names(&page(&server, &next));
    assert_eq!((second[0].as_str(), second.len()), ("r101", 100));
    let json = server.get(&format!("/batches/{batch}?limit=200")).json();
    assert_eq!(json["experiments"].as_array().unwrap().len(), 200);
    assert_eq!(json["experiments"][199]["query_name"], "r200");
    let rest = server
        .get(&format!(
            "/batches/{batch}?limit=200&page_token={}",
            json["next_page_token"].as_str().unwrap()
        ))
        .json();
    assert_eq!(rest["experiments"].as_array().unwrap().len(), 50);
    assert_eq!(rest["next_page_token"], Value::Null);
}

#[test]
fn an_unknown_batch_is_not_found() {
    let server = Server::start(|_| {});
    let one = server.submit("single", "ACGT");
    for path in [
        "/batches/999999".to_owned(),
        "/batches/999999.zip".to_owned(),
        "/batches/999999.tsv".to_owned(),
        "/batches/..%2F..%2Fetc.zip".to_owned(),
        // A single experiment is no batch.
        format!("/batches/{one}.zip"),
    ] {
        assert_error(&server.get(&path), 404, None, &["no batch"], &path);
    }
    let answer = request(server.addr, "POST", "/batches/000001.zip", &[], b"");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("Allow"), Some("GET, HEAD"));
}

/// A lab whose one pipeline searches as a BLAST pipeline reports: each query
/// waits for a file named after it in `@LAB@/gates` (made here), then writes
/// a table with a hit when its name ends in an odd digit, and only the header
/// otherwise; `A03` fails.
pub(crate) fn gated_search_lab() -> Lab {
    let lab = Lab::new();
    std::fs::create_dir(lab.path("gates")).unwrap();
    lab.config(
        r#"
[[pipeline]]
name = "search"
title = "Search"
command = '''
while [ ! -e "@LAB@/gates/$QUERY_NAME" ]; do sleep 0.02; done
if [ "$QUERY_NAME" = A03 ]; then echo "search: no database" >&2; exit 2; fi
printf 'qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\tstitle\n' > hits.tsv
case "$QUERY_NAME" in
*[13579]) printf '%s\tref_%s\t99.5\t30\t0\t0\t1\t30\t1\t30\t3e-12\t58.4\tref_%s reference\n' "$QUERY_NAME" "$QUERY_NAME" "$QUERY_NAME" >> hits.tsv ;;
esac
echo archive > hits.asn
'''

[[pipeline.result]]
file = "hits.asn"
view = "blast"

[[pipeline.result]]
file = "hits.tsv"
view = "table"
"#,
    );
    lab
}

/// Opens the gates of `names` in a [`gated_search_lab`].
pub(crate) fn open_gates<'a>(lab: &Lab, names: impl IntoIterator<Item = &'a str>) {
    for name in names {
        std::fs::write(lab.path("gates").join(name), "").unwrap();
    }
}

/// The start tag and the text of the grid's cell of `well`, or `None`.
fn well_cell<'a>(html: &'a str, well: &str) -> Option<&'a str> {
    let at = html.find(&format!("data-well=\"{well}\""))?;
    let cell = &html[html[..at].rfind("<td")?..];
    Some(&cell[..cell.find("</td>")?])
}

#[test]
fn a_batch_named_as_wells_shows_its_plate_as_a_grid_and_a_list_named_otherwise_does_not() {
    let lab = gated_search_lab();
    let server = lab.server(|_| {});
    // Wells as a lab writes them, padded or not, in any order: a 96-well plate.
    let names = ["A1", "A02", "A03", "A04", "B12", "h1"];
    open_gates(&lab, names);
    let text: String = names
        .iter()
        .map(|well| format!(">{well}\nACGTACGTACGTACGTACGTACGTACGTAC\n"))
        .collect();
    let answer = post_fasta(&server, &text);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let batch = answer.json()["batch"].as_str().unwrap().to_owned();
    let first: u64 = batch.parse().unwrap();
    let status = wait_for_batch(&server, &batch);

    // The JSON: the plate's size and each filled well, by its printed name, with its hit.
    let plate = &status["plate"];
    assert_eq!(
        (plate["rows"].as_u64(), plate["columns"].as_u64()),
        (Some(8), Some(12)),
        "{status:#}"
    );
    let wells: Vec<(String, String, Value)> = plate["wells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|well| {
            (
                well["well"].as_str().unwrap().to_owned(),
                well["state"].as_str().unwrap().to_owned(),
                well.get("hit").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let expected: Vec<(String, String, Value)> = [
        ("A01", "COMPLETE", Value::Bool(true)),
        ("A02", "COMPLETE", Value::Bool(false)),
        ("A03", "EXECUTOR_ERROR", Value::Null),
        ("A04", "COMPLETE", Value::Bool(false)),
        ("B12", "COMPLETE", Value::Bool(false)),
        ("H01", "COMPLETE", Value::Bool(true)),
    ]
    .into_iter()
    .map(|(well, state, hit)| (well.to_owned(), state.to_owned(), hit))
    .collect();
    assert_eq!(wells, expected, "row by row from A01");
    assert_eq!(plate["wells"][0]["id"], format!("{first:06}"));
    assert_eq!(plate["wells"][0]["summary"], "ref_A1 (E = 3e-12)");

    // The page, without any script: a table with its rows and columns as headers,
    // each well a link to its experiment, its look and its words.
    let html = page(&server, &format!("/experiments?batch={batch}"));
    let grid = &html[html
        .find("<table class=\"wells wells-96\"")
        .expect("a 96-well grid")..];
    let grid = &grid[..grid.find("</table>").unwrap()];
    assert!(
        html.find("class=\"wells").unwrap() < html.find("id=\"experiments-heading\"").unwrap(),
        "the grid is above the list"
    );
    assert_eq!(grid.matches("<th scope=\"col\">").count(), 12);
    assert_eq!(grid.matches("<th scope=\"row\">").count(), 8);
    assert_eq!(grid.matches("<td class=\"well").count(), 96);
    assert_eq!(grid.matches("well-empty").count(), 90);
    assert!(
        grid.contains("<caption class=\"visually-hidden\">96-well plate"),
        "{grid}"
    );
    for (well, offset, look, words) in [
        ("A01", 0, "well-hit", "A01: hit, ref_A1 (E = 3e-12)"),
        ("A02", 1, "well-no-hit", "A02: no hit<"),
        (
            "A03",
            2,
            "well-failed",
            "A03: failed, the command exited with code 2",
        ),
        ("H01", 5, "well-hit", "H01: hit, ref_h1 (E = 3e-12)"),
    ] {
        let cell = well_cell(grid, well).unwrap_or_else(|| panic!("{well} in {grid}"));
        assert!(
            cell.starts_with(&format!(
                "<td class=\"well {look}\" data-id=\"{:06}\"",
                first + offset
            )),
            "{cell}"
        );
        assert!(
            cell.contains(&format!("<a href=\"/experiments/{:06}\">", first + offset)),
            "{cell}"
        );
        assert!(cell.contains(words), "{cell}");
    }

    // On another page of the list, the grid is still the whole plate.
    let second = page(
        &server,
        &format!("/experiments?batch={batch}&limit=2&page_token={first:06}"),
    );
    assert_eq!(row_names(&second), ["A02", "A03"]);
    let grid = &second[second
        .find("<table class=\"wells wells-96\"")
        .expect("the grid")..];
    assert!(well_cell(grid, "A01").unwrap().contains("well-hit"));
    assert!(well_cell(grid, "H01").unwrap().contains("well-hit"));
    let json = server
        .get(&format!("/batches/{batch}?limit=2&page_token={first:06}"))
        .json();
    assert_eq!(json["plate"]["wells"].as_array().unwrap().len(), 6);
    assert_eq!(json["experiments"].as_array().unwrap().len(), 2);

    // Past H or 12, a 384-well plate.
    open_gates(&lab, ["A01", "P24", "I1"]);
    let big = post_fasta(&server, ">A01\nACGT\n>P24\nACGT\n>I1\nACGT\n").json()["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = wait_for_batch(&server, &big);
    assert_eq!(
        (
            status["plate"]["rows"].as_u64(),
            status["plate"]["columns"].as_u64()
        ),
        (Some(16), Some(24))
    );
    let html = page(&server, &format!("/batches/{big}"));
    let grid = &html[html
        .find("<table class=\"wells wells-384\"")
        .expect("a 384-well grid")..];
    assert_eq!(
        grid[..grid.find("</table>").unwrap()]
            .matches("<td class=\"well")
            .count(),
        384
    );

    // One record named otherwise, or a well twice: a list, no grid.
    open_gates(&lab, ["blank"]);
    for text in [
        ">A01\nACGT\n>A02\nACGT\n>blank\nACGT\n",
        ">A01\nACGT\n>A1\nACGT\n",
    ] {
        let list = post_fasta(&server, text).json()["batch"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = wait_for_batch(&server, &list);
        assert!(status.get("plate").is_none(), "{status:#}");
        let html = page(&server, &format!("/batches/{list}"));
        assert!(!html.contains("data-wells"), "{html}");
        assert!(html.contains("data-batch-source"));
    }
}
