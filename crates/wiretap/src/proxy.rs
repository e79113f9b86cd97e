//! The proxy: accept a client, connect to the upstream, and copy bytes both
//! ways as they arrive, showing the tap a copy of each read after it has
//! been forwarded.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use handshake::{http_response, write_and_close};
use support::accept_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Options;
use crate::event::{Direction, Ending, Event, EventKind};
use crate::tap::ConnTap;

/// How long we try to reach the upstream before answering the client 502.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes read per call, each direction: what one read may bring and one
/// write forwards. 16 KiB per direction and connection, allocated once.
pub const READ_BUFFER: usize = 16 * 1024;

// ANCHOR: output
/// Where events go: a bounded channel we never wait on. When the reader
/// falls behind, events are counted and dropped, and an [`EventKind::Lost`]
/// says how many once there is room again: a slow terminal may lose lines,
/// but it must never slow the traffic it shows.
#[derive(Debug)]
struct Output {
    events: mpsc::Sender<Event>,
    lost: AtomicU64,
}

impl Output {
    fn emit(&self, event: Event) {
        let lost = self.lost.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let report = Event {
                conn: 0,
                time: event.time,
                kind: EventKind::Lost { count: lost },
            };
            if self.events.try_send(report).is_err() {
                self.lost.fetch_add(lost + 1, Ordering::Relaxed);
                return;
            }
        }
        // A closed channel means nobody is watching: nothing to do.
        if let Err(TrySendError::Full(_)) = self.events.try_send(event) {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}
// ANCHOR_END: output

// ANCHOR: run
/// Accepts clients on `listener` until `shutdown` completes, forwards each
/// one's bytes to and from `upstream` unchanged, and sends what it sees to
/// `events`.
///
/// `events` is never waited on: size it for bursts (the binary uses a few
/// thousand) and read it from a thread of its own ([`crate::write_events`]).
/// On shutdown, connections still open are dropped: a proxy has no goodbye
/// of its own to say, and the endpoints see their connection end as if the
/// network had dropped it.
pub async fn run(
    listener: TcpListener,
    upstream: SocketAddr,
    options: Options,
    events: mpsc::Sender<Event>,
    shutdown: impl Future,
) {
    let output = Arc::new(Output {
        events,
        lost: AtomicU64::new(0),
    });
    let epoch = Instant::now();
    let mut next_id = 0;
    let mut connections = JoinSet::new();
    accept_until(&listener, shutdown, &mut connections, |client, peer| {
        next_id += 1;
        let connection = Connection {
            id: next_id,
            epoch,
            options,
            output: Arc::clone(&output),
        };
        connection.serve(client, peer, upstream)
    })
    .await;
    connections.shutdown().await;
}
// ANCHOR_END: run

/// One client's connection through the tap.
struct Connection {
    id: u64,
    epoch: Instant,
    options: Options,
    output: Arc<Output>,
}

impl Connection {
    fn emit(&self, kind: EventKind) {
        self.output.emit(Event {
            conn: self.id,
            time: self.epoch.elapsed(),
            kind,
        });
    }

    // ANCHOR: serve
    /// Connects to the upstream for this client, then copies both ways
    /// until both directions have ended or one has failed.
    async fn serve(self, mut client: TcpStream, peer: SocketAddr, upstream: SocketAddr) {
        let started = Instant::now();
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await;
        let mut server = match connected {
            Ok(Ok(server)) => server,
            Ok(Err(e)) => {
                return self
                    .unreachable(client, peer, upstream, e.to_string())
                    .await;
            }
            Err(_) => {
                let why = format!("no answer within {CONNECT_TIMEOUT:?}");
                return self.unreachable(client, peer, upstream, why).await;
            }
        };
        // We forward each read the moment it arrives. With Nagle's algorithm
        // on, a small write waits for the ACK of the previous one (up to
        // 40 ms with delayed ACKs): a pong or an echo would sit in our
        // buffer. Off, the tap adds one syscall per read, no waiting.
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        self.emit(EventKind::Open {
            client: peer,
            upstream,
        });

        // Shared by the two directions below. They are two futures of one
        // task, polled one at a time, so the lock is never contended; it is
        // a Mutex (not a RefCell) only because the task must be Send.
        let tap = Mutex::new(ConnTap::new(self.options));
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        // Both directions at once, each on its own: a direction waiting for
        // its receiver to read must never stop the other (a peer that stops
        // reading until we read from it would deadlock a one-loop proxy).
        let result = tokio::try_join!(
            self.pump(client_read, server_write, Direction::ClientToServer, &tap),
            self.pump(server_read, client_write, Direction::ServerToClient, &tap),
        );
        if result.is_err() {
            // One side failed, a reset most often. Reset the other too
            // (SO_LINGER 0 makes the close send RST), rather than a FIN that
            // would say "everything was sent" when it was not.
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
        let tap = tap.into_inner().unwrap_or_else(PoisonError::into_inner);
        self.emit(EventKind::End {
            client_bytes: tap.bytes(Direction::ClientToServer),
            server_bytes: tap.bytes(Direction::ServerToClient),
            duration: started.elapsed(),
        });
    }
    // ANCHOR_END: serve

    // ANCHOR: pump
    /// Copies `from` to `to` until `from` ends, showing the tap each read
    /// once it has been forwarded.
    async fn pump(
        &self,
        mut from: ReadHalf<'_>,
        mut to: WriteHalf<'_>,
        dir: Direction,
        tap: &Mutex<ConnTap>,
    ) -> io::Result<()> {
        let mut buf = vec![0; READ_BUFFER];
        let mut seen = Vec::new();
        let mut total = 0;
        loop {
            let n = match from.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => return Err(self.failed(dir, total, e)),
            };
            if n == 0 {
                // A FIN: the sender is done sending, but may still read
                // (TCP is two one-way streams; RFC 9293 §3.6). Pass it on as
                // a FIN, shutting down only our writing towards the other
                // peer, and let the other direction run until it ends too.
                lock(tap).finish(dir, &mut seen);
                for seen in seen.drain(..) {
                    self.emit(EventKind::Seen(seen));
                }
                self.emit(EventKind::Closed {
                    dir,
                    how: Ending::Fin,
                    bytes: total,
                });
                return to.shutdown().await.map_err(|e| self.failed(dir, total, e));
            }
            let time = self.epoch.elapsed();
            // Forward first: the bytes leave exactly as they came, and
            // nothing we do with them can delay or change them.
            if let Err(e) = to.write_all(&buf[..n]).await {
                return Err(self.failed(dir, total, e));
            }
            total += n as u64;
            lock(tap).feed(dir, &buf[..n], &mut seen);
            for seen in seen.drain(..) {
                self.output.emit(Event {
                    conn: self.id,
                    time,
                    kind: EventKind::Seen(seen),
                });
            }
        }
    }
    // ANCHOR_END: pump

    /// Reports a failed direction; returns the error to end both.
    fn failed(&self, dir: Direction, bytes: u64, error: io::Error) -> io::Error {
        self.emit(EventKind::Closed {
            dir,
            how: Ending::Error(error.to_string()),
            bytes,
        });
        error
    }

    /// The upstream cannot be reached: tell the client in HTTP, since every
    /// lesson it could be looking for speaks HTTP first.
    async fn unreachable(
        &self,
        mut client: TcpStream,
        peer: SocketAddr,
        upstream: SocketAddr,
        error: String,
    ) {
        let body = format!(
            "wiretap: cannot reach the upstream {upstream} ({error}).\n\
             Is the lesson running? Start it, or pass --upstream HOST:PORT.\n"
        );
        self.emit(EventKind::UpstreamUnreachable {
            client: peer,
            upstream,
            error,
        });
        let response = http_response(502, &[], "text/plain; charset=utf-8", body.as_bytes());
        if write_and_close(&mut client, &response).await.is_ok() {
            // Read what the client sent until it closes (briefly): closing a
            // socket with unread bytes sends a reset, which can destroy our
            // answer before the client reads it.
            let mut sink = [0; 1024];
            let drain = async { while matches!(client.read(&mut sink).await, Ok(1..)) {} };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
        }
    }
}

/// The tap, whatever a panic elsewhere left it as: a report may be odd, the
/// forwarding goes on.
fn lock(tap: &Mutex<ConnTap>) -> std::sync::MutexGuard<'_, ConnTap> {
    tap.lock().unwrap_or_else(PoisonError::into_inner)
}
