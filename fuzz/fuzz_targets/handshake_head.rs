//! Fuzz target `handshake_head`: lesson 1's request parsing and validation on
//! arbitrary bytes, read off an in-memory stream in arbitrary pieces.
//!
//! Input: `[config, split, bytes...]`.
//! - `config` bits 0-1 pick `Limits::max_head_bytes`: 8 KiB (the default,
//!   [`handshake::MAX_HEAD_BYTES`]), 32, 256 or 1024 bytes.
//! - `split` cuts `bytes` into reads (0: one read; otherwise pseudo-random
//!   reads of 1 to 2^(split & 7) bytes).
//! - `bytes` is what the client sent.
//!
//! Checked:
//! - nothing panics: [`handshake::parse_request`] of the bytes as they are,
//!   [`handshake::read_head`] (on a tokio current-thread runtime) then
//!   `parse_request` of the head it returns, [`handshake::validate`] of every
//!   request that parses, and [`handshake::parse_response`] /
//!   [`handshake::check_response`] of the bytes as a server's answer;
//! - `read_head` returns the first head (up to the first blank line) when it
//!   ends within the limit, and the bytes after it that it read; `TooLarge`
//!   only when no blank line ends within the limit; `Closed` only when the
//!   stream ended before a blank line, below the limit, with every byte
//!   counted;
//! - an accepted request is a GET over HTTP/1.1 or later with one valid key,
//!   and its accept value is 28 characters, [`handshake::accept_key`] of
//!   that key, and carried by a 101 (`response_101`) that the client's own
//!   check ([`handshake::check_response`]) accepts;
//! - a refused request gets a 4xx or 5xx whose response parses back to the
//!   same status.
#![no_main]

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use handshake::{Limits, MAX_HEAD_BYTES, ReadHeadError, Request};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::runtime::Runtime;

/// RFC 6455 §1.3's sample key and its accept value.
const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One runtime for every input: building one per input would cost more than
/// the parsing. Current-thread, with the timer `read_head`'s timeout needs.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let [config, split, bytes @ ..] = data else {
        return;
    };
    let max = match config & 3 {
        0 => MAX_HEAD_BYTES,
        1 => 32,
        2 => 256,
        _ => 1024,
    };

    // The bytes as a whole head, both ways.
    if let Ok(request) = handshake::parse_request(bytes) {
        check_request(&request);
    }
    if let Ok(response) = handshake::parse_response(bytes)
        && handshake::check_response(&response, SAMPLE_KEY).is_ok()
    {
        assert_eq!(response.status, 101, "check_response accepted a non-101");
        let accept: Vec<&str> = response.headers.get_all("Sec-WebSocket-Accept").collect();
        assert_eq!(
            accept,
            [SAMPLE_ACCEPT],
            "check_response accepted a wrong accept"
        );
    }

    // The bytes off a stream, in reads.
    let limits = Limits {
        max_head_bytes: max,
        // Never reached: the stream never makes us wait.
        head_timeout: Duration::from_secs(3600),
    };
    let mut stream = Reads {
        bytes,
        split: *split,
        state: u32::from(*split).wrapping_mul(0x9E37_79B9) | 1,
    };
    let result = runtime().block_on(handshake::read_head(&mut stream, limits));
    let blank = handshake::find_blank_line(bytes, 0);
    match result {
        Ok((head, rest)) => {
            assert_eq!(Some(head.len()), blank, "not the first head");
            assert!(head.len() <= max, "a head over the limit");
            assert_eq!(head[..], bytes[..head.len()]);
            assert_eq!(
                rest[..],
                bytes[head.len()..][..rest.len()],
                "bytes after the head"
            );
            if let Ok(request) = handshake::parse_request(&head) {
                check_request(&request);
            }
        }
        Err(ReadHeadError::TooLarge { max: m }) => {
            assert_eq!(m, max);
            assert!(
                blank.is_none_or(|end| end > max),
                "a head within the limit refused"
            );
            assert!(bytes.len() >= max, "TooLarge below the limit");
        }
        Err(ReadHeadError::Closed { received }) => {
            assert_eq!(received, bytes.len(), "Closed miscounted");
            assert_eq!(blank, None, "Closed with a whole head sent");
            assert!(bytes.len() < max, "Closed past the limit");
        }
        Err(e) => panic!("read_head from memory: {e}"),
    }
});

/// The server's verdict on `request` is consistent.
fn check_request(request: &Request) {
    match handshake::validate(request) {
        Ok(accept) => {
            assert_eq!(accept.len(), 28, "accept value {accept:?}");
            assert_eq!(request.method, "GET");
            assert!(request.version.major == 1 && request.version.minor >= 1);
            let key = request
                .headers
                .get_one("Sec-WebSocket-Key")
                .expect("accepted without exactly one key");
            assert!(handshake::is_valid_key(key));
            assert_eq!(accept, handshake::accept_key(key));
            // What the client makes of our 101.
            let answer = handshake::response_101(&accept);
            let response = handshake::parse_response(answer.as_bytes()).expect("our 101 parses");
            assert_eq!(response.status, 101);
            handshake::check_response(&response, key).expect("the client accepts our 101");
        }
        Err(reject) => {
            let status = reject.status();
            assert!((400..600).contains(&status), "refused with {status}");
            let answer = reject.response();
            let end = handshake::find_blank_line(&answer, 0).expect("a whole head");
            let response = handshake::parse_response(&answer[..end]).expect("our refusal parses");
            assert_eq!(response.status, status);
        }
    }
}

/// `bytes` as a stream: one read for `split` 0, otherwise pseudo-random reads
/// of 1 to 2^(split & 7) bytes; then end of stream.
struct Reads<'a> {
    bytes: &'a [u8],
    split: u8,
    state: u32,
}

impl AsyncRead for Reads<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = if this.split == 0 {
            this.bytes.len()
        } else {
            // xorshift32
            this.state ^= this.state << 13;
            this.state ^= this.state >> 17;
            this.state ^= this.state << 5;
            1 + this.state as usize % (1 << (this.split & 7))
        };
        let n = n.min(this.bytes.len()).min(buf.remaining());
        let (read, rest) = this.bytes.split_at(n);
        buf.put_slice(read);
        this.bytes = rest;
        Poll::Ready(Ok(()))
    }
}
