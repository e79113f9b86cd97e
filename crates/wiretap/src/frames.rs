//! Following the frames of one direction, in bounded memory.
//!
//! Lesson 2's `Decoder` waits for a whole frame before it hands it over: the
//! right thing for an endpoint, which needs the payload. A wiretap only
//! needs to *show* the frame, so it keeps the header and the first few
//! hundred bytes of the payload, reports the frame, and lets the rest stream
//! past, counting it down. A 16 MiB frame costs us the same few hundred bytes
//! as a 16-byte one.
//!
//! With permessage-deflate agreed, a compressed message's payload cannot be
//! skipped unread: the tap inflates it as it streams past, keeps the first
//! few hundred inflated bytes, and reports the message ([`What::Inflated`])
//! when its last frame has gone by. That costs one inflater per direction
//! (its 32 KiB window and state), however large the messages.

use bytes::{Bytes, BytesMut};
use frame::{
    Compression, Header, Inflater, MAX_HEADER_LEN, MessageError, OpCode, RSV1, apply_mask_offset,
    parse_header,
};
use handshake::DeflateParams;

use crate::MAX_INFLATED;
use crate::event::{CloseStep, Direction, Seen, Undecodable, What};

/// How many compressed bytes are unmasked at a time, on the stack.
const UNMASK_PIECE: usize = 4096;

/// Where we are in the current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the header (`buf` holds what has arrived of it).
    Header,
    /// Collecting the first `keep` payload bytes behind the header in `buf`.
    Payload {
        /// The header.
        header: Header,
        /// How many payload bytes we keep to show.
        keep: usize,
    },
    /// Letting the rest of the payload go by: `left` bytes of it.
    Skip {
        /// Payload bytes still to come.
        left: u64,
    },
    /// A header broke the framing rules: we no longer know where frames
    /// start, so we decode nothing more.
    Lost,
}

/// Follows the frames going one way through the tap, without ever holding
/// more than one header and [`FrameReader::keep`]'s preview of a payload.
#[derive(Debug)]
pub(crate) struct FrameReader {
    dir: Direction,
    state: State,
    /// The current frame's header and kept payload bytes, as on the wire.
    buf: BytesMut,
    /// Where the current frame started in the stream.
    start: u64,
    /// The current frame's header, once it is in.
    current: Option<Header>,
    /// Payload bytes of a data frame kept to show.
    preview: usize,
    /// The extensions the 101 agreed to, to explain RSV bits.
    extensions: Option<String>,
    /// With permessage-deflate agreed: what inflates this direction's
    /// compressed messages. Boxed: most connections agree to none.
    deflate: Option<Box<Inflating>>,
}

/// One direction's inflater, and the compressed message going by.
#[derive(Debug)]
struct Inflating {
    inflater: Inflater,
    /// The compressed message under way, if any.
    message: Option<Compressed>,
    /// The current frame carries part of it: the frame's masking key, and
    /// how many of its payload bytes have gone through the inflater.
    frame: Option<(Option<[u8; 4]>, u64)>,
}

/// A compressed message, from its first frame to its last.
#[derive(Debug)]
struct Compressed {
    opcode: OpCode,
    /// Where its first frame started in the stream.
    start: u64,
    frames: u64,
    compressed_len: u64,
    /// Its inflated size so far.
    size: usize,
    /// Its first inflated bytes, at most the preview.
    preview: Vec<u8>,
}

impl FrameReader {
    /// A reader for frames going `dir`, keeping `preview` payload bytes of
    /// each data frame (control frames, at most 125 bytes, are kept whole).
    pub(crate) fn new(dir: Direction, preview: usize) -> FrameReader {
        FrameReader {
            dir,
            state: State::Header,
            buf: BytesMut::new(),
            start: 0,
            current: None,
            preview,
            extensions: None,
            deflate: None,
        }
    }

    /// The extensions the server's 101 agreed to (`extensions`, the header's
    /// value) and, if one of them is permessage-deflate, its parameters.
    /// Told when the 101 goes by, for both directions: the client's frames
    /// may already be going by.
    pub(crate) fn set_extensions(
        &mut self,
        extensions: Option<String>,
        deflate: Option<DeflateParams>,
    ) {
        self.extensions = extensions;
        self.deflate = deflate.map(|params| {
            // RFC 7692 §7.1.1: each side's `*_no_context_takeover` says its
            // sender starts every message with an empty window.
            let no_takeover = match self.dir {
                Direction::ClientToServer => params.client_no_context_takeover,
                Direction::ServerToClient => params.server_no_context_takeover,
            };
            Box::new(Inflating {
                inflater: Inflater::new(!no_takeover),
                message: None,
                frame: None,
            })
        });
    }

    // ANCHOR: step
    /// Reads frames from `input`, which starts `at` bytes into the stream,
    /// and reports each as soon as its header and preview are in. Consumes
    /// at least one byte of a non-empty input; returns how many.
    pub(crate) fn step(&mut self, input: &[u8], at: u64, out: &mut Vec<Seen>) -> usize {
        match self.state {
            State::Header => {
                if self.buf.is_empty() {
                    self.start = at;
                }
                // Take as much as the longest header could need, and give
                // back what turns out to be payload once the header parses.
                let before = self.buf.len();
                let take = input.len().min(MAX_HEADER_LEN - before);
                self.buf.extend_from_slice(&input[..take]);
                match parse_header(&self.buf) {
                    Ok(None) => take,
                    Ok(Some(header)) => {
                        self.buf.truncate(header.header_len);
                        self.header_done(header, out);
                        header.header_len - before
                    }
                    Err(error) => {
                        let bytes = self.buf.split().freeze();
                        out.push(Seen {
                            dir: self.dir,
                            offset: self.start,
                            len: bytes.len() as u64,
                            what: What::Undecodable {
                                why: Undecodable::Frame(error),
                                bytes,
                            },
                        });
                        self.state = State::Lost;
                        take
                    }
                }
            }
            State::Payload { header, keep } => {
                let have = self.buf.len() - header.header_len;
                let take = (keep - have).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                if have + take == keep {
                    // Reported first, inflated second: the frame comes
                    // before what its message turns out to say.
                    let left = self.report(header, out);
                    self.inflate(&input[..take], out);
                    self.skip(left, out);
                } else {
                    self.inflate(&input[..take], out);
                }
                take
            }
            State::Skip { left } => {
                // min(left, len) <= len, a usize.
                let take = left.min(input.len() as u64) as usize;
                self.inflate(&input[..take], out);
                self.skip(left - take as u64, out);
                take
            }
            State::Lost => input.len(),
        }
    }
    // ANCHOR_END: step

    // ANCHOR: header_done
    /// The header is in: decide how much of the payload to keep.
    fn header_done(&mut self, header: Header, out: &mut Vec<Seen>) {
        self.current = Some(header);
        let compressed = self.starts_compressed(&header);
        if header.rsv != 0 && !compressed {
            // RFC 6455 §5.2: RSV bits mean an extension changed the frame.
            // Not one we decode (or not where it may be set), so we show
            // the header only; the length is still the length, and the next
            // frame starts right after this payload.
            out.push(Seen {
                dir: self.dir,
                offset: self.start,
                len: header.frame_len(),
                what: What::Undecodable {
                    why: Undecodable::Extension {
                        header,
                        negotiated: self.extensions.clone(),
                    },
                    bytes: self.buf.split().freeze(),
                },
            });
            self.skip(header.payload_len, out);
            return;
        }
        let keep = if header.opcode.is_control() {
            // At most 125 bytes (parse_header checked): a close code and
            // reason, a ping's payload. Always worth showing whole.
            header.payload_len
        } else {
            header.payload_len.min(self.preview as u64)
        };
        // keep <= preview or <= 125: fits in usize.
        let keep = keep as usize;
        self.state = State::Payload { header, keep };
        if keep == 0 {
            let left = self.report(header, out);
            self.skip(left, out);
        }
    }
    // ANCHOR_END: header_done

    // ANCHOR: starts_compressed
    /// With permessage-deflate agreed, whether this frame carries part of a
    /// compressed message: RSV1 on a message's first frame starts one
    /// (RFC 7692 §6), and its continuations carry the rest. Its payload
    /// then goes through the inflater as it streams past.
    fn starts_compressed(&mut self, header: &Header) -> bool {
        let (start, preview) = (self.start, self.preview);
        let Some(deflate) = &mut self.deflate else {
            return false;
        };
        deflate.frame = None;
        let carries = match header.opcode {
            OpCode::Text | OpCode::Binary if header.rsv == RSV1 => {
                if deflate.message.is_some() {
                    // A new message inside one still going: the receiver
                    // fails the connection (1002). Start over with this one.
                    deflate.inflater.abandon();
                }
                deflate.message = Some(Compressed {
                    opcode: header.opcode,
                    start,
                    frames: 0,
                    compressed_len: 0,
                    size: 0,
                    preview: Vec::with_capacity(preview.min(MAX_INFLATED)),
                });
                true
            }
            OpCode::Continuation if header.rsv == 0 => deflate.message.is_some(),
            _ => false,
        };
        if carries && let Some(message) = &mut deflate.message {
            message.frames += 1;
            message.compressed_len += header.payload_len;
            deflate.frame = Some((header.mask, 0));
        }
        carries
    }
    // ANCHOR_END: starts_compressed

    // ANCHOR: inflate
    /// Payload bytes of the current frame going by: if they are compressed,
    /// unmask a copy and inflate it, keeping the start of what comes out.
    fn inflate(&mut self, wire: &[u8], out: &mut Vec<Seen>) {
        let Some(deflate) = &mut self.deflate else {
            return;
        };
        let (Some((mask, done)), Some(message)) = (&mut deflate.frame, &mut deflate.message) else {
            return;
        };
        let mut result = Ok(());
        // Unmasked a piece at a time, on the stack: bounded, whatever the frame.
        for piece in wire.chunks(UNMASK_PIECE) {
            let mut bytes = [0u8; UNMASK_PIECE];
            let bytes = &mut bytes[..piece.len()];
            bytes.copy_from_slice(piece);
            if let Some(key) = *mask {
                // The position within the payload, mod 4, is all that counts.
                apply_mask_offset(bytes, key, (*done % 4) as usize);
            }
            *done += piece.len() as u64;
            let keep = self.preview;
            result = deflate
                .inflater
                .inflate(bytes, MAX_INFLATED, &mut message.size, |chunk| {
                    let room = keep.saturating_sub(message.preview.len());
                    message
                        .preview
                        .extend_from_slice(&chunk[..room.min(chunk.len())]);
                    Ok(())
                });
            if result.is_err() {
                break;
            }
        }
        if let Err(error) = result {
            self.give_up_inflating(error, out);
        }
    }
    // ANCHOR_END: inflate

    /// The current frame has gone by. If it ended a compressed message, the
    /// message is inflated: report it.
    fn frame_done(&mut self, at: u64, fin: bool, out: &mut Vec<Seen>) {
        let Some(deflate) = &mut self.deflate else {
            return;
        };
        if deflate.frame.take().is_none() || !fin {
            return;
        }
        let Some(mut message) = deflate.message.take() else {
            return;
        };
        let keep = self.preview;
        let result = deflate
            .inflater
            .finish(MAX_INFLATED, &mut message.size, |chunk| {
                let room = keep.saturating_sub(message.preview.len());
                message
                    .preview
                    .extend_from_slice(&chunk[..room.min(chunk.len())]);
                Ok(())
            });
        match result {
            Ok(()) => out.push(Seen {
                dir: self.dir,
                offset: message.start,
                len: at - message.start,
                what: What::Inflated {
                    opcode: message.opcode,
                    frames: message.frames,
                    compressed_len: message.compressed_len,
                    size: message.size as u64,
                    preview: Bytes::from(message.preview),
                },
            }),
            Err(error) => {
                deflate.message = Some(message);
                self.give_up_inflating(error, out);
            }
        }
    }

    /// The inflater failed: say so once, and inflate nothing more this way.
    fn give_up_inflating(&mut self, error: MessageError, out: &mut Vec<Seen>) {
        let Some(deflate) = self.deflate.take() else {
            return;
        };
        let offset = deflate.message.map_or(self.start, |m| m.start);
        out.push(Seen {
            dir: self.dir,
            offset,
            len: 0,
            what: What::Undecodable {
                why: Undecodable::Inflate(error),
                bytes: Bytes::new(),
            },
        });
    }
    // ANCHOR_END: header_done

    /// Header and preview are in: report the frame. Returns how many of its
    /// payload bytes are still to come, for the caller to skip.
    fn report(&mut self, header: Header, out: &mut Vec<Seen>) -> u64 {
        let bytes = self.buf.split().freeze();
        let kept = bytes.len() - header.header_len;
        out.push(Seen {
            dir: self.dir,
            offset: self.start,
            len: header.frame_len(),
            what: What::Frame {
                header,
                bytes,
                close_step: None,
                compression: match &self.deflate {
                    None => Compression::Off,
                    Some(d) if d.frame.is_some() => Compression::Compressed,
                    Some(_) => Compression::Agreed,
                },
            },
        });
        header.payload_len - kept as u64
    }

    /// `left` payload bytes of the current frame are still to come.
    fn skip(&mut self, left: u64, out: &mut Vec<Seen>) {
        self.state = match left {
            0 => {
                if let Some(header) = self.current.take() {
                    self.frame_done(self.start + header.frame_len(), header.fin, out);
                }
                State::Header
            }
            left => State::Skip { left },
        };
    }

    /// The stream ended: say so if it ended inside a frame.
    pub(crate) fn finish(&mut self, at: u64, out: &mut Vec<Seen>) {
        let missing = match self.state {
            State::Header if self.buf.is_empty() => return,
            State::Lost => return,
            State::Header => None,
            State::Payload { header, .. } => {
                // Show what we have of it, then say it was cut.
                let have = (self.buf.len() - header.header_len) as u64;
                self.report(header, out);
                self.current = None;
                Some(header.payload_len - have)
            }
            State::Skip { left } => Some(left),
        };
        out.push(Seen {
            dir: self.dir,
            offset: self.start,
            len: at - self.start,
            what: What::Undecodable {
                why: Undecodable::Truncated { missing },
                bytes: self.buf.split().freeze(),
            },
        });
        self.state = State::Lost;
    }

    /// The bytes held right now: never more than a header and a preview,
    /// and a compressed message's inflated preview. (An inflater's window
    /// and state, fixed in size, are not counted.)
    pub(crate) fn buffered(&self) -> usize {
        let inflated = self
            .deflate
            .as_ref()
            .and_then(|d| d.message.as_ref())
            .map_or(0, |m| m.preview.capacity());
        self.buf.capacity() + inflated
    }
}

/// Marks each Close frame in `seen` with its part in the closing handshake;
/// `first_close` remembers which side sent the first one.
pub(crate) fn mark_close_steps(seen: &mut [Seen], first_close: &mut Option<Direction>) {
    for item in seen {
        if let What::Frame {
            header, close_step, ..
        } = &mut item.what
            && header.opcode == frame::OpCode::Close
        {
            *close_step = Some(match *first_close {
                None => {
                    *first_close = Some(item.dir);
                    CloseStep::Starts
                }
                Some(dir) if dir != item.dir => CloseStep::Answers,
                Some(_) => CloseStep::Repeats,
            });
        }
    }
}
