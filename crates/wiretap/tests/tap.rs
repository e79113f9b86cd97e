//! The tap without a network: bytes in, reports out. Keep-alive HTTP,
//! bodies and event streams, the upgrade and its refusal, frames of every
//! size in bounded memory, what cannot be decoded, and any split of the
//! stream into reads.

mod common;

use bytes::BytesMut;
use common::{KEY, masked, scripted_session};
use frame::{CloseCode, CloseFrame, Compression, Compressor, Frame, FrameError, OpCode, encode};
use handshake::ParseError;
use proptest::prelude::*;
use wiretap::{BodyFraming, CloseStep, ConnTap, Direction, Options, Seen, Undecodable, What};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
const SWITCHED: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A server frame's bytes (unmasked, RFC 6455 §5.1).
fn unmasked(frame: Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(&frame, &mut buf);
    buf.to_vec()
}

/// Feeds `steps` in order, each whole, and returns the reports.
fn run(options: Options, steps: &[(Direction, &[u8])]) -> Vec<Seen> {
    let mut tap = ConnTap::new(options);
    let mut seen = Vec::new();
    for (dir, bytes) in steps {
        tap.feed(*dir, bytes, &mut seen);
    }
    seen
}

/// A tap that has seen the handshake: both directions speak frames.
fn upgraded(options: Options) -> ConnTap {
    let mut tap = ConnTap::new(options);
    let mut seen = Vec::new();
    tap.feed(C2S, UPGRADE.as_bytes(), &mut seen);
    tap.feed(S2C, SWITCHED.as_bytes(), &mut seen);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    tap
}

fn frame_header(seen: &Seen) -> frame::Header {
    match &seen.what {
        What::Frame { header, .. } => *header,
        other => panic!("not a frame: {other:?}"),
    }
}

fn undecodable(seen: &Seen) -> &Undecodable {
    match &seen.what {
        What::Undecodable { why, .. } => why,
        other => panic!("not undecodable: {other:?}"),
    }
}

#[test]
fn keep_alive_requests_bodies_and_heads_without_bodies() {
    let page = "<html>hello</html>";
    let seen = run(
        Options::default(),
        &[
            (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            (
                S2C,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            ),
            (C2S, b"POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
            (S2C, b"HTTP/1.1 204 No Content\r\n\r\n"),
            (C2S, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"),
            // A HEAD response announces a length but has no body (RFC 9112 §6.3).
            (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n"),
            (C2S, b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n"),
            (S2C, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 18\r\n\r\n"),
        ],
    );
    let kinds: Vec<String> = seen
        .iter()
        .map(|s| match &s.what {
            What::HttpRequest { .. } => format!("{:?} request @{}", s.dir, s.offset),
            What::HttpResponse { .. } => format!("{:?} response @{}", s.dir, s.offset),
            What::HttpBody {
                body_len, complete, ..
            } => format!("{:?} body {body_len} {complete}", s.dir),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ClientToServer request @0",
            "ServerToClient response @0",
            "ServerToClient body 18 true",
            "ClientToServer request @27",
            "ClientToServer body 5 true",
            "ServerToClient response @82",
            "ClientToServer request @83",
            "ServerToClient response @109",
            "ClientToServer request @111",
            "ServerToClient response @148",
        ]
    );
}

#[test]
fn an_event_stream_shows_each_event_through_chunked_encoding() {
    let events = "event: price\ndata: {\"ACME\": 12.5}\nid: 1\n\n: a comment\n\ndata: line one\r\ndata: line two\r\n\r\n";
    // The events in chunks that cut lines (and the CRLF after a chunk) apart.
    let mut body = String::new();
    for piece in [&events[..10], &events[10..47], &events[47..]] {
        body.push_str(&format!("{:x};ext=1\r\n{piece}\r\n", piece.len()));
    }
    body.push_str("0\r\nX-Trailer: yes\r\n\r\n");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
         Transfer-Encoding: chunked\r\n\r\n{body}"
    );
    let mut tap = ConnTap::new(Options::default());
    let mut seen = Vec::new();
    tap.feed(C2S, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n", &mut seen);
    // One byte per read: every state of the chunk and line parsers is cut.
    for byte in response.as_bytes() {
        tap.feed(S2C, &[*byte], &mut seen);
    }
    let texts: Vec<&str> = seen
        .iter()
        .filter_map(|s| match &s.what {
            What::SseEvent { text, truncated } => {
                assert!(!truncated);
                Some(text.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            "event: price\ndata: {\"ACME\": 12.5}\nid: 1",
            ": a comment",
            "data: line one\ndata: line two"
        ]
    );
    let last = seen.last().unwrap();
    assert_eq!(
        last.what,
        What::HttpBody {
            body_len: events.len() as u64,
            framing: BodyFraming::Chunked,
            content_type: Some("text/event-stream; charset=utf-8".into()),
            complete: true,
        }
    );
    assert_eq!(last.offset + last.len, response.len() as u64);
    // The next response on the connection is read as a head again.
    tap.feed(C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut seen);
    tap.feed(
        S2C,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        &mut seen,
    );
    assert!(matches!(
        seen.last().unwrap().what,
        What::HttpResponse { .. }
    ));
}

#[test]
fn a_body_until_close_is_complete_at_the_fin_and_a_cut_one_is_not() {
    let mut tap = ConnTap::new(Options::default());
    let mut seen = Vec::new();
    tap.feed(C2S, b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n", &mut seen);
    tap.feed(S2C, b"HTTP/1.0 200 OK\r\n\r\n{\"events\":[]}", &mut seen);
    tap.finish(S2C, &mut seen);
    assert!(matches!(
        seen.last().unwrap().what,
        What::HttpBody {
            body_len: 13,
            framing: BodyFraming::UntilClose,
            complete: true,
            ..
        }
    ));

    let mut tap = ConnTap::new(Options::default());
    tap.feed(C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut seen);
    tap.feed(
        S2C,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
        &mut seen,
    );
    tap.finish(S2C, &mut seen);
    assert!(matches!(
        seen.last().unwrap().what,
        What::HttpBody {
            body_len: 3,
            complete: false,
            ..
        }
    ));
}

#[test]
fn the_upgrade_switches_both_directions_to_frames() {
    let request = scripted_session("x");
    let (head, frames) = request.split_at(head_len(&request));
    let mut reply = unmasked(Frame::text("Hello, world"));
    reply.extend(unmasked(Frame::close(Some(CloseFrame::new(
        CloseCode::NORMAL,
        "",
    )))));
    // In the order a real connection has them: the client waits for the
    // 101 before it sends frames (RFC 6455 §4.1).
    let seen = run(
        Options::default(),
        &[
            (C2S, head),
            (S2C, SWITCHED.as_bytes()),
            (C2S, frames),
            (S2C, &reply),
        ],
    );

    let c2s: Vec<_> = seen.iter().filter(|s| s.dir == C2S).collect();
    assert!(matches!(c2s[0].what, What::HttpRequest { .. }));
    let ops: Vec<(bool, OpCode, u64)> = c2s[1..]
        .iter()
        .map(|s| {
            let h = frame_header(s);
            assert!(h.mask.is_some(), "a client masks");
            (h.fin, h.opcode, h.payload_len)
        })
        .collect();
    assert_eq!(
        ops,
        [
            (false, OpCode::Text, 3),
            (true, OpCode::Ping, 14),
            (false, OpCode::Continuation, 4),
            (true, OpCode::Continuation, 5),
            (true, OpCode::Binary, 300),
            (true, OpCode::Text, 70_000),
            (true, OpCode::Close, 5),
        ]
    );
    // Frames follow each other: each starts where the last ended, and the
    // last ends with the stream.
    for pair in c2s.windows(2) {
        assert_eq!(pair[0].offset + pair[0].len, pair[1].offset);
    }
    assert_eq!(
        c2s.last().map(|s| s.offset + s.len),
        Some(request.len() as u64)
    );

    // Lesson 2's rules about who closes first, seen from the side.
    let closes: Vec<_> = seen
        .iter()
        .filter_map(|s| match &s.what {
            What::Frame {
                close_step: Some(step),
                ..
            } => Some((s.dir, *step)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        [(C2S, CloseStep::Starts), (S2C, CloseStep::Answers)]
    );
}

#[test]
fn a_refused_upgrade_stays_http() {
    let seen = run(
        Options::default(),
        &[
            (C2S, UPGRADE.as_bytes()),
            (
                S2C,
                b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 3\r\n\r\nno\n",
            ),
            (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ],
    );
    assert!(
        matches!(seen.last().unwrap().what, What::HttpRequest { .. }),
        "{seen:#?}"
    );
}

#[test]
fn frames_sent_before_the_answer_are_read_as_frames() {
    // All at once, as a client that does not wait for the 101 sends it:
    // 70 KB of frames behind the request.
    let request = scripted_session("x");
    let seen = run(
        Options::default(),
        &[(C2S, &request), (S2C, SWITCHED.as_bytes())],
    );
    let frames = seen
        .iter()
        .filter(|s| matches!(s.what, What::Frame { .. }))
        .count();
    assert_eq!(frames, 7, "{seen:#?}");
}

#[test]
fn a_refused_upgrade_takes_back_what_was_read_as_frames() {
    let mut early = UPGRADE.as_bytes().to_vec();
    early.extend(masked(Frame::text("too early"), [1, 2, 3, 4]));
    let seen = run(
        Options::default(),
        &[
            (C2S, &early),
            (S2C, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ],
    );
    let last = seen.last().unwrap();
    assert_eq!(last.offset, UPGRADE.len() as u64, "{seen:#?}");
    assert_eq!(
        undecodable(last),
        &Undecodable::RefusedEarly { bytes: 15 },
        "{seen:#?}"
    );
}

#[test]
fn a_16_mib_frame_costs_a_header_and_a_preview() {
    let mut tap = upgraded(Options::default());
    let len = 16 * 1024 * 1024;
    let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0x01, 0, 0, 0, 1, 2, 3, 4];
    frame.resize(14 + len, 0xAB);
    frame.extend(masked(Frame::text("next"), [5, 6, 7, 8]));
    let mut seen = Vec::new();
    for chunk in frame.chunks(wiretap::READ_BUFFER) {
        tap.feed(C2S, chunk, &mut seen);
        assert!(tap.buffered() <= 2048, "holds {} bytes", tap.buffered());
    }
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].len, 14 + len as u64);
    match &seen[0].what {
        What::Frame { header, bytes, .. } => {
            assert_eq!(header.payload_len, len as u64);
            assert_eq!(bytes.len(), 14 + wiretap::DEFAULT_PREVIEW);
        }
        other => panic!("{other:?}"),
    }
    // The frame after it is found exactly where the length said.
    assert_eq!(seen[1].offset, (UPGRADE.len() + 14 + len) as u64);
    assert_eq!(frame_header(&seen[1]).opcode, OpCode::Text);
}

#[test]
fn no_payload_keeps_headers_and_whole_control_frames() {
    let mut tap = upgraded(Options {
        no_payload: true,
        ..Options::default()
    });
    let mut seen = Vec::new();
    tap.feed(C2S, &masked(Frame::text("secret"), [1, 2, 3, 4]), &mut seen);
    tap.feed(C2S, &masked(Frame::ping("ping!"), [1, 2, 3, 4]), &mut seen);
    let kept: Vec<usize> = seen
        .iter()
        .map(|s| match &s.what {
            What::Frame { bytes, header, .. } => bytes.len() - header.header_len,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kept, [0, 5]);
}

/// The 101 with `Sec-WebSocket-Extensions: {agreed}`.
fn switched_with(agreed: &str) -> String {
    SWITCHED.replace(
        "\r\n\r\n",
        &format!("\r\nSec-WebSocket-Extensions: {agreed}\r\n\r\n"),
    )
}

/// A tap that has seen a handshake agreeing to `agreed`.
fn upgraded_with(agreed: &str) -> ConnTap {
    let mut tap = ConnTap::new(Options::default());
    let mut seen = Vec::new();
    tap.feed(C2S, UPGRADE.as_bytes(), &mut seen);
    tap.feed(S2C, switched_with(agreed).as_bytes(), &mut seen);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    tap
}

/// `text` compressed by `compressor` and sent in `pieces` frames, RSV1 on
/// the first only (RFC 7692 §6.1), masked with `key` if given: each
/// frame's bytes.
fn compressed(
    compressor: &mut Compressor,
    text: &str,
    pieces: usize,
    key: Option<[u8; 4]>,
) -> Vec<Vec<u8>> {
    let data = compressor.compress(text.as_bytes());
    let size = data.len().div_ceil(pieces).max(1);
    let parts: Vec<&[u8]> = data.chunks(size).collect();
    let mut frames = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let frame = Frame {
            fin: i + 1 == parts.len(),
            rsv: if i == 0 { frame::RSV1 } else { 0 },
            opcode: if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            },
            mask: key,
            payload: bytes::Bytes::copy_from_slice(part),
        };
        let mut bytes = BytesMut::new();
        encode(&frame, &mut bytes);
        frames.push(bytes.to_vec());
    }
    frames
}

fn inflated(seen: &Seen) -> (u64, u64, u64, String) {
    match &seen.what {
        What::Inflated {
            frames,
            compressed_len,
            size,
            preview,
            ..
        } => (
            *frames,
            *compressed_len,
            *size,
            String::from_utf8_lossy(preview).into_owned(),
        ),
        other => panic!("not an inflated message: {other:?}"),
    }
}

#[test]
fn compressed_messages_are_shown_inflated_beside_their_wire_size() {
    let chat = r#"{"type":"message","from":"ada","text":"hello, hello, hello, hello"}"#;
    // The client keeps no context; the server keeps its own.
    let mut tap = upgraded_with("permessage-deflate; client_no_context_takeover");
    let mut client = Compressor::new(false);
    let mut server = Compressor::new(true);
    let mut seen = Vec::new();
    // A client message in three frames, with a ping between two of them.
    let up = compressed(&mut client, chat, 3, Some([9, 8, 7, 6]));
    let up_len = up.concat().len();
    tap.feed(C2S, &up[0], &mut seen);
    tap.feed(C2S, &masked(Frame::ping("?"), [1, 2, 3, 4]), &mut seen);
    tap.feed(C2S, &up[1..].concat(), &mut seen);
    // Two server messages: the second needs the first's window to inflate.
    let twice = [
        compressed(&mut server, chat, 1, None),
        compressed(&mut server, chat, 1, None),
    ];
    for message in twice.concat() {
        tap.feed(S2C, &message, &mut seen);
    }
    // And a message sent plain, RSV1 clear: shown as before.
    tap.feed(S2C, &unmasked(Frame::text("plain")), &mut seen);

    let up: Vec<&Seen> = seen.iter().filter(|s| s.dir == C2S).collect();
    let compressions: Vec<Compression> = up
        .iter()
        .filter_map(|s| match s.what {
            What::Frame { compression, .. } => Some(compression),
            _ => None,
        })
        .collect();
    // Three frames of DEFLATE data, and a ping that is not.
    assert_eq!(compressions.len(), 4);
    assert_eq!(
        compressions
            .iter()
            .filter(|c| **c == Compression::Compressed)
            .count(),
        3
    );
    let message = up.last().unwrap();
    let (frames, wire, size, text) = inflated(message);
    assert_eq!((frames, size, text.as_str()), (3, chat.len() as u64, chat));
    assert_eq!(wire, client.compress(chat.as_bytes()).len() as u64);
    // Its range runs from its first frame's first byte to its last's last.
    assert_eq!(message.offset, UPGRADE.len() as u64);
    assert_eq!(message.len, (up_len + 7) as u64);

    let down: Vec<&Seen> = seen.iter().filter(|s| s.dir == S2C).collect();
    let messages: Vec<_> = down
        .iter()
        .filter(|s| matches!(s.what, What::Inflated { .. }))
        .map(|s| inflated(s))
        .collect();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|(_, _, _, text)| text == chat));
    // With context takeover the repeat costs a few bytes, not the message.
    assert!(messages[1].1 * 4 < messages[0].1, "{messages:?}");
    let plain = down.last().unwrap();
    assert!(matches!(
        plain.what,
        What::Frame {
            compression: Compression::Agreed,
            ..
        }
    ));

    // As text: the compressed frame's RSV1 read as RFC 7692 reads it, and
    // the message inflated.
    let text: String = seen
        .into_iter()
        .map(|seen| {
            wiretap::to_text(&wiretap::Event {
                conn: 1,
                time: std::time::Duration::ZERO,
                kind: wiretap::EventKind::Seen(seen),
            })
        })
        .collect();
    for needle in [
        "RSV1-3 = 100: RSV1, compressed (permessage-deflate, RFC 7692 §6)",
        "text (0x1), not final, masked, compressed,",
        "RSV1-3 = 000: a continuation; its message's first frame said compressed",
        &format!(
            "text message, inflated: {} bytes, sent as {wire} (",
            chat.len()
        ),
        "in 3 frames",
        r#"as text:    "{\"type\":\"message\""#,
        "RSV1-3 = 000: not compressed",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    assert!(!text.contains("error"), "{text}");
}

#[test]
fn what_cannot_be_inflated_is_reported_and_the_frames_still_found() {
    let fake = Frame {
        rsv: frame::RSV1,
        ..Frame::text("not really deflated")
    };
    let mut bytes = masked(fake, [1, 2, 3, 4]);
    bytes.extend(masked(Frame::text("plain"), [1, 2, 3, 4]));

    // Negotiated: the frame is compressed, but not DEFLATE: 1007's reason.
    let mut tap = upgraded_with("permessage-deflate");
    let mut seen = Vec::new();
    tap.feed(C2S, &bytes, &mut seen);
    assert!(
        matches!(
            undecodable(&seen[1]),
            Undecodable::Inflate(frame::MessageError::BadCompression)
        ),
        "{seen:#?}"
    );
    assert_eq!(frame_header(&seen[2]).opcode, OpCode::Text);
    assert_eq!(seen.len(), 3);

    // A bomb: past the limit, one report, and nothing held.
    let mut tap = upgraded_with("permessage-deflate");
    let mut seen = Vec::new();
    let zeros = vec![0u8; wiretap::MAX_INFLATED + 1];
    let data = Compressor::new(false).compress(&zeros);
    assert!(data.len() < 64 * 1024);
    let bomb = Frame {
        rsv: frame::RSV1,
        ..Frame::binary(data)
    };
    tap.feed(S2C, &unmasked(bomb), &mut seen);
    assert!(
        seen.iter().any(|s| matches!(
            s.what,
            What::Undecodable {
                why: Undecodable::Inflate(frame::MessageError::MessageTooLarge { .. }),
                ..
            }
        )),
        "{seen:#?}"
    );
    assert!(tap.buffered() < 1024);

    // An extension we do not decode: the frame's header, and the next.
    let mut tap = upgraded_with("x-webkit-deflate-frame");
    let mut seen = Vec::new();
    tap.feed(C2S, &bytes, &mut seen);
    assert!(matches!(
        undecodable(&seen[0]),
        Undecodable::Extension { negotiated: Some(ext), .. } if ext == "x-webkit-deflate-frame"
    ));
    assert_eq!(frame_header(&seen[1]).opcode, OpCode::Text);

    // Not negotiated: the same report, saying the rule is broken.
    let mut tap = upgraded(Options::default());
    let mut seen = Vec::new();
    tap.feed(C2S, &bytes, &mut seen);
    assert!(matches!(
        undecodable(&seen[0]),
        Undecodable::Extension {
            negotiated: None,
            ..
        }
    ));
    assert_eq!(seen.len(), 2);
}

#[test]
fn a_broken_frame_header_stops_decoding_that_direction_only() {
    let mut tap = upgraded(Options::default());
    let mut seen = Vec::new();
    // Opcode 0x3 is reserved.
    tap.feed(C2S, &[0x83, 0x80, 1, 2, 3, 4], &mut seen);
    tap.feed(C2S, &masked(Frame::text("lost"), [1, 2, 3, 4]), &mut seen);
    tap.feed(S2C, &unmasked(Frame::text("still read")), &mut seen);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(
        undecodable(&seen[0]),
        &Undecodable::Frame(FrameError::ReservedOpcode(3))
    );
    assert_eq!(seen[1].dir, S2C);
    assert_eq!(tap.bytes(C2S), (UPGRADE.len() + 6 + 10) as u64);
}

#[test]
fn not_http_is_said_at_once() {
    // The first bytes of a TLS ClientHello: someone used wss:// on a plain port.
    let seen = run(
        Options::default(),
        &[(C2S, &[0x16, 0x03, 0x01, 0x02, 0x00])],
    );
    assert_eq!(
        undecodable(&seen[0]),
        &Undecodable::NotHttp(ParseError::MalformedRequestLine)
    );
    let seen = run(
        Options::default(),
        &[
            (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            (S2C, b"SSH-2.0-x\r\n"),
        ],
    );
    assert_eq!(
        undecodable(&seen[1]),
        &Undecodable::NotHttp(ParseError::MalformedStatusLine)
    );
    // A head that never ends is cut at lesson 1's limit.
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    head.resize(handshake::MAX_HEAD_BYTES + 10, b'a');
    let seen = run(Options::default(), &[(C2S, &head)]);
    assert!(matches!(
        undecodable(&seen[0]),
        Undecodable::HeadTooLarge { .. }
    ));
}

#[test]
fn the_end_of_a_stream_inside_a_frame_is_reported() {
    let mut tap = upgraded(Options::default());
    let mut seen = Vec::new();
    let frame = masked(Frame::binary(vec![0; 1000]), [1, 2, 3, 4]);
    tap.feed(C2S, &frame[..600], &mut seen);
    tap.finish(C2S, &mut seen);
    assert_eq!(
        undecodable(seen.last().unwrap()),
        &Undecodable::Truncated {
            missing: Some(1000 - (600 - 8))
        }
    );
}

#[test]
fn raw_reads_are_reported_with_hex() {
    let seen = run(
        Options {
            hex: true,
            ..Options::default()
        },
        &[(C2S, b"GET / HT"), (C2S, b"TP/1.1\r\n\r\n")],
    );
    let raw: Vec<(u64, &[u8])> = seen
        .iter()
        .filter_map(|s| match &s.what {
            What::Raw { bytes } => Some((s.offset, &bytes[..])),
            _ => None,
        })
        .collect();
    assert_eq!(raw, [(0, &b"GET / HT"[..]), (8, &b"TP/1.1\r\n\r\n"[..])]);
}

/// The length of the HTTP head at the start of `bytes`.
fn head_len(bytes: &[u8]) -> usize {
    handshake::find_blank_line(bytes, 0).expect("a head")
}

/// Feeds each direction in reads cut at `cuts` (taken modulo the length),
/// in the order of a real connection: the request, the 101, then the two
/// directions' frames in turn.
fn split_run(client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<Seen> {
    let mut tap = ConnTap::new(Options::default());
    let mut seen = Vec::new();
    let pieces = |bytes: &[u8]| {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        at.extend([0, bytes.len()]);
        at.sort_unstable();
        at.windows(2)
            .map(|w| bytes[w[0]..w[1]].to_vec())
            .collect::<Vec<_>>()
    };
    let (request, client) = client.split_at(head_len(client));
    let (response, server) = server.split_at(head_len(server));
    for piece in pieces(request) {
        tap.feed(C2S, &piece, &mut seen);
    }
    for piece in pieces(response) {
        tap.feed(S2C, &piece, &mut seen);
    }
    let (client, server) = (pieces(client), pieces(server));
    for i in 0..client.len().max(server.len()) {
        if let Some(piece) = client.get(i) {
            tap.feed(C2S, piece, &mut seen);
        }
        if let Some(piece) = server.get(i) {
            tap.feed(S2C, piece, &mut seen);
        }
    }
    tap.finish(C2S, &mut seen);
    tap.finish(S2C, &mut seen);
    seen
}

fn one_way(seen: &[Seen], dir: Direction) -> Vec<Seen> {
    seen.iter().filter(|s| s.dir == dir).cloned().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However TCP cuts the streams into reads, each direction's reports
    /// are the same.
    #[test]
    fn any_split_gives_the_same_reports(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let client = scripted_session("x");
        let mut server = SWITCHED.as_bytes().to_vec();
        server.extend(unmasked(Frame::pong("are you there?")));
        server.extend(unmasked(Frame::text("x".repeat(70_000))));
        let whole = split_run(&client, &server, &[]);
        let split = split_run(&client, &server, &cuts);
        for dir in Direction::BOTH {
            prop_assert_eq!(one_way(&whole, dir), one_way(&split, dir));
        }
    }

    /// The same with compressed messages, each side keeping its context,
    /// a long one inflated in many pieces, a fragmented masked one.
    #[test]
    fn any_split_inflates_the_same(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let long: String = (0..7_000).map(|i| format!("{i} ")).collect();
        let mut client = UPGRADE.as_bytes().to_vec();
        let mut up = Compressor::new(true);
        for text in ["hello", "hello", long.as_str()] {
            client.extend(compressed(&mut up, text, 2, Some([5, 6, 7, 8])).concat());
        }
        let mut server = switched_with("permessage-deflate").into_bytes();
        let mut down = Compressor::new(true);
        for text in [long.as_str(), "hello", "hello"] {
            server.extend(compressed(&mut down, text, 1, None).concat());
        }
        let whole = split_run(&client, &server, &[]);
        let messages = whole.iter().filter(|s| matches!(s.what, What::Inflated { .. })).count();
        prop_assert_eq!(messages, 6);
        let split = split_run(&client, &server, &cuts);
        for dir in Direction::BOTH {
            prop_assert_eq!(one_way(&whole, dir), one_way(&split, dir));
        }
    }
}

#[test]
fn the_scripted_session_uses_the_rfc_key() {
    // The helper the end-to-end tests share sends RFC 6455 §1.3's key.
    let request = scripted_session("x");
    let parsed = handshake::parse_request(&request[..head_len(&request)]).unwrap();
    assert_eq!(parsed.headers.get_one("Sec-WebSocket-Key"), Some(KEY));
}

#[test]
fn every_kind_of_report_renders_as_text_and_json() {
    let mut tap = ConnTap::new(Options {
        hex: true,
        ..Options::default()
    });
    let mut seen = Vec::new();
    tap.feed(
        C2S,
        b"GET /events HTTP/1.1\r\nHost: x\r\nCookie: id=secret\r\n\r\n",
        &mut seen,
    );
    tap.feed(
        S2C,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: tick\ndata: 1\n\n",
        &mut seen,
    );
    tap.finish(S2C, &mut seen);
    tap.feed(C2S, &[0x16, 0x03, 0x01], &mut seen);
    let mut text = String::new();
    let mut kinds = Vec::new();
    for (i, seen) in seen.into_iter().enumerate() {
        let event = wiretap::Event {
            conn: 7,
            time: std::time::Duration::from_micros(1_500_000 + i as u64),
            kind: wiretap::EventKind::Seen(seen),
        };
        let json = wiretap::to_json(&event);
        assert_eq!(json["conn"], 7);
        kinds.push(json["kind"].as_str().unwrap().to_owned());
        // The annotations never show a cookie; `--hex` shows every byte.
        if json["kind"] != "raw" {
            assert!(!json.to_string().contains("secret"), "{json}");
            assert!(!wiretap::to_text(&event).contains("secret"));
        }
        text.push_str(&wiretap::to_text(&event));
    }
    assert_eq!(
        kinds,
        [
            "raw",
            "http-request",
            "raw",
            "http-response",
            "sse",
            "http-body",
            "raw",
            "undecodable"
        ]
    );
    for needle in [
        "#7  1.500000s  client → server  bytes 0-51  52 bytes as read",
        "|GET /events HTTP|",
        "Cookie: (17 bytes, not shown)␍␊",
        "← not 101: no switch, the connection stays HTTP",
        "Server-Sent Event",
        "#7 │   event: tick",
        "#7 │   data: 1",
        "HTTP body: 21 bytes (until the connection closed, text/event-stream)",
        "undecodable: not HTTP",
        "starts with: 16 03 01",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}
