//! `seqspool results`: an experiment's files into a folder of their own
//! (named as the batch's zip names it, `000042-A01`), or a batch's zip as
//! the server makes it. A file is written beside its place and renamed
//! into it, so a download cut short never leaves half a file under the
//! real name; and no name the server sends is used as a path unless it is
//! one plain file name.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::http::percent::encode_segment;
use crate::model::Id;

use super::failure::Failure;
use super::record::Seen;
use super::server::Server;

/// The most characters of an experiment's name its folder takes, as in the
/// batch's zip.
const FOLDER_NAME_CHARS: usize = 60;

/// Fetches every file of experiment `id` into a folder of its own in `out`;
/// returns its record and the files written. An experiment still queued or
/// running has none fetched: its results are not all there yet.
pub fn experiment(server: &Server, id: Id, out: &Path) -> Result<(Seen, Vec<PathBuf>), Failure> {
    let seen = Seen::of(server.get_json(&format!("/experiments/{id}"))?)?;
    if !seen.is_finished() {
        return Err(Failure::Unfinished(format!(
            "experiment {id} is {}: its results are not all there yet; `seqspool wait {id}` first",
            seen.state.as_str()
        )));
    }
    let folder = out.join(folder(&seen));
    std::fs::create_dir_all(&folder)
        .map_err(|err| Failure::Usage(format!("creating {}: {err}", folder.display())))?;
    let mut written = Vec::new();
    for file in seen.files.iter().flatten() {
        if !is_plain_name(&file.name) {
            eprintln!(
                "seqspool: skipped a file of experiment {id} named {:?}: not a plain file name",
                file.name
            );
            continue;
        }
        let encoded = encode_segment(&file.name);
        let path = folder.join(&file.name);
        save(server, &format!("/experiments/{id}/files/{encoded}"), &path)?;
        written.push(path);
    }
    Ok((seen, written))
}

/// Fetches the zip of batch `batch` into `out`, under the name the server
/// gives it (`plate7-000006.zip`); returns its path and the batch's
/// progress. A batch with experiments still queued or running is not fetched.
pub fn batch(server: &Server, batch: Id, out: &Path) -> Result<(PathBuf, Progress), Failure> {
    let answer = server.get_json(&format!("/batches/{batch}?limit=1"))?;
    let progress = Progress::of(&answer["progress"]);
    if progress.queued + progress.running > 0 {
        return Err(Failure::Unfinished(format!(
            "batch {batch} has {} experiment(s) queued and {} running: its results are not all \
             there yet; `seqspool wait --batch {batch}` first",
            progress.queued, progress.running
        )));
    }
    std::fs::create_dir_all(out)
        .map_err(|err| Failure::Usage(format!("creating {}: {err}", out.display())))?;
    let path = format!("/batches/{batch}.zip");
    let response = server.download(&path)?;
    let name = response
        .headers()
        .get("content-disposition")
        .and_then(|value| value.to_str().ok())
        .and_then(attachment_name)
        .filter(|name| is_plain_name(name) && name.ends_with(".zip"))
        .unwrap_or_else(|| format!("batch-{batch}.zip"));
    let target = out.join(name);
    write_body(response, &path, &target, server.url())?;
    Ok((target, progress))
}

/// How many experiments of a batch stand where (`GET /batches/{id}`'s `progress`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub total: u64,
    pub complete: u64,
    pub queued: u64,
    pub running: u64,
}

impl Progress {
    fn of(value: &serde_json::Value) -> Progress {
        let count = |name: &str| value[name].as_u64().unwrap_or(0);
        Progress {
            total: count("total"),
            complete: count("complete"),
            queued: count("queued"),
            running: count("running"),
        }
    }
}

/// The folder of an experiment's files: its id and name, as the batch's zip
/// names it.
fn folder(seen: &Seen) -> String {
    match crate::zipstream::component(&seen.query_name, FOLDER_NAME_CHARS) {
        name if name.is_empty() => seen.id.to_string(),
        name => format!("{}-{name}", seen.id),
    }
}

/// Whether `name` is one plain file name: no directory, no `..`, not hidden.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The file name of a `Content-Disposition: attachment; filename="..."`.
fn attachment_name(header: &str) -> Option<String> {
    let start = header.find("filename=\"")? + "filename=\"".len();
    let rest = &header[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Downloads `path` into the file `target`.
fn save(server: &Server, path: &str, target: &Path) -> Result<(), Failure> {
    let response = server.download(path)?;
    write_body(response, path, target, server.url())
}

fn write_body(
    response: ureq::http::Response<ureq::Body>,
    path: &str,
    target: &Path,
    url: &str,
) -> Result<(), Failure> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let local =
        |err: std::io::Error| Failure::Usage(format!("writing {}: {err}", target.display()));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(local)?;
    let mut body = response.into_body().into_reader();
    std::io::copy(&mut body, &mut file).map_err(|err| {
        Failure::Unreachable(format!(
            "GET {path}: the download from {url} broke off: {err}"
        ))
    })?;
    file.flush().map_err(local)?;
    file.persist(target).map_err(|err| local(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_become_files() {
        for good in ["hits.tsv", "analysis.json", "a b.txt", "x..y"] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            ".hidden",
            "a\\b",
            "a\0b",
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
        assert_eq!(
            attachment_name("attachment; filename=\"plate7-000006.zip\"").as_deref(),
            Some("plate7-000006.zip")
        );
        assert_eq!(attachment_name("attachment"), None);
    }
}
