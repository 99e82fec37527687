//! An identifier sent as `QUERY` (`AC123456`, the GI `8332116`,
//! `sp|P69905|HBA_HUMAN`), and its sequence fetched from the lab's own BLAST
//! databases with `blastdbcmd -entry`, as NCBI fetches it from its own.
//!
//! The identifier is checked before it goes anywhere, and goes only into
//! `blastdbcmd`'s argument vector, never a shell. The check also keeps out
//! what `-entry` would read as more than one entry: a list (`a,b`) and the
//! word `all`, which dumps a whole database.

use std::collections::BTreeMap;
use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use std::io::{Read, Seek};

use tokio::io::AsyncReadExt;

/// The program that fetches entries, found on the server's `PATH`.
pub(crate) const PROGRAM: &str = "blastdbcmd";

/// The longest identifier taken: NCBI's accessions with their version, and
/// the `db|accession|name` forms of UniProt and others, are a few dozen
/// characters; a lab's own identifiers are of that order too.
const MAX_IDENTIFIER: usize = 100;

/// How long one `blastdbcmd` may take: an entry is found through the
/// database's index in moments, even in `nt`.
const FETCH_TIME: Duration = Duration::from_secs(30);

/// How many `blastdbcmd` may run at once, server-wide: a lookup is quick,
/// and the workstation's cores are the searches'.
const MAX_RUNNING: usize = 4;

/// Turns to run `blastdbcmd`: one of [`MAX_RUNNING`] each.
static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RUNNING);

/// Bytes of `blastdbcmd`'s own messages read for an error.
const MAX_MESSAGE: u64 = 2 * 1024;

/// An identifier of a sequence, as `QUERY` may give one instead of the
/// sequence itself: one word of ASCII letters, digits and `_ . | -`,
/// starting with a letter or a digit, at most [`MAX_IDENTIFIER`] long, and
/// holding a digit, `_`, `.` or `|`. The last is what tells it from a bare
/// sequence, which is letters only (`MKV...`, `ACGT...`, with `-` for gaps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identifier(String);

impl Identifier {
    /// `QUERY` as an identifier, if it is one rather than a sequence.
    pub(crate) fn parse(query: &str) -> Option<Identifier> {
        let text = query.trim();
        let mut chars = text.chars();
        let good = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && text.len() <= MAX_IDENTIFIER
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '|' | '-'))
            && text
                .chars()
                .any(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | '|'));
        good.then(|| Identifier(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an entry could not be fetched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// It is longer than the server takes: the client's to shorten.
    TooLong(String),
    /// `blastdbcmd` could not run, or could not read a database: the server's.
    Failed(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::TooLong(msg) | FetchError::Failed(msg) => f.write_str(msg),
        }
    }
}

/// Fetches the entry `id` from the first of `databases` that holds it, as
/// FASTA (its own defline, then its sequence), with `env` added to
/// `blastdbcmd`'s environment (the pipeline's: `BLASTDB` and the like), and
/// the database it came from. `Ok(None)` when none holds it.
pub(crate) async fn fetch<'a>(
    id: &Identifier,
    databases: &'a [String],
    env: &BTreeMap<String, String>,
    max_bytes: usize,
) -> Result<Option<(String, &'a str)>, FetchError> {
    for database in databases {
        if let Some(fasta) = fetch_from(id, database, env, max_bytes).await? {
            return Ok(Some((fasta, database)));
        }
    }
    Ok(None)
}

async fn fetch_from(
    id: &Identifier,
    database: &str,
    env: &BTreeMap<String, String>,
    max_bytes: usize,
) -> Result<Option<String>, FetchError> {
    let failed = FetchError::Failed;
    let busy = || {
        failed(format!(
            "{PROGRAM} had no turn within {} s",
            FETCH_TIME.as_secs()
        ))
    };
    let _turn = tokio::time::timeout(FETCH_TIME, TURNS.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    // A file, not a pipe: nothing it says can block it while its output is read.
    let room = |err: std::io::Error| failed(format!("making room for what {PROGRAM} says: {err}"));
    let mut messages = tempfile::tempfile().map_err(room)?;
    let stderr = messages.try_clone().map_err(room)?;
    let mut child = tokio::process::Command::new(PROGRAM)
        .args(["-db", database, "-entry", id.as_str()])
        // Only the defline that names it, not those of every identical sequence.
        .args(["-target_only", "-outfmt", "%f"])
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| {
            failed(match err.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("BLAST+ is not installed on this server ({PROGRAM} is not on its PATH)")
                }
                _ => format!("could not start {PROGRAM}: {err}"),
            })
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| failed(format!("{PROGRAM}: its output could not be read")))?;
    let run = async {
        let mut fasta = Vec::new();
        stdout
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut fasta)
            .await
            .map_err(|err| failed(format!("reading what {PROGRAM} wrote: {err}")))?;
        if fasta.len() > max_bytes {
            return Err(FetchError::TooLong(format!(
                "{id} is longer than this server takes (--max-residues)"
            )));
        }
        let status = child
            .wait()
            .await
            .map_err(|err| failed(format!("waiting for {PROGRAM}: {err}")))?;
        Ok((status, fasta))
    };
    // On an error or a time out the child is dropped, and kill_on_drop ends it.
    let (status, fasta) = tokio::time::timeout(FETCH_TIME, run).await.map_err(|_| {
        failed(format!(
            "{PROGRAM} took longer than {} s",
            FETCH_TIME.as_secs()
        ))
    })??;
    let mut said = Vec::new();
    let _ = messages
        .rewind()
        .and_then(|()| (&mut messages).take(MAX_MESSAGE).read_to_end(&mut said));
    let said = String::from_utf8_lossy(&said);
    match status.code() {
        Some(0) => String::from_utf8(fasta)
            .map(Some)
            .map_err(|_| failed(format!("{PROGRAM} wrote {id} as no UTF-8 text"))),
        // Its way of saying the database holds no such entry.
        Some(1) if said.contains("not found") => Ok(None),
        _ => Err(failed(format!(
            "{PROGRAM} could not read {database}: {}",
            said.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_told_from_sequences() {
        for id in [
            "AC123456",
            "8332116",
            "NM_000546.6",
            "gi|8332116",
            "sp|P69905|HBA_HUMAN",
            "P69905-2",
            "ref04",
        ] {
            assert_eq!(Identifier::parse(id).unwrap().as_str(), id);
        }
        assert_eq!(
            Identifier::parse("  AC123456\r\n").unwrap().as_str(),
            "AC123456"
        );
        for not_one in [
            "ACGTACGTTGCA",
            "MKVLAAGIVG",
            "ACGT-ACGT",
            // blastdbcmd's own words for more than one entry.
            "all",
            "ALL",
            "ref04,AC123456",
            // Options, lists, shells and paths never get through.
            "-db",
            "-entry_batch",
            "ref04 AC123456",
            "$(touch pwned)1",
            "../../etc/passwd1",
            ">ref04\nACGT",
            "1 acgtacgt",
            "",
            "|1",
            "_1",
        ] {
            assert_eq!(Identifier::parse(not_one), None, "{not_one:?}");
        }
        assert!(Identifier::parse(&"A1".repeat(50)).is_some());
        assert!(Identifier::parse(&format!("A{}", "1".repeat(100))).is_none());
    }
}
