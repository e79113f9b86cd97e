//! permessage-deflate's codec (RFC 7692 §7.2): a message's payload is
//! DEFLATE data, and the first frame of a compressed message has RSV1 set.
//!
//! Sending, the payload is compressed and ended with a *sync flush*, which
//! always closes with the four bytes `00 00 ff ff` (an empty stored block);
//! those four bytes are then removed, since the receiver knows they are
//! there. Receiving, they are put back and the whole is inflated. Each side
//! may keep its compression context (the last 32 KiB it saw) from one
//! message to the next, unless the handshake said `*_no_context_takeover`.
//!
//! The handshake's side (offers, parameters, answers) is lesson 1's
//! `handshake::negotiate_deflate`; this module only needs to know, for each
//! direction, whether to keep the context.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::MessageError;

/// What a sync flush ends with, and what the sender removes and the
/// receiver puts back (RFC 7692 §7.2.1, §7.2.2).
pub const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How many inflated bytes we produce at a time (16 KiB, on the stack):
/// the step by which a message grows, and is checked against its limit.
pub const INFLATE_CHUNK: usize = 16 * 1024;

// ANCHOR: compressor
/// Compresses messages to send.
#[derive(Debug)]
pub struct Compressor {
    /// The DEFLATE state: kept between messages with context takeover,
    /// made for each message and dropped after it without.
    state: Option<Compress>,
    keep_context: bool,
    window_bits: u8,
}

/// The windows our compressor can keep to: 2^9 to 2^15 bytes. zlib's
/// DEFLATE (zlib-rs here) has no 256-byte window, so a peer that allows us
/// only 8 bits gets our messages uncompressed.
pub const COMPRESSOR_WINDOW_BITS: std::ops::RangeInclusive<u8> = 9..=15;

impl Compressor {
    /// A compressor with the full 32 KiB window that keeps its context
    /// from one message to the next if `keep_context`.
    pub fn new(keep_context: bool) -> Compressor {
        Compressor::with_window_bits(keep_context, 15)
    }

    /// A compressor whose back references reach at most 2^`window_bits`
    /// bytes back (RFC 7692 §7.1.2.1), in [`COMPRESSOR_WINDOW_BITS`].
    ///
    /// # Panics
    ///
    /// On a window outside [`COMPRESSOR_WINDOW_BITS`].
    pub fn with_window_bits(keep_context: bool, window_bits: u8) -> Compressor {
        assert!(
            COMPRESSOR_WINDOW_BITS.contains(&window_bits),
            "window bits {window_bits} not in {COMPRESSOR_WINDOW_BITS:?}"
        );
        Compressor {
            state: None,
            keep_context,
            window_bits,
        }
    }

    /// One message's payload, compressed (RFC 7692 §7.2.1): DEFLATE, a sync
    /// flush, and the flush's final `00 00 ff ff` removed.
    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let bits = self.window_bits;
        let state = self.state.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::default(), false, bits)
        });
        let start = state.total_in();
        // Room for the worst case (zlib's compressBound, and the flush's
        // empty block), so one call takes the whole message and its flush:
        // the state never has to stop halfway for want of room.
        let bound = payload.len() + (payload.len() >> 12) + (payload.len() >> 14) + 64;
        let mut out = Vec::with_capacity(bound);
        state
            .compress_vec(payload, &mut out, FlushCompress::Sync)
            .expect("compressing into a buffer with room cannot fail");
        // Should the bound ever fall short, finish what is held back.
        while state.total_in() - start < payload.len() as u64 || out.len() == out.capacity() {
            out.reserve(out.capacity().max(1024));
            let used = (state.total_in() - start) as usize;
            let written = out.len();
            state
                .compress_vec(&payload[used..], &mut out, FlushCompress::Sync)
                .expect("compressing into a buffer with room cannot fail");
            if out.len() == written && state.total_in() - start == payload.len() as u64 {
                break;
            }
        }
        if out.ends_with(&DEFLATE_TAIL) {
            out.truncate(out.len() - DEFLATE_TAIL.len());
        }
        if !self.keep_context {
            self.state = None;
        }
        out
    }
}
// ANCHOR_END: compressor

// ANCHOR: inflater
/// Inflates the messages received, checking their size as they grow.
#[derive(Debug)]
pub struct Inflater {
    /// The INFLATE state and its 32 KiB window: kept between messages with
    /// context takeover, made for each message and dropped after it without.
    state: Option<Decompress>,
    keep_context: bool,
}

impl Inflater {
    /// An inflater that keeps its context (the sender's window) from one
    /// message to the next if `keep_context`.
    pub fn new(keep_context: bool) -> Inflater {
        Inflater {
            state: None,
            keep_context,
        }
    }

    /// Inflates `input`, a piece of a compressed message, handing each
    /// chunk of at most [`INFLATE_CHUNK`] inflated bytes to `out`. `size` is
    /// the message's inflated size so far; a chunk that would take it past
    /// `max` is never handed out. So a small frame that inflates to
    /// gigabytes (a compression bomb) costs one chunk, not gigabytes.
    ///
    /// # Errors
    ///
    /// [`MessageError::MessageTooLarge`] (1009) past `max`;
    /// [`MessageError::BadCompression`] (1007) for data that is not DEFLATE;
    /// whatever `out` returns.
    pub fn inflate(
        &mut self,
        input: &[u8],
        max: usize,
        size: &mut usize,
        mut out: impl FnMut(&[u8]) -> Result<(), MessageError>,
    ) -> Result<(), MessageError> {
        let state = self.state.get_or_insert_with(|| Decompress::new(false));
        let mut chunk = [0u8; INFLATE_CHUNK];
        let mut input = input;
        loop {
            let (read, written) = (state.total_in(), state.total_out());
            let status = state
                .decompress(input, &mut chunk, FlushDecompress::Sync)
                .map_err(|_| MessageError::BadCompression)?;
            let used = (state.total_in() - read) as usize;
            let made = (state.total_out() - written) as usize;
            input = &input[used..];
            if made > 0 {
                *size += made;
                if *size > max {
                    return Err(MessageError::MessageTooLarge { size: *size, max });
                }
                out(&chunk[..made])?;
            }
            if status == Status::StreamEnd {
                // A block marked final: the sender ended its DEFLATE
                // stream. Nothing may follow it in this message.
                if !input.is_empty() && input != DEFLATE_TAIL {
                    return Err(MessageError::BadCompression);
                }
                state.reset(false);
                return Ok(());
            }
            // Until a call makes no progress: the inflater may hold output
            // back even when it returned less than a chunk, and gives it
            // on the next call, with or without more input.
            if used == 0 && made == 0 {
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(MessageError::BadCompression)
                };
            }
        }
    }

    /// The message's last frame is in: puts back the `00 00 ff ff` the
    /// sender removed (RFC 7692 §7.2.2), inflates what it releases, and
    /// forgets the context unless it is to be kept.
    ///
    /// # Errors
    ///
    /// As [`Inflater::inflate`].
    pub fn finish(
        &mut self,
        max: usize,
        size: &mut usize,
        out: impl FnMut(&[u8]) -> Result<(), MessageError>,
    ) -> Result<(), MessageError> {
        let result = self.inflate(&DEFLATE_TAIL, max, size, out);
        if !self.keep_context || result.is_err() {
            self.state = None;
        }
        result
    }

    /// Forgets a message given up halfway (the connection is failing).
    pub fn abandon(&mut self) {
        self.state = None;
    }
}
// ANCHOR_END: inflater

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(
        inflater: &mut Inflater,
        data: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, MessageError> {
        inflate_pieces(inflater, data, data.len().max(1), max)
    }

    /// Inflates a whole message fed in pieces of `piece` bytes; the size
    /// the inflater counts must be what came out.
    fn inflate_pieces(
        inflater: &mut Inflater,
        data: &[u8],
        piece: usize,
        max: usize,
    ) -> Result<Vec<u8>, MessageError> {
        let (mut out, mut size) = (Vec::new(), 0);
        let mut sink = |chunk: &[u8]| {
            out.extend_from_slice(chunk);
            Ok(())
        };
        for part in data.chunks(piece) {
            inflater.inflate(part, max, &mut size, &mut sink)?;
        }
        inflater.finish(max, &mut size, &mut sink)?;
        assert_eq!(size, out.len());
        Ok(out)
    }

    #[test]
    fn rfc_7692_hello() {
        // RFC 7692 §7.2.3.1: "Hello", compressed, without the tail.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_all(&mut Inflater::new(false), &hello, 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            inflate_all(
                &mut Inflater::new(false),
                &Compressor::new(false).compress(b"Hello"),
                100
            )
            .unwrap(),
            b"Hello"
        );
        // §7.2.3.2: with context takeover the second "Hello" is a back
        // reference into the first, and only an inflater that kept the
        // first's window can read it.
        let mut compressor = Compressor::new(true);
        let first = compressor.compress(b"Hello");
        let second = compressor.compress(b"Hello");
        assert!(second.len() < first.len(), "{first:x?} {second:x?}");
        let mut keeping = Inflater::new(true);
        assert_eq!(inflate_all(&mut keeping, &first, 100).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut keeping, &second, 100).unwrap(), b"Hello");
        let mut forgetting = Inflater::new(false);
        assert_eq!(inflate_all(&mut forgetting, &first, 100).unwrap(), b"Hello");
        let lost = inflate_all(&mut forgetting, &second, 100);
        assert_ne!(lost.as_deref().ok(), Some(&b"Hello"[..]), "{lost:?}");
    }

    /// `len` bytes of xorshift noise from `seed`: incompressible.
    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_empty_and_big_messages_in_pieces() {
        let big: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 977) as u8)
            .collect();
        // Incompressible: stored blocks, and more output than one chunk.
        let noise = noise(65_536, 0x2545_f491_4f6c_dd1d);
        for message in [&b""[..], b"x", &big[..], &noise[..]] {
            let compressed = Compressor::new(false).compress(message);
            // Inflated from pieces of every size, the result is the same.
            for piece in [1, 7, 4096, compressed.len().max(1)] {
                let out = inflate_pieces(&mut Inflater::new(false), &compressed, piece, usize::MAX)
                    .unwrap();
                assert_eq!(out, message);
            }
        }
    }

    #[test]
    fn a_bomb_is_stopped_at_the_limit_one_chunk_past_it_at_most() {
        // 16 MiB of zeros compresses to about 16 KiB.
        let bomb = Compressor::new(false).compress(&vec![0; 16 << 20]);
        assert!(bomb.len() < 32 << 10, "{}", bomb.len());
        let (mut seen, mut size) = (0, 0);
        let result = Inflater::new(false).inflate(&bomb, 1 << 20, &mut size, |chunk| {
            seen += chunk.len();
            Ok(())
        });
        assert!(
            matches!(result, Err(MessageError::MessageTooLarge { max, .. }) if max == 1 << 20),
            "{result:?}"
        );
        assert!(seen <= 1 << 20, "handed out {seen} bytes");
        assert!(size <= (1 << 20) + INFLATE_CHUNK);
    }

    #[test]
    fn a_small_window_is_kept_to() {
        // 2 KiB of noise, eight times: a 32 KiB window finds the repeats,
        // a 512-byte window cannot reach back to them.
        let block = noise(2048, 0x9e37_79b9_7f4a_7c15);
        let message = block.repeat(8);
        let full = Compressor::new(false).compress(&message);
        for bits in COMPRESSOR_WINDOW_BITS {
            let compressed = Compressor::with_window_bits(false, bits).compress(&message);
            if bits <= 11 {
                assert!(
                    full.len() < compressed.len() / 4,
                    "{bits}: {}",
                    compressed.len()
                );
            }
            assert_eq!(
                inflate_with_window(&compressed, bits),
                message,
                "{bits} bits"
            );
        }
    }

    /// Inflates a whole message with an inflater whose window is only
    /// 2^`bits` bytes: a back reference further than that fails.
    fn inflate_with_window(compressed: &[u8], bits: u8) -> Vec<u8> {
        let message_len = 1 << 16;
        let small = compressed;
        let mut inflate = Decompress::new_with_window_bits(false, bits);
        let mut out = Vec::with_capacity(message_len);
        let mut input = &[small, &DEFLATE_TAIL].concat()[..];
        loop {
            let before = (inflate.total_in(), out.len());
            inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .expect("within the window");
            input = &input[(inflate.total_in() - before.0) as usize..];
            if (inflate.total_in(), out.len()) == before {
                break;
            }
        }
        out
    }

    #[test]
    fn garbage_is_bad_compression() {
        let result = inflate_all(&mut Inflater::new(false), &[0xff; 10], 100);
        assert_eq!(result, Err(MessageError::BadCompression));
    }
}
