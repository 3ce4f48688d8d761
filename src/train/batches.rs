//! The batches of one training epoch: which windows go together, and how many steps each batch
//! runs.
//!
//! By default the windows are shuffled with (seed, epoch) and taken `batch_size` at a time, each
//! batch the full window length, as the PyTorch tool does. With `--length-buckets` (for data
//! whose windows differ in length, such as whole workouts, where most steps of a padded batch
//! would be padding) the shuffled windows are taken [`POOL_BATCHES`] batches' worth at a time and
//! sorted longest first inside each pool, so that windows of similar length share a batch; each
//! batch runs only as many steps as its longest window needs ([`trimmed_steps`]), and the order
//! of the batches is shuffled again. Cutting only padding changes nothing the model sees: a
//! padded step is masked out of the loss, the forward direction reaches each valid step before
//! any padding, and the reverse direction of a bidirectional layer starts at each window's
//! length. Only the dropout masks differ, as they are drawn per position of the batch as run.
//! Both ways the batches are a function of (seed, epoch), so `--resume` draws them again
//! exactly.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Batches per pool of `--length-buckets`: the pool is sorted by length before it is cut into
/// batches. Larger pools waste fewer steps; smaller ones keep batches more random.
pub const POOL_BATCHES: usize = 4;

/// The halvings of the window length a batch may be cut to: at most 1 + this many batch lengths
/// in a run, so that the GPU engine keeps a plan for each.
const MAX_HALVINGS: u32 = 3;

/// One batch: the windows (rows of a split) and the steps it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRows {
    /// Rows of the split.
    pub rows: Vec<usize>,
    /// Steps per sequence: the window length, or less where the batch is cut to its longest.
    pub steps: usize,
}

/// `rows` in order, `batch_size` at a time, each batch the full window length `seq_len`.
pub fn full_length(rows: &[usize], batch_size: usize, seq_len: usize) -> Vec<BatchRows> {
    rows.chunks(batch_size)
        .map(|rows| BatchRows {
            rows: rows.to_vec(),
            steps: seq_len,
        })
        .collect()
}

/// `rows` sorted longest first (by `lengths`, the valid prefixes of the split's windows),
/// `batch_size` at a time, each batch cut to the steps its longest window needs
/// ([`trimmed_steps`]).
pub fn by_length(
    rows: &mut [usize],
    lengths: &[i64],
    batch_size: usize,
    seq_len: usize,
) -> Vec<BatchRows> {
    let length = |r: usize| usize::try_from(lengths[r]).unwrap_or(0);
    rows.sort_by_key(|&r| std::cmp::Reverse(length(r)));
    rows.chunks(batch_size)
        .map(|rows| {
            let longest = rows.iter().map(|&r| length(r)).max().unwrap_or(0);
            BatchRows {
                rows: rows.to_vec(),
                steps: trimmed_steps(longest, seq_len),
            }
        })
        .collect()
}

/// The steps a batch whose longest window has `longest` steps runs, out of windows of
/// `seq_len`: the shortest of `seq_len`, ⌈seq_len / 2⌉, ⌈seq_len / 4⌉ and ⌈seq_len / 8⌉ that
/// holds it.
pub fn trimmed_steps(longest: usize, seq_len: usize) -> usize {
    let mut steps = seq_len;
    for _ in 0..MAX_HALVINGS {
        let half = steps.div_ceil(2);
        if half < longest.max(1) || half == steps {
            break;
        }
        steps = half;
    }
    steps
}

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

    #[test]
    fn a_batch_is_cut_to_the_shortest_halving_that_holds_its_longest_window() {
        assert_eq!(trimmed_steps(1000, 1000), 1000);
        assert_eq!(trimmed_steps(501, 1000), 1000);
        assert_eq!(trimmed_steps(500, 1000), 500);
        assert_eq!(trimmed_steps(251, 1000), 500);
        assert_eq!(trimmed_steps(126, 1000), 250);
        assert_eq!(trimmed_steps(125, 1000), 125);
        assert_eq!(trimmed_steps(3, 1000), 125, "at most three halvings");
        assert_eq!(trimmed_steps(0, 1000), 125);
        assert_eq!(trimmed_steps(5, 9), 5);
        assert_eq!(trimmed_steps(1, 1), 1);
        assert_eq!(trimmed_steps(1, 2), 1);
    }

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
