//! `cargo run -p wiretap --example by_hand [-- [--rsv1] HOST:PORT]`: a client
//! that sends what a browser never does, so the wiretap (default
//! 127.0.0.1:9007) has it to show: a message in three fragments with a ping
//! between them, then a Close. With `--rsv1` it also sends a frame with RSV1
//! set, as a compressing client would, to a server that agreed to no
//! compression. Built on lesson 1's client handshake and lesson 2's codec.

use std::process::ExitCode;

use bytes::BytesMut;
use clap::Parser;
use frame::{CloseCode, CloseFrame, Decoder, Frame, OpCode, RSV1, Role, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends what a browser never does: a message in three fragments with a
/// ping between them, then a Close.
#[derive(Parser)]
struct Args {
    /// Also send a frame with RSV1 set, as a compressing client would.
    #[arg(long)]
    rsv1: bool,
    /// The wiretap (or any lesson), HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = "127.0.0.1:9007")]
    addr: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { rsv1, addr } = Args::parse();
    let addr = addr.as_str();
    match talk(addr, rsv1).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("by_hand: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn talk(addr: &str, rsv1: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr).await?;
    let done = handshake::client_handshake(&mut stream, addr, "/ws").await?;
    println!("→ handshake done: 101 Switching Protocols");

    let mut frames = vec![
        Frame::text("Hel").with_fin(false),
        // Control frames may come between fragments (RFC 6455 §5.4).
        Frame::ping("are you there?"),
        Frame::continuation("lo, ").with_fin(false),
        Frame::continuation("world"),
    ];
    if rsv1 {
        frames.push(Frame {
            rsv: RSV1,
            ..Frame::text("pretend this is deflated")
        });
    }
    frames.push(Frame::close(Some(CloseFrame::new(
        CloseCode::NORMAL,
        "done",
    ))));
    let mut wire = BytesMut::new();
    for frame in frames {
        println!("→ {}", describe(&frame));
        // A fresh, unpredictable key for every frame (RFC 6455 §5.3).
        encode(&frame.with_mask(rand::random()), &mut wire);
    }
    stream.write_all(&wire).await?;

    // Whatever comes back, until the server closes the connection.
    let mut decoder = Decoder::new(Role::Client);
    let mut buf = done.leftover;
    loop {
        while let Some(frame) = decoder.decode(&mut buf)? {
            println!("← {}", describe(&frame));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            println!("← end of the stream");
            return Ok(());
        }
    }
}

/// `text (0x1) "Hel"`, `connection close (0x8) 1000 (normal closure): "done"`.
fn describe(frame: &Frame) -> String {
    let payload = match frame.opcode {
        OpCode::Close => match CloseFrame::parse(&frame.payload) {
            Ok(Some(close)) => close.to_string(),
            Ok(None) => "without a code".to_owned(),
            Err(e) => e.to_string(),
        },
        _ => format!("{:?}", String::from_utf8_lossy(&frame.payload)),
    };
    format!("{} {payload}", frame.opcode)
}
