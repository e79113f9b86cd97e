//! `cargo run -p push --bin push-client [-- URL]`: prints what lesson 4's
//! server pushes (default `ws://127.0.0.1:9004/ws`), on tokio-tungstenite.
//!
//! It reads all the time, so tokio-tungstenite answers every ping the
//! server sends. It prints its process id: `kill -STOP <pid>` freezes it
//! (the kernel still acknowledges the server's packets, but nothing answers
//! the pings), and the server drops it once the pong is overdue;
//! `kill -CONT <pid>` thaws it to find out. Ctrl-C closes cleanly (1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long we wait for the server to answer our Close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Prints what a push server sends, and answers its pings.
#[derive(Parser)]
struct Args {
    /// The server; the default is lesson 4's (`cargo run -p push`).
    #[arg(default_value = "ws://127.0.0.1:9004/ws")]
    url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { url } = Args::parse();
    let mut ws = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((ws, _response)) => ws,
        Err(e) => {
            eprintln!("cannot connect to {url}: {e} (is `cargo run -p push` running?)");
            return ExitCode::FAILURE;
        }
    };
    let pid = std::process::id();
    eprintln!(
        "connected to {url}; pid {pid} (kill -STOP {pid} freezes me, kill -CONT {pid} thaws me)"
    );
    let ctrl_c = support::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            () = &mut ctrl_c => {
                let bye = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
                // Send our Close, then read until the server's answer ends the stream.
                let closing = async {
                    ws.send(Message::Close(Some(bye))).await?;
                    while ws.next().await.transpose()?.is_some() {}
                    Ok::<_, tokio_tungstenite::tungstenite::Error>(())
                };
                return match timeout(CLOSE_WAIT, closing).await {
                    Ok(Ok(())) => ExitCode::SUCCESS,
                    _ => {
                        eprintln!("the server did not answer our Close");
                        ExitCode::FAILURE
                    }
                };
            }
            next = ws.next() => match next {
                Some(Ok(Message::Text(text))) => match push::Push::from_json(&text) {
                    Some(push) => println!("#{} {}", push.seq, push.text),
                    None => println!("{text}"),
                },
                // Answered inside next(); shown so the heartbeat is visible.
                Some(Ok(Message::Ping(_))) => eprintln!("(ping from the server, answered)"),
                Some(Ok(Message::Close(Some(close)))) => {
                    eprintln!("the server closed: {} {}", u16::from(close.code), close.reason);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    eprintln!("connection lost: {e}");
                    return ExitCode::FAILURE;
                }
                None => return ExitCode::SUCCESS,
            },
        }
    }
}
