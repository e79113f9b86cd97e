//! `cargo run -p handshake [-- HOST:PORT]`: serves lesson 1 (default
//! 127.0.0.1:9001). Open the printed URL in a browser and watch this terminal.

use std::process::ExitCode;

use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "cannot listen on {addr}: {e} (pass another HOST:PORT as the first argument)"
            );
            return ExitCode::FAILURE;
        }
    };
    let shown = listener.local_addr().map_or(addr, |a| a.to_string());
    println!("lesson 1 (handshake): open http://{shown}/ in a browser; Ctrl-C stops");
    handshake::run(listener, async {
        // If Ctrl-C cannot be watched we just run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await;
    println!("stopped");
    ExitCode::SUCCESS
}
