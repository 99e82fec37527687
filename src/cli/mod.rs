//! The command line of the `seqspool` binary, one clap definition for all
//! of it: `seqspool` alone (or `seqspool serve`) serves with the options of
//! [`Config`]; the client commands (`submit`, `status`, `list`, `wait`,
//! `results`, `cancel`, `retry`, `queue`: `client.rs`) talk to a running
//! server; `seqspool user` manages the lab's users; `seqspool retention`
//! lists what a sweep would remove; `seqspool db` adds and lists the BLAST
//! databases; `completions` and `man` generate the
//! shells' completions and the manual pages from this same definition
//! (`manual.rs`); and two hidden commands are the runner the server starts
//! for local commands and the built-in BLAST pipelines' command (neither is
//! in the definition a person sees: only [`parse`] adds them). The commands
//! sit above the rooms they
//! use, so that no room of the server imports the command line; only the
//! binary imports this room.

pub mod client;
pub mod db;
pub mod manual;
pub mod retention;
pub mod user;

use std::ffi::OsString;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, Refused};

/// seqspool: a sequence-query server that runs one experiment at a time, first in first out.
#[derive(Debug, Parser)]
#[command(
    name = "seqspool",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    after_help = "Without a command, seqspool serves: `seqspool --bind 0.0.0.0:8000` is `seqspool serve --bind 0.0.0.0:8000`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The options of serving, which `seqspool` alone does.
    #[command(flatten)]
    serve: Config,
}

/// What the binary is asked to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serves (what `seqspool` alone does, with the same options).
    Serve(Box<Config>),
    #[command(flatten)]
    Client(client::Command),
    /// The lab's users and their tokens: add, list, rotate, remove.
    ///
    /// They may use this server with --access members or closed: each
    /// sends their token, or signs in with it on the page.
    User(user::Command),
    /// Lists what the retention sweep would remove; removes nothing.
    ///
    /// It reads the experiments directory, also beside a running server:
    /// the server's daily sweep is what removes (--retention-days), and
    /// GET /retention lists the same.
    Retention(Box<retention::Command>),
    /// The BLAST databases: add one from a FASTA file, list them.
    Db(db::Command),
    /// Prints the completions of a shell (bash, zsh, fish, ...) for seqspool's commands.
    Completions(manual::Completions),
    /// Prints the manual page (roff), or writes every command's page.
    Man(manual::Man),
    /// Runs local commands for a server: the process it starts for each
    /// (`seqspool __runner`, added to the definition by [`parse`] only).
    #[command(skip)]
    Runner,
    /// The built-in BLAST pipelines' command: one search, alone or for a
    /// group; its settings come from the environment (`seqspool __blast
    /// PROGRAM`, added to the definition by [`parse`] only).
    #[command(skip)]
    Blast {
        /// blastn, blastp, blastx, tblastn or tblastx.
        program: String,
    },
}

/// Runs the built-in BLAST pipelines' command for `program`, and returns its exit code.
pub fn blast(program: &str) -> i32 {
    crate::blast::run::main(program)
}

/// The command line a person uses, as clap defines it: what `--help`, the
/// completions and the manual pages show. The hidden commands (the runner's,
/// BLAST's) are not in it: clap's completions would offer them all the same.
pub fn definition() -> clap::Command {
    let show = |shown: &'static [&'static str]| {
        move |command: clap::Command| {
            command.mut_args(|arg| {
                let hide = !shown.contains(&arg.get_id().as_str());
                arg.hide(hide)
            })
        }
    };
    Cli::command()
        .mut_subcommand("retention", show(&retention::SHOWN))
        .mut_subcommand("db", |db| {
            db.mut_subcommand("add", show(&db::SHOWN))
                .mut_subcommand("list", show(&db::SHOWN))
        })
}

/// Reads the command line `args` (the first is the program's name), and the
/// configuration file it names for the commands that read one.
pub fn parse<I, T>(args: I) -> Result<Command, Refused>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use crate::blast::programs::SUBCOMMAND as BLAST;
    use crate::exec::runner::SUBCOMMAND as RUNNER;
    let runner = clap::Command::new(RUNNER).hide(true);
    let blast = clap::Command::new(BLAST)
        .hide(true)
        .arg(clap::Arg::new("program").required(true));
    let matches = definition()
        .subcommand(runner)
        .subcommand(blast)
        .try_get_matches_from(args)
        .map_err(Refused::CommandLine)?;
    match matches.subcommand() {
        Some((RUNNER, _)) => return Ok(Command::Runner),
        Some((BLAST, blast)) => {
            let program = blast
                .get_one::<String>("program")
                .expect("clap requires the program")
                .clone();
            return Ok(Command::Blast { program });
        }
        _ => {}
    }
    let cli = Cli::from_arg_matches(&matches).map_err(Refused::CommandLine)?;
    let sub = |name: &str| {
        matches
            .subcommand_matches(name)
            .expect("clap gives the matches of the command it parsed")
    };
    Ok(match cli.command {
        None => Command::Serve(Box::new(with_file(cli.serve, &matches)?)),
        Some(Command::Serve(config)) => Command::Serve(Box::new(with_file(*config, sub("serve"))?)),
        Some(Command::Retention(mut command)) => {
            command.config = with_file(command.config, sub("retention"))?;
            Command::Retention(command)
        }
        Some(Command::Db(mut command)) => {
            let (_, action) = sub("db")
                .subcommand()
                .expect("clap requires the subcommand of db");
            let config = command.action.config();
            *config = with_file(config.clone(), action)?;
            Command::Db(command)
        }
        Some(
            command @ (Command::Client(_)
            | Command::User(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Runner
            | Command::Blast { .. }),
        ) => command,
    })
}

/// `config` with the configuration file it names read, for the options
/// `matches` (the command line and the environment) left unset.
fn with_file(mut config: Config, matches: &ArgMatches) -> Result<Config, Refused> {
    config.read_file(matches).map_err(Refused::File)?;
    Ok(config)
}
