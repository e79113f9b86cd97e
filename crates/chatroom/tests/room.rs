//! The room, through real WebSocket clients: order, presence, history,
//! names, limits, slow readers, shutdown.

mod common;

use std::time::Duration;

use chatroom::{Config, RateLimit};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio::time::timeout;
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn everybody_sees_every_message_in_one_order_sender_included() {
    let server = start(Config::default()).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    let (mut b, _) = joined(server.addr, "bob").await;
    let (mut c, _) = joined(server.addr, "cy").await;
    // Three senders at once, five messages each (within the burst).
    for (ws, who) in [(&mut a, "a"), (&mut b, "b"), (&mut c, "c")] {
        for i in 0..5 {
            send(ws, say(&format!("{who}{i}"))).await;
        }
    }
    let mut seen = Vec::new();
    for ws in [&mut a, &mut b, &mut c] {
        let mut mine = Vec::new();
        while mine.len() < 15 {
            let m = recv_kind(ws, "message").await;
            mine.push((
                m["seq"].as_u64().unwrap(),
                m["from"].clone(),
                m["text"].clone(),
            ));
        }
        seen.push(mine);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    assert!(seen[0].windows(2).all(|w| w[0].0 < w[1].0), "seq increases");
    // Each sender's own messages keep the order it sent them in.
    let from_a: Vec<_> = seen[0]
        .iter()
        .filter(|m| m.1 == "ann")
        .map(|m| m.2.clone())
        .collect();
    assert_eq!(from_a, ["a0", "a1", "a2", "a3", "a4"]);
    drop((a, b, c));
    server.shutdown().await;
}

#[tokio::test]
async fn join_leave_and_who_is_online() {
    let server = start(Config::default()).await;
    let (mut a, welcome) = joined(server.addr, "ann").await;
    assert_eq!(welcome["you"], "ann");
    assert_eq!(welcome["members"], json!(["ann"]));
    let own = recv(&mut a).await;
    assert_eq!(
        (own["type"].as_str(), own["nick"].as_str()),
        (Some("joined"), Some("ann"))
    );

    let (mut b, welcome) = joined(server.addr, "小明").await;
    assert_eq!(welcome["members"], json!(["ann", "小明"]));
    assert_eq!(welcome["boot"], server_boot(&server));
    let j = recv_kind(&mut a, "joined").await;
    assert_eq!(
        (j["nick"].as_str(), j["online"].as_u64()),
        (Some("小明"), Some(2))
    );
    assert!(
        j["ts"].as_u64().unwrap() > 1_700_000_000_000,
        "server time, in ms"
    );

    b.close(None).await.unwrap();
    let l = recv_kind(&mut a, "left").await;
    assert_eq!(
        (l["nick"].as_str(), l["online"].as_u64()),
        (Some("小明"), Some(1))
    );
    assert!(l["seq"].as_u64() > j["seq"].as_u64());
    drop((a, b));
    server.shutdown().await;
}

fn server_boot(server: &Running) -> Value {
    Value::from(server.room.boot())
}

#[tokio::test]
async fn a_newcomer_gets_the_history_once() {
    let server = start(Config::default()).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    for text in ["one", "two", "three"] {
        send(&mut a, say(text)).await;
        recv_kind(&mut a, "message").await;
    }
    let (mut b, welcome) = joined(server.addr, "bob").await;
    let texts: Vec<_> = welcome["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    // After the welcome: newer events only, starting with our own join.
    let next = recv(&mut b).await;
    assert_eq!(next["type"], "joined");
    assert!(next["seq"].as_u64() > welcome["history"][2]["seq"].as_u64());
    drop((a, b));
    server.shutdown().await;
}

#[tokio::test]
async fn a_taken_or_bad_name_is_refused_and_another_try_allowed() {
    let server = start(Config::default()).await;
    let (_a, _) = joined(server.addr, "ann").await;
    let mut b = connect(server.addr).await;
    send(&mut b, json!({"type": "say", "text": "hi"})).await;
    assert_eq!(recv(&mut b).await["reason"], "join the room first");
    send(&mut b, json!({"type": "join", "nick": "ANN"})).await;
    let refused = recv(&mut b).await;
    assert_eq!(refused["type"], "error");
    assert!(
        refused["reason"].as_str().unwrap().contains("taken"),
        "{refused}"
    );
    send(&mut b, json!({"type": "join", "nick": "<b>bob</b>"})).await;
    assert_eq!(recv(&mut b).await["type"], "error");
    send(&mut b, json!({"type": "join", "nick": "bob"})).await;
    assert_eq!(recv(&mut b).await["you"], "bob");
    send(&mut b, json!({"type": "join", "nick": "bobby"})).await;
    assert_eq!(recv_kind(&mut b, "error").await["type"], "error");
    drop((_a, b));
    server.shutdown().await;
}

#[tokio::test]
async fn the_same_page_takes_its_name_back_from_its_ghost() {
    let server = start(Config::default()).await;
    let (mut bob, _) = joined(server.addr, "bob").await;
    // ann's first connection: alive as far as the server knows, but the
    // page has moved on (a network change, a reload).
    let mut ghost = connect(server.addr).await;
    send(
        &mut ghost,
        json!({"type": "join", "nick": "ann", "key": "k1"}),
    )
    .await;
    assert_eq!(recv(&mut ghost).await["type"], "welcome");
    // Somebody else cannot have the name, with another key or none.
    let mut other = connect(server.addr).await;
    send(
        &mut other,
        json!({"type": "join", "nick": "ann", "key": "k2"}),
    )
    .await;
    assert_eq!(recv(&mut other).await["type"], "error");
    // The page, back with its key, can.
    let mut back = connect(server.addr).await;
    send(
        &mut back,
        json!({"type": "join", "nick": "ann", "key": "k1"}),
    )
    .await;
    let welcome = recv(&mut back).await;
    assert_eq!(welcome["members"], json!(["bob", "ann"]));
    let close = closed(&mut ghost).await.expect("a close code");
    assert_eq!(u16::from(close.code), 4001);
    let left = recv_kind(&mut bob, "left").await;
    assert_eq!(left["nick"], "ann");
    assert_eq!(recv_kind(&mut bob, "joined").await["nick"], "ann");
    drop((bob, other, back));
    server.shutdown().await;
}

#[tokio::test]
async fn markup_is_delivered_as_text() {
    let server = start(Config::default()).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    let (mut b, _) = joined(server.addr, "bob").await;
    let evil = r#"<img src=x onerror="alert(1)"> & </script>"#;
    send(&mut a, say(evil)).await;
    let m = recv_kind(&mut b, "message").await;
    assert_eq!(m["text"], evil);
    assert_eq!(m["from"], "ann", "the server says who spoke");
    drop((a, b));
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_limit_gets_1009() {
    let server = start(Config::default()).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    a.send(Message::text("x".repeat(5000))).await.unwrap();
    let close = closed(&mut a).await.expect("a close code");
    assert_eq!(u16::from(close.code), 1009);
    drop(a);
    server.shutdown().await;
}

#[tokio::test]
async fn binary_gets_1003() {
    let server = start(Config::default()).await;
    let mut a = connect(server.addr).await;
    a.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(u16::from(closed(&mut a).await.unwrap().code), 1003);
    drop(a);
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_gets_a_warning_then_1008() {
    let config = Config {
        rate: RateLimit {
            per_second: 0.5,
            burst: 3,
        },
        ..Config::default()
    };
    let server = start(config).await;
    let (mut a, _) = joined(server.addr, "ann").await; // the join took a token
    for i in 0..2 {
        send(&mut a, say(&i.to_string())).await;
        recv_kind(&mut a, "message").await;
    }
    send(&mut a, say("too fast")).await;
    let warning = recv_kind(&mut a, "error").await;
    assert!(
        warning["reason"].as_str().unwrap().contains("too fast"),
        "{warning}"
    );
    send(&mut a, say("again")).await;
    let close = closed(&mut a).await.expect("a close code");
    assert_eq!(u16::from(close.code), 1008);
    drop(a);
    server.shutdown().await;
}

/// A client that joins and then never reads, over a socket with a small
/// receive buffer so its pile-up reaches the server quickly.
async fn sleeper(addr: std::net::SocketAddr, nick: &str) -> common::Client {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut ws, _) = client_async(
        format!("ws://{addr}/ws"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    send(&mut ws, json!({"type": "join", "nick": nick})).await;
    assert_eq!(recv(&mut ws).await["type"], "welcome");
    ws
}

#[tokio::test]
async fn a_reader_that_stops_delays_nobody_and_is_dropped() {
    let config = Config {
        rate: RateLimit {
            per_second: 1e6,
            burst: 1_000_000,
        },
        queue_capacity: 16,
        ..Config::default()
    };
    let server = start(config).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    let sleepy = sleeper(server.addr, "sleepy").await;
    let (mut b, _) = joined(server.addr, "bob").await;
    let reader = tokio::spawn(async move {
        let (mut got, mut got_before_left, mut worst) = (0, None, Duration::ZERO);
        loop {
            let m = recv(&mut b).await;
            match m["type"].as_str() {
                Some("message") if m["text"] == "done" => return (got, got_before_left, worst),
                Some("message") => {
                    got += 1;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64;
                    let late = now.saturating_sub(m["ts"].as_u64().unwrap());
                    worst = worst.max(Duration::from_millis(late));
                }
                Some("left") if m["nick"] == "sleepy" => got_before_left = Some(got),
                _ => {}
            }
        }
    });
    // 3 KB a message (a thousand 3-byte characters), until the sleeper's
    // socket buffers, then its queue, are full and the room drops it.
    let text = "满".repeat(1000);
    let mut sent = 0;
    while server.room.members().iter().any(|n| n == "sleepy") {
        assert!(
            sent < 20_000,
            "the sleeper is still in the room after {sent} messages"
        );
        send(&mut a, say(&text)).await;
        sent += 1;
        // Keep ann's own queue drained, as a live page's would be.
        while let Ok(Some(_)) = timeout(Duration::ZERO, a.next()).await {}
    }
    send(&mut a, say("done")).await;
    let (got, got_before_left, worst) = timeout(WAIT, reader).await.expect("bob keeps up").unwrap();
    assert_eq!(got, sent, "bob got every message");
    let got_before_left = got_before_left.expect("bob was told the sleeper left");
    // While the sleeper's buffers filled up, bob was reading along: the
    // sleeper held nobody back, not even until the room dropped it.
    assert!(
        got_before_left >= sent / 2,
        "bob got {got_before_left} of {sent} first"
    );
    assert!(
        worst < Duration::from_secs(5),
        "bob's worst delay: {worst:?}"
    );
    // Its goodbye (1013) is stuck behind the full buffers until it hangs up.
    drop((a, sleepy));
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_peer_is_dropped_by_the_heartbeat() {
    let config = Config {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let server = start(config).await;
    let (ws, _) = joined(server.addr, "ann").await;
    assert_eq!(server.live.get(), 1);
    // We hold the client and never read: no pong ever goes back.
    timeout(WAIT, server.live.wait_until(0))
        .await
        .expect("dropped");
    assert!(server.room.members().is_empty());
    drop(ws);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_says_1001_to_everybody() {
    let server = start(Config::default()).await;
    let (mut a, _) = joined(server.addr, "ann").await;
    let (mut b, _) = joined(server.addr, "bob").await;
    let mut c = connect(server.addr).await; // not joined yet: told too
    let live = server.live.clone();
    let stopping = tokio::spawn(server.shutdown());
    for ws in [&mut a, &mut b, &mut c] {
        let close = closed(ws).await.expect("a close code");
        assert_eq!(u16::from(close.code), 1001);
    }
    timeout(WAIT, stopping).await.expect("run returns").unwrap();
    assert_eq!(live.get(), 0);
}

#[tokio::test]
async fn the_connection_cap_refuses_with_503() {
    let config = Config {
        max_connections: 2,
        ..Config::default()
    };
    let server = start(config).await;
    let _a = connect(server.addr).await;
    let b = connect(server.addr).await;
    let answer = raw(server.addr, upgrade("").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("the room is full"), "{answer}");
    drop(b);
    timeout(WAIT, server.live.wait_until(1)).await.unwrap();
    let _c = connect(server.addr).await;
    drop((_a, _c));
    server.shutdown().await;
}
