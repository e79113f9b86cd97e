//! The example frames of RFC 6455 §5.7, for the CLI's walk-through.

/// One example: what it shows, and the bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// A one-line caption.
    pub caption: &'static str,
    /// The frame(s), back to back.
    pub bytes: Vec<u8>,
}

/// Every example of RFC 6455 §5.7, in the RFC's order.
///
/// The RFC gives the 256-byte and 64 KiB messages' headers only ("[256 bytes
/// of binary data]"); we fill their payloads with the bytes 0, 1, 2, ... 255,
/// 0, 1, ...
pub fn rfc6455_examples() -> Vec<Example> {
    let counting = |len: usize| (0..len).map(|i| i as u8);
    let mut binary_256 = vec![0x82, 0x7E, 0x01, 0x00];
    binary_256.extend(counting(256));
    let mut binary_64k = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    binary_64k.extend(counting(65_536));
    vec![
        Example {
            caption: "A single-frame unmasked text message, \"Hello\" (a server sends this)",
            bytes: vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        },
        Example {
            caption: "A single-frame masked text message, \"Hello\" (a client sends this)",
            bytes: vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        },
        Example {
            caption: "A fragmented unmasked text message: \"Hel\", then \"lo\"",
            bytes: vec![0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        },
        Example {
            caption: "An unmasked ping whose payload is \"Hello\"",
            bytes: vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        },
        Example {
            caption: "A masked pong answering it, with the same payload",
            bytes: vec![
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        },
        Example {
            caption: "256 bytes of binary in one unmasked frame: the 16-bit length form",
            bytes: binary_256,
        },
        Example {
            caption: "64 KiB of binary in one unmasked frame: the 64-bit length form",
            bytes: binary_64k,
        },
    ]
}
