//! `cargo run -p handshake [-- HOST:PORT]`: serves lesson 1 (default
//! 127.0.0.1:9001). Open the printed URL in a browser and watch this terminal.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    handshake::init_logging();
    let Some((listener, addr)) = handshake::bind_from_args("127.0.0.1:9001").await else {
        return ExitCode::FAILURE;
    };
    println!("lesson 1 (handshake): open http://{addr}/ in a browser; Ctrl-C stops");
    handshake::run(listener, handshake::ctrl_c()).await;
    println!("stopped");
    ExitCode::SUCCESS
}
