//! `cargo run -p chatroom [-- HOST:PORT] [--allow-origin ORIGIN]... …`: the
//! chat room of lesson 5 (`--help` lists the flags). Open the printed URL
//! in two windows, choose two nicknames, and talk.

use chatroom::{Args, Server};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = args.config();
    let banner =
        "lesson 5 (chatroom): open http://{addr}/ in two windows (WebSocket at ws://{addr}/ws)";
    support::serve(&args.addr, banner, |listener, stop| {
        Server::with_config(listener, config).run(stop)
    })
    .await
}
