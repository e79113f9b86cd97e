//! `cargo run -p handshake [-- HOST:PORT]`: serves lesson 1. Open the
//! printed URL in a browser and watch this terminal.

use std::process::ExitCode;

use clap::Parser;

/// Lesson 1: the WebSocket opening handshake, read and answered by hand.
#[derive(Parser)]
struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(default_value = "127.0.0.1:9001")]
    addr: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some((listener, addr)) = support::start(&args.addr).await else {
        return ExitCode::FAILURE;
    };
    println!("lesson 1 (handshake): open http://{addr}/ in a browser; Ctrl-C stops");
    handshake::run(listener, support::ctrl_c()).await;
    ExitCode::SUCCESS
}
