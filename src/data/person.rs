//! The names of the person-level inputs (docs/model.md), in checkpoint order, and the values
//! each may believably take: the person's heart rates ([`PROFILE_INPUT_NAMES`], from their
//! files or command line), summaries of their earlier workouts ([`HISTORY_INPUT_NAMES`],
//! computed by `crate::workouts::history`) and the workout's sport ([`SPORT_INPUT_NAMES`]).

use super::HEART_RATE_VALID_BPM;
use std::ops::RangeInclusive;

/// The person's resting and maximal heart rate (bpm), where their files or command line say.
pub const PROFILE_INPUT_NAMES: [&str; 2] = ["resting_hr", "max_hr"];

/// Number of [`PROFILE_INPUT_NAMES`].
pub const NUM_PROFILE_INPUTS: usize = PROFILE_INPUT_NAMES.len();

/// Summaries of the person's workouts that started before this one (docs/model.md):
/// mean heart rate, mean heart rate in this workout's sport, 5th and 95th percentiles of heart
/// rate (bpm), heart rate against speed (bpm per km/h), ln(1 + number of earlier workouts) and
/// ln(1 + days since the latest one ended).
pub const HISTORY_INPUT_NAMES: [&str; 7] = [
    "history_mean_hr",
    "history_sport_hr",
    "history_hr_low",
    "history_hr_high",
    "history_hr_per_speed",
    "history_workouts",
    "history_days",
];

/// Number of [`HISTORY_INPUT_NAMES`].
pub const NUM_HISTORY_INPUTS: usize = HISTORY_INPUT_NAMES.len();

/// The workout's sport, one-hot: 1 for its class, 0 otherwise (both 0 for other sports).
pub const SPORT_INPUT_NAMES: [&str; 2] = ["sport_run", "sport_ride"];

/// Number of [`SPORT_INPUT_NAMES`].
pub const NUM_SPORT_INPUTS: usize = SPORT_INPUT_NAMES.len();

/// Number of person-level inputs.
pub const NUM_PERSON_INPUTS: usize = NUM_PROFILE_INPUTS + NUM_HISTORY_INPUTS + NUM_SPORT_INPUTS;

/// The person-level inputs, in checkpoint order: [`PROFILE_INPUT_NAMES`],
/// [`HISTORY_INPUT_NAMES`], [`SPORT_INPUT_NAMES`]. Each is the same at every step of a workout
/// and kept beside the 11 features in a processed file (its `person` tensor); where unknown
/// (NaN there), a model is given the training mean (a z-score of 0).
pub const PERSON_INPUT_NAMES: [&str; NUM_PERSON_INPUTS] = concat_names(
    concat_names::<NUM_PROFILE_INPUTS, NUM_HISTORY_INPUTS, 9>(
        PROFILE_INPUT_NAMES,
        HISTORY_INPUT_NAMES,
    ),
    SPORT_INPUT_NAMES,
);

/// The most earlier workouts `history_workouts` believes: ln(1 + a million).
const MOST_WORKOUTS: f64 = 1e6;
/// The most days since the latest earlier workout `history_days` believes: a century.
const MOST_DAYS: f64 = 36_525.0;
/// The steepest heart rate against speed, either way, that `history_hr_per_speed` believes
/// (bpm per km/h).
pub const MOST_HR_PER_SPEED: f64 = 50.0;

/// The values person-level input `index` (into [`PERSON_INPUT_NAMES`]) may believably take:
/// [`HEART_RATE_VALID_BPM`] for those in bpm, ±[`MOST_HR_PER_SPEED`] for
/// `history_hr_per_speed`, up to ln(1 + 10⁶) for `history_workouts`, up to ln(1 + 36525) for
/// `history_days`, 0 to 1 for the sport. A value outside is not believed: a processed file
/// holding one is refused, and a computed one counts as unknown.
pub fn believable_range(index: usize) -> RangeInclusive<f64> {
    match PERSON_INPUT_NAMES.get(index).copied().unwrap_or("") {
        "history_hr_per_speed" => -MOST_HR_PER_SPEED..=MOST_HR_PER_SPEED,
        "history_workouts" => 0.0..=MOST_WORKOUTS.ln_1p(),
        "history_days" => 0.0..=MOST_DAYS.ln_1p(),
        "sport_run" | "sport_ride" => 0.0..=1.0,
        _ => HEART_RATE_VALID_BPM,
    }
}

/// The unit of person-level input `index`, for messages.
pub fn person_input_unit(index: usize) -> &'static str {
    match PERSON_INPUT_NAMES.get(index).copied().unwrap_or("") {
        "history_hr_per_speed" => "bpm per km/h",
        "history_workouts" => "ln(1 + workouts)",
        "history_days" => "ln(1 + days)",
        "sport_run" | "sport_ride" => "0 or 1",
        _ => "bpm",
    }
}

/// `a` followed by `b` (`N` = `A + B`, checked when the constant is built).
pub const fn concat_names<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    assert!(N == A + B, "concat_names: N must be A + B");
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_checkpoint_order() {
        assert_eq!(&PERSON_INPUT_NAMES[..2], ["resting_hr", "max_hr"]);
        assert_eq!(PERSON_INPUT_NAMES[2], "history_mean_hr");
        assert_eq!(PERSON_INPUT_NAMES[NUM_PERSON_INPUTS - 1], "sport_ride");
    }

    #[test]
    fn ranges_by_name() {
        assert_eq!(believable_range(0), HEART_RATE_VALID_BPM);
        assert_eq!(believable_range(5), HEART_RATE_VALID_BPM, "history_hr_high");
        assert!(believable_range(6).contains(&-3.0), "history_hr_per_speed");
        assert!(!believable_range(7).contains(&-0.1), "history_workouts");
        assert!(believable_range(8).contains(&0.0), "history_days");
        assert!(!believable_range(9).contains(&2.0), "sport_run");
    }
}
