//! The lab's BLAST databases while the server runs: `seqspool db add`
//! builds one from a FASTA file beside the others (refusing what is not
//! FASTA, a name there is already, a name that is a path), `seqspool db
//! list` lists them, and a running server offers a database added within
//! seconds, without a restart: on the page, through the API, and searched.
//!
//! It needs NCBI BLAST+, marked as `common`'s doc says.

use crate::common::blast::*;
use crate::common::*;

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_database_added_beside_a_running_server_is_offered_and_searched_without_a_restart() {
    need_blast();
    let lab = Lab::new();
    let dir = lab.path("blastdb");
    std::fs::create_dir_all(&dir).unwrap();
    let server = lab.server(|config| {
        config.blast_databases = Some(dir.clone());
        config.blast_group = 1;
    });
    let names = |server: &Server| -> Vec<String> {
        server.get("/pipelines").json()["pipelines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&server), ["analysis"], "no database, no BLAST yet");

    // Three of the shipped references, as a lab's plasmids file.
    let plasmids: Vec<Reference> = references("reference.fasta").into_iter().take(3).collect();
    let fasta = lab.path("plasmids.fa");
    let text: String = plasmids
        .iter()
        .map(|r| format!(">{} {}\n{}\n", r.id, r.title, r.sequence))
        .collect();
    std::fs::write(&fasta, text).unwrap();
    let (code, out, said) = seqspool_db(
        &dir,
        &["add", fasta.to_str().unwrap(), "--title", "Lab plasmids"],
    );
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(out, "plasmids\n");
    assert!(
        said.contains("nucleotide") && said.contains("3 sequences"),
        "{said}"
    );

    wait_until("the open page offers the new database on reload", || {
        server.get("/").text().contains("Lab plasmids")
    });
    assert_eq!(names(&server), ["blastn", "tblastn", "tblastx", "analysis"]);
    let (code, out, _) = seqspool_db(&dir, &["list"]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "name\tmolecule\tsequences\tletters\ttitle");
    assert!(
        lines[1].starts_with("plasmids\tnucleotide\t3\t") && lines[1].ends_with("\tLab plasmids"),
        "{out}"
    );

    // A search finds the sequence it was cut from.
    let wanted = &plasmids[1];
    let answer = server.post_form(
        "/experiments",
        &[
            ("pipeline", "blastn"),
            ("param.database", "plasmids"),
            ("query_name", "read"),
            ("query_sequence", &wanted.sequence[100..400]),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    wait_complete(&server, &id);
    let hits = file(&server, &id, "hits.tsv");
    let top = hits.lines().nth(1).unwrap_or_else(|| panic!("{hits}"));
    assert!(
        top.starts_with(&format!("read\t{}\t100.000\t300\t", wanted.id)),
        "{hits}"
    );

    // What it refuses, with nothing left behind in the directory.
    let before = snapshot(&dir);
    let not_fasta = lab.path("notes.txt");
    std::fs::write(&not_fasta, "ACGT is no header\n").unwrap();
    let spaced = lab.path("my plasmids.fa");
    std::fs::copy(&fasta, &spaced).unwrap();
    let protein = lab.path("enzymes.fa");
    std::fs::write(&protein, ">e1 an enzyme\nMKVLAAGIVGLLLAQWERTYHHKLPP\n").unwrap();
    for (args, why) in [
        (
            vec![fasta.to_str().unwrap()],
            "there is a database plasmids",
        ),
        (vec![not_fasta.to_str().unwrap()], "not a FASTA file"),
        (vec![spaced.to_str().unwrap()], "makes no database name"),
        (
            vec![protein.to_str().unwrap(), "--name", "../enzymes"],
            "neither a path",
        ),
        (
            vec![protein.to_str().unwrap(), "--name", "a/b"],
            "neither a path",
        ),
    ] {
        let mut all = vec!["add"];
        all.extend(args.iter().copied());
        let (code, out, said) = seqspool_db(&dir, &all);
        assert_eq!(code, Some(1), "{all:?}: {said}");
        assert!(out.is_empty(), "{all:?}: {out}");
        assert!(said.contains(why), "{all:?}: {said}");
    }
    assert_eq!(snapshot(&dir), before, "a refusal changes nothing");
    let (code, _, said) = seqspool_db(&dir, &["add", protein.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("protein database enzymes"), "{said}");
    wait_until("the protein programs are offered", || {
        names(&server).contains(&"blastp".to_owned())
    });
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_database_rebuilt_in_place_is_offered_anew_without_a_restart() {
    need_blast();
    let lab = Lab::new();
    let dir = lab.path("blastdb");
    std::fs::create_dir_all(&dir).unwrap();
    let plasmids: Vec<Reference> = references("reference.fasta").into_iter().take(2).collect();
    let fasta = |n: usize| -> String {
        plasmids[..n]
            .iter()
            .map(|r| format!(">{} {}\n{}\n", r.id, r.title, r.sequence))
            .collect()
    };
    make_database(&dir, "plasmids", "Lab plasmids", &fasta(1));
    let server = lab.server(|config| {
        config.blast_databases = Some(dir.clone());
        config.blast_group = 1;
    });
    let title = |server: &Server| -> String {
        let database = database_param(server, "blastn");
        database["titles"]["plasmids"].as_str().unwrap().to_owned()
    };
    assert_eq!(title(&server), "Lab plasmids");
    assert!(server.get("/").text().contains("1 sequence,"));

    // Rebuilt beside, then written over the files in place, as `cp` or
    // `rsync --inplace` would: the directory's own time does not change.
    let scratch = lab.path("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    make_database(
        &scratch,
        "plasmids",
        "Lab plasmids, second edition",
        &fasta(2),
    );
    let before = std::fs::metadata(&dir).unwrap().modified().unwrap();
    let mut rebuilt = 0;
    for entry in std::fs::read_dir(&scratch).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if dir.join(&name).exists() && !name.to_string_lossy().ends_with(".fasta") {
            std::fs::copy(entry.path(), dir.join(&name)).unwrap();
            rebuilt += 1;
        }
    }
    assert!(rebuilt >= 3, "{rebuilt} files of the database written over");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().modified().unwrap(),
        before,
        "the directory's time is as it was"
    );
    wait_until("the new title is offered", || {
        title(&server) == "Lab plasmids, second edition"
    });
    assert!(
        server.get("/").text().contains("2 sequences,"),
        "the form shows its new size"
    );
}
