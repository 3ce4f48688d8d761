//! How the CPU engine spreads a batch over threads. The sequences of a batch are independent, so
//! the batch is split into one [`Block`] of consecutive sequences per thread the engines compute
//! on ([`crate::engine::device::threads`]: `--threads`, else one per core), and each block runs its
//! whole time loop on its own thread ([`parallel`]) with no synchronization between steps; its
//! per-step GEMMs are small enough to stay on that thread.
//!
//! The buffers are time-major within each block: row `t·B_k + b` of block k (B_k its
//! sequences), the blocks one after another ([`Block::row`]), so that a product over all steps
//! of the backward pass (dW_ih, dX) is still one GEMM over the whole batch, which
//! [`crate::engine::scalar::Scalar::gemm`] splits over the cores itself. With one block the
//! layout is plain time-major, row `t·B + b`.

use super::recurrence::Dims;

/// Consecutive sequences `start .. start + len` of the batch, run through time by one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The first sequence.
    pub start: usize,
    /// Sequences.
    pub len: usize,
}

impl Block {
    /// `batch` sequences split into `threads` blocks (at most one per sequence; `None`: one per
    /// thread the engines compute on), as even as can be.
    pub fn split(batch: usize, threads: Option<usize>) -> Vec<Block> {
        let threads = threads.unwrap_or_else(crate::engine::device::threads);
        let blocks = threads.clamp(1, batch.max(1));
        (0..blocks)
            .map(|k| {
                let start = k * batch / blocks;
                Block {
                    start,
                    len: (k + 1) * batch / blocks - start,
                }
            })
            .collect()
    }

    /// The row of sequence `start + i` at time `t`, in a batch of `steps` steps.
    pub fn row(&self, steps: usize, t: usize, i: usize) -> usize {
        self.start * steps + t * self.len + i
    }

    /// The sizes of this block under `base`, those of the whole batch.
    pub fn dims<'a>(&self, base: &Dims<'a>) -> Dims<'a> {
        Dims {
            batch: self.len,
            lengths: &base.lengths[self.start..self.start + self.len],
            ..*base
        }
    }

    /// This block's part of `buf`, `per_seq` elements per sequence.
    pub fn of<'a, T>(&self, buf: &'a [T], per_seq: usize) -> &'a [T] {
        &buf[self.start * per_seq..(self.start + self.len) * per_seq]
    }
}

/// Splits `buf` into the blocks' parts, `per_seq` elements per sequence, in order (empty parts
/// where `buf` is empty: a buffer the cell does not use).
pub fn split_blocks<'a, T>(
    buf: &'a mut [T],
    blocks: &'a [Block],
    per_seq: usize,
) -> impl Iterator<Item = &'a mut [T]> + 'a {
    let per_seq = if buf.is_empty() { 0 } else { per_seq };
    let mut rest = buf;
    blocks.iter().map(move |b| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(b.len * per_seq);
        rest = tail;
        head
    })
}

/// Runs `job` on every item, each on its own thread but the first, which runs on this one.
pub fn parallel<I: Send>(mut items: impl Iterator<Item = I>, job: impl Fn(I) + Sync) {
    std::thread::scope(|scope| {
        let first = items.next();
        for item in items {
            let job = &job;
            scope.spawn(move || job(item));
        }
        if let Some(item) = first {
            job(item);
        }
    });
}

/// Every (sequence, time, row) of a batch of `steps` steps split into `blocks`, the row in the
/// blocks' layout ([`Block::row`]).
pub fn rows(blocks: &[Block], steps: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    blocks.iter().flat_map(move |blk| {
        (0..steps)
            .flat_map(move |t| (0..blk.len).map(move |i| (blk.start + i, t, blk.row(steps, t, i))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_batch_and_their_rows_every_row_once() {
        let steps = 4;
        for (batch, threads) in [(7, 3), (2, 5), (0, 2), (16, 1), (5, 5)] {
            let blocks = Block::split(batch, Some(threads));
            assert_eq!(blocks.len(), threads.clamp(1, batch.max(1)));
            let mut next = 0;
            for blk in &blocks {
                assert_eq!(blk.start, next, "blocks of {batch} over {threads} threads");
                next += blk.len;
            }
            assert_eq!(next, batch);
            let mut seen: Vec<usize> = rows(&blocks, steps).map(|(_, _, row)| row).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..batch * steps).collect::<Vec<_>>());
            if threads == 1 {
                // One block: plain time-major.
                assert!(rows(&blocks, steps).all(|(b, t, row)| row == t * batch + b));
            }
        }
    }
}
