//! What every test of this crate starts with: a server on a free port, with
//! the feed off so that the test publishes, and a way to stop it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::LiveConnections;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use transports::{Config, Log, Quote, Server};

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub log: Arc<Log>,
    pub websockets: LiveConnections,
    pub long_polls: LiveConnections,
    pub streams: LiveConnections,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Asks the server to stop and waits until `run` returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the server stops in time")
                .expect("the server does not panic");
        }
    }

    /// `n` more events, published at once.
    pub fn publish(&self, n: usize) {
        for i in 0..n {
            self.log.append(
                Quote {
                    symbol: "RUST".into(),
                    price_cents: 10_000 + i as u64,
                    change_cents: 1,
                },
                support::unix_millis(),
            );
        }
    }
}

/// The default configuration, without the feed.
pub fn quiet() -> Config {
    Config {
        tick_interval: None,
        ..Config::default()
    }
}

/// Starts a server with `config`.
pub async fn start(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::with_config(listener, config);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = Running {
        addr,
        log: server.log(),
        websockets: server.websockets(),
        long_polls: server.long_polls(),
        streams: server.sse_streams(),
        stop: Some(stop),
        task: None,
    };
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        task: Some(task),
        ..running
    }
}

/// The sequence numbers in a poll's answer, and its `next`.
pub fn batch(body: &[u8]) -> (Vec<u64>, u64) {
    let value: serde_json::Value = serde_json::from_slice(body).expect("a poll answer is JSON");
    let seqs = value["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "price_update");
            e["seq"].as_u64().unwrap()
        })
        .collect();
    (seqs, value["next"].as_u64().expect("next"))
}

/// Asserts that `seqs` is exactly `first..=last`: every event once, in order.
pub fn assert_exactly_once(seqs: &[u64], first: u64, last: u64) {
    let expected: Vec<u64> = (first..=last).collect();
    assert_eq!(
        seqs,
        expected.as_slice(),
        "every event exactly once, in order"
    );
}
