//! Workouts ready for a model: the inputs (files or folders) read, cleaned and resampled onto a
//! grid ([`load`]), and cut into windows ([`push_windows`]). `prepare` writes the windows to
//! the processed files; `evaluate`, `predict`, `calibrate` and `crossval` use them on raw files
//! directly.
//!
//! Each workout is cleaned ([`crate::data::clean`]: implausible timestamps and values dropped,
//! split at clock jumps and long pauses), then resampled and turned into features
//! ([`crate::features::resample`]); a piece with fewer than [`MIN_VALID_STEPS`] steps of valid
//! heart rate is passed over. A workout's windows are consecutive runs of `seq_len` steps, the
//! last one padded with zeros and masked. The person's heart rates, where their files do not
//! record them, come from the command line ([`ProfileArgs`]); the summaries of their earlier
//! workouts from [`fill_histories`].

mod history;
mod history_flag;
mod load;
mod profile_args;
mod scan;
mod windows;

pub use history::{
    History, HistoryItem, MIN_SLOPE_STEPS, MIN_SPEED_VARIANCE, MIN_SPORT_SLOPE_STEPS,
    MOVING_SPEED_KMH, Summary, Truncation, fill_histories, histories, histories_of,
    summarize_workouts,
};
pub use history_flag::{load_history_flag, takes_history, warn_history_unused};
pub use load::{
    Loaded, MAX_INTERVAL_S, MIN_INTERVAL_S, MIN_VALID_STEPS, Read, check_interval, describe_inputs,
    grid_seconds, load, load_history, nothing_usable, warn,
};
pub use profile_args::ProfileArgs;
pub use scan::{Piece, Scanned, scan};
pub use windows::{
    longest, longest_of, push_sequence, push_windows, push_windows_with, window_ranges, windows,
};

use crate::data::{
    NUM_HISTORY_INPUTS, NUM_PERSON_INPUTS, NUM_PROFILE_INPUTS, Profile, Sport, Workout,
};
use crate::features::Sequence;

/// One kept workout, ready to be windowed.
pub struct Prepared {
    /// The workout (or piece of one) as cleaned.
    pub workout: Workout,
    /// Its features on the grid.
    pub sequence: Sequence,
    /// The summaries of the person's earlier workouts: unknown after loading, computed by
    /// [`fill_histories`].
    pub history: History,
}

impl Prepared {
    /// A workout and its sequence, its history unknown.
    pub fn new(workout: Workout, sequence: Sequence) -> Prepared {
        Prepared {
            workout,
            sequence,
            history: History::unknown(),
        }
    }

    /// The workout's person-level inputs, in the order of [`crate::data::PERSON_INPUT_NAMES`]:
    /// the profile, the history and the sport's one-hot (always known).
    pub fn person_values(&self) -> [Option<f64>; NUM_PERSON_INPUTS] {
        self.person_values_with(&self.history)
    }

    /// [`Prepared::person_values`] with `history` in place of the workout's own (a truncated one
    /// for training, or none to stand for a newcomer).
    pub fn person_values_with(&self, history: &History) -> [Option<f64>; NUM_PERSON_INPUTS] {
        person_values(self.workout.profile, history, self.workout.sport_class())
    }
}

/// A workout's person-level inputs, in the order of [`crate::data::PERSON_INPUT_NAMES`]: the
/// `profile`, the `history` and the `sport`'s one-hot (always known).
pub fn person_values(
    profile: Profile,
    history: &History,
    sport: Sport,
) -> [Option<f64>; NUM_PERSON_INPUTS] {
    let mut values = [None; NUM_PERSON_INPUTS];
    let history_end = NUM_PROFILE_INPUTS + NUM_HISTORY_INPUTS;
    values[..NUM_PROFILE_INPUTS].copy_from_slice(&profile.values());
    values[NUM_PROFILE_INPUTS..history_end].copy_from_slice(&history.0);
    values[history_end..].copy_from_slice(&sport.one_hot().map(Some));
    values
}

/// Whether workout `earlier` counts as one of `later`'s earlier workouts: the same person's,
/// started before it, and not a piece of the same recording (pieces share its id).
pub fn started_before(earlier: &Workout, later: &Workout) -> bool {
    earlier.user_id == later.user_id
        && earlier.start_time() < later.start_time()
        && earlier.workout_id != later.workout_id
}

/// The start of the recording each of `prepared` is a piece of: the earliest start of the
/// pieces sharing its workout id (cleaning splits a recording at long pauses).
pub fn recording_starts(prepared: &[Prepared]) -> Vec<f64> {
    let mut first: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for p in prepared {
        let start = first.entry(p.workout.workout_id).or_insert(f64::INFINITY);
        *start = start.min(p.workout.start_time());
    }
    (prepared.iter())
        .map(|p| first[&p.workout.workout_id])
        .collect()
}
