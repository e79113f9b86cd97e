//! The feed: every page gets every phrase, once per interval, intact; a
//! page that stops reading delays nobody; what a page sends is ignored.

mod common;

use std::time::Duration;

use common::*;
use frame::{Decoder, LengthForm, OpCode, Role, parse_header};
use futures_util::{SinkExt, StreamExt};
use push::{Config, PHRASES, PUSH_INTERVAL, Push};
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

/// Three pages, two rounds of phrases: each page gets the n-th message at
/// n intervals after the start, all three get the same message, and the
/// first round holds every phrase once, byte for byte (multi-byte UTF-8,
/// and the phrase over 125 bytes).
#[tokio::test(start_paused = true)]
async fn every_page_gets_every_phrase_each_interval() {
    let server = serve(Config::default()).await;
    let start = Instant::now();
    let mut pages = [
        server.client().await,
        server.client().await,
        server.client().await,
    ];
    let mut first_round = Vec::new();
    for n in 1..=2 * PHRASES.len() as u32 {
        let mut got = Vec::new();
        for page in &mut pages {
            got.push(next_push(page).await);
        }
        assert!(got.iter().all(|push| *push == got[0]), "{got:#?}");
        assert_eq!(got[0].seq, u64::from(n));
        assert_eq!(start.elapsed(), PUSH_INTERVAL * n, "push {n} on the beat");
        assert!(
            PHRASES.contains(&got[0].text.as_str()),
            "intact: {:?}",
            got[0].text
        );
        if first_round.len() < PHRASES.len() {
            first_round.push(got[0].text.clone());
        }
    }
    first_round.sort_unstable();
    let mut all: Vec<_> = PHRASES.iter().map(|p| p.to_string()).collect();
    all.sort_unstable();
    assert_eq!(first_round, all, "every phrase once per round");
    // Sixteen seconds in, the heartbeat has pinged each page; all answered.
    assert_eq!(server.live.get(), 3);

    drop(pages);
    server.finish().await;
}

/// On the wire: the long phrase's frame announces 126 and carries its
/// length in the next two bytes (RFC 6455 §5.2), the form the source articles' Go
/// demo never writes; and every frame's length form fits its length.
#[tokio::test(start_paused = true)]
async fn the_long_phrase_travels_with_a_16_bit_length() {
    let server = serve(Config::default()).await;
    let mut stream = raw_upgrade(server.addr, b"").await;
    let (_head, mut buf) = timeout(WAIT, handshake::read_head(&mut stream, Default::default()))
        .await
        .unwrap()
        .unwrap();
    let long = PHRASES.iter().find(|p| p.len() > 125).unwrap();
    let mut decoder = Decoder::new(Role::Client);
    loop {
        if let Some(header) = parse_header(&buf).unwrap() {
            let first_two = [buf[0], buf[1]];
            if let Some(frame) = decoder.decode(&mut buf).unwrap() {
                if frame.opcode != OpCode::Text {
                    continue;
                }
                let len = frame.payload.len();
                assert_eq!(header.payload_len, len as u64);
                if len > 125 {
                    assert_eq!(first_two, [0x81, 0x7e], "FIN + text, then 126");
                    assert_eq!(header.length_form, LengthForm::Extended16);
                } else {
                    assert_eq!(first_two, [0x81, len as u8], "FIN + text, then the length");
                }
                let push = Push::from_json(std::str::from_utf8(&frame.payload).unwrap()).unwrap();
                if push.text == *long {
                    assert!(len > 125);
                    break;
                }
                continue;
            }
        }
        let n = timeout(WAIT, stream.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "the server closed before the long phrase came");
    }
    drop(stream);
    server.finish().await;
}

/// A page that stops reading fills its TCP window, and the server's writes
/// to it start to wait. The other page still gets every phrase on the
/// beat; when the slow page reads again, it has skipped what the channel
/// could not hold, and the jump in `seq` says how many.
#[tokio::test(start_paused = true)]
async fn a_page_that_stops_reading_delays_nobody() {
    // A heartbeat slow enough to leave the slow page alone for the test.
    let config = Config {
        ping_interval: Duration::from_secs(5_000),
        pong_timeout: Duration::from_secs(10_000),
        ..Config::default()
    };
    // Small socket buffers on both sides (which also stops the kernel from
    // growing them), so a few hundred phrases fill them on any machine.
    // Accepted sockets inherit the listener's send buffer size.
    let listener = tokio::net::TcpSocket::new_v4().unwrap();
    listener.set_send_buffer_size(4096).unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server = serve_on(listener.listen(16).unwrap(), config).await;
    let start = Instant::now();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(server.url(), stream)
        .await
        .unwrap();
    let mut fast = server.client().await;
    let beats = 1_000;
    for n in 1..=beats {
        let push = next_push(&mut fast).await;
        assert_eq!(push.seq, u64::from(n));
        assert_eq!(start.elapsed(), PUSH_INTERVAL * n);
    }
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|&seq| seq < u64::from(beats)) {
        seqs.push(next_push(&mut slow).await.seq);
    }
    let gaps: u64 = seqs.windows(2).map(|w| w[1] - w[0] - 1).sum();
    eprintln!("the slow page received {} of {beats}", seqs.len());
    assert!(
        gaps > 0,
        "the slow page skipped ahead ({} received)",
        seqs.len()
    );
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "in order, never twice"
    );
    drop((slow, fast));
    server.finish().await;
}

/// The feed is one-way: text and binary from a page are read and dropped,
/// not answered, and the pushes go on.
#[tokio::test(start_paused = true)]
async fn what_a_page_sends_is_ignored() {
    let server = serve(Config::default()).await;
    let mut page = server.client().await;
    page.send(Message::text("hello, server")).await.unwrap();
    page.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    // The next thing to arrive is the first push, not an answer.
    let first = timeout(WAIT, page.next()).await.unwrap().unwrap().unwrap();
    let Message::Text(text) = first else {
        panic!("expected the first push, got {first:?}");
    };
    assert_eq!(Push::from_json(&text).unwrap().seq, 1);
    assert_eq!(next_push(&mut page).await.seq, 2);

    // A clean close from the page: the server answers with the same code.
    page.close(None).await.unwrap();
    while let Some(message) = timeout(WAIT, page.next()).await.unwrap() {
        match message.unwrap() {
            Message::Close(close) => assert_eq!(close, None),
            Message::Text(_) => {}
            other => panic!("{other:?}"),
        }
    }
    server.finish().await;
}
