//! `cargo run -p transports [-- HOST:PORT] [--rate R] …`: lesson 6's
//! ticker over four transports (`--help` lists the flags). Open the
//! printed URL and watch the four panes.

use clap::Parser;
use transports::{Args, Server};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = args.config();
    let banner = "lesson 6 (transports): open http://{addr}/ (poll, long poll, SSE, WebSocket)";
    support::serve(&args.addr, banner, |listener, stop| {
        Server::with_config(listener, config).run(stop)
    })
    .await
}
