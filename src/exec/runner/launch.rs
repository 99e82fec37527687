//! How the runner starts a command: as the lab wrote it (a program and its
//! arguments), or a shell line, with `/bin/sh -c` only when the line needs a
//! shell; in a process group of its own, marked, its output into new pipes.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::process::Pid;

use super::PARENT_VAR;
use crate::exec::process::RUN_VAR;
use crate::pipeline::Command as PipelineCommand;

/// Opens (making it, or emptying it) one of an experiment's logs, never through a link.
pub(super) fn open_log(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

pub(super) fn busy(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ResourceBusy, message.to_owned())
}
/// Starts a pipeline's command with `launch`: a program with its arguments
/// as the lab wrote them, a shell line that is one plain program the same
/// way, any other line with `/bin/sh -c`.
pub(super) fn start_command<T>(
    command: &PipelineCommand,
    mut launch: impl FnMut(&mut Command) -> io::Result<T>,
) -> io::Result<T> {
    let line = match command {
        PipelineCommand::Program(words) => {
            // As the lab wrote it: no shell, so a program that is not there is
            // refused (the workstation's to fix).
            let (program, args) = words
                .split_first()
                .ok_or_else(|| io::Error::other("the command names no program"))?;
            return launch(Command::new(program).args(args));
        }
        PipelineCommand::Shell(line) => line,
    };
    if let Some(words) = plain_words(line) {
        match launch(Command::new(words[0]).args(&words[1..])) {
            // Not found, or not executable: the shell says so in the words
            // and with the exit code (127, 126) a user knows.
            Err(err) if is_missing(&err) => {}
            launched => return launched,
        }
    }
    launch(Command::new("/bin/sh").arg("-c").arg(line))
}

/// A started process and our ends of its pipes.
pub(super) struct Launched {
    pub(super) pid: Pid,
    pub(super) stdout: io::PipeReader,
    pub(super) stderr: io::PipeReader,
    /// Its standard input, when it takes one.
    pub(super) stdin: Option<io::PipeWriter>,
}

/// What a launched command reads on its standard input.
pub(super) enum Input {
    /// Nothing (`/dev/null`).
    Null,
    /// A new pipe, whose other end the runner writes.
    Pipe,
    /// A file, from where it stands.
    File(File),
}

/// Starts `command` in `dir` with `env` and the run's `mark`, in a process
/// group of its own, its output into new pipes, and its input as `input` says.
pub(super) fn launch(
    command: &mut Command,
    dir: &std::path::Path,
    env: &[(String, String)],
    mark: &str,
    input: Input,
) -> io::Result<Launched> {
    let (out_read, out_write) = io::pipe()?;
    let (err_read, err_write) = io::pipe()?;
    let (stdin, input) = match input {
        Input::Null => (Stdio::null(), None),
        Input::Pipe => {
            let (read, write) = io::pipe()?;
            (Stdio::from(read), Some(write))
        }
        Input::File(file) => (Stdio::from(file), None),
    };
    let child = command
        .current_dir(dir)
        .env_remove(PARENT_VAR)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(RUN_VAR, mark)
        .stdin(stdin)
        .stdout(out_write)
        .stderr(err_write)
        .process_group(0)
        .spawn()?;
    Ok(Launched {
        pid: Pid::from_child(&child),
        stdout: out_read,
        stderr: err_read,
        stdin: input,
    })
}

/// Whether a program could not be started because it is not there or not
/// executable: the shell's "not found" (127) and "cannot execute" (126).
fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    )
}

/// The words of a command that is one program and its plain arguments, which
/// the shell would run as they are: no quotes, variables, globs, operators or
/// redirections, and a program that is not one of the shell's own builtins or
/// keywords (whose meaning only the shell gives them).
fn plain_words(command: &str) -> Option<Vec<&str>> {
    /// The shell's builtins and reserved words, as POSIX and dash know them.
    const SHELL_WORDS: &[&str] = &[
        "!", ".", ":", "[", "alias", "bg", "break", "case", "cd", "command", "continue", "do",
        "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "fc", "fg", "fi", "for",
        "function", "getopts", "hash", "if", "in", "jobs", "local", "printf", "pwd", "read",
        "readonly", "return", "set", "shift", "test", "then", "times", "trap", "type", "ulimit",
        "umask", "unalias", "unset", "until", "wait", "while", "{", "}", "echo",
    ];
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c);
    let words: Vec<&str> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let first = *words.first()?;
    let usable = words.iter().all(|word| word.chars().all(plain))
        && !SHELL_WORDS.contains(&first)
        && !first.contains('=')
        && !first.starts_with('-');
    usable.then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_program_and_its_plain_arguments_skip_the_shell() {
        assert_eq!(plain_words("true"), Some(vec!["true"]));
        assert_eq!(
            plain_words("/opt/blast/run.sh  -db nt:v5 --evalue=1e-5"),
            Some(vec!["/opt/blast/run.sh", "-db", "nt:v5", "--evalue=1e-5"])
        );
        for shell in [
            "exit 3",
            "echo $HOME",
            "a && b",
            "sleep 1 &",
            "cat < in",
            "ls *.txt",
            "say 'hi'",
            "FOO=1 env",
            "cmd; other",
            "cd /tmp",
            "while true",
            "x\nrm",
            "",
            "~/bin/x",
        ] {
            assert_eq!(plain_words(shell), None, "{shell}");
        }
    }
}
