//! The pages' HTML, as maud templates.
//!
//! maud escapes every value spliced into a template, in text and in attribute
//! values alike, so user text (names, descriptions, commands, file names,
//! errors, logs) can only ever come out as text. Markup is whatever the
//! templates write themselves, or a [`Markup`] another template returned;
//! nothing here turns a string into markup.

use std::sync::Arc;

use maud::{html, Markup, DOCTYPE};

mod batch;

pub use batch::batch;

use super::{Experiment, Form, Frame, Home, Input, Listing, Logs};
use crate::access::{Mode, Viewer};
use crate::http::percent::encode_segment;
use crate::model::{Drain, FileInfo, Id, Moved, Pause, PausedBy, Record, RunHandle, State};
use crate::pipeline::{Param, ParamKind, Pipeline};
use crate::query::{Alphabet, AlphabetPolicy, MAX_NAME_CHARS};
use crate::queue::{Backlog, View, Waiting};
use crate::results::{size, thousands};
use crate::time::Timestamp;

/// What `app.js` does on a page, as `<main>`'s `data-page` and
/// `data-experiment` attributes tell it.
pub(super) enum Script {
    /// Nothing: the page does not change by itself.
    Still,
    /// A table of experiments, polled while something moves.
    List,
    /// One experiment's page, polled while it moves.
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

/// The home page: the submission form, the queue, and the experiments.
pub fn home(frame: &Frame, home: &Home) -> Markup {
    let title = if home.form.error.is_some() {
        "Not submitted: please check the form"
    } else {
        "Experiments"
    };
    let main = html! {
        div.intro {
            h1 { "Sequence experiments" }
            p.lede {
                "Submit a sequence; it runs when its turn comes, one experiment at a time, \
                 in the order they were submitted."
            }
        }
        div.home {
            div.side {
                (submit_form(home, &frame.viewer))
                (pipelines_card(home.pipelines, home.alphabet))
            }
            div.board {
                (backlog(home.backlog))
                (experiments_section(&home.listing, "/", "Experiments"))
            }
        }
    };
    layout(frame, title, Script::List, main)
}

fn submit_form(home: &Home, viewer: &Viewer) -> Markup {
    let form = home.form;
    let chosen = form.input.chosen(home.pipelines);
    let name_error = form.error_for("query_name");
    let sequence_error = form.error_for("query_sequence");
    let file_error = form
        .error_for("file")
        .map(|error| format!("{error} (a browser forgets the chosen file: choose it again)"));
    let file_error = file_error.as_deref();
    // An error for a field this form does not show (a parameter the chosen
    // pipeline lacks) is said at the top, with the field's name.
    let marked = form
        .field
        .as_deref()
        .is_some_and(|field| shows_field(chosen, field));
    let takes = chosen.map_or_else(
        || {
            takes_words(
                &[Alphabet::Dna, Alphabet::Rna, Alphabet::Protein],
                home.alphabet,
            )
        },
        |pipeline| takes_words(&pipeline.alphabets, home.alphabet),
    );
    html! {
        section.card.submit aria-labelledby="submit-heading" {
            h2 id="submit-heading" { "New experiment" }
            @if form.carried {
                p.notice role="status" {
                    "You are signed in. What you typed is back in the form, not submitted yet: \
                     check it and press Submit."
                }
            } @else if viewer.mode == Mode::Members && viewer.user.is_none() {
                p.notice data-sign-in-first {
                    "Submitting needs a user: " a href="/sign-in" { "sign in" }
                    " first, with the token the operator gave you. \
                     (Submit without, and the sign-in keeps what you typed.)"
                }
            }
            @if let Some(error) = &form.error {
                p.alert role="alert" {
                    @if marked {
                        "Nothing was submitted: please correct the field marked below."
                    } @else if let Some(field) = &form.field {
                        "Nothing was submitted: " code { (field) } " " (error)
                    } @else {
                        "Nothing was submitted: " (error)
                    }
                }
            }
            form.stack method="post" action="/experiments" enctype="multipart/form-data" data-submit {
                div.field.invalid[name_error.is_some()] {
                    label for="query_name" { "Name" }
                    p.hint id="query_name-hint" {
                        "Optional if the sequence has a FASTA header (" code { ">name" } ")."
                    }
                    (field_error("query_name", name_error))
                    input type="text" id="query_name" name="query_name" maxlength=(MAX_NAME_CHARS)
                        autocomplete="off" spellcheck="false" value=(form.input.name)
                        aria-describedby=(described_by("query_name", name_error))
                        aria-invalid=[name_error.map(|_| "true")] autofocus[name_error.is_some()];
                }
                div.field.invalid[sequence_error.is_some()] {
                    label for="query_sequence" { "Sequence" }
                    p.hint id="query_sequence-hint" {
                        span data-takes { (sentence_case(&takes)) }
                        ", up to " (thousands(home.max_residues as u64)) " residues. \
                         Several FASTA records, or FASTQ reads, make a batch, one experiment each."
                    }
                    (field_error("query_sequence", sequence_error))
                    textarea id="query_sequence" name="query_sequence" rows="5" spellcheck="false"
                        autocomplete="off" autocapitalize="off"
                        placeholder=">sample-1\nATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG"
                        aria-describedby=(described_by("query_sequence", sequence_error))
                        aria-invalid=[sequence_error.map(|_| "true")] autofocus[sequence_error.is_some()] {
                        (verbatim(&form.input.sequence))
                    }
                }
                div.field.invalid[file_error.is_some()] {
                    label for="file" { "Or a FASTA or FASTQ file" }
                    p.hint id="file-hint" {
                        "Each record becomes one experiment (up to " (thousands(home.max_records as u64)) "); \
                         leave the sequence box empty."
                    }
                    (field_error("file", file_error))
                    input type="file" id="file" name="file" accept=".fasta,.fa,.fna,.faa,.fastq,.fq,.txt"
                        aria-describedby=(described_by("file", file_error))
                        aria-invalid=[file_error.map(|_| "true")] autofocus[file_error.is_some()];
                }
                (pipeline_picker(home, chosen))
                (parameters(home, chosen))
                div.actions { button.primary type="submit" { "Submit" } }
            }
        }
    }
}

/// Whether the form shows `field`, so that its error can sit beside it.
fn shows_field(chosen: Option<&Pipeline>, field: &str) -> bool {
    match field.strip_prefix("param.") {
        Some(name) => chosen.is_some_and(|p| p.params.iter().any(|param| param.name == name)),
        None => matches!(field, "query_name" | "query_sequence" | "file" | "pipeline"),
    }
}

/// The choice of pipeline: radio buttons with each one's title and
/// description; with a single pipeline, which one runs.
fn pipeline_picker(home: &Home, chosen: Option<&Pipeline>) -> Markup {
    let error = home.form.error_for("pipeline");
    let is_chosen = |pipeline: &Pipeline| chosen.is_some_and(|c| c.name == pipeline.name);
    html! {
        @if let [only] = home.pipelines {
            div.field.invalid[error.is_some()] {
                // Sent all the same: a server restarted with other pipelines
                // refuses it rather than running something else.
                input type="hidden" name="pipeline" value=(only.name);
                p.runs {
                    "Pipeline: " strong { (only.title) } " (" code { (only.name) } ")"
                }
                (field_error("pipeline", error))
            }
        } @else {
            fieldset.field.picker.invalid[error.is_some()] {
                legend { "Pipeline" }
                (field_error("pipeline", error))
                @for pipeline in home.pipelines {
                    // Names hold no '.': these ids are each their own.
                    @let id = format!("pipeline.{}", pipeline.name);
                    @let hint = (!pipeline.description.is_empty()).then(|| format!("{id}.hint"));
                    @let described = [error.map(|_| "pipeline-error".to_owned()), hint.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    div.choice {
                        input type="radio" name="pipeline" id=(id) value=(pipeline.name)
                            checked[is_chosen(pipeline)]
                            data-takes=(sentence_case(&takes_words(&pipeline.alphabets, home.alphabet)))
                            aria-describedby=[(!described.is_empty()).then_some(&described)]
                            aria-invalid=[error.map(|_| "true")]
                            autofocus[error.is_some() && is_chosen(pipeline)];
                        label for=(id) {
                            span.choice-title { (pipeline.title) }
                            " "
                            code.choice-name { (pipeline.name) }
                        }
                        @if let Some(hint) = &hint {
                            p.hint id=(hint) { (pipeline.description) }
                        }
                    }
                }
            }
        }
    }
}

/// Each pipeline's parameters, in a fieldset of its own; the script shows
/// only the chosen pipeline's and disables the others, so they are not sent.
fn parameters(home: &Home, chosen: Option<&Pipeline>) -> Markup {
    let with_params: Vec<&Arc<Pipeline>> = home
        .pipelines
        .iter()
        .filter(|pipeline| !pipeline.params.is_empty())
        .collect();
    html! {
        @if with_params.len() > 1 {
            p.hint data-all-params {
                "Each pipeline's parameters follow; only those of the chosen pipeline are used."
            }
        }
        @for pipeline in with_params {
            @let is_chosen = chosen.is_some_and(|c| c.name == pipeline.name);
            fieldset.params data-pipeline=(pipeline.name) {
                legend { (pipeline.title) " " span.legend-note { "parameters" } }
                @for param in &pipeline.params {
                    (param_field(home.form, pipeline, param, is_chosen))
                }
            }
        }
    }
}

/// One parameter's field, named `param.PIPELINE.NAME`, holding what was sent
/// or else the default.
fn param_field(form: &Form, pipeline: &Pipeline, param: &Param, chosen: bool) -> Markup {
    // As the field is named (a parameter's name holds no '-' nor '.', a
    // pipeline's no '.'), so its hint and error ids are its own too.
    let name = format!("param.{}.{}", pipeline.name, param.name);
    let id = name.clone();
    // The server reads only the chosen pipeline's, so only those can be at fault.
    let error = if chosen {
        form.error_for(&format!("param.{}", param.name))
    } else {
        None
    };
    let value = form
        .input
        .param(&pipeline.name, &param.name, chosen)
        .or(param.default.as_deref())
        .unwrap_or("");
    let bounds = bounds_words(&param.kind);
    let hint = (!param.help.is_empty() || bounds.is_some()).then(|| format!("{id}-hint"));
    let described = [error.map(|_| format!("{id}-error")), hint.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let described = (!described.is_empty()).then_some(described);
    let invalid = error.map(|_| "true");
    let focus = error.is_some();
    // Without a default, the parameter may be left unset (out of the environment).
    let unset = param.default.is_none();
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (param.label) }
            @if let Some(hint) = &hint {
                p.hint id=(hint) {
                    (param.help)
                    @if let Some(bounds) = &bounds {
                        @if !param.help.is_empty() { " " }
                        (bounds)
                    }
                }
            }
            (field_error(&id, error))
            @match &param.kind {
                ParamKind::Choice { options } => {
                    select id=(id) name=(name) aria-describedby=[&described]
                        aria-invalid=[invalid] autofocus[focus] {
                        @if unset { option value="" selected[value.is_empty()] { "not set" } }
                        @for option in options {
                            option value=(option) selected[option == value] { (option) }
                        }
                    }
                }
                ParamKind::Boolean => {
                    @let yes = matches!(value.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1");
                    @let no = matches!(value.to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0");
                    select id=(id) name=(name) aria-describedby=[&described]
                        aria-invalid=[invalid] autofocus[focus] {
                        @if unset { option value="" selected[!yes && !no] { "not set" } }
                        option value="true" selected[yes] { "yes" }
                        option value="false" selected[no] { "no" }
                    }
                }
                ParamKind::Integer { min, max } => {
                    input type="number" id=(id) name=(name) value=(value) min=[min] max=[max]
                        step="1" inputmode="numeric" autocomplete="off"
                        aria-describedby=[&described] aria-invalid=[invalid] autofocus[focus];
                }
                ParamKind::Number { min, max, .. } => {
                    // An exclusive bound has no attribute: the server refuses the bound itself.
                    input type="number" id=(id) name=(name) value=(value) min=[min] max=[max]
                        step="any" inputmode="decimal" autocomplete="off"
                        aria-describedby=[&described] aria-invalid=[invalid] autofocus[focus];
                }
                ParamKind::Text { pattern, max_length, .. } => {
                    // The browser's message for a value the pattern refuses adds the title.
                    @let title = pattern.as_ref().and((!param.help.is_empty()).then_some(&param.help));
                    input type="text" id=(id) name=(name) value=(value) maxlength=(max_length)
                        pattern=[pattern] title=[title]
                        autocomplete="off" spellcheck="false"
                        aria-describedby=[&described] aria-invalid=[invalid] autofocus[focus];
                }
            }
        }
    }
}

/// What a number's bounds are, in words, when it has any: inclusive ones
/// (`min`, `max`) and exclusive ones (`above`, `below`).
fn bounds_words(kind: &ParamKind) -> Option<String> {
    fn words<T: std::fmt::Display>(
        what: &str,
        [min, max, above, below]: [Option<T>; 4],
    ) -> Option<String> {
        if let (Some(min), Some(max)) = (&min, &max) {
            return Some(format!("{what} from {min} to {max}."));
        }
        let low = min
            .map(|min| format!("at least {min}"))
            .or_else(|| above.map(|above| format!("above {above}")));
        let high = max
            .map(|max| format!("at most {max}"))
            .or_else(|| below.map(|below| format!("below {below}")));
        match (low, high) {
            (Some(low), Some(high)) => Some(format!("{what}, {low} and {high}.")),
            (Some(bound), None) | (None, Some(bound)) => Some(format!("{what}, {bound}.")),
            (None, None) => None,
        }
    }
    match kind {
        ParamKind::Integer { min, max } => words("A whole number", [*min, *max, None, None]),
        ParamKind::Number {
            min,
            max,
            above,
            below,
        } => words("A number", [*min, *max, *above, *below]),
        ParamKind::Text { max_length, .. } => Some(format!("Up to {max_length} characters.")),
        ParamKind::Choice { .. } | ParamKind::Boolean => None,
    }
}

/// The alphabets a pipeline takes on this server, in words: `DNA, RNA or
/// protein`, `DNA or RNA`, `protein`.
fn takes_words(alphabets: &[Alphabet], server: AlphabetPolicy) -> String {
    let mut words: Vec<&str> = alphabets
        .iter()
        .filter(|a| server.allows(**a))
        .map(|a| a.word())
        .collect();
    if words.is_empty() {
        // The server refuses all it takes: say what the pipeline says.
        words = alphabets.iter().map(|a| a.word()).collect();
    }
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `protein` as a sentence starts it: `Protein`.
fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The message beside a field at fault; its id ties it to the field for screen readers.
fn field_error(field: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.field-error id={ (field) "-error" } { (error) }
        }
    }
}

/// The ids of what describes a field: its error first, if it has one, then its hint.
fn described_by(field: &str, error: Option<&str>) -> String {
    match error {
        Some(_) => format!("{field}-error {field}-hint"),
        None => format!("{field}-hint"),
    }
}

/// Text as the content of a `<textarea>` or `<pre>`: the parser drops a
/// newline right after the start tag, so a text that starts with one gets one
/// more, and keeps its own.
fn verbatim(text: &str) -> Markup {
    html! {
        @if text.starts_with('\n') { "\n" }
        (text)
    }
}

/// The running and queued counts; the script keeps them current.
fn backlog(backlog: Backlog) -> Markup {
    html! {
        section.backlog aria-labelledby="backlog-heading" {
            h2.visually-hidden id="backlog-heading" { "Backlog" }
            div.counts aria-live="polite" {
                p.count.running {
                    span.number data-count="RUNNING" { (backlog.running) }
                    " "
                    span.label { "running" }
                }
                p.count.queued {
                    span.number data-count="QUEUED" { (backlog.queued) }
                    " "
                    span.label { "queued" }
                }
            }
            p.hint { "One experiment runs at a time; the others wait their turn, first in, first out." }
        }
    }
}

/// The pipelines this server offers: what each is, what it takes, what it runs.
fn pipelines_card(pipelines: &[Arc<Pipeline>], alphabet: AlphabetPolicy) -> Markup {
    html! {
        section.card.pipelines-card aria-labelledby="pipelines-heading" {
            h2 id="pipelines-heading" {
                @if pipelines.len() == 1 { "Pipeline" } @else { "Pipelines" }
            }
            p.hint {
                "What an experiment runs, in its own directory, with its sequence in "
                code { "query.fasta" } "."
            }
            @for pipeline in pipelines {
                div.pipeline data-pipeline=(pipeline.name) {
                    h3 {
                        (pipeline.title) " "
                        code.pipeline-name { (pipeline.name) }
                    }
                    @if !pipeline.description.is_empty() {
                        p.description { (pipeline.description) }
                    }
                    p.hint { "Takes " (takes_words(&pipeline.alphabets, alphabet)) "." }
                    pre.command { (verbatim(&pipeline.definition.label())) }
                }
            }
        }
    }
}

/// The table of experiments with its state filter and pager; `path` is the
/// page it is on (`/` or `/experiments`).
fn experiments_section(listing: &Listing, path: &str, heading: &str) -> Markup {
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

/// The experiments listed with a filter (a batch has a page of its own: [`batch()`]).
pub fn listing(frame: &Frame, listing: &Listing) -> Markup {
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

/// One experiment's page.
pub fn experiment(frame: &Frame, page: &Experiment) -> Markup {
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
                    (fact("notifications", "Notifications", super::notifications::value(record, outbox)))
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

/// The mark of an experiment moved to the front, in a table row.
fn moved_tag(moved: &Moved) -> Markup {
    html! {
        span.tag.moved data-moved title={ "Moved to the front by " (moved.by) " at " (moved.at) } {
            "moved to front"
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
pub fn cancel_confirmation(frame: &Frame, view: &View) -> Markup {
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

/// The sign-in page: a form to paste a token into, which comes back with
/// `error` when the token was refused; `next` is where it leads after. With
/// `submission`, a submission was refused for want of a user: the form
/// carries what was typed, to put it back in the home page's form.
pub fn sign_in(
    frame: &Frame,
    next: &str,
    error: Option<&str>,
    submission: Option<&Input>,
) -> Markup {
    let main = html! {
        div.intro {
            h1 { "Sign in" }
            p.lede {
                "Paste the token the workstation's operator gave you. \
                 It stays in this browser as a session until you sign out, \
                 for at most 12 hours, or until the server restarts."
            }
        }
        section.card.sign-in aria-labelledby="sign-in-heading" {
            h2.visually-hidden id="sign-in-heading" { "Your token" }
            @if let Some(user) = &frame.viewer.user {
                p.hint { "You are signed in as " strong { (user.name) } "; signing in again replaces it." }
            }
            @if let Some(input) = submission {
                p.notice role="alert" data-carried {
                    "Nothing was submitted yet: submitting needs a user. "
                    @if input.is_empty() {
                        "Sign in with your token, then submit again."
                    } @else {
                        "Sign in with your token, and the form comes back with what you typed \
                         (the name, the sequence, the pipeline and its parameters), ready to submit."
                    }
                    @if let Some(file) = &input.file {
                        " The file you chose (" (file) ") cannot be carried through a sign-in: \
                         choose it again after."
                    }
                }
            }
            form.stack method="post" action="/sign-in" {
                input type="hidden" name="next" value=(next);
                @if let Some(input) = submission {
                    (carried_fields(input))
                }
                div.field.invalid[error.is_some()] {
                    label for="token" { "Token" }
                    p.hint id="token-hint" {
                        "It starts with " code { "ssp_" } ". No token? Ask the operator to run "
                        code { "seqspool user add YOUR-NAME" } "."
                    }
                    (field_error("token", error))
                    input type="password" id="token" name="token" required
                        autocomplete="current-password" spellcheck="false" autofocus
                        aria-describedby=(described_by("token", error))
                        aria-invalid=[error.map(|_| "true")];
                }
                div.actions { button.primary type="submit" { "Sign in" } }
            }
        }
    };
    layout(frame, "Sign in", Script::Still, main)
}

/// A submission's fields as hidden ones, named as the home page's form names
/// them, so that the sign-in can put them back there.
fn carried_fields(input: &Input) -> Markup {
    html! {
        @if !input.name.is_empty() {
            input type="hidden" name="query_name" value=(input.name);
        }
        @if !input.sequence.is_empty() {
            input type="hidden" name="query_sequence" value=(input.sequence);
        }
        @if let Some(pipeline) = &input.pipeline {
            input type="hidden" name="pipeline" value=(pipeline);
        }
        @for (key, value) in &input.params {
            input type="hidden" name={ "param." (key) } value=(value);
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

/// The page for an error: its title, what went wrong, and a way back.
pub fn error(title: &str, message: &str) -> Markup {
    let main = html! {
        h1 { (title) }
        p.alert role="alert" { (message) }
        p { a href="/" { "Back to the experiments" } }
    };
    layout(&Frame::default(), title, Script::Still, main)
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

/// A state in a colour and a word (never colour alone); `data-state` keeps the API's name.
fn badge(state: State) -> Markup {
    let class = format!("state-{}", state.as_str().to_lowercase().replace('_', "-"));
    html! {
        span.state.(class) data-state=(state.as_str()) { (state_word(state)) }
    }
}

/// The word a page uses for a state (`app.js` has the same words).
fn state_word(state: State) -> &'static str {
    match state {
        State::Queued => "Queued",
        State::Running => "Running",
        State::Complete => "Complete",
        State::ExecutorError => "Failed",
        State::SystemError => "System error",
        State::Canceled => "Canceled",
    }
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

fn alphabet_word(alphabet: &str) -> &str {
    match alphabet {
        "dna" => "DNA",
        "rna" => "RNA",
        other => other,
    }
}

/// How long it ran, or has been running: `None` before it started.
fn run_time(view: &View, now: Timestamp) -> Option<u64> {
    let started = view.record.started_at?;
    let end = match view.record.finished_at {
        Some(finished) => finished,
        None if view.record.state == State::Running => now,
        // Canceled or interrupted with no finish time: nothing sensible to show.
        None => return None,
    };
    Some(end.since(started).as_millis() as u64)
}

/// `<time>` with the RFC 3339 instant; the script rewrites it in local time.
fn time(at: Option<Timestamp>) -> Markup {
    html! {
        @match at {
            Some(at) => { time datetime=(at) { (at) } }
            None => { (none()) }
        }
    }
}

/// When an experiment should start and finish, from its record's `eta`, in
/// words; `None` once it has finished. `compact` for a table's cell. The
/// script writes the times in local time, to the minute, and the same
/// words (`app.js`, estimate).
fn estimate(eta: &Waiting, compact: bool) -> Option<Markup> {
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

/// A dash for a value that does not exist (yet).
fn none() -> Markup {
    html! { span.none { "—" } }
}

/// A duration as a person reads it: `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
fn duration(millis: u64) -> String {
    let secs = millis / 1000;
    if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3600, secs / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::error::Error;
    use crate::model::Record;
    use crate::ui::{Form, Input, Tail, PAGE};

    fn view(name: &str, state: State) -> View {
        View {
            record: Record {
                query_name: name.to_owned(),
                description: Some("<b>bold</b> description".into()),
                length: 1234,
                submitted_at: Timestamp::parse("2026-01-02T03:04:05.678Z").unwrap(),
                command: Arc::from("sleep 2"),
                ..Record::for_test(7, state)
            },
            position: (state == State::Queued).then_some(2),
            eta: Default::default(),
        }
    }

    fn experiment_page(
        frame: &Frame,
        view: &View,
        files: &[FileInfo],
        logs: &Logs,
        dir: &str,
    ) -> Markup {
        experiment(
            frame,
            &Experiment {
                view,
                pipeline: None,
                files,
                logs,
                dir,
                results: Markup::default(),
                outbox: None,
            },
        )
    }

    fn home_page(views: &[View], form: &Form, command: &str) -> String {
        let pipelines = [Arc::new(Pipeline::default_command(command, None))];
        home_with(views, form, &pipelines)
    }

    fn home_with(views: &[View], form: &Form, pipelines: &[Arc<Pipeline>]) -> String {
        home(
            &Frame::default(),
            &Home {
                listing: Listing {
                    experiments: views,
                    next_page: None,
                    page_token: None,
                    state: None,
                    batch: None,
                    submitted_by: None,
                    mine: None,
                    limit: PAGE,
                },
                backlog: Backlog::default(),
                pipelines,
                alphabet: AlphabetPolicy::Auto,
                max_residues: 10,
                max_records: 10,
                form,
            },
        )
        .into_string()
    }

    #[test]
    fn bounds_are_said_in_words_exclusive_ones_too() {
        let number = |bounds: [Option<f64>; 4]| {
            let [min, max, above, below] = bounds;
            bounds_words(&ParamKind::Number {
                min,
                max,
                above,
                below,
            })
        };
        assert_eq!(
            number([None, Some(1000.0), Some(0.0), None]).as_deref(),
            Some("A number, above 0 and at most 1000.")
        );
        assert_eq!(
            number([Some(0.0), None, None, Some(1.0)]).as_deref(),
            Some("A number, at least 0 and below 1.")
        );
        assert_eq!(
            number([None, None, Some(0.0), None]).as_deref(),
            Some("A number, above 0.")
        );
        assert_eq!(
            number([Some(1.0), Some(5.0), None, None]).as_deref(),
            Some("A number from 1 to 5.")
        );
        assert_eq!(number([None; 4]), None);
    }

    #[test]
    fn an_estimate_shows_while_it_waits_or_runs_and_says_when_there_is_none() {
        use crate::queue::Eta;
        let frame = Frame::default();
        let logs = Logs::default();
        let at = |text: &str| Timestamp::parse(text).unwrap();
        let page = |view: &View| experiment_page(&frame, view, &[], &logs, "/x").into_string();
        let fact = |page: &str| {
            let start = page.find(r#"data-fact="eta""#).expect("the fact is there");
            page[start..start + page[start..].find("</div>").unwrap()].to_owned()
        };

        let mut waiting = view("w", State::Queued);
        waiting.eta = Waiting::Unknown(None);
        let unknown = fact(&page(&waiting));
        assert!(!unknown.contains("hidden"), "{unknown}");
        assert!(unknown.contains(">no estimate yet</span>"), "{unknown}");

        waiting.eta = Waiting::Unknown(Some(Eta {
            start: Some(at("2026-01-02T04:00:00.000Z")),
            finish: at("2026-01-02T04:05:00.000Z"),
        }));
        let known = fact(&page(&waiting));
        assert!(
            known
                .contains(r#"starts about <time datetime="2026-01-02T04:00:00.000Z" data-approx>"#),
            "{known}"
        );
        assert!(
            known.contains(
                r#"finishes about <time datetime="2026-01-02T04:05:00.000Z" data-approx>"#
            ),
            "{known}"
        );
        let row = home_page(std::slice::from_ref(&waiting), &Form::default(), "true");
        let cell = &row[row
            .find(r#"<td class="expected">"#)
            .expect("an Expected cell")..];
        assert!(
            cell.starts_with(r#"<td class="expected"><span class="eta""#),
            "{cell}"
        );

        let mut running = view("r", State::Running);
        running.eta = Waiting::Unknown(Some(Eta {
            start: None,
            finish: at("2026-01-02T04:05:00.000Z"),
        }));
        let finishing = fact(&page(&running));
        assert!(!finishing.contains("starts about") && finishing.contains("finishes about"));

        // While the queue is paused: no time, what it waits for and why.
        waiting.eta = Waiting::Held(crate::queue::Hold {
            waits_for: "pause",
            reason: "the queue is paused (since 2026-01-02T03:00:00.000Z): a new disk; nothing starts until it is resumed".into(),
        });
        let held = fact(&page(&waiting));
        assert!(
            held.contains(">waits until the queue is resumed</span>"),
            "{held}"
        );
        assert!(
            held.contains("(the queue is paused (since 2026-01-02T03:00:00.000Z): a new disk;"),
            "{held}"
        );
        assert!(
            !held.contains("starts about") && !held.contains("<time"),
            "{held}"
        );

        let done = fact(&page(&view("d", State::Complete)));
        assert!(
            done.contains("hidden"),
            "a finished one has no estimate: {done}"
        );
    }

    #[test]
    fn a_rendered_page_holds_the_name_escaped_and_never_raw() {
        let hostile = r#"<img src=x onerror="alert(1)">"#;
        let page = experiment_page(
            &Frame::default(),
            &view(hostile, State::Queued),
            &[],
            &Logs::default(),
            "/x",
        )
        .into_string();
        assert!(page.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
        assert!(!page.contains(hostile));
        assert!(!page.contains("<b>bold</b>"));

        let views = [view(hostile, State::Running)];
        let form = Form::failed(
            Input {
                name: hostile.into(),
                sequence: "</textarea><script>".into(),
                ..Input::default()
            },
            &Error::Invalid {
                field: "query_sequence".into(),
                msg: "invalid character '<'".into(),
            },
        );
        let page = home_page(&views, &form, "grep '<x>'");
        assert!(!page.contains(hostile));
        assert!(!page.contains("</textarea><script>"));
        assert!(page.contains("&lt;/textarea&gt;&lt;script&gt;"));
        assert!(page.contains("invalid character '&lt;'"));
        assert!(page.contains("grep '&lt;x&gt;'"));
    }

    #[test]
    fn names_descriptions_commands_and_file_names_are_escaped_in_attributes_and_text() {
        let hostile = r#"<script>alert("x" & 'y')</script>"#;
        let escaped = "&lt;script&gt;alert(&quot;x&quot; &amp; 'y')&lt;/script&gt;";
        let mut queued = view(hostile, State::Queued);
        queued.record.description = Some(format!("about {hostile}"));
        queued.record.command = Arc::from(format!("grep {hostile}"));
        let files = [FileInfo {
            name: format!("{hostile}.txt"),
            size: 10,
        }];
        let logs = Logs {
            stdout: Some(Tail {
                text: hostile.into(),
                cut: false,
            }),
            stderr: None,
        };
        let page = experiment_page(&Frame::default(), &queued, &files, &logs, "/data/000007")
            .into_string();
        // Only the page's own script tags (app.js, results.js), and no quote or ampersand raw.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert!(!page.contains(r#""x""#), "{page}");
        assert!(!page.contains(" & "), "{page}");
        // Text: the title, the heading, the facts, the files table, the log.
        assert!(page.contains(&format!("<title>{escaped} (000007) · seqspool</title>")));
        assert!(page.contains(&format!("<h1>{escaped}</h1>")));
        assert!(page.contains(&format!("<dd>about {escaped}</dd>")));
        assert!(page.contains(&format!("<dd><code>grep {escaped}</code></dd>")));
        assert!(page.contains(&format!(">{escaped}.txt</a>")));
        assert!(page.contains(&format!(">{escaped}</pre>")));
        // Attributes: the cancel question, and the file's link (percent-encoded).
        assert!(page.contains(&format!(
            "data-confirm=\"Cancel experiment 000007 ({escaped})? It will not run.\""
        )));
        assert!(page.contains(
            "href=\"/experiments/000007/files/%3Cscript%3Ealert%28%22x%22%20%26%20%27y%27%29%3C%2Fscript%3E.txt\""
        ));

        let form = Form::failed(
            Input {
                name: hostile.into(),
                sequence: hostile.into(),
                ..Input::default()
            },
            &Error::Invalid {
                field: "query_name".into(),
                msg: format!("{hostile} is no name"),
            },
        );
        let page = home_page(&[queued], &form, &format!("grep {hostile}"));
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains(r#""x""#), "{page}");
        assert!(!page.contains(" & "), "{page}");
        assert!(page.contains(&format!("value=\"{escaped}\"")));
        assert!(page.contains(&format!(">{escaped}</textarea>")));
        assert!(page.contains(&format!(">{escaped} is no name</p>")));
        assert!(page.contains(&format!("<pre class=\"command\">grep {escaped}</pre>")));
        assert!(page.contains(&format!("<a href=\"/experiments/000007\">{escaped}</a>")));

        let confirmation =
            cancel_confirmation(&Frame::default(), &view(hostile, State::Running)).into_string();
        assert_eq!(confirmation.matches("<script").count(), 1);
        assert!(confirmation.contains(&format!("<p>{escaped} is running. ")));
    }

    #[test]
    fn a_leading_newline_survives_the_textarea_and_the_log() {
        let form = Form::failed(
            Input {
                name: String::new(),
                sequence: "\n>a\nACGT".into(),
                ..Input::default()
            },
            &Error::Invalid {
                field: "query_sequence".into(),
                msg: "no".into(),
            },
        );
        let page = home_page(&[], &form, "true");
        assert!(
            page.contains("autofocus>\n\n&gt;a\nACGT</textarea>"),
            "{page}"
        );
        let form = Form::failed(
            Input {
                name: String::new(),
                sequence: ">a\nACGT".into(),
                ..Input::default()
            },
            &Error::QueueFull { capacity: 3 },
        );
        let page = home_page(&[], &form, "true");
        assert!(
            page.contains("\"query_sequence-hint\">&gt;a\nACGT</textarea>"),
            "{page}"
        );

        let logs = Logs {
            stdout: Some(Tail {
                text: "\nafter a blank line".into(),
                cut: false,
            }),
            stderr: None,
        };
        let page = experiment_page(
            &Frame::default(),
            &view("x", State::Running),
            &[],
            &logs,
            "/x",
        )
        .into_string();
        assert!(
            page.contains(", all of it\">\n\nafter a blank line</pre>"),
            "{page}"
        );
    }

    #[test]
    fn a_field_at_fault_is_marked_and_described_by_its_error() {
        let form = Form::failed(
            Input::default(),
            &Error::Invalid {
                field: "file".into(),
                msg: "is not FASTA".into(),
            },
        );
        let page = home_page(&[], &form, "true");
        assert!(page.contains(
            "<p class=\"field-error\" id=\"file-error\">is not FASTA (a browser forgets the chosen file: choose it again)</p>"
        ));
        assert!(page.contains(
            "aria-describedby=\"file-error file-hint\" aria-invalid=\"true\" autofocus>"
        ));
        assert!(page.contains("aria-describedby=\"query_name-hint\">"));
        assert_eq!(page.matches("aria-invalid").count(), 1);
        assert_eq!(page.matches("class=\"field invalid\"").count(), 1);
    }

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

    #[test]
    fn a_paused_queue_is_said_on_every_page_with_its_reason_escaped() {
        let frame = Frame {
            pause: Some(Pause {
                reason: "the disk <is> full".into(),
                since: Timestamp::parse("2026-01-02T03:04:05.678Z").unwrap(),
                by: PausedBy::Workstation,
                operator: None,
            }),
            ..Frame::default()
        };
        let view = view("q", State::Queued);
        for page in [
            experiment_page(&frame, &view, &[], &Logs::default(), "/x").into_string(),
            cancel_confirmation(&frame, &view).into_string(),
        ] {
            assert!(page.contains("The queue is paused"), "{page}");
            assert!(page.contains("the disk &lt;is&gt; full"), "{page}");
        }
        let calm =
            experiment_page(&Frame::default(), &view, &[], &Logs::default(), "/x").into_string();
        assert!(!calm.contains("The queue is paused"));
    }

    /// The start tag of the Move to front form.
    fn front_tag(page: &str) -> &str {
        let start = page
            .find("<form class=\"front\"")
            .expect("a Move to front form");
        &page[start..start + page[start..].find('>').unwrap()]
    }

    #[test]
    fn a_drain_and_a_move_to_the_front_are_said_with_who_did_them_escaped() {
        let frame = Frame {
            drain: Some(Drain {
                reason: "moving to the <new> server".into(),
                since: Timestamp::parse("2026-01-02T03:04:05.678Z").unwrap(),
                by: "<admin>".into(),
            }),
            ..Frame::default()
        };
        let mut moved = view("q", State::Queued);
        moved.record.moved_to_front = Some(Moved {
            at: Timestamp::parse("2026-01-02T04:00:00.000Z").unwrap(),
            by: "10.0.0.<7>".into(),
        });
        let page = experiment_page(&frame, &moved, &[], &Logs::default(), "/x").into_string();
        assert!(page.contains("Submissions are closed"), "{page}");
        assert!(page.contains("moving to the &lt;new&gt; server"), "{page}");
        assert!(page.contains("by &lt;admin&gt;"), "{page}");
        assert!(page.contains("Moved to the front"), "{page}");
        assert!(page.contains("by 10.0.0.&lt;7&gt;"), "{page}");
        // Queued behind another: the button is there to use.
        assert!(!front_tag(&page).contains("hidden"), "{page}");
        let home = home_page(&[moved], &Form::default(), "true");
        assert!(home.contains("moved to front"), "{home}");
        assert!(!home.contains("10.0.0.<7>"), "{home}");

        let calm = experiment_page(
            &Frame::default(),
            &view("q", State::Running),
            &[],
            &Logs::default(),
            "/x",
        )
        .into_string();
        assert!(!calm.contains("Submissions are closed"));
        assert!(front_tag(&calm).contains("hidden"), "{calm}");
    }

    /// The pipelines a configuration file's `[[pipeline]]` tables declare.
    fn pipelines(toml_text: &str) -> Vec<Arc<Pipeline>> {
        #[derive(serde::Deserialize)]
        struct File {
            pipeline: Vec<crate::pipeline::PipelineTable>,
        }
        let file: File = toml::from_str(toml_text).unwrap();
        file.pipeline
            .into_iter()
            .map(|table| Arc::new(table.build("/lab", None).unwrap()))
            .collect()
    }

    fn two_pipelines() -> Vec<Arc<Pipeline>> {
        pipelines(
            r#"
            [[pipeline]]
            name = "blastn"
            title = "BLASTN search"
            description = "Nucleotide against the lab's reference."
            command = ["blastn", "-query", "query.fasta"]
            alphabets = ["dna", "rna"]
            [[pipeline.param]]
            name = "evalue"
            type = "number"
            default = 1e-5
            min = 0
            help = "Hits above it are dropped."
            [[pipeline.param]]
            name = "task"
            type = "choice"
            options = ["megablast", "blastn-short"]
            default = "megablast"
            [[pipeline.param]]
            name = "verbose"
            type = "boolean"
            default = false
            [[pipeline.param]]
            name = "label"
            type = "text"
            pattern = "[A-Za-z0-9_]+"
            max_length = 20
            [[pipeline.param]]
            name = "hits"
            type = "integer"
            min = 1
            max = 500

            [[pipeline]]
            name = "hmmscan"
            title = "HMM scan"
            command = "hmmscan pfam query.fasta"
            alphabets = ["protein"]
            [[pipeline.param]]
            name = "evalue"
            type = "number"
            [[pipeline.param]]
            name = "cut"
            type = "choice"
            options = ["ga", "tc"]
            "#,
        )
    }

    /// The start tag of the element with `id`.
    fn tag<'a>(page: &'a str, id: &str) -> &'a str {
        let at = page
            .find(&format!(" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no element {id} in {page}"));
        let start = page[..at].rfind('<').unwrap();
        let end = at + page[at..].find('>').unwrap();
        &page[start..=end]
    }

    #[test]
    fn each_pipeline_field_is_named_for_its_pipeline_typed_and_filled_with_its_default() {
        let pipelines = two_pipelines();
        let page = home_with(&[], &Form::default(), &pipelines);
        let mut ids: Vec<&str> = page
            .split(" id=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "an id is given twice: {ids:?}");

        // The picker: the first pipeline is the default.
        let blastn = tag(&page, "pipeline.blastn");
        assert!(
            blastn.contains(r#"type="radio" name="pipeline""#),
            "{blastn}"
        );
        assert!(blastn.contains(" checked"), "{blastn}");
        assert!(blastn.contains(r#"data-takes="DNA or RNA""#), "{blastn}");
        assert!(blastn.contains(r#"aria-describedby="pipeline.blastn.hint""#));
        let hmmscan = tag(&page, "pipeline.hmmscan");
        assert!(!hmmscan.contains(" checked"), "{hmmscan}");
        assert!(hmmscan.contains(r#"data-takes="Protein""#), "{hmmscan}");
        // No description, nothing to describe it with.
        assert!(!hmmscan.contains("aria-describedby"), "{hmmscan}");
        assert!(page.contains("<span data-takes>DNA or RNA</span>, up to 10 residues."));

        // One fieldset per pipeline with parameters, headed by its title.
        assert!(page.contains(r#"<fieldset class="params" data-pipeline="blastn"><legend>BLASTN search <span class="legend-note">parameters</span></legend>"#));
        assert!(page.contains(r#"<fieldset class="params" data-pipeline="hmmscan"><legend>HMM scan <span class="legend-note">parameters</span></legend>"#));
        assert!(page.contains("data-all-params"));

        let evalue = tag(&page, "param.blastn.evalue");
        for attribute in [
            r#"type="number""#,
            r#"name="param.blastn.evalue""#,
            r#"value="0.00001""#,
            r#"min="0""#,
            r#"step="any""#,
            r#"aria-describedby="param.blastn.evalue-hint""#,
        ] {
            assert!(evalue.contains(attribute), "{attribute} in {evalue}");
        }
        assert!(!evalue.contains("max="), "{evalue}");
        assert!(page.contains(
            r#"<p class="hint" id="param.blastn.evalue-hint">Hits above it are dropped. A number, at least 0.</p>"#
        ));
        let hits = tag(&page, "param.blastn.hits");
        for attribute in [
            r#"name="param.blastn.hits""#,
            r#"value="""#,
            r#"min="1""#,
            r#"max="500""#,
            r#"step="1""#,
        ] {
            assert!(hits.contains(attribute), "{attribute} in {hits}");
        }
        assert!(page.contains(">A whole number from 1 to 500.</p>"));
        let label = tag(&page, "param.blastn.label");
        assert!(label.contains(r#"type="text""#), "{label}");
        assert!(
            label.contains(r#"maxlength="20" pattern="[A-Za-z0-9_]+""#),
            "{label}"
        );
        // A choice with a default offers no "not set"; one without does, chosen.
        assert!(tag(&page, "param.blastn.task").starts_with("<select "));
        assert!(page.contains(
            r#"<option value="megablast" selected>megablast</option><option value="blastn-short">blastn-short</option></select>"#
        ));
        assert!(page.contains(
            r#"<option value="" selected>not set</option><option value="ga">ga</option>"#
        ));
        // A boolean is a yes/no select: a checkbox and a hidden field would send it twice.
        assert!(tag(&page, "param.blastn.verbose").starts_with("<select "));
        assert!(page.contains(
            r#"<option value="true">yes</option><option value="false" selected>no</option></select>"#
        ));
        assert!(!page.contains("checkbox"));

        // Two pipelines may have a parameter of the same name: each field is its own.
        assert_eq!(page.matches(r#"name="param.blastn.evalue""#).count(), 1);
        assert_eq!(page.matches(r#"name="param.hmmscan.evalue""#).count(), 1);
        assert!(!page.contains(r#"name="param.evalue""#));
        assert!(!page.contains("aria-invalid"));

        // The card: every pipeline's title, name, description, alphabets and command.
        assert!(page.contains("<h2 id=\"pipelines-heading\">Pipelines</h2>"));
        assert!(page.contains(
            "<h3>BLASTN search <code class=\"pipeline-name\">blastn</code></h3>\
             <p class=\"description\">Nucleotide against the lab's reference.</p>\
             <p class=\"hint\">Takes DNA or RNA.</p>\
             <pre class=\"command\">blastn -query query.fasta</pre>"
        ));
        assert!(page.contains("<pre class=\"command\">hmmscan pfam query.fasta</pre>"));
    }

    #[test]
    fn a_single_pipeline_is_named_without_a_picker() {
        let page = home_page(&[], &Form::default(), "run.sh");
        assert!(!page.contains("type=\"radio\""));
        assert!(page.contains(r#"<input type="hidden" name="pipeline" value="default">"#));
        assert!(page
            .contains("Pipeline: <strong>Processing command</strong> (<code>default</code>)</p>"));
        assert!(page.contains("<span data-takes>DNA, RNA or protein</span>"));
        assert!(page.contains("<h2 id=\"pipelines-heading\">Pipeline</h2>"));
        assert!(!page.contains("<fieldset"));
    }

    #[test]
    fn a_submission_carried_through_the_sign_in_is_escaped_in_its_hidden_fields() {
        let input = Input {
            name: "\"><script>alert(1)</script>".into(),
            sequence: ">a & b\nACGT\n>c\nGGCC".into(),
            pipeline: Some("blastn".into()),
            params: [("blastn.evalue".to_owned(), "1e-5".to_owned())].into(),
            file: Some("<plate>.fasta".into()),
        };
        let page = sign_in(&Frame::default(), "/", None, Some(&input)).into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains(
            r#"<input type="hidden" name="query_name" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">"#
        ));
        assert!(page.contains(
            "<input type=\"hidden\" name=\"query_sequence\" value=\"&gt;a &amp; b\nACGT\n&gt;c\nGGCC\">"
        ));
        assert!(page.contains(r#"<input type="hidden" name="param.blastn.evalue" value="1e-5">"#));
        assert!(page.contains("The file you chose (&lt;plate&gt;.fasta) cannot be carried"));
        // Nothing to carry: the page says to submit again, and carries nothing.
        let page = sign_in(&Frame::default(), "/", None, Some(&Input::default())).into_string();
        assert!(
            page.contains("Sign in with your token, then submit again."),
            "{page}"
        );
        assert!(!page.contains("name=\"query_sequence\""));
    }

    #[test]
    fn a_failed_submission_comes_back_in_its_pipeline_with_the_error_beside_its_field() {
        let pipelines = two_pipelines();
        let sent = |pipeline: &str| Input {
            name: "sample".into(),
            sequence: "MKV".into(),
            pipeline: Some(pipeline.into()),
            params: [
                ("blastn.evalue", "0.5"),
                ("blastn.verbose", "true"),
                ("hmmscan.evalue", "-2"),
                ("hmmscan.cut", "tc"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            file: None,
        };
        let invalid = |field: &str, msg: &str| Error::Invalid {
            field: field.to_owned().into(),
            msg: msg.into(),
        };

        // A parameter's error sits beside the chosen pipeline's field of that name.
        let form = Form::failed(sent("hmmscan"), &invalid("param.evalue", "-2 is below 0"));
        let page = home_with(&[], &form, &pipelines);
        assert!(tag(&page, "pipeline.hmmscan").contains(" checked"));
        assert!(!tag(&page, "pipeline.blastn").contains(" checked"));
        assert!(page.contains("<span data-takes>Protein</span>"));
        assert!(page.contains(
            r#"<p class="field-error" id="param.hmmscan.evalue-error">-2 is below 0</p>"#
        ));
        let at_fault = tag(&page, "param.hmmscan.evalue");
        assert!(at_fault.contains(r#"value="-2""#), "{at_fault}");
        assert!(at_fault.contains(r#"aria-describedby="param.hmmscan.evalue-error""#));
        assert!(
            at_fault.contains(r#"aria-invalid="true" autofocus"#),
            "{at_fault}"
        );
        assert_eq!(page.matches("aria-invalid").count(), 1);
        assert!(page.contains("please correct the field marked below"));
        // Everything else as it was sent.
        assert!(tag(&page, "param.blastn.evalue").contains(r#"value="0.5""#));
        assert!(page.contains(r#"<option value="true" selected>yes</option>"#));
        assert!(page.contains(r#"<option value="tc" selected>tc</option>"#));
        assert!(tag(&page, "query_name").contains(r#"value="sample""#));

        // An unknown pipeline: beside the picker, with the default chosen.
        let form = Form::failed(
            sent("tblastx"),
            &invalid("pipeline", "no pipeline 'tblastx' here"),
        );
        let page = home_with(&[], &form, &pipelines);
        assert!(page.contains(r#"<fieldset class="field picker invalid"><legend>Pipeline</legend><p class="field-error" id="pipeline-error">no pipeline 'tblastx' here</p>"#));
        let blastn = tag(&page, "pipeline.blastn");
        assert!(blastn.contains(" checked"), "{blastn}");
        assert!(blastn.contains(r#"aria-describedby="pipeline-error pipeline.blastn.hint""#));
        assert!(blastn.contains(" autofocus"), "{blastn}");
        assert!(tag(&page, "pipeline.hmmscan").contains(r#"aria-describedby="pipeline-error""#));

        // A field the form does not show: said at the top, with its name.
        let form = Form::failed(
            sent("blastn"),
            &invalid("param.colour", "blastn has no parameter 'colour'"),
        );
        let page = home_with(&[], &form, &pipelines);
        assert!(page.contains(
            "Nothing was submitted: <code>param.colour</code> blastn has no parameter 'colour'</p>"
        ));
        assert!(!page.contains("field-error"));
        assert!(!page.contains("marked below"));

        // A plain `param.NAME` (a form of the lab's own) fills the chosen pipeline's field only.
        let mut plain = sent("hmmscan");
        plain.params = [("evalue".to_owned(), "3".to_owned())].into();
        let page = home_with(
            &[],
            &Form::failed(plain, &invalid("query_sequence", "no")),
            &pipelines,
        );
        assert!(tag(&page, "param.hmmscan.evalue").contains(r#"value="3""#));
        assert!(tag(&page, "param.blastn.evalue").contains(r#"value="0.00001""#));
    }

    #[test]
    fn lab_text_in_pipelines_and_parameters_is_escaped() {
        let hostile = r#"<script>alert("x" & 'y')</script>"#;
        let escaped = "&lt;script&gt;alert(&quot;x&quot; &amp; 'y')&lt;/script&gt;";
        let pipelines = pipelines(&format!(
            r#"
            [[pipeline]]
            name = "evil"
            title = '''{hostile}'''
            description = '''about {hostile}'''
            command = '''echo {hostile}'''
            [[pipeline.param]]
            name = "pick"
            type = "choice"
            label = '''label {hostile}'''
            help = '''help {hostile}'''
            options = ['''{hostile}''', "plain"]
            [[pipeline.param]]
            name = "words"
            type = "text"
            pattern = '[^<>"]*'
            help = '''no {hostile}'''
            default = "fine"

            [[pipeline]]
            name = "other"
            command = "true"
            "#
        ));
        let mut input = Input {
            pipeline: Some("evil".into()),
            ..Input::default()
        };
        input.params.insert("evil.words".into(), hostile.into());
        let form = Form::failed(
            input,
            &Error::Invalid {
                field: "param.words".into(),
                msg: format!("'{hostile}' does not match"),
            },
        );
        let page = home_with(&[], &form, &pipelines);
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains(r#""x""#), "{page}");
        assert!(!page.contains(" & "), "{page}");
        for text in [
            format!("<span class=\"choice-title\">{escaped}</span>"),
            format!("<legend>{escaped} <span class=\"legend-note\">parameters</span></legend>"),
            format!("<label for=\"param.evil.pick\">label {escaped}</label>"),
            format!("<p class=\"hint\" id=\"param.evil.pick-hint\">help {escaped}</p>"),
            format!("<option value=\"{escaped}\">{escaped}</option>"),
            format!("value=\"{escaped}\""),
            format!("title=\"no {escaped}\""),
            format!(">'{escaped}' does not match</p>"),
            format!("<h3>{escaped} <code"),
            format!("<p class=\"description\">about {escaped}</p>"),
            format!("<pre class=\"command\">echo {escaped}</pre>"),
            "pattern=\"[^&lt;&gt;&quot;]*\"".to_owned(),
        ] {
            assert!(page.contains(&text), "{text} in {page}");
        }

        // On the experiment's page: the pipeline's title, the parameters' names and values.
        let mut shown = view("q", State::Complete);
        shown.record.pipeline = "evil".into();
        shown.record.params.insert("words".into(), hostile.into());
        let page = experiment(
            &Frame::default(),
            &Experiment {
                view: &shown,
                pipeline: Some(&pipelines[0]),
                files: &[],
                logs: &Logs::default(),
                dir: "/x",
                results: Markup::default(),
                outbox: None,
            },
        )
        .into_string();
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert!(
            page.contains(&format!("<dd>{escaped} (<code>evil</code>)</dd>")),
            "{page}"
        );
        assert!(page.contains(&format!(
            "<dl class=\"params\"><div class=\"param\"><dt><code>words</code></dt><dd><code>{escaped}</code></dd></div></dl>"
        )), "{page}");
    }

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

    #[test]
    fn the_alphabets_a_pipeline_takes_read_as_a_list() {
        use Alphabet::*;
        assert_eq!(
            takes_words(&[Dna, Rna, Protein], AlphabetPolicy::Auto),
            "DNA, RNA or protein"
        );
        assert_eq!(takes_words(&[Dna, Rna], AlphabetPolicy::Auto), "DNA or RNA");
        assert_eq!(takes_words(&[Protein], AlphabetPolicy::Auto), "protein");
        assert_eq!(
            takes_words(&[Dna, Protein], AlphabetPolicy::Nucleotide),
            "DNA"
        );
        assert_eq!(takes_words(&[Dna], AlphabetPolicy::Protein), "DNA");
        assert_eq!(sentence_case("protein"), "Protein");
    }
}
