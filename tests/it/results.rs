//! Results on the experiment's page and their downloads, over plain HTTP:
//! a real `blastn` search of the example configuration shown as a BLAST
//! report (hit table, alignments, overview), kept beside its archive, and
//! downloaded in the formats scripts read; tables, text, pictures and the
//! built-in analysis; a server without BLAST+ saying so; a failed
//! experiment's last words, and a failed search's archive, which is no
//! report. The browser's view of the same is in `browser`.
//!
//! The BLAST tests need NCBI BLAST+ (marked as `common`'s doc says).

use crate::common::blast::{self, need_blast, ready_example_server};
use crate::common::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a BLAST run may take on a busy machine (a search, then two reports).
const BLAST_PATIENCE: Duration = Duration::from_secs(180);

/// The sequence of `id` in `examples/data/reference.fasta`.
fn reference(id: &str) -> String {
    blast::reference("reference.fasta", id).sequence
}

/// A read made of 200 nt of ref04 and then 150 nt of ref06: two hits, on
/// the two halves of the query.
fn chimeric_read() -> String {
    format!(
        "{}{}",
        &reference("ref04")[700..900],
        &reference("ref06")[1100..1250]
    )
}

/// Waits until experiment `id` has finished, and returns its record.
fn wait_finished(server: &Server, id: &str, patience: Duration) -> Value {
    let deadline = Instant::now() + patience;
    loop {
        let record = server.get(&format!("/experiments/{id}")).json();
        if !matches!(record["state"].as_str(), Some("QUEUED" | "RUNNING")) {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "experiment {id} did not finish: {record:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The experiment's page, as a browser asks for it.
fn page(server: &Server, id: &str) -> String {
    let answer = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

/// A blastn experiment of the example configuration on the chimeric read,
/// with every hit down to e-value 10, COMPLETE.
fn blastn_experiment(server: &Server) -> String {
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "chimera"),
            ("query_sequence", &chimeric_read()),
            ("pipeline", "blastn"),
            ("param.evalue", "10"),
            ("param.task", "blastn"),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let record = wait_finished(server, &id, BLAST_PATIENCE);
    assert_eq!(record["state"], "COMPLETE", "{record:#}");
    id
}

/// A blastn experiment of the example configuration (its databases in
/// `tmp`), COMPLETE, and its page.
struct Searched {
    tmp: tempfile::TempDir,
    server: Server,
    id: String,
    html: String,
}

fn searched() -> Searched {
    let tmp = tempfile::tempdir().unwrap();
    let server = ready_example_server(tmp.path());
    let id = blastn_experiment(&server);
    let html = page(&server, &id);
    Searched {
        tmp,
        server,
        id,
        html,
    }
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).map_or(rest.len(), |i| i + end.len())]
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_blastn_search_is_shown_as_a_report_made_once_and_kept_beside_its_archive() {
    need_blast();
    let Searched {
        tmp,
        server,
        id,
        html,
    } = searched();

    // Above the record.
    let results = html.find("data-results").unwrap();
    assert!(results < html.find("id=\"record-heading\"").unwrap());
    let report = between(
        &html,
        "<article class=\"card result\" id=\"result-1\"",
        "</article>",
    );
    assert!(report.contains("data-view=\"blast\""), "{report}");
    // The database by its title, never its path on the server.
    assert!(
        report.contains(
            " against <strong class=\"database\">seqspool example nucleotide reference (synthetic)</strong>"
        ),
        "{report}"
    );
    let db_dir = tmp.path().to_str().unwrap();
    assert!(!html.contains(db_dir), "the page names {db_dir}: {html}");

    // The hit table: ref04 first, with its title, 100.0 % identical over 200 nt; ref06 second.
    let table = between(report, "<table class=\"data hits\"", "</table>");
    let rows: Vec<&str> = table.split("<tr data-hit=").skip(1).collect();
    assert!(rows.len() >= 2, "{table}");
    assert!(rows[0].contains(">ref04</a>"), "{}", rows[0]);
    assert!(
        rows[0].contains("Synthetic construct chitinase (chiS) gene, complete cds"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains(">100.0 %</td>"), "{}", rows[0]);
    assert!(
        rows[0].contains("<td class=\"num\">200</td>"),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains(">ref06</a>"), "{}", rows[1]);

    // The overview: one group per hit, each hit's best bar on its half of the query.
    let svg = between(report, "<svg", "</svg>");
    assert_eq!(svg.matches("<g class=\"hit\"").count(), rows.len(), "{svg}");
    let first = between(svg, "<g class=\"hit\" data-hit=\"1\"", "</g>");
    assert!(first.contains("data-from=\"1\" data-to=\"200\""), "{first}");
    let second = between(svg, "<g class=\"hit\" data-hit=\"2\"", "</g>");
    assert!(
        second.contains("data-from=\"201\" data-to=\"350\""),
        "{second}"
    );

    // The alignments, with coordinates on both sequences.
    let alignment = between(report, "<pre class=\"alignment\"", "</pre>");
    assert!(alignment.contains("Query  1 "), "{alignment}");
    assert!(alignment.contains("Sbjct  701 "), "{alignment}");
    assert!(report.contains("Strand Plus/Plus"));

    // Kept under a hidden name, neither listed nor served, and not made again.
    let kept = server.dir.join(&id).join(".hits.asn.report.json");
    let made = std::fs::metadata(&kept)
        .expect("the report is kept")
        .modified()
        .unwrap();
    let again = page(&server, &id);
    assert_eq!(std::fs::metadata(&kept).unwrap().modified().unwrap(), made);
    assert!(again.contains(">ref04</a>"));
    let record = server.get(&format!("/experiments/{id}")).json();
    assert!(
        record["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["name"].as_str().unwrap().starts_with('.')),
        "{record:#}"
    );
    let hidden = server.get(&format!("/experiments/{id}/files/.hits.asn.report.json"));
    assert_eq!(hidden.status, 404);

    // The table the script wrote beside it, read with BLAST's names.
    let tsv = between(&html, "id=\"result-2\"", "</article>");
    assert!(tsv.contains("BLAST tabular output"), "{tsv}");
    assert!(tsv.contains("title=\"pident\">% identity</th>"), "{tsv}");
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn every_bit_score_on_the_page_reads_as_blasts_own_tabular_output_says() {
    need_blast();
    let Searched {
        tmp,
        server: _server,
        html,
        ..
    } = searched();

    // The same search, run here by blastn itself: each subject's HSPs, best
    // first, with the bit scores of its tabular output.
    let query = tmp.path().join("chimera.fasta");
    std::fs::write(&query, format!(">chimera\n{}\n", chimeric_read())).unwrap();
    let output = Command::new("blastn")
        .arg("-query")
        .arg(&query)
        .arg("-db")
        .arg(tmp.path().join("reference"))
        .args([
            "-task",
            "blastn",
            "-evalue",
            "10",
            "-outfmt",
            "6 sseqid bitscore",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running blastn");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut blast: Vec<(String, Vec<String>)> = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let (subject, bits) = line.split_once('\t').expect("two columns");
        match blast.iter_mut().find(|(s, _)| s == subject) {
            Some((_, scores)) => scores.push(bits.to_owned()),
            None => blast.push((subject.to_owned(), vec![bits.to_owned()])),
        }
    }
    // Scores BLAST truncates where rounding would go up (361.96 is 361).
    assert!(
        blast
            .iter()
            .any(|(_, scores)| scores.contains(&"361".to_owned())),
        "{blast:?}"
    );

    // The page: the hit table's best score of each hit, and each HSP's.
    let report = between(&html, "data-view=\"blast\"", "</article>");
    let table = between(report, "<table class=\"data hits\"", "</table>");
    let mut page: Vec<(String, String)> = Vec::new();
    for row in table.split("<tr data-hit=").skip(1) {
        let subject = between(row, "class=\"hit-id\"", "</a>");
        let subject = &subject[subject.find('>').unwrap() + 1..subject.len() - "</a>".len()];
        let cells: Vec<&str> = row.split("</td>").collect();
        let last = cells[cells.len() - 2];
        page.push((
            subject.to_owned(),
            last[last.rfind('>').unwrap() + 1..].to_owned(),
        ));
    }
    let best: Vec<(String, String)> = blast
        .iter()
        .map(|(subject, scores)| (subject.clone(), scores[0].clone()))
        .collect();
    assert_eq!(page, best, "the hit table's bit scores");
    for (subject, scores) in &blast {
        let hit = between(
            report,
            &format!("<strong class=\"hit-id\">{subject}</strong>"),
            "</details>",
        );
        let shown: Vec<&str> = hit
            .split("Score ")
            .skip(1)
            .map(|rest| rest.split(" bits").next().unwrap())
            .collect();
        assert_eq!(shown, *scores, "the scores of {subject}'s HSPs");
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_downloads_come_as_blast_writes_them() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    let server = ready_example_server(tmp.path());
    let id = blastn_experiment(&server);
    let download = |format: &str| {
        let answer = server.get(&format!(
            "/experiments/{id}/results/hits.asn?format={format}"
        ));
        assert_eq!(answer.status, 200, "{format}: {}", answer.text());
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer
            .header("content-security-policy")
            .is_some_and(|policy| policy.starts_with("sandbox")));
        answer
    };

    let xml = download("xml");
    assert_eq!(
        xml.header("content-disposition"),
        Some(
            format!("attachment; filename=\"{id}-hits.xml\"; filename*=UTF-8''{id}-hits.xml")
                .as_str()
        )
    );
    let text = xml.text();
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.contains("<BlastOutput_program>blastn</BlastOutput_program>"));
    assert!(text.contains("<Hit_id>ref04</Hit_id>"));

    let tabular = download("tabular").text();
    let lines: Vec<Vec<&str>> = tabular.lines().map(|l| l.split('\t').collect()).collect();
    assert!(lines.len() >= 2, "{tabular}");
    for line in &lines {
        assert_eq!(line.len(), 12, "{line:?}");
    }
    assert_eq!(
        (
            lines[0][0],
            lines[0][1],
            lines[0][2],
            lines[0][8],
            lines[0][9]
        ),
        ("chimera", "ref04", "100.000", "701", "900")
    );

    let all = download("tabular-all");
    assert!(all
        .header("content-disposition")
        .unwrap()
        .contains(&format!("{id}-hits-all-columns.tsv")));
    let all = all.text();
    assert!(all.contains("# Fields: query id, query gi,"), "{all}");
    let row = all.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(row.split('\t').count() > 40, "{row}");

    let pairwise = download("pairwise").text();
    assert!(pairwise.contains("Query= chimera"), "{pairwise}");
    assert!(
        pairwise.contains(">ref04 Synthetic construct chitinase"),
        "{pairwise}"
    );
    assert!(pairwise.contains("Sbjct  701"), "{pairwise}");

    let json: Value = serde_json::from_slice(&download("json").body).unwrap();
    assert_eq!(json["BlastOutput2"][0]["report"]["program"], "blastn");

    // The file itself, downloaded; a format only for an archive, and only a known one.
    let archive = server.get(&format!("/experiments/{id}/results/hits.asn"));
    assert_eq!(archive.status, 200);
    assert!(archive.text().starts_with("Blast4-archive"));
    assert!(archive
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    let not_an_archive = server.get(&format!("/experiments/{id}/results/hits.tsv?format=xml"));
    assert_error(
        &not_an_archive,
        404,
        None,
        &["not a BLAST archive"],
        "a table formatted",
    );
    let unknown = server.get(&format!("/experiments/{id}/results/hits.asn?format=html"));
    assert_error(
        &unknown,
        400,
        None,
        &["xml, tabular, tabular-all, pairwise"],
        "an unknown format",
    );
    let missing = server.get(&format!("/experiments/{id}/results/nothing.asn?format=xml"));
    assert_eq!(missing.status, 404);
    let wrong = request(
        server.addr,
        "POST",
        &format!("/experiments/{id}/results/hits.asn"),
        &[],
        b"",
    );
    assert_eq!(wrong.status, 405);
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_tabular_download_gives_a_name_a_spreadsheet_would_run_as_a_formula_as_text() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    let server = ready_example_server(tmp.path());
    for name in ["=cmd|'", "+1+1", "@SUM(1)"] {
        let answer = server.post_form(
            "/experiments",
            &[
                ("query_name", name),
                ("query_sequence", &chimeric_read()),
                ("pipeline", "blastn"),
            ],
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
        let id = answer.json()["id"].as_str().unwrap().to_owned();
        let record = wait_finished(&server, &id, BLAST_PATIENCE);
        assert_eq!(record["state"], "COMPLETE", "{record:#}");
        let download = |format: &str| {
            let answer = server.get(&format!(
                "/experiments/{id}/results/hits.asn?format={format}"
            ));
            assert_eq!(answer.status, 200, "{format}: {}", answer.text());
            answer.text()
        };
        let guarded = format!("'{name}");
        let tabular = download("tabular");
        let first: Vec<&str> = tabular.lines().next().unwrap().split('\t').collect();
        // BLAST wrote the name as it is; the numbers stay numbers.
        assert_eq!(
            (first[0], first[1], first[2]),
            (guarded.as_str(), "ref04", "100.000"),
            "{tabular}"
        );
        for line in tabular.lines() {
            assert!(line.starts_with(&guarded), "{line}");
            assert_eq!(line.split('\t').count(), 12, "{line}");
        }
        let all = download("tabular-all");
        assert!(all.contains(&format!("# Query: {name}\n")), "{all}");
        for row in all.lines().filter(|line| !line.starts_with('#')) {
            assert!(row.starts_with(&guarded), "{row}");
        }
        // The pairwise report is no table: the name stays as BLAST wrote it.
        assert!(download("pairwise").contains(&format!("Query= {name}")));
    }
}

#[test]
fn without_blast_the_page_says_so_and_still_shows_the_rest() {
    // The real binary, with a PATH that holds no BLAST+: the command's shell
    // is /bin/sh, and printf is one of its own.
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("bin");
    std::fs::create_dir(&empty).unwrap();
    let mut command = Binary::command(
        &tmp.path().join("experiments"),
        &[
            "--command",
            "printf 'not really an archive' > hits.asn; printf 'name\\tscore\\nx\\t1\\n' > scores.tsv",
        ],
    );
    command.env("PATH", &empty);
    let server = Binary::spawn(command);
    let id = submit(server.addr, "no-blast", "ACGTACGT");
    let record = wait_for_state(server.addr, &id, "COMPLETE");
    assert_eq!(record["state"], "COMPLETE");
    let html = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    );
    assert_eq!(html.status, 200);
    let html = html.text();
    assert!(
        html.contains(
            "BLAST+ is not installed on this server (blast_formatter is not on its PATH)"
        ),
        "{html}"
    );
    // The table beside it is shown all the same.
    assert!(html.contains("<th scope=\"col\">name</th>"), "{html}");
    let answer = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}/results/hits.asn?format=xml"),
        &[],
        b"",
    );
    assert_error(
        &answer,
        500,
        None,
        &["BLAST+ is not installed"],
        "a download without BLAST+",
    );
}

#[test]
fn tables_text_and_pictures_are_shown_from_the_start_of_their_files() {
    let command = r#"
        printf 'sample,"note, with comma",value\n"A ""quoted"" one","two
lines",1.5\nB,,2\n' > table.csv
        i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done > notes.txt
        printf '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>' > plot.svg
        printf 'a\tb\n' > 'a<b>&"c.tsv'
        yes 'ACGTACGT	12345' | head -n 1000000 > big.tsv
    "#;
    let server = Server::start(|config| config.command = Some(command.into()));
    let id = server.submit("files", "ACGT");
    server.wait_for_state(&id, "COMPLETE");
    let started = Instant::now();
    let html = page(&server, &id);
    let took = started.elapsed();

    // CSV, its quoting kept.
    let csv = between(&html, "<code>table.csv</code>", "</article>");
    assert!(
        csv.contains("<th scope=\"col\">note, with comma</th>"),
        "{csv}"
    );
    assert!(csv.contains("<td>A &quot;quoted&quot; one</td>"), "{csv}");
    assert!(csv.contains("<td>two\nlines</td>"), "{csv}");
    assert!(csv.contains("2 rows."), "{csv}");
    // A large table: its first hundred rows, the rest estimated.
    let big = between(&html, "<code>big.tsv</code>", "</article>");
    assert_eq!(big.matches("<tr>").count(), 101, "a header and 100 rows");
    assert!(big.contains("The first 100 rows of about 1,0"), "{big}");
    assert!(took < Duration::from_secs(10), "the page took {took:?}");
    // Text: its first lines.
    let notes = between(&html, "<code>notes.txt</code>", "</article>");
    assert!(notes.contains("line 0\nline 1\n"), "{notes}");
    assert!(notes.contains("line 199</pre>"), "{notes}");
    assert!(!notes.contains("line 200"), "{notes}");
    // A picture in an <img>, where its script cannot run; the file is served as an attachment.
    assert!(html.contains(&format!(
        "<img src=\"/experiments/{id}/files/plot.svg\" alt=\"plot.svg\" loading=\"lazy\">"
    )));
    let svg = server.get(&format!("/experiments/{id}/files/plot.svg"));
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    // A name from the command, escaped.
    assert!(
        html.contains("<code>a&lt;b&gt;&amp;&quot;c.tsv</code>"),
        "{html}"
    );
    assert!(html.contains("href=\"/experiments/000001/results/a%3Cb%3E%26%22c.tsv\""));
    assert!(!html.contains("a<b>"));
    // The logs are no result.
    assert!(!html.contains("<code>stdout.txt</code> ·"));
}

#[test]
fn the_builtin_analysis_is_summarised_and_logs_it_never_wrote_are_none() {
    let server = Server::start(|_| {});
    let id = server.submit("orf", "ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG");
    server.wait_for_state(&id, "COMPLETE");
    let html = page(&server, &id);
    let analysis = between(&html, "data-view=\"analysis\"", "</article>");
    for text in [
        "<dd>39 nt</dd>",
        "<dd>56.4 %</dd>",
        "12.19 kDa</dd>",
        "<dd>+1 (forward)</dd>",
        "<dd>1–24</dd>",
        ">MAIVMGR</textarea>",
        ">CTATCGGGCACCCTTTCAGCGGCCCATTACAATGGCCAT</textarea>",
    ] {
        assert!(analysis.contains(text), "{text} in {analysis}");
    }
    assert!(!analysis.contains("residue_counts"), "raw JSON: {analysis}");
    assert!(
        html.contains("data-log-note=\"stdout.txt\">none</span>"),
        "{html}"
    );
    assert!(
        html.contains("data-log-note=\"stderr.txt\">none</span>"),
        "{html}"
    );
}

/// Pipelines whose real blastn search fails partway, each leaving a
/// different archive: a piece of a whole one, and an empty one.
const FAILING_BLAST: &str = r#"
[[pipeline]]
name = "cut"
command = 'blastn -query query.fasta -db "$BLAST_DB" -outfmt 11 -out hits.asn || exit 1; head -c 300 hits.asn > part; mv part hits.asn; echo "blastn: killed while writing hits.asn" >&2; exit 137'
env = { BLAST_DB = "DATABASES/reference" }
[[pipeline.result]]
file = "hits.asn"
view = "blast"
title = "BLAST report"

[[pipeline]]
name = "empty"
command = ': > hits.asn; echo "blastn: out of memory" >&2; exit 1'
[[pipeline.result]]
file = "hits.asn"
view = "blast"
title = "BLAST report"
"#;

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_failed_search_says_so_and_offers_no_report_to_download() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    // BLAST itself refuses a search past the query's end, after writing
    // the request into its archive: an archive that formats as nothing.
    let example = ready_example_server(tmp.path());
    let answer = example.post_form(
        "/experiments",
        &[
            ("query_name", "past-the-end"),
            ("query_sequence", &reference("ref02")[..100]),
            ("pipeline", "blastn"),
            ("param.query_from", "500"),
            ("param.query_to", "600"),
        ],
    );
    let refused = answer.json()["id"].as_str().unwrap().to_owned();
    let config = FAILING_BLAST.replace("DATABASES", tmp.path().to_str().unwrap());
    let failing = Server::start(|c| {
        c.apply_file(&config, &tmp.path().join("lab.toml"), None)
            .unwrap()
    });
    let ids: Vec<(&Server, String, &str)> = vec![
        (
            &example,
            refused,
            "BLAST engine error: Empty CBlastQueryVector",
        ),
        (
            &failing,
            failing.submit("cut", &chimeric_read()),
            "killed while writing",
        ),
        (
            &failing,
            {
                let answer = failing.post_form(
                    "/experiments",
                    &[
                        ("query_name", "empty"),
                        ("query_sequence", "ACGT"),
                        ("pipeline", "empty"),
                    ],
                );
                answer.json()["id"].as_str().unwrap().to_owned()
            },
            "out of memory",
        ),
    ];
    for (server, id, said) in &ids {
        let record = wait_finished(server, id, BLAST_PATIENCE);
        assert_eq!(record["state"], "EXECUTOR_ERROR", "{record:#}");
        let html = page(server, id);
        // The status says how it failed, in BLAST's words.
        let status = between(&html, "<div class=\"card status-card\">", "</div>");
        assert!(status.contains("exited with code"), "{id}: {status}");
        let failure = between(&html, "<div class=\"failure-log\" data-failure>", "</div>");
        assert!(failure.contains(said), "{id}: {failure}");
        // The report's card says why there is none, and offers nothing to download.
        let card = between(&html, "<article class=\"card result\"", "</article>");
        assert!(
            card.contains("No report: the search failed (EXECUTOR_ERROR: "),
            "{id}: {card}"
        );
        assert!(!card.contains("does not read"), "{id}: {card}");
        assert!(!card.contains("?format="), "{id}: {card}");
        assert!(!card.contains(">Download</a>"), "{id}: {card}");
        // Every download is refused, saying so, never 200 with nothing in it.
        for format in ["xml", "tabular", "tabular-all", "pairwise", "json"] {
            let answer = server.get(&format!(
                "/experiments/{id}/results/hits.asn?format={format}"
            ));
            assert_error(
                &answer,
                409,
                None,
                &[
                    &format!("experiment {id}: the search failed (EXECUTOR_ERROR: "),
                    "holds no report to download",
                ],
                &format!("{id} as {format}"),
            );
        }
    }
    // The empty archive is no download as it is either; the piece of one is
    // still there, as it was left, for whoever wants to look at it.
    let (_, empty, _) = &ids[2];
    assert_eq!(
        failing
            .get(&format!("/experiments/{empty}/results/hits.asn"))
            .status,
        409
    );
    let (_, cut, _) = &ids[1];
    let piece = failing.get(&format!("/experiments/{cut}/results/hits.asn"));
    assert_eq!(piece.status, 200);
    assert_eq!(piece.body.len(), 300);
}

#[test]
fn a_failed_experiment_shows_the_last_lines_of_its_stderr() {
    let server = Server::start(|config| {
        config.command = Some(
            "i=0; while [ $i -lt 30 ]; do echo \"progress $i\" >&2; i=$((i+1)); done; \
             echo 'BLAST Database error: No alias or index file found for nucleotide database [nt]' >&2; exit 2"
                .into(),
        )
    });
    let id = server.submit("doomed", "ACGT");
    server.wait_for_state(&id, "EXECUTOR_ERROR");
    let html = page(&server, &id);
    let status = between(
        &html,
        "<div class=\"card status-card\">",
        "<div class=\"actions\">",
    );
    let failure = between(status, "<div class=\"failure-log\" data-failure>", "</div>");
    assert!(
        failure.contains("The last lines of <code>stderr.txt</code>"),
        "{failure}"
    );
    assert!(
        failure.contains("progress 29\nBLAST Database error: No alias or index file found for nucleotide database [nt]</pre>"),
        "{failure}"
    );
    assert!(
        !failure.contains("progress 18\n"),
        "only the last lines: {failure}"
    );
    assert!(status.contains("exited with code 2"), "{status}");

    // A running experiment's page leaves the place empty, for the script to fill.
    let running = Server::start(|config| config.command = Some("sleep 30".into()));
    let id = running.submit("slow", "ACGT");
    running.wait_for_state(&id, "RUNNING");
    let html = page(&running, &id);
    assert!(
        html.contains("<div class=\"failure-log\" data-failure hidden></div>"),
        "{html}"
    );
    assert!(html.contains("data-results data-waiting hidden"), "{html}");
    assert!(html.contains("src=\"/ui/results.js\""));
    let script = running.get("/ui/results.js");
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
}

/// The records of a FASTA text: each defline (without `>`) and its sequence on one line.
fn fasta_records(text: &str) -> Vec<(String, String)> {
    text.split('>')
        .skip(1)
        .map(|record| {
            let (defline, body) = record.split_once('\n').expect("a defline");
            (defline.to_owned(), body.split_whitespace().collect())
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn hits_download_as_fasta_all_or_chosen_whole_from_the_database_or_as_aligned() {
    need_blast();
    let Searched {
        tmp: _tmp,
        server,
        id,
        html,
    } = searched();
    let get = |query: &str| server.get(&format!("/experiments/{id}/results/hits.asn?{query}"));
    let fasta = |query: &str| {
        let answer = get(query);
        assert_eq!(answer.status, 200, "{query}: {}", answer.text());
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        answer
    };

    // Every hit, whole, as the database holds it, in the report's order.
    let all = fasta("format=fasta");
    assert!(all
        .header("content-disposition")
        .unwrap()
        .contains(&format!("filename=\"{id}-hits-sequences.fasta\"")));
    let records = fasta_records(&all.text());
    assert!(records.len() >= 2, "{records:?}");
    assert!(
        records[0]
            .0
            .starts_with("ref04 Synthetic construct chitinase"),
        "{records:?}"
    );
    assert_eq!(records[0].1, reference("ref04"));
    let ref06 = records
        .iter()
        .find(|(defline, _)| defline.starts_with("ref06 "))
        .expect("ref06");
    assert_eq!(ref06.1, reference("ref06"));

    // Chosen, by commas or repeated (as a form's checkboxes send them), each once.
    for query in ["format=fasta&hits=ref06", "format=fasta&hits=ref06,ref06"] {
        let records = fasta_records(&fasta(query).text());
        assert_eq!(records.len(), 1, "{query}: {records:?}");
        assert_eq!(records[0].1, reference("ref06"), "{query}");
    }
    let both = fasta_records(&fasta("hits=ref06&format=fasta&hits=ref04").text());
    let names: Vec<&str> = both
        .iter()
        .map(|(d, _)| d.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["ref04", "ref06"], "the report's order");

    // The aligned parts: each HSP's query and hit segments, as aligned.
    let aligned = fasta("format=fasta-aligned&hits=ref04");
    assert!(aligned
        .header("content-disposition")
        .unwrap()
        .contains(&format!("filename=\"{id}-hits-aligned.fasta\"")));
    let records = fasta_records(&aligned.text());
    // ref04's two HSPs (the second a short one on the other strand), each a pair.
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(
        records[3].0.starts_with("ref04:753-742 HSP 2 with chimera"),
        "{records:?}"
    );
    assert!(
        records[0]
            .0
            .starts_with("chimera:1-200 query, aligned with ref04:701-900"),
        "{records:?}"
    );
    assert!(
        records[1]
            .0
            .starts_with("ref04:701-900 HSP 1 with chimera, E = "),
        "{records:?}"
    );
    assert_eq!(records[0].1, reference("ref04")[700..900]);
    assert_eq!(records[1].1, reference("ref04")[700..900]);
    let every = fasta_records(&fasta("format=fasta-aligned").text());
    assert!(
        every.len() >= 4 && every.len().is_multiple_of(2),
        "{every:?}"
    );

    // Hits the search did not find are named; hits= is for these formats only.
    let unknown = get("format=fasta&hits=ref06,nope,sp%7CX%7CY");
    assert_error(
        &unknown,
        422,
        Some("hits"),
        &["nope, sp|X|Y are none of this search's hits"],
        "unknown hits",
    );
    let unknown = get("format=fasta-aligned&hits=nope");
    assert_error(
        &unknown,
        422,
        Some("hits"),
        &["nope is none of this search's hits"],
        "an unknown hit",
    );
    let misplaced = get("format=xml&hits=ref04");
    assert_error(
        &misplaced,
        400,
        None,
        &["hits= chooses hits for format=fasta"],
        "hits with xml",
    );
    let unknown_format = get("format=fastq");
    assert_error(
        &unknown_format,
        400,
        None,
        &["fasta, fasta-aligned"],
        "an unknown format",
    );

    // The page: a form GET to the same downloads, a checkbox on each hit, "all"
    // for the script to show, and the overview as an SVG file.
    assert!(html.contains(&format!(
        "<form class=\"take\" id=\"result-1-take\" method=\"get\" action=\"/experiments/{id}/results/hits.asn\">"
    )), "{html}");
    assert!(
        html.contains("<button class=\"button\" type=\"submit\" name=\"format\" value=\"fasta\">"),
        "{html}"
    );
    assert!(
        html.contains(
            "<button class=\"button\" type=\"submit\" name=\"format\" value=\"fasta-aligned\">"
        ),
        "{html}"
    );
    assert!(html.contains(
        "<input type=\"checkbox\" name=\"hits\" value=\"ref04\" form=\"result-1-take\" aria-label=\"Choose ref04\">"
    ), "{html}");
    assert!(html.contains("data-pick-all hidden"), "{html}");
    let link = between(&html, "<p class=\"overview-download\"><a href=\"", "</a>");
    assert!(
        link.contains("href=\"data:image/svg+xml;charset=utf-8,%3C?xml"),
        "{link}"
    );
    assert!(
        link.contains(&format!("download=\"{id}-q1-overview.svg\"")),
        "{link}"
    );
    let encoded = between(link, "charset=utf-8,", "\"");
    let svg = percent_encoding::percent_decode_str(encoded.trim_end_matches('"'))
        .decode_utf8()
        .unwrap()
        .replace("&amp;", "&");
    assert!(svg.contains("<svg class=\"overview-svg\""), "{svg}");
    assert!(
        svg.contains("xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
}
