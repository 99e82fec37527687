//! BLAST built in: a server started with `--blast-databases DIR` offers the
//! databases under it through the BLAST programs they allow, with no
//! pipeline written by the lab; a plate searched in one grouped run gives
//! every well the report, downloads and RID a search of its read alone
//! gives.
//!
//! It needs NCBI BLAST+, marked as `common`'s doc says.

use crate::common::blast::*;
use crate::common::*;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The header line of the built-in programs' `hits.tsv`.
const HEADER: &str =
    "qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\tstitle";

fn submit(server: &Server, fields: &[(&str, &str)]) -> String {
    let answer = server.post_form("/experiments", fields);
    assert_eq!(answer.status, 202, "{fields:?}: {}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

/// The hits of a `hits.tsv`, its header checked.
fn rows(tsv: &str) -> Vec<Vec<String>> {
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some(HEADER), "{tsv}");
    lines
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_databases_found_are_offered_by_every_program_they_allow() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    make_databases(&db.join("lab"));
    let server = lab.server(|config| {
        config.blast_databases = Some(db.clone());
        config.blast_group = 1;
    });

    let listed = server.get("/pipelines").json();
    let pipelines = listed["pipelines"].as_array().unwrap();
    let names: Vec<&str> = pipelines
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // BLAST first, the server's default; the built-in analysis stays.
    assert_eq!(
        names,
        ["blastn", "blastp", "blastx", "tblastn", "tblastx", "analysis"]
    );
    let param = |pipeline: &str, name: &str| -> Value {
        let pipeline = pipelines.iter().find(|p| p["name"] == pipeline).unwrap();
        pipeline["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{pipeline:#}"))
            .clone()
    };
    let database = param("blastn", "database");
    assert_eq!(
        database["options"],
        serde_json::json!(["lab/reference", "reference"])
    );
    assert_eq!(
        database["titles"]["reference"],
        "seqspool example nucleotide reference (synthetic)"
    );
    assert_eq!(
        param("blastx", "database")["options"],
        serde_json::json!(["lab/reference_proteins", "reference_proteins"])
    );
    assert_eq!(param("blastn", "task")["default"], "megablast");
    assert_eq!(param("blastp", "matrix")["default"], "BLOSUM62");
    assert_eq!(param("blastp", "evalue")["above"], 0.0);
    // The form offers each database with its title.
    let home = server.get("/").text();
    assert!(
        home.contains(
            "seqspool example nucleotide reference (synthetic) <span class=\"option-name\">(lab/reference)</span>"
        ),
        "{home}"
    );
    wait_checks_pass(&server);

    // Each program finds what each query was cut from.
    let ref04 = reference("reference.fasta", "ref04");
    let ref03 = reference("reference.fasta", "ref03");
    let prot02 = reference("reference_proteins.fasta", "prot02");
    let searches = [
        (
            "blastn",
            "reference",
            "my_read",
            ref04.sequence[700..1000].to_owned(),
            "ref04",
        ),
        (
            "blastn",
            "lab/reference",
            "again",
            ref04.sequence[700..1000].to_owned(),
            "ref04",
        ),
        (
            "blastp",
            "reference_proteins",
            "gfp",
            prot02.sequence[..64].to_owned(),
            "prot02",
        ),
        (
            "blastx",
            "reference_proteins",
            "orf",
            ref03.sequence[300..1020].to_owned(),
            "prot02",
        ),
        (
            "tblastn",
            "reference",
            "gfp_back",
            prot02.sequence[..64].to_owned(),
            "ref03",
        ),
        (
            "tblastx",
            "reference",
            "orf_tx",
            ref03.sequence[300..600].to_owned(),
            "ref03",
        ),
    ];
    let ids: Vec<String> = searches
        .iter()
        .map(|(program, db, name, sequence, _)| {
            submit(
                &server,
                &[
                    ("pipeline", program),
                    ("query_name", name),
                    ("query_sequence", sequence),
                    ("param.database", db),
                ],
            )
        })
        .collect();
    for (id, (program, _, name, _, subject)) in ids.iter().zip(&searches) {
        let record = wait_complete(&server, id);
        assert!(
            record["command"]
                .as_str()
                .unwrap()
                .ends_with(&format!(" __blast {program}")),
            "{record:#}"
        );
        let hits = rows(&file(&server, id, "hits.tsv"));
        assert_eq!(hits[0][0], *name, "{program}: {hits:?}");
        assert_eq!(hits[0][1], *subject, "{program}: {hits:?}");
        assert_eq!(hits[0][2], "100.000", "{program}: {hits:?}");
        // Every format is made from its archive.
        let xml = server.get(&format!("/experiments/{id}/results/hits.asn?format=xml"));
        assert_eq!(xml.status, 200, "{}", xml.text());
        assert!(xml.text().contains(&format!(
            "<BlastOutput_program>{program}</BlastOutput_program>"
        )));
        let stdout = file(&server, id, "stdout.txt");
        assert!(stdout.contains("-num_threads"), "{stdout}");
    }

    // What a program does not take, or a database not there, is refused before anything is written.
    let before = server.experiment_dirs().len();
    for (fields, field) in [
        (
            vec![
                ("pipeline", "blastp"),
                ("query_sequence", "ACGTACGTACGTACGTAGCTAGCTAGCATCGATCGA"),
            ],
            "query_sequence",
        ),
        (
            vec![
                ("pipeline", "blastn"),
                ("query_sequence", "ACGTACGTAC"),
                ("param.database", "nt"),
            ],
            "param.database",
        ),
        (
            vec![
                ("pipeline", "blastn"),
                ("query_sequence", "ACGTACGTAC"),
                ("param.database", "reference_proteins"),
            ],
            "param.database",
        ),
        (
            vec![
                ("pipeline", "blastn"),
                ("query_sequence", "ACGTACGTAC"),
                ("param.evalue", "0"),
            ],
            "param.evalue",
        ),
    ] {
        let mut fields = fields;
        fields.push(("query_name", "bad"));
        let answer = server.post_form("/experiments", &fields);
        assert_eq!(answer.status, 422, "{fields:?}: {}", answer.text());
        assert_eq!(answer.json()["field"], field, "{}", answer.text());
    }
    assert_eq!(server.experiment_dirs().len(), before);

    // Without an [ncbi] section, NCBI's programs are the built-in ones, on the databases found.
    let fasta = format!(">cgi_read\n{}\n", &ref04.sequence[100..400]);
    let put = server.post_form(
        "/Blast.cgi",
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "lab/reference"),
            ("QUERY", &fasta),
            ("EXPECT", "1e-10"),
        ],
    );
    let page = put.text();
    assert!(page.contains("RID = "), "{page}");
    let rid = page.split("RID = ").nth(1).unwrap()[..11].to_owned();
    let mut tabular = String::new();
    wait_until("the NCBI search is ready", || {
        tabular = server
            .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={rid}"))
            .text();
        tabular.contains("cgi_read\tref04\t100.000\t300")
    });
    let refused = server.post_form(
        "/Blast.cgi",
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", &fasta),
        ],
    );
    assert!(
        refused.text().contains(
            "DATABASE nt is not offered for blastn; it searches lab/reference, reference"
        ),
        "{}",
        refused.text()
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_pipeline_the_lab_declares_wins_over_the_built_in_program_of_its_name() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    lab.config(
        r#"
        [[pipeline]]
        name = "blastn"
        title = "The lab's own blastn"
        command = "echo own > own.txt"
        [[pipeline.result]]
        file = "own.txt"
        "#,
    );
    let server = lab.server(|config| config.blast_databases = Some(db.clone()));
    let listed = server.get("/pipelines").json();
    let pipelines = listed["pipelines"].as_array().unwrap();
    let names: Vec<&str> = pipelines
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["blastn", "blastp", "blastx", "tblastn", "tblastx"]);
    assert_eq!(pipelines[0]["title"], "The lab's own blastn");
    assert_eq!(pipelines[0]["command"], "echo own > own.txt");
    let id = submit(
        &server,
        &[
            ("pipeline", "blastn"),
            ("query_name", "mine"),
            ("query_sequence", "ACGTACGTAGCTAGCTAGCTAGCTAGCATCGAT"),
        ],
    );
    wait_complete(&server, &id);
    assert_eq!(file(&server, &id, "own.txt"), "own\n");
}

#[test]
fn a_databases_directory_that_is_not_there_stops_the_start_naming_it() {
    let lab = Lab::new();
    let missing = lab.path("no-such-dir");
    let out = seqspool()
        .arg("--experiments")
        .arg(lab.experiments())
        .arg("--bind")
        .arg("127.0.0.1:0")
        .arg("--blast-databases")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--blast-databases") && said.contains("no-such-dir"),
        "{said}"
    );
    for bad in ["0", "many", "1001"] {
        let out = seqspool().args(["--blast-group", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

/// A synthetic nucleotide database in `dir`, made with `makeblastdb
/// -parse_seqids` from `contigs` random contigs of `length` bases (seeded,
/// so every run makes the same); returns the contigs.
pub fn synthetic_database(dir: &Path, contigs: usize, length: usize) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let mut seed: u64 = 0x5eed_2021;
    let mut next = move || {
        // xorshift64*: enough randomness for sequences nothing matches by chance.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut sequences = Vec::new();
    let mut fasta = String::new();
    for n in 1..=contigs {
        let sequence: String = (0..length)
            .map(|_| b"ACGT"[(next() >> 33) as usize % 4] as char)
            .collect();
        fasta.push_str(&format!(">contig{n:04} synthetic contig {n}\n{sequence}\n"));
        sequences.push(sequence);
    }
    make_database(dir, "contigs", "synthetic contigs", &fasta);
    std::fs::remove_file(dir.join("contigs.fasta")).unwrap();
    sequences
}

/// A plate of 96 reads named `PLATE_A01` to `PLATE_H12`, cut from `contigs`
/// with lengths from 60 to 500 and a few changed letters; every tenth a
/// random read that matches nothing.
pub fn plate(prefix: &str, contigs: &[String]) -> Vec<(String, String)> {
    let mut seed: u64 = 96;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    (0..96)
        .map(|n| {
            let well = format!(
                "{prefix}_{}{:02}",
                (b'A' + (n / 12) as u8) as char,
                n % 12 + 1
            );
            let length = 60 + next() % 441;
            let read: String = if n % 10 == 9 {
                (0..length).map(|_| b"ACGT"[next() % 4] as char).collect()
            } else {
                let contig = &contigs[next() % contigs.len()];
                let start = next() % (contig.len() - length);
                contig[start..start + length]
                    .bytes()
                    .map(|b| if next() % 50 == 0 { b"ACGT"[next() % 4] } else { b } as char)
                    .collect()
            };
            (well, read)
        })
        .collect()
}

/// The records of a batch, by query name.
fn batch_records(server: &Server, fasta: &str) -> BTreeMap<String, String> {
    let answer = post(
        server,
        "/experiments?pipeline=blastn&param.database=contigs",
        "text/x-fasta",
        fasta.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["query_name"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// RID by experiment id, as `CMD=DisplayRIDs` lists them.
fn rids(server: &Server) -> BTreeMap<String, String> {
    let page = server.get("/Blast.cgi?CMD=DisplayRIDs").text();
    page.split("<a href=\"/experiments/")
        .skip(1)
        .map(|part| {
            let id = part[..6].to_owned();
            let rid = part.split_once("\">").unwrap().1[..11].to_owned();
            (id, rid)
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_plate_searched_in_one_run_gives_every_well_what_its_read_alone_gets() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    let contigs = synthetic_database(&db, 40, 20_000);
    let wells = plate("P1", &contigs);
    let fasta: String = wells
        .iter()
        .map(|(name, read)| format!(">{name} read of {name}\n{read}\n"))
        .collect();

    let grouped = Server::start(|config| config.blast_databases = Some(db.clone()));
    let alone = Server::start(|config| {
        config.blast_databases = Some(db.clone());
        config.blast_group = 1;
    });
    // Paused until the whole plate is in, so that it forms one group.
    grouped.post_form("/queue/pause", &[]);
    let grouped_ids = batch_records(&grouped, &fasta);
    grouped.post_form("/queue/resume", &[]);
    let alone_ids = batch_records(&alone, &fasta);
    assert_eq!(grouped_ids.len(), 96);
    let grouped_rids = rids(&grouped);
    let alone_rids = rids(&alone);

    let mut with_hits = 0;
    for (name, _) in &wells {
        let (id, solo) = (&grouped_ids[name], &alone_ids[name]);
        let record = wait_complete(&grouped, id);
        let solo_record = wait_complete(&alone, solo);
        // Served by the group, which every well names; alone, none.
        assert_eq!(record["group"]["size"], 96, "{record:#}");
        assert!(solo_record.get("group").is_none(), "{solo_record:#}");
        assert_eq!(record["query_name"], *name);

        // The same hits, every column.
        let hits = file(&grouped, id, "hits.tsv");
        assert_eq!(hits, file(&alone, solo, "hits.tsv"), "{name}");
        let rows = rows(&hits);
        assert!(rows.iter().all(|row| row[0] == *name), "{name}: {hits}");
        if !rows.is_empty() {
            with_hits += 1;
        }
        // Every download names its query alone, with the same hits and
        // scores; BLAST's statistics footer is its batch's.
        for format in ["tabular", "xml", "pairwise", "json"] {
            let path = |id: &str| format!("/experiments/{id}/results/hits.asn?format={format}");
            let own = grouped.get(&path(id)).text();
            let solo_text = alone.get(&path(solo)).text();
            assert_eq!(
                statistics_left_out(&own),
                statistics_left_out(&solo_text),
                "{name} {format}"
            );
            // The tabular format has no titles: its first column is checked above.
            if format != "tabular" {
                assert!(
                    own.contains(&format!("read of {name}")),
                    "{name} {format}: {own}"
                );
            }
            for (other, _) in wells.iter().filter(|(other, _)| other != name) {
                assert!(
                    !own.contains(&format!("read of {other}")),
                    "{name} {format} names {other}"
                );
            }
        }
        // Its page's report is its own.
        let page = grouped.get(&format!("/experiments/{id}")).text();
        assert!(page.contains(&format!("read of {name}")), "{name}: {page}");
        for (other, _) in wells.iter().filter(|(other, _)| other != name) {
            assert!(
                !page.contains(&format!("read of {other}")),
                "{name}'s page names {other}"
            );
        }
        // And so is NCBI's answer for its RID.
        let rid = &grouped_rids[id.as_str()];
        let own = grouped
            .get(&format!("/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={rid}"))
            .text();
        let solo_rid = &alone_rids[solo.as_str()];
        let solo_text = alone
            .get(&format!(
                "/Blast.cgi?CMD=Get&FORMAT_TYPE=Tabular&RID={solo_rid}"
            ))
            .text();
        let hits_of = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.contains('\t') && !l.starts_with(['\t', '#']))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(hits_of(&own), hits_of(&solo_text), "{name} RID {rid}");
        assert!(
            hits_of(&own)
                .iter()
                .all(|l| l.starts_with(&format!("{name}\t"))),
            "{own}"
        );
    }
    assert!(
        (80..=90).contains(&with_hits),
        "{with_hits} wells with hits"
    );
}

/// A report without BLAST's statistics, which it keeps once per batch of queries.
fn statistics_left_out(text: &str) -> String {
    text.lines()
        .filter(|line| {
            ![
                "Effective search space",
                "Statistics_hsp-len",
                "Statistics_eff-space",
                "\"hsp_len\"",
                "\"eff_space\"",
            ]
            .iter()
            .any(|said| line.contains(said))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_query_the_program_does_not_take_is_told_the_program_that_would() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    let server = lab.server(|config| config.blast_databases = Some(db.clone()));
    let dna = "ACGTACGTACGTACGTAGCTAGCTAGCATCGATCGA";
    let protein = "MSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTT";
    let before = server.experiment_dirs().len();
    for (program, query, fits) in [
        (
            "blastp",
            dna,
            "blastx searches a DNA query against protein databases",
        ),
        (
            "tblastn",
            dna,
            "blastn searches a DNA query against nucleotide databases",
        ),
        (
            "blastn",
            protein,
            "tblastn searches a protein query against nucleotide databases",
        ),
        (
            "blastx",
            protein,
            "blastp searches a protein query against protein databases",
        ),
        (
            "tblastx",
            protein,
            "tblastn searches a protein query against nucleotide databases",
        ),
    ] {
        let answer = server.post_form(
            "/experiments",
            &[
                ("pipeline", program),
                ("query_name", "q"),
                ("query_sequence", query),
            ],
        );
        assert_eq!(answer.status, 422, "{program}: {}", answer.text());
        let json = answer.json();
        assert_eq!(json["field"], "query_sequence", "{json:#}");
        let message = json.to_string();
        assert!(message.contains(fits), "{program}: {message}");
    }
    // With the databases named, the program that searches those with such a query.
    for (pipeline, query, field, fits) in [
        (None, protein, "query_sequence", "blastp would take it"),
        (
            Some("blastn"),
            dna,
            "param.database",
            "blastx would take it",
        ),
    ] {
        let mut fields = vec![
            ("query_name", "q"),
            ("query_sequence", query),
            ("param.database", "reference_proteins"),
        ];
        fields.extend(pipeline.map(|name| ("pipeline", name)));
        let answer = server.post_form("/experiments", &fields);
        assert_eq!(answer.status, 422, "{fields:?}: {}", answer.text());
        let json = answer.json();
        assert_eq!(json["field"], field, "{json:#}");
        assert!(json.to_string().contains(fits), "{fields:?}: {json:#}");
    }
    assert_eq!(server.experiment_dirs().len(), before, "nothing is written");
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn several_databases_are_searched_at_once_each_named_in_the_report() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    let ref01 = reference("reference.fasta", "ref01");
    let ref04 = reference("reference.fasta", "ref04");
    // The lab's own database holds a part of ref01 under a name of its own.
    make_database(
        &db,
        "plasmids",
        "Lab plasmids",
        &format!(">pLab01 a lab plasmid\n{}\n", &ref01.sequence[..600]),
    );
    let server = lab.server(|config| {
        config.blast_databases = Some(db.clone());
        config.blast_group = 1;
    });
    let database = database_param(&server, "blastn");
    assert_eq!(database["multiple"], true, "{database:#}");
    assert_eq!(
        database["options"],
        serde_json::json!(["plasmids", "reference"])
    );
    wait_checks_pass(&server);

    // One read made of a part of ref04 (only in reference) and of ref01 (in both).
    let read = format!(
        "{}{}",
        &ref04.sequence[700..1000],
        &ref01.sequence[100..400]
    );
    let id = submit(
        &server,
        &[
            ("pipeline", "blastn"),
            ("query_name", "two_parts"),
            ("query_sequence", &read),
            ("param.database", "reference, plasmids"),
        ],
    );
    let record = wait_complete(&server, &id);
    assert_eq!(
        record["params"]["database"], "reference,plasmids",
        "{record:#}"
    );
    let hits = rows(&file(&server, &id, "hits.tsv"));
    let subjects: Vec<&str> = hits.iter().map(|row| row[1].as_str()).collect();
    for subject in ["ref04", "ref01", "pLab01"] {
        assert!(subjects.contains(&subject), "{subject}: {hits:?}");
    }
    // The command gave BLAST one -db of both paths, and the report names both by title.
    let stdout = file(&server, &id, "stdout.txt");
    let plasmids = db.join("plasmids").display().to_string();
    let reference_path = db.join("reference").display().to_string();
    assert!(
        stdout.contains(&format!("-db {reference_path} {plasmids} ")),
        "{stdout}"
    );
    let page = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    )
    .text();
    assert!(page.contains("Lab plasmids"), "{page}");
    assert!(
        page.contains("seqspool example nucleotide reference (synthetic)"),
        "{page}"
    );
    let note = page.split("<p class=\"result-note\">").nth(1).unwrap();
    let note = &note[..note.find("</p>").unwrap()];
    assert!(
        note.contains(
            "<strong class=\"database\">seqspool example nucleotide reference (synthetic)</strong> \
             and <strong class=\"database\">Lab plasmids</strong>"
        ),
        "the report names each database by its title, never a path: {note}"
    );

    // Each hit says which database holds it: by NCBI's ids too, and both
    // when both hold it (the search does not say which it found).
    make_database(
        &db,
        "refseq",
        "Lab RefSeq",
        &format!(
            ">ref|NM_000001.1| a RefSeq-style copy of part of ref04\n{}\n>ref01 a second copy of ref01\n{}\n",
            &ref04.sequence[600..1100],
            &ref01.sequence[..600]
        ),
    );
    wait_until("the new database is offered", || {
        server.get("/").text().contains("Lab RefSeq")
    });
    let id = submit(
        &server,
        &[
            ("pipeline", "blastn"),
            ("query_name", "two_parts"),
            ("query_sequence", &read),
            ("param.database", "reference,refseq"),
        ],
    );
    wait_complete(&server, &id);
    let page = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    )
    .text();
    let table = page.split("<table class=\"data hits\"").nth(1).unwrap();
    let table = &table[..table.find("</table>").unwrap()];
    let mut sources: Vec<(String, String)> = table
        .split("<tr data-hit=")
        .skip(1)
        .map(|row| {
            let between = |start: &str, end: &str| {
                let from = row
                    .find(start)
                    .map(|at| at + start.len())
                    .unwrap_or(row.len());
                row[from..][..row[from..].find(end).unwrap_or(0)].to_owned()
            };
            (
                between("value=\"", "\""),
                between("<span class=\"hit-source\">", "</span>"),
            )
        })
        .collect();
    sources.sort();
    sources.dedup();
    let reference_title = "seqspool example nucleotide reference (synthetic)";
    assert_eq!(
        sources,
        [
            (
                "ref01".into(),
                format!("in {reference_title} or Lab RefSeq")
            ),
            ("ref04".into(), format!("in {reference_title}")),
            ("ref|NM_000001.1|".into(), "in Lab RefSeq".into()),
        ],
        "{table}"
    );

    // Each name is checked against the databases of the program's kind.
    let before = server.experiment_dirs().len();
    for database in [
        "reference,reference_proteins",
        "reference,nt",
        ",",
        "plasmids,../x",
    ] {
        let answer = server.post_form(
            "/experiments",
            &[
                ("pipeline", "blastn"),
                ("query_name", "bad"),
                ("query_sequence", "ACGTACGTACGTACGTACGT"),
                ("param.database", database),
            ],
        );
        assert_eq!(answer.status, 422, "{database}: {}", answer.text());
        assert_eq!(
            answer.json()["field"],
            "param.database",
            "{}",
            answer.text()
        );
    }
    assert_eq!(server.experiment_dirs().len(), before);
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_database_field_repeated_chooses_several_as_checkboxes_send_them() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    make_database(
        &db,
        "plasmids",
        "Lab plasmids",
        ">pLab01\nACGTACGTAGCTAGCTAGCATCGATCGAT\n",
    );
    let server = lab.server(|config| config.blast_databases = Some(db.clone()));
    let chosen = |answer: Response| {
        assert_eq!(answer.status, 202, "{}", answer.text());
        let id = answer.json()["id"].as_str().unwrap().to_owned();
        server.get(&format!("/experiments/{id}")).json()["params"]["database"].clone()
    };
    let query = [
        ("pipeline", "blastn"),
        ("query_name", "q"),
        ("query_sequence", "ACGTACGTACGTACGTAGCTAGCTAGCATCGATCGA"),
    ];
    // The page offers each program's databases as boxes, titled and sized,
    // nucleotide and protein apart, the default ticked.
    let page = request(server.addr, "GET", "/", &[("Accept", BROWSER_ACCEPT)], b"").text();
    let fieldset = page
        .split("<fieldset class=\"field choices\" id=\"param.blastn.database\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no boxes for blastn's databases: {page}"));
    let fieldset = &fieldset[..fieldset.find("</fieldset>").unwrap()];
    assert!(
        fieldset.contains("<legend>Nucleotide databases</legend>"),
        "{fieldset}"
    );
    assert!(
        fieldset.contains(
            r#"<input type="checkbox" id="param.blastn.database.plasmids" name="param.blastn.database" value="plasmids">"#
        ),
        "{fieldset}"
    );
    assert!(
        fieldset.contains(
            r#"<label for="param.blastn.database.plasmids">Lab plasmids <span class="option-name">(plasmids)</span> <span class="option-size">1 sequence, 29 bases</span></label>"#
        ),
        "{fieldset}"
    );
    assert!(
        fieldset.contains(r#"value="reference" checked>"#),
        "the one made first ticked: {fieldset}"
    );
    assert!(!fieldset.contains("reference_proteins"), "{fieldset}");
    assert!(page.contains(r#"<fieldset class="field choices" id="param.blastp.database""#));
    assert!(page.contains("<legend>Protein databases</legend>"));

    // A form's checkboxes, named as the page names them or as a script would.
    for name in ["param.database", "param.blastn.database"] {
        let mut fields = query.to_vec();
        fields.extend([(name, "reference"), (name, "plasmids")]);
        assert_eq!(
            chosen(server.post_form("/experiments", &fields)),
            "reference,plasmids"
        );
    }
    // A multipart form, as a browser sends a form with a file picker.
    let mut body = String::new();
    for (name, value) in query.iter().chain(&[
        ("param.database", "plasmids"),
        ("param.database", "reference"),
    ]) {
        body.push_str(&format!(
            "--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--b--\r\n");
    let answer = post(
        &server,
        "/experiments",
        "multipart/form-data; boundary=b",
        body.as_bytes(),
    );
    assert_eq!(chosen(answer), "plasmids,reference");
    // JSON takes a list.
    let answer = server.post_json(
        "/experiments",
        &serde_json::json!({
            "pipeline": "blastn", "query_name": "q", "query_sequence": query[2].1,
            "params": {"database": ["reference", "plasmids"]},
        }),
    );
    assert_eq!(chosen(answer), "reference,plasmids");
    // The page sends an empty field before its boxes: with one ticked, that one.
    let mut fields = query.to_vec();
    fields.extend([
        ("param.blastn.database", ""),
        ("param.blastn.database", "plasmids"),
    ]);
    assert_eq!(
        chosen(server.post_form("/experiments", &fields)),
        "plasmids"
    );

    // Every box unticked is refused, not read as the default, and nothing is written.
    let before = server.experiment_dirs().len();
    assert!(page.contains(r#"<input type="hidden" name="param.blastn.database" value="">"#));
    let mut fields = query.to_vec();
    fields.push(("param.blastn.database", ""));
    let answer = server.post_form("/experiments", &fields);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.json()["field"], "param.database");
    assert!(
        answer
            .text()
            .contains("none chosen: choose at least one of plasmids, reference"),
        "{}",
        answer.text()
    );
    let answer = server.post_json(
        "/experiments",
        &serde_json::json!({
            "pipeline": "blastn", "query_name": "q", "query_sequence": query[2].1,
            "params": {"database": []},
        }),
    );
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(server.experiment_dirs().len(), before);

    // Any other field given twice is still refused, and nothing is written.
    let mut fields = query.to_vec();
    fields.extend([("param.evalue", "1"), ("param.evalue", "2")]);
    let answer = server.post_form("/experiments", &fields);
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(
        answer
            .text()
            .contains("the field 'param.evalue' is given twice"),
        "{}",
        answer.text()
    );
    let mut fields = query.to_vec();
    fields.push(("query_name", "again"));
    assert_eq!(server.post_form("/experiments", &fields).status, 400);
    let answer = server.post_json(
        "/experiments",
        &serde_json::json!({
            "pipeline": "blastn", "query_name": "q", "query_sequence": query[2].1,
            "params": {"evalue": [1, 2]},
        }),
    );
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.json()["field"], "param.evalue", "{}", answer.text());
    let mut fields = query.to_vec();
    fields.extend([("param.database", "reference"), ("param.database", "nt")]);
    let answer = server.post_form("/experiments", &fields);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.json()["field"], "param.database");
    assert_eq!(server.experiment_dirs().len(), before);
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_database_added_later_never_becomes_the_default_and_one_without_ids_is_searched_alone() {
    need_blast();
    let lab = Lab::new();
    let db = lab.path("blastdb");
    make_databases(&db);
    let server = lab.server(|config| {
        config.blast_databases = Some(db.clone());
        config.blast_group = 1;
    });
    let database = |server: &Server| database_param(server, "blastn");
    assert_eq!(database(&server)["default"], "reference");

    // Two more, made since: one first by name, one without -parse_seqids.
    let ref03 = reference("reference.fasta", "ref03");
    make_database(
        &db,
        "aaa",
        "Assembly A",
        &format!(">aaa1\n{}\n", &ref03.sequence[..600]),
    );
    make_database_without_ids(
        &db,
        "noids",
        "No ids",
        &format!(">n1 no ids\n{}\n", &ref03.sequence[..600]),
    );
    wait_until("both are offered", || {
        database(&server)["options"].as_array().unwrap().len() == 3
    });
    let offered = database(&server);
    assert_eq!(
        offered["options"],
        serde_json::json!(["aaa", "noids", "reference"]),
        "by title (Assembly A, No ids, seqspool ...): {offered:#}"
    );
    assert_eq!(
        offered["default"], "reference",
        "the one made first: {offered:#}"
    );
    let query = &ref03.sequence[100..400];
    let id = submit(
        &server,
        &[
            ("pipeline", "blastn"),
            ("query_name", "q"),
            ("query_sequence", query),
        ],
    );
    assert_eq!(
        wait_complete(&server, &id)["params"]["database"],
        "reference"
    );

    // One without ids is refused beside another, naming it and why; alone, it is searched.
    let before = server.experiment_dirs().len();
    let answer = server.post_form(
        "/experiments",
        &[
            ("pipeline", "blastn"),
            ("query_name", "q"),
            ("query_sequence", query),
            ("param.database", "reference,noids"),
        ],
    );
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.json()["field"], "param.database");
    assert!(
        answer
            .text()
            .contains("'noids' is chosen only alone: it was built without -parse_seqids"),
        "{}",
        answer.text()
    );
    assert_eq!(server.experiment_dirs().len(), before);
    let id = submit(
        &server,
        &[
            ("pipeline", "blastn"),
            ("query_name", "q"),
            ("query_sequence", query),
            ("param.database", "noids"),
        ],
    );
    wait_complete(&server, &id);
    let hits = rows(&file(&server, &id, "hits.tsv"));
    assert!(
        !hits.is_empty(),
        "the search of the database alone finds the read"
    );
}
