//! The one computation of the handshake: `Sec-WebSocket-Accept`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

// ANCHOR: guid
/// The fixed GUID of RFC 6455 §1.3. Every WebSocket server in the world appends
/// this exact string to the client's key; a server that does not know it cannot
/// produce the right answer, which is how the client learns that it really
/// reached a WebSocket server and not a cache or a confused HTTP server.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// ANCHOR_END: guid

// ANCHOR: accept_key
/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`
/// (RFC 6455 §4.2.2 step 5.4): base64(SHA-1(key + GUID)).
///
/// The key is used exactly as it appears in the header, *as text*: it is not
/// base64-decoded first, and the key comes before the GUID.
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}
// ANCHOR_END: accept_key

/// The accept computation broken into the steps the demo page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptSteps {
    /// The `Sec-WebSocket-Key` the client sent.
    pub key: String,
    /// `key + GUID`, the string that is hashed.
    pub concatenated: String,
    /// The 20-byte SHA-1 digest of `concatenated`, as lowercase hex.
    pub sha1_hex: String,
    /// base64 of the digest: the `Sec-WebSocket-Accept` value.
    pub accept: String,
}

/// Runs [`accept_key`] step by step, keeping every intermediate value.
pub fn accept_steps(key: &str) -> AcceptSteps {
    let concatenated = format!("{key}{GUID}");
    let digest = Sha1::digest(concatenated.as_bytes());
    let sha1_hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    AcceptSteps {
        key: key.to_owned(),
        concatenated,
        sha1_hex,
        accept: BASE64.encode(digest),
    }
}

// ANCHOR: is_valid_key
/// Is `key` a valid `Sec-WebSocket-Key`: the base64 encoding of exactly 16
/// bytes (RFC 6455 §4.1 step 7)? Padding is required, so a valid key is always
/// 24 characters ending in `==`.
pub fn is_valid_key(key: &str) -> bool {
    // Decode into a buffer one byte bigger than needed: a key that decodes to
    // more than 16 bytes fails with an error instead of allocating.
    let mut out = [0u8; 17];
    matches!(BASE64.decode_slice(key.as_bytes(), &mut out), Ok(16))
}
// ANCHOR_END: is_valid_key

/// A fresh random `Sec-WebSocket-Key`: 16 random bytes, base64-encoded
/// (RFC 6455 §4.1: "randomly selected", new for each connection).
pub fn generate_key() -> String {
    BASE64.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_section_1_3_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn seed_004_vector() {
        assert_eq!(
            accept_key("T2a6wZlAwhgQNqruZ2YUyg=="),
            "iBJKv/ALIW2DobfoA4dmr3JHBCY="
        );
    }

    #[test]
    fn steps_agree_with_accept_key() {
        let steps = accept_steps("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            steps.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        // RFC 6455 §1.3 gives the digest bytes in hex.
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(steps.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn key_order_matters() {
        // A common mistake (one of our source articles describes it): GUID first.
        let wrong = {
            let mut sha1 = Sha1::new();
            sha1.update(GUID.as_bytes());
            sha1.update(b"dGhlIHNhbXBsZSBub25jZQ==");
            BASE64.encode(sha1.finalize())
        };
        assert_ne!(wrong, accept_key("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    #[test]
    fn key_validity() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key("T2a6wZlAwhgQNqruZ2YUyg=="));
        // Seed 002's example key decodes to the 10 bytes "the sample".
        assert!(!is_valid_key("dGhlIHNhbXBsZQ=="));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("not base64 at all!!!!!!!"));
        // 17 bytes, 18 bytes: too long.
        assert!(!is_valid_key("AAAAAAAAAAAAAAAAAAAAAAA="));
        assert!(!is_valid_key("AAAAAAAAAAAAAAAAAAAAAAAA"));
        // Unpadded 16 bytes is not the canonical form RFC 6455 asks for.
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ"));
    }

    #[test]
    fn generated_keys_are_valid_and_fresh() {
        let a = generate_key();
        let b = generate_key();
        assert!(is_valid_key(&a), "{a}");
        assert_ne!(a, b);
    }
}
