//! A client we did not write, tokio-tungstenite, against our server: every
//! length form, big messages, many messages in flight, close codes both
//! ways, and the shutdown.

mod common;

use std::time::Duration;

use common::{TestServer, WAIT};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(server: &TestServer) -> Client {
    let (ws, response) = timeout(WAIT, tokio_tungstenite::connect_async(server.url()))
        .await
        .unwrap()
        .expect("tungstenite accepts our handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// The next message, which must be there.
async fn next(ws: &mut Client) -> Message {
    timeout(WAIT, ws.next())
        .await
        .expect("no message in time")
        .expect("the connection ended")
        .expect("a protocol error")
}

/// Sends `message` and checks that exactly it comes back.
async fn round_trip(ws: &mut Client, message: Message) {
    timeout(WAIT, ws.send(message.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next(ws).await, message);
}

/// Deterministic bytes that are not all the same, so a masking or offset
/// mistake shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Closes from the client with 1000 and checks the server's answer.
async fn close_normally(mut ws: Client) {
    ws.close(None).await.unwrap();
    // Our server answers an empty Close with an empty Close, then closes TCP.
    assert_eq!(next(&mut ws).await, Message::Close(None));
    assert!(timeout(WAIT, ws.next()).await.unwrap().is_none());
}

#[tokio::test]
async fn echoes_text_binary_and_empty_messages() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    round_trip(&mut ws, Message::text("Hello")).await;
    round_trip(&mut ws, Message::text("ünïcødé, 漢字, 🦀")).await;
    round_trip(&mut ws, Message::binary(vec![0, 1, 2, 255])).await;
    round_trip(&mut ws, Message::text("")).await;
    round_trip(&mut ws, Message::binary(Vec::new())).await;
    close_normally(ws).await;
    server.all_gone().await;
    server.stop().await;
}

#[tokio::test]
async fn echoes_every_length_form_at_its_edges() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    // 7-bit up to 125, 16-bit from 126 to 65,535, 64-bit from 65,536.
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 100_000] {
        round_trip(&mut ws, Message::binary(pattern(len))).await;
        round_trip(
            &mut ws,
            Message::text("é".repeat(len / 2) + &"x".repeat(len % 2)),
        )
        .await;
    }
    close_normally(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn echoes_16_mib_messages() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    let len = 16 * 1024 * 1024; // exactly our frame and message limits
    round_trip(&mut ws, Message::binary(pattern(len))).await;
    round_trip(&mut ws, Message::text("a".repeat(len))).await;
    // And the connection carries on with small ones afterwards.
    round_trip(&mut ws, Message::text("small again")).await;
    close_normally(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn many_messages_in_flight_come_back_in_order() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    // Sent without waiting, so many frames arrive in one read, and the
    // server's answers queue up behind each other.
    for i in 0..1000 {
        ws.feed(Message::text(format!("message {i}")))
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..1000 {
        assert_eq!(next(&mut ws).await, Message::text(format!("message {i}")));
    }
    close_normally(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn answers_a_ping_with_its_payload() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    ws.send(Message::Ping(b"are you there?"[..].into()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Pong(b"are you there?"[..].into())
    );
    close_normally(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn answers_a_close_with_the_same_code() {
    let server = TestServer::start().await;
    for (code, reason) in [
        (CloseCode::Normal, "bye"),
        (CloseCode::from(4000), "a private-use code and a reason"),
        (CloseCode::Away, ""),
    ] {
        let mut ws = connect(&server).await;
        round_trip(&mut ws, Message::text("before closing")).await;
        let close = CloseFrame {
            code,
            reason: reason.into(),
        };
        ws.close(Some(close)).await.unwrap();
        // RFC 6455 §5.5.1: the answer echoes the code. The reason was the
        // client's to give; ours is empty.
        let Message::Close(Some(answer)) = next(&mut ws).await else {
            panic!("expected a Close with a code");
        };
        assert_eq!(answer.code, code);
        assert_eq!(answer.reason.as_str(), "");
        // Then the server closes TCP.
        assert!(timeout(WAIT, ws.next()).await.unwrap().is_none());
    }
    server.all_gone().await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_1001() {
    let mut server = TestServer::start().await;
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut ws = connect(&server).await;
        round_trip(&mut ws, Message::text(format!("client {i}"))).await;
        clients.push(ws);
    }
    assert_eq!(server.live.get(), 5);
    let start = Instant::now();
    server.begin_shutdown();
    for mut ws in clients {
        let Message::Close(Some(close)) = next(&mut ws).await else {
            panic!("expected a Close with a code");
        };
        assert_eq!(close.code, CloseCode::Away);
        assert_eq!(close.reason.as_str(), "server shutting down");
        // tungstenite answers the Close on this read; the server, having its
        // answer, closes TCP.
        assert!(timeout(WAIT, ws.next()).await.unwrap().is_none());
    }
    server.all_gone().await;
    server.stop().await;
    // Every client answered, so nobody waited for a deadline.
    assert!(
        start.elapsed() < echo::CLOSE_TIMEOUT,
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn refuses_new_connections_once_shutting_down() {
    let server = TestServer::start().await;
    let addr = server.addr;
    server.stop().await;
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the listener is closed");
}

/// Sends an HTTP request and returns the whole answer.
async fn http(server: &TestServer, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn serves_the_page_a_404_and_a_426() {
    let server = TestServer::start().await;
    let page = http(&server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("text/html"), "{page}");
    assert!(page.ends_with(echo::PAGE), "the whole page is the body");

    let missing = http(&server, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );

    // A browser tab opened on the WebSocket URL: lesson 1's refusal.
    let tab = http(&server, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        tab.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{tab}"
    );

    let post = http(
        &server,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    server.all_gone().await;
    server.stop().await;
}

#[tokio::test]
async fn a_handshake_in_progress_does_not_delay_shutdown() {
    let server = TestServer::start().await;
    // Half a request: the server waits for the rest (up to lesson 1's 10 s).
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /ws HTTP/1.1\r\nHo").await.unwrap();
    timeout(WAIT, server.live.wait_until(1)).await.unwrap();
    let start = Instant::now();
    server.stop().await;
    assert!(start.elapsed() < Duration::from_secs(5));
    let mut rest = Vec::new();
    let _ = timeout(WAIT, stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "dropped without an answer");
}
