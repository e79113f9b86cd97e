//! Serving the built book, and rebuilding it while it is read.
//!
//! Three routes, in [`routes`]:
//!
//! - `/__livereload`: a WebSocket on which the server says `reload` after
//!   each rebuild;
//! - `/__livereload.js`: the script ([`LIVE_RELOAD_SCRIPT`]) that listens on it;
//! - everything else: the files of the build directory, by warp's
//!   `fs::dir`, with a `<script>` tag for that script added to every HTML
//!   page on its way out. The files on disk never carry it, so the book that
//!   `--check` reads (or that anyone publishes) is the plain one.
//!
//! Beside the server, [`rebuild_on_change`] polls the sources, rebuilds,
//! and tells the sockets.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mdbook_driver::config::Config;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{error, info};
use warp::http::StatusCode;
use warp::reply::{self, Reply, Response};
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Rejection};

use crate::Error;
use crate::watch::{POLL_INTERVAL, Snapshot, Sources};

/// The script every served page gets: it opens a WebSocket to
/// `/__livereload` and reloads the page when a message arrives.
pub const LIVE_RELOAD_SCRIPT: &str = include_str!("livereload.js");

/// What goes before `</body>` in every HTML page served.
const SCRIPT_TAG: &str = r#"<script src="/__livereload.js"></script>"#;

/// Once the server has stopped, how long the live-reload sockets get to
/// close: our Close frame out, the page's back.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the live-reload sockets hear through a `watch` channel. A socket
/// takes the value present when it subscribes as already seen: only what
/// is sent after that wakes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// The book was rebuilt: reload.
    Rebuilt,
    /// The server is stopping: close.
    Stopping,
}

/// Serves the book built in `build_dir` on `listener`, with live reload,
/// until `shutdown` completes.
///
/// `book_root` is the directory of the book's `book.toml`, and `build_dir`
/// the directory that [`build`](crate::build) wrote the HTML into. While
/// serving, the sources are polled every half second: `book.toml`, the
/// `src` directory, and the `extra-watch-dirs` of `book.toml` (for our book,
/// the lessons and `static/`, which the chapters include), all walked to the
/// bottom. When one changes, the book is rebuilt into `build_dir` and every
/// open page is told to reload. A build that fails is logged, and no page is
/// told anything; as mdBook finds a broken `book.toml` or `SUMMARY.md`, or a
/// missing chapter, before it clears the build directory, the last build
/// stays served.
///
/// A missing file is answered with 404 and the book's own `404.html`; paths
/// with `..` are refused by warp with a 404 too.
///
/// When `shutdown` completes we stop accepting, let the requests in flight
/// finish, close the live-reload sockets, and return.
///
/// # Errors
///
/// Fails when `book_root/book.toml` cannot be read.
pub async fn serve(
    listener: TcpListener,
    book_root: PathBuf,
    build_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // The first snapshot is taken before we accept anyone, so that a change
    // made once a page is open is never mistaken for the starting state.
    let (sources, first) = {
        let (root, out) = (book_root.clone(), build_dir.clone());
        tokio::task::spawn_blocking(move || {
            let sources = sources(&root, &out)?;
            let first = sources.snapshot();
            Ok::<_, Error>((sources, first))
        })
        .await??
    };

    let (reloads, _) = watch::channel(Signal::Rebuilt);
    let server = warp::serve(routes(build_dir, reloads.clone()))
        .incoming(listener)
        .graceful(shutdown)
        .run();
    tokio::select! {
        () = server => {}
        () = rebuild_on_change(book_root, sources, first, &reloads) => {}
    }

    reloads.send_replace(Signal::Stopping);
    // Each socket holds a receiver until its closing handshake is over.
    if tokio::time::timeout(CLOSE_GRACE, reloads.closed())
        .await
        .is_err()
    {
        info!("some live-reload sockets did not close in time");
    }
    Ok(())
}

/// What to watch for the book in `book_root`, built into `build_dir`.
fn sources(book_root: &Path, build_dir: &Path) -> Result<Sources, Error> {
    let config = Config::from_disk(book_root.join("book.toml"))?;
    let mut watched = vec![
        book_root.join("book.toml"),
        book_root.join(&config.book.src),
    ];
    watched.extend(
        config
            .build
            .extra_watch_dirs
            .iter()
            .map(|dir| book_root.join(dir)),
    );
    // Canonical paths, so the build directory is recognised when a watched
    // directory holds it, whatever `..` led there.
    let canonical = |path: PathBuf| std::fs::canonicalize(&path).unwrap_or(path);
    Ok(Sources {
        watched: watched.into_iter().map(canonical).collect(),
        build_dir: canonical(build_dir.to_path_buf()),
    })
}

/// The whole site: the live-reload socket and script, then the files.
fn routes(
    build_dir: PathBuf,
    reloads: watch::Sender<Signal>,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static {
    let socket = warp::path!("__livereload")
        .and(warp::ws())
        .map(move |ws: Ws| {
            // Subscribed before the 101 goes out: no rebuild that happens
            // after the page's handshake is missed.
            let reloads = reloads.subscribe();
            // The page never sends anything worth more than a Close.
            ws.max_message_size(1024)
                .on_upgrade(move |socket| tell_when_rebuilt(socket, reloads))
        });
    let script = warp::path!("__livereload.js").map(|| {
        reply::with_header(
            LIVE_RELOAD_SCRIPT,
            "content-type",
            "text/javascript; charset=utf-8",
        )
    });
    let not_found = Arc::new(build_dir.join("404.html"));
    let files = warp::fs::dir(build_dir).and_then(with_script);
    socket
        .or(script)
        .or(files)
        .recover(move |rejection| not_found_page(rejection, Arc::clone(&not_found)))
        // A page read after a rebuild must be the new one, even when the
        // rebuild fell within the same second as the last (the resolution
        // of `Last-Modified`): no caching at all.
        .with(reply::with::header("cache-control", "no-store"))
}

/// Passes a file through, adding the live-reload script if it is a page.
async fn with_script(file: warp::fs::File) -> Result<Response, Rejection> {
    if file.path().extension().is_none_or(|ext| ext != "html") {
        return Ok(file.into_response());
    }
    match tokio::fs::read_to_string(file.path()).await {
        Ok(html) => Ok(reply::html(add_script(html)).into_response()),
        // Removed since warp opened it (a rebuild is under way): as missing.
        Err(_) => Err(warp::reject::not_found()),
    }
}

/// A 404 with the book's own page, which links back to the book.
async fn not_found_page(rejection: Rejection, page: Arc<PathBuf>) -> Result<Response, Rejection> {
    if !rejection.is_not_found() {
        // A method other than GET or HEAD, say: warp's own answer.
        return Err(rejection);
    }
    let html = tokio::fs::read_to_string(page.as_path())
        .await
        .unwrap_or_else(|_| "<!DOCTYPE html><title>Not found</title><h1>Not found</h1>".into());
    Ok(reply::with_status(reply::html(add_script(html)), StatusCode::NOT_FOUND).into_response())
}

/// Adds [`SCRIPT_TAG`] at the end of the page's body.
fn add_script(mut html: String) -> String {
    let at = html.rfind("</body>").unwrap_or(html.len());
    html.insert_str(at, SCRIPT_TAG);
    html
}

/// One live-reload socket: `reload` after each rebuild, a Close when the
/// server stops; it ends when the page goes away, or has answered our Close.
async fn tell_when_rebuilt(mut socket: WebSocket, mut reloads: watch::Receiver<Signal>) {
    loop {
        tokio::select! {
            changed = reloads.changed() => {
                // An error means the sender is gone: the server is stopping.
                let signal = match changed {
                    Ok(()) => *reloads.borrow_and_update(),
                    Err(_) => Signal::Stopping,
                };
                if signal == Signal::Stopping {
                    // RFC 6455 §7.4.1: 1001, "going away", as a server
                    // going down. Then we read on until the page's Close
                    // ends the stream: the closing handshake, done fully.
                    let going_away = Message::close_with(1001u16, "the book server is stopping");
                    if socket.send(going_away).await.is_ok() {
                        // Bounded: a page that never answers does not keep
                        // this task past the server's own grace period.
                        let drained = async { while let Some(Ok(_)) = socket.next().await {} };
                        let _ = tokio::time::timeout(CLOSE_GRACE, drained).await;
                    }
                    return;
                }
                if socket.send(Message::text("reload")).await.is_err() {
                    return;
                }
            }
            incoming = socket.next() => match incoming {
                // Reading is what answers the pings and the Close; the
                // messages themselves mean nothing to us.
                Some(Ok(_)) => {}
                // The page reloaded, was closed, or the connection broke.
                None | Some(Err(_)) => return,
            },
        }
    }
}

/// Polls the sources and, after a change, rebuilds the book and tells the
/// sockets. Never returns: it ends when its caller drops it.
///
/// The snapshot is taken before the build starts, so a file saved during a
/// build is seen at the next poll and builds again.
async fn rebuild_on_change(
    book_root: PathBuf,
    sources: Sources,
    mut seen: Snapshot,
    reloads: &watch::Sender<Signal>,
) {
    let sources = Arc::new(sources);
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Walking directories and building are blocking work: off the
        // runtime's worker threads.
        let walker = Arc::clone(&sources);
        let Ok(now) = tokio::task::spawn_blocking(move || walker.snapshot()).await else {
            continue;
        };
        if now == seen {
            continue;
        }
        seen = now;
        info!("a source of the book changed: rebuilding");
        let (root, out) = (book_root.clone(), sources.build_dir.clone());
        match tokio::task::spawn_blocking(move || crate::build(&root, Some(&out))).await {
            Ok(Ok(_)) => {
                info!("rebuilt: reloading the open pages");
                reloads.send_replace(Signal::Rebuilt);
            }
            Ok(Err(e)) => {
                // mdBook's errors are layered ("failed to read chapter", then
                // why): say them all.
                let mut reason = e.to_string();
                let mut source = e.source();
                while let Some(cause) = source {
                    reason = format!("{reason}: {cause}");
                    source = cause.source();
                }
                error!("the book does not build, the pages stay as they were: {reason}");
            }
            Err(e) => error!("the build did not finish: {e}"),
        }
    }
}
