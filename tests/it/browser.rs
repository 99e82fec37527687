//! The web page, end to end: Debian's headless Chromium, driven over the W3C
//! WebDriver protocol by chromedriver, against a server on port 0. It submits
//! through the form (pasted and from a file, in a pipeline picked with its
//! parameters), follows an experiment to its end without a reload, meets a
//! validation error, cancels, and works with JavaScript off; it reads an
//! estimate before and after a pipeline's first run, follows a batch by its
//! events, and opens files a hostile command wrote (none runs script here;
//! each downloads under its name). Screenshots of the pages land in `target/screenshots/`.
//!
//! The browser tests need chromium and chromedriver (marked as `common`'s
//! doc says: without them they are ignored). The tests at the end need no
//! browser: they check over plain HTTP what a browser is
//! answered, and that scripts keep getting JSON.

use crate::common::blast::{
    make_database, make_databases, need_blast, ready_example_server, reference, seqspool_db,
};

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::common::*;
use base64::Engine as _;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A sequence with one ORF, valid as DNA.
const ORF_DNA: &str = "ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG";

// ---- the browser ----------------------------------------------------------

/// A headless Chromium session behind its own chromedriver; both end on drop.
struct Browser {
    driver: Child,
    driver_addr: SocketAddr,
    session: String,
    _profile: TempDir,
}

/// A WebDriver element reference.
#[derive(Clone, Debug)]
struct Element(String);

/// Where a program is on the PATH, or in /usr/bin where Debian puts it.
fn program(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

impl Browser {
    /// Starts one, for a test marked `seqspool_test_chromium`; fails the test
    /// (see [`missing`]) when chromium or chromedriver is not installed.
    fn start(javascript: bool) -> Browser {
        let (Some(chromium), Some(chromedriver)) = (program("chromium"), program("chromedriver"))
        else {
            missing(
                "chromium",
                "chromium or chromedriver is not installed (Debian: apt-get install chromium \
                 chromium-driver)",
            );
        };
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut browser = Browser {
            driver,
            driver_addr,
            session: String::new(),
            _profile: profile,
        };
        wait_until("chromedriver is ready", || {
            driver_request(driver_addr, "GET", "/status", None)
                .ok()
                .and_then(|answer| serde_json::from_slice::<Value>(&answer.body).ok())
                .is_some_and(|status| status["value"]["ready"] == true)
        });
        let mut options = json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", browser._profile.path().join("profile").display()),
                "--window-size=1280,900",
            ],
        });
        // Downloads go, unasked, to a directory of the profile's.
        std::fs::create_dir_all(browser.downloads()).expect("a downloads directory");
        options["prefs"] = json!({
            "download.default_directory": browser.downloads(),
            "download.prompt_for_download": false,
        });
        if !javascript {
            options["prefs"]["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let created = browser.call(
            "POST",
            "",
            Some(json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session from chromedriver: {created}"))
            .to_owned();
        browser
    }

    /// Where the browser saves what it downloads.
    fn downloads(&self) -> PathBuf {
        self._profile.path().join("downloads")
    }

    /// One WebDriver command; panics on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|err| panic!("WebDriver {method} {path}: {err}"))
    }

    /// One WebDriver command: its `value`, or the error WebDriver answered.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = match self.session.as_str() {
            "" => format!("/session{path}"),
            session => format!("/session/{session}{path}"),
        };
        let answer = driver_request(self.driver_addr, method, &url, body.as_ref())
            .unwrap_or_else(|err| panic!("WebDriver {method} {url}: no answer: {err}"));
        let value: Value = serde_json::from_slice(&answer.body)
            .map_err(|err| format!("not JSON ({err}): {}", answer.text()))?;
        if answer.status == 200 {
            Ok(value["value"].clone())
        } else {
            Err(format!(
                "{} {}: {}",
                answer.status, value["value"]["error"], value["value"]["message"]
            ))
        }
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The browser's Back button.
    fn back(&self) {
        self.call("POST", "/back", Some(json!({})));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_owned()
    }

    fn try_find(&self, css: &str) -> Option<Element> {
        let found = self
            .try_call(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .ok()?;
        Some(Element(found[ELEMENT].as_str()?.to_owned()))
    }

    /// The element `css` selects, waiting until there is one.
    fn find(&self, css: &str) -> Element {
        let mut found = None;
        wait_until(&format!("the page has {css}"), || {
            found = self.try_find(css);
            found.is_some()
        });
        found.unwrap()
    }

    fn click(&self, element: &Element) {
        self.call(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// Types `text` into an input, a textarea, or a file picker (a file's path).
    fn type_into(&self, element: &Element, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    fn text(&self, element: &Element) -> String {
        let text = self.call("GET", &format!("/element/{}/text", element.0), None);
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Runs a script in the page and returns what it returned.
    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The `data-state` of the experiment page's state badge.
    /// Waits until the browser shows an experiment's page, and returns its id.
    fn landed_on_an_experiment(&self) -> String {
        let mut id = None;
        wait_until("the browser lands on the experiment's page", || {
            id = experiment_id(&self.url());
            id.is_some()
        });
        id.unwrap()
    }

    fn page_state(&self) -> Value {
        self.script(
            "const b = document.querySelector('.head-state [data-state]'); return b && b.dataset.state;",
        )
    }

    /// Waits for a `confirm()` dialog, returns its text and answers it.
    fn answer_alert(&self, accept: bool) -> String {
        let mut text = String::new();
        wait_until("the page asks for a confirmation", || {
            match self.try_call("GET", "/alert/text", None) {
                Ok(value) => {
                    text = value.as_str().unwrap_or_default().to_owned();
                    true
                }
                Err(_) => false,
            }
        });
        let verb = if accept { "accept" } else { "dismiss" };
        self.call("POST", &format!("/alert/{verb}"), Some(json!({})));
        text
    }

    /// Makes the window as tall as the page, so a screenshot shows all of it.
    fn fit_to_page(&self) {
        let height = self.script(
            "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;",
        );
        let height = height.as_u64().unwrap_or(900).clamp(400, 3000);
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1280, "height": height })),
        );
    }

    /// Saves the window as `target/screenshots/{name}`, a test artifact.
    fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 screenshot"))
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("creating target/screenshots");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("writing a screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closes Chromium; chromedriver is ours to stop after.
            let _ = self.try_call("DELETE", "", None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The client for chromedriver, set up as the one for the server (see
/// `http_client`: a WebDriver error is an answer too), with twice the
/// patience: creating a session starts Chromium, slow on a busy machine.
static DRIVER: LazyLock<ureq::Agent> = LazyLock::new(|| http_client(PATIENCE * 2));

/// One request to chromedriver, with a JSON body if there is one.
fn driver_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Response, ureq::Error> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    match body {
        Some(body) => exchange(
            &DRIVER,
            request
                .header("Content-Type", "application/json")
                .body(body.to_string())?,
        ),
        None => exchange(&DRIVER, request.body(())?),
    }
}

/// The id at the end of an experiment page's URL.
fn experiment_id(url: &str) -> Option<String> {
    let id = url.split("/experiments/").nth(1)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
}

fn deadline_passed(started: Instant) -> bool {
    started.elapsed() > PATIENCE
}

// ---- in the browser ---------------------------------------------------------

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_sequence_submitted_through_the_form_is_followed_to_complete_without_a_reload() {
    let browser = Browser::start(true);
    // Long enough to be seen running, short enough for a test.
    let server = Server::start(|config| {
        config.command = Some(
            "echo \"searching $QUERY_NAME\"; sleep 2; echo done > result.txt; echo finished".into(),
        )
    });
    let home = format!("http://{}/", server.addr);

    browser.go(&home);
    browser.type_into(&browser.find("#query_name"), "lacZ-alpha");
    browser.type_into(&browser.find("#query_sequence"), ORF_DNA);
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    let id = browser.landed_on_an_experiment();
    assert_eq!(browser.text(&browser.find("h1")), "lacZ-alpha");
    // Set once: it would be gone if the page were loaded again.
    browser.script("window.seqspoolTestMarker = 'the same document';");

    let started = Instant::now();
    while browser.page_state() != "COMPLETE" {
        assert!(
            !deadline_passed(started),
            "the page never showed COMPLETE; the API says {}",
            server.wait_for_state(&id, "COMPLETE")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document",
        "the page was reloaded to show the new state"
    );
    let status = browser.text(&browser.find("[data-status]"));
    assert!(status.starts_with("Complete"), "{status}");
    wait_until("the page shows the end of stdout.txt", || {
        browser
            .text(&browser.find("pre[data-log='stdout.txt']"))
            .contains("finished")
    });
    wait_until("the page stops polling once nothing moves", || {
        browser.script("return document.body.dataset.live;") == "idle"
    });
    assert!(browser.try_find("form.cancel button").is_some());
    assert_eq!(
        browser.script("return document.querySelector('form.cancel').hidden;"),
        true,
        "a finished experiment offers no Cancel"
    );
    browser.fit_to_page();
    browser.screenshot("experiment.png");

    browser.click(&browser.find("[data-files] a[href$='/files/result.txt']"));
    wait_until("the browser opens the result file", || {
        browser
            .url()
            .ends_with(&format!("/experiments/{id}/files/result.txt"))
    });
    assert_eq!(browser.text(&browser.find("body")).trim(), "done");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_fasta_file_chosen_in_the_form_becomes_a_batch_of_three_experiments() {
    let browser = Browser::start(true);
    let server = Server::start(|_| {});
    let tmp = tempfile::tempdir().unwrap();
    let fasta = tmp.path().join("plate-3.fasta");
    std::fs::write(
        &fasta,
        ">well-A1 first well\nATGGCCATTGTAATG\n>well-A2\nGGCCGCTGAAAGGGTGCCC\n>well-A3\nMKTAYIAKQRQISFVKSHFSRQ\n",
    )
    .unwrap();

    browser.go(&format!("http://{}/", server.addr));
    browser.type_into(
        &browser.find("input[type=file]#file"),
        &fasta.display().to_string(),
    );
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    wait_until("the browser lands on the batch's page", || {
        browser.url().contains("/experiments?batch=")
    });
    let names = browser.script(
        "return Array.from(document.querySelectorAll('table.list tbody tr[data-id] td.name a'), a => a.textContent).sort();",
    );
    assert_eq!(names, json!(["well-A1", "well-A2", "well-A3"]));
    // The batch is named after the file it came in.
    assert_eq!(browser.text(&browser.find("h1")), "plate-3.fasta");
    assert_eq!(server.experiment_dirs().len(), 3);
    // The batch runs through; the page follows it without a reload.
    wait_until("the batch page shows all three complete", || {
        browser.script(
            "return Array.from(document.querySelectorAll('table.list tbody [data-state]'), b => b.dataset.state).join();",
        ) == "COMPLETE,COMPLETE,COMPLETE"
    });
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn an_invalid_sequence_comes_back_with_its_message_beside_the_field_and_the_text_kept() {
    let browser = Browser::start(true);
    let server = Server::start(|_| {});

    browser.go(&format!("http://{}/", server.addr));
    browser.type_into(&browser.find("#query_name"), "typo & co");
    browser.type_into(&browser.find("#query_sequence"), "ACGT%GGA");
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    let error = browser.find("#query_sequence-error");
    let message = browser.text(&error);
    assert!(message.contains("invalid character '%'"), "{message}");
    let beside = browser.script(
        "const f = document.getElementById('query_sequence'), e = document.getElementById('query_sequence-error');\
         return [f.parentElement === e.parentElement, f.getAttribute('aria-invalid'), \
                 f.getAttribute('aria-describedby').split(' ').includes('query_sequence-error'), \
                 f.value, document.getElementById('query_name').value, document.activeElement === f];",
    );
    assert_eq!(
        beside,
        json!([true, "true", true, "ACGT%GGA", "typo & co", true])
    );
    assert!(
        browser.try_find("#query_name-error").is_none(),
        "only the field at fault is marked"
    );
    assert!(server.experiment_dirs().is_empty(), "nothing was written");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_queued_experiment_is_canceled_from_its_page_once_the_user_confirms() {
    let browser = Browser::start(true);
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let running = server.submit("blocker", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    let queued = server.submit("waiting-one", "ACGTACGT");

    browser.go(&format!("http://{}/experiments/{queued}", server.addr));
    assert_eq!(browser.page_state(), "QUEUED");
    let cancel = browser.find("form.cancel button");

    browser.click(&cancel);
    let question = browser.answer_alert(false);
    assert!(
        question.contains(&format!("Cancel experiment {queued} (waiting-one)?")),
        "{question}"
    );
    assert_eq!(
        server.wait_for_state(&queued, "QUEUED")["state"],
        "QUEUED",
        "saying no cancels nothing"
    );

    browser.click(&cancel);
    browser.answer_alert(true);
    server.wait_for_state(&queued, "CANCELED");
    wait_until("the page shows the experiment canceled", || {
        browser.page_state() == "CANCELED"
    });
    assert_eq!(
        experiment_id(&browser.url()).as_deref(),
        Some(queued.as_str())
    );
    let status = browser.text(&browser.find("[data-status]"));
    assert_eq!(status, "Canceled before it ran.");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_queued_experiment_is_moved_to_the_front_from_its_page_and_a_drain_is_said_on_every_page() {
    let browser = Browser::start(true);
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let running = server.submit("blocker", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    let ahead = server.submit("first-in-line", "ACGT");
    let urgent = server.submit("urgent-one", "ACGT");

    browser.go(&format!("http://{}/experiments/{urgent}", server.addr));
    let button = browser.find("form.front button");
    assert!(browser.displayed(&button), "Move to front is not shown");
    assert_eq!(browser.text(&button), "Move to front");
    // Marked, so that the page the form comes back to is told from this one.
    browser.script("document.body.dataset.before = 'yes';");
    browser.click(&button);
    let status = json!({
        "script": "const s = document.querySelector('[data-status]'); \
                   return document.body.dataset.before ? null : s && s.textContent;",
        "args": [],
    });
    wait_until("the page comes back saying it runs next", || {
        // An error while the page is being replaced is "not yet".
        browser
            .try_call("POST", "/execute/sync", Some(status.clone()))
            .is_ok_and(|text| text == "Waiting in the queue: it runs next.")
    });
    assert_eq!(
        experiment_id(&browser.url()).as_deref(),
        Some(urgent.as_str())
    );
    let moved = browser.text(&browser.find("[data-fact=\"moved_to_front\"] dd"));
    assert!(moved.ends_with("by 127.0.0.1"), "{moved}");
    assert_eq!(
        browser.script("return document.querySelector('form.front').hidden;"),
        true,
        "it is next: nothing to move"
    );
    assert_eq!(
        server.get(&format!("/experiments/{ahead}")).json()["position"],
        2
    );

    // The listing shows the exception to first in, first out.
    browser.go(&format!("http://{}/", server.addr));
    // Found afresh each time: the rows are redrawn as the events come.
    let mark = json!({
        "script": format!(
            "const t = document.querySelector('tr[data-id=\"{urgent}\"] [data-moved]'); \
             return t && t.textContent;"
        ),
        "args": [],
    });
    wait_until("the listing marks the move", || {
        browser
            .try_call("POST", "/execute/sync", Some(mark.clone()))
            .is_ok_and(|text| text == "moved to front")
    });

    let drained = request(
        server.addr,
        "POST",
        "/queue/drain?reason=moving+to+the+new+workstation",
        &[],
        b"",
    );
    assert_eq!(drained.status, 200, "{}", drained.text());
    browser.go(&format!("http://{}/", server.addr));
    let banner = browser.text(&browser.find("[data-draining]"));
    assert!(banner.starts_with("Submissions are closed"), "{banner}");
    assert!(banner.contains("moving to the new workstation"), "{banner}");
    browser.fit_to_page();
    browser.screenshot("queue-control.png");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn the_home_page_shows_the_queue_and_follows_it_until_nothing_moves() {
    let browser = Browser::start(true);
    let server = Server::start(|config| {
        config.command = Some(
            "case \"$QUERY_NAME\" in spike-RBD) echo 'blastp: database nr not found' >&2; exit 2;; \
             TP53-cDNA) sleep 30;; *) sleep 0.2;; esac"
                .into(),
        )
    });
    for name in ["BRCA1-exon11", "16S-rRNA-isolate-07", "spike-RBD"] {
        server.submit(name, ORF_DNA);
    }
    let canceled = server.submit("pUC19-insert", ORF_DNA);
    let blocker = server.submit("TP53-cDNA", ORF_DNA);
    for name in ["lacZ-alpha", "GFP-S65T"] {
        server.submit(name, ORF_DNA);
    }
    assert_eq!(
        request(
            server.addr,
            "DELETE",
            &format!("/experiments/{canceled}"),
            &[],
            b""
        )
        .status,
        200
    );
    server.wait_for_state(&blocker, "RUNNING");

    browser.go(&format!("http://{}/", server.addr));
    browser.script("window.seqspoolTestMarker = 'the same document';");
    let seen = browser.script(
        "return [Array.from(document.querySelectorAll('table.list tbody tr[data-id]'), r => \
                   r.querySelector('td.name a').textContent + '=' + r.querySelector('[data-state]').textContent), \
                 document.querySelector('[data-count=RUNNING]').textContent, \
                 document.querySelector('[data-count=QUEUED]').textContent];",
    );
    assert_eq!(
        seen,
        json!([
            [
                "GFP-S65T=Queued",
                "lacZ-alpha=Queued",
                "TP53-cDNA=Running",
                "pUC19-insert=Canceled",
                "spike-RBD=Failed",
                "16S-rRNA-isolate-07=Complete",
                "BRCA1-exon11=Complete"
            ],
            "1",
            "2"
        ])
    );
    assert_eq!(
        browser.script("return document.body.dataset.live;"),
        "polling"
    );
    browser.screenshot("home.png");

    // The rest of the queue runs through; the page follows without a reload.
    request(
        server.addr,
        "DELETE",
        &format!("/experiments/{blocker}"),
        &[],
        b"",
    );
    wait_until("the home page shows nothing queued or running", || {
        browser.script(
            "return document.querySelectorAll('table.list tbody [data-state=QUEUED], table.list tbody [data-state=RUNNING]').length \
             + Number(document.querySelector('[data-count=RUNNING]').textContent) \
             + Number(document.querySelector('[data-count=QUEUED]').textContent);",
        ) == 0
    });
    wait_until("the page stops polling once nothing moves", || {
        browser.script("return document.body.dataset.live;") == "idle"
    });
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document"
    );
}

impl Browser {
    /// How far the page, and each table in it, scrolls sideways: how many
    /// pixels wider than its box each is, by what is too wide (`page` or the
    /// heading of a table's section); empty when nothing does.
    fn overflow(&self) -> Value {
        self.script(
            "const wider = []; const page = document.scrollingElement; \
             if (page.scrollWidth > page.clientWidth) wider.push(['page', page.scrollWidth - page.clientWidth]); \
             document.querySelectorAll('.table-scroll').forEach(region => { \
               if (region.scrollWidth > region.clientWidth) \
                 wider.push([region.getAttribute('aria-labelledby') || 'a table', region.scrollWidth - region.clientWidth]); }); \
             return wider;",
        )
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn the_home_page_lists_each_experiments_pipeline_and_fits_a_laptop_screen_without_scrolling_sideways(
) {
    let browser = Browser::start(true);
    // Two pipelines, one with a name as long as names go, whose experiments each run
    // until their gate opens: every kind of row, estimates included.
    let gates = tempfile::tempdir().unwrap();
    let wait = format!(
        "while [ ! -e '{}'/\"$QUERY_NAME\" ]; do sleep 0.02; done",
        gates.path().display()
    );
    let lab = format!(
        r#"
[[pipeline]]
name = "reference-search-against-lab-collections"
title = "Reference search against the lab's whole collection of plasmids and strains"
command = {wait:?}

[[pipeline]]
name = "analysis"
title = "Sequence analysis"
executor = "builtin"
"#
    );
    let path = gates.path().join("seqspool.toml");
    let server = Server::start(|config| config.apply_file(&lab, &path, None).unwrap());
    let submit = |name: &str, pipeline: &str| {
        let answer = server.post_form(
            "/experiments",
            &[
                ("query_name", name),
                ("query_sequence", ORF_DNA),
                ("pipeline", pipeline),
            ],
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
        answer.json()["id"].as_str().unwrap().to_owned()
    };
    let search = "reference-search-against-lab-collections";
    let done = submit("BRCA1-exon11", search);
    std::fs::write(gates.path().join("BRCA1-exon11"), "").unwrap();
    server.wait_for_state(&done, "COMPLETE");
    let analysed = submit("16S-rRNA-isolate-07", "analysis");
    server.wait_for_state(&analysed, "COMPLETE");
    let running = submit("Arabidopsis thaliana chromosome 3 BAC clone F12K21", search);
    server.wait_for_state(&running, "RUNNING");
    let long =
        "a_very_long_sample_name_without_any_spaces_from_the_sequencer_run_2026_12_07_lane_3";
    submit(long, search);
    submit("lacZ-alpha", search);
    submit("GFP-S65T", "analysis");

    browser.call(
        "POST",
        "/window/rect",
        Some(json!({ "width": 1280, "height": 900 })),
    );
    for page in ["/", "/experiments"] {
        browser.go(&format!("http://{}{page}", server.addr));
        wait_until("the page shows every row with its estimate", || {
            browser.script(
                "return document.querySelectorAll('table.list tbody tr[data-id]').length === 6 \
                 && document.querySelectorAll('table.list tbody td.expected .eta').length === 4;",
            ) == true
        });
        // Each row names its pipeline.
        let pipelines = browser.script(
            "return Array.from(document.querySelectorAll('table.list tbody tr[data-id]'), r => \
               r.querySelector('td.name a').textContent + '=' + r.querySelector('td.pipeline').textContent);",
        );
        assert_eq!(
            pipelines,
            json!([
                "GFP-S65T=analysis",
                format!("lacZ-alpha={search}"),
                format!("{long}={search}"),
                format!("Arabidopsis thaliana chromosome 3 BAC clone F12K21={search}"),
                "16S-rRNA-isolate-07=analysis",
                format!("BRCA1-exon11={search}"),
            ]),
            "{page}"
        );
        assert_eq!(
            browser.script("return window.innerWidth;"),
            1280,
            "the window is a laptop's"
        );
        assert_eq!(browser.overflow(), json!([]), "{page} scrolls sideways");
    }
    browser.go(&format!("http://{}/", server.addr));
    browser.find("table.list tbody td.expected .eta");
    browser.screenshot("home-1280.png");
    // The rows the script draws, as an event redraws them, fit as well.
    let last = submit("pUC19-insert", "analysis");
    wait_until("the page shows the new row", || {
        browser.script(&format!(
            "const r = document.querySelector('tr[data-id=\"{last}\"]'); \
             return r && r.querySelector('td.pipeline').textContent;"
        )) == "analysis"
    });
    assert_eq!(
        browser.overflow(),
        json!([]),
        "redrawn, the page scrolls sideways"
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn the_estimate_says_none_before_a_run_has_completed_and_a_local_time_after_without_a_reload() {
    let browser = Browser::start(true);
    let gates = tempfile::tempdir().unwrap();
    let server = gated_server(gates.path());
    let first = server.submit("first", ORF_DNA);
    server.wait_for_state(&first, "RUNNING");
    let second = server.submit("second", ORF_DNA);
    let third = server.submit("third", ORF_DNA);

    browser.go(&format!("http://{}/experiments/{third}", server.addr));
    let fact = "const f = document.querySelector('[data-fact=eta]'); \
                return f.hidden ? null : f.querySelector('dd').textContent;";
    wait_until("the page follows the server's events", || {
        browser.script("return document.body.dataset.stream;") == "open"
    });
    let before = browser.script(fact);
    assert!(
        before
            .as_str()
            .is_some_and(|text| text
                .starts_with("no estimate yet (estimated from the recent completed runs")),
        "{before}"
    );
    assert_eq!(
        browser.text(&browser.find("[data-status]")),
        "Waiting in the queue: 1 experiment runs before it."
    );
    browser.script("window.seqspoolTestMarker = 'the same document';");

    // The first run completes: the second runs, the third has an estimate.
    std::fs::write(gates.path().join("first"), "").unwrap();
    server.wait_for_state(&second, "RUNNING");
    wait_until("the page shows when it should start and finish", || {
        browser.script(fact).as_str().is_some_and(|text| {
            text.starts_with("starts about ") && text.contains(", finishes about ")
        })
    });
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document",
        "the page was reloaded to show the estimate"
    );
    assert_eq!(
        browser.text(&browser.find("[data-status]")),
        "Waiting in the queue: it runs next."
    );
    // In the reader's time zone, to the minute, as the page's other times;
    // the instants the record's eta gives.
    let times = browser.script(
        "return Array.from(document.querySelectorAll('[data-fact=eta] time[data-approx]'), t => \
           [t.dateTime, t.textContent, \
            new Date(t.dateTime).toLocaleString(undefined, {hour: '2-digit', minute: '2-digit'})]);",
    );
    let times = times.as_array().unwrap();
    assert_eq!(times.len(), 2, "{times:?}");
    for time in times {
        let (iso, shown, local) = (time[0].as_str().unwrap(), &time[1], &time[2]);
        assert!(iso.ends_with('Z'), "{iso}");
        // An estimate made today reads as the time of day (one that crosses
        // midnight also says the day).
        assert!(
            shown.as_str().unwrap().ends_with(local.as_str().unwrap()),
            "{shown} {local}"
        );
    }
    let eta = server.get(&format!("/experiments/{third}")).json()["eta"].clone();
    assert!(
        eta["start"].is_string() && eta["finish"].is_string(),
        "{eta}"
    );
    browser.fit_to_page();
    browser.screenshot("experiment-estimate.png");

    // Paused, it promises no time but says what it waits for; resumed, a time again.
    pause_queue(server.addr, "a+new+disk");
    wait_until("the page says it waits for the pause", || {
        browser.script(fact).as_str().is_some_and(|text| {
            text.starts_with("waits until the queue is resumed (the queue is paused (since ")
                && text.contains("a new disk")
        })
    });
    assert_eq!(
        browser.script("return document.querySelectorAll('[data-fact=eta] time').length;"),
        0
    );
    let resumed = request(server.addr, "POST", "/queue/resume", &[], b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    wait_until("the page shows a start again", || {
        browser
            .script(fact)
            .as_str()
            .is_some_and(|text| text.starts_with("starts about "))
    });
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document"
    );

    // The home page's rows say the same, and nothing for one that has finished.
    browser.go(&format!("http://{}/", server.addr));
    // Read in one script: the rows are redrawn as events come, so an element
    // found first may be gone by the time its text is asked for.
    let cell = |id: &str| {
        let text = browser.script(&format!(
            "const c = document.querySelector('tr[data-id=\"{id}\"] td.expected'); \
             return c && c.innerText.trim();"
        ));
        text.as_str().unwrap_or_default().to_owned()
    };
    let queued = cell(&third);
    assert!(
        queued.starts_with("starts about ") && queued.contains("finishes about "),
        "{queued}"
    );
    assert!(
        cell(&second).starts_with("finishes about "),
        "{}",
        cell(&second)
    );
    assert_eq!(cell(&first), "—");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn the_batch_page_follows_its_events_with_each_estimate_and_polls_only_without_event_source() {
    let browser = Browser::start(true);
    let gates = tempfile::tempdir().unwrap();
    let server = gated_server(gates.path());
    // One completed run makes the estimates; one running holds the batch.
    let warm = server.submit("warm-up", ORF_DNA);
    std::fs::write(gates.path().join("warm-up"), "").unwrap();
    server.wait_for_state(&warm, "COMPLETE");
    let blocker = server.submit("blocker", ORF_DNA);
    server.wait_for_state(&blocker, "RUNNING");
    let submitted = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        b">A01\nACGT\n>A02\nACGT\n>A03\nACGT\n",
    );
    assert_eq!(submitted.status, 202, "{}", submitted.text());
    let batch = submitted.json()["batch"].as_str().unwrap().to_owned();
    let page = format!("http://{}/experiments?batch={batch}", server.addr);

    // Without JavaScript the page says all of it, estimates included.
    let html = request(
        server.addr,
        "GET",
        &format!("/experiments?batch={batch}"),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    )
    .text();
    assert!(html.contains(&format!("data-batch-stream=\"/events?batch={batch}\"")));
    assert_eq!(
        html.matches("<td class=\"expected\" data-cell=\"expected\"><span class=\"eta\"")
            .count(),
        3,
        "{html}"
    );

    browser.go(&page);
    wait_until("the batch page follows the batch's events", || {
        browser.script("return [document.body.dataset.stream, document.body.dataset.live];")
            == json!(["open", "idle"])
    });
    browser.script("window.seqspoolTestMarker = 'the same document';");
    let rows =
        "return Array.from(document.querySelectorAll('table.plate tbody tr[data-id]'), r => \
                  r.querySelector('[data-state]').dataset.state + ' ' + \
                  r.querySelector('[data-cell=expected]').textContent);";
    let expected = browser.script(rows);
    for row in expected.as_array().unwrap() {
        let row = row.as_str().unwrap();
        assert!(
            row.starts_with("QUEUED starts about ") && row.contains("finishes about "),
            "{row}"
        );
    }

    // Each change comes by an event: the rows follow without a reload.
    std::fs::write(gates.path().join("blocker"), "").unwrap();
    wait_until("the batch page shows A01 running", || {
        browser.script(rows)[0]
            .as_str()
            .is_some_and(|row| row.starts_with("RUNNING finishes about "))
    });
    for name in ["A01", "A02", "A03"] {
        std::fs::write(gates.path().join(name), "").unwrap();
    }
    wait_until("the batch page shows the batch complete", || {
        browser.script(rows) == json!(["COMPLETE —", "COMPLETE —", "COMPLETE —"])
            && browser.text(&browser.find("[data-batch-count=complete]")) == "3"
    });
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document"
    );
    assert_eq!(
        browser.script("return document.body.dataset.stream;"),
        "open"
    );

    // Where there is no EventSource, it polls while something moves, then stops.
    browser.call(
        "POST",
        "/goog/cdp/execute",
        Some(json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": "delete window.EventSource;" },
        })),
    );
    let again = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        b">B01\nACGT\n>B02\nACGT\n",
    )
    .json()["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.go(&format!("http://{}/experiments?batch={again}", server.addr));
    wait_until("the page polls, having no EventSource", || {
        browser.script("return [typeof window.EventSource, document.body.dataset.live, document.body.dataset.stream || null];")
            == json!(["undefined", "polling", null])
    });
    for name in ["B01", "B02"] {
        std::fs::write(gates.path().join(name), "").unwrap();
    }
    wait_until("the polled page shows the batch complete and stops", || {
        browser.script(rows) == json!(["COMPLETE —", "COMPLETE —"])
            && browser.script("return document.body.dataset.live;") == "idle"
    });
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_96_record_plate_shows_as_a_grid_filling_in_as_wells_finish() {
    use crate::batch::{gated_search_lab, open_gates, wells};
    let browser = Browser::start(true);
    let lab = gated_search_lab();
    let server = lab.server(|_| {});
    let text: String = wells()
        .iter()
        .map(|well| format!(">{well} well {well}\n{ORF_DNA}\n"))
        .collect();
    let submitted = request(
        server.addr,
        "POST",
        "/experiments?name=plate7.fasta",
        &[("Content-Type", "text/x-fasta")],
        text.as_bytes(),
    );
    assert_eq!(submitted.status, 202, "{}", submitted.text());
    let batch = submitted.json()["batch"].as_str().unwrap().to_owned();
    let first: u64 = batch.parse().unwrap();
    server.wait_for_state(&batch, "RUNNING");

    browser.go(&format!("http://{}/experiments?batch={batch}", server.addr));
    wait_until("the batch page follows the batch's events", || {
        browser.script("return [document.body.dataset.stream, document.body.dataset.live];")
            == json!(["open", "idle"])
    });
    browser.script("window.seqspoolTestMarker = 'the same document';");
    // Each well's look, row by row from A01, and what a screen reader hears of it.
    let looks = "return Array.from(document.querySelectorAll('table[data-wells] td.well'), \
                 c => c.className.replace('well ', ''));";
    let heard = |well: &str| {
        browser.script(&format!(
            "return document.querySelector('[data-well={well}] a').textContent;"
        ))
    };
    let shown = browser.script(looks);
    let shown: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), 96);
    assert_eq!(shown[0], "well-running");
    assert!(
        shown[1..].iter().all(|look| *look == "well-queued"),
        "{shown:?}"
    );
    assert_eq!(heard("A01"), "…A01: running");
    let headers = browser.script(
        "const t = document.querySelector('table[data-wells]'); \
         return [t.querySelectorAll('thead th[scope=col]').length, \
                 Array.from(t.querySelectorAll('tbody th[scope=row]'), h => h.textContent).join('')];",
    );
    assert_eq!(headers, json!([12, "ABCDEFGH"]));

    // The first six wells finish: each takes its look without a reload.
    open_gates(&lab, ["A01", "A02", "A03", "A04", "A05", "A06"]);
    wait_until("the first six wells show their results", || {
        let shown = browser.script(looks);
        shown.as_array().unwrap()[..7]
            == [
                "well-hit",
                "well-no-hit",
                "well-failed",
                "well-no-hit",
                "well-hit",
                "well-no-hit",
                "well-running",
            ]
    });
    assert_eq!(heard("A01"), "●A01: hit, ref_A01 (E = 3e-12)");
    assert_eq!(heard("A02"), "○A02: no hit");
    browser.fit_to_page();
    browser.screenshot("batch-plate-filling.png");

    // Then the rest.
    open_gates(&lab, wells().iter().skip(6).map(String::as_str));
    wait_until("every well has finished", || {
        let shown = browser.script(looks);
        shown.as_array().unwrap().iter().all(|look| {
            matches!(
                look.as_str(),
                Some("well-hit" | "well-no-hit" | "well-failed")
            )
        })
    });
    let shown = browser.script(looks);
    let hits = shown
        .as_array()
        .unwrap()
        .iter()
        .filter(|look| *look == "well-hit")
        .count();
    assert_eq!(hits, 47, "every odd column found a hit, but A03 failed");
    assert_eq!(heard("H12"), "○H12: no hit");
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document"
    );
    browser.screenshot("batch-plate.png");

    // A well opens its experiment.
    browser.click(&browser.find("[data-well=B05] a"));
    assert_eq!(
        browser.landed_on_an_experiment(),
        format!("{:06}", first + 16)
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn without_javascript_the_form_submits_and_a_cancel_asks_on_a_page_of_its_own() {
    let browser = Browser::start(false);
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let running = server.submit("blocker", "ACGT");
    server.wait_for_state(&running, "RUNNING");

    browser.go(&format!("http://{}/", server.addr));
    browser.type_into(
        &browser.find("#query_sequence"),
        &format!(">no-script\n{ORF_DNA}"),
    );
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let id = browser.landed_on_an_experiment();
    assert_eq!(browser.text(&browser.find("h1")), "no-script");
    // The script would have rewritten it in local time: it did not run.
    let submitted = browser.text(&browser.find("[data-fact=submitted_at] time"));
    assert!(submitted.ends_with('Z'), "{submitted}");
    assert!(browser
        .text(&browser.find("[data-status]"))
        .contains("runs next"));

    browser.click(&browser.find("form.cancel button"));
    browser.find("form.actions button.danger");
    assert_eq!(
        browser.text(&browser.find("h1")),
        format!("Cancel experiment {id}?")
    );
    assert_eq!(server.wait_for_state(&id, "QUEUED")["state"], "QUEUED");
    browser.click(&browser.find("form.actions button.danger"));
    server.wait_for_state(&id, "CANCELED");
    wait_until("the browser is back on the experiment's page", || {
        experiment_id(&browser.url()).as_deref() == Some(id.as_str())
    });
    assert_eq!(
        browser.text(&browser.find(".head-state [data-state]")),
        "Canceled"
    );
}

// ---- over plain HTTP --------------------------------------------------------

fn page(server: &Server, path: &str) -> Response {
    request(server.addr, "GET", path, &[("Accept", BROWSER_ACCEPT)], b"")
}

/// A browser's multipart form post to `POST /experiments`, with an empty file part.
fn post_page_form(server: &Server, name: &str, sequence: &str) -> Response {
    post_page_fields(
        server,
        &[("query_name", name), ("query_sequence", sequence)],
    )
}

#[test]
fn a_browser_gets_pages_with_a_strict_policy_and_scripts_keep_getting_json() {
    let server = Server::start(|config| config.command = Some("true".into()));
    let id = server.submit("sample-1", ORF_DNA);
    let batch = post_page_form(&server, "", ">a\nACGT\n>b\nGGCC\n");
    assert_eq!(batch.status, 303, "{}", batch.text());
    let batch = batch.header("location").unwrap().to_owned();

    for path in ["/", &format!("/experiments/{id}"), &batch] {
        let answer = page(&server, path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        let policy = answer.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
            "{policy}"
        );
        assert!(
            !answer.text().contains("<script>"),
            "{path} has an inline script"
        );
    }
    for (path, content_type) in [
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/batch.js", "text/javascript; charset=utf-8"),
        ("/ui/icon.svg", "image/svg+xml"),
    ] {
        let answer = request(server.addr, "GET", path, &[], b"");
        assert_eq!(
            (answer.status, answer.header("content-type")),
            (200, Some(content_type))
        );
    }

    for accept in [None, Some("*/*"), Some("application/json")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let record = request(
            server.addr,
            "GET",
            &format!("/experiments/{id}"),
            &headers,
            b"",
        );
        assert_eq!(record.json()["id"], id.as_str(), "Accept {accept:?}");
        let list = request(server.addr, "GET", "/experiments", &headers, b"");
        // Newest first: the batch, then this one.
        assert_eq!(list.json()["experiments"][2]["id"], id.as_str());
    }
    let missing = page(&server, "/experiments/424242");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no experiment 424242"));
}

/// The files in `dir` once no download is in progress there.
fn downloaded(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn files_a_command_writes_run_no_script_here_when_opened_and_download_under_their_names() {
    let browser = Browser::start(true);
    // Each script would leave a mark in this server's origin, retitle the
    // page and ask; none may.
    let server = Server::start(|config| {
        config.command = Some(
            "printf '<script>localStorage.setItem(\"owned\",\"x.html\");document.title=\"owned\";alert(\"owned\")</script>' > x.html; \
             printf '<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"40\" onload=\"localStorage.setItem(%s,%s);document.title=%s;alert(1)\"><rect width=\"40\" height=\"40\" fill=\"teal\"/></svg>' \"'owned'\" \"'plot.svg'\" \"'owned'\" > plot.svg; \
             printf 'odd' > \"$(printf 'it'\"'\"'s \"quoted\"\\nname.txt')\""
                .into(),
        )
    });
    let id = server.submit("hostile files", ORF_DNA);
    let record = server.wait_for_state(&id, "COMPLETE");
    let odd = "it's \"quoted\"\nname.txt";
    assert!(
        record["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == odd),
        "{record}"
    );
    let svg = std::fs::read_to_string(server.dir.join(&id).join("plot.svg")).unwrap();
    assert!(
        svg.contains("onload=\"localStorage.setItem('owned','plot.svg')"),
        "{svg}"
    );

    let experiment = format!("http://{}/experiments/{id}", server.addr);
    browser.go(&experiment);
    let title = browser.script("return document.title;");
    let untouched = || {
        // An alert open would fail every command; ask for it first.
        let alert = browser.try_call("GET", "/alert/text", None);
        assert!(
            alert
                .as_ref()
                .is_err_and(|err| err.contains("no such alert")),
            "a script asked: {alert:?}"
        );
        assert_eq!(
            browser.script("return [document.title, localStorage.getItem('owned')];"),
            json!([title, null]),
            "a script ran in the server's origin"
        );
    };
    // The SVG is shown as a picture: an <img> runs none of its script.
    wait_until("the page shows the SVG as a picture", || {
        browser.script(
            "const i = document.querySelector('img[src$=\"/files/plot.svg\"]'); return !!i && i.complete && i.naturalWidth > 0;",
        ) == true
    });
    untouched();

    // Opened from the files' list, each is a download named as it was.
    let downloads = browser.downloads();
    for name in ["x.html", "plot.svg"] {
        browser.click(&browser.find(&format!("[data-files] a[href$=\"/files/{name}\"]")));
        // Downloaded, or else shown (an open alert fails the question).
        wait_until(&format!("{name} is downloaded or shown"), || {
            downloaded(&downloads).iter().any(|file| file == name)
                || browser.try_call("GET", "/url", None) != Ok(json!(experiment))
        });
        untouched();
        assert_eq!(browser.url(), experiment, "opening {name} left the page");
        assert!(
            downloaded(&downloads).iter().any(|file| file == name),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(downloads.join("x.html")).unwrap(),
        std::fs::read(server.dir.join(&id).join("x.html")).unwrap()
    );

    // The oddly named text is shown as text, and downloads from its result.
    let card = browser.find(&format!(
        "article.result a[download][href=\"/experiments/{id}/results/it%27s%20%22quoted%22%0Aname.txt\"]"
    ));
    browser.click(&card);
    wait_until("the oddly named file is downloaded", || {
        downloaded(&downloads)
            .iter()
            .any(|file| file.starts_with("it") && !file.ends_with(".crdownload"))
    });
    // Its own name, but for the quote and the new line, which Chromium
    // replaces in every name it saves.
    assert_eq!(
        downloaded(&downloads),
        ["it's _quoted__name.txt", "plot.svg", "x.html"]
    );
    assert_eq!(
        std::fs::read_to_string(downloads.join("it's _quoted__name.txt")).unwrap(),
        "odd"
    );
    untouched();
    browser.click(&browser.find("[data-files] a[href$=\"name.txt\"]"));
    wait_until("the browser shows the oddly named file", || {
        browser
            .url()
            .ends_with("/files/it's%20%22quoted%22%0Aname.txt")
            || browser
                .url()
                .ends_with("/files/it%27s%20%22quoted%22%0Aname.txt")
    });
    assert_eq!(browser.text(&browser.find("body")), "odd");
}

/// Whether `text` counts one of something with a plural ("1 experiments",
/// not "11 experiments"), or speaks of jobs, as only `GET /backlog` may.
fn miscounts(text: &str) -> Option<String> {
    for (at, _) in text.match_indices("1 experiments") {
        if !text[..at].ends_with(|c: char| c.is_ascii_digit() || c == ',') {
            return Some(text[at.saturating_sub(60)..at + 13].to_owned());
        }
    }
    text.find("jobs")
        .map(|at| text[at.saturating_sub(60)..at + 4].to_owned())
}

#[test]
fn the_backlog_keeps_the_seeds_words_for_scripts_and_the_pages_say_1_experiment() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let running = server.submit("blocker", ORF_DNA);
    server.wait_for_state(&running, "RUNNING");
    assert_eq!(
        server.get("/backlog").json(),
        json!(["Currently 1 jobs in the backlog."]),
        "scripts match the seed's words"
    );
    let next = server.submit("next", ORF_DNA);
    let behind = server.submit("behind", ORF_DNA);
    // One running, two queued: each page counts in its own words.
    for path in [
        "/".to_owned(),
        "/experiments".to_owned(),
        "/experiments?state=QUEUED".to_owned(),
        format!("/experiments/{running}"),
        format!("/experiments/{next}"),
        format!("/experiments/{behind}"),
    ] {
        let html = page(&server, &path).text();
        assert_eq!(miscounts(&html), None, "{path}");
    }
    let html = page(&server, &format!("/experiments/{behind}")).text();
    assert!(
        html.contains("Waiting in the queue: 1 experiment runs before it."),
        "{html}"
    );
    let home = page(&server, "/").text();
    assert!(home.contains(r#"<span class="number" data-count="RUNNING">1</span>"#));
    assert!(home.contains(r#"<span class="number" data-count="QUEUED">2</span>"#));
    assert_eq!(
        server.get("/backlog").json(),
        json!(["Currently 3 jobs in the backlog."])
    );
    // The script writes the same sentence (app.js, statusSentence).
    let script = page(&server, "/ui/app.js").text();
    assert!(script.contains(r#""Waiting in the queue: 1 experiment runs before it.""#));
    assert_eq!(miscounts(&script), None);
}

#[test]
fn a_form_post_from_a_browser_is_answered_with_see_other_and_scripts_keep_202() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));

    let one = post_page_form(&server, "single", ORF_DNA);
    assert_eq!(one.status, 303, "{}", one.text());
    assert_eq!(one.header("location"), Some("/experiments/000001"));

    let batch = post_page_form(&server, "", ">a\nACGT\n>b\nGGCC\n");
    assert_eq!(batch.status, 303, "{}", batch.text());
    assert_eq!(batch.header("location"), Some("/experiments?batch=000002"));

    let script = post_form(
        server.addr,
        "/experiments",
        &[("query_name", "script"), ("query_sequence", "ACGT")],
    );
    assert_eq!(script.status, 202);
    assert_eq!(script.json()["id"], "000004");
}

#[test]
fn a_rejected_form_comes_back_filled_in_with_its_status_and_nothing_written() {
    let server = Server::start(|_| {});

    let answer = post_page_form(&server, "<b>bold</b>", "ACGT%TT");
    assert_eq!(answer.status, 422);
    let html = answer.text();
    assert!(html.contains("id=\"query_sequence-error\""), "{html}");
    assert!(html.contains("value=\"&lt;b&gt;bold&lt;/b&gt;\""), "{html}");
    assert!(html.contains(">ACGT%TT</textarea>"), "{html}");
    assert!(!html.contains("<b>bold</b>"));

    let empty = post_page_form(&server, "named", "");
    assert_eq!(empty.status, 422);
    assert!(empty.text().contains("id=\"query_sequence-error\""));
    assert!(server.experiment_dirs().is_empty());
}

#[test]
fn a_browser_meeting_a_full_queue_gets_the_same_503_and_retry_after_as_a_script() {
    let server = Server::start(|config| {
        config.command = Some("sleep 30".into());
        config.capacity = 1;
    });
    let running = server.submit("blocker", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    server.submit("waits", "ACGT");
    let before = snapshot(&server.dir);

    let page = post_page_form(&server, "one-too-many", "ACGT");
    let script = server.post_form(
        "/experiments",
        &[("query_name", "one-too-many"), ("query_sequence", "ACGT")],
    );
    assert_eq!(page.status, 503, "{}", page.text());
    assert_eq!(script.status, 503, "{}", script.text());
    assert!(page
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(script
        .header("Content-Type")
        .unwrap()
        .starts_with("application/json"));
    for header in ["Retry-After", "X-Content-Type-Options"] {
        assert!(page.header(header).is_some(), "the page has no {header}");
        assert_eq!(page.header(header), script.header(header), "{header}");
    }
    // The form comes back filled in, saying why, and nothing was written.
    let html = page.text();
    assert!(html.contains("queue is full"), "{html}");
    assert!(html.contains("value=\"one-too-many\""), "{html}");
    assert_eq!(snapshot(&server.dir), before);
}

#[test]
fn a_cancel_form_from_another_site_only_asks_for_confirmation() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let running = server.submit("blocker", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    let queued = server.submit("victim", "ACGT");
    let path = format!("/experiments/{queued}/cancel");
    let form = [
        ("Accept", BROWSER_ACCEPT),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];

    let mut foreign = form.to_vec();
    foreign.push(("Origin", "http://elsewhere.example"));
    let answer = request(server.addr, "POST", &path, &foreign, b"confirmed=yes");
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("Yes, cancel it"));
    assert_eq!(server.wait_for_state(&queued, "QUEUED")["state"], "QUEUED");

    let origin = format!("http://{}", server.addr);
    let mut own = form.to_vec();
    own.push(("Origin", &origin));
    let answer = request(server.addr, "POST", &path, &own, b"confirmed=yes");
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.header("location"),
        Some(format!("/experiments/{queued}").as_str())
    );
    server.wait_for_state(&queued, "CANCELED");
}

// ---- pipelines --------------------------------------------------------------

/// Two pipelines, as a lab's configuration file declares them: the default
/// writes its environment, and so does the second, which takes only
/// nucleotides and has a choice and a number parameter.
const TWO_PIPELINES: &str = r#"
[[pipeline]]
name = "envdump"
title = "Environment dump"
description = "Writes the command's environment to env.txt."
command = "env > env.txt"
[[pipeline.param]]
name = "verbose"
type = "boolean"
label = "Verbose"
default = false

[[pipeline]]
name = "search"
title = "Reference search"
description = "Searches the lab's reference: a stand-in that writes its environment to env.txt."
command = "env > env.txt; echo \"search $PARAM_TASK at $PARAM_EVALUE\""
alphabets = ["dna", "rna"]
[[pipeline.param]]
name = "task"
type = "choice"
label = "Task"
help = "blastn-short suits queries under 30 bases."
options = ["megablast", "blastn", "blastn-short"]
default = "megablast"
[[pipeline.param]]
name = "evalue"
type = "number"
label = "E-value threshold"
help = "Hits with a higher E-value are not reported."
default = 10
min = 0
max = 1000
"#;

/// A server offering [`TWO_PIPELINES`]; the directory holds its configuration file.
fn pipelines_server() -> (Server, TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("seqspool.toml");
    std::fs::write(&path, TWO_PIPELINES).unwrap();
    let server = Server::start(|config| {
        config
            .apply_file(TWO_PIPELINES, &path, None)
            .expect("the pipelines read")
    });
    (server, tmp)
}

/// The environment an experiment's command saw (its `env.txt`).
fn command_environment(server: &Server, id: &str) -> String {
    let answer = server.get(&format!("/experiments/{id}/files/env.txt"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

impl Browser {
    /// Empties an input, as a user selecting its text and deleting it would.
    fn clear(&self, element: &Element) {
        self.call(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        );
    }

    /// Whether an element is shown (WebDriver's answer, no script needed).
    fn displayed(&self, element: &Element) -> bool {
        self.call("GET", &format!("/element/{}/displayed", element.0), None) == true
    }

    /// Makes the window `width` wide and as tall as the page, for a screenshot.
    fn fit_to_width(&self, width: u64) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": 900 })),
        );
        let height = self.script(
            "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;",
        );
        let height = height.as_u64().unwrap_or(900).clamp(400, 4000);
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Each parameter fieldset's pipeline, and whether it is hidden and disabled.
    fn fieldsets(&self) -> Value {
        self.script(
            "return Array.from(document.querySelectorAll('fieldset[data-pipeline]'), \
                f => [f.dataset.pipeline, f.hidden, f.disabled]);",
        )
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_pipeline_picked_in_the_form_runs_the_experiment_with_the_parameters_set() {
    let browser = Browser::start(true);
    let (server, _config) = pipelines_server();
    browser.go(&format!("http://{}/", server.addr));

    // The default is chosen; only its parameters are shown, and only they would be sent.
    assert_eq!(
        browser.script("return document.querySelector('input[name=pipeline]:checked').value;"),
        "envdump"
    );
    assert_eq!(
        browser.fieldsets(),
        json!([["envdump", false, false], ["search", true, true]])
    );
    assert_eq!(
        browser.text(&browser.find("[data-takes]")),
        "DNA, RNA or protein"
    );
    assert!(!browser.displayed(&browser.find("[data-all-params]")));
    browser.fit_to_page();
    browser.screenshot("home-pipelines.png");

    browser.click(&browser.find("label[for='pipeline.search']"));
    wait_until("the search pipeline's parameters are shown", || {
        browser.fieldsets() == json!([["envdump", true, true], ["search", false, false]])
    });
    assert_eq!(browser.text(&browser.find("[data-takes]")), "DNA or RNA");
    browser.click(&browser.find("[id='param.search.task'] option[value=blastn-short]"));
    let evalue = browser.find("[id='param.search.evalue']");
    assert_eq!(
        browser.script("return document.getElementById('param.search.evalue').value;"),
        "10",
        "the field holds the default"
    );
    browser.clear(&evalue);
    browser.type_into(&evalue, "0.5");
    browser.type_into(&browser.find("#query_name"), "primer-7");
    browser.type_into(&browser.find("#query_sequence"), ORF_DNA);
    browser.fit_to_width(390);
    browser.screenshot("home-pipelines-phone.png");
    browser.fit_to_width(1280);
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    let id = browser.landed_on_an_experiment();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["pipeline"], "search", "{record}");
    assert_eq!(
        record["params"],
        json!({ "task": "blastn-short", "evalue": "0.5" }),
        "{record}"
    );
    let env = command_environment(&server, &id);
    for line in [
        "PIPELINE=search",
        "PARAM_TASK=blastn-short",
        "PARAM_EVALUE=0.5",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} not in\n{env}");
    }
    assert!(!env.contains("PARAM_VERBOSE"), "{env}");

    // The page says so too.
    wait_until("the page shows the experiment complete", || {
        browser.page_state() == "COMPLETE"
    });
    assert_eq!(
        browser.script(
            "return [document.querySelector('[data-fact=pipeline] dd').textContent, \
                     Array.from(document.querySelectorAll('dl.params > div'), \
                       d => d.querySelector('dt').textContent + '=' + d.querySelector('dd').textContent)];"
        ),
        json!(["Reference search (search)", ["evalue=0.5", "task=blastn-short"]])
    );
    assert!(browser
        .text(&browser.find("[data-fact=command] dd"))
        .starts_with("env > env.txt;"));
    assert_eq!(
        browser.script("return document.querySelector('form.retry').hidden;"),
        true,
        "a complete experiment offers no Run again"
    );
    browser.fit_to_width(1280);
    browser.screenshot("experiment-pipeline.png");
    browser.fit_to_width(390);
    browser.screenshot("experiment-pipeline-phone.png");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_sequence_the_pipeline_does_not_take_comes_back_with_the_pipeline_still_chosen() {
    let browser = Browser::start(true);
    let (server, _config) = pipelines_server();
    browser.go(&format!("http://{}/", server.addr));
    browser.click(&browser.find("label[for='pipeline.search']"));
    browser.click(&browser.find("[id='param.search.task'] option[value=blastn]"));
    browser.type_into(
        &browser.find("#query_sequence"),
        ">kinase\nMKTAYIAKQRQISFVKSHFSRQ",
    );
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    let error = browser.text(&browser.find("#query_sequence-error"));
    assert!(
        error.contains("search takes DNA or RNA; this sequence reads as protein"),
        "{error}"
    );
    assert_eq!(
        browser.script(
            "return [document.querySelector('input[name=pipeline]:checked').value, \
                     document.getElementById('param.search.task').value, \
                     document.querySelector('[data-takes]').textContent];"
        ),
        json!(["search", "blastn", "DNA or RNA"])
    );
    assert_eq!(
        browser.fieldsets(),
        json!([["envdump", true, true], ["search", false, false]])
    );
    assert!(server.experiment_dirs().is_empty(), "nothing was written");
    browser.fit_to_width(1280);
    browser.screenshot("home-pipelines-error.png");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn without_javascript_every_pipelines_fields_are_shown_and_the_chosen_ones_used() {
    let browser = Browser::start(false);
    let (server, _config) = pipelines_server();
    browser.go(&format!("http://{}/", server.addr));
    for css in [
        "fieldset[data-pipeline=envdump]",
        "fieldset[data-pipeline=search]",
        "[data-all-params]",
    ] {
        assert!(browser.displayed(&browser.find(css)), "{css} is not shown");
    }
    browser.click(&browser.find("label[for='pipeline.search']"));
    let evalue = browser.find("[id='param.search.evalue']");
    browser.clear(&evalue);
    browser.type_into(&evalue, "1e-3");
    browser.type_into(&browser.find("#query_sequence"), ">no-script\nACGTACGT");
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    let id = browser.landed_on_an_experiment();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["pipeline"], "search", "{record}");
    // envdump's `verbose` was sent too (false), and left alone.
    assert_eq!(
        record["params"],
        json!({ "task": "megablast", "evalue": "1e-3" })
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_failed_experiment_offers_run_again_once_it_ends() {
    let browser = Browser::start(true);
    let server = Server::start(|config| {
        config.command = Some("sleep 1; echo 'blastn: database not found' >&2; exit 3".into())
    });
    let id = server.submit("will-fail", ORF_DNA);
    browser.go(&format!("http://{}/experiments/{id}", server.addr));
    assert_eq!(
        browser.script("return document.querySelector('form.retry').hidden;"),
        true,
        "nothing to run again while it has not ended"
    );
    wait_until("the page shows the experiment failed", || {
        browser.page_state() == "EXECUTOR_ERROR"
    });
    let button = browser.find("form.retry button");
    assert!(browser.displayed(&button), "Run again is not shown");
    assert_eq!(browser.text(&button), "Run again");
    assert_eq!(
        browser.script("const f = document.querySelector('form.retry'); return [f.method, new URL(f.action).pathname];"),
        json!(["post", format!("/experiments/{id}/retry")])
    );
    browser.fit_to_page();
    browser.screenshot("experiment-failed.png");
}

/// A browser's multipart post of the home page's form with `fields`, and an
/// empty file part as a browser sends when no file was chosen.
fn post_page_fields(server: &Server, fields: &[(&str, &str)]) -> Response {
    post_page_multipart(server, fields, ("", ""))
}

/// A browser's multipart form post to `POST /experiments`: `fields`, then
/// the file part, `(file name, content)`, both empty when no file was chosen.
fn post_page_multipart(server: &Server, fields: &[(&str, &str)], file: (&str, &str)) -> Response {
    let boundary = "----seqspool-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    let (file_name, content) = file;
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n"
    ));
    request(
        server.addr,
        "POST",
        "/experiments",
        &[
            ("Accept", BROWSER_ACCEPT),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        body.as_bytes(),
    )
}

#[test]
fn the_form_without_javascript_sends_every_pipelines_fields_and_only_the_chosen_ones_count() {
    let (server, _config) = pipelines_server();
    let home = page(&server, "/").text();
    for name in [
        "param.envdump.verbose",
        "param.search.task",
        "param.search.evalue",
    ] {
        assert_eq!(
            home.matches(&format!("name=\"{name}\"")).count(),
            1,
            "{name} in {home}"
        );
    }

    // Every fieldset sent, as a browser without the script sends them.
    let sent = |pipeline: &str, verbose: &str, evalue: &str| {
        post_page_fields(
            &server,
            &[
                ("query_name", "sample"),
                ("query_sequence", ORF_DNA),
                ("pipeline", pipeline),
                ("param.envdump.verbose", verbose),
                ("param.search.task", "blastn"),
                ("param.search.evalue", evalue),
            ],
        )
    };
    let answer = sent("search", "true", "2.5");
    assert_eq!(answer.status, 303, "{}", answer.text());
    let id = experiment_id(answer.header("location").unwrap()).unwrap();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["pipeline"], "search");
    assert_eq!(
        record["params"],
        json!({ "task": "blastn", "evalue": "2.5" })
    );
    let env = command_environment(&server, &id);
    assert!(env.lines().any(|l| l == "PARAM_EVALUE=2.5"), "{env}");
    assert!(!env.contains("PARAM_VERBOSE"), "{env}");

    // Another pipeline's field may even be invalid: it is not read.
    let answer = sent("envdump", "true", "-1");
    assert_eq!(answer.status, 303, "{}", answer.text());
    let id = experiment_id(answer.header("location").unwrap()).unwrap();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["pipeline"], "envdump");
    assert_eq!(record["params"], json!({ "verbose": "true" }));
    let env = command_environment(&server, &id);
    assert!(env.lines().any(|l| l == "PIPELINE=envdump"), "{env}");
    assert!(env.lines().any(|l| l == "PARAM_VERBOSE=true"), "{env}");
    assert!(!env.contains("PARAM_EVALUE"), "{env}");

    // The chosen pipeline's invalid field: the form comes back as sent, the
    // error beside that field, and nothing is written.
    let before = server.experiment_dirs();
    let answer = sent("search", "true", "-1");
    assert_eq!(answer.status, 422, "{}", answer.text());
    let html = answer.text();
    assert!(
        html.contains("<p class=\"field-error\" id=\"param.search.evalue-error\">"),
        "{html}"
    );
    assert!(
        html.contains("id=\"pipeline.search\" value=\"search\" checked"),
        "{html}"
    );
    assert!(
        html.contains("name=\"param.search.evalue\" value=\"-1\""),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"true\" selected>yes</option>"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"blastn\" selected>blastn</option>"),
        "{html}"
    );
    assert_eq!(server.experiment_dirs(), before);

    // An unknown pipeline: beside the picker.
    let answer = sent("tblastx", "false", "1");
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert!(answer
        .text()
        .contains("<p class=\"field-error\" id=\"pipeline-error\">no pipeline 'tblastx' here"));
    assert_eq!(server.experiment_dirs(), before);
}

// ---- results: a BLAST report, tables and pictures in the browser -------------

/// How long a real BLAST run may take on a busy machine.
const BLAST_PATIENCE: Duration = Duration::from_secs(180);

/// A read of five pieces of the reference, for hits of every strength:
/// 200 nt of ref04 and 150 nt of ref06 as they are, then 100 nt of ref02
/// with every 14th base changed, and 45 nt of ref08 and 30 nt of ref01 with
/// every 12th.
fn chimeric_read() -> String {
    let sequence = |id: &str| reference("reference.fasta", id).sequence;
    let changed = |piece: &str, every: usize| -> String {
        piece
            .chars()
            .enumerate()
            .map(|(i, base)| match (i % every == every - 1, base) {
                (false, base) => base,
                (true, 'A') => 'C',
                (true, 'C') => 'G',
                (true, 'G') => 'T',
                (true, _) => 'A',
            })
            .collect()
    };
    format!(
        "{}{}{}{}{}",
        &sequence("ref04")[700..900],
        &sequence("ref06")[1100..1250],
        changed(&sequence("ref02")[300..400], 14),
        changed(&sequence("ref08")[600..645], 12),
        changed(&sequence("ref01")[900..930], 12),
    )
}

impl Browser {
    /// Saves one element of the page as `target/screenshots/{name}`.
    fn element_screenshot(&self, element: &Element, name: &str) -> PathBuf {
        let encoded = self.call("GET", &format!("/element/{}/screenshot", element.0), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 screenshot"))
            .expect("the screenshot is base64");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("creating target/screenshots");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("writing a screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

#[test]
#[cfg_attr(
    not(all(seqspool_test_blast, seqspool_test_chromium)),
    ignore = "needs NCBI BLAST+, chromium and chromedriver"
)]
fn a_blast_search_reads_as_a_report_with_its_hits_alignments_and_overview() {
    need_blast();
    let browser = Browser::start(true);
    let db = tempfile::tempdir().unwrap();
    let server = ready_example_server(db.path());
    let read = chimeric_read();
    let length = read.len() as f64;
    let id = search_chimeric_read(&server);

    browser.go(&format!("http://{}/experiments/{id}", server.addr));
    // The hit table: the read's source first, whole and identical.
    let top = browser.text(&browser.find("table.hits tbody tr:first-child"));
    assert!(top.contains("ref04"), "{top}");
    assert!(
        top.contains("Synthetic construct chitinase (chiS) gene, complete cds"),
        "{top}"
    );
    assert!(top.contains("100.0 %"), "{top}");
    // Its alignment, shown.
    let alignment = browser.find("details.hit[open] pre.alignment");
    assert!(browser.displayed(&alignment));
    let text = browser.text(&alignment);
    assert!(text.contains("Sbjct  701"), "{text}");
    assert!(text.contains("||||||||||"), "{text}");
    // The overview: one group of bars per hit of the table, each drawn.
    let drawn = browser.script(
        "const hits = Array.from(document.querySelectorAll('svg.overview-svg g.hit'));\
         const rows = Array.from(document.querySelectorAll('table.hits tbody tr'));\
         return [hits.length, rows.length, \
                 hits.map(g => g.dataset.hit).join(), rows.map(r => r.dataset.hit).join(), \
                 hits.every(g => Array.from(g.querySelectorAll('rect.hsp')).every(r => r.getBBox().width > 0))];",
    );
    assert!(drawn[0].as_u64().unwrap() >= 2, "{drawn}");
    assert_eq!(drawn[0], drawn[1], "{drawn}");
    assert_eq!(drawn[2], drawn[3], "{drawn}");
    assert_eq!(drawn[4], true, "{drawn}");
    // The second hit, ref06, lies where its piece is on the query: from 201, 150 long.
    let placed = browser.script(
        "const axis = document.querySelector('svg.overview-svg g.axis line').getBBox();\
         const bar = document.querySelector('svg.overview-svg g.hit[data-hit=\"2\"] rect.hsp').getBBox();\
         return [(bar.x - axis.x) / axis.width, bar.width / axis.width];",
    );
    let (start, width) = (placed[0].as_f64().unwrap(), placed[1].as_f64().unwrap());
    assert!((start - 200.0 / length).abs() < 0.005, "{placed}");
    assert!((width - 150.0 / length).abs() < 0.005, "{placed}");
    assert!(
        browser
            .text(&browser.find("table.hits tbody tr:nth-child(2)"))
            .contains("ref06"),
        "the second hit"
    );

    // Sorted by bit score with a click: the weakest first, then the strongest.
    browser.fit_to_page();
    browser.screenshot("blast-report.png");
    browser.element_screenshot(
        &browser.find("article[data-view=blast]"),
        "blast-report-card.png",
    );
    // On a phone the page fits, and so does the overview, scaled to it:
    // the whole picture at once, not a part of it scrolled sideways.
    browser.fit_to_width(375);
    assert_eq!(browser.script("return window.innerWidth;"), 375);
    assert_eq!(
        browser.script("return document.documentElement.scrollWidth <= window.innerWidth;"),
        true,
        "the page is wider than a phone"
    );
    let overview = browser.script(
        "const figure = document.querySelector('figure.overview'); \
         const svg = figure.querySelector('svg.overview-svg').getBoundingClientRect(); \
         return [svg.left >= 0 && svg.right <= window.innerWidth, \
                 figure.scrollWidth <= figure.clientWidth, Math.round(svg.width)];",
    );
    assert_eq!(
        overview[0], true,
        "the overview is wider than the phone: {overview}"
    );
    assert_eq!(
        overview[1], true,
        "the overview scrolls sideways: {overview}"
    );
    browser.screenshot("blast-report-phone.png");
    browser.element_screenshot(&browser.find("figure.overview"), "blast-overview-phone.png");
    browser.fit_to_width(1280);

    let bits = browser.find("table.hits thead th:last-child button.sort");
    browser.click(&bits);
    let weakest = browser.text(&browser.find("table.hits tbody tr:first-child"));
    assert!(!weakest.contains("ref04"), "{weakest}");
    browser.click(&bits);
    let strongest = browser.text(&browser.find("table.hits tbody tr:first-child"));
    assert!(strongest.contains("ref04"), "{strongest}");
    assert_eq!(
        browser.script("return document.querySelector('table.hits thead th:last-child').getAttribute('aria-sort');"),
        "descending"
    );
}

/// Waits until the browser has saved a file whose name ends in `suffix`
/// (not one it is still writing), and returns its text.
/// Searches [`chimeric_read`] with blastn (task blastn, E-value 10, for
/// hits of every strength), and waits as long as BLAST may take until it is
/// COMPLETE; returns its id.
fn search_chimeric_read(server: &Server) -> String {
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "chimeric-read-07"),
            ("query_sequence", &chimeric_read()),
            ("pipeline", "blastn"),
            ("param.task", "blastn"),
            ("param.evalue", "10"),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + BLAST_PATIENCE;
    while server.get(&format!("/experiments/{id}")).json()["state"] != "COMPLETE" {
        assert!(Instant::now() < deadline, "the search did not complete");
        std::thread::sleep(Duration::from_millis(100));
    }
    id
}

fn saved(browser: &Browser, suffix: &str) -> String {
    let mut found = None;
    wait_until(&format!("the browser saves a {suffix} file"), || {
        found = downloaded(&browser.downloads())
            .into_iter()
            .find(|name| name.ends_with(suffix));
        found.is_some()
    });
    std::fs::read_to_string(browser.downloads().join(found.unwrap())).unwrap()
}

#[test]
#[cfg_attr(
    any(not(seqspool_test_chromium), not(seqspool_test_blast)),
    ignore = "needs chromium, chromedriver and NCBI BLAST+"
)]
fn hits_ticked_on_the_report_download_as_fasta_and_the_overview_as_svg() {
    need_blast();
    let browser = Browser::start(true);
    let db = tempfile::tempdir().unwrap();
    let server = ready_example_server(db.path());
    let id = search_chimeric_read(&server);
    browser.go(&format!("http://{}/experiments/{id}", server.addr));
    let ids = browser.script(
        "return Array.from(document.querySelectorAll('table.hits tbody input[name=hits]'), b => b.value);",
    );
    let ids: Vec<String> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 4, "{ids:?}");

    // Three hits ticked, then their sequences, whole, from the database.
    for hit in ["ref04", "ref06", &ids[3]] {
        browser.click(&browser.find(&format!("table.hits input[name=hits][value='{hit}']")));
    }
    browser.click(&browser.find("form.take button[value=fasta]"));
    let fasta = saved(&browser, "-sequences.fasta");
    let names: Vec<&str> = fasta
        .lines()
        .filter_map(|line| line.strip_prefix('>'))
        .map(|defline| defline.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["ref04", "ref06", ids[3].as_str()], "{fasta}");
    let body: String = fasta.split('>').nth(2).unwrap().lines().skip(1).collect();
    assert_eq!(body, reference("reference.fasta", "ref06").sequence);
    assert!(
        browser.url().ends_with(&format!("/experiments/{id}")),
        "the page stays: {}",
        browser.url()
    );

    // "All" ticks every hit; then their aligned parts.
    let all = browser.find("table.hits input[data-pick-all]");
    assert!(browser.displayed(&all), "the script shows all");
    browser.click(&all);
    let ticked = browser.script(
        "return Array.from(document.querySelectorAll('table.hits tbody input[name=hits]')).every(b => b.checked);",
    );
    assert_eq!(ticked, true);
    browser.click(&browser.find("form.take button[value=fasta-aligned]"));
    let aligned = saved(&browser, "-aligned.fasta");
    for hit in &ids {
        assert!(aligned.contains(&format!(">{hit}:")), "{hit} in {aligned}");
    }

    // The overview, as an SVG file.
    browser.click(&browser.find("p.overview-download a"));
    let svg = saved(&browser, "-overview.svg");
    assert!(svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("<svg class=\"overview-svg\""), "{svg}");
    assert!(svg.contains("ref06"), "{svg}");
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn results_appear_when_the_experiment_ends_while_its_page_is_open() {
    let browser = Browser::start(true);
    let server = Server::start(|config| {
        config.command = Some(
            "sleep 2; printf 'kmer\\tcount\\nACG\\t5\\nCGT\\t17\\nGTA\\t9\\n' > counts.tsv; \
             printf '<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"20\"><script>document.title=1</script><rect width=\"40\" height=\"20\" fill=\"teal\"/></svg>' > plot.svg"
                .into(),
        )
    });
    let id = server.submit("counted", ORF_DNA);
    browser.go(&format!("http://{}/experiments/{id}", server.addr));
    browser.script("window.seqspoolTestMarker = 'the same document';");
    wait_until("the results appear", || {
        browser
            .try_find("[data-results] table.data tbody tr")
            .is_some()
    });
    assert_eq!(
        browser.script("return window.seqspoolTestMarker;"),
        "the same document",
        "the page was reloaded to show the results"
    );
    // Sorted by the count with a click, as numbers (17 after 9).
    browser.click(&browser.find("[data-results] table.data thead th:last-child button.sort"));
    let counts = browser.script(
        "return Array.from(document.querySelectorAll('[data-results] table.data tbody tr td:last-child'), td => td.textContent).join();",
    );
    assert_eq!(counts, "5,9,17");
    // The picture: an SVG the command wrote, drawn by <img> (its script does not run).
    wait_until("the picture is drawn", || {
        browser.script("const i = document.querySelector('figure.result-image img'); return !!i && i.complete && i.naturalWidth;")
            == 40
    });
    assert_eq!(
        browser.script("return document.title.includes('counted');"),
        true
    );
    assert_eq!(
        browser.text(&browser.find("[data-log-note='stderr.txt']")),
        "empty"
    );
}

// ---- signing in ---------------------------------------------------------------

impl Browser {
    /// The cookie `name` as the browser holds it (WebDriver's view: with
    /// `httpOnly`, `sameSite`, `secure`, `path`), or `None`.
    fn cookie(&self, name: &str) -> Option<Value> {
        self.try_call("GET", &format!("/cookie/{name}"), None).ok()
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_user_signs_in_on_the_page_with_a_strict_http_only_cookie_and_submits_as_themselves() {
    let browser = Browser::start(true);
    let server = Server::start(|config| config.access = seqspool::config::AccessMode::Closed);
    let token = add_user(&server.dir, "anna", false);

    // A closed server shows nothing but the sign-in form.
    browser.go(&format!("http://{}/", server.addr));
    browser.type_into(&browser.find("#token"), "ssp_not-anyones");
    browser.click(&browser.find("form[action='/sign-in'] button"));
    let error = browser.text(&browser.find("#token-error"));
    assert!(error.contains("not a user's"), "{error}");
    assert!(browser.cookie("seqspool_session").is_none());
    browser.screenshot("sign-in-refused.png");

    browser.type_into(&browser.find("#token"), &token);
    browser.click(&browser.find("form[action='/sign-in'] button"));
    browser.find("[data-user='anna']");
    let cookie = browser
        .cookie("seqspool_session")
        .expect("the browser holds the session cookie");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    assert_eq!(cookie["secure"], false, "plain HTTP: {cookie}");
    // No script of the page can read it.
    let readable = browser.script("return document.cookie;");
    assert!(
        !readable.as_str().unwrap_or("").contains("seqspool_session"),
        "{readable}"
    );

    // Submitted through the form, the experiment is hers, and says so.
    browser.type_into(&browser.find("#query_name"), "signed-in");
    browser.type_into(&browser.find("#query_sequence"), ORF_DNA);
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let id = browser.landed_on_an_experiment();
    let by = browser.text(&browser.find("[data-fact='submitted_by'] dd"));
    assert_eq!(by, "anna");
    let record = request(
        server.addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(record.json()["submitted_by"], "anna");
    browser.fit_to_page();
    browser.screenshot("signed-in-experiment.png");

    // Signing out ends it: back to the form.
    browser.click(&browser.find("form.sign-out button"));
    browser.find("#token");
    assert!(browser.try_find("[data-user]").is_none());
    assert!(browser.cookie("seqspool_session").is_none());
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn an_anonymous_submit_on_a_members_page_is_told_why_and_keeps_what_was_typed_through_the_sign_in()
{
    // Without JavaScript: the form, the refusal and the sign-in need none.
    let browser = Browser::start(false);
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("seqspool.toml");
    std::fs::write(&path, TWO_PIPELINES).unwrap();
    let server = Server::start(|config| {
        config.apply_file(TWO_PIPELINES, &path, None).unwrap();
        config.access = seqspool::config::AccessMode::Members;
    });
    let token = add_user(&server.dir, "anna", false);
    browser.go(&format!("http://{}/", server.addr));

    // Before submitting, the form says that it needs a sign-in, with a link.
    let before = browser.text(&browser.find("[data-sign-in-first]"));
    assert!(
        before.starts_with("Submitting needs a user: sign in first"),
        "{before}"
    );
    assert!(browser
        .try_find("[data-sign-in-first] a[href='/sign-in']")
        .is_some());
    browser.screenshot("home-members-signed-out.png");

    // Submitted all the same: a sequence of two lines, in the second pipeline, with its parameters.
    let sequence = "ATGACCATGATTACGGATTCACTGGCC\nGTCGTTTTACAACGTCGTGACTGGG";
    browser.click(&browser.find("input[id='pipeline.search']"));
    browser.click(&browser.find("[id='param.search.task'] option[value=blastn-short]"));
    let evalue = browser.find("[id='param.search.evalue']");
    browser.clear(&evalue);
    browser.type_into(&evalue, "0.5");
    browser.type_into(&browser.find("#query_name"), "lacZ-alpha");
    browser.type_into(&browser.find("#query_sequence"), sequence);
    browser.click(&browser.find("form[data-submit] button[type=submit]"));

    // The sign-in page says why, and that nothing is lost; nothing was submitted.
    let said = browser.text(&browser.find("[data-carried]"));
    assert!(
        said.starts_with("Nothing was submitted yet: submitting needs a user.")
            && said.contains("the form comes back with what you typed"),
        "{said}"
    );
    assert_eq!(server.get("/experiments").json()["experiments"], json!([]));
    browser.screenshot("sign-in-to-submit.png");
    // A wrong token first: refused, still carrying it.
    browser.type_into(&browser.find("#token"), "ssp_not-anyones");
    browser.click(&browser.find("form[action='/sign-in'] button"));
    let error = browser.text(&browser.find("#token-error"));
    assert!(error.contains("not a user's"), "{error}");
    assert!(browser.try_find("[data-carried]").is_some());
    browser.type_into(&browser.find("#token"), &token);
    browser.click(&browser.find("form[action='/sign-in'] button"));

    // Signed in, the form is back as it was sent, and says it is not submitted yet.
    browser.find("[data-user='anna']");
    let form = browser.script(
        "return [document.getElementById('query_name').value, \
                 document.getElementById('query_sequence').value, \
                 document.querySelector('input[name=pipeline]:checked').value, \
                 document.getElementById('param.search.task').value, \
                 document.getElementById('param.search.evalue').value, \
                 document.querySelector('.submit .notice').textContent];",
    );
    assert_eq!(form[0], "lacZ-alpha");
    assert_eq!(form[1], sequence);
    assert_eq!(form[2], "search");
    assert_eq!(form[3], "blastn-short");
    assert_eq!(form[4], "0.5");
    assert!(
        form[5].as_str().unwrap().contains("not submitted yet"),
        "{form}"
    );
    assert!(browser.try_find("[data-sign-in-first]").is_none());
    assert_eq!(server.get("/experiments").json()["experiments"], json!([]));
    browser.fit_to_page();
    browser.screenshot("signed-in-form-kept.png");

    // One click submits it, as anna.
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let id = browser.landed_on_an_experiment();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["query_name"], "lacZ-alpha", "{record}");
    assert_eq!(record["length"], 52, "{record}");
    assert_eq!(record["pipeline"], "search", "{record}");
    assert_eq!(
        record["params"],
        json!({ "task": "blastn-short", "evalue": "0.5" })
    );
    assert_eq!(record["submitted_by"], "anna", "{record}");

    // A chosen file cannot be carried: the sign-in page says to choose it again.
    let answer = post_page_multipart(
        &server,
        &[("query_name", "")],
        ("plate-7.fasta", ">A01\nACGT\n"),
    );
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .text()
            .contains("The file you chose (plate-7.fasta) cannot be carried through a sign-in"),
        "{}",
        answer.text()
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_chromium),
    ignore = "needs chromium and chromedriver"
)]
fn a_members_page_says_which_group_serves_it_once_the_group_starts() {
    let browser = Browser::start(true);
    let lab = Lab::new();
    lab.config(
        "[[pipeline]]\nname = \"plate\"\ngroup = 96\n\
         command = 'while [ ! -e \"@LAB@/gate\" ]; do sleep 0.05; done'\n",
    );
    let server = lab.server(|_| {});
    pause_queue(server.addr, "loading");
    let batch = post(
        &server,
        "/experiments?pipeline=plate",
        "text/x-fasta",
        b">A01\nACGTACGT\n>A02\nACGTTT\n>A03\nGGCCAA\n",
    );
    assert_eq!(batch.status, 202, "{}", batch.text());
    let ids: Vec<String> = batch.json()["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect();
    browser.go(&format!("http://{}/experiments/{}", server.addr, ids[1]));
    assert!(!browser.displayed(&browser.find("[data-fact='group']")));
    let resumed = request(server.addr, "POST", "/queue/resume", &[], b"");
    assert_eq!(resumed.status, 200);
    wait_until("the page says which group serves it", || {
        browser.script(
            "const f = document.querySelector(\"[data-fact='group']\"); return !!f && !f.hidden;",
        ) == true
    });
    let fact = browser.find("[data-fact='group'] dd");
    assert_eq!(
        browser.text(&fact),
        format!("searched with 2 others in one run, the group of {}", ids[0])
    );
    assert_eq!(
        browser.script(
            "return document.querySelector(\"[data-fact='group'] dd a\").getAttribute('href');"
        ),
        format!("/experiments/{}", ids[0])
    );
    std::fs::write(lab.path("gate"), "").unwrap();
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
}

/// The databases of the form's one list (`databases.js`), ticked as `names`
/// say, each box clicked as a scientist would.
fn tick(browser: &Browser, names: &[&str]) {
    let boxes = browser.script(
        "return Array.from(document.querySelectorAll('fieldset.databases input[type=checkbox]'), b => [b.value, b.checked]);",
    );
    for pair in boxes.as_array().unwrap() {
        let name = pair[0].as_str().unwrap();
        if pair[1].as_bool().unwrap() != names.contains(&name) {
            browser.click(&browser.find(&format!("fieldset.databases input[value='{name}']")));
        }
    }
}

/// The program chosen, those that may be chosen, and the line saying why.
fn offered(browser: &Browser) -> Value {
    browser.script(
        "const radios = Array.from(document.querySelectorAll('input[name=pipeline]')); \
         return [radios.filter(r => r.checked).map(r => r.value).join(), \
                 radios.filter(r => !r.disabled).map(r => r.value), \
                 document.getElementById('fit').textContent];",
    )
}

/// Waits, as long as a search at nice 19 may take on a loaded machine, until
/// experiment `id` is complete and the open page shows its hits; returns its record.
fn searched(browser: &Browser, server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + BLAST_PATIENCE;
    let mut record = Value::Null;
    while record["state"] != "COMPLETE" || browser.try_find("table.hits").is_none() {
        assert!(
            Instant::now() < deadline,
            "the search of {id} shows no hits: {record:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
        record = server.get(&format!("/experiments/{id}")).json();
        assert!(
            matches!(
                record["state"].as_str(),
                Some("QUEUED" | "RUNNING" | "COMPLETE")
            ),
            "{record:#}"
        );
    }
    record
}

/// The hits of the report on the page: each one's id and the database it came from.
fn hits_shown(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser.script(
        "return Array.from(document.querySelectorAll('table.hits tbody tr'), r => \
           [r.querySelector('input[name=hits]').value, \
            (r.querySelector('.hit-source') || {textContent: ''}).textContent]);",
    );
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().into(),
                row[1].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(all(
        seqspool_test_chromium,
        seqspool_test_blast,
        seqspool_test_python_packages
    )),
    ignore = "needs chromium and chromedriver, NCBI BLAST+, and tests/requirements.txt in .venv (see the README)"
)]
fn a_scientist_searches_the_labs_databases_from_the_page_with_the_program_that_fits() {
    need_blast();
    let python = crate::ncbi::biopython();
    let browser = Browser::start(true);
    let lab = Lab::new();
    let dir = lab.path("blastdb");
    // The shipped references (nucleotide, and the enzymes they encode), and
    // the lab's contigs, two of them assembled over ref04's chitinase gene.
    make_databases(&dir);
    let ref04 = reference("reference.fasta", "ref04").sequence;
    make_database(
        &dir,
        "contigs",
        "Lab contigs",
        &format!(
            ">contig7 assembled contig 7\n{}\n>contig8 assembled contig 8\n{}\n",
            &ref04[..1500],
            &ref04[250..1400]
        ),
    );
    let server = lab.server(|config| config.blast_databases = Some(dir.clone()));
    let home = format!("http://{}/", server.addr);
    let nucleotide_title = "seqspool example nucleotide reference (synthetic)";

    // Two nucleotide databases and a DNA read: blastn, searching both.
    browser.go(&home);
    tick(&browser, &["reference", "contigs"]);
    browser.type_into(
        &browser.find("#query_sequence"),
        &format!(">read-07\n{}", &ref04[300..700]),
    );
    let narrowed = json!([
        "blastn",
        ["blastn", "tblastx", "analysis"],
        "A DNA query and nucleotide databases: blastn is chosen; tblastx fits too."
    ]);
    wait_until(
        "blastn is chosen for a DNA read and nucleotide databases",
        || offered(&browser) == narrowed,
    );
    browser.fit_to_page();
    browser.screenshot("form-databases-blastn.png");
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let id = browser.landed_on_an_experiment();
    searched(&browser, &server, &id);
    let note = browser.text(&browser.find("p.result-note"));
    assert!(
        note.contains(&format!("against Lab contigs and {nucleotide_title},")),
        "named by their titles, in the order offered: {note}"
    );
    let mut shown = hits_shown(&browser);
    shown.sort();
    assert_eq!(
        shown,
        [
            ("contig7".into(), "in Lab contigs".into()),
            ("contig8".into(), "in Lab contigs".into()),
            ("ref04".into(), format!("in {nucleotide_title}")),
        ]
    );

    // Three hits ticked: their whole sequences, from both databases.
    for hit in ["ref04", "contig7", "contig8"] {
        browser.click(&browser.find(&format!("table.hits input[name=hits][value='{hit}']")));
    }
    browser.click(&browser.find("form.take button[value=fasta]"));
    let fasta = saved(&browser, "-sequences.fasta");
    let mut records: Vec<(String, String)> = fasta
        .split('>')
        .skip(1)
        .map(|record| {
            let (defline, body) = record.split_once('\n').unwrap();
            let id = defline.split(' ').next().unwrap().to_owned();
            (id, body.split_whitespace().collect())
        })
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            ("contig7".into(), ref04[..1500].to_owned()),
            ("contig8".into(), ref04[250..1400].to_owned()),
            ("ref04".into(), ref04.clone()),
        ],
        "{fasta}"
    );

    // A coding sequence with the enzymes ticked: blastx.
    let cds = format!(">chiS-cds\n{}", &ref04[200..1463]);
    browser.go(&home);
    tick(&browser, &["reference_proteins"]);
    browser.type_into(&browser.find("#query_sequence"), &cds);
    let narrowed = json!([
        "blastx",
        ["blastx", "analysis"],
        "A DNA query and protein databases: blastx, the one program that fits."
    ]);
    wait_until(
        "blastx is chosen for a coding sequence and protein databases",
        || offered(&browser) == narrowed,
    );
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let id = browser.landed_on_an_experiment();
    let record = searched(&browser, &server, &id);
    assert_eq!(record["pipeline"], "blastx");
    assert_eq!(record["params"]["database"], "reference_proteins");
    assert_eq!(
        hits_shown(&browser)[0].0,
        "prot01",
        "the chitinase it encodes"
    );

    // Back to the form (afresh, or restored by the browser): what it shows
    // ticked is what it sends.
    browser.back();
    wait_until("the form is back", || {
        browser.url() == home && browser.try_find("#fit").is_some()
    });
    let sent = browser.script(
        "const chosen = document.querySelector('input[name=pipeline]:checked').value; \
         const names = sel => Array.from(document.querySelectorAll(sel), b => b.value).join(); \
         return [names('fieldset.databases input:checked'), \
                 names(`fieldset[data-pipeline=${chosen}] fieldset[data-several] input[type=checkbox]:checked`)];",
    );
    assert_eq!(sent[0], sent[1], "shown ticked, and sent");

    // Every box unticked by mistake: refused, and said beside the boxes.
    let submitted = server.experiment_dirs().len();
    browser.go(&home);
    tick(&browser, &[]);
    browser.type_into(&browser.find("#query_sequence"), &cds);
    // The line settles first (it moves the button down as it grows).
    wait_until("the line asks for databases", || {
        offered(&browser)[2]
            == "A DNA query: blastn, blastx or tblastx search databases with it; tick the databases to search."
    });
    browser.click(&browser.find("form[data-submit] button[type=submit]"));
    let said = browser.text(&browser.find("fieldset.databases .field-error"));
    assert!(said.contains("none chosen: choose at least one"), "{said}");
    let focused = browser.script("return document.activeElement.id;");
    assert_eq!(focused, "databases.0.contigs", "the first box, to tick one");
    browser.fit_to_page();
    browser.screenshot("form-databases-none.png");
    assert_eq!(
        server.experiment_dirs().len(),
        submitted,
        "nothing more was submitted"
    );

    // A protein: blastp for protein databases, tblastn for nucleotide ones.
    browser.go(&home);
    tick(&browser, &["reference_proteins"]);
    let chitinase = reference("reference_proteins.fasta", "prot01").sequence;
    browser.type_into(&browser.find("#query_sequence"), &chitinase[..120]);
    wait_until("blastp is chosen for a protein", || {
        offered(&browser)[2]
            == "A protein query and protein databases: blastp, the one program that fits."
    });
    tick(&browser, &["contigs"]);
    assert_eq!(
        offered(&browser),
        json!([
            "tblastn",
            ["tblastn", "analysis"],
            "A protein query and nucleotide databases: tblastn, the one program that fits."
        ])
    );
    // Records of both kinds at once: no one program takes them, and it says so.
    browser.go(&home);
    browser.type_into(
        &browser.find("#query_sequence"),
        &format!(
            ">read\n{}\n>protein\n{}",
            &ref04[300..400],
            &chitinase[..60]
        ),
    );
    wait_until("the line says no one program takes both", || {
        offered(&browser)[2]
            == "Some records read as DNA or RNA and some as protein: no one program takes both; submit them apart."
    });

    // A database made in one command, offered by the open page on reload.
    let plasmid = reference("reference.fasta", "ref01").sequence[..900].to_owned();
    let fasta = lab.path("plasmids.fa");
    std::fs::write(&fasta, format!(">pLab01 Lab plasmid pLab01\n{plasmid}\n")).unwrap();
    let fasta = fasta.to_str().unwrap();
    let (code, _, said) = seqspool_db(&dir, &["add", fasta, "--title", "Lab plasmids"]);
    assert_eq!(code, Some(0), "{said}");
    wait_until("the server offers the new database", || {
        server.get("/").text().contains("Lab plasmids")
    });
    browser.go(&home);
    let label = browser.text(&browser.find("label[for='databases.0.plasmids']"));
    assert!(
        label.starts_with("Lab plasmids (plasmids) 1 sequence, 900 bases"),
        "{label}"
    );

    // A script written for NCBI names it directly.
    let found = crate::ncbi::Client::start(
        &python,
        &server,
        "new",
        "blastn",
        "plasmids",
        &plasmid[100..400],
    )
    .result();
    assert_eq!(found["title"], "pLab01 Lab plasmid pLab01", "{found}");
    assert_eq!(found["identities"], 300, "{found}");
}
