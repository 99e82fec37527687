//! The home page: the submission form (the pipeline to run, each
//! pipeline's parameters, the error beside the field at fault), the
//! backlog, the pipelines offered, and the newest experiments. What the
//! form sent ([`Input`]) comes back in it when a submission fails, or
//! through the sign-in page when its sender had to sign in first.

use std::collections::BTreeMap;
use std::sync::Arc;

use maud::{html, Markup};

use super::layout::{layout, Frame, Script};
use super::listing::{experiments_section, Listing};
use super::words::{described_by, field_error, verbatim};
use crate::access::{Mode, Viewer};
use crate::error::Error;
use crate::pipeline::{Param, ParamKind, Pipeline};
use crate::query::{Alphabet, AlphabetPolicy, MAX_NAME_CHARS};
use crate::queue::Backlog;
use crate::results::thousands;
use crate::submission::Fields;

/// What the home page shows.
pub(crate) struct Home<'a> {
    pub listing: Listing<'a>,
    pub backlog: Backlog,
    /// The pipelines offered, the first the default.
    pub pipelines: &'a [Arc<Pipeline>],
    /// Which sequences the server takes, whatever the pipeline.
    pub alphabet: AlphabetPolicy,
    pub max_residues: usize,
    pub max_records: usize,
    pub form: &'a Form,
}

/// What the user typed into the form, put back when the submission failed,
/// or carried through the sign-in page when they had to sign in first.
#[derive(Debug, Default)]
pub(crate) struct Input {
    pub name: String,
    pub sequence: String,
    /// The pipeline chosen, as sent.
    pub pipeline: Option<String>,
    /// Parameters as sent, keyed by what followed `param.`: `PIPELINE.NAME`
    /// from the page, or `NAME` from a form of the lab's own.
    pub params: BTreeMap<String, String>,
    /// The name of the file chosen, if one was: no page can carry a file
    /// or put it back in the form.
    pub file: Option<String>,
}

impl From<Fields> for Input {
    fn from(fields: Fields) -> Input {
        Input {
            name: fields.query_name.unwrap_or_default(),
            sequence: fields.query_sequence.unwrap_or_default(),
            pipeline: fields.pipeline,
            params: fields.params,
            file: fields.upload,
        }
    }
}

impl Input {
    /// Whether the form sent nothing a page could put back.
    pub(crate) fn is_empty(&self) -> bool {
        self.name.is_empty()
            && self.sequence.is_empty()
            && self.pipeline.is_none()
            && self.params.is_empty()
    }

    /// The bytes of its text fields.
    pub(crate) fn len(&self) -> usize {
        let params: usize = self.params.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.name.len()
            + self.sequence.len()
            + self.pipeline.as_ref().map_or(0, String::len)
            + params
    }

    /// The pipeline the form shows chosen: the one sent, if this server
    /// offers it, or else the default (the first).
    fn chosen<'a>(&self, pipelines: &'a [Arc<Pipeline>]) -> Option<&'a Pipeline> {
        let sent = self.pipeline.as_deref().map(str::trim);
        sent.and_then(|name| pipelines.iter().find(|p| p.name == name))
            .or_else(|| pipelines.first())
            .map(Arc::as_ref)
    }

    /// The value to show in `pipeline`'s field for `param`: what was sent for
    /// it, or `None` for a form shown afresh (then the default is shown).
    /// A bare `NAME` counts only for the chosen pipeline, as the server reads it.
    fn param(&self, pipeline: &str, param: &str, chosen: bool) -> Option<&str> {
        self.params
            .get(&format!("{pipeline}.{param}"))
            .or_else(|| chosen.then(|| self.params.get(param)).flatten())
            .map(String::as_str)
    }
}

/// The submission form as a page shows it: empty, or filled in again with the
/// error that sent it back.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pub input: Input,
    /// The field at fault (`query_name`, `query_sequence`, `file`,
    /// `pipeline`, `param.NAME` of the chosen pipeline), if one is.
    pub field: Option<String>,
    pub error: Option<String>,
    /// Whether the input came back through the sign-in page: put back in
    /// the form, not submitted yet.
    pub carried: bool,
}

impl Form {
    pub(crate) fn failed(input: Input, err: &Error) -> Form {
        let (field, error) = match err {
            Error::Invalid { field, msg } => (Some(field.to_string()), msg.clone()),
            other => (None, other.to_string()),
        };
        Form {
            input,
            field,
            error: Some(error),
            carried: false,
        }
    }

    /// The error to show beside `field`, if it is the one at fault.
    fn error_for(&self, field: &str) -> Option<&str> {
        match (self.field.as_deref(), &self.error) {
            (Some(f), Some(error)) if f == field => Some(error),
            _ => None,
        }
    }
}

/// The home page: the submission form, the queue, and the experiments.
pub(crate) fn home(frame: &Frame, home: &Home) -> Markup {
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
            @if home.pipelines.len() > 1
                && home.pipelines.iter().any(|p| p.params.iter().any(Param::takes_several)) {
                script src="/ui/databases.js" defer {}
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
                            data-alphabets=(alphabet_names(&pipeline.alphabets))
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
    if let ParamKind::Choice {
        options,
        titles,
        sizes,
        multiple: true,
        ..
    } = &param.kind
    {
        // A box an option, so that several are chosen without JavaScript;
        // each box sends the field once (the server joins them). The empty
        // field before them is sent even with no box ticked, so that the
        // server refuses that rather than take the default.
        let ticked: Vec<&str> = value.split(',').map(str::trim).collect();
        return html! {
            fieldset.field.choices.invalid[error.is_some()] id=(id) data-several=(param.name)
                aria-describedby=[&described] aria-invalid=[invalid] {
                legend { (param.label) }
                @if let Some(hint) = &hint { p.hint id=(hint) { (param.help) } }
                (field_error(&id, error))
                input type="hidden" name=(name) value="";
                @for (n, option) in options.iter().enumerate() {
                    @let box_id = format!("{id}.{option}");
                    div.choice {
                        input type="checkbox" id=(box_id) name=(name) value=(option)
                            checked[ticked.contains(&option.as_str())]
                            autofocus[focus && n == 0];
                        label for=(box_id) {
                            @match titles.get(option) {
                                Some(title) if title != option => {
                                    (title) " " span.option-name { "(" (option) ")" }
                                }
                                _ => (option),
                            }
                            @if let Some(size) = sizes.get(option) {
                                " " span.option-size {
                                    (crate::results::thousands(size.sequences))
                                    @if size.sequences == 1 { " sequence, " } @else { " sequences, " }
                                    (crate::results::thousands(size.letters)) " "
                                    @if size.letters == 1 { (size.letter.0) } @else { (size.letter.1) }
                                }
                            }
                        }
                    }
                }
            }
        };
    }
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
                ParamKind::Choice { options, titles, .. } => {
                    select id=(id) name=(name) aria-describedby=[&described]
                        aria-invalid=[invalid] autofocus[focus] {
                        @if unset { option value="" selected[value.is_empty()] { "not set" } }
                        @for option in options {
                            option value=(option) selected[option == value] {
                                (option)
                                @if let Some(title) = titles.get(option) {
                                    @if title != option { ": " (title) }
                                }
                            }
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

/// The alphabets a pipeline takes as the page's script reads them: `dna rna`.
fn alphabet_names(alphabets: &[Alphabet]) -> String {
    let names: Vec<&str> = alphabets.iter().map(|a| a.as_str()).collect();
    names.join(" ")
}

/// `protein` as a sentence starts it: `Protein`.
fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ui::pages::tests::{home_page, home_with, pipelines};

    #[test]
    fn the_error_sits_beside_the_field_it_names() {
        let form = Form::failed(
            Input::default(),
            &Error::Invalid {
                field: "query_sequence".into(),
                msg: "is missing or empty".into(),
            },
        );
        assert_eq!(
            form.error_for("query_sequence"),
            Some("is missing or empty")
        );
        assert_eq!(form.error_for("query_name"), None);
        let general = Form::failed(Input::default(), &Error::QueueFull { capacity: 3 });
        assert_eq!(general.field, None);
        assert!(general.error.unwrap().contains("queue is full"));
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
