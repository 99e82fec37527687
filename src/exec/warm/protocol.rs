//! The processor's protocol: one request line of JSON on its standard input
//! per experiment, and the answer lines it writes on a descriptor of its own
//! (`{"ready": true}` once, then `{"id": ..., "ok": ...}` for each request),
//! as the README documents them for the lab's tools.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Id;
use crate::pipeline::Params;

/// One request: a line of JSON on the processor's standard input.
#[derive(Serialize)]
pub(super) struct Request<'a> {
    pub(super) id: Id,
    /// The experiment's directory (absolute), where its results go.
    pub(super) dir: &'a Path,
    /// Its `query.fasta`.
    pub(super) query: PathBuf,
    pub(super) query_name: &'a str,
    pub(super) pipeline: &'a str,
    /// Its parameters, by name, as text.
    pub(super) params: &'a Params,
    pub(super) attempt: u32,
}

/// An answer line, as a processor writes it.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    ready: bool,
    id: Option<String>,
    ok: Option<bool>,
    error: Option<String>,
}

/// What an answer line says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// `{"ready": true}`: loaded, and waiting for requests.
    Ready,
    /// `{"id": ..., "ok": true}`, or `"ok": false` with an `"error"`.
    Done {
        id: String,
        result: Result<(), String>,
    },
    /// Anything else, and why it is not an answer.
    Nonsense(String),
}

pub(super) fn read_answer(line: &str) -> Said {
    let answer: Answer = match serde_json::from_str(line) {
        Ok(answer) => answer,
        Err(err) => return Said::Nonsense(err.to_string()),
    };
    match answer {
        Answer {
            id: Some(id),
            ok: Some(ok),
            error,
            ..
        } => Said::Done {
            id,
            result: if ok {
                Ok(())
            } else {
                Err(error.unwrap_or_else(|| "it failed, and gave no reason".into()))
            },
        },
        Answer { ready: true, .. } => Said::Ready,
        _ => Said::Nonsense("an answer has an \"id\" and \"ok\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_the_protocol_says() {
        assert_eq!(read_answer(r#"{"ready": true}"#), Said::Ready);
        assert_eq!(
            read_answer(r#"{"id": "000042", "ok": true}"#),
            Said::Done {
                id: "000042".into(),
                result: Ok(())
            }
        );
        assert_eq!(
            read_answer(r#"{"id": "000042", "ok": false, "error": "no hits table", "extra": 1}"#),
            Said::Done {
                id: "000042".into(),
                result: Err("no hits table".into())
            }
        );
        for nonsense in ["", "ok", r#"{"id": "000042"}"#, r#"{"ok": true}"#, "[1]"] {
            assert!(
                matches!(read_answer(nonsense), Said::Nonsense(_)),
                "{nonsense}"
            );
        }
    }

    #[test]
    fn a_request_is_one_line_of_json() {
        let params: Params = [("k".to_owned(), "5".to_owned())].into();
        let line = serde_json::to_string(&Request {
            id: Id(42),
            dir: Path::new("/data/experiments/000042"),
            query: PathBuf::from("/data/experiments/000042/query.fasta"),
            query_name: "my \"read\"\n",
            pipeline: "kmer",
            params: &params,
            attempt: 1,
        })
        .unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(
            line,
            r#"{"id":"000042","dir":"/data/experiments/000042","query":"/data/experiments/000042/query.fasta","query_name":"my \"read\"\n","pipeline":"kmer","params":{"k":"5"},"attempt":1}"#
        );
    }
}
