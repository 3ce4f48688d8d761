//! Cutting workouts into windows of a split: consecutive windows of `seq_len` steps, the last one
//! padded with zeros and masked.

use super::Prepared;
use crate::data::NUM_PERSON_INPUTS;
use crate::dataset::{MAX_SEQ_LEN, Split};
use crate::features::NUM_FEATURES;

impl Prepared {
    /// The number of windows of `seq_len` steps the workout is cut into (the last one padded),
    /// counting any without valid heart rate, which [`push_windows`] leaves out.
    pub fn window_count(&self, seq_len: usize) -> usize {
        self.sequence.len().div_ceil(seq_len)
    }
}

/// Appends a workout's windows to a split: consecutive windows of `seq_len` steps, the last one
/// padded with zeros and masked. A window without any valid heart rate teaches nothing and is
/// left out.
pub fn push_windows(split: &mut Split, p: &Prepared) {
    push_windows_with(split, p, &p.person_values());
}

/// [`push_windows`] with `person` as every window's person-level inputs (in the order of
/// [`crate::data::PERSON_INPUT_NAMES`], `None` where unknown) instead of the workout's own.
pub fn push_windows_with(
    split: &mut Split,
    p: &Prepared,
    person: &[Option<f64>; NUM_PERSON_INPUTS],
) {
    let person = Split::person_values(person);
    let t = split.seq_len;
    let seq = &p.sequence;
    for start in (0..seq.len()).step_by(t) {
        let end = (start + t).min(seq.len());
        if !seq.valid[start..end].contains(&true) {
            continue;
        }
        let pad = t - (end - start);
        split
            .features
            .extend_from_slice(&seq.features[start * NUM_FEATURES..end * NUM_FEATURES]);
        split
            .features
            .extend(std::iter::repeat_n(0.0, pad * NUM_FEATURES));
        split
            .heart_rate
            .extend_from_slice(&seq.heart_rate[start..end]);
        split.heart_rate.extend(std::iter::repeat_n(0.0, pad));
        split.mask.extend(
            seq.valid[start..end]
                .iter()
                .map(|&v| if v { 1.0 } else { 0.0 }),
        );
        split.mask.extend(std::iter::repeat_n(0.0, pad));
        split.length.push((end - start) as i64);
        split.user_id.push(p.workout.user_id);
        split.workout_id.push(p.workout.workout_id);
        split
            .names
            .entry(p.workout.workout_id)
            .or_insert_with(|| p.workout.name());
        split.person.extend(person);
        split.n += 1;
    }
}

/// All the windows of `prepared` in one split (evaluation of raw files).
pub fn windows(prepared: &[Prepared], seq_len: usize, interval_s: f64, source: &str) -> Split {
    let mut split = Split::empty(seq_len, interval_s, source);
    for p in prepared {
        push_windows(&mut split, p);
    }
    split
}

/// The window length that holds each of `prepared` whole: its longest workout's steps (at
/// least 1, at most [`MAX_SEQ_LEN`]).
pub fn longest(prepared: &[Prepared]) -> usize {
    let steps = prepared.iter().map(|p| p.sequence.len()).max();
    steps.unwrap_or(1).clamp(1, MAX_SEQ_LEN)
}
