//! Following an HTTP/1.1 body: where it ends (RFC 9112 §6.3), the chunked
//! encoding (§7.1), and the events of a `text/event-stream` (Server-Sent
//! Events, WHATWG HTML §9.2), all in bounded memory.
//!
//! A wiretap must find the end of every body, or it would read the next
//! response's head as body bytes (or a body as a head). It need not keep
//! the body: it counts it, and for an event stream shows each event.

use bytes::BytesMut;
use handshake::Headers;

use crate::event::{BodyFraming, Direction, Seen, What};

/// The longest chunk-size or trailer line we accept: real ones are a few
/// bytes; a longer one is not chunked encoding.
const MAX_CHUNK_LINE: usize = 1024;

/// The most of one Server-Sent Event we keep to show.
pub const SSE_PREVIEW: usize = 1024;

/// How a body's end is found, and where we are in it.
#[derive(Debug)]
enum Framing {
    /// `Content-Length`: `left` bytes still to come.
    Length { left: u64 },
    /// Chunked encoding.
    Chunked(Chunk),
    /// Until the connection closes.
    UntilClose,
}

/// Where we are in the chunked encoding (RFC 9112 §7.1).
#[derive(Debug)]
enum Chunk {
    /// Reading a chunk-size line, `1a;ext=1\r\n`.
    Size(BytesMut),
    /// In a chunk's data: `left` bytes still to come.
    Data { left: u64 },
    /// After a chunk's data: its CRLF, `seen` bytes of it read.
    DataEnd { seen: u8 },
    /// After the last (empty) chunk: trailer lines until an empty one.
    Trailer(BytesMut),
}

/// The outcome of [`Body::step`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More body to come.
    More,
    /// The body ended; the next byte starts a new head.
    Done,
    /// The framing is broken; decode nothing more this way. The bad part
    /// (a chunk-size line, say) began this many bytes before the end of
    /// what was used: where it began does not depend on how the stream was
    /// split into reads.
    Broken(usize),
}

/// One body going by.
#[derive(Debug)]
pub(crate) struct Body {
    dir: Direction,
    framing: Framing,
    /// Where the body started in the stream.
    start: u64,
    /// Body bytes so far, chunk framing excluded.
    len: u64,
    content_type: Option<String>,
    sse: Option<Sse>,
}

impl Body {
    /// The body that follows a head with these headers, starting at `start`,
    /// if it has one. `response` says which way it goes: a request without
    /// a length has no body, a response runs until the connection closes
    /// (RFC 9112 §6.3, rules 6 and 7).
    pub(crate) fn after(
        headers: &Headers,
        dir: Direction,
        response: bool,
        start: u64,
    ) -> Option<Body> {
        let framing = if headers.has_token("Transfer-Encoding", "chunked") {
            Framing::Chunked(Chunk::Size(BytesMut::new()))
        } else if let Some(len) = headers.get_one("Content-Length") {
            match len.trim().parse::<u64>() {
                Ok(0) => return None,
                Ok(left) => Framing::Length { left },
                // A length we cannot read: RFC 9112 §6.3 makes that an
                // unrecoverable error; reading to the close is our best guess.
                Err(_) => Framing::UntilClose,
            }
        } else if response {
            Framing::UntilClose
        } else {
            return None;
        };
        let content_type = headers.get_one("Content-Type").map(str::to_owned);
        let sse = content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
            .then(Sse::new);
        Some(Body {
            dir,
            framing,
            start,
            len: 0,
            content_type,
            sse,
        })
    }

    /// Reads body bytes from `input`, which starts `at` bytes into the
    /// stream. Returns how many bytes belong to the body (at least one of a
    /// non-empty input, unless the body is done or broken) and the progress.
    pub(crate) fn step(&mut self, input: &[u8], at: u64, out: &mut Vec<Seen>) -> (usize, Progress) {
        match &mut self.framing {
            Framing::Length { left } => {
                let take = (*left).min(input.len() as u64) as usize;
                *left -= take as u64;
                let done = *left == 0;
                self.data(&input[..take], at, out);
                (take, if done { Progress::Done } else { Progress::More })
            }
            Framing::UntilClose => {
                self.data(input, at, out);
                (input.len(), Progress::More)
            }
            Framing::Chunked(chunk) => match chunk {
                Chunk::Size(line) => match take_line(line, input) {
                    Err(()) => (0, Progress::Broken(line.len())),
                    Ok((used, false)) => (used, Progress::More),
                    Ok((used, true)) => {
                        let size = chunk_size(line);
                        *chunk = match size {
                            None => return (used, Progress::Broken(line.len())),
                            Some(0) => Chunk::Trailer(BytesMut::new()),
                            Some(left) => Chunk::Data { left },
                        };
                        (used, Progress::More)
                    }
                },
                Chunk::Data { left } => {
                    let take = (*left).min(input.len() as u64) as usize;
                    *left -= take as u64;
                    if *left == 0 {
                        *chunk = Chunk::DataEnd { seen: 0 };
                    }
                    self.data(&input[..take], at, out);
                    (take, Progress::More)
                }
                Chunk::DataEnd { seen } => {
                    // The CRLF after the data: one byte at a time, since a
                    // read may end between the two.
                    let want = if *seen == 0 { b'\r' } else { b'\n' };
                    if input[0] != want {
                        return (0, Progress::Broken(usize::from(*seen)));
                    }
                    *seen += 1;
                    if *seen == 2 {
                        *chunk = Chunk::Size(BytesMut::new());
                    }
                    (1, Progress::More)
                }
                Chunk::Trailer(line) => match take_line(line, input) {
                    Err(()) => (0, Progress::Broken(line.len())),
                    Ok((used, false)) => (used, Progress::More),
                    // An empty line ends the trailers, and the body.
                    Ok((used, true)) if strip_eol(line).is_empty() => (used, Progress::Done),
                    Ok((used, true)) => {
                        line.clear();
                        (used, Progress::More)
                    }
                },
            },
        }
    }

    /// Body bytes (chunk framing removed), which start `at` in the stream.
    fn data(&mut self, data: &[u8], at: u64, out: &mut Vec<Seen>) {
        self.len += data.len() as u64;
        if let Some(sse) = &mut self.sse {
            sse.feed(data, at, self.dir, out);
        }
    }

    /// The report on the whole body, which ended at `end` in the stream
    /// (`complete` false: the connection ended first).
    pub(crate) fn report(&self, end: u64, complete: bool) -> Seen {
        Seen {
            dir: self.dir,
            offset: self.start,
            len: end - self.start,
            what: What::HttpBody {
                body_len: self.len,
                framing: match self.framing {
                    Framing::Length { .. } => BodyFraming::Length,
                    Framing::Chunked(_) => BodyFraming::Chunked,
                    Framing::UntilClose => BodyFraming::UntilClose,
                },
                content_type: self.content_type.clone(),
                complete,
            },
        }
    }

    /// What the body ending at `end` looks like when the connection closes
    /// there: a close-delimited body is complete, others were cut.
    pub(crate) fn finish(&self, end: u64) -> Seen {
        self.report(end, matches!(self.framing, Framing::UntilClose))
    }

    /// The bytes held right now.
    pub(crate) fn buffered(&self) -> usize {
        let line = match &self.framing {
            Framing::Chunked(Chunk::Size(line) | Chunk::Trailer(line)) => line.capacity(),
            _ => 0,
        };
        line + self.sse.as_ref().map_or(0, |sse| sse.text.capacity())
    }
}

/// Appends `input` to `line` up to and including the first `\n`. Returns
/// how many bytes were used and whether the line is complete; `Err` when it
/// grows past [`MAX_CHUNK_LINE`].
fn take_line(line: &mut BytesMut, input: &[u8]) -> Result<(usize, bool), ()> {
    let (used, complete) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (i + 1, true),
        None => (input.len(), false),
    };
    if line.len() + used > MAX_CHUNK_LINE {
        return Err(());
    }
    line.extend_from_slice(&input[..used]);
    Ok((used, complete))
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The size on a chunk-size line: hex digits, then optional extensions
/// after `;` (RFC 9112 §7.1.1), which we ignore.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(strip_eol(line)).ok()?;
    let digits = line.split(';').next()?.trim_matches([' ', '\t']);
    if digits.is_empty() || digits.len() > 15 {
        return None; // 15 hex digits: under 2^60, no overflow to worry about
    }
    u64::from_str_radix(digits, 16).ok()
}

/// The events of a `text/event-stream`: lines, and a blank line after each
/// event (WHATWG HTML §9.2.5). A line ends with CRLF, LF or CR alone.
#[derive(Debug)]
struct Sse {
    /// The current event's lines, joined with `\n`, at most SSE_PREVIEW bytes.
    text: Vec<u8>,
    truncated: bool,
    /// Where the current event started, once it has a byte.
    start: Option<u64>,
    /// Nothing on the current line yet.
    line_empty: bool,
    /// The last byte was a CR: an LF right after it ends the same line.
    after_cr: bool,
}

impl Sse {
    fn new() -> Sse {
        Sse {
            text: Vec::new(),
            truncated: false,
            start: None,
            line_empty: true,
            after_cr: false,
        }
    }

    fn feed(&mut self, data: &[u8], at: u64, dir: Direction, out: &mut Vec<Seen>) {
        for (i, &byte) in data.iter().enumerate() {
            let here = at + i as u64;
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\r' | b'\n' => {
                    self.after_cr = byte == b'\r';
                    if !self.line_empty {
                        self.push(b'\n');
                        self.line_empty = true;
                    } else if let Some(start) = self.start.take() {
                        // A blank line: the event is complete.
                        if self.text.last() == Some(&b'\n') {
                            self.text.pop();
                        }
                        out.push(Seen {
                            dir,
                            offset: start,
                            len: here + 1 - start,
                            what: What::SseEvent {
                                text: String::from_utf8_lossy(&self.text).into_owned(),
                                truncated: std::mem::take(&mut self.truncated),
                            },
                        });
                        self.text.clear();
                    }
                }
                _ => {
                    self.start.get_or_insert(here);
                    self.line_empty = false;
                    self.push(byte);
                }
            }
        }
    }

    fn push(&mut self, byte: u8) {
        if self.text.len() < SSE_PREVIEW {
            self.text.push(byte);
        } else {
            self.truncated = true;
        }
    }
}
