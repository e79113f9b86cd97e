//! Turning events into what a person reads, or a program parses.
//!
//! The text view is lessons 1 and 2's annotations, unchanged: a head line
//! by line with lesson 1's notes, a frame field by field as lesson 2's CLI
//! explains it. Each line starts with the connection's number, so
//! `grep '^#3 '` pulls one connection out of a busy screen. The JSON view is
//! one object per line with the same facts as plain fields.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use frame::{
    CloseFrame, Compression, OpCode, Outcome, annotate_prefix, annotate_prefix_with, apply_mask,
    describe_message, to_hex,
};
use handshake::{Headers, annotate_request, annotate_response, parse_request, parse_response};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::event::{
    BodyFraming, CloseStep, Direction, Ending, Event, EventKind, Seen, Undecodable, What,
};

/// How [`write_events`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Annotated text, for people.
    Text,
    /// One JSON object per line ([`to_json`]), for programs and tests.
    Json,
}

/// Headers whose values we never print: cookies and credentials.
const SECRET_HEADERS: [&str; 4] = [
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
];

/// Runs the tap ([`crate::run`]) on `listener` until `shutdown`, with the
/// events printed to standard output in `format` by a thread of their own,
/// so a slow terminal never slows the traffic: past [`OUTPUT_QUEUE`] events
/// waiting, new ones are dropped and counted. Returns an error when
/// standard output was closed (`| head`): the capture ended early.
pub async fn tap_to_stdout(
    listener: tokio::net::TcpListener,
    upstream: std::net::SocketAddr,
    format: Format,
    options: crate::Options,
    shutdown: impl std::future::Future,
) -> io::Result<()> {
    let (events, received) = mpsc::channel(OUTPUT_QUEUE);
    let printer = std::thread::spawn(move || write_events(received, format, io::stdout()));
    crate::run(listener, upstream, options, events, shutdown).await;
    // `run` has dropped the last sender: the printer drains and returns.
    printer
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the printer panicked")))
}

/// Events waiting for the printer of [`tap_to_stdout`]: room for a burst.
pub const OUTPUT_QUEUE: usize = 4096;

// ANCHOR: write_events
/// Prints events as they arrive until every sender is gone. Blocking: run it
/// on a thread of its own, so a slow terminal never holds up the runtime
/// that forwards the bytes.
///
/// # Errors
///
/// Writing to `out` failed (a closed pipe, say); the caller should stop.
pub fn write_events(
    mut events: mpsc::Receiver<Event>,
    format: Format,
    out: impl Write,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    while let Some(event) = events.blocking_recv() {
        out.write_all(render(&event, format).as_bytes())?;
        // Flush once nothing else is waiting: one write for a burst of
        // events, and a quiet moment is on screen at once.
        if events.is_empty() {
            out.flush()?;
        }
    }
    out.flush()
}
// ANCHOR_END: write_events

/// One event in `format`, ending with a newline.
pub fn render(event: &Event, format: Format) -> String {
    match format {
        Format::Text => to_text(event),
        Format::Json => {
            let mut line = to_json(event).to_string();
            line.push('\n');
            line
        }
    }
}

/// Seconds since the tap started, to the microsecond: `12.003456s`.
fn seconds(time: Duration) -> String {
    format!("{}.{:06}s", time.as_secs(), time.subsec_micros())
}

/// Where something sits in its direction's stream.
fn range(offset: u64, len: u64) -> String {
    match len {
        0 => format!("at byte {offset}"),
        1 => format!("byte {offset}"),
        _ => format!("bytes {offset}-{}", offset + len - 1),
    }
}

/// Text lines under a connection's number.
struct Lines {
    conn: u64,
    out: String,
}

impl Lines {
    fn new(conn: u64) -> Lines {
        Lines {
            conn,
            out: String::new(),
        }
    }

    /// The event's own line: `#3  1.234567s  what happened`.
    fn title(&mut self, time: Duration, text: &str) {
        let _ = writeln!(self.out, "#{}  {}  {text}", self.conn, seconds(time));
    }

    /// Lines under it, each marked `#3 │`.
    fn details(&mut self, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.out, "#{} │{line}", self.conn);
        }
    }
}

/// An event as annotated text, one or more lines.
pub fn to_text(event: &Event) -> String {
    let mut lines = Lines::new(event.conn);
    let time = event.time;
    match &event.kind {
        EventKind::Open { client, upstream } => lines.title(
            time,
            &format!("connected: client {client} ⇄ wiretap ⇄ upstream {upstream}"),
        ),
        EventKind::UpstreamUnreachable {
            client,
            upstream,
            error,
        } => lines.title(
            time,
            &format!(
                "client {client} connected, but the upstream {upstream} cannot be reached \
                 ({error}): answered 502 Bad Gateway"
            ),
        ),
        EventKind::Seen(seen) => {
            let (title, details) = describe(seen);
            lines.title(
                time,
                &format!("{}  {}  {title}", seen.dir, range(seen.offset, seen.len)),
            );
            lines.details(&details);
        }
        EventKind::Closed { dir, how, bytes } => {
            let (sender, receiver) = (dir.sender(), dir.reverse().sender());
            lines.title(
                time,
                &match how {
                    Ending::Fin => format!(
                        "{dir}  FIN after {bytes} bytes: the {sender} will send nothing more; \
                         passed on to the {receiver}"
                    ),
                    Ending::Error(e) => {
                        format!("{dir}  failed after {bytes} bytes: {e}; both sides closed")
                    }
                },
            );
        }
        EventKind::End {
            client_bytes,
            server_bytes,
            duration,
        } => lines.title(
            time,
            &format!(
                "connection over after {}: {client_bytes} bytes client → server, \
                 {server_bytes} bytes server → client",
                seconds(*duration)
            ),
        ),
        EventKind::Lost { count } => lines.title(
            time,
            &format!("the output fell behind: {count} events not shown"),
        ),
    }
    lines.out
}

/// A title and detail lines for something seen on the wire.
fn describe(seen: &Seen) -> (String, String) {
    let dir = seen.dir;
    match &seen.what {
        What::HttpRequest { head } => {
            let title = match parse_request(head) {
                Ok(request) => {
                    let upgrade = request
                        .headers
                        .get_one("Upgrade")
                        .map(|u| format!(", asking to upgrade to {u}"))
                        .unwrap_or_default();
                    format!(
                        "HTTP request: {} {}{upgrade}",
                        request.method, request.target
                    )
                }
                Err(_) => "HTTP request".to_owned(),
            };
            (title, annotate_request(head))
        }
        What::HttpResponse { head } => {
            let title = match parse_response(head) {
                Ok(response) => format!("HTTP response: {} {}", response.status, response.reason),
                Err(_) => "HTTP response".to_owned(),
            };
            (title, annotate_response(head))
        }
        What::HttpBody {
            body_len,
            framing,
            content_type,
            complete,
        } => {
            let framing = match framing {
                BodyFraming::Length => "Content-Length",
                BodyFraming::Chunked => "chunked",
                BodyFraming::UntilClose => "until the connection closed",
            };
            let content_type = content_type
                .as_deref()
                .map(|ct| format!(", {ct}"))
                .unwrap_or_default();
            let cut = if *complete {
                ""
            } else {
                "; cut short: the connection ended first"
            };
            (
                format!("HTTP body: {body_len} bytes ({framing}{content_type}){cut}"),
                String::new(),
            )
        }
        What::SseEvent { text, truncated } => {
            let mut details = String::new();
            for line in text.lines() {
                let _ = writeln!(details, "   {line}");
            }
            if *truncated {
                details.push_str("   ... (longer: only its start is shown)\n");
            }
            ("Server-Sent Event".to_owned(), details)
        }
        What::Frame {
            bytes,
            close_step,
            compression,
            ..
        } => {
            let annotation = annotate_prefix_with(bytes, Some(dir.reader()), *compression);
            let mut details = annotation.details;
            let (sender, receiver) = (dir.sender(), dir.reverse().sender());
            let step = match close_step {
                Some(CloseStep::Starts) => Some(format!(
                    "the {sender} starts the closing handshake (RFC 6455 §7.1.2): it sends no \
                     more data, and the {receiver} should answer with a Close"
                )),
                Some(CloseStep::Answers) => Some(format!(
                    "the {sender} answers the Close: the WebSocket is closed both ways; TCP \
                     closes next, the server's side first (RFC 6455 §7.1.1)"
                )),
                Some(CloseStep::Repeats) => Some(format!(
                    "a second Close from the {sender}: RFC 6455 §5.5.1 expects one"
                )),
                None => None,
            };
            if let Some(step) = step {
                let _ = writeln!(details, "  → {step}");
            }
            (annotation.summary, details)
        }
        What::Inflated {
            opcode,
            frames,
            compressed_len,
            size,
            preview,
        } => {
            let frames = match frames {
                1 => "1 frame".to_owned(),
                n => format!("{n} frames"),
            };
            let ratio = if *size > 0 {
                format!(" ({:.2}×)", *compressed_len as f64 / *size as f64)
            } else {
                String::new()
            };
            (
                format!(
                    "{} message, inflated: {size} bytes, sent as {compressed_len}{ratio} in {frames}",
                    opcode.name()
                ),
                describe_message(*opcode, preview, *size),
            )
        }
        What::Undecodable { why, bytes } => {
            let title = format!("undecodable: {why}; forwarded untouched");
            let details = match why {
                // The header is sound: show it, with the RSV rule checked
                // unless an extension was agreed on.
                Undecodable::Extension { negotiated, .. } => {
                    let reader = negotiated.is_none().then(|| dir.reader());
                    annotate_prefix(bytes, reader).details
                }
                Undecodable::Truncated { .. } if bytes.is_empty() => String::new(),
                _ => {
                    let mut details = String::new();
                    if !bytes.is_empty() {
                        let _ = writeln!(details, "  starts with: {}", to_hex(bytes));
                    }
                    if !matches!(why, Undecodable::Truncated { .. }) {
                        let _ = writeln!(
                            details,
                            "  from here on, {dir} is forwarded without decoding"
                        );
                    }
                    details
                }
            };
            (title, details)
        }
        What::Raw { bytes } => (
            format!("{} bytes as read", bytes.len()),
            hex_dump(bytes, seen.offset),
        ),
    }
}

/// `xxd`-style lines: the stream offset, 16 bytes in hex, the same as ASCII.
fn hex_dump(bytes: &[u8], offset: u64) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let (left, right) = line.split_at(line.len().min(8));
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:08x}  {:<23}  {:<23}  |{ascii}|",
            offset + 16 * i as u64,
            to_hex(left),
            to_hex(right),
        );
    }
    out
}

/// An event as one JSON object: `conn`, `t_us` (microseconds since the tap
/// started), `kind`, and the fields of that kind. Things seen on the wire
/// carry `direction`, `offset`, `len` and `total` (the running byte count
/// once they have passed).
pub fn to_json(event: &Event) -> Value {
    let mut object = Map::new();
    object.insert("conn".into(), event.conn.into());
    let micros = u64::try_from(event.time.as_micros()).unwrap_or(u64::MAX);
    object.insert("t_us".into(), micros.into());
    let (kind, fields) = match &event.kind {
        EventKind::Open { client, upstream } => (
            "open",
            json!({ "client": client.to_string(), "upstream": upstream.to_string() }),
        ),
        EventKind::UpstreamUnreachable {
            client,
            upstream,
            error,
        } => (
            "upstream-unreachable",
            json!({
                "client": client.to_string(),
                "upstream": upstream.to_string(),
                "error": error,
            }),
        ),
        EventKind::Seen(seen) => {
            let (kind, mut fields) = seen_json(seen);
            let extra = json!({
                "direction": seen.dir.as_str(),
                "offset": seen.offset,
                "len": seen.len,
                "total": seen.offset + seen.len,
            });
            merge(&mut fields, extra);
            (kind, fields)
        }
        EventKind::Closed { dir, how, bytes } => (
            "close",
            match how {
                Ending::Fin => json!({ "direction": dir.as_str(), "how": "fin", "bytes": bytes }),
                Ending::Error(e) => json!({
                    "direction": dir.as_str(),
                    "how": "error",
                    "error": e,
                    "bytes": bytes,
                }),
            },
        ),
        EventKind::End {
            client_bytes,
            server_bytes,
            duration,
        } => (
            "end",
            json!({
                "client_bytes": client_bytes,
                "server_bytes": server_bytes,
                "duration_us": u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            }),
        ),
        EventKind::Lost { count } => ("lost", json!({ "count": count })),
    };
    object.insert("kind".into(), kind.into());
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Value::Object(object)
}

/// The kind and fields of something seen on the wire.
fn seen_json(seen: &Seen) -> (&'static str, Value) {
    match &seen.what {
        What::HttpRequest { head } => (
            "http-request",
            match parse_request(head) {
                Ok(request) => json!({
                    "method": request.method,
                    "target": request.target,
                    "version": request.version.to_string(),
                    "headers": headers_json(&request.headers),
                }),
                Err(_) => json!({ "head": String::from_utf8_lossy(head) }),
            },
        ),
        What::HttpResponse { head } => (
            "http-response",
            match parse_response(head) {
                Ok(response) => json!({
                    "status": response.status,
                    "reason": response.reason,
                    "version": response.version.to_string(),
                    "headers": headers_json(&response.headers),
                }),
                Err(_) => json!({ "head": String::from_utf8_lossy(head) }),
            },
        ),
        What::HttpBody {
            body_len,
            framing,
            content_type,
            complete,
        } => (
            "http-body",
            json!({
                "body_len": body_len,
                "framing": match framing {
                    BodyFraming::Length => "content-length",
                    BodyFraming::Chunked => "chunked",
                    BodyFraming::UntilClose => "until-close",
                },
                "content_type": content_type,
                "complete": complete,
            }),
        ),
        What::SseEvent { text, truncated } => {
            ("sse", json!({ "text": text, "truncated": truncated }))
        }
        What::Frame {
            header,
            bytes,
            close_step,
            compression,
        } => (
            "frame",
            frame_json(seen.dir, header, bytes, *close_step, *compression),
        ),
        What::Inflated {
            opcode,
            frames,
            compressed_len,
            size,
            preview,
        } => {
            let mut fields = json!({
                "opcode": opcode.as_u8(),
                "opcode_name": opcode.name(),
                "frames": frames,
                "compressed_len": compressed_len,
                "size": size,
                "shown": preview.len(),
                "payload_hex": to_hex(preview),
            });
            let cut = (preview.len() as u64) < *size;
            if let Some(text) = utf8_start(preview, cut) {
                merge(&mut fields, json!({ "text": text, "text_truncated": cut }));
            }
            ("inflated", fields)
        }
        What::Undecodable { why, bytes } => {
            let mut fields = json!({ "reason": why.to_string(), "bytes_hex": to_hex(bytes) });
            if let Undecodable::Extension { header, negotiated } = why {
                merge(
                    &mut fields,
                    json!({
                        "rsv": header.rsv,
                        "opcode": header.opcode.as_u8(),
                        "payload_len": header.payload_len,
                        "negotiated": negotiated,
                    }),
                );
            }
            ("undecodable", fields)
        }
        What::Raw { bytes } => ("raw", json!({ "hex": to_hex(bytes) })),
    }
}

/// A frame's fields: the header, the payload we kept (unmasked), its text
/// when it is UTF-8, a Close's code and reason, and any rule it breaks.
fn frame_json(
    dir: Direction,
    header: &frame::Header,
    bytes: &[u8],
    close_step: Option<CloseStep>,
    compression: Compression,
) -> Value {
    let compressed = compression == Compression::Compressed;
    let mut payload = bytes[header.header_len..].to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key);
    }
    let cut = (payload.len() as u64) < header.payload_len;
    let mut fields = json!({
        "fin": header.fin,
        "rsv": header.rsv,
        "opcode": header.opcode.as_u8(),
        "opcode_name": header.opcode.name(),
        "masked": header.mask.is_some(),
        "mask_key": header.mask.map(|key| to_hex(&key)),
        "payload_len": header.payload_len,
        "length_form": header.length_form.name(),
        "shown": payload.len(),
        "payload_hex": to_hex(&payload),
        "compressed": compressed,
    });
    if header.opcode == OpCode::Close {
        let close = match CloseFrame::parse(&payload) {
            Ok(Some(close)) => json!({
                "close_code": close.code.as_u16(),
                "close_reason": close.reason,
            }),
            Ok(None) => json!({ "close_code": null }),
            Err(e) => json!({ "close_error": e.to_string() }),
        };
        merge(&mut fields, close);
    } else if compressed {
        // DEFLATE data: its text comes with the `inflated` event.
    } else if let Some(text) = utf8_start(&payload, cut) {
        merge(&mut fields, json!({ "text": text, "text_truncated": cut }));
    }
    if let Some(step) = close_step {
        let step = match step {
            CloseStep::Starts => "starts",
            CloseStep::Answers => "answers",
            CloseStep::Repeats => "repeats",
        };
        merge(&mut fields, json!({ "close_step": step }));
    }
    if let Outcome::Invalid(error) =
        annotate_prefix_with(bytes, Some(dir.reader()), compression).outcome
    {
        merge(&mut fields, json!({ "error": error.to_string() }));
    }
    fields
}

/// The payload as text if it is UTF-8; when it was `cut` short, a start
/// that is UTF-8 up to a character the cut split.
fn utf8_start(payload: &[u8], cut: bool) -> Option<&str> {
    match std::str::from_utf8(payload) {
        Ok(text) => Some(text),
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&payload[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// Headers as `[name, value]` pairs, secrets replaced by their size.
fn headers_json(headers: &Headers) -> Value {
    headers
        .0
        .iter()
        .map(|(name, value)| {
            let value = if SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                format!("({} bytes, not shown)", value.len())
            } else {
                value.clone()
            };
            json!([name, value])
        })
        .collect()
}

/// Adds `extra`'s fields to `fields` (both objects).
fn merge(fields: &mut Value, extra: Value) {
    if let (Value::Object(fields), Value::Object(extra)) = (fields, extra) {
        fields.extend(extra);
    }
}
