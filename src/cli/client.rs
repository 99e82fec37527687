//! The client commands' command line (`seqspool submit`, `status`, `list`,
//! `wait`, `results`, `cancel`, `retry`, `queue`) and what each prints:
//! data on standard output (ids, tables, paths, JSON), words for a person
//! on standard error. The talking to the server is [`crate::client`]'s.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::client::cancel::{self, Canceled};
use crate::client::failure::EXIT_CODES;
use crate::client::follow::{self, Target};
use crate::client::listing::{self, Filter};
use crate::client::record::Seen;
use crate::client::server::DEFAULT_URL;
use crate::client::submit::{self, Input, Submission};
use crate::client::{queue, results, Failure, Server, Token};
use crate::model::{Id, State};
use crate::time::Timestamp;

/// What every client command says after its options: the token, and the exit codes.
const AFTER_HELP: &str = "\
The token: the variable SEQSPOOL_TOKEN, or the file --token-file names (an
operator gives you one with `seqspool user add NAME`); never an argument.";

/// Where the server is, and who asks it (also after `queue`'s own commands).
#[derive(Debug, Args)]
pub struct Connection {
    /// The server's address
    #[arg(long, env = "SEQSPOOL_URL", value_name = "URL", default_value = DEFAULT_URL, global = true)]
    server: String,

    /// A file holding your token [default: the token in SEQSPOOL_TOKEN]
    #[arg(long, env = "SEQSPOOL_TOKEN_FILE", value_name = "FILE", global = true)]
    token_file: Option<PathBuf>,
}

impl Connection {
    fn server(&self) -> Result<Server, Failure> {
        Server::new(&self.server, Token::find(self.token_file.as_deref())?)
    }
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submits a FASTA or FASTQ file, standard input or one sequence; prints the ids
    #[command(after_help = after_help())]
    Submit(Submit),
    /// Shows experiments' records: state, place in the queue, estimate, error
    #[command(after_help = after_help())]
    Status(Status),
    /// Lists experiments, newest first
    #[command(after_help = after_help())]
    List(List),
    /// Waits until experiments have finished; exits 0 if all completed
    #[command(after_help = after_help())]
    Wait(Wait),
    /// Fetches experiments' files into a folder each, or a batch's zip
    #[command(after_help = after_help())]
    Results(Results),
    /// Cancels experiments, queued or running
    #[command(after_help = after_help())]
    Cancel(Cancel),
    /// Runs a failed or cancelled experiment again, as a new one
    #[command(after_help = after_help())]
    Retry(Retry),
    /// Shows the queue; an admin pauses and resumes it
    #[command(after_help = after_help())]
    Queue(Queue),
}

fn after_help() -> String {
    format!("{AFTER_HELP}\n\n{EXIT_CODES}")
}

/// `seqspool submit`.
#[derive(Debug, Args)]
pub struct Submit {
    /// A FASTA or FASTQ file (several records make a batch), or - for standard input
    #[arg(
        value_name = "FILE",
        required_unless_present = "sequence",
        conflicts_with = "sequence"
    )]
    file: Option<PathBuf>,

    /// One sequence, instead of a file (a FASTA header line may come first)
    #[arg(long, value_name = "SEQ")]
    sequence: Option<String>,

    /// The sequence's name [default: its FASTA header's first word]
    #[arg(long, value_name = "NAME", requires = "sequence")]
    name: Option<String>,

    /// The pipeline to run [default: the server's first]
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,

    /// A parameter of the pipeline; repeat it for several
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = submit::parse_param)]
    params: Vec<(String, String)>,

    /// Where to post each experiment's end (an http:// URL)
    #[arg(long, value_name = "URL")]
    notify: Option<String>,

    /// Follows them to their end (a progress bar on a terminal); exits 0 if all completed
    #[arg(long)]
    wait: bool,

    /// Prints the server's answer (JSON) instead of the ids
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool status`.
#[derive(Debug, Args)]
pub struct Status {
    /// The experiments' ids
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    ids: Vec<Id>,

    /// Prints their records as the server gives them (a JSON array)
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool list`.
#[derive(Debug, Args)]
pub struct List {
    /// Only experiments in this state (queued, running, complete, executor_error, system_error, canceled)
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    state: Option<State>,

    /// Only your own (needs your token)
    #[arg(long)]
    mine: bool,

    /// Only the experiments of this batch
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    batch: Option<Id>,

    /// At most this many
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,

    /// Prints their records as the server gives them (a JSON array)
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool wait`.
#[derive(Debug, Args)]
pub struct Wait {
    /// The experiments' ids
    #[arg(value_name = "ID", value_parser = parse_id, required_unless_present = "batch", conflicts_with = "batch")]
    ids: Vec<Id>,

    /// Every experiment of this batch
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    batch: Option<Id>,

    /// Prints their records at the end (a JSON array)
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool results`.
#[derive(Debug, Args)]
pub struct Results {
    /// The experiments' ids: each one's files go into a folder of its own
    #[arg(value_name = "ID", value_parser = parse_id, required_unless_present = "batch", conflicts_with = "batch")]
    ids: Vec<Id>,

    /// A batch: its zip, every experiment's files in a folder each
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    batch: Option<Id>,

    /// Where to put them
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool cancel`.
#[derive(Debug, Args)]
pub struct Cancel {
    /// The experiments' ids
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    ids: Vec<Id>,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool retry`.
#[derive(Debug, Args)]
pub struct Retry {
    /// The experiment's id
    #[arg(value_name = "ID", value_parser = parse_id)]
    id: Id,

    /// Follows the new experiment to its end; exits 0 if it completed
    #[arg(long)]
    wait: bool,

    /// Prints the new record (JSON) instead of its id
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

/// `seqspool queue`.
#[derive(Debug, Args)]
pub struct Queue {
    #[command(subcommand)]
    action: Option<QueueAction>,

    /// Prints the queue as the server gives it (JSON)
    #[arg(long, global = true)]
    json: bool,

    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Subcommand)]
enum QueueAction {
    /// Nothing new starts (the running experiment finishes); for an admin
    Pause {
        /// Why, for everyone who sees the queue
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Lifts the pause, whoever set it; for an admin
    Resume,
}

fn parse_id(text: &str) -> Result<Id, String> {
    text.parse()
        .map_err(|()| format!("'{text}' is not an experiment id (digits, as 000042)"))
}

fn parse_state(text: &str) -> Result<State, String> {
    text.parse().map_err(|()| {
        let names: Vec<&str> = State::ALL.iter().map(|state| state.as_str()).collect();
        format!("'{text}' is not a state: {}", names.join(", "))
    })
}

/// Runs a client command.
pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Submit(submit) => run_submit(submit),
        Command::Status(status) => {
            let server = status.connection.server()?;
            let (found, failures) = listing::status(&server, &status.ids);
            show(&found, status.json)?;
            all_but_the_last_printed(failures)
        }
        Command::List(list) => {
            let server = list.connection.server()?;
            let filter = Filter {
                state: list.state,
                mine: list.mine,
                batch: list.batch,
                limit: list.limit as usize,
            };
            let (found, more) = listing::list(&server, &filter)?;
            show(&found, list.json)?;
            if more {
                eprintln!("(the newest {} shown; --limit N for more)", found.len());
            }
            Ok(())
        }
        Command::Wait(wait) => {
            let server = wait.connection.server()?;
            let target = match (wait.batch, wait.ids.as_slice()) {
                (Some(batch), _) => Target::Batch(batch),
                (None, [one]) => Target::One(*one, None),
                (None, ids) => Target::Ids(ids.to_vec()),
            };
            let records = follow::follow(&server, target)?;
            if wait.json {
                print(&listing::json(&records))?;
            }
            finish(&records)
        }
        Command::Results(results) => run_results(results),
        Command::Cancel(command) => {
            let server = command.connection.server()?;
            let mut failures = Vec::new();
            for id in command.ids {
                match cancel::cancel(&server, id) {
                    Ok(Canceled::Now(seen)) => print(&format!("{id} {}\n", seen.state.as_str()))?,
                    Ok(Canceled::Stopping(_)) => {
                        print(&format!("{id} STOPPING\n"))?;
                        eprintln!("experiment {id} was running: its command is being stopped, and it ends CANCELED in a moment");
                    }
                    Err(failure) => failures.push(failure),
                }
            }
            all_but_the_last_printed(failures)
        }
        Command::Retry(retry) => {
            let server = retry.connection.server()?;
            let seen = cancel::retry(&server, retry.id)?;
            match retry.json {
                true => print(&pretty(&seen.raw))?,
                false => print(&format!("{}\n", seen.id))?,
            }
            if !retry.wait {
                return Ok(());
            }
            let records = follow::follow(&server, Target::One(seen.id, Some(Box::new(seen))))?;
            finish(&records)
        }
        Command::Queue(command) => {
            let server = command.connection.server()?;
            let answer = match &command.action {
                None => queue::show(&server)?,
                Some(QueueAction::Pause { reason }) => queue::pause(&server, reason.as_deref())?,
                Some(QueueAction::Resume) => queue::resume(&server)?,
            };
            match command.json {
                true => print(&pretty(&answer)),
                false => print(&queue::describe(&answer)),
            }
        }
    }
}

fn run_submit(command: Submit) -> Result<(), Failure> {
    let server = command.connection.server()?;
    let input = match (command.file, command.sequence) {
        (_, Some(sequence)) => Input::Sequence {
            name: command.name,
            sequence,
        },
        (Some(file), None) if file.as_os_str() == "-" => Input::Stdin,
        (Some(file), None) => Input::File(file),
        (None, None) => unreachable!("clap requires a file or --sequence"),
    };
    let answer = submit::submit(
        &server,
        Submission {
            input,
            pipeline: command.pipeline,
            params: command.params,
            notify_url: command.notify,
        },
    )?;
    let (batch, seen) = Seen::all_of(&answer)?;
    if command.json {
        print(&pretty(&answer))?;
    } else {
        let ids: String = seen.iter().map(|seen| format!("{}\n", seen.id)).collect();
        print(&ids)?;
    }
    if let Some(batch) = batch {
        eprintln!(
            "batch {batch}: {} experiments; `seqspool results --batch {batch}` fetches their zip once they end",
            seen.len()
        );
    }
    if !command.wait {
        return Ok(());
    }
    let target = match (batch, seen.len()) {
        (Some(batch), _) => Target::Batch(batch),
        (None, 1) => Target::One(seen[0].id, seen.into_iter().next().map(Box::new)),
        (None, _) => Target::Ids(seen.iter().map(|seen| seen.id).collect()),
    };
    let records = follow::follow(&server, target)?;
    finish(&records)
}

fn run_results(command: Results) -> Result<(), Failure> {
    let server = command.connection.server()?;
    if let Some(batch) = command.batch {
        let (path, progress) = results::batch(&server, batch, &command.out)?;
        print(&format!("{}\n", path.display()))?;
        if progress.complete < progress.total {
            return Err(Failure::Experiments(format!(
                "{} of the {} experiments of batch {batch} did not complete (their files are in the zip too); \
                 `seqspool list --batch {batch}` says which",
                progress.total - progress.complete,
                progress.total
            )));
        }
        return Ok(());
    }
    let mut fetched = Vec::new();
    let mut failures = Vec::new();
    for id in command.ids {
        match results::experiment(&server, id, &command.out) {
            Ok((seen, files)) => {
                let paths: String = files
                    .iter()
                    .map(|path| format!("{}\n", path.display()))
                    .collect();
                print(&paths)?;
                fetched.push(seen);
            }
            Err(failure) => failures.push(failure),
        }
    }
    all_but_the_last_printed(failures)?;
    follow::outcome(&fetched).map(|_| ())
}

/// Says how the experiments followed ended: a line on standard error when
/// all completed, else the failure that names the others.
fn finish(records: &[Seen]) -> Result<(), Failure> {
    let line = follow::outcome(records)?;
    eprintln!("{line}");
    Ok(())
}

/// Records as a table (aligned on a terminal, tab-separated on a pipe) or JSON.
fn show(records: &[Seen], json: bool) -> Result<(), Failure> {
    if json {
        return print(&listing::json(records));
    }
    let aligned = std::io::stdout().is_terminal();
    print(&listing::table(records, Timestamp::now(), aligned))
}

/// Prints every failure but the last, which is returned (for the binary to
/// print and exit with its code).
fn all_but_the_last_printed(mut failures: Vec<Failure>) -> Result<(), Failure> {
    let Some(last) = failures.pop() else {
        return Ok(());
    };
    for failure in failures {
        eprintln!("seqspool: {failure}");
    }
    Err(last)
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Writes `text` to standard output; a reader that stopped early (`| head`)
/// is no failure.
fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Usage(format!("writing to standard output: {err}")))
        }
        _ => Ok(()),
    }
}
