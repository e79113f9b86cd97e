//! `cargo run -p transports [-- HOST:PORT] [--rate R] [--long-poll-timeout S]`:
//! lesson 6's ticker over four transports (default 127.0.0.1:9006). Open
//! the printed URL and watch the four panes.

use std::process::ExitCode;

use tokio::net::TcpListener;
use transports::{Args, Server};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    handshake::init_logging();
    let Ok(listener) = TcpListener::bind(&args.addr).await.inspect_err(|e| {
        eprintln!(
            "cannot listen on {}: {e} (pass another HOST:PORT)",
            args.addr
        )
    }) else {
        return ExitCode::FAILURE;
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
