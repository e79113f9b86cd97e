//! Every kind of bad input that belongs to the codec (the frame chapter's
//! table of broken rules): each gets its own error and the close code the RFC asks for.

mod common;

use bytes::BytesMut;
use common::{RFC_KEY, encoded};
use frame::{
    Assembler, CloseCode, CloseError, Decoder, Frame, FrameError, Message, MessageError, OpCode,
    Role,
};

/// Decodes `bytes` as `role`; the decoder must fail, and leave the buffer as it was.
fn decode_error(decoder: &mut Decoder, bytes: &[u8]) -> FrameError {
    let mut buf = BytesMut::from(bytes);
    let error = decoder.decode(&mut buf).expect_err("must be refused");
    assert_eq!(buf[..], *bytes, "an error consumes nothing");
    error
}

fn server() -> Decoder {
    Decoder::new(Role::Server)
}

// --- frame level: the decoder --------------------------------------------

#[test]
fn unmasked_client_frame_is_1002() {
    let error = decode_error(&mut server(), &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    assert_eq!(error, FrameError::UnmaskedClientFrame);
    assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
    // Even an empty frame must be masked.
    assert_eq!(
        decode_error(&mut server(), &[0x89, 0x00]),
        FrameError::UnmaskedClientFrame
    );
}

#[test]
fn masked_server_frame_is_1002() {
    let bytes = encoded(&Frame::text("Hello").with_mask(RFC_KEY));
    let error = decode_error(&mut Decoder::new(Role::Client), &bytes);
    assert_eq!(error, FrameError::MaskedServerFrame);
    assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn each_rsv_bit_is_1002() {
    for rsv in [0b100, 0b010, 0b001, 0b111] {
        let frame = Frame {
            rsv,
            ..Frame::text("Hello").with_mask(RFC_KEY)
        };
        let error = decode_error(&mut server(), &encoded(&frame));
        assert_eq!(error, FrameError::ReservedBitsSet, "rsv {rsv:03b}");
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
    }
}

#[test]
fn every_reserved_opcode_is_1002() {
    for opcode in (0x3..=0x7).chain(0xB..=0xF) {
        let bytes = [0x80 | opcode, 0x80, 1, 2, 3, 4];
        let error = decode_error(&mut server(), &bytes);
        assert_eq!(error, FrameError::ReservedOpcode(opcode));
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
        assert!(
            error.to_string().contains(&format!("{opcode:#X}")),
            "{error}"
        );
    }
}

#[test]
fn control_frame_over_125_bytes_is_1002() {
    for opcode in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
        // 126 bytes in the 16-bit form, masked: refused from the header alone.
        let bytes = [0x80 | opcode.as_u8(), 0xFE, 0x00, 0x7E, 1, 2, 3, 4];
        let error = decode_error(&mut server(), &bytes);
        assert_eq!(
            error,
            FrameError::ControlFrameTooLong { len: 126 },
            "{opcode}"
        );
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
    }
    // Autobahn 2.5: a ping with a 126-byte payload, all of it present.
    let mut bytes = vec![0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4];
    bytes.extend([0xAA; 126]);
    assert_eq!(
        decode_error(&mut server(), &bytes),
        FrameError::ControlFrameTooLong { len: 126 }
    );
    // 125 is fine.
    let ping = encoded(&Frame::ping(vec![0xAA; 125]).with_mask(RFC_KEY));
    assert!(
        server()
            .decode(&mut BytesMut::from(&ping[..]))
            .unwrap()
            .is_some()
    );
}

#[test]
fn fragmented_control_frame_is_1002() {
    for opcode in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
        let bytes = [opcode.as_u8(), 0x80, 1, 2, 3, 4]; // FIN = 0
        let error = decode_error(&mut server(), &bytes);
        assert_eq!(error, FrameError::FragmentedControlFrame, "{opcode}");
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
    }
}

#[test]
fn length_with_top_bit_set_is_1002() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    let error = decode_error(&mut server(), &bytes);
    assert_eq!(error, FrameError::LengthTopBitSet);
    assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
}

/// A header announcing 2^62 bytes, with a 1 MiB limit: refused at once, from
/// the 14 header bytes alone, and the buffer never grew.
#[test]
fn oversize_frame_is_1009_without_allocating() {
    let mut decoder = server().with_max_frame_size(1 << 20);
    let header = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&header);
    let capacity = buf.capacity();
    let error = decoder.decode(&mut buf).expect_err("must be refused");
    assert_eq!(
        error,
        FrameError::PayloadTooLarge {
            size: 1 << 62,
            max: 1 << 20
        }
    );
    assert_eq!(error.close_code(), CloseCode::TOO_BIG);
    assert_eq!(buf.capacity(), capacity, "no room reserved for the payload");
    assert_eq!(buf[..], header);
}

/// The limit is inclusive, and a frame under it that is still arriving
/// reserves nothing either: the buffer grows only with real bytes.
#[test]
fn frame_size_limit_is_exact_and_lazy() {
    let max = 1000;
    let mut decoder = server().with_max_frame_size(max);
    for (len, ok) in [(1000u16, true), (1001, false)] {
        let mut header = vec![0x82, 0xFE];
        header.extend(len.to_be_bytes());
        header.extend(RFC_KEY);
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&header);
        let capacity = buf.capacity();
        match decoder.decode(&mut buf) {
            Ok(None) if ok => assert_eq!(buf.capacity(), capacity, "nothing reserved"),
            Err(FrameError::PayloadTooLarge { size, max: 1000 }) if !ok => {
                assert_eq!(size, u64::from(len))
            }
            other => panic!("len {len}: {other:?}"),
        }
    }
}

/// The default limit lets Autobahn's 16 MiB frames through, and no more.
#[test]
fn default_frame_limit_is_16_mib() {
    assert_eq!(server().max_frame_size(), 16 << 20);
    let header = |len: u64| {
        let mut h = vec![0x82, 0xFF];
        h.extend(len.to_be_bytes());
        h.extend(RFC_KEY);
        h
    };
    let mut buf = BytesMut::from(&header(16 << 20)[..]);
    assert_eq!(server().decode(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&header((16 << 20) + 1)[..]);
    assert!(matches!(
        server().decode(&mut buf),
        Err(FrameError::PayloadTooLarge { .. })
    ));
}

// --- message level: the assembler ----------------------------------------

#[test]
fn continuation_without_start_is_1002() {
    let error = Assembler::new()
        .push(Frame::continuation("lo"))
        .expect_err("no message is open");
    assert_eq!(error, MessageError::ContinuationWithoutStart);
    assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);

    // Also after a message has finished.
    let mut assembler = Assembler::new();
    assembler.push(Frame::text("done")).unwrap();
    assert_eq!(
        assembler.push(Frame::continuation("more")),
        Err(MessageError::ContinuationWithoutStart)
    );
}

#[test]
fn new_message_mid_fragment_is_1002() {
    for second in [
        Frame::text("x"),
        Frame::binary("x"),
        Frame::text("x").with_fin(false),
    ] {
        let mut assembler = Assembler::new();
        assert_eq!(assembler.push(Frame::text("Hel").with_fin(false)), Ok(None));
        let error = assembler.push(second).expect_err("a message is open");
        assert_eq!(error, MessageError::NewMessageMidFragment);
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
        assert!(!assembler.is_mid_message(), "state dropped after the error");
    }
}

#[test]
fn one_byte_close_payload_is_1002() {
    let error = Assembler::new()
        .push(Frame::new(OpCode::Close, &[0x03][..]))
        .expect_err("half a code");
    assert_eq!(
        error,
        MessageError::InvalidClose(CloseError::OneBytePayload)
    );
    assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn each_invalid_close_code_is_1002() {
    for code in [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535,
    ] {
        let error = Assembler::new()
            .push(Frame::new(OpCode::Close, code.to_be_bytes().to_vec()))
            .expect_err("invalid code");
        assert_eq!(
            error,
            MessageError::InvalidClose(CloseError::InvalidCode(code))
        );
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR, "{code}");
    }
}

#[test]
fn valid_close_codes_pass_with_their_reason() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend("¿bye?".as_bytes());
        let message = Assembler::new()
            .push(Frame::new(OpCode::Close, payload))
            .unwrap();
        let Some(Message::Close(Some(close))) = message else {
            panic!("{code}: {message:?}");
        };
        assert_eq!(
            (close.code.as_u16(), close.reason.as_str()),
            (code, "¿bye?")
        );
    }
    assert_eq!(
        Assembler::new().push(Frame::close(None)),
        Ok(Some(Message::Close(None)))
    );
}

#[test]
fn close_reason_not_utf8_is_1007() {
    let error = Assembler::new()
        .push(Frame::new(
            OpCode::Close,
            &[0x03, 0xe8, b'o', 0xff, b'k'][..],
        ))
        .expect_err("bad reason");
    assert_eq!(error, MessageError::InvalidClose(CloseError::ReasonNotUtf8));
    assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);
}

#[test]
fn invalid_utf8_in_one_frame_is_1007() {
    let error = Assembler::new()
        .push(Frame::new(OpCode::Text, &b"ok \xc0\xaf"[..]))
        .expect_err("overlong encoding");
    assert_eq!(error, MessageError::InvalidUtf8);
    assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);
}

/// "€" is e2 82 ac. Cut after e2 82, the text is still fine; the fragment
/// that follows with a byte that cannot continue it fails, right there,
/// although the message is not finished.
#[test]
fn invalid_utf8_split_across_fragments_fails_at_the_right_fragment() {
    let mut assembler = Assembler::new();
    assert_eq!(
        assembler.push(Frame::new(OpCode::Text, &b"price: \xe2\x82"[..]).with_fin(false)),
        Ok(None)
    );
    let error = assembler
        .push(Frame::continuation(&b"X and more"[..]).with_fin(false))
        .expect_err("e2 82 58 is not UTF-8");
    assert_eq!(error, MessageError::InvalidUtf8);
    assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);

    // An invalid byte in a middle fragment fails that fragment, not the end.
    let mut assembler = Assembler::new();
    assert_eq!(
        assembler.push(Frame::text("fine").with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(&b"\xff"[..]).with_fin(false)),
        Err(MessageError::InvalidUtf8)
    );

    // A character cut off by the final fragment fails at the final fragment.
    let mut assembler = Assembler::new();
    assert_eq!(
        assembler.push(Frame::text("fine").with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(&b"\xf0\x9d"[..]).with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(&b"\x84"[..])),
        Err(MessageError::InvalidUtf8)
    );
}

/// The same 4-byte character cut into three fragments is fine.
#[test]
fn valid_utf8_split_across_fragments_passes() {
    let clef = "𝄞".as_bytes(); // f0 9d 84 9e
    let mut assembler = Assembler::new();
    assert_eq!(
        assembler.push(Frame::new(OpCode::Text, &clef[..1]).with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(&clef[1..3]).with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(Vec::new()).with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(&clef[3..])),
        Ok(Some(Message::Text("𝄞".into())))
    );
}

#[test]
fn message_over_max_across_fragments_is_1009() {
    let mut assembler = Assembler::new().with_max_message_size(10);
    assert_eq!(
        assembler.push(Frame::binary(vec![1; 4]).with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation(vec![2; 6]).with_fin(false)),
        Ok(None)
    );
    let error = assembler
        .push(Frame::continuation(vec![3; 1]))
        .expect_err("11 bytes > 10");
    assert_eq!(error, MessageError::MessageTooLarge { size: 11, max: 10 });
    assert_eq!(error.close_code(), CloseCode::TOO_BIG);
    assert!(
        !assembler.is_mid_message(),
        "the partial message is dropped"
    );

    // Exactly the limit is fine, as text too.
    let mut assembler = Assembler::new().with_max_message_size(10);
    assert_eq!(
        assembler.push(Frame::text("hello").with_fin(false)),
        Ok(None)
    );
    assert_eq!(
        assembler.push(Frame::continuation("world")),
        Ok(Some(Message::Text("helloworld".into())))
    );
    // One frame over the limit on its own.
    assert_eq!(
        Assembler::new()
            .with_max_message_size(10)
            .push(Frame::text("hello world")),
        Err(MessageError::MessageTooLarge { size: 11, max: 10 })
    );
}

/// Every error explains itself in one line, naming the RFC rule.
#[test]
fn errors_display_one_line_each() {
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(FrameError::UnmaskedClientFrame),
        Box::new(FrameError::MaskedServerFrame),
        Box::new(FrameError::ReservedBitsSet),
        Box::new(FrameError::ReservedOpcode(3)),
        Box::new(FrameError::ControlFrameTooLong { len: 126 }),
        Box::new(FrameError::FragmentedControlFrame),
        Box::new(FrameError::LengthTopBitSet),
        Box::new(FrameError::PayloadTooLarge { size: 5, max: 4 }),
        Box::new(CloseError::OneBytePayload),
        Box::new(CloseError::InvalidCode(1005)),
        Box::new(CloseError::ReasonNotUtf8),
        Box::new(MessageError::ContinuationWithoutStart),
        Box::new(MessageError::NewMessageMidFragment),
        Box::new(MessageError::InvalidUtf8),
        Box::new(MessageError::MessageTooLarge { size: 5, max: 4 }),
    ];
    for error in errors {
        let line = error.to_string();
        assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
    }
    assert!(FrameError::LengthTopBitSet.to_string().contains("§5.2"));
}
