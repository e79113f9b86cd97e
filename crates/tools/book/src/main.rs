//! `cargo run -p book [-- HOST:PORT] [--check]`: build the course book, then
//! serve it with live reload (on 127.0.0.1:3000 by default) or check it.
//! See the library's documentation for what each does.

use std::process::ExitCode;

use clap::Parser;

/// Builds the course book, then serves it with live reload, or checks it.
#[derive(Parser)]
struct Args {
    /// Where to serve the book.
    #[arg(default_value = book::DEFAULT_ADDR, value_name = "HOST:PORT")]
    addr: String,
    /// Check the book instead of serving it: every include resolves, every
    /// `cargo run -p` names a package with one binary to run, every listing
    /// has its caption, no chapter speaks of how the book was made, and
    /// every lesson chapter has a short core, a production part and a
    /// summary. Prints each lesson chapter's core word count. Exits 1 on a
    /// fault.
    #[arg(long)]
    check: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // mdBook reports through `tracing` (an include it cannot read is logged,
    // not returned), so a subscriber is what makes its warnings visible. On
    // standard error: standard output is for the URL and the verdict.
    support::init_logging("info");
    let result = if args.check {
        check().await
    } else {
        serve(&args.addr).await
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        let mut source = e.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        ExitCode::FAILURE
    })
}

/// Builds `book/build`. mdBook is synchronous and writes many files: off
/// the runtime's worker threads.
async fn build() -> Result<std::path::PathBuf, book::Error> {
    tokio::task::spawn_blocking(book::build_book).await?
}

async fn check() -> Result<ExitCode, book::Error> {
    let build_dir = build().await?;
    let problems = book::check(&book::book_dir(), &build_dir, &book::workspace_root())?;
    for problem in &problems {
        eprintln!("{problem}");
    }
    for (chapter, words) in
        book::check::core_words(&book::book_dir().join("src"), &book::workspace_root())?
    {
        println!(
            "{chapter}: its core is {words} words (at most {})",
            book::check::CORE_WORDS
        );
    }
    if problems.is_empty() {
        println!(
            "The book checks out: every include resolves, every command runs, every listing \
             is captioned, every lesson chapter has its parts."
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} problem(s) in the book", problems.len());
    Ok(ExitCode::FAILURE)
}

async fn serve(addr: &str) -> Result<ExitCode, book::Error> {
    // Bind before building: a taken address is reported at once, not after
    // the seconds a build takes.
    let Some((listener, addr)) = support::bind(addr).await else {
        return Ok(ExitCode::FAILURE);
    };
    let build_dir = build().await?;
    println!("The book is at http://{addr}/ (it rebuilds and reloads as you edit; Ctrl-C to stop)");
    book::serve(listener, book::book_dir(), build_dir, support::ctrl_c()).await?;
    Ok(ExitCode::SUCCESS)
}
