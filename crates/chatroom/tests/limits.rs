//! The limits a connection meets before and just after its upgrade: how
//! many may be in the HTTP phase, how many one address may hold, and how
//! long a WebSocket may stay without joining.

mod common;

use std::time::Duration;

use chatroom::Config;
use common::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Connects a WebSocket; its refusal's status if refused.
async fn try_connect(addr: std::net::SocketAddr) -> Result<Client, u16> {
    match timeout(WAIT, connect_async(format!("ws://{addr}/ws")))
        .await
        .expect("an answer in time")
    {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    }
}

/// Polls `check` until it holds, for at most the wait.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn connections_in_the_http_phase_are_capped_with_503() {
    let config = Config {
        max_http_connections: 2,
        ..Config::default()
    };
    let server = start(config).await;
    // Two connections that say nothing: each holds an HTTP permit.
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    // Accepted asynchronously: give the server a moment to count them.
    sleep(Duration::from_millis(200)).await;
    let refused = raw(server.addr, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(refused.contains("Retry-After: 10\r\n"), "{refused}");
    assert!(refused.contains("the server is busy"), "{refused}");
    // A WebSocket is refused the same way, with a status it can read.
    assert_eq!(try_connect(server.addr).await.err(), Some(503));
    // One goes away: its permit comes back and the page loads again.
    drop(first);
    let deadline = Instant::now() + WAIT;
    loop {
        let page = raw(server.addr, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        if page.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the permit never came back: {page}"
        );
        sleep(Duration::from_millis(20)).await;
    }
    // An upgraded WebSocket has left the HTTP phase: it holds no permit.
    let (mut ws, _) = joined(server.addr, "ann").await;
    send(&mut ws, say("still here")).await;
    assert_eq!(recv_kind(&mut ws, "message").await["text"], "still here");
    // Hung up, so that the shutdown does not wait for their answering Close.
    drop((ws, _second));
    server.shutdown().await;
}

#[tokio::test]
async fn one_address_is_capped_with_429_websockets_included() {
    let config = Config {
        max_per_ip: 3,
        ..Config::default()
    };
    let server = start(config).await;
    // Three WebSockets from 127.0.0.1: the fourth upgrade is refused.
    let (a, _) = joined(server.addr, "ann").await;
    let (b, _) = joined(server.addr, "bob").await;
    let mut c = connect(server.addr).await;
    assert_eq!(try_connect(server.addr).await.err(), Some(429));
    let refused = raw(server.addr, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    assert!(refused.contains("at most 3"), "{refused}");
    // The ones inside are not disturbed.
    send(&mut c, json!({"type": "join", "nick": "cy"})).await;
    assert_eq!(recv(&mut c).await["type"], "welcome");
    // A WebSocket that ends gives its address's place back.
    drop(a);
    eventually("ann's socket is counted out", || server.live.get() == 2).await;
    let deadline = Instant::now() + WAIT;
    let d = loop {
        match try_connect(server.addr).await {
            Ok(ws) => break ws,
            Err(429) if Instant::now() < deadline => sleep(Duration::from_millis(20)).await,
            Err(status) => panic!("the place never came back: {status}"),
        }
    };
    drop((b, c, d));
    server.shutdown().await;
}

#[tokio::test]
async fn a_refusal_reaches_a_client_that_already_sent_its_request() {
    // Turned away before its request is read: the answer must still arrive
    // whole, followed by a clean end of stream. (The server reads and
    // throws the request away after answering, so that closing does not
    // reset the connection; Linux's loopback keeps the answer readable even
    // without that, so this test checks the behaviour, not the reason.)
    let config = Config {
        max_per_ip: 1,
        ..Config::default()
    };
    let server = start(config).await;
    let _held = TcpStream::connect(server.addr).await.unwrap();
    sleep(Duration::from_millis(200)).await;
    for _ in 0..20 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // A large request sent at once, before any answer is read.
        let request = upgrade(&format!("X-Padding: {}\r\n", "p".repeat(6000)));
        stream.write_all(request.as_bytes()).await.unwrap();
        // Slow to read: whatever the server does meanwhile has happened.
        sleep(Duration::from_millis(20)).await;
        let mut answer = Vec::new();
        timeout(
            WAIT,
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
        )
        .await
        .expect("the server closes in time")
        .expect("our answer arrives whole, not reset");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_websocket_that_never_joins_is_closed_with_4002() {
    let config = Config {
        join_timeout: Duration::from_millis(400),
        ..Config::default()
    };
    let server = start(config).await;
    let started = Instant::now();
    let mut lurker = connect(server.addr).await;
    // One that joins in time stays, past the deadline.
    let (mut member, _) = joined(server.addr, "ann").await;
    let close = closed(&mut lurker).await.expect("a Close with a code");
    let waited = started.elapsed();
    assert_eq!(u16::from(close.code), 4002);
    assert!(
        waited >= Duration::from_millis(350),
        "closed after {waited:?}"
    );
    sleep(Duration::from_millis(400)).await;
    send(&mut member, say("still here")).await;
    assert_eq!(
        recv_kind(&mut member, "message").await["text"],
        "still here"
    );
    eventually("the lurker's slot is given back", || server.live.get() == 1).await;
    // A refused join does not stop the clock: a name must be found in time.
    let mut chooser = connect(server.addr).await;
    send(&mut chooser, json!({"type": "join", "nick": "ann"})).await;
    assert_eq!(recv(&mut chooser).await["type"], "error");
    let close = closed(&mut chooser).await.expect("a Close with a code");
    assert_eq!(u16::from(close.code), 4002);
    drop(member);
    server.shutdown().await;
}

/// Sends an upgrade request and keeps the connection: its status line.
async fn upgrade_kept(addr: std::net::SocketAddr, extra: &str) -> (TcpStream, String) {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(upgrade(extra).as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        let n = timeout(WAIT, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n == 1, "closed before a status line");
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).trim_end().to_owned())
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts_and_https_is_the_page_s_origin() {
    let config = Config {
        max_per_ip: 2,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
    };
    let server = start(config).await;
    let from = |ip: &str| format!("X-Forwarded-For: 203.0.113.9, {ip}\r\n");
    // Two WebSockets from one forwarded client; the third is refused, and
    // another client behind the same proxy is not disturbed.
    let a = upgrade_kept(server.addr, &from("10.0.0.1")).await;
    let b = upgrade_kept(server.addr, &from("10.0.0.1")).await;
    assert_eq!(
        (a.1.as_str(), b.1.as_str()),
        (
            "HTTP/1.1 101 Switching Protocols",
            "HTTP/1.1 101 Switching Protocols"
        )
    );
    let c = upgrade_kept(server.addr, &from("10.0.0.1")).await;
    assert!(c.1.starts_with("HTTP/1.1 429"), "{}", c.1);
    let d = upgrade_kept(server.addr, &from("10.0.0.2")).await;
    assert!(d.1.starts_with("HTTP/1.1 101"), "{}", d.1);
    // A page loaded over https through the proxy has an https origin.
    let https =
        "Origin: https://127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.3\r\n";
    assert!(
        upgrade_kept(server.addr, https)
            .await
            .1
            .starts_with("HTTP/1.1 101")
    );
    let claimed = "Origin: https://127.0.0.1\r\nX-Forwarded-For: 10.0.0.3\r\n";
    assert!(
        upgrade_kept(server.addr, claimed)
            .await
            .1
            .starts_with("HTTP/1.1 403")
    );
    drop((a, b, c, d));
    server.shutdown().await;

    // Not trusted: the same headers are whatever the client wrote, and
    // count for nothing.
    let server = start(Config {
        max_per_ip: 2,
        ..Config::default()
    })
    .await;
    let a = upgrade_kept(server.addr, &from("10.0.0.1")).await;
    let b = upgrade_kept(server.addr, &from("10.0.0.2")).await;
    assert!(a.1.starts_with("HTTP/1.1 101") && b.1.starts_with("HTTP/1.1 101"));
    let c = upgrade_kept(server.addr, &from("10.0.0.3")).await;
    assert!(c.1.starts_with("HTTP/1.1 429"), "{}", c.1);
    assert!(
        upgrade_kept(server.addr, https)
            .await
            .1
            .starts_with("HTTP/1.1 429")
    );
    drop((a, b, c));
    server.shutdown().await;
}
