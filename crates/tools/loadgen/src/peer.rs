//! The echo run's two clients: ours (lessons 1 and 2 by hand: [`Client`])
//! or tokio-tungstenite's codec on the same connection, to weigh what the
//! generator's own side costs. Both connect the same way, with our
//! handshake, which is not timed; only the frames of the round trips differ.

use std::fmt;
use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::client::{Client, Echo, SERVER_FIN_WAIT, SessionError};

/// Which code speaks WebSocket on the echo run's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCodec {
    /// Ours: lessons 1 and 2, one write per message, a reused 4 KiB buffer.
    #[default]
    Ours,
    /// tokio-tungstenite's, with a 4 KiB read buffer as ours (its default,
    /// 128 KiB, is zero-filled before reads and would weigh the buffer,
    /// not the codec).
    Tungstenite,
}

impl ClientCodec {
    /// `ours` or `tungstenite`, as `--client` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ClientCodec::Ours => "ours",
            ClientCodec::Tungstenite => "tungstenite",
        }
    }

    /// Reads a `--client` value.
    pub fn parse(name: &str) -> Option<ClientCodec> {
        [ClientCodec::Ours, ClientCodec::Tungstenite]
            .into_iter()
            .find(|codec| codec.name() == name)
    }
}

impl fmt::Display for ClientCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One echo connection, spoken by either codec.
#[derive(Debug)]
pub(crate) enum EchoPeer {
    Ours(Client),
    Tungstenite(WebSocketStream<TcpStream>),
}

impl EchoPeer {
    /// Hands a connection that has done its handshake to `codec`.
    pub(crate) async fn new(client: Client, codec: ClientCodec) -> EchoPeer {
        match codec {
            ClientCodec::Ours => EchoPeer::Ours(client),
            ClientCodec::Tungstenite => {
                let (stream, early) = client.into_parts();
                let config = WebSocketConfig::default().read_buffer_size(4096);
                let ws = WebSocketStream::from_partially_read(
                    stream,
                    early.to_vec(),
                    Role::Client,
                    Some(config),
                )
                .await;
                EchoPeer::Tungstenite(ws)
            }
        }
    }

    /// Sends `text` and reads what comes back.
    pub(crate) async fn round_trip(&mut self, text: &str) -> Result<Echo, SessionError> {
        let ws = match self {
            EchoPeer::Ours(client) => return client.round_trip(text).await,
            EchoPeer::Tungstenite(ws) => ws,
        };
        ws.send(Message::text(text)).await.map_err(session_error)?;
        loop {
            // Pings are answered by tungstenite itself, on the next write.
            return match ws.next().await {
                Some(Ok(Message::Text(echo))) if echo.as_str() == text => Ok(Echo::Matched),
                Some(Ok(Message::Text(other))) => Ok(Echo::Mismatched(frame::Message::Text(
                    other.as_str().into(),
                ))),
                Some(Ok(Message::Binary(bytes))) => {
                    Ok(Echo::Mismatched(frame::Message::Binary(bytes)))
                }
                Some(Ok(Message::Close(_))) => Err(SessionError::ServerClosed(None)),
                Some(Ok(_ping_pong_or_raw_frame)) => continue,
                Some(Err(e)) => Err(session_error(e)),
                None => Err(SessionError::Eof),
            };
        }
    }

    /// The closing handshake, then the server's FIN (for at most
    /// [`SERVER_FIN_WAIT`]).
    pub(crate) async fn close(self) -> Result<(), SessionError> {
        let mut ws = match self {
            EchoPeer::Ours(client) => return client.close().await,
            EchoPeer::Tungstenite(ws) => ws,
        };
        ws.close(None).await.map_err(session_error)?;
        // tungstenite reads until the server's Close (and then its FIN).
        let drained = async { while let Some(Ok(_)) = ws.next().await {} };
        let _closed_or_timed_out = tokio::time::timeout(SERVER_FIN_WAIT, drained).await;
        Ok(())
    }
}

fn session_error(e: tungstenite::Error) -> SessionError {
    match e {
        tungstenite::Error::Io(e) => SessionError::Io(e),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            SessionError::Eof
        }
        other => SessionError::Io(io::Error::new(io::ErrorKind::InvalidData, other)),
    }
}
