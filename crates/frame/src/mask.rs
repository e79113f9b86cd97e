//! Masking: XOR every payload byte with one of four key bytes (RFC 6455 §5.3).
//!
//! Masking and unmasking are the same operation (XOR twice is a no-op), so one
//! function does both. It runs over every byte a client sends, so it is worth
//! making fast: we XOR eight bytes at a time, in safe code, and let the
//! compiler turn the loop into SIMD instructions. `benches/unmask.rs` measures
//! it against the byte loop and against fastwebsockets.

// ANCHOR: mask_bytewise
/// Masks (or unmasks) `buf` one byte at a time, exactly as RFC 6455 §5.3
/// writes it: `transformed[i] = original[i] XOR key[i MOD 4]`.
///
/// The reference [`apply_mask`] is tested against; use [`apply_mask`] itself.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        // `& 3` rather than `% 4`: the same for usize, but it reads as the bit
        // trick it is, and it stays cheap even unoptimised.
        *byte ^= key[i & 3];
    }
}
// ANCHOR_END: mask_bytewise

/// Masks (or unmasks) `buf` in place with `key` (RFC 6455 §5.3).
///
/// `buf[0]` is XORed with `key[0]`: pass the whole payload, or use
/// [`apply_mask_offset`] for a piece that starts later.
///
/// ```
/// let mut payload = *b"\x7f\x9f\x4d\x51\x58"; // RFC 6455 §5.7, masked "Hello"
/// frame::apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline] // lets the caller's crate see offset = 0 and drop the key turning
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_offset(buf, key, 0);
}

// ANCHOR: mask
/// Masks (or unmasks) `buf`, a piece of a payload that starts `offset` bytes
/// into it: `buf[0]` is XORed with `key[offset % 4]`.
///
/// For unmasking a payload in pieces as they arrive; with offset 0 it is
/// [`apply_mask`].
#[inline]
pub fn apply_mask_offset(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Turn the key so that its first byte lines up with buf[0]: as a
    // little-endian u32, turning left by n bytes is rotating right by 8n bits
    // (one instruction, where `<[u8]>::rotate_left` would be a loop).
    let turn = 8 * (offset % 4) as u32;
    let key = u32::from_le_bytes(key).rotate_right(turn).to_le_bytes();

    // Eight bytes at a time: the key repeated twice makes a u64 we XOR with
    // eight payload bytes at once. `chunks_exact_mut` gives the compiler
    // fixed-size chunks with no bounds checks inside the loop, so it turns the
    // loop into SIMD instructions (16 bytes and more per step) by itself. No
    // unsafe, and no alignment games: unaligned loads cost next to nothing on
    // today's CPUs.
    let [k0, k1, k2, k3] = key;
    let wide = u64::from_ne_bytes([k0, k1, k2, k3, k0, k1, k2, k3]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }

    // Up to seven bytes are left. Eight is a multiple of four, so the key is
    // back at key[0] where they start.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}
// ANCHOR_END: mask

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, non-repeating test bytes.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
            .collect()
    }

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn rfc_hello() {
        let mut buf = *b"Hello";
        apply_mask(&mut buf, KEY);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut buf, KEY);
        assert_eq!(&buf, b"Hello");
    }

    /// Every length from 0 to one past a 4 KiB page, every key offset: the
    /// word loop and the byte tail agree with the reference.
    #[test]
    fn equals_reference_at_every_length_and_key_offset() {
        let data = pattern(4097);
        for len in 0..=4097 {
            for offset in 0..4 {
                let mut fast = data[..len].to_vec();
                apply_mask_offset(&mut fast, KEY, offset);
                // The reference, with the key turned by hand.
                let mut slow = data[..len].to_vec();
                for (i, b) in slow.iter_mut().enumerate() {
                    *b ^= KEY[(i + offset) % 4];
                }
                assert_eq!(fast, slow, "len {len}, offset {offset}");
            }
            let mut fast = data[..len].to_vec();
            apply_mask(&mut fast, KEY);
            let mut slow = data[..len].to_vec();
            apply_mask_bytewise(&mut slow, KEY);
            assert_eq!(fast, slow, "len {len}");
        }
    }

    /// The slice may start at any address: every start 0..=7 inside a larger
    /// buffer, and the bytes around the slice stay untouched.
    #[test]
    fn equals_reference_at_every_alignment() {
        for start in 0..8 {
            for len in (0..=600).chain([1024, 4095, 4096]) {
                let mut big = pattern(len + 16);
                let mut expected = big.clone();
                apply_mask_bytewise(&mut expected[start..start + len], KEY);
                apply_mask(&mut big[start..start + len], KEY);
                assert_eq!(big, expected, "start {start}, len {len}");
            }
        }
    }

    /// Unmasking a payload in pieces, each with its offset, equals unmasking
    /// it whole.
    #[test]
    fn pieces_with_offsets_equal_the_whole() {
        let data = pattern(1000);
        let mut whole = data.clone();
        apply_mask(&mut whole, KEY);
        for cut in [1usize, 3, 7, 8, 9, 250, 999] {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask_offset(a, KEY, 0);
            apply_mask_offset(b, KEY, cut);
            assert_eq!(pieces, whole, "cut at {cut}");
        }
    }
}
