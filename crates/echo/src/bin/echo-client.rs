//! `cargo run -p echo --bin echo-client -- [--url URL] [MESSAGE...]`: a
//! command-line client on lessons 1 and 2, as the source articles' Go
//! client is on gorilla's `Dialer`.
//!
//! It connects (lesson 1's client handshake), sends each MESSAGE (or, with
//! none, each line typed on stdin), prints each echo, then closes cleanly:
//! a Close 1000, the server's answer, and the server's end of TCP.
//!
//! `--autobahn ws://127.0.0.1:PORT` instead runs the Autobahn suite's
//! client cases against the suite's fuzzing server, as the agent
//! `echo-client`: it asks for the number of cases, echoes every message of
//! each case until the server closes, then asks for the report.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use echo::{CloseCode, Message, WebSocket, WebSocketConfig};
use handshake::{WsUrl, client_handshake_offering};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long we wait to connect, and for each echo.
const WAIT: Duration = Duration::from_secs(5);

/// The name the Autobahn report knows this client by.
const AGENT: &str = "echo-client";

/// Sends each MESSAGE to a WebSocket server (with none: each line typed
/// on standard input, Ctrl-D to end) and prints what comes back.
#[derive(Parser)]
struct Args {
    /// The server; the default is lesson 3's (`cargo run -p echo`).
    #[arg(long, default_value = "ws://127.0.0.1:9003/ws")]
    url: String,
    /// Run the Autobahn suite's client cases against its fuzzing server at
    /// this URL (ws://127.0.0.1:PORT) instead.
    #[arg(long, value_name = "URL", conflicts_with_all = ["url", "messages"])]
    autobahn: Option<String>,
    /// The messages to send, in order.
    messages: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.autobahn {
        Some(url) => autobahn(url).await,
        None => talk(&args.url, args.messages).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: connect
/// Connects to `url` and completes lesson 1's client handshake.
async fn connect(url: &str) -> Result<WebSocket<TcpStream>, String> {
    let target = WsUrl::parse(url).map_err(|e| e.to_string())?;
    let handshake = async {
        let mut stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("{e}\n  is the server running? (cargo run -p echo)"))?;
        // We offer permessage-deflate; the server may accept or not.
        let done = client_handshake_offering(&mut stream, &target.authority, &target.path, true)
            .await
            .map_err(|e| format!("the handshake failed: {e}"))?;
        let ws = WebSocket::client(stream, &done.leftover, WebSocketConfig::default());
        Ok(match done.deflate {
            Some(agreed) => ws.with_deflate(agreed),
            None => ws,
        })
    };
    match timeout(WAIT, handshake).await {
        Ok(result) => result.map_err(|e: String| format!("cannot connect to {url}: {e}")),
        Err(_) => Err(format!(
            "cannot connect to {url}: no answer within {WAIT:?}"
        )),
    }
}
// ANCHOR_END: connect

// ANCHOR: talk
async fn talk(url: &str, messages: Vec<String>) -> Result<(), String> {
    let mut ws = connect(url).await?;
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
    ws.close(CloseCode::NORMAL, "bye")
        .await
        .map_err(|e| e.to_string())?;
    match ws.peer_close() {
        Some(answer) => eprintln!("closed: the server answered {answer}"),
        None => eprintln!("closed"),
    }
    Ok(())
}
// ANCHOR_END: talk

// ANCHOR: round_trip
/// Sends one text message and prints what comes back.
async fn round_trip(ws: &mut WebSocket<TcpStream>, text: String) -> Result<(), String> {
    println!("> {text}");
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())?;
    // recv answers pings and a Close by itself: what comes out is a
    // message, or the end.
    match timeout(WAIT, ws.recv()).await {
        Err(_) => Err(format!("no echo within {WAIT:?}")),
        Ok(Ok(Some(Message::Text(echo)))) => {
            println!("< {echo}");
            Ok(())
        }
        Ok(Ok(Some(Message::Binary(echo)))) => {
            println!("< ({} bytes of binary)", echo.len());
            Ok(())
        }
        Ok(Ok(Some(other))) => Err(format!("recv never returns this: {other:?}")),
        Ok(Ok(None)) => Err(match ws.peer_close() {
            Some(close) => format!("the server closed the connection: {close}"),
            None => "the server closed the connection".into(),
        }),
        Ok(Err(e)) => Err(e.to_string()),
    }
}
// ANCHOR_END: round_trip

// ANCHOR: autobahn
/// The Autobahn suite's client protocol: how many cases, each case echoed
/// until the server closes, then the report.
async fn autobahn(base: &str) -> Result<(), String> {
    let base = base.trim_end_matches('/');
    let mut ws = connect(&format!("{base}/getCaseCount")).await?;
    let count: u32 = match ws.recv().await {
        Ok(Some(Message::Text(count))) => count
            .trim()
            .parse()
            .map_err(|_| format!("a case count that is not a number: {count:?}"))?,
        other => return Err(format!("no case count: {other:?}")),
    };
    let _ = ws.recv().await; // the server closes; we answer
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let mut ws = connect(&url).await?;
        // Echo until the case ends: the server closes (Ok(None)), or we
        // failed the connection for a broken rule (Err), which is what
        // many cases test for.
        while let Ok(Some(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                break;
            }
        }
    }
    let mut ws = connect(&format!("{base}/updateReports?agent={AGENT}")).await?;
    while let Ok(Some(_)) = ws.recv().await {}
    eprintln!("report updated");
    Ok(())
}
// ANCHOR_END: autobahn
