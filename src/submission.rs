//! One parser for every submission body, used by every route that takes one.
//!
//! A submission arrives as a form, JSON, a FASTA or FASTQ file as the whole
//! body, or a multipart form with a file picker. Each is read once, into the fields the
//! client sent (which a page shows again when the submission fails), and then
//! into the [`Query`] values they make, the pipeline they name and its
//! checked parameters, all or none. Whatever the format, a field given twice
//! is refused rather than one of its values silently kept, except a
//! parameter that takes several values (the built-in BLAST's databases): a
//! form's checkboxes give it once a box, and its values are joined with
//! commas, as `param.database=a,b` gives them (in JSON, a list).
//!
//! A pipeline is named by `pipeline` (the first offered when none is), and a
//! parameter by `param.NAME` (in JSON, `"params": {"NAME": ...}`); a page
//! that shows every pipeline's fields names them `param.PIPELINE.NAME`, and
//! only the chosen pipeline's are read. `notify_url` asks for the end of
//! each experiment to be posted there (see `notify`). These may come in the
//! URL's query string as well, whatever the body: a FASTA file has no other
//! place for them, and a script uploads every format the same way. A field
//! the URL and the body both give with different values is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::blast;
use crate::error::Error;
use crate::pipeline::{Catalog, Params, Pipeline, RawParams};
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
    /// as `curl --data-binary @plate.fasta` sends it; or a FASTQ file, under
    /// these or `text/x-fastq` and `application/x-fastq` (the text tells
    /// which it is, whatever the name).
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
            // The other names FASTA and FASTQ go by: clients use both.
            Format::Fasta => &[
                "text/x-fasta",
                "application/x-fasta",
                "text/x-fastq",
                "application/x-fastq",
            ],
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
#[derive(Debug, Default)]
pub struct Fields {
    pub query_name: Option<String>,
    pub query_sequence: Option<String>,
    pub pipeline: Option<String>,
    /// `param.NAME` (or `param.PIPELINE.NAME`) fields, by what follows `param.`.
    pub params: RawParams,
    /// The name of the file the sequences came in: an uploaded file part's
    /// `filename`, or a FASTA body's `?name=`.
    pub upload: Option<String>,
    /// Where to post each experiment's end.
    pub notify_url: Option<String>,
    /// The `params` keys given several values (joined with commas in
    /// `params`), and how: allowed only for a parameter that takes several.
    pub several: BTreeMap<String, Several>,
}

/// How a parameter came with several values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Several {
    /// Its field repeated, in the body of this format (a form's checkboxes).
    Repeated(&'static str),
    /// A JSON list.
    List,
}

impl Fields {
    /// Keeps `value` for the parameter `name` (what follows `param.`); a
    /// second value joins the first after a comma, and the name is marked
    /// as given several, in `format`.
    fn add_param(&mut self, name: &str, value: String, format: &'static str) {
        match self.params.get_mut(name) {
            Some(before) => {
                before.push(',');
                before.push_str(&value);
                self.several
                    .entry(name.to_owned())
                    .or_insert(Several::Repeated(format));
            }
            None => {
                self.params.insert(name.to_owned(), value);
            }
        }
    }
}

/// The text fields of a form or a JSON object, and the first of them given
/// twice: noticed while reading, since a map of the values (JSON's
/// `Value::Object`, say) would keep only the last one without a word.
struct Sent {
    fields: Fields,
    twice: Option<String>,
}

impl Sent {
    /// Reads a form or a query string; `format` names it in errors.
    fn from_urlencoded(
        text: &str,
        format: &'static str,
    ) -> Result<Sent, serde_urlencoded::de::Error> {
        serde_urlencoded::from_str::<Shape>(text).map(|shape| shape.0.named(format))
    }

    /// Reads a JSON object.
    fn from_json(body: &[u8]) -> serde_json::Result<Sent> {
        serde_json::from_slice::<Shape>(body).map(|shape| shape.0.named("JSON"))
    }

    /// Marks the repeated parameters as repeated in `format`.
    fn named(mut self, format: &'static str) -> Sent {
        for several in self.fields.several.values_mut() {
            if let Several::Repeated(said) = several {
                *said = format;
            }
        }
        self
    }
}

/// A [`Sent`] as serde reads it, before its format is named.
struct Shape(Sent);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shape, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Shape;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with query_name and query_sequence")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut sent = Sent {
                    fields: Fields::default(),
                    twice: None,
                };
                let mut seen: Vec<String> = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let key: &str = &key;
                    let known = matches!(
                        key,
                        "query_name" | "query_sequence" | "pipeline" | "params" | "notify_url"
                    ) || key.starts_with("param.");
                    if !known {
                        // Not ours to judge: a submit button's value and the like.
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    // A parameter's field may repeat: whether its parameter
                    // takes several values is known once the pipeline is.
                    if seen.iter().any(|s| s == key) && !key.starts_with("param.") {
                        sent.twice.get_or_insert_with(|| key.to_owned());
                    }
                    seen.push(key.to_owned());
                    match key {
                        "query_name" => sent.fields.query_name = map.next_value()?,
                        "query_sequence" => sent.fields.query_sequence = map.next_value()?,
                        "pipeline" => sent.fields.pipeline = map.next_value()?,
                        "notify_url" => sent.fields.notify_url = map.next_value()?,
                        "params" => {
                            let params: BTreeMap<String, Scalar> = map.next_value()?;
                            for (name, value) in params {
                                if value.list {
                                    sent.fields.several.insert(name.clone(), Several::List);
                                }
                                sent.fields.add_param(&name, value.text, "");
                            }
                        }
                        _ => {
                            let name = &key["param.".len()..];
                            let value: Scalar = map.next_value()?;
                            if value.list {
                                sent.fields.several.insert(name.to_owned(), Several::List);
                            }
                            sent.fields.add_param(name, value.text, "");
                        }
                    }
                }
                Ok(Shape(sent))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// A parameter's value, as JSON may give it (a string, a number, a
/// boolean, or a list of them, joined with commas, for a parameter that
/// takes several).
struct Scalar {
    text: String,
    list: bool,
}

impl Scalar {
    fn one(text: String) -> Scalar {
        Scalar { text, list: false }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        struct Value;
        impl<'de> Visitor<'de> for Value {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a parameter's value: a string, a number, true or false, or a list of them",
                )
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::one(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::one(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::one(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::one(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::one(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                let mut values: Vec<String> = Vec::new();
                while let Some(value) = seq.next_element::<Scalar>()? {
                    if value.list {
                        return Err(serde::de::Error::custom(
                            "a parameter's list holds values, not lists",
                        ));
                    }
                    values.push(value.text);
                }
                Ok(Scalar {
                    text: values.join(","),
                    list: true,
                })
            }
        }
        deserializer.deserialize_any(Value)
    }
}

impl Sent {
    /// The fields, unless one was given twice; `format` names the body in the error.
    fn fields(self, format: &str) -> Result<Fields, Error> {
        match self.twice {
            Some(field) => Err(given_twice(format, &field)),
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

/// A submission read: what the client sent, and what it makes.
#[derive(Debug)]
pub struct Submission {
    /// The text fields, as far as they could be read (also when `accepted` failed).
    pub fields: Fields,
    pub accepted: Result<Accepted, Error>,
}

/// What a valid submission makes: queries, to run in a pipeline with parameters.
#[derive(Debug)]
pub struct Accepted {
    pub queries: Vec<Query>,
    pub pipeline: Arc<Pipeline>,
    pub params: Params,
    /// The name of the file they came in, cleaned for showing (see [`upload_name`]).
    pub upload: Option<String>,
    /// Where to post each experiment's end, checked.
    pub notify_url: Option<crate::notify::Endpoint>,
}

impl Submission {
    /// A submission that could not be read at all.
    pub fn failed(err: Error) -> Submission {
        Submission {
            fields: Fields::default(),
            accepted: Err(err),
        }
    }
}

/// Where a submission's sequences are.
pub(crate) enum Source {
    /// In `query_name` and `query_sequence`.
    Fields,
    /// A FASTA or FASTQ text as the whole body.
    Fasta(Bytes),
    /// A FASTA or FASTQ file uploaded in a multipart form.
    File(Bytes),
}

/// Bodies from which parsing moves to the blocking pool: a plate of thousands
/// of records takes milliseconds to check, which must not be taken from a
/// thread that answers other clients meanwhile; a single sequence takes
/// microseconds, less than the hand-over would.
const PARSE_INLINE_BELOW: usize = 64 * 1024;

/// Reads a submission body in `format`; `content_type` is the whole header
/// (a multipart body's boundary is in it), and `query_string` the request's
/// (whose pipeline, parameters, `notify_url` and `name` count for every body).
pub async fn parse(
    format: Format,
    content_type: &str,
    query_string: Option<&str>,
    body: Bytes,
    catalog: Arc<Catalog>,
    limits: Limits,
) -> Submission {
    if format != Format::Multipart && body.len() < PARSE_INLINE_BELOW {
        return parse_now(format, content_type, query_string, body, &catalog, &limits);
    }
    let content_type = content_type.to_owned();
    let query_string = query_string.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        parse_now(
            format,
            &content_type,
            query_string.as_deref(),
            body,
            &catalog,
            &limits,
        )
    })
    .await
    .unwrap_or_else(|err| {
        Submission::failed(Error::Internal(format!("parsing a submission: {err}")))
    })
}

fn parse_now(
    format: Format,
    content_type: &str,
    query_string: Option<&str>,
    body: Bytes,
    catalog: &Catalog,
    limits: &Limits,
) -> Submission {
    let url = match parse_query_string(query_string) {
        Ok(url) => url,
        Err(err) => return Submission::failed(err),
    };
    let read = match format {
        Format::Form => parse_form(&body).map(|fields| (fields, Source::Fields)),
        Format::Json => parse_json(&body).map(|fields| (fields, Source::Fields)),
        Format::Fasta => Ok((Fields::default(), Source::Fasta(body))),
        // Multipart is parsed with multer's async API, over the runtime's handle:
        // only ever on the blocking pool, where waiting on it is allowed.
        Format::Multipart => parse_multipart(body, content_type),
    };
    match read {
        Err(err) => Submission::failed(err),
        Ok((mut fields, source)) => {
            let accepted = fields
                .add_url(url, format)
                .and_then(|()| accept(&fields, source, catalog, limits));
            Submission { fields, accepted }
        }
    }
}

impl Fields {
    /// Adds the fields the request's URL gives (`pipeline`, `param.NAME`,
    /// `notify_url`, `name`) to those of its `format` body: they count for
    /// every body, as they must for a FASTA file, which has no fields of its
    /// own. A field both give is refused unless they give the same value:
    /// neither silently wins.
    fn add_url(&mut self, url: Fields, format: Format) -> Result<(), Error> {
        let body = match format {
            Format::Form => "the form",
            Format::Json => "the JSON body",
            Format::Multipart => "the multipart form",
            Format::Fasta => "the body",
        };
        let conflict = |field: String, in_url: &str, in_body: &str| Error::Invalid {
            field: field.into(),
            msg: format!(
                "the URL gives '{in_url}' and {body} gives '{in_body}'; give it in one place"
            ),
        };
        for (field, mine, theirs) in [
            ("pipeline", &mut self.pipeline, url.pipeline),
            ("notify_url", &mut self.notify_url, url.notify_url),
            ("name", &mut self.upload, url.upload),
        ] {
            let Some(in_url) = theirs else { continue };
            match mine {
                Some(given) if *given != in_url => {
                    return Err(conflict(field.into(), &in_url, given))
                }
                _ => *mine = Some(in_url),
            }
        }
        for (name, several) in url.several {
            self.several.entry(name).or_insert(several);
        }
        for (name, in_url) in url.params {
            match self.params.get(&name) {
                Some(given) if *given != in_url => {
                    return Err(conflict(format!("param.{name}"), &in_url, given))
                }
                _ => {
                    self.params.insert(name, in_url);
                }
            }
        }
        Ok(())
    }
}

/// Makes the queries of `source`, in the pipeline `fields` names, and checks
/// that the pipeline takes them and the parameters.
pub(crate) fn accept(
    fields: &Fields,
    source: Source,
    catalog: &Catalog,
    limits: &Limits,
) -> Result<Accepted, Error> {
    let pipeline = catalog.choose(fields.pipeline.as_deref())?;
    let (queries, field) = match source {
        Source::Fields => (
            query::parse_submission(
                fields.query_name.as_deref(),
                fields.query_sequence.as_deref(),
                limits,
            )?,
            "query_sequence",
        ),
        Source::Fasta(body) => {
            let text = std::str::from_utf8(&body).map_err(|err| {
                Error::Malformed(format!(
                    "the body is not UTF-8 text (a bad byte at offset {}); send a plain-text FASTA or FASTQ file, not a compressed one",
                    err.valid_up_to()
                ))
            })?;
            (query::parse_records(text, limits)?, "query_sequence")
        }
        Source::File(file) => (parse_file(&file, limits)?, "file"),
    };
    for (number, query) in queries.iter().enumerate() {
        if let Err(mut msg) = pipeline.takes(query.alphabet()) {
            let fits = would_take(catalog, &pipeline, fields, &queries)
                .or_else(|| blast::programs::fitting(&pipeline, query.alphabet()));
            if let Some(fits) = fits {
                msg = format!("{msg}; {fits}");
            }
            let which = if queries.len() > 1 {
                format!("record {} ({}): ", number + 1, query.name())
            } else {
                String::new()
            };
            let why = query
                .notes()
                .first()
                .map_or(String::new(), |note| format!(" ({note})"));
            return Err(Error::Invalid {
                field: field.into(),
                msg: format!("{which}{msg}{why}"),
            });
        }
    }
    let mut own = RawParams::new();
    for (key, value) in &fields.params {
        let name = match key.split_once('.') {
            // One pipeline's field, on a page that shows them all.
            Some((name, param)) if name == pipeline.name => param,
            Some(_) => continue,
            None => key,
        };
        if let Some(several) = fields.several.get(key) {
            let takes_several = pipeline
                .params
                .iter()
                .any(|param| param.name == name && param.takes_several());
            if !takes_several {
                return Err(match several {
                    Several::Repeated(format) => given_twice(format, &format!("param.{key}")),
                    Several::List => Error::Invalid {
                        field: format!("param.{name}").into(),
                        msg: "is given a list, and takes one value; only a parameter that takes several (such as the built-in BLAST's database) takes a list".into(),
                    },
                });
            }
        }
        if own
            .insert(name.to_owned(), value.clone())
            .is_some_and(|before| before != *value)
        {
            return Err(Error::Invalid {
                field: format!("param.{name}").into(),
                msg: format!(
                    "is given as param.{name} and as param.{}.{name}, with different values; give it once",
                    pipeline.name
                ),
            });
        }
    }
    let params = pipeline.check_params(&own).map_err(|err| match err {
        Error::Invalid { field, msg } => {
            let fits = would_take(catalog, &pipeline, fields, &queries);
            let msg = fits.map_or_else(|| msg.clone(), |fits| format!("{msg}; {fits}"));
            Error::Invalid { field, msg }
        }
        other => other,
    })?;
    // An empty field is no URL: a form sends one when it was left blank.
    let notify_url = fields
        .notify_url
        .as_deref()
        .filter(|url| !url.is_empty())
        .map(crate::notify::check_url)
        .transpose()?;
    Ok(Accepted {
        queries,
        pipeline,
        params,
        upload: fields.upload.as_deref().and_then(upload_name),
        notify_url,
    })
}

/// Another pipeline offered that would take what `refused` did not: every
/// query's alphabet and the parameters given (the bare ones and those
/// named for `refused`), in words; none when no parameter was given, since
/// then any pipeline of the right alphabet would, and saying so is the
/// refused pipeline's own business (`blast::programs::fitting`).
fn would_take(
    catalog: &Catalog,
    refused: &Pipeline,
    fields: &Fields,
    queries: &[Query],
) -> Option<String> {
    let given: RawParams = (fields.params.iter())
        .filter_map(|(key, value)| match key.split_once('.') {
            Some((name, param)) if name == refused.name => Some((param, value)),
            Some(_) => None,
            None => Some((key.as_str(), value)),
        })
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect();
    if given.is_empty() {
        return None;
    }
    let pipelines = catalog.pipelines();
    let other = pipelines.iter().find(|other| {
        other.name != refused.name
            && queries
                .iter()
                .all(|query| other.takes(query.alphabet()).is_ok())
            && other.check_params(&given).is_ok()
    })?;
    Some(format!(
        "{} would take it with these parameters ({})",
        other.name, other.title
    ))
}

/// The longest upload name kept, in characters: a file name, not a document.
const MAX_UPLOAD_NAME: usize = 120;

/// An uploaded file's name as the pages show it and the records keep it:
/// its last path component (old browsers send `C:\Users\...\plate.fasta`),
/// without control characters, at most [`MAX_UPLOAD_NAME`] characters;
/// `None` when nothing is left. It is only ever shown, never used as a path.
pub fn upload_name(sent: &str) -> Option<String> {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or(sent);
    let name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_UPLOAD_NAME)
        .collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Reads the pipeline, parameters, `notify_url` and file name (`name`) a
/// request's query string gives.
fn parse_query_string(query_string: Option<&str>) -> Result<Fields, Error> {
    #[derive(Deserialize)]
    struct Named {
        name: Option<String>,
    }
    let text = query_string.unwrap_or("");
    let malformed = |err: serde_urlencoded::de::Error| {
        if err.to_string().contains("duplicate field") {
            given_twice("query string", "name")
        } else {
            Error::Malformed(format!("malformed query string: {err}"))
        }
    };
    let mut fields = Sent::from_urlencoded(text, "query string")
        .map_err(malformed)?
        .fields("query string")?;
    fields.upload = serde_urlencoded::from_str::<Named>(text)
        .map_err(malformed)?
        .name;
    Ok(fields)
}

/// Reads a form-encoded body strictly: a field that is not UTF-8 once
/// percent-decoded is refused, not replaced with U+FFFD, and so is a field given twice.
pub fn parse_form(body: &[u8]) -> Result<Fields, Error> {
    let text = std::str::from_utf8(strip_bom(body))
        .map_err(|_| Error::Malformed("the form is not valid UTF-8".into()))?;
    for piece in text.split('&').flat_map(|pair| pair.split('=')) {
        if crate::http::percent::decode(&piece.replace('+', " ")).is_none() {
            return Err(Error::Malformed(format!(
                "malformed form: '{piece}' is not valid percent-encoded UTF-8"
            )));
        }
    }
    Sent::from_urlencoded(text, "form")
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
    Sent::from_json(body)
        .map_err(|err| Error::Malformed(format!("malformed JSON: {err}")))?
        .fields("JSON")
}

/// Reads a form upload: a FASTA file (the part named `file` or `fasta`, or any
/// part with a file name) whose records are the queries, or, when no file was
/// chosen, the `query_name` and `query_sequence` text fields the same form
/// carries, read as a form-encoded submission would be.
fn parse_multipart(body: Bytes, content_type: &str) -> Result<(Fields, Source), Error> {
    let mut fields = Fields::default();
    let mut files = Vec::new();
    // The body is in memory already, within --max-body: multer reads it as a
    // one-chunk stream. This runs on the blocking pool, where waiting on the
    // runtime's handle is allowed.
    tokio::runtime::Handle::current().block_on(read_parts(
        body,
        content_type,
        &mut fields,
        &mut files,
    ))?;
    let pasted = fields
        .query_sequence
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    let source =
        match files.len() {
            0 => Source::Fields,
            1 if pasted => return Err(Error::Invalid {
                field: "file".into(),
                msg:
                    "came with a pasted sequence too; send either a FASTA file or a pasted sequence"
                        .into(),
            }),
            1 => Source::File(files.remove(0)),
            n => {
                return Err(Error::Invalid {
                    field: "file".into(),
                    msg: format!(
                        "{n} files were uploaded; send one FASTA file (its records make a batch)"
                    ),
                })
            }
        };
    Ok((fields, source))
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
        let file_name = part.file_name().map(str::to_owned);
        let data = part.bytes().await.map_err(malformed)?;
        if is_file {
            // A browser sends an empty part (filename="") when no file was chosen.
            if !data.is_empty() {
                files.push(data);
                fields.upload = file_name;
            }
            continue;
        }
        let slot = match name.as_str() {
            "query_name" => &mut fields.query_name,
            "query_sequence" => &mut fields.query_sequence,
            "pipeline" => &mut fields.pipeline,
            "notify_url" => &mut fields.notify_url,
            param if param.starts_with("param.") => {
                let text = std::str::from_utf8(&data).map_err(|_| {
                    Error::Malformed(format!("the form field '{name}' is not valid UTF-8"))
                })?;
                fields.add_param(&param["param.".len()..], text.to_owned(), "multipart form");
                continue;
            }
            // A submit button's value and the like: not ours to judge.
            _ => continue,
        };
        if slot.is_some() {
            return Err(given_twice("multipart form", &name));
        }
        let text = std::str::from_utf8(&data)
            .map_err(|_| Error::Malformed(format!("the form field '{name}' is not valid UTF-8")))?;
        *slot = Some(text.to_owned());
    }
    Ok(())
}

/// The queries of an uploaded FASTA or FASTQ file: its problems are the file's,
/// whatever field a pasted text would name.
fn parse_file(file: &[u8], limits: &Limits) -> Result<Vec<Query>, Error> {
    let text = std::str::from_utf8(file).map_err(|err| Error::Invalid {
        field: "file".into(),
        msg: format!(
            "is not UTF-8 text (a bad byte at offset {}); upload a plain-text FASTA or FASTQ file, not a compressed or word-processor one",
            err.valid_up_to()
        ),
    })?;
    query::parse_records(text, limits).map_err(|err| match err {
        Error::Invalid { msg, .. } => Error::Invalid {
            field: "file".into(),
            msg,
        },
        other => other,
    })
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
        let catalog = Arc::new(Catalog::new(vec![Arc::new(
            crate::pipeline::Pipeline::analysis(),
        )]));
        let submission = parse(
            Format::Multipart,
            "multipart/form-data; boundary=b",
            None,
            Bytes::from(body),
            catalog,
            LIMITS,
        )
        .await;
        assert_eq!(submission.fields.query_name.as_deref(), Some("mine"));
        assert_eq!(submission.fields.query_sequence.as_deref(), Some("AC!GT"));
        assert_eq!(
            submission.accepted.unwrap_err().field(),
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

    #[test]
    fn an_upload_keeps_its_file_name_without_its_path() {
        assert_eq!(upload_name("plate7.fasta").as_deref(), Some("plate7.fasta"));
        assert_eq!(
            upload_name("C:\\Users\\lab\\plate 7.fa").as_deref(),
            Some("plate 7.fa")
        );
        assert_eq!(upload_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(upload_name("a\u{7}b\n").as_deref(), Some("ab"));
        assert_eq!(upload_name(" \t "), None);
        assert_eq!(upload_name("dir/"), None);
        assert_eq!(
            upload_name(&"x".repeat(500)).unwrap().chars().count(),
            MAX_UPLOAD_NAME
        );
    }

    #[test]
    fn a_fasta_body_names_its_file_once_in_the_query_string() {
        let fields = parse_query_string(Some("pipeline=p&name=plate%207.fasta")).unwrap();
        assert_eq!(fields.upload.as_deref(), Some("plate 7.fasta"));
        assert_eq!(fields.pipeline.as_deref(), Some("p"));
        assert_eq!(parse_query_string(None).unwrap().upload, None);
        match parse_query_string(Some("name=a.fa&name=b.fa")) {
            Err(Error::Malformed(msg)) => assert!(msg.contains("'name' is given twice"), "{msg}"),
            other => panic!("not refused: {other:?}"),
        }
    }
}
