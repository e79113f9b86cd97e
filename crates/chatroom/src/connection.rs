//! One WebSocket, after the 101: what the page says goes to the room, what
//! the room says goes to the page, a heartbeat finds a page that has gone,
//! and every way of ending has its close code.

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use frame::CloseCode;
use futures_util::{SinkExt, StreamExt};
use push::{End, goodbye};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::defences::flood::{Flood, Verdict, one_token};
use crate::defences::upgrade::{Slot, WebSocket};
use crate::hall::{Hall, Since};
use crate::protocol::{ClientMessage, ServerMessage, check_text};
use crate::room::{JoinError, Membership};

/// How many queued events one write may carry: they go out in one flush,
/// so a page that fell a little behind catches up in one system call
/// instead of forty.
const BATCH: usize = 32;

// ANCHOR: end
/// A page that sent a message again too soon after a warning: 1008, policy
/// violation. The page says so and does not reconnect by itself.
pub const FLOOD: End = End::Closing(
    CloseCode::POLICY,
    Cow::Borrowed("too many messages: slow down"),
);

/// A page whose queue filled up (it was not reading) and that the room let
/// go of: 1013, try again later. The page reconnects and gets the history.
pub const TOO_SLOW: End = End::Closing(
    CloseCode::TRY_AGAIN_LATER,
    Cow::Borrowed("you fell too far behind: reconnect"),
);

/// 4000-4999 are codes for applications to define (RFC 6455 §7.4.2). Ours:
/// a newer connection joined with this page's name and key (the same page,
/// back), and the page does not reconnect by itself.
pub const REPLACED: CloseCode = CloseCode::new(4001);

/// The page stayed in the doorway for the join timeout without joining;
/// the slot is wanted by somebody who will. The page reconnects quietly
/// once a name is chosen.
pub const NEVER_JOINED: CloseCode = CloseCode::new(4002);
// ANCHOR_END: end

fn replaced() -> End {
    End::Closing(
        REPLACED,
        "your name was taken over by a newer connection".into(),
    )
}

/// The room could not be reached: 1013, try again later. The page shows
/// that it is reconnecting, and does.
fn unavailable(e: &crate::hall::Unavailable) -> End {
    End::Closing(CloseCode::TRY_AGAIN_LATER, e.to_string().into())
}

fn never_joined() -> End {
    End::Closing(
        NEVER_JOINED,
        "join the room sooner: reconnect when you have a name".into(),
    )
}

/// What every connection shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) room: Arc<dyn Hall>,
    pub(crate) config: Arc<Config>,
    pub(crate) stopping: CancellationToken,
}

// ANCHOR: serve
/// One WebSocket from its 101 to its end. `slot` is given back when we
/// return, which is what the connection cap counts.
pub(crate) async fn serve(mut ws: WebSocket, peer: SocketAddr, slot: Slot, shared: Shared) {
    let _slot = slot;
    tracing::info!(%peer, "WebSocket open");
    let mut conn = Connection {
        shared: &shared,
        peer,
        member: None,
        flood: Flood::new(shared.config.rate, Instant::now()),
    };
    let mut end = conn.run(&mut ws).await;
    // A write cut short by the room letting go of us says "too slow"; the
    // room also lets go of a member whose name was taken over, and that is
    // not the same ending at all.
    if let (End::Closing(CloseCode::TRY_AGAIN_LATER, _), Some(member)) = (&end, &conn.member)
        && member.replaced.is_cancelled()
    {
        end = replaced();
    }
    // Out of the room first, so the others hear of it now, not after our
    // close handshake.
    if let Some(member) = conn.member.take() {
        shared.room.leave(member.id).await;
    }
    tracing::info!(%peer, "closing: {end}");
    goodbye(ws, &end, shared.config.close_timeout).await;
}
// ANCHOR_END: serve

struct Connection<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    /// `None` until a join succeeds.
    member: Option<Membership>,
    flood: Flood,
}

/// What the room has for us next.
enum FromRoom {
    Event(Utf8Bytes),
    Dropped,
    Replaced,
    Unavailable,
}

impl Connection<'_> {
    // ANCHOR: run
    /// The connection's one loop. One task owns the socket: the room never
    /// writes to it, it only fills our queue.
    async fn run(&mut self, ws: &mut WebSocket) -> End {
        // Copied out of `self`, so that borrowing them does not borrow `self`.
        let shared = self.shared;
        let config = &shared.config;
        let mut pings = interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pinged = 0u64;
        // The heartbeat's deadline: anything from the page pushes it back.
        let silence = sleep(config.pong_timeout);
        tokio::pin!(silence);
        // A page holds a slot from its 101; one that never joins gives it
        // up after the join timeout.
        let doorway = sleep(config.join_timeout);
        tokio::pin!(doorway);
        loop {
            tokio::select! {
                // Shutdown and the deadline first; then what the page says
                // (its pong must not lose a race with our next write); then
                // what we send.
                biased;
                () = shared.stopping.cancelled() => return End::SHUTTING_DOWN,
                () = &mut silence => return End::Silent(config.pong_timeout),
                () = &mut doorway, if self.member.is_none() => return never_joined(),
                incoming = ws.next() => {
                    silence.as_mut().reset(Instant::now() + config.pong_timeout);
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => return push::failed(e),
                        None => return End::Lost(None),
                    };
                    if let Err(end) = self.received(ws, message).await {
                        return end;
                    }
                }
                _ = pings.tick() => {
                    pinged += 1;
                    let ping = Message::Ping(pinged.to_be_bytes().to_vec().into());
                    if let Err(end) = bounded(config, self.member.as_ref(), ws.send(ping)).await {
                        return end;
                    }
                }
                next = from_room(&mut self.member) => match (next, &mut self.member) {
                    (FromRoom::Event(first), Some(member)) => {
                        let dropped = member.dropped.clone();
                        let written = deliver(ws, first, &mut member.queue);
                        if let Err(end) = bounded_by(config, Some(&dropped), written).await {
                            return end;
                        }
                    }
                    (FromRoom::Replaced, _) => return replaced(),
                    (FromRoom::Unavailable, _) => return unavailable(
                        &crate::hall::Unavailable("this server cannot follow the room just now; reconnect shortly".into()),
                    ),
                    (FromRoom::Event(_), None) | (FromRoom::Dropped, _) => return TOO_SLOW,
                },
            }
        }
    }
    // ANCHOR_END: run

    // ANCHOR: received
    /// Handles one message from the page.
    async fn received(&mut self, ws: &mut WebSocket, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(close) => return Err(End::PeerClosed(close)),
            // Proof of life, already counted; tungstenite answers pings.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            // Only met when writing raw frames, never when reading.
            Message::Frame(_) => return Ok(()),
            Message::Binary(_) => {
                let why = "this room speaks JSON text frames".into();
                return Err(End::Failed(CloseCode::UNSUPPORTED, why));
            }
        };
        match self.flood.check(Instant::now()) {
            Verdict::Pass => {}
            Verdict::Warn => {
                let wait = one_token(self.shared.config.rate);
                let warning = format!(
                    "too fast: that message was dropped. Wait {wait:?} between messages; \
                     the next one too soon closes the connection"
                );
                return self.reply(ws, ServerMessage::error(warning)).await;
            }
            Verdict::Kick => return Err(FLOOD),
        }
        let answer = match serde_json::from_str::<ClientMessage>(&text) {
            Err(e) => Some(ServerMessage::error(format!(
                "not a message of this room: {e}"
            ))),
            Ok(ClientMessage::Join {
                nick,
                key,
                since,
                boot,
            }) => {
                let since = since.zip(boot).map(|(seq, boot)| Since { boot, seq });
                self.join(&nick, key.as_deref(), since).await?
            }
            Ok(ClientMessage::Say { text }) => match (&self.member, check_text(&text)) {
                (None, _) => Some(ServerMessage::error("join the room first")),
                (Some(_), Err(why)) => Some(ServerMessage::error(why)),
                (Some(member), Ok(())) => {
                    if let Err(e) = self.shared.room.say(member.id, &text).await {
                        return Err(unavailable(&e));
                    }
                    None
                }
            },
        };
        match answer {
            Some(answer) => self.reply(ws, answer).await,
            None => Ok(()),
        }
    }
    // ANCHOR_END: received

    /// Joins the room, or says why not. A room that cannot be reached
    /// ends the connection with 1013: the page comes back later.
    async fn join(
        &mut self,
        nick: &str,
        key: Option<&str>,
        since: Option<Since>,
    ) -> Result<Option<ServerMessage>, End> {
        if let Some(member) = &self.member {
            let already = format!("you are already in the room as {:?}", member.nick);
            return Ok(Some(ServerMessage::error(already)));
        }
        match self.shared.room.join(nick, key, since).await {
            Ok(member) => {
                tracing::info!(peer = %self.peer, nick = member.nick, "joined");
                // The welcome is the first thing in the queue.
                self.member = Some(member);
                Ok(None)
            }
            Err(JoinError::Unavailable(e)) => Err(unavailable(&e)),
            Err(e) => Ok(Some(ServerMessage::error(e))),
        }
    }

    /// Sends an answer meant for this page only.
    async fn reply(&self, ws: &mut WebSocket, answer: ServerMessage) -> Result<(), End> {
        let answer = ws.send(Message::text(answer.to_json()));
        bounded(&self.shared.config, self.member.as_ref(), answer).await
    }
}

/// [`bounded_by`] the member's "dropped" signal, if it has joined.
async fn bounded(
    config: &Config,
    member: Option<&Membership>,
    write: impl Future<Output = Result<(), tungstenite::Error>>,
) -> Result<(), End> {
    bounded_by(config, member.map(|m| &m.dropped), write).await
}

// ANCHOR: write
/// Runs one write to the page, bounded: by the write timeout, and by the
/// room dropping us meanwhile (a write that waits is a page that is not
/// reading, whose queue is filling up).
async fn bounded_by(
    config: &Config,
    dropped: Option<&CancellationToken>,
    write: impl Future<Output = Result<(), tungstenite::Error>>,
) -> Result<(), End> {
    let dropped = async {
        match dropped {
            Some(dropped) => dropped.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        written = timeout(config.write_timeout, write) => match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Lost(Some(e))),
            Err(_elapsed) => Err(End::Stuck),
        },
        () = dropped => Err(TOO_SLOW),
    }
}
// ANCHOR_END: write

/// The next event from the room, or the news that it dropped us; never
/// completes before we have joined.
async fn from_room(member: &mut Option<Membership>) -> FromRoom {
    let Some(member) = member else {
        return std::future::pending().await;
    };
    tokio::select! {
        biased;
        () = member.replaced.cancelled() => FromRoom::Replaced,
        () = member.unavailable.cancelled() => FromRoom::Unavailable,
        () = member.dropped.cancelled() => FromRoom::Dropped,
        event = member.queue.recv() => match event {
            Some(frame) => FromRoom::Event(frame),
            // Only the room holds our sender, and it lets go of it only
            // when it drops us.
            None => FromRoom::Dropped,
        },
    }
}

// ANCHOR: deliver
/// Writes `first` and whatever else is already queued (up to [`BATCH`]),
/// then flushes once.
async fn deliver(
    ws: &mut WebSocket,
    first: Utf8Bytes,
    queue: &mut mpsc::Receiver<Utf8Bytes>,
) -> Result<(), tungstenite::Error> {
    // Each event is tungstenite's `Utf8Bytes`, shared bytes: every page's message points at the one
    // copy the room serialised.
    ws.feed(Message::Text(first)).await?;
    for _ in 1..BATCH {
        let Ok(frame) = queue.try_recv() else { break };
        ws.feed(Message::Text(frame)).await?;
    }
    ws.flush().await
}
// ANCHOR_END: deliver
