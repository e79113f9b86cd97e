//! Cross-checks against a WebSocket implementation we did not write:
//! tokio-tungstenite completes the handshake against our server, and our
//! client side completes it against a tokio-tungstenite server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn tungstenite_client_against_our_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(handshake::run(listener, async {
        let _ = stopped.await;
    }));

    let (mut ws, response) = timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
    )
    .await
    .unwrap()
    .expect("tungstenite accepted our handshake");
    assert_eq!(response.status(), 101);
    let accept = response.headers()["sec-websocket-accept"]
        .to_str()
        .unwrap()
        .to_owned();

    // Our hand-written text frame: the accept computation for the page.
    let Message::Text(text) = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap() else {
        panic!("expected a text message");
    };
    let steps: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(steps["accept"], accept.as_str());
    assert_eq!(
        handshake::accept_key(steps["key"].as_str().unwrap()),
        accept,
        "the page is told the truth"
    );

    // Our hand-written Close frame, parsed by tungstenite.
    let Message::Close(Some(close)) = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap()
    else {
        panic!("expected a Close frame with a code");
    };
    assert_eq!(close.code, CloseCode::Normal);
    assert_eq!(close.reason.as_str(), handshake::CLOSE_REASON);
    // tungstenite answers the Close; then our server closes TCP and the
    // stream ends without error.
    assert!(timeout(WAIT, ws.next()).await.unwrap().is_none());

    stop.send(()).unwrap();
    timeout(WAIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn our_client_against_a_tungstenite_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        ws.send(Message::text("hello")).await.unwrap();
        ws.close(None).await.unwrap();
    });

    let mut stream = TcpStream::connect(addr).await.unwrap();
    let done = timeout(
        WAIT,
        handshake::client_handshake(&mut stream, &addr.to_string(), "/ws"),
    )
    .await
    .unwrap()
    .expect("our client accepted tungstenite's 101");
    assert_eq!(done.response.status, 101);
    // The server's first frames: an unmasked text "hello", then Close.
    let mut bytes = done.leftover;
    while bytes.len() < 9 {
        timeout(WAIT, stream.read_buf(&mut bytes))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(&bytes[..7], b"\x81\x05hello");
    assert_eq!(&bytes[7..9], b"\x88\x00");
    timeout(WAIT, server).await.unwrap().unwrap();
}

/// A fake server that answers whatever `response` says.
async fn fake_server(response: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = handshake::read_head(&mut stream, handshake::Limits::default()).await;
        stream.write_all(response.as_bytes()).await.unwrap();
        let _ = stream.shutdown().await;
    });
    addr
}

#[tokio::test]
async fn our_client_refuses_a_wrong_accept_and_a_refusal() {
    let addr = fake_server(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    )
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let err = timeout(WAIT, handshake::client_handshake(&mut stream, "x", "/ws"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, handshake::ClientError::WrongAccept { .. }),
        "{err}"
    );

    let addr = fake_server("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n").await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let err = timeout(WAIT, handshake::client_handshake(&mut stream, "x", "/ws"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            handshake::ClientError::NotSwitching { status: 426, .. }
        ),
        "{err}"
    );
}
