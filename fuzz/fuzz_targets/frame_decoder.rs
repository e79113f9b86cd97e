//! Fuzz target `frame_decoder`: lesson 2's [`frame::Decoder`] on arbitrary
//! bytes, arriving in arbitrary pieces.
//!
//! Input: `[config, split, stream...]`.
//! - `config` bit 0 picks our role (0: server, reading masked client frames;
//!   1: client), bits 1-2 the `max_frame_size`: the 16 MiB default, 0, 125 or
//!   1024 bytes.
//! - `split` cuts the stream into reads (0: one read; otherwise pseudo-random
//!   reads of 1 to 2^(split & 7) bytes), as TCP may.
//! - `stream` is what the peer sent.
//!
//! After each read we decode until `Ok(None)` or an error, and check:
//! - nothing panics, and nothing allocates for a payload that was only
//!   announced (libFuzzer's `-malloc_limit_mb` catches that: with the default
//!   limit a header may announce 16 MiB);
//! - `Ok(None)` and `Err(_)` leave the buffer as it was, and `Ok(None)` comes
//!   only while no whole frame is buffered;
//! - `Ok(Some(frame))` consumes exactly the frame's bytes on the wire
//!   ([`frame::parse_header`]'s `frame_len`, which is
//!   [`frame::Frame::encoded_len`] when the length used the minimal form), the
//!   frame has the header's fields, obeys the role's masking rule and the size
//!   limit, and a control frame is final and at most 125 bytes;
//! - [`frame::encode`] of the decoded frame (a masked frame keeps its key)
//!   gives back the very bytes that were consumed when their length was
//!   minimal, and in any case decodes to the same frame;
//! - cutting the stream into reads changes nothing: the frames and the final
//!   verdict are those of decoding the whole stream at once.
#![no_main]

#[path = "shared/reads.rs"]
mod shared;
use shared::reads;

use bytes::BytesMut;
use frame::{DEFAULT_MAX_FRAME_SIZE, Decoder, Frame, FrameError, MAX_CONTROL_PAYLOAD, Role};
use libfuzzer_sys::fuzz_target;

/// How a run of the decoder over a stream ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<FrameError>,
    /// Bytes left buffered at the end, when no error stopped the run (an
    /// error comes as soon as the header is in, whatever came after it).
    left: Option<usize>,
}

fuzz_target!(|data: &[u8]| {
    let [config, split, stream @ ..] = data else {
        return;
    };
    let role = if config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let max = match (config >> 1) & 3 {
        0 => DEFAULT_MAX_FRAME_SIZE,
        1 => 0,
        2 => 125,
        _ => 1024,
    };
    let decoder = Decoder::new(role).with_max_frame_size(max);

    let whole = run(&decoder, stream, 0);
    let pieces = run(&decoder, stream, *split);
    assert_eq!(whole, pieces, "the split into reads changed the outcome");
});

/// Feeds `stream`, cut into `reads`, to a fresh copy of `decoder`,
/// checking every step. The buffer must always hold the bytes received and
/// not yet consumed: `stream[pos..received]`.
fn run(decoder: &Decoder, stream: &[u8], split: u8) -> Outcome {
    let mut decoder = decoder.clone();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let (mut pos, mut received) = (0, 0);
    for read in reads(stream, split) {
        buf.extend_from_slice(read);
        received += read.len();
        loop {
            let result = decoder.decode(&mut buf);
            let consumed = received - pos - buf.len();
            // The bytes still buffered are the stream's, untouched (their
            // start, where a stray write would land first).
            let n = buf.len().min(32);
            assert_eq!(
                buf[..n],
                stream[pos + consumed..][..n],
                "buffered bytes changed"
            );
            match result {
                Ok(Some(frame)) => {
                    check_frame(&decoder, &stream[pos..pos + consumed], &frame);
                    pos += consumed;
                    frames.push(frame);
                }
                Ok(None) => {
                    assert_eq!(consumed, 0, "Ok(None) consumed bytes");
                    if let Ok(Some(header)) = frame::parse_header(&buf) {
                        assert!(
                            header.frame_len() > buf.len() as u64,
                            "Ok(None) with a whole frame buffered"
                        );
                    }
                    break;
                }
                Err(error) => {
                    assert_eq!(consumed, 0, "an error consumed bytes");
                    let _ = (error.close_code(), error.to_string());
                    return Outcome {
                        frames,
                        error: Some(error),
                        left: None,
                    };
                }
            }
        }
    }
    Outcome {
        frames,
        error: None,
        left: Some(buf.len()),
    }
}

/// `wire` is exactly what `decode` consumed to produce `frame`.
fn check_frame(decoder: &Decoder, wire: &[u8], frame: &Frame) {
    let header = frame::parse_header(wire)
        .expect("a decoded frame's header parses")
        .expect("a decoded frame's header is whole");
    assert_eq!(
        wire.len() as u64,
        header.frame_len(),
        "consumed != frame length"
    );
    assert_eq!(
        (frame.fin, frame.rsv, frame.opcode, frame.mask),
        (header.fin, header.rsv, header.opcode, header.mask),
        "the frame's fields are not its header's"
    );
    assert_eq!(frame.payload.len() as u64, header.payload_len);
    assert!(
        frame.payload.len() <= decoder.max_frame_size(),
        "over the size limit"
    );
    match decoder.role() {
        Role::Server => assert!(frame.mask.is_some(), "a server accepted an unmasked frame"),
        Role::Client => assert!(frame.mask.is_none(), "a client accepted a masked frame"),
    }
    if frame.opcode.is_control() {
        assert!(frame.fin, "a fragmented control frame");
        assert!(
            frame.payload.len() <= MAX_CONTROL_PAYLOAD,
            "a long control frame"
        );
    }

    // Back to bytes, with the same key.
    let mut again = BytesMut::new();
    frame::encode(frame, &mut again);
    assert_eq!(
        again.len(),
        frame.encoded_len(),
        "encoded_len() is not what encode wrote"
    );
    if header.has_minimal_length() {
        assert_eq!(wire.len(), frame.encoded_len(), "consumed != encoded_len()");
        assert_eq!(again[..], wire[..], "re-encoding changed the bytes");
    }
    let mut fresh = decoder.clone();
    let back = fresh
        .decode(&mut again)
        .expect("a re-encoded frame decodes")
        .expect("a re-encoded frame is whole");
    assert_eq!(
        &back, frame,
        "the re-encoded frame decodes to another frame"
    );
    assert!(again.is_empty(), "re-encoding left bytes over");
}
