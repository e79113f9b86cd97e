//! Close frames: a status code and a reason (RFC 6455 §5.5.1, §7.4).

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::CloseError;
use crate::header::MAX_CONTROL_PAYLOAD;

/// A close status code (RFC 6455 §7.4): why an endpoint is closing.
///
/// A newtype rather than an enum: applications may send any code in
/// 3000-4999, and a receiver must be able to hold whatever arrives. The
/// registered codes are constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away, e.g. a server shutting down or a browser leaving the page.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type we cannot accept (e.g. binary to a text-only endpoint).
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Reported locally; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a Close frame. Reported locally; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with its type, such as non-UTF-8 text.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates policy (the generic "no").
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client wanted an extension the server did not negotiate.
    pub const MANDATORY_EXT: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (registered with IANA after RFC 6455).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later, e.g. the server is overloaded (IANA).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got a bad response from upstream (IANA).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Reported locally; never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Wraps any number; see [`CloseCode::is_valid`] for which may be sent.
    pub const fn new(code: u16) -> CloseCode {
        CloseCode(code)
    }

    /// The number on the wire.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    // ANCHOR: close_code_valid
    /// May this code appear in a Close frame on the wire?
    ///
    /// The same split the Autobahn test suite checks (cases 7.7.x and 7.9.x).
    pub const fn is_valid(self) -> bool {
        match self.0 {
            // RFC 6455 §7.4.1, the protocol's own codes. The gaps are 1004
            // (reserved) and 1005/1006, which only report what happened
            // locally: they "MUST NOT be set as a status code in a Close
            // control frame by an endpoint".
            1000..=1003 | 1007..=1011 => true,
            // Registered with IANA since (service restart, try again later,
            // bad gateway). 1015 (TLS failed) is local-only, like 1005.
            1012..=1014 => true,
            // RFC 6455 §7.4.2: 3000-3999 for libraries and frameworks
            // (registered with IANA), 4000-4999 for private use.
            3000..=4999 => true,
            // 0-999 are unused, 1016-2999 reserved for future versions of
            // the protocol, 5000 and up undefined.
            _ => false,
        }
    }
    // ANCHOR_END: close_code_valid

    /// A short human name: the IANA registry's for registered codes,
    /// otherwise the range the code falls in.
    pub const fn name(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            0..=999 => "unused",
            1016..=2999 => "reserved for the protocol",
            3000..=3999 => "registered for libraries",
            4000..=4999 => "private use",
            _ => "undefined",
        }
    }
}

/// The number and its name, e.g. `1000 (normal closure)`.
impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// The body of a Close frame: a status code and a UTF-8 reason (RFC 6455 §5.5.1).
///
/// A Close frame may also have no body at all; that is `None` wherever an
/// `Option<CloseFrame>` appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the sender is closing.
    pub code: CloseCode,
    /// Human-readable detail, for debugging rather than for users; may be empty.
    pub reason: String,
}

impl CloseFrame {
    /// The longest reason that fits: a control frame's 125 bytes minus the
    /// 2-byte code.
    pub const MAX_REASON_LEN: usize = MAX_CONTROL_PAYLOAD - 2;

    /// A close body with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    // ANCHOR: close_parse
    /// Reads a Close frame's payload (already unmasked).
    ///
    /// An empty payload is allowed and means "no status code": `Ok(None)`
    /// (the receiver then reports 1005 to its application).
    ///
    /// # Errors
    ///
    /// [`CloseError::OneBytePayload`], [`CloseError::InvalidCode`] (both 1002),
    /// [`CloseError::ReasonNotUtf8`] (1007).
    pub fn parse(payload: &[u8]) -> Result<Option<CloseFrame>, CloseError> {
        match payload {
            // RFC 6455 §5.5.1: the body is optional.
            [] => Ok(None),
            // "If there is a body, the first two bytes of the body MUST be a
            // 2-byte unsigned integer": one byte is half a code.
            [_] => Err(CloseError::OneBytePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode::new(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid() {
                    return Err(CloseError::InvalidCode(code.as_u16()));
                }
                // The rest is the reason, in UTF-8 (§5.5.1); §8.1 fails the
                // connection on invalid UTF-8.
                let reason = std::str::from_utf8(reason).map_err(|_| CloseError::ReasonNotUtf8)?;
                Ok(Some(CloseFrame::new(code, reason)))
            }
        }
    }
    // ANCHOR_END: close_parse

    /// Appends the Close payload: the code big-endian, then the reason.
    ///
    /// A reason longer than [`CloseFrame::MAX_REASON_LEN`] bytes is cut at the
    /// last character boundary that fits: a longer one would make an invalid
    /// control frame (RFC 6455 §5.5), and cutting inside a character would
    /// make the reason invalid UTF-8 (1007 at the peer).
    ///
    /// Codes that may not be sent (see [`CloseCode::is_valid`]) are a bug in
    /// the caller; debug builds panic on them.
    pub fn encode(&self, dst: &mut BytesMut) {
        debug_assert!(
            self.code.is_valid(),
            "close code {} may not be sent",
            self.code
        );
        let reason = fit_reason(&self.reason);
        dst.reserve(2 + reason.len());
        dst.put_u16(self.code.as_u16());
        dst.put_slice(reason.as_bytes());
    }
}

/// `reason`, cut to the [`CloseFrame::MAX_REASON_LEN`] bytes a Close frame
/// has room for, at the last character boundary that fits: a longer reason
/// would make an invalid control frame (RFC 6455 §5.5), and one cut inside
/// a character would be invalid UTF-8 (1007 at the peer). Every Close we
/// send goes through here, ours and tungstenite's alike.
pub fn fit_reason(reason: &str) -> &str {
    let mut end = reason.len().min(CloseFrame::MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// The code and, if any, the reason, e.g. `1000 (normal closure): "bye"`.
impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {:?}", self.code, self.reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autobahn_valid_and_invalid_codes() {
        // Autobahn 7.7.x: these must be accepted and echoed.
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode::new(code).is_valid(), "{code}");
        }
        // Autobahn 7.9.x: these must fail the connection.
        for code in [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999] {
            assert!(!CloseCode::new(code).is_valid(), "{code}");
        }
        // IANA-registered since the RFC, and the other local-only code.
        for code in [1012, 1013, 1014] {
            assert!(CloseCode::new(code).is_valid(), "{code}");
        }
        for code in [1015, 5000, u16::MAX] {
            assert!(!CloseCode::new(code).is_valid(), "{code}");
        }
    }

    #[test]
    fn encode_then_parse() {
        let close = CloseFrame::new(CloseCode::GOING_AWAY, "bye");
        let mut buf = BytesMut::new();
        close.encode(&mut buf);
        assert_eq!(&buf[..], b"\x03\xe9bye");
        assert_eq!(CloseFrame::parse(&buf), Ok(Some(close)));
    }

    #[test]
    fn long_reason_is_cut_at_a_char_boundary() {
        // 122 ASCII bytes then a 3-byte character: the character would end
        // at byte 125 of the reason, past the 123 that fit.
        let reason = format!("{}€", "a".repeat(122));
        let mut buf = BytesMut::new();
        CloseFrame::new(CloseCode::NORMAL, reason).encode(&mut buf);
        assert_eq!(buf.len(), 2 + 122);
        let parsed = CloseFrame::parse(&buf).unwrap().unwrap();
        assert_eq!(parsed.reason, "a".repeat(122));
        // Two-byte characters: 61 fit in 122 bytes, the 62nd would end at 124.
        assert_eq!(fit_reason(&"é".repeat(100)).len(), 122);
        assert_eq!(fit_reason("bye"), "bye");
        assert_eq!(fit_reason(&"a".repeat(123)).len(), 123);
    }

    #[test]
    fn display() {
        assert_eq!(CloseCode::TOO_BIG.to_string(), "1009 (message too big)");
        assert_eq!(
            CloseFrame::new(CloseCode::NORMAL, "bye").to_string(),
            "1000 (normal closure): \"bye\""
        );
    }
}
