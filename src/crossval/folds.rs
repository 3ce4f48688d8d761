//! The data of a cross-validation in memory: the workouts of `--input` read once
//! ([`Workouts::load`]), their people dealt into folds ([`Workouts::deal`]), and each fold's
//! training and validation splits and held-out workouts ([`Workouts::fold`]).

use super::options::CrossvalConfig;
use crate::data::{Profile, stable_id};
use crate::dataset::Split;
use crate::train::Splits;
use crate::workouts::{self, History, Prepared, Truncation};
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The workouts of a cross-validation, and the windows every fold's training adds.
pub struct Workouts {
    /// The inputs, described.
    pub inputs: String,
    /// Every workout read, resampled, each with its whole history: the same person's workouts
    /// that started before it (what validation and the held-out people see).
    pub prepared: Vec<Prepared>,
    /// The history each workout trains with: its latest `k` earlier workouts, `k` drawn from
    /// 0 to all of them ([`Truncation::Random`], `--seed`), so that a model learns to predict
    /// a newcomer and a known person alike.
    pub training_history: Vec<History>,
    /// How many earlier workouts of the same person each workout has.
    pub earlier: Vec<usize>,
    /// The start of the recording each workout is a piece of (its first piece's start):
    /// what walking forward in time cuts at.
    pub recording_start: Vec<f64>,
    /// Their grid interval, seconds.
    pub interval_s: f64,
    /// `--add-train`'s windows, padded to the training windows' length.
    pub extra: Option<Split>,
    /// Steps per training window: `--seq-len`, or with whole workouts the longest workout's
    /// (and at least `--add-train`'s).
    pub train_len: usize,
    /// How the models train: `windows of N steps` or `whole workouts (up to N steps)`.
    pub training: String,
}

/// One fold: the people it holds out, the splits its model trains on, and the held-out
/// workouts.
pub struct FoldData<'a> {
    /// The fold's number, from 1.
    pub number: usize,
    /// The people held out.
    pub people: Vec<i64>,
    /// Their names ([`Workouts::person_names`]).
    pub names: Vec<String>,
    /// Training and validation windows of everyone else (and `--add-train`'s).
    pub splits: Splits,
    /// The held-out people's workouts.
    pub test: Vec<&'a Prepared>,
    /// How many earlier workouts each of `test` has.
    pub test_earlier: Vec<usize>,
    /// Workouts trained on, validated on, tested on.
    pub workouts: [usize; 3],
}

/// What one fold holds out.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldOut {
    /// These people's workouts; everyone else's train.
    People(Vec<i64>),
    /// One person's workouts from the `from`-th to before the `to`-th (distinct recordings in
    /// order of start, from 0); the ones before `from` train, the ones from `to` on do nothing.
    Later {
        /// The person.
        person: i64,
        /// The start time of the `from`-th workout: the first tested.
        from_start: f64,
        /// The start time of the `to`-th (infinite for the last fold): the first not tested.
        to_start: f64,
        /// `from` and `to`, to describe the fold.
        range: (usize, usize),
    },
}

impl HeldOut {
    /// The people it tests, of `workouts`.
    fn people(&self, workouts: &Workouts) -> Vec<i64> {
        match self {
            HeldOut::People(people) => people.clone(),
            HeldOut::Later { person, .. } => vec![*person],
        }
        .into_iter()
        .filter(|u| workouts.prepared.iter().any(|p| p.workout.user_id == *u))
        .collect()
    }

    /// Whether workout `i` of `workouts` is tested.
    fn tests(&self, i: usize, workouts: &Workouts) -> bool {
        let user = workouts.prepared[i].workout.user_id;
        match self {
            HeldOut::People(people) => people.contains(&user),
            HeldOut::Later {
                person,
                from_start,
                to_start,
                ..
            } => user == *person && (*from_start..*to_start).contains(&workouts.recording_start[i]),
        }
    }

    /// Whether workout `i` of `workouts` trains or validates.
    fn trains(&self, i: usize, workouts: &Workouts) -> bool {
        match self {
            HeldOut::People(_) => !self.tests(i, workouts),
            HeldOut::Later { from_start, .. } => workouts.recording_start[i] < *from_start,
        }
    }

    /// What it holds out, in words.
    pub fn describe(&self) -> String {
        match self {
            HeldOut::People(people) => format!("people {people:?}"),
            HeldOut::Later { range, .. } => format!(
                "workouts {} to {} in time, after training on the {} before",
                range.0 + 1,
                range.1,
                range.0
            ),
        }
    }
}

/// One person's workouts cut for walking forward in time: their `n` recordings in order of
/// start, the ones from the second on dealt into `min(folds, n - 1)` consecutive blocks, each
/// a fold trained on every recording before it. Empty with fewer than two recordings.
fn walk_forward(prepared: &[Prepared], recording_start: &[f64], folds: usize) -> Vec<HeldOut> {
    let Some(person) = prepared.first().map(|p| p.workout.user_id) else {
        return Vec::new();
    };
    let mut starts = recording_start.to_vec();
    starts.sort_by(f64::total_cmp);
    starts.dedup();
    let n = starts.len();
    let k = folds.min(n.saturating_sub(1));
    (0..k)
        .map(|j| {
            let (from, to) = (1 + j * (n - 1) / k, 1 + (j + 1) * (n - 1) / k);
            HeldOut::Later {
                person,
                from_start: starts[from],
                to_start: starts.get(to).copied().unwrap_or(f64::INFINITY),
                range: (from, to),
            }
        })
        .collect()
}

impl Workouts {
    /// Reads `inputs` at `config`'s interval, and `--add-train`'s windows.
    pub fn load(inputs: &[PathBuf], config: &CrossvalConfig) -> Result<Workouts> {
        let extra = config
            .add_train
            .as_ref()
            .map(|path| Split::read(path).context("--add-train"))
            .transpose()?;
        let described = workouts::describe_inputs(inputs);
        let loaded = workouts::load(inputs, config.interval_s, Profile::default())?;
        workouts::warn(&loaded.cleaned, &loaded.skipped);
        let mut prepared = loaded.prepared;
        workouts::fill_histories(&mut prepared, &[], &|_| Truncation::None);
        let seed = config.train.seed;
        let training_history =
            workouts::histories(&prepared, &[], &|_| Truncation::Random { seed });
        let earlier = earlier_workouts(&prepared);
        let recording_start = workouts::recording_starts(&prepared);
        let seq_len = config.seq_len;
        let train_len = if config.whole_workouts {
            workouts::longest(&prepared).max(extra.as_ref().map_or(1, |e| e.seq_len))
        } else {
            seq_len
        };
        let extra = match extra {
            Some(extra) => {
                ensure!(
                    (extra.seq_len == seq_len || config.whole_workouts)
                        && (extra.interval_s - config.interval_s).abs() < 1e-9,
                    "--add-train {}: windows of {} steps at {} s, but crossval cuts {} steps at {} s",
                    config.add_train.as_ref().expect("read").display(),
                    extra.seq_len,
                    extra.interval_s,
                    seq_len,
                    config.interval_s
                );
                Some(extra.padded_to(train_len))
            }
            None => None,
        };
        let training = if config.whole_workouts {
            format!("whole workouts (up to {train_len} steps)")
        } else {
            format!("windows of {seq_len} steps")
        };
        Ok(Workouts {
            inputs: described,
            prepared,
            training_history,
            earlier,
            recording_start,
            interval_s: config.interval_s,
            extra,
            train_len,
            training,
        })
    }

    /// What each of `folds` folds holds out (windows of `seq_len` steps): the people dealt
    /// into folds ([`deal`]), or with one person, the later of their workouts cut
    /// ([`walk_forward`]). Fails with one person and fewer than two workouts; says so when
    /// there are fewer people than folds, and when it walks forward.
    pub fn deal(&self, folds: usize, seq_len: usize) -> Result<Vec<HeldOut>> {
        let dealt = deal(&self.prepared, folds, seq_len);
        if dealt.len() == 1 {
            let cuts = walk_forward(&self.prepared, &self.recording_start, folds);
            ensure!(
                !cuts.is_empty(),
                "--input {}: crossval needs at least 2 people, or one person with 2 workouts or \
                 more; found one person with one workout",
                self.inputs
            );
            println!(
                "one person: walking forward in time, {} folds, each trained on the workouts \
                 before the ones it tests",
                cuts.len()
            );
            return Ok(cuts);
        }
        if dealt.len() < folds {
            eprintln!(
                "note: {} people, so {} folds of one person each",
                dealt.len(),
                dealt.len()
            );
        }
        Ok(dealt.into_iter().map(HeldOut::People).collect())
    }

    /// The names of `people` (by user id), for people to read: each one's folder
    /// ([`crate::data::Workout::person`]).
    pub fn person_names(&self, people: &[i64]) -> Vec<String> {
        people
            .iter()
            .map(|&user| {
                let workout = self.prepared.iter().map(|p| &p.workout);
                let mut theirs = workout.filter(|w| w.user_id == user);
                theirs
                    .next()
                    .map_or_else(|| format!("user {user}"), |w| w.person.clone())
            })
            .collect()
    }

    /// What `held_out` holds out, in words, people by name.
    pub fn describe(&self, held_out: &HeldOut) -> String {
        match held_out {
            HeldOut::People(people) => format!("people [{}]", self.person_names(people).join(", ")),
            HeldOut::Later { person, .. } => format!(
                "{}'s {}",
                self.person_names(&[*person]).join(""),
                held_out.describe()
            ),
        }
    }

    /// Fold `number` (from 1), which holds out `held_out`: the rest of the workouts before it
    /// train or validate (`train_or_val` with `val_share`), with `--add-train`'s windows; when
    /// none validates, the training windows do.
    pub fn fold(&self, number: usize, held_out: &HeldOut, val_share: f64) -> Result<FoldData<'_>> {
        let people = held_out.people(self);
        let tested = |i: usize| held_out.tests(i, self);
        let (test_earlier, test): (Vec<usize>, Vec<&Prepared>) = (self.earlier.iter())
            .zip(&self.prepared)
            .enumerate()
            .filter(|&(i, _)| tested(i))
            .map(|(_, pair)| pair)
            .unzip();
        let (rest_index, rest): (Vec<usize>, Vec<&Prepared>) = (self.prepared.iter().enumerate())
            .filter(|&(i, _)| held_out.trains(i, self))
            .unzip();
        let assignment = train_or_val(&rest, val_share);
        let set_id = format!("crossval-fold-{number}-{}", stable_id(&self.inputs));
        let empty =
            || Split::empty(self.train_len, self.interval_s, &self.inputs).with_set_id(&set_id);
        let (mut train, mut val) = (empty(), empty());
        for ((p, &s), &i) in rest.iter().zip(&assignment).zip(&rest_index) {
            if s == 0 {
                let person = p.person_values_with(&self.training_history[i]);
                workouts::push_windows_with(&mut train, p, &person);
            } else {
                workouts::push_windows(&mut val, p);
            }
        }
        if let Some(extra) = &self.extra {
            train.append(extra);
        }
        ensure!(train.n > 0, "fold {number}: no training window");
        if val.n == 0 {
            eprintln!(
                "warning: fold {number}: no training person has two workouts; validating on the training windows"
            );
            val = train.clone();
        }
        let validating = assignment.iter().filter(|&&s| s == 1).count();
        let names = self.person_names(&people);
        Ok(FoldData {
            number,
            people,
            splits: Splits {
                train,
                val,
                source: format!(
                    "fold {number} of {} ({} held out)",
                    self.inputs,
                    self.describe(held_out)
                ),
                folder: None,
            },
            names,
            workouts: [rest.len() - validating, validating, test.len()],
            test,
            test_earlier,
        })
    }
}

/// For each of `prepared`, the number of the same person's distinct workouts that started
/// before it ([`workouts::started_before`]; the pieces of one recording share its id).
fn earlier_workouts(prepared: &[Prepared]) -> Vec<usize> {
    let mut by_person: BTreeMap<i64, Vec<&Prepared>> = BTreeMap::new();
    for p in prepared {
        by_person.entry(p.workout.user_id).or_default().push(p);
    }
    prepared
        .iter()
        .map(|p| {
            let mut ids: Vec<i64> = (by_person[&p.workout.user_id].iter())
                .filter(|e| workouts::started_before(&e.workout, &p.workout))
                .map(|e| e.workout.workout_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        })
        .collect()
}

/// The people of `prepared` dealt into `folds` folds: largest (most windows) first, each to
/// the fold with the fewest windows so far (ties: the lower fold). Returns each fold's people,
/// sorted; no fold is empty.
fn deal(prepared: &[Prepared], folds: usize, seq_len: usize) -> Vec<Vec<i64>> {
    let mut windows: BTreeMap<i64, usize> = BTreeMap::new();
    for p in prepared {
        *windows.entry(p.workout.user_id).or_default() += p.sequence.len().div_ceil(seq_len);
    }
    let mut people: Vec<(i64, usize)> = windows.into_iter().collect();
    people.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let folds = folds.min(people.len());
    let mut dealt: Vec<(usize, Vec<i64>)> = vec![(0, Vec::new()); folds];
    for (user, size) in people {
        let fold = (0..folds)
            .min_by_key(|&f| (dealt[f].0, f))
            .expect("at least one fold");
        dealt[fold].0 += size;
        dealt[fold].1.push(user);
    }
    dealt
        .into_iter()
        .map(|(_, mut people)| {
            people.sort_unstable();
            people
        })
        .collect()
}

/// The split (0 train, 1 val) of each training workout: per person, in order of start time,
/// the last `⌈share · n⌉` of `n ≥ 2` workouts validate. When that leaves no validation workout
/// at all, the latest workout of the person with the most validates.
fn train_or_val(prepared: &[&Prepared], share: f64) -> Vec<usize> {
    let mut by_person: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        by_person.entry(p.workout.user_id).or_default().push(i);
    }
    let mut split = vec![0; prepared.len()];
    for list in by_person.values_mut() {
        list.sort_by(|&a, &b| {
            let (a, b) = (
                prepared[a].workout.start_time(),
                prepared[b].workout.start_time(),
            );
            a.total_cmp(&b)
        });
        if list.len() >= 2 {
            let val = ((share * list.len() as f64).ceil() as usize).min(list.len() - 1);
            for &i in &list[list.len() - val..] {
                split[i] = 1;
            }
        }
    }
    if !split.contains(&1)
        && let Some(list) = by_person
            .values()
            .filter(|l| l.len() >= 2)
            .max_by_key(|l| l.len())
    {
        split[*list.last().expect("two workouts")] = 1;
    }
    split
}
