//! The `book` program behaves as every program here does: `--help`, a
//! mistake, a taken address. None of these builds the book.

use support::program_check::{bind_failure, help_and_mistakes, run};

const EXE: &str = env!("CARGO_BIN_EXE_book");

#[test]
fn help_mistakes_and_a_taken_address() {
    help_and_mistakes(EXE);
    bind_failure(EXE, &[]);
}

#[test]
fn help_names_the_address_and_the_check() {
    let stdout = String::from_utf8_lossy(&run(EXE, &["--help"]).stdout).into_owned();
    assert!(
        stdout.contains("[HOST:PORT]") && stdout.contains("--check"),
        "{stdout}"
    );
}
