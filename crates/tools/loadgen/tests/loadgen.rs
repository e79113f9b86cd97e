//! The generator against real servers on 127.0.0.1:0: a tokio-tungstenite
//! echo server, and variants that echo wrong, fragment, ping, hang up, or
//! are not WebSocket servers at all. Nothing here asserts a speed: these
//! machines are shared, and a benchmark is `scripts/bench-echo.sh`'s job.

mod common;

use std::time::Duration;

use common::{Behaviour, bounded, closed_port, start, start_http_404};
use loadgen::{EchoOptions, EchoReport, IdleOptions, IdleSet, Target, run_echo, run_idle};

/// CPU time and memory come from Linux's `/proc`; elsewhere they are `None`.
fn on_linux() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

fn echo_options(target: Target, connections: usize) -> EchoOptions {
    EchoOptions {
        target,
        connections,
        size: 20,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        server_pid: None,
        syscalls: false,
        client: loadgen::ClientCodec::Ours,
    }
}

async fn echo(options: EchoOptions) -> EchoReport {
    bounded("the echo run", run_echo(&options))
        .await
        .expect("4 connections fit any fd limit")
}

#[tokio::test]
async fn short_run_reports_messages_no_errors_and_ordered_percentiles() {
    let server = start(Behaviour::Echo).await;
    let mut options = echo_options(server.target(), 4);
    // The test server runs in this process: weigh it by our own pid.
    options.server_pid = Some(std::process::id());
    let report = echo(options).await;

    assert_eq!(report.connected, 4);
    assert!(report.errors.is_empty(), "{}", report.errors);
    assert!(report.messages > 0, "{report}");
    assert!(report.msgs_per_sec() > 0.0);
    let l = report.latency.expect("messages were recorded");
    assert!(
        l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
        "{l:?}"
    );
    if on_linux() {
        assert!(report.server_cpu.is_some() && report.loadgen_cpu.is_some());
    }

    // Every connection went through the closing handshake.
    server.wait_live(0).await;
}

#[tokio::test]
async fn tungstenite_s_codec_runs_the_same_loop() {
    for behaviour in [Behaviour::Echo, Behaviour::PingThenFragments] {
        let server = start(behaviour).await;
        let mut options = echo_options(server.target(), 4);
        options.client = loadgen::ClientCodec::Tungstenite;
        let report = echo(options).await;
        assert_eq!(report.connected, 4);
        assert!(report.errors.is_empty(), "{}", report.errors);
        assert!(report.messages > 0, "{report}");
        assert_eq!(report.to_json()["client"], "tungstenite");
        // It closed properly too.
        server.wait_live(0).await;
    }
    // A wrong echo is told apart by either codec.
    let server = start(Behaviour::Corrupt).await;
    let mut options = echo_options(server.target(), 2);
    options.client = loadgen::ClientCodec::Tungstenite;
    let report = echo(options).await;
    assert_eq!(report.messages, 0);
    assert!(report.errors.count("mismatch") > 0, "{}", report.errors);
}

#[tokio::test]
async fn wrong_echo_is_counted_and_never_recorded() {
    let server = start(Behaviour::Corrupt).await;
    let report = echo(echo_options(server.target(), 2)).await;

    assert_eq!(report.connected, 2);
    assert_eq!(report.messages, 0, "a wrong echo is not a round trip");
    assert!(report.latency.is_none());
    assert!(report.errors.count("mismatch") > 0, "{}", report.errors);
    assert_eq!(report.errors.total(), report.errors.count("mismatch"));
    let json = report.to_json();
    let example = json["error_kinds"]["mismatch"]["example"].as_str().unwrap();
    assert!(example.starts_with("sent 20 B of text \""), "{example}");
    assert!(example.contains("got 20 B of text"), "{example}");
}

#[tokio::test]
async fn pings_and_fragmented_echoes_are_handled() {
    let server = start(Behaviour::PingThenFragments).await;
    let report = echo(echo_options(server.target(), 2)).await;

    assert!(report.errors.is_empty(), "{}", report.errors);
    assert!(report.messages > 0);
    // Every ping was answered with a pong.
    common::wait_for(|| server.pongs.load(std::sync::atomic::Ordering::SeqCst) > 0)
        .await
        .expect("pongs arrive");
}

#[tokio::test]
async fn a_server_hanging_up_mid_run_is_counted_per_connection() {
    let server = start(Behaviour::CloseAfter(3)).await;
    let report = echo(echo_options(server.target(), 3)).await;

    assert_eq!(report.connected, 3);
    assert_eq!(report.errors.count("server-close"), 3, "{}", report.errors);
    assert_eq!(report.errors.total(), 3);
}

#[tokio::test]
async fn refused_connections_are_counted_not_fatal() {
    let addr = closed_port().await;
    let target = Target::parse(&format!("ws://{addr}/ws")).unwrap();
    let report = echo(echo_options(target, 3)).await;

    assert_eq!(report.connected, 0);
    assert_eq!(report.errors.count("refused"), 3, "{}", report.errors);
    assert_eq!((report.messages, report.latency), (0, None));
    assert_eq!(report.to_json()["p50_us"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_server_that_does_not_upgrade_fails_the_handshake() {
    let (addr, _server) = start_http_404().await;
    let target = Target::parse(&format!("ws://{addr}/ws")).unwrap();
    let report = echo(echo_options(target, 2)).await;

    assert_eq!(report.connected, 0);
    assert_eq!(report.errors.count("handshake"), 2, "{}", report.errors);
    let json = report.to_json();
    let example = json["error_kinds"]["handshake"]["example"]
        .as_str()
        .unwrap();
    assert!(example.contains("404"), "{example}");
}

#[tokio::test]
async fn idle_set_holds_n_connections_at_the_server() {
    const N: usize = 50;
    let server = start(Behaviour::Echo).await;
    let mut set = bounded("opening", IdleSet::open(&server.target(), N)).await;

    assert_eq!(set.len(), N);
    assert!(set.failures().is_empty(), "{}", set.failures());
    server.wait_live(N).await;
    assert_eq!(set.drop_closed(), 0);

    let unclean = bounded("closing", set.close()).await;
    assert!(unclean.is_empty(), "{unclean}");
    server.wait_live(0).await;
}

#[tokio::test]
async fn idle_run_weighs_the_server_process() {
    let server = start(Behaviour::Echo).await;
    let options = IdleOptions {
        target: server.target(),
        connections: 20,
        hold: Duration::from_millis(50),
        server_pid: Some(std::process::id()),
    };
    let report = bounded("the idle run", run_idle(&options)).await.unwrap();

    assert_eq!(report.held, 20);
    assert!(report.errors.is_empty(), "{}", report.errors);
    if on_linux() {
        assert!(report.rss_before.is_some() && report.rss_after.is_some());
        assert!(report.rss_per_connection().is_some());
    }
    let json = report.to_json();
    assert_eq!(
        (json["mode"].as_str(), json["held"].as_u64()),
        (Some("idle"), Some(20))
    );
    server.wait_live(0).await;
}

#[tokio::test]
async fn idle_set_notices_connections_the_server_drops() {
    let server = start(Behaviour::HangUpAtOnce).await;
    let mut set = bounded("opening", IdleSet::open(&server.target(), 5)).await;
    assert_eq!(set.len(), 5, "{}", set.failures());

    // The server sends Close and hangs up right after each handshake; the
    // set lets go of each connection once its end of stream has arrived.
    let mut dropped = 0;
    common::wait_for(|| {
        dropped += set.drop_closed();
        dropped == 5
    })
    .await
    .expect("all five hang-ups are seen");
    assert!(set.is_empty());
}
