//! A person's heart rates, the person-level inputs of a model (docs/model.md): what a file or
//! the command line says of them ([`Profile`]), and how a person's workouts share them
//! ([`share_profiles`]).

use super::person::NUM_PROFILE_INPUTS;
use super::{HEART_RATE_VALID_BPM, Workout};
use std::collections::BTreeMap;

/// What a person's files or command line say of their heart rate: the person-level inputs
/// `resting_hr` and `max_hr` (docs/model.md). Each value is `None` where unknown; a value
/// outside [`HEART_RATE_VALID_BPM`], or a resting heart rate not below the maximal one, is not
/// believed and counts as unknown (see [`Profile::checked`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Profile {
    /// Resting heart rate, bpm.
    pub resting_hr: Option<f64>,
    /// Maximal heart rate, bpm.
    pub max_hr: Option<f64>,
}

impl Profile {
    /// The profile with only believable values: each within [`HEART_RATE_VALID_BPM`], and
    /// neither of two that contradict each other (resting at or above maximal).
    pub fn checked(self) -> Profile {
        let valid = |v: Option<f64>| v.filter(|v| HEART_RATE_VALID_BPM.contains(v));
        let (rest, max) = (valid(self.resting_hr), valid(self.max_hr));
        match (rest, max) {
            (Some(r), Some(m)) if r >= m => Profile::default(),
            _ => Profile {
                resting_hr: rest,
                max_hr: max,
            },
        }
    }

    /// This profile's values, each taken from `fallback` where this one has none.
    pub fn or(self, fallback: Profile) -> Profile {
        Profile {
            resting_hr: self.resting_hr.or(fallback.resting_hr),
            max_hr: self.max_hr.or(fallback.max_hr),
        }
        .checked()
    }

    /// The values in the order of [`super::PROFILE_INPUT_NAMES`], the first person-level
    /// inputs.
    pub fn values(self) -> [Option<f64>; NUM_PROFILE_INPUTS] {
        [self.resting_hr, self.max_hr]
    }

    /// The profile of `values`, in the order of [`Profile::values`].
    pub fn from_values([resting_hr, max_hr]: [Option<f64>; NUM_PROFILE_INPUTS]) -> Profile {
        Profile { resting_hr, max_hr }
    }
}

/// What sharing profiles needs of a workout: whose it is, when it started, its profile.
#[derive(Debug, Clone, Copy)]
pub struct ProfileAt {
    /// The person's id.
    pub user_id: i64,
    /// Seconds since the Unix epoch of its first sample.
    pub start: f64,
    /// What its file records.
    pub profile: Profile,
}

impl ProfileAt {
    /// What sharing profiles needs of `workout`.
    pub fn of(workout: &Workout) -> ProfileAt {
        ProfileAt {
            user_id: workout.user_id,
            start: workout.start_time(),
            profile: workout.profile,
        }
    }
}

/// Gives a workout whose file records no resting (or maximal) heart rate the value of the same
/// person's workout nearest in time that records one: a person's profile is theirs, not one
/// file's, and changes slowly. Values a file records are kept.
pub fn share_profiles(workouts: &mut [Workout]) {
    let mut items: Vec<ProfileAt> = workouts.iter().map(ProfileAt::of).collect();
    share_profiles_at(&mut items);
    for (workout, item) in workouts.iter_mut().zip(items) {
        workout.profile = item.profile;
    }
}

/// [`share_profiles`] on what it needs of each workout.
pub fn share_profiles_at(items: &mut [ProfileAt]) {
    let mut by_user: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, w) in items.iter().enumerate() {
        by_user.entry(w.user_id).or_default().push(i);
    }
    for mut order in by_user.into_values() {
        order.sort_by(|&a, &b| items[a].start.total_cmp(&items[b].start));
        for p in 0..NUM_PROFILE_INPUTS {
            let value = |w: &ProfileAt| w.profile.values()[p];
            let known: Vec<(f64, f64)> = order
                .iter()
                .filter_map(|&i| value(&items[i]).map(|v| (items[i].start, v)))
                .collect();
            if known.is_empty() {
                continue;
            }
            for &i in &order {
                if value(&items[i]).is_some() {
                    continue;
                }
                // `known` is in time order: the nearest is just before or just after.
                let start = items[i].start;
                let after = known.partition_point(|k| k.0 < start);
                let nearest = [after.checked_sub(1), Some(after)]
                    .into_iter()
                    .flatten()
                    .filter_map(|k| known.get(k))
                    .min_by(|a, b| (a.0 - start).abs().total_cmp(&(b.0 - start).abs()));
                if let Some(&(_, v)) = nearest {
                    let mut values = items[i].profile.values();
                    values[p] = Some(v);
                    items[i].profile = Profile::from_values(values);
                }
            }
        }
        for &i in &order {
            items[i].profile = items[i].profile.checked();
        }
    }
}
