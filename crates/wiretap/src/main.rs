//! `cargo run -p wiretap -- --upstream 127.0.0.1:9003`: listens on
//! 127.0.0.1:9007, forwards every byte to the upstream lesson and back, and
//! prints what goes by. `--help` lists the flags; the crate docs
//! (`src/lib.rs`) say more.

use std::process::ExitCode;

use tokio::net::TcpListener;
use wiretap::args::{USAGE, parse_args};
use wiretap::{Format, write_events};

/// Events waiting for the printer: room for a burst; past it, events are
/// dropped and counted rather than slowing the traffic down.
const OUTPUT_QUEUE: usize = 4096;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("wiretap: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Standard output is the capture (pure JSON lines with --json); our own
    // messages and logs go to standard error.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let upstream = match tokio::net::lookup_host(&cli.upstream)
        .await
        .map(|mut a| a.next())
    {
        Ok(Some(upstream)) => upstream,
        Ok(None) => {
            eprintln!("wiretap: {} resolves to no address", cli.upstream);
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("wiretap: cannot resolve {}: {e}", cli.upstream);
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&cli.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "wiretap: cannot listen on {}: {e} (pass another --listen HOST:PORT)",
                cli.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let listen = listener
        .local_addr()
        .map_or(cli.listen.clone(), |a| a.to_string());
    let banner = format!(
        "lesson 7 (wiretap): open http://{listen}/ — every byte goes on to {upstream} \
         and is shown here; Ctrl-C stops"
    );
    match cli.format {
        Format::Text => println!("{banner}"),
        Format::Json => eprintln!("{banner}"),
    }

    let (events, received) = tokio::sync::mpsc::channel(OUTPUT_QUEUE);
    let format = cli.format;
    let printer = std::thread::spawn(move || write_events(received, format, std::io::stdout()));
    wiretap::run(listener, upstream, cli.options, events, handshake::ctrl_c()).await;
    // `run` has dropped the last sender: the printer drains and returns.
    match printer.join() {
        Ok(Ok(())) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        // Standard output was closed (`| head`): the capture ended early.
        Ok(Err(_)) | Err(_) => ExitCode::FAILURE,
    }
}
