//! `seqspool completions SHELL` and `seqspool man`: the shell completions
//! and the manual pages, generated from the one clap definition that
//! `--help` shows, so that neither can say other than the binary does. The
//! Debian package is built with both (`packaging/build-deb.sh`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::Shell;

/// `seqspool completions SHELL`.
#[derive(Debug, Args)]
#[command(after_help = "Install them where the shell looks, for example:
  seqspool completions bash > ~/.local/share/bash-completion/completions/seqspool
  seqspool completions zsh > ~/.zfunc/_seqspool     (with fpath+=~/.zfunc before compinit)
  seqspool completions fish > ~/.config/fish/completions/seqspool.fish
The Debian package installs them for everyone.")]
pub struct Completions {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

/// `seqspool man`.
#[derive(Debug, Args)]
#[command(
    after_help = "`seqspool man | man -l -` reads it now; the Debian package installs every page."
)]
pub struct Man {
    /// Writes every page (seqspool.1, and seqspool-COMMAND.1 for each command) into DIR
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints the completion script of `command.shell`.
pub fn completions(command: &Completions) -> Result<(), String> {
    let mut script = Vec::new();
    clap_complete::generate(
        command.shell,
        &mut super::definition(),
        "seqspool",
        &mut script,
    );
    write_out(&script)
}

/// Prints the manual page of `seqspool`, or writes every page into `--out`.
pub fn man(command: &Man) -> Result<(), String> {
    let mut definition = super::definition().disable_help_subcommand(true);
    definition.build();
    let Some(dir) = &command.out else {
        let mut page = Vec::new();
        page_of(definition)
            .render(&mut page)
            .map_err(|err| format!("writing the manual page: {err}"))?;
        return write_out(&page);
    };
    std::fs::create_dir_all(dir).map_err(|err| format!("creating {}: {err}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(definition, dir, &mut written)?;
    let list: String = written
        .iter()
        .map(|path| format!("{}\n", path.display()))
        .collect();
    write_out(list.as_bytes())
}

/// Writes the page of `command` and of each of its visible commands into `dir`.
fn write_pages(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), String> {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let path = page_of(command)
        .generate_to(dir)
        .map_err(|err| format!("writing a manual page into {}: {err}", dir.display()))?;
    written.push(path);
    Ok(())
}

fn page_of(command: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(command)
        .manual("seqspool manual")
        .source(format!("seqspool {}", env!("CARGO_PKG_VERSION")))
}

/// Writes `bytes` to standard output; a reader that stopped early is no failure.
fn write_out(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing to standard output: {err}"))
        }
        _ => Ok(()),
    }
}
