//! One experiment's page: where it stands (and, when it failed, why, in
//! its tool's words), its buttons (run again, move to the front, cancel),
//! its results, its record in words, its files and the last lines of its
//! logs; and the page a cancel without confirmation gets.

use maud::{html, Markup};

use super::layout::{layout, Frame, Script};
use super::notifications;
use super::words::{
    alphabet_word, badge, duration, estimate, run_time, size, state_word, time, verbatim,
};
use crate::http::percent::encode_segment;
use crate::model::{FileInfo, Id, Moved, Record, RunHandle, State};
use crate::notify::Outbox;
use crate::pipeline::Pipeline;
use crate::queue::View;
use crate::results::thousands;
use crate::store::Tail;
use crate::time::Timestamp;

/// What an experiment's page shows.
pub(crate) struct Experiment<'a> {
    pub view: &'a View,
    /// The pipeline it ran in, while this server still offers it (for its title).
    pub pipeline: Option<&'a Pipeline>,
    pub files: &'a [FileInfo],
    pub logs: &'a Logs,
    /// Its directory on the workstation.
    pub dir: &'a str,
    /// Its results section (`crate::results`).
    pub results: maud::Markup,
    /// Its notifications, once it has ended.
    pub outbox: Option<&'a Outbox>,
}

/// The last lines of an experiment's logs, as far as they exist.
#[derive(Debug, Default)]
pub(crate) struct Logs {
    pub stdout: Option<Tail>,
    pub stderr: Option<Tail>,
}

/// One experiment's page.
/// How a member of a grouped run of `size` was searched, in words.
fn group_words(size: u32) -> String {
    let others = size.saturating_sub(1);
    format!(
        "searched with {others} other{} in one run",
        if others == 1 { "" } else { "s" }
    )
}

pub(crate) fn experiment(frame: &Frame, page: &Experiment) -> Markup {
    let Experiment {
        view,
        pipeline,
        files,
        logs,
        dir,
        ref results,
        outbox,
    } = *page;
    let record = &view.record;
    let id = record.id;
    let now = Timestamp::now();
    // One line of the record; `app.js` fills it in and hides it by its key.
    let fact = |key: &str, label: &str, value: Option<Markup>| {
        html! {
            div.fact data-fact=(key) hidden[value.is_none()] {
                dt { (label) }
                dd { @if let Some(value) = value { (value) } }
            }
        }
    };
    let text = |text: &str| Some(html! { (text) });
    let main = html! {
        p.crumbs { a href="/" { "← All experiments" } }
        div.intro.experiment-head {
            div {
                h1 { (record.query_name) }
                p.id-line { "Experiment " (id) }
            }
            div.head-state data-fact="state" { (badge(record.state)) }
        }
        div.card.status-card {
            div.status-text {
                p.status-line data-status aria-live="polite" { (status_sentence(view)) }
                (failure_log(record.state, logs))
                (lineage(record))
            }
            // Only the buttons this viewer may use: a member's own experiments,
            // an admin's all, and the queue's order only an admin's.
            @if frame.viewer.may_change(record.submitted_by.as_deref()) {
                div.actions {
                    (retry_form(record))
                    @if frame.viewer.may_administer() {
                        (front_form(view))
                    }
                    (cancel_form(view))
                }
            }
        }
        (results)
        div.columns {
            section.card aria-labelledby="record-heading" {
                h2 id="record-heading" { "Record" }
                dl.facts {
                    (fact("state_word", "State", text(state_word(record.state))))
                    (fact("position", "Queue position", view.position.map(|p| html! { (p) })))
                    (fact("eta", "Expected", estimate(&view.eta, false)))
                    (fact("submitted_at", "Submitted", Some(time(Some(record.submitted_at)))))
                    (fact("submitted_by", "Submitted by", record.submitted_by.as_deref().and_then(text)))
                    (fact("started_at", "Started", record.started_at.map(|t| time(Some(t)))))
                    (fact("finished_at", "Finished", record.finished_at.map(|t| time(Some(t)))))
                    (fact("duration", "Duration", run_time(view, now).map(|ms| html! { (duration(ms)) })))
                    (fact("moved_to_front", "Moved to the front", record.moved_to_front.as_ref().map(moved_words)))
                    (fact("attempts", "Attempts", (record.attempts > 0).then(|| html! { (record.attempts) })))
                    (fact("exit_code", "Exit code", record.exit_code.map(|c| html! { (c) })))
                    (fact("signal", "Signal", record.signal.map(|s| html! { (s) })))
                    (fact("error", "Error", record.error.as_deref().and_then(text)))
                    (fact("description", "Description", record.description.as_deref().and_then(text)))
                    (fact("query", "Query", Some(html! {
                        (alphabet_word(record.alphabet.as_str())) ", "
                        (thousands(record.length as u64)) " "
                        (if record.length == 1 { "residue" } else { "residues" })
                    })))
                    (fact("group", "Run", record.group.filter(|g| g.size > 1).map(|group| html! {
                        (group_words(group.size)) ", the group of "
                        a href={ "/experiments/" (group.id) } { (group.id) }
                    })))
                    (fact("solo", "Ran alone", record.solo.as_deref().and_then(text)))
                    (fact("batch", "Batch", record.batch.map(|batch| html! {
                        a href={ "/experiments?batch=" (batch) } { "the batch of " (batch) }
                    })))
                    (fact("pipeline", "Pipeline", Some(html! {
                        @match pipeline {
                            Some(pipeline) => { (pipeline.title) " (" code { (record.pipeline) } ")" }
                            None => { code { (record.pipeline) } }
                        }
                    })))
                    (fact("params", "Parameters", (!record.params.is_empty()).then(|| html! {
                        dl.params {
                            @for (name, value) in &record.params {
                                div.param {
                                    dt { code { (name) } }
                                    dd { code { (value) } }
                                }
                            }
                        }
                    })))
                    (fact("command", "Command", Some(html! { code { (record.command) } })))
                    (fact("processor", "Warm processor", record.processor.as_ref().map(|p| html! {
                        span { "pid " (p.pid) ", started " (time(Some(p.started_at))) }
                    })))
                    (fact("directory", "Directory", Some(html! { code { (dir) } })))
                    (fact("notifications", "Notifications", notifications::value(record, outbox)))
                }
            }
            (files_card(id, files))
        }
        (logs_section(logs, record.state.is_finished()))
        noscript {
            p.hint {
                "This page does not update by itself without JavaScript: \
                 reload it to see the latest state."
            }
        }
    };
    let title = format!("{} ({id})", record.query_name);
    layout(frame, &title, Script::Experiment(id), main)
}

/// Where the experiment stands, in a sentence (`app.js` writes the same ones).
fn status_sentence(view: &View) -> String {
    let record = &view.record;
    let error = record.error.as_deref().unwrap_or("no reason was recorded");
    match record.state {
        State::Queued => match view.position {
            Some(1) | None => "Waiting in the queue: it runs next.".to_owned(),
            Some(2) => "Waiting in the queue: 1 experiment runs before it.".to_owned(),
            Some(n) => format!("Waiting in the queue: {} experiments run before it.", n - 1),
        },
        State::Running => match record.handle.as_deref() {
            // Submitted to the cluster, not yet running there.
            Some(RunHandle::Slurm { slurm }) if slurm.state != "RUNNING" => format!(
                "Submitted to the cluster as Slurm job {}: {}{}.",
                slurm.job_id,
                slurm_waiting(&slurm.state),
                slurm
                    .reason
                    .as_deref()
                    .filter(|reason| *reason != "None")
                    .map_or(String::new(), |reason| format!(" ({reason})"))
            ),
            _ => "Running now; the last lines of its output appear below.".to_owned(),
        },
        State::Complete => "Complete: its results are below.".to_owned(),
        State::ExecutorError => format!("The processing command failed: {error}"),
        State::SystemError => format!("seqspool could not run it: {error}"),
        State::Canceled if record.started_at.is_none() => "Canceled before it ran.".to_owned(),
        State::Canceled => "Canceled while it ran.".to_owned(),
    }
}

/// What a Slurm job that is not running yet is doing, in words.
fn slurm_waiting(state: &str) -> String {
    match state {
        "HELD" => "being handed to Slurm".to_owned(),
        "PENDING" => "waiting for Slurm to start it".to_owned(),
        "CONFIGURING" => "its node is being readied".to_owned(),
        other => format!("Slurm says {}", other.to_lowercase()),
    }
}

/// Links to the experiment this one runs again, and to the one that runs it again.
fn lineage(record: &Record) -> Markup {
    html! {
        @if record.retry_of.is_some() || record.retried_as.is_some() {
            p.lineage {
                @if let Some(of) = record.retry_of {
                    "This experiment "
                    a href={ "/experiments/" (of) } { "runs " (of) " again" } "."
                }
                @if record.retry_of.is_some() && record.retried_as.is_some() { " " }
                @if let Some(again) = record.retried_as {
                    "It " a href={ "/experiments/" (again) } data-retried-as { "runs again as " (again) } "."
                }
            }
        }
    }
}

/// Whether an experiment ended without completing, so that it may run again.
fn retryable(state: State) -> bool {
    matches!(
        state,
        State::ExecutorError | State::SystemError | State::Canceled
    )
}

/// The Run again button: a new experiment with the same input and parameters.
/// Hidden until the experiment ended without completing (the script shows it
/// when that happens while the page is open).
fn retry_form(record: &Record) -> Markup {
    html! {
        form.retry method="post" action={ "/experiments/" (record.id) "/retry" } data-once
            hidden[!retryable(record.state)] {
            button.primary type="submit" { "Run again" }
        }
    }
}

/// The Move to front button, on a queued experiment that is not next already
/// (the script hides it once the experiment is no longer queued).
fn front_form(view: &View) -> Markup {
    let id = view.record.id;
    let shown = view.record.state == State::Queued && view.position.is_some_and(|p| p > 1);
    html! {
        form.front method="post" action={ "/experiments/" (id) "/front" } data-once hidden[!shown] {
            button type="submit" title="Run it next, before everything else waiting (an operator's exception to first in, first out)" {
                "Move to front"
            }
        }
    }
}

/// When and by whom an experiment was moved to the front, in words (`app.js` writes the same).
fn moved_words(moved: &Moved) -> Markup {
    html! { (time(Some(moved.at))) " by " (moved.by) }
}

fn cancel_form(view: &View) -> Markup {
    let record = &view.record;
    let id = record.id;
    let question = format!(
        "Cancel experiment {id} ({})? {}",
        record.query_name,
        if record.state == State::Running {
            "Its command will be stopped."
        } else {
            "It will not run."
        }
    );
    html! {
        form.cancel method="post" action={ "/experiments/" (id) "/cancel" } data-confirm=(question)
            hidden[record.state.is_finished()] {
            input type="hidden" name="confirmed" value="";
            button.danger type="submit" { "Cancel experiment" }
        }
    }
}

fn files_card(id: Id, files: &[FileInfo]) -> Markup {
    html! {
        section.card aria-labelledby="files-heading" {
            h2 id="files-heading" { "Files" }
            div.table-scroll {
                table.files {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th.num scope="col" { "Size" }
                        }
                    }
                    tbody data-files {
                        @for file in files {
                            tr {
                                td {
                                    a href={ "/experiments/" (id) "/files/" (encode_segment(&file.name)) } {
                                        (file.name)
                                    }
                                }
                                td.num { (size(file.size)) }
                            }
                        }
                        @if files.is_empty() {
                            tr.empty { td colspan="2" { "No files yet." } }
                        }
                    }
                }
            }
        }
    }
}

/// Lines of `stderr.txt` a failed experiment's status shows: enough for
/// the error a tool prints last, and what led to it.
const FAILURE_LINES: usize = 12;

/// The end of `stderr.txt` under a failed experiment's status: why it failed,
/// in the tool's own words. Empty and hidden otherwise (`results.js` fills it
/// in when the experiment fails while its page is open).
fn failure_log(state: State, logs: &Logs) -> Markup {
    let failed = matches!(state, State::ExecutorError | State::SystemError);
    let lines = logs
        .stderr
        .as_ref()
        .filter(|tail| failed && !tail.text.trim().is_empty())
        .map(|tail| {
            let all: Vec<&str> = tail.text.trim_end().lines().collect();
            let first = all.len().saturating_sub(FAILURE_LINES);
            (all[first..].join("\n"), tail.cut || first > 0)
        });
    html! {
        div.failure-log data-failure hidden[lines.is_none()] {
            @if let Some((text, cut)) = &lines {
                p {
                    @if *cut { "The last lines of " } @else { "What it printed to " }
                    code { "stderr.txt" } ":"
                }
                pre.log tabindex="0" { (verbatim(text)) }
            }
        }
    }
}

/// The last lines of `stdout.txt` and `stderr.txt`; a log a finished
/// experiment never wrote is "none", not "not written yet".
fn logs_section(logs: &Logs, finished: bool) -> Markup {
    html! {
        section.logs aria-labelledby="logs-heading" {
            h2 id="logs-heading" { "Output" }
            div.log-grid {
                @for (name, tail) in [("stdout.txt", &logs.stdout), ("stderr.txt", &logs.stderr)] {
                    @let (text, note) = match tail {
                        None if finished => ("", "none"),
                        None => ("", "not written yet"),
                        Some(tail) if tail.text.is_empty() => ("", "empty"),
                        Some(tail) if tail.cut => (tail.text.as_str(), "last lines"),
                        Some(tail) => (tail.text.as_str(), "all of it"),
                    };
                    div.log-box {
                        h3 {
                            code { (name) }
                            " "
                            span.log-note data-log-note=(name) { (note) }
                        }
                        pre.log data-log=(name) tabindex="0" aria-label={ (name) ", " (note) } {
                            (verbatim(text))
                        }
                    }
                }
            }
        }
    }
}

/// The page a cancel without confirmation gets (no JavaScript, or a form from
/// another site): the question, and a button that confirms.
pub(crate) fn cancel_confirmation(frame: &Frame, view: &View) -> Markup {
    let record = &view.record;
    let id = record.id;
    let name = &record.query_name;
    let state = state_word(record.state).to_lowercase();
    let main = if record.state.is_finished() {
        html! {
            h1 { "Nothing to cancel" }
            p { "Experiment " (id) " (" (name) ") is " (state) " already." }
            p { a href={ "/experiments/" (id) } { "Back to the experiment" } }
        }
    } else {
        let consequence = if record.state == State::Running {
            "Cancelling stops its command; what it wrote so far stays."
        } else {
            "Cancelled, it will not run."
        };
        html! {
            h1 { "Cancel experiment " (id) "?" }
            p { (name) " is " (state) ". " (consequence) }
            form.actions method="post" action={ "/experiments/" (id) "/cancel" } {
                input type="hidden" name="confirmed" value="yes";
                button.danger type="submit" { "Yes, cancel it" }
                a.button href={ "/experiments/" (id) } { "No, keep it" }
            }
        }
    };
    layout(frame, &format!("Cancel {id}?"), Script::Still, main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::pages::tests::{experiment_page, view};

    #[test]
    fn an_experiment_that_did_not_complete_may_run_again_and_says_how_it_is_linked() {
        let shows_retry = |state: State| {
            let page = experiment_page(
                &Frame::default(),
                &view("q", state),
                &[],
                &Logs::default(),
                "/x",
            )
            .into_string();
            assert!(page.contains(
                r#"<form class="retry" method="post" action="/experiments/000007/retry" data-once"#
            ), "{page}");
            !page.contains(r#"action="/experiments/000007/retry" data-once hidden"#)
        };
        for state in [State::ExecutorError, State::SystemError, State::Canceled] {
            assert!(shows_retry(state), "{state:?}");
        }
        for state in [State::Queued, State::Running, State::Complete] {
            assert!(!shows_retry(state), "{state:?}");
        }

        let mut linked = view("q", State::ExecutorError);
        linked.record.retry_of = Some(Id(3));
        linked.record.retried_as = Some(Id(42));
        linked.record.params.insert("evalue".into(), "0.5".into());
        let page =
            experiment_page(&Frame::default(), &linked, &[], &Logs::default(), "/x").into_string();
        assert!(
            page.contains(
                r#"This experiment <a href="/experiments/000003">runs 000003 again</a>."#
            ),
            "{page}"
        );
        assert!(
            page.contains(
                r#"It <a href="/experiments/000042" data-retried-as>runs again as 000042</a>."#
            ),
            "{page}"
        );
        // The pipeline it ran in, known by name only once the server no longer offers it.
        assert!(
            page.contains("<dt>Pipeline</dt><dd><code>default</code></dd>"),
            "{page}"
        );
        assert!(page.contains("<dt><code>evalue</code></dt><dd><code>0.5</code></dd>"));

        let alone = experiment_page(
            &Frame::default(),
            &view("q", State::Complete),
            &[],
            &Logs::default(),
            "/x",
        )
        .into_string();
        assert!(!alone.contains("lineage"));
        assert!(alone.contains(r#"data-fact="params" hidden"#), "{alone}");
    }
}
