//! # Lesson 1: the opening handshake, by hand
//!
//! A WebSocket connection starts life as an ordinary HTTP/1.1 request. The
//! client asks to *upgrade* the connection (`Connection: Upgrade`,
//! `Upgrade: websocket`) and sends a random `Sec-WebSocket-Key`; the server
//! answers `101 Switching Protocols` with `Sec-WebSocket-Accept` =
//! base64(SHA-1(key + GUID)). After that blank line the same TCP connection
//! carries WebSocket frames (lesson 2) and HTTP is gone.
//!
//! This crate does all of that on a raw [`tokio::net::TcpListener`], with
//! nothing but `sha1` and `base64`:
//!
//! - [`accept_key`]: the accept computation ([`accept_steps`] shows each step);
//! - [`read_head`]: read a head off the stream, bounded in size
//!   ([`MAX_HEAD_BYTES`] → 431) and time ([`HEAD_TIMEOUT`] → dropped), keeping
//!   the bytes that follow it (early frames);
//! - [`validate`] and [`Reject`]: every rule of RFC 6455 §4.2.1, each refusal
//!   with its status code and a one-line reason;
//! - [`accept`]: the whole server side; [`client_handshake`]: the client side;
//! - [`accept_until`]: the accept loop every lesson's server runs, and
//!   [`init_logging`], [`bind_from_args`], [`ctrl_c`]: what every `main` does.
//!
//! Run it and open the page it prints:
//!
//! ```text
//! cargo run -p handshake            # http://127.0.0.1:9001/
//! cargo run -p handshake -- 127.0.0.1:9101
//! ```
//!
//! The terminal shows the request your browser sent and our answer, line by
//! line; the page shows how the accept value was computed. Then try
//! `curl -i http://127.0.0.1:9001/ws` (a plain GET: 426) or
//! `curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 8' http://127.0.0.1:9001/ws`.

mod accept;
mod cli;
mod client;
mod demo;
mod head;
mod parse;
mod serve;
mod server;

pub use accept::{AcceptSteps, GUID, accept_key, accept_steps, generate_key, is_valid_key};
pub use cli::{Arguments, UsageError, bind_or_explain, or_usage, start};
pub use client::{ClientError, ClientHandshake, check_response, client_handshake, client_request};
pub use demo::{
    CLOSE_CODE, CLOSE_REASON, CLOSE_TIMEOUT, PAGE, annotate_request, annotate_response,
    close_frame, run, text_frame,
};
pub use head::{HEAD_TIMEOUT, Limits, MAX_HEAD_BYTES, ReadHeadError, find_blank_line, read_head};
pub use parse::{Headers, ParseError, Request, Response, Version, parse_request, parse_response};
pub use serve::{accept_until, bind_from_args, ctrl_c, init_logging};
pub use server::{
    AcceptError, IncomingRequest, Reject, Upgraded, accept, check_origin, complete_upgrade,
    http_response, read_request, reason_phrase, refuse, response_101, validate, write_and_close,
};
