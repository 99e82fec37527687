//! The pages' HTML, as maud templates, one page or piece a file: the
//! [`layout`] around every page, the [`home`] page with its submission form,
//! a [`listing`] of experiments, an [`experiment`]'s page, a [`batch`]'s (and
//! the grid of its [`wells`] when it is a plate), the
//! [`sign_in`] page, the [`notifications`] an experiment's page lists (and the
//! page of a user's secret), and the [`words`] they share (badges, times,
//! estimates, durations). What each page shows is declared beside it, and
//! the handlers in `ui` fill it in.
//!
//! maud escapes every value spliced into a template, in text and in attribute
//! values alike, so user text (names, descriptions, commands, file names,
//! errors, logs) can only ever come out as text. Markup is whatever the
//! templates write themselves, or a [`maud::Markup`] another template
//! returned; nothing here turns a string into markup.

mod batch;
mod experiment;
mod home;
mod layout;
mod listing;
mod notifications;
mod sign_in;
mod wells;
pub(crate) mod words;

pub(crate) use batch::{batch, Batch, BATCH_PAGE};
pub(crate) use experiment::{cancel_confirmation, experiment, Experiment, Logs};
pub(crate) use home::{home, Form, Home, Input};
pub(crate) use layout::{error, Frame};
pub(crate) use listing::{listing, Listing, PAGE};
pub(crate) use notifications::secret;
pub(crate) use sign_in::sign_in;

#[cfg(test)]
mod tests {
    //! What the pages' tests share, and the tests that read several pages.

    use std::sync::Arc;

    use maud::Markup;

    use super::*;
    use crate::error::Error;
    use crate::model::{Drain, FileInfo, Moved, Pause, PausedBy, Record, State};
    use crate::pipeline::Pipeline;
    use crate::query::AlphabetPolicy;
    use crate::queue::{Backlog, View, Waiting};
    use crate::store::Tail;
    use crate::time::Timestamp;

    /// Experiment 000007, named `name`, in `state` (second in the queue when queued).
    pub(super) fn view(name: &str, state: State) -> View {
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

    /// The page of `view`, with no results and no notifications.
    pub(super) fn experiment_page(
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

    /// The home page with one pipeline running `command`.
    pub(super) fn home_page(views: &[View], form: &Form, command: &str) -> String {
        let pipelines = [Arc::new(Pipeline::default_command(command, None))];
        home_with(views, form, &pipelines)
    }

    /// The home page offering `pipelines`.
    pub(super) fn home_with(views: &[View], form: &Form, pipelines: &[Arc<Pipeline>]) -> String {
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

    /// The pipelines a configuration file's `[[pipeline]]` tables declare.
    pub(super) fn pipelines(toml_text: &str) -> Vec<Arc<Pipeline>> {
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

    /// The start tag of the Move to front form.
    fn front_tag(page: &str) -> &str {
        let start = page
            .find("<form class=\"front\"")
            .expect("a Move to front form");
        &page[start..start + page[start..].find('>').unwrap()]
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
}
