//! Test servers on 127.0.0.1:0: a tokio-tungstenite echo server, and
//! variants that misbehave in one chosen way each; broadcast servers in
//! [`relay`].

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod relay;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use loadgen::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// The longest any test waits for anything.
pub const WAIT: Duration = Duration::from_secs(10);

/// How a test server answers each text or binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Echoes it: the reference behaviour.
    Echo,
    /// Echoes it with its last byte changed.
    Corrupt,
    /// Sends a ping, then echoes the message in two fragments: legal, and
    /// a client must cope.
    PingThenFragments,
    /// Echoes `n` messages, then sends Close and hangs up.
    CloseAfter(usize),
    /// Sends Close right after the handshake and hangs up.
    HangUpAtOnce,
}

/// A running test server; stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// WebSocket connections past their handshake and not yet gone.
    pub live: Arc<AtomicUsize>,
    /// Pongs received.
    pub pongs: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// `ws://127.0.0.1:PORT/ws`.
    pub fn target(&self) -> Target {
        Target::parse(&format!("ws://{}/ws", self.addr)).unwrap()
    }

    /// Waits until `live` is `n`.
    pub async fn wait_live(&self, n: usize) {
        wait_for(|| self.live.load(Ordering::SeqCst) == n)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "expected {n} live connections, have {}",
                    self.live.load(Ordering::SeqCst)
                )
            });
    }
}

/// Polls `ready` every few milliseconds, for at most [`WAIT`].
pub async fn wait_for(mut ready: impl FnMut() -> bool) -> Result<(), tokio::time::error::Elapsed> {
    tokio::time::timeout(WAIT, async {
        while !ready() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Bounds a future by [`WAIT`].
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {WAIT:?}"))
}

/// Counts a connection as live while it exists.
struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    fn enter(live: &Arc<AtomicUsize>) -> LiveGuard {
        live.fetch_add(1, Ordering::SeqCst);
        LiveGuard(Arc::clone(live))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts a tokio-tungstenite server with `behaviour` on 127.0.0.1:0.
pub async fn start(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let pongs = Arc::new(AtomicUsize::new(0));
    let (l, p) = (Arc::clone(&live), Arc::clone(&pongs));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, behaviour, Arc::clone(&l), Arc::clone(&p)));
        }
    });
    Server {
        addr,
        live,
        pongs,
        task,
    }
}

async fn serve(
    stream: TcpStream,
    behaviour: Behaviour,
    live: Arc<AtomicUsize>,
    pongs: Arc<AtomicUsize>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let _live = LiveGuard::enter(&live);
    if behaviour == Behaviour::HangUpAtOnce {
        let _ = ws.close(None).await;
        return;
    }
    let mut echoed = 0;
    // tungstenite answers pings and the closing handshake by itself; the
    // stream ends after the close.
    while let Some(Ok(message)) = ws.next().await {
        let reply = match message {
            Message::Pong(_) => {
                pongs.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            Message::Text(_) | Message::Binary(_) => message,
            _ => continue,
        };
        let sent = match behaviour {
            Behaviour::Echo => ws.send(reply).await,
            Behaviour::Corrupt => {
                let mut text = reply.into_text().unwrap().to_string();
                let last = text.pop().map_or('x', |c| if c == 'x' { 'y' } else { 'x' });
                text.push(last);
                ws.send(Message::text(text)).await
            }
            Behaviour::PingThenFragments => {
                let data = reply.into_data();
                let half = data.len() / 2; // our text is ASCII: any cut is a char boundary
                let first = Frame::message(data.slice(..half), OpCode::Data(Data::Text), false);
                let rest = Frame::message(data.slice(half..), OpCode::Data(Data::Continue), true);
                async {
                    ws.send(Message::Ping("heartbeat".into())).await?;
                    ws.send(Message::Frame(first)).await?;
                    ws.send(Message::Frame(rest)).await
                }
                .await
            }
            Behaviour::CloseAfter(n) if echoed == n => {
                let _ = ws.close(None).await;
                return;
            }
            Behaviour::CloseAfter(_) => ws.send(reply).await,
            Behaviour::HangUpAtOnce => unreachable!("handled above"),
        };
        if sent.is_err() {
            return;
        }
        echoed += 1;
    }
}

/// A server that is not a WebSocket server: it answers every request 404.
pub async fn start_http_404() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    (addr, task)
}

/// A loopback address nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
