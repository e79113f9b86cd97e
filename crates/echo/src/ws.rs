//! One WebSocket connection, server side: lesson 2's codec on a socket.
//!
//! Lesson 1 hands us a stream that has just sent its 101, plus any bytes the
//! client sent behind its request. From there, everything is frames:
//!
//! - reading: bytes into a buffer, whole frames out of it (the [`Decoder`]),
//!   fragments joined into messages (the [`Assembler`]), pings answered on
//!   the spot, pongs dropped, a Close answered;
//! - writing: a frame encoded into a small buffer, then written out;
//! - closing: the close handshake both ways, each bounded by a deadline.
//!
//! Every method is cancel safe: dropping its future at an `.await` (in a
//! `select!`, say) leaves the connection in order. Bytes are only ever
//! appended to the read buffer, and a frame to write is first encoded whole
//! into the write buffer, which the next write drains before anything else,
//! so frames never interleave on the wire.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use frame::{
    Assembler, CloseCode, CloseFrame, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE, Decoder,
    Frame, FrameError, MAX_CONTROL_PAYLOAD, Message, MessageError, OpCode, Role, encode,
    parse_header,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

// ANCHOR: limits
/// How long we wait for the peer's Close after sending ours, and for the
/// peer to close TCP after the close handshake, before we drop the
/// connection anyway: 5 s. RFC 6455 §7.1.1 leaves the time to us; a peer
/// that has gone silent must not hold a task and a socket forever.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The read buffer a connection starts with: 4 KiB. Most messages (chat
/// lines, JSON events, the 20-byte echo of a benchmark) fit many times over;
/// bigger frames grow it as their bytes arrive.
pub const INITIAL_READ_CAPACITY: usize = 4 * 1024;

/// A read buffer that grew past this (8 KiB) is given back once the big
/// frame has gone through, and a write buffer past it after the write: an
/// idle connection then holds at most a few KiB, whatever it once carried.
pub const BUFFER_KEEP: usize = 8 * 1024;

/// Each read asks the socket for at least this much room when the frame in
/// front does not say how much it needs (its header is not complete yet).
const MIN_READ: usize = 1024;
// ANCHOR_END: limits

/// The limits a [`WebSocket`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// The largest payload one frame may announce (inclusive); bigger frames
    /// are refused from their header with close 1009.
    pub max_frame_size: usize,
    /// The largest message fragments may add up to (inclusive); beyond it,
    /// close 1009.
    pub max_message_size: usize,
    /// See [`CLOSE_TIMEOUT`].
    pub close_timeout: Duration,
}

impl Default for WebSocketConfig {
    /// Lesson 2's 16 MiB limits (the largest messages the Autobahn suite
    /// sends) and [`CLOSE_TIMEOUT`].
    fn default() -> Self {
        WebSocketConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            close_timeout: CLOSE_TIMEOUT,
        }
    }
}

/// Why a connection ended other than by a clean close handshake, or why a
/// call could not be done.
#[derive(Debug)]
pub enum Error {
    /// The peer sent a frame that breaks RFC 6455 §5. We sent a Close with
    /// [`FrameError::close_code`] (1002, or 1009 for a frame over the limit)
    /// and closed the connection.
    Frame(FrameError),
    /// The peer's frames do not add up to valid messages (bad fragmentation,
    /// text that is not UTF-8, a message over the limit, a malformed Close).
    /// We sent a Close with [`MessageError::close_code`] and closed the
    /// connection.
    Message(MessageError),
    /// TCP ended without a close handshake: the peer crashed, lost its
    /// network or just closed the socket. RFC 6455 §7.1.5 calls this close
    /// code 1006 (abnormal closure), which is never sent, only reported.
    ConnectionLost {
        /// Whether part of a frame had arrived: the peer vanished mid-frame.
        mid_frame: bool,
    },
    /// We sent a Close and the peer did not answer within the close timeout;
    /// we gave up on it.
    CloseTimeout,
    /// The connection is closed (or closing): nothing more can be sent.
    Closed,
    /// A ping or pong we were asked to send has more than 125 bytes of
    /// payload (RFC 6455 §5.5); nothing was sent.
    ControlPayloadTooLong {
        /// The payload length asked for.
        len: usize,
    },
    /// We were asked to close with a code that may not be sent (1005, 1006,
    /// 1015, or one outside the ranges of RFC 6455 §7.4); nothing was sent.
    InvalidCloseCode(CloseCode),
    /// The socket failed.
    Io(io::Error),
}

impl Error {
    /// The close code we sent because of this error, when the error is the
    /// peer breaking the protocol.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Frame(e) => Some(e.close_code()),
            Error::Message(e) => Some(e.close_code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(e) => e.fmt(f),
            Error::Message(e) => e.fmt(f),
            Error::ConnectionLost { mid_frame: true } => {
                f.write_str("the peer closed TCP in the middle of a frame")
            }
            Error::ConnectionLost { mid_frame: false } => {
                f.write_str("the peer closed TCP without a close handshake")
            }
            Error::CloseTimeout => f.write_str("the peer did not answer our Close in time"),
            Error::Closed => f.write_str("the connection is closed"),
            Error::ControlPayloadTooLong { len } => write!(
                f,
                "a {len}-byte ping or pong (RFC 6455 §5.5: control frames carry at most 125 bytes)"
            ),
            Error::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Error::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Frame(e) => Some(e),
            Error::Message(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Where the connection is in its life (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close; the peer's has not arrived. We read (and discard)
    /// until it does or `deadline` passes.
    CloseSent { deadline: Instant },
    /// Nothing more to say: both Close frames are out, or we failed the
    /// connection. Left to do: write our last bytes, close TCP, and wait for
    /// the peer to close its side, until `deadline`.
    Closing { deadline: Instant },
    /// Done. Drop the `WebSocket` to release the socket.
    Closed,
}

/// A server-side WebSocket connection on any byte stream, built on lessons
/// 1 and 2 only.
///
/// ```no_run
/// # async fn demo(stream: tokio::net::TcpStream) -> Result<(), echo::Error> {
/// // After lesson 1's handshake (early bytes: none here):
/// let mut ws = echo::WebSocket::from_upgraded(stream, &[], echo::WebSocketConfig::default());
/// while let Some(message) = ws.recv().await? {
///     ws.send(message).await?; // echo it
/// }
/// // The peer closed and we answered: the close handshake is done.
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    /// Bytes read but not yet decoded. Small, grows with big frames, and
    /// shrinks back after them (see `make_room`).
    read_buf: BytesMut,
    /// The read buffer grew past [`BUFFER_KEEP`] and is to be given back.
    read_buf_grown: bool,
    /// Encoded frames not yet written (all of them, unless a write was
    /// cancelled halfway).
    write_buf: BytesMut,
    decoder: Decoder,
    assembler: Assembler,
    state: State,
    close_timeout: Duration,
    /// The Close the peer sent, once it has.
    peer_close: Option<CloseFrame>,
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Takes over a stream on which the server has just sent its 101.
    ///
    /// `early` is whatever the client sent behind its handshake request
    /// ([`handshake::IncomingRequest::leftover`]): a client may send its
    /// first frames without waiting for our 101, and those bytes are frames
    /// like any other.
    pub fn from_upgraded(stream: S, early: &[u8], config: WebSocketConfig) -> WebSocket<S> {
        // A buffer of our own rather than the handshake's: that one shares
        // its memory with the request head, which we are done with.
        let mut read_buf = BytesMut::with_capacity(INITIAL_READ_CAPACITY.max(early.len()));
        read_buf.extend_from_slice(early);
        WebSocket {
            stream,
            read_buf,
            read_buf_grown: false,
            // Nothing allocated until the first write.
            write_buf: BytesMut::new(),
            decoder: Decoder::new(Role::Server).with_max_frame_size(config.max_frame_size),
            assembler: Assembler::new().with_max_message_size(config.max_message_size),
            state: State::Open,
            close_timeout: config.close_timeout,
            peer_close: None,
        }
    }

    // ANCHOR: recv
    /// Reads the next text or binary message.
    ///
    /// Control frames never come out of here: a ping is answered with a pong
    /// at once (even between the fragments of a message), a pong is
    /// dropped, and a Close is answered with a Close, after which TCP is
    /// closed and `recv` returns `Ok(None)`, as it does from then on.
    ///
    /// # Errors
    ///
    /// When the peer breaks the protocol we fail the connection (a Close
    /// with the rule's code, then TCP closed) and return what it broke:
    /// [`Error::Frame`] or [`Error::Message`]. [`Error::ConnectionLost`] when
    /// TCP ends without a Close, [`Error::Io`] when the socket fails.
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        if self.state != State::Open {
            // A close already under way (say, a `close` that was cancelled)
            // is seen through first.
            self.finish_close().await?;
            return Ok(None);
        }
        loop {
            let frame = match self.read_frame().await {
                Ok(frame) => frame,
                Err(Error::Frame(e)) => return Err(self.fail(Error::Frame(e)).await),
                Err(e) => {
                    self.state = State::Closed;
                    return Err(e);
                }
            };
            match self.assembler.push(frame) {
                // A fragment: the message is not complete yet.
                Ok(None) => {}
                // ANCHOR: pong
                // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint
                // MUST send a Pong frame in response ... as soon as is
                // practical", with "identical Application data" (§5.5.3).
                // Now, then: control frames may come between fragments
                // precisely so that they are not stuck behind a big message.
                Ok(Some(Message::Ping(payload))) => {
                    self.write_frame(&Frame::pong(payload)).await?;
                }
                // ANCHOR_END: pong
                // RFC 6455 §5.5.3: a pong may come unasked, as a heartbeat;
                // "A response to an unsolicited Pong frame is not expected."
                Ok(Some(Message::Pong(_))) => {}
                Ok(Some(Message::Close(close))) => {
                    self.answer_close(close).await?;
                    return Ok(None);
                }
                Ok(Some(message)) => return Ok(Some(message)),
                Err(e) => return Err(self.fail(Error::Message(e)).await),
            }
        }
    }
    // ANCHOR_END: recv

    /// Sends one message, in one frame.
    ///
    /// Text and binary messages go out as they are; so do pings and pongs of
    /// at most 125 bytes. Sending [`Message::Close`] is [`WebSocket::close`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection is closing or closed;
    /// [`Error::ControlPayloadTooLong`]; [`Error::Io`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        let frame = match message {
            Message::Text(text) => Frame::text(text),
            Message::Binary(bytes) => Frame::binary(bytes),
            Message::Ping(payload) | Message::Pong(payload)
                if payload.len() > MAX_CONTROL_PAYLOAD =>
            {
                return Err(Error::ControlPayloadTooLong { len: payload.len() });
            }
            Message::Ping(payload) => Frame::ping(payload),
            Message::Pong(payload) => Frame::pong(payload),
            Message::Close(close) => return self.close_with(close).await,
        };
        // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST
        // NOT send any more data frames."
        if self.state != State::Open {
            return Err(Error::Closed);
        }
        self.write_frame(&frame).await
    }

    // ANCHOR: close
    /// Starts the close handshake (RFC 6455 §7.1.2) and sees it through:
    /// sends a Close with `code` and `reason`, reads (and discards) until
    /// the peer's Close arrives, then closes TCP. Gives up after the close
    /// timeout.
    ///
    /// A reason over 123 bytes is cut to fit a control frame. Closing a
    /// connection that is already closing finishes that close; closing a
    /// closed one does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::CloseTimeout`] if the peer never answered;
    /// [`Error::ConnectionLost`] if it vanished first;
    /// [`Error::InvalidCloseCode`] for a code that may not be sent.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.close_with(Some(CloseFrame::new(code, reason))).await
    }

    async fn close_with(&mut self, close: Option<CloseFrame>) -> Result<(), Error> {
        if let Some(close) = &close
            && !close.code.is_valid()
        {
            return Err(Error::InvalidCloseCode(close.code));
        }
        if self.state == State::Open {
            encode(&Frame::close(close), &mut self.write_buf);
            self.state = State::CloseSent {
                deadline: Instant::now() + self.close_timeout,
            };
        }
        self.finish_close().await
    }
    // ANCHOR_END: close

    // ANCHOR: answer_close
    /// The peer sent a Close: answer it and close TCP.
    async fn answer_close(&mut self, close: Option<CloseFrame>) -> Result<(), Error> {
        // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did
        // not previously send a Close frame, the endpoint MUST send a Close
        // frame in response. (When sending a Close frame in response, the
        // endpoint typically echos the status code it received.)" A Close
        // with no code gets an empty one back: its code, 1005, is only ever
        // reported, never sent (§7.1.5, §7.4.1).
        let reply = close.as_ref().map(|close| CloseFrame::new(close.code, ""));
        self.peer_close = Some(close.unwrap_or_else(no_status));
        encode(&Frame::close(reply), &mut self.write_buf);
        self.state = State::Closing {
            deadline: Instant::now() + self.close_timeout,
        };
        self.finish_close().await
    }
    // ANCHOR_END: answer_close

    // ANCHOR: fail
    /// _Fail the WebSocket Connection_ (RFC 6455 §7.1.7) because of `error`:
    /// send a Close with its code, close TCP, and hand the error back.
    async fn fail(&mut self, error: Error) -> Error {
        // Only called with the errors that have a close code.
        let code = error.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
        // The reason says which rule was broken; CloseFrame::encode cuts it
        // to fit a control frame, at a character boundary.
        let close = CloseFrame::new(code, error.to_string());
        encode(&Frame::close(Some(close)), &mut self.write_buf);
        // We do not wait for the peer's Close: after a framing error we could
        // not even find it in the byte stream. The frames it might still send
        // are thrown away while we wait for it to close TCP.
        self.state = State::Closing {
            deadline: Instant::now() + self.close_timeout,
        };
        // Whatever goes wrong from here changes nothing: the connection is
        // being failed, and `error` is what the caller needs to hear.
        let _ = self.finish_close().await;
        error
    }
    // ANCHOR_END: fail

    // ANCHOR: finish_close
    /// Drives a close that has begun to its end, within its deadline.
    async fn finish_close(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        if let State::CloseSent { deadline } = self.state {
            result = match timeout_at(deadline, self.await_close_reply()).await {
                Ok(reply) => reply,
                Err(_elapsed) => Err(Error::CloseTimeout),
            };
            self.state = match result {
                // The handshake is complete: close TCP.
                Ok(()) => State::Closing { deadline },
                // Garbage instead of a Close: stop reading it, close TCP.
                Err(Error::Frame(_)) => State::Closing { deadline },
                // Silent, vanished, or the socket failed: just drop it.
                Err(_) => State::Closed,
            };
        }
        if let State::Closing { deadline } = self.state {
            // A peer that will not read our last bytes or close its side
            // gets dropped at the deadline; either way, this side is done.
            let _ = timeout_at(deadline, self.close_tcp()).await;
            self.state = State::Closed;
        }
        result
    }

    /// We have sent our Close: read until the peer's arrives.
    async fn await_close_reply(&mut self) -> Result<(), Error> {
        self.flush().await?; // our Close may still be on its way
        loop {
            let frame = self.read_frame().await?;
            if frame.opcode == OpCode::Close {
                if let Ok(close) = CloseFrame::parse(&frame.payload) {
                    self.peer_close = Some(close.unwrap_or_else(no_status));
                }
                return Ok(());
            }
            // Anything else is discarded. The peer may still be finishing a
            // message it had under way (RFC 6455 §5.5.1 allows that), and we
            // may send nothing after our Close, not even a pong (§1.4: "a
            // peer does not send any further data").
        }
    }

    /// The close handshake is over (or the connection failed): write what
    /// is left, close TCP, and wait for the peer to close its side.
    async fn close_tcp(&mut self) -> io::Result<()> {
        self.flush().await?;
        // RFC 6455 §7.1.1: "the underlying TCP connection, in most normal
        // cases, SHOULD be closed first by the server". shutdown() sends our
        // FIN now, so the client sees the end of the stream.
        self.stream.shutdown().await?;
        // Then read until the peer's FIN, throwing the bytes away. Dropping a
        // socket with unread bytes in its receive queue makes the kernel
        // send RST instead of FIN, and a RST may make the peer discard our
        // Close frame before reading it.
        loop {
            self.read_buf.clear();
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                return Ok(());
            }
        }
    }
    // ANCHOR_END: finish_close

    // ANCHOR: read_frame
    /// Reads until one whole frame is buffered and returns it.
    async fn read_frame(&mut self) -> Result<Frame, Error> {
        loop {
            // Decode first: the last read may have brought several frames
            // (or the client sent them behind its handshake).
            if let Some(frame) = self
                .decoder
                .decode(&mut self.read_buf)
                .map_err(Error::Frame)?
            {
                return Ok(frame);
            }
            self.make_room();
            // read_buf appends to the buffer and is cancel safe: bytes are
            // either in the buffer or still in the socket.
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                return Err(Error::ConnectionLost {
                    mid_frame: !self.read_buf.is_empty(),
                });
            }
        }
    }
    // ANCHOR_END: read_frame

    // ANCHOR: make_room
    /// Makes room in the read buffer for the next read.
    ///
    /// The buffer grows with the bytes that really arrive, never with what a
    /// header merely announces: each step leaves room for at most twice the
    /// payload received so far, and never for more than the frame in front.
    /// A peer announcing 16 MiB and sending 10 bytes costs us 4 KiB; one
    /// sending 16 MiB costs 16 MiB, for as long as the frame takes. Then
    /// the buffer goes back to its initial size, so a connection that once
    /// carried a big message does not keep the memory while it idles.
    fn make_room(&mut self) {
        let len = self.read_buf.len();
        if self.read_buf_grown && len <= INITIAL_READ_CAPACITY / 2 {
            // The big frame has gone (decode split it off; its memory is
            // freed once the message is dropped). Start small again.
            let mut small = BytesMut::with_capacity(INITIAL_READ_CAPACITY);
            small.extend_from_slice(&self.read_buf);
            self.read_buf = small;
            self.read_buf_grown = false;
        }
        // How big the buffer should be for this read: room for the rest of
        // the frame in front (once its header is here, decode has checked it
        // against our limit), but for at most twice the payload bytes that
        // have really arrived.
        let target = match parse_header(&self.read_buf) {
            Ok(Some(header)) => {
                let frame_len = usize::try_from(header.frame_len()).unwrap_or(usize::MAX);
                let arrived = len - header.header_len;
                frame_len.min((header.header_len + 2 * arrived).max(INITIAL_READ_CAPACITY))
            }
            // Not even a whole header yet: a little room is plenty.
            _ => len + MIN_READ,
        };
        // (capacity() counts from the first unread byte.)
        if self.read_buf.capacity() >= target {
            return;
        }
        if target <= INITIAL_READ_CAPACITY {
            // Still small: BytesMut moves the unread bytes back over the
            // frames already taken off the front, or grows a little.
            self.read_buf.reserve(target - len);
        } else {
            // Exactly the target: Vec-style doubling could leave a 16 MiB
            // frame in a 32 MiB buffer.
            let mut bigger = BytesMut::with_capacity(target);
            bigger.extend_from_slice(&self.read_buf);
            self.read_buf = bigger;
            self.read_buf_grown |= target > BUFFER_KEEP;
        }
    }
    // ANCHOR_END: make_room

    /// Encodes `frame` behind anything still unwritten and writes it all.
    async fn write_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        encode(frame, &mut self.write_buf);
        self.flush().await.map_err(|e| {
            self.state = State::Closed;
            Error::Io(e)
        })
    }

    /// Writes the write buffer out.
    async fn flush(&mut self) -> io::Result<()> {
        // Measured before writing: write_all_buf advances the buffer past
        // what it wrote, so afterwards capacity() no longer shows its size.
        let big = self.write_buf.capacity() > BUFFER_KEEP;
        // If this future is dropped halfway, what was not written is still
        // in the buffer, ahead of anything queued later.
        self.stream.write_all_buf(&mut self.write_buf).await?;
        self.stream.flush().await?;
        if big {
            self.write_buf = BytesMut::new();
        }
        Ok(())
    }

    /// The Close frame the peer sent, once it has: code 1005 (no status) if
    /// it had no body (RFC 6455 §7.1.5).
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Whether the connection is closed: the close handshake is over, or
    /// the connection failed. Then drop it to release the socket.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The read buffer's room from its first unread byte: for an idle
    /// connection, what it holds for reading (the write buffer is empty
    /// between writes, and given back when it was big).
    pub fn read_buffer_capacity(&self) -> usize {
        self.read_buf.capacity()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

/// What we record when a Close has no body: RFC 6455 §7.1.5, "If this Close
/// control frame contains no status code, _The WebSocket Connection Close
/// Code_ is considered to be 1005."
fn no_status() -> CloseFrame {
    CloseFrame::new(CloseCode::NO_STATUS, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// A client's frame on the wire: masked (RFC 6455 §5.3).
    fn masked(frame: Frame) -> Vec<u8> {
        let mut buf = BytesMut::new();
        encode(&frame.with_mask([1, 2, 3, 4]), &mut buf);
        buf.to_vec()
    }

    fn server(stream: DuplexStream, early: &[u8]) -> WebSocket<DuplexStream> {
        WebSocket::from_upgraded(stream, early, WebSocketConfig::default())
    }

    /// Runs `recv` until it would wait for more bytes (the paused clock
    /// jumps the timeout as soon as nothing else can happen).
    async fn recv_until_idle(ws: &mut WebSocket<DuplexStream>) {
        let waited = tokio::time::timeout(Duration::from_millis(1), ws.recv()).await;
        assert!(waited.is_err(), "expected recv to wait, got {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_read_buffer_grows_with_bytes_not_with_announcements() {
        let (mut client, stream) = tokio::io::duplex(4 << 20);
        let mut ws = server(stream, &[]);
        assert_eq!(ws.read_buffer_capacity(), INITIAL_READ_CAPACITY);

        let wire = masked(Frame::binary(vec![7; 1 << 20]));
        // The header announces 1 MiB; 100 bytes of it arrive.
        client.write_all(&wire[..114]).await.unwrap();
        recv_until_idle(&mut ws).await;
        assert_eq!(ws.read_buffer_capacity(), INITIAL_READ_CAPACITY);

        // Half of it: the buffer has grown, but never past twice what it holds.
        let half = wire.len() / 2;
        client.write_all(&wire[114..half]).await.unwrap();
        recv_until_idle(&mut ws).await;
        assert!(
            ws.read_buffer_capacity() <= 2 * half,
            "{}",
            ws.read_buffer_capacity()
        );

        client.write_all(&wire[half..]).await.unwrap();
        let message = ws.recv().await.unwrap().unwrap();
        assert_eq!(message, Message::Binary(vec![7; 1 << 20].into()));
        drop(message);

        // Waiting for the next message, the connection holds 4 KiB again.
        recv_until_idle(&mut ws).await;
        assert_eq!(ws.read_buffer_capacity(), INITIAL_READ_CAPACITY);
    }

    #[tokio::test]
    async fn the_write_buffer_is_given_back_after_a_big_message() {
        let (_client, stream) = tokio::io::duplex(4 << 20);
        let mut ws = server(stream, &[]);
        ws.send(Message::Binary(vec![0; 1 << 20].into()))
            .await
            .unwrap();
        // try_reclaim(n): is there an allocation of n bytes to reuse?
        assert!(!ws.write_buf.try_reclaim(1));
        // Small frames keep their buffer: no allocation per message.
        ws.send(Message::Text("small".into())).await.unwrap();
        assert!(ws.write_buf.try_reclaim(7));
        assert!(!ws.write_buf.try_reclaim(BUFFER_KEEP + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_write_is_finished_before_the_next_frame() {
        // A pipe that holds 8 bytes: our 102-byte pong cannot go out at once.
        let (mut client, stream) = tokio::io::duplex(8);
        let ping = masked(Frame::ping(vec![9; 100]));
        let mut ws = server(stream, &ping);
        // recv reads the ping, starts the pong, and is cancelled halfway.
        recv_until_idle(&mut ws).await;

        let peer = async move {
            let mut buf = BytesMut::new();
            let mut decoder = Decoder::new(Role::Client);
            let mut frames = Vec::new();
            while frames.len() < 2 {
                assert_ne!(client.read_buf(&mut buf).await.unwrap(), 0);
                while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                    frames.push(frame);
                }
            }
            client.write_all(&masked(Frame::close(None))).await.unwrap();
            // The server closes its side, then waits for ours (on drop).
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            frames
        };
        let (closed, frames) = tokio::join!(ws.close(CloseCode::NORMAL, "bye"), peer);
        closed.unwrap();
        // The whole pong first, then the Close: frames never interleave.
        assert_eq!(
            frames,
            [
                Frame::pong(vec![9; 100]),
                Frame::close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")))
            ]
        );
        assert!(ws.is_closed());
        assert_eq!(ws.peer_close(), Some(&no_status()));
    }

    #[tokio::test]
    async fn a_close_without_a_code_is_reported_as_1005() {
        let (client, stream) = tokio::io::duplex(1024);
        let mut ws = server(stream, &masked(Frame::close(None)));
        drop(client); // the peer leaves at once; our answer goes nowhere
        assert_eq!(ws.recv().await.unwrap(), None);
        assert_eq!(ws.peer_close().unwrap().code, CloseCode::NO_STATUS);
        // From then on: nothing to read, nothing may be sent.
        assert_eq!(ws.recv().await.unwrap(), None);
        assert!(matches!(
            ws.send(Message::Text("late".into())).await,
            Err(Error::Closed)
        ));
    }

    #[tokio::test]
    async fn refuses_to_send_what_the_protocol_forbids() {
        let (_client, stream) = tokio::io::duplex(1024);
        let mut ws = server(stream, &[]);
        assert!(matches!(
            ws.send(Message::Ping(vec![0; 126].into())).await,
            Err(Error::ControlPayloadTooLong { len: 126 })
        ));
        assert!(matches!(
            ws.close(CloseCode::NO_STATUS, "").await,
            Err(Error::InvalidCloseCode(CloseCode::NO_STATUS))
        ));
        // Nothing was sent, so the connection is still open.
        assert!(!ws.is_closed());
        ws.send(Message::Ping(vec![0; 125].into())).await.unwrap();
    }
}
