//! `seqspool db add|list`: the operator's commands for the BLAST databases
//! of `--blast-databases`, run on the workstation beside the server (with
//! the server's options, environment or configuration file, so that they
//! find the same directory); the running server offers a database added
//! within seconds (`blast::shelf`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::blast::build;
use crate::blast::databases::{Databases, Molecule};
use crate::config::Config;

/// The BLAST databases the built-in BLAST programs search.
#[derive(Debug, Args)]
#[command(
    after_help = "They read the databases directory as the server does: --blast-databases, \
                  SEQSPOOL_BLAST_DATABASES, or blast_databases in the configuration file \
                  (--config, SEQSPOOL_CONFIG). A running server offers a database added \
                  within seconds, without a restart."
)]
pub struct Command {
    #[command(subcommand)]
    pub(super) action: Action,
}

#[derive(Debug, Subcommand)]
pub(super) enum Action {
    /// Builds a BLAST database from a FASTA file (nucleotide or protein, told
    /// from its letters), with the sequence ids parsed (-parse_seqids) so
    /// that the report's hits can be downloaded whole.
    Add {
        /// The FASTA file.
        file: PathBuf,
        /// The database's name: letters, digits, '-', '_', '.' [default: the file's name without its extension]
        #[arg(long)]
        name: Option<String>,
        /// Its title, which the page and the report show [default: its name]
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Lists the databases: name, molecule, sequences, letters and title.
    List {
        #[command(flatten)]
        config: Box<Config>,
    },
}

/// The options `seqspool db add|list --help` shows. Every server option is
/// taken (so a unit's environment, or the lab's configuration file, works
/// as it is); the help shows those that matter here.
pub(super) const SHOWN: [&str; 5] = ["file", "name", "title", "config", "blast_databases"];

impl Action {
    /// The server's options the command reads.
    pub(super) fn config(&mut self) -> &mut Config {
        match self {
            Action::Add { config, .. } | Action::List { config } => config,
        }
    }
}

/// Runs `seqspool db ...`: what it prints for a script on standard output,
/// what it says for a person on standard error.
pub fn run(command: Command) -> Result<(), String> {
    match command.action {
        Action::Add {
            file,
            name,
            title,
            config,
        } => {
            let dir = directory(&config)?;
            let built = build::add(&dir, &file, name.as_deref(), title.as_deref())?;
            println!("{}", built.name);
            eprintln!(
                "built the {} database {} ({}, {} sequence{}) in {}; a running server offers it \
                 within seconds",
                molecule(built.molecule),
                built.name,
                built.title,
                built.sequences,
                if built.sequences == 1 { "" } else { "s" },
                dir.display()
            );
            Ok(())
        }
        Action::List { config } => {
            let dir = directory(&config)?;
            print!("{}", listing(&Databases::find(&dir)?));
            Ok(())
        }
    }
}

/// The databases directory the server would read.
fn directory(config: &Config) -> Result<PathBuf, String> {
    config.blast_databases.clone().ok_or_else(|| {
        "no databases directory: give --blast-databases DIR (or SEQSPOOL_BLAST_DATABASES, or \
         blast_databases in the configuration file), as the server has it"
            .to_owned()
    })
}

fn molecule(molecule: Molecule) -> &'static str {
    match molecule {
        Molecule::Nucleotide => "nucleotide",
        Molecule::Protein => "protein",
    }
}

/// What `seqspool db list` prints: a header, then a database a line, the
/// columns separated by tabs.
fn listing(databases: &Databases) -> String {
    let mut text = String::from("name\tmolecule\tsequences\tletters\ttitle\n");
    for db in &databases.found {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            db.name,
            molecule(db.molecule),
            db.sequences,
            db.letters,
            db.title
        ));
    }
    text
}
