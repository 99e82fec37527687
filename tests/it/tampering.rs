//! What a hostile processing command cannot do through the server: it runs
//! with the server's rights in its experiment's directory, but the server
//! never follows a link that takes that directory's place.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{assert_error, Server};

/// Every name under `dir` with its bytes, for checking that nothing was written there.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_command_that_swaps_its_directory_for_a_link_reaches_nothing_through_it() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.txt"), "not for clients\n").unwrap();
    let before = contents(outside.path());
    let command = format!(
        r#"if [ "$QUERY_NAME" = hostile ]; then
             cd .. && mv "$EXPERIMENT_ID" "moved-$EXPERIMENT_ID" && ln -s '{}' "$EXPERIMENT_ID"
           fi"#,
        outside.path().display()
    );
    let server = Server::start(|config| config.command = Some(command));
    let hostile = server.submit("hostile", "ACGT");
    let next = server.submit("next", "ACGT");
    server.wait_for_state(&next, "COMPLETE");

    assert!(
        fs::symlink_metadata(server.dir.join(&hostile))
            .unwrap()
            .is_symlink(),
        "the command did swap its directory for a link"
    );
    let path = format!("/experiments/{hostile}/files/secret.txt");
    assert_error(&server.get(&path), 404, None, &[], &path);
    let record = server.get(&format!("/experiments/{hostile}"));
    assert_eq!(record.status, 200, "{}", record.text());
    let files = &record.json()["files"];
    assert!(
        files
            .as_array()
            .is_some_and(|files| files.iter().all(|f| f["name"] != "secret.txt")),
        "{files}"
    );
    assert_eq!(
        contents(outside.path()),
        before,
        "nothing written through the link"
    );

    // The server carries on, and the experiment after it ran as any other.
    let record = server.get(&format!("/experiments/{next}")).json();
    assert!(
        record["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "query.fasta"),
        "{record}"
    );
    let after = server.submit("after", "ACGT");
    server.wait_for_state(&after, "COMPLETE");
    assert_eq!(contents(outside.path()), before);
}
