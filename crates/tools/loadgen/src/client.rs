//! One client connection, spoken by hand with lessons 1 and 2: our own
//! handshake ([`handshake::client_handshake`]), our own codec
//! ([`frame::encode`], [`frame::Decoder`], [`frame::Assembler`]) on a bare
//! [`TcpStream`].
//!
//! A load generator must cost less than the server it measures, or it
//! measures itself. This client does per message what any client must (mask a
//! frame, write it, read and decode the answer) and nothing else: one
//! `write` system call per message, reads into a reused buffer, no extra task
//! or channel per connection.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use frame::{
    Assembler, CloseCode, CloseFrame, Decoder, Frame, FrameError, Message, MessageError, Role,
    encode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Target;

/// How long one connection may take to connect and finish its handshake.
/// On loopback both take well under a millisecond; seconds mean the server
/// is overloaded or its accept queue is full, which a run should report, not
/// wait out.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Client::close`] waits for the server to close TCP after the
/// Close frames have crossed, before closing it itself.
pub const SERVER_FIN_WAIT: Duration = Duration::from_secs(1);

/// The least free room we give each read. Big enough that an echo of a
/// small message takes one `read`, small enough that 10,000 idle connections
/// cost the generator little; larger messages grow the buffer as they arrive.
const READ_CHUNK: usize = 4096;

/// A WebSocket client connection after a successful handshake.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    /// Bytes read but not yet decoded; starts with whatever followed the
    /// server's 101 in the same read.
    read_buf: BytesMut,
    /// One encoded frame on its way out, reused for every frame.
    write_buf: BytesMut,
    decoder: Decoder,
    assembler: Assembler,
}

/// What came back for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Echo {
    /// The same text, byte for byte.
    Matched,
    /// Something else: other text, or a binary message.
    Mismatched(Message),
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The TCP connect failed.
    Io(io::Error),
    /// Connect and handshake did not finish within [`CONNECT_TIMEOUT`].
    TimedOut,
    /// The server did not complete the WebSocket handshake.
    Handshake(handshake::ClientError),
}

impl ConnectError {
    /// A short name to count failures by: `refused`, `fd-limit`,
    /// `no-free-port`, `reset`, `io`, `timeout` or `handshake`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectError::Io(e) => io_kind(e),
            ConnectError::TimedOut => "timeout",
            ConnectError::Handshake(_) => "handshake",
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Io(e) => {
                write!(f, "connect: {e}")?;
                if io_kind(e) == "fd-limit" {
                    write!(f, " (raise the open-file limit with `ulimit -n`)")?;
                }
                Ok(())
            }
            ConnectError::TimedOut => write!(
                f,
                "connect and handshake took longer than {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
            ConnectError::Handshake(e) => write!(f, "handshake: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Io(e) => Some(e),
            ConnectError::Handshake(e) => Some(e),
            ConnectError::TimedOut => None,
        }
    }
}

/// Linux's `EMFILE` (this process is out of file descriptors) and `ENFILE`
/// (the whole system is). `io::ErrorKind` has no stable variant for either,
/// and they are the failure a large run most needs to name.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// Names an I/O failure for counting.
fn io_kind(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused",
        // Every local port to this server address is taken, often by
        // sockets in TIME_WAIT from an earlier run.
        io::ErrorKind::AddrNotAvailable => "no-free-port",
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => "reset",
        _ if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) => "fd-limit",
        _ => "io",
    }
}

/// Why an open connection stopped working.
#[derive(Debug)]
pub enum SessionError {
    /// The socket failed.
    Io(io::Error),
    /// The server closed TCP without a Close frame.
    Eof,
    /// The server sent a Close frame (we answered it).
    ServerClosed(Option<CloseFrame>),
    /// The server sent a frame RFC 6455 forbids.
    Frame(FrameError),
    /// The server's frames do not add up to valid messages.
    Message(MessageError),
    /// No answer before the caller's deadline.
    TimedOut,
    /// The chat room refused our join, for the reason it gave.
    JoinRefused(String),
}

impl SessionError {
    /// A short name to count failures by: `reset`, `io`, `eof`,
    /// `server-close`, `protocol`, `timeout` or `join-refused`.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionError::Io(e) => io_kind(e),
            SessionError::Eof => "eof",
            SessionError::ServerClosed(_) => "server-close",
            SessionError::Frame(_) | SessionError::Message(_) => "protocol",
            SessionError::TimedOut => "timeout",
            SessionError::JoinRefused(_) => "join-refused",
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Io(e) => write!(f, "socket error: {e}"),
            SessionError::Eof => write!(f, "the server closed TCP without a Close frame"),
            SessionError::ServerClosed(None) => write!(f, "the server closed (no status code)"),
            SessionError::ServerClosed(Some(close)) => write!(
                f,
                "the server closed with {} {:?}",
                close.code.as_u16(),
                close.reason
            ),
            SessionError::Frame(e) => write!(f, "bad frame from the server: {e}"),
            SessionError::Message(e) => write!(f, "bad message from the server: {e}"),
            SessionError::TimedOut => write!(f, "no answer in time"),
            SessionError::JoinRefused(reason) => write!(f, "the room refused our join: {reason}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<io::Error> for SessionError {
    fn from(e: io::Error) -> Self {
        SessionError::Io(e)
    }
}

impl Client {
    /// Connects to `target` and performs the opening handshake, all within
    /// [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`ConnectError`]; [`ConnectError::kind`] names it for counting.
    pub async fn connect(target: &Target) -> Result<Client, ConnectError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Client::connect_unbounded(target))
            .await
            .map_err(|_elapsed| ConnectError::TimedOut)?
    }

    async fn connect_unbounded(target: &Target) -> Result<Client, ConnectError> {
        let mut stream = TcpStream::connect(target.addr)
            .await
            .map_err(ConnectError::Io)?;
        // We send one small frame and wait for its answer. With Nagle's
        // algorithm on, the kernel may hold a small write until the previous
        // one is acknowledged, and with the peer's delayed ACKs that is a
        // 40 ms stall: every interactive protocol turns it off.
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        let done = handshake::client_handshake(&mut stream, &target.host, &target.path)
            .await
            .map_err(ConnectError::Handshake)?;
        Ok(Client {
            stream,
            read_buf: done.leftover,
            write_buf: BytesMut::new(),
            decoder: Decoder::new(Role::Client),
            assembler: Assembler::new(),
        })
    }

    /// The socket and whatever was read but not yet decoded, for another
    /// codec to carry on with.
    pub(crate) fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.read_buf)
    }

    /// Sends `text` as one masked text frame.
    ///
    /// # Errors
    ///
    /// The write failed.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(Frame::text(text)).await
    }

    /// Masks `frame` with a fresh key, encodes it, and writes it in one call.
    async fn send(&mut self, frame: Frame) -> io::Result<()> {
        // RFC 6455 §5.3: a client masks every frame, with a key "derived from
        // a strong source of entropy", new for each frame, so that a script
        // cannot choose the bytes a proxy sees. `rand::random` draws from a
        // CSPRNG seeded by the OS.
        let frame = frame.with_mask(rand::random());
        self.write_buf.clear();
        encode(&frame, &mut self.write_buf);
        self.stream.write_all(&self.write_buf).await
    }

    /// Queues a frame without waiting: if the socket cannot take it now, it
    /// is dropped. For the last words before we drop a connection anyway.
    fn send_now(&mut self, frame: Frame) {
        self.write_buf.clear();
        encode(&frame.with_mask(rand::random()), &mut self.write_buf);
        let _best_effort = self.stream.try_write(&self.write_buf);
    }

    /// Sends `text` and waits for the next text or binary message.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the connection breaks; a wrong answer is not an
    /// error but [`Echo::Mismatched`], and the connection stays usable.
    ///
    /// Cancelling this future (e.g. with a timeout) may leave half a frame
    /// written: drop the connection afterwards.
    pub async fn round_trip(&mut self, text: &str) -> Result<Echo, SessionError> {
        self.send_text(text).await?;
        match self.recv().await? {
            Message::Text(echo) if echo == text => Ok(Echo::Matched),
            other => Ok(Echo::Mismatched(other)),
        }
    }

    /// Waits for the next text or binary message, answering pings and
    /// skipping pongs on the way.
    ///
    /// # Errors
    ///
    /// [`SessionError`]; a Close from the server is
    /// [`SessionError::ServerClosed`], after we answered it.
    pub async fn recv(&mut self) -> Result<Message, SessionError> {
        loop {
            match self.next_message().await? {
                // RFC 6455 §5.5.2: a ping is answered with a pong carrying
                // the same payload, "as soon as is practical". Servers with a
                // heartbeat drop connections that do not.
                Message::Ping(payload) => self.send(Frame::pong(payload)).await?,
                // §5.5.3: unsolicited pongs need no answer.
                Message::Pong(_) => {}
                Message::Close(close) => {
                    // §5.5.1: answer a Close with a Close (echoing the code),
                    // then let the server close TCP.
                    self.send_now(Frame::close(close.clone()));
                    return Err(SessionError::ServerClosed(close));
                }
                data => return Ok(data),
            }
        }
    }

    /// The next text or binary message, or a ping, for a task that also
    /// writes on this connection and so waits for this inside a
    /// `tokio::select!`.
    ///
    /// Cancel-safe, unlike [`Client::recv`]: its only wait is the read into
    /// our buffer (`read_buf`, which loses nothing when cancelled), so a
    /// `select!` that picks another branch leaves no half-written frame
    /// behind. That is why pings come back to the caller, to answer with
    /// [`Client::pong`] outside the `select!`. Pongs are skipped; a Close is
    /// answered (without waiting) and ends the session.
    ///
    /// # Errors
    ///
    /// As [`Client::recv`].
    pub(crate) async fn next_event(&mut self) -> Result<Message, SessionError> {
        loop {
            match self.next_message().await? {
                Message::Pong(_) => {}
                Message::Close(close) => {
                    self.send_now(Frame::close(close.clone()));
                    return Err(SessionError::ServerClosed(close));
                }
                event => return Ok(event),
            }
        }
    }

    /// Answers a ping (RFC 6455 §5.5.2) that [`Client::next_event`] returned.
    ///
    /// # Errors
    ///
    /// The write failed.
    pub(crate) async fn pong(&mut self, payload: bytes::Bytes) -> io::Result<()> {
        self.send(Frame::pong(payload)).await
    }

    /// The next message or control frame, reading as needed. Cancel-safe:
    /// see [`Client::next_event`].
    async fn next_message(&mut self) -> Result<Message, SessionError> {
        loop {
            // The decoder takes one whole frame off the buffer or says "not
            // yet"; the assembler joins fragments. Both are lesson 2's.
            let decoded = self.decoder.decode(&mut self.read_buf);
            let frame = match decoded {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.read_more().await?;
                    continue;
                }
                Err(e) => {
                    self.fail(e.close_code());
                    return Err(SessionError::Frame(e));
                }
            };
            match self.assembler.push(frame) {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {} // a fragment of a message still open
                Err(e) => {
                    self.fail(e.close_code());
                    return Err(SessionError::Message(e));
                }
            }
        }
    }

    /// RFC 6455 §7.1.7: on a protocol error an endpoint "SHOULD send a Close
    /// frame with an appropriate status code" before closing; the caller
    /// drops the connection next.
    fn fail(&mut self, code: CloseCode) {
        self.send_now(Frame::close(Some(CloseFrame::new(code, ""))));
    }

    /// Reads whatever the socket has into `read_buf`.
    async fn read_more(&mut self) -> Result<(), SessionError> {
        // `reserve` is cheap when the room is there; when the decoder has
        // split frames off the front and they have been dropped, it moves
        // the leftover bytes back and reuses the same allocation.
        self.read_buf.reserve(READ_CHUNK);
        match self.stream.read_buf(&mut self.read_buf).await? {
            0 => Err(SessionError::Eof),
            _ => Ok(()),
        }
    }

    /// Whether the connection still looks open, without waiting: the server
    /// has not closed it and the socket has no error. Bytes that arrived
    /// (a heartbeat ping, say) are kept for the next read.
    pub fn is_open(&mut self) -> bool {
        // Drain what is there: a server that hung up may have sent a Close
        // frame first, and only the read after it shows the end of the
        // stream. A few reads at most: a server that keeps talking is open.
        for _ in 0..8 {
            self.read_buf.reserve(READ_CHUNK);
            match self.stream.try_read_buf(&mut self.read_buf) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) => return e.kind() == io::ErrorKind::WouldBlock,
            }
        }
        true
    }

    /// The closing handshake, client side (RFC 6455 §7.1.2): send Close 1000,
    /// read until the server's Close (discarding messages still in flight),
    /// then give the server [`SERVER_FIN_WAIT`] to close TCP.
    ///
    /// §7.1.1 asks the server to close TCP first, so that it, not the client,
    /// holds the connection in TIME_WAIT, and lets the client close "if it
    /// has not received a TCP Close from the server in a reasonable time".
    /// So once both Close frames have crossed, the handshake has succeeded,
    /// whatever TCP does next.
    ///
    /// Wrap it in a timeout: a server may never answer.
    ///
    /// # Errors
    ///
    /// The socket failed, or the server vanished without its Close.
    pub async fn close(mut self) -> Result<(), SessionError> {
        self.send(Frame::close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))
            .await?;
        loop {
            // §5.5.1: once we have sent Close we send nothing more, not even
            // pongs, so we read frames rather than going through `recv`.
            if let Message::Close(_) = self.next_message().await? {
                break;
            }
        }
        let server_closes_tcp = async {
            loop {
                // Nothing may follow a Close: whatever arrives is dropped.
                self.read_buf.clear();
                if self.read_more().await.is_err() {
                    break; // the end of the stream (or a reset): done
                }
            }
        };
        let _closed_or_timed_out = tokio::time::timeout(SERVER_FIN_WAIT, server_closes_tcp).await;
        Ok(())
    }
}
