//! The words and small pieces the pages share, so that a state, a time, an
//! estimate or a duration reads the same on every page (and as `app.js`
//! writes it when it updates one): state badges, times the script shows in
//! local time, estimates, durations, sizes, a form field's error, and the
//! text of a `<pre>` or a `<textarea>`.

use maud::{html, Markup};

use crate::model::State;
use crate::queue::{View, Waiting};
use crate::time::Timestamp;

/// A state in a colour and a word (never colour alone); `data-state` keeps the API's name.
pub(super) fn badge(state: State) -> Markup {
    let class = format!("state-{}", state.as_str().to_lowercase().replace('_', "-"));
    html! {
        span.state.(class) data-state=(state.as_str()) { (state_word(state)) }
    }
}

/// The word a page uses for a state (`app.js` has the same words).
pub(super) fn state_word(state: State) -> &'static str {
    match state {
        State::Queued => "Queued",
        State::Running => "Running",
        State::Complete => "Complete",
        State::ExecutorError => "Failed",
        State::SystemError => "System error",
        State::Canceled => "Canceled",
    }
}

pub(crate) fn alphabet_word(alphabet: &str) -> &str {
    match alphabet {
        "dna" => "DNA",
        "rna" => "RNA",
        other => other,
    }
}

/// `<time>` with the RFC 3339 instant; the script rewrites it in local time.
pub(super) fn time(at: Option<Timestamp>) -> Markup {
    html! {
        @match at {
            Some(at) => { time datetime=(at) { (at) } }
            None => { (none()) }
        }
    }
}

/// A dash for a value that does not exist (yet).
pub(super) fn none() -> Markup {
    html! { span.none { "—" } }
}

/// How long it ran, or has been running: `None` before it started.
pub(super) fn run_time(view: &View, now: Timestamp) -> Option<u64> {
    let started = view.record.started_at?;
    let end = match view.record.finished_at {
        Some(finished) => finished,
        None if view.record.state == State::Running => now,
        // Canceled or interrupted with no finish time: nothing sensible to show.
        None => return None,
    };
    Some(end.since(started).as_millis() as u64)
}

/// A duration as a person reads it: `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub(super) fn duration(millis: u64) -> String {
    let secs = millis / 1000;
    if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3600, secs / 60 % 60)
    }
}

/// When an experiment should start and finish, from its record's `eta`, in
/// words; `None` once it has finished. `compact` for a table's cell. The
/// script writes the times in local time, to the minute, and the same
/// words (`app.js`, estimate).
pub(super) fn estimate(eta: &Waiting, compact: bool) -> Option<Markup> {
    let approx = |at: Timestamp| html! { time datetime=(at) data-approx { (at) } };
    match eta {
        Waiting::Done => None,
        Waiting::Unknown(None) => Some(html! {
            span.eta.eta-none title=(ESTIMATE_HINT) { "no estimate yet" }
            @if !compact {
                " " span.hint { "(" (ESTIMATE_HINT) ")" }
            }
        }),
        Waiting::Unknown(Some(eta)) => Some(html! {
            span.eta title=(ESTIMATE_HINT) {
                @if let Some(start) = eta.start {
                    span.eta-start { "starts about " (approx(start)) }
                    @if !compact { ", " }
                    " "
                }
                span.eta-finish { "finishes about " (approx(eta.finish)) }
            }
        }),
        // No time to promise while nothing starts: what it waits for, and why.
        Waiting::Held(hold) => Some(html! {
            span.eta.eta-held title=(hold.reason) { (HELD_WORDS) }
            @if !compact {
                " " span.hint { "(" (hold.reason) ")" }
            }
        }),
    }
}

/// What an experiment that waits for the queue's pause says instead of a
/// time (`app.js` says the same).
const HELD_WORDS: &str = "waits until the queue is resumed";

/// Where an estimate comes from (`app.js` says the same).
const ESTIMATE_HINT: &str =
    "estimated from the recent completed runs of its pipeline and of those ahead of it";

/// Text as the content of a `<textarea>` or `<pre>`: the parser drops a
/// newline right after the start tag, so a text that starts with one gets one
/// more, and keeps its own.
pub(crate) fn verbatim(text: &str) -> Markup {
    html! {
        @if text.starts_with('\n') { "\n" }
        (text)
    }
}

/// The message beside a field at fault; its id ties it to the field for screen readers.
pub(super) fn field_error(field: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.field-error id={ (field) "-error" } { (error) }
        }
    }
}

/// The ids of what describes a field: its error first, if it has one, then its hint.
pub(super) fn described_by(field: &str, error: Option<&str>) -> String {
    match error {
        Some(_) => format!("{field}-error {field}-hint"),
        None => format!("{field}-hint"),
    }
}

/// A file size: `532 B`, `12.4 KB`, `3.1 MB` (powers of 1024), as the pages show sizes.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::thousands;

    #[test]
    fn durations_sizes_and_counts_read_as_people_write_them() {
        assert_eq!(duration(400), "0.4 s");
        assert_eq!(duration(12_340), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(7_380_000), "2 h 03 min");
        assert_eq!(size(532), "532 B");
        assert_eq!(size(12_700), "12.4 KB");
        assert_eq!(size(3 * 1024 * 1024 + 100_000), "3.1 MB");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
