//! Following the frames of one direction, in bounded memory.
//!
//! Lesson 2's `Decoder` waits for a whole frame before it hands it over: the
//! right thing for an endpoint, which needs the payload. A wiretap only
//! needs to *show* the frame, so it keeps the header and the first few
//! hundred bytes of the payload, reports the frame, and lets the rest stream
//! past, counting it down. A 16 MiB frame costs us the same few hundred bytes
//! as a 16-byte one.

use bytes::BytesMut;
use frame::{Header, MAX_HEADER_LEN, parse_header};

use crate::event::{CloseStep, Direction, Seen, Undecodable, What};

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
    /// Payload bytes of a data frame kept to show.
    preview: usize,
    /// The extensions the 101 agreed to, to explain RSV bits.
    extensions: Option<String>,
}

impl FrameReader {
    /// A reader for frames going `dir`, keeping `preview` payload bytes of
    /// each data frame (control frames, at most 125 bytes, are kept whole).
    pub(crate) fn new(dir: Direction, preview: usize, extensions: Option<String>) -> FrameReader {
        FrameReader {
            dir,
            state: State::Header,
            buf: BytesMut::new(),
            start: 0,
            preview,
            extensions,
        }
    }

    /// The extensions the server's 101 agreed to, once it has come: the
    /// client's first frames may go by before it does.
    pub(crate) fn set_extensions(&mut self, extensions: Option<String>) {
        self.extensions = extensions;
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
                    self.report(header, out);
                }
                take
            }
            State::Skip { left } => {
                // min(left, len) <= len, a usize.
                let take = left.min(input.len() as u64) as usize;
                self.skip(left - take as u64);
                take
            }
            State::Lost => input.len(),
        }
    }
    // ANCHOR_END: step

    // ANCHOR: header_done
    /// The header is in: decide how much of the payload to keep.
    fn header_done(&mut self, header: Header, out: &mut Vec<Seen>) {
        if header.rsv != 0 {
            // RFC 6455 §5.2: RSV bits mean an extension changed the frame
            // (RFC 7692's permessage-deflate sets RSV1 on compressed
            // messages). We decode no extension, so we show the header only;
            // the length is still the length, and the next frame starts
            // right after this payload.
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
            self.skip(header.payload_len);
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
            self.report(header, out);
        }
    }
    // ANCHOR_END: header_done

    /// Header and preview are in: report the frame, skip the rest.
    fn report(&mut self, header: Header, out: &mut Vec<Seen>) {
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
            },
        });
        self.skip(header.payload_len - kept as u64);
    }

    fn skip(&mut self, left: u64) {
        self.state = match left {
            0 => State::Header,
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

    /// The bytes held right now: never more than a header and a preview.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.capacity()
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
