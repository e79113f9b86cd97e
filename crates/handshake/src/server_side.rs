//! The server side of the opening handshake (RFC 6455 §4.2): check the
//! client's request, then answer 101, or refuse with the status that names
//! what is wrong.

use std::fmt;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::accept::{accept_key, is_valid_key};
use crate::extensions::{DeflateParams, DeflatePolicy, negotiate_deflate};
use crate::head::{Limits, ReadHeadError, read_head};
use crate::parse::{ParseError, Request, Version, is_token, parse_request};

// ANCHOR: reject
/// Why a handshake request is refused. Each variant is one rule of RFC 6455
/// §4.2.1 (or of HTTP underneath it) and earns one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The head is not valid HTTP/1.x: 400.
    Malformed(ParseError),
    /// The head is over [`crate::MAX_HEAD_BYTES`]: 431.
    HeadTooLarge,
    /// The method is not GET (§4.1: "The method of the request MUST be GET"): 405.
    MethodNotGet {
        /// The method that was sent.
        method: String,
    },
    /// HTTP/1.0 (§4.1: "HTTP version MUST be at least 1.1"): 400.
    HttpVersionTooOld(Version),
    /// HTTP/2 or later spoken as text: not something we speak: 505.
    HttpVersionNotSupported(Version),
    /// No `Host` header, or more than one (required by HTTP/1.1): 400.
    MissingHost,
    /// A plain GET with no `Upgrade` header: a browser tab opened the
    /// WebSocket URL. 426 Upgrade Required, with a sentence for the human.
    NotAnUpgrade,
    /// `Upgrade` is there but does not list `websocket`: 400.
    UpgradeNotWebSocket,
    /// `Connection` does not list the `upgrade` token: 400.
    ConnectionLacksUpgrade,
    /// `Sec-WebSocket-Version` is missing or not 13: 426, and we say which
    /// version we speak (§4.4).
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing or sent twice: 400.
    MissingKey,
    /// `Sec-WebSocket-Key` is not the base64 of exactly 16 bytes: 400.
    InvalidKey,
    /// `Origin` is not on the server's allow-list (§4.2.2 step 4 and §10.2): 403.
    OriginNotAllowed,
    /// `Sec-WebSocket-Protocol` is not a list of distinct tokens (§4.1): 400.
    BadSubprotocols,
}
// ANCHOR_END: reject

impl Reject {
    /// The HTTP status this refusal earns.
    pub fn status(&self) -> u16 {
        match self {
            Reject::Malformed(_)
            | Reject::HttpVersionTooOld(_)
            | Reject::MissingHost
            | Reject::UpgradeNotWebSocket
            | Reject::ConnectionLacksUpgrade
            | Reject::MissingKey
            | Reject::InvalidKey
            | Reject::BadSubprotocols => 400,
            Reject::OriginNotAllowed => 403,
            Reject::MethodNotGet { .. } => 405,
            Reject::NotAnUpgrade | Reject::UnsupportedVersion => 426,
            Reject::HeadTooLarge => 431,
            Reject::HttpVersionNotSupported(_) => 505,
        }
    }

    /// Headers the response must carry besides the usual ones.
    fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Reject::MethodNotGet { .. } => &[("Allow", "GET")],
            // RFC 7231 §6.5.15: a 426 MUST say which protocol to upgrade to.
            Reject::NotAnUpgrade => &[("Upgrade", "websocket")],
            // RFC 6455 §4.4: tell the client the versions we do speak.
            Reject::UnsupportedVersion => {
                &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
            }
            _ => &[],
        }
    }

    /// The complete HTTP response: status line, headers, a one-line reason
    /// as the body. The connection is to be closed after it.
    pub fn response(&self) -> Vec<u8> {
        http_response(
            self.status(),
            self.extra_headers(),
            "text/plain; charset=utf-8",
            format!("{self}\n").as_bytes(),
        )
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Malformed(e) => write!(f, "malformed request: {e}"),
            Reject::HeadTooLarge => write!(
                f,
                "request head is larger than {} bytes",
                crate::MAX_HEAD_BYTES
            ),
            Reject::MethodNotGet { method } => {
                write!(f, "a WebSocket handshake must use GET, not {method}")
            }
            Reject::HttpVersionTooOld(v) => {
                write!(f, "a WebSocket handshake needs HTTP/1.1 or later, not {v}")
            }
            Reject::HttpVersionNotSupported(v) => write!(f, "{v} is not supported here"),
            Reject::MissingHost => write!(f, "exactly one Host header is required"),
            Reject::NotAnUpgrade => write!(
                f,
                "this address speaks WebSocket: open it with a WebSocket client \
                 (in a page: new WebSocket(\"ws://…\")), not as a web page"
            ),
            Reject::UpgradeNotWebSocket => {
                write!(f, "the Upgrade header does not ask for websocket")
            }
            Reject::ConnectionLacksUpgrade => {
                write!(f, "the Connection header lacks the \"upgrade\" token")
            }
            Reject::UnsupportedVersion => write!(f, "only Sec-WebSocket-Version 13 is supported"),
            Reject::MissingKey => write!(f, "exactly one Sec-WebSocket-Key header is required"),
            Reject::InvalidKey => write!(
                f,
                "Sec-WebSocket-Key must be the base64 encoding of exactly 16 bytes"
            ),
            Reject::OriginNotAllowed => write!(f, "this Origin is not allowed"),
            Reject::BadSubprotocols => write!(
                f,
                "Sec-WebSocket-Protocol must be a comma-separated list of distinct tokens"
            ),
        }
    }
}

impl std::error::Error for Reject {}

/// The reason phrase for the statuses this project sends.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A complete `Connection: close` HTTP/1.1 response with a body.
pub fn http_response(
    status: u16,
    extra_headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

// ANCHOR: validate
/// Checks a request against RFC 6455 §4.2.1 and, when it is a valid opening
/// handshake, returns the `Sec-WebSocket-Accept` value to answer with.
///
/// The order of the checks decides which error a request with several
/// faults gets: HTTP basics first, then "is this an upgrade at all?", then
/// the WebSocket fields.
pub fn validate(req: &Request) -> Result<String, Reject> {
    if req.method != "GET" {
        return Err(Reject::MethodNotGet {
            method: req.method.clone(),
        });
    }
    if req.version.major != 1 {
        return Err(Reject::HttpVersionNotSupported(req.version));
    }
    if req.version.minor < 1 {
        return Err(Reject::HttpVersionTooOld(req.version));
    }
    if req.headers.get_one("Host").is_none() {
        return Err(Reject::MissingHost);
    }
    if req.headers.get_all("Upgrade").next().is_none() {
        return Err(Reject::NotAnUpgrade);
    }
    if !req.headers.has_token("Upgrade", "websocket") {
        return Err(Reject::UpgradeNotWebSocket);
    }
    if !req.headers.has_token("Connection", "upgrade") {
        return Err(Reject::ConnectionLacksUpgrade);
    }
    if req.headers.get_one("Sec-WebSocket-Version") != Some("13") {
        return Err(Reject::UnsupportedVersion);
    }
    let key = req
        .headers
        .get_one("Sec-WebSocket-Key")
        .ok_or(Reject::MissingKey)?;
    if !is_valid_key(key) {
        return Err(Reject::InvalidKey);
    }
    Ok(accept_key(key))
}
// ANCHOR_END: validate

/// Checks the `Origin` header against an allow-list of exact origins
/// (`scheme://host[:port]`). A request without `Origin` comes from a
/// non-browser client, which could send any Origin it liked anyway, so it
/// passes: the check protects browser users from pages on other sites.
pub fn check_origin(req: &Request, allowed: &[&str]) -> Result<(), Reject> {
    match req.headers.get_one("Origin") {
        None => Ok(()),
        Some(origin) if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) => Ok(()),
        Some(_) => Err(Reject::OriginNotAllowed),
    }
}

// ANCHOR: response_101
/// The 101 response that completes the handshake (RFC 6455 §4.2.2 step 5).
/// After its blank line the TCP connection carries WebSocket frames only.
pub fn response_101(accept: &str) -> String {
    response_101_with(accept, &[])
}
// ANCHOR_END: response_101

// ANCHOR: subprotocol
/// The subprotocol to speak: the first one the client offers, in its order
/// of preference, that is in `supported` (RFC 6455 §4.2.2: step 4's
/// /subprotocol/, named in the 101 by step 5.5). `None` when the client
/// offers none we speak, or offers none at all: we then answer without the
/// header, and the client decides whether to go on.
pub fn choose_subprotocol(
    req: &Request,
    supported: &[&'static str],
) -> Result<Option<&'static str>, Reject> {
    let mut offered: Vec<&str> = Vec::new();
    for value in req.headers.get_all("Sec-WebSocket-Protocol") {
        for element in value.split(',').map(str::trim) {
            // §4.1: each element is a non-empty token, and they are unique.
            if !is_token(element) || offered.contains(&element) {
                return Err(Reject::BadSubprotocols);
            }
            offered.push(element);
        }
    }
    Ok(offered
        .iter()
        .find_map(|name| supported.iter().find(|ours| *ours == name).copied()))
}

/// The 101 with more headers: the subprotocol chosen
/// (`Sec-WebSocket-Protocol`), the extensions agreed
/// (`Sec-WebSocket-Extensions`).
pub fn response_101_with(accept: &str, headers: &[(&str, &str)]) -> String {
    let more: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\
         {more}\
         \r\n"
    )
}
// ANCHOR_END: subprotocol

/// Why a connection did not become a WebSocket.
#[derive(Debug)]
pub enum AcceptError {
    /// No complete head arrived (timeout, closed, too large).
    Read(ReadHeadError),
    /// The request was refused; the refusal has been sent.
    Rejected(Reject),
    /// Writing the answer failed.
    Io(io::Error),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::Read(e) => write!(f, "{e}"),
            AcceptError::Rejected(r) => write!(f, "refused with {}: {r}", r.status()),
            AcceptError::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for AcceptError {}

/// A request head as read off the wire.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The head exactly as received, blank line included.
    pub raw: Bytes,
    /// The parsed head.
    pub request: Request,
    /// Bytes that arrived after the head: the client's first frames, if any.
    pub leftover: BytesMut,
}

/// Reads and parses a request head. A head that is too large gets 431 and a
/// malformed one 400 before the error is returned; a head that never
/// completes gets no answer (there is nobody to answer).
pub async fn read_request<S>(stream: &mut S, limits: Limits) -> Result<IncomingRequest, AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (raw, leftover) = match read_head(stream, limits).await {
        Ok(head) => head,
        Err(ReadHeadError::TooLarge { .. }) => {
            return Err(refuse(stream, Reject::HeadTooLarge).await);
        }
        Err(e) => return Err(AcceptError::Read(e)),
    };
    match parse_request(&raw) {
        Ok(request) => Ok(IncomingRequest {
            raw,
            request,
            leftover,
        }),
        Err(e) => Err(refuse(stream, Reject::Malformed(e)).await),
    }
}

/// Sends a refusal, closes our side, and returns the error to report.
pub async fn refuse<S>(stream: &mut S, reject: Reject) -> AcceptError
where
    S: AsyncWrite + Unpin,
{
    if let Err(e) = write_and_close(stream, &reject.response()).await {
        return AcceptError::Io(e);
    }
    AcceptError::Rejected(reject)
}

/// Writes a whole response and shuts down our sending side, so the client
/// sees the end of the response even if it ignores `Content-Length`.
pub async fn write_and_close<S>(stream: &mut S, bytes: &[u8]) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    stream.write_all(bytes).await?;
    stream.shutdown().await
}

/// Validates a request already read and answers it: 101 on success (the
/// returned string is the exact response sent), the refusal otherwise.
pub async fn complete_upgrade<S>(stream: &mut S, request: &Request) -> Result<String, AcceptError>
where
    S: AsyncWrite + Unpin,
{
    complete_upgrade_negotiating(stream, request, None)
        .await
        .map(|(response, _)| response)
}

/// [`complete_upgrade`], accepting permessage-deflate under `deflate`'s
/// policy if the client offers it ([`negotiate_deflate`]): returns the
/// 101 sent and what was agreed.
pub async fn complete_upgrade_negotiating<S>(
    stream: &mut S,
    request: &Request,
    deflate: Option<DeflatePolicy>,
) -> Result<(String, Option<DeflateParams>), AcceptError>
where
    S: AsyncWrite + Unpin,
{
    match validate(request) {
        Ok(accept) => {
            let agreed = deflate.and_then(|policy| negotiate_deflate(&request.headers, policy));
            let value = agreed.map(|params| params.header_value());
            let extensions = value
                .as_deref()
                .map(|value| ("Sec-WebSocket-Extensions", value));
            let response = response_101_with(&accept, extensions.as_slice());
            stream
                .write_all(response.as_bytes())
                .await
                .map_err(AcceptError::Io)?;
            Ok((response, agreed))
        }
        Err(reject) => Err(refuse(stream, reject).await),
    }
}

/// A connection that completed the opening handshake.
#[derive(Debug)]
pub struct Upgraded {
    /// The request, as received and parsed.
    pub request: IncomingRequest,
    /// The 101 response we sent.
    pub response: String,
}

/// The whole server handshake on one stream: read the request, validate it,
/// answer. On success the stream speaks WebSocket and `request.leftover`
/// holds any frame bytes the client sent early.
pub async fn accept<S>(stream: &mut S, limits: Limits) -> Result<Upgraded, AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = read_request(stream, limits).await?;
    let response = complete_upgrade(stream, &request.request).await?;
    Ok(Upgraded { request, response })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(head: &str) -> Request {
        parse_request(head.as_bytes()).unwrap()
    }

    const GOOD: &str = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    #[test]
    fn accepts_the_rfc_example() {
        assert_eq!(
            validate(&req(GOOD)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn response_101_is_exact() {
        assert_eq!(
            response_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn the_first_offered_subprotocol_we_speak_is_chosen() {
        let offering = |lines: &[&str]| {
            let headers: String = lines
                .iter()
                .map(|l| format!("Sec-WebSocket-Protocol: {l}\r\n"))
                .collect();
            req(&GOOD.replace("Host: h\r\n", &format!("Host: h\r\n{headers}")))
        };
        let ours = ["chat.v1", "chat.v2"];
        assert_eq!(choose_subprotocol(&offering(&[]), &ours), Ok(None));
        assert_eq!(
            choose_subprotocol(&offering(&["chat.v1"]), &ours),
            Ok(Some("chat.v1"))
        );
        // The client's order of preference, not ours; across header lines.
        assert_eq!(
            choose_subprotocol(&offering(&["mqtt, chat.v2", "chat.v1"]), &ours),
            Ok(Some("chat.v2"))
        );
        // Offers we do not speak: none chosen, and no refusal.
        assert_eq!(choose_subprotocol(&offering(&["chat.v9"]), &ours), Ok(None));
        // Names are compared exactly.
        assert_eq!(choose_subprotocol(&offering(&["CHAT.V1"]), &ours), Ok(None));
        for bad in [
            "",
            "chat.v1,",
            "chat.v1, chat.v1",
            "chat v1",
            "chat/1",
            "\"chat.v1\"",
        ] {
            assert_eq!(
                choose_subprotocol(&offering(&[bad]), &ours),
                Err(Reject::BadSubprotocols),
                "{bad:?}"
            );
        }
        assert_eq!(Reject::BadSubprotocols.status(), 400);
        assert_eq!(
            response_101_with("x", &[("Sec-WebSocket-Protocol", "chat.v1")]),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: chat.v1\r\n\r\n"
        );
    }

    #[test]
    fn refusal_response_shape() {
        let text = String::from_utf8(Reject::UnsupportedVersion.response()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert_eq!(body.lines().count(), 1, "one-line reason");
    }

    #[test]
    fn origin_allow_list() {
        let with =
            |o: &str| req(&GOOD.replace("Host: h\r\n", &format!("Host: h\r\nOrigin: {o}\r\n")));
        let allowed = ["http://127.0.0.1:9001"];
        assert_eq!(
            check_origin(&with("http://127.0.0.1:9001"), &allowed),
            Ok(())
        );
        assert_eq!(
            check_origin(&with("http://evil.example"), &allowed),
            Err(Reject::OriginNotAllowed)
        );
        assert_eq!(check_origin(&req(GOOD), &allowed), Ok(()));
        assert_eq!(Reject::OriginNotAllowed.status(), 403);
    }
}
