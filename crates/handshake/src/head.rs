//! Reading an HTTP head (request or response) off a byte stream, bounded in
//! size and time.
//!
//! TCP delivers bytes, not requests: one `read` may return half a header line,
//! or the whole head *and* the first WebSocket frames a client sent right
//! behind it. So we read into a buffer until the blank line that ends the head
//! (`\r\n\r\n`) is there, split the head off, and hand the rest back.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest head we accept, terminator included: 8 KiB. Browsers send
/// 400-800 bytes; a bigger head is a mistake or an attack, and answering it
/// with 431 keeps a client from making us buffer without end.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How long a peer has to send its whole head: 10 s. A client that trickles a
/// request one byte a minute ("slowloris") would otherwise hold a task and a
/// socket forever.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The limits applied while reading a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes a head may take, terminator included.
    pub max_head_bytes: usize,
    /// The time the whole head may take to arrive (not per read).
    pub head_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: MAX_HEAD_BYTES,
            head_timeout: HEAD_TIMEOUT,
        }
    }
}

/// Why no complete head could be read.
#[derive(Debug)]
pub enum ReadHeadError {
    /// The head grew past the limit with no blank line: answer 431.
    TooLarge {
        /// The limit that was exceeded.
        max: usize,
    },
    /// The head did not arrive in time: drop the connection without a word.
    TimedOut,
    /// The peer closed the connection before the head was complete
    /// (`received` bytes of it had arrived).
    Closed {
        /// How many bytes had arrived.
        received: usize,
    },
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for ReadHeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadHeadError::TooLarge { max } => {
                write!(f, "request head is larger than {max} bytes")
            }
            ReadHeadError::TimedOut => write!(f, "head not complete within the time limit"),
            ReadHeadError::Closed { received: 0 } => write!(f, "peer closed without sending"),
            ReadHeadError::Closed { received } => {
                write!(
                    f,
                    "peer closed after {received} bytes of an incomplete head"
                )
            }
            ReadHeadError::Io(e) => write!(f, "socket error while reading head: {e}"),
        }
    }
}

impl std::error::Error for ReadHeadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadHeadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

// ANCHOR: read_head
/// Reads one HTTP head from `stream`.
///
/// Returns the head (through the blank line) and whatever bytes came after it
/// in the same reads. For a WebSocket request those bytes are the first
/// frames the client sent without waiting for our 101: they belong to the
/// WebSocket connection and must not be dropped.
///
/// Any split of the head across reads works, down to one byte per read.
pub async fn read_head<S>(
    stream: &mut S,
    limits: Limits,
) -> Result<(Bytes, BytesMut), ReadHeadError>
where
    S: AsyncRead + Unpin,
{
    match tokio::time::timeout(
        limits.head_timeout,
        read_head_unbounded_time(stream, limits),
    )
    .await
    {
        Ok(result) => result,
        Err(_elapsed) => Err(ReadHeadError::TimedOut),
    }
}

async fn read_head_unbounded_time<S>(
    stream: &mut S,
    limits: Limits,
) -> Result<(Bytes, BytesMut), ReadHeadError>
where
    S: AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    // Where to resume looking for "\r\n\r\n": bytes already searched are not
    // searched again, except the last three, which may hold a partial match.
    let mut searched = 0;
    loop {
        if let Some(end) = find_blank_line(&buf, searched) {
            if end > limits.max_head_bytes {
                return Err(ReadHeadError::TooLarge {
                    max: limits.max_head_bytes,
                });
            }
            let head = buf.split_to(end).freeze();
            return Ok((head, buf));
        }
        if buf.len() >= limits.max_head_bytes {
            return Err(ReadHeadError::TooLarge {
                max: limits.max_head_bytes,
            });
        }
        searched = buf.len().saturating_sub(3);
        // Grow in small steps: the buffer never gets much past the limit.
        if buf.capacity() == buf.len() {
            buf.reserve(1024);
        }
        let n = stream.read_buf(&mut buf).await.map_err(ReadHeadError::Io)?;
        if n == 0 {
            return Err(ReadHeadError::Closed {
                received: buf.len(),
            });
        }
    }
}
// ANCHOR_END: read_head

/// The end (exclusive) of the first `\r\n\r\n` at or after `from`: where a
/// head that starts at `buf[0]` ends, once it is all there.
///
/// For a reader that keeps its own buffer, as lesson 7's wiretap does: pass
/// as `from` the length already searched minus 3, since the blank line may
/// straddle two reads.
pub fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const HEAD: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";

    #[tokio::test]
    async fn whole_head_in_one_read() {
        let mut input: &[u8] = HEAD;
        let (head, rest) = read_head(&mut input, Limits::default()).await.unwrap();
        assert_eq!(&head[..], HEAD);
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn head_one_byte_at_a_time_keeps_early_frame() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (mut client, mut server) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            for b in HEAD.iter().chain(frame.iter()) {
                client.write_all(&[*b]).await.unwrap();
            }
            client
        });
        let (head, mut rest) = read_head(&mut server, Limits::default()).await.unwrap();
        assert_eq!(&head[..], HEAD);
        // The frame bytes may still be arriving (the writer waits for us to
        // read, the pipe holds one byte): read until all are here.
        while rest.len() < frame.len() {
            server.read_buf(&mut rest).await.unwrap();
        }
        let _client = writer.await.unwrap();
        assert_eq!(&rest[..], &frame[..]);
    }

    #[tokio::test]
    async fn bytes_after_head_are_returned() {
        let mut input = HEAD.to_vec();
        input.extend_from_slice(b"\x81\x80early");
        let (head, rest) = read_head(&mut &input[..], Limits::default()).await.unwrap();
        assert_eq!(&head[..], HEAD);
        assert_eq!(&rest[..], b"\x81\x80early");
    }

    #[tokio::test]
    async fn too_large() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        while input.len() < 9 * 1024 {
            input.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        input.extend_from_slice(b"\r\n");
        let err = read_head(&mut &input[..], Limits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ReadHeadError::TooLarge {
                    max: MAX_HEAD_BYTES
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn exactly_at_limit_is_accepted() {
        let limits = Limits {
            max_head_bytes: 64,
            ..Limits::default()
        };
        let mut input = b"GET / HTTP/1.1\r\nX: ".to_vec();
        input.resize(60, b'a');
        input.extend_from_slice(b"\r\n\r\n");
        assert_eq!(input.len(), 64);
        assert!(read_head(&mut &input[..], limits).await.is_ok());
        input.insert(20, b'a');
        assert!(matches!(
            read_head(&mut &input[..], limits).await,
            Err(ReadHeadError::TooLarge { max: 64 })
        ));
    }

    #[tokio::test]
    async fn closed_midway() {
        let err = read_head(&mut &b"GET / HTTP/1.1\r\nHo"[..], Limits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ReadHeadError::Closed { received: 18 }),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_is_for_the_whole_head() {
        let (mut client, mut server) = tokio::io::duplex(64);
        // A slowloris: a byte every second, forever. Per-read timeouts would
        // never fire; ours covers the whole head.
        let _slow = tokio::spawn(async move {
            loop {
                if client.write_all(b"a").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let start = tokio::time::Instant::now();
        let err = read_head(&mut server, Limits::default()).await.unwrap_err();
        assert!(matches!(err, ReadHeadError::TimedOut), "{err}");
        assert_eq!(start.elapsed(), HEAD_TIMEOUT);
    }
}
