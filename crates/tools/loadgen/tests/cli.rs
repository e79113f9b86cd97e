//! The `loadgen` binary: its exit codes, its refusals, and the one-line
//! JSON that scripts read.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Behaviour, WAIT, start};

/// Runs `loadgen` with `args`, killed if it outlives [`WAIT`]. Polls rather
/// than blocking, so that the test server on this runtime keeps serving.
async fn loadgen(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let finished = tokio::time::timeout(WAIT, async {
        while child.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    if finished.is_err() {
        let _ = child.kill();
    }
    // The child has exited (or was just killed), so this returns at once.
    let output = child.wait_with_output().unwrap();
    assert!(finished.is_ok(), "loadgen {args:?} ran past {WAIT:?}");
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn help_and_refusals() {
    let help = loadgen(&["--help"]).await;
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--connections <N>"));
    assert!(text(&help.stdout).contains("--broadcast <N>"));

    let foreign = loadgen(&["--url", "ws://192.0.2.1:9003/ws"]).await;
    assert_eq!(foreign.status.code(), Some(2));
    assert!(
        text(&foreign.stderr).contains("only loopback"),
        "{}",
        text(&foreign.stderr)
    );

    let typo = loadgen(&["--conections", "4"]).await;
    assert_eq!(typo.status.code(), Some(2));
    let stderr = text(&typo.stderr);
    assert!(
        stderr.contains("unexpected argument '--conections'") && stderr.contains("--connections"),
        "the typo is named, and the flag it resembles: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_is_one_line_with_the_figures() {
    let server = start(Behaviour::Echo).await;
    let url = format!("ws://{}/ws", server.addr);
    let out = loadgen(&[
        "--url",
        &url,
        "--connections",
        "3",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--json",
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");

    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["mode"], "echo");
    assert_eq!(json["connected"], 3);
    assert_eq!(json["errors"], 0);
    assert!(json["messages"].as_u64().unwrap() > 0);
    let p = |k: &str| json[k].as_u64().unwrap();
    assert!(p("p50_us") <= p("p99_us") && p("p99_us") <= p("p999_us"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_json_has_the_books_and_the_figures() {
    let relay =
        common::relay::start_relay(common::relay::Style::Plain, common::relay::Fault::None).await;
    let url = format!("ws://{}/", relay.addr);
    let out = loadgen(&[
        "--broadcast",
        "3",
        "--protocol",
        "plain",
        "--url",
        &url,
        "--rate",
        "100",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--json",
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["mode"], "broadcast");
    assert_eq!(
        (json["ready"].as_u64(), json["errors"].as_u64()),
        (Some(3), Some(0))
    );
    let n = |k: &str| json[k].as_u64().unwrap();
    assert!(n("sent") > 0);
    assert_eq!(n("expected"), 2 * n("sent"), "everyone but the sender");
    assert_eq!((n("delivered"), n("lost")), (n("expected"), 0));
    assert!(n("p50_us") <= n("p99_us"));
}

#[tokio::test]
async fn failures_exit_1_with_the_report() {
    let addr = common::closed_port().await;
    let url = format!("ws://{addr}/ws");
    let out = loadgen(&["--url", &url, "--connections", "2", "--duration", "100ms"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0 of 2 connections"), "{stdout}");
    assert!(stdout.contains("refused ×2"), "{stdout}");
}
