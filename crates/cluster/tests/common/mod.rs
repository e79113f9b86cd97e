//! What the cluster tests share: a real redis-server of their own on a free
//! port (or one loud line saying the tests were skipped), instances of the
//! shared room on port-0 listeners, and a page's side of the chat protocol.
#![allow(dead_code)] // each test crate uses a different subset

// A page's side of the protocol: lesson 5's tests', the same here.
#[path = "../../../chatroom/tests/common/page.rs"]
mod page;
pub use page::*;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use chatroom::{Config, Hall, JoinError, Membership, Server, Since, Unavailable};
use cluster::{PREFIX, SharedRoom};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;

/// The longest any step may take: generous for slow CI machines, never
/// reached when things work.
pub const WAIT: Duration = Duration::from_secs(30);

/// Set to 1 (CI does) to make a missing redis-server a failure.
pub const REQUIRE_ENV: &str = "REQUIRE_REDIS";

/// Set to 1 (CI does) to make a missing nginx (or openssl) a failure.
pub const REQUIRE_NGINX_ENV: &str = "REQUIRE_NGINX";

/// The project's nginx configuration, which the tests run as it is but for
/// the ports and the servers (see [`Nginx::start`]).
pub const NGINX_CONF: &str = include_str!("../../../../deploy/nginx.conf");

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

    /// Sends it a signal by name (`STOP` freezes it, `CONT` thaws it).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("redis-server is running");
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Kills it and waits until it is gone.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn skip<T>(why: &str) -> Option<T> {
    skip_loudly("Redis", REQUIRE_ENV, "redis-server", why)
}

/// Skips a test whose real server is missing, with one loud line per test
/// binary, or panics when `require` is set to 1.
fn skip_loudly<T>(what: &str, require: &str, package: &str, why: &str) -> Option<T> {
    if std::env::var_os(require).is_some_and(|v| v == "1") {
        panic!(
            "{require}=1 but the {what} tests cannot run: {why}. Install with: apt-get install {package}"
        );
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let line = format!(
            "\n*** {what} tests SKIPPED: {why}. Install with `apt-get install {package}`; {require}=1 makes this a failure.\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
    None
}

/// The settings of a server behind nginx: it believes nginx (and only
/// nginx, on 127.0.0.1) about who the client is.
pub fn behind_nginx() -> Config {
    Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
    }
}

/// A redis-server, when the browser tests can run too: `None` (after the
/// loud line of whichever is missing) otherwise.
pub async fn redis_and_browser() -> Option<Redis> {
    if browser::skip_if_unavailable() {
        return None;
    }
    Redis::start().await
}

/// nginx of the test's own, with `deploy/nginx.conf`, a certificate made
/// for 127.0.0.1 at start, and everything in a scratch folder; stopped and
/// cleaned up when dropped.
pub struct Nginx {
    pub port: u16,
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Nginx {
    /// Starts nginx on a free port in front of `servers`, with
    /// `deploy/nginx.conf`: only its `listen` port and its upstream's
    /// servers are changed. `None` (after one loud line) when there is no
    /// nginx or openssl to run, unless `REQUIRE_NGINX=1`: then it panics.
    pub async fn start(servers: &[SocketAddr]) -> Option<Nginx> {
        let dir =
            std::env::temp_dir().join(format!("cluster-nginx-{:016x}", rand::random::<u64>()));
        for sub in ["tls", "logs", "temp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("tls/key.pem"))
            .arg("-out")
            .arg(dir.join("tls/cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !made.is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_dir_all(&dir);
            let why = "openssl cannot make a certificate";
            return skip_loudly("nginx", REQUIRE_NGINX_ENV, "openssl nginx", why);
        }
        let program = ["nginx", "/usr/sbin/nginx"].into_iter().find(|p| {
            std::process::Command::new(p)
                .arg("-v")
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
        let Some(program) = program else {
            let _ = std::fs::remove_dir_all(&dir);
            return skip_loudly("nginx", REQUIRE_NGINX_ENV, "nginx", "no nginx to run");
        };
        let port = free_port().await;
        std::fs::write(dir.join("nginx.conf"), configure(port, servers)).unwrap();
        let child = std::process::Command::new(program)
            .arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let nginx = Nginx { port, child, dir };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            sleep(Duration::from_millis(20)).await;
        }
        Some(nginx)
    }

    /// The page's address through nginx.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

/// `deploy/nginx.conf` listening on `port`, in front of `servers`.
fn configure(port: u16, servers: &[SocketAddr]) -> String {
    let listen = "listen 127.0.0.1:8443 ssl;";
    assert!(
        NGINX_CONF.contains(listen),
        "deploy/nginx.conf has no `{listen}`"
    );
    let conf = NGINX_CONF.replace(listen, &format!("listen 127.0.0.1:{port} ssl;"));
    let mut lines = Vec::new();
    let mut replaced = false;
    for line in conf.lines() {
        if line.trim_start().starts_with("server 127.0.0.1:901") {
            if !replaced {
                for server in servers {
                    lines.push(format!(
                        "        server {server} max_fails=1 fail_timeout=2s;"
                    ));
                }
                replaced = true;
            }
        } else {
            lines.push(line.to_owned());
        }
    }
    assert!(
        replaced,
        "deploy/nginx.conf lists no `server 127.0.0.1:901x`"
    );
    lines.join("\n")
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then itself (a SIGKILL
        // would leave the workers running).
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

/// An instance on a runtime and threads of its own: [`Isolated::kill`]
/// ends every task it has at once, its connections' included, as the
/// process dying would. Its sockets close; nothing is said to Redis.
pub struct Isolated {
    pub addr: SocketAddr,
    pub room: Arc<SharedRoom>,
    hung: Arc<AtomicBool>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The shared room, but its `say` can be made to hang for good: a server
/// in trouble just before it dies, which has read a page's message and
/// will never pass it on.
#[derive(Debug)]
struct Hangable {
    room: Arc<SharedRoom>,
    hung: Arc<AtomicBool>,
}

impl Hall for Hangable {
    fn join<'a>(
        &'a self,
        nick: &'a str,
        key: Option<&'a str>,
        since: Option<Since>,
    ) -> BoxFuture<'a, Result<Membership, JoinError>> {
        self.room.join(nick, key, since)
    }

    fn say<'a>(&'a self, id: u64, text: &'a str) -> BoxFuture<'a, Result<(), Unavailable>> {
        if self.hung.load(Ordering::SeqCst) {
            Box::pin(std::future::pending())
        } else {
            self.room.say(id, text)
        }
    }

    fn leave(&self, id: u64) -> BoxFuture<'_, ()> {
        self.room.leave(id)
    }
}

impl Isolated {
    pub async fn start(redis: &Redis, config: Config) -> Isolated {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let url = redis.url();
        let (started, running) = tokio::sync::oneshot::channel();
        let hung = Arc::new(AtomicBool::new(false));
        let hall_hung = Arc::clone(&hung);
        runtime.spawn(async move {
            let room = SharedRoom::connect(&url, PREFIX, config.queue_capacity)
                .await
                .expect("the room reaches Redis");
            while !room.is_up() {
                sleep(Duration::from_millis(10)).await;
            }
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _ = started.send((listener.local_addr().unwrap(), room.clone()));
            let hall = Arc::new(Hangable {
                room,
                hung: hall_hung,
            });
            Server::with_hall(listener, config, hall)
                .run(std::future::pending::<()>())
                .await;
        });
        let (addr, room) = timeout(WAIT, running).await.unwrap().unwrap();
        Isolated {
            addr,
            room,
            hung,
            runtime: Some(runtime),
        }
    }

    /// From now on, what its pages say is read and never passed on.
    pub fn hang_says(&self) {
        self.hung.store(true, Ordering::SeqCst);
    }

    /// Ends it at once.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The cluster program with one instance on a free port: its child and
/// the address it printed.
pub async fn program(redis: &Redis) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster"))
        .args(["--redis", &redis.url(), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
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
