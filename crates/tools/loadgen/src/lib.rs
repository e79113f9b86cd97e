//! # loadgen: a WebSocket load generator built on lessons 1 and 2
//!
//! Not a lesson but a tool: it measures the lessons' servers (and any
//! WebSocket echo server on this machine) for the book's performance
//! appendix. It speaks the protocol with the workspace's own client-side
//! handshake and frame codec on raw `TcpStream`s: one `send` and one `recv`
//! system call per message, nothing a server does not also pay.
//!
//! Three modes:
//!
//! - **echo** (closed loop): N connections each send one masked text message,
//!   wait for its echo, check it byte for byte, record the round trip in an
//!   HDR histogram, and go again. After a warm-up that is not recorded, a
//!   measured window gives msgs/s and p50/p99/p99.9 round-trip times.
//! - **idle**: open N connections, hold them, and report how much the
//!   server's resident memory grew per connection.
//! - **broadcast** (open loop): N clients in one chat room (lesson 5's JSON
//!   protocol, or plain text relayed to every other connection as in
//!   tokio-tungstenite's chat example); R messages a second go in, from the
//!   clients in turn, and every client records the fan-out latency of
//!   every message it receives and proves it lost none: every message
//!   meant for it, exactly once, in the one order everybody saw.
//!
//! Only loopback servers are accepted ([`Target::parse`]), every count and
//! duration is bounded ([`args`]), and every failure is counted by kind
//! ([`Tally`]) rather than aborting the run.
//!
//! ```text
//! ulimit -n 11000        # each connection is a file descriptor on both sides
//! cargo run --release -p echo &                       # lesson 3 on :9003
//! cargo run --release -p loadgen -- --connections 100 --size 20 --duration 10s \
//!     --server-pid "$(pgrep -nx echo)"                # msgs/s, p50/p99/p99.9, CPU
//! cargo run --release -p loadgen -- --idle 10000 --server-pid "$(pgrep -nx echo)"
//! # lesson 5 on :9005; all our clients come from one address
//! cargo run --release -p chatroom -- --max-connections 2000 --max-per-ip 2000 &
//! cargo run --release -p loadgen -- --broadcast 1000 --rate 100 \
//!     --server-pid "$(pgrep -nx chatroom)"          # loss, fan-out p50/p99, CPU, RSS
//! ```
//!
//! `scripts/bench-echo.sh` runs the echo and idle modes against our echo
//! server and the tokio-tungstenite reference, pinned to separate cores,
//! and `scripts/bench-chat.sh` the broadcast and idle modes against our chat
//! room and tokio-tungstenite's chat example; both write the tables the
//! book's performance appendix shows.
//!
//! | module | what it holds |
//! |---|---|
//! | `target` | [`Target`]: a `ws://` URL, loopback only |
//! | `client` | [`Client`]: one connection on our handshake and codec |
//! | `fleet` | [`open_many`], [`close_all`]: many connections, a bounded number at a time |
//! | `echo` | [`run_echo`]: the closed loop and its [`EchoReport`] |
//! | `idle` | [`run_idle`]: idle connections and the server's memory |
//! | `broadcast` | [`run_broadcast`]: the open-loop chat room and its [`BroadcastReport`] |
//! | [`ledger`] | who should have received what, checked after a broadcast run |
//! | [`sys`] | open-file limits, local ports, RSS and CPU time from `/proc` |
//! | `tally` | [`Tally`]: failures by kind, one example each |
//! | [`args`] | the command line |

pub mod args;
mod broadcast;
mod client;
mod echo;
mod fleet;
pub mod http;
mod idle;
pub mod ledger;
mod peer;
pub mod sys;
mod tally;
mod target;

use std::fmt;

pub use args::{ArgsError, Cli, Flags, Mode};
pub use broadcast::{
    BroadcastOptions, BroadcastReport, DELIVERY_GRACE, JOIN_CONCURRENCY, Protocol,
    RECONNECT_DEADLINE, Recovery, SETUP_TIMEOUT, TAG_LEN, run_broadcast,
};
pub use client::{CONNECT_TIMEOUT, Client, ConnectError, Echo, SERVER_FIN_WAIT, SessionError};
pub use echo::{EchoOptions, EchoReport, Latency, STALL_GRACE, run_echo};
pub use fleet::{CLOSE_TIMEOUT, CONNECT_CONCURRENCY, Opened, close_all, open_many};
pub use idle::{IdleOptions, IdleReport, IdleSet, run_idle};
pub use peer::ClientCodec;
pub use sys::CapacityError;
pub use tally::Tally;
pub use target::{Target, TargetError};

/// What a run found, in any mode.
#[derive(Debug, Clone)]
pub enum Report {
    /// From [`run_echo`].
    Echo(EchoReport),
    /// From [`run_idle`].
    Idle(IdleReport),
    /// From [`run_broadcast`].
    Broadcast(Box<BroadcastReport>),
}

impl Report {
    /// Everything that went wrong.
    pub fn errors(&self) -> &Tally {
        match self {
            Report::Echo(r) => &r.errors,
            Report::Idle(r) => &r.errors,
            Report::Broadcast(r) => &r.errors,
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Report::Echo(r) => r.to_json(),
            Report::Idle(r) => r.to_json(),
            Report::Broadcast(r) => r.to_json(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Echo(r) => r.fmt(f),
            Report::Idle(r) => r.fmt(f),
            Report::Broadcast(r) => r.fmt(f),
        }
    }
}

/// Runs `mode`.
///
/// # Errors
///
/// [`CapacityError`] when this process cannot hold that many connections;
/// nothing has been opened then.
pub async fn run(mode: &Mode) -> Result<Report, CapacityError> {
    match mode {
        Mode::Echo(options) => run_echo(options).await.map(Report::Echo),
        Mode::Idle(options) => run_idle(options).await.map(Report::Idle),
        Mode::Broadcast(options) => run_broadcast(options)
            .await
            .map(|r| Report::Broadcast(Box::new(r))),
    }
}
