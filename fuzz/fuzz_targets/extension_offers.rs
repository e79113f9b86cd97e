//! Fuzz target `extension_offers`: lesson 1's reading of
//! `Sec-WebSocket-Extensions` and permessage-deflate's negotiation
//! (RFC 7692 §7.1), on arbitrary header values.
//!
//! Input: header values separated by newlines (each one header line).
//!
//! Checked:
//! - nothing panics, in [`handshake::parse_extensions`],
//!   [`handshake::negotiate_deflate`] (both policies) and
//!   [`handshake::accept_deflate_answer`];
//! - what the server agrees to is an answer RFC 7692 allows: written out
//!   with `header_value` and read back as a client reads an answer, it
//!   gives the same parameters, and it never limits the client's window
//!   (we do not name `client_max_window_bits`);
//! - window bits are always 8 to 15.
#![no_main]

use handshake::{DeflatePolicy, Headers, accept_deflate_answer, negotiate_deflate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let headers = Headers(
        text.split('\n')
            .map(|value| ("Sec-WebSocket-Extensions".to_owned(), value.to_owned()))
            .collect(),
    );
    let _ = handshake::parse_extensions(&headers);
    let _ = accept_deflate_answer(&headers);
    for context_takeover in [false, true] {
        let Some(agreed) = negotiate_deflate(&headers, DeflatePolicy { context_takeover }) else {
            continue;
        };
        assert_eq!(agreed.client_max_window_bits, None);
        if let Some(bits) = agreed.server_max_window_bits {
            assert!(handshake::WINDOW_BITS.contains(&bits), "{bits}");
        }
        if !context_takeover {
            assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
        }
        let answer = Headers(vec![(
            "Sec-WebSocket-Extensions".to_owned(),
            agreed.header_value(),
        )]);
        assert_eq!(
            accept_deflate_answer(&answer),
            Ok(Some(agreed)),
            "{}",
            agreed.header_value()
        );
    }
});
