//! The frame of every page: its head, the header with who is looking, the
//! line a paused queue or a draining server shows on every page, and the
//! footer; and the page for an error.

use maud::{html, Markup, DOCTYPE};

use super::words::time;
use crate::access::{Mode, Viewer};
use crate::model::{Drain, Id, Pause, PausedBy};

/// What every page shows around its own content.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    /// The queue's pause, while it is paused.
    pub pause: Option<Pause>,
    /// Who is looking: what they may do, and whether they are signed in.
    pub viewer: Viewer,
    /// The server's drain, while it is draining.
    pub drain: Option<Drain>,
}

/// What `app.js` does on a page, as `<main>`'s `data-page` and
/// `data-experiment` attributes tell it.
pub(super) enum Script {
    /// Nothing: the page does not change by itself.
    Still,
    /// A table of experiments, kept current as the server's events say
    /// something changed.
    List,
    /// One experiment's page, kept current as its events say it changed.
    Experiment(Id),
}

impl Script {
    fn page(&self) -> Option<&'static str> {
        match self {
            Script::Still => None,
            Script::List => Some("list"),
            Script::Experiment(_) => Some("experiment"),
        }
    }

    fn experiment(&self) -> Option<Id> {
        match self {
            Script::Experiment(id) => Some(*id),
            _ => None,
        }
    }
}

/// The frame of every page.
pub(super) fn layout(frame: &Frame, title: &str, script: Script, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · seqspool" }
                link rel="icon" href="/ui/icon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/app.js" defer {}
                @if let Script::Experiment(_) = script {
                    script src="/ui/results.js" defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.wrap {
                        a.brand href="/" {
                            img src="/ui/icon.svg" alt="" width="28" height="28";
                            "seqspool"
                        }
                        span.tagline { "the lab's sequence queue" }
                        (account(&frame.viewer))
                    }
                }
                @if let Some(drain) = &frame.drain {
                    (draining_banner(drain))
                }
                @if let Some(pause) = &frame.pause {
                    (paused_banner(pause))
                }
                main id="main" class="wrap" data-page=[script.page()] data-experiment=[script.experiment()] {
                    (main)
                }
                footer.wrap.foot {
                    p {
                        "seqspool " (env!("CARGO_PKG_VERSION")) " · "
                        a href="/service-info" { "service info" }
                        " (JSON) · the same routes answer scripts in JSON"
                    }
                }
            }
        }
    }
}

/// Who is looking, in the header: signed in as whom, with a way out; or a
/// way in, when the server is not open to anybody.
fn account(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(user) = &viewer.user {
            div.account {
                span.who {
                    "Signed in as " strong data-user=(user.name) { (user.name) }
                    @if viewer.is_admin() { " (admin)" }
                }
                @if viewer.session {
                    form.sign-out method="post" action="/sign-out" {
                        button type="submit" { "Sign out" }
                    }
                }
            }
        } @else if viewer.mode != Mode::Open {
            div.account {
                a.sign-in-link href="/sign-in" { "Sign in" }
            }
        }
    }
}

/// The line every page shows while the queue is paused: why, since when,
/// and that submissions are still taken.
fn paused_banner(pause: &Pause) -> Markup {
    html! {
        div.paused role="status" data-paused {
            div.wrap {
                strong { "The queue is paused" }
                " since " (time(Some(pause.since))) ": " (pause.reason) ". "
                @match (pause.by, &pause.operator) {
                    (PausedBy::Workstation, _) => "Submissions are still taken; nothing starts until the workstation is fixed and an operator resumes the queue.",
                    (PausedBy::Operator, Some(name)) => {
                        "Paused by " span data-paused-by { (name) } "; submissions are still taken and run once it is resumed."
                    }
                    (PausedBy::Operator, None) => "An operator paused it; submissions are still taken and run once it is resumed.",
                }
            }
        }
    }
}

/// The line every page shows while the server is draining: who, since
/// when, why, and that what is queued still runs.
fn draining_banner(drain: &Drain) -> Markup {
    html! {
        div.paused.draining role="status" data-draining {
            div.wrap {
                strong { "Submissions are closed" }
                ": the server is draining since " (time(Some(drain.since))) ", by " (drain.by) ": "
                (drain.reason) ". "
                "Experiments already queued still run; new ones are refused until an operator reopens it."
            }
        }
    }
}

/// The page for an error: its title, what went wrong, and a way back.
pub(crate) fn error(title: &str, message: &str) -> Markup {
    let main = html! {
        h1 { (title) }
        p.alert role="alert" { (message) }
        p { a href="/" { "Back to the experiments" } }
    };
    layout(&Frame::default(), title, Script::Still, main)
}
