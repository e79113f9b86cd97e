//! The upgrade, byte by byte: every bad request of the chapter's table that
//! warp's `ws()` alone gets wrong, the Origin allow-list, and the
//! subprotocol.

mod common;

use std::time::Duration;

use chatroom::Config;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

fn status(answer: &str) -> &str {
    answer.get(9..12).unwrap_or(answer)
}

#[tokio::test]
async fn lesson_ones_refusals_in_front_of_warp() {
    let server = start(Config::default()).await;
    // The chapter's table, in its order: lesson 1's answers.
    let wanted = ["400", "400", "400", "400", "426", "426", "403", "431"];
    let good = upgrade("");
    let more = [
        ("the RFC's own request", good.clone(), "101"),
        ("a POST", good.replace("GET", "POST"), "405"),
        (
            "Connection without the upgrade token",
            good.replace("Connection: Upgrade", "Connection: keep-alive"),
            "400",
        ),
        (
            "Firefox's Connection header",
            good.replace("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
            "101",
        ),
    ];
    let table = table_rows().into_iter().zip(wanted);
    for ((what, request), want) in table.chain(more.map(|(w, r, s)| ((w, r), s))) {
        let answer = raw(server.addr, request.as_bytes()).await;
        assert_eq!(status(&answer), want, "{what}: {answer}");
    }
    let answer = raw(
        server.addr,
        good.replace("Version: 13", "Version: 8").as_bytes(),
    )
    .await;
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nsec-websocket-version: 13\r\n"),
        "a 426 says which version we speak: {answer}"
    );
    let answer = raw(server.addr, good.replace("GET", "POST").as_bytes()).await;
    assert!(
        answer.to_ascii_lowercase().contains("\r\nallow: get\r\n"),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_head_that_never_ends_is_dropped_at_the_timeout() {
    let config = Config {
        head_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let server = start(config).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server hangs up")
        .ok();
    let held = started.elapsed();
    assert!(held >= Duration::from_millis(250), "held {held:?}");
    assert!(held < Duration::from_secs(3), "held {held:?}");
    server.shutdown().await;
}

async fn with_origin(addr: std::net::SocketAddr, origin: &str) -> Result<(), u16> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_str(origin).unwrap());
    match timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
    {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn same_origin_by_default_plus_the_allow_list() {
    let config = Config {
        allowed_origins: vec!["http://localhost:8000".into()],
        ..Config::default()
    };
    let server = start(config).await;
    let addr = server.addr;
    assert_eq!(with_origin(addr, &format!("http://{addr}")).await, Ok(()));
    assert_eq!(with_origin(addr, "http://localhost:8000").await, Ok(()));
    assert_eq!(with_origin(addr, "http://evil.example").await, Err(403));
    assert_eq!(with_origin(addr, "http://localhost:8001").await, Err(403));
    assert_eq!(
        with_origin(addr, "null").await,
        Err(403),
        "a sandboxed or file: page"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_page_and_the_404() {
    let server = start(Config::default()).await;
    let page = raw(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&page), "200", "{page}");
    assert!(page.contains("text/html"), "{page}");
    assert!(
        page.contains("textContent"),
        "the page renders with textContent"
    );
    assert!(!page.contains("innerHTML"), "and never with innerHTML");
    for (path, kind) in [
        ("/lesson.css", "text/css"),
        ("/lesson.js", "text/javascript"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw(server.addr, request.as_bytes()).await;
        assert_eq!(status(&answer), "200", "{path}: {answer}");
        assert!(answer.contains(kind), "{path}: {answer}");
    }
    let nope = raw(
        server.addr,
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&nope), "404", "{nope}");
    server.shutdown().await;
}

/// A masked client text frame (RFC 6455 §5.2), for payloads under 126 bytes.
fn masked_text(payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test]
async fn frames_sent_right_behind_the_request_are_kept() {
    let server = start(Config::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut bytes = upgrade("").into_bytes();
    bytes.extend(masked_text(br#"{"type":"join","nick":"early"}"#));
    // One write: the join arrives in the same segment as the head.
    stream.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(r#""type":"welcome""#) {
        let n = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("the welcome in time")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101"));
    assert_eq!(server.room.members(), ["early"]);
    drop(stream);
    server.shutdown().await;
}

/// POSTs for a ticket; returns it.
async fn fetch_ticket(addr: std::net::SocketAddr) -> String {
    let answer = raw(
        addr,
        b"POST /ticket HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("cache-control: no-store")
    );
    answer.split("\r\n\r\n").nth(1).unwrap().trim().to_owned()
}

#[tokio::test]
async fn with_require_ticket_an_upgrade_needs_a_fresh_one_time_ticket() {
    let config = Config {
        require_ticket: true,
        ..Config::default()
    };
    let server = start(config).await;
    let with_ticket =
        |ticket: &str| upgrade("").replacen("/ws", &format!("/ws?ticket={ticket}"), 1);
    let missing = raw(server.addr, upgrade("").as_bytes()).await;
    assert_eq!(status(&missing), "401", "{missing}");
    assert!(
        missing
            .to_ascii_lowercase()
            .contains("www-authenticate: ticket"),
        "{missing}"
    );
    let ticket = fetch_ticket(server.addr).await;
    let first = raw(server.addr, with_ticket(&ticket).as_bytes()).await;
    assert_eq!(status(&first), "101", "{first}");
    let reused = raw(server.addr, with_ticket(&ticket).as_bytes()).await;
    assert_eq!(status(&reused), "401", "one time only: {reused}");
    let made_up = raw(server.addr, with_ticket("0123456789abcdef").as_bytes()).await;
    assert_eq!(status(&made_up), "401", "{made_up}");
    // A GET does not issue tickets.
    let get = raw(
        server.addr,
        b"GET /ticket HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_ne!(status(&get), "200", "{get}");
    server.shutdown().await;
}

#[tokio::test]
async fn without_require_ticket_none_is_needed() {
    let server = start(Config::default()).await;
    assert_eq!(
        status(&raw(server.addr, upgrade("").as_bytes()).await),
        "101"
    );
    let ticket = fetch_ticket(server.addr).await;
    let request = upgrade("").replacen("/ws", &format!("/ws?ticket={ticket}"), 1);
    assert_eq!(status(&raw(server.addr, request.as_bytes()).await), "101");
    server.shutdown().await;
}

#[tokio::test]
async fn the_room_speaks_chat_v1_when_offered_and_nothing_else() {
    let server = start(Config::default()).await;
    let protocol_line = |answer: &str| {
        answer
            .lines()
            .find(|line| {
                line.to_ascii_lowercase()
                    .starts_with("sec-websocket-protocol:")
            })
            .map(str::to_owned)
    };
    // Offered, among others and not first: named back.
    let answer = raw(
        server.addr,
        upgrade("Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status(&answer), "101", "{answer}");
    assert_eq!(
        protocol_line(&answer).as_deref(),
        Some("sec-websocket-protocol: chat.v1"),
        "{answer}"
    );
    // Only what the room does not speak: a 101 that names none, and the
    // client decides (a browser that insisted would close).
    let answer = raw(
        server.addr,
        upgrade("Sec-WebSocket-Protocol: chat.v2\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status(&answer), "101", "{answer}");
    assert_eq!(protocol_line(&answer), None, "{answer}");
    // No offer (a program, an old page): the same language, unnamed.
    let answer = raw(server.addr, upgrade("").as_bytes()).await;
    assert_eq!(status(&answer), "101", "{answer}");
    assert_eq!(protocol_line(&answer), None, "{answer}");
    // Not a list of tokens: 400, with lesson 1's reason.
    let answer = raw(
        server.addr,
        upgrade("Sec-WebSocket-Protocol: chat v1\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status(&answer), "400", "{answer}");
    assert!(answer.contains("list of distinct tokens"), "{answer}");
    server.shutdown().await;
}
