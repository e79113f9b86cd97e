//! `cargo run -p echo [-- HOST:PORT]`: the echo server of lesson 3. Open
//! the printed URL and type.

use std::process::ExitCode;

use clap::Parser;

/// Lesson 3: an echo server on lessons 1 and 2 only.
#[derive(Parser)]
struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(default_value = "127.0.0.1:9003")]
    addr: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some((listener, addr)) = support::start(&args.addr).await else {
        return ExitCode::FAILURE;
    };
    println!("lesson 3 (echo): open http://{addr}/ (WebSocket at ws://{addr}/ws); Ctrl-C stops");
    echo::run(listener, support::ctrl_c()).await;
    ExitCode::SUCCESS
}
