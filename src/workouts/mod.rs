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
//! record them, come from the command line ([`ProfileArgs`]).

mod load;
mod profile_args;
mod windows;

pub use load::{
    Loaded, MAX_INTERVAL_S, MIN_INTERVAL_S, MIN_VALID_STEPS, describe_inputs, grid_seconds, load,
    warn,
};
pub use profile_args::ProfileArgs;
pub use windows::{longest, push_windows, windows};

use crate::data::Workout;
use crate::features::Sequence;

/// One kept workout, ready to be windowed.
pub struct Prepared {
    /// The workout (or piece of one) as cleaned.
    pub workout: Workout,
    /// Its features on the grid.
    pub sequence: Sequence,
}
