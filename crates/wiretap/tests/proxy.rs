//! The wiretap on real sockets: the echo lesson behaves exactly as without
//! it, the `--json` view lists the frames of a scripted session, bytes it
//! cannot decode still pass untouched, a FIN and a reset are passed on,
//! connections stay apart, and a 16 MiB message goes through.

mod common;

use std::time::Duration;

use common::{
    WAIT, converse, echo, frames, json, masked, read_to_end, recording_upstream, scripted_session,
    tap,
};
use frame::{Frame, OpCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use wiretap::{Ending, EventKind, Format, Options};

#[tokio::test]
async fn echo_through_the_tap_is_byte_identical() {
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    let script = scripted_session("wiretap.test");

    let direct = converse(echo.addr, &script, script.len()).await;
    // Through the tap, and in odd pieces: every frame cut across reads.
    let tapped = converse(tap.addr, &script, 997).await;
    assert!(direct.len() > 70_000, "the echo answered everything");
    assert_eq!(tapped, direct, "what the client receives");

    let events = events.until_ended(1).await;
    let end = json(&events).pop().unwrap();
    assert_eq!(end["client_bytes"], script.len() as u64);
    assert_eq!(end["server_bytes"], direct.len() as u64);
    tap.stop().await;
    echo.stop().await;
}

#[tokio::test]
async fn every_byte_reaches_the_other_side_unchanged_even_undecodable_ones() {
    // A client that upgrades, then sends a frame with RSV1 set (as
    // permessage-deflate would), a frame with a reserved opcode, and noise.
    let mut sent = handshake::client_request("x", "/ws", common::KEY).into_bytes();
    sent.extend(masked(Frame::text("before"), [1, 2, 3, 4]));
    let compressed = Frame {
        rsv: frame::RSV1,
        ..Frame::text("squeezed")
    };
    sent.extend(masked(compressed, [5, 6, 7, 8]));
    sent.extend(masked(Frame::text("after"), [9, 10, 11, 12]));
    sent.extend([0x83, 0x80, 1, 2, 3, 4]); // opcode 3 is reserved
    sent.extend((0..5000u32).map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8));
    // A server that answers 101, a frame, then noise of its own.
    let mut reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        .to_vec();
    reply.extend([0x81, 0x02, b'h', b'i']);
    reply.extend((0..3000u32).map(|i| (i.wrapping_mul(7) ^ 0x8F) as u8));

    let (upstream, recorded) = recording_upstream(reply.clone(), 5).await;
    let (tap, mut events) = tap(upstream, Options::default()).await;
    let received = converse(tap.addr, &sent, 3).await;
    assert_eq!(timeout(WAIT, recorded).await.unwrap().unwrap(), sent);
    assert_eq!(received, reply);

    let events = json(&events.until_ended(1).await);
    let c2s: Vec<String> = events
        .iter()
        .filter(|e| e["direction"] == "client->server" && e["kind"] != "close")
        .map(summary)
        .collect();
    assert_eq!(
        c2s,
        [
            "http-request GET",
            "frame before",
            "undecodable RSV bits set, but no extension was negotiated (RFC 6455 §5.2)",
            "frame after",
            "undecodable invalid frame header: reserved opcode 0x3 (RFC 6455 §5.2: unknown \
             opcodes fail the connection)",
        ]
    );
    let s2c: Vec<String> = events
        .iter()
        .filter(|e| e["direction"] == "server->client" && e["kind"] != "close")
        .map(summary)
        .collect();
    assert_eq!(s2c[..2], ["http-response 101", "frame hi"]);
    assert!(s2c[2].starts_with("undecodable"), "{s2c:?}");
    tap.stop().await;
}

/// One line per event, for comparing lists.
fn summary(event: &Value) -> String {
    let kind = event["kind"].as_str().unwrap_or_default();
    let detail = match kind {
        "http-request" => event["method"].to_string(),
        "http-response" => event["status"].to_string(),
        "frame" => event["text"].to_string(),
        "undecodable" => event["reason"].to_string(),
        _ => String::new(),
    };
    format!("{kind} {}", detail.trim_matches('"'))
}

#[tokio::test]
async fn json_lists_the_frames_of_a_scripted_session() {
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    let script = scripted_session("wiretap.test");
    converse(tap.addr, &script, 7).await;
    let events = events.until_ended(1).await;

    let all = json(&events);
    let kinds: Vec<&str> = all.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"open"));
    assert_eq!(kinds.last(), Some(&"end"));
    assert_eq!(kinds.iter().filter(|k| **k == "close").count(), 2);
    let request = all.iter().find(|e| e["kind"] == "http-request").unwrap();
    assert_eq!(
        (&request["method"], &request["target"]),
        (&"GET".into(), &"/ws".into())
    );
    let response = all.iter().find(|e| e["kind"] == "http-response").unwrap();
    assert_eq!(response["status"], 101);

    // (direction, fin, opcode, payload length, text or close code)
    let json_frames = frames(&events);
    let rows: Vec<(String, bool, u64, u64, String)> = json_frames
        .iter()
        .map(|f| {
            // Client frames masked, server frames not (RFC 6455 §5.1).
            assert_eq!(f["masked"], f["direction"] == "client->server", "{f}");
            let content = if f["opcode"] == 8 {
                f["close_code"].to_string()
            } else {
                f["text"]
                    .as_str()
                    .map(|t| t.chars().take(12).collect())
                    .unwrap_or_default()
            };
            (
                f["direction"].as_str().unwrap().to_owned(),
                f["fin"].as_bool().unwrap(),
                f["opcode"].as_u64().unwrap(),
                f["payload_len"].as_u64().unwrap(),
                content,
            )
        })
        .collect();
    // Texts to their first 12 characters, as above.
    let row = |dir: &str, fin, op, len, text: &str| {
        let text = text.chars().take(12).collect();
        (dir.to_owned(), fin, op, len, text)
    };
    let client = |fin, op, len, text: &str| row("client->server", fin, op, len, text);
    let server = |fin, op, len, text: &str| row("server->client", fin, op, len, text);
    let x = "x".repeat(12);
    let sevens = "\u{7}".repeat(12);
    let expected = [
        client(false, 1, 3, "Hel"),
        client(true, 9, 14, "are you there?"),
        // The ping is answered at once, between the fragments.
        server(true, 10, 14, "are you there?"),
        client(false, 0, 4, "lo, "),
        client(true, 0, 5, "world"),
        server(true, 1, 12, "Hello, world"),
        client(true, 2, 300, &sevens),
        server(true, 2, 300, &sevens),
        client(true, 1, 70_000, &x),
        server(true, 1, 70_000, &x),
        client(true, 8, 5, "1000"),
        server(true, 8, 2, "1000"),
    ];
    // Each direction in order; how the two interleave is up to the network.
    for dir in ["client->server", "server->client"] {
        let got: Vec<_> = rows.iter().filter(|f| f.0 == dir).collect();
        let want: Vec<_> = expected.iter().filter(|f| f.0 == dir).collect();
        assert_eq!(got, want);
    }

    let long = json_frames
        .iter()
        .find(|f| f["payload_len"] == 70_000 && f["direction"] == "client->server")
        .unwrap();
    assert_eq!(long["length_form"], "7+64-bit");
    assert_eq!(long["text_truncated"], true);
    assert_eq!(long["shown"], wiretap::DEFAULT_PREVIEW);
    assert_eq!(long["mask_key"], "05 37 fa 21");
    let closes: Vec<&Value> = json_frames.iter().filter(|f| f["opcode"] == 8).collect();
    assert_eq!(closes[0]["close_reason"], "bye");
    assert_eq!(closes[0]["close_step"], "starts");
    assert_eq!(closes[1]["close_step"], "answers");
    // The running byte count: each frame starts where the one before ended.
    let c2s: Vec<&Value> = json_frames
        .iter()
        .filter(|f| f["direction"] == "client->server")
        .collect();
    assert_eq!(c2s[0]["offset"], request["total"]);
    for pair in c2s.windows(2) {
        assert_eq!(pair[0]["total"], pair[1]["offset"]);
    }
    assert_eq!(c2s.last().unwrap()["total"], script.len() as u64);
    tap.stop().await;
    echo.stop().await;
}

#[tokio::test]
async fn the_text_view_is_lessons_1_and_2_annotations() {
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    converse(tap.addr, &scripted_session("wiretap.test"), 4096).await;
    let text: String = events
        .until_ended(1)
        .await
        .iter()
        .map(|e| wiretap::render(e, Format::Text))
        .collect();
    for needle in [
        "client → server  bytes 0-",
        "← must list \"websocket\": the protocol to switch to",
        "← 101: the server agrees to switch protocols",
        "MASK = 1: masked, as a client's frames must be",
        "MASK = 0: not masked, as a server's frames must be",
        "payload length = 127: the length is in the next 8 bytes (7+64-bit form)",
        "... 69968 more (70000 bytes in all)",
        "close code: 1000 (normal closure)",
        "the client starts the closing handshake",
        "FIN after",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    assert!(text.lines().all(|line| line.starts_with("#1 ")), "{text}");
    tap.stop().await;
    echo.stop().await;
}

#[tokio::test]
async fn a_fin_is_passed_on_and_the_other_way_keeps_flowing() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tap, mut events) = tap(upstream.local_addr().unwrap(), Options::default()).await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = upstream.accept().await.unwrap();
        // The client's FIN reaches us as the end of the stream...
        let request = read_to_end(&mut stream).await;
        // ...and our side is still open: answer after it.
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater")
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        request
    });
    let mut client = TcpStream::connect(tap.addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    client.shutdown().await.unwrap();
    let answer = read_to_end(&mut client).await;
    assert!(
        answer.ends_with(b"later"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let request = timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");

    let closes: Vec<(String, String)> = json(&events.until_ended(1).await)
        .iter()
        .filter(|e| e["kind"] == "close")
        .map(|e| (e["direction"].to_string(), e["how"].to_string()))
        .collect();
    assert_eq!(
        closes,
        [
            ("\"client->server\"".into(), "\"fin\"".into()),
            ("\"server->client\"".into(), "\"fin\"".into())
        ]
    );
    tap.stop().await;
}

#[tokio::test]
async fn a_reset_ends_both_sides() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tap, mut events) = tap(upstream.local_addr().unwrap(), Options::default()).await;
    let client = TcpStream::connect(tap.addr).await.unwrap();
    let (mut server, _) = timeout(WAIT, upstream.accept()).await.unwrap().unwrap();
    // Wait until the tap has both ends, then reset the client's.
    let opened = events.next().await;
    assert!(matches!(opened.kind, EventKind::Open { .. }), "{opened:?}");
    client.set_zero_linger().unwrap();
    drop(client);

    // The server's side ends too, with a reset of its own, not a clean FIN
    // that would claim everything was sent.
    let mut buf = [0; 16];
    let read = timeout(WAIT, server.read(&mut buf)).await.unwrap();
    assert!(read.is_err(), "expected a reset, got {read:?}");
    let events = events.until_ended(1).await;
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Closed {
            how: Ending::Error(_),
            ..
        }
    )));
    tap.stop().await;
}

#[tokio::test]
async fn many_connections_at_once_stay_apart() {
    const CLIENTS: usize = 16;
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    let mut sessions = Vec::new();
    for client in 0..CLIENTS {
        let addr = tap.addr;
        sessions.push(tokio::spawn(async move {
            let mut script = handshake::client_request("x", "/ws", common::KEY).into_bytes();
            for message in 0..3 {
                let text = format!("client {client} message {message}");
                script.extend(masked(Frame::text(text), [client as u8, 1, 2, 3]));
            }
            script.extend(masked(Frame::close(None), [0, 0, 0, 0]));
            // Small pieces, so the connections' reads interleave.
            converse(addr, &script, 10).await
        }));
    }
    for session in sessions {
        timeout(WAIT, session).await.unwrap().unwrap();
    }
    let events = events.until_ended(CLIENTS).await;

    // Each connection's messages are one client's: its three, each seen
    // going out and coming back.
    let mut seen_clients = Vec::new();
    for conn in 1..=CLIENTS as u64 {
        let texts: Vec<String> = frames(&events)
            .iter()
            .filter(|f| f["conn"] == conn && f["opcode"] == 1)
            .map(|f| f["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts.len(), 6, "connection {conn}: {texts:?}");
        let client = texts[0].split(' ').nth(1).unwrap().to_owned();
        let mut expected: Vec<String> = (0..3)
            .flat_map(|m| {
                let t = format!("client {client} message {m}");
                [t.clone(), t]
            })
            .collect();
        let mut sorted = texts.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "connection {conn}");
        seen_clients.push(client);
    }
    seen_clients.sort();
    seen_clients.dedup();
    assert_eq!(seen_clients.len(), CLIENTS, "one connection per client");
    tap.stop().await;
    echo.stop().await;
}

#[tokio::test]
async fn a_16_mib_message_goes_through() {
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    let len = 16 * 1024 * 1024; // lesson 3's limit, inclusive
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut script = handshake::client_request("x", "/ws", common::KEY).into_bytes();
    let head = script.len();
    script.extend(masked(Frame::binary(payload.clone()), [1, 2, 3, 4]));
    script.extend(masked(Frame::close(None), [0, 0, 0, 0]));

    let received = converse(tap.addr, &script, 64 * 1024).await;
    // The echo: after the 101, the same payload in an unmasked frame.
    let start = handshake::find_blank_line(&received, 0).unwrap();
    let echoed = &received[start..];
    assert_eq!(&echoed[..10], &[0x82, 127, 0, 0, 0, 0, 1, 0, 0, 0]);
    assert!(
        echoed[10..10 + len] == payload[..],
        "the payload came back intact"
    );

    let events = events.until_ended(1).await;
    let big: Vec<&wiretap::Event> = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::Seen(s) if matches!(&s.what,
                wiretap::What::Frame { header, .. } if header.payload_len == len as u64))
        })
        .collect();
    assert_eq!(big.len(), 2, "one each way");
    for event in big {
        let EventKind::Seen(seen) = &event.kind else {
            unreachable!()
        };
        let wiretap::What::Frame { bytes, header, .. } = &seen.what else {
            unreachable!()
        };
        // What the tap kept of 16 MiB: a header and a preview.
        assert_eq!(bytes.len(), header.header_len + wiretap::DEFAULT_PREVIEW);
        if seen.dir == wiretap::Direction::ClientToServer {
            assert_eq!(seen.offset, head as u64);
            assert_eq!(header.opcode, OpCode::Binary);
        }
    }
    tap.stop().await;
    echo.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_gets_a_502() {
    // A port nobody listens on: bind, note it, let it go.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = gone.local_addr().unwrap();
    drop(gone);
    let (tap, mut events) = tap(upstream, Options::default()).await;
    let mut client = TcpStream::connect(tap.addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_end(&mut client).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Is the lesson running?"), "{answer}");
    let event = events.next().await;
    assert!(
        matches!(event.kind, EventKind::UpstreamUnreachable { .. }),
        "{event:?}"
    );
    tap.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_connections() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tap, mut events) = tap(upstream.local_addr().unwrap(), Options::default()).await;
    let mut client = TcpStream::connect(tap.addr).await.unwrap();
    let (_server, _) = timeout(WAIT, upstream.accept()).await.unwrap().unwrap();
    assert!(matches!(events.next().await.kind, EventKind::Open { .. }));
    // An idle connection does not keep the tap from stopping...
    tap.stop().await;
    // ...and is closed by it.
    let mut buf = [0; 1];
    let read = timeout(WAIT, client.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn the_output_never_slows_the_traffic() {
    // A one-event queue nobody reads: events are dropped, bytes are not.
    let echo = echo().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, mut received) = tokio::sync::mpsc::channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let upstream = echo.addr;
    let run = tokio::spawn(async move {
        wiretap::run(listener, upstream, Options::default(), events, async {
            let _ = stopped.await;
        })
        .await;
    });
    let script = scripted_session("x");
    let tapped = timeout(WAIT, converse(addr, &script, 100)).await.unwrap();
    let direct = converse(echo.addr, &script, script.len()).await;
    assert_eq!(tapped, direct);
    // Room again: the next event says how many were lost.
    let _first = received.recv().await.unwrap();
    let _ = timeout(Duration::from_secs(1), converse(addr, b"", 1)).await;
    let lost = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert!(
        matches!(lost.kind, EventKind::Lost { count } if count > 10),
        "{lost:?}"
    );
    stop.send(()).unwrap();
    timeout(WAIT, run).await.unwrap().unwrap();
    echo.stop().await;
}

#[tokio::test]
async fn compressed_messages_are_inflated_both_ways() {
    // Lesson 3's server agrees to permessage-deflate; its client offers it.
    let echo = echo().await;
    let (tap, mut events) = tap(echo.addr, Options::default()).await;
    let mut stream = TcpStream::connect(tap.addr).await.unwrap();
    let done = handshake::client_handshake_offering(&mut stream, "x", "/ws", true)
        .await
        .unwrap();
    let agreed = done.deflate.expect("the echo server agrees to compress");
    let config = echo::WebSocketConfig::default();
    let mut ws = echo::WebSocket::client(stream, &done.leftover, config).with_deflate(agreed);
    let text = r#"{"type":"message","text":"hello, hello, hello, hello, hello"}"#;
    for _ in 0..2 {
        ws.send(echo::Message::Text(text.into())).await.unwrap();
        let echoed = timeout(WAIT, ws.recv()).await.unwrap().unwrap();
        assert_eq!(echoed, Some(echo::Message::Text(text.into())));
    }
    ws.close(frame::CloseCode::NORMAL, "bye").await.unwrap();
    drop(ws);

    let events = json(&events.until_ended(1).await);
    let compressed: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "frame" && e["compressed"] == true)
        .collect();
    assert_eq!(compressed.len(), 4, "two messages each way: {events:#?}");
    for frame in &compressed {
        assert_eq!(frame["rsv"], 4);
        assert!(
            frame.get("text").is_none(),
            "DEFLATE data is not read as text"
        );
        assert!(frame["payload_len"].as_u64().unwrap() < text.len() as u64);
    }
    let inflated: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|e| e["kind"] == "inflated")
        .map(|e| (&e["direction"], &e["text"]))
        .collect();
    let (up, down) = (Value::from("client->server"), Value::from("server->client"));
    let said = Value::from(text);
    assert_eq!(
        inflated,
        [(&up, &said), (&down, &said), (&up, &said), (&down, &said)]
    );
    assert!(
        !events.iter().any(|e| e["kind"] == "undecodable"),
        "{events:#?}"
    );
    tap.stop().await;
    echo.stop().await;
}
