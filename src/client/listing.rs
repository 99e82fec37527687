//! `seqspool status` and `seqspool list`: experiments' records, as a table
//! for a person (aligned, with a header, on a terminal), as tab-separated
//! lines for `cut` and `awk` on a pipe, or as the server's JSON for scripts.

use serde_json::Value;

use crate::model::{Id, State};
use crate::time::Timestamp;

use super::failure::Failure;
use super::record::{short_time, Seen};
use super::server::Server;

/// The largest page the server gives (`limit` of `GET /experiments`).
const MOST_A_PAGE: usize = 1000;

/// Which experiments `seqspool list` shows.
pub struct Filter {
    pub state: Option<State>,
    /// Only the user's own (needs their token).
    pub mine: bool,
    pub batch: Option<Id>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// The records of `ids`, in the order given; each that cannot be read is a
/// failure of its own, and the others are still read.
pub fn status(server: &Server, ids: &[Id]) -> (Vec<Seen>, Vec<Failure>) {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        match server
            .get_json(&format!("/experiments/{id}"))
            .and_then(Seen::of)
        {
            Ok(seen) => found.push(seen),
            Err(failure) => failures.push(failure),
        }
    }
    (found, failures)
}

/// The experiments `filter` names, newest first, and whether there are more.
pub fn list(server: &Server, filter: &Filter) -> Result<(Vec<Seen>, bool), Failure> {
    let mut found: Vec<Seen> = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(state) = filter.state {
            query.push(("state", state.as_str().to_owned()));
        }
        if filter.mine {
            query.push(("mine", "1".to_owned()));
        }
        if let Some(batch) = filter.batch {
            query.push(("batch", batch.to_string()));
        }
        let wanted = (filter.limit - found.len()).min(MOST_A_PAGE);
        query.push(("limit", wanted.to_string()));
        if let Some(token) = page_token.take() {
            query.push(("page_token", token));
        }
        let query = serde_urlencoded::to_string(&query).expect("plain pairs encode");
        let page = server.get_json(&format!("/experiments?{query}"))?;
        for record in page["experiments"].as_array().into_iter().flatten() {
            found.push(Seen::of(record.clone())?);
        }
        let next = page["next_page_token"].as_str().map(str::to_owned);
        match next {
            Some(token) if found.len() < filter.limit => page_token = Some(token),
            Some(_) => return Ok((found, true)),
            None => return Ok((found, false)),
        }
    }
}

/// The records as a table: aligned under a header for a person
/// (`aligned`), else one tab-separated line each.
pub fn table(records: &[Seen], now: Timestamp, aligned: bool) -> String {
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|seen| {
            [
                seen.id.to_string(),
                seen.state.as_str().to_owned(),
                seen.pipeline.clone().unwrap_or_default(),
                seen.query_name.clone(),
                seen.submitted_by.clone().unwrap_or_default(),
                seen.submitted_at.map(short_time).unwrap_or_default(),
                seen.note(now),
            ]
            // A name holds no control characters (the server refuses them),
            // but a tab in a cell would shift every column after it.
            .map(|cell| cell.replace(['\t', '\n', '\r'], " "))
        })
        .collect();
    let mut text = String::new();
    if !aligned {
        for row in &rows {
            text.push_str(&row.join("\t"));
            text.push('\n');
        }
        return text;
    }
    let header = ["ID", "STATE", "PIPELINE", "NAME", "BY", "SUBMITTED", ""].map(str::to_owned);
    let mut widths = [0usize; 7];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column == row.len() - 1 {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The records as the server gave them: one JSON array.
pub fn json(records: &[Seen]) -> String {
    let all: Vec<&Value> = records.iter().map(|seen| &seen.raw).collect();
    let mut text = serde_json::to_string_pretty(&all).expect("JSON values serialize");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_is_aligned_for_a_person_and_tab_separated_for_a_pipe() {
        let now = Timestamp::parse("2026-12-07T19:40:00Z").unwrap();
        let records = [
            Seen::of(
                json!({"id": "000001", "state": "COMPLETE", "pipeline": "blastn",
                "query_name": "A01", "submitted_by": "anna",
                "submitted_at": "2026-12-07T19:34:03.207Z",
                "started_at": "2026-12-07T19:34:04Z", "finished_at": "2026-12-07T19:34:16Z"}),
            )
            .unwrap(),
            Seen::of(
                json!({"id": "000002", "state": "QUEUED", "pipeline": "analysis",
                "query_name": "a\tname", "position": 1, "eta": null}),
            )
            .unwrap(),
        ];
        assert_eq!(
            table(&records, now, true),
            "ID      STATE     PIPELINE  NAME    BY    SUBMITTED\n\
             000001  COMPLETE  blastn    A01     anna  2026-12-07 19:34:03Z  ran 12.0 s\n\
             000002  QUEUED    analysis  a name                              position 1, no estimate yet\n"
        );
        assert_eq!(
            table(&records, now, false),
            "000001\tCOMPLETE\tblastn\tA01\tanna\t2026-12-07 19:34:03Z\tran 12.0 s\n\
             000002\tQUEUED\tanalysis\ta name\t\t\tposition 1, no estimate yet\n"
        );
        let parsed: Value = serde_json::from_str(&json(&records)).unwrap();
        assert_eq!(parsed[1]["query_name"], "a\tname");
    }
}
