//! Fuzz target `inflate`: lesson 2's permessage-deflate codec (RFC 7692
//! §7.2) through the [`frame::Assembler`], on arbitrary compressed data,
//! with a 64 KiB message limit.
//!
//! Input: `[config, cuts, data...]`.
//! - `config` bit 0: a text (0) or binary (1) message; bit 1: keep the
//!   inflater's context; bits 2-5: the window bits (9 to 15) for the
//!   round trip below.
//! - `cuts` splits `data` into that message's fragments (0: one frame;
//!   otherwise pieces of 1 to 2^(cuts & 7) bytes).
//!
//! Checked:
//! - nothing panics, whatever `data` is: it is inflated as a compressed
//!   message (RSV1 on its first frame), and either comes out, or is refused
//!   with `BadCompression`, `InvalidUtf8` or `MessageTooLarge`;
//! - a message that comes out is at most the limit, and a text message is
//!   valid UTF-8 (the `String` says so);
//! - the compressor round trip: `data` compressed by [`frame::Compressor`]
//!   (the window from `config`) and sent in the same fragments inflates to
//!   exactly `data`, or is refused with `MessageTooLarge` when `data` is
//!   over the limit.
#![no_main]

use frame::{Assembler, Compressor, Frame, Inflater, Message, MessageError, OpCode, RSV1};
use libfuzzer_sys::fuzz_target;

const MAX_MESSAGE: usize = 64 * 1024;

fuzz_target!(|input: &[u8]| {
    let [config, cuts, data @ ..] = input else {
        return;
    };
    let binary = config & 1 == 1;
    let keep = config & 2 == 2;
    let bits = 9 + (config >> 2) % 7;
    let opcode = if binary { OpCode::Binary } else { OpCode::Text };

    // Arbitrary bytes as a compressed message.
    match assemble(opcode, keep, *cuts, data) {
        Ok(message) => check_size(&message),
        Err(
            MessageError::BadCompression
            | MessageError::InvalidUtf8
            | MessageError::MessageTooLarge { .. },
        ) => {}
        Err(other) => panic!("unexpected {other:?}"),
    }

    // Our own compressor's output comes back exactly.
    let compressed = Compressor::with_window_bits(keep, bits).compress(data);
    let text_ok = binary || std::str::from_utf8(data).is_ok();
    match assemble(opcode, keep, *cuts, &compressed) {
        Ok(Message::Binary(bytes)) => assert_eq!(&bytes[..], data),
        Ok(Message::Text(text)) => assert_eq!(text.as_bytes(), data),
        Ok(other) => panic!("not a data message: {other:?}"),
        Err(MessageError::MessageTooLarge { .. }) => assert!(data.len() > MAX_MESSAGE),
        Err(MessageError::InvalidUtf8) => assert!(!text_ok),
        Err(other) => panic!("our own compression refused: {other:?}"),
    }
});

/// `payload` as one compressed message, cut into fragments by `cuts`.
fn assemble(opcode: OpCode, keep: bool, cuts: u8, payload: &[u8]) -> Result<Message, MessageError> {
    let mut assembler = Assembler::new()
        .with_max_message_size(MAX_MESSAGE)
        .with_inflater(Inflater::new(keep));
    let pieces: Vec<&[u8]> = if cuts == 0 || payload.is_empty() {
        vec![payload]
    } else {
        let size = 1 + usize::from(cuts) % (1 << (cuts & 7)).max(1);
        payload.chunks(size).collect()
    };
    let last = pieces.len() - 1;
    for (i, piece) in pieces.into_iter().enumerate() {
        let frame = if i == 0 {
            Frame {
                rsv: RSV1,
                ..Frame::new(opcode, piece.to_vec())
            }
        } else {
            Frame::continuation(piece.to_vec())
        };
        if let Some(message) = assembler.push(frame.with_fin(i == last))? {
            return Ok(message);
        }
    }
    unreachable!("the last fragment ends the message")
}

fn check_size(message: &Message) {
    let len = match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) => bytes.len(),
        other => panic!("not a data message: {other:?}"),
    };
    assert!(len <= MAX_MESSAGE, "{len}");
}
