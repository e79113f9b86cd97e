//! Helpers shared by the integration tests: the server on a port-0 listener,
//! and a raw client made of lesson 1's client handshake and lesson 2's codec,
//! for sending exactly the bytes a test needs.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use echo::{Config, Server};
use frame::{CloseCode, CloseFrame, Decoder, Frame, OpCode, Role, encode};
use support::LiveConnections;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any single step of a test may take: generous, because CI
/// machines are slow, and never reached when things work.
pub const WAIT: Duration = Duration::from_secs(30);

/// The masking key of RFC 6455 §5.7. A real client picks a fresh random key
/// per frame (§5.3); a fixed one keeps the bytes of a test reproducible.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Our server, running on 127.0.0.1:0 until `stop`.
pub struct TestServer {
    pub addr: SocketAddr,
    pub live: LiveConnections,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(listener).with_config(config);
        let live = server.live_connections();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            live,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Asks the server to shut down, without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts the server down and waits until `run` has returned.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        timeout(WAIT, self.task)
            .await
            .expect("the server did not stop")
            .unwrap();
    }

    /// The client leaves (TCP closed, after a close handshake or not); the
    /// server must let go of it, and then stop.
    pub async fn stop_after(self, client: RawClient) {
        drop(client);
        self.all_gone().await;
        self.stop().await;
    }

    /// Waits until no connection is left: every task has ended.
    pub async fn all_gone(&self) {
        timeout(WAIT, self.live.wait_until(0))
            .await
            .unwrap_or_else(|_| panic!("{} connections left behind", self.live.get()));
    }
}

/// Our server, and a raw client connected to it.
pub async fn connected() -> (TestServer, RawClient) {
    let server = TestServer::start().await;
    let client = RawClient::connect(server.addr).await;
    (server, client)
}

/// A client that speaks raw frames: lesson 1's handshake, lesson 2's codec.
pub struct RawClient {
    pub stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl RawClient {
    /// Connects and completes the opening handshake.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient::connect_offering(addr, false).await.0
    }

    /// Connects, offering permessage-deflate if `deflate`; returns what the
    /// server agreed to, and a client that accepts compressed frames then.
    pub async fn connect_offering(
        addr: SocketAddr,
        deflate: bool,
    ) -> (RawClient, Option<handshake::DeflateParams>) {
        let mut stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        let done = timeout(
            WAIT,
            handshake::client_handshake_offering(&mut stream, &addr.to_string(), "/ws", deflate),
        )
        .await
        .unwrap()
        .expect("our server completes the handshake");
        let decoder = match done.deflate {
            Some(_) => Decoder::new(Role::Client).with_compression(),
            None => Decoder::new(Role::Client),
        };
        let client = RawClient {
            stream,
            buf: done.leftover,
            decoder,
        };
        (client, done.deflate)
    }

    /// Sends bytes exactly as given.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .unwrap()
            .unwrap();
    }

    /// Sends a frame, masked as a client must (RFC 6455 §5.3).
    pub async fn send(&mut self, frame: Frame) {
        self.send_raw(&masked(frame)).await;
    }

    /// Sends a text message and expects it back, in one frame.
    pub async fn echo(&mut self, text: &str) {
        self.send(Frame::text(text)).await;
        assert_eq!(self.expect_frame().await, Frame::text(text));
    }

    /// The next frame from the server; `None` once it has closed TCP.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(frame);
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("the server neither sent a frame nor closed")
                .unwrap_or(0); // a reset is an end too
            if n == 0 {
                assert!(self.buf.is_empty(), "the server stopped mid-frame");
                return None;
            }
        }
    }

    /// The next frame, which must be there.
    pub async fn expect_frame(&mut self) -> Frame {
        self.next_frame()
            .await
            .expect("the server closed TCP instead of sending a frame")
    }

    /// Reads the server's Close, which must carry `code`, and then the end
    /// of the stream (the server closes TCP first: RFC 6455 §7.1.1). Returns
    /// the Close's reason.
    pub async fn expect_close(&mut self, code: CloseCode) -> String {
        let frame = self.expect_frame().await;
        assert_eq!(frame.opcode, OpCode::Close, "expected Close, got {frame:?}");
        let close = CloseFrame::parse(&frame.payload)
            .unwrap()
            .expect("a Close with a code");
        assert_eq!(close.code, code, "close reason: {}", close.reason);
        self.expect_end().await;
        close.reason
    }

    /// The server has closed TCP (after this, nothing more may come).
    pub async fn expect_end(&mut self) {
        assert_eq!(self.next_frame().await, None, "no frame after the Close");
    }
}

/// A frame as a client writes it: masked with [`KEY`].
pub fn masked(frame: Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(&frame.with_mask(KEY), &mut buf);
    buf.to_vec()
}

/// The bytes of a client's Close frame.
pub fn close_frame(code: CloseCode, reason: &str) -> Frame {
    Frame::close(Some(CloseFrame::new(code, reason)))
}
