//! The program behaves as every lesson's does: `--help`, a mistake, a taken
//! address, an upstream that does not resolve.

use support::program_check::{bind_failure, help_and_mistakes, run};

const EXE: &str = env!("CARGO_BIN_EXE_wiretap");

#[test]
fn help_mistakes_and_a_taken_address() {
    help_and_mistakes(EXE);
    bind_failure(EXE, &["--upstream", "127.0.0.1:9", "--listen"]);
}

#[test]
fn an_upstream_that_does_not_resolve_is_a_mistake() {
    let output = run(
        EXE,
        &[
            "--upstream",
            "no-such-host.invalid:9003",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot resolve --upstream no-such-host.invalid:9003"),
        "{stderr}"
    );
}
