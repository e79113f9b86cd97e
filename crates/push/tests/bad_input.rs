//! Bad input, from the request to the frames: every bad upgrade gets the
//! status lesson 1 gives it (lesson 1's checks, the same code),
//! frames sent behind the request are kept, and broken frames get their
//! close codes.

mod common;

use common::*;
use frame::{CloseCode, Frame, OpCode};
use futures_util::{SinkExt, StreamExt};
use push::{Config, MAX_MESSAGE_SIZE};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// A valid request with `line` replaced (or removed, with `None`).
fn request_with(find: &str, replace: Option<&str>) -> Vec<u8> {
    let good = handshake::client_request("127.0.0.1", "/ws", "dGhlIHNhbXBsZSBub25jZQ==");
    assert!(good.contains(find), "{find:?} not in the request");
    let line = format!("{find}\r\n");
    match replace {
        Some(new) => good.replacen(find, new, 1),
        None => good.replacen(&line, "", 1),
    }
    .into_bytes()
}

fn status_line(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bad_upgrades_get_their_status() {
    let server = serve(Config::default()).await;
    let version = "Sec-WebSocket-Version: 13";
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "POST",
            request_with("GET /ws", Some("POST /ws")),
            "HTTP/1.1 405",
        ),
        (
            "HTTP/1.0",
            request_with("HTTP/1.1", Some("HTTP/1.0")),
            "HTTP/1.1 400",
        ),
        (
            "no Host",
            request_with("Host: 127.0.0.1", None),
            "HTTP/1.1 400",
        ),
        (
            "a browser tab",
            b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            "HTTP/1.1 426",
        ),
        (
            "Connection without upgrade",
            request_with("Connection: Upgrade", Some("Connection: keep-alive")),
            "HTTP/1.1 400",
        ),
        (
            "version 8",
            request_with(version, Some("Sec-WebSocket-Version: 8")),
            "HTTP/1.1 426",
        ),
        (
            "no key",
            request_with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", None),
            "HTTP/1.1 400",
        ),
        (
            "a 10-byte key",
            request_with("dGhlIHNhbXBsZSBub25jZQ==", Some("dGhlIHNhbXBsZQ==")),
            "HTTP/1.1 400",
        ),
        (
            "Firefox's Connection",
            request_with(
                "Connection: Upgrade",
                Some("Connection: keep-alive, Upgrade"),
            ),
            "HTTP/1.1 101",
        ),
    ];
    for (what, request, want) in cases {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stream, request)
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        timeout(
            WAIT,
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut buf),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(std::str::from_utf8(&buf).unwrap(), *want, "{what}");
        if *want == "HTTP/1.1 426" && *what == "version 8" {
            let rest = read_to_end(&mut stream).await;
            let text = String::from_utf8_lossy(&rest);
            assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
        }
    }
    server.finish().await;
}

#[tokio::test]
async fn the_page_and_the_404() {
    let server = serve(Config::default()).await;
    let page = exchange(server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&page), "HTTP/1.1 200 OK");
    let text = String::from_utf8(page).unwrap();
    assert!(text.contains("text/html; charset=utf-8"));
    assert!(text.ends_with(push::PAGE));
    // The look and the helpers the lessons' pages share (lesson 3's route).
    let style = exchange(server.addr, b"GET /lesson.css HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(String::from_utf8(style).unwrap().ends_with(support::STYLE));
    let script = exchange(server.addr, b"GET /lesson.js HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        String::from_utf8(script)
            .unwrap()
            .ends_with(support::SCRIPT)
    );
    let missing = exchange(server.addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&missing), "HTTP/1.1 404 Not Found");
    let post = exchange(server.addr, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&post), "HTTP/1.1 405 Method Not Allowed");
    server.finish().await;
}

/// A client may send frames right behind its request, without waiting for
/// the 101 (RFC 6455 §4.1 lets it). Lesson 1 hands those bytes over, and
/// tokio-tungstenite reads them first: the ping is answered, the Close too.
#[tokio::test(start_paused = true)]
async fn frames_sent_behind_the_request_are_kept() {
    let server = serve(Config::default()).await;
    let early = client_bytes([Frame::ping("early"), close(CloseCode::NORMAL, "early bye")]);
    let mut stream = raw_upgrade(server.addr, &early).await;
    let (head, frames) = head_and_frames(&read_to_end(&mut stream).await);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert_eq!(
        replies(frames),
        [Frame::pong("early"), close(CloseCode::NORMAL, "early bye")]
    );
    server.finish().await;
}

/// A message over the limit gets Close 1009, from a library client too.
#[tokio::test]
async fn a_message_over_the_limit_gets_1009() {
    let server = serve(Config::default()).await;
    let mut page = server.client().await;
    page.send(Message::text("x".repeat(MAX_MESSAGE_SIZE + 1)))
        .await
        .unwrap();
    let (code, reason) = expect_close(&mut page).await;
    assert_eq!(code, 1009, "{reason}");
    drop(page);
    server.finish().await;
}

/// A header that announces 1 GiB gets 1009 at once: the length is checked
/// before a byte of payload is awaited or buffered.
#[tokio::test]
async fn an_announced_gigabyte_gets_1009_before_any_payload() {
    let server = serve(Config::default()).await;
    // FIN + text, MASK + 127 (64-bit length), 2^30, then the masking key.
    let mut header = vec![0x81, 0xff];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    header.extend_from_slice(&KEY);
    assert_eq!(close_code_for(server.addr, &header).await, 1009);
    server.finish().await;
}

/// Rules of RFC 6455 that tokio-tungstenite checks, answered with the
/// close code each earns (tokio-tungstenite reports them; the Close with
/// the code is ours to send).
#[tokio::test]
async fn broken_frames_get_their_close_codes() {
    let server = serve(Config::default()).await;
    let mut not_utf8 = Frame::text("");
    not_utf8.payload = vec![0xff, 0xfe].into();
    let mut rsv1 = client_bytes([Frame::text("x")]);
    rsv1[0] |= 0x40;
    let mut fragmented_ping = client_bytes([Frame::ping("x")]);
    fragmented_ping[0] &= 0x7f; // FIN cleared
    let cases: &[(&str, Vec<u8>, u16)] = &[
        // §5.1: a client MUST mask every frame.
        ("unmasked", b"\x81\x05Hello".to_vec(), 1002),
        // §5.2: RSV bits without an extension that defines them.
        ("RSV1 set", rsv1, 1002),
        // §5.5: control frames are never fragmented.
        ("fragmented ping", fragmented_ping, 1002),
        // §8.1: text must be UTF-8.
        ("bad UTF-8", client_bytes([not_utf8]), 1007),
    ];
    for (what, frame, code) in cases {
        assert_eq!(close_code_for(server.addr, frame).await, *code, "{what}");
    }
    server.finish().await;
}

/// The page closes: the server answers with the same code and reason and
/// closes TCP first (RFC 6455 §7.1.1), and forgets the connection.
#[tokio::test]
async fn a_close_from_the_page_is_answered() {
    let server = serve(Config::default()).await;
    let mut stream = raw_upgrade(
        server.addr,
        &client_bytes([close(CloseCode::new(4000), "leaving")]),
    )
    .await;
    let (_, frames) = head_and_frames(&read_to_end(&mut stream).await);
    let replies = replies(frames);
    assert_eq!(replies, [close(CloseCode::new(4000), "leaving")]);
    assert_eq!(replies[0].opcode, OpCode::Close);
    server.live_is(0).await;

    // The same through tokio-tungstenite.
    let mut page = server.client().await;
    page.close(None).await.unwrap();
    while let Some(message) = timeout(WAIT, page.next()).await.unwrap() {
        assert!(
            matches!(message, Ok(Message::Close(None) | Message::Text(_))),
            "{message:?}"
        );
    }
    server.finish().await;
}
