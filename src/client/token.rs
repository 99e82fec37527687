//! The user's token, from `SEQSPOOL_TOKEN` or a file the user names, and
//! never from the command line's arguments: those are visible to everyone
//! on the machine (`ps`, `/proc/PID/cmdline`) and land in shell histories.

use std::path::{Path, PathBuf};

use super::failure::Failure;

/// The variable the token is read from.
pub const VARIABLE: &str = "SEQSPOOL_TOKEN";

/// A user's token, and where it came from (for the message when the server
/// does not take it).
#[derive(Clone)]
pub struct Token {
    value: String,
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    Variable,
    File(PathBuf),
}

impl Token {
    /// The token `file` holds when one is named, else `SEQSPOOL_TOKEN`'s,
    /// else none. A file others may read is used, with a warning.
    pub fn find(file: Option<&Path>) -> Result<Option<Token>, Failure> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|err| {
                Failure::Usage(format!("reading the token file {}: {err}", path.display()))
            })?;
            warn_if_shared(path);
            return Token::of(text.trim(), Source::File(path.to_owned())).map(Some);
        }
        match std::env::var(VARIABLE) {
            Ok(text) if !text.trim().is_empty() => {
                Token::of(text.trim(), Source::Variable).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn of(text: &str, source: Source) -> Result<Token, Failure> {
        // It goes into a header: a line break would end it and start another.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Failure::Usage(format!(
                "{} does not hold a token (ssp_ and 64 hex digits, as `seqspool user add` prints it)",
                source.describe()
            )));
        }
        Ok(Token {
            value: text.to_owned(),
            source,
        })
    }

    /// The `Authorization` header's value.
    pub fn header(&self) -> String {
        format!("Bearer {}", self.value)
    }

    /// Where it came from, in words: `the token in SEQSPOOL_TOKEN`.
    pub fn described(&self) -> String {
        format!("the token {}", self.source.describe_short())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value: a token in a log or a panic is a token given away.
        write!(f, "Token({})", self.source.describe_short())
    }
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Variable => VARIABLE.to_owned(),
            Source::File(path) => format!("the token file {}", path.display()),
        }
    }

    fn describe_short(&self) -> String {
        match self {
            Source::Variable => format!("in {VARIABLE}"),
            Source::File(path) => format!("in {}", path.display()),
        }
    }
}

/// Warns when a token file can be read by others than its owner, as ssh
/// does of a key: anyone who reads it is that user for the server.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "seqspool: warning: others may read the token file {0}; `chmod 600 {0}`",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_one_word_of_visible_characters() {
        let good = Token::of("ssp_0123abcd", Source::Variable).unwrap();
        assert_eq!(good.header(), "Bearer ssp_0123abcd");
        assert!(!format!("{good:?}").contains("0123"));
        for bad in ["", "ssp_01\r\nX-Other: 1", "ssp 01", "ssp_é"] {
            let err = Token::of(bad, Source::File("t".into())).unwrap_err();
            assert_eq!(err.code(), 2, "{bad:?}");
            assert!(err.to_string().contains("the token file t"), "{err}");
        }
    }

    #[test]
    fn a_named_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "ssp_abc\n").unwrap();
        let token = Token::find(Some(&path)).unwrap().unwrap();
        assert_eq!(token.header(), "Bearer ssp_abc");
        assert_eq!(
            token.described(),
            format!("the token in {}", path.display())
        );
        let missing = Token::find(Some(&dir.path().join("none"))).unwrap_err();
        assert_eq!(missing.code(), 2);
    }
}
