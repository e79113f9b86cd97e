//! `cargo run -p push [-- HOST:PORT]`: the push server of lesson 4. Open
//! the printed URL and watch the phrases arrive.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};

/// Lesson 4: the server speaks first. The heartbeat's timings come from
/// PUSH_PING_INTERVAL and PUSH_PONG_TIMEOUT (seconds) when set.
#[derive(Parser)]
struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = "127.0.0.1:9004")]
    addr: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = push::Config::from_env()
        .unwrap_or_else(|e| Args::command().error(ErrorKind::ValueValidation, e).exit());
    let banner = "lesson 4 (push): open http://{addr}/ (WebSocket at ws://{addr}/ws)";
    support::serve(&args.addr, banner, |listener, stop| {
        push::serve(listener, config, support::LiveConnections::new(), stop)
    })
    .await
}
