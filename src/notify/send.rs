//! One attempt at posting an event to a receiver, at addresses checked
//! beforehand (see `address`): bounded in time, following no redirect, and
//! saying in words why it failed.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::endpoint::Endpoint;

/// How long a receiver may take to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a receiver may take to answer, once connected: a receiver is
/// expected to acknowledge at once and do its work afterwards.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Posts `body` with `headers` to `url`, connecting to the first of
/// `addresses` that accepts (never resolving its name again): `Ok` when it
/// answered 2xx.
pub async fn post(
    url: &Endpoint,
    addresses: &[SocketAddr],
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<(), String> {
    let connect = TcpStream::connect(addresses);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_receiver_that_is_not_there_or_answers_an_error_is_told_in_words() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let at = SocketAddr::from(([127, 0, 0, 1], port));
        let url = Endpoint::parse(&format!("http://{at}/hook")).unwrap();
        let err = post(&url, &[at], &[], Bytes::new()).await.unwrap_err();
        assert!(err.starts_with("could not connect"), "{err}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        // The name is only what the Host header says: the connection goes to `at`.
        let url = Endpoint::parse(&format!("http://receiver.example:{}/hook", at.port())).unwrap();
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
            &[at],
            &[("webhook-id", "msg_1".into())],
            Bytes::from_static(b"{}"),
        )
        .await
        .unwrap_err();
        assert_eq!(err, "answered 503 Service Unavailable");
    }
}
