//! The close handshake, both ways (RFC 6455 §7): ours started with
//! [`WebSocket::close`], the peer's answered, and a connection failed with
//! the code its error earns. Each step is bounded by the close timeout.

use std::io;

use frame::{CloseCode, CloseFrame, Frame, OpCode, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use super::{State, WebSocket};
use crate::error::Error;

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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

    pub(super) async fn close_with(&mut self, close: Option<CloseFrame>) -> Result<(), Error> {
        if let Some(close) = &close
            && !close.code.is_valid()
        {
            return Err(Error::InvalidCloseCode(close.code));
        }
        if self.state == State::Open {
            self.queue(&Frame::close(close));
            self.state = State::CloseSent {
                deadline: Instant::now() + self.close_timeout,
            };
        }
        self.finish_close().await
    }
    // ANCHOR_END: close

    // ANCHOR: answer_close
    /// The peer sent a Close: answer it and close TCP.
    pub(super) async fn answer_close(&mut self, close: Option<CloseFrame>) -> Result<(), Error> {
        // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did
        // not previously send a Close frame, the endpoint MUST send a Close
        // frame in response. (When sending a Close frame in response, the
        // endpoint typically echos the status code it received.)" A Close
        // with no code gets an empty one back: its code, 1005, is only ever
        // reported, never sent (§7.1.5, §7.4.1).
        let reply = close.as_ref().map(|close| CloseFrame::new(close.code, ""));
        self.peer_close = Some(close.unwrap_or_else(no_status));
        self.queue(&Frame::close(reply));
        self.state = State::Closing {
            deadline: Instant::now() + self.close_timeout,
        };
        self.finish_close().await
    }
    // ANCHOR_END: answer_close

    // ANCHOR: fail
    /// _Fail the WebSocket Connection_ (RFC 6455 §7.1.7) because of `error`:
    /// send a Close with its code, close TCP, and hand the error back.
    pub(super) async fn fail(&mut self, error: Error) -> Error {
        // Only called with the errors that have a close code.
        let code = error.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
        // The reason says which rule was broken; CloseFrame::encode cuts it
        // to fit a control frame, at a character boundary.
        let close = CloseFrame::new(code, error.to_string());
        self.queue(&Frame::close(Some(close)));
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
    pub(super) async fn finish_close(&mut self) -> Result<(), Error> {
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
    pub(super) async fn await_close_reply(&mut self) -> Result<(), Error> {
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
    pub(super) async fn close_tcp(&mut self) -> io::Result<()> {
        self.flush().await?;
        if self.role == Role::Client {
            // §7.1.1: the client "SHOULD wait for the server to close the
            // connection", so that the TIME_WAIT state stays on the client.
            // Read (and throw away) until the server's FIN, then send ours.
            // The caller's deadline bounds the wait.
            while self.stream.read_buf(&mut self.read_buf).await? != 0 {
                self.read_buf.clear();
            }
            return self.stream.shutdown().await;
        }
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
}

/// What we record when a Close has no body: RFC 6455 §7.1.5, "If this Close
/// control frame contains no status code, _The WebSocket Connection Close
/// Code_ is considered to be 1005."
pub(super) fn no_status() -> CloseFrame {
    CloseFrame::new(CloseCode::NO_STATUS, "")
}
