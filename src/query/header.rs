//! A record's header: its name (the identifier, up to the first white
//! space) and its description, each checked before it is kept. A name goes
//! into a record, a page, a log line and a file name, so none may be long or
//! hold a control or an invisible formatting character; and an error about a
//! record shows only the start of its name, escaped.

use super::{invalid, Limits, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use crate::error::Error;

/// Characters of a name shown in an error message: enough to recognise the
/// record, whatever length the name was sent with.
const NAME_SHOWN_CHARS: usize = 40;

/// A record's header, read: its name and description checked.
pub(super) struct Header<'a> {
    /// The record's place in the file, from 1.
    pub(super) number: usize,
    pub(super) name: &'a str,
    pub(super) description: Option<&'a str>,
}

impl<'a> Header<'a> {
    /// Reads the header of a file's record `number`, `text` (after its `>`
    /// or `@`) on the file's line `line`: one record more than the limit, a
    /// header without a name, or a bad name or description are refused.
    pub(super) fn read(
        number: usize,
        text: &'a str,
        line: usize,
        limits: &Limits,
    ) -> Result<Header<'a>, Error> {
        if number > limits.max_records {
            return Err(Error::TooLarge(format!(
                "the batch holds more than {} records, the most one submission may hold (--max-records)",
                limits.max_records
            )));
        }
        let (name, description) = split_fasta_header(text);
        let at = |problem: String| in_record(number, name, problem);
        let name =
            name.ok_or_else(|| at(format!("line {line}: the header names no identifier")))?;
        check_name(name).map_err(at)?;
        if let Some(description) = description {
            check_description(description).map_err(at)?;
        }
        Ok(Header {
            number,
            name,
            description,
        })
    }

    /// A problem of this record.
    pub(super) fn error(&self, problem: String) -> Error {
        in_record(self.number, Some(self.name), problem)
    }
}

/// A problem of a file's record `number`, named `name` (shortened and
/// escaped for showing).
pub(super) fn in_record(number: usize, name: Option<&str>, problem: String) -> Error {
    let shown = name.map_or_else(|| "unnamed".into(), shown_name);
    invalid(
        "query_sequence",
        format!("record {number} ({shown}): {problem}"),
    )
}

/// A header's identifier (up to the first white space) and the description after it.
pub(super) fn split_fasta_header(header: &str) -> (Option<&str>, Option<&str>) {
    let header = header.trim();
    match header.split_once(char::is_whitespace) {
        Some((id, description)) => (Some(id), Some(description.trim()).filter(|d| !d.is_empty())),
        None => (Some(header).filter(|id| !id.is_empty()), None),
    }
}

pub(super) fn check_name(name: &str) -> Result<(), String> {
    check_text("name", name, MAX_NAME_CHARS, "shorten it")
}

pub(super) fn check_description(description: &str) -> Result<(), String> {
    check_text(
        "description",
        description,
        MAX_DESCRIPTION_CHARS,
        "shorten the header line",
    )
}

/// Checks a name or a description (`what`): at most `max` characters (else
/// `shorten` says what to do), and none that is a control character or an
/// invisible formatting one, which could forge a log line, a terminal's
/// screen or the order text reads in.
fn check_text(what: &str, text: &str, max: usize, shorten: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "the {what} is {chars} characters long; at most {max} are allowed, {shorten}"
        ));
    }
    // A tab is how some tools separate the fields of a FASTA description; it
    // forges nothing there (a name holds none: it would not read as one).
    let tab_allowed = what == "description";
    let unprintable = text
        .chars()
        .enumerate()
        .find(|&(_, c)| (c.is_control() && !(tab_allowed && c == '\t')) || is_invisible(c));
    if let Some((index, c)) = unprintable {
        let kind = if c.is_control() {
            "a control character"
        } else {
            "an invisible formatting or direction character"
        };
        return Err(format!(
            "the {what} holds U+{:04X}, {kind}, at character {}; use printable characters",
            u32::from(c),
            index + 1
        ));
    }
    Ok(())
}

/// Characters that print nothing yet change how the text around them reads:
/// Unicode's format characters (general category Cf: direction marks,
/// overrides and isolates, zero-width spaces and joiners, the byte-order mark,
/// tags, ...) and the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{600}'..='\u{605}'
        | '\u{61C}'
        | '\u{6DD}'
        | '\u{70F}'
        | '\u{890}'..='\u{891}'
        | '\u{8E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// A record's name as an error message shows it: its start only, and any
/// unprintable character written as its escape.
pub(super) fn shown_name(name: &str) -> String {
    let mut shown = String::new();
    for c in name.chars().take(NAME_SHOWN_CHARS) {
        if c.is_control() || is_invisible(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    if name.chars().nth(NAME_SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tests::{message, one, LIMITS};
    use crate::query::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(
            message(one(" ", "ACGT")),
            "query_name: is missing or empty; give the query a name"
        );
        assert_eq!(
            message(one("a\u{7}b", "ACGT")),
            "query_name: the name holds U+0007, a control character, at character 2; \
             use printable characters"
        );
        assert!(message(one(&"x".repeat(257), "ACGT")).contains("at most 256"));
        assert_eq!(
            one("$(touch pwned); `id`", "ACGT").unwrap().name(),
            "$(touch pwned); `id`"
        );
    }

    #[test]
    fn descriptions_are_bounded() {
        let longest = "d".repeat(MAX_DESCRIPTION_CHARS);
        let query = one("q", &format!(">h {longest}\nACGT")).unwrap();
        assert_eq!(query.description(), Some(longest.as_str()));
        let err = one("q", &format!(">h {longest}é\nACGT")).unwrap_err();
        assert_eq!(err.field(), Some("query_sequence"));
        assert_eq!(
            err.to_string(),
            "query_sequence: the description is 1001 characters long; at most 1000 are allowed, \
             shorten the header line"
        );
        let batch = format!(">a\nACGT\n>b {longest}d\nACGT\n");
        assert!(message(parse_fasta(&batch, &LIMITS))
            .starts_with("query_sequence: record 2 (b): the description is 1001 characters long"));
    }

    #[test]
    fn control_and_invisible_characters_are_named_in_names_and_descriptions() {
        for (c, kind) in [
            ('\0', "a control character"),
            ('\u{1b}', "a control character"),
            ('\r', "a control character"),
            ('\u{85}', "a control character"),
            ('\u{202e}', "an invisible formatting or direction character"),
            ('\u{200b}', "an invisible formatting or direction character"),
            ('\u{2067}', "an invisible formatting or direction character"),
            ('\u{feff}', "an invisible formatting or direction character"),
            ('\u{2028}', "an invisible formatting or direction character"),
            (
                '\u{e0041}',
                "an invisible formatting or direction character",
            ),
        ] {
            let code = format!("U+{:04X}, {kind}, at character 3", u32::from(c));
            let name = format!("ab{c}c");
            let err = one(&name, "ACGT").unwrap_err();
            assert_eq!(err.field(), Some("query_name"));
            assert!(
                err.to_string().contains(&format!("the name holds {code}")),
                "{err}"
            );

            // In a header, white space (U+0085 and U+2028 are) ends the name.
            if !c.is_whitespace() {
                let header = format!(">{name}\nACGT");
                let err = parse_submission(None, Some(&header), &LIMITS).unwrap_err();
                assert_eq!(err.field(), Some("query_sequence"), "a name from a header");
                assert!(
                    err.to_string().contains(&format!("the name holds {code}")),
                    "{err}"
                );
            }

            let err = one("q", &format!(">h ab{c}c\nACGT")).unwrap_err();
            assert_eq!(err.field(), Some("query_sequence"));
            assert!(
                err.to_string()
                    .contains(&format!("the description holds {code}")),
                "{err}"
            );

            let err = parse_fasta(&format!(">ok\nA\n>h ab{c}c\nACGT"), &LIMITS).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("record 2 (h): the description holds {code}")),
                "{err}"
            );
        }
        // Printable text of any script is kept as it came.
        let query = one("α-globin", ">h 5′ end — ünïcödé, 日本\r\nACGT").unwrap();
        assert_eq!(query.description(), Some("5′ end — ünïcödé, 日本"));
    }

    #[test]
    fn an_error_shows_only_the_start_of_a_long_or_unprintable_name() {
        let huge = "n".repeat(1_000_000);
        let err = message(parse_fasta(&format!(">{huge}\nACGT\n"), &LIMITS));
        assert!(err.len() < 300, "{} bytes", err.len());
        assert!(
            err.contains(&format!("record 1 ({}…)", "n".repeat(40))),
            "{err}"
        );
        assert!(
            err.contains("the name is 1000000 characters long; at most 256"),
            "{err}"
        );
        let err = message(parse_fasta(">a\u{1b}[2J b\nACGT\n", &LIMITS));
        assert!(err.contains("record 1 (a\\u{1b}[2J)"), "{err}");
    }
}
