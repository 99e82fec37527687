//! The BLAST databases of a directory (`--blast-databases`), as
//! `blastdbcmd -list` finds them: each one's name (its path under the
//! directory, without extension: `nt`, `lab/plasmids`), its molecule, title,
//! number of sequences and letters. The built-in BLAST pipelines offer them
//! (`blast::programs`), and NCBI's URL API names them; this list is the one
//! place both read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use serde::Serialize;

/// The program that lists databases, found on the server's `PATH`.
pub(crate) const LISTER: &str = "blastdbcmd";

/// The variable that names the databases' directory to the built-in
/// programs' command (and to what formats their archives: a database is
/// named by its path under it).
pub(crate) const DATABASES_VAR: &str = "SEQSPOOL_BLAST_DATABASES";

/// What `blastdbcmd -list_outfmt` writes a line of: path, molecule, title,
/// sequences, letters, separated by tabs.
const LIST_FORMAT: &str = "%f\t%p\t%t\t%n\t%l";

/// What a database holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Molecule {
    Nucleotide,
    Protein,
}

/// One database found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Database {
    /// Its path under the directory, without extension: what `database` takes.
    pub(crate) name: String,
    #[serde(skip)]
    pub(crate) path: PathBuf,
    pub(crate) molecule: Molecule,
    pub(crate) title: String,
    pub(crate) sequences: u64,
    pub(crate) letters: u64,
    /// When its index was written (`None` when unreadable): the database
    /// made first is the programs' default, so that one added later never
    /// changes what a search that names none searches.
    #[serde(skip)]
    pub(crate) made: Option<SystemTime>,
    /// Whether its sequences can be looked up by id (`makeblastdb
    /// -parse_seqids`): one without is searched only alone, as BLAST cannot
    /// report its hits beside another database's.
    #[serde(skip)]
    pub(crate) ids: bool,
}

impl Database {
    /// What `path` (a database as `blastdbcmd -list` names it) says of
    /// itself on disk: when its index was written, and whether it has the
    /// id lookups `-parse_seqids` writes (`.nos`/`.pos` in version 5,
    /// `.nsd`/`.psd` before). An alias of several (`.nal`/`.pal`) is taken
    /// to have them: its volumes are not read.
    fn on_disk(path: &Path, molecule: Molecule) -> (Option<SystemTime>, bool) {
        let with = |ext: &str| {
            let mut file = path.as_os_str().to_owned();
            file.push(".");
            file.push(ext);
            PathBuf::from(file)
        };
        let (index, lookups) = match molecule {
            Molecule::Nucleotide => (["nal", "nin"], ["nal", "nos", "nsd"]),
            Molecule::Protein => (["pal", "pin"], ["pal", "pos", "psd"]),
        };
        let made = (index.into_iter())
            .find_map(|ext| std::fs::metadata(with(ext)).ok())
            .and_then(|meta| meta.modified().ok());
        let ids = lookups.into_iter().any(|ext| with(ext).exists());
        (made, ids)
    }
}

/// The databases under one directory, sorted by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Databases {
    pub(crate) dir: PathBuf,
    pub(crate) found: Vec<Database>,
}

impl Databases {
    /// Lists the databases under `dir` (and its subdirectories). A name BLAST
    /// could not take whole (with a space: `-db` splits on spaces) is left
    /// out, and the log says so.
    pub(crate) fn find(dir: &Path) -> Result<Databases, String> {
        let dir = dir
            .canonicalize()
            .map_err(|err| format!("--blast-databases {}: {err}", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!(
                "--blast-databases {}: not a directory",
                dir.display()
            ));
        }
        let output = Command::new(LISTER)
            .arg("-list")
            .arg(&dir)
            .args(["-recursive", "-list_outfmt", LIST_FORMAT])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| {
                format!(
                    "--blast-databases needs NCBI BLAST+ ({LISTER}, blastn, ... on the PATH; \
                     Debian: apt-get install ncbi-blast+): running {LISTER}: {err}"
                )
            })?;
        if !output.status.success() {
            return Err(format!(
                "{LISTER} -list {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let (found, skipped) = read_list(&dir, &String::from_utf8_lossy(&output.stdout));
        for why in skipped {
            log::warn!("--blast-databases: {why}");
        }
        Ok(Databases { dir, found })
    }

    /// The databases of one molecule.
    pub(crate) fn of(&self, molecule: Molecule) -> impl Iterator<Item = &Database> {
        self.found.iter().filter(move |db| db.molecule == molecule)
    }

    /// The default of one molecule's: the one made first (by name among
    /// those made at once, or whose time is unknown, which come last).
    pub(crate) fn first_made(&self, molecule: Molecule) -> Option<&Database> {
        self.of(molecule).min_by(|a, b| {
            (a.made.is_none(), a.made, &a.name).cmp(&(b.made.is_none(), b.made, &b.name))
        })
    }
}

/// The databases `blastdbcmd -list DIR` wrote, and why any line was left out.
fn read_list(dir: &Path, text: &str) -> (Vec<Database>, Vec<String>) {
    let mut found: Vec<Database> = Vec::new();
    let mut skipped = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [path, molecule, title, sequences, letters] = fields[..] else {
            skipped.push(format!("an unreadable line of {LISTER} -list: {line}"));
            continue;
        };
        let path = PathBuf::from(path);
        let Some(name) = name_of(dir, &path) else {
            skipped.push(format!(
                "{} is not a database name seqspool can offer (a path under the directory, \
                 without spaces)",
                path.display()
            ));
            continue;
        };
        let molecule = match molecule {
            "Nucleotide" => Molecule::Nucleotide,
            "Protein" => Molecule::Protein,
            other => {
                skipped.push(format!("{name}: a database of '{other}'"));
                continue;
            }
        };
        // Listed twice (through an alias, say); a nucleotide and a protein
        // database of one name are two, each offered to its own programs.
        if found
            .iter()
            .any(|db| db.name == name && db.molecule == molecule)
        {
            continue;
        }
        let (made, ids) = Database::on_disk(&path, molecule);
        found.push(Database {
            made,
            ids,
            title: if title.trim().is_empty() {
                name.clone()
            } else {
                title.trim().to_owned()
            },
            name,
            path,
            molecule,
            sequences: sequences.trim().parse().unwrap_or(0),
            letters: letters.trim().parse().unwrap_or(0),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    (found, skipped)
}

/// A database's name: its path under `dir`, without extension; none for a
/// path outside it, or one [`is_name`] refuses.
fn name_of(dir: &Path, path: &Path) -> Option<String> {
    let name = path.strip_prefix(dir).ok()?.to_str()?;
    is_name(name).then(|| name.to_owned())
}

/// Whether `name` can name a database: a relative path that stays under its
/// directory (no `..`, no empty part) and out of hidden directories (where
/// `seqspool db add` builds one before moving it into place), that `-db` would not split (no space)
/// and a value carries whole (no control character, comma or quote).
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '"')
}

/// The path of the database `name` under `dir`, if it is a name at all.
pub(crate) fn path_in(dir: &Path, name: &str) -> Option<PathBuf> {
    is_name(name).then(|| dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_becomes_databases_named_by_their_path_under_the_directory() {
        let dir = Path::new("/data/blastdb");
        let text = "/data/blastdb/nt\tNucleotide\tNucleotide collection (nt)\t100\t2000\n\
                    /data/blastdb/lab/plasmids\tNucleotide\t\t3\t15000\n\
                    /data/blastdb/swissprot\tProtein\tUniProtKB/Swiss-Prot\t5\t900\n\
                    /data/blastdb/my db\tNucleotide\tspaced\t1\t1\n\
                    /elsewhere/x\tNucleotide\tx\t1\t1\n\
                    /data/blastdb/nt\tNucleotide\tNucleotide collection (nt)\t100\t2000\n\
                    /data/blastdb/swissprot\tNucleotide\tSwiss-Prot's genes\t7\t7000\n\
                    garbage\n";
        let (found, skipped) = read_list(dir, text);
        let names: Vec<&str> = found.iter().map(|db| db.name.as_str()).collect();
        assert_eq!(names, ["lab/plasmids", "nt", "swissprot", "swissprot"]);
        assert_eq!(found[0].title, "lab/plasmids", "no title: its name");
        assert_eq!(found[1].path, Path::new("/data/blastdb/nt"));
        assert_eq!((found[1].sequences, found[1].letters), (100, 2000));
        assert_eq!(found[2].molecule, Molecule::Protein);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].contains("my db"), "{skipped:?}");
    }

    #[test]
    fn a_database_name_never_leaves_its_directory() {
        let dir = Path::new("/data/blastdb");
        assert_eq!(
            path_in(dir, "lab/plasmids").unwrap(),
            Path::new("/data/blastdb/lab/plasmids")
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a b",
            "a,b",
            "a//b",
            "./a",
            ".building-x-1/plasmids",
        ] {
            assert!(path_in(dir, bad).is_none(), "{bad}");
        }
    }
}
