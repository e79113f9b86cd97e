//! The naive room: every member's socket behind one lock, and a broadcast
//! that writes to each of them in turn while it holds the lock. It is the
//! Go chat server's design, written in Rust, and it is here to be measured,
//! not used: one member that stops reading freezes the whole room (the
//! test `naive.rs` shows it). The [`Room`](crate::Room) is the design that
//! does not freeze.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Writer = futures_util::stream::SplitSink<WebSocketStream<TcpStream>, Message>;

// ANCHOR: naive
/// Every member's writing half, behind one lock.
#[derive(Default)]
pub struct NaiveRoom {
    members: Mutex<Vec<Writer>>,
}

impl NaiveRoom {
    /// Sends `text` to every member, one after the other, holding the lock
    /// until the last write is done. A write waits while its peer's TCP
    /// window is full, and everybody else's broadcast waits for the lock.
    pub async fn broadcast(&self, text: &str) {
        let mut members = self.members.lock().await;
        for member in members.iter_mut() {
            // A failed write (the peer is gone) is ignored, as in the Go
            // demo: the member stays in the list.
            let _ = member.send(Message::text(text)).await;
        }
    }
}

/// Accepts connections forever: each becomes a member, and every text
/// message it sends is broadcast to all.
pub async fn serve(listener: TcpListener, room: std::sync::Arc<NaiveRoom>) {
    while let Ok((stream, _)) = listener.accept().await {
        let room = room.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (writer, mut reader) = ws.split();
            room.members.lock().await.push(writer);
            while let Some(Ok(Message::Text(text))) = reader.next().await {
                room.broadcast(&text).await;
            }
        });
    }
}
// ANCHOR_END: naive
