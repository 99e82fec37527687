//! The pages themselves: HTML rendered on the server, so they work without
//! JavaScript. Every piece of user text goes through [`escape_html`].

use std::fmt::Write as _;

use super::{Home, Listing, Logs};
use crate::model::{FileInfo, Id, State};
use crate::query::MAX_NAME_CHARS;
use crate::queue::{Backlog, View};
use crate::time::Timestamp;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (a file name in a link), keeping only
/// unreserved characters as they are.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The home page: the submission form, the queue, and the experiments.
pub fn home(home: &Home) -> String {
    let mut main = String::from(
        "<div class=\"intro\">\n<h1>Sequence experiments</h1>\n\
         <p class=\"lede\">Submit a sequence; it runs when its turn comes, one experiment at a time, \
         in the order they were submitted.</p>\n</div>\n<div class=\"home\">\n<div class=\"side\">\n",
    );
    main.push_str(&submit_form(home));
    main.push_str(&command_card(home.command));
    main.push_str("</div>\n<div class=\"board\">\n");
    main.push_str(&backlog(home.backlog));
    main.push_str(&experiments_section(&home.listing, "/", "Experiments"));
    main.push_str("</div>\n</div>\n");
    let title = if home.form.error.is_some() {
        "Not submitted: please check the form"
    } else {
        "Experiments"
    };
    layout(title, "data-page=\"list\"", &main)
}

fn submit_form(home: &Home) -> String {
    let form = home.form;
    let mut html = String::from(
        "<section class=\"card submit\" aria-labelledby=\"submit-heading\">\n\
         <h2 id=\"submit-heading\">New experiment</h2>\n",
    );
    if let Some(error) = &form.error {
        let summary = match form.field {
            Some(_) => "Nothing was submitted: please correct the field marked below.".to_owned(),
            None => format!("Nothing was submitted: {}", escape_html(error)),
        };
        let _ = writeln!(html, "<p class=\"alert\" role=\"alert\">{summary}</p>");
    }
    html.push_str(
        "<form method=\"post\" action=\"/experiments\" enctype=\"multipart/form-data\" class=\"stack\" data-submit>\n",
    );
    let name_error = form.error_for("query_name");
    let _ = write!(
        html,
        "<div class=\"field{invalid}\">\n<label for=\"query_name\">Name</label>\n\
         <p class=\"hint\" id=\"query_name-hint\">Optional if the sequence has a FASTA header (<code>&gt;name</code>).</p>\n\
         {error}<input type=\"text\" id=\"query_name\" name=\"query_name\" maxlength=\"{MAX_NAME_CHARS}\" \
         autocomplete=\"off\" spellcheck=\"false\" value=\"{value}\" {described}>\n</div>\n",
        invalid = if name_error.is_some() { " invalid" } else { "" },
        error = field_error("query_name", name_error),
        value = escape_html(&form.input.name),
        described = described_by("query_name", name_error),
    );
    let sequence_error = form.error_for("query_sequence");
    let _ = write!(
        html,
        "<div class=\"field{invalid}\">\n<label for=\"query_sequence\">Sequence</label>\n\
         <p class=\"hint\" id=\"query_sequence-hint\">DNA, RNA or protein, up to {residues} residues. \
         Several FASTA records make a batch, one experiment each.</p>\n\
         {error}<textarea id=\"query_sequence\" name=\"query_sequence\" rows=\"5\" spellcheck=\"false\" \
         autocomplete=\"off\" autocapitalize=\"off\" placeholder=\"&gt;sample-1&#10;ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG\" {described}>{value}</textarea>\n</div>\n",
        invalid = if sequence_error.is_some() { " invalid" } else { "" },
        residues = thousands(home.max_residues as u64),
        error = field_error("query_sequence", sequence_error),
        // A newline right after <textarea> is dropped by the parser: keep the user's first one.
        value = if form.input.sequence.starts_with('\n') {
            format!("\n{}", escape_html(&form.input.sequence))
        } else {
            escape_html(&form.input.sequence)
        },
        described = described_by("query_sequence", sequence_error),
    );
    let file_error = form
        .error_for("file")
        .map(|error| format!("{error} (a browser forgets the chosen file: choose it again)"));
    let _ = write!(
        html,
        "<div class=\"field{invalid}\">\n<label for=\"file\">Or a FASTA file</label>\n\
         <p class=\"hint\" id=\"file-hint\">Each record becomes one experiment (up to {records}); \
         leave the sequence box empty.</p>\n\
         {error}<input type=\"file\" id=\"file\" name=\"file\" accept=\".fasta,.fa,.fna,.faa,.txt\" {described}>\n</div>\n",
        invalid = if file_error.is_some() { " invalid" } else { "" },
        records = thousands(home.max_records as u64),
        error = field_error("file", file_error.as_deref()),
        described = described_by("file", file_error.as_deref()),
    );
    html.push_str(
        "<div class=\"actions\"><button type=\"submit\" class=\"primary\">Submit</button></div>\n</form>\n</section>\n",
    );
    html
}

/// The message beside a field at fault; its id ties it to the field for screen readers.
fn field_error(field: &str, error: Option<&str>) -> String {
    match error {
        Some(error) => format!(
            "<p class=\"field-error\" id=\"{field}-error\">{}</p>\n",
            escape_html(error)
        ),
        None => String::new(),
    }
}

fn described_by(field: &str, error: Option<&str>) -> String {
    match error {
        Some(_) => format!(
            "aria-describedby=\"{field}-error {field}-hint\" aria-invalid=\"true\" autofocus"
        ),
        None => format!("aria-describedby=\"{field}-hint\""),
    }
}

/// The running and queued counts; the script keeps them current.
fn backlog(backlog: Backlog) -> String {
    format!(
        "<section class=\"backlog\" aria-labelledby=\"backlog-heading\">\n\
         <h2 id=\"backlog-heading\" class=\"visually-hidden\">Backlog</h2>\n\
         <div class=\"counts\" aria-live=\"polite\">\n\
         <p class=\"count running\"><span class=\"number\" data-count=\"RUNNING\">{running}</span> <span class=\"label\">running</span></p>\n\
         <p class=\"count queued\"><span class=\"number\" data-count=\"QUEUED\">{queued}</span> <span class=\"label\">queued</span></p>\n\
         </div>\n\
         <p class=\"hint\">One experiment runs at a time; the others wait their turn, first in, first out.</p>\n\
         </section>\n",
        running = backlog.running,
        queued = backlog.queued,
    )
}

fn command_card(command: &str) -> String {
    format!(
        "<section class=\"card command-card\" aria-labelledby=\"command-heading\">\n\
         <h2 id=\"command-heading\">Processing command</h2>\n\
         <p class=\"hint\">What each experiment runs, in its own directory, with its sequence in <code>query.fasta</code>.</p>\n\
         <pre class=\"command\">{}</pre>\n</section>\n",
        escape_html(command)
    )
}

/// The table of experiments with its state filter and pager; `path` is the
/// page it is on (`/` or `/experiments`).
fn experiments_section(listing: &Listing, path: &str, heading: &str) -> String {
    let mut html = format!(
        "<section class=\"experiments\" aria-labelledby=\"experiments-heading\">\n\
         <div class=\"section-head\">\n<h2 id=\"experiments-heading\">{}</h2>\n",
        escape_html(heading)
    );
    if listing.batch.is_none() {
        html.push_str(&state_filter(listing, path));
    }
    html.push_str("</div>\n");
    html.push_str(&table(listing));
    html.push_str(&pager(listing, path));
    html.push_str(
        "<p class=\"live-note\" data-live-note aria-hidden=\"true\"></p>\n\
         <noscript><p class=\"hint\">This page does not update by itself without JavaScript: reload it to see the latest states.</p></noscript>\n\
         </section>\n",
    );
    html
}

fn state_filter(listing: &Listing, path: &str) -> String {
    let mut html = format!(
        "<form method=\"get\" action=\"{path}\" class=\"filter\">\n\
         <label for=\"state-filter\">Show</label>\n<select id=\"state-filter\" name=\"state\">\n\
         <option value=\"\">all states</option>\n"
    );
    for state in State::ALL {
        let selected = if listing.state == Some(state) {
            " selected"
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<option value=\"{}\"{selected}>{}</option>",
            state.as_str(),
            state_word(state).to_lowercase()
        );
    }
    html.push_str("</select>\n<button type=\"submit\">Filter</button>\n</form>\n");
    html
}

fn table(listing: &Listing) -> String {
    let mut html = format!(
        "<div class=\"table-scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"experiments-heading\">\n\
         <table class=\"list\" data-source=\"{}\">\n\
         <thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Name</th><th scope=\"col\">State</th>\
         <th scope=\"col\" class=\"num\">Position</th><th scope=\"col\">Submitted</th>\
         <th scope=\"col\">Started</th><th scope=\"col\" class=\"num\">Duration</th></tr></thead>\n<tbody>\n",
        escape_html(&listing.source())
    );
    let now = Timestamp::now();
    for view in listing.experiments {
        html.push_str(&row(view, now));
    }
    if listing.experiments.is_empty() {
        let empty = if listing.state.is_some() || listing.page_token.is_some() {
            "No experiments here."
        } else {
            "No experiments yet: submit one above."
        };
        let _ = writeln!(
            html,
            "<tr class=\"empty\"><td colspan=\"7\">{empty}</td></tr>"
        );
    }
    html.push_str("</tbody>\n</table>\n</div>\n");
    html
}

fn row(view: &View, now: Timestamp) -> String {
    let record = &view.record;
    format!(
        "<tr data-id=\"{id}\"><td class=\"id\">{id}</td><td class=\"name\"><a href=\"/experiments/{id}\">{name}</a></td>\
         <td>{state}</td><td class=\"num\">{position}</td><td>{submitted}</td><td>{started}</td>\
         <td class=\"num\">{duration}</td></tr>\n",
        id = record.id,
        name = escape_html(&record.query_name),
        state = badge(record.state),
        position = view.position.map_or_else(none, |p| p.to_string()),
        submitted = time(Some(record.submitted_at)),
        started = time(record.started_at),
        duration = run_time(view, now).map_or_else(none, duration),
    )
}

fn pager(listing: &Listing, path: &str) -> String {
    let newest = match listing.page_token {
        Some(_) => format!(
            "<a href=\"{}\">&larr; Newest</a>",
            escape_html(&listing.link(path, None))
        ),
        None => String::new(),
    };
    let older = match listing.next_page {
        Some(next) => format!(
            "<a href=\"{}\" data-older>Older &rarr;</a>",
            escape_html(&listing.link(path, Some(next)))
        ),
        None => "<a href=\"#\" data-older hidden>Older &rarr;</a>".to_owned(),
    };
    format!("<nav class=\"pager\" aria-label=\"Pages\">{newest}{older}</nav>\n")
}

/// A batch's page, or the experiments listed with a filter.
pub fn listing(listing: &Listing) -> String {
    let (title, intro) = match listing.batch {
        Some(batch) => (
            format!("Batch {batch}"),
            format!(
                "<p class=\"lede\">The experiments submitted together with <a href=\"/experiments/{batch}\">{batch}</a>, \
                 from one FASTA text or file.</p>\n"
            ),
        ),
        None => ("All experiments".to_owned(), String::new()),
    };
    let heading = match listing.batch {
        Some(_) => "Its experiments",
        None => "Experiments",
    };
    let main = format!(
        "<p class=\"crumbs\"><a href=\"/\">&larr; Home</a></p>\n<div class=\"intro\">\n<h1>{title}</h1>\n{intro}</div>\n{}",
        experiments_section(listing, "/experiments", heading)
    );
    layout(&title, "data-page=\"list\"", &main)
}

/// One experiment's page.
pub fn experiment(view: &View, files: &[FileInfo], logs: &Logs, dir: &str) -> String {
    let record = &view.record;
    let id = record.id;
    let now = Timestamp::now();
    let mut main = format!(
        "<p class=\"crumbs\"><a href=\"/\">&larr; All experiments</a></p>\n\
         <div class=\"intro experiment-head\">\n<div>\n<h1>{name}</h1>\n<p class=\"id-line\">Experiment {id}</p>\n</div>\n\
         <div class=\"head-state\" data-fact=\"state\">{badge}</div>\n</div>\n\
         <div class=\"card status-card\">\n<p class=\"status-line\" data-status aria-live=\"polite\">{status}</p>\n{cancel}</div>\n",
        name = escape_html(&record.query_name),
        badge = badge(record.state),
        status = escape_html(&status_sentence(view)),
        cancel = cancel_form(view),
    );

    let mut facts = String::new();
    let mut fact = |key: &str, label: &str, value: Option<String>| {
        let _ = writeln!(
            facts,
            "<div class=\"fact\" data-fact=\"{key}\"{hidden}><dt>{label}</dt><dd>{value}</dd></div>",
            hidden = if value.is_none() { " hidden" } else { "" },
            value = value.unwrap_or_default(),
        );
    };
    fact(
        "state_word",
        "State",
        Some(state_word(record.state).to_owned()),
    );
    fact(
        "position",
        "Queue position",
        view.position.map(|p| p.to_string()),
    );
    fact(
        "submitted_at",
        "Submitted",
        Some(time(Some(record.submitted_at))),
    );
    fact(
        "started_at",
        "Started",
        record.started_at.map(|t| time(Some(t))),
    );
    fact(
        "finished_at",
        "Finished",
        record.finished_at.map(|t| time(Some(t))),
    );
    fact("duration", "Duration", run_time(view, now).map(duration));
    fact(
        "attempts",
        "Attempts",
        (record.attempts > 0).then(|| record.attempts.to_string()),
    );
    fact(
        "exit_code",
        "Exit code",
        record.exit_code.map(|c| c.to_string()),
    );
    fact("signal", "Signal", record.signal.map(|s| s.to_string()));
    fact("error", "Error", record.error.as_deref().map(escape_html));
    fact(
        "description",
        "Description",
        record.description.as_deref().map(escape_html),
    );
    fact(
        "query",
        "Query",
        Some(format!(
            "{}, {} {}",
            alphabet_word(record.alphabet.as_str()),
            thousands(record.length as u64),
            if record.length == 1 {
                "residue"
            } else {
                "residues"
            }
        )),
    );
    fact(
        "batch",
        "Batch",
        record.batch.map(|batch| {
            format!("<a href=\"/experiments?batch={batch}\">the batch of {batch}</a>")
        }),
    );
    fact(
        "command",
        "Command",
        Some(format!("<code>{}</code>", escape_html(&record.command))),
    );
    fact(
        "directory",
        "Directory",
        Some(format!("<code>{}</code>", escape_html(dir))),
    );
    let _ = write!(
        main,
        "<div class=\"columns\">\n<section class=\"card\" aria-labelledby=\"record-heading\">\n\
         <h2 id=\"record-heading\">Record</h2>\n<dl class=\"facts\">\n{facts}</dl>\n</section>\n"
    );
    main.push_str(&files_card(id, files));
    main.push_str("</div>\n");
    main.push_str(&logs_section(logs));
    main.push_str(
        "<noscript><p class=\"hint\">This page does not update by itself without JavaScript: reload it to see the latest state.</p></noscript>\n",
    );
    let title = format!("{} ({id})", record.query_name);
    layout(
        &title,
        &format!("data-page=\"experiment\" data-experiment=\"{id}\""),
        &main,
    )
}

fn cancel_form(view: &View) -> String {
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
    format!(
        "<form method=\"post\" action=\"/experiments/{id}/cancel\" class=\"cancel\" data-confirm=\"{question}\"{hidden}>\n\
         <input type=\"hidden\" name=\"confirmed\" value=\"\">\n\
         <button type=\"submit\" class=\"danger\">Cancel experiment</button>\n</form>\n",
        question = escape_html(&question),
        hidden = if record.state.is_finished() {
            " hidden"
        } else {
            ""
        },
    )
}

fn files_card(id: Id, files: &[FileInfo]) -> String {
    let mut html = String::from(
        "<section class=\"card\" aria-labelledby=\"files-heading\">\n<h2 id=\"files-heading\">Files</h2>\n\
         <div class=\"table-scroll\">\n<table class=\"files\">\n\
         <thead><tr><th scope=\"col\">Name</th><th scope=\"col\" class=\"num\">Size</th></tr></thead>\n<tbody data-files>\n",
    );
    for file in files {
        let _ = writeln!(
            html,
            "<tr><td><a href=\"/experiments/{id}/files/{href}\">{name}</a></td><td class=\"num\">{size}</td></tr>",
            href = escape_html(&encode_segment(&file.name)),
            name = escape_html(&file.name),
            size = size(file.size),
        );
    }
    if files.is_empty() {
        html.push_str("<tr class=\"empty\"><td colspan=\"2\">No files yet.</td></tr>\n");
    }
    html.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    html
}

fn logs_section(logs: &Logs) -> String {
    let mut html = String::from(
        "<section class=\"logs\" aria-labelledby=\"logs-heading\">\n<h2 id=\"logs-heading\">Output</h2>\n<div class=\"log-grid\">\n",
    );
    for (name, tail) in [("stdout.txt", &logs.stdout), ("stderr.txt", &logs.stderr)] {
        let (text, note) = match tail {
            None => (String::new(), "not written yet"),
            Some(tail) if tail.text.is_empty() => (String::new(), "empty"),
            Some(tail) if tail.cut => (tail.text.clone(), "last lines"),
            Some(tail) => (tail.text.clone(), "all of it"),
        };
        let _ = write!(
            html,
            "<div class=\"log-box\">\n<h3><code>{name}</code> <span class=\"log-note\" data-log-note=\"{name}\">{note}</span></h3>\n\
             <pre class=\"log\" data-log=\"{name}\" tabindex=\"0\" aria-label=\"{name}, {note}\">{text}</pre>\n</div>\n",
            text = escape_html(&text),
        );
    }
    html.push_str("</div>\n</section>\n");
    html
}

/// The page a cancel without confirmation gets (no JavaScript, or a form from
/// another site): the question, and a button that confirms.
pub fn cancel_confirmation(view: &View) -> String {
    let record = &view.record;
    let id = record.id;
    let name = escape_html(&record.query_name);
    let main = if record.state.is_finished() {
        format!(
            "<h1>Nothing to cancel</h1>\n<p>Experiment {id} ({name}) is {} already.</p>\n\
             <p><a href=\"/experiments/{id}\">Back to the experiment</a></p>\n",
            state_word(record.state).to_lowercase()
        )
    } else {
        format!(
            "<h1>Cancel experiment {id}?</h1>\n<p>{name} is {}. {}</p>\n\
             <form method=\"post\" action=\"/experiments/{id}/cancel\" class=\"actions\">\n\
             <input type=\"hidden\" name=\"confirmed\" value=\"yes\">\n\
             <button type=\"submit\" class=\"danger\">Yes, cancel it</button>\n\
             <a class=\"button\" href=\"/experiments/{id}\">No, keep it</a>\n</form>\n",
            state_word(record.state).to_lowercase(),
            if record.state == State::Running {
                "Cancelling stops its command; what it wrote so far stays."
            } else {
                "Cancelled, it will not run."
            }
        )
    };
    layout(&format!("Cancel {id}?"), "", &main)
}

/// The frame of every page.
fn layout(title: &str, main_attributes: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · seqspool</title>\n\
         <link rel=\"icon\" href=\"/ui/icon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/ui/style.css\">\n\
         <script src=\"/ui/app.js\" defer></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"top\"><div class=\"wrap\"><a class=\"brand\" href=\"/\"><img src=\"/ui/icon.svg\" alt=\"\" width=\"28\" height=\"28\">seqspool</a>\
         <span class=\"tagline\">the lab's sequence queue</span></div></header>\n\
         <main id=\"main\" class=\"wrap\" {main_attributes}>\n{main}</main>\n\
         <footer class=\"wrap foot\"><p>seqspool {version} · <a href=\"/service-info\">service info</a> (JSON) · \
         the same routes answer scripts in JSON</p></footer>\n</body>\n</html>\n",
        title = escape_html(title),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A state in a colour and a word (never colour alone); `data-state` keeps the API's name.
fn badge(state: State) -> String {
    format!(
        "<span class=\"state state-{class}\" data-state=\"{name}\">{word}</span>",
        class = state.as_str().to_lowercase().replace('_', "-"),
        name = state.as_str(),
        word = state_word(state),
    )
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
        State::Running => "Running now; the last lines of its output appear below.".to_owned(),
        State::Complete => "Complete: its results are in the files below.".to_owned(),
        State::ExecutorError => format!("The processing command failed: {error}"),
        State::SystemError => format!("seqspool could not run it: {error}"),
        State::Canceled if record.started_at.is_none() => "Canceled before it ran.".to_owned(),
        State::Canceled => "Canceled while it ran.".to_owned(),
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
fn time(at: Option<Timestamp>) -> String {
    match at {
        Some(at) => format!("<time datetime=\"{at}\">{at}</time>"),
        None => none(),
    }
}

fn none() -> String {
    "<span class=\"none\">—</span>".to_owned()
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

/// A file size: `532 B`, `12.4 KB`, `3.1 MB` (powers of 1024).
fn size(bytes: u64) -> String {
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

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = digits.len() % 3;
    let mut groups = Vec::new();
    if head > 0 {
        groups.push(&digits[..head]);
    }
    for start in (head..digits.len()).step_by(3) {
        groups.push(&digits[start..start + 3]);
    }
    groups.join(",")
}

/// A page for an error: words and a way back.
pub fn error(title: &str, message: &str) -> String {
    let main = format!(
        "<h1>{title}</h1>\n<p class=\"alert\" role=\"alert\">{}</p>\n\
         <p><a href=\"/\">Back to the experiments</a></p>\n",
        escape_html(message),
        title = escape_html(title),
    );
    layout(title, "", &main)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::error::Error;
    use crate::model::Record;
    use crate::ui::{Form, Input, PAGE};

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
        }
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape_html("plain ACGT é"), "plain ACGT é");
    }

    #[test]
    fn a_rendered_page_holds_the_name_escaped_and_never_raw() {
        let hostile = r#"<img src=x onerror="alert(1)">"#;
        let page = experiment(&view(hostile, State::Queued), &[], &Logs::default(), "/x");
        assert!(page.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
        assert!(!page.contains(hostile));
        assert!(!page.contains("<b>bold</b>"));

        let views = [view(hostile, State::Running)];
        let form = Form::failed(
            Input {
                name: hostile.into(),
                sequence: "</textarea><script>".into(),
            },
            &Error::Invalid {
                field: "query_sequence",
                msg: "invalid character '<'".into(),
            },
        );
        let page = home(&Home {
            listing: Listing {
                experiments: &views,
                next_page: None,
                page_token: None,
                state: None,
                batch: None,
                limit: PAGE,
            },
            backlog: Backlog::default(),
            command: "grep '<x>'",
            max_residues: 10,
            max_records: 10,
            form: &form,
        });
        assert!(!page.contains(hostile));
        assert!(!page.contains("</textarea><script>"));
        assert!(page.contains("&lt;/textarea&gt;&lt;script&gt;"));
        assert!(page.contains("invalid character &#39;&lt;&#39;"));
        assert!(page.contains("grep &#39;&lt;x&gt;&#39;"));
    }

    #[test]
    fn the_error_sits_beside_the_field_it_names() {
        let form = Form::failed(
            Input::default(),
            &Error::Invalid {
                field: "query_sequence",
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

    #[test]
    fn file_names_in_links_are_percent_encoded() {
        assert_eq!(encode_segment("hits top.tsv"), "hits%20top.tsv");
        assert_eq!(encode_segment("a\"b<c>/d"), "a%22b%3Cc%3E%2Fd");
        assert_eq!(encode_segment("é"), "%C3%A9");
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
}
