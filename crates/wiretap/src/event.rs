//! What the wiretap reports: one [`Event`] for each thing worth showing.
//!
//! Events carry the bytes they describe (a head, a frame's header and the
//! first bytes of its payload), not text: turning them into annotated lines
//! or JSON is the printer's job ([`crate::render`]), off the path the
//! forwarded bytes take.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use frame::{Compression, FrameError, Header, MessageError, OpCode, Role};
use handshake::ParseError;

/// Which way bytes travel through the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client that connected to us, on to the upstream server.
    ClientToServer,
    /// From the upstream server back to the client.
    ServerToClient,
}

impl Direction {
    /// Both, client to server first.
    pub const BOTH: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

    /// The other way.
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// Who sends the bytes going this way: `"client"` or `"server"`.
    pub const fn sender(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client",
            Direction::ServerToClient => "server",
        }
    }

    /// Who reads the frames going this way, as lesson 2's masking rule
    /// needs it: a client's frames are read by the server, which insists
    /// they are masked (RFC 6455 §5.1), and the other way round.
    pub const fn reader(self) -> Role {
        match self {
            Direction::ClientToServer => Role::Server,
            Direction::ServerToClient => Role::Client,
        }
    }

    /// The name in the JSON output: `"client->server"`, `"server->client"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client->server",
            Direction::ServerToClient => "server->client",
        }
    }
}

/// `client → server` or `server → client`.
impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Direction::ClientToServer => f.write_str("client → server"),
            Direction::ServerToClient => f.write_str("server → client"),
        }
    }
}

/// One thing the wiretap saw, when, and on which connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The connection, numbered from 1 in the order they were accepted; 0
    /// for an event about the tap itself ([`EventKind::Lost`]).
    pub conn: u64,
    /// When, counted from the start of [`crate::run`] (as Wireshark counts
    /// from the start of a capture).
    pub time: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A client connected, and we connected to the upstream for it.
    Open {
        /// The client's address.
        client: SocketAddr,
        /// The upstream's address.
        upstream: SocketAddr,
    },
    /// A client connected, but the upstream could not be reached; the client
    /// was answered `502 Bad Gateway`.
    UpstreamUnreachable {
        /// The client's address.
        client: SocketAddr,
        /// The upstream's address.
        upstream: SocketAddr,
        /// Why not.
        error: String,
    },
    /// Something seen in the bytes going one way.
    Seen(Seen),
    /// One direction ended.
    Closed {
        /// The direction that ended.
        dir: Direction,
        /// How.
        how: Ending,
        /// How many bytes went this way in all.
        bytes: u64,
    },
    /// The connection is over: both directions ended, or one failed and we
    /// closed the other.
    End {
        /// Bytes forwarded from client to server.
        client_bytes: u64,
        /// Bytes forwarded from server to client.
        server_bytes: u64,
        /// How long the connection lasted.
        duration: Duration,
    },
    /// The output fell behind, and this many events were dropped rather than
    /// letting a slow terminal slow the traffic down.
    Lost {
        /// How many.
        count: u64,
    },
}

/// How one direction of a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The sender closed its side (a TCP FIN): it will send nothing more,
    /// but may still read. We passed the FIN on.
    Fin,
    /// Reading or forwarding failed (a reset, most often); we closed both
    /// sides.
    Error(String),
}

/// Something found at a place in one direction's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Which way the bytes went.
    pub dir: Direction,
    /// Where it starts: bytes sent this way before it.
    pub offset: u64,
    /// How many bytes it takes on the wire (for a frame: header and whole
    /// payload, even when we kept only the start of it). `offset + len` is
    /// the running byte count once it has passed.
    pub len: u64,
    /// What it is.
    pub what: What,
}

/// The things [`Seen`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// An HTTP request head, exactly as sent (blank line included).
    HttpRequest {
        /// The head.
        head: Bytes,
    },
    /// An HTTP response head, exactly as sent.
    HttpResponse {
        /// The head.
        head: Bytes,
    },
    /// An HTTP body went by (we count it; we do not keep it).
    HttpBody {
        /// Body bytes, without the chunked encoding's framing.
        body_len: u64,
        /// How the end of the body is found.
        framing: BodyFraming,
        /// The `Content-Type` header, if any.
        content_type: Option<String>,
        /// False when the connection ended before the body did.
        complete: bool,
    },
    /// One Server-Sent Event (`text/event-stream`): its lines up to the
    /// blank line that ends it.
    SseEvent {
        /// The lines, joined with `\n`, possibly cut short.
        text: String,
        /// Whether the event was longer than we keep.
        truncated: bool,
    },
    /// A WebSocket frame.
    Frame {
        /// The header, parsed.
        header: Header,
        /// The frame's first bytes exactly as on the wire: the header, then
        /// (still masked) the start of the payload, at most as many bytes as
        /// [`crate::Options::preview`] says (control frames: all of it).
        bytes: Bytes,
        /// The frame's part in the closing handshake, if it is a Close.
        close_step: Option<CloseStep>,
        /// Whether permessage-deflate (RFC 7692) was agreed, and if so
        /// whether this frame's payload is DEFLATE data: the first frame of
        /// a compressed message, with RSV1, or a continuation of one. What
        /// a compressed message says comes as [`What::Inflated`] once its
        /// last frame has gone by.
        compression: Compression,
    },
    /// A compressed message, inflated, reported when its last frame has
    /// gone by. The report's range covers its frames, headers included.
    Inflated {
        /// Text or binary, from its first frame.
        opcode: OpCode,
        /// How many frames carried it.
        frames: u64,
        /// Its payload bytes on the wire, compressed, all frames together
        /// (headers not counted).
        compressed_len: u64,
        /// Its size once inflated.
        size: u64,
        /// The first inflated bytes, at most [`crate::Options::preview`].
        preview: Bytes,
    },
    /// Bytes we could not decode, forwarded untouched all the same.
    Undecodable {
        /// Why.
        why: Undecodable,
        /// The first few of them.
        bytes: Bytes,
    },
    /// Bytes exactly as they arrived in one read (`--hex`).
    Raw {
        /// The bytes.
        bytes: Bytes,
    },
}

/// How the end of an HTTP body is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length`: that many bytes.
    Length,
    /// `Transfer-Encoding: chunked`: chunks, each with its size, until one
    /// of size 0 (RFC 9112 §7.1).
    Chunked,
    /// Neither: a response body runs until the server closes the connection.
    UntilClose,
}

/// A Close frame's part in the closing handshake (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseStep {
    /// The first Close on the connection: its sender starts the closing
    /// handshake (§7.1.2) and will send no more data frames.
    Starts,
    /// A Close going the other way: the answer (§5.5.1). The WebSocket is
    /// closed; only TCP is left to close.
    Answers,
    /// A second Close from the same side, which RFC 6455 does not expect.
    Repeats,
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecodable {
    /// An HTTP head that is not well-formed: the rest of this direction is
    /// forwarded without decoding.
    NotHttp(ParseError),
    /// No blank line within this many bytes: not an HTTP head we would
    /// accept (lesson 1's limit). The rest is forwarded without decoding.
    HeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// The chunked encoding of a body is broken; the rest is forwarded
    /// without decoding.
    BadChunk,
    /// The client sent bytes after its upgrade request without waiting for
    /// the answer (RFC 6455 §4.1 says it MUST wait), we read them as
    /// frames, and the server refused the upgrade: they were not frames to
    /// the server. The rest of this direction is forwarded without decoding.
    RefusedEarly {
        /// How many bytes had been sent.
        bytes: u64,
    },
    /// The connection switched to a protocol other than WebSocket, which we
    /// do not decode.
    OtherProtocol {
        /// The response's `Upgrade` header.
        upgrade: String,
    },
    /// A frame header that breaks a rule of every frame (a reserved
    /// opcode, say): once framing is in doubt we cannot tell where the next
    /// frame starts, so the rest of this direction is forwarded without
    /// decoding.
    Frame(FrameError),
    /// A frame with RSV bits set: an extension (permessage-deflate, RFC 7692,
    /// sets RSV1 on compressed messages) changed its payload, and we decode
    /// none. Its length is sound, so we skip the payload and go on with the
    /// next frame.
    Extension {
        /// The frame's header.
        header: Header,
        /// The extensions the server's 101 agreed to, if any
        /// (`Sec-WebSocket-Extensions`); `None` means none was negotiated,
        /// so the RSV bits break RFC 6455 §5.2.
        negotiated: Option<String>,
    },
    /// A compressed message could not be inflated (not DEFLATE data, or
    /// larger than [`crate::MAX_INFLATED`]). Its frames are still framed and
    /// shown, but this direction's later messages are not inflated: with
    /// context takeover they depend on what could not be read.
    Inflate(MessageError),
    /// The stream ended inside a head or a frame.
    Truncated {
        /// How many bytes of it were still to come, when known.
        missing: Option<u64>,
    },
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undecodable::NotHttp(e) => write!(f, "not HTTP: {e}"),
            Undecodable::HeadTooLarge { max } => {
                write!(f, "no end of an HTTP head within {max} bytes")
            }
            Undecodable::BadChunk => f.write_str("broken chunked encoding (RFC 9112 §7.1)"),
            Undecodable::RefusedEarly { bytes } => write!(
                f,
                "{bytes} bytes sent right after the upgrade request, which the server refused"
            ),
            Undecodable::OtherProtocol { upgrade } => {
                write!(f, "switched to {upgrade:?}, which we do not decode")
            }
            Undecodable::Frame(e) => write!(f, "invalid frame header: {e}"),
            Undecodable::Extension {
                negotiated: Some(ext),
                ..
            } => write!(
                f,
                "RSV bits set: the payload is transformed by the negotiated extension ({ext})"
            ),
            Undecodable::Extension {
                negotiated: None, ..
            } => f.write_str("RSV bits set, but no extension was negotiated (RFC 6455 §5.2)"),
            Undecodable::Inflate(e) => write!(
                f,
                "a compressed message could not be inflated ({e}); its frames go on \
                 being shown, not inflated"
            ),
            Undecodable::Truncated { missing: Some(n) } => {
                write!(
                    f,
                    "the stream ended {n} bytes short of the end of the frame"
                )
            }
            Undecodable::Truncated { missing: None } => {
                f.write_str("the stream ended in the middle of a head or frame header")
            }
        }
    }
}
