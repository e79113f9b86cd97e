//! `cargo run -p echo [-- HOST:PORT]`: the echo server of lesson 3 (default
//! 127.0.0.1:9003). Open the printed URL and type.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    handshake::init_logging();
    let Some((listener, addr)) = handshake::bind_from_args("127.0.0.1:9003").await else {
        return ExitCode::FAILURE;
    };
    println!("lesson 3 (echo): open http://{addr}/ (WebSocket at ws://{addr}/ws); Ctrl-C stops");
    echo::run(listener, handshake::ctrl_c()).await;
    println!("stopped");
    ExitCode::SUCCESS
}
