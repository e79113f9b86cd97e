//! Fuzz target `message_assembler`: lesson 2's [`frame::Assembler`] on the
//! frames a [`frame::Decoder`] cuts out of arbitrary bytes, with a small
//! `max_message_size`, checked against a model built on `std::str::from_utf8`.
//!
//! Input: `[config, split, stream...]`, as for `frame_decoder`.
//! - `config` bit 0 picks our role (0: server, 1: client), bits 1-2 the
//!   `max_message_size`: 4096, 0, 5 or 125 bytes (frames: at most 4096).
//! - `split` cuts the stream into reads (0: one read; otherwise pseudo-random
//!   reads of 1 to 2^(split & 7) bytes).
//! - `stream` is the peer's frames on the wire; the run stops at the first
//!   frame the decoder refuses, as a connection would.
//!
//! Each frame goes to [`frame::Assembler::push`], and after each read the
//! text frame still arriving, if any, to [`frame::Assembler::check_arriving`],
//! as lesson 3 does. The model keeps the open message's payloads concatenated
//! and says what must happen; checked:
//! - nothing panics;
//! - a message never exceeds the limit: a frame that would take it past is
//!   refused with `MessageTooLarge`, before any UTF-8 verdict;
//! - a text message is exactly `std::str::from_utf8` of its fragments'
//!   concatenation, and is refused with `InvalidUtf8` exactly when that is
//!   not valid UTF-8;
//! - the verdict comes as soon as the bytes prove it (the crate's promise):
//!   a fragment, or part of a frame still arriving, fails exactly when the
//!   text so far has an invalid sequence that no later byte can repair
//!   (`Utf8Error::error_len()` is `Some`);
//! - binary messages are the concatenation; pings, pongs and closes come out
//!   at once, mid-message too, a close as `CloseFrame::parse` reads it;
//! - fragments out of order are refused (`ContinuationWithoutStart`,
//!   `NewMessageMidFragment`).
#![no_main]

#[path = "shared/reads.rs"]
mod shared;
use shared::reads;

use bytes::BytesMut;
use frame::{Assembler, CloseFrame, Decoder, Frame, Message, MessageError, OpCode, Role};
use libfuzzer_sys::fuzz_target;

/// The largest frame the decoder takes: the stream is small anyway.
const MAX_FRAME: usize = 4096;

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
        0 => 4096,
        1 => 0,
        2 => 5,
        _ => 125,
    };
    let mut decoder = Decoder::new(role).with_max_frame_size(MAX_FRAME);
    let mut assembler = Assembler::new().with_max_message_size(max);
    let mut model = Model { open: None, max };
    let mut buf = BytesMut::new();
    for read in reads(stream, *split) {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if !model.push(&mut assembler, frame) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if let Some((header, arrived)) = decoder.arriving(&buf) {
            let mut text = arrived.to_vec();
            if let Some(key) = header.mask {
                frame::apply_mask(&mut text, key);
            }
            let result = assembler.check_arriving(&header, arrived);
            let checked = match (header.opcode, &model.open) {
                (OpCode::Text, None) => Some(text),
                (OpCode::Continuation, Some(Open { text: true, bytes })) => {
                    Some([&bytes[..], &text[..]].concat())
                }
                _ => None,
            };
            let must_fail = checked.is_some_and(|text| hopeless(&text));
            match result {
                Ok(()) => assert!(!must_fail, "check_arriving missed invalid UTF-8"),
                Err(MessageError::InvalidUtf8) => {
                    assert!(
                        must_fail,
                        "check_arriving refused text that may still be valid"
                    );
                    return;
                }
                Err(e) => panic!("check_arriving: unexpected {e:?}"),
            }
        }
    }
});

/// The message the model has open: a text or binary message's payloads so far.
struct Open {
    text: bool,
    bytes: Vec<u8>,
}

struct Model {
    open: Option<Open>,
    max: usize,
}

impl Model {
    /// Pushes `frame` into `assembler` and checks the answer against the
    /// model. Returns false when the connection would end here.
    fn push(&mut self, assembler: &mut Assembler, frame: Frame) -> bool {
        if frame.rsv != 0 {
            // An extension's frame (none is negotiated here): only "no panic".
            let _ = assembler.push(frame);
            return false;
        }
        let expected = self.expect(&frame);
        let got = assembler.push(frame);
        assert!(
            same(&got, &expected),
            "assembler said {got:?}, the model {expected:?}"
        );
        let size = match &got {
            Ok(Some(Message::Text(text))) => text.len(),
            Ok(Some(Message::Binary(bytes))) => bytes.len(),
            _ => 0,
        };
        assert!(size <= self.max, "a {size}-byte message, over the limit");
        assert_eq!(assembler.is_mid_message(), self.open.is_some());
        got.is_ok()
    }

    /// What the assembler must answer to `frame`, updating the model.
    fn expect(&mut self, frame: &Frame) -> Result<Option<Message>, MessageError> {
        let payload = &frame.payload[..];
        match frame.opcode {
            OpCode::Ping => Ok(Some(Message::Ping(frame.payload.clone()))),
            OpCode::Pong => Ok(Some(Message::Pong(frame.payload.clone()))),
            OpCode::Close => match CloseFrame::parse(payload) {
                Ok(close) => Ok(Some(Message::Close(close))),
                Err(e) => {
                    self.open = None;
                    Err(MessageError::InvalidClose(e))
                }
            },
            OpCode::Text | OpCode::Binary => {
                if self.open.take().is_some() {
                    return Err(MessageError::NewMessageMidFragment);
                }
                let open = Open {
                    text: frame.opcode == OpCode::Text,
                    bytes: Vec::new(),
                };
                self.add(open, frame)
            }
            OpCode::Continuation => match self.open.take() {
                None => Err(MessageError::ContinuationWithoutStart),
                Some(open) => self.add(open, frame),
            },
        }
    }

    /// `frame` continues `open`.
    fn add(&mut self, mut open: Open, frame: &Frame) -> Result<Option<Message>, MessageError> {
        let size = open.bytes.len() + frame.payload.len();
        if size > self.max {
            return Err(MessageError::MessageTooLarge {
                size,
                max: self.max,
            });
        }
        open.bytes.extend_from_slice(&frame.payload);
        if open.text && hopeless(&open.bytes) {
            return Err(MessageError::InvalidUtf8);
        }
        if !frame.fin {
            self.open = Some(open);
            return Ok(None);
        }
        if !open.text {
            return Ok(Some(Message::Binary(open.bytes.into())));
        }
        match std::str::from_utf8(&open.bytes) {
            Ok(text) => Ok(Some(Message::Text(text.into()))),
            // Valid so far, but a character is cut off at the end.
            Err(_) => Err(MessageError::InvalidUtf8),
        }
    }
}

/// The answers match: equal messages, or errors of the same kind (a
/// `MessageTooLarge` with the same figures).
fn same(
    got: &Result<Option<Message>, MessageError>,
    expected: &Result<Option<Message>, MessageError>,
) -> bool {
    match (got, expected) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

/// `bytes` holds a sequence that no following byte can make valid UTF-8.
fn hopeless(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_some())
}
