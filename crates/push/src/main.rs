//! `cargo run -p push [-- HOST:PORT]`: the push server of lesson 4 (default
//! 127.0.0.1:9004). Open the printed URL and watch the phrases arrive. The
//! heartbeat's timings come from `PUSH_PING_INTERVAL` and `PUSH_PONG_TIMEOUT`
//! (seconds) when set.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    handshake::init_logging();
    let config = match push::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some((listener, addr)) = handshake::bind_from_args("127.0.0.1:9004").await else {
        return ExitCode::FAILURE;
    };
    println!(
        "lesson 4 (push): open http://{addr}/ (WebSocket at ws://{addr}/ws); a phrase every {:?}, \
         a ping every {:?}, silent peers dropped after {:?}; Ctrl-C stops",
        config.push_interval, config.ping_interval, config.pong_timeout
    );
    let live = push::LiveConnections::new();
    push::serve(listener, config, live, handshake::ctrl_c()).await;
    println!("stopped");
    ExitCode::SUCCESS
}
