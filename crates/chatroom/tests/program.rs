//! The program behaves as every lesson's does: `--help`, a mistake, a bad
//! value, a taken address.

use support::program_check::{bind_failure, help_and_mistakes, run};

const EXE: &str = env!("CARGO_BIN_EXE_chatroom");

#[test]
fn help_mistakes_and_a_taken_address() {
    help_and_mistakes(EXE);
    bind_failure(EXE, &[]);
}

#[test]
fn an_origin_with_a_path_is_refused_with_a_reason() {
    let output = run(
        EXE,
        &["--allow-origin", "http://localhost:8000/", "127.0.0.1:0"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("without a path or a trailing slash"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_that_cannot_be_read_is_said_and_exits_1() {
    let output = run(
        EXE,
        &[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
            "127.0.0.1:0",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/cert.pem"),
        "{stderr}"
    );
    // One without the other is a mistake in the command line: 2.
    let output = run(EXE, &["--tls-cert", "cert.pem", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2));
}
