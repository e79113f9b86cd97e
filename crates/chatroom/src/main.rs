//! `cargo run -p chatroom [-- HOST:PORT] [--allow-origin ORIGIN]... [--max-connections N] …`:
//! the chat room of lesson 5 (default 127.0.0.1:9005; `--help` lists the
//! flags). Open the printed URL in two windows, choose two nicknames, and
//! talk.

use std::process::ExitCode;

use chatroom::{Args, Server, USAGE};

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
        "lesson 5 (chatroom): open http://{addr}/ in two windows (WebSocket at ws://{addr}/ws); Ctrl-C stops"
    );
    server.run(handshake::ctrl_c()).await;
    println!("stopped");
    ExitCode::SUCCESS
}
