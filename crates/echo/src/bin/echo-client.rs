//! `cargo run -p echo --bin echo-client -- [--url URL] [MESSAGE...]`: a
//! command-line client on tokio-tungstenite, as the seeds' Go client is on
//! gorilla's Dialer.
//!
//! It connects, sends each MESSAGE (or, with none, each line typed on
//! stdin), prints each echo, then closes cleanly: a Close 1000, and it waits
//! for the server's answer before it exits.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long we wait for an echo, or for the server's answer to our Close.
const WAIT: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Sends each MESSAGE to a WebSocket server (with none: each line typed
/// on standard input, Ctrl-D to end) and prints what comes back.
#[derive(Parser)]
struct Args {
    /// The server; the default is lesson 3's (`cargo run -p echo`).
    #[arg(long, default_value = "ws://127.0.0.1:9003/ws")]
    url: String,
    /// The messages to send, in order.
    messages: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { url, messages } = Args::parse();
    match talk(&url, messages).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: talk
async fn talk(url: &str, messages: Vec<String>) -> Result<(), String> {
    let (mut ws, _response) = tokio_tungstenite::connect_async(url).await.map_err(|e| {
        let hint = match e {
            Error::Io(_) => "is the server running? (cargo run -p echo)",
            Error::Http(_) => "the server refused the handshake: is the path right?",
            Error::Url(_) => "the URL must be ws://HOST:PORT/PATH",
            _ => "is that a WebSocket server?",
        };
        format!("cannot connect to {url}: {e}\n  {hint}")
    })?;
    eprintln!("connected to {url}");
    if messages.is_empty() {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            round_trip(&mut ws, line).await?;
        }
    } else {
        for message in messages {
            round_trip(&mut ws, message).await?;
        }
    }
    // The close handshake from our side: 1000 means "done, all fine".
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.close(Some(bye)).await.map_err(|e| e.to_string())?;
    match wait_for_close(&mut ws).await {
        Some(answer) => eprintln!("closed: the server answered {answer}"),
        None => eprintln!("closed (the server did not answer our Close)"),
    }
    Ok(())
}
// ANCHOR_END: talk

// ANCHOR: round_trip
/// Sends one text message and prints what comes back.
async fn round_trip(ws: &mut Ws, text: String) -> Result<(), String> {
    println!("> {text}");
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let next = timeout(WAIT, ws.next())
            .await
            .map_err(|_| format!("no echo within {WAIT:?}"))?;
        match next {
            Some(Ok(Message::Text(echo))) => {
                println!("< {echo}");
                return Ok(());
            }
            Some(Ok(Message::Binary(echo))) => {
                println!("< ({} bytes of binary)", echo.len());
                return Ok(());
            }
            Some(Ok(Message::Close(close))) => {
                // tungstenite has queued its answer; let it go out.
                let _ = wait_for_close(ws).await;
                return Err(format!(
                    "the server closed the connection: {}",
                    describe(close)
                ));
            }
            // Pings are answered inside next(); nothing else to do.
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the server closed the connection".into()),
        }
    }
}
// ANCHOR_END: round_trip

/// Reads until the connection ends; returns the server's Close, if one came.
async fn wait_for_close(ws: &mut Ws) -> Option<String> {
    let mut answer = None;
    while let Ok(Some(Ok(message))) = timeout(WAIT, ws.next()).await {
        if let Message::Close(close) = message {
            answer = Some(describe(close));
        }
    }
    answer
}

fn describe(close: Option<CloseFrame>) -> String {
    match close {
        Some(CloseFrame { code, reason }) if reason.is_empty() => u16::from(code).to_string(),
        Some(CloseFrame { code, reason }) => format!("{} ({reason})", u16::from(code)),
        None => "a Close without a code".into(),
    }
}
