//! The BLAST programs seqspool offers by itself, as pipelines the lab does
//! not write (`--blast-databases`): `blastn` and `tblastx` when there are
//! nucleotide databases, `blastp` for protein ones, `blastx` (a DNA query,
//! protein databases) and `tblastn` (a protein query, nucleotide
//! databases); each with the settings a scientist expects, and the
//! arguments they become. Each pipeline's command is seqspool itself
//! (`seqspool __blast PROGRAM`, `blast::run`), run by the local executor
//! like any command, grouped by default: one BLAST run serves a plate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::databases::{Databases, Molecule, DATABASES_VAR};
use super::ncbi::{Program, Services};
use crate::pipeline::{
    Command, Definition, ExecutorKind, Param, ParamKind, Pipeline, ResultFile, Size, View,
};
use crate::query::Alphabet;

/// The archive each run keeps: every format is made from it.
pub(crate) const ARCHIVE: &str = "hits.asn";
/// The hits, one a line, after a header naming the columns.
pub(crate) const TABLE: &str = "hits.tsv";
/// The columns of [`TABLE`]: the standard twelve of `-outfmt 6`, then the
/// hit's title (as the example scripts write them).
pub(crate) const COLUMNS: [&str; 13] = [
    "qseqid", "sseqid", "pident", "length", "mismatch", "gapopen", "qstart", "qend", "sstart",
    "send", "evalue", "bitscore", "stitle",
];

/// The first argument that makes the binary the programs' command (`blast::run`).
pub const SUBCOMMAND: &str = "__blast";

/// The E-value a search reports hits at or below unless told otherwise:
/// SequenceServer's, which keeps a plate's reports to the hits that mean
/// something (BLAST's own 10 lists chance matches for every read).
const DEFAULT_EVALUE: &str = "1e-5";
/// The most hits a search reports unless told otherwise.
const DEFAULT_MAX_HITS: i64 = 100;
/// The most hits a scientist may ask for: past it a report is unreadable,
/// and BLAST's archive grows with every hit of every query of a group.
const MOST_HITS: i64 = 5000;
/// Why a database built without `-parse_seqids` is searched only alone:
/// `blast_formatter` cannot write the hits of a search of it and another.
const WITHOUT_IDS: &str = "it was built without -parse_seqids, so BLAST cannot report its hits \
     beside another database's; search it alone, or build it again with seqspool db add";
/// blastn's words: BLAST refuses fewer than 4 letters.
const NUCLEOTIDE_WORDS: (i64, i64) = (4, 128);
/// The protein programs' words: BLAST takes 2 to 7 letters.
const PROTEIN_WORDS: (i64, i64) = (2, 7);
/// blastn's tasks, the default first (BLAST's own).
pub(crate) const TASKS: [&str; 4] = ["megablast", "dc-megablast", "blastn", "blastn-short"];
/// The scoring matrices of the protein programs, the default first (BLAST's own).
pub(crate) const MATRICES: [&str; 5] = ["BLOSUM62", "BLOSUM45", "BLOSUM80", "PAM30", "PAM70"];

/// What one program searches and takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub(crate) program: Program,
    /// The databases it searches.
    pub(crate) database: Molecule,
    /// The query it takes.
    query: &'static [Alphabet],
    title: &'static str,
    description: &'static str,
    /// Whether BLAST filters low-complexity regions by default (DUST for
    /// blastn, SEG for the others): the `filter` parameter's default.
    filters: bool,
}

impl Spec {
    /// `-dust` for blastn, `-seg` for the others.
    pub(crate) fn filter_flag(&self) -> &'static str {
        match self.program {
            Program::Blastn => "-dust",
            _ => "-seg",
        }
    }

    /// Whether it takes `task` (blastn) or `matrix` (the others).
    pub(crate) fn has_task(&self) -> bool {
        self.program == Program::Blastn
    }
}

const DNA: &[Alphabet] = &[Alphabet::Dna, Alphabet::Rna];
const PROTEIN: &[Alphabet] = &[Alphabet::Protein];

/// Every program offered, in NCBI's order.
pub(crate) const SPECS: [Spec; 5] = [
    Spec {
        program: Program::Blastn,
        database: Molecule::Nucleotide,
        query: DNA,
        title: "BLASTN: nucleotide query, nucleotide databases",
        description: "Finds the sequences of a nucleotide database most like a DNA or RNA query.",
        filters: true,
    },
    Spec {
        program: Program::Blastp,
        database: Molecule::Protein,
        query: PROTEIN,
        title: "BLASTP: protein query, protein databases",
        description: "Finds the proteins of a protein database most like a protein query.",
        filters: false,
    },
    Spec {
        program: Program::Blastx,
        database: Molecule::Protein,
        query: DNA,
        title: "BLASTX: translated nucleotide query, protein databases",
        description: "Finds the proteins most like a DNA or RNA query translated in its six frames.",
        filters: true,
    },
    Spec {
        program: Program::Tblastn,
        database: Molecule::Nucleotide,
        query: PROTEIN,
        title: "TBLASTN: protein query, translated nucleotide databases",
        description: "Finds the nucleotide sequences whose translation (six frames) is most like a protein query.",
        filters: true,
    },
    Spec {
        program: Program::Tblastx,
        database: Molecule::Nucleotide,
        query: DNA,
        title: "TBLASTX: translated nucleotide query, translated nucleotide databases",
        description: "Compares the six-frame translations of a DNA or RNA query with those of a nucleotide database: slow, for distant coding sequences.",
        filters: true,
    },
];

/// The spec of `program`.
pub(crate) fn spec(program: Program) -> Spec {
    SPECS
        .into_iter()
        .find(|spec| spec.program == program)
        .expect("every program has a spec")
}

/// How the built-in programs run on this server.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// seqspool's own binary: the command of every program.
    pub(crate) binary: PathBuf,
    /// Most experiments one run serves (`--blast-group`).
    pub(crate) group: usize,
    /// Seconds one experiment may take (`--timeout`), if limited.
    pub(crate) timeout: Option<Duration>,
}

/// The pipelines `databases` allow, one a program with a database to search.
pub(crate) fn pipelines(databases: &Databases, settings: &Settings) -> Vec<Pipeline> {
    SPECS
        .iter()
        .filter(|spec| databases.of(spec.database).next().is_some())
        .map(|spec| pipeline(spec, databases, settings))
        .collect()
}

fn pipeline(spec: &Spec, databases: &Databases, settings: &Settings) -> Pipeline {
    let program = spec.program.as_str();
    // As the page lists them: by title, as a scientist reads them.
    let mut found: Vec<_> = databases.of(spec.database).collect();
    found.sort_by_key(|db| (db.title.to_lowercase(), db.name.clone()));
    let default = databases
        .first_made(spec.database)
        .expect("a program is offered only with a database to search");
    let mut params = vec![Param {
        name: "database".into(),
        label: match spec.database {
            Molecule::Nucleotide => "Nucleotide databases".into(),
            Molecule::Protein => "Protein databases".into(),
        },
        help: match spec.database {
            Molecule::Nucleotide => {
                "The nucleotide databases to search: one, or several at once.".into()
            }
            Molecule::Protein => "The protein databases to search: one, or several at once.".into(),
        },
        kind: ParamKind::Choice {
            options: found.iter().map(|db| db.name.clone()).collect(),
            titles: found
                .iter()
                .map(|db| (db.name.clone(), db.title.clone()))
                .collect(),
            sizes: found
                .iter()
                .map(|db| {
                    let (one, many) = match db.molecule {
                        Molecule::Nucleotide => ("base", "bases"),
                        Molecule::Protein => ("residue", "residues"),
                    };
                    let size = Size {
                        sequences: db.sequences,
                        letters: db.letters,
                        letter: (one, many),
                    };
                    (db.name.clone(), size)
                })
                .collect(),
            multiple: true,
            alone: found
                .iter()
                .filter(|db| !db.ids)
                .map(|db| (db.name.clone(), WITHOUT_IDS.to_owned()))
                .collect(),
        },
        default: Some(default.name.clone()),
    }];
    params.push(Param {
        name: "evalue".into(),
        label: "E-value".into(),
        help: "Report hits at or below this expect value.".into(),
        kind: ParamKind::Number {
            min: None,
            max: None,
            above: Some(0.0),
            below: None,
        },
        default: Some(DEFAULT_EVALUE.into()),
    });
    params.push(Param {
        name: "max_hits".into(),
        label: "Most hits".into(),
        help: "The most database sequences to report.".into(),
        kind: ParamKind::Integer {
            min: Some(1),
            max: Some(MOST_HITS),
        },
        default: Some(DEFAULT_MAX_HITS.to_string()),
    });
    if spec.has_task() {
        params.push(choice(
            "task",
            "Task",
            "megablast for near-identical sequences, dc-megablast for other species, blastn \
             for distant ones, blastn-short for primers and other queries under 50 bases.",
            &TASKS,
        ));
    } else {
        params.push(choice(
            "matrix",
            "Scoring matrix",
            "BLOSUM62 for most searches; BLOSUM80 or PAM30/PAM70 for close relatives and short \
             queries, BLOSUM45 for distant ones.",
            &MATRICES,
        ));
    }
    let (least, most) = if spec.program == Program::Blastn {
        NUCLEOTIDE_WORDS
    } else {
        PROTEIN_WORDS
    };
    params.push(Param {
        name: "word_size".into(),
        label: "Word size".into(),
        help: "The length of the initial exact match; without it, BLAST's default for the task."
            .into(),
        kind: ParamKind::Integer {
            min: Some(least),
            max: Some(most),
        },
        default: None,
    });
    params.push(Param {
        name: "filter".into(),
        label: "Filter low-complexity regions".into(),
        help: match spec.program {
            Program::Blastn => "DUST, as BLAST does by default.".into(),
            Program::Blastp => "SEG; BLAST leaves blastp queries unfiltered by default.".into(),
            _ => "SEG, as BLAST does by default.".into(),
        },
        kind: ParamKind::Boolean,
        default: Some(spec.filters.to_string()),
    });
    let mut env = BTreeMap::new();
    env.insert(
        DATABASES_VAR.to_owned(),
        databases.dir.display().to_string(),
    );
    Pipeline {
        name: program.to_owned(),
        title: spec.title.to_owned(),
        description: spec.description.to_owned(),
        alphabets: spec.query.to_vec(),
        params,
        // The program is there: without it, the queue pauses rather than fail every search.
        check: Some(format!("{program} -version > /dev/null")),
        preload: false,
        definition: Arc::new(Definition {
            executor: ExecutorKind::Local,
            command: Some(Command::Program(vec![
                settings.binary.display().to_string(),
                SUBCOMMAND.to_owned(),
                program.to_owned(),
            ])),
            timeout_ms: settings.timeout.map(|t| t.as_millis() as u64),
            start_timeout_ms: None,
            env,
            results: vec![
                ResultFile {
                    file: ARCHIVE.into(),
                    view: View::Blast,
                    title: Some("BLAST report".into()),
                },
                ResultFile {
                    file: TABLE.into(),
                    view: View::Table,
                    title: Some("Hits (tab-separated)".into()),
                },
            ],
            slurm: None,
            group: settings.group,
        }),
    }
}

fn choice(name: &str, label: &str, help: &str, options: &[&str]) -> Param {
    Param {
        name: name.into(),
        label: label.into(),
        help: help.into(),
        kind: ParamKind::Choice {
            options: options.iter().map(|o| o.to_string()).collect(),
            titles: BTreeMap::new(),
            sizes: BTreeMap::new(),
            multiple: false,
            alone: BTreeMap::new(),
        },
        default: Some(options[0].to_owned()),
    }
}

/// The pipelines a server offers: the lab's own (or the one `--command`
/// makes, or the built-in analysis), and the built-in BLAST programs, each
/// unless the lab declares one of its name, which wins (the log says so).
/// With no pipeline of the lab's, the BLAST programs come first, so that a
/// server started for BLAST offers it by default.
pub(crate) fn offer(
    lab: Vec<Arc<Pipeline>>,
    declared: bool,
    builtin: Vec<Pipeline>,
) -> Vec<Arc<Pipeline>> {
    let mut blast: Vec<Arc<Pipeline>> = Vec::new();
    for pipeline in builtin {
        if lab.iter().any(|own| own.name == pipeline.name) {
            log::info!(
                "pipeline {}: the lab's own is offered, not the built-in BLAST program of that name",
                pipeline.name
            );
            continue;
        }
        blast.push(Arc::new(pipeline));
    }
    if declared {
        lab.into_iter().chain(blast).collect()
    } else {
        blast.into_iter().chain(lab).collect()
    }
}

/// What NCBI's URL API offers when the configuration says nothing of it:
/// each built-in program among `offered`, searching the databases its
/// `database` parameter offers, an identifier sent as a query looked up in
/// the databases of the query's molecule.
pub(crate) fn services(offered: &[Arc<Pipeline>], databases: &Databases) -> Services {
    let served = SPECS
        .iter()
        .filter_map(|spec| {
            let pipeline = offered
                .iter()
                .find(|p| p.name == spec.program.as_str() && is_builtin(p))?;
            let query = if spec.query == PROTEIN {
                Molecule::Protein
            } else {
                Molecule::Nucleotide
            };
            let lookup = databases
                .of(query)
                .map(|db| db.path.display().to_string())
                .collect();
            Some((spec.program, pipeline.clone(), lookup))
        })
        .collect();
    Services::builtin(served)
}

/// Why a built-in program refuses a query read as `alphabet`, and which
/// would take it: the program that searches such a query in the same
/// databases (a DNA read sent to blastp: blastx). None for a pipeline not
/// built in, or a query it takes.
pub(crate) fn fitting(pipeline: &Pipeline, alphabet: Alphabet) -> Option<String> {
    if !is_builtin(pipeline) || pipeline.alphabets.contains(&alphabet) {
        return None;
    }
    let refused = SPECS
        .iter()
        .find(|spec| spec.program.as_str() == pipeline.name)?;
    let fits = SPECS
        .iter()
        .find(|spec| spec.database == refused.database && spec.query.contains(&alphabet))?;
    let article = if alphabet == Alphabet::Rna { "an" } else { "a" };
    let databases = match fits.database {
        Molecule::Nucleotide => "nucleotide",
        Molecule::Protein => "protein",
    };
    Some(format!(
        "{} searches {article} {} query against {databases} databases",
        fits.program.as_str(),
        alphabet.word()
    ))
}

/// Whether `pipeline` is one of the built-in BLAST programs (not the lab's own of that name).
fn is_builtin(pipeline: &Pipeline) -> bool {
    matches!(&pipeline.definition.command,
        Some(Command::Program(words)) if words.get(1).map(String::as_str) == Some(SUBCOMMAND))
}

#[cfg(test)]
mod tests {
    use super::super::databases::Database;
    use super::*;
    use std::path::Path;

    fn databases(molecules: &[(&str, Molecule)]) -> Databases {
        Databases {
            dir: "/data/blastdb".into(),
            found: molecules
                .iter()
                .map(|(name, molecule)| Database {
                    name: name.to_string(),
                    path: Path::new("/data/blastdb").join(name),
                    molecule: *molecule,
                    title: format!("{name} title"),
                    sequences: 1,
                    letters: 1,
                    made: None,
                    ids: true,
                })
                .collect(),
        }
    }

    fn settings() -> Settings {
        Settings {
            binary: "/usr/bin/seqspool".into(),
            group: 100,
            timeout: None,
        }
    }

    #[test]
    fn each_program_is_offered_when_its_databases_are_there() {
        let names = |dbs: &[(&str, Molecule)]| -> Vec<String> {
            pipelines(&databases(dbs), &settings())
                .into_iter()
                .map(|p| p.name)
                .collect()
        };
        assert_eq!(
            names(&[("nt", Molecule::Nucleotide)]),
            ["blastn", "tblastn", "tblastx"]
        );
        assert_eq!(names(&[("nr", Molecule::Protein)]), ["blastp", "blastx"]);
        assert_eq!(names(&[]), Vec::<String>::new());
        let mut found = databases(&[
            ("nt", Molecule::Nucleotide),
            ("lab/plasmids", Molecule::Nucleotide),
            ("nr", Molecule::Protein),
        ]);
        // nt made first, the plasmids since, without -parse_seqids.
        let at = |seconds| Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds));
        found.found[0].made = at(100);
        found.found[1].made = at(200);
        found.found[1].ids = false;
        let all = pipelines(&found, &settings());
        assert_eq!(all.len(), 5);
        let blastn = &all[0];
        assert_eq!(blastn.alphabets, [Alphabet::Dna, Alphabet::Rna]);
        let json = serde_json::to_value(&blastn.params[0]).unwrap();
        // Listed by title; the default the one made first, whatever is added since.
        assert_eq!(json["options"], serde_json::json!(["lab/plasmids", "nt"]));
        assert_eq!(json["default"], "nt");
        assert_eq!(json["titles"]["lab/plasmids"], "lab/plasmids title");
        let database = |value: &str| {
            let raw = [("database".to_owned(), value.to_owned())]
                .into_iter()
                .collect();
            blastn
                .check_params(&raw)
                .map(|params| params["database"].clone())
        };
        assert_eq!(database("nt").unwrap(), "nt");
        assert_eq!(database("lab/plasmids").unwrap(), "lab/plasmids");
        let why = database("nt,lab/plasmids").unwrap_err().to_string();
        assert!(
            why.contains("'lab/plasmids' is chosen only alone: it was built without -parse_seqids"),
            "{why}"
        );
        let params: Vec<&str> = blastn.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            params,
            [
                "database",
                "evalue",
                "max_hits",
                "task",
                "word_size",
                "filter"
            ]
        );
        let blastp = all.iter().find(|p| p.name == "blastp").unwrap();
        assert_eq!(blastp.alphabets, [Alphabet::Protein]);
        assert!(blastp.params.iter().any(|p| p.name == "matrix"));
        // BLAST refuses an E-value of 0, and a protein word of 8.
        let raw = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(blastp.check_params(&raw(&[("evalue", "0")])).is_err());
        assert!(blastp.check_params(&raw(&[("word_size", "8")])).is_err());
        let checked = blastp.check_params(&raw(&[])).unwrap();
        assert_eq!(checked["filter"], "false");
        assert_eq!(checked["database"], "nr");
        let definition = &blastn.definition;
        assert_eq!(
            definition.label(),
            "/usr/bin/seqspool __blast blastn",
            "the command is seqspool itself"
        );
        assert_eq!(definition.env[DATABASES_VAR], "/data/blastdb");
        assert_eq!(definition.group_size(), 100, "grouped by --blast-group");
    }

    #[test]
    fn a_pipeline_the_lab_declares_wins_over_the_built_in_one() {
        let builtin = pipelines(&databases(&[("nt", Molecule::Nucleotide)]), &settings());
        let mut own = Pipeline::analysis();
        own.name = "blastn".into();
        let offered = offer(vec![Arc::new(own)], true, builtin.clone());
        let names: Vec<&str> = offered.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["blastn", "tblastn", "tblastx"]);
        assert_eq!(offered[0].definition.executor, ExecutorKind::Builtin);
        let offered = offer(vec![Arc::new(Pipeline::analysis())], false, builtin);
        let names: Vec<&str> = offered.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["blastn", "tblastn", "tblastx", "analysis"]);
    }
}
