//! Fuzz target `wiretap_decoder`: lesson 7's [`wiretap::ConnTap`], the
//! incremental decoder the proxy feeds a copy of every read, on arbitrary
//! bytes going both ways in arbitrary reads.
//!
//! Input: `[config, op...]`, each op `[ctl, len, bytes(len)...]`.
//! - `config` bits 0-1 pick `Options::preview` (0, 16, 256: the default, or
//!   1 byte), bit 2 sets `no_payload`, bit 3 `hex`.
//! - `ctl` bit 0 is the direction (0: client to server, 1: server to
//!   client); bit 1 ends that direction after this op (`finish`, a TCP FIN;
//!   later ops that way are dropped); bits 2-4 repeat the read 4^n times
//!   (1 to 16,384), so a short input can make a long stream: a 16 MiB frame
//!   header followed by its payload, a head that never ends, an endless
//!   event stream. Fed bytes are capped at 64 KiB an input.
//!
//! Checked, after every read:
//! - nothing panics, rendering the first reports with [`wiretap::to_text`]
//!   and [`wiretap::to_json`] included;
//! - memory is bounded: [`wiretap::ConnTap::buffered`] stays under a bound
//!   that does not depend on how many bytes went by (a head's 8 KiB, a
//!   chunk-size line, an event's preview, a frame header and its preview);
//! - [`wiretap::ConnTap::bytes`] counts what was fed, and every report starts
//!   at or before that count;
//! - the split into reads changes nothing, as `ConnTap::feed` promises:
//!   the same stream with each run of reads going one way joined into one
//!   read gives the same reports (but [`wiretap::What::Raw`], one per read),
//!   up to the first `Undecodable` report in each direction, which gives
//!   the same kind of why at the same offset; its details, and the bytes it
//!   and what follows carry, may differ. (The `regression-*` inputs in
//!   `fuzz/corpus/wiretap_decoder/` once broke even that: a reason, and a
//!   bad chunk's offset, followed the reads.)
#![no_main]

use std::time::Duration;

use frame::MAX_HEADER_LEN;
use handshake::MAX_HEAD_BYTES;
use libfuzzer_sys::fuzz_target;
use wiretap::{
    ConnTap, DEFAULT_PREVIEW, Direction, Event, EventKind, Options, SSE_PREVIEW, Seen, What,
};

/// The most bytes one input feeds, both ways together.
const MAX_FED: usize = 64 * 1024;
/// Reports rendered per input: rendering is slow, and the first ones show
/// every kind an input makes.
const MAX_RENDERED: usize = 16;
/// The longest chunk-size line the tap keeps (private in wiretap's body.rs).
const MAX_CHUNK_LINE: usize = 1024;

/// One step of the connection.
#[derive(Debug, Clone)]
enum Op<'a> {
    Feed(Direction, &'a [u8]),
    Finish(Direction),
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let options = Options {
        preview: [0, 16, DEFAULT_PREVIEW, 1][usize::from(config & 3)],
        no_payload: config & 4 != 0,
        hex: config & 8 != 0,
    };

    // The ops, repeats expanded; nothing fed after a direction's finish.
    let mut ops = Vec::new();
    let mut fed = 0;
    let mut finished = [false; 2];
    while let [ctl, len, tail @ ..] = rest {
        let (bytes, after) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = after;
        let dir = if ctl & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let side = usize::from(ctl & 1);
        if finished[side] {
            continue;
        }
        for _ in 0..1usize << (2 * ((ctl >> 2) & 7)) {
            if fed + bytes.len() > MAX_FED {
                break;
            }
            fed += bytes.len();
            ops.push(Op::Feed(dir, bytes));
        }
        if ctl & 2 != 0 {
            finished[side] = true;
            ops.push(Op::Finish(dir));
        }
    }
    for (side, dir) in Direction::BOTH.into_iter().enumerate() {
        if !finished[side] {
            ops.push(Op::Finish(dir));
        }
    }

    let as_read = run(options, &ops, true);
    // The same stream, each run of reads going one way joined into one
    // (`None`: a finish).
    let mut joined: Vec<(Direction, Option<Vec<u8>>)> = Vec::new();
    for op in &ops {
        match (op, joined.last_mut()) {
            (Op::Feed(dir, bytes), Some((last, Some(buf)))) if last == dir => {
                buf.extend_from_slice(bytes)
            }
            (Op::Feed(dir, bytes), _) => joined.push((*dir, Some(bytes.to_vec()))),
            (Op::Finish(dir), _) => joined.push((*dir, None)),
        }
    }
    let joined_ops: Vec<Op> = joined
        .iter()
        .map(|(dir, bytes)| match bytes {
            Some(bytes) => Op::Feed(*dir, bytes),
            None => Op::Finish(*dir),
        })
        .collect();
    let as_joined = run(options, &joined_ops, false);
    assert_eq!(
        comparable(&as_read),
        comparable(&as_joined),
        "the split into reads changed the reports"
    );
});

/// What the split into reads may not change: every report up to each
/// direction's first `Undecodable`, which is kept as its direction, offset
/// and why; nothing after it that way.
fn comparable(reports: &[Seen]) -> Vec<String> {
    let mut lost = [false; 2];
    let mut kept = Vec::new();
    for one in reports {
        let side = usize::from(side_of(one.dir));
        if lost[side] {
            continue;
        }
        match &one.what {
            What::Undecodable { why, .. } => {
                lost[side] = true;
                // The kind of why: its details (which line of a head is
                // bad) may depend on how much of it had arrived.
                let why = format!("{why:?}");
                let kind = why.split(['(', ' ', '{']).next().unwrap_or_default();
                kept.push(format!("{:?} {} undecodable: {kind}", one.dir, one.offset));
            }
            _ => kept.push(format!("{one:?}")),
        }
    }
    kept
}

fn side_of(dir: Direction) -> u8 {
    match dir {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

/// Runs `ops` through a new tap, checking each step; returns the reports
/// but the raw reads. `render`: also render the first reports.
fn run(options: Options, ops: &[Op], render: bool) -> Vec<Seen> {
    let preview = if options.no_payload {
        0
    } else {
        options.preview
    };
    let bound =
        2 * 2 * (MAX_HEAD_BYTES + MAX_CHUNK_LINE + SSE_PREVIEW + MAX_HEADER_LEN + preview.max(125));
    let mut tap = ConnTap::new(options);
    let mut fed = [0u64; 2];
    let mut all = Vec::new();
    let mut seen = Vec::new();
    let mut rendered = 0;
    for op in ops {
        match *op {
            Op::Feed(dir, bytes) => {
                tap.feed(dir, bytes, &mut seen);
                fed[usize::from(side_of(dir))] += bytes.len() as u64;
            }
            Op::Finish(dir) => tap.finish(dir, &mut seen),
        }
        let buffered = tap.buffered();
        assert!(
            buffered <= bound,
            "the tap holds {buffered} bytes (bound {bound})"
        );
        for dir in Direction::BOTH {
            assert_eq!(
                tap.bytes(dir),
                fed[usize::from(side_of(dir))],
                "bytes({dir:?})"
            );
        }
        for one in seen.drain(..) {
            let count = tap.bytes(one.dir);
            assert!(
                one.offset <= count,
                "a report at {} of {count} bytes",
                one.offset
            );
            if render && rendered < MAX_RENDERED {
                rendered += 1;
                let event = Event {
                    conn: 1,
                    time: Duration::ZERO,
                    kind: EventKind::Seen(one.clone()),
                };
                let _ = (wiretap::to_text(&event), wiretap::to_json(&event));
            }
            if !matches!(one.what, What::Raw { .. }) {
                all.push(one);
            }
        }
    }
    all
}
