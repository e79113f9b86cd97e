//! A page's side of the chat protocol, for tests: connect, send JSON, read
//! JSON. Shared by lesson 5's tests and lesson 8's (which include this
//! file by its path); each says how long a wait may be (`WAIT`).

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::WAIT;

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn connect(addr: SocketAddr) -> Client {
    let (ws, _) = timeout(WAIT, connect_async(format!("ws://{addr}/ws")))
        .await
        .expect("connected in time")
        .expect("upgrade accepted");
    ws
}

pub async fn send(ws: &mut Client, value: Value) {
    timeout(WAIT, ws.send(Message::text(value.to_string())))
        .await
        .expect("sent in time")
        .expect("sent");
}

/// The next JSON message, or the server's Close; pings and pongs are
/// skipped (tungstenite answers pings as we read).
pub async fn next(ws: &mut Client) -> Result<Value, Option<CloseFrame>> {
    loop {
        let message = timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("no error");
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Message::Close(frame) => return Err(frame),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next JSON message; a Close fails the test.
pub async fn recv(ws: &mut Client) -> Value {
    next(ws).await.expect("a message, not a Close")
}

/// The next message of type `kind`, skipping others.
pub async fn recv_kind(ws: &mut Client, kind: &str) -> Value {
    loop {
        let value = recv(ws).await;
        if value["type"] == kind {
            return value;
        }
    }
}

pub fn say(text: &str) -> Value {
    json!({"type": "say", "text": text})
}
