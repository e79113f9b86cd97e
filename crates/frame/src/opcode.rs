//! The opcode: the low four bits of a frame's first byte, saying what the frame carries.

use std::fmt;

use crate::error::FrameError;

/// What a frame carries: the low four bits of its first byte (RFC 6455 §5.2, "Opcode").
///
/// Opcodes `0x3`-`0x7` are reserved for future data frames and `0xB`-`0xF` for
/// future control frames. No extension we speak defines them, so
/// [`OpCode::from_u8`] refuses them and this enum has no variant for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: the next piece of a fragmented message (RFC 6455 §5.4).
    Continuation,
    /// `0x1`: the first (or only) frame of a text message, which must be UTF-8.
    Text,
    /// `0x2`: the first (or only) frame of a binary message.
    Binary,
    /// `0x8`: connection close (RFC 6455 §5.5.1).
    Close,
    /// `0x9`: ping, which the receiver answers with a pong (RFC 6455 §5.5.2).
    Ping,
    /// `0xA`: pong, the answer to a ping or an unsolicited heartbeat (RFC 6455 §5.5.3).
    Pong,
}

impl OpCode {
    /// Every opcode RFC 6455 defines, in numeric order.
    pub const ALL: [OpCode; 6] = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];

    // ANCHOR: from_u8
    /// Reads the four opcode bits.
    ///
    /// # Errors
    ///
    /// [`FrameError::ReservedOpcode`] for `0x3`-`0x7` and `0xB`-`0xF`: RFC 6455
    /// §5.2 says a receiver of an unknown opcode MUST fail the connection. Bits
    /// above the low four are ignored, so pass `byte & 0x0F` or the nibble itself.
    pub const fn from_u8(bits: u8) -> Result<OpCode, FrameError> {
        match bits & 0x0F {
            0x0 => Ok(OpCode::Continuation),
            0x1 => Ok(OpCode::Text),
            0x2 => Ok(OpCode::Binary),
            0x8 => Ok(OpCode::Close),
            0x9 => Ok(OpCode::Ping),
            0xA => Ok(OpCode::Pong),
            reserved => Err(FrameError::ReservedOpcode(reserved)),
        }
    }
    // ANCHOR_END: from_u8

    /// The four bits this opcode is written as.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: the frames that manage the connection rather than
    /// carry the application's data.
    ///
    /// RFC 6455 §5.5: control opcodes are exactly those with the opcode's most
    /// significant bit set (`0x8`-`0xF`), so one bit test decides it.
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// Continuation, text and binary: the frames that make up messages.
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }

    /// The name RFC 6455 §5.2 gives the opcode, in lower case.
    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "connection close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        }
    }
}

/// The RFC's name and the number on the wire, e.g. `text (0x1)`, `pong (0xA)`.
impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:X})", self.name(), self.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_is_either_an_opcode_or_reserved() {
        for bits in 0..16u8 {
            match OpCode::from_u8(bits) {
                Ok(op) => assert_eq!(op.as_u8(), bits),
                Err(e) => {
                    assert!(matches!(bits, 0x3..=0x7 | 0xB..=0xF), "{bits:#x}");
                    assert_eq!(e, FrameError::ReservedOpcode(bits));
                }
            }
        }
    }

    #[test]
    fn control_means_high_bit() {
        let control: Vec<_> = OpCode::ALL
            .into_iter()
            .filter(|op| op.is_control())
            .collect();
        assert_eq!(control, [OpCode::Close, OpCode::Ping, OpCode::Pong]);
    }

    #[test]
    fn display_has_name_and_number() {
        assert_eq!(OpCode::Text.to_string(), "text (0x1)");
        assert_eq!(OpCode::Pong.to_string(), "pong (0xA)");
        assert_eq!(OpCode::Close.to_string(), "connection close (0x8)");
    }
}
