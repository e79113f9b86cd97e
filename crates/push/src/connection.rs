//! One WebSocket connection, after the 101: phrases and pings go out,
//! anything that comes in proves the peer is alive, and a deadline ends a
//! peer that has gone quiet.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use frame::CloseCode;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes, error::ProtocolError};
use tokio_util::sync::CancellationToken;

use crate::config::Config;

type Ws = WebSocketStream<TcpStream>;

// ANCHOR: end
/// Why a connection ended, and so how it says goodbye ([`goodbye`]). Every
/// server from here on ends its WebSockets with this one type.
#[derive(Debug)]
pub enum End {
    /// The peer sent a Close; tungstenite has queued our answer, the same
    /// code back (RFC 6455 §5.5.1).
    PeerClosed(Option<CloseFrame>),
    /// We close, with this code and reason, and wait for the peer's answer:
    /// the server going away (1001, [`End::SHUTTING_DOWN`]), or a policy of
    /// the application (1008, 1013, 4000-4999).
    Closing(CloseCode, Cow<'static, str>),
    /// The peer broke a rule; we fail the connection with this code (1002,
    /// 1003, 1007, 1009) and read nothing more (§7.1.7).
    Failed(CloseCode, String),
    /// Nothing came from the peer for this long, not even a pong: it is gone
    /// (crashed, unplugged, asleep, behind a NAT that forgot it), or too
    /// slow to be worth waiting for. Dropped without a Close.
    Silent(Duration),
    /// A write did not finish in time: every buffer on the way is full, and
    /// a Close could not get through either. Dropped.
    Stuck,
    /// TCP ended or broke without a close handshake: what RFC 6455 calls
    /// 1006, a code that is only ever reported, never sent.
    Lost(Option<Error>),
}
// ANCHOR_END: end

impl End {
    /// The server is shutting down: 1001, going away (RFC 6455 §7.4.1).
    pub const SHUTTING_DOWN: End =
        End::Closing(CloseCode::GOING_AWAY, Cow::Borrowed("server shutting down"));
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::PeerClosed(Some(close)) if close.reason.is_empty() => {
                write!(f, "the peer closed with {}", u16::from(close.code))
            }
            End::PeerClosed(Some(close)) => write!(
                f,
                "the peer closed with {} {:?}",
                u16::from(close.code),
                close.reason.as_str()
            ),
            End::PeerClosed(None) => write!(f, "the peer closed without a code"),
            End::Closing(code, reason) => write!(f, "{reason}: closing with {code}"),
            End::Failed(code, why) => write!(f, "{why}: failing with {code}"),
            End::Silent(after) => write!(
                f,
                "nothing from the peer for {after:?}, not even a pong: dropped"
            ),
            End::Stuck => write!(f, "a write did not finish in time: dropped"),
            End::Lost(None) => write!(f, "connection lost without a close handshake"),
            End::Lost(Some(e)) => write!(f, "connection lost without a close handshake: {e}"),
        }
    }
}

// ANCHOR: upgraded
/// Takes over a stream whose handshake lesson 1 has completed: `early` is
/// what the client sent behind its request, and is read before the socket.
pub(crate) async fn upgraded(stream: TcpStream, early: &[u8], config: &Config) -> Ws {
    WebSocketStream::from_partially_read(
        stream,
        early.to_vec(),
        Role::Server,
        Some(config.websocket()),
    )
    .await
}
// ANCHOR_END: upgraded

// ANCHOR: pump
/// Pushes the feed to one peer, pings it, and listens to it, until the
/// connection ends; returns why.
///
/// One task owns the socket and runs this one loop: no lock, no second
/// writer. Every branch of the `select!` can be dropped half-way without
/// losing anything (a half-read frame stays inside `ws`, a phrase stays in
/// the channel, the timers are re-armed, not restarted), which is what makes
/// it correct to race them.
pub(crate) async fn pump(
    ws: &mut Ws,
    feed: &mut broadcast::Receiver<Utf8Bytes>,
    config: &Config,
    stopping: &CancellationToken,
    peer: SocketAddr,
) -> End {
    let mut pings = Pings::new(config.ping_interval);
    // The heartbeat's deadline: when we last heard from the peer, plus the
    // pong timeout. Every frame that comes in pushes it back.
    let silence = sleep(config.pong_timeout);
    tokio::pin!(silence);
    loop {
        let deadline = silence.deadline();
        tokio::select! {
            // In this order when several are ready: shutdown and the
            // deadline first, then what the peer says (a pong must not
            // lose a race with our next push), then our own sending.
            biased;
            () = stopping.cancelled() => return End::SHUTTING_DOWN,
            () = &mut silence => return End::Silent(config.pong_timeout),
            incoming = ws.next() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => return failed(e),
                    None => return End::Lost(None),
                };
                // Anything at all proves the peer is alive: a pong usually,
                // but a ping or a message counts as much.
                silence.as_mut().reset(Instant::now() + config.pong_timeout);
                match message {
                    Message::Close(close) => return End::PeerClosed(close),
                    Message::Pong(payload) => pings.answered(&payload, peer),
                    // tungstenite has queued the pong (§5.5.2); it goes out
                    // with our next read or write.
                    Message::Ping(_) => {}
                    // A one-way feed: what a page sends is read (it must be,
                    // or its pings and its Close would go unanswered),
                    // checked by tungstenite (size, UTF-8), and ignored.
                    Message::Text(_) | Message::Binary(_) => {
                        tracing::debug!(%peer, "ignored a message from the peer");
                    }
                    // `next()` assembles frames into messages; never raw.
                    Message::Frame(_) => {}
                }
            }
            _ = pings.tick() => {
                if let Err(end) = send_by(ws, pings.ping(), deadline, config).await {
                    return end;
                }
            }
            pushed = feed.recv() => match pushed {
                Ok(text) => {
                    if let Err(end) = send_by(ws, Message::Text(text), deadline, config).await {
                        return end;
                    }
                }
                // We fell behind by more than the channel holds (our writes
                // were stuck): skip to the oldest phrase still there. The page
                // sees the jump in `seq` and says how many it missed.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(%peer, "slow peer: skipped {missed} phrases");
                }
                Err(RecvError::Closed) => return End::SHUTTING_DOWN,
            },
        }
    }
}
// ANCHOR_END: pump

// ANCHOR: send_by
/// Sends one message, waiting no later than `deadline`, the heartbeat's.
///
/// A write only waits when the peer's receive window is full: it has
/// stopped reading. Such a peer gets the same deadline as a silent one, so
/// a dead peer cannot hold this task in a write either. (A write cut off
/// half-way leaves half a frame on the wire; we never write again after it.)
async fn send_by(
    ws: &mut Ws,
    message: Message,
    deadline: Instant,
    config: &Config,
) -> Result<(), End> {
    match timeout_at(deadline, ws.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(End::Lost(Some(e))),
        Err(_elapsed) => Err(End::Silent(config.pong_timeout)),
    }
}
// ANCHOR_END: send_by

/// The ping side of the heartbeat. Each ping carries its number, and the
/// pong must carry the same bytes back (RFC 6455 §5.5.3), which gives us
/// the round trip for the log.
struct Pings {
    every: tokio::time::Interval,
    sent: u64,
    at: Instant,
}

impl Pings {
    fn new(every: Duration) -> Pings {
        let now = Instant::now();
        // The first ping one interval after the open, not at once.
        let mut interval = interval_at(now + every, every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Pings {
            every: interval,
            sent: 0,
            at: now,
        }
    }

    async fn tick(&mut self) {
        self.every.tick().await;
    }

    fn ping(&mut self) -> Message {
        self.sent += 1;
        self.at = Instant::now();
        Message::Ping(Bytes::copy_from_slice(&self.sent.to_be_bytes()))
    }

    fn answered(&self, payload: &[u8], peer: SocketAddr) {
        // Pongs may also come unasked (§5.5.3: a one-way heartbeat), or
        // answer an older ping; only the latest one is timed.
        if payload == self.sent.to_be_bytes() {
            let rtt = self.at.elapsed();
            tracing::debug!(%peer, "pong {} after {rtt:?}", self.sent);
        }
    }
}

// ANCHOR: failed
/// The close code each error from tungstenite earns, or `Lost` when the
/// peer simply went away.
pub fn failed(e: Error) -> End {
    let code = match &e {
        // A frame or message over `max_message_size`, caught from the
        // frame's header before its payload is buffered.
        Error::Capacity(_) => CloseCode::TOO_BIG,
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => return End::Lost(Some(e)),
        // Unmasked, RSV bits, reserved opcodes, bad control frames, …
        Error::Protocol(_) => CloseCode::PROTOCOL_ERROR,
        // Text (or a close reason) that is not UTF-8.
        Error::Utf8(_) => CloseCode::INVALID_PAYLOAD,
        _ => return End::Lost(Some(e)),
    };
    End::Failed(code, e.to_string())
}
// ANCHOR_END: failed

// ANCHOR: goodbye
/// Ends the connection the way `end` calls for, within `close_timeout`.
pub async fn goodbye<S>(mut ws: WebSocketStream<S>, end: &End, close_timeout: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let closing = async {
        match end {
            // tungstenite queued our answer to the peer's Close: send it.
            // Then we close TCP first, as a server should (§7.1.1).
            End::PeerClosed(_) => {
                let _ = ws.flush().await;
            }
            // Our Close, then we read (and drop) until the peer's answer.
            End::Closing(code, reason) => {
                if ws.send(close(*code, reason)).await.is_ok() {
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }
            // §7.1.7: send a Close with the code, and process nothing more.
            End::Failed(code, why) => {
                if ws.send(close(*code, why)).await.is_ok() {
                    let _ = close_tcp(ws.get_mut()).await;
                }
            }
            // A peer that answers nothing would not answer a Close either;
            // a stuck or lost one cannot. Dropping the socket is all there
            // is to do.
            End::Silent(_) | End::Stuck | End::Lost(_) => {}
        }
    };
    let _ = timeout(close_timeout, closing).await;
}
// ANCHOR_END: goodbye

/// A Close message with lesson 2's code, its reason cut to fit
/// ([`frame::fit_reason`]).
fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.as_u16().into(),
        reason: Utf8Bytes::from(frame::fit_reason(reason)),
    }))
}

/// Sends our FIN, then reads and discards until the peer's. Closing a
/// socket with unread bytes makes the kernel send RST instead of FIN, and a
/// RST can destroy the Close we just sent before the peer has read it; a
/// peer that sent an oversized frame is still sending the rest of it.
async fn close_tcp<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    stream.shutdown().await?;
    let mut discard = [0u8; 4096];
    while stream.read(&mut discard).await? != 0 {}
    Ok(())
}
