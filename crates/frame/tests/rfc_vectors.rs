//! RFC 6455 §5.7's examples byte for byte, both ways; the source articles' "Hello";
//! the length-form boundaries; partial reads ("half packets") and several
//! frames in one read ("sticky packets").

mod common;

use bytes::BytesMut;
use common::{RFC_KEY, decode_all, encoded};
use frame::{Assembler, Decoder, Frame, LengthForm, Message, OpCode, Role, parse_header};

const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn single_frame_unmasked_text() {
    assert_eq!(encoded(&Frame::text("Hello")), UNMASKED_HELLO);
    let frames = decode_all(Role::Client, &UNMASKED_HELLO).unwrap();
    assert_eq!(frames, [Frame::text("Hello")]);
}

#[test]
fn single_frame_masked_text() {
    let frame = Frame::text("Hello").with_mask(RFC_KEY);
    assert_eq!(encoded(&frame), MASKED_HELLO);
    let frames = decode_all(Role::Server, &MASKED_HELLO).unwrap();
    // Decoded payloads are unmasked; the key that was on the wire is kept.
    assert_eq!(&frames[0].payload[..], b"Hello");
    assert_eq!(frames, [frame]);
}

#[test]
fn fragmented_unmasked_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    assert_eq!(encoded(&Frame::text("Hel").with_fin(false)), first);
    assert_eq!(encoded(&Frame::continuation("lo")), second);

    let frames = decode_all(Role::Client, &[&first[..], &second[..]].concat()).unwrap();
    assert_eq!(
        frames,
        [
            Frame::text("Hel").with_fin(false),
            Frame::continuation("lo")
        ]
    );
    let mut assembler = Assembler::new();
    assert_eq!(assembler.push(frames[0].clone()), Ok(None));
    assert_eq!(
        assembler.push(frames[1].clone()),
        Ok(Some(Message::Text("Hello".into())))
    );
}

#[test]
fn unmasked_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(encoded(&Frame::ping("Hello")), ping);
    assert_eq!(encoded(&Frame::pong("Hello").with_mask(RFC_KEY)), pong);
    assert_eq!(
        decode_all(Role::Client, &ping).unwrap(),
        [Frame::ping("Hello")]
    );
    assert_eq!(
        decode_all(Role::Server, &pong).unwrap(),
        [Frame::pong("Hello").with_mask(RFC_KEY)]
    );
}

#[test]
fn binary_256_bytes_uses_the_16_bit_form() {
    let payload: Vec<u8> = (0..=255).collect();
    let bytes = encoded(&Frame::binary(payload.clone()));
    assert_eq!(bytes[..4], [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(bytes[4..], payload[..]);
    assert_eq!(
        decode_all(Role::Client, &bytes).unwrap(),
        [Frame::binary(payload)]
    );
}

#[test]
fn binary_64_kib_uses_the_64_bit_form() {
    let payload: Vec<u8> = (0..65_536).map(|i| i as u8).collect();
    let bytes = encoded(&Frame::binary(payload.clone()));
    assert_eq!(bytes[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    assert_eq!(bytes.len(), 10 + 65_536);
    assert_eq!(
        decode_all(Role::Client, &bytes).unwrap(),
        [Frame::binary(payload)]
    );
}

/// Seed 000's example: a server sends "Hello" as `81 05 48 65 6c 6c 6f`,
/// the same bytes as the RFC's first example.
#[test]
fn seed_hello_from_a_server() {
    let seed = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F];
    assert_eq!(encoded(&Frame::text("Hello")), seed);
    let frame = Decoder::new(Role::Client)
        .decode(&mut BytesMut::from(&seed[..]))
        .unwrap()
        .unwrap();
    assert!(frame.fin);
    assert_eq!(frame.opcode, OpCode::Text);
    assert_eq!(frame.mask, None);
    assert_eq!(&frame.payload[..], b"Hello");
}

/// 125, 126, 65535, 65536: the last length of one form and the first of the
/// next, masked and not, encoded minimally and decoded back.
#[test]
fn length_form_boundaries() {
    let cases: [(usize, LengthForm, &[u8]); 4] = [
        (125, LengthForm::Short, &[0x7D]),
        (126, LengthForm::Extended16, &[0x7E, 0x00, 0x7E]),
        (65_535, LengthForm::Extended16, &[0x7E, 0xFF, 0xFF]),
        (
            65_536,
            LengthForm::Extended64,
            &[0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00],
        ),
    ];
    for (len, form, length_bytes) in cases {
        for mask in [None, Some(RFC_KEY)] {
            let frame = Frame {
                mask,
                ..Frame::binary(vec![b'x'; len])
            };
            let bytes = encoded(&frame);
            // Byte 1 carries the MASK bit on top of the 7-bit length.
            let mut expected = length_bytes.to_vec();
            if mask.is_some() {
                expected[0] |= 0x80;
                expected.extend(RFC_KEY);
            }
            assert_eq!(bytes[0], 0x82, "len {len}");
            assert_eq!(
                bytes[1..1 + expected.len()],
                expected[..],
                "len {len} mask {mask:?}"
            );

            let header = parse_header(&bytes).unwrap().unwrap();
            assert_eq!(header.length_form, form, "len {len}");
            assert_eq!(header.payload_len, len as u64);
            assert_eq!(header.header_len, 1 + expected.len());

            let role = common::reader_for(mask);
            assert_eq!(
                decode_all(role, &bytes).unwrap(),
                [frame],
                "len {len} mask {mask:?}"
            );
        }
    }
}

/// Half a packet: every prefix of a frame is "need more bytes" and leaves the
/// buffer exactly as it was.
#[test]
fn every_prefix_is_need_more_and_consumes_nothing() {
    let mut bytes = encoded(&Frame::binary(vec![7; 300]).with_mask(RFC_KEY));
    bytes.truncate(bytes.len() - 1);
    let mut decoder = Decoder::new(Role::Server);
    for n in 0..=bytes.len() {
        let mut buf = BytesMut::from(&bytes[..n]);
        assert_eq!(decoder.decode(&mut buf), Ok(None), "{n} bytes");
        assert_eq!(buf[..], bytes[..n], "{n} bytes: nothing consumed");
    }
}

/// Sticky packets: one read holds a frame and a half. The first frame comes
/// out, the half stays, and completes with the next read.
#[test]
fn one_and_a_half_frames_in_one_read() {
    let first = encoded(&Frame::text("one").with_mask(RFC_KEY));
    let second = encoded(&Frame::text("two").with_mask([1, 2, 3, 4]));
    let (head, tail) = second.split_at(4);

    let mut decoder = Decoder::new(Role::Server);
    let mut buf = BytesMut::from(&[&first[..], head].concat()[..]);
    let frame = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(&frame.payload[..], b"one");
    assert_eq!(buf[..], *head, "the half frame is left untouched");
    assert_eq!(decoder.decode(&mut buf), Ok(None));

    buf.extend_from_slice(tail);
    let frame = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(&frame.payload[..], b"two");
    assert!(buf.is_empty());
}

/// Control frames between fragments come out as they arrive (RFC 6455 §5.4).
#[test]
fn ping_between_fragments_through_decoder_and_assembler() {
    let frames = [
        Frame::binary(&b"ab"[..]).with_fin(false),
        Frame::ping("are you there?"),
        Frame::continuation(&b"cd"[..]).with_fin(false),
        Frame::pong(""),
        Frame::continuation(&b"ef"[..]),
    ];
    let wire: Vec<u8> = frames
        .iter()
        .flat_map(|f| encoded(&f.clone().with_mask(RFC_KEY)))
        .collect();
    let mut assembler = Assembler::new();
    let out: Vec<Message> = decode_all(Role::Server, &wire)
        .unwrap()
        .into_iter()
        .filter_map(|f| assembler.push(f).unwrap())
        .collect();
    assert_eq!(
        out,
        [
            Message::Ping("are you there?".into()),
            Message::Pong("".into()),
            Message::Binary("abcdef".into()),
        ]
    );
}
