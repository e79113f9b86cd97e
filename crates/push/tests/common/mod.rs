//! What the push tests share: the server on a port-0 listener with a
//! shutdown the test controls, a tokio-tungstenite client, and a raw one
//! (lesson 1's request, lesson 2's codec) for bytes no library would send.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use frame::{CloseCode, CloseFrame, Decoder, Frame, OpCode, Role, encode};
use futures_util::StreamExt;
use push::{Config, Push};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The longest any one step may take. Tests that pause the clock reach it
/// in no real time at all when something is wrong; the others only when a
/// machine is very slow. Longer than any deadline of the server's.
pub const WAIT: Duration = Duration::from_secs(60);

/// The masking key of RFC 6455 §5.7, for reproducible client frames.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A tokio-tungstenite client connection.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Our server on 127.0.0.1:0, with its gauge, until the test stops it.
pub struct Running {
    pub addr: SocketAddr,
    pub live: support::LiveConnections,
    pub config: Config,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

/// Starts the server with `config`.
pub async fn serve(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_on(listener, config).await
}

/// Starts the server with `config` on a listener the test made.
pub async fn serve_on(listener: tokio::net::TcpListener, config: Config) -> Running {
    let addr = listener.local_addr().unwrap();
    let live = support::LiveConnections::new();
    let shutdown = CancellationToken::new();
    let stopped = shutdown.clone().cancelled_owned();
    let task = tokio::spawn(push::serve(listener, config, live.clone(), stopped));
    Running {
        addr,
        live,
        config,
        shutdown,
        task,
    }
}

impl Running {
    /// `ws://…/ws`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A tokio-tungstenite client, connected and upgraded.
    pub async fn client(&self) -> Client {
        let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(self.url()))
            .await
            .expect("connect in time")
            .expect("our server accepts a WebSocket");
        ws
    }

    /// What Ctrl-C does in `main`.
    pub fn press_ctrl_c(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the gauge reads `n`.
    pub async fn live_is(&self, n: usize) {
        timeout(WAIT, self.live.wait_until(n))
            .await
            .unwrap_or_else(|_| panic!("{} connections live, expected {n}", self.live.get()));
    }

    /// Checks that no connection is left, then stops.
    pub async fn finish(self) {
        self.live_is(0).await;
        self.stop().await;
    }

    /// Shuts down and waits until `run` has returned.
    pub async fn stop(self) {
        self.shutdown.cancel();
        timeout(WAIT, self.task)
            .await
            .expect("run returns after shutdown")
            .unwrap();
    }
}

/// The next pushed message; pings are answered by tokio-tungstenite.
pub async fn next_push<S>(ws: &mut WebSocketStream<S>) -> Push
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match timeout(WAIT, ws.next()).await.expect("a push in time") {
            Some(Ok(Message::Text(text))) => {
                return Push::from_json(&text).unwrap_or_else(|| panic!("not a push: {text}"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a push, got {other:?}"),
        }
    }
}

/// Reads (and answers pings) until the server's Close, and returns it;
/// then the end of the stream must follow.
pub async fn expect_close<S>(ws: &mut WebSocketStream<S>) -> (u16, String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match timeout(WAIT, ws.next()).await.expect("a Close in time") {
            Some(Ok(Message::Close(Some(close)))) => {
                let got = (u16::from(close.code), close.reason.to_string());
                // tungstenite answers the Close; the server then closes TCP.
                let end = timeout(WAIT, ws.next()).await.expect("the end in time");
                assert!(end.is_none(), "nothing after the Close: {end:?}");
                return got;
            }
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a Close, got {other:?}"),
        }
    }
}

/// Raw bytes to the server: an opening handshake request (lesson 1's
/// client request) with `behind` sent in the same write, right behind it.
pub async fn raw_upgrade(addr: SocketAddr, behind: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let key = handshake::generate_key();
    let mut bytes = handshake::client_request(&addr.to_string(), "/ws", &key).into_bytes();
    bytes.extend_from_slice(behind);
    stream.write_all(&bytes).await.unwrap();
    stream
}

/// Sends `request` as is and returns everything the server sends back
/// until it closes the connection.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_end(&mut stream).await
}

/// Everything until the server closes TCP.
pub async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("the server closes in time")
        .expect("a clean close, not a reset");
    out
}

/// Splits what a server sent into its 101 head and the frames after it.
pub fn head_and_frames(bytes: &[u8]) -> (String, Vec<Frame>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let mut rest = BytesMut::from(&bytes[end..]);
    let mut decoder = Decoder::new(Role::Client);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut rest).expect("valid server frames") {
        frames.push(frame);
    }
    assert!(rest.is_empty(), "half a frame at the end: {rest:?}");
    (head, frames)
}

/// The frames that are not pushes (text) or pings.
pub fn replies(frames: Vec<Frame>) -> Vec<Frame> {
    frames
        .into_iter()
        .filter(|f| !matches!(f.opcode, OpCode::Text | OpCode::Ping))
        .collect()
}

/// Frames as a client must send them, masked (RFC 6455 §5.3), one after
/// the other.
pub fn client_bytes(frames: impl IntoIterator<Item = Frame>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for frame in frames {
        encode(&frame.with_mask(KEY), &mut buf);
    }
    buf.to_vec()
}

/// Upgrades with `behind` glued to the request, reads until the server
/// closes, and returns the code of the one Close it sent (pushes and pings
/// aside).
pub async fn close_code_for(addr: SocketAddr, behind: &[u8]) -> u16 {
    let mut stream = raw_upgrade(addr, behind).await;
    let (head, frames) = head_and_frames(&read_to_end(&mut stream).await);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let replies = replies(frames);
    assert_eq!(replies.len(), 1, "one Close and nothing else: {replies:?}");
    close_code(&replies[0])
}

/// A Close frame with a code and a reason.
pub fn close(code: CloseCode, reason: &str) -> Frame {
    Frame::close(Some(CloseFrame::new(code, reason)))
}

/// The code of a Close frame.
pub fn close_code(frame: &Frame) -> u16 {
    assert_eq!(frame.opcode, OpCode::Close, "expected a Close: {frame:?}");
    CloseFrame::parse(&frame.payload)
        .unwrap()
        .expect("a Close with a code")
        .code
        .as_u16()
}

/// Asserts that `took` is `expected`, give or take a few milliseconds of
/// scheduling (with a paused clock it is exact).
pub fn assert_about(took: Duration, expected: Duration) {
    let slack = Duration::from_millis(50);
    assert!(
        took + slack >= expected && took <= expected + slack,
        "took {took:?}, expected {expected:?}"
    );
}
