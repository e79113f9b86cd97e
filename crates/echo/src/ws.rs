//! One WebSocket connection: lesson 2's codec on a socket, on either side.
//!
//! Lesson 1 hands us a stream that has just sent its 101 (or, on the
//! client's side, received it), plus any bytes the peer sent right behind
//! the handshake. From there, everything is frames:
//!
//! - reading: bytes into a buffer, whole frames out of it (the [`Decoder`]),
//!   fragments joined into messages (the [`Assembler`]), pings answered on
//!   the spot, pongs dropped, a Close answered;
//! - writing: a frame encoded into a small buffer (masked with a fresh key
//!   when we are the client), then written out;
//! - closing: the close handshake both ways, each bounded by a deadline
//!   (in `ws/close.rs`); the read buffer's policy is in `ws/buffer.rs`.
//!
//! Every method is cancel safe: dropping its future at an `.await` (in a
//! `select!`, say) leaves the connection in order. Bytes are only ever
//! appended to the read buffer, and a frame to write is first encoded whole
//! into the write buffer, which the next write drains before anything else,
//! so frames never interleave on the wire.

use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use frame::{
    Assembler, COMPRESSOR_WINDOW_BITS, CloseFrame, Compressor, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE, Decoder, Frame, Inflater, MAX_CONTROL_PAYLOAD, Message, OpCode, RSV1,
    Role, encode,
};
use handshake::DeflateParams;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::Error;

mod buffer;
mod close;

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

/// A WebSocket connection on any byte stream, server or client side, built
/// on lessons 1 and 2 only.
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
    /// Which side we are: it decides who masks (RFC 6455 §5.1) and who
    /// closes TCP first (§7.1.1).
    role: Role,
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
    /// permessage-deflate's compressor, when it was agreed and we may
    /// compress (with the full window).
    compressor: Option<Compressor>,
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
        WebSocket::new(stream, Role::Server, early, config)
    }

    // ANCHOR: client
    /// Takes over a stream on which we, the client, have just received the
    /// server's 101 ([`handshake::client_handshake`]). `early` is what came
    /// right behind it ([`handshake::ClientHandshake::leftover`]): a server
    /// may send its first frames at once.
    ///
    /// The same connection as the server's, but every frame we send is
    /// masked with a fresh random key (RFC 6455 §5.3), every frame we
    /// receive must not be (§5.1), and after the close handshake we wait
    /// for the server to close TCP first (§7.1.1).
    pub fn client(stream: S, early: &[u8], config: WebSocketConfig) -> WebSocket<S> {
        WebSocket::new(stream, Role::Client, early, config)
    }
    // ANCHOR_END: client

    // ANCHOR: with_deflate
    /// Speaks permessage-deflate as the handshake agreed (RFC 7692): the
    /// messages we receive may be compressed (RSV1), and those we send are,
    /// within the window the peer allowed us. A window of 8 bits, which our
    /// compressor cannot keep to, gets our messages uncompressed, as the
    /// extension allows message by message. Each direction keeps its
    /// context unless its `*_no_context_takeover` was agreed.
    #[must_use]
    pub fn with_deflate(mut self, agreed: DeflateParams) -> WebSocket<S> {
        let (ours_kept, theirs_kept, our_window) = match self.role {
            Role::Server => (
                !agreed.server_no_context_takeover,
                !agreed.client_no_context_takeover,
                agreed.server_max_window_bits,
            ),
            Role::Client => (
                !agreed.client_no_context_takeover,
                !agreed.server_no_context_takeover,
                agreed.client_max_window_bits.flatten(),
            ),
        };
        self.decoder = self.decoder.clone().with_compression();
        self.assembler = Assembler::new()
            .with_max_message_size(self.assembler.max_message_size())
            .with_inflater(Inflater::new(theirs_kept));
        let bits = our_window.unwrap_or(15);
        self.compressor = COMPRESSOR_WINDOW_BITS
            .contains(&bits)
            .then(|| Compressor::with_window_bits(ours_kept, bits));
        self
    }
    // ANCHOR_END: with_deflate

    fn new(stream: S, role: Role, early: &[u8], config: WebSocketConfig) -> WebSocket<S> {
        // A buffer of our own rather than the handshake's: that one shares
        // its memory with the request head, which we are done with.
        let mut read_buf = BytesMut::with_capacity(INITIAL_READ_CAPACITY.max(early.len()));
        read_buf.extend_from_slice(early);
        WebSocket {
            stream,
            role,
            read_buf,
            read_buf_grown: false,
            // Nothing allocated until the first write.
            write_buf: BytesMut::new(),
            decoder: Decoder::new(role).with_max_frame_size(config.max_frame_size),
            assembler: Assembler::new().with_max_message_size(config.max_message_size),
            compressor: None,
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
                Err(e @ (Error::Frame(_) | Error::Message(_))) => return Err(self.fail(e).await),
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
            Message::Text(text) => self.data_frame(OpCode::Text, text.into_bytes()),
            Message::Binary(bytes) => self.data_frame(OpCode::Binary, bytes),
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

    /// A text or binary message in one frame: compressed, with RSV1 set,
    /// when permessage-deflate lets us (RFC 7692 §7.2.1).
    fn data_frame(&mut self, opcode: OpCode, payload: Bytes) -> Frame {
        match &mut self.compressor {
            Some(compressor) => Frame {
                rsv: RSV1,
                ..Frame::new(opcode, compressor.compress(&payload))
            },
            None => Frame::new(opcode, payload),
        }
    }

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
            // Part of a frame: if it is text, what has arrived must already
            // be valid UTF-8 (a peer that sent a bad byte and then stalls
            // fails now, not when, or if, the rest comes).
            if let Some((header, arrived)) = self.decoder.arriving(&self.read_buf) {
                self.assembler
                    .check_arriving(&header, arrived)
                    .map_err(Error::Message)?;
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

    /// Encodes `frame` behind anything still unwritten and writes it all.
    async fn write_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        self.queue(frame);
        self.flush().await.map_err(|e| {
            self.state = State::Closed;
            Error::Io(e)
        })
    }

    // ANCHOR: queue
    /// Encodes `frame` behind anything still unwritten. A client masks
    /// every frame with a new key from a strong random source (RFC 6455
    /// §5.3: the key "MUST be derived from a strong source of entropy", so
    /// that no script can predict the bytes on the wire).
    fn queue(&mut self, frame: &Frame) {
        match self.role {
            Role::Client => encode(
                &frame.clone().with_mask(rand::random()),
                &mut self.write_buf,
            ),
            Role::Server => encode(frame, &mut self.write_buf),
        }
    }
    // ANCHOR_END: queue

    /// Writes the write buffer out.
    async fn flush(&mut self) -> io::Result<()> {
        // Measured before writing: after a partial write we advance the
        // buffer past what was written, and capacity() no longer shows its
        // size.
        let big = self.write_buf.capacity() > BUFFER_KEEP;
        // One `write` at a time, each followed by dropping what it took from
        // the front: if this future is dropped halfway, what was not written
        // is still in the buffer, ahead of anything queued later.
        while !self.write_buf.is_empty() {
            let written = self.stream.write(&self.write_buf).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            if written == self.write_buf.len() {
                // All of it, as usual: emptied in place, the buffer keeps
                // all its room for the next frame. (Advancing past the end
                // would leave none, and the next frame's `reserve` would
                // have to take the room back, every time.)
                self.write_buf.clear();
            } else {
                self.write_buf.advance(written);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use close::no_status;
    use frame::CloseCode;
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
        // Written out, it is emptied in place: the next frame finds its
        // room without reserving it again.
        ws.send(Message::Text("again".into())).await.unwrap();
        assert!(ws.write_buf.is_empty() && ws.write_buf.capacity() >= 7);
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
