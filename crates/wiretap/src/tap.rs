//! The tap itself, with no I/O: bytes in, [`Seen`] reports out.
//!
//! [`ConnTap`] follows one connection, both directions, from its first byte.
//! Every connection starts as HTTP/1.1: request heads one way, response
//! heads and bodies the other, as many as keep-alive brings. When a response
//! is `101 Switching Protocols` to a WebSocket upgrade, both directions
//! switch to frames (lesson 1 says why that is the moment). Whatever cannot
//! be decoded is reported once, and from then on only counted: the tap never
//! stops forwarding because it stopped understanding.
//!
//! The proxy ([`crate::run`]) feeds it a copy of every read, after the read
//! has been forwarded. Everything here is bounded: a head is at most 8 KiB
//! (lesson 1's limit), a frame costs its header and a short preview, a body
//! is counted, not kept.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use handshake::{
    DeflateParams, Headers, MAX_HEAD_BYTES, find_blank_line, parse_extensions, parse_request,
    parse_response,
};

use crate::Options;
use crate::body::{Body, Progress};
use crate::event::{Direction, Seen, Undecodable, What};
use crate::frames::{FrameReader, mark_close_steps};

/// How many unanswered requests we remember (HTTP/1.1 pipelining): more is
/// not a browser, and at worst we pair a response with the wrong request.
const MAX_PENDING: usize = 64;

/// How many bytes an [`Undecodable`] report carries, to show what they were.
const SHOWN_UNDECODABLE: usize = 16;

/// What one direction carries right now.
#[derive(Debug)]
enum Mode {
    /// An HTTP head, arriving into the buffer.
    Head(BytesMut),
    /// An HTTP body; after it, another head, or (for a request that asked
    /// to upgrade to WebSocket) frames.
    Body { body: Body, then_frames: bool },
    /// WebSocket frames.
    Frames(FrameReader),
    /// Something we do not decode: counted, forwarded, not looked at.
    Opaque,
}

/// One direction.
#[derive(Debug)]
struct Side {
    dir: Direction,
    /// Bytes fed so far: where the next byte sits in the stream.
    offset: u64,
    mode: Mode,
}

impl Side {
    fn new(dir: Direction) -> Side {
        Side {
            dir,
            offset: 0,
            mode: Mode::Head(BytesMut::new()),
        }
    }

    /// Gives up decoding this way, with a report on why.
    fn lose(&mut self, why: Undecodable, offset: u64, len: u64, bytes: &[u8], out: &mut Vec<Seen>) {
        out.push(Seen {
            dir: self.dir,
            offset,
            len,
            what: What::Undecodable {
                why,
                bytes: Bytes::copy_from_slice(&bytes[..bytes.len().min(SHOWN_UNDECODABLE)]),
            },
        });
        self.mode = Mode::Opaque;
    }
}

/// A request whose response has not come yet.
#[derive(Debug)]
struct Pending {
    /// `HEAD`: its response has no body, whatever its headers say.
    head_method: bool,
    /// It asked to upgrade to WebSocket.
    websocket: bool,
}

/// How the server answered a WebSocket upgrade request.
#[derive(Debug)]
enum Answer {
    /// 101: frames from now on, both ways, with these extensions.
    WebSocket {
        extensions: Option<String>,
        deflate: Option<DeflateParams>,
    },
    /// Any other final status: still HTTP.
    Refused,
    /// A switch to something else, or an answer we could not read.
    Lost,
}

/// Follows one connection, both directions, and reports what it sees.
///
/// ```
/// use wiretap::{ConnTap, Direction, Options, What};
///
/// let mut tap = ConnTap::new(Options::default());
/// let mut seen = Vec::new();
/// tap.feed(Direction::ClientToServer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut seen);
/// assert!(matches!(seen[0].what, What::HttpRequest { .. }));
/// ```
#[derive(Debug)]
pub struct ConnTap {
    options: Options,
    client: Side,
    server: Side,
    /// Requests waiting for their responses, oldest first.
    pending: VecDeque<Pending>,
    /// Which side sent the first Close frame.
    first_close: Option<Direction>,
    /// While a WebSocket upgrade awaits its answer: where the client's
    /// frames started. RFC 6455 §4.1 says a client MUST wait for the 101
    /// before it sends a frame, but a server must accept frames sent right
    /// behind the request (lesson 1 keeps them), so we read whatever
    /// follows the request as frames at once, and take it back if the
    /// upgrade is refused.
    unanswered: Option<u64>,
}

impl ConnTap {
    /// A tap for a new connection: both directions start as HTTP.
    pub fn new(options: Options) -> ConnTap {
        ConnTap {
            options,
            client: Side::new(Direction::ClientToServer),
            server: Side::new(Direction::ServerToClient),
            pending: VecDeque::new(),
            first_close: None,
            unanswered: None,
        }
    }

    /// Takes the next `bytes` going `dir`, and appends what they complete
    /// to `out`. Any split of the stream into calls gives the same reports
    /// (except [`What::Raw`], one per call), up to the first
    /// [`What::Undecodable`] in a direction: that one gives the same kind of
    /// reason at the same offset, but its details (which line of a head was
    /// bad) and how many bytes it and the reports after it carry depend on
    /// how the bytes arrived.
    pub fn feed(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<Seen>) {
        let first = out.len();
        if self.options.hex && !bytes.is_empty() {
            out.push(Seen {
                dir,
                offset: self.side(dir).offset,
                len: bytes.len() as u64,
                what: What::Raw {
                    bytes: Bytes::copy_from_slice(bytes),
                },
            });
        }
        self.decode(dir, bytes, out);
        mark_close_steps(&mut out[first..], &mut self.first_close);
    }

    /// The stream going `dir` has ended: reports a body that ends with it,
    /// or a head or frame it cut short.
    pub fn finish(&mut self, dir: Direction, out: &mut Vec<Seen>) {
        let first = out.len();
        let side = self.side(dir);
        let at = side.offset;
        match std::mem::replace(&mut side.mode, Mode::Opaque) {
            Mode::Head(buf) if !buf.is_empty() => {
                let len = buf.len() as u64;
                let why = Undecodable::Truncated { missing: None };
                side.lose(why, at - len, len, &buf, out);
            }
            Mode::Body { body, .. } => out.push(body.finish(at)),
            Mode::Frames(mut reader) => reader.finish(at, out),
            _ => {}
        }
        mark_close_steps(&mut out[first..], &mut self.first_close);
    }

    /// Bytes fed so far going `dir`.
    pub fn bytes(&self, dir: Direction) -> u64 {
        match dir {
            Direction::ClientToServer => self.client.offset,
            Direction::ServerToClient => self.server.offset,
        }
    }

    /// Bytes the tap holds right now, both directions: a partial head, a
    /// frame's header and preview, a chunk-size line, an event-stream event,
    /// a compressed message's first inflated bytes. Bounded, whatever the
    /// traffic; the tests check it. With permessage-deflate agreed, each
    /// direction also has an inflater (a 32 KiB window and its state),
    /// fixed in size and not counted here.
    pub fn buffered(&self) -> usize {
        [&self.client, &self.server]
            .iter()
            .map(|side| match &side.mode {
                Mode::Head(buf) => buf.capacity(),
                Mode::Body { body, .. } => body.buffered(),
                Mode::Frames(reader) => reader.buffered(),
                Mode::Opaque => 0,
            })
            .sum()
    }

    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ClientToServer => &mut self.client,
            Direction::ServerToClient => &mut self.server,
        }
    }

    fn preview(&self) -> usize {
        if self.options.no_payload {
            0
        } else {
            self.options.preview
        }
    }

    // ANCHOR: decode
    /// Decodes `input` going `dir` in whatever mode that direction is in,
    /// switching modes as heads, bodies and the upgrade go by.
    fn decode(&mut self, dir: Direction, mut input: &[u8], out: &mut Vec<Seen>) {
        let preview = self.preview();
        while !input.is_empty() {
            let side = self.side(dir);
            let at = side.offset;
            let (used, next) = match &mut side.mode {
                Mode::Head(buf) => head_step(buf, at, input, dir),
                Mode::Body { body, then_frames } => match body.step(input, at, out) {
                    (used, Progress::More) => (used, Next::Same),
                    (used, Progress::Done) => {
                        out.push(body.report(at + used as u64, true));
                        let frames = *then_frames;
                        (used, Next::BodyDone { frames })
                    }
                    (used, Progress::Broken(back)) => {
                        let rest = &input[used..];
                        let why = Undecodable::BadChunk;
                        (used, Next::lost(why, at + used as u64 - back as u64, rest))
                    }
                },
                Mode::Frames(reader) => (reader.step(input, at, out), Next::Same),
                Mode::Opaque => (input.len(), Next::Same),
            };
            side.offset += used as u64;
            input = &input[used..];
            match next {
                Next::Same => {}
                Next::Head { head, start } => match dir {
                    Direction::ClientToServer => self.request(head, start, out),
                    Direction::ServerToClient => {
                        if let Some(answer) = self.response(head, start, out) {
                            self.answered(answer, out);
                        }
                    }
                },
                Next::BodyDone { frames: false } => side.mode = Mode::Head(BytesMut::new()),
                Next::BodyDone { frames: true } => {
                    side.mode = Mode::Frames(FrameReader::new(dir, preview));
                    self.unanswered = Some(side.offset);
                }
                Next::Lost {
                    why,
                    start,
                    len,
                    bytes,
                } => {
                    side.lose(why, start, len, &bytes, out);
                    if dir == Direction::ServerToClient {
                        // No answer to read: the client's side gives up too.
                        self.answered(Answer::Lost, out);
                    }
                }
            }
        }
    }
    // ANCHOR_END: decode

    /// A request head went by.
    fn request(&mut self, head: Bytes, at: u64, out: &mut Vec<Seen>) {
        let len = head.len() as u64;
        let request = match parse_request(&head) {
            Ok(request) => request,
            Err(e) => {
                self.client
                    .lose(Undecodable::NotHttp(e), at, len, &head, out);
                return;
            }
        };
        out.push(Seen {
            dir: Direction::ClientToServer,
            offset: at,
            len,
            what: What::HttpRequest { head },
        });
        // RFC 9110 §7.8: an upgrade is asked with `Upgrade` and the
        // `upgrade` token in `Connection` (lesson 1 checks both the same way).
        let websocket = request.headers.has_token("Connection", "upgrade")
            && request.headers.has_token("Upgrade", "websocket");
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            head_method: request.method == "HEAD",
            websocket,
        });
        let body = Body::after(&request.headers, Direction::ClientToServer, false, at + len);
        self.client.mode = match body {
            Some(body) => Mode::Body {
                body,
                then_frames: websocket,
            },
            None if websocket => {
                self.unanswered = Some(at + len);
                Mode::Frames(FrameReader::new(Direction::ClientToServer, self.preview()))
            }
            None => Mode::Head(BytesMut::new()),
        };
    }

    // ANCHOR: response
    /// A response head went by. Returns the answer to an upgrade request.
    fn response(&mut self, head: Bytes, at: u64, out: &mut Vec<Seen>) -> Option<Answer> {
        let len = head.len() as u64;
        let response = match parse_response(&head) {
            Ok(response) => response,
            Err(e) => {
                self.server
                    .lose(Undecodable::NotHttp(e), at, len, &head, out);
                return Some(Answer::Lost);
            }
        };
        out.push(Seen {
            dir: Direction::ServerToClient,
            offset: at,
            len,
            what: What::HttpResponse { head },
        });
        let status = response.status;
        if status == 101 {
            // With no request on record (we could not read it), the
            // server's own `Upgrade` header is all we have to go on.
            let asked_websocket = self.pending.pop_front().is_none_or(|p| p.websocket);
            // Lesson 1: after the 101's blank line the connection speaks
            // WebSocket, both ways.
            if asked_websocket && response.headers.has_token("Upgrade", "websocket") {
                // The extensions agreed on, and permessage-deflate's
                // parameters if it is one of them: how to read RSV1, and
                // how each side compresses (lesson 1's parser reads them).
                let extensions = joined(&response.headers, "Sec-WebSocket-Extensions");
                let deflate = parse_extensions(&response.headers)
                    .iter()
                    .flatten()
                    .find_map(DeflateParams::from_extension);
                let mut reader = FrameReader::new(Direction::ServerToClient, self.preview());
                reader.set_extensions(extensions.clone(), deflate);
                self.server.mode = Mode::Frames(reader);
                return Some(Answer::WebSocket {
                    extensions,
                    deflate,
                });
            }
            let upgrade = joined(&response.headers, "Upgrade").unwrap_or_default();
            let why = Undecodable::OtherProtocol { upgrade };
            self.server.lose(why, at + len, 0, &[], out);
            return Some(Answer::Lost);
        }
        if (100..200).contains(&status) {
            // An interim response (100 Continue, 103 Early Hints): the
            // final one follows, for the same request (RFC 9110 §15.2).
            self.server.mode = Mode::Head(BytesMut::new());
            return None;
        }
        let asked = self.pending.pop_front();
        // RFC 9112 §6.3: no body for HEAD, 204 and 304, whatever the headers.
        let bodiless =
            asked.as_ref().is_some_and(|p| p.head_method) || status == 204 || status == 304;
        let body = (!bodiless)
            .then(|| Body::after(&response.headers, Direction::ServerToClient, true, at + len))
            .flatten();
        self.server.mode = match body {
            Some(body) => Mode::Body {
                body,
                then_frames: false,
            },
            None => Mode::Head(BytesMut::new()),
        };
        asked
            .is_some_and(|p| p.websocket)
            .then_some(Answer::Refused)
    }
    // ANCHOR_END: response

    /// The server answered a WebSocket upgrade request.
    fn answered(&mut self, answer: Answer, out: &mut Vec<Seen>) {
        let Some(start) = self.unanswered.take() else {
            return; // the client was not reading frames on spec
        };
        let client = &mut self.client;
        let Mode::Frames(reader) = &mut client.mode else {
            return; // it gave up on them already
        };
        let next = match answer {
            Answer::WebSocket {
                extensions,
                deflate,
            } => {
                reader.set_extensions(extensions, deflate);
                return;
            }
            Answer::Refused => Mode::Head(BytesMut::new()),
            Answer::Lost => Mode::Opaque,
        };
        // Refused: what we read as frames were bytes sent too early, and
        // the server, still speaking HTTP, will make of them what it can.
        // If there were none (the client waited, as it must), nothing is lost.
        let sent = client.offset - start;
        if sent == 0 {
            client.mode = next;
        } else {
            let why = Undecodable::RefusedEarly { bytes: sent };
            client.lose(why, start, sent, &[], out);
        }
    }
}

/// What a step in one direction's mode leads to, dealt with once the mode
/// is no longer borrowed.
enum Next {
    /// Nothing new: the mode goes on.
    Same,
    /// A whole head: a request or a response, by direction.
    Head { head: Bytes, start: u64 },
    /// A body ended; `frames`: its request asked to upgrade to WebSocket.
    BodyDone { frames: bool },
    /// We stop decoding this direction, for this reason.
    Lost {
        why: Undecodable,
        start: u64,
        len: u64,
        bytes: Bytes,
    },
}

impl Next {
    fn lost(why: Undecodable, start: u64, bytes: &[u8]) -> Next {
        Next::Lost {
            why,
            start,
            len: bytes.len() as u64,
            bytes: Bytes::copy_from_slice(&bytes[..bytes.len().min(SHOWN_UNDECODABLE)]),
        }
    }
}

/// Takes the next bytes of an HTTP head, which starts `buf.len()` bytes
/// before `at`, into `buf`. Returns how many bytes of `input` belong to the
/// head, and the head once it is complete (or why it never will be).
fn head_step(buf: &mut BytesMut, at: u64, input: &[u8], dir: Direction) -> (usize, Next) {
    let start = at - buf.len() as u64;
    // Look for the blank line from where the last search stopped, less 3:
    // it may straddle two reads.
    let searched = buf.len().saturating_sub(3);
    let take = input.len().min(MAX_HEAD_BYTES - buf.len());
    buf.extend_from_slice(&input[..take]);
    if let Some(end) = find_blank_line(buf, searched) {
        // The bytes after the head are not ours: give them back.
        let used = take - (buf.len() - end);
        buf.truncate(end);
        // A whole head that starts as no HTTP does is not HTTP either: the
        // same verdict as when its first bytes arrive on their own.
        if let Some(why) = implausible_start(buf, dir) {
            let why = Undecodable::NotHttp(why);
            return (used, Next::lost(why, start, &std::mem::take(buf)));
        }
        let head = std::mem::take(buf).freeze();
        return (used, Next::Head { head, start });
    }
    // Say "not HTTP" as soon as the first bytes show it (a TLS handshake
    // sent to a plain port, say), not 8 KiB later; and the same however the
    // bytes arrived, so before the size limit.
    let why = implausible_start(buf, dir)
        .map(Undecodable::NotHttp)
        .or_else(|| {
            (buf.len() >= MAX_HEAD_BYTES).then_some(Undecodable::HeadTooLarge {
                max: MAX_HEAD_BYTES,
            })
        });
    match why {
        Some(why) => (take, Next::lost(why, start, &std::mem::take(buf))),
        None => (take, Next::Same),
    }
}

/// The longest request method we wait for before calling the bytes "not
/// HTTP". The longest registered method, `UPDATEREDIRECTREF`, has 17 letters.
const MAX_METHOD: usize = 24;

/// Why the start of a head going `dir` can never become HTTP, if it cannot:
/// a request starts with its method, a token of upper-case letters in
/// practice (lesson 1 accepts no other), and a space (RFC 9112 §3); a
/// response starts with `HTTP/` (§4).
fn implausible_start(buf: &[u8], dir: Direction) -> Option<handshake::ParseError> {
    match dir {
        Direction::ClientToServer => {
            let method = buf.iter().take(MAX_METHOD + 1).take_while(|&&b| b != b' ');
            let len = method.clone().count();
            let bad = (len == 0 && !buf.is_empty())
                || len > MAX_METHOD
                || !method.into_iter().all(u8::is_ascii_uppercase);
            bad.then_some(handshake::ParseError::MalformedRequestLine)
        }
        Direction::ServerToClient => {
            let n = buf.len().min(5);
            (buf[..n] != b"HTTP/"[..n]).then_some(handshake::ParseError::MalformedStatusLine)
        }
    }
}

/// All values of header `name`, joined with `, ` as RFC 9110 §5.3 allows.
fn joined(headers: &Headers, name: &str) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).collect();
    (!values.is_empty()).then(|| values.join(", "))
}
