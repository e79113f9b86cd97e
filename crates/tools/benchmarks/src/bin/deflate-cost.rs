//! `cargo run --release -p benchmarks --bin deflate-cost`: what
//! permessage-deflate costs and saves on lesson 3's WebSocket, for the chat
//! room's JSON messages, measured in one process.
//!
//! A client and a server `echo::WebSocket` talk over an in-memory pipe: the
//! client sends each message, the server echoes it. Three ways: without
//! compression; compressed without context takeover (our server's
//! default); compressed with context takeover. For each it prints the
//! bytes on the wire per message (both ways, headers included), the CPU
//! time per message (both ends, this thread's own clock), and what one
//! connection holds in memory between messages (the growth of the
//! process's resident memory while 500 connections are opened, each after
//! one message, per connection).
//!
//! The table goes to standard output as Markdown.

use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

use clap::Parser;
use echo::{Message, WebSocket, WebSocketConfig};
use handshake::DeflateParams;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// The process's resident memory, in bytes (`/proc/self/statm`, 4 KiB
/// pages).
fn resident() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
}

/// Measures permessage-deflate on chat messages.
#[derive(Parser)]
struct Args {
    /// Messages per way of sending.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Connections held open for the memory figure.
    #[arg(long, default_value_t = 500)]
    connections: usize,
}

/// A pipe end that counts the bytes written through it.
struct Counted {
    inner: DuplexStream,
    written: usize,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.written += n;
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Socket = WebSocket<Counted>;

/// A client and a server joined by a pipe, speaking as `agreed` says.
fn pair(agreed: Option<DeflateParams>) -> (Socket, Socket) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let config = WebSocketConfig::default();
    let client = WebSocket::client(
        Counted {
            inner: a,
            written: 0,
        },
        &[],
        config,
    );
    let server = WebSocket::from_upgraded(
        Counted {
            inner: b,
            written: 0,
        },
        &[],
        config,
    );
    match agreed {
        Some(agreed) => (client.with_deflate(agreed), server.with_deflate(agreed)),
        None => (client, server),
    }
}

/// Lesson 5's `message` event, as the room serialises it.
fn chat_message(i: usize) -> String {
    const LINES: [&str; 8] = [
        "hello everyone, is the build green again?",
        "yes, the flaky test was the clock; fixed in the last commit",
        "great, then I'll start on the reconnect logic after lunch",
        "did anyone look at the slow consumer numbers from yesterday?",
        "p99 went down to 4 ms once the queue stopped copying",
        "大家好，今天的会议改到下午三点",
        "ok 👍",
        "can someone review the pull request before the release?",
    ];
    let nicks = ["ann", "bob", "cy", "小明"];
    serde_json::json!({
        "type": "message",
        "seq": 1000 + i,
        "from": nicks[i % nicks.len()],
        "text": LINES[(i * 7 + i / 3) % LINES.len()],
        "ts": 1_767_225_600_123_u64 + 137 * i as u64,
    })
    .to_string()
}

/// This thread's CPU time in nanoseconds (`/proc/thread-self/schedstat`).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One round trip: the client sends, the server echoes, the client reads.
async fn round_trip(client: &mut Socket, server: &mut Socket, text: String) {
    client.send(Message::Text(text.into())).await.expect("send");
    let message = server.recv().await.expect("recv").expect("a message");
    server.send(message).await.expect("echo");
    client.recv().await.expect("recv").expect("the echo");
}

struct Row {
    name: &'static str,
    json_bytes: f64,
    wire_bytes: f64,
    cpu_us: f64,
    held: f64,
}

async fn measure(name: &'static str, agreed: Option<DeflateParams>, args: &Args) -> Row {
    let messages: Vec<String> = (0..args.messages).map(chat_message).collect();
    let json: usize = messages.iter().map(String::len).sum();
    let (mut client, mut server) = pair(agreed);
    let start = cpu_ns();
    for message in messages {
        round_trip(&mut client, &mut server, message).await;
    }
    let cpu = cpu_ns() - start;
    let wire = client.get_ref().written + server.get_ref().written;
    let n = args.messages as f64;
    // Memory: many connections, each after one message, held at once.
    // The connections are opened first, then each carries one message,
    // so that what one message's state leaves behind is not mistaken for
    // what the next connection's buffers take.
    let before = resident();
    let mut open: Vec<_> = (0..args.connections).map(|_| pair(agreed)).collect();
    for (i, (client, server)) in open.iter_mut().enumerate() {
        round_trip(client, server, chat_message(i)).await;
    }
    let held = resident().saturating_sub(before) as f64 / (2 * args.connections) as f64;
    drop(open);
    Row {
        name,
        json_bytes: json as f64 / n,
        wire_bytes: wire as f64 / (2.0 * n),
        cpu_us: cpu as f64 / n / 1000.0,
        held,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let without = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let rows = [
        measure("uncompressed", None, &args).await,
        measure(
            "permessage-deflate, no context takeover",
            Some(without),
            &args,
        )
        .await,
        measure(
            "permessage-deflate, context takeover",
            Some(DeflateParams::default()),
            &args,
        )
        .await,
    ];
    let base = &rows[0];
    println!(
        "| messages sent as | JSON bytes | bytes on the wire, one way | vs uncompressed | CPU per round trip | held per idle connection |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.0} | {:.1} | {:.2}× | {:.1} µs | {:.1} KiB |",
            row.name,
            row.json_bytes,
            row.wire_bytes,
            row.wire_bytes / base.wire_bytes,
            row.cpu_us,
            row.held / 1024.0,
        );
    }
    println!(
        "\n{} messages of lesson 5's chat JSON, each sent by a client and echoed by a server \
         (both lesson 3's `WebSocket`) over an in-memory pipe, on one thread; CPU is that \
         thread's time for both ends together. Held: growth of resident memory per connection \
         while {} connections were opened, each after one message (memory a connection \
         has reserved but never touched, such as most of its 4 KiB read buffer, is not \
         resident, and differences of a few KiB are the allocator's, not the codec's).",
        args.messages, args.connections
    );
    ExitCode::SUCCESS
}
