//! The program behaves as every program here does: `--help`, a mistake,
//! and a missing `--by-hand`.

use support::program_check::{help_and_mistakes, run};

const EXE: &str = env!("CARGO_BIN_EXE_wiretap-transcripts");

#[test]
fn help_and_mistakes_as_every_program() {
    help_and_mistakes(EXE);
}

#[test]
fn the_by_hand_client_is_required() {
    let output = run(EXE, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--by-hand <PATH>"), "{stderr}");
}
