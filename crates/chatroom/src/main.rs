//! `cargo run -p chatroom [-- HOST:PORT] [--allow-origin ORIGIN]... …`: the
//! chat room of lesson 5 (`--help` lists the flags). Open the printed URL
//! in two windows, choose two nicknames, and talk.

use chatroom::{Args, Server};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = args.config();
    config.tls = match args.tls() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("chatroom: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let banner = if config.tls.is_some() {
        "lesson 5 (chatroom): open https://{addr}/ in two windows (WebSocket at wss://{addr}/ws)"
    } else {
        "lesson 5 (chatroom): open http://{addr}/ in two windows (WebSocket at ws://{addr}/ws)"
    };
    support::serve(&args.addr, banner, |listener, stop| {
        Server::with_config(listener, config).run(stop)
    })
    .await
}
