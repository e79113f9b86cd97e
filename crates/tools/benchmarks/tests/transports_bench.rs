//! The benchmark behind the chapter's tables (`src/bin/transports-bench.rs`),
//! run small: every transport, both header profiles, a server process of
//! its own, and every file the book includes written.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest the small run may take (it needs about ten seconds).
const WAIT: Duration = Duration::from_secs(120);

#[test]
fn a_small_run_measures_every_transport_and_writes_the_tables() {
    let dir = std::env::temp_dir().join(format!("transports-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bench = Command::new(env!("CARGO_BIN_EXE_transports-bench"))
        .args(["--clients", "2", "--rate", "50", "--seconds", "1"])
        .args(["--intervals", "50", "--headers", "both", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("the benchmark starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = bench.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WAIT {
            let _ = bench.kill();
            panic!("the benchmark did not finish in {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(
        status.success(),
        "the benchmark failed ({status}):\n{}",
        read("stderr")
    );
    let table = read("bench-transports.md");
    for transport in ["short poll 50 ms", "long poll", "SSE", "WebSocket"] {
        for headers in ["minimal", "browser"] {
            let row = format!("| {transport} | {headers} |");
            let line = table
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("no row {row} in\n{table}"));
            // Nothing lost, and the server's CPU and memory were read.
            assert!(line.ends_with("| 0 |"), "{line}");
            assert!(line.contains(" MiB |"), "{line}");
        }
    }
    assert!(
        table.contains("events lost, repeated or reordered, by any client: 0 lost"),
        "{table}"
    );
    let compare = read("bench-transports-compare.md");
    assert!(compare.contains("| firewall friendliness |"), "{compare}");
    let heads = read("bench-transports-heads.md");
    assert!(heads.contains("Sec-Fetch-Mode: cors"), "{heads}");
    assert!(
        heads.contains("HTTP/1.1 101 Switching Protocols"),
        "{heads}"
    );
    assert!(read("bench-transports.svg").starts_with("<svg"));
    let json: serde_json::Value = serde_json::from_str(&read("bench-transports.json")).unwrap();
    // Four transports, two profiles, one round.
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(8));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_and_mistakes_as_every_program() {
    support::program_check::help_and_mistakes(env!("CARGO_BIN_EXE_transports-bench"));
}
