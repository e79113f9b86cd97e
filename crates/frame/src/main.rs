//! `cargo run -p frame -- 81 85 37 fa 21 3d 7f 9f 4d 51 58` explains those
//! bytes as WebSocket frames; with no bytes it walks through every example of
//! RFC 6455 §5.7. See the crate docs (`src/lib.rs`).

use std::io::Write;
use std::process::ExitCode;

use frame::Role;

const USAGE: &str = "usage: cargo run -p frame -- [--from-client | --from-server] [HEX BYTES]
  bytes in hex, spaced or not: 81 85 37 fa ..., 818537fa..., 0x81,0x85,...
  --from-client / --from-server: who sent them, to check the masking rule
  with no bytes: walk through every example of RFC 6455 §5.7";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    // Who reads the bytes: a server reads what a client sent, and vice versa.
    let reader = match args.first().map(String::as_str) {
        Some("--from-client") => Some(Role::Server),
        Some("--from-server") => Some(Role::Client),
        _ => None,
    };
    if reader.is_some() {
        args.remove(0);
    }
    let text = if args.is_empty() {
        let mut text = String::new();
        for (i, example) in frame::rfc6455_examples().iter().enumerate() {
            text.push_str(&format!(
                "== RFC 6455 §5.7, example {}: {}\n{}\n",
                i + 1,
                example.caption,
                frame::annotate_all(&example.bytes, reader)
            ));
        }
        text
    } else {
        match frame::parse_hex(&args.join(" ")) {
            Ok(bytes) => frame::annotate_all(&bytes, reader),
            Err(error) => {
                eprintln!("error: {error}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    };
    // `print!` panics when stdout is closed early (`| head`); a write error
    // just ends the program.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
