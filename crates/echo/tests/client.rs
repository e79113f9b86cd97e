//! Our client side (`WebSocket::client` after lesson 1's client handshake)
//! against a server we did not write, tokio-tungstenite's, and against raw
//! bytes: it masks every frame with a fresh key, refuses a masked frame,
//! and lets the server close TCP first.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use common::WAIT;
use echo::{CloseCode, CloseFrame, Error, Message, WebSocket, WebSocketConfig};
use frame::{Decoder, Frame, FrameError, OpCode, Role, encode};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Connects our client to `addr` (path `/`).
async fn client(addr: SocketAddr) -> WebSocket<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let done = timeout(
        WAIT,
        handshake::client_handshake(&mut stream, &addr.to_string(), "/"),
    )
    .await
    .unwrap()
    .expect("the server accepts our handshake");
    WebSocket::client(stream, &done.leftover, WebSocketConfig::default())
}

/// A listener and the address it has.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts one connection and completes lesson 1's server handshake on it.
async fn raw_server(listener: &TcpListener) -> (TcpStream, BytesMut) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let upgraded = handshake::accept(&mut stream, handshake::Limits::default())
        .await
        .unwrap();
    (stream, BytesMut::from(&upgraded.request.leftover[..]))
}

/// The next frame from a client, decoded as a server must (masked only).
async fn read_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> Frame {
    let mut decoder = Decoder::new(Role::Server);
    loop {
        if let Some(frame) = decoder.decode(buf).expect("a well-formed client frame") {
            return frame;
        }
        let read = timeout(WAIT, stream.read_buf(buf)).await.unwrap().unwrap();
        assert_ne!(read, 0, "the client closed before its frame");
    }
}

#[tokio::test]
async fn our_client_talks_to_tungstenites_server() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let mut close = None;
        while let Some(message) = ws.next().await {
            match message.unwrap() {
                tokio_tungstenite::tungstenite::Message::Close(frame) => close = frame,
                message if message.is_text() || message.is_binary() => {
                    ws.send(message).await.unwrap()
                }
                _ => {}
            }
        }
        close.map(|frame| u16::from(frame.code))
    });
    let mut ws = client(addr).await;
    let big: Vec<u8> = (0..70_000).map(|i| (i * 7) as u8).collect();
    for message in [
        Message::Text("héllo 👋".into()),
        Message::Binary(big.into()),
        Message::Text("".into()),
    ] {
        ws.send(message.clone()).await.unwrap();
        let echo = timeout(WAIT, ws.recv()).await.unwrap().unwrap();
        assert_eq!(echo, Some(message));
    }
    timeout(WAIT, ws.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap()
        .unwrap();
    assert!(ws.is_closed());
    assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode::NORMAL));
    let seen = timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(seen, Some(1000), "tungstenite saw our Close 1000");
}

#[tokio::test]
async fn every_frame_is_masked_with_a_new_key() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, mut buf) = raw_server(&listener).await;
        let mut keys = Vec::new();
        for _ in 0..3 {
            // Role::Server's decoder refuses an unmasked frame, and unmasks.
            let frame = read_frame(&mut stream, &mut buf).await;
            assert_eq!(frame.payload, "same text, same key?");
            keys.push(frame.mask.expect("masked"));
        }
        keys
    });
    let mut ws = client(addr).await;
    for _ in 0..3 {
        ws.send(Message::Text("same text, same key?".into()))
            .await
            .unwrap();
    }
    let keys = timeout(WAIT, server).await.unwrap().unwrap();
    assert!(
        keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
        "{keys:x?}"
    );
}

#[tokio::test]
async fn a_masked_frame_from_the_server_fails_the_client_with_1002() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, mut buf) = raw_server(&listener).await;
        let mut wire = BytesMut::new();
        encode(&Frame::text("masked!").with_mask([1, 2, 3, 4]), &mut wire);
        stream.write_all(&wire).await.unwrap();
        let close = read_frame(&mut stream, &mut buf).await;
        assert_eq!(close.opcode, OpCode::Close);
        CloseFrame::parse(&close.payload).unwrap().unwrap().code
    });
    let mut ws = client(addr).await;
    let error = timeout(WAIT, ws.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Frame(FrameError::MaskedServerFrame)),
        "{error:?}"
    );
    let code = timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(code, CloseCode::PROTOCOL_ERROR);
}

#[tokio::test]
async fn the_client_lets_the_server_close_tcp_first() {
    let (listener, addr) = listener().await;
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (mut stream, mut buf) = raw_server(&listener).await;
        let close = read_frame(&mut stream, &mut buf).await;
        assert_eq!(close.opcode, OpCode::Close);
        let mut wire = BytesMut::new();
        encode(&Frame::close(None), &mut wire);
        stream.write_all(&wire).await.unwrap();
        // Both Close frames have crossed. The client must not close TCP
        // now: it waits for us.
        let mut rest = [0u8; 16];
        let early = timeout(Duration::from_millis(300), stream.read(&mut rest)).await;
        assert!(early.is_err(), "the client closed TCP first: {early:?}");
        assert!(
            matches!(
                closed_rx.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            ),
            "close() returned before our FIN"
        );
        // Our FIN; then the client's.
        stream.shutdown().await.unwrap();
        let end = timeout(WAIT, stream.read(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(end, 0);
    });
    let mut ws = client(addr).await;
    let closing = async {
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        drop(closed_tx);
    };
    timeout(WAIT, closing).await.unwrap();
    timeout(WAIT, server).await.unwrap().unwrap();
}
