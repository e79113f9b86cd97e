//! # Lesson 7: a wiretap, to see every byte both ways
//!
//! Put this proxy between a browser and any lesson, and it prints the whole
//! conversation as it happens: the HTTP upgrade request and the 101 answer,
//! line by line with lesson 1's notes; then every WebSocket frame, field by
//! field as lesson 2's CLI explains hex, with the masking key and the
//! payload masked and unmasked, close codes and reasons, pings and pongs;
//! or, for a lesson that speaks plain HTTP (a page, a long poll, an event
//! stream), the heads, the bodies' sizes and each Server-Sent Event. It is
//! Wireshark's view of a WebSocket session, in the terminal.
//!
//! It is a faithful proxy first. Every read is forwarded at once, unchanged,
//! and only then shown to the decoder, which works on its own copy with
//! bounded memory: a frame costs its header and a short preview, however
//! long it is, and a compressed message (permessage-deflate) is inflated as
//! it streams past and shown beside its size on the wire. What it cannot
//! decode (an unknown extension, garbage) is reported and forwarded all the
//! same. A FIN from either side is passed on
//! as a FIN (the other direction keeps flowing); a reset ends both.
//!
//! | module | what it adds |
//! |---|---|
//! | `proxy` | [`run`]: accept, connect upstream, copy both ways, feed the tap |
//! | `tap` | [`ConnTap`]: one connection's bytes in, [`Seen`] reports out, no I/O |
//! | `frames` | frames in bounded memory: header, preview, skip the rest |
//! | `body` | HTTP bodies: their end, chunked encoding, Server-Sent Events |
//! | `event` | [`Event`] and what it can report |
//! | `render` | [`to_text`] (lessons 1 and 2's annotations), [`to_json`], [`write_events`] |
//! | [`args`] | the command line |
//!
//! ## Run it
//!
//! ```text
//! cargo run -p echo                                      # lesson 3 on :9003
//! cargo run -p wiretap -- --upstream 127.0.0.1:9003      # the tap on :9007
//! ```
//!
//! Open <http://127.0.0.1:9007/>: the echo page, loaded through the tap.
//! Type a message and watch it go by masked, and come back unmasked. Then
//! `--json` (one object per line), `--hex` (every read dumped as it came),
//! `--no-payload` (headers only), `--listen HOST:PORT`.

mod body;
mod event;
mod frames;
mod proxy;
mod render;
mod tap;

pub mod args;

pub use body::SSE_PREVIEW;
pub use event::{
    BodyFraming, CloseStep, Direction, Ending, Event, EventKind, Seen, Undecodable, What,
};
pub use proxy::{CONNECT_TIMEOUT, READ_BUFFER, run};
pub use render::{Format, OUTPUT_QUEUE, render, tap_to_stdout, to_json, to_text, write_events};
pub use tap::ConnTap;

/// The most a compressed message is inflated to, as lesson 2's receiver
/// allows by default: a message past it is reported, and this direction's
/// messages are no longer inflated (the tap stays a proxy, never a
/// decompression service for a bomb).
pub const MAX_INFLATED: usize = 16 * 1024 * 1024;

// Lesson 2's limit and ours are one number.
const _: () = assert!(MAX_INFLATED == frame::DEFAULT_MAX_MESSAGE_SIZE);

/// The default [`Options::preview`]: payload bytes kept per data frame.
/// Enough for the 64 characters of text and 32 bytes of hex lesson 2's
/// annotation shows, and for a few lines of JSON.
pub const DEFAULT_PREVIEW: usize = 256;

/// What the tap keeps and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Payload bytes of each data frame kept to show; the rest streams past
    /// unseen. Control frames (125 bytes at most) are always kept whole.
    pub preview: usize,
    /// Keep no payload of data frames: headers only (`--no-payload`).
    pub no_payload: bool,
    /// Also report every read's bytes exactly as they came (`--hex`):
    /// every byte, cookies included, where the annotations hide them.
    pub hex: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            preview: DEFAULT_PREVIEW,
            no_payload: false,
            hex: false,
        }
    }
}
