//! `seqspool submit`: a FASTA or FASTQ file (or standard input) sent as the
//! body of `POST /experiments`, as `curl --data-binary` sends it, or one
//! sequence as a form; the pipeline, its parameters and where to notify go
//! in the query string, which the server reads for every kind of body.

use std::path::PathBuf;

use serde_json::Value;

use super::failure::Failure;
use super::server::{Server, Upload};

/// The media type a file is sent as; the server reads FASTQ under it too
/// (the text says which it is).
const FASTA: &str = "text/x-fasta";

/// What is submitted.
pub enum Input {
    /// A file of one or more records (one record is one experiment; more
    /// are a batch).
    File(PathBuf),
    /// Standard input, read to its end.
    Stdin,
    /// One sequence, named by `name` or by its FASTA header.
    Sequence {
        name: Option<String>,
        sequence: String,
    },
}

/// A submission as the command line gives it.
pub struct Submission {
    pub input: Input,
    pub pipeline: Option<String>,
    /// `param.NAME=VALUE`, as given.
    pub params: Vec<(String, String)>,
    pub notify_url: Option<String>,
}

/// Submits, and returns the server's answer: one record, or a batch's
/// `{"batch", "count", "experiments"}`.
pub fn submit(server: &Server, submission: Submission) -> Result<Value, Failure> {
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(pipeline) = &submission.pipeline {
        query.push(("pipeline".into(), pipeline.clone()));
    }
    for (name, value) in &submission.params {
        query.push((format!("param.{name}"), value.clone()));
    }
    if let Some(url) = &submission.notify_url {
        query.push(("notify_url".into(), url.clone()));
    }
    let upload = match submission.input {
        Input::File(path) => {
            // The file's name is the batch's name on the page and in its downloads.
            if let Some(name) = path.file_name() {
                query.push(("name".into(), name.to_string_lossy().into_owned()));
            }
            let file = std::fs::File::open(&path)
                .map_err(|err| Failure::Usage(format!("reading {}: {err}", path.display())))?;
            if file.metadata().is_ok_and(|meta| meta.is_dir()) {
                return Err(Failure::Usage(format!(
                    "{} is a directory, not a FASTA file",
                    path.display()
                )));
            }
            Upload::File(FASTA, file)
        }
        Input::Stdin => Upload::Stdin(FASTA),
        Input::Sequence { name, sequence } => {
            if name.is_none() && !sequence.trim_start().starts_with('>') {
                return Err(Failure::Usage(
                    "the sequence needs a name: --name NAME, or a FASTA header (>NAME) before it"
                        .to_owned(),
                ));
            }
            let mut form = vec![("query_sequence", sequence)];
            if let Some(name) = name {
                form.push(("query_name", name));
            }
            let body = serde_urlencoded::to_string(&form)
                .map_err(|err| Failure::Usage(format!("the sequence: {err}")))?;
            Upload::Bytes("application/x-www-form-urlencoded", body.into_bytes())
        }
    };
    let mut path = "/experiments".to_owned();
    if !query.is_empty() {
        let encoded = serde_urlencoded::to_string(&query)
            .map_err(|err| Failure::Usage(format!("the parameters: {err}")))?;
        path = format!("{path}?{encoded}");
    }
    let (_, answer) = server.send("POST", &path, Some(upload))?;
    Ok(answer)
}

/// Reads `NAME=VALUE` (a pipeline's parameter on the command line).
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "'{text}' is not NAME=VALUE (a parameter of the pipeline: --param evalue=1e-10)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_a_name_and_a_value() {
        assert_eq!(
            parse_param("evalue=1e-10").unwrap(),
            ("evalue".to_owned(), "1e-10".to_owned())
        );
        assert_eq!(
            parse_param("title=a=b").unwrap(),
            ("title".to_owned(), "a=b".to_owned())
        );
        assert_eq!(parse_param("empty=").unwrap().1, "");
        assert!(parse_param("evalue").is_err());
        assert!(parse_param("=1").is_err());
    }
}
