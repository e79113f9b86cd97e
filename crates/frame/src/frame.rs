//! A whole frame, and writing one to the wire (RFC 6455 §5.2).

use bytes::{BufMut, Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::header::{LengthForm, MAX_CONTROL_PAYLOAD};
use crate::mask::apply_mask;
use crate::opcode::OpCode;

/// One WebSocket frame: header fields and payload.
///
/// The payload is always held *unmasked*. `mask` is the key that was on the
/// wire (after decoding) or the key [`encode`] will mask with (before
/// encoding): a client must set one on every frame it sends (RFC 6455 §5.3),
/// chosen fresh and unpredictably for each frame, e.g. with `rand::random()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN: the final fragment of its message. `true` for unfragmented messages
    /// and always for control frames.
    pub fin: bool,
    /// RSV1-RSV3 as a 3-bit number ([`crate::RSV1`] is `0b100`); zero unless an
    /// extension is negotiated.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key: on the wire, or to apply when encoding.
    pub mask: Option<[u8; 4]>,
    /// The payload, unmasked.
    pub payload: Bytes,
}

impl Frame {
    /// A final, unmasked frame with no RSV bits: the common case.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload: payload.into(),
        }
    }

    /// A text frame. Taking a `String` keeps a whole message valid UTF-8; to
    /// split text at arbitrary bytes, build fragments with [`Frame::new`].
    pub fn text(text: impl Into<String>) -> Frame {
        Frame::new(OpCode::Text, text.into())
    }

    /// A binary frame.
    pub fn binary(payload: impl Into<Bytes>) -> Frame {
        Frame::new(OpCode::Binary, payload)
    }

    /// A continuation frame: the next fragment of a message (RFC 6455 §5.4).
    /// Final by default; use [`Frame::with_fin`] for middle fragments.
    pub fn continuation(payload: impl Into<Bytes>) -> Frame {
        Frame::new(OpCode::Continuation, payload)
    }

    /// A ping; its payload (at most 125 bytes) comes back in the pong.
    pub fn ping(payload: impl Into<Bytes>) -> Frame {
        Frame::new(OpCode::Ping, payload)
    }

    /// A pong: the answer to a ping carries the ping's payload (RFC 6455 §5.5.3).
    pub fn pong(payload: impl Into<Bytes>) -> Frame {
        Frame::new(OpCode::Pong, payload)
    }

    /// A Close frame, with a code and reason or with an empty body.
    pub fn close(close: Option<CloseFrame>) -> Frame {
        let mut payload = BytesMut::new();
        if let Some(close) = close {
            close.encode(&mut payload);
        }
        Frame::new(OpCode::Close, payload.freeze())
    }

    /// Sets FIN: `false` for every fragment of a message but the last.
    #[must_use]
    pub fn with_fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }

    /// Sets the masking key [`encode`] masks with; a client's frames need one.
    #[must_use]
    pub fn with_mask(mut self, key: [u8; 4]) -> Frame {
        self.mask = Some(key);
        self
    }

    /// How many bytes [`encode`] will write for this frame.
    pub fn encoded_len(&self) -> usize {
        let form = LengthForm::for_len(self.payload.len() as u64);
        2 + form.extra_bytes() + if self.mask.is_some() { 4 } else { 0 } + self.payload.len()
    }
}

// ANCHOR: encode
/// Appends `frame` to `dst` in wire format, masking the payload if
/// `frame.mask` is set.
///
/// The length always takes the smallest form that fits (RFC 6455 §5.2: "the
/// minimal number of bytes MUST be used").
///
/// Control frames must be final and at most 125 bytes (RFC 6455 §5.5).
/// Sending anything else is a bug in the caller; debug builds panic on it.
pub fn encode(frame: &Frame, dst: &mut BytesMut) {
    let len = frame.payload.len();
    debug_assert!(
        !frame.opcode.is_control() || (frame.fin && len <= MAX_CONTROL_PAYLOAD),
        "control frames must be final and at most 125 bytes (RFC 6455 §5.5)"
    );
    dst.reserve(frame.encoded_len());

    // Byte 0: FIN, RSV1-3, opcode.
    let fin = if frame.fin { 0x80 } else { 0 };
    dst.put_u8(fin | (frame.rsv & 0b111) << 4 | frame.opcode.as_u8());

    // Byte 1: MASK and the 7-bit length, then 0, 2 or 8 bytes of extended
    // length, in network byte order (big-endian).
    let mask_bit = if frame.mask.is_some() { 0x80 } else { 0 };
    match LengthForm::for_len(len as u64) {
        LengthForm::Short => dst.put_u8(mask_bit | len as u8), // len <= 125
        LengthForm::Extended16 => {
            dst.put_u8(mask_bit | 126);
            dst.put_u16(len as u16); // len <= 65,535
        }
        LengthForm::Extended64 => {
            dst.put_u8(mask_bit | 127);
            dst.put_u64(len as u64);
        }
    }

    // The key, then the payload: copied once, and masked where it landed.
    match frame.mask {
        Some(key) => {
            dst.put_slice(&key);
            let start = dst.len();
            dst.put_slice(&frame.payload);
            apply_mask(&mut dst[start..], key);
        }
        None => dst.put_slice(&frame.payload),
    }
}
// ANCHOR_END: encode

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_matches_encode() {
        for len in [0, 1, 125, 126, 65_535, 65_536] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let frame = Frame {
                    mask,
                    ..Frame::binary(vec![0; len])
                };
                let mut buf = BytesMut::new();
                encode(&frame, &mut buf);
                assert_eq!(buf.len(), frame.encoded_len(), "len {len} mask {mask:?}");
            }
        }
    }

    #[test]
    fn close_frame_payload() {
        let frame = Frame::close(Some(CloseFrame::new(crate::CloseCode::NORMAL, "")));
        assert_eq!(&frame.payload[..], [0x03, 0xe8]);
        assert!(Frame::close(None).payload.is_empty());
    }
}
