//! Running a lesson's server inside the test, on a port of its own.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;

/// How long a lesson gets to finish after its shutdown signal.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The shutdown future a lesson's `run(listener, shutdown)` receives from
/// [`LessonServer`]: it completes when the test calls
/// [`LessonServer::stop`] or drops the server.
#[derive(Debug)]
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender means the test went away: that is a shutdown too.
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// A lesson server running on a task of the test's runtime, listening on
/// `127.0.0.1` with a port the OS picked, so tests never collide.
///
/// ```no_run
/// # async fn test() -> Result<(), browser::Error> {
/// let server = browser::LessonServer::start(handshake::run).await?;
/// println!("open {}", server.url());
/// server.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LessonServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LessonServer {
    /// Binds `127.0.0.1:0` and spawns `run(listener, shutdown)`, the
    /// signature every lesson's `run` has.
    pub async fn start<F, Fut>(run: F) -> Result<LessonServer, Error>
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::new(format!("cannot bind 127.0.0.1:0: {e}")))?;
        LessonServer::spawn(listener, run)
    }

    /// Like [`LessonServer::start`], on a given address: the one a stopped
    /// server had, so that a page that was connected to it sees its server
    /// come back, as after a restart.
    ///
    /// Tokio's listeners set `SO_REUSEADDR`, so the connections the old
    /// server closed (waiting out `TIME_WAIT`) do not keep the port; a port
    /// that something else took in between is an error.
    pub async fn start_on<F, Fut>(addr: SocketAddr, run: F) -> Result<LessonServer, Error>
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::new(format!("cannot bind {addr} again: {e}")))?;
        LessonServer::spawn(listener, run)
    }

    fn spawn<F, Fut>(listener: TcpListener, run: F) -> Result<LessonServer, Error>
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().map_err(io_error)?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(listener, Shutdown(stopped)));
        Ok(LessonServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Signals shutdown and waits (bounded) for `run` to return, so a test
    /// also proves the lesson stops when asked.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(STOP_TIMEOUT, &mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::new(format!("the lesson server panicked: {e}"))),
            Err(_) => Err(Error::new(format!(
                "the lesson server did not stop within {STOP_TIMEOUT:?} of its shutdown signal"
            ))),
        }
    }
}

impl Drop for LessonServer {
    fn drop(&mut self) {
        // A test that failed half-way never called `stop`; the task must
        // not outlive it (with a runtime per test it could not anyway, but
        // the intent belongs in code).
        self.task.abort();
    }
}

fn io_error(e: io::Error) -> Error {
    Error::new(e.to_string())
}
