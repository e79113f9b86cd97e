//! # Lesson 4: push — the server speaks first
//!
//! In lessons 1 to 3 the client spoke and the server answered. Here the
//! server speaks first and keeps speaking: every second it pushes a phrase
//! to every connected page, with no request to answer. That is what the
//! socket's write half is for, and it is the "official-account push" demo of
//! our source articles, done right.
//!
//! Doing it right takes three things the demo lacks, and this crate is
//! about them:
//!
//! - **One producer, many pages.** [`publish`] serialises each phrase once
//!   and puts it in a `tokio::sync::broadcast` channel; each connection reads
//!   its own copy at its own pace, so a slow page delays nobody. Each
//!   message is JSON with a run id, a sequence number and the server's
//!   timestamp ([`Push`]), so a page never shows one twice and can tell what
//!   it missed.
//! - **A heartbeat.** We ping each peer every [`PING_INTERVAL`] and drop
//!   one we have not heard from for [`PONG_TIMEOUT`]: a peer that vanished
//!   without a word (unplugged, asleep, forgotten by a NAT) is otherwise
//!   never noticed, because writes to it keep succeeding.
//! - **Reading while pushing.** A push-only server must still read: pongs,
//!   the peer's Close, and whatever else it sends. One `select!` loop per
//!   connection does both.
//!
//! The handshake is lesson 1's, checked and answered by hand (so every bad
//! request gets its status code, and frames sent right behind the request
//! are kept); from the 101 on, the WebSocket is tokio-tungstenite's. The page
//! routing, the live-connection gauge and the graceful shutdown are lesson
//! 3's.
//!
//! | module | what it holds |
//! |---|---|
//! | `feed` | [`PHRASES`], [`Push`], [`publish`]: the producer |
//! | `connection` | one connection's loop, its heartbeat, and each way it can end |
//! | `server` | [`serve`], [`run`]: accept, subscribe, route, shut down |
//! | `config` | [`Config`]: the timings and limits, and the variables that change them |
//!
//! ## Run it
//!
//! ```text
//! cargo run -p push                              # open http://127.0.0.1:9004/
//! PUSH_PING_INTERVAL=2 PUSH_PONG_TIMEOUT=5 cargo run -p push
//! cargo run -p push --bin push-client            # the feed in a terminal
//! ```
//!
//! Then try: stop the server with Ctrl-C and watch the page say the server
//! went away and come back by itself when you restart it; open several
//! tabs and see the same numbers everywhere; freeze the client with
//! `kill -STOP` and watch the server drop it when its pong is overdue.

mod config;
mod connection;
mod feed;
mod server;

pub use config::{
    Config, ConfigError, ENV_VARS, MAX_MESSAGE_SIZE, PING_INTERVAL, PONG_TIMEOUT, PUSH_INTERVAL,
    READ_BUFFER_SIZE,
};
pub use connection::{End, failed, goodbye};
pub use feed::{FEED_CAPACITY, PHRASES, Phrases, Push, new_boot, publish};
pub use server::{PAGE, run, serve};
