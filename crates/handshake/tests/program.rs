//! The program behaves as every lesson's does: `--help`, a mistake, a taken
//! address.

const EXE: &str = env!("CARGO_BIN_EXE_handshake");

#[test]
fn help_mistakes_and_a_taken_address() {
    support::program_check::help_and_mistakes(EXE);
    support::program_check::bind_failure(EXE, &[]);
}
