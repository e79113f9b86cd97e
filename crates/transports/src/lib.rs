//! # Lesson 6: four ways to push — short polling, long polling, SSE, WebSocket
//!
//! One feed, a stock ticker (the source articles' `price_update`), served four ways
//! at once, so that we can watch them side by side and measure what each
//! costs. Everything in this crate is about one idea: **the client's
//! position in the feed is a number**, the sequence number of the last
//! event it has (its cursor). With a cursor, no transport loses an event
//! between two requests or across a reconnect; without one (the source articles'
//! long poll and SSE), every gap between two connections is a hole.
//!
//! - [`Log`]: every event, numbered and serialised once, in a bounded ring.
//!   "What came after N?" is [`Log::read`]; a cursor the ring has left
//!   behind is a [`Gap`], said out loud, never skipped in silence.
//! - **Short polling**, `GET /poll?since=N`: the answer at once, maybe
//!   empty: `{"next":N,"events":[…]}`.
//! - **Long polling**, `GET /long-poll?since=N`: the same answer as soon as
//!   there is something after N, or 204 after [`LONG_POLL_TIMEOUT`]. The
//!   wait is the request's own future: a client that hangs up leaves
//!   nothing behind ([`Server::long_polls`] counts them).
//! - **Server-Sent Events**, `GET /sse`: `text/event-stream`, an `id:` on
//!   every event, `retry:`, a comment every [`KEEP_ALIVE`] of silence, and
//!   a reconnecting browser's `Last-Event-ID` honoured.
//! - **WebSocket**, `/ws?since=N`: behind lesson 5's gate, one text message
//!   per event, lesson 4's heartbeat, 1001 on shutdown.
//!
//! A stale cursor gets 410 Gone from the polls and a `gap` event from the
//! streams, each with the cursor to resume from. A `since` that is not a
//! number gets 400 and a sentence; any other path, 404 and a sentence.
//! Ctrl-C answers every waiting long poll (503), ends every stream and
//! closes every WebSocket.
//!
//! | module | what it holds |
//! |---|---|
//! | `log` | [`Tick`], [`Event`], [`Log`], [`Gap`]: the feed's history |
//! | `ticker` | [`Market`], [`publish`]: the made-up market |
//! | `poll` | short and long polling |
//! | `sse` | the event stream and its framing ([`frame_events`]) |
//! | `ws` | one WebSocket's loop |
//! | `server` | [`Server`], [`run`]: routes, lesson 5's hyper, shutdown |
//! | `config` | [`Config`], [`Args`]: timings, limits, the command line |
//!
//! ## Run it
//!
//! ```text
//! cargo run -p transports                  # open http://127.0.0.1:9006/
//! cargo run -p transports -- --rate 20     # a busier market
//! curl -s 'http://127.0.0.1:9006/poll?since=0'
//! curl -i 'http://127.0.0.1:9006/long-poll'          # waits for the next tick
//! curl -N http://127.0.0.1:9006/sse                  # the stream, as it comes
//! curl -N -H 'Last-Event-ID: 3' http://127.0.0.1:9006/sse   # replay after 3
//! curl -i 'http://127.0.0.1:9006/poll?since=soon'    # 400, and why
//! scripts/bench-transports.sh            # what each costs, per event
//! ```
//!
//! Then try: slow the short poll down on the page and watch its latency
//! climb while the others stay flat; stop the server with Ctrl-C and watch
//! every pane notice; restart it and watch them resume.

mod config;
mod log;
mod poll;
mod server;
mod sse;
mod ticker;
mod ws;

pub use config::{
    Args, Config, DEFAULT_ADDR, KEEP_ALIVE, LONG_POLL_TIMEOUT, SSE_RETRY, TICK_INTERVAL,
};
pub use log::{Event, Gap, LOG_CAPACITY, Log, MAX_BATCH, Quote, Tick};
pub use server::{PAGE, Server, run};
pub use sse::{frame_events, frame_gap};
pub use ticker::{Market, SYMBOLS, publish};
