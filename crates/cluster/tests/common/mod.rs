//! What the cluster tests share: a real redis-server of their own on a free
//! port (or one loud line saying the tests were skipped), instances of the
//! shared room on port-0 listeners, and a page's side of the chat protocol.
#![allow(dead_code)] // each test crate uses a different subset

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Once};
use std::time::Duration;

use chatroom::{Config, Server};
use cluster::{PREFIX, SharedRoom};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use tokio_util::sync::CancellationToken;

/// The longest any step may take: generous for slow CI machines, never
/// reached when things work.
pub const WAIT: Duration = Duration::from_secs(30);

/// Set to 1 (CI does) to make a missing redis-server a failure.
pub const REQUIRE_ENV: &str = "REQUIRE_REDIS";

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A redis-server of the test's own, killed when dropped.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Redis {
    /// Starts redis-server on a free port, without persistence. `None`
    /// (after one loud line) when there is no redis-server to start, unless
    /// `REQUIRE_REDIS=1`: then it panics.
    pub async fn start() -> Option<Redis> {
        let port = free_port().await;
        Redis::start_on(port).await
    }

    /// Starts redis-server on `port` (again, after [`Redis::stop`]).
    pub async fn start_on(port: u16) -> Option<Redis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => return skip(&format!("redis-server cannot be started: {e}")),
        };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            sleep(Duration::from_millis(20)).await;
        }
        Some(Redis { port, child })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it and waits until it is gone.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn skip(why: &str) -> Option<Redis> {
    if std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1") {
        panic!(
            "{REQUIRE_ENV}=1 but the Redis tests cannot run: {why}. Install with: apt-get install redis-server"
        );
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let line = format!(
            "\n*** Redis tests SKIPPED: {why}. Install with `apt-get install redis-server`; {REQUIRE_ENV}=1 makes this a failure.\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
    None
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// One instance of the chat server on the shared room, on 127.0.0.1:0.
pub struct Instance {
    pub addr: SocketAddr,
    pub room: Arc<SharedRoom>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Instance {
    pub async fn start(redis: &Redis) -> Instance {
        Instance::start_with(redis, Config::default()).await
    }

    pub async fn start_with(redis: &Redis, config: Config) -> Instance {
        let room = SharedRoom::connect(&redis.url(), PREFIX, config.queue_capacity)
            .await
            .expect("the room reaches Redis");
        let deadline = Instant::now() + WAIT;
        while !room.is_up() {
            assert!(
                Instant::now() < deadline,
                "the room never followed the stream"
            );
            sleep(Duration::from_millis(10)).await;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = Server::with_hall(listener, config, room.clone());
        let task = tokio::spawn(server.run(stop.clone().cancelled_owned()));
        Instance {
            addr,
            room,
            stop,
            task,
        }
    }

    /// Stops it as Ctrl-C would: every page gets 1001.
    pub async fn stop(self) {
        self.stop.cancel();
        timeout(WAIT, self.task).await.unwrap().unwrap();
    }

    /// Kills it: its sockets vanish, and nothing is said to Redis (its
    /// room's tasks stop, and its `alive` key is left to expire).
    pub fn kill(self) {
        self.task.abort();
        drop(self.room);
    }
}

pub async fn connect(addr: SocketAddr) -> Client {
    let (ws, _) = timeout(WAIT, connect_async(format!("ws://{addr}/ws")))
        .await
        .expect("connected in time")
        .expect("upgrade accepted");
    ws
}

pub async fn send(ws: &mut Client, value: Value) {
    timeout(WAIT, ws.send(Message::text(value.to_string())))
        .await
        .expect("sent in time")
        .expect("sent");
}

/// The next JSON message (pings and pongs skipped), or the Close.
pub async fn next(ws: &mut Client) -> Result<Value, Option<CloseFrame>> {
    loop {
        let message = timeout(WAIT, ws.next()).await.expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Some(Ok(Message::Close(frame))) => return Err(frame),
            Some(Ok(_)) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

pub async fn recv(ws: &mut Client) -> Value {
    next(ws).await.expect("a message, not a Close")
}

/// The next message of type `kind`, skipping others.
pub async fn recv_kind(ws: &mut Client, kind: &str) -> Value {
    loop {
        let value = recv(ws).await;
        if value["type"] == kind {
            return value;
        }
    }
}

/// Joins as `nick` on `addr` with `extra` fields in the join; returns the
/// client and the answer: its welcome, an error, or (as
/// `{"type":"closed","code":N}`) the server's Close.
pub async fn join_with(addr: SocketAddr, nick: &str, extra: Value) -> (Client, Value) {
    let mut ws = connect(addr).await;
    let mut join = json!({"type": "join", "nick": nick});
    if let (Some(join), Some(extra)) = (join.as_object_mut(), extra.as_object()) {
        join.extend(extra.clone());
    }
    send(&mut ws, join).await;
    let answer = match next(&mut ws).await {
        Ok(answer) => answer,
        Err(close) => json!({"type": "closed", "code": close.map(|c| u16::from(c.code))}),
    };
    (ws, answer)
}

pub async fn joined(addr: SocketAddr, nick: &str) -> (Client, Value) {
    let (ws, welcome) = join_with(addr, nick, json!({})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}

pub fn say(text: &str) -> Value {
    json!({"type": "say", "text": text})
}
