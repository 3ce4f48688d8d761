//! The CPU engine against PyTorch (tests/fixtures/pytorch, made by PyTorch 2.15 on CPU; see the
//! README there): both paths, the hand-written one the engine runs (`cpu::network`) and the
//! autodiff tape it is checked against (`cpu::oracle`), on every fixture: predictions, the top
//! layer's output, the final states, the loss, the gradients, clipping and two Adam steps.
//!
//! Tolerances. The f32 files are compared with an error bound relative to the largest magnitude
//! in each tensor: `max |ours - torch| <= 1e-6 · max(‖torch‖∞, 1e-3)`. Both sides round every
//! operation to f32 (2^-24 ≈ 6e-8 relative), and a gradient sums a few hundred such products
//! in a different order than PyTorch does, so errors of a few ulps of the tensor's scale are
//! expected (the largest measured is 2.9e-7, in a gradient of weight_hh_l0); 1e-6 is about 17 ulps. The f64 files are held to 1e-12 of the tensor's scale (the
//! fixtures' README measured 1e-16 for NumPy's f64 recomputation; ours is 7e-16 at most).

use hrcast::engine::cpu::recurrence::Activation;
use hrcast::engine::cpu::tape::Tape;
use hrcast::engine::cpu::{Workspace, oracle};
use hrcast::engine::layout::to_batch_first;
use hrcast::engine::optim::{AdamConfig, AdamState, clip_grad_norm};
use hrcast::model::{Batch, Cell, ModelConfig, Params};

use crate::common;
use common::{Fixture, assert_close};

/// What one training pass gives: the loss, the gradients, and the forward pass's predictions
/// (`[B, T]`), top-layer output (`[B, T, H]`) and final states (h_n, c_n).
struct Pass<T> {
    loss: T,
    grads: Vec<Vec<T>>,
    pred: Vec<T>,
    rnn_out: Vec<T>,
    h_n: Vec<T>,
    c_n: Vec<T>,
}

/// Which path runs the model.
#[derive(Clone, Copy)]
enum Path {
    /// The hand-written forward and backward passes (`cpu::network`, the engine's).
    Fast,
    /// The autodiff tape (`cpu::oracle`).
    Tape,
}

/// One training pass on `path`; the fast one reuses `ws` from pass to pass, as the engine does.
fn pass<T: Activation>(
    path: Path,
    ws: &mut Workspace<T>,
    config: &ModelConfig,
    params: &Params<T>,
    batch: &Batch<T>,
) -> Pass<T> {
    match path {
        Path::Fast => {
            let loss = ws.train(config, params, batch, true, None);
            let mut pred = Vec::new();
            ws.predictions_into(&mut pred);
            let (h_n, c_n) = ws.final_states();
            Pass {
                loss,
                grads: ws.gradients().to_vec(),
                pred,
                rnn_out: ws.rnn_out(),
                h_n,
                c_n,
            }
        }
        Path::Tape => {
            let (b, t, h) = (batch.batch, batch.steps, config.hidden_size);
            let mut tape = Tape::new();
            let graph = oracle::forward(&mut tape, config, params, batch, true, None);
            let (_, grads, _) = oracle::loss_and_gradients(config, params, batch, true, None);
            let states = |vars: &[_]| -> Vec<T> {
                vars.iter().flat_map(|v| tape.value(*v).to_vec()).collect()
            };
            Pass {
                loss: tape.value(graph.loss)[0],
                grads,
                pred: to_batch_first(tape.value(graph.pred), b, t, 1),
                rnn_out: to_batch_first(tape.value(graph.rnn_out), b, t, h),
                h_n: states(&graph.h_n),
                c_n: states(&graph.c_n),
            }
        }
    }
}

fn check_fixture<T: Activation>(name: &str, tol: f64, path: Path) {
    let fx = Fixture::open(name);
    let config = fx.config();
    let mut params: Params<T> = fx.params(&config, "");
    let batch: Batch<T> = fx.batch();
    let mut ws = Workspace::default();

    // Gradients, clipping, and two Adam steps on the same batch; the forward pass's outputs at
    // the first.
    let adam = AdamConfig::new(5e-4, 1e-4);
    let mut state = AdamState::new(params.values.iter().map(Vec::len));
    for step in 1..=2 {
        let Pass {
            loss,
            mut grads,
            pred,
            rnn_out,
            h_n,
            c_n,
        } = pass(path, &mut ws, &config, &params, &batch);
        let (loss_key, norm_key) = if step == 1 {
            ("loss", "grad_total_norm")
        } else {
            ("step2_loss", "step2_grad_total_norm")
        };
        assert_close(&[loss], &fx.tensor::<T>(loss_key), tol, loss_key);
        if step == 1 {
            assert_close(&pred, &fx.tensor::<T>("pred"), tol, "pred");
            assert_close(&rnn_out, &fx.tensor::<T>("rnn_out"), tol, "rnn_out");
            assert_close(&h_n, &fx.tensor::<T>("h_n"), tol, "h_n");
            if config.model == Cell::Lstm {
                assert_close(&c_n, &fx.tensor::<T>("c_n"), tol, "c_n");
            }
            if let Path::Fast = path {
                // Inference (no activations kept) predicts the same.
                let inference = ws.predict(&config, &params, &batch);
                assert_close(&inference, &fx.tensor::<T>("pred"), tol, "predict");
            }
            for (name, g) in params.names.iter().zip(&grads) {
                assert_close(
                    g,
                    &fx.tensor::<T>(&format!("grad.{name}")),
                    tol,
                    &format!("grad.{name}"),
                );
            }
        }
        let norm = clip_grad_norm(&mut grads, 1.0);
        assert_close(&[norm], &fx.tensor::<T>(norm_key), tol, norm_key);
        if step == 1 {
            for (name, g) in params.names.iter().zip(&grads) {
                assert_close(
                    g,
                    &fx.tensor::<T>(&format!("clipped_grad.{name}")),
                    tol,
                    &format!("clipped_grad.{name}"),
                );
            }
        }
        state.step(&adam, &mut params.values, &grads);
        let want: Params<T> = fx.params(&config, &format!("step{step}."));
        for (i, name) in params.names.iter().enumerate() {
            assert_close(
                &params.values[i],
                &want.values[i],
                tol,
                &format!("step{step}.{name}"),
            );
        }
    }
}

#[test]
fn lstm_f32_fast_matches_pytorch() {
    check_fixture::<f32>("fixture_small", 1e-6, Path::Fast);
}

#[test]
fn lstm_f32_tape_matches_pytorch() {
    check_fixture::<f32>("fixture_small", 1e-6, Path::Tape);
}

#[test]
fn gru_f32_fast_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru", 1e-6, Path::Fast);
}

#[test]
fn gru_f32_tape_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru", 1e-6, Path::Tape);
}

#[test]
fn lstm_f32_with_active_clipping_fast_matches_pytorch() {
    check_fixture::<f32>("fixture_small_clipactive", 1e-6, Path::Fast);
}

#[test]
fn lstm_f32_with_active_clipping_tape_matches_pytorch() {
    check_fixture::<f32>("fixture_small_clipactive", 1e-6, Path::Tape);
}

#[test]
fn gru_f32_with_active_clipping_fast_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru_clipactive", 1e-6, Path::Fast);
}

#[test]
fn gru_f32_with_active_clipping_tape_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru_clipactive", 1e-6, Path::Tape);
}

#[test]
fn lstm_f64_fast_matches_pytorch() {
    check_fixture::<f64>("fixture_small_f64", 1e-12, Path::Fast);
}

#[test]
fn lstm_f64_tape_matches_pytorch() {
    check_fixture::<f64>("fixture_small_f64", 1e-12, Path::Tape);
}

#[test]
fn gru_f64_fast_matches_pytorch() {
    check_fixture::<f64>("fixture_small_gru_f64", 1e-12, Path::Fast);
}

#[test]
fn gru_f64_tape_matches_pytorch() {
    check_fixture::<f64>("fixture_small_gru_f64", 1e-12, Path::Tape);
}
