//! Property tests: round trips, any split of a byte stream gives the same
//! frames, and arbitrary bytes never panic or make us hold more than the limit.

mod common;

use bytes::BytesMut;
use common::{arb_frame, arb_stream, encoded, reader_for, split_at_points};
use frame::{
    Assembler, Decoder, Frame, FrameError, LengthForm, MAX_HEADER_LEN, Message, OpCode, Role,
    annotate_all, parse_header, parse_hex,
};
use proptest::prelude::*;

/// Feeds `pieces` one read at a time, decoding everything available after
/// each. Checks that "need more bytes" never consumes anything. Returns the
/// frames and the error that ended the stream, if any.
fn feed(decoder: &mut Decoder, pieces: &[Vec<u8>]) -> (Vec<Frame>, Option<FrameError>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.clone();
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {
                    assert_eq!(buf, before, "Ok(None) consumed bytes");
                    break;
                }
                Err(error) => {
                    assert_eq!(buf, before, "an error consumed bytes");
                    return (frames, Some(error));
                }
            }
        }
    }
    (frames, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// encode then decode gives the frame back, in the minimal length form.
    #[test]
    fn round_trip(frame in arb_frame()) {
        let bytes = encoded(&frame);
        prop_assert_eq!(bytes.len(), frame.encoded_len());
        let header = parse_header(&bytes).unwrap().unwrap();
        prop_assert_eq!(header.length_form, LengthForm::for_len(frame.payload.len() as u64));
        prop_assert!(header.has_minimal_length());

        let mut buf = BytesMut::from(&bytes[..]);
        let decoded = Decoder::new(reader_for(frame.mask)).decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(frame));
        prop_assert!(buf.is_empty());
    }

    /// A valid stream cut into reads at arbitrary points decodes to the same
    /// frames as when it arrives in one read.
    #[test]
    fn any_split_gives_the_same_frames(
        (reader, frames) in arb_stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(encoded).collect();
        let pieces = split_at_points(&wire, &cuts);
        let (decoded, error) = feed(&mut Decoder::new(reader), &pieces);
        prop_assert_eq!(error, None);
        prop_assert_eq!(decoded, frames);
    }

    /// Arbitrary bytes, in arbitrary reads, with a small limit: no panic; a
    /// frame never exceeds the limit; "need more bytes" never means holding
    /// more than one header plus the limit; and the split never changes the
    /// outcome.
    #[test]
    fn arbitrary_bytes_are_safe(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        as_server in any::<bool>(),
    ) {
        const MAX: usize = 64;
        let role = if as_server { Role::Server } else { Role::Client };
        let decoder = Decoder::new(role).with_max_frame_size(MAX);

        let whole = feed(&mut decoder.clone(), std::slice::from_ref(&bytes));
        let split = feed(&mut decoder.clone(), &split_at_points(&bytes, &cuts));
        prop_assert_eq!(&whole, &split);

        let (frames, error) = whole;
        for frame in &frames {
            prop_assert!(frame.payload.len() <= MAX);
        }
        let consumed: usize = frames.iter().map(Frame::encoded_len).sum();
        if error.is_none() {
            // What is left is waiting for more: it must be less than a frame
            // we would accept.
            prop_assert!(bytes.len() - consumed < MAX_HEADER_LEN + MAX);
        }

        // The layers above never panic on it either.
        let mut assembler = Assembler::new().with_max_message_size(100);
        for frame in frames {
            if assembler.push(frame).is_err() {
                break;
            }
        }
        let _ = annotate_all(&bytes, Some(role));
        let _ = annotate_all(&bytes, None);
    }

    /// Frames that look almost right (a plausible first byte, short lengths)
    /// reach deeper into the decoder than uniform random bytes do.
    #[test]
    fn plausible_frames_are_safe(
        first in prop::sample::select(vec![0x01u8, 0x02, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8A, 0x09, 0xC1, 0x83]),
        second in any::<u8>(),
        rest in prop::collection::vec(any::<u8>(), 0..200),
        as_server in any::<bool>(),
    ) {
        let mut bytes = vec![first, second];
        bytes.extend(rest);
        let role = if as_server { Role::Server } else { Role::Client };
        let (frames, _) = feed(&mut Decoder::new(role).with_max_frame_size(150), &[bytes.clone()]);
        let mut assembler = Assembler::new();
        for frame in frames {
            if assembler.push(frame).is_err() {
                break;
            }
        }
        let _ = annotate_all(&bytes, None);
    }

    /// Any string given to the CLI's hex reader: an answer, never a panic.
    #[test]
    fn hex_reader_never_panics(input in ".{0,40}") {
        let _ = parse_hex(&input);
    }

    /// Text cut into fragments at any bytes, even inside characters, with
    /// pings in between, comes back whole.
    #[test]
    fn fragmented_text_reassembles(
        text in "\\PC{0,60}",
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let pieces = split_at_points(text.as_bytes(), &cuts);
        let mut assembler = Assembler::new();
        let last = pieces.len() - 1;
        let mut out = Vec::new();
        for (i, piece) in pieces.into_iter().enumerate() {
            let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
            let fragment = Frame::new(opcode, piece).with_fin(i == last);
            out.extend(assembler.push(fragment).unwrap());
            out.extend(assembler.push(Frame::ping("")).unwrap());
        }
        let texts: Vec<_> = out.into_iter().filter(|m| !matches!(m, Message::Ping(_))).collect();
        prop_assert_eq!(texts, vec![Message::Text(text.into())]);
    }

    /// Arbitrary bytes as fragmented text: accepted exactly when they are
    /// UTF-8 as a whole, whatever the cuts.
    #[test]
    fn fragmented_bytes_are_text_iff_utf8(
        bytes in prop::collection::vec(prop::sample::select(vec![0x41u8, 0x80, 0xBF, 0xC2, 0xE2, 0x82, 0xAC, 0xF0, 0x9D, 0xED, 0xA0, 0xFF]), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let pieces = split_at_points(&bytes, &cuts);
        let mut assembler = Assembler::new();
        let last = pieces.len() - 1;
        let mut result = Ok(None);
        for (i, piece) in pieces.into_iter().enumerate() {
            let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
            result = assembler.push(Frame::new(opcode, piece).with_fin(i == last));
            if result.is_err() {
                break;
            }
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => prop_assert_eq!(result, Ok(Some(Message::Text(text.into())))),
            Err(_) => prop_assert_eq!(result, Err(frame::MessageError::InvalidUtf8)),
        }
    }
}
