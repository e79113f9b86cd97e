//! The three programs behave as every lesson's do: `--help`, a mistake, a
//! taken address.

use support::program_check::{bind_failure, help_and_mistakes};

#[test]
fn the_server() {
    help_and_mistakes(env!("CARGO_BIN_EXE_echo"));
    bind_failure(env!("CARGO_BIN_EXE_echo"), &[]);
}

#[test]
fn the_tungstenite_twin() {
    help_and_mistakes(env!("CARGO_BIN_EXE_echo-tungstenite"));
    bind_failure(env!("CARGO_BIN_EXE_echo-tungstenite"), &[]);
}

#[test]
fn the_client() {
    help_and_mistakes(env!("CARGO_BIN_EXE_echo-client"));
}
