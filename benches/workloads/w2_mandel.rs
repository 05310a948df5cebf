//! W2 `mandel`: Mandelbrot 2000 x 2000 over x in [-2, 1], y in [-1.5, 1.5],
//! at most 500 iterations. Source: row indices; parallel stage: one row as a
//! `Vec<u8>` of iteration counts `% 256`; ordered sink appends the rows.
//! Checksum: FNV-1a 64 of the image. Measures load balance and ordering.
//! Variants: Para ending in an ordered stream taken by a `for` loop, and W2
//! as an iterator with dpc-pariter's `parallel_map` and rayon's `par_bridge`.

use super::{batch_channel, fnv1a, item_channel, rayon_pool, send_batches, spawn_stage};
use super::{Reorder, Variant, Workload};
use dpc_pariter::IteratorExt as _;
use para::prelude::*;
use rayon::prelude::*;

const MAX_ITERATIONS: u32 = 500;

/// W2 at a given size.
pub struct Mandel {
    /// Width and height in pixels; rows are the items.
    side: usize,
}

impl Mandel {
    /// W2 with `2000 * sqrt(scale)` pixels a side (at least 16), so that the
    /// work scales with `scale`.
    pub fn new(scale: f64) -> Self {
        Mandel {
            side: ((2000.0 * scale.sqrt()).round() as usize).max(16),
        }
    }

    /// Row `y` of the image: iteration counts `% 256`.
    fn row(&self, y: usize) -> Vec<u8> {
        let n = self.side as f64;
        let cy = -1.5 + 3.0 * y as f64 / n;
        (0..self.side)
            .map(|px| {
                let cx = -2.0 + 3.0 * px as f64 / n;
                let (mut zx, mut zy, mut i) = (0.0f64, 0.0f64, 0u32);
                while i < MAX_ITERATIONS && zx * zx + zy * zy <= 4.0 {
                    let t = zx * zx - zy * zy + cx;
                    zy = 2.0 * zx * zy + cy;
                    zx = t;
                    i += 1;
                }
                (i % 256) as u8
            })
            .collect()
    }

    fn image_len(&self) -> usize {
        self.side * self.side
    }

    /// W2 ending in an ordered stream (`#[ordered] yield`): the ordered
    /// sink's body is a `for` loop on the calling thread. The stage borrows
    /// `self`, so the run is kept by a thread of a scope
    /// (`Graph::spawn_scoped`, what `pipeline!(scope = s, ...)` does).
    fn para_ordered_stream(&self, threads: usize) -> u64 {
        let mut image = Vec::with_capacity(self.image_len());
        std::thread::scope(|s| {
            let mut g = Graph::new();
            let ys = g.source(0..self.side);
            let rows = g.map(ys, |y| self.row(y));
            let out = g.ordered_stream(rows);
            for row in g.spawn_scoped_with(s, out, Options::new().threads(threads)) {
                image.extend_from_slice(&row);
            }
        });
        fnv1a(&image)
    }

    /// W2 as an iterator with dpc-pariter: `parallel_map` over the row
    /// indices yields the rows in order.
    fn pariter(&self, threads: usize) -> u64 {
        let mut image = Vec::with_capacity(self.image_len());
        dpc_pariter::scope(|s| {
            let rows = (0..self.side).parallel_map_scoped_custom(
                s,
                |o| o.threads(threads),
                |y| self.row(y),
            );
            for row in rows {
                image.extend_from_slice(&row);
            }
        })
        .expect("pariter: a worker panicked");
        fnv1a(&image)
    }

    /// W2 as an iterator with rayon: `par_bridge()` takes the row indices as
    /// a plain iterator and yields rows in any order, so they are collected
    /// with their indices and sorted before the image is written.
    fn rayon_par_bridge(&self, threads: usize) -> u64 {
        let mut rows: Vec<(usize, Vec<u8>)> = rayon_pool(threads).install(|| {
            (0..self.side)
                .par_bridge()
                .map(|y| (y, self.row(y)))
                .collect()
        });
        rows.sort_unstable_by_key(|&(y, _)| y);
        let mut image = Vec::with_capacity(self.image_len());
        for (_, row) in rows {
            image.extend_from_slice(&row);
        }
        fnv1a(&image)
    }
}

impl Workload for Mandel {
    fn id(&self) -> &'static str {
        "W2"
    }

    fn name(&self) -> &'static str {
        "mandel"
    }

    fn items(&self) -> u64 {
        self.side as u64
    }

    fn sequential(&self) -> u64 {
        let mut image = Vec::with_capacity(self.image_len());
        for y in 0..self.side {
            image.extend_from_slice(&self.row(y));
        }
        fnv1a(&image)
    }

    fn rayon(&self, threads: usize) -> u64 {
        // Ordered output: collect the rows in order, then write them.
        let rows: Vec<Vec<u8>> = rayon_pool(threads).install(|| {
            (0..self.side)
                .into_par_iter()
                .map(|y| self.row(y))
                .collect()
        });
        let mut image = Vec::with_capacity(self.image_len());
        for row in rows {
            image.extend_from_slice(&row);
        }
        fnv1a(&image)
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let (src_tx, work_rx) = item_channel::<(u64, usize)>();
        let (work_tx, sink_rx) = item_channel::<(u64, Vec<u8>)>();
        let image = std::thread::scope(|s| {
            s.spawn(move || {
                for y in 0..self.side {
                    src_tx.send((y as u64, y)).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, work_rx, work_tx, |(seq, y)| (seq, self.row(y)));
            let sink = s.spawn(move || {
                let mut image = Vec::with_capacity(self.image_len());
                let mut reorder = Reorder::default();
                for (seq, row) in sink_rx {
                    reorder.push(seq, row, |row: Vec<u8>| image.extend_from_slice(&row));
                }
                reorder.finish();
                image
            });
            sink.join().expect("sink")
        });
        fnv1a(&image)
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let (src_tx, work_rx) = batch_channel::<(u64, Vec<usize>)>(threads);
        let (work_tx, sink_rx) = batch_channel::<(u64, Vec<Vec<u8>>)>(threads);
        let image = std::thread::scope(|s| {
            s.spawn(move || send_batches(0..self.side, &src_tx));
            spawn_stage(
                s,
                threads,
                work_rx,
                work_tx,
                |(seq, ys): (u64, Vec<usize>)| (seq, ys.into_iter().map(|y| self.row(y)).collect()),
            );
            let sink = s.spawn(move || {
                let mut image = Vec::with_capacity(self.image_len());
                let mut reorder = Reorder::default();
                for (seq, rows) in sink_rx {
                    reorder.push(seq, rows, |rows: Vec<Vec<u8>>| {
                        rows.iter().for_each(|row| image.extend_from_slice(row))
                    });
                }
                reorder.finish();
                image
            });
            sink.join().expect("sink")
        });
        fnv1a(&image)
    }

    fn para(&self, threads: usize) -> u64 {
        let h = self.side;
        let mut image = Vec::with_capacity(self.image_len());
        pipeline!(threads = threads, 0..h => |y| self.row(y) => #[ordered] |r| image.extend_from_slice(&r));
        fnv1a(&image)
    }

    fn variants(&self) -> &'static [Variant] {
        &[
            Variant::ParaOrderedStream,
            Variant::Pariter,
            Variant::RayonParBridge,
        ]
    }

    fn run_variant(&self, variant: Variant, threads: usize) -> u64 {
        match variant {
            Variant::ParaOrderedStream => self.para_ordered_stream(threads),
            Variant::Pariter => self.pariter(threads),
            Variant::RayonParBridge => self.rayon_par_bridge(threads),
            other => panic!("W2 has no {} variant", other.name()),
        }
    }
}
