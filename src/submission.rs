//! One parser for every submission body, used by every route that takes one.
//!
//! A submission arrives as a form, JSON, a FASTA file as the whole body, or a
//! multipart form with a file picker. Each is read once, into the fields the
//! client sent (which a page shows again when the submission fails) and the
//! [`Query`] values they make, all or none. Whatever the format, a field
//! given twice is refused rather than one of its values silently kept.

use std::fmt;

use bytes::Bytes;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::Error;
use crate::query::{self, Limits, Query};

/// The formats a submission body may come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/x-www-form-urlencoded`: `curl -d`, a plain HTML form.
    Form,
    /// `application/json`: `{"query_name": ..., "query_sequence": ...}`.
    Json,
    /// `multipart/form-data`: a browser form with a file picker, or `curl -F file=@plate.fasta`.
    Multipart,
    /// `text/x-fasta` or `application/x-fasta`: a FASTA file as the whole body,
    /// as `curl --data-binary @plate.fasta` sends it.
    Fasta,
}

impl Format {
    /// Every format; a route takes some of them.
    pub const ALL: [Format; 4] = [Format::Form, Format::Json, Format::Multipart, Format::Fasta];

    /// The media types that name this format.
    fn media_types(self) -> &'static [&'static str] {
        match self {
            Format::Form => &["application/x-www-form-urlencoded"],
            Format::Json => &["application/json"],
            Format::Multipart => &["multipart/form-data"],
            // The other name FASTA goes by: clients use both.
            Format::Fasta => &["text/x-fasta", "application/x-fasta"],
        }
    }

    /// The format of a body whose media type is `media`, if `accepted` holds it.
    pub fn of(media: &str, accepted: &[Format]) -> Result<Format, Error> {
        accepted
            .iter()
            .copied()
            .find(|format| format.media_types().contains(&media))
            .ok_or_else(|| {
                let names: Vec<&str> = accepted
                    .iter()
                    .flat_map(|format| format.media_types())
                    .copied()
                    .collect();
                Error::UnsupportedFormat(format!(
                    "content type '{media}' is not taken here; send {}",
                    names.join(" or ")
                ))
            })
    }
}

/// The text fields a submission carries, as the client sent them.
#[derive(Debug, Default, Deserialize)]
pub struct Fields {
    pub query_name: Option<String>,
    pub query_sequence: Option<String>,
}

/// The text fields of a form or a JSON object, and the first of them given
/// twice: noticed while reading, since a map of the values (JSON's
/// `Value::Object`, say) would keep only the last one without a word.
struct Sent {
    fields: Fields,
    twice: Option<&'static str>,
}

impl<'de> Deserialize<'de> for Sent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sent, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Sent;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with query_name and query_sequence")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sent, A::Error> {
                let mut sent = Sent {
                    fields: Fields::default(),
                    twice: None,
                };
                let (mut name, mut sequence) = (false, false);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let (field, slot, seen) = match &*key {
                        "query_name" => ("query_name", &mut sent.fields.query_name, &mut name),
                        "query_sequence" => (
                            "query_sequence",
                            &mut sent.fields.query_sequence,
                            &mut sequence,
                        ),
                        // Not ours to judge: a submit button's value and the like.
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if *seen {
                        sent.twice.get_or_insert(field);
                    }
                    *seen = true;
                    *slot = map.next_value()?;
                }
                Ok(sent)
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

impl Sent {
    /// The fields, unless one was given twice; `format` names the body in the error.
    fn fields(self, format: &str) -> Result<Fields, Error> {
        match self.twice {
            Some(field) => Err(given_twice(format, field)),
            None => Ok(self.fields),
        }
    }
}

/// The error for a field given twice, whichever format the body came in.
fn given_twice(format: &str, field: &str) -> Error {
    Error::Malformed(format!(
        "malformed {format}: the field '{field}' is given twice; send each field once"
    ))
}

/// A body without its UTF-8 byte-order mark, which editors on Windows write.
fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// A submission read: what the client sent, and the queries it makes.
#[derive(Debug)]
pub struct Submission {
    /// The text fields, as far as they could be read (also when `queries` failed).
    pub fields: Fields,
    pub queries: Result<Vec<Query>, Error>,
}

impl Submission {
    /// A submission that could not be read at all.
    pub fn failed(err: Error) -> Submission {
        Submission {
            fields: Fields::default(),
            queries: Err(err),
        }
    }
}

/// Bodies from which parsing moves to the blocking pool: a plate of thousands
/// of records takes milliseconds to check, which must not be taken from a
/// thread that answers other clients meanwhile; a single sequence takes
/// microseconds, less than the hand-over would.
const PARSE_INLINE_BELOW: usize = 64 * 1024;

/// Reads a submission body in `format`; `content_type` is the whole header
/// (a multipart body's boundary is in it).
pub async fn parse(format: Format, content_type: &str, body: Bytes, limits: Limits) -> Submission {
    if format != Format::Multipart && body.len() < PARSE_INLINE_BELOW {
        return parse_now(format, content_type, body, &limits);
    }
    let content_type = content_type.to_owned();
    tokio::task::spawn_blocking(move || parse_now(format, &content_type, body, &limits))
        .await
        .unwrap_or_else(|err| {
            Submission::failed(Error::Internal(format!("parsing a submission: {err}")))
        })
}

fn parse_now(format: Format, content_type: &str, body: Bytes, limits: &Limits) -> Submission {
    match format {
        Format::Form => from_fields(parse_form(&body), limits),
        Format::Json => from_fields(parse_json(&body), limits),
        Format::Fasta => Submission {
            fields: Fields::default(),
            queries: parse_fasta_body(&body, limits),
        },
        // Multipart is parsed with multer's async API, over the runtime's handle:
        // only ever on the blocking pool, where waiting on it is allowed.
        Format::Multipart => parse_multipart(body, content_type, limits),
    }
}

fn from_fields(fields: Result<Fields, Error>, limits: &Limits) -> Submission {
    match fields {
        Err(err) => Submission::failed(err),
        Ok(fields) => {
            let queries = query::parse_submission(
                fields.query_name.as_deref(),
                fields.query_sequence.as_deref(),
                limits,
            );
            Submission { fields, queries }
        }
    }
}

fn parse_fasta_body(body: &[u8], limits: &Limits) -> Result<Vec<Query>, Error> {
    let text = std::str::from_utf8(body).map_err(|err| {
        Error::Malformed(format!(
            "the FASTA body is not UTF-8 text (a bad byte at offset {}); send a plain-text FASTA file",
            err.valid_up_to()
        ))
    })?;
    query::parse_fasta(text, limits)
}

/// Reads a form-encoded body strictly: a field that is not UTF-8 once
/// percent-decoded is refused, not replaced with U+FFFD, and so is a field given twice.
fn parse_form(body: &[u8]) -> Result<Fields, Error> {
    let text = std::str::from_utf8(strip_bom(body))
        .map_err(|_| Error::Malformed("the form is not valid UTF-8".into()))?;
    for piece in text.split('&').flat_map(|pair| pair.split('=')) {
        if crate::http::negotiate::percent_decode(&piece.replace('+', " ")).is_none() {
            return Err(Error::Malformed(format!(
                "malformed form: '{piece}' is not valid percent-encoded UTF-8"
            )));
        }
    }
    serde_urlencoded::from_str::<Sent>(text)
        .map_err(|err| Error::Malformed(format!("malformed form: {err}")))?
        .fields("form")
}

/// Reads a JSON body, which must be an object with the fields by name, each
/// given once; a byte-order mark before it is dropped.
fn parse_json(body: &[u8]) -> Result<Fields, Error> {
    let body = strip_bom(body);
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Still read it, so that broken JSON is told as such.
        serde_json::from_slice::<IgnoredAny>(body)
            .map_err(|err| Error::Malformed(format!("malformed JSON: {err}")))?;
        return Err(Error::Malformed(
            "malformed JSON: send an object, {\"query_name\": ..., \"query_sequence\": ...}".into(),
        ));
    }
    serde_json::from_slice::<Sent>(body)
        .map_err(|err| Error::Malformed(format!("malformed JSON: {err}")))?
        .fields("JSON")
}

/// Reads a form upload: a FASTA file (the part named `file` or `fasta`, or any
/// part with a file name) whose records are the queries, or, when no file was
/// chosen, the `query_name` and `query_sequence` text fields the same form
/// carries, read as a form-encoded submission would be.
fn parse_multipart(body: Bytes, content_type: &str, limits: &Limits) -> Submission {
    let mut fields = Fields::default();
    let mut files = Vec::new();
    // The body is in memory already, within --max-body: multer reads it as a
    // one-chunk stream. This runs on the blocking pool, where waiting on the
    // runtime's handle is allowed.
    let read = tokio::runtime::Handle::current().block_on(read_parts(
        body,
        content_type,
        &mut fields,
        &mut files,
    ));
    let queries = read.and_then(|()| queries_of_upload(&fields, &files, limits));
    Submission { fields, queries }
}

async fn read_parts(
    body: Bytes,
    content_type: &str,
    fields: &mut Fields,
    files: &mut Vec<Bytes>,
) -> Result<(), Error> {
    let malformed =
        |err: multer::Error| Error::Malformed(format!("malformed multipart form: {err}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let chunks = http_body_util::BodyExt::into_data_stream(http_body_util::Full::new(body));
    let mut form = multer::Multipart::new(chunks, boundary);
    while let Some(part) = form.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or_default().to_owned();
        let is_file = part.file_name().is_some() || name == "file" || name == "fasta";
        let data = part.bytes().await.map_err(malformed)?;
        if is_file {
            // A browser sends an empty part (filename="") when no file was chosen.
            if !data.is_empty() {
                files.push(data);
            }
            continue;
        }
        let (field, slot) = match name.as_str() {
            "query_name" => ("query_name", &mut fields.query_name),
            "query_sequence" => ("query_sequence", &mut fields.query_sequence),
            // A submit button's value and the like: not ours to judge.
            _ => continue,
        };
        if slot.is_some() {
            return Err(given_twice("multipart form", field));
        }
        let text = std::str::from_utf8(&data)
            .map_err(|_| Error::Malformed(format!("the form field '{name}' is not valid UTF-8")))?;
        *slot = Some(text.to_owned());
    }
    Ok(())
}

fn queries_of_upload(
    fields: &Fields,
    files: &[Bytes],
    limits: &Limits,
) -> Result<Vec<Query>, Error> {
    let pasted = fields
        .query_sequence
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    match files {
        [] => query::parse_submission(
            fields.query_name.as_deref(),
            fields.query_sequence.as_deref(),
            limits,
        ),
        [_] if pasted => Err(Error::Invalid {
            field: "file",
            msg: "came with a pasted sequence too; send either a FASTA file or a pasted sequence"
                .into(),
        }),
        [file] => {
            let text = std::str::from_utf8(file).map_err(|err| Error::Invalid {
                field: "file",
                msg: format!(
                    "is not UTF-8 text (a bad byte at offset {}); upload a plain-text FASTA file, not a compressed or word-processor one",
                    err.valid_up_to()
                ),
            })?;
            // The records' problems are the file's, whatever field a pasted text would name.
            query::parse_fasta(text, limits).map_err(|err| match err {
                Error::Invalid { msg, .. } => Error::Invalid { field: "file", msg },
                other => other,
            })
        }
        _ => Err(Error::Invalid {
            field: "file",
            msg: format!(
                "{} files were uploaded; send one FASTA file (its records make a batch)",
                files.len()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::AlphabetPolicy;

    const LIMITS: Limits = Limits {
        max_records: 10,
        max_residues: 1000,
        alphabet: AlphabetPolicy::Auto,
    };

    #[test]
    fn formats_are_found_by_media_type_among_those_a_route_takes() {
        assert_eq!(
            Format::of("application/x-fasta", &Format::ALL).unwrap(),
            Format::Fasta
        );
        let err = Format::of("text/plain", &[Format::Form]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "content type 'text/plain' is not taken here; send application/x-www-form-urlencoded"
        );
    }

    #[tokio::test]
    async fn a_multipart_form_keeps_its_fields_even_when_its_sequence_is_refused() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"query_name\"\r\n\r\nmine\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"query_sequence\"\r\n\r\nAC!GT\r\n--b--\r\n";
        let submission = parse(
            Format::Multipart,
            "multipart/form-data; boundary=b",
            Bytes::from(body),
            LIMITS,
        )
        .await;
        assert_eq!(submission.fields.query_name.as_deref(), Some("mine"));
        assert_eq!(submission.fields.query_sequence.as_deref(), Some("AC!GT"));
        assert_eq!(
            submission.queries.unwrap_err().field(),
            Some("query_sequence")
        );
    }

    #[test]
    fn a_field_given_twice_is_refused_in_a_form_and_in_json() {
        let twice = |result: Result<Fields, Error>| match result {
            Err(Error::Malformed(msg)) => msg,
            other => panic!("not refused as malformed: {other:?}"),
        };
        assert_eq!(
            twice(parse_form(b"query_name=a&query_sequence=ACGT&query_name=b")),
            "malformed form: the field 'query_name' is given twice; send each field once"
        );
        assert_eq!(
            twice(parse_json(
                br#"{"query_sequence": "A", "query_name": "a", "query_sequence": "C"}"#
            )),
            "malformed JSON: the field 'query_sequence' is given twice; send each field once"
        );
        // Fields that are not ours may come as they like.
        let fields =
            parse_json(br#"{"query_name": "a", "x": 1, "x": [2], "query_sequence": "C"}"#).unwrap();
        assert_eq!(fields.query_name.as_deref(), Some("a"));
        assert!(parse_form(b"query_name=a&go=1&go=2").is_ok());
    }

    #[test]
    fn json_is_an_object_and_may_start_with_a_byte_order_mark() {
        let fields = parse_json(b"\xEF\xBB\xBF {\"query_name\": \"bom\"}").unwrap();
        assert_eq!(fields.query_name.as_deref(), Some("bom"));
        let fields = parse_form(b"\xEF\xBB\xBFquery_name=bom").unwrap();
        assert_eq!(fields.query_name.as_deref(), Some("bom"));
        for (body, says) in [
            (&b"\"ACGT\""[..], "send an object"),
            (b"[\"q\", \"ACGT\"]", "send an object"),
            (b"{\"query_name\": \"q\", \"query_seq", "EOF"),
            (b"[1,", "EOF"),
            (b"{\"query_name\": 5}", "invalid type"),
        ] {
            let err = parse_json(body).unwrap_err().to_string();
            assert!(
                err.starts_with("malformed JSON: ") && err.contains(says),
                "{err}"
            );
        }
    }
}
