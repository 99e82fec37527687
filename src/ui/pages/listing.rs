//! A table of experiments, newest first, with its state filter and its
//! pager: on the home page, and on a page of its own for a filter (a batch
//! has its own page, [`super::batch`]). The script keeps it current from
//! the server's events, and reads the same page from the JSON API.

use std::fmt::Write as _;

use maud::{html, Markup};

use super::layout::{layout, Frame, Script};
use super::words::{badge, duration, estimate, none, run_time, state_word, time};
use crate::access::{Mode, Viewer};
use crate::model::{Id, Moved, State};
use crate::queue::{Filter, View};
use crate::time::Timestamp;

/// Experiments on one page of the home table: a screenful on a laptop.
pub(crate) const PAGE: usize = 25;

/// One page of a table of experiments, newest first.
pub(crate) struct Listing<'a> {
    pub experiments: &'a [View],
    /// The page token of the next (older) page.
    pub next_page: Option<Id>,
    /// The page token this page was asked with: `None` on the first page.
    pub page_token: Option<Id>,
    pub state: Option<State>,
    pub batch: Option<Id>,
    /// Only the experiments of this user (or client address).
    pub submitted_by: Option<String>,
    /// Whether the filter "mine" is offered (to a viewer known by name, or
    /// by address while access is open), and then whether it is on.
    pub mine: Option<bool>,
    pub limit: usize,
}

impl<'a> Listing<'a> {
    /// A page of `experiments`, as `filter` chose them.
    pub(crate) fn new(
        experiments: &'a [View],
        next_page: Option<Id>,
        filter: &Filter,
    ) -> Listing<'a> {
        Listing {
            experiments,
            next_page,
            page_token: filter.before,
            state: filter.state,
            batch: filter.batch,
            submitted_by: filter.submitted_by.clone(),
            mine: None,
            limit: filter.limit,
        }
    }

    /// Offers `viewer` the filter "mine", when they can be told from others.
    pub(crate) fn for_viewer(mut self, viewer: &Viewer) -> Listing<'a> {
        if viewer.user.is_some() || viewer.mode == Mode::Open {
            self.mine = Some(self.submitted_by.as_deref() == Some(viewer.name().as_str()));
        }
        self
    }

    /// The JSON route that gives the same page: the script reads it when the
    /// page's events say something changed (or polls it where it cannot
    /// follow them).
    fn source(&self) -> String {
        let mut url = format!("/experiments?limit={}", self.limit);
        if let Some(state) = self.state {
            let _ = write!(url, "&state={}", state.as_str());
        }
        if let Some(batch) = self.batch {
            let _ = write!(url, "&batch={batch}");
        }
        if let Some(by) = &self.submitted_by {
            let _ = write!(url, "&submitted_by={}", query_value(by));
        }
        if let Some(token) = self.page_token {
            let _ = write!(url, "&page_token={token}");
        }
        url
    }

    /// The event stream that says when this page changes: its batch's, or every event.
    fn stream(&self) -> String {
        match self.batch {
            Some(batch) => format!("/events?batch={batch}"),
            None => "/events".into(),
        }
    }

    /// The link to this listing from `path` with another page token.
    fn link(&self, path: &str, page_token: Option<Id>) -> String {
        let mut params = Vec::new();
        if let Some(state) = self.state {
            params.push(format!("state={}", state.as_str()));
        }
        if let Some(batch) = self.batch {
            params.push(format!("batch={batch}"));
        }
        match (self.mine, &self.submitted_by) {
            (Some(true), _) => params.push("mine=1".to_owned()),
            (_, Some(by)) => params.push(format!("submitted_by={}", query_value(by))),
            _ => {}
        }
        if let Some(token) = page_token {
            params.push(format!("page_token={token}"));
        }
        if params.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", params.join("&"))
        }
    }
}

/// A value for a query string: a user name or a client address, whose
/// characters are safe there but for the `:` of IPv6, encoded all the same.
fn query_value(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|pair| pair[1..].to_owned())
        .unwrap_or_default()
}

/// The experiments listed with a filter (a batch has a page of its own: [`batch()`]).
pub(crate) fn listing(frame: &Frame, listing: &Listing) -> Markup {
    let title = "All experiments";
    let main = html! {
        p.crumbs { a href="/" { "← Home" } }
        div.intro {
            h1 { (title) }
        }
        (experiments_section(listing, "/experiments", "Experiments"))
    };
    layout(frame, title, Script::List, main)
}

/// The table of experiments with its state filter and pager; `path` is the
/// page it is on (`/` or `/experiments`).
pub(super) fn experiments_section(listing: &Listing, path: &str, heading: &str) -> Markup {
    html! {
        section.experiments aria-labelledby="experiments-heading" {
            div.section-head {
                h2 id="experiments-heading" { (heading) }
                @if listing.batch.is_none() {
                    (state_filter(listing, path))
                }
            }
            (table(listing))
            (pager(listing, path))
            p.live-note data-live-note aria-hidden="true" {}
            noscript {
                p.hint {
                    "This page does not update by itself without JavaScript: \
                     reload it to see the latest states."
                }
            }
        }
    }
}

fn state_filter(listing: &Listing, path: &str) -> Markup {
    // Someone else's experiments, asked for by name, stay asked for.
    let someone = match listing.mine {
        Some(true) => None,
        _ => listing.submitted_by.as_deref(),
    };
    html! {
        form.filter method="get" action=(path) {
            label for="state-filter" { "Show" }
            select id="state-filter" name="state" {
                option value="" { "all states" }
                @for state in State::ALL {
                    option value=(state.as_str()) selected[listing.state == Some(state)] {
                        (state_word(state).to_lowercase())
                    }
                }
            }
            @if let Some(mine) = listing.mine {
                label.mine {
                    input type="checkbox" name="mine" value="1" checked[mine];
                    " mine only"
                }
            }
            @if let Some(someone) = someone {
                input type="hidden" name="submitted_by" value=(someone);
            }
            button type="submit" { "Filter" }
        }
    }
}

fn table(listing: &Listing) -> Markup {
    let now = Timestamp::now();
    let empty = if listing.state.is_some() || listing.page_token.is_some() {
        "No experiments here."
    } else {
        "No experiments yet: submit one above."
    };
    html! {
        div.table-scroll tabindex="0" role="region" aria-labelledby="experiments-heading" {
            table.list data-source=(listing.source()) data-stream=(listing.stream()) {
                thead {
                    tr {
                        th scope="col" { "ID" }
                        th scope="col" { "Name" }
                        th scope="col" { "Pipeline" }
                        th scope="col" { "State" }
                        th scope="col" { "Submitted" }
                        th scope="col" { "Started" }
                        th.num scope="col" { "Duration" }
                        th scope="col" { "Expected" }
                        th scope="col" { "Submitted by" }
                    }
                }
                tbody {
                    @for view in listing.experiments {
                        (row(view, now))
                    }
                    @if listing.experiments.is_empty() {
                        tr.empty { td colspan="9" { (empty) } }
                    }
                }
            }
        }
    }
}

fn row(view: &View, now: Timestamp) -> Markup {
    let record = &view.record;
    html! {
        tr data-id=(record.id) {
            td.id { (record.id) }
            td.name {
                a href={ "/experiments/" (record.id) } { (record.query_name) }
                @if let Some(moved) = &record.moved_to_front {
                    " " (moved_tag(moved))
                }
            }
            td.pipeline {
                @if record.pipeline.is_empty() { (none()) } @else { code { (record.pipeline) } }
            }
            td {
                (badge(record.state))
                @if let Some(position) = view.position {
                    span.place { "position " (position) }
                }
            }
            td { (time(Some(record.submitted_at))) }
            td { (time(record.started_at)) }
            td.num {
                @match run_time(view, now) {
                    Some(millis) => { (duration(millis)) }
                    None => { (none()) }
                }
            }
            td.expected {
                @match estimate(&view.eta, true) {
                    Some(words) => { (words) }
                    None => { (none()) }
                }
            }
            td.by {
                @match &record.submitted_by {
                    Some(by) => { (by) }
                    None => { (none()) }
                }
            }
        }
    }
}

fn pager(listing: &Listing, path: &str) -> Markup {
    html! {
        nav.pager aria-label="Pages" {
            @if listing.page_token.is_some() {
                a href=(listing.link(path, None)) { "← Newest" }
            }
            @match listing.next_page {
                Some(next) => { a href=(listing.link(path, Some(next))) data-older { "Older →" } }
                None => { a href="#" data-older hidden { "Older →" } }
            }
        }
    }
}

/// The mark of an experiment moved to the front, in a table row.
fn moved_tag(moved: &Moved) -> Markup {
    html! {
        span.tag.moved data-moved title={ "Moved to the front by " (moved.by) " at " (moved.at) } {
            "moved to front"
        }
    }
}
