//! `cargo run -p wiretap -- --upstream 127.0.0.1:9003`: listens on
//! 127.0.0.1:9007, forwards every byte to the upstream lesson and back, and
//! prints what goes by (`--help` lists the flags).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};
use wiretap::args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let upstream = match tokio::net::lookup_host(&cli.upstream)
        .await
        .map(|mut a| a.next())
    {
        Ok(Some(upstream)) => upstream,
        _ => Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!("cannot resolve --upstream {}", cli.upstream),
            )
            .exit(),
    };
    let Some((listener, listen)) = support::start(&cli.listen).await else {
        return ExitCode::FAILURE;
    };
    // Standard output is the capture: with --json, nothing else goes there.
    eprintln!(
        "lesson 7 (wiretap): open http://{listen}/ — every byte goes on to {upstream} and is shown here; Ctrl-C stops"
    );
    let tapped = wiretap::tap_to_stdout(
        listener,
        upstream,
        cli.format(),
        cli.options(),
        support::ctrl_c(),
    );
    ExitCode::from(u8::from(tapped.await.is_err()))
}
