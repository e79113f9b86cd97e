//! The WebSocket transport: after lesson 5's gate and 101, one
//! loop per connection sends every event after the client's cursor, keeps
//! the heartbeat, and says 1001 when the server stops.

use std::net::SocketAddr;
use std::time::Duration;

use chatroom::{Slot, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

use crate::log::{Event, news};
use crate::poll::Shared;

/// Why a WebSocket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The page sent a Close; tungstenite has queued our answer.
    PeerClosed,
    /// The server is stopping: we send 1001, going away.
    ShuttingDown,
    /// Nothing from the page, not even a pong, for the pong timeout.
    Silent,
    /// A write did not finish within the write timeout.
    Stuck,
    /// TCP ended or broke without a close handshake.
    Lost,
}

// ANCHOR: serve
/// One WebSocket, from its 101 to its end: every event after `cursor`, in
/// order, one text message each. `slot` (lesson 5's) is given back when we
/// return, and the connection cap and the gauge count it.
pub(crate) async fn serve(
    mut ws: WebSocket,
    peer: SocketAddr,
    slot: Slot,
    mut cursor: u64,
    shared: Shared,
) {
    let _slot = slot;
    let config = &shared.config;
    let limits = &config.limits;
    let mut head = shared.log.subscribe();
    let mut pings = interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Lesson 4's heartbeat: anything from the page pushes the deadline back.
    let silence = sleep(limits.pong_timeout);
    tokio::pin!(silence);
    let end = loop {
        // First, everything the log has for us; then wait for more.
        let messages = match shared.log.read(cursor, config.max_batch) {
            Ok(events) => {
                cursor = events.last().map_or(cursor, |e| e.seq);
                events.iter().map(text).collect()
            }
            Err(gap) => {
                cursor = gap.resume();
                vec![Message::text(gap.to_json())]
            }
        };
        if !messages.is_empty() {
            if let Err(end) = write(&mut ws, messages, limits.write_timeout).await {
                break end;
            }
            continue;
        }
        tokio::select! {
            // Shutdown and the deadline first, then what the page says.
            biased;
            () = shared.stopping.cancelled() => break End::ShuttingDown,
            () = &mut silence => break End::Silent,
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Close(_))) => break End::PeerClosed,
                // Pongs, and anything else the page says: proof of life.
                // This feed does not listen to its clients.
                Some(Ok(_)) => silence.as_mut().reset(Instant::now() + limits.pong_timeout),
                Some(Err(_)) | None => break End::Lost,
            },
            _ = pings.tick() => {
                if let Err(end) = write(&mut ws, vec![Message::Ping(Default::default())], limits.write_timeout).await {
                    break end;
                }
            }
            () = news(&mut head, cursor) => {}
        }
    };
    tracing::debug!(%peer, "WebSocket ends: {end:?}");
    if end == End::ShuttingDown {
        goodbye(ws, limits.close_timeout).await;
    }
}
// ANCHOR_END: serve

/// An event as a text message, sharing the log's bytes: no copy per
/// client. serde wrote them, so they are UTF-8 and the check passes.
fn text(event: &Event) -> Message {
    match Utf8Bytes::try_from(event.json.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::text(String::from_utf8_lossy(&event.json).into_owned()),
    }
}

/// Writes `messages` with one flush at the end: a batch of events goes out
/// in as few system calls as the socket allows.
async fn write(ws: &mut WebSocket, messages: Vec<Message>, limit: Duration) -> Result<(), End> {
    let written = async {
        for message in messages {
            ws.feed(message).await?;
        }
        ws.flush().await
    };
    match timeout(limit, written).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Lost),
        Err(_) => Err(End::Stuck),
    }
}

/// RFC 6455 §7.4.1: 1001, "going away", such as a server going down; then
/// we wait a moment for the page's Close so that the handshake completes.
async fn goodbye(mut ws: WebSocket, within: Duration) {
    let closing = async {
        let bye = CloseFrame {
            code: 1001.into(),
            reason: "server shutting down".into(),
        };
        ws.send(Message::Close(Some(bye))).await?;
        while ws.next().await.transpose()?.is_some() {}
        Ok::<(), tungstenite::Error>(())
    };
    let _ = timeout(within, closing).await;
}
