//! `cargo run -p handshake [-- HOST:PORT]`: serves lesson 1. Open the
//! printed URL in a browser and watch this terminal.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::lesson(
        "Lesson 1: the WebSocket opening handshake, read and answered by hand.",
        "127.0.0.1:9001",
        "lesson 1 (handshake): open http://{addr}/ in a browser",
        handshake::run,
    )
    .await
}
