//! From frames to messages: fragmentation (RFC 6455 §5.4), control frames in
//! between (§5.5), UTF-8 text (§5.6, §8.1) and a size limit.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::close::CloseFrame;
use crate::deflate::Inflater;
use crate::error::MessageError;
use crate::frame::Frame;
use crate::header::{Header, RSV1};
use crate::mask::apply_mask_offset;
use crate::opcode::OpCode;

/// The default [`Assembler::max_message_size`]: 16 MiB, the largest message
/// the Autobahn suite sends (cases 9.x), whether in one frame or in many.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// What the [`Assembler`] hands back: a whole message, or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A complete text message, valid UTF-8. A [`ByteString`] is a `str` on
    /// [`Bytes`]: an unfragmented message keeps the bytes it arrived in,
    /// checked but not copied, and [`ByteString::into_bytes`] hands them
    /// back, to send, without a copy either.
    Text(ByteString),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping: answer with a pong carrying the same bytes (RFC 6455 §5.5.2).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A Close frame, with its code and reason if it had a body (RFC 6455 §5.5.1).
    Close(Option<CloseFrame>),
}

/// Joins fragments into messages, validating as it goes.
///
/// Feed it the frames a [`crate::Decoder`] produces, which already obey the
/// per-frame rules (control frames are final and short). It returns a
/// [`Message`] when one is complete, control frames the moment they arrive
/// (RFC 6455 §5.4: they may come between the fragments of a message), and
/// `None` while a fragmented message is still open.
///
/// ```
/// use frame::{Assembler, Frame, Message};
///
/// let mut assembler = Assembler::new();
/// // RFC 6455 §5.7: "Hel" then "lo", with a ping in between.
/// assert_eq!(assembler.push(Frame::text("Hel").with_fin(false))?, None);
/// assert_eq!(assembler.push(Frame::ping("?"))?, Some(Message::Ping("?".into())));
/// assert_eq!(
///     assembler.push(Frame::continuation("lo"))?,
///     Some(Message::Text("Hello".into()))
/// );
/// # Ok::<(), frame::MessageError>(())
/// ```
#[derive(Debug)]
pub struct Assembler {
    max_message_size: usize,
    partial: Option<Partial>,
    /// permessage-deflate's inflater, once it was agreed.
    inflater: Option<Inflater>,
    /// The message under way is compressed: its inflated size so far.
    inflating: Option<usize>,
    /// How far [`Assembler::check_arriving`] has checked the text frame
    /// that is still arriving; `None` once it is whole.
    arriving: Option<Arriving>,
}

/// The check of a text frame whose payload has partly arrived.
#[derive(Debug, Clone, Copy)]
struct Arriving {
    /// Payload bytes checked so far.
    checked: usize,
    check: Utf8Check,
}

/// A fragmented message that has started but not finished.
#[derive(Debug, Clone)]
enum Partial {
    Text(Utf8Builder),
    Binary(BytesMut),
}

impl Partial {
    fn len(&self) -> usize {
        match self {
            Partial::Text(text) => text.len(),
            Partial::Binary(bytes) => bytes.len(),
        }
    }

    /// The final fragment is in.
    fn finish(self) -> Result<Message, MessageError> {
        match self {
            Partial::Text(text) => text.finish().map(|text| Message::Text(text.into())),
            Partial::Binary(bytes) => Ok(Message::Binary(bytes.freeze())),
        }
    }
}

impl Default for Assembler {
    fn default() -> Self {
        Assembler::new()
    }
}

impl Assembler {
    /// An assembler with the default [`DEFAULT_MAX_MESSAGE_SIZE`] limit.
    pub fn new() -> Assembler {
        Assembler {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            partial: None,
            arriving: None,
            inflater: None,
            inflating: None,
        }
    }

    /// Sets the largest message, in bytes, that fragments may add up to;
    /// beyond it [`MessageError::MessageTooLarge`] (close 1009).
    #[must_use]
    pub fn with_max_message_size(mut self, max: usize) -> Assembler {
        self.max_message_size = max;
        self
    }

    /// Inflates messages marked compressed (RSV1) with `inflater`:
    /// permessage-deflate was agreed. The size limit applies to what they
    /// inflate to, checked as they grow.
    #[must_use]
    pub fn with_inflater(mut self, inflater: Inflater) -> Assembler {
        self.inflater = Some(inflater);
        self
    }

    /// The largest message, in bytes (inclusive).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Whether a fragmented message has started and not yet finished.
    pub fn is_mid_message(&self) -> bool {
        self.partial.is_some()
    }

    // ANCHOR: assemble
    /// Feeds one frame; returns a message or control frame when there is one.
    ///
    /// # Errors
    ///
    /// Any [`MessageError`]; all are fatal: send a Close frame with
    /// [`MessageError::close_code`] and drop the connection. The partial
    /// message is discarded.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        // The frame is whole: what check_arriving saw of it is checked again
        // below, with the rest.
        self.arriving = None;
        let result = self.push_inner(frame);
        if result.is_err() {
            // Free the buffers now, not when we are dropped.
            self.partial = None;
            self.inflating = None;
            if let Some(inflater) = &mut self.inflater {
                inflater.abandon();
            }
        }
        result
    }

    fn push_inner(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        match frame.opcode {
            // RFC 6455 §5.4: control frames "MAY be injected in the middle of
            // a fragmented message". They are never fragmented themselves, so
            // they go straight out, and the open message stays open.
            OpCode::Ping => Ok(Some(Message::Ping(frame.payload))),
            OpCode::Pong => Ok(Some(Message::Pong(frame.payload))),
            OpCode::Close => Ok(Some(Message::Close(CloseFrame::parse(&frame.payload)?))),

            OpCode::Text | OpCode::Binary => {
                // RFC 6455 §5.4: the fragments of one message are not
                // interleaved with another message.
                if self.partial.is_some() {
                    return Err(MessageError::NewMessageMidFragment);
                }
                if frame.rsv & RSV1 != 0 {
                    return self.start_compressed(frame);
                }
                self.check_size(0, frame.payload.len())?;
                if frame.fin {
                    return whole_message(frame).map(Some);
                }
                // The first fragment. The buffer starts at the size of what
                // we hold, never at a size the peer merely announced.
                let mut partial = match frame.opcode {
                    OpCode::Text => Partial::Text(Utf8Builder::with_capacity(frame.payload.len())),
                    _ => Partial::Binary(BytesMut::with_capacity(frame.payload.len())),
                };
                append(&mut partial, &frame.payload)?;
                self.partial = Some(partial);
                Ok(None)
            }

            OpCode::Continuation => {
                let Some(mut partial) = self.partial.take() else {
                    return Err(MessageError::ContinuationWithoutStart);
                };
                if let Some(size) = self.inflating {
                    return self.continue_compressed(partial, size, frame);
                }
                // Checked before appending: we never hold more than the limit.
                self.check_size(partial.len(), frame.payload.len())?;
                append(&mut partial, &frame.payload)?;
                if frame.fin {
                    partial.finish().map(Some)
                } else {
                    self.partial = Some(partial);
                    Ok(None)
                }
            }
        }
    }
    // ANCHOR_END: assemble

    // ANCHOR: check_arriving
    /// Checks the UTF-8 of a text frame that has only partly arrived, so
    /// that a peer sending invalid text fails at once, not when (or if) the
    /// rest of a big frame comes. `header` is the frame's header and
    /// `arrived` the payload bytes buffered so far, still masked
    /// ([`crate::Decoder::arriving`] gives both). Call it after each read
    /// that did not complete the frame: each byte is checked once here, and
    /// once more by [`Assembler::push`] when the frame is whole.
    ///
    /// A binary or control frame, or a continuation of a binary message,
    /// is not checked.
    ///
    /// # Errors
    ///
    /// [`MessageError::InvalidUtf8`] (close 1007): fail the connection.
    pub fn check_arriving(&mut self, header: &Header, arrived: &[u8]) -> Result<(), MessageError> {
        // Compressed text is checked as it inflates, in `push`.
        let compressed = header.rsv & RSV1 != 0 || self.inflating.is_some();
        let start = match (header.opcode, &self.partial) {
            _ if compressed => return Ok(()),
            (OpCode::Text, None) => Utf8Check::default(),
            // A fragment carries on from where the last one left off,
            // perhaps in the middle of a character.
            (OpCode::Continuation, Some(Partial::Text(text))) => text.check,
            _ => return Ok(()),
        };
        let arriving = self.arriving.get_or_insert(Arriving {
            checked: 0,
            check: start,
        });
        // Unmasked piece by piece into a small buffer on the stack: the
        // frame itself stays as it is in the read buffer, for the decoder.
        let mut piece = [0u8; 512];
        while arriving.checked < arrived.len() {
            let n = (arrived.len() - arriving.checked).min(piece.len());
            let piece = &mut piece[..n];
            piece.copy_from_slice(&arrived[arriving.checked..arriving.checked + n]);
            if let Some(key) = header.mask {
                apply_mask_offset(piece, key, arriving.checked);
            }
            arriving.check.feed(piece, |_| {})?;
            arriving.checked += n;
        }
        Ok(())
    }
    // ANCHOR_END: check_arriving

    // ANCHOR: compressed
    /// The first frame of a compressed message (RSV1): what it inflates to
    /// starts the message.
    fn start_compressed(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        if self.inflater.is_none() {
            return Err(MessageError::CompressionNotAgreed);
        }
        let partial = match frame.opcode {
            OpCode::Text => Partial::Text(Utf8Builder::default()),
            _ => Partial::Binary(BytesMut::new()),
        };
        self.continue_compressed(partial, 0, frame)
    }

    /// Inflates one frame of a compressed message into it, checking the
    /// inflated size against the limit and the text's UTF-8 as they grow.
    fn continue_compressed(
        &mut self,
        mut partial: Partial,
        mut size: usize,
        frame: Frame,
    ) -> Result<Option<Message>, MessageError> {
        let max = self.max_message_size;
        let inflater = self
            .inflater
            .as_mut()
            .ok_or(MessageError::CompressionNotAgreed)?;
        let mut append_to = |chunk: &[u8]| append(&mut partial, chunk);
        inflater.inflate(&frame.payload, max, &mut size, &mut append_to)?;
        if !frame.fin {
            self.partial = Some(partial);
            self.inflating = Some(size);
            return Ok(None);
        }
        inflater.finish(max, &mut size, &mut append_to)?;
        self.inflating = None;
        partial.finish().map(Some)
    }
    // ANCHOR_END: compressed

    fn check_size(&self, have: usize, adding: usize) -> Result<(), MessageError> {
        let size = have.saturating_add(adding);
        if size > self.max_message_size {
            return Err(MessageError::MessageTooLarge {
                size,
                max: self.max_message_size,
            });
        }
        Ok(())
    }
}

/// An unfragmented message: one frame, nothing to join.
fn whole_message(frame: Frame) -> Result<Message, MessageError> {
    match frame.opcode {
        // Text: checked, then handed on in the decoder's buffer, as binary is.
        OpCode::Text => ByteString::try_from(frame.payload)
            .map(Message::Text)
            .map_err(|_| MessageError::InvalidUtf8),
        // Binary: hand the decoder's buffer on as it is, without copying.
        _ => Ok(Message::Binary(frame.payload)),
    }
}

fn append(partial: &mut Partial, payload: &[u8]) -> Result<(), MessageError> {
    match partial {
        Partial::Text(text) => text.push(payload),
        Partial::Binary(bytes) => {
            bytes.extend_from_slice(payload);
            Ok(())
        }
    }
}

// ANCHOR: utf8
/// Text built from fragments, validated as each one arrives.
///
/// A fragment may end in the middle of a character: "€" is `e2 82 ac`, and
/// the peer may send `e2 82` in one fragment and `ac` in the next. So we keep
/// the valid text so far in a `String`, and the check ([`Utf8Check`]) keeps
/// the cut-off start of a character (at most 3 bytes) on the side. Every
/// byte is checked once, as it arrives, and the first fragment that makes
/// the text invalid fails right away instead of at the end of a 16 MiB
/// message.
#[derive(Debug, Clone, Default)]
struct Utf8Builder {
    text: String,
    check: Utf8Check,
}

impl Utf8Builder {
    fn with_capacity(capacity: usize) -> Utf8Builder {
        Utf8Builder {
            text: String::with_capacity(capacity),
            ..Utf8Builder::default()
        }
    }

    fn len(&self) -> usize {
        self.text.len() + self.check.pending_len
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), MessageError> {
        let text = &mut self.text;
        self.check.feed(bytes, |valid| text.push_str(valid))
    }

    /// The final fragment is in: a character still cut in two is invalid.
    fn finish(self) -> Result<String, MessageError> {
        if self.check.pending_len > 0 {
            return Err(MessageError::InvalidUtf8);
        }
        Ok(self.text)
    }
}

/// UTF-8 checked piece by piece: what [`Utf8Builder`] and
/// [`Assembler::check_arriving`] share. It holds no text, only the start
/// of a character that the last piece cut off.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8Check {
    /// The first bytes of a character the last piece cut in two.
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Check {
    /// Checks the next piece, handing each valid run of text to `valid`.
    fn feed(&mut self, mut bytes: &[u8], mut valid: impl FnMut(&str)) -> Result<(), MessageError> {
        // 1. Finish the character the previous piece cut in two.
        if self.pending_len > 0 {
            let width = utf8_width(self.pending[0]);
            let take = (width - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(ch) => {
                    valid(ch);
                    self.pending_len = 0;
                }
                // Still a valid start, just short: this piece was tiny
                // (bytes is empty now). Wait for the next one.
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return Err(MessageError::InvalidUtf8),
            }
        }

        // 2. The rest of the piece, in one pass: valid runs go out; an
        //    invalid byte fails, unless it is the start of a character cut
        //    off by the end of the piece.
        let mut chunks = bytes.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            valid(chunk.valid());
            let bad = chunk.invalid();
            if bad.is_empty() {
                continue;
            }
            // Utf8Error::error_len() is None exactly when the bytes are a
            // valid but incomplete start of a character.
            let at_end = chunks.peek().is_none();
            let cut_short = std::str::from_utf8(bad).is_err_and(|e| e.error_len().is_none());
            if at_end && cut_short {
                self.pending[..bad.len()].copy_from_slice(bad);
                self.pending_len = bad.len();
            } else {
                return Err(MessageError::InvalidUtf8);
            }
        }
        Ok(())
    }
}

/// A character's length in UTF-8, from its first byte. Only called on the
/// first byte of a valid (if incomplete) character.
fn utf8_width(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}
// ANCHOR_END: utf8

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to a Utf8Builder split at every pair of cut points and
    /// checks the verdict and the first failing piece against from_utf8.
    fn check_all_splits(bytes: &[u8]) {
        let whole = std::str::from_utf8(bytes);
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let pieces = [&bytes[..a], &bytes[a..b], &bytes[b..]];
                let mut builder = Utf8Builder::default();
                let mut failed_at = None;
                for (i, piece) in pieces.iter().enumerate() {
                    if builder.push(piece).is_err() {
                        failed_at = Some(i);
                        break;
                    }
                }
                let result = match failed_at {
                    Some(_) => Err(()),
                    None => builder.finish().map_err(|_| ()),
                };
                match whole {
                    Ok(s) => assert_eq!(result.as_deref(), Ok(s), "{bytes:x?} cut {a} {b}"),
                    Err(e) => {
                        assert!(result.is_err(), "{bytes:x?} cut {a} {b}");
                        // Fail fast: by the time the byte that proves the
                        // text invalid has arrived, we have failed. That byte
                        // is the last of the bad sequence, or the one after
                        // it (for a valid start followed by a wrong byte).
                        if let Some(error_len) = e.error_len() {
                            let proof = (e.valid_up_to() + error_len).min(bytes.len() - 1);
                            let proof_piece = [a, b, bytes.len()]
                                .iter()
                                .position(|&end| end > proof)
                                .unwrap();
                            assert!(
                                failed_at.is_some_and(|i| i <= proof_piece),
                                "{bytes:x?} cut {a} {b}: failed at piece {failed_at:?}, \
                                 proof in piece {proof_piece}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn utf8_builder_agrees_with_from_utf8_on_every_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "€uro 𝄞 clef".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
            b"\xf4\x90\x80\x80",                                               // > U+10FFFF
            b"ab\xe2\x82",                                                     // truncated €
            b"\xe2\x82ab",
            b"\xc0\xaf", // overlong
            b"\xff",
            b"\xf0\x9d\x84",
            b"",
        ];
        for sample in samples {
            check_all_splits(sample);
        }
    }

    /// Every prefix of `frame`'s wire bytes, fed to `check_arriving` as
    /// a decoder would see them arrive one byte at a time: the first prefix
    /// that fails, counted in payload bytes, or `None`.
    fn first_failure(assembler: &mut Assembler, frame: &Frame) -> Option<usize> {
        let mut wire = BytesMut::new();
        crate::frame::encode(frame, &mut wire);
        let decoder = crate::Decoder::new(crate::Role::Server);
        for end in 0..wire.len() {
            if let Some((header, arrived)) = decoder.arriving(&wire[..end])
                && assembler.check_arriving(&header, arrived).is_err()
            {
                return Some(arrived.len());
            }
        }
        None
    }

    #[test]
    fn an_unfragmented_text_keeps_the_bytes_it_arrived_in() {
        let frame = Frame::text("checked, not copied");
        let arrived = frame.payload.as_ptr();
        let Ok(Some(Message::Text(text))) = Assembler::new().push(frame) else {
            panic!("a text message");
        };
        assert_eq!((&*text, text.as_ptr()), ("checked, not copied", arrived));
    }

    #[test]
    fn a_text_frame_fails_at_its_first_invalid_byte_before_it_is_whole() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        // Autobahn 6.4.3's shape: valid text, then a byte no UTF-8 has.
        let mut payload = "κόσμε".as_bytes().to_vec();
        let valid = payload.len();
        payload.extend_from_slice(b"\xf4\x90\x80\x80 and more text after it");
        let frame = Frame::new(OpCode::Text, payload.clone()).with_mask(key);
        // \xf4\x90 is already impossible (above U+10FFFF): it fails there.
        assert_eq!(
            first_failure(&mut Assembler::new(), &frame),
            Some(valid + 2)
        );
        // The same bytes in a binary frame are nobody's business.
        let binary = Frame::new(OpCode::Binary, payload).with_mask(key);
        assert_eq!(first_failure(&mut Assembler::new(), &binary), None);
        // Valid text never fails, whatever the cuts.
        let good = Frame::text("€uro 𝄞 clef ".repeat(100)).with_mask(key);
        assert_eq!(first_failure(&mut Assembler::new(), &good), None);
    }

    #[test]
    fn a_continuation_is_checked_from_where_its_message_left_off() {
        let mut assembler = Assembler::new();
        // The first fragment ends inside "€" (e2 82 ac): e2 82.
        let first = Frame::new(OpCode::Text, &b"price: \xe2\x82"[..]).with_fin(false);
        assert_eq!(assembler.push(first), Ok(None));
        // ac completes it; 41 after e2 82 would not.
        let good = Frame::new(OpCode::Continuation, &b"\xac 12"[..]).with_mask([1, 2, 3, 4]);
        let mut clone = Assembler::new();
        clone
            .push(Frame::new(OpCode::Text, &b"price: \xe2\x82"[..]).with_fin(false))
            .unwrap();
        assert_eq!(first_failure(&mut clone, &good), None);
        let bad = Frame::new(OpCode::Continuation, &b"A 12 and more"[..]).with_mask([1, 2, 3, 4]);
        assert_eq!(first_failure(&mut assembler, &bad), Some(1));
    }
}
