//! Parsing an HTTP/1.x head into a request or a response.
//!
//! We parse only what a WebSocket handshake needs (RFC 7230 §3): a start line,
//! then `Name: value` lines. Strictness where it protects us (no whitespace
//! before the colon, no obsolete line folding: both are request-smuggling
//! tricks), leniency where it costs nothing (header names in any case).

use std::fmt;

/// An HTTP version from a start line, e.g. `HTTP/1.1` → `{ major: 1, minor: 1 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The digit before the dot.
    pub major: u8,
    /// The digit after the dot.
    pub minor: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// The header lines of a head, in the order they came, names as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

// ANCHOR: tokens
impl Headers {
    /// Every value of the header `name`; header names are case-insensitive
    /// (RFC 7230 §3.2).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when it appears exactly once. A header that must be
    /// single (`Host`, `Sec-WebSocket-Key`) sent twice is as bad as missing.
    pub fn get_one(&self, name: &str) -> Option<&str> {
        let mut all = self
            .0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = all.next()?;
        all.next().is_none().then_some(first)
    }

    /// Does any `name` header list `token` among its comma-separated values,
    /// compared case-insensitively?
    ///
    /// `Connection: Upgrade` is the textbook form, but Firefox sends
    /// `Connection: keep-alive, Upgrade` and the Autobahn suite sends
    /// `Upgrade: WebSocket`. Comparing the whole header to `"Upgrade"` (as a
    /// demo server in our source articles does) turns Firefox away.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|value| value.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}
// ANCHOR_END: tokens

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, … exactly as sent (methods are case-sensitive).
    pub method: String,
    /// The request target, e.g. `/ws` or `/ws?room=1`.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// The header lines.
    pub headers: Headers,
}

impl Request {
    /// The target without its query string: `/ws?x=1` → `/ws`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The protocol version.
    pub version: Version,
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase, e.g. `Switching Protocols` (informative only).
    pub reason: String,
    /// The header lines.
    pub headers: Headers,
}

/// A head that is not well-formed HTTP/1.x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The head does not end with an empty line (`\r\n\r\n`).
    Unterminated,
    /// The first line is not `METHOD SP TARGET SP HTTP/x.y`.
    MalformedRequestLine,
    /// The first line is not `HTTP/x.y SP CODE SP reason`.
    MalformedStatusLine,
    /// A header line has no colon, an empty name, or whitespace before the
    /// colon (RFC 7230 §3.2.4 says to reject that).
    MalformedHeader {
        /// 1-based line number within the head.
        line: usize,
    },
    /// A header line starts with whitespace: obsolete line folding, which
    /// RFC 7230 §3.2.4 lets a server reject with 400.
    ObsoleteLineFolding {
        /// 1-based line number within the head.
        line: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unterminated => write!(f, "head does not end with an empty line"),
            ParseError::MalformedRequestLine => {
                write!(f, "request line is not \"METHOD TARGET HTTP/x.y\"")
            }
            ParseError::MalformedStatusLine => {
                write!(f, "status line is not \"HTTP/x.y CODE reason\"")
            }
            ParseError::MalformedHeader { line } => write!(f, "malformed header on line {line}"),
            ParseError::ObsoleteLineFolding { line } => {
                write!(f, "folded header line {line} (obsolete, refused)")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Splits a head into its start line and its header lines.
fn split_head(head: &[u8]) -> Result<(&[u8], Headers), ParseError> {
    let body = head
        .strip_suffix(b"\r\n\r\n")
        .ok_or(ParseError::Unterminated)?;
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    // `split` always yields at least one item.
    let start = lines.next().unwrap_or_default();
    let mut headers = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err(ParseError::ObsoleteLineFolding { line: line_no });
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::MalformedHeader { line: line_no })?;
        let name = &line[..colon];
        let valid_name = !name.is_empty()
            && name
                .iter()
                .all(|b| b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(b));
        if !valid_name {
            return Err(ParseError::MalformedHeader { line: line_no });
        }
        // Values are meant to be ASCII; a stray non-UTF-8 byte in a header we
        // never look at should not cost the client its connection.
        let value = String::from_utf8_lossy(&line[colon + 1..]);
        headers.push((
            String::from_utf8_lossy(name).into_owned(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }
    Ok((start, Headers(headers)))
}

fn parse_version(s: &str) -> Option<Version> {
    let digits = s.strip_prefix("HTTP/")?.as_bytes();
    match digits {
        [major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => Some(Version {
            major: major - b'0',
            minor: minor - b'0',
        }),
        _ => None,
    }
}

/// Parses a request head (as returned by [`crate::read_head`]).
pub fn parse_request(head: &[u8]) -> Result<Request, ParseError> {
    let (start, headers) = split_head(head)?;
    let start = std::str::from_utf8(start).map_err(|_| ParseError::MalformedRequestLine)?;
    let mut parts = start.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::MalformedRequestLine);
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let target_ok = !target.is_empty() && target.bytes().all(|b| b.is_ascii_graphic());
    let version = parse_version(version).ok_or(ParseError::MalformedRequestLine)?;
    if !method_ok || !target_ok {
        return Err(ParseError::MalformedRequestLine);
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers,
    })
}

/// Parses a response head (the client side reads the server's answer).
pub fn parse_response(head: &[u8]) -> Result<Response, ParseError> {
    let (start, headers) = split_head(head)?;
    let start = std::str::from_utf8(start).map_err(|_| ParseError::MalformedStatusLine)?;
    let mut parts = start.splitn(3, ' ');
    let (Some(version), Some(code), reason) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ParseError::MalformedStatusLine);
    };
    let version = parse_version(version).ok_or(ParseError::MalformedStatusLine)?;
    let status = match code.as_bytes() {
        [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] => {
            code.parse().map_err(|_| ParseError::MalformedStatusLine)?
        }
        _ => return Err(ParseError::MalformedStatusLine),
    };
    Ok(Response {
        version,
        status,
        reason: reason.unwrap_or_default().to_owned(),
        headers,
    })
}

/// An HTTP token (RFC 9110 §5.6.2): one or more visible ASCII characters,
/// none of them a delimiter.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_browser_request() {
        let req = parse_request(
            b"GET /ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nConnection: keep-alive, Upgrade\r\n\
              upgrade:websocket\r\nSec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ== \r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path(), "/ws");
        assert_eq!(req.version, Version { major: 1, minor: 1 });
        assert_eq!(req.headers.get_one("HOST"), Some("127.0.0.1:9001"));
        assert_eq!(
            req.headers.get_one("sec-websocket-key"),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        assert!(req.headers.has_token("connection", "upgrade"));
        assert!(req.headers.has_token("Upgrade", "WebSocket"));
        assert!(!req.headers.has_token("Connection", "close"));
    }

    #[test]
    fn tokens_across_repeated_headers() {
        let req = parse_request(
            b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\n\r\n",
        )
        .unwrap();
        assert!(req.headers.has_token("Connection", "Upgrade"));
        assert_eq!(req.headers.get_one("Connection"), None, "two values");
    }

    #[test]
    fn token_is_not_a_substring_match() {
        let req = parse_request(b"GET / HTTP/1.1\r\nConnection: Upgraded\r\n\r\n").unwrap();
        assert!(!req.headers.has_token("Connection", "Upgrade"));
    }

    #[test]
    fn rejects_malformed_heads() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"GET /\r\n\r\n", ParseError::MalformedRequestLine),
            (
                b"GET / HTTP/1.1 extra\r\n\r\n",
                ParseError::MalformedRequestLine,
            ),
            (b"GET  / HTTP/1.1\r\n\r\n", ParseError::MalformedRequestLine),
            (b"get / HTTP/1.1\r\n\r\n", ParseError::MalformedRequestLine),
            (b"GET / HTTP/11\r\n\r\n", ParseError::MalformedRequestLine),
            (
                b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                ParseError::MalformedHeader { line: 2 },
            ),
            (
                b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                ParseError::MalformedHeader { line: 2 },
            ),
            (
                b"GET / HTTP/1.1\r\n: x\r\n\r\n",
                ParseError::MalformedHeader { line: 2 },
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
                ParseError::ObsoleteLineFolding { line: 3 },
            ),
            (b"GET / HTTP/1.1\r\n", ParseError::Unterminated),
        ];
        for (head, want) in cases {
            assert_eq!(
                parse_request(head).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn parses_responses() {
        let res = parse_response(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
            .unwrap();
        assert_eq!(res.status, 101);
        assert_eq!(res.reason, "Switching Protocols");
        assert!(parse_response(b"HTTP/1.1 99 Nope\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert_eq!(parse_response(b"HTTP/1.1 200\r\n\r\n").unwrap().reason, "");
    }
}
