//! Every bad handshake request the chapter names, with its status code,
//! sent as raw bytes to the lesson's server on a port-0 listener.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(handshake::run(listener, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Sends `request` and returns everything the server answers until it
    /// closes the connection.
    async fn exchange(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        timeout(WAIT, stream.read_to_end(&mut answer))
            .await
            .expect("server neither answered nor closed")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        timeout(WAIT, self.task)
            .await
            .expect("server did not stop")
            .unwrap();
    }
}

const GOOD: &str = "GET /ws HTTP/1.1\r\n\
    Host: 127.0.0.1\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

/// The body: a one-line reason.
fn body(answer: &str) -> &str {
    answer.split("\r\n\r\n").nth(1).unwrap_or_default()
}

#[tokio::test]
async fn every_refusal_gets_its_status_and_a_one_line_reason() {
    let server = Server::start().await;
    let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
        ("POST", GOOD.replace("GET /ws", "POST /ws"), "405", Some("Allow: GET")),
        ("HTTP/1.0", GOOD.replace("HTTP/1.1", "HTTP/1.0"), "400", None),
        ("HTTP/2.0 as text", GOOD.replace("HTTP/1.1", "HTTP/2.0"), "505", None),
        ("no Host", GOOD.replace("Host: 127.0.0.1\r\n", ""), "400", None),
        (
            "two Hosts",
            GOOD.replace("Host: 127.0.0.1\r\n", "Host: a\r\nHost: b\r\n"),
            "400",
            None,
        ),
        (
            "a browser tab",
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAccept: text/html\r\n\r\n".into(),
            "426",
            Some("Upgrade: websocket"),
        ),
        ("Upgrade: h2c", GOOD.replace("Upgrade: websocket", "Upgrade: h2c"), "400", None),
        (
            "Connection without upgrade",
            GOOD.replace("Connection: Upgrade", "Connection: keep-alive"),
            "400",
            None,
        ),
        (
            "version 8",
            GOOD.replace("Version: 13", "Version: 8"),
            "426",
            Some("Sec-WebSocket-Version: 13"),
        ),
        (
            "no version",
            GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""),
            "426",
            Some("Sec-WebSocket-Version: 13"),
        ),
        (
            "no key",
            GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            "400",
            None,
        ),
        (
            "two keys",
            GOOD.replace(
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: T2a6wZlAwhgQNqruZ2YUyg==\r\n",
            ),
            "400",
            None,
        ),
        (
            "key not base64",
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "not-a-base64-key-at-all!"),
            "400",
            None,
        ),
        (
            // Seed 002's example key: valid base64 of the 10 bytes "the sample".
            "key of 10 bytes",
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
            "400",
            None,
        ),
        ("malformed header", GOOD.replace("Host: ", "Host "), "400", None),
        ("POST /", "POST / HTTP/1.1\r\nHost: x\r\n\r\n".into(), "405", Some("Allow: GET")),
    ];
    for (what, request, status, header) in cases {
        let answer = server.exchange(request.as_bytes()).await;
        assert!(
            status_line(&answer).starts_with(&format!("HTTP/1.1 {status} ")),
            "{what}: {answer}"
        );
        if let Some(header) = header {
            assert!(
                answer.contains(&format!("\r\n{header}\r\n")),
                "{what}: {answer}"
            );
        }
        let reason = body(&answer);
        assert!(
            reason.ends_with('\n') && reason.trim_end().lines().count() == 1 && reason.len() > 10,
            "{what}: reason {reason:?}"
        );
        assert!(!answer.contains("101"), "{what}: {answer}");
    }
    server.stop().await;
}

#[tokio::test]
async fn head_over_8_kib_gets_431() {
    let server = Server::start().await;
    let filler = format!("X-Filler: {}\r\n", "a".repeat(100));
    let request = GOOD.replace("\r\n\r\n", &format!("\r\n{}\r\n", filler.repeat(90)));
    assert!(request.len() > 9 * 1024);
    let answer = server.exchange(request.as_bytes()).await;
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 431 "),
        "{answer}"
    );
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn head_not_complete_in_10_s_is_dropped_without_answer() {
    let server = Server::start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&GOOD.as_bytes()[..40]).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut answer = Vec::new();
    // The clock is paused: it jumps to the server's deadline as soon as
    // everything waits, so this takes no real time.
    timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("server kept a half-sent head open")
        .unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(started.elapsed() >= handshake::HEAD_TIMEOUT);
    server.stop().await;
}

#[tokio::test]
async fn browsers_and_autobahn_spellings_are_accepted() {
    let server = Server::start().await;
    let spellings = [
        // Firefox
        GOOD.replace("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
        // Autobahn TestSuite
        GOOD.replace("Upgrade: websocket", "Upgrade: WebSocket"),
        // lower case everywhere, extra spaces
        GOOD.to_lowercase()
            .replace("get /ws http/1.1", "GET /ws HTTP/1.1")
            .replace("dghlihnhbxbszsbub25jzq==", "dGhlIHNhbXBsZSBub25jZQ==")
            .replace(": ", ":   "),
    ];
    for request in spellings {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0; 1024];
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 101 "), "{request}\n→ {answer}");
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }
    server.stop().await;
}

#[tokio::test]
async fn serves_the_page_and_404s_the_rest() {
    let server = Server::start().await;
    let page = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(status_line(&page).starts_with("HTTP/1.1 200 "), "{page}");
    assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert_eq!(body(&page), handshake::PAGE);
    let missing = server
        .exchange(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(
        status_line(&missing).starts_with("HTTP/1.1 404 "),
        "{missing}"
    );
    server.stop().await;
}

#[tokio::test]
async fn frames_sent_right_behind_the_request_are_kept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // RFC 6455 §5.7: a masked text frame "Hello".
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let client = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes.extend_from_slice(&frame);
        // One write: head and frame may well arrive in one read.
        stream.write_all(&bytes).await.unwrap();
        stream
    });
    let (mut stream, _) = listener.accept().await.unwrap();
    let upgraded = timeout(
        WAIT,
        handshake::accept(&mut stream, handshake::Limits::default()),
    )
    .await
    .unwrap()
    .unwrap();
    let mut early = upgraded.request.leftover;
    while early.len() < frame.len() {
        timeout(WAIT, stream.read_buf(&mut early))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(&early[..], &frame[..]);
    drop(client.await.unwrap());
}

#[tokio::test]
async fn the_demo_closes_cleanly_even_when_the_close_came_early() {
    // A client that sends its Close right behind the request, before the
    // server has said anything: the server must find it among the early
    // bytes and close at once rather than wait out its close timeout.
    let server = Server::start().await;
    let mut request = GOOD.as_bytes().to_vec();
    request.extend_from_slice(&[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
    let started = std::time::Instant::now();
    let answer = server.exchange(&request).await;
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    assert!(started.elapsed() < handshake::CLOSE_TIMEOUT);
    server.stop().await;
}
