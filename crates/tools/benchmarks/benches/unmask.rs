//! Unmasking speed: our word-at-a-time `apply_mask` against the byte loop
//! RFC 6455 §5.3 describes and against fastwebsockets' `unmask` (word-wise,
//! with `align_to_mut`), at a chat-sized 20 bytes, 16 KiB and 1 MiB.
//!
//! ```text
//! cargo bench -p frame --bench unmask -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The three run one after another for each size, so a noisy neighbour slows
//! them alike; compare ratios within a run, not figures across runs.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for size in [20, 16 * 1024, 1024 * 1024] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        group.bench_function(BenchmarkId::new("frame::apply_mask", size), |b| {
            b.iter(|| frame::apply_mask(black_box(&mut buf), black_box(KEY)))
        });
        group.bench_function(BenchmarkId::new("byte loop", size), |b| {
            b.iter(|| frame::apply_mask_bytewise(black_box(&mut buf), black_box(KEY)))
        });
        group.bench_function(BenchmarkId::new("fastwebsockets::unmask", size), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf), black_box(KEY)))
        });
    }
    group.finish();
}

criterion_group!(benches, unmask);
criterion_main!(benches);
