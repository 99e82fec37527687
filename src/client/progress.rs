//! The progress of experiments being waited for, as one line on a terminal
//! redrawn in place: a bar, how many are done, running, queued and failed,
//! and the estimate to the end. Only on a terminal (standard error): on a
//! pipe or in a file nothing is drawn, so a script's log holds no bars.
//! Forty lines of our own rather than a crate: one line, no colours, no
//! threads of its own.

use std::io::{IsTerminal, Write};

use crate::model::State;
use crate::time::Timestamp;

use super::record::{duration, Seen};

/// The widest bar drawn, in characters.
const BAR_WIDTH: usize = 30;

/// How many of the followed experiments stand where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub complete: usize,
    /// Failed or cancelled.
    pub failed: usize,
    pub running: usize,
    pub queued: usize,
}

impl Counts {
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Seen>) -> Counts {
        let mut counts = Counts::default();
        for seen in records {
            counts.total += 1;
            match seen.state {
                State::Queued => counts.queued += 1,
                State::Running => counts.running += 1,
                State::Complete => counts.complete += 1,
                State::ExecutorError | State::SystemError | State::Canceled => counts.failed += 1,
            }
        }
        counts
    }
}

/// The line drawn for `counts`, the estimate `left` (seconds to the end,
/// `None` without one), at most `width` characters.
pub fn line(counts: Counts, left: Option<u64>, width: usize) -> String {
    let estimate = match (left, counts.running + counts.queued) {
        (_, 0) => String::new(),
        (Some(0), _) => "; about to end".to_owned(),
        (Some(secs), _) => format!("; about {} left", duration(secs)),
        (None, _) => "; no estimate yet".to_owned(),
    };
    let words = format!(
        "{}/{} done, {} running, {} queued, {} failed{estimate}",
        counts.complete, counts.total, counts.running, counts.queued, counts.failed
    );
    // The bar takes what the words leave, with its brackets and a space.
    let room = width.saturating_sub(words.len() + 4).min(BAR_WIDTH);
    let text = if room >= 10 {
        let ended = counts.complete + counts.failed;
        let filled = (ended * room).checked_div(counts.total).unwrap_or(room);
        format!(
            "[{}{}] {words}",
            "#".repeat(filled),
            "-".repeat(room - filled)
        )
    } else {
        words
    };
    // One character short of the width: a line as wide as the terminal wraps.
    text.chars().take(width.saturating_sub(1)).collect()
}

/// Seconds until the last of `records` that is not finished should finish,
/// by the latest of the server's estimates; `None` when none has one (the
/// server has none until a run of the pipeline completed).
pub fn left<'a>(records: impl IntoIterator<Item = &'a Seen>, now: Timestamp) -> Option<u64> {
    records
        .into_iter()
        .filter(|seen| !seen.is_finished())
        .filter_map(|seen| seen.eta)
        .map(|eta| eta.finish.millis().saturating_sub(now.millis()) / 1000)
        .max()
}

/// The line on standard error, when it is a terminal.
pub struct Bar {
    shown: bool,
    drawn: bool,
}

impl Bar {
    /// A bar drawn only when standard error is a terminal.
    pub fn on_stderr() -> Bar {
        Bar {
            shown: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    pub fn is_shown(&self) -> bool {
        self.shown
    }

    /// Draws `counts` and the estimate over the line drawn before.
    pub fn draw(&mut self, counts: Counts, left: Option<u64>) {
        if self.shown {
            let text = line(counts, left, width());
            let _ = write!(std::io::stderr(), "\r\x1b[2K{text}");
            self.drawn = true;
        }
    }

    /// Erases the line, so that what is printed next starts clean.
    pub fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The terminal's width, or 80 when it does not say.
fn width() -> usize {
    match rustix::termios::tcgetwinsize(std::io::stderr()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => 80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_where_the_plate_stands_and_fits_its_terminal() {
        let counts = Counts {
            total: 96,
            complete: 40,
            failed: 1,
            running: 1,
            queued: 54,
        };
        let wide = line(counts, Some(720), 120);
        assert_eq!(
            wide,
            "[############------------------] 40/96 done, 1 running, 54 queued, 1 failed; about 12 min left"
        );
        let narrow = line(counts, None, 60);
        assert_eq!(narrow.chars().count(), 59);
        assert!(narrow.starts_with("40/96 done, 1 running"), "{narrow}");
        let done = Counts {
            total: 2,
            complete: 2,
            ..Counts::default()
        };
        // No estimate once nothing waits; the bar takes the room left.
        let done = line(done, None, 60);
        assert_eq!(
            done,
            "[#################] 2/2 done, 0 running, 0 queued, 0 failed"
        );
        assert_eq!(done.len(), 59);
    }
}
