//! A new database in one command (`seqspool db add FILE.fasta`): the FASTA
//! file read enough to refuse what is not FASTA and to tell nucleotide from
//! protein (the query's own detection), `makeblastdb` run with the flags the
//! report's downloads need (`-parse_seqids`) and a title, in a hidden
//! directory beside the databases, then moved into place with the index
//! file last: `blastdbcmd -list` finds a database by its index, so a
//! running server never offers one half built (`blast::shelf`).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::databases::{Databases, Molecule};
use crate::query::{detect_alphabet, Alphabet};

/// The program that builds databases, found on the `PATH`.
const BUILDER: &str = "makeblastdb";

/// The letters read to tell nucleotide from protein: enough for the 90%
/// rule of the query's detection to settle, few enough that a genome's
/// file is not read whole before `makeblastdb` reads it.
const SAMPLE_LETTERS: usize = 1_000_000;

/// The prefix of the hidden directory a database is built in; the lister
/// (`blast::databases`) never offers what lies under a hidden directory.
const BUILDING: &str = ".building-";

/// A database built: its name, molecule and title as the lister will read them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Built {
    pub(crate) name: String,
    pub(crate) molecule: Molecule,
    pub(crate) title: String,
    pub(crate) sequences: u64,
}

/// Builds the FASTA file `fasta` into the database `name` (by default the
/// file's name without its extension) under `dir`, titled `title` (by
/// default its name). Refuses a file that is not FASTA, a name that could
/// leave the directory, and a name there is a database of already.
pub(crate) fn add(
    dir: &Path,
    fasta: &Path,
    name: Option<&str>,
    title: Option<&str>,
) -> Result<Built, String> {
    let name = match name {
        Some(name) => name.to_owned(),
        // `plasmids` of `plasmids.fa`, when that is a name.
        None => (fasta.file_stem().and_then(|stem| stem.to_str()))
            .filter(|stem| check_name(stem).is_ok())
            .ok_or_else(|| {
                format!(
                    "{}: its file name makes no database name (letters, digits, '-', '_' \
                     and '.'); give one with --name",
                    fasta.display()
                )
            })?
            .to_owned(),
    };
    check_name(&name)?;
    let title = title
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(&name)
        .to_owned();
    if title.contains(['\n', '\r', '\t']) {
        return Err("--title: one line, without tabs".into());
    }
    if !dir.is_dir() {
        return Err(format!(
            "{}: the databases directory is not there (make it, or name another with --blast-databases)",
            dir.display()
        ));
    }
    let existing = Databases::find(dir)?;
    if existing.found.iter().any(|db| db.name == name) || has_files(dir, &name)? {
        return Err(format!(
            "there is a database {name} in {} already; give another --name",
            dir.display()
        ));
    }
    let (molecule, sequences) = read_fasta(fasta)?;
    let building = dir.join(format!("{BUILDING}{name}-{}", std::process::id()));
    fs::create_dir(&building).map_err(|err| format!("creating {}: {err}", building.display()))?;
    let result = make(fasta, &building, &name, &title, molecule)
        .and_then(|()| move_into_place(&building, dir));
    // Whatever happened, nothing is left half built.
    let _ = fs::remove_dir_all(&building);
    result?;
    Ok(Built {
        name,
        molecule,
        title,
        sequences,
    })
}

/// Whether `name` may name a new database: one file name, no path, not hidden.
fn check_name(name: &str) -> Result<(), String> {
    if name.contains('/') || name.contains("..") || name.starts_with('.') {
        return Err(format!(
            "--name {name}: a database's name is one word (letters, digits, '-', '_', '.'), \
             neither a path nor hidden"
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "--name {name}: a database's name is letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// Whether any file of `dir` is named `name.` something (a database's file,
/// or one half made by hand).
fn has_files(dir: &Path, name: &str) -> Result<bool, String> {
    let prefix = format!("{name}.");
    let entries = fs::read_dir(dir).map_err(|err| format!("reading {}: {err}", dir.display()))?;
    Ok(entries.flatten().any(|entry| {
        entry
            .file_name()
            .to_str()
            .is_some_and(|file| file.starts_with(&prefix))
    }))
}

/// The molecule of a FASTA file's sequences (from the first
/// [`SAMPLE_LETTERS`]) and how many there are; refuses a file that is not
/// FASTA (its first line no `>` header, or no sequence at all).
fn read_fasta(fasta: &Path) -> Result<(Molecule, u64), String> {
    let file = fs::File::open(fasta).map_err(|err| format!("{}: {err}", fasta.display()))?;
    let not_fasta = |why: &str| {
        format!(
            "{}: not a FASTA file ({why}); a FASTA file is records of a '>' line naming \
             the sequence, then its letters",
            fasta.display()
        )
    };
    let mut sample = String::new();
    let mut sequences = 0u64;
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|_| not_fasta("it is not text"))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('>') {
            if header.trim().is_empty() {
                return Err(not_fasta(&format!("line {} names no sequence", number + 1)));
            }
            sequences += 1;
        } else if sequences == 0 {
            return Err(not_fasta("its first line is no '>' header"));
        } else if sample.len() < SAMPLE_LETTERS {
            if let Some(bad) = line
                .chars()
                .find(|c| !c.is_ascii_alphabetic() && !matches!(c, '-' | '*'))
            {
                return Err(not_fasta(&format!(
                    "line {} holds '{bad}', which is no sequence letter",
                    number + 1
                )));
            }
            sample.push_str(&line.to_ascii_uppercase());
        }
    }
    if sequences == 0 || sample.is_empty() {
        return Err(not_fasta("it holds no sequence"));
    }
    let molecule = match detect_alphabet(&sample) {
        Alphabet::Protein => Molecule::Protein,
        Alphabet::Dna | Alphabet::Rna => Molecule::Nucleotide,
    };
    Ok((molecule, sequences))
}

/// Runs `makeblastdb` for `fasta` into `building/name`.
fn make(
    fasta: &Path,
    building: &Path,
    name: &str,
    title: &str,
    molecule: Molecule,
) -> Result<(), String> {
    let dbtype = match molecule {
        Molecule::Nucleotide => "nucl",
        Molecule::Protein => "prot",
    };
    let output = Command::new(BUILDER)
        .arg("-in")
        .arg(fasta)
        .args(["-dbtype", dbtype, "-parse_seqids", "-title", title, "-out"])
        .arg(building.join(name))
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            format!("running {BUILDER} (NCBI BLAST+; Debian: apt-get install ncbi-blast+): {err}")
        })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{BUILDER} refused {}: {}",
            fasta.display(),
            said.trim()
        ));
    }
    Ok(())
}

/// Moves the files built into `dir`, the index (`.nin`, `.pin`, or an
/// alias `.nal`, `.pal`) last, so that the database is found whole or not
/// at all.
fn move_into_place(building: &Path, dir: &Path) -> Result<(), String> {
    let mut files: Vec<PathBuf> = fs::read_dir(building)
        .map_err(|err| format!("reading {}: {err}", building.display()))?
        .flatten()
        .map(|entry| entry.path())
        .collect();
    let is_index = |path: &PathBuf| {
        matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("nin" | "pin" | "nal" | "pal")
        )
    };
    files.sort_by_key(is_index);
    for file in &files {
        let to = dir.join(
            file.file_name()
                .expect("a file read from a directory has a name"),
        );
        fs::rename(file, &to)
            .map_err(|err| format!("moving {} into place: {err}", to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_plain_word() {
        for good in ["plasmids", "lab-plasmids_2", "v1.2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "../x", "..", ".hidden", "a b", "a,b", "x\"y"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_fasta_file_is_read_for_its_molecule_and_anything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let dna = write("dna.fa", "\n>a one\nACGTACGTNN\nacgt\n>b\nACGT\n");
        assert_eq!(read_fasta(&dna).unwrap(), (Molecule::Nucleotide, 2));
        let protein = write("p.fa", ">p1\nMKVLAAGIVGLLLAQ*\n");
        assert_eq!(read_fasta(&protein).unwrap(), (Molecule::Protein, 1));
        for (text, why) in [
            ("ACGT\n", "first line"),
            (">a\n", "no sequence"),
            (">\nACGT\n", "names no sequence"),
            (">a\nAC GT\n", "' '"),
            ("", "no sequence"),
        ] {
            let err = read_fasta(&write("bad.fa", text)).unwrap_err();
            assert!(
                err.contains("not a FASTA file") && err.contains(why),
                "{err}"
            );
        }
        fs::write(dir.path().join("bin.fa"), [0xff, 0xfe, 0]).unwrap();
        let err = read_fasta(&dir.path().join("bin.fa")).unwrap_err();
        assert!(err.contains("not text"), "{err}");
    }
}
