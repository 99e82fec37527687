//! `seqspool queue`: the backlog and whether the queue is paused or the
//! server draining, in words; and, for an admin, `queue pause` and `queue
//! resume` (`POST /queue/pause`, `POST /queue/resume`), which answer the
//! queue as it is then.

use serde_json::Value;

use crate::time::Timestamp;

use super::failure::Failure;
use super::record::short_time;
use super::server::Server;

/// `GET /queue`.
pub fn show(server: &Server) -> Result<Value, Failure> {
    server.get_json("/queue")
}

/// Pauses the queue, saying why: nothing new starts; the running experiment
/// finishes.
pub fn pause(server: &Server, reason: Option<&str>) -> Result<Value, Failure> {
    let path = match reason {
        Some(reason) => format!(
            "/queue/pause?{}",
            serde_urlencoded::to_string([("reason", reason)]).expect("a pair encodes")
        ),
        None => "/queue/pause".to_owned(),
    };
    server.send("POST", &path, None).map(|(_, queue)| queue)
}

/// Lifts a pause, whoever set it.
pub fn resume(server: &Server) -> Result<Value, Failure> {
    server
        .send("POST", "/queue/resume", None)
        .map(|(_, queue)| queue)
}

/// The queue in words, a line for each of its facts.
pub fn describe(queue: &Value) -> String {
    let mut text = format!(
        "running   {}{}\nqueued    {}{}\n",
        queue["running"].as_u64().unwrap_or(0),
        queue["current"]
            .as_str()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default(),
        queue["queued"].as_u64().unwrap_or(0),
        queue["head"]
            .as_str()
            .map(|id| format!(", next {id}"))
            .unwrap_or_default(),
    );
    text.push_str(&format!("paused    {}\n", held(queue, "paused", "pause")));
    text.push_str(&format!("draining  {}\n", held(queue, "draining", "drain")));
    if let Some(capacity) = queue["capacity"].as_u64() {
        text.push_str(&format!("capacity  {capacity}\n"));
    }
    text
}

/// `no`, or since when, by whom and why a pause (or a drain) holds.
fn held(queue: &Value, flag: &str, detail: &str) -> String {
    if queue[flag] != Value::Bool(true) {
        return "no".to_owned();
    }
    let detail = &queue[detail];
    let since = detail["since"]
        .as_str()
        .and_then(Timestamp::parse)
        .map(|since| format!(" since {}", short_time(since)))
        .unwrap_or_default();
    let by = match (detail["operator"].as_str(), detail["by"].as_str()) {
        (Some(name), _) => format!(" by {name}"),
        (None, Some("workstation")) => " by seqspool (the workstation is at fault)".to_owned(),
        (None, Some(by)) => format!(" by {by}"),
        (None, None) => String::new(),
    };
    let reason = detail["reason"]
        .as_str()
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default();
    format!("yes{since}{by}{reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_queue_reads_in_words() {
        let idle = json!({"paused": false, "draining": false, "queued": 0, "running": 0,
            "capacity": 20000, "head": null, "current": null});
        assert_eq!(
            describe(&idle),
            "running   0\nqueued    0\npaused    no\ndraining  no\ncapacity  20000\n"
        );
        let paused = json!({"paused": true, "pause": {"reason": "swapping the GPU",
            "since": "2026-12-07T19:37:58.094Z", "by": "operator", "operator": "anna"},
            "draining": false, "queued": 2, "running": 1, "head": "000002", "current": "000001"});
        assert_eq!(
            describe(&paused),
            "running   1 (000001)\nqueued    2, next 000002\n\
             paused    yes since 2026-12-07 19:37:58Z by anna: swapping the GPU\ndraining  no\n"
        );
    }
}
