//! What can go wrong on a connection, and what each ending reports.

use std::fmt;
use std::io;

use frame::{CloseCode, FrameError, MessageError};

/// Why a connection ended other than by a clean close handshake, or why a
/// call could not be done.
#[derive(Debug)]
pub enum Error {
    /// The peer sent a frame that breaks RFC 6455 §5. We sent a Close with
    /// [`FrameError::close_code`] (1002, or 1009 for a frame over the limit)
    /// and closed the connection.
    Frame(FrameError),
    /// The peer's frames do not add up to valid messages (bad fragmentation,
    /// text that is not UTF-8, a message over the limit, a malformed Close).
    /// We sent a Close with [`MessageError::close_code`] and closed the
    /// connection.
    Message(MessageError),
    /// TCP ended without a close handshake: the peer crashed, lost its
    /// network or just closed the socket. RFC 6455 §7.1.5 calls this close
    /// code 1006 (abnormal closure), which is never sent, only reported.
    ConnectionLost {
        /// Whether part of a frame had arrived: the peer vanished mid-frame.
        mid_frame: bool,
    },
    /// We sent a Close and the peer did not answer within the close timeout;
    /// we gave up on it.
    CloseTimeout,
    /// The connection is closed (or closing): nothing more can be sent.
    Closed,
    /// A ping or pong we were asked to send has more than 125 bytes of
    /// payload (RFC 6455 §5.5); nothing was sent.
    ControlPayloadTooLong {
        /// The payload length asked for.
        len: usize,
    },
    /// We were asked to close with a code that may not be sent (1005, 1006,
    /// 1015, or one outside the ranges of RFC 6455 §7.4); nothing was sent.
    InvalidCloseCode(CloseCode),
    /// The socket failed.
    Io(io::Error),
}

impl Error {
    /// The close code we sent because of this error, when the error is the
    /// peer breaking the protocol.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Frame(e) => Some(e.close_code()),
            Error::Message(e) => Some(e.close_code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(e) => e.fmt(f),
            Error::Message(e) => e.fmt(f),
            Error::ConnectionLost { mid_frame: true } => {
                f.write_str("the peer closed TCP in the middle of a frame")
            }
            Error::ConnectionLost { mid_frame: false } => {
                f.write_str("the peer closed TCP without a close handshake")
            }
            Error::CloseTimeout => f.write_str("the peer did not answer our Close in time"),
            Error::Closed => f.write_str("the connection is closed"),
            Error::ControlPayloadTooLong { len } => write!(
                f,
                "a {len}-byte ping or pong (RFC 6455 §5.5: control frames carry at most 125 bytes)"
            ),
            Error::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Error::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Frame(e) => Some(e),
            Error::Message(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
