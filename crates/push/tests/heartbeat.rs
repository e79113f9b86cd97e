//! The heartbeat: a peer that stops answering pings is dropped at the
//! deadline, one that answers stays, and anything a peer sends counts as a
//! sign of life. The clock is paused: the runtime jumps to the next timer
//! whenever every task waits, so minutes of heartbeat take no time.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use frame::Frame;
use futures_util::StreamExt;
use push::{Config, PING_INTERVAL, PONG_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

/// A client that stops reading (a frozen process, a closed laptop) answers
/// no ping. The server drops it `PONG_TIMEOUT` after it last heard from
/// it, without a Close (nobody would read it), and the gauge goes to 0.
#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_answering_pings_is_dropped_at_the_deadline() {
    let server = serve(Config::default()).await;
    let mut frozen = server.client().await;
    // The last time it did anything: the handshake, now.
    let start = Instant::now();
    server.live_is(1).await;
    server.live_is(0).await;
    assert_eq!(start.elapsed(), PONG_TIMEOUT);

    // Thawed, it reads what was sent meanwhile, and then the end of the
    // connection: no Close frame, nothing after the 24th phrase. (Its first
    // pong hits a closed socket, and the reset may cut the reading short.)
    let mut last_seq = 0;
    while let Some(Ok(message)) = timeout(WAIT, frozen.next()).await.unwrap() {
        match message {
            Message::Ping(_) => {}
            Message::Text(text) => last_seq = push::Push::from_json(&text).unwrap().seq,
            other => panic!("no Close for a dead peer: {other:?}"),
        }
    }
    assert!(last_seq < 25, "nothing pushed after the deadline");
    server.stop().await;
}

/// The deadline comes from the configuration (`PUSH_PING_INTERVAL`,
/// `PUSH_PONG_TIMEOUT` in `main`).
#[tokio::test(start_paused = true)]
async fn the_deadline_is_configurable() {
    let config = Config {
        ping_interval: Duration::from_secs(2),
        pong_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let server = serve(config).await;
    let _frozen = server.client().await;
    let start = Instant::now();
    server.live_is(1).await;
    server.live_is(0).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    server.stop().await;
}

/// A client that reads answers every ping (tokio-tungstenite does it inside
/// `next()`), and is still there after ten deadlines' worth of time.
#[tokio::test(start_paused = true)]
async fn a_peer_that_answers_stays() {
    let server = serve(Config::default()).await;
    let mut page = server.client().await;
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() <= PONG_TIMEOUT * 10 {
        match timeout(WAIT, page.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Text(_))) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(server.live.get(), 1);
    }
    assert_eq!(
        pings,
        (PONG_TIMEOUT * 10).as_secs() / PING_INTERVAL.as_secs()
    );
    drop(page);
    server.finish().await;
}

/// Any frame is a sign of life, not only a pong: a raw client that never
/// answers a ping but sends a message every 20 s (inside the 25 s
/// deadline) stays connected; when it stops, it is dropped 25 s after its
/// last message.
#[tokio::test(start_paused = true)]
async fn any_frame_counts_as_a_sign_of_life() {
    let server = serve(Config::default()).await;
    let mut stream = raw_upgrade(server.addr, b"").await;
    let mut last_word = Instant::now();
    for _ in 0..6 {
        sleep(Duration::from_secs(20)).await;
        // Keep our receive buffer empty, answering nothing.
        drain(&mut stream).await;
        stream
            .write_all(&client_bytes([Frame::text("still here")]))
            .await
            .unwrap();
        last_word = Instant::now();
        assert_eq!(server.live.get(), 1, "alive at {:?}", last_word.elapsed());
    }
    server.live_is(0).await;
    assert_eq!(last_word.elapsed(), PONG_TIMEOUT);
    server.stop().await;
}

/// Reads whatever has arrived (pushes, pings) without waiting for more.
async fn drain(stream: &mut tokio::net::TcpStream) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while let Ok(Ok(n)) = timeout(Duration::ZERO, stream.read_buf(&mut buf)).await {
        assert_ne!(n, 0, "the server closed on us");
        buf.clear();
    }
}
