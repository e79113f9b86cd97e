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
//! - [`run`]: the lesson's own server, which prints every byte of your
//!   browser's handshake with notes ([`annotate_request`],
//!   [`annotate_response`]) and ends with a Close frame written byte by byte.
//!
//! | module | what it holds |
//! |---|---|
//! | `accept` | the accept key, step by step |
//! | `head` | reading a request or response head, bounded |
//! | `parse` | the head's start line and headers |
//! | `server_side` | the server's half: [`validate`], [`Reject`], [`accept`] |
//! | `client_side` | the client's half: [`client_handshake`] |
//! | `url` | a `ws://` URL taken apart: [`WsUrl`] |
//! | `extensions` | `Sec-WebSocket-Extensions`, and permessage-deflate's negotiation |
//! | `lesson` | what `cargo run -p handshake` runs |
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
mod client_side;
mod extensions;
mod head;
mod lesson;
mod parse;
mod server_side;
mod url;

pub use accept::{AcceptSteps, GUID, accept_key, accept_steps, generate_key, is_valid_key};
pub use client_side::{
    ClientError, ClientHandshake, check_response, check_response_offered, client_handshake,
    client_handshake_offering, client_request, client_request_offering,
};
pub use extensions::{
    CLIENT_OFFER, DeflateParams, DeflatePolicy, Extension, ExtensionSyntax, PERMESSAGE_DEFLATE,
    WINDOW_BITS, accept_deflate_answer, negotiate_deflate, parse_extensions,
};
pub use head::{HEAD_TIMEOUT, Limits, MAX_HEAD_BYTES, ReadHeadError, find_blank_line, read_head};
pub use lesson::{
    CLOSE_CODE, CLOSE_REASON, CLOSE_TIMEOUT, PAGE, annotate_request, annotate_response,
    close_frame, run, text_frame,
};
pub use parse::{Headers, ParseError, Request, Response, Version, parse_request, parse_response};
pub use server_side::{
    AcceptError, IncomingRequest, Reject, Upgraded, accept, check_origin, choose_subprotocol,
    complete_upgrade, complete_upgrade_negotiating, http_response, read_request, refuse,
    response_101, response_101_with, validate, write_and_close,
};
pub use url::{UrlError, WsUrl};
