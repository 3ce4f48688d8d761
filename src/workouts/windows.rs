//! Cutting workouts into windows of a split: consecutive windows of `seq_len` steps, the last one
//! padded with zeros and masked.

use super::Prepared;
use crate::data::NUM_PERSON_INPUTS;
use crate::dataset::{MAX_SEQ_LEN, Split};
use crate::features::{NUM_FEATURES, Sequence};
use std::ops::Range;

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
    let w = &p.workout;
    push_sequence(
        split,
        &p.sequence,
        (w.user_id, w.workout_id),
        &w.name(),
        person,
    );
}

/// The steps of each window of `seq_len` steps that `sequence` is cut into ([`push_windows`]),
/// those without any valid heart rate left out.
pub fn window_ranges(sequence: &Sequence, seq_len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..sequence.len())
        .step_by(seq_len)
        .map(move |start| start..(start + seq_len).min(sequence.len()))
        .filter(|steps| sequence.valid[steps.clone()].contains(&true))
}

/// Appends the windows of `seq` ([`push_windows`]) to a split, as those of workout `name` with
/// the ids `(user_id, workout_id)` and the person-level inputs `person`.
pub fn push_sequence(
    split: &mut Split,
    seq: &Sequence,
    (user_id, workout_id): (i64, i64),
    name: &str,
    person: &[Option<f64>; NUM_PERSON_INPUTS],
) {
    let person = Split::person_values(person);
    let t = split.seq_len;
    for steps in window_ranges(seq, t) {
        let (start, end) = (steps.start, steps.end);
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
        split.user_id.push(user_id);
        split.workout_id.push(workout_id);
        split
            .names
            .entry(workout_id)
            .or_insert_with(|| name.to_string());
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
    longest_of(prepared.iter().map(|p| p.sequence.len()))
}

/// [`longest`] of workouts of `steps` steps.
pub fn longest_of(steps: impl Iterator<Item = usize>) -> usize {
    steps.max().unwrap_or(1).clamp(1, MAX_SEQ_LEN)
}
