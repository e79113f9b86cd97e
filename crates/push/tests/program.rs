//! The programs behave as every lesson's do: `--help`, a mistake, a taken
//! address, and a heartbeat setting that cannot work.

use support::program_check::{bind_failure, help_and_mistakes};

const PUSH: &str = env!("CARGO_BIN_EXE_push");

#[test]
fn the_server() {
    help_and_mistakes(PUSH);
    bind_failure(PUSH, &[]);
}

#[test]
fn a_pong_timeout_under_the_ping_interval_is_a_mistake() {
    let mut command = std::process::Command::new(PUSH);
    command
        .arg("127.0.0.1:0")
        .env("PUSH_PING_INTERVAL", "10")
        .env("PUSH_PONG_TIMEOUT", "5");
    let output = support::program_check::finish(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: the pong timeout"), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
}

#[test]
fn the_client() {
    help_and_mistakes(env!("CARGO_BIN_EXE_push-client"));
}
