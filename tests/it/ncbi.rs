//! NCBI's BLAST URL API (`/Blast.cgi`), as the clients written for NCBI use
//! it: Biopython's two `qblast` functions, unchanged but for `url_base`, and
//! a client following NCBI's `web_blast.pl` protocol step by step (Put, then
//! SearchInfo polls, then the Text report), against the example
//! configuration's real BLAST pipelines.
//!
//! They need NCBI BLAST+, and the Biopython tests Biopython (from
//! `tests/requirements.txt`, found as `common::python_with` says), marked as
//! `common`'s doc says.

use crate::common::blast::*;
use crate::common::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A Python that can `import Bio` (see `common::python_with`).
pub(crate) fn biopython() -> PathBuf {
    python_with("Bio.Blast.NCBIWWW")
}

/// A query cut from a shipped reference: the first `length` residues of `id`.
fn cut(file: &str, id: &str, length: usize) -> String {
    reference(file, id).sequence[..length].to_owned()
}

/// The client of a Biopython test: an unchanged qblast call and parse, with
/// one thing added around it: a wrapper of `urlopen` that notes (in a file
/// named `waiting`) that the server answered a poll with `Status=WAITING`,
/// so the test knows the waiting path ran before it lets the search run.
const CLIENT: &str = r#"
import json, os, sys
import urllib.request

program, database, sequence, url_base, which, marks = sys.argv[1:7]
password = sys.argv[7] if len(sys.argv) > 7 else None
real_urlopen = urllib.request.urlopen

def urlopen(request, *args, **kwargs):
    answer = real_urlopen(request, *args, **kwargs)
    if b"Status=WAITING" in answer.peek():
        open(os.path.join(marks, "waiting"), "w").close()
    return answer

if which == "classic":
    from Bio.Blast import NCBIWWW, NCBIXML
    NCBIWWW.urlopen = urlopen
    handle = NCBIWWW.qblast(program, database, sequence, url_base=url_base, password=password)
    record = NCBIXML.read(handle)
    top = record.alignments[0]
    hsp = top.hsps[0]
    print(json.dumps({"title": top.title, "identities": hsp.identities,
                      "length": hsp.align_length, "hits": len(record.alignments)}))
else:
    import Bio.Blast
    Bio.Blast.urlopen = urlopen
    stream = Bio.Blast.qblast(program, database, sequence, url_base=url_base, password=password)
    record = Bio.Blast.read(stream)
    top = record[0]
    hsp = top[0]
    print(json.dumps({"title": top.target.id + " " + top.target.description,
                      "identities": hsp.annotations["identity"],
                      "length": hsp.length, "hits": len(record), "rid": stream.rid}))
"#;

/// One Biopython client, running.
pub(crate) struct Client {
    child: Child,
    marks: tempfile::TempDir,
    what: String,
}

impl Client {
    pub(crate) fn start(
        python: &Path,
        server: &Server,
        which: &str,
        program: &str,
        database: &str,
        sequence: &str,
    ) -> Client {
        Client::start_as(python, server, which, [program, database, sequence], None)
    }

    /// A client that gives `password` to `qblast`, as a script for a server
    /// that wants a user does: the user's token.
    fn start_as(
        python: &Path,
        server: &Server,
        which: &str,
        [program, database, sequence]: [&str; 3],
        password: Option<&str>,
    ) -> Client {
        let marks = tempfile::tempdir().unwrap();
        let child = Command::new(python)
            .args(["-c", CLIENT, program, database, sequence])
            .arg(format!("http://{}/Blast.cgi", server.addr))
            .arg(which)
            .arg(marks.path())
            .args(password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting Python");
        Client {
            child,
            marks,
            what: format!("{which} qblast {program} {database}"),
        }
    }

    fn saw_waiting(&self) -> bool {
        self.marks.path().join("waiting").exists()
    }

    /// What the client printed, once it has ended (Biopython polls every 20 s).
    pub(crate) fn result(mut self) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{}: still polling after 4 minutes", self.what);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{}: {status}\n{stderr}", self.what);
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|err| panic!("{}: {err}: {stdout}", self.what))
    }

    /// What the client printed to its standard error, once it has failed.
    fn failure(mut self) -> String {
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{}: it succeeded", self.what);
        stderr
    }
}

/// A server running the example configuration (its databases in `db`)
/// for the lab's users only: `--access members`.
fn members_server(db: &Path) -> Server {
    let text = example_config(db);
    Server::start(|config| {
        config
            .apply_file(&text, &example_config_path(), None)
            .expect("examples/pipelines/blast.toml reads");
        config.access = seqspool::config::AccessMode::Members;
    })
}

#[test]
#[cfg_attr(
    not(all(seqspool_test_blast, seqspool_test_python_packages)),
    ignore = "needs NCBI BLAST+ and tests/requirements.txt in .venv (see the README)"
)]
fn on_a_server_for_members_biopython_gives_a_users_token_as_its_password() {
    need_blast();
    let python = biopython();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = members_server(db.path());
    let token = add_user(&server.dir, "anna", false);
    let dna = cut("reference.fasta", "ref03", 200);

    // Without a password the first request is refused, saying how to sign in.
    let put = server.post_form(
        "/Blast.cgi",
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
        ],
    );
    assert_eq!(put.status, 401, "{}", put.text());
    let challenges: Vec<&str> = put
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic "))
            && challenges.iter().any(|c| c.starts_with("Bearer ")),
        "{challenges:?}"
    );
    let refused =
        Client::start_as(&python, &server, "classic", ["blastn", "nt", &dna], None).failure();
    assert!(refused.contains("401"), "{refused}");
    // A wrong password is refused too.
    let wrong = Client::start_as(
        &python,
        &server,
        "new",
        ["blastn", "nt", &dna],
        Some("ssp_wrong"),
    )
    .failure();
    assert!(wrong.contains("401"), "{wrong}");
    assert_eq!(
        server.get("/service-info").json()["backlog"],
        0,
        "nothing was accepted"
    );

    // With the token as the password, the search runs as anna's.
    let result = Client::start_as(
        &python,
        &server,
        "classic",
        ["blastn", "nt", &dna],
        Some(&token),
    )
    .result();
    let ref03 = reference("reference.fasta", "ref03");
    assert_eq!(
        result["title"].as_str().unwrap(),
        format!("ref03 {}", ref03.title),
        "{result}"
    );
    let listing = server.get("/experiments").json();
    let experiments = listing["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 1, "{listing}");
    assert_eq!(experiments[0]["submitted_by"], "anna", "{listing}");
}

/// The `WWW-Authenticate` challenges of an answer.
fn challenges(answer: &Response) -> Vec<&str> {
    answer
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.as_str())
        .collect()
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn on_a_server_for_members_no_spelling_of_put_by_any_path_or_method_searches_without_a_token() {
    use base64::Engine as _;
    need_blast();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = members_server(db.path());
    let token = add_user(&server.dir, "anna", false);
    // Held, so that a search is still there to delete at the end.
    let root = add_user(&server.dir, "root", true);
    let paused = request(
        server.addr,
        "POST",
        "/queue/pause",
        &[("Authorization", &format!("Bearer {root}"))],
        b"",
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
    let before = snapshot(&server.dir);
    let dna = cut("reference.fasta", "ref03", 60);
    let rest = format!("PROGRAM=blastn&DATABASE=nt&QUERY={dna}");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];

    // Every spelling the handler reads as Put: encoded, padded (`+` is a
    // space in a form), in any case, the field's name encoded too.
    let spellings = [
        "CMD=Put",
        "CMD=%50ut",
        "CMD=+Put",
        "CMD=Put+",
        "CMD=%20Put%09",
        "cmd=put",
        "CMD=PUT",
        "%43MD=Put",
        "+CMD=Put",
    ];
    for path in ["/Blast.cgi", "/blast/Blast.cgi"] {
        for cmd in spellings {
            let fields = format!("{cmd}&{rest}");
            let asked = [
                ("GET", format!("{path}?{fields}"), String::new()),
                ("HEAD", format!("{path}?{fields}"), String::new()),
                ("POST", path.to_owned(), fields.clone()),
                ("POST", format!("{path}?{cmd}"), rest.clone()),
            ];
            for (method, target, body) in asked {
                let what = format!("{method} {target} [{body}]");
                let answer = request(server.addr, method, &target, &form, body.as_bytes());
                assert_eq!(answer.status, 401, "{what}: {}", answer.text());
                // NCBI's clients give their password only when asked for Basic.
                let asks = challenges(&answer);
                assert!(
                    asks.iter().any(|c| c.starts_with("Basic "))
                        && asks.iter().any(|c| c.starts_with("Bearer ")),
                    "{what}: {asks:?}"
                );
                if method != "HEAD" {
                    assert!(
                        answer.text().contains("needs a user"),
                        "{what}: {}",
                        answer.text()
                    );
                }
            }
        }
    }
    assert_eq!(snapshot(&server.dir), before, "nothing was written");
    assert_eq!(server.get("/queue").json()["queued"], 0);

    // A member's token, as Biopython sends it (Basic, the token the
    // password), searches by every path and method.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("blast:{token}"))
    );
    let mut rids = Vec::new();
    for (method, target, body) in [
        (
            "GET",
            format!("/blast/Blast.cgi?CMD=%50ut&{rest}"),
            String::new(),
        ),
        ("POST", "/Blast.cgi".to_owned(), format!("CMD=+Put&{rest}")),
        (
            "POST",
            "/blast/Blast.cgi".to_owned(),
            format!("CMD=Put&{rest}"),
        ),
    ] {
        let answer = request(
            server.addr,
            method,
            &target,
            &[form[0], ("Authorization", basic.as_str())],
            body.as_bytes(),
        );
        assert_eq!(answer.status, 200, "{method} {target}: {}", answer.text());
        let rid = info(&answer.text(), "RID").map(str::to_owned);
        rids.push(rid.unwrap_or_else(|| panic!("{method} {target}: {}", answer.text())));
    }
    let listing = server.get("/experiments").json();
    let experiments = listing["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 3, "{listing}");
    assert!(
        experiments.iter().all(|e| e["submitted_by"] == "anna"),
        "{listing}"
    );

    // Reading needs nobody: polls without a token, by GET and by POST.
    let rid = &rids[0];
    let poll = server.get(&format!(
        "/blast/Blast.cgi?CMD=Get&FORMAT_OBJECT=SearchInfo&RID={rid}"
    ));
    assert_eq!(poll.status, 200, "{}", poll.text());
    let poll = cgi(
        &server,
        &[
            ("CMD", "Get"),
            ("FORMAT_OBJECT", "SearchInfo"),
            ("RID", rid),
        ],
    );
    assert_eq!(poll.status, 200, "{}", poll.text());
    // Deleting needs its submitter, however spelled.
    for target in [
        format!("/Blast.cgi?CMD=Delete&RID={rid}"),
        format!("/blast/Blast.cgi?CMD=%44elete&RID={rid}"),
    ] {
        let answer = server.get(&target);
        assert_eq!(answer.status, 401, "{target}: {}", answer.text());
    }
    let deleted = request(
        server.addr,
        "GET",
        &format!("/Blast.cgi?CMD=Delete&RID={rid}"),
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
}

fn queued(server: &Server) -> u64 {
    server.get("/queue").json()["queued"].as_u64().unwrap()
}

#[test]
#[cfg_attr(
    not(all(seqspool_test_blast, seqspool_test_python_packages)),
    ignore = "needs NCBI BLAST+ and tests/requirements.txt in .venv (see the README)"
)]
fn biopython_scripts_get_their_hits_from_the_labs_blast_while_other_work_waits_ahead() {
    need_blast();
    let python = biopython();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = example_server(db.path());

    // Other work first, and the queue held, so the scripts' searches wait behind it.
    let answer = server.post_form("/queue/pause", &[]);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let ahead = cut("reference.fasta", "ref05", 300);
    for n in 0..2 {
        let answer = server.post_form(
            "/experiments",
            &[
                ("query_name", &format!("ahead{n}")),
                ("query_sequence", &ahead),
                ("pipeline", "blastn"),
            ],
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
    }

    let dna = cut("reference.fasta", "ref03", 200);
    let protein = cut("reference_proteins.fasta", "prot02", 120);
    let clients = [
        Client::start(&python, &server, "classic", "blastn", "nt", &dna),
        Client::start(&python, &server, "new", "blastn", "core_nt", &dna),
        Client::start(&python, &server, "new", "blastp", "nr", &protein),
    ];
    wait_until("the scripts' searches wait in the queue", || {
        queued(&server) == 5
    });
    wait_until("each script has been told its search is waiting", || {
        clients.iter().all(Client::saw_waiting)
    });
    let answer = server.post_form("/queue/resume", &[]);
    assert_eq!(answer.status, 200, "{}", answer.text());

    let [classic, new_blastn, new_blastp] = clients;
    let ref03 = reference("reference.fasta", "ref03");
    for (result, what) in [(classic.result(), "classic"), (new_blastn.result(), "new")] {
        assert_eq!(
            result["title"].as_str().unwrap(),
            format!("ref03 {}", ref03.title),
            "{what} blastn: {result}"
        );
        assert_eq!(result["identities"], 200, "{what} blastn: {result}");
        assert_eq!(result["length"], 200, "{what} blastn: {result}");
    }
    let prot02 = reference("reference_proteins.fasta", "prot02");
    let result = new_blastp.result();
    assert_eq!(
        result["title"].as_str().unwrap(),
        format!("prot02 {}", prot02.title),
        "blastp: {result}"
    );
    assert_eq!(result["identities"], 120, "blastp: {result}");

    // The search is an ordinary experiment, on the ordinary page.
    let rid = result["rid"].as_str().unwrap();
    assert_eq!(rid.len(), 11, "{rid}");
    let listed = server.get("/Blast.cgi?CMD=DisplayRIDs").text();
    assert!(listed.contains(rid), "{listed}");
}

#[test]
#[cfg_attr(
    not(all(seqspool_test_blast, seqspool_test_python_packages)),
    ignore = "needs NCBI BLAST+ and tests/requirements.txt in .venv (see the README)"
)]
fn biopython_turns_a_refused_search_into_an_exception_that_says_why() {
    need_blast();
    let python = biopython();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = example_server(db.path());
    let before = snapshot(&server.dir);
    let url = format!("http://{}/Blast.cgi", server.addr);
    let script = r#"
import sys
from Bio.Blast import NCBIWWW
program, database, sequence, url = sys.argv[1:5]
try:
    NCBIWWW.qblast(program, database, sequence, url_base=url)
except ValueError as err:
    print(err)
else:
    print("no error")
"#;
    let dna = cut("reference.fasta", "ref03", 100);
    for (program, database, sequence, expected) in [
        (
            "blastx",
            "nr",
            dna.as_str(),
            "PROGRAM blastx is not offered; this server offers blastn, blastp",
        ),
        (
            "blastn",
            "refseq_rna",
            dna.as_str(),
            "DATABASE refseq_rna is not offered for blastn; it searches reference, nt, core_nt",
        ),
        ("blastn", "nt", "ACGT-NOT A SEQUENCE!", "QUERY"),
        ("blastp", "nr", dna.as_str(), "QUERY: blastp takes protein"),
    ] {
        let output = Command::new(&python)
            .args(["-c", script, program, database, sequence, &url])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            said.contains("Error message from NCBI: Error: ") && said.contains(expected),
            "{program} {database} {sequence}: {said}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused search wrote nothing"
    );
}

/// `name = value` from a QBlastInfo block, as `web_blast.pl` reads it
/// (`/^    RID = (.*$)/m`, `/\s+Status=(\w+)/`).
fn info<'a>(page: &'a str, name: &str) -> Option<&'a str> {
    page.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix(name)?.trim_start();
        Some(rest.strip_prefix('=')?.trim())
    })
}

fn cgi(server: &Server, fields: &[(&str, &str)]) -> Response {
    server.post_form("/Blast.cgi", fields)
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_web_blast_pl_client_puts_polls_search_info_and_reads_the_text_report() {
    need_blast();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = example_server(db.path());
    server.post_form("/queue/pause", &[]);

    // Put, as web_blast.pl sends it: a POST form, the query as FASTA.
    let dna = cut("reference.fasta", "ref06", 240);
    let fasta = format!(">my_read a read of ref06\n{dna}\n");
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "reference"),
            ("QUERY", &fasta),
        ],
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let page = put.text();
    assert!(
        page.contains("<!--QBlastInfoBegin\n    RID = ") && page.contains("\n    RTOE = "),
        "{page}"
    );
    let rid = info(&page, "RID").unwrap().to_owned();
    let rtoe: u64 = info(&page, "RTOE").unwrap().parse().unwrap();
    assert!(rtoe >= 1, "{rtoe}");
    assert_eq!(rid.len(), 11);
    assert!(
        rid.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{rid}"
    );

    let search_info = || {
        let answer = server.get(&format!(
            "/Blast.cgi?CMD=Get&FORMAT_OBJECT=SearchInfo&RID={rid}"
        ));
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.text()
    };
    assert_eq!(info(&search_info(), "Status"), Some("WAITING"));
    // A poll for the report meanwhile gets the waiting page.
    let waiting = server.get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=XML&RID={rid}"));
    assert_eq!(waiting.status, 200);
    let text = waiting.text();
    assert!(text.starts_with("<!DOCTYPE html"), "{text}");
    assert!(text.contains("<title>NCBI Blast:</title>"), "{text}");
    assert!(
        text.contains("QBlastInfoBegin\n\tStatus=WAITING\nQBlastInfoEnd"),
        "{text}"
    );

    server.post_form("/queue/resume", &[]);
    let mut page = String::new();
    wait_until("the search is ready", || {
        page = search_info();
        info(&page, "Status") == Some("READY")
    });
    assert_eq!(info(&page, "ThereAreHits"), Some("yes"), "{page}");

    let text = server
        .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Text&RID={rid}"))
        .text();
    assert!(
        text.starts_with("<p><!--\nQBlastInfoBegin\n\tStatus=READY"),
        "{text}"
    );
    assert!(text.contains("Query= my_read a read of ref06"), "{text}");
    assert!(text.contains("ref06"), "{text}");
    assert!(text.contains("Identities = 240/240 (100%)"), "{text}");

    // The same search, in every format the clients ask for.
    // NCBI's default format is a page; the report in it is text, escaped.
    let html = server.get(&format!("/Blast.cgi?CMD=Get&RID={rid}"));
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = html.text();
    assert!(
        html.contains("Status=READY") && html.contains("<pre>"),
        "{html}"
    );
    assert!(html.contains("Query= my_read a read of ref06"), "{html}");
    let xml = server.get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=XML&RID={rid}"));
    let xml = xml.text();
    assert!(xml.starts_with("<?xml "), "{xml}");
    assert!(!xml.contains("Status="), "{xml}");
    assert!(xml.contains("<Hit_def>"), "{xml}");
    let tabular = server
        .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={rid}"))
        .text();
    assert!(tabular.starts_with("<p><!--\nQBlastInfoBegin"), "{tabular}");
    assert!(
        tabular.contains("my_read\tref06\t100.000\t240"),
        "{tabular}"
    );
    for (format, member) in [("JSON2", ".json"), ("XML2", ".xml")] {
        let zip = server.get(&format!(
            "/Blast.cgi?CMD=Get&FORMAT_TYPE={format}&RID={rid}"
        ));
        assert_eq!(zip.status, 200);
        assert_eq!(zip.header("content-type"), Some("application/zip"));
        let listing = unzip_names(&zip.body);
        assert_eq!(
            listing,
            [format!("{rid}{member}"), format!("{rid}_1{member}")],
            "{format}"
        );
    }
}

/// The names in a zip archive, in the order they were written.
fn unzip_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a whole zip");
    (0..archive.len())
        .map(|index| archive.by_index(index).unwrap().name().to_owned())
        .collect()
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn alignments_limit_the_report_and_the_rid_outlives_a_restart() {
    need_blast();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let experiments = tempfile::tempdir().unwrap();
    let text = example_config(db.path());
    let configure = |config: &mut seqspool::Config| {
        config
            .apply_file(&text, &example_config_path(), None)
            .expect("examples/pipelines/blast.toml reads")
    };
    // A short common stretch: several references hit.
    let server = Server::start_in(experiments.path(), configure);
    let query = cut("reference.fasta", "ref01", 400);
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &query),
            ("EXPECT", "1000"),
            ("WORD_SIZE", "7"),
            ("HITLIST_SIZE", "50"),
        ],
    );
    let rid = info(&put.text(), "RID").unwrap().to_owned();
    let id = server.get("/experiments?limit=1").json()["experiments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["params"]["evalue"], "1000", "{record:#}");
    assert_eq!(record["params"]["word_size"], "7", "{record:#}");
    assert_eq!(record["params"]["task"], "blastn", "{record:#}");
    assert_eq!(record["query_name"], "Query_1", "{record:#}");

    let hits = |server: &Server, alignments: &str| {
        let xml = server
            .get(&format!(
                "/Blast.cgi?CMD=Get&FORMAT_TYPE=XML&ALIGNMENTS={alignments}&RID={rid}"
            ))
            .text();
        xml.matches("<Hit>").count()
    };
    let all = hits(&server, "500");
    assert!(all > 1, "the query should hit several references: {all}");
    assert_eq!(hits(&server, "1"), 1);

    // More than any report holds is all of them, as at NCBI, in every
    // format, asked for as Biopython asks (a POST form).
    for huge in [
        "2147483647",
        "2147483648",
        "4294967296",
        "99999999999999999999999",
    ] {
        for name in ["ALIGNMENTS", "DESCRIPTIONS"] {
            for format in ["XML", "Text", "Tabular", "HTML", "JSON2", "XML2"] {
                let answer = cgi(
                    &server,
                    &[
                        ("CMD", "Get"),
                        ("FORMAT_TYPE", format),
                        ("RID", &rid),
                        (name, huge),
                    ],
                );
                assert_eq!(
                    answer.status,
                    200,
                    "{name}={huge} {format}: {}",
                    answer.text()
                );
                if format == "XML" {
                    assert_eq!(answer.text().matches("<Hit>").count(), all, "{name}={huge}");
                }
            }
        }
    }
    // Not a count: a client error that names the field.
    for (name, bad) in [
        ("ALIGNMENTS", "-1"),
        ("DESCRIPTIONS", "many"),
        ("ALIGNMENTS", "1e9"),
    ] {
        let answer = cgi(
            &server,
            &[
                ("CMD", "Get"),
                ("FORMAT_TYPE", "XML"),
                ("RID", &rid),
                (name, bad),
            ],
        );
        assert_eq!(answer.status, 400, "{name}={bad}: {}", answer.text());
        assert!(
            answer
                .text()
                .contains(&format!("{name} {bad} is not a whole number")),
            "{}",
            answer.text()
        );
    }
    server.stop().unwrap();

    let server = Server::start_in(experiments.path(), configure);
    assert_eq!(
        hits(&server, "500"),
        all,
        "the RID names the same search after a restart"
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn failed_canceled_and_unknown_searches_end_the_polling_with_a_reason() {
    need_blast();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = example_server(db.path());
    server.post_form("/queue/pause", &[]);
    let dna = cut("reference.fasta", "ref02", 100);
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
        ],
    );
    let rid = info(&put.text(), "RID").unwrap().to_owned();

    // Delete cancels it; a poll then ends with a reason, not WAITING.
    let deleted = server.get(&format!("/Blast.cgi?CMD=Delete&RID={rid}"));
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let get = server.get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=XML&RID={rid}"));
    assert_eq!(get.status, 410, "{}", get.text());
    assert!(
        get.text().contains("<p class=\"error\">Error: the search "),
        "{}",
        get.text()
    );
    let status = server.get(&format!(
        "/Blast.cgi?CMD=Get&FORMAT_OBJECT=SearchInfo&RID={rid}"
    ));
    assert_eq!(info(&status.text(), "Status"), Some("FAILED"));

    // An RID that is not ours, or no longer names its search.
    for unknown in ["ZZZZZZZZZZZ", "0000001AAAA", "nonsense"] {
        let get = server.get(&format!("/Blast.cgi?CMD=Get&RID={unknown}"));
        assert_eq!(get.status, 404, "{unknown}: {}", get.text());
        assert!(get.text().contains("Status=UNKNOWN"), "{}", get.text());
        let status = server.get(&format!(
            "/Blast.cgi?CMD=Get&FORMAT_OBJECT=SearchInfo&RID={unknown}"
        ));
        assert_eq!(status.status, 200);
        assert_eq!(info(&status.text(), "Status"), Some("UNKNOWN"));
    }

    // A search that fails: BLAST refuses a stretch past the query's end.
    server.post_form("/queue/resume", &[]);
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
            ("QUERY_FROM", "500"),
            ("QUERY_TO", "600"),
        ],
    );
    let rid = info(&put.text(), "RID").unwrap().to_owned();
    let mut status = String::new();
    wait_until("the search ends", || {
        status = server
            .get(&format!(
                "/Blast.cgi?CMD=Get&FORMAT_OBJECT=SearchInfo&RID={rid}"
            ))
            .text();
        info(&status, "Status") != Some("WAITING")
    });
    assert_eq!(info(&status, "Status"), Some("FAILED"), "{status}");
    let get = server.get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=XML&RID={rid}"));
    assert_eq!(get.status, 500, "{}", get.text());
    assert!(get.text().contains("failed"), "{}", get.text());
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn bad_requests_get_the_error_form_and_nothing_runs() {
    need_blast();
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let server = example_server(db.path());
    let before = snapshot(&server.dir);
    let dna = cut("reference.fasta", "ref02", 100);
    let two = format!(">a\n{dna}\n>b\n{dna}\n");
    for (fields, expected) in [
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "tblastx"),
                ("DATABASE", "nt"),
                ("QUERY", dna.as_str()),
            ],
            "PROGRAM tblastx is not offered",
        ),
        (
            vec![("CMD", "Put"), ("DATABASE", "nt"), ("QUERY", dna.as_str())],
            "PROGRAM is missing",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nr"),
                ("QUERY", dna.as_str()),
            ],
            "DATABASE nr is not offered for blastn",
        ),
        (
            vec![("CMD", "Put"), ("PROGRAM", "blastn"), ("DATABASE", "nt")],
            "QUERY is missing",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", "NM_000546"),
            ],
            "QUERY",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", two.as_str()),
            ],
            "QUERY holds 2 FASTA records",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", dna.as_str()),
                ("EXPECT", "many"),
            ],
            "EXPECT: 'many' is not a number",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", dna.as_str()),
                ("WORD_SIZE", "1"),
            ],
            "WORD_SIZE: 1 is below the least allowed",
        ),
        (
            vec![
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", dna.as_str()),
                ("SERVICE", "psi"),
            ],
            "SERVICE psi is not offered",
        ),
    ] {
        let answer = cgi(&server, &fields);
        let page = answer.text();
        assert_eq!(answer.status, 200, "{fields:?}: {page}");
        assert!(
            page.contains("<p class=\"error\">Error: "),
            "{fields:?}: {page}"
        );
        assert!(page.contains(expected), "{fields:?}: {page}");
        assert!(!page.contains("RID ="), "{fields:?}: {page}");
    }
    // Not a command at all: 400, with the form all the same.
    for (fields, status, expected) in [
        (vec![("PROGRAM", "blastn")], 400, "CMD is missing"),
        (vec![("CMD", "Launch")], 400, "CMD launch is not offered"),
        (vec![("CMD", "Get")], 400, "RID is missing"),
        (
            vec![
                ("CMD", "Get"),
                ("RID", "ZZZZZZZZZZZ"),
                ("FORMAT_TYPE", "PDF"),
            ],
            404,
            "names no search",
        ),
    ] {
        let answer = cgi(&server, &fields);
        assert_eq!(answer.status, status, "{fields:?}: {}", answer.text());
        assert!(
            answer.text().contains(expected),
            "{fields:?}: {}",
            answer.text()
        );
    }
    // A Put by GET from a page of another site (a link, an image) submits nothing.
    let dna_query = format!("/Blast.cgi?CMD=Put&PROGRAM=blastn&DATABASE=nt&QUERY={dna}");
    let answer = request(
        server.addr,
        "GET",
        &dna_query,
        &[("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused search wrote nothing"
    );
    // The server carries on.
    let answer = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
        ],
    );
    assert!(info(&answer.text(), "RID").is_some(), "{}", answer.text());
}

/// A sequence of `length` bases that no reference holds, the same for the same `seed`.
fn made_up(seed: u64, length: usize) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ['A', 'C', 'G', 'T'][(state >> 33) as usize % 4]
        })
        .collect()
}

/// The example's databases in `db`, the nucleotide one rebuilt
/// (`makeblastdb -parse_seqids`) with two records named as NCBI names them
/// beside the references: the GI and the accession of Biopython's tutorial.
/// Returns their sequences.
fn databases_with_accessions(db: &Path) -> (String, String) {
    make_databases(db);
    let (gi, accession) = (made_up(1, 300), made_up(2, 300));
    let mut fasta =
        std::fs::read_to_string(repository().join("examples/data/reference.fasta")).unwrap();
    fasta.push_str(&format!(
        ">gi|8332116|gb|BE037100.1|BE037100 MP14H09 MP Mesembryanthemum crystallinum cDNA 5' similar to cold acclimation protein, mRNA sequence\n{gi}\n\
         >AC123456.1 Homo sapiens BAC clone RP11-1\n{accession}\n"
    ));
    let records = db.join("records.fasta");
    std::fs::write(&records, fasta).unwrap();
    let output = Command::new("makeblastdb")
        .arg("-in")
        .arg(&records)
        .args(["-dbtype", "nucl", "-parse_seqids", "-out"])
        .arg(db.join("reference"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "makeblastdb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (gi, accession)
}

/// The newest experiment's record.
fn newest(server: &Server) -> Value {
    server.get("/experiments?limit=1").json()["experiments"][0].clone()
}

#[test]
#[cfg_attr(
    not(all(seqspool_test_blast, seqspool_test_python_packages)),
    ignore = "needs NCBI BLAST+ and tests/requirements.txt in .venv (see the README)"
)]
fn an_identifier_the_labs_databases_hold_is_searched_with_its_sequence() {
    need_blast();
    let python = biopython();
    let db = tempfile::tempdir().unwrap();
    let (gi, accession) = databases_with_accessions(db.path());
    let server = example_server(db.path());

    // As Biopython's tutorial has it: qblast("blastn", "nt", "8332116").
    let result = Client::start(&python, &server, "classic", "blastn", "nt", "8332116").result();
    assert!(
        result["title"].as_str().unwrap().contains("BE037100"),
        "{result}"
    );
    assert_eq!(result["identities"], 300, "{result}");
    let record = newest(&server);
    assert_eq!(record["query_name"], "BE037100.1", "{record:#}");
    assert_eq!(record["length"], 300, "{record:#}");
    assert!(
        record["description"]
            .as_str()
            .unwrap()
            .starts_with("MP14H09 MP Mesembryanthemum"),
        "{record:#}"
    );
    assert_eq!(
        record["notes"][0], "QUERY 8332116 was fetched from the lab's database reference",
        "{record:#}"
    );
    let id = record["id"].as_str().unwrap().to_owned();
    assert!(file(&server, &id, "query.fasta").contains(&gi[..60]));

    // The accession, named by the search's JOB_TITLE.
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", "AC123456"),
            ("JOB_TITLE", "RP11-1_clone"),
        ],
    );
    let rid = info(&put.text(), "RID")
        .unwrap_or_else(|| panic!("{}", put.text()))
        .to_owned();
    let id = newest(&server)["id"].as_str().unwrap().to_owned();
    let record = wait_complete(&server, &id);
    assert_eq!(record["query_name"], "RP11-1_clone", "{record:#}");
    assert_eq!(record["description"], "Homo sapiens BAC clone RP11-1");
    assert!(file(&server, &id, "query.fasta").contains(&accession[..60]));
    let tabular = server
        .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={rid}"))
        .text();
    assert!(
        tabular.contains("RP11-1_clone\tAC123456.1\t100.000\t300"),
        "{tabular}"
    );
    // A bare sequence is named by its JOB_TITLE too, and a bad one is refused in its terms.
    let dna = cut("reference.fasta", "ref02", 100);
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
            ("JOB_TITLE", "plate 7 well A1"),
        ],
    );
    assert!(info(&put.text(), "RID").is_some(), "{}", put.text());
    assert_eq!(newest(&server)["query_name"], "plate 7 well A1");

    // Anything else: NCBI's error form saying so, and nothing written.
    wait_until("the searches have run", || {
        queued(&server) == 0 && server.get("/queue").json()["running"] == 0
    });
    let before = snapshot(&server.dir);
    for (query, says) in [
        ("NM_000546", "QUERY NM_000546 cannot be fetched here: the lab's databases (reference) hold no sequence of that identifier, and this server does not fetch from NCBI"),
        ("NM_000546.6", "QUERY NM_000546.6 cannot be fetched here"),
        ("gi|1234", "QUERY gi|1234 cannot be fetched here"),
        ("P69905-2", "QUERY P69905-2 cannot be fetched here"),
        // What blastdbcmd would read as more than one entry, and what is no identifier.
        ("ref04,AC123456", "QUERY: invalid character ','"),
        ("all", "QUERY: blastn takes DNA or RNA"),
        ("-entry_batch", "QUERY: invalid character '_'"),
        ("$(touch pwned)8332116", "QUERY: invalid character '$'"),
        ("../reference1", "QUERY: invalid character '.'"),
    ] {
        let answer = cgi(
            &server,
            &[("CMD", "Put"), ("PROGRAM", "blastn"), ("DATABASE", "nt"), ("QUERY", query)],
        );
        let page = answer.text();
        assert_eq!(answer.status, 200, "{query}: {page}");
        assert!(page.contains("<p class=\"error\">Error: "), "{query}: {page}");
        assert!(page.contains(says), "{query}: {page}");
        assert!(!page.contains("RID ="), "{query}: {page}");
    }
    let answer = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &dna),
            ("JOB_TITLE", "bell\u{7}"),
        ],
    );
    assert!(
        answer.text().contains("JOB_TITLE: the name holds U+0007"),
        "{}",
        answer.text()
    );
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused search wrote nothing"
    );
    // Biopython reads the form as an error, with its message.
    let script = r#"
import sys
from Bio.Blast import NCBIWWW
try:
    NCBIWWW.qblast("blastn", "nt", "NM_000546", url_base=sys.argv[1])
except ValueError as err:
    print(err)
"#;
    let said = run_python(
        &python,
        script,
        &[std::ffi::OsStr::new(&format!(
            "http://{}/Blast.cgi",
            server.addr
        ))],
    );
    assert!(
        said.contains("QUERY NM_000546 cannot be fetched here"),
        "{said}"
    );
    assert_eq!(snapshot(&server.dir), before);
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn identifiers_are_looked_up_where_the_configuration_says() {
    need_blast();
    let db = tempfile::tempdir().unwrap();
    databases_with_accessions(db.path());
    let declared = r#"databases = ["reference", "nt", "core_nt"]"#;
    let text = example_config(db.path());
    assert!(text.contains(declared), "update this test");
    let with = |lookup: &str| {
        let text = text.replacen(declared, &format!("{declared}\nlookup = [{lookup}]"), 1);
        Server::start(move |config| {
            config
                .apply_file(&text, &example_config_path(), None)
                .expect("the configuration reads")
        })
    };
    let put = |server: &Server| {
        cgi(
            server,
            &[
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", "nt"),
                ("QUERY", "AC123456"),
            ],
        )
    };
    // In order: the first that holds it.
    let path = db.path().display();
    let server = with(&format!(
        r#""{path}/reference_proteins", "{path}/reference""#
    ));
    let answer = put(&server);
    assert!(info(&answer.text(), "RID").is_some(), "{}", answer.text());
    assert_eq!(newest(&server)["query_name"], "AC123456.1");
    // A database that cannot be read is the server's fault, said as such.
    let server = with(&format!(r#""{path}/gone""#));
    let answer = put(&server);
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer
            .text()
            .contains("QUERY AC123456 could not be looked up in the lab's databases just now"),
        "{}",
        answer.text()
    );
    assert!(
        !answer.text().contains(&path.to_string()),
        "no server path: {}",
        answer.text()
    );
    assert_eq!(experiment_dirs(&server.dir), Vec::<String>::new());
    // None at all: said so.
    let server = with("");
    let answer = put(&server);
    assert!(
        answer
            .text()
            .contains("QUERY AC123456 is an identifier, and this server looks none up for blastn"),
        "{}",
        answer.text()
    );
    assert_eq!(experiment_dirs(&server.dir), Vec::<String>::new());
}

/// The example databases and `plasmids` ("Lab plasmids": pLab01, the
/// first 600 bases of ref01) in a new directory, and a read in two parts,
/// one of ref06 and one of pLab01, as FASTA named `two_parts`.
fn reference_and_plasmids() -> (tempfile::TempDir, String) {
    let db = tempfile::tempdir().unwrap();
    make_databases(db.path());
    let ref01 = reference("reference.fasta", "ref01");
    make_database(
        db.path(),
        "plasmids",
        "Lab plasmids",
        &format!(">pLab01 a lab plasmid\n{}\n", &ref01.sequence[..600]),
    );
    let fasta = format!(
        ">two_parts\n{}{}\n",
        cut("reference.fasta", "ref06", 240),
        &ref01.sequence[100..400]
    );
    (db, fasta)
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn database_names_the_databases_found_several_at_once_beside_the_ncbi_mapping() {
    need_blast();
    let (db, fasta) = reference_and_plasmids();
    // The built-in blastn serves NCBI's nt (the lab's two databases) and
    // core_nt (said nothing of: the default) by the mapping; plasmids is in no mapping.
    let file = db.path().join("seqspool.toml");
    let text = "[[ncbi.program]]\nprogram = \"blastn\"\npipeline = \"blastn\"\n\
                databases = [\"nt\", \"core_nt\"]\n\
                searches = { nt = [\"reference\", \"plasmids\"] }\n";
    let dir = db.path().to_owned();
    let server = Server::start(|config| {
        config.blast_databases = Some(dir.clone());
        config.blast_group = 1;
        config
            .apply_file(text, &file, None)
            .expect("the [ncbi] section reads");
    });
    wait_checks_pass(&server);
    let search = |database: &str| -> String {
        let put = cgi(
            &server,
            &[
                ("CMD", "Put"),
                ("PROGRAM", "blastn"),
                ("DATABASE", database),
                ("QUERY", &fasta),
            ],
        );
        assert_eq!(put.status, 200, "{}", put.text());
        let page = put.text();
        let rid = info(&page, "RID")
            .unwrap_or_else(|| panic!("{database}: {page}"))
            .to_owned();
        let mut tabular = String::new();
        wait_until("the search is ready", || {
            tabular = server
                .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={rid}"))
                .text();
            tabular.contains("two_parts\t")
        });
        tabular
    };
    let both = search("reference plasmids");
    assert!(both.contains("two_parts\tref06\t"), "{both}");
    assert!(both.contains("two_parts\tpLab01\t"), "{both}");
    let plasmids = search("plasmids");
    assert!(plasmids.contains("two_parts\tpLab01\t"), "{plasmids}");
    assert!(!plasmids.contains("\tref06\t"), "{plasmids}");
    // The mapping still serves NCBI's names: nt searches what it says,
    // core_nt the pipeline's default database (the one made first).
    let nt = search("nt");
    assert!(nt.contains("two_parts\tref06\t"), "{nt}");
    assert!(nt.contains("two_parts\tpLab01\t"), "{nt}");
    let core_nt = search("core_nt");
    assert!(core_nt.contains("two_parts\tref06\t"), "{core_nt}");
    assert!(!core_nt.contains("\tpLab01\t"), "{core_nt}");

    let refused = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "plasmids refseq_rna"),
            ("QUERY", &fasta),
        ],
    );
    assert!(
        refused
            .text()
            .contains("DATABASE plasmids refseq_rna is not offered for blastn"),
        "{}",
        refused.text()
    );
}

/// The text of every file of a zip archive, one after the other.
fn unzip_text(bytes: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a whole zip");
    let mut text = String::new();
    for index in 0..archive.len() {
        archive
            .by_index(index)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
    }
    text
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn no_format_of_a_search_names_a_path_on_the_server_only_names_and_titles() {
    need_blast();
    let (db, fasta) = reference_and_plasmids();
    let dir = db.path().to_owned();
    let server = Server::start(|config| {
        config.blast_databases = Some(dir.clone());
        config.blast_group = 1;
    });
    let put = cgi(
        &server,
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "reference plasmids"),
            ("QUERY", &fasta),
        ],
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let rid = info(&put.text(), "RID").unwrap().to_owned();
    let get = |format: &str| {
        server.get(&format!(
            "/Blast.cgi?CMD=Get&FORMAT_TYPE={format}&RID={rid}"
        ))
    };
    wait_until("the search is ready", || {
        get("Tabular").text().contains("two_parts\t")
    });
    // The databases' directory, as given and as the server resolved it.
    let paths = [
        db.path().display().to_string(),
        db.path().canonicalize().unwrap().display().to_string(),
    ];
    let no_path = |what: &str, text: &str| {
        for path in &paths {
            assert!(
                !text.contains(path.as_str()),
                "{what} names {path}:\n{text}"
            );
        }
    };
    let mut answers = Vec::new();
    for format in ["XML", "Text", "Tabular", "HTML"] {
        let answer = get(format);
        assert_eq!(answer.status, 200, "{format}: {}", answer.text());
        answers.push((format.to_owned(), answer.text()));
    }
    for format in ["JSON2", "XML2"] {
        let answer = get(format);
        assert_eq!(answer.status, 200, "{format}");
        answers.push((format.to_owned(), unzip_text(&answer.body)));
    }
    let id = newest(&server)["id"].as_str().unwrap().to_owned();
    for format in ["xml", "tabular", "tabular-all", "pairwise", "json"] {
        let answer = server.get(&format!(
            "/experiments/{id}/results/hits.asn?format={format}"
        ));
        assert_eq!(answer.status, 200, "?format={format}: {}", answer.text());
        answers.push((format!("?format={format}"), answer.text()));
    }
    for (what, text) in &answers {
        assert!(text.contains("pLab01"), "{what} has no hit:\n{text}");
        no_path(what, text);
    }
    let answer = |what: &str| &answers.iter().find(|(w, _)| w == what).unwrap().1;
    // Names where a program reads them, titles where a person does.
    assert!(
        answer("XML").contains("<BlastOutput_db>reference plasmids</BlastOutput_db>"),
        "{}",
        answer("XML")
    );
    assert!(
        answer("JSON2").contains("\"db\": \"reference plasmids\""),
        "{}",
        answer("JSON2")
    );
    assert!(
        answer("Tabular").contains(
            "# Database: seqspool example nucleotide reference (synthetic); Lab plasmids"
        ),
        "{}",
        answer("Tabular")
    );
    assert!(
        answer("?format=tabular-all").contains("# Database: seqspool example nucleotide"),
        "{}",
        answer("?format=tabular-all")
    );
}
