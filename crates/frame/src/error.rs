//! Every way a peer can break the rules of RFC 6455 §5, and the close code each earns.
//!
//! Three small enums, one per layer, each variant named after the rule broken:
//!
//! - [`FrameError`]: one frame is malformed (the decoder finds these);
//! - [`CloseError`]: a Close frame's body is malformed;
//! - [`MessageError`]: frames do not add up to valid messages (the assembler).
//!
//! Each answers `close_code()`: the status an endpoint sends in its Close frame
//! before dropping the connection (RFC 6455 §7.4.1). Nothing here is
//! recoverable: after any of these errors the connection is failed (RFC 6455 §7.1.7).

use std::error::Error;
use std::fmt;

use crate::close::CloseCode;

// ANCHOR: frame_error
/// A frame broke a rule of RFC 6455 §5. The connection must be failed with
/// [`FrameError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// We are the server and the frame is not masked. RFC 6455 §5.1: "a client
    /// MUST mask all frames that it sends to the server" and "the server MUST
    /// close the connection upon receiving a frame that is not masked" (1002).
    UnmaskedClientFrame,
    /// We are the client and the frame is masked. RFC 6455 §5.1: "A server MUST
    /// NOT mask any frames" and "a client MUST close a connection if it detects
    /// a masked frame" (1002).
    MaskedServerFrame,
    /// RSV1, RSV2 or RSV3 is set where no agreed extension gives it a
    /// meaning. RFC 6455 §5.2: they "MUST be 0 unless an extension is
    /// negotiated that defines meanings for non-zero values";
    /// permessage-deflate gives RSV1 one, on a message's first frame only
    /// (1002).
    ReservedBitsSet,
    /// The opcode is one of the reserved `0x3`-`0x7`, `0xB`-`0xF`. RFC 6455 §5.2:
    /// "If an unknown opcode is received, the receiving endpoint MUST _Fail the
    /// WebSocket Connection_" (1002).
    ReservedOpcode(u8),
    /// A close, ping or pong frame with more than 125 bytes of payload. RFC 6455
    /// §5.5: "All control frames MUST have a payload length of 125 bytes or
    /// less" (1002).
    ControlFrameTooLong {
        /// The payload length the header announced.
        len: u64,
    },
    /// A control frame with FIN = 0. RFC 6455 §5.5: "Control frames themselves
    /// MUST NOT be fragmented" (1002).
    FragmentedControlFrame,
    /// The 64-bit extended length has its most significant bit set. RFC 6455
    /// §5.2: "the most significant bit MUST be 0" (1002).
    LengthTopBitSet,
    /// The frame announces more payload than we are willing to hold. Checked
    /// from the header alone, before a byte of payload is buffered. RFC 6455
    /// §7.4.1: 1009 is for "a message that is too big for it to process".
    PayloadTooLarge {
        /// The payload length the header announced.
        size: u64,
        /// Our limit ([`crate::Decoder::max_frame_size`]).
        max: usize,
    },
}
// ANCHOR_END: frame_error

impl FrameError {
    /// The status code to send in our Close frame before dropping the connection.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            FrameError::PayloadTooLarge { .. } => CloseCode::TOO_BIG,
            FrameError::UnmaskedClientFrame
            | FrameError::MaskedServerFrame
            | FrameError::ReservedBitsSet
            | FrameError::ReservedOpcode(_)
            | FrameError::ControlFrameTooLong { .. }
            | FrameError::FragmentedControlFrame
            | FrameError::LengthTopBitSet => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// One line: what was wrong and which rule says so.
impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::UnmaskedClientFrame => f.write_str(
                "frame from the client is not masked (RFC 6455 §5.1: a client MUST mask)",
            ),
            FrameError::MaskedServerFrame => f.write_str(
                "frame from the server is masked (RFC 6455 §5.1: a server MUST NOT mask)",
            ),
            FrameError::ReservedBitsSet => f.write_str(
                "RSV bits set but no extension was negotiated (RFC 6455 §5.2: they MUST be 0)",
            ),
            FrameError::ReservedOpcode(op) => {
                write!(
                    f,
                    "reserved opcode {op:#X} (RFC 6455 §5.2: unknown opcodes fail the connection)"
                )
            }
            FrameError::ControlFrameTooLong { len } => write!(
                f,
                "control frame with a {len}-byte payload (RFC 6455 §5.5: at most 125 bytes)"
            ),
            FrameError::FragmentedControlFrame => f.write_str(
                "control frame with FIN = 0 (RFC 6455 §5.5: control frames MUST NOT be fragmented)",
            ),
            FrameError::LengthTopBitSet => f.write_str(
                "64-bit payload length with its top bit set (RFC 6455 §5.2: that bit MUST be 0)",
            ),
            FrameError::PayloadTooLarge { size, max } => {
                write!(
                    f,
                    "frame announces a {size}-byte payload, over our limit of {max} bytes"
                )
            }
        }
    }
}

impl Error for FrameError {}

// ANCHOR: close_error
/// The body of a Close frame is malformed (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseError {
    /// The body is one byte long. RFC 6455 §5.5.1: "If there is a body, the
    /// first two bytes of the body MUST be a 2-byte unsigned integer" (1002).
    OneBytePayload,
    /// The status code may not appear on the wire: 0-999, 1004-1006, 1015,
    /// 1016-2999 or 5000 and up (RFC 6455 §7.4; see [`CloseCode::is_valid`]) (1002).
    InvalidCode(u16),
    /// The reason after the code is not UTF-8. RFC 6455 §5.5.1 says it is
    /// UTF-8, and §8.1 fails the connection on invalid UTF-8 (1007).
    ReasonNotUtf8,
}
// ANCHOR_END: close_error

impl CloseError {
    /// The status code to send in our Close frame before dropping the connection.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseError::OneBytePayload | CloseError::InvalidCode(_) => CloseCode::PROTOCOL_ERROR,
            CloseError::ReasonNotUtf8 => CloseCode::INVALID_PAYLOAD,
        }
    }
}

/// One line: what was wrong and which rule says so.
impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::OneBytePayload => f.write_str(
                "close frame with a 1-byte body (RFC 6455 §5.5.1: a body starts with a 2-byte code)",
            ),
            CloseError::InvalidCode(code) => {
                write!(f, "close code {code} may not be sent on the wire (RFC 6455 §7.4)")
            }
            CloseError::ReasonNotUtf8 => {
                f.write_str("close reason is not valid UTF-8 (RFC 6455 §5.5.1, §8.1)")
            }
        }
    }
}

impl Error for CloseError {}

// ANCHOR: message_error
/// Frames that are each fine but do not add up to valid messages
/// (RFC 6455 §5.4 fragmentation, §5.6 text, §5.5.1 close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// A continuation frame arrived while no fragmented message was open.
    /// RFC 6455 §5.4: a fragmented message starts with a text or binary frame
    /// with FIN = 0 (1002).
    ContinuationWithoutStart,
    /// A text or binary frame arrived while a fragmented message was still
    /// open. RFC 6455 §5.4: fragments of one message are not interleaved with
    /// another; only control frames may come between them (1002).
    NewMessageMidFragment,
    /// A text message is not valid UTF-8. RFC 6455 §8.1: "When an endpoint is
    /// to interpret a byte stream as UTF-8 but finds that the byte stream is
    /// not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
    /// WebSocket Connection_" (1007). Reported by the first fragment that makes
    /// the text invalid.
    InvalidUtf8,
    /// Appending the next fragment would take the message past our limit
    /// ([`crate::Assembler::max_message_size`]); checked before appending (1009).
    MessageTooLarge {
        /// The message size the fragment would have made.
        size: usize,
        /// Our limit.
        max: usize,
    },
    /// A Close frame's body is malformed.
    InvalidClose(CloseError),
    /// A message marked compressed (RSV1) where permessage-deflate was
    /// not agreed (RFC 6455 §5.2: RSV bits "MUST be 0 unless an extension
    /// is negotiated that defines meanings for non-zero values") (1002).
    CompressionNotAgreed,
    /// A compressed message's payload is not valid DEFLATE data
    /// (RFC 7692 §7.2.2) (1007).
    BadCompression,
}
// ANCHOR_END: message_error

impl MessageError {
    /// The status code to send in our Close frame before dropping the connection.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            MessageError::ContinuationWithoutStart
            | MessageError::NewMessageMidFragment
            | MessageError::CompressionNotAgreed => CloseCode::PROTOCOL_ERROR,
            MessageError::InvalidUtf8 | MessageError::BadCompression => CloseCode::INVALID_PAYLOAD,
            MessageError::MessageTooLarge { .. } => CloseCode::TOO_BIG,
            MessageError::InvalidClose(e) => e.close_code(),
        }
    }
}

/// One line: what was wrong and which rule says so.
impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::ContinuationWithoutStart => {
                f.write_str("continuation frame with no fragmented message open (RFC 6455 §5.4)")
            }
            MessageError::NewMessageMidFragment => f.write_str(
                "new text or binary frame before the fragmented message ended (RFC 6455 §5.4)",
            ),
            MessageError::InvalidUtf8 => {
                f.write_str("text message is not valid UTF-8 (RFC 6455 §8.1)")
            }
            MessageError::MessageTooLarge { size, max } => {
                write!(
                    f,
                    "message would grow to {size} bytes, over our limit of {max} bytes"
                )
            }
            MessageError::InvalidClose(e) => e.fmt(f),
            MessageError::CompressionNotAgreed => f.write_str(
                "compressed message (RSV1) but permessage-deflate was not agreed (RFC 6455 §5.2)",
            ),
            MessageError::BadCompression => {
                f.write_str("compressed message is not valid DEFLATE data (RFC 7692 §7.2.2)")
            }
        }
    }
}

// `InvalidClose` prints its inner error as its own message, so it does not
// also return it from `source()`: error reporters would print it twice.
impl Error for MessageError {}

impl From<CloseError> for MessageError {
    fn from(e: CloseError) -> Self {
        MessageError::InvalidClose(e)
    }
}
