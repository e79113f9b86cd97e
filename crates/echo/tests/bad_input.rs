//! Every broken frame rule that earns a close code, as raw bytes sent to
//! the running server: each earns a Close with its code, then TCP closed,
//! and no task left behind.

mod common;

use std::time::Duration;

use common::{KEY, RawClient, TestServer, close_frame, connected, masked};
use echo::{CLOSE_TIMEOUT, Config, WebSocketConfig};
use frame::{CloseCode, Frame, OpCode};
use tokio::time::Instant;

/// Connects, sends `bytes`, and expects a Close with `code` and then the end
/// of the stream. Returns the Close's reason.
async fn expect_refusal(bytes: &[u8], code: CloseCode) -> String {
    let (server, mut client) = connected().await;
    client.send_raw(bytes).await;
    let reason = client.expect_close(code).await;
    server.stop_after(client).await;
    reason
}

/// A masked frame whose first byte (FIN, RSV, opcode) is exactly
/// `first_byte`, including combinations our codec refuses to build.
fn raw_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = masked(Frame::binary(payload.to_vec()));
    bytes[0] = first_byte;
    bytes
}

/// A deadline was kept: not before it, and not much after (with the clock
/// paused, the only slack is the real time spent before pausing it).
fn assert_took(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(500),
        "took {elapsed:?}, expected {expected:?}"
    );
}

#[tokio::test]
async fn an_unmasked_frame_is_1002() {
    let reason = expect_refusal(b"\x81\x05Hello", CloseCode::PROTOCOL_ERROR).await;
    assert!(
        reason.contains("§5.1"),
        "the reason names the rule: {reason}"
    );
}

#[tokio::test]
async fn rsv_bits_are_1002() {
    for first_byte in [0xC1, 0xA1, 0x91] {
        expect_refusal(&raw_frame(first_byte, b"Hello"), CloseCode::PROTOCOL_ERROR).await;
    }
}

#[tokio::test]
async fn reserved_opcodes_are_1002() {
    for opcode in [0x3, 0x7, 0xB, 0xF] {
        expect_refusal(&raw_frame(0x80 | opcode, b""), CloseCode::PROTOCOL_ERROR).await;
    }
}

#[tokio::test]
async fn a_control_frame_over_125_bytes_is_1002() {
    // A ping announcing 126 bytes: refused from its header.
    let bytes = [0x89, 0xFE, 0x00, 0x7E, KEY[0], KEY[1], KEY[2], KEY[3]];
    expect_refusal(&bytes, CloseCode::PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn a_fragmented_control_frame_is_1002() {
    expect_refusal(&raw_frame(0x09, b"ping"), CloseCode::PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn a_continuation_without_a_start_is_1002() {
    expect_refusal(
        &masked(Frame::continuation("lost")),
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
}

#[tokio::test]
async fn a_new_message_mid_message_is_1002() {
    let mut bytes = masked(Frame::text("one").with_fin(false));
    bytes.extend(masked(Frame::text("two")));
    expect_refusal(&bytes, CloseCode::PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn a_64_bit_length_with_the_top_bit_set_is_1002() {
    let mut bytes = vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend(KEY);
    expect_refusal(&bytes, CloseCode::PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn invalid_utf8_in_one_frame_is_1007() {
    let text = Frame::new(OpCode::Text, &b"caf\xc3"[..]);
    expect_refusal(&masked(text), CloseCode::INVALID_PAYLOAD).await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_fails_at_the_bad_fragment() {
    let (server, mut client) = connected().await;
    // "€" is e2 82 ac. The first fragment ends after e2 82: fine so far.
    client
        .send(Frame::new(OpCode::Text, &b"price: \xe2\x82"[..]).with_fin(false))
        .await;
    // The next one starts with "(" where the character's last byte belongs.
    // It is not the final fragment, and the server does not wait for one.
    client
        .send(Frame::continuation(&b"(oops"[..]).with_fin(false))
        .await;
    client.expect_close(CloseCode::INVALID_PAYLOAD).await;
    server.stop_after(client).await;
}

#[tokio::test]
async fn invalid_utf8_fails_before_the_rest_of_its_frame_comes() {
    let (server, mut client) = connected().await;
    // A 1,000-byte text frame of which we send only the first 20 bytes of
    // payload, the last of them a byte no UTF-8 text has; the rest never
    // comes. The server does not wait for it.
    let mut payload = b"valid so far, then \xff".to_vec();
    payload.resize(1000, b'x');
    let wire = masked(Frame::new(OpCode::Text, payload));
    let header_len = wire.len() - 1000;
    client.send_raw(&wire[..header_len + 20]).await;
    let reason = client.expect_close(CloseCode::INVALID_PAYLOAD).await;
    assert!(reason.contains("UTF-8"), "{reason}");
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_valid_character_split_across_fragments_is_fine() {
    let (server, mut client) = connected().await;
    client
        .send(Frame::new(OpCode::Text, &b"price: \xe2\x82"[..]).with_fin(false))
        .await;
    client.send(Frame::continuation(&b"\xac 5"[..])).await;
    assert_eq!(client.expect_frame().await, Frame::text("price: € 5"));
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_one_byte_close_body_is_1002() {
    expect_refusal(&raw_frame(0x88, &[0x03]), CloseCode::PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn close_codes_that_may_not_be_sent_are_1002() {
    for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        let bytes = raw_frame(0x88, &u16::to_be_bytes(code));
        expect_refusal(&bytes, CloseCode::PROTOCOL_ERROR).await;
    }
}

#[tokio::test]
async fn a_close_reason_that_is_not_utf8_is_1007() {
    let bytes = raw_frame(0x88, b"\x03\xe8bad \xff reason");
    expect_refusal(&bytes, CloseCode::INVALID_PAYLOAD).await;
}

#[tokio::test]
async fn a_frame_over_the_limit_is_1009_from_its_header_alone() {
    // Only the headers are sent: 1 GiB announced, then the largest length
    // the protocol allows (2^63 - 1). Had the server made room for either
    // before checking, the second would abort this test process.
    for len in [1u64 << 30, (1 << 63) - 1] {
        let mut bytes = vec![0x82, 0xFF];
        bytes.extend(len.to_be_bytes());
        bytes.extend(KEY);
        let start = Instant::now();
        let reason = expect_refusal(&bytes, CloseCode::TOO_BIG).await;
        assert!(reason.contains(&len.to_string()), "{reason}");
        assert!(start.elapsed() < Duration::from_secs(5), "refused at once");
    }
}

#[tokio::test]
async fn a_message_over_the_limit_is_1009_at_the_fragment_that_passes_it() {
    let config = Config {
        websocket: WebSocketConfig {
            max_message_size: 1000,
            ..WebSocketConfig::default()
        },
        ..Config::default()
    };
    let server = TestServer::start_with(config).await;
    let mut client = RawClient::connect(server.addr).await;
    client
        .send(Frame::binary(vec![0; 600]).with_fin(false))
        .await;
    client
        .send(Frame::continuation(vec![0; 600]).with_fin(false))
        .await;
    client.expect_close(CloseCode::TOO_BIG).await;
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_peer_that_vanishes_mid_frame_leaves_nothing_behind() {
    let (server, mut client) = connected().await;
    let frame = masked(Frame::binary(vec![7; 10_000]));
    client.send_raw(&frame[..5_000]).await;
    // Gone, with half a frame sent: the server's read sees the end of the
    // stream mid-frame, and its task ends.
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_peer_that_vanishes_between_frames_leaves_nothing_behind() {
    let (server, mut client) = connected().await;
    client.echo("hello").await;
    // Gone without a Close.
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_peer_that_never_answers_our_close_is_dropped_at_the_deadline() {
    let (mut server, mut client) = connected().await;
    client.echo("hi").await;

    // From here the clock only moves when every task waits on it.
    tokio::time::pause();
    let start = Instant::now();
    server.begin_shutdown();
    let close = client.expect_frame().await;
    assert_eq!(
        close,
        close_frame(CloseCode::GOING_AWAY, "server shutting down")
    );
    // We never answer. The server gives up at the deadline and drops us.
    client.expect_end().await;
    assert_took(start.elapsed(), CLOSE_TIMEOUT);
    server.all_gone().await;
    server.stop().await; // without having to abort anyone
}

#[tokio::test]
async fn a_peer_that_never_closes_tcp_after_our_close_is_dropped_at_the_deadline() {
    let (server, mut client) = connected().await;
    let start = Instant::now();
    client.send_raw(b"\x81\x05Hello").await; // unmasked: 1002
    // The Close, then the server's FIN; but we keep our side open.
    client.expect_close(CloseCode::PROTOCOL_ERROR).await;
    assert_eq!(server.live.get(), 1, "the server waits for our FIN");
    // Let the clock jump to the next timer: the server's deadline.
    tokio::time::pause();
    server.all_gone().await;
    assert_took(start.elapsed(), CLOSE_TIMEOUT);
    server.stop_after(client).await;
}
