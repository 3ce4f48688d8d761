//! Which split (0 train, 1 val, 2 test) each workout goes to: by person, or by time within each
//! person (see the module documentation of `prepare`).

use super::options::{PrepareOptions, SplitBy};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

/// The split (0 train, 1 val, 2 test) of each group of chronologically ordered `sizes`
/// (windows): a group goes to the split whose cumulative share contains the middle of the
/// group's windows, so earlier groups train and later ones validate and test. With `every_share`
/// and at least as many groups as non-zero shares, the boundaries are moved so that every
/// non-zero share gets at least one group. A share of 0 never gets one.
fn assign_in_order(sizes: &[usize], split: [f64; 3], every_share: bool) -> Vec<usize> {
    let n = sizes.len();
    let total: usize = sizes.iter().sum();
    let mut before = 0usize;
    let (mut b1, mut b2) = (0, 0);
    for &size in sizes {
        let middle = (before as f64 + size as f64 / 2.0) / total.max(1) as f64;
        b1 += usize::from(middle < split[0]);
        b2 += usize::from(middle < split[0] + split[1]);
        before += size;
    }
    let [t, v, s] = split.map(|share| usize::from(share > 0.0));
    if every_share && n >= t + v + s {
        b1 = b1.clamp(t, n - v - s);
        b2 = b2.clamp(b1 + v, n - s);
    }
    if t == 0 {
        b1 = 0;
    }
    if v == 0 {
        b2 = b1;
    }
    if s == 0 {
        b2 = n;
    }
    (0..n)
        .map(|i| usize::from(i >= b1) + usize::from(i >= b2))
        .collect()
}

/// The split of each group of `sizes` (windows; people, in shuffled order): the largest groups
/// first, each to the split furthest below its share of the windows, so that groups of very
/// different sizes still fill the shares. Then, where a non-zero share got no group and there
/// are enough groups, it takes the smallest group of the split holding the most groups.
fn assign_by_size(sizes: &[usize], split: [f64; 3]) -> Vec<usize> {
    let total = sizes.iter().sum::<usize>() as f64;
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(sizes[g]));
    let mut filled = [0usize; 3];
    let mut out = vec![0; sizes.len()];
    for g in order {
        let deficit = |s: usize| split[s] * total - filled[s] as f64;
        let to = (0..3)
            .filter(|&s| split[s] > 0.0)
            .max_by(|&a, &b| deficit(a).total_cmp(&deficit(b)).then(b.cmp(&a)))
            .unwrap_or(0);
        out[g] = to;
        filled[to] += sizes[g];
    }
    for empty in (0..3).filter(|&s| split[s] > 0.0) {
        let count = |s: usize| out.iter().filter(|&&o| o == s).count();
        if count(empty) > 0 {
            continue;
        }
        let fullest = (0..3).max_by_key(|&s| count(s)).unwrap_or(0);
        if count(fullest) < 2 {
            continue;
        }
        let smallest = (0..sizes.len())
            .filter(|&g| out[g] == fullest)
            .min_by_key(|&g| sizes[g]);
        if let Some(g) = smallest {
            out[g] = empty;
        }
    }
    out
}

/// Gives every workout of each group the split of its group.
fn place(groups: &[Vec<usize>], splits: &[usize], out: &mut [usize]) {
    for (group, &split) in groups.iter().zip(splits) {
        for &w in group {
            out[w] = split;
        }
    }
}

/// What the split needs of a workout (or a piece of one).
#[derive(Debug, Clone, Copy)]
pub struct SplitItem {
    /// Its person.
    pub user_id: i64,
    /// Its recording (pieces of one share it).
    pub workout_id: i64,
    /// Seconds since the Unix epoch of its start.
    pub start: f64,
    /// Its steps on the grid.
    pub steps: usize,
}

/// The split of each workout, and a note where the split differs from what was asked.
pub fn split_workouts(
    prepared: &[SplitItem],
    options: &PrepareOptions,
) -> (Vec<usize>, Option<String>) {
    // The windows of --seq-len steps each workout is cut into (the last one padded), counting
    // any without valid heart rate.
    let windows: Vec<usize> = prepared
        .iter()
        .map(|p| p.steps.div_ceil(options.seq_len as usize))
        .collect();
    let mut by_user: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        by_user.entry(p.user_id).or_default().push(i);
    }
    let group_sizes = |groups: &[Vec<usize>]| -> Vec<usize> {
        groups
            .iter()
            .map(|g| g.iter().map(|&w| windows[w]).sum())
            .collect()
    };
    let shares = options.split.iter().filter(|s| **s > 0.0).count();
    let mut out = vec![0; prepared.len()];
    let mut note = None;
    let by_time = match options.split_by {
        SplitBy::Time => true,
        SplitBy::User if by_user.len() < shares => {
            note = Some(format!(
                "{} {} for {shares} non-zero shares: each person's workouts are split by time \
                 instead (earlier ones train, later ones validate and test)",
                by_user.len(),
                if by_user.len() == 1 {
                    "person"
                } else {
                    "people"
                }
            ));
            true
        }
        SplitBy::User => false,
    };
    if by_time {
        // Earlier workouts of each person train, later ones validate and test; pieces of one
        // workout (split at a clock jump) stay together. Where that leaves a non-zero share
        // empty, each person's boundaries move so that every share gets a workout.
        let people: Vec<Vec<Vec<usize>>> = by_user
            .into_values()
            .map(|workouts| {
                let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
                for &w in &workouts {
                    groups.entry(prepared[w].workout_id).or_default().push(w);
                }
                let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
                groups.sort_by(|a, b| {
                    let start = |g: &Vec<usize>| prepared[g[0]].start;
                    start(a).total_cmp(&start(b))
                });
                groups
            })
            .collect();
        for every_share in [false, true] {
            for groups in &people {
                let splits = assign_in_order(&group_sizes(groups), options.split, every_share);
                place(groups, &splits, &mut out);
            }
            let served = (0..3).all(|s| options.split[s] == 0.0 || out.contains(&s));
            if served {
                break;
            }
        }
    } else {
        let mut groups: Vec<Vec<usize>> = by_user.into_values().collect();
        groups.shuffle(&mut StdRng::seed_from_u64(options.seed));
        let splits = assign_by_size(&group_sizes(&groups), options.split);
        place(&groups, &splits, &mut out);
    }
    (out, note)
}

#[cfg(test)]
mod tests {
    use super::{assign_by_size, assign_in_order};

    fn count(out: &[usize], split: usize) -> usize {
        out.iter().filter(|&&s| s == split).count()
    }

    #[test]
    fn in_order_every_non_zero_share_gets_a_group_when_there_are_enough() {
        let shares = [0.8, 0.1, 0.1];
        assert_eq!(
            assign_in_order(&[5; 6], shares, false),
            vec![0, 0, 0, 0, 0, 2]
        );
        assert_eq!(
            assign_in_order(&[5; 6], shares, true),
            vec![0, 0, 0, 0, 1, 2]
        );
        assert_eq!(assign_in_order(&[1; 3], shares, true), vec![0, 1, 2]);
        assert_eq!(assign_in_order(&[1; 2], shares, true), vec![0, 0]);
        assert_eq!(count(&assign_in_order(&[1; 20], shares, true), 0), 16);
    }

    #[test]
    fn a_share_of_zero_gets_nothing() {
        for every in [false, true] {
            assert_eq!(assign_in_order(&[1; 4], [0.0, 0.0, 1.0], every), vec![2; 4]);
            assert_eq!(
                assign_in_order(&[1; 4], [0.5, 0.0, 0.5], every),
                vec![0, 0, 2, 2]
            );
            assert_eq!(assign_in_order(&[3], [1.0, 0.0, 0.0], every), vec![0]);
        }
        assert_eq!(assign_by_size(&[4, 1, 1], [0.0, 0.0, 1.0]), vec![2; 3]);
        assert_eq!(assign_by_size(&[], [0.8, 0.1, 0.1]), Vec::<usize>::new());
    }

    #[test]
    fn by_size_fills_the_shares_with_groups_of_very_different_sizes() {
        // One big person among small ones trains; the small ones validate and test.
        let out = assign_by_size(&[10, 184, 4, 3, 2, 3, 2], [0.8, 0.1, 0.1]);
        assert_eq!(out[1], 0);
        assert!(count(&out, 1) > 0 && count(&out, 2) > 0, "{out:?}");
        // Equal people: 16 / 2 / 2 of 20.
        let out = assign_by_size(&[5; 20], [0.8, 0.1, 0.1]);
        assert_eq!([count(&out, 0), count(&out, 1), count(&out, 2)], [16, 2, 2]);
        // Four equal people for 0.8 / 0.1 / 0.1: the test share still gets one.
        let out = assign_by_size(&[50; 4], [0.8, 0.1, 0.1]);
        assert_eq!([count(&out, 0), count(&out, 1), count(&out, 2)], [2, 1, 1]);
    }
}
