//! How a lesson's `main` starts: logging, the listener, Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tokio::net::TcpListener;

/// The shutdown signal [`serve`] hands a lesson: Ctrl-C ([`ctrl_c`]).
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The command line of a lesson that takes nothing but where to listen:
/// `[HOST:PORT]`. See [`lesson`].
#[derive(Debug, clap::Parser)]
struct Listen {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT")]
    addr: String,
}

/// The whole `main` of a lesson whose only option is where to listen:
/// reads `[HOST:PORT]` (default `default_addr`; `about` is what `--help`
/// says the program is), then [`serve`]s the lesson's `run` there.
pub async fn lesson<F, Fut>(
    about: &'static str,
    default_addr: &'static str,
    banner: &str,
    run: F,
) -> ExitCode
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    let command = Listen::command().about(about).mut_arg("addr", |addr| {
        addr.default_value(default_addr).required(false)
    });
    let listen = Listen::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    serve(&listen.addr, banner, run).await
}

/// What a lesson's `main` does once its command line is read: [`start`] on
/// `addr`, print `banner` (with `{addr}` replaced by the address bound) and
/// that Ctrl-C stops, then `run` the lesson until Ctrl-C. Exit status 0, or
/// 1 when the address cannot be bound.
pub async fn serve<F, Fut>(addr: &str, banner: &str, run: F) -> ExitCode
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((listener, bound)) = start(addr).await else {
        return ExitCode::FAILURE;
    };
    println!(
        "{}; Ctrl-C stops",
        banner.replace("{addr}", &bound.to_string())
    );
    run(listener, Box::pin(ctrl_c())).await;
    ExitCode::SUCCESS
}

/// Logs to standard error: `default_filter` (`"info"`, `"warn"`), or
/// whatever `RUST_LOG` asks for. Standard output stays the program's own:
/// the URL to open, a report, a capture.
pub fn init_logging(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
}

/// What a lesson's `main` does once its command line is read: starts
/// logging at `info`, and binds `addr` (`HOST:PORT`).
///
/// Returns the listener and the address it got (with port 0, the one the
/// system picked). When the address cannot be bound it says why on
/// standard error, and what to do, and returns `None`: the program then
/// exits with status 1.
pub async fn start(addr: &str) -> Option<(TcpListener, SocketAddr)> {
    init_logging("info");
    bind(addr).await
}

/// Binds `addr` (`HOST:PORT`), or says on standard error why it cannot and
/// what to do, and returns `None`: the program then exits with status 1.
pub async fn bind(addr: &str) -> Option<(TcpListener, SocketAddr)> {
    let bound = TcpListener::bind(addr)
        .await
        .and_then(|listener| Ok((listener.local_addr()?, listener)));
    match bound {
        Ok((local, listener)) => Some((listener, local)),
        Err(e) => {
            eprintln!(
                "cannot listen on {addr}: {e}. Is another program using it? \
                 Pass another HOST:PORT, e.g. 127.0.0.1:0 for any free port."
            );
            None
        }
    }
}

/// Completes when Ctrl-C is pressed: the shutdown signal a lesson's `main`
/// passes to its server. Where Ctrl-C cannot be watched it never
/// completes, and Ctrl-C keeps its default effect of ending the process.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A command-line value that must be a whole number above 0 (a count, a
/// capacity), for clap's `value_parser`.
pub fn above_zero(n: &str) -> Result<usize, String> {
    match n.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a number above 0".to_owned()),
    }
}
