//! The CPU engine against PyTorch (tests/fixtures/pytorch, made by PyTorch 2.15 on CPU; see the
//! README there) and against central finite differences of itself.
//!
//! Tolerances. The f32 files are compared with an error bound relative to the largest magnitude
//! in each tensor: `max |ours - torch| <= 1e-6 · max(‖torch‖∞, 1e-3)`. Both sides round every
//! operation to f32 (2^-24 ≈ 6e-8 relative), and a gradient sums a few hundred such products
//! in a different order than PyTorch does, so errors of a few ulps of the tensor's scale are
//! expected (the largest measured is 2.9e-7, in a gradient of weight_hh_l0); 1e-6 is about 17 ulps. The f64 files are held to 1e-12 of the tensor's scale (the
//! fixtures' README measured 1e-16 for NumPy's f64 recomputation; ours is 7e-16 at most).

use hrcast::engine::cpu;
use hrcast::engine::cpu::tape::Tape;
use hrcast::engine::layout::to_batch_first;
use hrcast::engine::optim::{AdamConfig, AdamState, clip_grad_norm};
use hrcast::engine::scalar::Scalar;
use hrcast::model::{Batch, Cell, Params};

mod common;
use common::Fixture;

/// `max |got - want| <= tol · max(‖want‖∞, 1e-3)`, with a message naming the tensor.
fn assert_close<T: Scalar>(got: &[T], want: &[T], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sizes differ");
    let scale = want
        .iter()
        .fold(1e-3f64, |m, v| m.max(v.to_f64().unwrap().abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((*a - *b).to_f64().unwrap().abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err:e} exceeds {tol:e} x scale {scale:e}"
    );
}

fn check_fixture<T: Scalar>(name: &str, tol: f64) {
    let fx = Fixture::open(name);
    let config = fx.config();
    let mut params: Params<T> = fx.params(&config, "");
    let batch: Batch<T> = fx.batch();
    let (b, t, h) = (batch.batch, batch.steps, config.hidden_size);

    // Forward: predictions, top-layer outputs, final states, loss.
    let mut tape = Tape::new();
    let graph = cpu::forward(&mut tape, &config, &params, &batch, true, None);
    assert_close(
        &to_batch_first(tape.value(graph.pred), b, t, 1),
        &fx.tensor::<T>("pred"),
        tol,
        "pred",
    );
    assert_close(
        &to_batch_first(tape.value(graph.rnn_out), b, t, h),
        &fx.tensor::<T>("rnn_out"),
        tol,
        "rnn_out",
    );
    let h_n: Vec<T> = graph
        .h_n
        .iter()
        .flat_map(|v| tape.value(*v).to_vec())
        .collect();
    assert_close(&h_n, &fx.tensor::<T>("h_n"), tol, "h_n");
    if config.model == Cell::Lstm {
        let c_n: Vec<T> = graph
            .c_n
            .iter()
            .flat_map(|v| tape.value(*v).to_vec())
            .collect();
        assert_close(&c_n, &fx.tensor::<T>("c_n"), tol, "c_n");
    }
    assert_close(
        &[tape.value(graph.loss)[0]],
        &fx.tensor::<T>("loss"),
        tol,
        "loss",
    );

    // Gradients, clipping, and two Adam steps on the same batch.
    let adam = AdamConfig::new(5e-4, 1e-4);
    let mut state = AdamState::new(params.values.iter().map(Vec::len));
    for step in 1..=2 {
        let (loss, mut grads, _) = cpu::loss_and_gradients(&config, &params, &batch, true, None);
        let (loss_key, norm_key) = if step == 1 {
            ("loss", "grad_total_norm")
        } else {
            ("step2_loss", "step2_grad_total_norm")
        };
        assert_close(&[loss], &fx.tensor::<T>(loss_key), tol, loss_key);
        if step == 1 {
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
fn lstm_f32_matches_pytorch() {
    check_fixture::<f32>("fixture_small", 1e-6);
}

#[test]
fn gru_f32_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru", 1e-6);
}

#[test]
fn lstm_f32_with_active_clipping_matches_pytorch() {
    check_fixture::<f32>("fixture_small_clipactive", 1e-6);
}

#[test]
fn gru_f32_with_active_clipping_matches_pytorch() {
    check_fixture::<f32>("fixture_small_gru_clipactive", 1e-6);
}

#[test]
fn lstm_f64_matches_pytorch() {
    check_fixture::<f64>("fixture_small_f64", 1e-12);
}

#[test]
fn gru_f64_matches_pytorch() {
    check_fixture::<f64>("fixture_small_gru_f64", 1e-12);
}
