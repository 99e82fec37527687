//! `seqspool retention --dry-run`: what the server's next retention sweep
//! would remove, read from the experiments directory without a server (also
//! beside a running one), and nothing removed. The rule of what is due is
//! [`crate::retention`]'s, so the listing is what the sweep does.

use std::path::Path;

use clap::Args;

use crate::config::Config;
use crate::error::Error;
use crate::model::{Id, Record};
use crate::retention::{cutoff, due, Due};
use crate::time::Timestamp;

/// `seqspool retention --dry-run`: what the server's next sweep would remove.
#[derive(Debug, Args)]
pub struct Command {
    /// List only; required, as a reminder that this command never removes anything.
    #[arg(long, required = true)]
    dry_run: bool,

    #[command(flatten)]
    pub(super) config: Config,
}

/// The options `seqspool retention --help` shows. Every server option is
/// taken (so a unit's environment, or the lab's configuration file, works
/// as it is); the help shows those that matter here.
pub(super) const SHOWN: [&str; 4] = ["dry_run", "config", "experiments", "retention_days"];

/// Runs `seqspool retention` (its configuration file read): prints the
/// listing to standard output.
pub fn run(command: &Command) -> Result<(), String> {
    let config = &command.config;
    let text = dry_run(&config.experiments, config.retention_days, Timestamp::now())
        .map_err(|err| err.to_string())?;
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) is no failure.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing the listing: {err}"))
        }
        _ => Ok(()),
    }
}

/// What [`run`] prints: the experiments of `dir` due if kept `days` days.
fn dry_run(dir: &Path, days: Option<u32>, now: Timestamp) -> Result<String, Error> {
    let Some(days) = days else {
        return Ok(format!(
            "retention is off (no --retention-days, SEQSPOOL_RETENTION_DAYS or retention_days): \
             nothing in {} would be removed\n",
            dir.display()
        ));
    };
    let records = read_records(dir)?;
    let cutoff = cutoff(days, now);
    let due: Vec<Due> = due(&records, cutoff)
        .into_iter()
        .map(|record| {
            Due::of(
                record,
                crate::store::tree_size(&dir.join(record.id.to_string())),
            )
        })
        .collect();
    let total: u64 = due.iter().map(|due| due.bytes).sum();
    let mut text = format!(
        "retention {days} days: the next sweep would remove {} experiment(s) of {} that finished before {cutoff}, {}\n",
        due.len(),
        dir.display(),
        crate::store::bytes(total)
    );
    if !due.is_empty() {
        text.push_str("ID\tSTATE\tFINISHED\tSIZE\tBATCH\tNAME\n");
    }
    for due in &due {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            due.id,
            due.state.as_str(),
            due.finished_at,
            crate::store::bytes(due.bytes),
            due.batch.map_or("-".to_owned(), |batch| batch.to_string()),
            due.query_name.escape_debug()
        ));
    }
    Ok(text)
}

/// The records of an experiments directory, read from outside the server
/// (which may be running: records are replaced whole, so each reads whole).
fn read_records(dir: &Path) -> Result<Vec<Record>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))?;
    let mut records = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading", dir, e))?;
        let Ok(id) = entry.file_name().to_string_lossy().parse::<Id>() else {
            continue;
        };
        match crate::store::read_record(&entry.path()) {
            Ok(record) if record.id == id => records.push(record),
            Ok(_) | Err(_) => {} // the server skips it too
        }
    }
    records.sort_unstable_by_key(|record| record.id);
    Ok(records)
}
