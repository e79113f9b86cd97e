//! # Lesson 3: an echo server on our own handshake and codec
//!
//! Lesson 1 gave us the opening handshake, lesson 2 the frame codec. This
//! lesson puts them on a socket and gets a complete WebSocket server out of
//! them, with nothing else underneath: every message a client sends comes
//! back to it.
//!
//! What it adds on top of the two lessons is everything that happens
//! *between* frames:
//!
//! - [`WebSocket`]: one connection. [`WebSocket::recv`] reads frames into a
//!   small buffer that grows with big messages and shrinks back after them,
//!   joins fragments into messages, answers each ping with a pong at once
//!   (even in the middle of a fragmented message), ignores pongs, and
//!   answers a Close. [`WebSocket::send`] writes a message;
//!   [`WebSocket::close`] runs the close handshake from our side. Every
//!   deadline is named: a peer that never answers our Close is dropped
//!   after [`CLOSE_TIMEOUT`].
//! - Protocol errors fail the connection with the close code each rule
//!   earns (1002, 1007, 1009), from lesson 2's error types.
//! - [`run`] / [`Server`]: the page at `/`, the echo at `/ws`, and a
//!   graceful shutdown: stop accepting, close every connection with 1001,
//!   wait for the close handshakes, abort what is left.
//!   [`Server::live_connections`] counts the connections alive, so the
//!   tests can prove none is left behind.
//!
//! [`WebSocket::client`] is the same connection from the client's side
//! (it masks what it sends and lets the server close TCP first). The crate
//! has two more binaries: `echo-client`, a command-line client on lessons 1
//! and 2 (with `--autobahn URL`, the Autobahn suite's client cases), and
//! `echo-tungstenite`, the same server in twenty lines of tokio-tungstenite,
//! to set beside ours.
//!
//! ## Run it
//!
//! ```text
//! cargo run -p echo                       # open http://127.0.0.1:9003/
//! cargo run -p echo -- 127.0.0.1:9103     # another address
//! cargo run -p echo --bin echo-client -- hello 'second message'
//! cargo run -p echo --bin echo-client     # then type lines; Ctrl-D closes
//! cargo run -p echo --bin echo-tungstenite          # the library's echo on :9013
//! cargo run -p echo --bin echo-client -- --url ws://127.0.0.1:9013/ hi
//! bash scripts/autobahn.sh                # the Autobahn TestSuite: both servers, the client
//! ```
//!
//! On the page, type and press Enter; the log shows what went out, what
//! came back, and the round trip. Then try: stop the server with Ctrl-C and
//! watch the page report close code 1001 (going away); in the page's
//! developer console, `ws.send("x".repeat(70000))` sends a frame with a
//! 64-bit length, and `ws.close(4000, "mine")` gets 4000 back; point the
//! client at a path that is not there
//! (`--url ws://127.0.0.1:9003/nope`) and read the 404.

mod error;
mod server;
mod ws;

pub use error::Error;
pub use frame::{CloseCode, CloseFrame, Message};
pub use server::{Config, DEFLATE, PAGE, SHUTDOWN_TIMEOUT, Server, route, route_negotiating, run};
pub use ws::{BUFFER_KEEP, CLOSE_TIMEOUT, INITIAL_READ_CAPACITY, WebSocket, WebSocketConfig};
