//! `cargo run -p frame -- 81 85 37 fa 21 3d 7f 9f 4d 51 58` explains those
//! bytes as WebSocket frames; with no bytes it walks through every example
//! of RFC 6455 §5.7.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};
use frame::Role;

/// Lesson 2: bytes explained as WebSocket frames, field by field.
#[derive(Parser)]
struct Args {
    /// The bytes came from a client (a server reads them: they must be masked).
    #[arg(long, conflicts_with = "from_server")]
    from_client: bool,
    /// The bytes came from a server (a client reads them: never masked).
    #[arg(long)]
    from_server: bool,
    /// Bytes in hex, spaced or not: 81 85 37 fa …, 818537fa…, 0x81,0x85,…
    /// With none: every example of RFC 6455 §5.7.
    bytes: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let reader =
        (args.from_client.then_some(Role::Server)).or(args.from_server.then_some(Role::Client));
    let text = match frame::parse_hex(&args.bytes.join(" ")) {
        _ if args.bytes.is_empty() => frame::explain_rfc_examples(reader),
        Ok(bytes) => frame::annotate_all(&bytes, reader),
        Err(e) => Args::command().error(ErrorKind::InvalidValue, e).exit(),
    };
    // `print!` panics when stdout is closed early (`| head`); a failed write
    // just ends the program.
    ExitCode::from(u8::from(
        std::io::stdout().lock().write_all(text.as_bytes()).is_err(),
    ))
}
