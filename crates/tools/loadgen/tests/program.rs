//! The program behaves as every program here does: `--help`, a mistake,
//! and a value out of range said in one line.

use support::program_check::{help_and_mistakes, run};

const EXE: &str = env!("CARGO_BIN_EXE_loadgen");

#[test]
fn help_and_mistakes_as_every_program() {
    help_and_mistakes(EXE);
}

#[test]
fn a_flag_of_another_mode_is_a_mistake() {
    let output = run(EXE, &["--hold", "1s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --hold is for idle mode"),
        "{stderr}"
    );
}
