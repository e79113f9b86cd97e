//! Helpers shared by the end-to-end tests: the wiretap and lesson 3's echo
//! on port-0 listeners, a recording fake upstream, and the bytes of a
//! scripted client session.
#![allow(dead_code)] // each test crate uses a different subset

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use frame::{CloseCode, CloseFrame, Frame, encode};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use wiretap::{Event, EventKind, Options};

/// The longest any single step may take: generous for slow CI machines,
/// never reached when things work.
pub const WAIT: Duration = Duration::from_secs(30);

/// The handshake key of RFC 6455 §1.3, so the upstream's 101 is the same
/// on every run.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A server on 127.0.0.1:0 until dropped or stopped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Binds 127.0.0.1:0 and runs `serve(listener, shutdown)` on it.
    pub async fn start<F, Fut>(serve: F) -> Running
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, stopped));
        Running {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Asks the server to stop and waits until its `run` has returned.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(WAIT, &mut self.task)
            .await
            .expect("the server did not stop")
            .unwrap();
    }
}

/// Lesson 3's echo server.
pub async fn echo() -> Running {
    Running::start(|listener, stopped| async move {
        echo::run(listener, stopped).await;
    })
    .await
}

/// The wiretap in front of `upstream`, and the events it reports.
pub async fn tap(upstream: SocketAddr, options: Options) -> (Running, Events) {
    // Room for every event of any test: none may be dropped here.
    let (events, received) = mpsc::channel(100_000);
    let running = Running::start(move |listener, stopped| async move {
        wiretap::run(listener, upstream, options, events, stopped).await;
    })
    .await;
    (running, Events { received })
}

/// The events a tap reports, as they come.
pub struct Events {
    received: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event.
    pub async fn next(&mut self) -> Event {
        timeout(WAIT, self.received.recv())
            .await
            .expect("no event came")
            .expect("the tap stopped")
    }

    /// Every event up to and including the `n`th `End`: `n` connections over.
    pub async fn until_ended(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::new();
        let mut ended = 0;
        while ended < n {
            let event = self.next().await;
            ended += usize::from(matches!(event.kind, EventKind::End { .. }));
            events.push(event);
        }
        events
    }
}

/// The events as the `--json` output has them.
pub fn json(events: &[Event]) -> Vec<Value> {
    events.iter().map(wiretap::to_json).collect()
}

/// The frame events among `events`, as JSON.
pub fn frames(events: &[Event]) -> Vec<Value> {
    json(events)
        .into_iter()
        .filter(|e| e["kind"] == "frame")
        .collect()
}

/// A frame as a client writes it: masked with a key of our choosing (a
/// real client picks a fresh random one, RFC 6455 §5.3; a fixed one keeps a
/// test's bytes the same on every run).
pub fn masked(frame: Frame, key: [u8; 4]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(&frame.with_mask(key), &mut buf);
    buf.to_vec()
}

/// Everything a scripted client sends: the opening handshake, a message in
/// three fragments with a ping between them, a binary message in the 16-bit
/// length form, a text message in the 64-bit form, and a Close.
pub fn scripted_session(host: &str) -> Vec<u8> {
    let mut bytes = handshake::client_request(host, "/ws", KEY).into_bytes();
    for (i, frame) in [
        Frame::text("Hel").with_fin(false),
        Frame::ping("are you there?"),
        Frame::continuation("lo, ").with_fin(false),
        Frame::continuation("world"),
        Frame::binary(vec![7; 300]),
        Frame::text("x".repeat(70_000)),
        Frame::close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))),
    ]
    .into_iter()
    .enumerate()
    {
        bytes.extend(masked(frame, [i as u8, 0x37, 0xfa, 0x21]));
    }
    bytes
}

/// Connects to `addr`, sends `script` in pieces of `piece` bytes and then a
/// FIN, and returns every byte that comes back until the other side closes.
pub async fn converse(addr: SocketAddr, script: &[u8], piece: usize) -> Vec<u8> {
    let stream = timeout(WAIT, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (mut read, mut write) = stream.into_split();
    let script = script.to_vec();
    let writer = tokio::spawn(async move {
        for chunk in script.chunks(piece) {
            write.write_all(chunk).await.unwrap();
        }
        // The peer may have closed already, which is its right.
        let _ = write.shutdown().await;
        write
    });
    let received = read_to_end(&mut read).await;
    let _write = timeout(WAIT, writer).await.unwrap().unwrap();
    received
}

/// Reads until the end of the stream (a reset counts as an end).
pub async fn read_to_end(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    timeout(WAIT, async {
        let mut buf = [0; 8192];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the peer never closed");
    received
}

/// A fake upstream for one connection: once the client's request head is
/// in, it sends `reply` (in pieces of `piece` bytes) while it reads
/// everything until the client's FIN; then it closes. The bytes it received
/// come out of the returned task.
pub async fn recording_upstream(reply: Vec<u8>, piece: usize) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let (head, rest) = timeout(WAIT, handshake::read_head(&mut stream, Default::default()))
            .await
            .unwrap()
            .unwrap();
        let (mut read, mut write) = stream.split();
        let send = async {
            for chunk in reply.chunks(piece) {
                write.write_all(chunk).await.unwrap();
            }
        };
        let (received, ()) = tokio::join!(read_to_end(&mut read), send);
        stream.shutdown().await.unwrap();
        [&head[..], &rest[..], &received[..]].concat()
    });
    (addr, task)
}
