//! The read buffer's policy: small to start, grown for a big frame, and
//! given back once the frame is gone, so an idle connection costs little.

use bytes::BytesMut;
use frame::parse_header;

use super::{BUFFER_KEEP, INITIAL_READ_CAPACITY, MIN_READ, WebSocket};

impl<S> WebSocket<S> {
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
    pub(super) fn make_room(&mut self) {
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
}
