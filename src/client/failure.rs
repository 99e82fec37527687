//! What can go wrong for a client command, each kind with its exit code, so
//! that a shell script can tell a failed experiment from a refusal, a
//! refusal from a server that is not there, and all of them from its own
//! mistake on the command line.

use std::fmt;

/// The exit codes of the client commands, as `--help` and the guide list them.
pub const EXIT_CODES: &str = "\
Exit status:
  0  done: every experiment it waited for (or fetched) is COMPLETE
  1  an experiment failed or was cancelled (the summary names each)
  2  a usage error: the command line, a file that cannot be read or written
  3  the server refused (its reason is printed: a token it wants, an unknown id, ...)
  4  the server could not be reached, or the connection broke
  5  an experiment has not finished yet (its results are not all there)";

/// Why a client command did not do all it was asked.
#[derive(Debug)]
pub enum Failure {
    /// Experiments ended other than COMPLETE: the summary of them.
    Experiments(String),
    /// The command line, or a local file.
    Usage(String),
    /// The server answered with an error status.
    Refused {
        /// The server's address.
        server: String,
        status: u16,
        /// The server's own words (`msg`, with its `field`).
        reason: String,
        /// What to do about it, when the client knows.
        hint: Option<String>,
    },
    /// No answer: refused connections, a name that does not resolve, a
    /// connection that broke or timed out.
    Unreachable(String),
    /// An experiment is still queued or running.
    Unfinished(String),
}

impl Failure {
    /// The process's exit code for this failure.
    pub fn code(&self) -> i32 {
        match self {
            Failure::Experiments(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Refused { .. } => 3,
            Failure::Unreachable(_) => 4,
            Failure::Unfinished(_) => 5,
        }
    }

    /// Whether the server said there is no such thing (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Refused { status: 404, .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Experiments(text)
            | Failure::Usage(text)
            | Failure::Unreachable(text)
            | Failure::Unfinished(text) => f.write_str(text),
            Failure::Refused {
                server,
                status,
                reason,
                hint,
            } => {
                write!(f, "{reason} ({status} from {server})")?;
                if let Some(hint) = hint {
                    write!(f, "\n{hint}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_code_and_the_codes_are_listed() {
        let failures = [
            Failure::Experiments(String::new()),
            Failure::Usage(String::new()),
            Failure::Refused {
                server: String::new(),
                status: 404,
                reason: String::new(),
                hint: None,
            },
            Failure::Unreachable(String::new()),
            Failure::Unfinished(String::new()),
        ];
        let codes: Vec<i32> = failures.iter().map(Failure::code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
        for code in codes {
            assert!(EXIT_CODES.contains(&format!("\n  {code}  ")), "{code}");
        }
    }
}
