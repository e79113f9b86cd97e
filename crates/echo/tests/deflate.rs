//! permessage-deflate (RFC 7692) on lesson 3's server, byte by byte: the
//! negotiation, compressed frames both ways, and every way a peer can get
//! compression wrong. (The Autobahn suite's cases 12 and 13 test it
//! against a client we did not write; a real Chromium, in the browser
//! crate's tests, too.)

mod common;

use common::{RawClient, TestServer, masked};
use echo::{Config, WebSocketConfig};
use frame::{CloseCode, Compressor, Frame, Inflater, OpCode, RSV1};

/// A compressed message's first (and only) frame, as our compressor
/// writes it, without context takeover.
fn compressed(opcode: OpCode, payload: &[u8]) -> Frame {
    Frame {
        rsv: RSV1,
        ..Frame::new(opcode, Compressor::new(false).compress(payload))
    }
}

/// Inflates a whole message from the server.
fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut inflater = Inflater::new(false);
    let (mut out, mut size) = (Vec::new(), 0);
    let mut sink = |chunk: &[u8]| {
        out.extend_from_slice(chunk);
        Ok(())
    };
    inflater
        .inflate(payload, usize::MAX, &mut size, &mut sink)
        .unwrap();
    inflater.finish(usize::MAX, &mut size, &mut sink).unwrap();
    out
}

#[tokio::test]
async fn agreed_without_context_takeover_and_echoed_compressed() {
    let server = TestServer::start().await;
    let (mut client, agreed) = RawClient::connect_offering(server.addr, true).await;
    let agreed = agreed.expect("the server accepts permessage-deflate");
    assert_eq!(
        agreed.header_value(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    let text = "a chat line, a chat line, a chat line, 你好".repeat(20);
    client.send(compressed(OpCode::Text, text.as_bytes())).await;
    let echo = client.expect_frame().await;
    assert_eq!((echo.opcode, echo.rsv), (OpCode::Text, RSV1));
    assert!(
        echo.payload.len() < text.len() / 4,
        "{} bytes",
        echo.payload.len()
    );
    assert_eq!(inflate(&echo.payload), text.as_bytes());
    // An uncompressed message is still a message: RSV1 is per message.
    client.send(Frame::binary(vec![1, 2, 3])).await;
    let echo = client.expect_frame().await;
    assert_eq!((echo.opcode, echo.rsv), (OpCode::Binary, RSV1));
    assert_eq!(inflate(&echo.payload), [1, 2, 3]);
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_compressed_message_may_be_fragmented() {
    let server = TestServer::start().await;
    let (mut client, _) = RawClient::connect_offering(server.addr, true).await;
    let whole = Compressor::new(false).compress("fragments of one message".as_bytes());
    let (a, b) = whole.split_at(whole.len() / 2);
    // RSV1 on the first frame only (RFC 7692 §6.1).
    client
        .send(Frame {
            rsv: RSV1,
            ..Frame::new(OpCode::Text, a.to_vec()).with_fin(false)
        })
        .await;
    client.send(Frame::continuation(b.to_vec())).await;
    let echo = client.expect_frame().await;
    assert_eq!(inflate(&echo.payload), b"fragments of one message");
    server.stop_after(client).await;
}

#[tokio::test]
async fn declined_when_switched_off() {
    let config = Config {
        deflate: None,
        ..Config::default()
    };
    let server = TestServer::start_with(config).await;
    let (mut client, agreed) = RawClient::connect_offering(server.addr, true).await;
    assert_eq!(agreed, None);
    // Without the extension, RSV1 is a broken rule (RFC 6455 §5.2).
    client.send(compressed(OpCode::Text, b"hi")).await;
    client.expect_close(CloseCode::PROTOCOL_ERROR).await;
    server.stop_after(client).await;
}

/// Each broken rule of RFC 7692, with the close code it earns.
#[tokio::test]
async fn compression_gone_wrong_gets_its_close_code() {
    let cases: Vec<(&str, Vec<Frame>, CloseCode)> = vec![
        (
            "RSV1 on a ping",
            vec![Frame {
                rsv: RSV1,
                ..Frame::ping("x")
            }],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            "RSV1 on a continuation",
            vec![
                Frame::new(OpCode::Text, "a").with_fin(false),
                Frame {
                    rsv: RSV1,
                    ..Frame::continuation("b")
                },
            ],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            "not DEFLATE data",
            vec![Frame {
                rsv: RSV1,
                ..Frame::new(OpCode::Text, vec![0xff; 10])
            }],
            CloseCode::INVALID_PAYLOAD,
        ),
        (
            "inflates to invalid UTF-8",
            vec![compressed(OpCode::Text, b"caf\xc3(")],
            CloseCode::INVALID_PAYLOAD,
        ),
    ];
    for (what, frames, code) in cases {
        let server = TestServer::start().await;
        let (mut client, _) = RawClient::connect_offering(server.addr, true).await;
        for frame in frames {
            client.send(frame).await;
        }
        let reason = client.expect_close(code).await;
        eprintln!("{what}: {code} {reason}");
        server.stop_after(client).await;
    }
}

#[tokio::test]
async fn a_compression_bomb_gets_1009_without_being_inflated() {
    // 1 KiB messages at most; a 16 MiB message of zeros compresses to
    // about 16 KiB, which the frame limit lets in.
    let config = Config {
        websocket: WebSocketConfig {
            max_message_size: 1024,
            max_frame_size: 64 * 1024,
            ..WebSocketConfig::default()
        },
        ..Config::default()
    };
    let server = TestServer::start_with(config).await;
    let (mut client, _) = RawClient::connect_offering(server.addr, true).await;
    let bomb = compressed(OpCode::Binary, &vec![0; 16 << 20]);
    assert!(bomb.payload.len() < 64 * 1024);
    client.send_raw(&masked(bomb)).await;
    let reason = client.expect_close(CloseCode::TOO_BIG).await;
    assert!(reason.contains("1024"), "{reason}");
    server.stop_after(client).await;
}
