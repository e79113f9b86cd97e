//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use bytes::{Bytes, BytesMut};
use frame::{Decoder, Frame, FrameError, OpCode, Role};
use proptest::prelude::*;

/// The masking key of RFC 6455 §5.7.
pub const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const OPCODES: [OpCode; 6] = OpCode::ALL;

/// Encodes one frame into a fresh buffer.
pub fn encoded(frame: &Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::encode(frame, &mut buf);
    buf.to_vec()
}

/// Decodes every whole frame in `bytes`; fails the test on leftovers.
pub fn decode_all(role: Role, bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut decoder = Decoder::new(role);
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut buf)? {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok(frames)
}

/// Who reads a frame with this mask: masked frames come from clients.
pub fn reader_for(mask: Option<[u8; 4]>) -> Role {
    match mask {
        Some(_) => Role::Server,
        None => Role::Client,
    }
}

/// `len` pseudo-random bytes from `seed` (xorshift): cheap even for 64 KiB,
/// where asking proptest for each byte would be slow.
pub fn payload(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Payload sizes: mostly short, sometimes the 16-bit form, now and then
/// around and past the 64-bit boundary.
pub fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0..=125usize,
        4 => 126..=2048usize,
        1 => 65_530..=65_540usize,
        1 => 65_536..=70_000usize,
    ]
}

/// A valid frame: control frames final and at most 125 bytes; masked or not.
pub fn arb_frame() -> impl Strategy<Value = Frame> {
    (
        0..OPCODES.len(),
        any::<bool>(),
        payload_len(),
        any::<u64>(),
        any::<Option<[u8; 4]>>(),
    )
        .prop_map(|(op, fin, len, seed, mask)| {
            let opcode = OPCODES[op];
            let (fin, len) = if opcode.is_control() {
                (true, len % 126)
            } else {
                (fin, len)
            };
            Frame {
                fin,
                rsv: 0,
                opcode,
                mask,
                payload: payload(len, seed),
            }
        })
}

/// A stream one side sends: 1-6 valid frames, all masked (a client's) or
/// all unmasked (a server's). Returns the reader's role and the frames.
pub fn arb_stream() -> impl Strategy<Value = (Role, Vec<Frame>)> {
    (
        any::<bool>(),
        prop::collection::vec((arb_frame(), any::<[u8; 4]>()), 1..6),
    )
        .prop_map(|(from_client, frames)| {
            let frames = frames
                .into_iter()
                .map(|(frame, key)| Frame {
                    mask: from_client.then_some(key),
                    ..frame
                })
                .collect();
            let reader = if from_client {
                Role::Server
            } else {
                Role::Client
            };
            (reader, frames)
        })
}

/// Cuts `bytes` at the given positions (taken modulo the length, sorted).
pub fn split_at_points(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for point in points.into_iter().chain([bytes.len()]) {
        pieces.push(bytes[from..point].to_vec());
        from = point;
    }
    pieces
}
