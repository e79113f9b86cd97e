//! `cargo run -p chatroom [-- HOST:PORT] [--allow-origin ORIGIN]... [--max-connections N]`:
//! the chat room of lesson 5 (default 127.0.0.1:9005). Open the printed URL
//! in two windows, choose two nicknames, and talk.

use std::process::ExitCode;

use chatroom::{Args, Server};
use tokio::net::TcpListener;

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
    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "cannot listen on {}: {e} (pass another HOST:PORT)",
                args.addr
            );
            return ExitCode::FAILURE;
        }
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
