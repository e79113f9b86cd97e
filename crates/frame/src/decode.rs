//! Cutting frames out of a byte stream (RFC 6455 §5.2-§5.5).
//!
//! TCP delivers a stream of bytes, not frames: one read may hold half a
//! header, or one and a half frames. Each frame says how long it is, so the
//! decoder waits until that many bytes are buffered, takes exactly one frame,
//! and leaves the rest for next time.

use bytes::{Buf, BytesMut};

use crate::error::FrameError;
use crate::frame::Frame;
use crate::header::{Header, parse_header};
use crate::mask::apply_mask;
use crate::opcode::OpCode;

/// Who *we* are on this connection. It decides which way masking goes
/// (RFC 6455 §5.1): clients mask, servers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the connection: frames we read come from a client and must
    /// be masked.
    Server,
    /// We opened the connection: frames we read come from a server and must
    /// not be masked.
    Client,
}

/// The default [`Decoder::max_frame_size`]: 16 MiB of payload.
///
/// The largest single frame the Autobahn suite sends (cases 9.1.6 and 9.2.6)
/// is exactly this size, and the limit is inclusive, so it passes. Big enough
/// for any chat or push message, small enough that a peer cannot make us hold
/// more than 16 MiB per frame.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;

/// Cuts frames out of a read buffer and checks them against RFC 6455 §5.
///
/// ```
/// use bytes::BytesMut;
/// use frame::{Decoder, OpCode, Role};
///
/// let mut decoder = Decoder::new(Role::Server);
/// // Half of RFC 6455 §5.7's masked "Hello": not enough yet.
/// let mut buf = BytesMut::from(&[0x81, 0x85, 0x37, 0xfa, 0x21][..]);
/// assert_eq!(decoder.decode(&mut buf)?, None);
/// assert_eq!(buf.len(), 5, "nothing consumed");
/// // The rest arrives.
/// buf.extend_from_slice(&[0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// let frame = decoder.decode(&mut buf)?.expect("a whole frame");
/// assert_eq!((frame.opcode, &frame.payload[..]), (OpCode::Text, &b"Hello"[..]));
/// assert!(buf.is_empty());
/// # Ok::<(), frame::FrameError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    role: Role,
    max_frame_size: usize,
    /// The RSV bits an agreed extension gives a meaning to.
    extension_bits: u8,
}

impl Decoder {
    /// A decoder for our side of the connection, with the default
    /// [`DEFAULT_MAX_FRAME_SIZE`] limit.
    pub fn new(role: Role) -> Decoder {
        Decoder {
            role,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            extension_bits: 0,
        }
    }

    /// Accepts [`crate::RSV1`] on a message's first frame: permessage-deflate
    /// was agreed, and RSV1 says "this message is compressed".
    #[must_use]
    pub fn with_compression(mut self) -> Decoder {
        self.extension_bits = crate::header::RSV1;
        self
    }

    /// Sets the largest payload one frame may announce; bigger frames are
    /// refused with [`FrameError::PayloadTooLarge`] (close 1009).
    #[must_use]
    pub fn with_max_frame_size(mut self, max: usize) -> Decoder {
        self.max_frame_size = max;
        self
    }

    /// Our role on the connection.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The largest payload one frame may announce, in bytes (inclusive).
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    // ANCHOR: decode
    /// Takes one whole frame off the front of `buf`, unmasked.
    ///
    /// Returns `Ok(None)` until a whole frame is buffered, and consumes
    /// nothing until then: call again after the next read. On success exactly
    /// one frame's bytes are removed and anything after it stays in `buf`.
    ///
    /// The size limit is checked from the header alone, before any payload is
    /// buffered, and the decoder never reserves room for an announced payload:
    /// `buf` only grows with bytes that really arrive.
    ///
    /// # Errors
    ///
    /// Any [`FrameError`]. They are all fatal: send a Close frame with
    /// [`FrameError::close_code`] and drop the connection. `buf` is left as it was.
    #[inline] // into the reader's loop, parse_header and apply_mask with it: no calls
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        // 1. The header, or "need more bytes". parse_header only looks.
        let Some(header) = parse_header(buf)? else {
            return Ok(None);
        };

        // 2. The rules that depend on who we are.
        check_peer_rules(&header, Some(self.role), self.extension_bits)?;

        // 3. The size limit, now, while all we hold is the header: a peer
        //    announcing 2^62 bytes has cost us nothing but its header.
        if header.payload_len > self.max_frame_size as u64 {
            return Err(FrameError::PayloadTooLarge {
                size: header.payload_len,
                max: self.max_frame_size,
            });
        }
        // Cannot truncate: payload_len <= max_frame_size, which is a usize.
        let payload_len = header.payload_len as usize;

        // 4. Is the whole payload here? If not, wait for the next read.
        //    (buf.len() >= header_len: parse_header saw the whole header.)
        if buf.len() - header.header_len < payload_len {
            return Ok(None);
        }

        // 5. Take the frame. split_to hands us the payload's bytes without
        //    copying them and leaves whatever follows (the start of the next
        //    frame) in buf. We unmask in place and freeze: still no copy.
        buf.advance(header.header_len);
        let mut payload = buf.split_to(payload_len);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        Ok(Some(Frame {
            fin: header.fin,
            rsv: header.rsv,
            opcode: header.opcode,
            mask: header.mask,
            payload: payload.freeze(),
        }))
    }
    // ANCHOR_END: decode

    /// The header and the payload bytes buffered so far of a frame that has
    /// not wholly arrived: `None` when `buf` holds no whole header, or a
    /// whole frame ([`Decoder::decode`] it), or a header `decode` refuses.
    /// For [`crate::Assembler::check_arriving`].
    pub fn arriving<'a>(&self, buf: &'a [u8]) -> Option<(Header, &'a [u8])> {
        let header = parse_header(buf).ok()??;
        if header.payload_len > self.max_frame_size as u64 {
            return None;
        }
        let end = header.header_len + header.payload_len as usize;
        (buf.len() < end).then(|| (header, &buf[header.header_len..]))
    }
}

// ANCHOR: peer_rules
/// The rules that depend on the connection rather than on the frame alone.
/// `reader` is who reads the frame; `None` skips the masking rule (the
/// annotator uses that when it does not know which way the bytes went).
pub(crate) fn check_peer_rules(
    header: &Header,
    reader: Option<Role>,
    extension_bits: u8,
) -> Result<(), FrameError> {
    match (reader, header.mask) {
        // RFC 6455 §5.1: "a client MUST mask all frames that it sends to the
        // server" ... "The server MUST close the connection upon receiving a
        // frame that is not masked."
        (Some(Role::Server), None) => return Err(FrameError::UnmaskedClientFrame),
        // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to
        // the client. A client MUST close a connection if it detects a masked
        // frame."
        (Some(Role::Client), Some(_)) => return Err(FrameError::MaskedServerFrame),
        _ => {}
    }
    // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that
    // defines meanings for non-zero values". The one we may negotiate,
    // permessage-deflate, gives RSV1 a meaning on a message's first frame
    // only: never on a continuation or a control frame (RFC 7692 §6.1).
    let allowed = match header.opcode {
        OpCode::Text | OpCode::Binary => extension_bits,
        _ => 0,
    };
    if header.rsv & !allowed != 0 {
        return Err(FrameError::ReservedBitsSet);
    }
    Ok(())
}
// ANCHOR_END: peer_rules
