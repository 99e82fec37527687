//! Sharing the server with the lab, end to end: users added with the real
//! `seqspool user` against a running server, each access mode, who may
//! cancel, run again and pause what, the page's sign-in cookie and how long
//! a session lasts (its token rotated, its user removed, its user signing in
//! without end), a user removed while their upload streams in, wrong tokens
//! sent at once from one address, and what the operator's log says about
//! refused requests and about who did what.
//!
//! Tests that read the log run the real binary (its log is its standard
//! error); the others run the server in this process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use crate::common::*;
use serde_json::Value;

/// The `Authorization` header for `token`.
fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn get_as(addr: std::net::SocketAddr, path: &str, token: &str) -> Response {
    let (name, value) = bearer(token);
    request(addr, "GET", path, &[(name, &value)], b"")
}

fn delete_as(addr: std::net::SocketAddr, path: &str, token: &str) -> Response {
    let (name, value) = bearer(token);
    request(addr, "DELETE", path, &[(name, &value)], b"")
}

fn post_as(addr: std::net::SocketAddr, path: &str, token: &str) -> Response {
    let (name, value) = bearer(token);
    request(addr, "POST", path, &[(name, &value)], b"")
}

/// Submits one query with `token`, expecting 202; returns the record.
fn submit_as(addr: std::net::SocketAddr, token: &str, name: &str) -> Value {
    let answer = submit_form_as(addr, token, name, "ACGTACGT");
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()
}

fn submit_form_as(addr: std::net::SocketAddr, token: &str, name: &str, sequence: &str) -> Response {
    let (auth, value) = bearer(token);
    let body =
        serde_urlencoded::to_string([("query_name", name), ("query_sequence", sequence)]).unwrap();
    request(
        addr,
        "POST",
        "/experiments",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (auth, &value),
        ],
        body.as_bytes(),
    )
}

/// Checks a 401: JSON, the Bearer challenge, and whether it blames the token sent.
fn assert_unauthenticated(answer: &Response, invalid_token: bool, what: &str) {
    assert_error(answer, 401, None, &[], what);
    let challenge = answer
        .header("WWW-Authenticate")
        .unwrap_or_else(|| panic!("{what}: a 401 without WWW-Authenticate"));
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        invalid_token,
        "{what}: {challenge}"
    );
}

fn ids(listing: &Value) -> Vec<String> {
    listing["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---- the modes --------------------------------------------------------------

#[test]
fn open_access_is_todays_behaviour_and_records_the_clients_address() {
    let server = Server::start(|config| config.command = Some("sleep 30".into()));
    let info = server.get("/service-info").json();
    assert_eq!(info["access"], "open");

    let running = server.submit("first", "ACGT");
    let record = server.wait_for_state(&running, "RUNNING");
    assert_eq!(record["submitted_by"], "127.0.0.1");
    let queued = server.submit("second", "ACGT");
    // Anyone may cancel anyone's, and pause the queue.
    assert_eq!(server.delete(&format!("/experiments/{queued}")).status, 200);
    assert_eq!(server.post_form("/queue/pause", &[]).status, 200);
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);

    // A token still says who it is, in any mode; a wrong one is refused.
    let anna = add_user(&server.dir, "anna", false);
    let record = submit_as(server.addr, &anna, "named");
    assert_eq!(record["submitted_by"], "anna");
    let refused = submit_form_as(server.addr, "ssp_not-a-token", "x", "ACGT");
    assert_unauthenticated(&refused, true, "a wrong token when open");
}

#[test]
fn with_access_for_members_anybody_reads_and_only_users_write() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
    });
    assert_eq!(server.get("/service-info").json()["access"], "members");
    let anna = add_user(&server.dir, "anna", false);
    let before = snapshot(&server.dir);

    // Writing without a token: 401 with the challenge, and nothing written.
    let form = [("query_name", "q"), ("query_sequence", "ACGT")];
    assert_unauthenticated(
        &server.post_form("/experiments", &form),
        false,
        "POST /experiments",
    );
    assert_unauthenticated(&server.post_form("/", &form), false, "POST /");
    assert_unauthenticated(
        &server.post_form("/queue/pause", &[]),
        false,
        "POST /queue/pause",
    );
    assert_eq!(snapshot(&server.dir), before);

    // Reading needs nothing.
    for path in [
        "/",
        "/experiments",
        "/service-info",
        "/backlog",
        "/queue",
        "/pipelines",
    ] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }

    let record = submit_as(server.addr, &anna, "mine");
    assert_eq!(record["submitted_by"], "anna");
    let id = record["id"].as_str().unwrap();
    assert_eq!(server.get(&format!("/experiments/{id}")).status, 200);
    assert_unauthenticated(
        &server.delete(&format!("/experiments/{id}")),
        false,
        "DELETE without a token",
    );
    assert!(delete_as(server.addr, &format!("/experiments/{id}"), &anna).status < 300);
}

#[test]
fn with_access_closed_everything_but_the_sign_in_page_needs_a_token() {
    let server = Server::start(|config| config.access = seqspool::config::AccessMode::Closed);
    let anna = add_user(&server.dir, "anna", false);
    for path in [
        "/",
        "/experiments",
        "/service-info",
        "/backlog",
        "/queue",
        "/events",
    ] {
        assert_unauthenticated(&server.get(path), false, path);
    }
    // (Not /events with a token: its stream never ends.)
    for path in ["/", "/experiments", "/service-info", "/backlog", "/queue"] {
        assert_eq!(get_as(server.addr, path, &anna).status, 200, "{path}");
    }
    assert_eq!(server.get("/sign-in").status, 200);
    for asset in ["/ui/style.css", "/ui/app.js", "/ui/icon.svg"] {
        assert_eq!(server.get(asset).status, 200, "{asset}");
    }
    // A browser is asked to sign in, with the same status and challenge.
    let page = request(
        server.addr,
        "GET",
        "/experiments?state=QUEUED",
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    );
    assert_eq!(page.status, 401);
    assert!(page
        .header("WWW-Authenticate")
        .unwrap()
        .starts_with("Bearer"));
    let html = page.text();
    assert!(
        html.contains(r#"<form class="stack" method="post" action="/sign-in">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="next" value="/experiments?state=QUEUED""#),
        "{html}"
    );
    assert!(
        !html.contains("<table"),
        "nothing is shown before the sign-in: {html}"
    );
}

// ---- ownership --------------------------------------------------------------

#[test]
fn a_member_cannot_cancel_anothers_experiment_and_an_admin_can() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
    });
    let anna = add_user(&server.dir, "anna", false);
    let bob = add_user(&server.dir, "bob", false);
    let root = add_user(&server.dir, "root", true);

    let annas = submit_as(server.addr, &anna, "annas")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_for_state(&annas, "RUNNING");
    let bobs = submit_as(server.addr, &bob, "bobs")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Anna may not cancel Bob's, by the API or by the page's form.
    let refused = delete_as(server.addr, &format!("/experiments/{bobs}"), &anna);
    assert_error(&refused, 403, None, &["bob", "admin"], "anna cancels bob's");
    let refused = post_as(server.addr, &format!("/experiments/{bobs}/cancel"), &anna);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(server.wait_for_state(&bobs, "QUEUED")["state"], "QUEUED");

    // Bob may cancel his own; then Anna may not run it again, and Bob may.
    assert_eq!(
        delete_as(server.addr, &format!("/experiments/{bobs}"), &bob).status,
        200
    );
    let refused = post_as(server.addr, &format!("/experiments/{bobs}/retry"), &anna);
    assert_error(&refused, 403, None, &["run again"], "anna retries bob's");
    let again = post_as(server.addr, &format!("/experiments/{bobs}/retry"), &bob);
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.json()["submitted_by"], "bob");

    // The queue's controls are an admin's, and so are the routes other
    // branches add under them: gated by route, whether they exist yet or not.
    for path in [
        "/queue/pause",
        "/queue/resume",
        "/queue/drain",
        &format!("/experiments/{annas}/front"),
    ] {
        let refused = post_as(server.addr, path, &anna);
        assert_error(&refused, 403, None, &["admin"], path);
    }
    assert_eq!(get_as(server.addr, "/retention", &anna).status, 403);
    assert_unauthenticated(&server.get("/retention"), false, "GET /retention");
    assert_eq!(post_as(server.addr, "/queue/pause", &root).status, 200);
    assert_eq!(post_as(server.addr, "/queue/resume", &root).status, 200);
    // An admin's drain and move are recorded under the admin's name.
    let drained = post_as(server.addr, "/queue/drain?reason=maintenance", &root);
    assert_eq!(drained.status, 200, "{}", drained.text());
    assert_eq!(drained.json()["drain"]["by"], "root", "{}", drained.text());
    assert_eq!(post_as(server.addr, "/queue/undrain", &root).status, 200);

    // An admin may cancel anyone's, running too.
    let stopped = delete_as(server.addr, &format!("/experiments/{annas}"), &root);
    assert_eq!(stopped.status, 202, "{}", stopped.text());
    server.wait_for_state(&annas, "CANCELED");
}

#[test]
fn the_listing_shows_mine_or_one_submitters_experiments() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
    });
    let anna = add_user(&server.dir, "anna", false);
    let bob = add_user(&server.dir, "bob", false);
    let a1 = submit_as(server.addr, &anna, "a1")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b1 = submit_as(server.addr, &bob, "b1")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = submit_as(server.addr, &anna, "a2")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mine = get_as(server.addr, "/experiments?mine=1", &anna).json();
    assert_eq!(ids(&mine), [a2.clone(), a1.clone()]);
    let bobs = server.get("/experiments?submitted_by=bob").json();
    assert_eq!(ids(&bobs), [b1]);
    // Paging keeps to the filter.
    let first = get_as(server.addr, "/experiments?mine=1&limit=1", &anna).json();
    assert_eq!(ids(&first), [a2.as_str()]);
    let token = first["next_page_token"].as_str().unwrap();
    let second = get_as(
        server.addr,
        &format!("/experiments?mine=1&limit=1&page_token={token}"),
        &anna,
    )
    .json();
    assert_eq!(ids(&second), [a1.as_str()]);
    assert_error(
        &server.get("/experiments?mine=perhaps"),
        400,
        None,
        &["mine"],
        "mine=perhaps",
    );

    // The page: who submitted each, and a "mine" filter for a signed-in user.
    let (auth, value) = bearer(&anna);
    let page = request(
        server.addr,
        "GET",
        "/?mine=1",
        &[("Accept", BROWSER_ACCEPT), (auth, &value)],
        b"",
    )
    .text();
    assert!(
        page.contains(r#"<input type="checkbox" name="mine" value="1" checked>"#),
        "{page}"
    );
    assert!(page.contains(r#"<td class="by">anna</td>"#), "{page}");
    assert!(!page.contains(r#"<td class="by">bob</td>"#), "{page}");
    assert!(
        page.contains("/experiments?limit=25&amp;submitted_by=anna"),
        "{page}"
    );
    let all = request(server.addr, "GET", "/", &[("Accept", BROWSER_ACCEPT)], b"").text();
    assert!(all.contains(r#"<td class="by">bob</td>"#), "{all}");
    // Nobody signed in, access not open: nobody to call "mine".
    assert!(!all.contains(r#"name="mine""#), "{all}");
}

// ---- the page's sign-in -----------------------------------------------------

/// Signs in with `token` through the page's form; returns the answer.
fn sign_in(server: &Server, token: &str, extra: &[(&str, &str)]) -> Response {
    let origin = format!("http://{}", server.addr);
    let mut headers = vec![
        ("Accept", BROWSER_ACCEPT),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", origin.as_str()),
    ];
    headers.extend_from_slice(extra);
    let body = serde_urlencoded::to_string([("token", token), ("next", "/experiments")]).unwrap();
    request(server.addr, "POST", "/sign-in", &headers, body.as_bytes())
}

/// The `name=value` of a `Set-Cookie` header, and its attributes.
fn cookie(answer: &Response) -> (String, Vec<String>) {
    let set = answer
        .header("Set-Cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {:?}", answer.headers));
    let mut parts = set.split(';').map(|part| part.trim().to_owned());
    (parts.next().unwrap(), parts.collect())
}

#[test]
fn the_page_signs_in_with_a_strict_http_only_cookie_and_shows_only_the_buttons_allowed() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let anna = add_user(&server.dir, "anna", false);
    let bob = add_user(&server.dir, "bob", false);
    let running = submit_as(server.addr, &bob, "blocker")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_for_state(&running, "RUNNING");
    let bobs = submit_as(server.addr, &bob, "bobs")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let annas = submit_as(server.addr, &anna, "annas")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A wrong token comes back to the form, refused.
    let wrong = sign_in(&server, "ssp_wrong", &[]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("Set-Cookie").is_none());
    assert!(
        wrong.text().contains("That token is not a user"),
        "{}",
        wrong.text()
    );

    // From another site, not even a right token signs in.
    let body = serde_urlencoded::to_string([("token", anna.as_str())]).unwrap();
    let foreign = request(
        server.addr,
        "POST",
        "/sign-in",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "http://elsewhere.example"),
        ],
        body.as_bytes(),
    );
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("Set-Cookie").is_none());

    let signed = sign_in(&server, &anna, &[]);
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(signed.header("Location"), Some("/experiments"));
    let (session, attributes) = cookie(&signed);
    assert!(session.starts_with("seqspool_session="), "{session}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.iter().any(|a| a == attribute),
            "{attribute} in {attributes:?}"
        );
    }
    // Plain HTTP: not Secure, or the browser would never send it back.
    assert!(!attributes.iter().any(|a| a == "Secure"), "{attributes:?}");
    // Behind the trusted proxy, over HTTPS: Secure.
    let proxied = sign_in(&server, &anna, &[("X-Forwarded-Proto", "https")]);
    assert!(cookie(&proxied).1.iter().any(|a| a == "Secure"));

    let page = |path: &str| {
        request(
            server.addr,
            "GET",
            path,
            &[("Accept", BROWSER_ACCEPT), ("Cookie", &session)],
            b"",
        )
        .text()
    };
    let home = page("/");
    assert!(
        home.contains(r#"Signed in as <strong data-user="anna">anna</strong>"#),
        "{home}"
    );
    assert!(home.contains(r#"action="/sign-out""#), "{home}");
    // Her own experiment offers Cancel; Bob's shows who submitted it, and no button.
    let own = page(&format!("/experiments/{annas}"));
    assert!(own.contains(r#"<form class="cancel""#), "{own}");
    let others = page(&format!("/experiments/{bobs}"));
    assert!(
        others.contains("<dt>Submitted by</dt><dd>bob</dd>"),
        "{others}"
    );
    assert!(!others.contains(r#"<form class="cancel""#), "{others}");
    assert!(!others.contains(r#"<form class="retry""#), "{others}");

    // The cookie writes as Anna, from this server's own page only.
    let origin = format!("http://{}", server.addr);
    let cancel = |id: &str, origin: &str| {
        request(
            server.addr,
            "POST",
            &format!("/experiments/{id}/cancel"),
            &[
                ("Accept", BROWSER_ACCEPT),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &session),
                ("Origin", origin),
            ],
            b"confirmed=yes",
        )
    };
    assert_eq!(cancel(&bobs, &origin).status, 403);
    assert_eq!(server.wait_for_state(&bobs, "QUEUED")["state"], "QUEUED");
    let foreign = cancel(&annas, "http://elsewhere.example");
    assert_eq!(foreign.status, 200, "only a confirmation page");
    assert_eq!(server.wait_for_state(&annas, "QUEUED")["state"], "QUEUED");
    assert_eq!(cancel(&annas, &origin).status, 303);
    server.wait_for_state(&annas, "CANCELED");

    // Signing out ends the session on the server, not only in the browser.
    let out = request(
        server.addr,
        "POST",
        "/sign-out",
        &[("Cookie", &session), ("Origin", &origin)],
        b"",
    );
    assert_eq!(out.status, 303);
    let (cleared, attributes) = cookie(&out);
    assert_eq!(cleared, "seqspool_session=");
    assert!(attributes.iter().any(|a| a == "Max-Age=0"));
    let after = page("/");
    assert!(!after.contains("Signed in as"), "{after}");
    assert!(after.contains(r#"href="/sign-in""#), "{after}");
}

// ---- the binary: users beside a running server, and the operator's log -----

#[test]
fn users_are_added_listed_and_removed_with_the_binary_while_the_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Binary::start(&dir, &["--access", "members"]);
    wait_until("the log warns that nobody can submit", || {
        server
            .log()
            .contains("names no users: nobody can submit or cancel")
    });

    let token = add_user(&dir, "anna", true);
    // Counted at once, without a restart.
    let record = submit_as(server.addr, &token, "first");
    assert_eq!(record["submitted_by"], "anna");
    add_user(&dir, "bob", false);

    let list = user_command(&dir, &["list"]);
    assert!(list.status.success());
    let list = String::from_utf8(list.stdout).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{list}");
    assert!(lines[1].starts_with("anna  admin "), "{list}");
    assert!(lines[2].starts_with("bob   member"), "{list}");
    // Only hashes are kept.
    let file = std::fs::read_to_string(dir.join(".users.json")).unwrap();
    assert!(!file.contains(&token), "{file}");
    assert!(file.contains("token_sha256"), "{file}");

    let again = user_command(&dir, &["add", "anna"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("there is a user anna already"));
    let bad = user_command(&dir, &["add", "10.0.0.1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a user name"));
    let missing = user_command(&dir, &["remove", "carol"]);
    assert!(!missing.status.success());

    let removed = user_command(&dir, &["remove", "anna"]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    wait_until("the server refuses the removed user's token", || {
        submit_form_as(server.addr, &token, "after", "ACGT").status == 401
    });
    let list = String::from_utf8(user_command(&dir, &["list"]).stdout).unwrap();
    assert!(!list.contains("anna"), "{list}");
}

#[test]
fn refused_requests_are_logged_with_why_and_from_where_and_never_the_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Binary::start(&dir, &["--access", "members", "--command", "sleep 30"]);
    let anna = add_user(&dir, "anna", false);
    let root = add_user(&dir, "root", true);

    // A wrong token: refused, logged without the token, and slowed more each time.
    let secret = "ssp_0123456789abcdef-not-anyones";
    for _ in 0..2 {
        let refused = submit_form_as(server.addr, secret, "q", "ACGT");
        assert_unauthenticated(&refused, true, "a wrong token");
    }
    wait_until("the log tells the second failure", || {
        failures_told(&server.log()).len() == 2
    });
    let log = server.log();
    let told = failures_told(&log);
    assert_eq!((told[0].count, told[0].own), (1, 0.25), "{log}");
    assert_eq!((told[1].count, told[1].own), (2, 0.5), "{log}");
    assert!(log.contains("refused POST /experiments: 401"), "{log}");
    assert!(!log.contains(secret), "the token is never logged: {log}");

    // A refused submission: the route, the status, the reason, the user; not the sequence.
    let sequence = "ACGTACGTACGT##%%ACGTACGTACGT";
    let refused = submit_form_as(server.addr, &anna, "odd", sequence);
    assert_eq!(refused.status, 422, "{}", refused.text());
    wait_until("the log tells the refused submission", || {
        server.log().contains("refused POST /experiments: 422")
    });
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("refused POST /experiments: 422"))
        .unwrap();
    assert!(line.contains("(client 127.0.0.1, user anna)"), "{line}");
    assert!(!log.contains(sequence), "{log}");

    // Not allowed: 403, logged with who asked.
    let running = submit_as(server.addr, &root, "roots")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = delete_as(server.addr, &format!("/experiments/{running}"), &anna);
    assert_eq!(refused.status, 403);
    let annas = submit_as(server.addr, &anna, "annas")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the log tells the refused cancel", || {
        server.log().contains(&format!(
            "refused DELETE /experiments/{running}: 403: experiment {running} was submitted by root"
        ))
    });

    // Cancels, retries and pauses say who did them.
    assert_eq!(
        delete_as(server.addr, &format!("/experiments/{annas}"), &anna).status,
        200
    );
    assert_eq!(
        post_as(server.addr, &format!("/experiments/{annas}/retry"), &anna).status,
        202
    );
    assert_eq!(post_as(server.addr, "/queue/pause", &root).status, 200);
    assert_eq!(post_as(server.addr, "/queue/resume", &root).status, 200);
    for said in [
        format!("experiment {annas} canceled while queued by anna"),
        format!("experiment {annas} runs again as"),
        "the queue is paused by root".to_owned(),
        "the queue is resumed by root".to_owned(),
        "accepted from anna".to_owned(),
    ] {
        wait_until(&format!("the log says {said:?}"), || {
            server.log().contains(&said)
        });
    }
    let log = server.log();
    let retried = log
        .lines()
        .find(|line| line.contains(&format!("experiment {annas} runs again as")))
        .unwrap();
    assert!(retried.ends_with(" by anna"), "{retried}");
}

#[test]
fn an_open_server_on_the_network_warns_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let start = |args: &[&str]| {
        let mut command = seqspool();
        command
            .arg("--experiments")
            .arg(tmp.path().join("experiments"))
            .args(args)
            .env("RUST_LOG", "info");
        let mut server = Binary::spawn(command);
        wait_until("the server says its access", || {
            server.log().contains("access: ")
        });
        let log = server.log();
        server.signal(rustix::process::Signal::TERM);
        server.wait();
        log
    };
    let open = start(&["--bind", "0.0.0.0:0"]);
    assert!(
        open.contains("access is open and this server listens on 0.0.0.0:"),
        "{open}"
    );
    let local = start(&["--bind", "127.0.0.1:0"]);
    assert!(!local.contains("access is open and"), "{local}");
    let members = start(&["--bind", "0.0.0.0:0", "--access", "members"]);
    assert!(!members.contains("access is open and"), "{members}");
    assert!(members.contains("names no users"), "{members}");
}

// ---- how long a session lasts -----------------------------------------------

/// Who the page says is signed in with the session cookie `session`, if anyone.
fn signed_in_as(server: &Server, session: &str) -> Option<String> {
    let page = request(
        server.addr,
        "GET",
        "/",
        &[("Accept", BROWSER_ACCEPT), ("Cookie", session)],
        b"",
    )
    .text();
    let rest = page.split(r#"Signed in as <strong data-user=""#).nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

/// Signs in with `token` and returns the session cookie (`name=value`).
fn session_of(server: &Server, token: &str) -> String {
    let signed = sign_in(server, token, &[]);
    assert_eq!(signed.status, 303, "{}", signed.text());
    cookie(&signed).0
}

#[test]
fn a_session_lasts_only_while_the_token_it_signed_in_with_is_its_users() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
    });
    let origin = format!("http://{}", server.addr);
    let pause_with = |session: &str| {
        request(
            server.addr,
            "POST",
            "/queue/pause",
            &[("Cookie", session), ("Origin", &origin)],
            b"",
        )
    };

    // A member removed and added again under the same name, as an admin
    // (the old way of rotating, or the name given to someone else): no
    // session of hers comes back to life, let alone as an admin's.
    let member = add_user(&server.dir, "anna", false);
    let session = session_of(&server, &member);
    assert_eq!(signed_in_as(&server, &session).as_deref(), Some("anna"));
    assert!(user_command(&server.dir, &["remove", "anna"])
        .status
        .success());
    let admin = add_user(&server.dir, "anna", true);
    wait_until("the new anna's token works", || {
        get_as(server.addr, "/experiments", &admin).status == 200
    });
    wait_until("the old anna's page is signed out", || {
        signed_in_as(&server, &session).is_none()
    });
    assert_unauthenticated(
        &pause_with(&session),
        false,
        "an old session, its user added again",
    );
    // The new anna signs in as herself, an admin.
    let old = admin;
    let session = session_of(&server, &old);
    assert_eq!(signed_in_as(&server, &session).as_deref(), Some("anna"));
    assert_eq!(pause_with(&session).status, 200);

    // Rotation, a command of its own: the new token is printed once, and
    // the old one stops working, with every page signed in with it.
    let rotated = user_command(&server.dir, &["rotate", "anna"]);
    let said = String::from_utf8_lossy(&rotated.stderr);
    assert!(rotated.status.success(), "{said}");
    let new = String::from_utf8(rotated.stdout).unwrap().trim().to_owned();
    assert!(new.starts_with("ssp_") && new != old, "{new}");
    assert!(said.contains("shown this once only"), "{said}");
    assert!(said.contains("stop working within a second"), "{said}");
    wait_until("the old token is refused", || {
        get_as(server.addr, "/experiments?mine=1", &old).status == 401
    });
    assert_eq!(signed_in_as(&server, &session), None);
    assert_unauthenticated(&pause_with(&session), false, "a session of a rotated token");
    let record = submit_as(server.addr, &new, "after rotation");
    assert_eq!(record["submitted_by"], "anna");
    // Name and role stay.
    assert_eq!(post_as(server.addr, "/queue/resume", &new).status, 200);
    let list = String::from_utf8(user_command(&server.dir, &["list"]).stdout).unwrap();
    assert!(list.contains("anna  admin"), "{list}");

    let nobody = user_command(&server.dir, &["rotate", "carol"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user carol"));
}

/// The sessions one user holds at most, as the README says.
const SESSIONS_PER_USER: usize = 16;

#[test]
fn a_user_signing_in_ten_thousand_times_signs_out_only_their_own_oldest_sessions() {
    let server = Server::start(|config| config.access = seqspool::config::AccessMode::Members);
    let anna = add_user(&server.dir, "anna", false);
    let root = add_user(&server.dir, "root", true);
    let roots = session_of(&server, &root);
    let first = session_of(&server, &anna);
    // 10 000 sign-ins and a few, from a few clients at once; the last few one
    // after another, so that their order is known.
    const CLIENTS: usize = 4;
    let last = SESSIONS_PER_USER + 1;
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                for _ in 0..(10_000 - 1 - last).div_ceil(CLIENTS) {
                    session_of(&server, &anna);
                }
            });
        }
    });
    let mut newest: Vec<String> = (0..last).map(|_| session_of(&server, &anna)).collect();
    assert_eq!(signed_in_as(&server, &roots).as_deref(), Some("root"));
    assert_eq!(signed_in_as(&server, &first), None);
    // Her newest are signed in; the one just before them was signed out.
    let before = newest.remove(0);
    assert_eq!(signed_in_as(&server, &before), None);
    for session in &newest {
        assert_eq!(signed_in_as(&server, session).as_deref(), Some("anna"));
    }
}

// ---- a user removed while their upload streams in -------------------------

/// Starts a FASTA upload with `token` and sends all of it but its body: it
/// asks `Expect: 100-continue`, and the server's `100 Continue` says it has
/// settled who sent it and reads the body now.
fn start_upload(server: &Server, token: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let head = format!(
        "POST /experiments HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/x-fasta\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(n, 1, "the server closed before 100 Continue: {seen:?}");
        seen.push(byte[0]);
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.starts_with("HTTP/1.1 100 Continue"), "{seen}");
    stream
}

#[test]
fn a_user_removed_or_rotated_while_their_upload_streams_in_gets_nothing_written() {
    let server = Server::start(|config| {
        config.access = seqspool::config::AccessMode::Members;
        config.command = Some("sleep 30".into());
    });
    let anna = add_user(&server.dir, "anna", false);
    let bob = add_user(&server.dir, "bob", false);
    let body = b">read1\nACGTACGTAC\n>read2\nGGCCTTAAGG\n";

    let mut annas = start_upload(&server, &anna, body);
    let mut bobs = start_upload(&server, &bob, body);
    let mut rotated = None;
    for (stream, who) in [(&mut annas, "anna"), (&mut bobs, "bob")] {
        // Removed, or given a new token, while the body is on its way.
        if who == "anna" {
            assert!(user_command(&server.dir, &["remove", "anna"])
                .status
                .success());
        } else {
            let out = user_command(&server.dir, &["rotate", "bob"]);
            assert!(out.status.success());
            rotated = Some(out);
        }
        stream.write_all(body).unwrap();
        let answer = read_raw_answer(stream);
        assert_eq!(answer.status, 401, "{who}: {}", answer.text());
        assert!(
            answer
                .header("WWW-Authenticate")
                .is_some_and(|c| c.contains("invalid_token")),
            "{who}: {:?}",
            answer.headers
        );
        let msg = answer.json()["msg"].as_str().unwrap().to_owned();
        assert!(msg.contains(&format!("{who} is no longer a user")), "{msg}");
        assert!(msg.contains("nothing was accepted"), "{msg}");
    }
    assert!(
        server.experiment_dirs().is_empty(),
        "{:?}",
        server.experiment_dirs()
    );
    assert_eq!(server.get("/queue").json()["queued"], 0);

    // Bob's new token uploads as before.
    let new = String::from_utf8(rotated.unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let mut stream = start_upload(&server, &new, body);
    stream.write_all(body).unwrap();
    let answer = read_raw_answer(&mut stream);
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(server.experiment_dirs().len(), 2);
}

// ---- wrong tokens: one line per address -------------------------------------

/// One refused token as the log tells it.
#[derive(Debug)]
struct Told {
    /// Its number among the failures of its address.
    count: u32,
    /// How long after it came it was answered, rounded to 0.01 s.
    wait: f64,
    /// Its own delay, after the answers ahead of it.
    own: f64,
}

/// The refused tokens from 127.0.0.1 the log tells, in the order it tells them.
fn failures_told(log: &str) -> Vec<Told> {
    log.lines()
        .filter_map(|line| {
            let rest = line
                .split("refused a token that is nobody's from 127.0.0.1 (failure ")
                .nth(1)?;
            let (count, rest) = rest.split_once(" from it; answered after ")?;
            let (wait, rest) = rest.split_once(" s: ")?;
            let (_ahead, rest) = rest.split_once(" ahead of it, then ")?;
            let (own, _) = rest.split_once(" s of its own)")?;
            Some(Told {
                count: count.parse().ok()?,
                wait: wait.parse().ok()?,
                own: own.parse().ok()?,
            })
        })
        .collect()
}

#[test]
fn wrong_tokens_sent_at_once_are_answered_one_after_another_and_a_good_one_wipes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Binary::start(&dir, &["--access", "members", "--command", "true"]);
    let anna = add_user(&dir, "anna", false);

    // Guesses from one address, all sent at the same moment.
    const GUESSES: usize = 4;
    let barrier = Arc::new(Barrier::new(GUESSES));
    let guesses: Vec<_> = (0..GUESSES)
        .map(|n| {
            let (barrier, addr) = (barrier.clone(), server.addr);
            std::thread::spawn(move || {
                barrier.wait();
                let sent = Instant::now();
                let answer = submit_form_as(addr, &format!("ssp_guess-{n}"), "q", "ACGT");
                (sent, Instant::now(), answer)
            })
        })
        .collect();
    let answered: Vec<_> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    for (_, _, answer) in &answered {
        assert_unauthenticated(answer, true, "a guess");
    }
    wait_until("the log tells every guess", || {
        failures_told(&server.log()).len() == GUESSES
    });
    let told = failures_told(&server.log());
    // Each is counted, those that came together too.
    let mut counts: Vec<u32> = told.iter().map(|t| t.count).collect();
    counts.sort();
    assert_eq!(counts, [1, 2, 3, 4]);
    let own: Vec<f64> = told.iter().map(|t| t.own).collect();
    assert_eq!(own.iter().sum::<f64>(), 0.25 + 0.5 + 1.0 + 2.0, "{told:?}");
    // Each was answered no sooner than the server says it waited (the
    // client's time also holds the way there and back): the k-th quickest
    // answer took at least the k-th shortest wait. (0.005: the log rounds.)
    let mut took: Vec<f64> = answered
        .iter()
        .map(|(sent, got, _)| (*got - *sent).as_secs_f64())
        .collect();
    took.sort_by(f64::total_cmp);
    let mut waits: Vec<f64> = told.iter().map(|t| t.wait).collect();
    waits.sort_by(f64::total_cmp);
    for (took, wait) in took.iter().zip(&waits) {
        assert!(took + 0.005 >= *wait, "took {took:?}, told {told:?}");
    }
    // One after another: the last answer came no sooner than all their own
    // delays added up after the first was sent, not after the longest one.
    let first_sent = answered.iter().map(|(sent, _, _)| *sent).min().unwrap();
    let last_answered = answered.iter().map(|(_, got, _)| *got).max().unwrap();
    let line = (last_answered - first_sent).as_secs_f64();
    assert!(line >= own.iter().sum::<f64>(), "{line} s; {told:?}");

    // A good token is answered, and wipes nothing: the next wrong one is
    // the fifth failure, with the fifth's delay.
    assert_eq!(
        submit_as(server.addr, &anna, "good")["submitted_by"],
        "anna"
    );
    let refused = submit_form_as(server.addr, "ssp_guess-again", "q", "ACGT");
    assert_unauthenticated(&refused, true, "a guess after a good token");
    wait_until("the log tells the fifth failure", || {
        failures_told(&server.log()).len() == GUESSES + 1
    });
    let told = failures_told(&server.log());
    let last = told.last().unwrap();
    assert_eq!((last.count, last.own), (5, 4.0), "{told:?}");
}
