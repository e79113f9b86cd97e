//! `cargo run -p transports [-- HOST:PORT] [--rate R] [--long-poll-timeout S] …`:
//! lesson 6's ticker over four transports (default 127.0.0.1:9006;
//! `--help` lists the flags). Open the printed URL and watch the four
//! panes.

use std::process::ExitCode;

use transports::{Args, Server, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let parsed = Args::parse(std::env::args().skip(1));
    let (args, listener) = match handshake::start(parsed, USAGE, |a| &a.addr).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let server = Server::with_config(listener, args.config);
    let addr = server.local_addr().map_or(args.addr, |a| a.to_string());
    println!(
        "lesson 6 (transports): open http://{addr}/ (poll, long poll, SSE, WebSocket); Ctrl-C stops"
    );
    server.run(handshake::ctrl_c()).await;
    println!("stopped");
    ExitCode::SUCCESS
}
