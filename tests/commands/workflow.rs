//! The training and evaluation workflow end to end: a PyTorch round trip through `evaluate` and
//! `predict`, training with checkpoints, logs and curves, exact `--resume` (also after Ctrl-C),
//! fine-tuning with `--init`, and the bad input each command must refuse.

use crate::common;

use common::WORKOUTS;

use common::Fixture;

use hrcast::checkpoint::{Checkpoint, engine_for};
use hrcast::dataset::Split;
use hrcast::engine::Device;
use hrcast::model::Normalization;
use hrcast::predict::predict_sequence;
use hrcast::score::predict_split;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{fails_with, hrcast_in as hrcast, succeeded as ok};

/// A checkpoint holding a fixture's PyTorch weights, with the identity normalization (mean 0,
/// std 1), and a data file holding the fixture's batch.
fn fixture_checkpoint_and_data(name: &str, dir: &Path) -> (Fixture, PathBuf, PathBuf) {
    let fx = Fixture::open(name);
    let config = fx.config();
    let params = fx.params::<f32>(&config, "");
    let ck = Checkpoint {
        normalization: Normalization {
            feature_mean: vec![0.0; config.input_size],
            feature_std: vec![1.0; config.input_size],
            hr_mean: 0.0,
            hr_std: 1.0,
            hr_level: Default::default(),
        },
        config,
        params,
        optimizer: None,
        epoch: 0,
        step: 0,
        val_loss: f64::NAN,
        val_mae: f64::NAN,
        lr: 5e-4,
        seed: 0,
        interval_s: 5.0,
        seq_len: 500,
        train_state: None,
        trained_on: None,
    };
    let ck_path = dir.join(format!("{name}.safetensors"));
    ck.save(&ck_path).unwrap();
    let batch = fx.batch::<f32>();
    let (b, t) = (batch.batch, batch.steps);
    let split = Split {
        n: b,
        seq_len: t,
        features: batch.x.clone(),
        heart_rate: batch.y.clone(),
        mask: batch.mask.clone(),
        length: batch.lengths.iter().map(|&l| l as i64).collect(),
        user_id: vec![1, 2, 2],
        workout_id: vec![10, 20, 30],
        person: vec![f32::NAN; 2 * b],
        interval_s: 5.0,
        source: name.into(),
        set_id: String::new(),
        names: Default::default(),
    };
    let data_path = dir.join(format!("{name}_data.safetensors"));
    std::fs::write(&data_path, split.to_bytes().unwrap()).unwrap();
    (fx, ck_path, data_path)
}

#[test]
fn pytorch_weights_reproduce_pytorch_predictions_through_evaluate_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["fixture_small", "fixture_small_gru"] {
        let (fx, ck_path, data_path) = fixture_checkpoint_and_data(name, dir.path());
        let want: Vec<f32> = fx.tensor("pred");
        let ck = Checkpoint::load(&ck_path).unwrap();
        let split = Split::read(&data_path).unwrap();
        let mut engine = engine_for(&ck, Device::Cpu).unwrap();

        // The evaluate path: batches of data-file windows, whose padding is zeroed, so the
        // predictions agree on the valid steps (PyTorch ran over the fixture's padding values).
        let got = predict_split(engine.as_mut(), &ck, &split).unwrap();
        for ((g, w), m) in got.iter().zip(&want).zip(&split.mask) {
            if *m > 0.0 {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{name} evaluate path: {g} vs {w}"
                );
            }
        }
        // The predict path: one whole sequence at a time (the model is causal, so a sequence
        // alone predicts what it predicts inside the batch).
        for seq in 0..split.n {
            let raw = &split.features[seq * 7 * 11..(seq + 1) * 7 * 11];
            let unknown = [f32::NAN; hrcast::data::NUM_PERSON_INPUTS];
            let got = predict_sequence(engine.as_mut(), &ck, raw, &unknown).unwrap();
            for (g, w) in got.iter().zip(&want[seq * 7..(seq + 1) * 7]) {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{name} predict path: {g} vs {w}"
                );
            }
        }

        // The command: metrics.json's MAE is the fixture's masked MAE.
        let out_dir = dir.path().join(format!("{name}_results"));
        ok(&hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                ck_path.to_str().unwrap(),
                "--data",
                data_path.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
                "--device",
                "cpu",
            ],
        ));
        let y: Vec<f32> = fx.tensor("y");
        let mask: Vec<f32> = fx.tensor("mask");
        let (mut abs, mut n) = (0.0f64, 0.0f64);
        for i in 0..y.len() {
            if mask[i] > 0.0 {
                abs += f64::from((want[i] - y[i]).abs());
                n += 1.0;
            }
        }
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("metrics.json")).unwrap()).unwrap();
        let mae = metrics["mae"].as_f64().unwrap();
        assert!(
            (mae - abs / n).abs() < 1e-5,
            "{name}: mae {mae} vs {}",
            abs / n
        );
        assert_eq!(metrics["n_steps"].as_u64(), Some(14));
        assert_eq!(metrics["n_workouts"].as_u64(), Some(3));
        let csv = std::fs::read_to_string(out_dir.join("predictions.csv")).unwrap();
        assert_eq!(csv.lines().count(), 15, "a header and the 14 valid steps");
        let per_user = std::fs::read_to_string(out_dir.join("per_user.csv")).unwrap();
        assert_eq!(
            per_user.lines().count(),
            3,
            "a header and users 1 and 2: {per_user}"
        );
        let per_step = std::fs::read_to_string(out_dir.join("per_timestep_mae.csv")).unwrap();
        assert_eq!(
            per_step.lines().count(),
            8,
            "a header and steps 0 to 6: {per_step}"
        );
        for png in [
            "sample_predictions.png",
            "scatter.png",
            "error_by_timestep.png",
        ] {
            assert!(
                std::fs::read(out_dir.join(png))
                    .unwrap()
                    .starts_with(b"\x89PNG"),
                "{png}"
            );
        }
    }
}

/// Small processed data: 6 synthetic users with 3 workouts each, windows of 60 steps.
fn small_data(dir: &Path) -> PathBuf {
    ok(&hrcast(
        dir,
        &[
            "synth",
            "--out",
            "raw",
            "--users",
            "6",
            "--workouts-per-user",
            "3",
            "--seed",
            "5",
        ],
    ));
    ok(&hrcast(
        dir,
        &[
            "prepare",
            "--input",
            "raw",
            "--out",
            "processed",
            "--seq-len",
            "60",
            "--split",
            "0.6,0.2,0.2",
        ],
    ));
    dir.join("processed")
}

const SMALL_MODEL: [&str; 8] = [
    "--hidden-size",
    "6",
    "--num-layers",
    "2",
    "--batch-size",
    "8",
    "--device",
    "cpu",
];

fn train_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--data", "processed"];
    args.extend_from_slice(&SMALL_MODEL);
    args.extend_from_slice(extra);
    args
}

/// Without `--data`, evaluate scores the test split of the data the checkpoint was trained on
/// (it records the folder and set), and refuses, saying what to pass, once that folder holds
/// another set; the printed table names the data and the checkpoint.
#[test]
fn evaluate_scores_the_data_the_checkpoint_was_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    ok(&hrcast(
        dir.path(),
        &train_args(&["--epochs", "1", "--checkpoints", "a"]),
    ));
    let ck = Checkpoint::load(&dir.path().join("a/best_model.safetensors")).unwrap();
    let trained_on = ck.trained_on.unwrap();
    let processed = std::path::absolute(dir.path().join("processed")).unwrap();
    assert_eq!(trained_on.folder, processed.display().to_string());
    let evaluate = |out: &str| {
        hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                "a/best_model.safetensors",
                "--device",
                "cpu",
                "--out",
                out,
            ],
        )
    };
    let out = ok(&evaluate("e1"));
    let test = processed.join("test.safetensors");
    assert!(
        out.contains("scoring the test split of the data the model was trained on"),
        "{out}"
    );
    assert!(
        out.contains(&format!("| data | {} |", test.display())),
        "{out}"
    );
    assert!(
        out.contains("| checkpoint | a/best_model.safetensors |"),
        "{out}"
    );
    // The same folder prepared again, with other shares: another set.
    let prepare = [
        "prepare",
        "--input",
        "raw",
        "--out",
        "processed",
        "--seq-len",
        "60",
        "--split",
        "0.5,0.25,0.25",
    ];
    ok(&hrcast(dir.path(), &prepare));
    fails_with(
        &evaluate("e2"),
        &["has since been prepared again", "--data"],
    );
    assert!(!dir.path().join("e2").exists(), "nothing written");
    std::fs::remove_file(&test).unwrap();
    fails_with(
        &evaluate("e3"),
        &["holds no test.safetensors now", "--data"],
    );
}

/// `hrcast ablate`: one model per feature set on the same splits, each evaluated on the test
/// split into its own folder, and the table says which data.
#[test]
fn ablate_trains_and_scores_one_model_per_feature_set() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let args = [
        "ablate",
        "--data",
        "processed",
        "--sets",
        "baseline,bounded",
        "--epochs",
        "1",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--device",
        "cpu",
        "--results",
        "r",
        "--checkpoints",
        "c",
    ];
    let out = ok(&hrcast(dir.path(), &args));
    let md = std::fs::read_to_string(dir.path().join("r/ablation.md")).unwrap();
    assert!(out.contains(&md), "the table is printed: {out}");
    assert!(
        md.contains("trained on") && md.contains("test.safetensors"),
        "{md}"
    );
    for set in ["baseline", "bounded"] {
        assert!(md.contains(&format!("| {set} |")), "{md}");
        let metrics = dir.path().join(format!("r/ablation/{set}/metrics.json"));
        assert!(metrics.exists(), "{}", metrics.display());
    }
    let csv = std::fs::read_to_string(dir.path().join("r/ablation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

#[test]
fn training_writes_checkpoints_logs_and_curves_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let out = ok(&hrcast(
        dir.path(),
        &train_args(&["--epochs", "4", "--checkpoints", "a", "--results", "ra"]),
    ));
    assert_eq!(out.matches("train loss").count(), 4, "{out}");
    let full = Checkpoint::load(&dir.path().join("a/last.safetensors")).unwrap();
    assert_eq!(full.epoch, 4);
    let best = Checkpoint::load(&dir.path().join("a/best_model.safetensors")).unwrap();
    assert!(best.val_loss <= full.val_loss && best.val_loss.is_finite());
    assert!(full.optimizer.as_ref().unwrap().step > 0);
    assert_eq!(full.params.names[0], "lstm.weight_ih_l0");
    assert!(
        std::fs::read(dir.path().join("ra/training_curves.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(logs.iter().any(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("training_")
    }));

    // Two epochs, then --resume to four: the same weights and optimizer state, bit for bit.
    ok(&hrcast(
        dir.path(),
        &train_args(&["--epochs", "2", "--checkpoints", "b", "--results", "rb"]),
    ));
    let out = ok(&hrcast(
        dir.path(),
        &train_args(&[
            "--epochs",
            "4",
            "--checkpoints",
            "b",
            "--results",
            "rb",
            "--resume",
            "b/last.safetensors",
        ]),
    ));
    assert_eq!(out.matches("train loss").count(), 2, "{out}");
    let resumed = Checkpoint::load(&dir.path().join("b/last.safetensors")).unwrap();
    assert_eq!(resumed.epoch, 4);
    assert_eq!(resumed.params, full.params, "resumed weights differ");
    assert_eq!(
        resumed.optimizer, full.optimizer,
        "resumed optimizer differs"
    );
    assert_eq!(resumed.val_loss, full.val_loss);

    // Fine-tuning: --init takes the weights and normalization, a contradicting flag is refused.
    let out = ok(&hrcast(
        dir.path(),
        &train_args(&[
            "--epochs",
            "1",
            "--checkpoints",
            "c",
            "--results",
            "rc",
            "--init",
            "a/best_model.safetensors",
            "--lr",
            "1e-4",
        ]),
    ));
    assert!(
        out.contains("initialised from a/best_model.safetensors"),
        "{out}"
    );
    let tuned = Checkpoint::load(&dir.path().join("c/last.safetensors")).unwrap();
    assert_eq!(tuned.normalization, best.normalization);
    assert_eq!(
        tuned.optimizer.unwrap().step,
        full.optimizer.as_ref().unwrap().step / 4
    );
    let out = hrcast(
        dir.path(),
        &[
            "train",
            "--data",
            "processed",
            "--init",
            "a/best_model.safetensors",
            "--hidden-size",
            "9",
            "--device",
            "cpu",
        ],
    );
    fails_with(&out, &["--hidden-size 9 contradicts", "hidden-size 6"]);
    let out = hrcast(
        dir.path(),
        &[
            "train",
            "--data",
            "processed",
            "--init",
            "a/best_model.safetensors",
            "--model",
            "gru",
            "--device",
            "cpu",
        ],
    );
    fails_with(&out, &["--model gru contradicts"]);
    let out = hrcast(
        dir.path(),
        &[
            "train",
            "--data",
            "processed",
            "--resume",
            "a/best_model.safetensors",
            "--features",
            "baseline",
            "--device",
            "cpu",
        ],
    );
    fails_with(&out, &["--features speed,altitude,gender contradicts"]);

    // Evaluate defaults to the test split; predict runs on a real workout longer than a window.
    let out = ok(&hrcast(
        dir.path(),
        &[
            "evaluate",
            "--checkpoint",
            "a/best_model.safetensors",
            "--data",
            "processed/test.safetensors",
            "--out",
            "eval",
        ],
    ));
    assert!(out.contains("| MAE |"), "{out}");
    // Few workouts are said to be few, beside an interval where there are two or more.
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("eval/metrics.json")).unwrap(),
    )
    .unwrap();
    let workouts = metrics["n_workouts"].as_u64().unwrap();
    assert_eq!(
        metrics["too_few"].is_string(),
        out.contains("note: only"),
        "{out}"
    );
    if workouts < 5 {
        assert!(metrics["too_few"].is_string(), "{metrics}");
    }
    assert_eq!(metrics["mae_interval"].is_null(), workouts < 2, "{metrics}");
    if let Some(low) = metrics["mae_interval"]["low"].as_f64() {
        let (mae, high) = (
            metrics["mae"].as_f64().unwrap(),
            metrics["mae_interval"]["high"].as_f64().unwrap(),
        );
        assert!(low <= mae && mae <= high, "{metrics}");
    }
    let workout = Path::new(WORKOUTS).join("tcx/20210119_run_garmin_fenix6.tcx");
    let predict = |input: &str, csv: &str| {
        let args = [
            "predict",
            "--checkpoint",
            "a/best_model.safetensors",
            "--input",
            input,
            "--out",
            csv,
        ];
        ok(&hrcast(dir.path(), &args))
    };
    let out = predict(workout.to_str().unwrap(), "pred/run.csv");
    assert!(out.contains("MAE"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("pred/run.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("time_s,actual,predicted"));
    assert_eq!(
        csv.lines().count(),
        1 + 247,
        "1231 s at 5 s: 247 steps, more than a 60-step window"
    );

    // The same run recorded without a heart-rate strap: predicted all the same, nothing actual.
    let tcx = std::fs::read_to_string(&workout).unwrap();
    let without = common::without_elements(&tcx, "HeartRateBpm");
    std::fs::write(dir.path().join("nohr.tcx"), without).unwrap();
    let out = predict("nohr.tcx", "pred/nohr.csv");
    assert!(!out.contains("MAE"), "no heart rate to compare with: {out}");
    let strapless = std::fs::read_to_string(dir.path().join("pred/nohr.csv")).unwrap();
    let column = |csv: &str, k: usize| -> Vec<String> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(k).unwrap().to_string())
            .collect()
    };
    assert!(column(&strapless, 1).iter().all(String::is_empty));
    assert_eq!(
        column(&strapless, 2),
        column(&csv, 2),
        "features alone decide"
    );
}

#[test]
fn ctrl_c_saves_last_and_resume_continues_exactly() {
    interrupt_then_resume(|line| line.starts_with("epoch   1/"));
}

/// Ctrl-C before the first epoch has ended: the best validation loss is still +∞, which the
/// saved training state must carry through JSON for `--resume`.
#[test]
fn ctrl_c_in_the_first_epoch_resumes_too() {
    interrupt_then_resume(|_| true);
}

/// Trains 40 epochs as a reference; trains again, sending SIGINT at the first line of output
/// `at` accepts; resumes from the saved `last.safetensors` and expects the reference's weights
/// and optimizer state exactly.
fn interrupt_then_resume(at: impl Fn(&str) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let epochs = ["--epochs", "40", "--patience", "100"];
    ok(&hrcast(
        dir.path(),
        &train_args(&[&epochs[..], &["--checkpoints", "ref", "--results", "r1"]].concat()),
    ));
    let reference = Checkpoint::load(&dir.path().join("ref/last.safetensors")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_hrcast"))
        .current_dir(dir.path())
        .args(train_args(
            &[&epochs[..], &["--checkpoints", "int", "--results", "r2"]].concat(),
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let now = at(&line);
        seen.push(line);
        if now {
            let status = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            break;
        }
    }
    seen.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(130), "Ctrl-C exits with 130: {text}");
    assert!(text.contains("interrupted in epoch"), "{text}");
    let saved = Checkpoint::load(&dir.path().join("int/last.safetensors")).unwrap();
    assert!(saved.epoch < 40);

    ok(&hrcast(
        dir.path(),
        &train_args(
            &[
                &epochs[..],
                &[
                    "--checkpoints",
                    "int",
                    "--results",
                    "r2",
                    "--resume",
                    "int/last.safetensors",
                ],
            ]
            .concat(),
        ),
    ));
    let resumed = Checkpoint::load(&dir.path().join("int/last.safetensors")).unwrap();
    assert_eq!(resumed.epoch, 40);
    assert_eq!(
        resumed.params, reference.params,
        "weights differ after an interrupted run was resumed"
    );
    assert_eq!(resumed.optimizer, reference.optimizer);
}

#[test]
fn bad_checkpoints_data_and_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ck_path, data_path) = fixture_checkpoint_and_data("fixture_small", dir.path());
    let ck = ck_path.to_str().unwrap();
    let data = data_path.to_str().unwrap();

    fails_with(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                "missing.safetensors",
                "--data",
                data,
            ],
        ),
        &["--checkpoint", "cannot read checkpoint missing.safetensors"],
    );
    fails_with(
        &hrcast(
            dir.path(),
            &["evaluate", "--checkpoint", data, "--data", data],
        ),
        &["not a usable hrcast checkpoint", "hrcast-data/1"],
    );
    std::fs::write(
        dir.path().join("junk.safetensors"),
        b"not safetensors at all",
    )
    .unwrap();
    fails_with(
        &hrcast(
            dir.path(),
            &[
                "predict",
                "--checkpoint",
                "junk.safetensors",
                "--input",
                WORKOUTS,
            ],
        ),
        &["junk.safetensors", "not a safetensors file"],
    );

    // A checkpoint whose config disagrees with its tensors (another configuration).
    let mut other = Checkpoint::load(&ck_path).unwrap();
    other.config.hidden_size = 9;
    let err = Checkpoint::from_bytes(&other.to_bytes().unwrap_or_else(|_| Vec::new()));
    assert!(err.is_err());
    let bytes = std::fs::read(&ck_path).unwrap();
    let patched: Vec<u8> = {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
        assert!(header.contains("\\\"hidden_size\\\":8"), "{header}");
        let header = header.replace("\\\"hidden_size\\\":8", "\\\"hidden_size\\\":9");
        assert_eq!(header.len(), header_len, "same length patch");
        [&bytes[..8], header.as_bytes(), &bytes[8 + header_len..]].concat()
    };
    std::fs::write(dir.path().join("other.safetensors"), patched).unwrap();
    fails_with(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                "other.safetensors",
                "--data",
                data,
            ],
        ),
        &[
            "other.safetensors",
            "has shape [32, 11], but the config needs [36, 11]",
        ],
    );

    // A data file with the wrong number of features.
    let wrong = Split {
        n: 1,
        seq_len: 2,
        features: vec![0.0; 2 * 5],
        heart_rate: vec![0.0; 2],
        mask: vec![1.0; 2],
        length: vec![2],
        user_id: vec![1],
        workout_id: vec![1],
        person: vec![f32::NAN; 2],
        interval_s: 5.0,
        source: String::new(),
        set_id: String::new(),
        names: Default::default(),
    };
    let bytes = {
        use safetensors::{Dtype, tensor::TensorView};
        fn t(shape: Vec<usize>, data: &[u8]) -> TensorView<'_> {
            TensorView::new(Dtype::F32, shape, data).unwrap()
        }
        fn i(data: &[u8]) -> TensorView<'_> {
            TensorView::new(Dtype::I64, vec![1], data).unwrap()
        }
        let meta = std::collections::HashMap::from([
            ("format".to_string(), "hrcast-data/1".to_string()),
            (
                "feature_names".to_string(),
                "[\"a\",\"b\",\"c\",\"d\",\"e\"]".to_string(),
            ),
            ("interval_s".to_string(), "5".to_string()),
        ]);
        safetensors::serialize(
            vec![
                (
                    "features",
                    t(vec![1, 2, 5], bytemuck::cast_slice(&wrong.features)),
                ),
                (
                    "heart_rate",
                    t(vec![1, 2, 1], bytemuck::cast_slice(&wrong.heart_rate)),
                ),
                ("mask", t(vec![1, 2, 1], bytemuck::cast_slice(&wrong.mask))),
                ("length", i(bytemuck::cast_slice(&wrong.length))),
                ("user_id", i(bytemuck::cast_slice(&wrong.user_id))),
                ("workout_id", i(bytemuck::cast_slice(&wrong.workout_id))),
            ],
            Some(meta),
        )
        .unwrap()
    };
    std::fs::write(dir.path().join("five.safetensors"), bytes).unwrap();
    fails_with(
        &hrcast(
            dir.path(),
            &["evaluate", "--checkpoint", ck, "--data", "five.safetensors"],
        ),
        &["--data", "five.safetensors", "expected the 11 features"],
    );

    // An output folder that cannot be written (a path below a regular file).
    std::fs::write(dir.path().join("afile"), b"x").unwrap();
    fails_with(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                ck,
                "--data",
                data,
                "--out",
                "afile/results",
            ],
        ),
        &["--out afile/results", "cannot create the folder"],
    );
    fails_with(
        &hrcast(
            dir.path(),
            &[
                "train",
                "--data",
                "nowhere",
                "--checkpoints",
                "afile/ck",
                "--device",
                "cpu",
            ],
        ),
        &["--checkpoints afile/ck"],
    );
    assert!(
        !dir.path().join("nowhere").exists(),
        "nothing generated before the flags were checked"
    );
    // Where wgpu finds no adapter (here: a backend this platform lacks), --device gpu says so
    // and --device auto falls back to the CPU engine.
    if cfg!(target_os = "macos") {
        return;
    }
    let no_adapter = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hrcast"))
            .current_dir(dir.path())
            .env("WGPU_BACKEND", "metal")
            .args(args)
            .output()
            .unwrap()
    };
    let out = no_adapter(&[
        "evaluate",
        "--checkpoint",
        ck,
        "--data",
        data,
        "--device",
        "gpu",
        "--out",
        "o",
    ]);
    fails_with(
        &out,
        &["--device gpu", "no GPU adapter found (WGPU_BACKEND=metal)"],
    );
    ok(&no_adapter(&[
        "evaluate",
        "--checkpoint",
        ck,
        "--data",
        data,
        "--device",
        "auto",
        "--out",
        "o",
    ]));
}
