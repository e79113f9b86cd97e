//! `cargo run -p echo --bin echo-tungstenite [-- HOST:PORT]`: the same echo
//! server as lesson 3's, on tokio-tungstenite (default 127.0.0.1:9013).
//!
//! Set it beside `src/ws.rs` and `src/server.rs`: `accept_async` is lesson 1,
//! `ws.next()` is lesson 2's decoder and assembler plus our `recv` (it
//! answers pings and the peer's Close by itself), `ws.send` is `encode`.
//! What it leaves out: the page at `/` (a plain GET is refused), the
//! graceful shutdown (Ctrl-C just exits), and deadlines for a peer that
//! never answers a Close.

use std::process::ExitCode;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error, protocol::WebSocketConfig};

/// Lesson 3's echo server again, on tokio-tungstenite.
#[derive(Parser)]
struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = "127.0.0.1:9013")]
    addr: String,
}

// ANCHOR: tungstenite
#[tokio::main]
async fn main() -> ExitCode {
    let Some((listener, addr)) = support::start(&Args::parse().addr).await else {
        return ExitCode::FAILURE;
    };
    println!("echo on tokio-tungstenite: ws://{addr}/ ; Ctrl-C stops");
    let ctrl_c = support::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            () = &mut ctrl_c => return ExitCode::SUCCESS,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(async move {
                        if let Err(e) = echo(stream).await {
                            eprintln!("connection ended: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("accept failed: {e}"),
            },
        }
    }
}

async fn echo(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    // The default read buffer is 128 KiB, allocated up front: ~135 KiB per
    // idle connection. 4 KiB, as ours, brings that to ~7 KiB.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        // Pings, pongs and Close are handled inside next(); echo the data.
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
// ANCHOR_END: tungstenite
