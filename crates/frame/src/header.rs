//! The frame header: the 2 to 14 bytes in front of every payload (RFC 6455 §5.2).
//!
//! ```text
//!   0                   1                   2                   3
//!   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!  +-+-+-+-+-------+-+-------------+-------------------------------+
//!  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//!  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//!  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//!  | |1|2|3|       |K|             |                               |
//!  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//!  |     Extended payload length continued, if payload len == 127  |
//!  + - - - - - - - - - - - - - - - +-------------------------------+
//!  |                               |Masking-key, if MASK set to 1  |
//!  +-------------------------------+-------------------------------+
//!  | Masking-key (continued)       |          Payload Data         |
//!  +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use crate::error::FrameError;
use crate::opcode::OpCode;

/// The longest header: 2 fixed bytes, 8 bytes of extended length, 4 bytes of
/// masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes
/// or less": the most a 7-bit length can say without switching form.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// RSV1 in [`Header::rsv`] and [`crate::Frame::rsv`]: the bit permessage-deflate
/// (RFC 7692) uses to mark a compressed message.
pub const RSV1: u8 = 0b100;
/// RSV2 in [`Header::rsv`] and [`crate::Frame::rsv`]; no registered extension uses it.
pub const RSV2: u8 = 0b010;
/// RSV3 in [`Header::rsv`] and [`crate::Frame::rsv`]; no registered extension uses it.
pub const RSV3: u8 = 0b001;

// ANCHOR: length_forms
/// How the payload length is written on the wire (RFC 6455 §5.2, "Payload length").
///
/// The second byte keeps 7 bits for the length. Values 0-125 are the length
/// itself; 126 and 127 are escape codes that say "the real length follows in
/// the next 2 (or 8) bytes, big-endian".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthForm {
    /// 0-125 bytes: the 7-bit field is the length. Header: 2 bytes (+4 of key).
    Short,
    /// 7-bit field = 126, then a 16-bit length: up to 65,535 bytes.
    Extended16,
    /// 7-bit field = 127, then a 64-bit length (top bit 0): up to 2^63 - 1 bytes.
    Extended64,
}

impl LengthForm {
    /// The form a 7-bit length field announces.
    pub const fn from_len7(len7: u8) -> LengthForm {
        match len7 & 0x7F {
            126 => LengthForm::Extended16,
            127 => LengthForm::Extended64,
            _ => LengthForm::Short,
        }
    }

    /// The smallest form that can hold `len`, which is the one we always write:
    /// RFC 6455 §5.2, "the minimal number of bytes MUST be used to encode the length".
    pub const fn for_len(len: u64) -> LengthForm {
        if len <= 125 {
            LengthForm::Short
        } else if len <= u16::MAX as u64 {
            LengthForm::Extended16
        } else {
            LengthForm::Extended64
        }
    }

    /// How many bytes of extended length follow the first two header bytes.
    pub const fn extra_bytes(self) -> usize {
        match self {
            LengthForm::Short => 0,
            LengthForm::Extended16 => 2,
            LengthForm::Extended64 => 8,
        }
    }
}
// ANCHOR_END: length_forms

impl LengthForm {
    /// The usual name: `7-bit`, `7+16-bit` or `7+64-bit`.
    pub const fn name(self) -> &'static str {
        match self {
            LengthForm::Short => "7-bit",
            LengthForm::Extended16 => "7+16-bit",
            LengthForm::Extended64 => "7+64-bit",
        }
    }
}

/// A parsed frame header: everything before the payload.
///
/// [`parse_header`] fills it from the wire. It records what the bytes said,
/// including the [`LengthForm`] that was used, so a tool such as the wiretap
/// can show a peer that wrote a 5-byte length in the 64-bit form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// FIN: this is the final fragment of its message (RFC 6455 §5.2).
    pub fin: bool,
    /// RSV1-RSV3 as a 3-bit number: [`RSV1`] is `0b100`, [`RSV2`] `0b010`,
    /// [`RSV3`] `0b001`. Zero unless an extension is negotiated.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// The payload length the header announces.
    pub payload_len: u64,
    /// Which of the three length forms carried `payload_len`.
    pub length_form: LengthForm,
    /// How many bytes the header took on the wire: 2, 4 or 10, plus 4 if masked.
    pub header_len: usize,
}

impl Header {
    /// Header plus payload: the whole frame's size on the wire.
    pub const fn frame_len(&self) -> u64 {
        // Cannot overflow: parse_header refuses lengths with the top bit set,
        // and header_len is at most 14.
        self.header_len as u64 + self.payload_len
    }

    /// Whether the length was written in the smallest form that fits, as RFC
    /// 6455 §5.2 requires of senders. We accept frames that are not (the RFC
    /// gives receivers no rule, and every major implementation is lenient); the
    /// annotator points them out.
    pub const fn has_minimal_length(&self) -> bool {
        matches!(
            (self.length_form, LengthForm::for_len(self.payload_len)),
            (LengthForm::Short, LengthForm::Short)
                | (LengthForm::Extended16, LengthForm::Extended16)
                | (LengthForm::Extended64, LengthForm::Extended64)
        )
    }
}

// ANCHOR: parse_header
/// Reads the frame header at the start of `buf`, without consuming anything.
///
/// Returns `Ok(None)` while the header is incomplete: TCP may hand us half a
/// header, and the rest comes with a later read. Once the whole header is
/// there, it checks the rules every frame must keep whoever sent it: a known
/// opcode, the top bit of a 64-bit length clear, and control frames short
/// and unfragmented. The rules that depend on who we are (masking, RSV bits,
/// size limits) are the [`crate::Decoder`]'s job.
///
/// # Errors
///
/// [`FrameError::ReservedOpcode`], [`FrameError::LengthTopBitSet`],
/// [`FrameError::FragmentedControlFrame`], [`FrameError::ControlFrameTooLong`].
#[inline] // run several times per frame read, often to find no whole header yet
pub fn parse_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    // Step 1: the two fixed bytes. Until both are here we cannot even tell
    // how long the header is.
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };

    // Step 2: the header's length. The 7-bit length picks the form (0, 2 or 8
    // more bytes); the MASK bit adds 4 bytes of key.
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    let length_form = LengthForm::from_len7(len7);
    let header_len = 2 + length_form.extra_bytes() + if masked { 4 } else { 0 };
    if buf.len() < header_len {
        return Ok(None); // half a header: wait for more bytes, consume nothing
    }

    // Step 3: the whole header is here; read every field.
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    let opcode = OpCode::from_u8(b0 & 0x0F)?;
    // RFC 6455 §5.2: multibyte lengths are in network byte order (big-endian).
    let payload_len = match length_form {
        LengthForm::Short => u64::from(len7),
        LengthForm::Extended16 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
        LengthForm::Extended64 => {
            let mut be = [0; 8];
            be.copy_from_slice(&buf[2..10]);
            u64::from_be_bytes(be)
        }
    };
    // The key is always the header's last four bytes.
    let mask = masked.then(|| {
        let k = header_len - 4;
        [buf[k], buf[k + 1], buf[k + 2], buf[k + 3]]
    });

    // Step 4: the rules that hold for every frame, whoever sent it.
    // RFC 6455 §5.2: in the 64-bit form "the most significant bit MUST be 0".
    if payload_len >> 63 != 0 {
        return Err(FrameError::LengthTopBitSet);
    }
    if opcode.is_control() {
        // RFC 6455 §5.5: "Control frames themselves MUST NOT be fragmented."
        if !fin {
            return Err(FrameError::FragmentedControlFrame);
        }
        // RFC 6455 §5.5: "All control frames MUST have a payload length of
        // 125 bytes or less". Short enough to answer a ping between two
        // fragments of a huge message without buffering much.
        if payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(FrameError::ControlFrameTooLong { len: payload_len });
        }
    }

    Ok(Some(Header {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
        length_form,
        header_len,
    }))
}
// ANCHOR_END: parse_header

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_two_bytes_then_the_whole_header() {
        // A masked frame with a 16-bit length: 2 + 2 + 4 = 8 header bytes.
        let bytes = [0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4];
        for n in 0..bytes.len() {
            assert_eq!(parse_header(&bytes[..n]), Ok(None), "{n} bytes");
        }
        let h = parse_header(&bytes).unwrap().unwrap();
        assert_eq!(h.header_len, 8);
        assert_eq!(h.payload_len, 256);
        assert_eq!(h.length_form, LengthForm::Extended16);
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
        assert!(h.has_minimal_length());
        assert_eq!(h.frame_len(), 264);
    }

    #[test]
    fn reads_rsv_bits_in_order() {
        let h = parse_header(&[0xC2, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, RSV1);
        let h = parse_header(&[0xA2, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, RSV2);
        let h = parse_header(&[0x92, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, RSV3);
    }

    #[test]
    fn non_minimal_length_is_read_and_flagged() {
        // "5" written in the 64-bit form.
        let h = parse_header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5])
            .unwrap()
            .unwrap();
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.length_form, LengthForm::Extended64);
        assert!(!h.has_minimal_length());
    }

    #[test]
    fn minimal_forms_at_the_boundaries() {
        assert_eq!(LengthForm::for_len(125), LengthForm::Short);
        assert_eq!(LengthForm::for_len(126), LengthForm::Extended16);
        assert_eq!(LengthForm::for_len(65_535), LengthForm::Extended16);
        assert_eq!(LengthForm::for_len(65_536), LengthForm::Extended64);
    }
}
