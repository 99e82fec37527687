//! One attempt at a delivery: a POST to a receiver, or a run of the lab's
//! `on_finish` command with the event on its standard input. Each is bounded
//! in time, and says in words why it failed.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::endpoint::Endpoint;

/// How long a receiver may take to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a receiver may take to answer, once connected: a receiver is
/// expected to acknowledge at once and do its work afterwards.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the `on_finish` command may run before its process group is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// What is kept of the command's standard error, for the reason it failed.
const STDERR_KEPT: usize = 500;
/// How long the rest of its standard error is awaited once the command has exited.
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// Posts `body` with `headers` to `url`: `Ok` when it answered 2xx.
pub async fn post(url: &Endpoint, headers: &[(&str, String)], body: Bytes) -> Result<(), String> {
    let connect = TcpStream::connect((url.host(), url.port()));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => {
            return Err(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(err)) => return Err(format!("could not connect: {err}")),
        Ok(Ok(stream)) => stream,
    };
    let mut request = Request::post(url.target())
        .header(hyper::header::HOST, url.authority())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("seqspool/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|err| format!("could not make the request: {err}"))?;
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| format!("could not start the exchange: {err}"))?;
        // The connection is driven here, not on a task of its own: when the
        // answer has come, or the time is up, dropping it closes the socket.
        let mut connection = std::pin::pin!(connection);
        let mut answer = std::pin::pin!(sender.send_request(request));
        tokio::select! {
            biased;
            answer = &mut answer => answer.map_err(|err| format!("no answer: {err}")),
            // The connection ends once the receiver closes it, which may be
            // right after its answer: that answer is waiting, if it came.
            ended = &mut connection => match answer.await {
                Ok(answer) => Ok(answer),
                Err(_) => Err(match ended {
                    Ok(()) => "the receiver closed the connection without answering".to_owned(),
                    Err(err) => format!("no answer: {err}"),
                }),
            },
        }
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))??;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let reason = status.canonical_reason().unwrap_or("");
    let redirect = if status.is_redirection() {
        " (redirects are not followed: give the URL it redirects to)"
    } else {
        ""
    };
    Err(format!("answered {} {reason}{redirect}", status.as_u16()).replace(" )", ")"))
}

/// Runs `argv` (a program and its arguments, no shell) in `dir` with `env`
/// added, writes `input` to its standard input and waits for it, at most
/// `timeout`: `Ok` when it exited 0. It runs in a process group of its own,
/// killed whole when the time is up, or when the server stops meanwhile.
pub async fn run(
    argv: &[String],
    dir: &Path,
    env: &[(&str, String)],
    input: Bytes,
    timeout: Duration,
) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("no command is configured")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|err| format!("could not start {program}: {err}"))?;
    let group = Group(
        child
            .id()
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32)),
    );
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let feed = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A command that does not read its input is not at fault for that.
            let _ = stdin.write_all(&input).await;
        }
        drop(stdin);
    };
    // Read apart from the wait: a process the command left behind may hold
    // its standard error open after it has exited.
    let drain = tokio::spawn(async move {
        let mut kept = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                let room = STDERR_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        kept
    });
    let finished = async {
        let ((), status) = tokio::join!(feed, child.wait());
        status
    };
    let status = match tokio::time::timeout(timeout, finished).await {
        Ok(status) => status,
        Err(_) => {
            drop(group); // kills the whole group
            return Err(format!(
                "still running after {} s; its process group was killed",
                timeout.as_secs_f64()
            ));
        }
    };
    group.disarm();
    let kept = match tokio::time::timeout(STDERR_GRACE, drain).await {
        Ok(Ok(kept)) => kept,
        _ => Vec::new(),
    };
    let status = status.map_err(|err| format!("could not wait for {program}: {err}"))?;
    if status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&kept);
    let said = said.trim();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    Err(
        match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(code), _) => format!("exited with code {code}{said}"),
            (None, Some(signal)) => format!("killed by signal {signal}{said}"),
            _ => format!("ended with {status}{said}"),
        },
    )
}

/// A process group, killed whole on drop unless disarmed.
struct Group(Option<rustix::process::Pid>);

impl Group {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn the_command_gets_the_event_on_its_input_and_its_failure_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("event.json");
        let input = Bytes::from_static(b"{\"type\":\"experiment.completed\"}");
        let command = argv(&["/bin/sh", "-c", "cat > \"$OUT\""]);
        let env = [("OUT", out.display().to_string())];
        run(&command, dir.path(), &env, input.clone(), COMMAND_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), input);

        let failing = argv(&["/bin/sh", "-c", "echo no mail server >&2; exit 3"]);
        let err = run(&failing, dir.path(), &[], input.clone(), COMMAND_TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(err, "exited with code 3: no mail server");
        let missing = argv(&["/nonexistent/mailer"]);
        let err = run(&missing, dir.path(), &[], input, COMMAND_TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            err.starts_with("could not start /nonexistent/mailer"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_command_that_outlives_its_time_is_killed_with_all_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // A child in the background that would outlive the shell.
        let command = argv(&["/bin/sh", "-c", "sleep 300 & echo $! > \"$PID_FILE\"; wait"]);
        let env = [("PID_FILE", pid_file.display().to_string())];
        let err = run(
            &command,
            dir.path(),
            &env,
            Bytes::new(),
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(err.contains("was killed"), "{err}");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit(')')
                        .next()
                        .and_then(|rest| rest.trim().chars().next())
                });
            if matches!(state, None | Some('Z' | 'X')) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the background child {pid} survived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_receiver_that_is_not_there_or_answers_an_error_is_told_in_words() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Endpoint::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
        let err = post(&url, &[], Bytes::new()).await.unwrap_err();
        assert!(err.starts_with("could not connect"), "{err}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            Endpoint::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap() == 1 {
                head.push(byte[0]);
            }
            let mut body = [0u8; 2]; // "{}"
            socket.read_exact(&mut body).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let err = post(
            &url,
            &[("webhook-id", "msg_1".into())],
            Bytes::from_static(b"{}"),
        )
        .await
        .unwrap_err();
        assert_eq!(err, "answered 503 Service Unavailable");
    }
}
