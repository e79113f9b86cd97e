//! Broadcast servers on 127.0.0.1:0, on tokio-tungstenite: a plain relay
//! (every text to every other connection, as tokio-tungstenite's
//! `examples/server.rs` does) and a small chat room speaking lesson 5's JSON
//! (join, welcome, presence events, `say` to everybody, the sender
//! included). Each can get one thing wrong on purpose, for one connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use loadgen::Target;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// What the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Text relayed as-is to every other connection.
    Plain,
    /// Lesson 5's chat room protocol.
    Chat,
}

/// One mistake, made on the way to connection number `peer` (in accept
/// order), at the `nth` chat message it is sent (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every message to everybody.
    None,
    /// The `nth` message to `peer` is never sent.
    Drop { peer: usize, nth: usize },
    /// The `nth` message to `peer` is sent twice.
    Duplicate { peer: usize, nth: usize },
    /// `peer` gets the `nth` message after the one that follows it.
    Swap { peer: usize, nth: usize },
    /// (Chat) the join of connection `peer` is refused.
    RefuseJoin { peer: usize },
}

/// A running relay; stops when dropped.
pub struct Relay {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// `ws://127.0.0.1:PORT/ws`.
    pub fn target(&self) -> Target {
        Target::parse(&format!("ws://{}/ws", self.addr)).unwrap()
    }
}

struct Peer {
    index: usize,
    /// Chat: `Some` once joined.
    nick: Option<String>,
    tx: mpsc::UnboundedSender<String>,
}

#[derive(Default)]
struct Room {
    peers: Vec<Peer>,
    seq: u64,
    accepted: usize,
}

type Shared = Arc<Mutex<Room>>;

/// Starts a relay of `style` that makes `fault`.
pub async fn start_relay(style: Style, fault: Fault) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let room: Shared = Arc::default();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, style, fault, Arc::clone(&room)));
        }
    });
    Relay { addr, task }
}

async fn serve(stream: TcpStream, style: Style, fault: Fault, room: Shared) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let index = {
        let mut room = room.lock().unwrap();
        room.accepted += 1;
        let index = room.accepted - 1;
        room.peers.push(Peer {
            index,
            nick: None,
            tx: tx.clone(),
        });
        index
    };

    // The writer: everything for this connection, through the fault.
    let writer = tokio::spawn(async move {
        let mut chats = 0;
        let mut held: Option<String> = None;
        while let Some(text) = rx.recv().await {
            let is_chat = style == Style::Plain || text.starts_with(r#"{"type":"message""#);
            let nth = chats;
            if is_chat {
                chats += 1;
            }
            let mut out = vec![text];
            if is_chat {
                match fault {
                    Fault::Drop { peer, nth: n } if peer == index && n == nth => out.clear(),
                    Fault::Duplicate { peer, nth: n } if peer == index && n == nth => {
                        out.push(out[0].clone());
                    }
                    Fault::Swap { peer, nth: n } if peer == index && n == nth => {
                        held = out.pop();
                    }
                    Fault::Swap { peer, nth: n } if peer == index && n + 1 == nth => {
                        out.extend(held.take());
                    }
                    _ => {}
                }
            }
            for text in out {
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
        }
    });

    // tungstenite answers pings and the closing handshake by itself; the
    // stream ends after the close.
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let mut room = room.lock().unwrap();
        match style {
            Style::Plain => {
                for peer in room.peers.iter().filter(|p| p.index != index) {
                    let _ = peer.tx.send(text.to_string());
                }
            }
            Style::Chat => chat(&mut room, index, &text, fault),
        }
    }

    {
        let mut room = room.lock().unwrap();
        let at = room.peers.iter().position(|p| p.index == index).unwrap();
        let gone = room.peers.remove(at);
        if let Some(nick) = gone.nick {
            let left = event(&mut room, "left", &nick);
            broadcast(&room, &left);
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// The chat room's rules, under the room's lock, so that every member gets
/// every event in one order.
fn chat(room: &mut Room, index: usize, text: &str, fault: Fault) {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let at = room.peers.iter().position(|p| p.index == index).unwrap();
    match (message["type"].as_str(), &room.peers[at].nick) {
        (Some("join"), None) => {
            let nick = message["nick"].as_str().unwrap_or_default().to_owned();
            if fault == (Fault::RefuseJoin { peer: index }) {
                let refusal = serde_json::json!({"type": "error", "reason": "no"});
                let _ = room.peers[at].tx.send(refusal.to_string());
                return;
            }
            room.peers[at].nick = Some(nick.clone());
            let members: Vec<_> = room.peers.iter().filter_map(|p| p.nick.clone()).collect();
            let welcome = serde_json::json!({
                "type": "welcome", "you": nick, "boot": "test",
                "members": members, "history": [],
            });
            let _ = room.peers[at].tx.send(welcome.to_string());
            let joined = event(room, "joined", &nick);
            broadcast(room, &joined);
        }
        (Some("say"), Some(from)) => {
            let from = from.clone();
            room.seq += 1;
            // Field order as lesson 5's serde writes it.
            let said = format!(
                r#"{{"type":"message","seq":{},"from":"{from}","text":{},"ts":0}}"#,
                room.seq, message["text"]
            );
            broadcast(room, &said);
        }
        _ => {}
    }
}

fn event(room: &mut Room, kind: &str, nick: &str) -> String {
    room.seq += 1;
    let online = room.peers.iter().filter(|p| p.nick.is_some()).count();
    serde_json::json!({"type": kind, "seq": room.seq, "nick": nick, "online": online, "ts": 0})
        .to_string()
}

/// To every member (chat: joined ones), the sender included.
fn broadcast(room: &Room, text: &str) {
    for peer in room.peers.iter().filter(|p| p.nick.is_some()) {
        let _ = peer.tx.send(text.to_owned());
    }
}
