//! A person's own history: summaries of the workouts they did before each workout, the
//! person-level inputs [`HISTORY_INPUT_NAMES`] (docs/model.md).
//!
//! The history of a workout `w` of person `p` (same `user_id`) is `p`'s workouts, the workouts
//! to prepare and any given as history only, that started strictly before `w` (never `w`
//! itself, nor a piece of its recording, nor anything later). Every value is computed from the
//! history's resampled sequences, over the steps with a valid heart rate:
//!
//! | input | value |
//! | --- | --- |
//! | `history_mean_hr` | mean heart rate (bpm) |
//! | `history_sport_hr` | mean heart rate of the earlier workouts of `w`'s sport (bpm) |
//! | `history_hr_low`, `history_hr_high` | 5th and 95th percentiles of heart rate (bpm), nearest rank: the smallest whole bpm at or below which lie at least 5% (95%) of the heart rates rounded to whole bpm |
//! | `history_hr_per_speed` | least-squares slope of heart rate against `speed` (bpm per km/h) over the moving steps (speed above [`MOVING_SPEED_KMH`]) of `w`'s sport if it has at least [`MIN_SPORT_SLOPE_STEPS`], else of every sport |
//! | `history_workouts` | ln(1 + number of earlier workouts), 0 where none |
//! | `history_days` | ln(1 + days from the end of the latest earlier workout to `w`'s start), 0 where they overlap |
//!
//! A value is unknown where there is no history, no step it needs (the slope: fewer than
//! [`MIN_SLOPE_STEPS`] moving steps, or a speed variance below [`MIN_SPEED_VARIANCE`]), or where
//! it falls outside its [`believable_range`].
//!
//! Training may cut each history to its latest `k` workouts ([`Truncation::Random`]), so that
//! one model sees workouts with no, one and many earlier ones. Each person's workouts are sorted
//! by start once and summed by prefix sums: the cost is the steps once, then a few thousand
//! operations per workout.

use super::Prepared;
use crate::data::{NUM_HISTORY_INPUTS, NUM_PROFILE_INPUTS, Sport, Workout, believable_range};
use crate::features::{NUM_FEATURES, SPEED_FEATURE, Sequence};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;

/// A step is moving, for `history_hr_per_speed`, where its speed is above this (km/h).
pub const MOVING_SPEED_KMH: f64 = 1.0;
/// `history_hr_per_speed` uses the moving steps of the workout's own sport where they are at
/// least this many, else those of every sport.
pub const MIN_SPORT_SLOPE_STEPS: u64 = 120;
/// `history_hr_per_speed` is unknown with fewer moving steps than this.
pub const MIN_SLOPE_STEPS: u64 = 30;
/// `history_hr_per_speed` is unknown where the speed's variance over its steps is below this
/// ((km/h)²): a slope against a speed that hardly changes is noise.
pub const MIN_SPEED_VARIANCE: f64 = 0.25;
/// The 5th and 95th percentiles of `history_hr_low` and `history_hr_high`.
const PERCENTILES: [f64; 2] = [0.05, 0.95];
/// Seconds in a day.
const DAY_S: f64 = 86_400.0;
/// Whole-bpm bins of heart rate, one per value in [`crate::data::HEART_RATE_VALID_BPM`].
const HR_BINS: usize = 211;
/// The lowest bin's heart rate (bpm).
const HR_BIN_LOW: f64 = 30.0;

/// The values of the history inputs of one workout, in the order of [`HISTORY_INPUT_NAMES`];
/// `None` where unknown.
///
/// [`HISTORY_INPUT_NAMES`]: crate::data::HISTORY_INPUT_NAMES
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct History(pub [Option<f64>; NUM_HISTORY_INPUTS]);

impl History {
    /// Every value unknown: a workout whose history was not computed (all of them after
    /// loading).
    pub fn unknown() -> History {
        History::default()
    }
}

/// How much of each history training keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// All of it (validation, testing, prediction).
    None,
    /// The latest `k` earlier workouts, `k` drawn from 0 to their number `n` log-uniformly
    /// (`k = round((n + 1)^u) - 1`, `u` uniform in [0, 1]), so that short histories (none, one,
    /// a few) are as common in training as in the hands of a new user, by a generator seeded
    /// by `seed` and the workout's id, whatever the order of the workouts.
    Random {
        /// The seed (`prepare --seed`).
        seed: u64,
    },
}

impl Truncation {
    /// How many of `earlier` workouts the history of workout `workout_id` keeps.
    fn keep(self, earlier: usize, workout_id: i64) -> usize {
        match self {
            Truncation::None => earlier,
            Truncation::Random { seed } => {
                let mixed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ workout_id as u64;
                let u: f64 = StdRng::seed_from_u64(mixed).random_range(0.0..=1.0);
                let k = ((earlier + 1) as f64).powf(u).round() as usize - 1;
                k.min(earlier)
            }
        }
    }
}

/// Sums over the valid steps of one sport's workouts.
#[derive(Debug, Clone, Copy)]
struct Steps {
    /// Valid steps.
    count: u64,
    /// Sum of their heart rates (bpm).
    hr_sum: f64,
    /// Valid steps per whole bpm of heart rate, from [`HR_BIN_LOW`].
    bins: [u64; HR_BINS],
    /// Moving valid steps, and sums over them of speed `x` and heart rate `y`: `n`, `Σx`, `Σy`,
    /// `Σx²`, `Σxy`.
    moving: [f64; 5],
}

impl Default for Steps {
    fn default() -> Steps {
        Steps {
            count: 0,
            hr_sum: 0.0,
            bins: [0; HR_BINS],
            moving: [0.0; 5],
        }
    }
}

impl Steps {
    /// The sums over a workout's valid steps.
    fn of(seq: &Sequence) -> Steps {
        let mut steps = Steps::default();
        for k in (0..seq.len()).filter(|&k| seq.valid[k]) {
            let hr = f64::from(seq.heart_rate[k]);
            let speed = f64::from(seq.features[k * NUM_FEATURES + SPEED_FEATURE]);
            steps.count += 1;
            steps.hr_sum += hr;
            let bin = (hr.round() - HR_BIN_LOW).clamp(0.0, (HR_BINS - 1) as f64);
            steps.bins[bin as usize] += 1;
            if speed > MOVING_SPEED_KMH {
                let terms = [1.0, speed, hr, speed * speed, speed * hr];
                steps
                    .moving
                    .iter_mut()
                    .zip(terms)
                    .for_each(|(s, t)| *s += t);
            }
        }
        steps
    }

    /// `self` plus (`sign` 1) or minus (`sign` -1) `other`.
    fn add(&mut self, other: &Steps, sign: i8) {
        self.add_parts(
            other.count,
            other.hr_sum,
            (0, &other.bins),
            &other.moving,
            sign,
        );
    }

    /// `self` plus (`sign` 1) or minus (`sign` -1) one workout's sums.
    fn add_workout(&mut self, other: &WorkoutSteps, sign: i8) {
        let (count, hr_sum, first, moving) =
            (other.count, other.hr_sum, other.first_bin, &other.moving);
        match &other.bins {
            Bins::Narrow(bins) => self.add_parts(count, hr_sum, (first, bins), moving, sign),
            Bins::Wide(bins) => self.add_parts(count, hr_sum, (first, bins), moving, sign),
        }
    }

    /// `self` plus (`sign` 1) or minus (`sign` -1) sums of `count` steps: `hr_sum`, `bins`
    /// from the bin `bins.0` on and `moving`.
    fn add_parts<B: Copy + Into<u64>>(
        &mut self,
        count: u64,
        hr_sum: f64,
        (first_bin, bins): (usize, &[B]),
        moving: &[f64; 5],
        sign: i8,
    ) {
        let combine = |a: u64, b: u64| if sign > 0 { a + b } else { a - b };
        self.count = combine(self.count, count);
        self.hr_sum += f64::from(sign) * hr_sum;
        for (a, &b) in self.bins[first_bin..].iter_mut().zip(bins) {
            *a = combine(*a, b.into());
        }
        for (a, b) in self.moving.iter_mut().zip(moving) {
            *a += f64::from(sign) * b;
        }
    }

    /// Mean heart rate, where there is a step.
    fn mean_hr(&self) -> Option<f64> {
        (self.count > 0).then(|| self.hr_sum / self.count as f64)
    }

    /// The heart rate (whole bpm) at quantile `q`, nearest rank, where there is a step.
    fn percentile(&self, q: f64) -> Option<f64> {
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut below = 0;
        self.bins
            .iter()
            .position(|&b| {
                below += b;
                below >= rank
            })
            .filter(|_| self.count > 0)
            .map(|bin| HR_BIN_LOW + bin as f64)
    }

    /// Number of moving steps.
    fn moving_steps(&self) -> u64 {
        self.moving[0].round() as u64
    }

    /// Least-squares slope of heart rate against speed over the moving steps (see the module
    /// documentation for when it is unknown).
    fn slope(&self) -> Option<f64> {
        let [n, sx, sy, sxx, sxy] = self.moving;
        let variance = sxx / n - (sx / n).powi(2);
        (self.moving_steps() >= MIN_SLOPE_STEPS && variance >= MIN_SPEED_VARIANCE)
            .then(|| (sxy / n - sx / n * sy / n) / variance)
    }
}

/// [`Steps`] of one workout, its heart-rate bins kept from the lowest to the highest it fills (a
/// workout spans a few dozen of the [`HR_BINS`]), in 16 bits where they fit: a few hundred bytes.
#[derive(Debug, Clone)]
struct WorkoutSteps {
    count: u64,
    hr_sum: f64,
    /// The bin of the first of `bins`.
    first_bin: usize,
    bins: Bins,
    moving: [f64; 5],
}

/// A workout's steps per heart-rate bin.
#[derive(Debug, Clone)]
enum Bins {
    /// Where every count fits in 16 bits (up to 65,535 steps in one bin).
    Narrow(Box<[u16]>),
    /// Else.
    Wide(Box<[u32]>),
}

impl Bins {
    /// The counts `counts`, in as few bits as they fit.
    fn of(counts: &[u64]) -> Bins {
        match counts.iter().map(|&c| u16::try_from(c)).collect() {
            Ok(narrow) => Bins::Narrow(narrow),
            Err(_) => Bins::Wide(
                counts
                    .iter()
                    .map(|&c| u32::try_from(c).unwrap_or(u32::MAX))
                    .collect(),
            ),
        }
    }
}

impl WorkoutSteps {
    /// The sums over a workout's valid steps.
    fn of(seq: &Sequence) -> WorkoutSteps {
        let steps = Steps::of(seq);
        let first_bin = steps.bins.iter().position(|&b| b > 0).unwrap_or(0);
        let end = steps
            .bins
            .iter()
            .rposition(|&b| b > 0)
            .map_or(first_bin, |b| b + 1);
        WorkoutSteps {
            count: steps.count,
            hr_sum: steps.hr_sum,
            first_bin,
            bins: Bins::of(&steps.bins[first_bin..end]),
            moving: steps.moving,
        }
    }
}

/// What a workout brings to histories, its own and those of later workouts: whose it is, when,
/// its sport and the sums over its valid steps (a few hundred bytes, whatever its length).
#[derive(Debug, Clone)]
pub struct HistoryItem {
    user_id: i64,
    workout_id: i64,
    start: f64,
    end: f64,
    sport: Sport,
    steps: WorkoutSteps,
}

impl HistoryItem {
    /// What `workout`, resampled into `sequence`, brings to histories.
    pub fn new(workout: &Workout, sequence: &Sequence) -> HistoryItem {
        HistoryItem {
            user_id: workout.user_id,
            workout_id: workout.workout_id,
            start: workout.start_time(),
            end: workout.end_time(),
            sport: workout.sport_class(),
            steps: WorkoutSteps::of(sequence),
        }
    }

    /// What `p` brings to histories.
    pub fn of(p: &Prepared) -> HistoryItem {
        HistoryItem::new(&p.workout, &p.sequence)
    }
}

/// One workout of a person's history, in start order.
struct Entry<'a> {
    item: &'a HistoryItem,
    /// Its index in the workouts to prepare (`None`: history only).
    target: Option<usize>,
}

/// The history of every workout of `prepared` (same order): from the same person's workouts in
/// `prepared` and in `extra` (history only; one that starts when a workout of `prepared` of
/// the same person does is taken for the same and left out), each cut as `truncation(i)` says
/// for `prepared[i]`.
pub fn histories(
    prepared: &[Prepared],
    extra: &[Prepared],
    truncation: &dyn Fn(usize) -> Truncation,
) -> Vec<History> {
    let items = |ps: &[Prepared]| ps.iter().map(HistoryItem::of).collect::<Vec<_>>();
    let (prepared, extra) = (items(prepared), items(extra));
    let (prepared, extra): (Vec<_>, Vec<_>) = (prepared.iter().collect(), extra.iter().collect());
    histories_of(&prepared, &extra, truncation)
}

/// [`histories`] from what each workout brings to them: `targets` are the workouts to prepare,
/// `extra` those that serve as history only.
pub fn histories_of(
    targets: &[&HistoryItem],
    extra: &[&HistoryItem],
    truncation: &dyn Fn(usize) -> Truncation,
) -> Vec<History> {
    let mut people: BTreeMap<i64, Vec<Entry>> = BTreeMap::new();
    let all = targets.iter().enumerate().map(|(i, &item)| (item, Some(i)));
    for (item, target) in all.chain(extra.iter().map(|&item| (item, None))) {
        let entries = people.entry(item.user_id).or_default();
        if target.is_none()
            && entries
                .iter()
                .any(|e| e.target.is_some() && e.item.start == item.start)
        {
            continue;
        }
        entries.push(Entry { item, target });
    }
    let mut out = vec![History::unknown(); targets.len()];
    for mut entries in people.into_values() {
        entries.sort_by(|a, b| a.item.start.total_cmp(&b.item.start));
        person_histories(&entries, truncation, &mut out);
    }
    out
}

/// The histories of one person's workouts `entries` (sorted by start) into `out`.
fn person_histories(
    entries: &[Entry],
    truncation: &dyn Fn(usize) -> Truncation,
    out: &mut [History],
) {
    // prefix[i][s]: the sums over the first i entries of sport s.
    let mut prefix = vec![[Steps::default(); 3]];
    for e in entries {
        let mut next = *prefix.last().expect("starts with one");
        next[e.item.sport.index()].add_workout(&e.item.steps, 1);
        prefix.push(next);
    }
    for (w, target) in entries.iter().filter_map(|w| w.target.map(|t| (w, t))) {
        let before = entries.partition_point(|e| e.item.start < w.item.start);
        let counts = |e: &Entry| e.item.workout_id != w.item.workout_id;
        let earlier = entries[..before].iter().filter(|e| counts(e)).count();
        let keep = truncation(target).keep(earlier, w.item.workout_id);
        // The latest `keep` earlier workouts: from `from` to `before`, less w's own pieces.
        let mut from = before;
        let mut kept = 0;
        while kept < keep {
            from -= 1;
            kept += usize::from(counts(&entries[from]));
        }
        let mut sums = prefix[before];
        for (s, low) in sums.iter_mut().zip(&prefix[from]) {
            s.add(low, -1);
        }
        for own in entries[from..before].iter().filter(|e| !counts(e)) {
            sums[own.item.sport.index()].add_workout(&own.item.steps, -1);
        }
        let latest = entries[from..before].iter().rev().find(|e| counts(e));
        out[target] = summarize(&sums, w.item, keep, latest.map(|e| e.item));
    }
}

/// The history values of workout `w` from the sums of its history per sport, the number of
/// workouts in it and the latest of them.
fn summarize(
    sums: &[Steps; 3],
    w: &HistoryItem,
    workouts: usize,
    latest: Option<&HistoryItem>,
) -> History {
    let mut all = Steps::default();
    for s in sums {
        all.add(s, 1);
    }
    let own = &sums[w.sport.index()];
    let slope = if own.moving_steps() >= MIN_SPORT_SLOPE_STEPS {
        own.slope()
    } else {
        all.slope()
    };
    let days = latest.map(|e| ((w.start - e.end) / DAY_S).max(0.0).ln_1p());
    let values = [
        all.mean_hr(),
        own.mean_hr(),
        all.percentile(PERCENTILES[0]),
        all.percentile(PERCENTILES[1]),
        slope,
        Some((workouts as f64).ln_1p()),
        days,
    ];
    let mut history = History::unknown();
    for (j, (slot, value)) in history.0.iter_mut().zip(values).enumerate() {
        let range = believable_range(NUM_PROFILE_INPUTS + j);
        *slot = value.filter(|v| v.is_finite() && range.contains(v));
    }
    history
}

/// What a set of workouts (a person's, of one sport or all) holds together: the summaries a
/// workout after all of them would have as its history, with the moving speed beside.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Workouts (pieces of recordings count each).
    pub workouts: usize,
    /// Steps with a valid heart rate.
    pub steps: u64,
    /// Mean heart rate (bpm).
    pub mean_hr: Option<f64>,
    /// 5th percentile of heart rate (bpm), as `history_hr_low`.
    pub hr_low: Option<f64>,
    /// 95th percentile of heart rate (bpm), as `history_hr_high`.
    pub hr_high: Option<f64>,
    /// Mean speed over the moving steps (km/h).
    pub moving_speed: Option<f64>,
    /// Slope of heart rate against speed over the moving steps (bpm per km/h), as
    /// `history_hr_per_speed` (unknown on the same conditions).
    pub hr_per_speed: Option<f64>,
}

/// The [`Summary`] of `workouts` together.
pub fn summarize_workouts(workouts: &[&Prepared]) -> Summary {
    let mut all = Steps::default();
    for p in workouts {
        all.add(&Steps::of(&p.sequence), 1);
    }
    Summary {
        workouts: workouts.len(),
        steps: all.count,
        mean_hr: all.mean_hr(),
        hr_low: all.percentile(PERCENTILES[0]),
        hr_high: all.percentile(PERCENTILES[1]),
        moving_speed: (all.moving_steps() > 0).then(|| all.moving[1] / all.moving[0]),
        hr_per_speed: all.slope(),
    }
}

/// Fills the history of every workout of `prepared` (see [`histories`]).
pub fn fill_histories(
    prepared: &mut [Prepared],
    extra: &[Prepared],
    truncation: &dyn Fn(usize) -> Truncation,
) {
    let computed = histories(prepared, extra, truncation);
    for (p, history) in prepared.iter_mut().zip(computed) {
        p.history = history;
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
