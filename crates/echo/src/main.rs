//! `cargo run -p echo [-- HOST:PORT]`: the echo server of lesson 3. Open
//! the printed URL and type.

use std::process::ExitCode;

use clap::Parser;
use handshake::DeflatePolicy;

/// Lesson 3: an echo server on lessons 1 and 2 only.
#[derive(Parser)]
struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = "127.0.0.1:9003")]
    addr: String,
    /// Decline permessage-deflate: every message travels as it is.
    #[arg(long)]
    no_deflate: bool,
    /// Keep each direction's compression context from one message to the
    /// next: better compression of messages that repeat each other, for
    /// more memory per connection.
    #[arg(long, conflicts_with = "no_deflate")]
    deflate_context_takeover: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = echo::Config {
        deflate: (!args.no_deflate).then_some(DeflatePolicy {
            context_takeover: args.deflate_context_takeover,
        }),
        ..echo::Config::default()
    };
    let banner = "lesson 3 (echo): open http://{addr}/ (WebSocket at ws://{addr}/ws)";
    support::serve(&args.addr, banner, |listener, stop| {
        echo::Server::new(listener).with_config(config).run(stop)
    })
    .await
}
