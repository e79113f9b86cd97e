//! The WebSocket transport: after lesson 5's gate and 101, one
//! loop per connection sends every event after the client's cursor, keeps
//! the heartbeat, and says 1001 when the server stops.

use std::net::SocketAddr;
use std::time::Duration;

use chatroom::{Slot, WebSocket};
use futures_util::{SinkExt, StreamExt};
use push::{End, goodbye};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::log::{Event, news};
use crate::poll::Shared;

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
            () = shared.stopping.cancelled() => break End::SHUTTING_DOWN,
            () = &mut silence => break End::Silent(limits.pong_timeout),
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Close(close))) => break End::PeerClosed(close),
                // Pongs, and anything else the page says: proof of life.
                // This feed does not listen to its clients.
                Some(Ok(_)) => silence.as_mut().reset(Instant::now() + limits.pong_timeout),
                Some(Err(e)) => break push::failed(e),
                None => break End::Lost(None),
            },
            _ = pings.tick() => {
                if let Err(end) = write(&mut ws, vec![Message::Ping(Default::default())], limits.write_timeout).await {
                    break end;
                }
            }
            () = news(&mut head, cursor) => {}
        }
    };
    tracing::debug!(%peer, "WebSocket ends: {end}");
    goodbye(ws, &end, limits.close_timeout).await;
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
        Ok(Err(e)) => Err(End::Lost(Some(e))),
        Err(_) => Err(End::Stuck),
    }
}
