//! What the chat tests share: a server on port 0, clients, and waits that
//! are always bounded.

#![allow(dead_code)] // each test file uses its own part of this

mod page;
pub use page::*;

use std::net::SocketAddr;
use std::time::Duration;

use chatroom::{Config, Room, Server};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use support::LiveConnections;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// Every wait in these tests: long enough for a loaded machine, short
/// enough that a hang fails instead of blocking CI.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Running {
    pub addr: SocketAddr,
    pub live: LiveConnections,
    pub room: Arc<Room>,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
}

impl Running {
    /// Stops the server the way Ctrl-C does, and waits for `run` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(WAIT, &mut self.task)
            .await
            .expect("the server stops within the wait")
            .expect("the server task does not panic");
    }
}

pub async fn start(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The room made here, not by the server, so that tests can look in.
    let room = Room::new(push::new_boot(), config.queue_capacity);
    let server = Server::with_hall(listener, config, room.clone());
    let live = server.live_connections();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        live,
        room,
        stop: Some(stop),
        task,
    }
}

/// Reads until the server's Close, and returns it; then reads on until
/// the end, which sends tungstenite's answering Close.
pub async fn closed(ws: &mut Client) -> Option<CloseFrame> {
    loop {
        match timeout(WAIT, ws.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(frame))) => {
                let _ = timeout(WAIT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
                return frame;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a Close, got {other:?}"),
        }
    }
}

/// Connects and joins as `nick`; returns the client and its welcome.
pub async fn joined(addr: SocketAddr, nick: &str) -> (Client, Value) {
    let mut ws = connect(addr).await;
    send(&mut ws, json!({"type": "join", "nick": nick})).await;
    let welcome = recv(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}

/// Sends raw bytes and reads the answer: until the server closes, or to
/// the end of the head of a 101 (after which the socket stays open).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            answer.extend_from_slice(&chunk[..n]);
            if n == 0 || complete(&answer) {
                return;
            }
        }
    };
    timeout(WAIT, reading)
        .await
        .expect("the server answers in time");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Is this a whole response: a 101's head, or a head and as much body as
/// its `Content-Length` says? (A keep-alive connection does not close.)
fn complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    if head.starts_with("http/1.1 101") {
        return true;
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|length| answer.len() >= end + 4 + length)
}

/// An upgrade request with `extra` header lines (each ending in CRLF).
pub fn upgrade(extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// The rows of the chapter's table: requests that lesson 1 refuses and
/// warp's `ws()` alone does not, by name. `upgrade.rs`
/// checks our answers to them, `warp_alone.rs` warp's.
pub fn table_rows() -> Vec<(&'static str, String)> {
    let good = upgrade("");
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    vec![
        ("a key of 10 bytes", good.replace(key, "dGhlIHNhbXBsZQ==")),
        (
            "a key that is not base64",
            good.replace(key, "not base64 at all!!!!!!!"),
        ),
        ("HTTP/1.0", good.replace("HTTP/1.1", "HTTP/1.0")),
        ("no Host", good.replace("Host: 127.0.0.1\r\n", "")),
        ("version 8", good.replace("Version: 13", "Version: 8")),
        (
            "a plain GET",
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".into(),
        ),
        (
            "a foreign Origin",
            upgrade("Origin: http://evil.example\r\n"),
        ),
        (
            "a 9 KiB head",
            upgrade(&format!("X-Padding: {}\r\n", "a".repeat(9 * 1024))),
        ),
    ]
}
