//! `cargo run -p echo [-- HOST:PORT]`: the echo server of lesson 3. Open
//! the printed URL and type.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::lesson(
        "Lesson 3: an echo server on lessons 1 and 2 only.",
        "127.0.0.1:9003",
        "lesson 3 (echo): open http://{addr}/ (WebSocket at ws://{addr}/ws)",
        echo::run,
    )
    .await
}
