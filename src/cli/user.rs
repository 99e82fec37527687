//! `seqspool user add|list|rotate|remove`: the operator's commands for the
//! lab's users, run beside the server (or before it ever ran) on the same
//! experiments directory; the server notices the change by itself.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::access::token;
use crate::access::users::{self, Entry, USERS_FILE};
use crate::access::Role;
use crate::config::Config;
use crate::time::Timestamp;

/// The lab's users and their tokens.
#[derive(Debug, Args)]
#[command(
    after_help = "Run it as the account that runs the server, with the same --experiments \
                  (or SEQSPOOL_EXPERIMENTS, or --config); the running server notices the change."
)]
pub struct Command {
    #[command(subcommand)]
    action: Action,

    // Ids of their own: a global argument takes the value of the top
    // level's argument of the same id (serving's --experiments, with its
    // default), which would pass for one given here and hide the file's.
    /// The server's experiments directory, which holds the users file [default: as the server's]
    #[arg(
        id = "user_experiments",
        long = "experiments",
        env = "SEQSPOOL_EXPERIMENTS",
        global = true,
        value_name = "DIR"
    )]
    experiments: Option<PathBuf>,

    /// The server's configuration file, for the experiments directory it names.
    #[arg(
        id = "user_config",
        long = "config",
        env = "SEQSPOOL_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Adds a user and prints their new token, once: only its hash is kept.
    Add {
        /// A letter, then letters, digits, '.', '_' or '-'.
        name: String,
        /// May cancel anyone's experiments and control the queue.
        #[arg(long)]
        admin: bool,
    },
    /// Lists the users and their roles.
    List,
    /// Gives a user a new token and prints it, once: their old token and
    /// every page they signed in with it stop working; name and role stay.
    Rotate { name: String },
    /// Removes a user: their token and their page sessions stop working.
    Remove { name: String },
}

/// Runs `seqspool user ...`: what it prints for a script on standard
/// output, what it says for a person on standard error.
pub fn run(command: Command) -> Result<(), String> {
    let experiments = experiments_dir(&command)?;
    let path = experiments.join(USERS_FILE);
    match command.action {
        Action::Add { name, admin } => {
            users::check_name(&name)?;
            std::fs::create_dir_all(&experiments)
                .map_err(|err| format!("creating {}: {err}", experiments.display()))?;
            let token = token::new_token().map_err(|err| format!("making a token: {err}"))?;
            let role = if admin { Role::Admin } else { Role::Member };
            users::update(&experiments, |file| {
                if file.users.iter().any(|user| user.name == name) {
                    return Err(format!(
                        "there is a user {name} already; to give them a new token, \
                         `seqspool user rotate {name}`"
                    ));
                }
                file.users.push(Entry {
                    name: name.clone(),
                    role,
                    token_sha256: token::Hash::of(&token).to_hex(),
                    added_at: Timestamp::now(),
                });
                Ok(())
            })?;
            // The token alone on standard output, so a script can take it.
            println!("{token}");
            eprintln!(
                "added {name} ({}) to {}.\nThe token above is shown this once only: give it to {name}. \
                 They paste it into the page's sign-in form, or send it as \
                 `Authorization: Bearer TOKEN`.",
                role.as_str(),
                path.display()
            );
            Ok(())
        }
        Action::List => {
            let file = users::read(&path).map_err(|err| err.to_string())?;
            if file.users.is_empty() {
                eprintln!("no users in {}", path.display());
                return Ok(());
            }
            let width = file
                .users
                .iter()
                .map(|u| u.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!("{:width$}  {:6}  ADDED", "NAME", "ROLE");
            for user in &file.users {
                println!(
                    "{:width$}  {:6}  {}",
                    user.name,
                    user.role.as_str(),
                    user.added_at
                );
            }
            Ok(())
        }
        Action::Rotate { name } => {
            if !path.exists() {
                return Err(format!("no user {name}: there is no {}", path.display()));
            }
            let token = token::new_token().map_err(|err| format!("making a token: {err}"))?;
            let role = users::update(&experiments, |file| {
                let user = file
                    .users
                    .iter_mut()
                    .find(|user| user.name == name)
                    .ok_or_else(|| format!("no user {name} in {}", path.display()))?;
                user.token_sha256 = token::Hash::of(&token).to_hex();
                Ok(user.role)
            })?;
            println!("{token}");
            eprintln!(
                "gave {name} ({}) a new token in {}.\nThe token above is shown this once only: give it to {name}. \
                 Their old token, and the pages they signed in with it, stop working within a second.",
                role.as_str(),
                path.display()
            );
            Ok(())
        }
        Action::Remove { name } => {
            if !path.exists() {
                return Err(format!("no user {name}: there is no {}", path.display()));
            }
            users::update(&experiments, |file| {
                let before = file.users.len();
                file.users.retain(|user| user.name != name);
                if file.users.len() == before {
                    return Err(format!("no user {name} in {}", path.display()));
                }
                Ok(())
            })?;
            eprintln!("removed {name}: their token and page sessions stop working within a second");
            Ok(())
        }
    }
}

/// The experiments directory the server would use: `--experiments`, or
/// `SEQSPOOL_EXPERIMENTS`, or the configuration file's, or the default.
fn experiments_dir(command: &Command) -> Result<PathBuf, String> {
    let mut args: Vec<OsString> = vec!["seqspool".into()];
    if let Some(config) = &command.config {
        args.extend(["--config".into(), config.clone().into_os_string()]);
    }
    if let Some(dir) = &command.experiments {
        args.extend(["--experiments".into(), dir.clone().into_os_string()]);
    }
    match Config::load_from(args) {
        Ok(config) => Ok(config.experiments),
        Err(crate::config::Refused::CommandLine(err)) => Err(err.to_string()),
        Err(crate::config::Refused::File(message)) => Err(message),
    }
}
