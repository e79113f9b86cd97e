//! `cargo run -p book [-- HOST:PORT | --check]`: build the course book, then
//! serve it (on 127.0.0.1:3000 by default) or check it. See the library's
//! documentation for what each does.

use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // mdBook reports through `tracing` (an include it cannot read is logged,
    // not returned), so a subscriber is what makes its warnings visible.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match run(std::env::args().nth(1)).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(arg: Option<String>) -> Result<ExitCode, book::Error> {
    if arg
        .as_deref()
        .is_some_and(|a| a.starts_with('-') && a != "--check")
    {
        eprintln!("usage: cargo run -p book [-- HOST:PORT | --check]");
        return Ok(ExitCode::FAILURE);
    }
    // mdBook is synchronous and writes many files: keep it off the runtime's
    // worker threads.
    let build_dir = tokio::task::spawn_blocking(book::build_book).await??;

    if arg.as_deref() == Some("--check") {
        let problems = book::check(&book::book_dir(), &build_dir, &book::workspace_root())?;
        for problem in &problems {
            eprintln!("{problem}");
        }
        if problems.is_empty() {
            println!("The book checks out: every include resolves.");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{} problem(s) in the book", problems.len());
        return Ok(ExitCode::FAILURE);
    }

    let listener = TcpListener::bind(arg.as_deref().unwrap_or(book::DEFAULT_ADDR)).await?;
    println!(
        "The book is at http://{}/ (Ctrl-C to stop; re-run after editing)",
        listener.local_addr()?
    );
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            // Without our handler, Ctrl-C keeps its default effect of ending
            // the process, so waiting for ever here loses nothing.
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    book::serve(listener, build_dir, ctrl_c).await?;
    Ok(ExitCode::SUCCESS)
}
