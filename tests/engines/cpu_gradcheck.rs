//! The CPU engine's gradients against central finite differences in f64, on random shapes:
//! both cells, 1 to 3 layers, bidirectional, batch 1, masks with length-1 sequences, dropout,
//! and the unmasked loss. Plus the semantics of the reverse direction and of dropout. Every
//! check runs on both paths: the hand-written one (`cpu::loss_and_gradients`, the engine's) and
//! the autodiff tape (`cpu::oracle`).
//!
//! Tolerance: with step ε = 1e-6 the central difference has truncation error O(ε²) ≈ 1e-12 and
//! rounding error O(1e-16 / ε) ≈ 1e-10 relative to the loss, so autodiff and finite differences
//! must agree to `1e-7 + 1e-5 |g|`.

use crate::common;

use common::{config, random_batch};
use hrcast::engine::cpu::{self, DropoutStep, oracle};
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A path's loss, gradients and predictions.
type LossFn = fn(
    &ModelConfig,
    &Params<f64>,
    &Batch<f64>,
    bool,
    Option<DropoutStep>,
) -> (f64, Vec<Vec<f64>>, Vec<f64>);

/// A path's predictions.
type PredictFn = fn(&ModelConfig, &Params<f64>, &Batch<f64>) -> Vec<f64>;

/// The hand-written path and the tape.
const PATHS: [(&str, LossFn, PredictFn); 2] = [
    ("fast", cpu::loss_and_gradients, cpu::predict),
    ("tape", oracle::loss_and_gradients, oracle::predict),
];

fn gradcheck(
    config: &ModelConfig,
    batch: &Batch<f64>,
    use_masking: bool,
    dropout: Option<DropoutStep>,
    seed: u64,
) {
    for (path, loss_fn, _) in PATHS {
        gradcheck_path(path, loss_fn, config, batch, use_masking, dropout, seed);
    }
}

fn gradcheck_path(
    path: &str,
    loss_and_gradients: LossFn,
    config: &ModelConfig,
    batch: &Batch<f64>,
    use_masking: bool,
    dropout: Option<DropoutStep>,
    seed: u64,
) {
    let mut params: Params<f64> = Params::init(config, seed);
    let (_, grads, _) = loss_and_gradients(config, &params, batch, use_masking, dropout);
    let mut rng = StdRng::seed_from_u64(seed + 1);
    let eps = 1e-6;
    for (i, grad) in grads.iter().enumerate() {
        let n = params.values[i].len();
        // Every entry of small tensors, a random sample of large ones.
        let picks: Vec<usize> = if n <= 12 {
            (0..n).collect()
        } else {
            (0..12).map(|_| rng.random_range(0..n)).collect()
        };
        for j in picks {
            let original = params.values[i][j];
            params.values[i][j] = original + eps;
            let (plus, _, _) = loss_and_gradients(config, &params, batch, use_masking, dropout);
            params.values[i][j] = original - eps;
            let (minus, _, _) = loss_and_gradients(config, &params, batch, use_masking, dropout);
            params.values[i][j] = original;
            let fd = (plus - minus) / (2.0 * eps);
            let g = grad[j];
            assert!(
                (fd - g).abs() <= 1e-7 + 1e-5 * g.abs(),
                "{path} {:?}: d loss / d {}[{j}]: gradient {g:e}, finite difference {fd:e}",
                config,
                params.names[i]
            );
        }
    }
}

#[test]
fn lstm_one_layer_batch_one() {
    let mut rng = StdRng::seed_from_u64(1);
    let c = config(Cell::Lstm, 3, 5, 1, false, 0.0);
    gradcheck(&c, &random_batch(&mut rng, 3, 9, &[9]), true, None, 10);
}

#[test]
fn gru_one_layer_batch_one() {
    let mut rng = StdRng::seed_from_u64(2);
    let c = config(Cell::Gru, 4, 3, 1, false, 0.0);
    gradcheck(&c, &random_batch(&mut rng, 4, 8, &[8]), true, None, 11);
}

#[test]
fn lstm_three_layers_masked_with_length_one_sequences() {
    let mut rng = StdRng::seed_from_u64(3);
    let c = config(Cell::Lstm, 5, 7, 3, false, 0.0);
    gradcheck(
        &c,
        &random_batch(&mut rng, 5, 6, &[6, 1, 4, 1]),
        true,
        None,
        12,
    );
}

#[test]
fn gru_three_layers_masked_with_length_one_sequences() {
    let mut rng = StdRng::seed_from_u64(4);
    let c = config(Cell::Gru, 5, 6, 3, false, 0.0);
    gradcheck(
        &c,
        &random_batch(&mut rng, 5, 7, &[1, 7, 3]),
        true,
        None,
        13,
    );
}

#[test]
fn bidirectional_lstm_two_layers_with_dropout() {
    let mut rng = StdRng::seed_from_u64(5);
    let c = config(Cell::Lstm, 4, 5, 2, true, 0.3);
    let dropout = Some(DropoutStep { seed: 9, step: 3 });
    gradcheck(
        &c,
        &random_batch(&mut rng, 4, 6, &[6, 2, 1]),
        true,
        dropout,
        14,
    );
}

#[test]
fn bidirectional_gru_two_layers_unmasked_loss() {
    let mut rng = StdRng::seed_from_u64(6);
    let c = config(Cell::Gru, 3, 4, 2, true, 0.0);
    gradcheck(&c, &random_batch(&mut rng, 3, 5, &[5, 3]), false, None, 15);
}

#[test]
fn bidirectional_gru_three_layers_batch_one() {
    let mut rng = StdRng::seed_from_u64(7);
    let c = config(Cell::Gru, 2, 3, 3, true, 0.0);
    gradcheck(&c, &random_batch(&mut rng, 2, 6, &[4]), true, None, 16);
}

/// The reverse direction starts at each sequence's own last valid step: on the valid prefix, a
/// padded sequence predicts exactly what the same sequence alone, cut to its length, predicts,
/// whatever its padding holds.
#[test]
fn reverse_direction_starts_at_each_sequences_last_valid_step() {
    for ((path, _, predict), cell) in PATHS
        .into_iter()
        .flat_map(|p| [(p, Cell::Lstm), (p, Cell::Gru)])
    {
        let mut rng = StdRng::seed_from_u64(8);
        let c = config(cell, 3, 4, 2, true, 0.0);
        let params: Params<f64> = Params::init(&c, 17);
        let (steps, lengths) = (7, [7usize, 3, 1]);
        let batch = random_batch(&mut rng, 3, steps, &lengths);
        let pred = predict(&c, &params, &batch);
        for (seq, &len) in lengths.iter().enumerate() {
            let alone = Batch {
                batch: 1,
                steps: len,
                inputs: 3,
                x: batch.x[seq * steps * 3..(seq * steps + len) * 3].to_vec(),
                y: batch.y[seq * steps..seq * steps + len].to_vec(),
                mask: vec![1.0; len],
                lengths: vec![len],
            };
            let want = predict(&c, &params, &alone);
            for t in 0..len {
                let got = pred[seq * steps + t];
                assert!(
                    (got - want[t]).abs() < 1e-12,
                    "{path} {cell:?} seq {seq} step {t}: {got} vs {}",
                    want[t]
                );
            }
        }
    }
}

/// Dropout is inverted, differs between steps, is off in evaluation, and keeps 1 - p of units.
#[test]
fn dropout_changes_training_but_not_prediction() {
    for (_, loss_and_gradients, _) in PATHS {
        dropout_changes_training_on(loss_and_gradients);
    }
}

fn dropout_changes_training_on(loss_and_gradients: LossFn) {
    let mut rng = StdRng::seed_from_u64(9);
    let c = config(Cell::Lstm, 3, 16, 2, false, 0.5);
    let params: Params<f64> = Params::init(&c, 18);
    let batch = random_batch(&mut rng, 3, 10, &[10, 10]);
    let step = |s| {
        loss_and_gradients(
            &c,
            &params,
            &batch,
            true,
            Some(DropoutStep { seed: 1, step: s }),
        )
        .0
    };
    let (none, _, _) = loss_and_gradients(&c, &params, &batch, true, None);
    assert_ne!(step(1), step(2));
    assert_eq!(step(1), step(1));
    assert_ne!(step(1), none);
    let no_dropout = config(Cell::Lstm, 3, 16, 2, false, 0.0);
    let (off, _, _) = loss_and_gradients(
        &no_dropout,
        &params,
        &batch,
        true,
        Some(DropoutStep { seed: 1, step: 1 }),
    );
    assert_eq!(off, none);
}
