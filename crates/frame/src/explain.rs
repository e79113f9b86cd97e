//! Frames explained field by field, for people.
//!
//! The `frame` CLI prints this for the hex you give it, and lesson 7's
//! wiretap prints it for every frame it forwards, so it describes bad frames
//! too: every field it could read, then the rule broken and the close code a
//! receiver answers with.

use std::fmt;

use crate::close::CloseFrame;
use crate::decode::{Role, check_peer_rules};
use crate::error::FrameError;
use crate::header::{LengthForm, parse_header};
use crate::hex::to_hex;
use crate::mask::apply_mask;
use crate::opcode::OpCode;

/// How many payload bytes are shown in hex before the rest is summarised.
const HEX_PREVIEW: usize = 32;
/// How many characters of text are shown before the rest is summarised.
const TEXT_PREVIEW: usize = 64;
/// Where the description column starts, after the label and the hex.
const LABEL_WIDTH: usize = 15;

/// The description [`annotate`] produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// One line: opcode, FIN, masking, sizes; or what is missing or wrong.
    pub summary: String,
    /// The bytes, field by field, one line each, every line ending in `\n`.
    pub details: String,
    /// What the bytes turned out to be.
    pub outcome: Outcome,
}

/// What [`annotate`] found at the start of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A whole frame of `len` bytes, header and payload. Its payload may
    /// still break a message-level rule (a bad close code, invalid UTF-8);
    /// the details say so.
    Frame {
        /// The frame's size on the wire; the next frame starts here.
        len: usize,
    },
    /// The input ends before the frame does: at least `needed` more bytes
    /// must arrive (exactly that many once the header is complete).
    Incomplete {
        /// How many more bytes, at least.
        needed: usize,
    },
    /// The frame breaks a rule; a receiver fails the connection with
    /// `error.close_code()`.
    Invalid(FrameError),
}

/// The summary line, then the details.
impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary)?;
        f.write_str(&self.details)
    }
}

// ANCHOR: annotate
/// Describes the frame at the start of `bytes`, field by field.
///
/// `reader` is who would decode these bytes: `Some(Role::Server)` for bytes
/// a client sent, `Some(Role::Client)` for bytes a server sent. With it, the
/// masking rule is checked; with `None` the MASK bit is only used to tell
/// which side sent the frame.
///
/// Never panics, whatever the bytes.
pub fn annotate(bytes: &[u8], reader: Option<Role>) -> Annotation {
    annotate_with(bytes, reader, Payload::Whole, Compression::Off)
}
// ANCHOR_END: annotate

/// Describes a frame from its first bytes: like [`annotate`], except that
/// when only part of the payload is in `bytes`, that part is described too
/// (its hex and the text it starts with), against the full length the
/// header announces.
///
/// For a tool that shows big frames without holding them: lesson 7's
/// wiretap keeps a frame's header and first few hundred payload bytes,
/// passes the rest on unseen, and describes the frame with this. When the
/// whole frame is in `bytes` the result is exactly [`annotate`]'s; when it is
/// not, the outcome is still [`Outcome::Incomplete`].
pub fn annotate_prefix(bytes: &[u8], reader: Option<Role>) -> Annotation {
    annotate_with(bytes, reader, Payload::Prefix, Compression::Off)
}

/// What permessage-deflate (RFC 7692) means for the frame described, which
/// the frame alone cannot tell: only the handshake says whether the
/// extension was agreed, and only a message's first frame says whether the
/// message is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not agreed: RSV1 breaks RFC 6455 §5.2, as every RSV bit does.
    Off,
    /// Agreed: RSV1 on a message's first frame means "compressed"; this
    /// frame's payload is plain.
    Agreed,
    /// Agreed, and this frame's payload is DEFLATE data: the first frame of
    /// a compressed message (RSV1 set), or a continuation of one.
    Compressed,
}

/// [`annotate_prefix`] for a connection that agreed to permessage-deflate
/// (or did not: [`Compression::Off`] is [`annotate_prefix`]). RSV1 is
/// explained as RFC 7692 §6 defines it, and a compressed payload is shown
/// as bytes only, never read as text: its meaning is known once the whole
/// message is inflated.
pub fn annotate_prefix_with(
    bytes: &[u8],
    reader: Option<Role>,
    compression: Compression,
) -> Annotation {
    annotate_with(bytes, reader, Payload::Prefix, compression)
}

/// Whether a payload cut short by the end of the input is described.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Only a whole payload is: a cut one is reported as incomplete.
    Whole,
    /// Whatever part of it is there is, too.
    Prefix,
}

fn annotate_with(
    bytes: &[u8],
    reader: Option<Role>,
    payload: Payload,
    compression: Compression,
) -> Annotation {
    let mut details = Details::default();
    let (summary, outcome) = describe(bytes, reader, payload, compression, &mut details);
    Annotation {
        summary,
        details: details.0,
        outcome,
    }
}

/// Describes every frame in `bytes`, back to back, stopping at the first
/// incomplete or invalid one.
pub fn annotate_all(bytes: &[u8], reader: Option<Role>) -> String {
    let mut out = String::new();
    let mut at = 0;
    let mut number = 1;
    loop {
        let annotation = annotate(&bytes[at..], reader);
        let end = match annotation.outcome {
            Outcome::Frame { len } => at + len,
            _ => bytes.len(),
        };
        if number > 1 {
            out.push('\n');
        }
        let range = match end {
            0 => "no bytes".to_owned(),
            _ => format!("bytes {at}-{}", end - 1),
        };
        out.push_str(&format!(
            "frame {number} ({range} of the input): {}\n{}",
            annotation.summary, annotation.details
        ));
        match annotation.outcome {
            Outcome::Frame { .. } if end < bytes.len() => {
                at = end;
                number += 1;
            }
            _ => return out,
        }
    }
}

/// The details, built a row at a time.
#[derive(Default)]
struct Details(String);

impl Details {
    /// A row: label (`byte 0`), the bytes in hex, what they mean.
    fn row(&mut self, label: &str, hex: &str, meaning: &str) {
        let line = format!("  {label:<LABEL_WIDTH$}{hex:<13}  {meaning}");
        self.0.push_str(line.trim_end());
        self.0.push('\n');
    }

    /// One bit field of a header byte: `81  1... ....  FIN = 1`.
    fn bits(&mut self, label: &str, byte: Option<u8>, value: u8, mask: u8, meaning: &str) {
        let hex = byte.map(|b| format!("{b:02x}")).unwrap_or_default();
        self.row(
            label,
            &format!("{hex:<4}{}", bit_pattern(value, mask)),
            meaning,
        );
    }

    /// A line under the payload row, e.g. `unmasked:  48 65 6c 6c 6f`.
    fn sub(&mut self, name: &str, value: &str) {
        let indent = " ".repeat(2 + LABEL_WIDTH + 2);
        self.0.push_str(&format!("{indent}{name:<12}{value}\n"));
    }

    /// A line of its own, indented like the rows.
    fn note(&mut self, text: &str) {
        self.0.push_str(&format!("  {text}\n"));
    }

    fn error(&mut self, what: &str, code: crate::CloseCode) {
        self.note(&format!("error: {what}"));
        self.note(&format!(
            "       a receiver fails the connection with close {code}"
        ));
    }
}

/// `1... ....` for the bits of `value` selected by `mask`.
fn bit_pattern(value: u8, mask: u8) -> String {
    let mut out = String::with_capacity(9);
    for bit in (0..8).rev() {
        if bit == 3 {
            out.push(' ');
        }
        out.push(match (mask >> bit & 1, value >> bit & 1) {
            (0, _) => '.',
            (_, 0) => '0',
            _ => '1',
        });
    }
    out
}

fn byte_range(start: u64, len: u64) -> String {
    match len {
        1 => format!("byte {start}"),
        _ => format!("bytes {start}-{}", start + len - 1),
    }
}

fn describe(
    bytes: &[u8],
    reader: Option<Role>,
    cut: Payload,
    compression: Compression,
    out: &mut Details,
) -> (String, Outcome) {
    // Byte 0: FIN, RSV1-3, opcode. Described from the raw bits, so even a
    // reserved opcode shows up for what it is.
    let Some(&b0) = bytes.first() else {
        out.note("incomplete: no bytes yet; a frame header has at least 2");
        return ("no bytes".into(), Outcome::Incomplete { needed: 2 });
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    let opcode = OpCode::from_u8(b0 & 0x0F);
    out.bits(
        "byte 0",
        Some(b0),
        b0,
        0x80,
        if fin {
            "FIN = 1: the final frame of its message"
        } else {
            "FIN = 0: more frames of this message follow"
        },
    );
    let rsv_meaning = match (compression, rsv) {
        (Compression::Off, 0) => "RSV1-3 = 000: no extension in use".to_owned(),
        (Compression::Compressed, 0) => {
            "RSV1-3 = 000: a continuation; its message's first frame said compressed".to_owned()
        }
        (Compression::Agreed, 0) => "RSV1-3 = 000: not compressed".to_owned(),
        (Compression::Agreed | Compression::Compressed, 0b100) => {
            "RSV1-3 = 100: RSV1, compressed (permessage-deflate, RFC 7692 §6)".to_owned()
        }
        _ => format!("RSV1-3 = {rsv:03b}: reserved bits set, meaningful only with an extension"),
    };
    out.bits("", None, b0, 0x70, &rsv_meaning);
    let opcode_meaning = match opcode {
        Ok(op) if op.is_control() => format!(
            "opcode = {:#X}: {} (a control frame)",
            op.as_u8(),
            op.name()
        ),
        Ok(op) => format!("opcode = {:#X}: {}", op.as_u8(), op.name()),
        Err(_) => format!("opcode = {:#X}: reserved, no meaning defined", b0 & 0x0F),
    };
    out.bits("", None, b0, 0x0F, &opcode_meaning);

    // Byte 1: MASK and the 7-bit length.
    let Some(&b1) = bytes.get(1) else {
        out.note("incomplete: the header's second byte has not arrived");
        return (
            "incomplete header: 1 byte".into(),
            Outcome::Incomplete { needed: 1 },
        );
    };
    let masked = b1 & 0x80 != 0;
    let mask_meaning = match (masked, reader) {
        (true, None) => "MASK = 1: the payload is masked, so a client sent it",
        (true, Some(Role::Server)) => "MASK = 1: masked, as a client's frames must be",
        (true, Some(Role::Client)) => "MASK = 1: masked, but a server MUST NOT mask",
        (false, None) => "MASK = 0: the payload is not masked, so a server sent it",
        (false, Some(Role::Server)) => "MASK = 0: not masked, but a client MUST mask",
        (false, Some(Role::Client)) => "MASK = 0: not masked, as a server's frames must be",
    };
    out.bits("byte 1", Some(b1), b1, 0x80, mask_meaning);
    let len7 = b1 & 0x7F;
    let form = LengthForm::from_len7(len7);
    let len_meaning = match form {
        LengthForm::Short => format!("payload length = {len7} (7-bit form, for 0-125)"),
        _ => format!(
            "payload length = {len7}: the length is in the next {} bytes ({} form)",
            form.extra_bytes(),
            form.name()
        ),
    };
    out.bits("", None, b1, 0x7F, &len_meaning);

    // The rest of the header: extended length, masking key.
    let header_len = 2 + form.extra_bytes() + if masked { 4 } else { 0 };
    if bytes.len() < header_len {
        let needed = header_len - bytes.len();
        out.note(&format!(
            "incomplete: the header is {header_len} bytes, {needed} more needed"
        ));
        let summary = format!("incomplete header: {} of {header_len} bytes", bytes.len());
        return (summary, Outcome::Incomplete { needed });
    }
    let extra = form.extra_bytes();
    if extra > 0 {
        let raw = &bytes[2..2 + extra];
        let value = raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        out.row(
            &byte_range(2, extra as u64),
            &to_hex(raw),
            &format!("extended payload length = {value}"),
        );
        if LengthForm::for_len(value) != form && value >> 63 == 0 {
            out.note(&format!(
                "note: {value} fits a shorter form; RFC 6455 §5.2 says senders MUST use \
                 the shortest (receivers, ours included, accept it)"
            ));
        }
    }
    if masked {
        let key = &bytes[header_len - 4..header_len];
        out.row(
            &byte_range(header_len as u64 - 4, 4),
            &to_hex(key),
            "masking key",
        );
    }

    // The verdict on the header: every rule a receiver applies.
    let header = match parse_header(bytes) {
        Ok(Some(header)) => header,
        Ok(None) => {
            // Cannot happen: we just checked the whole header is here. Say
            // so rather than panic.
            out.note("incomplete header");
            return (
                "incomplete header".into(),
                Outcome::Incomplete { needed: 1 },
            );
        }
        Err(error) => return invalid(error, out),
    };
    // With permessage-deflate agreed, RSV1 is allowed where RFC 7692 puts it.
    let extension_bits = match compression {
        Compression::Off => 0,
        Compression::Agreed | Compression::Compressed => crate::RSV1,
    };
    if let Err(error) = check_peer_rules(&header, reader, extension_bits) {
        return invalid(error, out);
    }

    // The payload.
    let opcode = header.opcode;
    let total = header.frame_len();
    let compressed = compression == Compression::Compressed;
    let summary = format!(
        "{opcode}, {}, {}, {}{}-byte payload, {total} bytes in all",
        if header.fin { "final" } else { "not final" },
        if masked { "masked" } else { "unmasked" },
        if compressed { "compressed, " } else { "" },
        header.payload_len,
    );
    let have = bytes.len() as u64;
    if have < total && cut == Payload::Whole {
        let needed = total - have;
        out.note(&format!(
            "incomplete: header says {needed} more bytes needed ({} of {} payload bytes here)",
            have - header.header_len as u64,
            header.payload_len
        ));
        let needed = usize::try_from(needed).unwrap_or(usize::MAX);
        return (summary, Outcome::Incomplete { needed });
    }
    // The payload, or as much of it as is here. min(total, have) <= bytes.len(),
    // so it fits in usize.
    let wire = &bytes[header.header_len..total.min(have) as usize];
    let mut payload = wire.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key);
    }
    let shown = Shown {
        start: header.header_len as u64,
        len: header.payload_len,
    };
    describe_payload(shown, wire, &payload, header.mask.is_some(), out);
    // Nothing of a payload is here: nothing to say about what it means.
    if compressed {
        out.note("compressed: what it says is known once its message is inflated");
    } else if !(payload.is_empty() && shown.len > 0) {
        describe_content(opcode, header.fin, &payload, shown.len, out);
    }
    let outcome = match usize::try_from(total) {
        Ok(len) if have >= total => Outcome::Frame { len },
        _ => Outcome::Incomplete {
            needed: usize::try_from(total - have).unwrap_or(usize::MAX),
        },
    };
    (summary, outcome)
}

/// Where the payload starts in the frame, and its full length: the bytes we
/// describe may be only its beginning.
#[derive(Clone, Copy)]
struct Shown {
    start: u64,
    len: u64,
}

fn invalid(error: FrameError, out: &mut Details) -> (String, Outcome) {
    out.error(&error.to_string(), error.close_code());
    (format!("invalid frame: {error}"), Outcome::Invalid(error))
}

fn describe_payload(shown: Shown, wire: &[u8], payload: &[u8], masked: bool, out: &mut Details) {
    if shown.len == 0 {
        out.note("(no payload)");
        return;
    }
    out.row(
        &byte_range(shown.start, shown.len),
        "",
        &format!("payload, {} bytes", shown.len),
    );
    if payload.is_empty() {
        out.sub("", "(none of it shown)");
    } else if masked {
        hex_preview(out, "masked:", wire, shown.len);
        hex_preview(out, "unmasked:", payload, shown.len);
    } else {
        hex_preview(out, "bytes:", payload, shown.len);
    }
}

/// Up to HEX_PREVIEW of the first bytes of a payload of `len` bytes, 16 to a
/// line, then how many more.
fn hex_preview(out: &mut Details, name: &str, bytes: &[u8], len: u64) {
    let shown = &bytes[..bytes.len().min(HEX_PREVIEW)];
    for (i, line) in shown.chunks(16).enumerate() {
        out.sub(if i == 0 { name } else { "" }, &to_hex(line));
    }
    if len > shown.len() as u64 {
        out.sub(
            "",
            &format!("... {} more ({len} bytes in all)", len - shown.len() as u64),
        );
    }
}

/// How [`annotate`] shows a payload's content, for a whole message rather
/// than a frame: `payload` is the first bytes of a message of `len` bytes,
/// sent as `opcode` (text or binary). For a tool that shows a compressed
/// message once it is inflated, as lesson 7's wiretap does.
pub fn describe_message(opcode: OpCode, payload: &[u8], len: u64) -> String {
    let mut out = Details::default();
    if len == 0 {
        out.sub("bytes:", "(none: an empty message)");
        return out.0;
    }
    hex_preview(&mut out, "bytes:", payload, len);
    describe_content(opcode, true, payload, len, &mut out);
    out.0
}

/// What the payload means for its opcode: text, close code and reason, ping.
/// `payload` may be the first bytes of a payload of `len` bytes.
fn describe_content(opcode: OpCode, fin: bool, payload: &[u8], len: u64, out: &mut Details) {
    let cut = (payload.len() as u64) < len;
    match opcode {
        // Control payloads are at most 125 bytes: a whole one is read, a cut
        // one (a tool chose to show less) cannot be.
        OpCode::Close if cut => out.sub("close:", "(code and reason not shown)"),
        OpCode::Close => match CloseFrame::parse(payload) {
            Ok(None) => out.sub("close:", "no status code (the receiver reports 1005)"),
            Ok(Some(close)) => {
                out.sub("close code:", &close.code.to_string());
                out.sub(
                    "reason:",
                    &text_preview(&close.reason, close.reason.len() as u64),
                );
            }
            Err(error) => out.error(&error.to_string(), error.close_code()),
        },
        OpCode::Ping => {
            text_if_utf8(payload, len, out);
            out.note(
                "a ping: the receiver answers with a pong carrying these bytes (RFC 6455 §5.5.2)",
            );
        }
        OpCode::Pong => {
            text_if_utf8(payload, len, out);
            out.note("a pong: the answer to a ping, or a heartbeat (RFC 6455 §5.5.3)");
        }
        OpCode::Text => match std::str::from_utf8(payload) {
            Ok(text) => out.sub("as text:", &text_preview(text, len)),
            // Where we stopped showing may fall inside a character; so may
            // the end of a fragment, and the next one finishes it.
            Err(e) if (cut || !fin) && e.error_len().is_none() => {
                let valid = String::from_utf8_lossy(&payload[..e.valid_up_to()]);
                if cut {
                    out.sub("as text:", &text_preview(&valid, len));
                } else {
                    out.sub("as text:", &text_preview(&valid, valid.len() as u64));
                    out.note("note: ends inside a character, which the next fragment completes");
                }
            }
            Err(_) => out.error(
                "text is not valid UTF-8 (RFC 6455 §8.1)",
                crate::CloseCode::INVALID_PAYLOAD,
            ),
        },
        OpCode::Binary | OpCode::Continuation => text_if_utf8(payload, len, out),
    }
}

/// The payload as text, when it is (or, cut short, starts as) UTF-8.
fn text_if_utf8(payload: &[u8], len: u64, out: &mut Details) {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) if (payload.len() as u64) < len && e.error_len().is_none() => {
            // Only the end of what we show is cut inside a character: a
            // valid start. (Cannot fail: valid_up_to is a char boundary.)
            std::str::from_utf8(&payload[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return,
    };
    if !text.is_empty() {
        out.sub("as text:", &text_preview(text, len));
    }
}

/// The text quoted and escaped, cut after TEXT_PREVIEW characters; `len` is
/// the size in bytes of the whole text, of which `text` may be the start.
fn text_preview(text: &str, len: u64) -> String {
    match text.char_indices().nth(TEXT_PREVIEW) {
        Some((cut, _)) => format!("{:?}... ({len} bytes in all)", &text[..cut]),
        None if (text.len() as u64) < len => format!("{text:?}... ({len} bytes in all)"),
        None => format!("{text:?}"),
    }
}

/// Every example of RFC 6455 §5.7, each explained as [`annotate_all`]
/// does, under a title: what `cargo run -p frame` prints with no bytes.
pub fn explain_rfc_examples(reader: Option<Role>) -> String {
    let mut text = String::new();
    for (i, example) in crate::examples::rfc6455_examples().iter().enumerate() {
        text.push_str(&format!(
            "== RFC 6455 §5.7, example {}: {}\n{}\n",
            i + 1,
            example.caption,
            annotate_all(&example.bytes, reader)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_patterns() {
        assert_eq!(bit_pattern(0x81, 0x80), "1... ....");
        assert_eq!(bit_pattern(0x81, 0x70), ".000 ....");
        assert_eq!(bit_pattern(0x81, 0x0F), ".... 0001");
        assert_eq!(bit_pattern(0x85, 0x7F), ".000 0101");
    }

    #[test]
    fn masked_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let a = annotate(&bytes, None);
        assert_eq!(a.outcome, Outcome::Frame { len: 11 });
        assert_eq!(
            a.summary,
            "text (0x1), final, masked, 5-byte payload, 11 bytes in all"
        );
        for needle in [
            "FIN = 1",
            "opcode = 0x1: text",
            "MASK = 1",
            "payload length = 5 (7-bit form",
            "37 fa 21 3d",
            "masking key",
            "7f 9f 4d 51 58",
            "48 65 6c 6c 6f",
            "\"Hello\"",
        ] {
            assert!(a.details.contains(needle), "{needle:?} missing from\n{a}");
        }
    }

    #[test]
    fn role_hint_checks_the_mask() {
        let unmasked = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let a = annotate(&unmasked, Some(Role::Server));
        assert_eq!(a.outcome, Outcome::Invalid(FrameError::UnmaskedClientFrame));
        assert!(a.details.contains("close 1002 (protocol error)"), "{a}");
        assert_eq!(
            annotate(&unmasked, Some(Role::Client)).outcome,
            Outcome::Frame { len: 7 }
        );
    }

    #[test]
    fn long_payload_is_truncated_with_its_length() {
        let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
        bytes.extend((0..=255u8).collect::<Vec<_>>());
        let a = annotate(&bytes, None);
        assert!(a.details.contains("extended payload length = 256"), "{a}");
        assert!(a.details.contains("7+16-bit form"), "{a}");
        assert!(a.details.contains("... 224 more (256 bytes in all)"), "{a}");
        assert!(
            !a.details.contains(" ff"),
            "the 256th byte is not shown:\n{a}"
        );
    }

    #[test]
    fn incomplete_payload_says_how_much_is_missing() {
        let a = annotate(&[0x81, 0x05, b'H', b'e'], None);
        assert_eq!(a.outcome, Outcome::Incomplete { needed: 3 });
        assert!(
            a.details
                .contains("incomplete: header says 3 more bytes needed"),
            "{a}"
        );
    }

    #[test]
    fn incomplete_header_says_how_much_is_missing() {
        let a = annotate(&[0x82, 0x7F, 0, 0], None);
        assert_eq!(a.outcome, Outcome::Incomplete { needed: 6 });
    }

    #[test]
    fn close_frames_show_code_and_reason() {
        let a = annotate(&[0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e'], None);
        assert!(a.details.contains("1000 (normal closure)"), "{a}");
        assert!(a.details.contains("\"bye\""), "{a}");
        let a = annotate(&[0x88, 0x02, 0x03, 0xed], None); // 1005 on the wire
        assert!(a.details.contains("close code 1005 may not be sent"), "{a}");
    }

    #[test]
    fn prefix_of_a_whole_frame_is_annotate() {
        for example in crate::rfc6455_examples() {
            for reader in [None, Some(Role::Server), Some(Role::Client)] {
                assert_eq!(
                    annotate_prefix(&example.bytes, reader),
                    annotate(&example.bytes, reader),
                    "{}",
                    example.caption
                );
            }
        }
    }

    #[test]
    fn prefix_describes_what_is_there_against_the_full_length() {
        // A masked 70,000-byte text frame, of which we hold the header and
        // the first 300 payload bytes; "é" is two bytes, so the cut at 300
        // falls inside one.
        let text = format!("x{}", "é".repeat(34_999)).into_bytes();
        let key = [1, 2, 3, 4];
        let mut bytes = vec![0x81, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70];
        bytes.extend_from_slice(&key);
        let mut masked = text[..300].to_vec();
        apply_mask(&mut masked, key);
        bytes.extend_from_slice(&masked);

        let a = annotate_prefix(&bytes, Some(Role::Server));
        assert_eq!(
            a.outcome,
            Outcome::Incomplete {
                needed: 70_000 - 300
            }
        );
        assert_eq!(
            a.summary,
            "text (0x1), final, masked, 70000-byte payload, 70014 bytes in all"
        );
        for needle in [
            "bytes 14-70013",
            "payload, 70000 bytes",
            "... 69968 more (70000 bytes in all)",
            "as text:    \"xéé",
            "... (70000 bytes in all)",
        ] {
            assert!(a.details.contains(needle), "{needle:?} missing from\n{a}");
        }
        assert!(!a.details.contains("error"), "a cut is not an error:\n{a}");
        // `annotate` itself only says what is missing.
        assert!(
            annotate(&bytes, None)
                .details
                .contains("incomplete: header says 69700 more bytes needed")
        );
    }

    #[test]
    fn prefix_of_just_the_header() {
        let a = annotate_prefix(&[0x82, 0x7E, 0x01, 0x00], None);
        assert_eq!(a.outcome, Outcome::Incomplete { needed: 256 });
        assert!(a.details.contains("payload, 256 bytes"), "{a}");
        assert!(a.details.contains("(none of it shown)"), "{a}");
        assert!(!a.details.contains("as text"), "{a}");
    }

    #[test]
    fn all_frames_back_to_back() {
        let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89];
        let text = annotate_all(&bytes, None);
        assert!(
            text.contains("frame 1 (bytes 0-4 of the input): text (0x1), not final"),
            "{text}"
        );
        assert!(
            text.contains("frame 2 (bytes 5-8 of the input): continuation (0x0), final"),
            "{text}"
        );
        assert!(
            text.contains("frame 3 (bytes 9-9 of the input): incomplete header"),
            "{text}"
        );
    }
}
