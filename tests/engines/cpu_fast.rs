//! The hand-written CPU path (`engine::cpu::network`, the engine's) against the autodiff tape
//! (`engine::cpu::oracle`) on random shapes: LSTM and GRU, 1 to 3 layers, bidirectional,
//! dropout (the same masks), batch 1, length-1 sequences and T = 1, lengths below T with masks,
//! empty sequences, odd hidden sizes, input size 1, the unmasked loss, and batches split into
//! 1 to 4 blocks (threads). Predictions, loss and every gradient are compared.
//!
//! Tolerances, as `max |fast - tape| <= tol · max(‖tape‖∞, 1e-3)` per tensor:
//! - f64: 1e-10. Both compute the same sums in different orders (GEMMs over all steps against
//!   per-step products, column sums), so they differ by rounding only: a few hundred operations
//!   of 2^-53 ≈ 1.1e-16 each, far below 1e-10, which any wrong term would exceed by orders.
//! - f32: 1e-5. Rounding of 2^-24 ≈ 6e-8 per operation, plus the polynomial `exp` of the f32
//!   activations (within a few ulp of the library's): sums of a few hundred terms land within
//!   1e-6 of the scale; 1e-5 leaves a margin on top.

use crate::common;

use common::{assert_close, config, random_batch};
use hrcast::engine::cpu::recurrence::Activation;
use hrcast::engine::cpu::{self, DropoutStep, Workspace, oracle};
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One case: the fast path (fresh, and on a workspace of `threads` blocks used twice) against
/// the tape.
#[allow(clippy::too_many_arguments)]
fn compare<T: Activation>(
    config: &ModelConfig,
    lengths: &[usize],
    steps: usize,
    use_masking: bool,
    dropout: Option<DropoutStep>,
    threads: usize,
    seed: u64,
    tol: f64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let batch: Batch<T> = random_batch(&mut rng, config.input_size, steps, lengths);
    let params: Params<T> = Params::init(config, seed + 1);
    let (loss, grads, pred) =
        oracle::loss_and_gradients(config, &params, &batch, use_masking, dropout);
    let what = |s: &str| {
        format!(
            "{:?} {lengths:?} T={steps} threads={threads}: {s}",
            config.model
        )
    };
    let check = |got: (T, &[Vec<T>], &[T])| {
        assert_close(&[got.0], &[loss], tol, &what("loss"));
        assert_close(got.2, &pred, tol, &what("pred"));
        for ((g, want), name) in got.1.iter().zip(&grads).zip(&params.names) {
            assert_close(g, want, tol, &what(name));
        }
    };
    let (f_loss, f_grads, f_pred) =
        cpu::loss_and_gradients(config, &params, &batch, use_masking, dropout);
    check((f_loss, &f_grads, &f_pred));
    // A workspace of `threads` blocks, reused: the second pass must not see the first's state.
    let mut ws = Workspace::with_threads(threads);
    let mut f_pred = Vec::new();
    for _ in 0..2 {
        let f_loss = ws.train(config, &params, &batch, use_masking, dropout);
        ws.predictions_into(&mut f_pred);
        check((f_loss, ws.gradients(), &f_pred));
    }
    // Inference keeps no activations but predicts the same as the tape without dropout.
    let want = oracle::predict(config, &params, &batch);
    assert_close(
        &ws.predict(config, &params, &batch),
        &want,
        tol,
        &what("predict"),
    );
    assert_close(
        &cpu::predict(config, &params, &batch),
        &want,
        tol,
        &what("predict"),
    );
}

/// Every case in f64 and f32, for both cells.
#[allow(clippy::too_many_arguments)]
fn both(
    input: usize,
    hidden: usize,
    layers: usize,
    bidirectional: bool,
    p: f64,
    lengths: &[usize],
    steps: usize,
    use_masking: bool,
    threads: usize,
) {
    let dropout = Some(DropoutStep { seed: 5, step: 7 });
    for (k, cell) in [Cell::Lstm, Cell::Gru].into_iter().enumerate() {
        let c = config(cell, input, hidden, layers, bidirectional, p);
        let seed = 100 + k as u64 + 10 * steps as u64;
        compare::<f64>(
            &c,
            lengths,
            steps,
            use_masking,
            dropout,
            threads,
            seed,
            1e-10,
        );
        compare::<f32>(
            &c,
            lengths,
            steps,
            use_masking,
            dropout,
            threads,
            seed,
            1e-5,
        );
    }
}

#[test]
fn one_layer_batch_one_input_size_one() {
    both(1, 5, 1, false, 0.0, &[9], 9, true, 1);
}

#[test]
fn two_layers_lengths_below_t_with_masks() {
    both(4, 7, 2, false, 0.0, &[8, 3, 1, 6], 8, true, 2);
}

#[test]
fn three_layers_bidirectional_with_dropout() {
    both(3, 9, 3, true, 0.3, &[6, 1, 4, 2, 6], 6, true, 3);
}

#[test]
fn bidirectional_two_layers_unmasked_loss_with_dropout() {
    both(5, 6, 2, true, 0.5, &[5, 2, 5], 5, false, 2);
}

#[test]
fn length_one_sequences_of_one_step() {
    both(2, 3, 2, true, 0.2, &[1, 1, 1], 1, true, 2);
}

#[test]
fn more_blocks_than_a_batch_has_sequences_and_uneven_blocks() {
    both(3, 4, 2, true, 0.0, &[7, 2, 5, 1, 7, 3, 4], 7, true, 4);
    both(3, 4, 1, true, 0.0, &[4, 2], 4, true, 5);
}

#[test]
fn wider_hidden_layers_in_f32_and_f64() {
    both(
        11,
        33,
        2,
        true,
        0.1,
        &[12, 12, 9, 12, 5, 12, 12, 1, 12],
        12,
        true,
        2,
    );
}

/// With every step masked out the loss and every gradient are exactly 0 on both paths.
#[test]
fn all_steps_masked_gives_zero_loss_and_gradients() {
    for cell in [Cell::Lstm, Cell::Gru] {
        let c = config(cell, 2, 3, 2, true, 0.0);
        let mut rng = StdRng::seed_from_u64(3);
        let batch: Batch<f64> = random_batch(&mut rng, 2, 4, &[0, 0]);
        let params: Params<f64> = Params::init(&c, 4);
        for (loss, grads, _) in [
            cpu::loss_and_gradients(&c, &params, &batch, true, None),
            oracle::loss_and_gradients(&c, &params, &batch, true, None),
        ] {
            assert_eq!(loss, 0.0);
            assert!(grads.iter().flatten().all(|g| *g == 0.0));
        }
    }
}

/// A workspace follows the batch shape: a different shape reallocates, and going back gives the
/// first results again, bit for bit.
#[test]
fn workspace_reallocates_when_the_shape_changes() {
    let c = config(Cell::Lstm, 3, 5, 2, true, 0.0);
    let params: Params<f64> = Params::init(&c, 9);
    let mut rng = StdRng::seed_from_u64(10);
    let a: Batch<f64> = random_batch(&mut rng, 3, 6, &[6, 4, 2]);
    let b: Batch<f64> = random_batch(&mut rng, 3, 9, &[9, 8]);
    let mut ws = Workspace::with_threads(2);
    let first = ws.train(&c, &params, &a, true, None);
    let first_grads = ws.gradients().to_vec();
    let other = ws.train(&c, &params, &b, true, None);
    assert_eq!(
        other,
        Workspace::with_threads(2).train(&c, &params, &b, true, None)
    );
    assert_eq!(ws.train(&c, &params, &a, true, None), first);
    assert_eq!(ws.gradients(), &first_grads[..]);
}
