//! Extensions in the handshake (RFC 6455 §9.1) and the one we speak,
//! permessage-deflate (RFC 7692 §7): reading the offers, choosing, and
//! writing what was agreed.
//!
//! `Sec-WebSocket-Extensions` is a list of offers, in the client's order
//! of preference, each a name and parameters:
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//!                           permessage-deflate
//! ```
//!
//! The server accepts at most one offer of each extension by naming it,
//! with the parameters it agrees to, in its 101. Anything it does not
//! accept (unknown, malformed, or asking for what it cannot do) it simply
//! leaves out: a declined offer is never an error.

use std::fmt;

use crate::parse::{Headers, is_token};

/// One extension offer or answer: a name and its parameters, values
/// unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension's name, as written.
    pub name: String,
    /// Its parameters, in order: a name, and a value if it has one.
    pub params: Vec<(String, Option<String>)>,
}

/// Reads every `Sec-WebSocket-Extensions` header into extensions, in order.
/// An element that does not parse (RFC 6455 §9.1's grammar) comes out as
/// `Err` in its place, so that a caller can skip it and still see the rest.
pub fn parse_extensions(headers: &Headers) -> Vec<Result<Extension, ExtensionSyntax>> {
    headers
        .get_all("Sec-WebSocket-Extensions")
        .flat_map(split_elements)
        .filter(|element| !element.trim().is_empty())
        .map(parse_element)
        .collect()
}

/// An extension element that breaks RFC 6455 §9.1's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionSyntax(pub String);

impl fmt::Display for ExtensionSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an extension (RFC 6455 §9.1): {:?}", self.0)
    }
}

/// Splits a header value at the commas that are not inside a
/// quoted-string.
fn split_elements(value: &str) -> Vec<&str> {
    let mut elements = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                elements.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    elements.push(&value[start..]);
    elements
}

/// `name *( ";" param [ "=" ( token / quoted-string ) ] )`.
fn parse_element(element: &str) -> Result<Extension, ExtensionSyntax> {
    let bad = || ExtensionSyntax(element.trim().to_owned());
    let mut parts = element.split(';').map(str::trim);
    let name = parts.next().filter(|n| is_token(n)).ok_or_else(bad)?;
    let mut params = Vec::new();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            None => (part, None),
            Some((key, value)) => (key.trim(), Some(unquote(value.trim()).ok_or_else(bad)?)),
        };
        if !is_token(key) {
            return Err(bad());
        }
        params.push((key.to_owned(), value));
    }
    Ok(Extension {
        name: name.to_owned(),
        params,
    })
}

/// A token, or a quoted-string's content; RFC 6455 §9.1: a quoted value
/// "MUST conform to the 'token' ABNF" once unquoted.
fn unquote(value: &str) -> Option<String> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?.replace('\\', ""),
        None => value.to_owned(),
    };
    is_token(&inner).then_some(inner)
}

/// The name of RFC 7692's extension.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The window sizes RFC 7692 §7.1.2 allows: 2^8 to 2^15 bytes.
pub const WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;

// ANCHOR: deflate_params
/// The parameters of permessage-deflate (RFC 7692 §7.1), as a client
/// offers them or as both sides agreed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server starts every message with an empty window: it keeps
    /// no compression context from one message to the next.
    pub server_no_context_takeover: bool,
    /// The same for the client.
    pub client_no_context_takeover: bool,
    /// The largest window, in bits, the server may compress with; `None`
    /// is 15. In an offer: what the client asks for.
    pub server_max_window_bits: Option<u8>,
    /// The largest window the client may compress with. In an offer,
    /// `Some(None)` says "the client supports this parameter" and
    /// `Some(Some(n))` adds "and will use at most n bits".
    pub client_max_window_bits: Option<Option<u8>>,
}
// ANCHOR_END: deflate_params

impl DeflateParams {
    /// Reads one `permessage-deflate` element's parameters. `None` when a
    /// parameter is unknown, repeated, or has a value RFC 7692 §7.1 does not
    /// allow: such an offer is declined (and such an answer refused).
    pub fn from_extension(extension: &Extension) -> Option<DeflateParams> {
        if !extension.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return None;
        }
        let mut params = DeflateParams::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &extension.params {
            if seen.contains(&name.as_str()) {
                return None; // §7.1: "multiple extension parameters with the same name"
            }
            seen.push(name);
            match (name.as_str(), value) {
                ("server_no_context_takeover", None) => params.server_no_context_takeover = true,
                ("client_no_context_takeover", None) => params.client_no_context_takeover = true,
                ("server_max_window_bits", Some(v)) => {
                    params.server_max_window_bits = Some(window_bits(v)?);
                }
                ("client_max_window_bits", None) => params.client_max_window_bits = Some(None),
                ("client_max_window_bits", Some(v)) => {
                    params.client_max_window_bits = Some(Some(window_bits(v)?));
                }
                _ => return None,
            }
        }
        Some(params)
    }

    /// The header value naming these parameters, e.g.
    /// `permessage-deflate; server_no_context_takeover`.
    pub fn header_value(&self) -> String {
        let mut value = PERMESSAGE_DEFLATE.to_owned();
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            value.push_str(&format!("; server_max_window_bits={bits}"));
        }
        match self.client_max_window_bits {
            Some(Some(bits)) => value.push_str(&format!("; client_max_window_bits={bits}")),
            Some(None) => value.push_str("; client_max_window_bits"),
            None => {}
        }
        value
    }
}

/// `8` to `15`, digits only, no leading zero (RFC 7692 §7.1.2.1).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| WINDOW_BITS.contains(bits))
}

// ANCHOR: deflate_policy
/// What a server is willing to agree to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflatePolicy {
    /// Keep each direction's compression context from one message to the
    /// next. Messages that repeat each other (JSON with the same keys, say)
    /// then compress far better, but every connection holds a compressor
    /// and a 32 KiB window for as long as it lives. Without, the state
    /// exists only while a message is being compressed or inflated.
    pub context_takeover: bool,
}

/// The server's side of the negotiation (RFC 7692 §7.1): the first
/// permessage-deflate offer we can accept, and the parameters of our
/// answer; `None` when there is none (the connection then runs without).
///
/// We accept any window the client asks us to compress with (the
/// compressor keeps to it, or, for the smallest, we send our messages
/// uncompressed, which the extension allows message by message), inflate
/// the client's messages with the full window whatever it uses, and add
/// the `*_no_context_takeover` parameters unless `policy` keeps contexts.
pub fn negotiate_deflate(headers: &Headers, policy: DeflatePolicy) -> Option<DeflateParams> {
    let offer = parse_extensions(headers)
        .into_iter()
        .flatten()
        .find_map(|offer| DeflateParams::from_extension(&offer))?;
    Some(DeflateParams {
        // An offer's server_no_context_takeover binds us (§7.1.1.1).
        server_no_context_takeover: offer.server_no_context_takeover || !policy.context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover || !policy.context_takeover,
        // Accepted as asked (§7.1.2.1); we never name a smaller one.
        server_max_window_bits: offer.server_max_window_bits,
        // We inflate with the full window, so we never limit the client.
        client_max_window_bits: None,
    })
}
// ANCHOR_END: deflate_policy

/// What a client does with the server's answer to its offer of
/// `permessage-deflate; client_max_window_bits` (RFC 7692 §7.1): the
/// agreed parameters, `Ok(None)` when the server declined, or an error
/// when it named something we never offered or an answer RFC 7692 does
/// not allow.
pub fn accept_deflate_answer(headers: &Headers) -> Result<Option<DeflateParams>, String> {
    let answers = parse_extensions(headers);
    match answers.as_slice() {
        [] => Ok(None),
        [Ok(answer)] => match DeflateParams::from_extension(answer) {
            Some(params) if params.client_max_window_bits != Some(None) => Ok(Some(params)),
            _ => Err(format!(
                "the server answered an extension we did not offer: {}",
                describe(answer)
            )),
        },
        _ => Err(format!(
            "the server answered extensions we did not offer: {:?}",
            headers
                .get_all("Sec-WebSocket-Extensions")
                .collect::<Vec<_>>()
        )),
    }
}

fn describe(extension: &Extension) -> String {
    let mut text = extension.name.clone();
    for (name, value) in &extension.params {
        text.push_str("; ");
        text.push_str(name);
        if let Some(value) = value {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// The offer our client makes: permessage-deflate, and it may be told a
/// window to use.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> Headers {
        Headers(
            values
                .iter()
                .map(|v| ("Sec-WebSocket-Extensions".to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    const DEFAULT: DeflatePolicy = DeflatePolicy {
        context_takeover: false,
    };
    const KEEP: DeflatePolicy = DeflatePolicy {
        context_takeover: true,
    };

    #[test]
    fn reads_offers_as_browsers_send_them() {
        let parsed = parse_extensions(&headers(&[
            "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame",
            "foo; bar=\"baz\"",
        ]));
        assert_eq!(parsed.len(), 3);
        let first = parsed[0].as_ref().unwrap();
        assert_eq!(first.name, "permessage-deflate");
        assert_eq!(first.params, [("client_max_window_bits".to_owned(), None)]);
        assert_eq!(
            parsed[2].as_ref().unwrap().params,
            [("bar".to_owned(), Some("baz".to_owned()))]
        );
        // A quoted comma does not split an element.
        let parsed = parse_extensions(&headers(&["a; b=\"x,y\", c"]));
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].is_err(), "x,y is not a token once unquoted");
        for bad in ["; x", "a b", "a; =1", "a; b=", "a; b=\"1", "a; b=c d"] {
            assert!(parse_extensions(&headers(&[bad]))[0].is_err(), "{bad:?}");
        }
    }

    #[test]
    fn accepts_the_first_deflate_offer_it_can() {
        // Chromium's offer.
        let chromium = headers(&["permessage-deflate; client_max_window_bits"]);
        let agreed = negotiate_deflate(&chromium, DEFAULT).unwrap();
        assert_eq!(
            agreed.header_value(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(
            negotiate_deflate(&chromium, KEEP).unwrap().header_value(),
            "permessage-deflate"
        );
        // Malformed and unknown offers are passed over, not refused.
        let offers = headers(&[
            "permessage-deflate; server_max_window_bits=16, permessage-deflate; \
             server_max_window_bits=07, permessage-deflate; foo, permessage-deflate; \
             server_no_context_takeover; server_no_context_takeover, \
             permessage-deflate; server_max_window_bits=\"10\"",
        ]);
        assert_eq!(
            negotiate_deflate(&offers, KEEP).unwrap().header_value(),
            "permessage-deflate; server_max_window_bits=10"
        );
        // An offer's server_no_context_takeover binds us even when we keep.
        let offer = headers(&["permessage-deflate; server_no_context_takeover"]);
        assert_eq!(
            negotiate_deflate(&offer, KEEP).unwrap().header_value(),
            "permessage-deflate; server_no_context_takeover"
        );
        assert_eq!(negotiate_deflate(&headers(&["x-other"]), KEEP), None);
        assert_eq!(negotiate_deflate(&headers(&[]), KEEP), None);
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_no_context_takeover=1",
        ] {
            assert_eq!(negotiate_deflate(&headers(&[bad]), KEEP), None, "{bad}");
        }
    }

    #[test]
    fn a_client_refuses_answers_it_did_not_ask_for() {
        assert_eq!(accept_deflate_answer(&headers(&[])), Ok(None));
        let agreed =
            accept_deflate_answer(&headers(&["permessage-deflate; client_max_window_bits=10"]))
                .unwrap()
                .unwrap();
        assert_eq!(agreed.client_max_window_bits, Some(Some(10)));
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; foo",
            "permessage-deflate, permessage-deflate",
        ] {
            assert!(accept_deflate_answer(&headers(&[bad])).is_err(), "{bad}");
        }
    }
}
