//! `cargo run -p chatroom [-- HOST:PORT] [--allow-origin ORIGIN]... …`: the
//! chat room of lesson 5 (`--help` lists the flags). Open the printed URL
//! in two windows, choose two nicknames, and talk.

use std::process::ExitCode;

use chatroom::{Args, Server};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some((listener, addr)) = support::start(&args.addr).await else {
        return ExitCode::FAILURE;
    };
    println!(
        "lesson 5 (chatroom): open http://{addr}/ in two windows (WebSocket at ws://{addr}/ws); Ctrl-C stops"
    );
    Server::with_config(listener, args.config())
        .run(support::ctrl_c())
        .await;
    ExitCode::SUCCESS
}
