//! Lesson 5's chat through the wiretap: two browsers' worth of clients, the
//! Origin check, a message broadcast to both, and every frame reported on
//! the connection it belongs to.

mod common;

use common::{Events, Running, WAIT, json, tap};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use wiretap::Options;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects through the tap as the chat page would: its Origin is the
/// page's, and the page was loaded from the tap's address.
async fn connect(tap: &Running) -> Client {
    let mut request = format!("ws://{}/ws", tap.addr)
        .into_client_request()
        .unwrap();
    let origin = format!("http://{}", tap.addr).parse().unwrap();
    request.headers_mut().insert("Origin", origin);
    let (ws, _) = timeout(WAIT, connect_async(request))
        .await
        .unwrap()
        .expect("the chat accepts the page's own origin, through the tap too");
    ws
}

async fn send(ws: &mut Client, value: Value) {
    timeout(WAIT, ws.send(Message::text(value.to_string())))
        .await
        .unwrap()
        .unwrap();
}

/// The next chat message of type `kind`.
async fn recv(ws: &mut Client, kind: &str) -> Value {
    loop {
        let message = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == kind {
                return value;
            }
        }
    }
}

async fn join(tap: &Running, nick: &str) -> Client {
    let mut ws = connect(tap).await;
    send(&mut ws, json!({"type": "join", "nick": nick})).await;
    let welcome = recv(&mut ws, "welcome").await;
    assert_eq!(welcome["you"], nick);
    ws
}

#[tokio::test]
async fn the_chat_works_through_the_tap_and_each_frame_is_on_its_connection() {
    let chat = Running::start(|listener, stopped| async move {
        chatroom::run(listener, stopped).await;
    })
    .await;
    let (tap, mut events): (Running, Events) = tap(chat.addr, Options::default()).await;

    let mut ann = join(&tap, "ann").await;
    let mut bob = join(&tap, "bob").await;
    send(
        &mut ann,
        json!({"type": "say", "text": "hello through the tap"}),
    )
    .await;
    for ws in [&mut ann, &mut bob] {
        let message = recv(ws, "message").await;
        assert_eq!(
            (&message["from"], &message["text"]),
            (&json!("ann"), &json!("hello through the tap"))
        );
    }
    for mut ws in [ann, bob] {
        timeout(WAIT, ws.close(None)).await.unwrap().unwrap();
        // Until the server's answer and its end of the stream.
        let _ = timeout(WAIT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }

    let events = json(&events.until_ended(2).await);
    let texts = |conn: u64, direction: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["conn"] == conn && e["kind"] == "frame" && e["direction"] == direction)
            .filter_map(|e| serde_json::from_str(e["text"].as_str()?).ok())
            .collect()
    };
    // Connection 1 is ann's: her join and her message went up it...
    let up: Vec<Value> = texts(1, "client->server")
        .iter()
        .map(|v| v["type"].clone())
        .collect();
    assert_eq!(up, [json!("join"), json!("say")]);
    // ...and her welcome, bob's arrival and her own message came down it.
    let down = texts(1, "server->client");
    assert_eq!(down[0]["you"], "ann");
    assert!(
        down.iter()
            .any(|v| v["type"] == "joined" && v["nick"] == "bob")
    );
    assert!(
        down.iter()
            .any(|v| v["type"] == "message" && v["text"] == "hello through the tap")
    );
    // Connection 2 is bob's: a join and no message of his own.
    assert_eq!(texts(2, "client->server").len(), 1);
    assert_eq!(texts(2, "server->client")[0]["you"], "bob");
    // Both closed with a close handshake the tap saw go by.
    for conn in [1, 2] {
        let steps: Vec<&str> = events
            .iter()
            .filter(|e| e["conn"] == conn && e["opcode"] == 8)
            .filter_map(|e| e["close_step"].as_str())
            .collect();
        assert_eq!(steps, ["starts", "answers"], "connection {conn}");
    }
    tap.stop().await;
    chat.stop().await;
}
