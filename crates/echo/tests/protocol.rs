//! Raw frames, valid ones: what the server does between messages.
//! Fragments with pings in between, unsolicited pongs, early frames, Close
//! without a code, and the close handshake from the server's side.

mod common;

use common::{TestServer, WAIT, close_frame, connected, masked};
use frame::{CloseCode, CloseFrame, Frame, OpCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

#[tokio::test]
async fn pings_between_fragments_are_answered_at_once() {
    let (server, mut client) = connected().await;

    client.send(Frame::text("Hel").with_fin(false)).await;
    client.send(Frame::ping("first")).await;
    // The pong comes back now, while the message is still open: a ping is
    // never stuck behind a message (RFC 6455 §5.4, §5.5.2).
    assert_eq!(client.expect_frame().await, Frame::pong("first"));

    client
        .send(Frame::continuation("lo, ").with_fin(false))
        .await;
    client.send(Frame::ping("")).await;
    assert_eq!(client.expect_frame().await, Frame::pong(""));
    client.send(Frame::continuation("world")).await;

    // One message, sent back in one frame.
    assert_eq!(client.expect_frame().await, Frame::text("Hello, world"));

    // Binary in three fragments, with a ping and a pong in between.
    client.send(Frame::binary(vec![1, 2]).with_fin(false)).await;
    client.send(Frame::pong("unasked")).await; // ignored (RFC 6455 §5.5.3)
    client
        .send(Frame::continuation(vec![3]).with_fin(false))
        .await;
    client.send(Frame::ping(vec![0xFF; 125])).await;
    assert_eq!(client.expect_frame().await, Frame::pong(vec![0xFF; 125]));
    client.send(Frame::continuation(vec![4, 5])).await;
    assert_eq!(
        client.expect_frame().await,
        Frame::binary(vec![1, 2, 3, 4, 5])
    );

    client.send(close_frame(CloseCode::NORMAL, "")).await;
    client.expect_close(CloseCode::NORMAL).await;
    server.stop_after(client).await;
}

#[tokio::test]
async fn a_frame_sent_one_byte_at_a_time_is_one_frame() {
    let (server, mut client) = connected().await;
    for byte in masked(Frame::text("slowly")) {
        client.send_raw(&[byte]).await;
    }
    assert_eq!(client.expect_frame().await, Frame::text("slowly"));
    server.stop_after(client).await;
}

#[tokio::test]
async fn unsolicited_pongs_get_no_answer() {
    let (server, mut client) = connected().await;
    client.send(Frame::pong("heartbeat")).await;
    client.send(Frame::text("after the pong")).await;
    // The first thing back is the echo: the pong got nothing.
    assert_eq!(client.expect_frame().await, Frame::text("after the pong"));
    server.stop_after(client).await;
}

#[tokio::test]
async fn frames_sent_with_the_handshake_are_frames() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // The request and two frames in one write, before any 101.
    let mut bytes =
        handshake::client_request(&server.addr.to_string(), "/ws", "dGhlIHNhbXBsZSBub25jZQ==")
            .into_bytes();
    bytes.extend(masked(Frame::text("early")));
    bytes.extend(masked(close_frame(CloseCode::NORMAL, "")));
    stream.write_all(&bytes).await.unwrap();
    let mut answer = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
    // The echo, then the answer to the Close (1000 = 03 e8), unmasked.
    assert_eq!(&answer[head_end..], b"\x81\x05early\x88\x02\x03\xe8");
    drop(stream); // the server waits for our FIN before it lets go
    server.all_gone().await;
    server.stop().await;
}

#[tokio::test]
async fn a_close_without_a_code_gets_an_empty_close() {
    let (server, mut client) = connected().await;
    client.send(Frame::close(None)).await;
    // 1005 may not be sent, so there is no code to echo: an empty Close.
    assert_eq!(client.expect_frame().await, Frame::close(None));
    client.expect_end().await;
    server.stop_after(client).await;
}

#[tokio::test]
async fn data_after_the_peers_close_is_ignored() {
    let (server, mut client) = connected().await;
    let mut bytes = masked(close_frame(CloseCode::NORMAL, "done"));
    bytes.extend(masked(Frame::text("too late")));
    client.send_raw(&bytes).await;
    client.expect_close(CloseCode::NORMAL).await;
    server.stop_after(client).await;
}

#[tokio::test]
async fn our_close_waits_for_the_answer_then_closes_tcp() {
    let (mut server, mut client) = connected().await;
    client.echo("hi").await;

    server.begin_shutdown();
    let close = client.expect_frame().await;
    assert_eq!(close.opcode, OpCode::Close);
    let close = CloseFrame::parse(&close.payload).unwrap().unwrap();
    assert_eq!(close.code, CloseCode::GOING_AWAY);
    // Data sent after the server's Close is discarded, pings unanswered:
    // the server may send nothing after its Close (RFC 6455 §5.5.1).
    client.send(Frame::text("crossing")).await;
    client.send(Frame::ping("crossing")).await;
    client.send(close_frame(CloseCode::GOING_AWAY, "")).await;
    // The handshake is complete: the server closes TCP, with nothing before.
    client.expect_end().await;
    server.stop_after(client).await;
}
