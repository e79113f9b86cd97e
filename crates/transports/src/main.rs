//! `cargo run -p transports [-- HOST:PORT] [--rate R] …`: lesson 6's
//! ticker over four transports (`--help` lists the flags). Open the
//! printed URL and watch the four panes.

use std::process::ExitCode;

use clap::Parser;
use transports::{Args, Server};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some((listener, addr)) = support::start(&args.addr).await else {
        return ExitCode::FAILURE;
    };
    println!(
        "lesson 6 (transports): open http://{addr}/ (poll, long poll, SSE, WebSocket); Ctrl-C stops"
    );
    Server::with_config(listener, args.config())
        .run(support::ctrl_c())
        .await;
    ExitCode::SUCCESS
}
