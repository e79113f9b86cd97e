//! # Lesson 5: a chat room, with warp
//!
//! The "group chat" of our source articles, done the way it would be
//! deployed: many pages, one room, every message to everybody in one order
//! that the server decides, the sender included. This lesson uses a web
//! framework, warp, and is mostly about what a framework does not do for
//! you.
//!
//! - **One order, no waiting.** The [`Room`] numbers each event, keeps the
//!   last [`HISTORY_LEN`] messages for newcomers, and puts a pointer to the
//!   serialised event in every member's bounded queue with `try_send`,
//!   under its lock. No socket is ever written under the lock: each
//!   connection's own task writes its queue to its socket.
//! - **Slow readers.** A member whose queue is full ([`QUEUE_CAPACITY`]) has
//!   stopped reading: the room drops it on the spot (its page gets Close
//!   1013, try again later, and reconnects to the history), and nobody else
//!   waits for it.
//! - **What warp does not check.** The [`gate`] runs lesson 1's
//!   [`handshake::validate`] where warp's `ws()` would check less (a 10-byte
//!   key, HTTP/1.0 and a missing Host get 400, version 8 gets 426), checks
//!   the Origin (same origin unless `--allow-origin`: 403) and the
//!   connection cap ([`MAX_CONNECTIONS`]: 503); then [`Upgrade::accept`]
//!   answers lesson 1's 101 and makes the WebSocket itself, with a 4 KiB
//!   read buffer where `ws()` would fix tungstenite's 128 KiB. hyper's own
//!   server, which we drive, bounds the request head (8 KiB: 431) and its
//!   arrival (10 s).
//! - **Limits at the door** ([`Admission`]): at most
//!   [`MAX_HTTP_CONNECTIONS`] connections still speaking HTTP (503) and
//!   [`MAX_PER_IP`] from one address (429), checked when a connection is
//!   accepted; a WebSocket that does not join within [`JOIN_TIMEOUT`] is
//!   closed with 4002.
//! - **Limits on what a page sends:** 4 KiB a message (1009), a token
//!   bucket ([`Flood`]: a warning, then 1008), nicknames checked
//!   ([`Nick::parse`]) and unique, text checked ([`check_text`]). A page
//!   that joins with the `key` its name was taken with takes the name back
//!   from its own dead connection ([`Room::join`]).
//! - **Authentication on upgrade** (`--require-ticket`): a page cannot set
//!   headers on a WebSocket, so it fetches a one-time, 30-second ticket
//!   ([`Tickets`]) with `POST /ticket` and passes it in the URL; no valid
//!   ticket, 401.
//! - **Lesson 4's heartbeat and lesson 3's shutdown:** a ping every 10 s, a
//!   page silent for 25 s is dropped; Ctrl-C sends 1001 to every page.
//!
//! The wire format is in [`protocol`]'s `ServerMessage` and
//! `ClientMessage`.
//!
//! | module | what it holds |
//! |---|---|
//! | `naive` | the lock-and-write room, kept to show why the [`Room`] is not one |
//! | `protocol` | the JSON messages, nickname and text rules |
//! | `room` | [`Room`]: members, history, the fan-out and the slow-reader policy |
//! | `hall` | [`Hall`]: what a connection needs of a room, in memory or shared |
//! | `connection` | one WebSocket's loop; the room's close codes |
//! | `server` | [`Server`], [`run`]: routes, hyper's limits, shutdown |
//! | `config` | [`Config`], [`Args`]: the limits and the command line |
//! | `tls` | [`Tls`]: the certificate and key for `--tls-cert` |
//! | `defences/upgrade` | [`gate`], [`refusal`]: lesson 1's checks, Origin, cap |
//! | `defences/admit` | [`Admission`], [`turn_away`]: the limits when a connection is accepted |
//! | `defences/flood` | [`Flood`]: the token bucket |
//! | `defences/ticket` | [`Tickets`]: one-time tickets for `--require-ticket` |
//!
//! ## Run it
//!
//! ```text
//! cargo run -p chatroom                       # open http://127.0.0.1:9005/ twice
//! cargo run -p chatroom -- 127.0.0.1:9105 --allow-origin http://localhost:8000
//! cargo run -p chatroom -- --require-ticket   # the page fetches a ticket first
//! cargo run -p chatroom -- --tls-cert cert.pem --tls-key key.pem   # https:// and wss://
//! curl -i http://127.0.0.1:9005/ws            # 426: a WebSocket address
//! curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
//!      -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZQ==' \
//!      http://127.0.0.1:9005/ws               # 400: that key is 10 bytes
//! ```
//!
//! Then try: two windows, two names, and type; reload one (it keeps its
//! name, and shows no message twice); stop the server with Ctrl-C and watch
//! both pages say 1001 and come back by themselves when it restarts.

mod config;
mod connection;
mod defences;
mod hall;
pub mod naive;
pub mod protocol;
mod room;
mod server;
mod tls;

pub use config::{
    Args, Config, DEFAULT_ADDR, JOIN_TIMEOUT, MAX_CONNECTIONS, MAX_MESSAGE_SIZE, WRITE_TIMEOUT,
    parse_origin,
};
pub use connection::{FLOOD, NEVER_JOINED, REPLACED, TOO_SLOW};
pub use defences::admit::{
    Admission, Admitted, IpCount, MAX_HTTP_CONNECTIONS, MAX_PER_IP, TURN_AWAY_TIMEOUT, Turned,
    turn_away,
};
pub use defences::flood::{BURST, Flood, RATE_PER_SECOND, RateLimit, Verdict};
pub use defences::ticket::{MAX_TICKETS, TICKET_TTL, TicketError, Tickets};
pub use defences::upgrade::{
    ConnInfo, Gate, Handover, Pass, Refusal, Slot, Upgrade, WebSocket, gate, refusal,
    websocket_config,
};
pub use hall::{Hall, Since, Unavailable};
pub use protocol::{
    BadNick, Chat, ClientMessage, HISTORY_LEN, MAX_KEY_BYTES, MAX_NICK_CHARS, MAX_TEXT_CHARS, Nick,
    Presence, SUBPROTOCOL, ServerMessage, check_text,
};
pub use room::{JoinError, Membership, QUEUE_CAPACITY, Room};
pub use server::{PAGE, Server, admission, http_server, run, serve_http, serve_until};
pub use tls::Tls;
