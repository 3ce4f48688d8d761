//! Which windows of a split run together, and how many steps each batch runs.
//!
//! [`full_length`] takes the windows in the order given, each batch the full window length.
//! [`by_length`] sorts them longest first, so that windows of similar length share a batch, and
//! cuts each batch to the steps its longest window needs ([`trimmed_steps`]). Cutting only
//! padding changes nothing the model predicts at a valid step: the forward direction reaches
//! each valid step before any padding, and the reverse direction of a bidirectional layer
//! starts at each window's length. Scoring a split ([`for_split`]) and training's epochs
//! (`train/batches.rs`) both batch this way.

use crate::dataset::Split;

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

/// The batches that score every window of `split` once. Cut (`cut`): longest first, each batch
/// cut to the steps its longest window needs ([`by_length`]), so that whole workouts padded to
/// the longest one run several times faster with the same predictions at every valid step.
/// Else the windows in order at full length (a loss that averages over padding too needs it).
pub fn for_split(split: &Split, batch_size: usize, cut: bool) -> Vec<BatchRows> {
    let mut rows: Vec<usize> = (0..split.n).collect();
    if cut {
        by_length(&mut rows, &split.length, batch_size, split.seq_len)
    } else {
        full_length(&rows, batch_size, split.seq_len)
    }
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
}
