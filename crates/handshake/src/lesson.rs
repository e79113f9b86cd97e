//! The lesson's server: serves `handshake.html` at `/`, and on `/ws` performs
//! the handshake by hand, prints the exact bytes both ways with notes, sends
//! the page the accept computation, and closes with a Close frame written
//! byte by byte.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::accept::{GUID, accept_steps};
use crate::head::Limits;
use crate::server_side::{
    AcceptError, IncomingRequest, Reject, complete_upgrade, http_response, read_request,
    write_and_close,
};
use support::accept_until;

/// The page this lesson serves at `/`.
pub const PAGE: &str = include_str!("../../../static/handshake.html");

/// How long we wait for the browser's answer to our Close frame before we
/// drop the connection anyway (RFC 6455 §7.1.1 leaves the time to us).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The close code and reason our hand-written Close frame carries.
pub const CLOSE_CODE: u16 = 1000;
/// See [`CLOSE_CODE`].
pub const CLOSE_REASON: &str = "handshake lesson complete";

/// Serves the lesson on `listener` until `shutdown` completes; then stops
/// accepting and ends every connection still open.
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    let mut connections = JoinSet::new();
    accept_until(
        &listener,
        shutdown,
        &mut connections,
        |stream, peer| async move {
            if let Err(e) = handle(stream, peer).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        },
    )
    .await;
    connections.shutdown().await;
}

async fn handle(mut stream: TcpStream, peer: SocketAddr) -> Result<(), AcceptError> {
    let incoming = match read_request(&mut stream, Limits::default()).await {
        Ok(incoming) => incoming,
        Err(AcceptError::Rejected(reject)) => {
            println!("{peer}: refused with {}: {reject}", reject.status());
            return Err(AcceptError::Rejected(reject));
        }
        Err(e) => return Err(e),
    };
    match incoming.request.path() {
        "/" if incoming.request.method == "GET" => {
            let page = http_response(200, &[], "text/html; charset=utf-8", PAGE.as_bytes());
            write_and_close(&mut stream, &page)
                .await
                .map_err(AcceptError::Io)
        }
        "/" => Err(crate::server_side::refuse(
            &mut stream,
            Reject::MethodNotGet {
                method: incoming.request.method.clone(),
            },
        )
        .await),
        "/ws" => {
            let mut report = format!("\n── {peer} → us: the opening handshake request\n");
            report.push_str(&annotate_request(&incoming.raw));
            let response = match complete_upgrade(&mut stream, &incoming.request).await {
                Ok(response) => response,
                Err(AcceptError::Rejected(reject)) => {
                    report.push_str(&format!(
                        "── us → {peer}: refused with {} {}: {reject}\n",
                        reject.status(),
                        crate::server_side::reason_phrase(reject.status())
                    ));
                    print!("{report}");
                    return Err(AcceptError::Rejected(reject));
                }
                Err(e) => return Err(e),
            };
            report.push_str(&format!("── us → {peer}: the response\n"));
            report.push_str(&annotate_response(response.as_bytes()));
            print!("{report}");
            finish(stream, peer, incoming)
                .await
                .map_err(AcceptError::Io)
        }
        _ => {
            let body = b"not found: this lesson serves / and /ws\n";
            let res = http_response(404, &[], "text/plain; charset=utf-8", body);
            write_and_close(&mut stream, &res)
                .await
                .map_err(AcceptError::Io)
        }
    }
}

/// After the 101: tell the page how the accept value was made, then close
/// the WebSocket properly, all with frames written by hand.
async fn finish(
    mut stream: TcpStream,
    peer: SocketAddr,
    incoming: IncomingRequest,
) -> std::io::Result<()> {
    // `validate` succeeded, so the key is there.
    let key = incoming
        .request
        .headers
        .get_one("Sec-WebSocket-Key")
        .unwrap_or_default();
    let steps = accept_steps(key);
    let message = serde_json::json!({
        "key": steps.key,
        "guid": GUID,
        "concatenated": steps.concatenated,
        "sha1_hex": steps.sha1_hex,
        "accept": steps.accept,
        "request": String::from_utf8_lossy(&incoming.raw),
        "response": crate::response_101(&steps.accept),
    })
    .to_string();
    stream.write_all(&text_frame(&message)).await?;
    let close = close_frame(CLOSE_CODE, CLOSE_REASON);
    stream.write_all(&close).await?;
    println!(
        "── us → {peer}: a text frame ({} bytes of JSON for the page), then Close, by hand:\n   {}\n   \
         (88 = FIN + opcode 8 Close; {:02x} = unmasked, {} bytes; {:02x} {:02x} = code {CLOSE_CODE}; then the reason)",
        message.len(),
        hex(&close),
        close[1],
        close[1],
        close[2],
        close[3],
    );
    match tokio::time::timeout(
        CLOSE_TIMEOUT,
        wait_for_close(&mut stream, incoming.leftover),
    )
    .await
    {
        Ok(Ok(Some((raw, code)))) => println!(
            "── {peer} → us: its Close answer (masked, as every client frame is):\n   {}\n   \
             → code {code}. Both sides have said goodbye; we close the TCP connection.",
            hex(&raw)
        ),
        Ok(Ok(None)) => println!("── {peer} closed TCP without answering our Close"),
        Ok(Err(e)) => println!("── {peer}: socket error while waiting for Close: {e}"),
        Err(_) => {
            println!("── {peer} did not answer our Close within {CLOSE_TIMEOUT:?}; dropping it")
        }
    }
    // RFC 6455 §7.1.1: the server should be the first to close TCP.
    stream.shutdown().await
}

// ANCHOR: text_frame
/// One unmasked text frame, FIN set, written by hand. Lesson 2 explains
/// every bit; the short version: byte 0 is FIN (0x80) + opcode 1 (text),
/// then the length in its shortest form. A server never masks (§5.1).
pub fn text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mut frame = vec![0x80 | 0x1];
    push_length(&mut frame, payload.len());
    frame.extend_from_slice(payload);
    frame
}

/// A Close frame (opcode 8) carrying a status code and a short reason.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    // A control frame's payload is at most 125 bytes: 2 for the code, the
    // rest for the reason (RFC 6455 §5.5).
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    let mut frame = vec![0x80 | 0x8];
    push_length(&mut frame, 2 + reason.len());
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason);
    frame
}

fn push_length(frame: &mut Vec<u8>, len: usize) {
    match len {
        0..=125 => frame.push(len as u8),
        126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}
// ANCHOR_END: text_frame

/// Reads client frames, skipping any that are not Close, until a Close
/// arrives; returns its raw bytes and its code (1005 when it has none).
/// A deliberately small reader: lesson 2 builds the real one.
async fn wait_for_close<S>(
    stream: &mut S,
    mut buf: BytesMut,
) -> std::io::Result<Option<(Vec<u8>, u16)>>
where
    S: AsyncRead + Unpin,
{
    /// Frames we skip while waiting are bounded: this is a goodbye, not a chat.
    const MAX_SKIPPED_FRAME: u64 = 64 * 1024;
    loop {
        if let Some((header_len, payload_len, opcode)) = frame_extent(&buf) {
            if payload_len > MAX_SKIPPED_FRAME {
                return Err(std::io::Error::other("client sent an oversized frame"));
            }
            let total = header_len + payload_len as usize;
            if buf.len() >= total {
                if opcode == 0x8 {
                    let raw = buf[..total].to_vec();
                    let masked = buf[1] & 0x80 != 0;
                    let key = if masked {
                        &buf[header_len - 4..header_len]
                    } else {
                        &[0; 4][..]
                    };
                    let payload: Vec<u8> = buf[header_len..total]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ key[i % 4])
                        .collect();
                    let code = match payload.as_slice() {
                        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
                        _ => 1005,
                    };
                    return Ok(Some((raw, code)));
                }
                buf.advance(total);
                continue;
            }
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// (header length, payload length, opcode) of the frame at the start of
/// `buf`, once enough of its header is there.
fn frame_extent(buf: &[u8]) -> Option<(usize, u64, u8)> {
    let opcode = buf.first()? & 0x0F;
    let second = *buf.get(1)?;
    let mask_len = if second & 0x80 != 0 { 4 } else { 0 };
    let (len_len, payload_len) = match second & 0x7F {
        126 => (
            2,
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        ),
        127 => (8, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    Some((2 + len_len + mask_len, payload_len, opcode))
}

/// Bytes as spaced hex, `88 02 03 e8`.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ANCHOR: annotate
/// The request head, line by line as sent (`␍␊` marks each CRLF), each with
/// a note on what it does in the handshake.
pub fn annotate_request(raw: &[u8]) -> String {
    let upgrade = crate::parse_request(raw).is_ok_and(|r| r.headers.get_all("Upgrade").count() > 0);
    if !upgrade {
        // Lesson 7's wiretap shows every request. One that does not ask to
        // upgrade is plain HTTP, and the handshake's rules would mislead.
        return annotate(raw, |_, name| match name {
            None => "request line: no Upgrade header, so an ordinary request".into(),
            Some("host") => "required by HTTP/1.1; names the server".into(),
            Some(_) => String::new(),
        });
    }
    annotate(raw, |_, name| match name {
        None => "request line: a handshake must be GET over HTTP/1.1 or later (§4.1)".into(),
        Some("host") => "required by HTTP/1.1; names the server".into(),
        Some("upgrade") => "must list \"websocket\": the protocol to switch to".into(),
        Some("connection") => "must list the token \"upgrade\": this hop should switch".into(),
        Some("sec-websocket-version") => "must be 13, the version RFC 6455 defines".into(),
        Some("sec-websocket-key") => "16 random bytes, base64; the server must transform it".into(),
        Some("origin") => "the page's origin, set by the browser; servers may check it".into(),
        Some("sec-websocket-extensions") => {
            "extensions offered; we accept none, so answer none".into()
        }
        Some("sec-websocket-protocol") => "subprotocols offered; we pick none".into(),
        Some(_) => "ordinary HTTP, not part of the handshake".into(),
    })
}

/// The response head, annotated like [`annotate_request`]. Any response:
/// the notes on the upgrade headers are only given for a 101.
pub fn annotate_response(raw: &[u8]) -> String {
    let switching = raw.split(|&b| b == b' ').nth(1) == Some(b"101");
    annotate(raw, |_, name| match (name, switching) {
        (None, true) => "101: the server agrees to switch protocols".into(),
        (None, false) => "not 101: no switch, the connection stays HTTP".into(),
        (Some("upgrade"), true) => "confirms the new protocol".into(),
        (Some("connection"), true) => "confirms the switch on this hop".into(),
        (Some("sec-websocket-accept"), _) => {
            "base64(SHA-1(key + GUID)): proof we read the key".into()
        }
        (Some(_), _) => String::new(),
    })
}

fn annotate(raw: &[u8], note: impl Fn(&str, Option<&str>) -> String) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let lines: Vec<&str> = text.split("\r\n").collect();
    // The head ends "\r\n\r\n": the last two items of the split are empty.
    let head_lines = &lines[..lines.len().saturating_sub(2)];
    for (i, line) in head_lines.iter().enumerate() {
        let name = (i > 0).then(|| {
            line.split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        // Never print cookies or credentials, whichever way they travel.
        let shown = match name.as_deref() {
            Some("cookie" | "set-cookie" | "authorization" | "proxy-authorization") => {
                format!(
                    "{}: ({} bytes, not shown)",
                    &line[..line.find(':').unwrap_or(0)],
                    line.len()
                )
            }
            _ => (*line).to_owned(),
        };
        let shown = format!("{shown}␍␊");
        match note(line, name.as_deref()) {
            note if note.is_empty() => out.push_str(&format!("   {shown}\n")),
            note => out.push_str(&format!("   {shown:<58} ← {note}\n")),
        }
    }
    out.push_str(&format!(
        "   {:<58} ← {}\n",
        "␍␊", "empty line: end of the head"
    ));
    out
}
// ANCHOR_END: annotate

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_frames() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
        assert_eq!(
            text_frame("Hello"),
            [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']
        );
        assert_eq!(close_frame(1000, ""), [0x88, 0x02, 0x03, 0xe8]);
        let long = "x".repeat(300);
        assert_eq!(&text_frame(&long)[..4], &[0x81, 126, 0x01, 0x2c]);
        let huge = "x".repeat(70_000);
        assert_eq!(
            &text_frame(&huge)[..10],
            &[0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]
        );
        // A reason that would overflow a control frame is cut to fit.
        assert_eq!(close_frame(1000, &long).len(), 2 + 125);
    }

    #[test]
    fn frame_extent_reads_all_length_forms() {
        assert_eq!(frame_extent(&[0x88]), None);
        assert_eq!(frame_extent(&[0x88, 0x82]), Some((6, 2, 8)));
        assert_eq!(frame_extent(&[0x81, 126, 0x01]), None);
        assert_eq!(frame_extent(&[0x81, 126, 0x01, 0x00]), Some((4, 256, 1)));
        assert_eq!(
            frame_extent(&[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0]),
            Some((14, 65536, 2))
        );
    }

    #[tokio::test]
    async fn waits_for_a_masked_close_after_other_frames() {
        // A masked text frame "Hello" (RFC 6455 §5.7), then a masked Close 1000.
        let mut input = vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let key = [1, 2, 3, 4];
        input.extend_from_slice(&[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ key[0], 0xe8 ^ key[1]]);
        let (first, rest) = input.split_at(5);
        let (raw, code) = wait_for_close(&mut &rest[..], BytesMut::from(first))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(code, 1000);
        assert_eq!(raw.len(), 8);
    }

    #[test]
    fn annotations_cover_every_line_and_hide_cookies() {
        let raw = b"GET /ws HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\nUpgrade: websocket\r\n\r\n";
        let text = annotate_request(raw);
        assert_eq!(text.lines().count(), 5);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("GET /ws HTTP/1.1␍␊"), "{text}");
        assert!(text.contains("the protocol to switch to"), "{text}");
        let text = annotate_response(b"HTTP/1.1 200 OK\r\nSet-Cookie: id=secret\r\n\r\n");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_refusal_is_not_annotated_as_a_switch() {
        let ok = annotate_response(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(ok.contains("the server agrees to switch"), "{ok}");
        let plain =
            annotate_request(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
        assert!(plain.contains("an ordinary request"), "{plain}");
        assert!(!plain.contains("must"), "{plain}");
        let refused =
            annotate_response(b"HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\n\r\n");
        assert!(refused.contains("no switch"), "{refused}");
        assert!(!refused.contains("confirms"), "{refused}");
    }
}
