//! `hrcast crossval --calibrate`: personal calibration of a fold's model, two ways, each
//! fine-tuning a copy of the model as `hrcast calibrate` does ([`fine_tune`], in memory,
//! `--calibrate-epochs`) on a held-out person's earliest workouts:
//! - [`calibrate`]: for each person with two workouts or more, in order of start time, the
//!   first half (at least one) fine-tunes, and the rest test the fold's model, the calibrated
//!   one and the fold's model shifted by its mean error on the earlier workouts;
//! - [`calibrate_by_history`]: for each bucket of earlier workouts from 1 on ([`HISTORY_BUCKETS`],
//!   from `from` to `to`), the person's first `from` workouts fine-tune, and the workouts with
//!   `from` to `to` earlier ones test: the by-history table's fine-tuned column.

use super::folds::FoldData;
use super::report::{Calibrated, Tally};
use super::scores::{HISTORY_BUCKETS, Pairs, TrainedModel};
use crate::calibrate::fine_tune;
use crate::train::{Folders, TrainConfig};
use crate::workouts::Prepared;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// How the people of a fold are calibrated.
pub struct Calibration<'a> {
    /// The fold's folder: person `u`'s calibrated model goes to `calibration-<u>/` in it.
    pub fold_dir: &'a Path,
    /// Steps per window of the windowed scores.
    pub seq_len: usize,
    /// Epochs of fine-tuning.
    pub epochs: u32,
    /// The training of the fold's model, whose options fine-tuning keeps.
    pub train: &'a TrainConfig,
}

/// Calibrates the held-out people of `fold` on its model (`model`) as `how` says, into `tally`.
pub fn calibrate(
    model: &mut TrainedModel,
    fold: &FoldData,
    how: &Calibration,
    tally: &mut Tally,
) -> Result<()> {
    for (user, list) in by_person(fold) {
        if list.len() < 2 {
            continue;
        }
        let list: Vec<&Prepared> = list.into_iter().map(|(p, _)| p).collect();
        let (earlier, later) = list.split_at((list.len() / 2).max(1));
        calibrate_person(model, fold.number, user, (earlier, later), how, tally)
            .with_context(|| format!("fold {}: calibrating person {user}", fold.number))?;
    }
    Ok(())
}

/// Fine-tunes `model` on each held-out person's first workouts, once per bucket of earlier
/// workouts from 1 on, and adds its predictions of that bucket's workouts to `tally`.
pub fn calibrate_by_history(
    model: &TrainedModel,
    fold: &FoldData,
    how: &Calibration,
    tally: &mut Tally,
) -> Result<()> {
    for (user, list) in by_person(fold) {
        for (bucket, &(from, to, _)) in HISTORY_BUCKETS.iter().enumerate().skip(1) {
            let pick = |range: std::ops::RangeInclusive<usize>| -> Vec<&Prepared> {
                (list.iter().filter(|(_, n)| range.contains(n)))
                    .map(|&(p, _)| p)
                    .collect()
            };
            let (first, tested) = (pick(0..=from - 1), pick(from..=to));
            if tested.is_empty() {
                continue;
            }
            println!(
                "== fold {}: fine-tuning on person {user}'s first {from} workouts, testing the {} with {} earlier ==",
                fold.number,
                tested.len(),
                HISTORY_BUCKETS[bucket].2
            );
            let config = TrainConfig {
                epochs: how.epochs,
                folders: Folders::all_in(
                    &how.fold_dir
                        .join(format!("calibration-{user}-first-{from}")),
                ),
                ..how.train.clone()
            };
            let context = || format!("fold {}: fine-tuning person {user}", fold.number);
            let tuned_path =
                fine_tune(&model.path, &model.checkpoint, &first, &config).with_context(context)?;
            let mut tuned = TrainedModel::open(&tuned_path, how.train.device)?;
            let pairs = tuned.pairs(&tested, how.seq_len)?;
            if let Some(pairs) = pairs.get(&user) {
                tally.add_fine_tuned(bucket, &pairs.windows);
            }
        }
    }
    Ok(())
}

/// The held-out people of `fold`, each with their workouts in order of start time and the
/// number of earlier workouts of each.
fn by_person<'a>(fold: &FoldData<'a>) -> BTreeMap<i64, Vec<(&'a Prepared, usize)>> {
    let mut people: BTreeMap<i64, Vec<(&Prepared, usize)>> = BTreeMap::new();
    for (&p, &n) in fold.test.iter().zip(&fold.test_earlier) {
        people.entry(p.workout.user_id).or_default().push((p, n));
    }
    for list in people.values_mut() {
        list.sort_by(|a, b| {
            a.0.workout
                .start_time()
                .total_cmp(&b.0.workout.start_time())
        });
    }
    people
}

/// Calibrates person `user` of fold `fold` on their `earlier` workouts and scores the `later`
/// ones, into `tally`.
fn calibrate_person(
    model: &mut TrainedModel,
    fold: usize,
    user: i64,
    (earlier, later): (&[&Prepared], &[&Prepared]),
    how: &Calibration,
    tally: &mut Tally,
) -> Result<()> {
    println!(
        "== fold {fold}: calibrating on person {user}'s {} earlier workouts, testing on {} ==",
        earlier.len(),
        later.len()
    );
    let config = TrainConfig {
        epochs: how.epochs,
        folders: Folders::all_in(&how.fold_dir.join(format!("calibration-{user}"))),
        ..how.train.clone()
    };
    let tuned_path = fine_tune(&model.path, &model.checkpoint, earlier, &config)?;
    let mut tuned = TrainedModel::open(&tuned_path, how.train.device)?;
    let before = model.pairs(later, how.seq_len)?;
    let after = tuned.pairs(later, how.seq_len)?;
    // The fold's model shifted by its mean error on the earlier workouts.
    let earlier_pairs = model.pairs(earlier, how.seq_len)?;
    let mut offset = before.clone();
    if let (Some(e), Some(o)) = (earlier_pairs.get(&user), offset.get_mut(&user)) {
        o.shift(e);
    }
    let scores =
        |pairs: &BTreeMap<i64, Pairs>| pairs.get(&user).map(Pairs::scores).unwrap_or_default();
    let calibrated = Calibrated {
        user_id: user,
        fold,
        calibration_workouts: earlier.len(),
        test_workouts: later.len(),
        before: scores(&before),
        after: scores(&after),
        offset: scores(&offset),
    };
    println!(
        "person {user}: later workouts' MAE {:.2} bpm before calibration, {:.2} fine-tuned, {:.2} offset (whole workouts)",
        calibrated.before.whole.mae, calibrated.after.whole.mae, calibrated.offset.whole.mae
    );
    tally.add_calibrated(
        calibrated,
        [&before, &after, &offset].map(|pairs| pairs.get(&user)),
    );
    Ok(())
}
