//! The client side of the opening handshake (RFC 6455 §4.1): send a request
//! with a fresh random key, then check the server's 101 and its accept value.

use std::fmt;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::accept::{accept_key, generate_key};
use crate::extensions::{CLIENT_OFFER, DeflateParams, accept_deflate_answer};
use crate::head::{Limits, ReadHeadError, read_head};
use crate::parse::{ParseError, Response, parse_response};

// ANCHOR: client_request
/// The opening handshake request for `ws://{host}{path}` with the given key.
/// `host` is what goes in the `Host` header, port included when it is not 80.
pub fn client_request(host: &str, path: &str, key: &str) -> String {
    client_request_offering(host, path, key, None)
}
// ANCHOR_END: client_request

/// The same request, offering extensions (a `Sec-WebSocket-Extensions`
/// value) when `extensions` is given.
pub fn client_request_offering(
    host: &str,
    path: &str,
    key: &str,
    extensions: Option<&str>,
) -> String {
    let offer = extensions
        .map(|value| format!("Sec-WebSocket-Extensions: {value}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: 13\r\n\
         {offer}\
         \r\n"
    )
}

/// Why the server's answer does not complete the handshake. RFC 6455 §4.1
/// says the client MUST fail the connection in each of these cases.
#[derive(Debug)]
pub enum ClientError {
    /// The socket failed.
    Io(io::Error),
    /// No complete response head arrived.
    Read(ReadHeadError),
    /// The response is not valid HTTP.
    Malformed(ParseError),
    /// The status is not 101: the server refused or does not speak WebSocket.
    NotSwitching {
        /// The status received.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// `Upgrade` does not list `websocket`.
    UpgradeNotWebSocket,
    /// `Connection` does not list `upgrade`.
    ConnectionLacksUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match our key.
    WrongAccept {
        /// base64(SHA-1(our key + GUID)).
        expected: String,
        /// What the server sent, if anything.
        got: Option<String>,
    },
    /// The server picked an extension or subprotocol we did not offer.
    UnrequestedNegotiation {
        /// The header that should not be there.
        header: &'static str,
    },
    /// The server answered our permessage-deflate offer with something
    /// RFC 7692 does not allow, or with another extension.
    BadExtensionAnswer(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "socket error: {e}"),
            ClientError::Read(e) => write!(f, "reading the response: {e}"),
            ClientError::Malformed(e) => write!(f, "malformed response: {e}"),
            ClientError::NotSwitching { status, reason } => {
                write!(f, "server answered {status} {reason}, not 101")
            }
            ClientError::UpgradeNotWebSocket => write!(f, "Upgrade header lacks websocket"),
            ClientError::ConnectionLacksUpgrade => write!(f, "Connection header lacks upgrade"),
            ClientError::WrongAccept { expected, got } => write!(
                f,
                "Sec-WebSocket-Accept is {}, expected {expected}",
                got.as_deref().unwrap_or("missing")
            ),
            ClientError::UnrequestedNegotiation { header } => {
                write!(f, "server sent {header} that we did not ask for")
            }
            ClientError::BadExtensionAnswer(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ClientError {}

/// A completed client handshake.
#[derive(Debug)]
pub struct ClientHandshake {
    /// The request we sent.
    pub request: String,
    /// The response head exactly as received.
    pub raw_response: Bytes,
    /// The parsed response.
    pub response: Response,
    /// Bytes after the response head: frames the server sent right away.
    pub leftover: BytesMut,
    /// permessage-deflate, if we offered it and the server agreed.
    pub deflate: Option<DeflateParams>,
}

// ANCHOR: check_response
/// Checks a response head against the key we sent (RFC 6455 §4.1, the
/// client's duties after sending its handshake).
pub fn check_response(response: &Response, key: &str) -> Result<(), ClientError> {
    check_response_offered(response, key, false).map(|_| ())
}

/// [`check_response`], for a request that offered permessage-deflate
/// ([`CLIENT_OFFER`]) when `offered_deflate`: the server's answer to it
/// is checked and returned.
pub fn check_response_offered(
    response: &Response,
    key: &str,
    offered_deflate: bool,
) -> Result<Option<DeflateParams>, ClientError> {
    if response.status != 101 {
        return Err(ClientError::NotSwitching {
            status: response.status,
            reason: response.reason.clone(),
        });
    }
    if !response.headers.has_token("Upgrade", "websocket") {
        return Err(ClientError::UpgradeNotWebSocket);
    }
    if !response.headers.has_token("Connection", "upgrade") {
        return Err(ClientError::ConnectionLacksUpgrade);
    }
    let expected = accept_key(key);
    let got = response.headers.get_one("Sec-WebSocket-Accept");
    if got != Some(expected.as_str()) {
        return Err(ClientError::WrongAccept {
            expected,
            got: got.map(str::to_owned),
        });
    }
    if response
        .headers
        .get_all("Sec-WebSocket-Protocol")
        .next()
        .is_some()
    {
        return Err(ClientError::UnrequestedNegotiation {
            header: "Sec-WebSocket-Protocol",
        });
    }
    let answered = response
        .headers
        .get_all("Sec-WebSocket-Extensions")
        .next()
        .is_some();
    match (offered_deflate, answered) {
        (_, false) => Ok(None),
        (false, true) => Err(ClientError::UnrequestedNegotiation {
            header: "Sec-WebSocket-Extensions",
        }),
        (true, true) => {
            accept_deflate_answer(&response.headers).map_err(ClientError::BadExtensionAnswer)
        }
    }
}
// ANCHOR_END: check_response

/// Performs the client handshake for `ws://{host}{path}` on a connected
/// stream: sends the request with a fresh key, reads and checks the answer.
pub async fn client_handshake<S>(
    stream: &mut S,
    host: &str,
    path: &str,
) -> Result<ClientHandshake, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_handshake_offering(stream, host, path, false).await
}

/// [`client_handshake`], offering permessage-deflate ([`CLIENT_OFFER`])
/// when `deflate`; what the server agreed to is in
/// [`ClientHandshake::deflate`].
pub async fn client_handshake_offering<S>(
    stream: &mut S,
    host: &str,
    path: &str,
    deflate: bool,
) -> Result<ClientHandshake, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    let request = client_request_offering(host, path, &key, deflate.then_some(CLIENT_OFFER));
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(ClientError::Io)?;
    let (raw_response, leftover) = read_head(stream, Limits::default())
        .await
        .map_err(ClientError::Read)?;
    let response = parse_response(&raw_response).map_err(ClientError::Malformed)?;
    let deflate = check_response_offered(&response, &key, deflate)?;
    Ok(ClientHandshake {
        request,
        raw_response,
        response,
        leftover,
        deflate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(head: &str) -> Response {
        parse_response(head.as_bytes()).unwrap()
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n\
        Connection: upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    #[test]
    fn accepts_a_good_answer() {
        check_response(&response(OK), KEY).unwrap();
    }

    #[test]
    fn refuses_bad_answers() {
        let cases = [
            (
                OK.replace("101 Switching Protocols", "200 OK"),
                "NotSwitching",
            ),
            (
                OK.replace("Upgrade: WebSocket", "Upgrade: h2c"),
                "UpgradeNotWebSocket",
            ),
            (
                OK.replace("Connection: upgrade", "Connection: close"),
                "ConnectionLacksUpgrade",
            ),
            (OK.replace("xOo=", "xOA="), "WrongAccept"),
            (
                OK.replace("Sec-WebSocket-Accept", "X-Accept"),
                "WrongAccept",
            ),
            (
                OK.replace(
                    "\r\n\r\n",
                    "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                ),
                "UnrequestedNegotiation",
            ),
        ];
        for (head, want) in cases {
            let err = check_response(&response(&head), KEY).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{head}: {err:?}");
        }
    }

    #[test]
    fn request_has_every_required_field() {
        let text = client_request("127.0.0.1:9001", "/ws", KEY);
        let req = crate::parse_request(text.as_bytes()).unwrap();
        assert_eq!(
            crate::validate(&req).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
