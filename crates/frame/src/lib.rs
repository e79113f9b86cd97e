//! # Lesson 2: the frame codec (RFC 6455 §5)
//!
//! After the handshake of lesson 1, client and server stop speaking HTTP and
//! exchange *frames*: a header of 2 to 14 bytes (final-fragment flag, opcode,
//! mask flag, payload length, masking key) and then the payload. This crate
//! reads and writes them, byte for byte as RFC 6455 §5 says, and refuses
//! everything the RFC forbids with the close code it deserves. It does no I/O:
//! bytes in, frames out, so the same code serves a tokio server (lesson 3), a
//! proxy (lesson 7) and the tests.
//!
//! | module | what it adds |
//! |---|---|
//! | `opcode` | [`OpCode`]: text, binary, close, ping, pong, continuation |
//! | `header` | [`parse_header`]: FIN, RSV, opcode, MASK, the three [`LengthForm`]s |
//! | `mask` | [`apply_mask`]: the XOR every client frame goes through, 8 bytes at a time |
//! | `decode` | [`Decoder`]: whole frames out of a byte stream; partial reads are "need more bytes" |
//! | `frame` | [`Frame`] and [`encode`]: the way back to bytes |
//! | `close` | [`CloseCode`] and [`CloseFrame`]: why a connection ends |
//! | `assemble` | [`Assembler`]: fragments into [`Message`]s, UTF-8 checked as it arrives |
//! | `error` | [`FrameError`], [`CloseError`], [`MessageError`]: each rule broken and its close code |
//! | `annotate` | [`annotate`]: a frame explained field by field (the CLI); [`annotate_prefix`]: the same from its first bytes (lesson 7's wiretap) |
//!
//! Two limits keep a peer from making us hold unbounded memory:
//! [`DEFAULT_MAX_FRAME_SIZE`] (per frame, checked from the header before any
//! payload is buffered) and [`DEFAULT_MAX_MESSAGE_SIZE`] (fragments added up),
//! both 16 MiB and both adjustable.
//!
//! ## Run it
//!
//! ```text
//! cargo run -p frame -- 81 85 37 fa 21 3d 7f 9f 4d 51 58   # explain these bytes
//! cargo run -p frame                                        # walk through RFC 6455 §5.7
//! ```
//!
//! Then break the frame on purpose: set an RSV bit (`c1 85 ...`), clear the
//! mask bit (`81 05 ...`), or cut the bytes short, and read what a receiver
//! would say.
//!
//! ## Use it
//!
//! ```
//! use bytes::BytesMut;
//! use frame::{Assembler, Decoder, Frame, Message, Role, encode};
//!
//! // A client sends a masked "Hello" (RFC 6455 §5.7)...
//! let mut wire = BytesMut::new();
//! encode(&Frame::text("Hello").with_mask([0x37, 0xfa, 0x21, 0x3d]), &mut wire);
//! assert_eq!(wire[..], [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//!
//! // ...and the server decodes and assembles it.
//! let mut decoder = Decoder::new(Role::Server);
//! let mut assembler = Assembler::new();
//! let frame = decoder.decode(&mut wire)?.expect("a whole frame");
//! assert_eq!(assembler.push(frame)?, Some(Message::Text("Hello".into())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Later lessons switch to `tungstenite`, which does all of this for you; this
//! crate is what it does inside.

mod assemble;
mod close;
mod decode;
mod deflate;
mod error;
mod examples;
mod explain;
mod frame;
mod header;
mod hex;
mod mask;
mod opcode;

pub use assemble::{Assembler, DEFAULT_MAX_MESSAGE_SIZE, Message};
/// The text of a [`Message::Text`], re-exported: a `str` on `Bytes`.
pub use bytestring::ByteString;
pub use close::{CloseCode, CloseFrame, fit_reason};
pub use decode::{DEFAULT_MAX_FRAME_SIZE, Decoder, Role};
pub use deflate::{COMPRESSOR_WINDOW_BITS, Compressor, DEFLATE_TAIL, INFLATE_CHUNK, Inflater};
pub use error::{CloseError, FrameError, MessageError};
pub use examples::{Example, rfc6455_examples};
pub use explain::{
    Annotation, Compression, Outcome, annotate, annotate_all, annotate_prefix,
    annotate_prefix_with, describe_message, explain_rfc_examples,
};
pub use frame::{Frame, encode};
pub use header::{
    Header, LengthForm, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, RSV1, RSV2, RSV3, parse_header,
};
pub use hex::{HexError, parse_hex, to_hex};
pub use mask::{apply_mask, apply_mask_bytewise, apply_mask_offset};
pub use opcode::OpCode;
