//! Our codec against tungstenite's, both ways, on random frames: text,
//! binary, continuation, close, ping, pong; final or not; masked or not;
//! payloads from empty to past the 64-bit length boundary.

mod common;

use std::io::Cursor;

use bytes::BytesMut;
use common::{arb_frame, encoded, reader_for};
use frame::{Decoder, Frame, OpCode};
use proptest::prelude::*;
use tungstenite::protocol::frame::{
    Frame as TFrame, FrameHeader, FrameSocket, coding::OpCode as TOpCode,
};

/// The same frame, built with tungstenite's types.
fn to_tungstenite(frame: &Frame) -> TFrame {
    let header = FrameHeader {
        is_final: frame.fin,
        rsv1: frame.rsv & frame::RSV1 != 0,
        rsv2: frame.rsv & frame::RSV2 != 0,
        rsv3: frame.rsv & frame::RSV3 != 0,
        opcode: TOpCode::from(frame.opcode.as_u8()),
        mask: frame.mask,
    };
    TFrame::from_payload(header, frame.payload.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// tungstenite encodes, we decode: the same frame comes out, and the
    /// bytes are the very bytes we would have written.
    #[test]
    fn tungstenite_encodes_we_decode(frame in arb_frame()) {
        let mut wire = Vec::new();
        to_tungstenite(&frame).format(&mut wire).unwrap();
        prop_assert_eq!(&wire, &encoded(&frame));

        let mut buf = BytesMut::from(&wire[..]);
        let decoded = Decoder::new(reader_for(frame.mask)).decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(frame));
        prop_assert!(buf.is_empty());
    }

    /// We encode, tungstenite decodes: its reader sees the same header and,
    /// once unmasked, the same payload, and nothing is left over.
    #[test]
    fn we_encode_tungstenite_decodes(frame in arb_frame()) {
        let wire = encoded(&frame);
        let mut socket = FrameSocket::new(Cursor::new(wire));
        let theirs = socket.read(None).unwrap().expect("a whole frame");

        let header = theirs.header();
        prop_assert_eq!(header.is_final, frame.fin);
        prop_assert_eq!(u8::from(header.opcode), frame.opcode.as_u8());
        prop_assert_eq!(header.mask, frame.mask);
        prop_assert!(!header.rsv1 && !header.rsv2 && !header.rsv3);
        // FrameSocket::read leaves the payload as it was on the wire.
        let mut payload = theirs.payload().to_vec();
        if let Some(key) = frame.mask {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        prop_assert_eq!(&payload[..], &frame.payload[..]);

        let (stream, leftover) = socket.into_inner();
        prop_assert!(leftover.is_empty());
        prop_assert_eq!(stream.position() as usize, frame.encoded_len());
    }
}

/// tungstenite's own Close frame with a code and reason is parsed by ours.
#[test]
fn tungstenite_close_frame_parses() {
    use tungstenite::protocol::frame::{CloseFrame as TClose, coding::CloseCode as TCode};
    let theirs = TFrame::close(Some(TClose {
        code: TCode::Away,
        reason: "server restarting".into(),
    }));
    let mut wire = Vec::new();
    theirs.format(&mut wire).unwrap();
    let ours = common::decode_all(frame::Role::Client, &wire).unwrap();
    assert_eq!(ours[0].opcode, OpCode::Close);
    let close = frame::CloseFrame::parse(&ours[0].payload).unwrap().unwrap();
    assert_eq!(close.code, frame::CloseCode::GOING_AWAY);
    assert_eq!(close.reason, "server restarting");
}
