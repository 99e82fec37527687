//! The experiments on disk: the directories each run gets (kept until the
//! benchmark ends), the generated sequences every query is made of, the
//! experiments B4 and B5 start from, written directly as the server's store
//! would have written them, and the counts a workload reads back. It knows
//! nothing of the server process or of HTTP, so that every other room may use it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use seqspool::model::{Id, Record, State};
use seqspool::query::Alphabet;
use seqspool::store::{QUERY_FILE, RECORD_FILE};
use seqspool::time::Timestamp;
use tempfile::TempDir;

/// Residues of every generated query (B2, B3, B4, B5, B6).
pub(crate) const RESIDUES: usize = 300;

/// Every experiments directory made, removed at the end (see [`tempdir`]).
static KEPT: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());

/// A new experiments directory in `root`, removed when the benchmark ends, not
/// before: on ext4 without a journal, inodes deleted in the last seconds
/// (minutes while their block is dirty) are skipped one by one when a new
/// inode is allocated, so removing a run's directories at once would make
/// the next run's file creations slower than they are on a lab's disk.
pub(crate) fn tempdir(root: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("seqspool-bench.")
        .tempdir_in(root)
        .map_err(|e| format!("creating a directory in {}: {e}", root.display()))?;
    let path = dir.path().to_owned();
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(dir);
    Ok(path)
}

/// Removes every directory [`tempdir`] made: at the end, or when interrupted.
pub(crate) fn remove_directories() {
    let kept = std::mem::take(&mut *KEPT.lock().unwrap_or_else(PoisonError::into_inner));
    if !kept.is_empty() {
        eprintln!("bench: removing {} experiments directories", kept.len());
    }
    drop(kept);
}

/// A reproducible DNA sequence of `length` residues.
pub(crate) fn dna(length: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..length)
        .map(|_| {
            // xorshift64: enough variety for a sequence nobody reads.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"ACGT"[(state >> 33) as usize % 4] as char
        })
        .collect()
}

/// Writes `count` experiments as the server's store would have: `query.fasta`
/// (when `create`) and `experiment.json` (the server's own [`Record`] type, so
/// the shape cannot drift), the first `finished` of them COMPLETE, the rest
/// QUEUED, each running `command`. Nothing is fsynced: the page cache is all a
/// start-up scan reads from.
pub(crate) fn write(
    dir: &Path,
    count: usize,
    finished: usize,
    create: bool,
    command: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let definition = Arc::new(seqspool::pipeline::Definition::legacy(command));
    let command: Arc<str> = command.into();
    let sequence = dna(RESIDUES, 7);
    for n in 1..=count {
        let id = Id(n as u64);
        let path = dir.join(id.to_string());
        if create {
            fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        }
        let name = format!("plate7-{n:06}");
        let mut fasta = format!(">{name}\n");
        for line in sequence.as_bytes().chunks(60) {
            fasta.push_str(std::str::from_utf8(line).expect("ASCII"));
            fasta.push('\n');
        }
        let now = Timestamp::now();
        let done = n <= finished;
        let record = Record {
            id,
            query_name: name,
            description: None,
            alphabet: Alphabet::Dna,
            length: RESIDUES,
            notes: Vec::new(),
            batch: None,
            upload: None,
            state: if done { State::Complete } else { State::Queued },
            submitted_at: now,
            submitted_by: None,
            started_at: done.then_some(now),
            finished_at: done.then_some(now),
            exit_code: done.then_some(0),
            signal: None,
            error: None,
            attempts: u32::from(done),
            pipeline: "default".into(),
            params: Default::default(),
            command: command.clone(),
            definition: Some(definition.clone()),
            retry_of: None,
            retried_as: None,
            notify_url: None,
            notify_lab: false,
            moved_to_front: None,
            handle: None,
            processor: None,
            group: None,
            solo: None,
        };
        let mut json = serde_json::to_vec_pretty(&record).map_err(|e| format!("encoding: {e}"))?;
        json.push(b'\n');
        let query = if create {
            fs::write(path.join(QUERY_FILE), fasta)
        } else {
            Ok(())
        };
        query
            .and_then(|()| fs::write(path.join(RECORD_FILE), json))
            .map_err(|e| format!("writing in {}: {e}", path.display()))?;
    }
    Ok(started.elapsed())
}

/// How many experiment directories (named by an id) the directory holds.
pub(crate) fn count(dir: &Path) -> Result<usize, String> {
    Ok(named_by_id(dir)?
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .count())
}

/// How many experiments' `experiment.json` on disk are in `state`.
pub(crate) fn count_in_state(dir: &Path, state: State) -> Result<usize, String> {
    Ok(named_by_id(dir)?
        .filter(|entry| {
            seqspool::store::read_record(&entry.path()).is_ok_and(|record| record.state == state)
        })
        .count())
}

/// The entries of `dir` named by an experiment's id.
fn named_by_id(dir: &Path) -> Result<impl Iterator<Item = fs::DirEntry>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    Ok(entries.filter_map(Result::ok).filter(|entry| {
        entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.parse::<Id>().is_ok())
    }))
}
