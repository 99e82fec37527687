//! The built-in BLAST pipelines' command: `seqspool __blast PROGRAM`, run
//! by the local executor through the runner like any command (supervised,
//! timed, cancelled and recovered as every command is). Its settings reach
//! it only through the environment (`PARAM_DATABASE`, `PARAM_EVALUE`, ...),
//! each read back into its type before it becomes an argument of BLAST.
//!
//! Alone (an ordinary run, in the experiment's directory) it searches
//! `QUERY_FASTA` once and writes the archive `hits.asn` and the table
//! `hits.tsv` there. In a group (`SEQSPOOL_GROUP` names the manifest; the
//! query file holds every member's query, each record's id the member's
//! experiment id) it searches them all in one run, splits the archive into
//! each member's `hits.asn` (its query alone, as a search of it alone writes
//! it: `blast::archive`), and formats the whole archive once for the table,
//! split by query: a `blast_formatter` start per member would cost more
//! than the search. A query BLAST read no letter of (it refuses such a
//! query searched alone) gets a `failed` file; anything else that fails is
//! the group's failure, and its members run again one by one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::archive;
use super::databases::{self, DATABASES_VAR};
use super::format::PROGRAM as FORMATTER;
use super::ncbi::Program;
use super::programs::{self, Spec, ARCHIVE, COLUMNS, MATRICES, SUBCOMMAND, TABLE, TASKS};

/// The archive of a group's search, in the group's directory.
const GROUP_ARCHIVE: &str = "group.asn";
/// The file that fails one member of a group, its content the reason.
const FAILED: &str = "failed";

/// The exit code of a command that could not be found: the workstation's
/// fault (the queue pauses), as a shell says it.
const NOT_FOUND: i32 = 127;
/// The exit code of a run whose settings or files are wrong.
const BAD_RUN: i32 = 2;

/// Runs the search `args` ask for (`[PROGRAM]`) and returns the exit code.
pub fn main(program: &str) -> i32 {
    match run(program) {
        Ok(()) => 0,
        Err(Failure { code, message }) => {
            eprintln!("seqspool {SUBCOMMAND}: {message}");
            code
        }
    }
}

/// Why the run failed, and its exit code.
#[derive(Debug)]
struct Failure {
    code: i32,
    message: String,
}

fn bad(message: impl Into<String>) -> Failure {
    Failure {
        code: BAD_RUN,
        message: message.into(),
    }
}

fn run(program: &str) -> Result<(), Failure> {
    let spec = Program::parse(program)
        .map(programs::spec)
        .ok_or_else(|| bad(format!("'{program}' is not a BLAST program seqspool runs")))?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let query = PathBuf::from(var("QUERY_FASTA").unwrap_or_else(|| "query.fasta".into()));
    let options = options(&spec, &var)?;
    match var("SEQSPOOL_GROUP") {
        None => alone(&spec, &options, &query),
        Some(manifest) => grouped(&spec, &options, &query, Path::new(&manifest)),
    }
}

/// The arguments of BLAST the parameters make, each value read back into
/// its type (or one of a fixed list) and written anew.
fn options(spec: &Spec, var: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>, Failure> {
    let dir = var(DATABASES_VAR).ok_or_else(|| bad(format!("{DATABASES_VAR} is not set")))?;
    let name = var("PARAM_DATABASE").ok_or_else(|| bad("PARAM_DATABASE is not set"))?;
    // Several databases are one argument of BLAST, their paths space-separated.
    let mut paths = Vec::new();
    for one in name.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let db = databases::path_in(Path::new(&dir), one)
            .filter(|db| !db.display().to_string().contains(char::is_whitespace))
            .ok_or_else(|| bad(format!("'{one}' is not a database name")))?;
        paths.push(db.display().to_string());
    }
    if paths.is_empty() {
        return Err(bad("PARAM_DATABASE names no database"));
    }
    let mut args = vec!["-db".to_owned(), paths.join(" ")];
    if let Some(evalue) = var("PARAM_EVALUE") {
        let evalue: f64 = evalue
            .trim()
            .parse()
            .ok()
            .filter(|e: &f64| e.is_finite() && *e > 0.0)
            .ok_or_else(|| bad(format!("PARAM_EVALUE '{evalue}' is not a number above 0")))?;
        args.extend(["-evalue".into(), format!("{evalue:e}")]);
    }
    for (param, flag) in [
        ("PARAM_MAX_HITS", "-max_target_seqs"),
        ("PARAM_WORD_SIZE", "-word_size"),
    ] {
        if let Some(value) = var(param) {
            let n: u32 = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("{param} '{value}' is not a whole number")))?;
            args.extend([flag.to_owned(), n.to_string()]);
        }
    }
    let (param, allowed): (&str, &[&str]) = if spec.has_task() {
        ("PARAM_TASK", &TASKS)
    } else {
        ("PARAM_MATRIX", &MATRICES)
    };
    if let Some(value) = var(param) {
        let chosen = allowed
            .iter()
            .find(|option| **option == value.trim())
            .ok_or_else(|| {
                bad(format!(
                    "{param} '{value}' is not one of {}",
                    allowed.join(", ")
                ))
            })?;
        let flag = if spec.has_task() { "-task" } else { "-matrix" };
        args.extend([flag.to_owned(), chosen.to_string()]);
    }
    if let Some(filter) = var("PARAM_FILTER") {
        let on = match filter.trim() {
            "true" => "yes",
            "false" => "no",
            other => return Err(bad(format!("PARAM_FILTER '{other}' is not true or false"))),
        };
        args.extend([spec.filter_flag().to_owned(), on.to_owned()]);
    }
    // It runs alone on the workstation: every core is its.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    args.extend(["-num_threads".into(), threads.to_string()]);
    Ok(args)
}

/// An ordinary run: the search, and its table, in the current directory.
fn alone(spec: &Spec, options: &[String], query: &Path) -> Result<(), Failure> {
    // A run again after an interruption must not leave the results of the one before.
    for stale in [ARCHIVE, TABLE] {
        remove(Path::new(stale))?;
    }
    search(spec, options, query, Path::new(ARCHIVE))?;
    let mut table = header();
    table.push_str(&tabulate(Path::new(ARCHIVE))?);
    write(Path::new(TABLE), &table)
}

/// One member of a group, as the manifest and the query file name it.
struct Member {
    id: String,
    out: PathBuf,
    /// Its own defline, without the `>` and its experiment id.
    defline: String,
}

impl Member {
    /// Its query's name as BLAST's tables show it: its defline's first word.
    fn name(&self) -> &str {
        self.defline.split_whitespace().next().unwrap_or("")
    }
}

/// A grouped run: one search of every member's query, split per member.
fn grouped(spec: &Spec, options: &[String], query: &Path, manifest: &Path) -> Result<(), Failure> {
    let members = read_members(manifest, query)?;
    search(spec, options, query, Path::new(GROUP_ARCHIVE))?;
    let text = read(Path::new(GROUP_ARCHIVE))?;
    let records = archive::parse(&text)
        .map_err(|err| bad(format!("reading BLAST's archive {GROUP_ARCHIVE}: {err}")))?;
    let by_id: BTreeMap<&str, &Member> = members.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut searched: BTreeMap<&str, bool> = BTreeMap::new();
    for record in records {
        let queries = record.queries();
        let split = record.split();
        for query in queries {
            let id = query.title.split_whitespace().next().unwrap_or("");
            let member = by_id.get(id).ok_or_else(|| {
                bad(format!(
                    "BLAST's archive holds a query '{}' no member of the group has",
                    query.title
                ))
            })?;
            if query.length == Some(0) {
                write(
                    &member.out.join(FAILED),
                    "BLAST found no letter it can search in this query\n",
                )?;
                searched.insert(&member.id, false);
                continue;
            }
            let only = split
                .only(&query.id, &member.defline)
                .expect("the record searched the query it lists");
            let mut own = String::new();
            only.write(&mut own);
            write(&member.out.join(ARCHIVE), &own)?;
            searched.insert(&member.id, true);
        }
    }
    if let Some(lost) = members
        .iter()
        .find(|m| !searched.contains_key(m.id.as_str()))
    {
        return Err(bad(format!(
            "BLAST's archive holds no search of {}'s query",
            lost.id
        )));
    }
    // One formatter for the whole group, its lines split by their query's id.
    let tabulated = tabulate(Path::new(GROUP_ARCHIVE))?;
    let mut tables: BTreeMap<&str, String> = BTreeMap::new();
    for line in tabulated.lines() {
        let Some((id, rest)) = line.split_once('\t') else {
            continue;
        };
        let member = by_id
            .get(id)
            .ok_or_else(|| bad(format!("{FORMATTER} wrote a line of no member: {line}")))?;
        let table = tables.entry(&member.id).or_default();
        let _ = writeln!(table, "{}\t{rest}", member.name());
    }
    for member in &members {
        if searched.get(member.id.as_str()) == Some(&true) {
            let mut table = header();
            table.push_str(tables.get(member.id.as_str()).map_or("", String::as_str));
            write(&member.out.join(TABLE), &table)?;
        }
    }
    Ok(())
}

/// The members the manifest lists (`ID <TAB> OUTPUT_DIR <TAB> QUERY_NAME`
/// a line), each with its own defline from the group's query file.
fn read_members(manifest: &Path, query: &Path) -> Result<Vec<Member>, Failure> {
    let mut deflines: BTreeMap<String, String> = BTreeMap::new();
    for line in read(query)?.lines() {
        if let Some(header) = line.strip_prefix('>') {
            let (id, own) = header.split_once(' ').unwrap_or((header, ""));
            deflines.insert(id.to_owned(), own.to_owned());
        }
    }
    let mut members = Vec::new();
    for line in read(manifest)?.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.splitn(3, '\t');
        let (Some(id), Some(out)) = (fields.next(), fields.next()) else {
            return Err(bad(format!(
                "the manifest's line '{line}' is not ID, directory, name"
            )));
        };
        let defline = deflines
            .get(id)
            .ok_or_else(|| bad(format!("the group's query file holds no query of {id}")))?;
        members.push(Member {
            id: id.to_owned(),
            out: PathBuf::from(out),
            defline: defline.clone(),
        });
    }
    if members.is_empty() {
        return Err(bad("the manifest names no member"));
    }
    Ok(members)
}

/// Runs the search of `query` into the archive `out`.
fn search(spec: &Spec, options: &[String], query: &Path, out: &Path) -> Result<(), Failure> {
    let program = spec.program.as_str();
    let mut command = Command::new(program);
    command
        .arg("-query")
        .arg(query)
        .args(options)
        .args(["-outfmt", "11", "-out"])
        .arg(out);
    println!(
        "{program} -query {} {} -outfmt 11 -out {}",
        query.display(),
        options.join(" "),
        out.display()
    );
    let _ = io::stdout().flush();
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|err| started(program, err))?;
    if !status.success() {
        return Err(Failure {
            code: status.code().filter(|c| *c != 0).unwrap_or(1),
            message: format!("{program} failed ({status}); its message is above"),
        });
    }
    Ok(())
}

/// The hits of an archive, one a line, in [`COLUMNS`].
fn tabulate(archive: &Path) -> Result<String, Failure> {
    let output = Command::new(FORMATTER)
        .arg("-archive")
        .arg(archive)
        .args(["-outfmt", &format!("6 {}", COLUMNS.join(" "))])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| started(FORMATTER, err))?;
    if !output.status.success() {
        return Err(Failure {
            code: output.status.code().filter(|c| *c != 0).unwrap_or(1),
            message: format!(
                "{FORMATTER} failed ({}); its message is above",
                output.status
            ),
        });
    }
    String::from_utf8(output.stdout)
        .map_err(|_| bad(format!("{FORMATTER} wrote a table that is not UTF-8")))
}

fn header() -> String {
    format!("{}\n", COLUMNS.join("\t"))
}

fn started(program: &str, err: io::Error) -> Failure {
    Failure {
        code: if err.kind() == io::ErrorKind::NotFound {
            NOT_FOUND
        } else {
            1
        },
        message: format!("running {program}: {err} (NCBI BLAST+ must be on the PATH)"),
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    fs::read_to_string(path).map_err(|err| bad(format!("reading {}: {err}", path.display())))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    fs::write(path, text).map_err(|err| Failure {
        code: 1,
        message: format!("writing {}: {err}", path.display()),
    })
}

fn remove(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Failure {
            code: 1,
            message: format!("removing {}: {err}", path.display()),
        }),
        _ => Ok(()),
    }
}
