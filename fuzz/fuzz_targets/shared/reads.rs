//! What two targets share: cutting a stream into reads.

/// `stream` cut into reads: one read for `split` 0, otherwise pseudo-random
/// reads of 1 to 2^(split & 7) bytes, decided by `split`.
pub fn reads(stream: &[u8], split: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = stream;
    let max = 1usize << (split & 7);
    let mut state = u32::from(split).wrapping_mul(0x9E37_79B9) | 1;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if split == 0 {
            rest.len()
        } else {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            1 + state as usize % max
        };
        let (read, after) = rest.split_at(n.min(rest.len()));
        rest = after;
        Some(read)
    })
}
