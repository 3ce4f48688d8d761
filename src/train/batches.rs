//! The batches of one training epoch: which windows go together, and how many steps each batch
//! runs.
//!
//! By default the windows are shuffled with (seed, epoch) and taken `batch_size` at a time, each
//! batch the full window length, as the PyTorch tool does. With `--length-buckets` (for data
//! whose windows differ in length, such as whole workouts, where most steps of a padded batch
//! would be padding) the shuffled windows are taken [`POOL_BATCHES`] batches' worth at a time and
//! sorted longest first inside each pool ([`by_length`]), so that windows of similar length share
//! a batch cut to the steps its longest window needs, and the order of the batches is shuffled
//! again. Cutting only padding changes nothing the model sees: a padded step is masked out of
//! the loss. Only the dropout masks differ, as they are drawn per position of the batch as run.
//! Both ways the batches are a function of (seed, epoch), so `--resume` draws them again
//! exactly.

use crate::score::{BatchRows, by_length, full_length};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Batches per pool of `--length-buckets`: the pool is sorted by length before it is cut into
/// batches. Larger pools waste fewer steps; smaller ones keep batches more random.
pub const POOL_BATCHES: usize = 4;

/// The batches of epoch `epoch` (from 1) over `lengths.len()` windows of `seq_len` steps whose
/// valid prefixes are `lengths`.
pub fn epoch_batches(
    lengths: &[i64],
    seq_len: usize,
    batch_size: usize,
    seed: u64,
    epoch: u64,
    length_buckets: bool,
) -> Vec<BatchRows> {
    let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    if !length_buckets {
        return full_length(&order, batch_size, seq_len);
    }
    let mut batches: Vec<BatchRows> = order
        .chunks_mut(POOL_BATCHES * batch_size)
        .flat_map(|pool| by_length(pool, lengths, batch_size, seq_len))
        .collect();
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::trimmed_steps;

    #[test]
    fn without_buckets_the_batches_are_the_shuffled_windows_in_turn() {
        let lengths = vec![10; 10];
        let batches = epoch_batches(&lengths, 10, 4, 7, 1, false);
        assert_eq!(
            batches.iter().map(|b| b.rows.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert!(batches.iter().all(|b| b.steps == 10));
        let mut order: Vec<usize> = (0..10).collect();
        order.shuffle(&mut StdRng::seed_from_u64(7 ^ 0x9E37_79B9_7F4A_7C15));
        let rows: Vec<usize> = batches.iter().flat_map(|b| b.rows.clone()).collect();
        assert_eq!(
            rows, order,
            "the same permutation as before buckets existed"
        );
    }

    #[test]
    fn buckets_hold_every_window_once_and_cut_only_padding() {
        // Whole workouts: a few long ones among many short ones.
        let lengths: Vec<i64> = (0..37)
            .map(|i| if i % 9 == 0 { 1000 } else { 40 + 7 * i })
            .collect();
        for epoch in 1..4 {
            let batches = epoch_batches(&lengths, 1000, 4, 3, epoch, true);
            assert_eq!(batches.len(), 37usize.div_ceil(4));
            let mut rows: Vec<usize> = batches.iter().flat_map(|b| b.rows.clone()).collect();
            rows.sort_unstable();
            assert_eq!(rows, (0..37).collect::<Vec<_>>(), "epoch {epoch}");
            for b in &batches {
                let longest = b.rows.iter().map(|&r| lengths[r] as usize).max().unwrap();
                assert!(b.steps >= longest && b.steps == trimmed_steps(longest, 1000));
            }
            let steps: usize = batches.iter().map(|b| b.steps * b.rows.len()).sum();
            assert!(
                steps * 2 < 37 * 1000,
                "epoch {epoch}: {steps} steps, no better than padding"
            );
            // A function of (seed, epoch).
            assert_eq!(batches, epoch_batches(&lengths, 1000, 4, 3, epoch, true));
        }
        assert_ne!(
            epoch_batches(&lengths, 1000, 4, 3, 1, true),
            epoch_batches(&lengths, 1000, 4, 3, 2, true)
        );
    }
}
