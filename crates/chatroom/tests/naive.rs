//! The lock-and-write room (`chatroom::naive`) against one member that
//! stops reading: the room freezes for everybody, and stays frozen for as
//! long as that member's connection lives. `room.rs` runs the same scene
//! against the real room, which drops the sleeper and delays nobody.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, client_async, connect_async};

use chatroom::naive::{NaiveRoom, serve};

/// How long the listener must get nothing while messages are still owed
/// to it before we call the room frozen.
const STILL: Duration = Duration::from_secs(2);

/// Messages the talker sends: 3 KB each, 12 MB in all, far more than the
/// kernel's buffers between the server and a member that does not read.
const MESSAGES: usize = 4_000;

#[tokio::test]
async fn one_reader_that_stops_freezes_a_lock_and_write_room() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, Arc::new(NaiveRoom::default())));
    let url = format!("ws://{addr}/");

    // The sleeper: a small receive buffer, and it never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (sleeper, _) = client_async(url.as_str(), MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    let (mut listener_ws, _) = connect_async(url.as_str()).await.unwrap();
    let (talker, _) = connect_async(url.as_str()).await.unwrap();
    // Every member is in the room before the first word.
    sleep(Duration::from_millis(200)).await;

    let (sent, got) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let talking = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let (mut write, mut read) = talker.split();
            // The talker hears its own messages too; it reads them so that
            // only the sleeper is not reading.
            tokio::spawn(async move { while read.next().await.is_some() {} });
            let text = "满".repeat(1000);
            for _ in 0..MESSAGES {
                if write.send(Message::text(text.as_str())).await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let listening = {
        let got = got.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = listener_ws.next().await {
                if message.is_text() {
                    got.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // Watch the listener: it must stop getting messages while the talker
    // has sent more than it got.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut last, mut since) = (0, Instant::now());
    let frozen_at = loop {
        sleep(Duration::from_millis(100)).await;
        let (s, g) = (sent.load(Ordering::Relaxed), got.load(Ordering::Relaxed));
        assert!(
            g < MESSAGES,
            "the listener got all {MESSAGES} messages: the room never froze"
        );
        assert!(
            Instant::now() < deadline,
            "no freeze within a minute: sent {s}, got {g}"
        );
        if g != last {
            (last, since) = (g, Instant::now());
        } else if since.elapsed() >= STILL && s > g {
            break g;
        }
    };
    assert!(
        frozen_at > 0,
        "the listener got nothing at all: the test is broken"
    );

    // The freeze lasts as long as the sleeper's connection: when it goes,
    // the write to it fails, and the room moves on.
    drop(sleeper);
    timeout(Duration::from_secs(60), talking)
        .await
        .expect("the talker finishes once the sleeper is gone")
        .unwrap();
    timeout(Duration::from_secs(60), async {
        while got.load(Ordering::Relaxed) < MESSAGES {
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the listener gets the rest once the sleeper is gone");
    listening.abort();
    eprintln!("the room froze after {frozen_at} of {MESSAGES} messages");
}
