//! Corrupt processed data files and checkpoints: each class of fault is refused with an error
//! that names what is wrong, never a panic, and (for a checkpoint whose configuration is far
//! larger than the file) without allocating what the configuration describes. The reproduction
//! files in `tests/data/corrupt/` are also run through the `hrcast` binary.

use crate::common::hrcast_in as hrcast;

use hrcast::checkpoint::Checkpoint;
use hrcast::dataset::{Split, check_same_set};
use hrcast::engine::optim::AdamState;
use hrcast::features::{FEATURE_NAMES, NUM_FEATURES};
use hrcast::model::{Cell, ModelConfig, Normalization, Params};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell as StdCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Counts the bytes each thread holds, and their peak, so that one test can bound what a call
/// allocates without the other tests (running on other threads) counting.
struct Counting;

thread_local! {
    static HELD: StdCell<isize> = const { StdCell::new(0) };
    static PEAK: StdCell<isize> = const { StdCell::new(0) };
}

fn count(delta: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's layout contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes this thread held at once while `f` ran, beyond what it held before.
fn peak_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = HELD.with(StdCell::get);
    PEAK.with(|p| p.set(start));
    let result = f();
    let peak = PEAK.with(StdCell::get);
    (result, (peak - start).max(0) as usize)
}

const CORRUPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corrupt");
const WORKOUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/workouts/tcx/20210119_run_garmin_fenix6.tcx"
);

fn corrupt(name: &str) -> PathBuf {
    Path::new(CORRUPT).join(name)
}

/// A valid split: 3 windows of 20 steps, the last one 12 steps long with a gap in its mask.
fn valid_split() -> Split {
    let (n, t) = (3, 20);
    let mut split = Split::empty(t, 5.0, "corrupt_files test").with_set_id("set-a");
    for w in 0..n {
        let length = if w == n - 1 { 12 } else { t };
        for s in 0..t {
            for f in 0..NUM_FEATURES {
                let v = if s < length {
                    (w * 7 + s * 3 + f) as f32 * 0.25
                } else {
                    0.0
                };
                split.features.push(v);
            }
            let valid = s < length && !(w == 1 && s == 4);
            split
                .heart_rate
                .push(if valid { 120.0 + s as f32 } else { 0.0 });
            split.mask.push(if valid { 1.0 } else { 0.0 });
        }
        split.length.push(length as i64);
        split.user_id.push(w as i64 % 2);
        split.workout_id.push(100 + w as i64);
        split
            .person
            .extend(Split::person_row(&hrcast::data::Profile {
                resting_hr: (w % 2 == 0).then_some(55.0),
                max_hr: (w % 2 == 0).then_some(185.0),
            }));
        split.n += 1;
    }
    split
}

fn config(hidden: usize, layers: usize) -> ModelConfig {
    ModelConfig {
        model: Cell::Lstm,
        input_size: NUM_FEATURES,
        hidden_size: hidden,
        num_layers: layers,
        dropout: 0.1,
        bidirectional: false,
        features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

/// A valid checkpoint of a small LSTM, with optimizer state unless `optimizer` is false.
fn valid_checkpoint(optimizer: bool) -> Checkpoint {
    let config = config(4, 2);
    let params: Params<f32> = Params::init(&config, 7);
    let adam = optimizer.then(|| {
        let mut adam = AdamState::new(params.values.iter().map(Vec::len));
        adam.step = 3;
        for v in adam.exp_avg_sq.iter_mut().flatten() {
            *v = 0.01;
        }
        adam
    });
    Checkpoint {
        normalization: Normalization {
            feature_mean: vec![1.0; NUM_FEATURES],
            feature_std: vec![2.0; NUM_FEATURES],
            hr_mean: 140.0,
            hr_std: 20.0,
            hr_level: Default::default(),
        },
        config,
        params,
        optimizer: adam,
        epoch: 2,
        step: 3,
        val_loss: 0.5,
        val_mae: 9.0,
        lr: 5e-4,
        seed: 11,
        interval_s: 5.0,
        seq_len: 20,
        train_state: None,
        trained_on: None,
    }
}

/// One tensor of a file being edited: name, dtype, shape and bytes.
type Tensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// The safetensors bytes of `bytes` after `edit` changed its metadata and tensors.
fn rewrite(
    bytes: &[u8],
    edit: impl FnOnce(&mut HashMap<String, String>, &mut Vec<Tensor>),
) -> Vec<u8> {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap_or_default();
    let parsed = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Vec<Tensor> = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    edit(&mut meta, &mut tensors);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// `bytes` with metadata `key` set to `value` (or removed, for `None`).
fn with_meta(bytes: &[u8], key: &str, value: Option<&str>) -> Vec<u8> {
    rewrite(bytes, |meta, _| match value {
        Some(v) => {
            meta.insert(key.to_string(), v.to_string());
        }
        None => {
            meta.remove(key);
        }
    })
}

/// `bytes` with one F32 value of tensor `name` (flat index `i`) replaced.
fn with_f32(bytes: &[u8], name: &str, i: usize, value: f32) -> Vec<u8> {
    rewrite(bytes, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0 == name).unwrap();
        t.3[4 * i..4 * i + 4].copy_from_slice(&value.to_le_bytes());
    })
}

/// `bytes` with one I64 value of tensor `name` replaced.
fn with_i64(bytes: &[u8], name: &str, i: usize, value: i64) -> Vec<u8> {
    rewrite(bytes, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0 == name).unwrap();
        t.3[8 * i..8 * i + 8].copy_from_slice(&value.to_le_bytes());
    })
}

/// `bytes` with the JSON metadata `key` edited.
fn with_json(bytes: &[u8], key: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    rewrite(bytes, |meta, _| {
        let mut value: serde_json::Value = serde_json::from_str(&meta[key]).unwrap();
        edit(&mut value);
        meta.insert(key.to_string(), value.to_string());
    })
}

/// The full error chain of a refused split.
fn split_error(bytes: &[u8]) -> String {
    match Split::from_bytes(bytes) {
        Ok(_) => panic!("a corrupt data file was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

/// The full error chain of a refused checkpoint.
fn checkpoint_error(bytes: &[u8]) -> String {
    match Checkpoint::from_bytes(bytes) {
        Ok(_) => panic!("a corrupt checkpoint was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_mentions(error: &str, needles: &[&str]) {
    for needle in needles {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }
}

/// The command failed cleanly (non-zero, no panic) and its stderr names every needle.
fn fails_cleanly(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_mentions(&err, needles);
}

/// A folder with a valid checkpoint (`ck.safetensors`), a valid data file (`data.safetensors`)
/// and a data folder `processed/` whose `train.safetensors` is `train` and whose
/// `val.safetensors` is valid.
fn workspace(train: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    valid_checkpoint(true)
        .save(&dir.path().join("ck.safetensors"))
        .unwrap();
    let data = valid_split().to_bytes().unwrap();
    std::fs::write(dir.path().join("data.safetensors"), &data).unwrap();
    let processed = dir.path().join("processed");
    std::fs::create_dir(&processed).unwrap();
    std::fs::write(processed.join("train.safetensors"), train).unwrap();
    std::fs::write(processed.join("val.safetensors"), &data).unwrap();
    std::fs::write(processed.join("test.safetensors"), &data).unwrap();
    dir
}

const TRAIN: [&str; 13] = [
    "train",
    "--data",
    "processed",
    "--device",
    "cpu",
    "--epochs",
    "1",
    "--checkpoints",
    "ck",
    "--results",
    "results",
    "--logs",
    "logs",
];

#[test]
fn valid_files_round_trip() {
    let split = valid_split();
    let read = Split::from_bytes(&split.to_bytes().unwrap()).unwrap();
    assert_eq!(read, split);
    assert_eq!(read.set_id, "set-a");

    let ck = valid_checkpoint(true);
    let read = Checkpoint::from_bytes(&ck.to_bytes().unwrap()).unwrap();
    assert_eq!(read.params, ck.params);
    assert_eq!(read.optimizer, ck.optimizer);
    assert_eq!(read.config, ck.config);
    assert_eq!(read.seq_len, 20);
    assert_eq!((read.epoch, read.step, read.seed), (2, 3, 11));
    // The allocation counter counts (the bound of the billion-unit test means something).
    let bytes = ck.to_bytes().unwrap();
    let (_, peak) = peak_allocation(|| Checkpoint::from_bytes(&bytes).unwrap());
    assert!(peak > bytes.len() / 2, "{peak}");
}

#[test]
fn paths_that_are_not_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder.safetensors");
    std::fs::create_dir(&folder).unwrap();
    let error = format!("{:#}", Checkpoint::load(&folder).unwrap_err());
    assert_mentions(&error, &["cannot read checkpoint", "not a regular file"]);
    let error = format!("{:#}", Split::read(&folder).unwrap_err());
    assert_mentions(&error, &["cannot read", "not a regular file"]);
    // A FIFO nobody writes to: opening it would wait forever.
    let fifo = dir.path().join("fifo.safetensors");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let error = format!("{:#}", Checkpoint::load(&fifo).unwrap_err());
        assert_mentions(&error, &["not a regular file"]);
        let error = format!("{:#}", Split::read(&fifo).unwrap_err());
        assert_mentions(&error, &["not a regular file"]);
    }
}

#[test]
fn data_with_interval_zero_is_refused() {
    let bytes = std::fs::read(corrupt("data_interval_zero.safetensors")).unwrap();
    assert_mentions(&split_error(&bytes), &["\"interval_s\" is 0"]);
    let good = valid_split().to_bytes().unwrap();
    for bad in ["-5", "NaN", "inf", "7200", "1e-9"] {
        let error = split_error(&with_meta(&good, "interval_s", Some(bad)));
        assert_mentions(&error, &["interval_s", "seconds"]);
    }
    assert_mentions(
        &split_error(&with_meta(&good, "interval_s", Some("five"))),
        &["\"interval_s\" is not a number"],
    );

    let dir = workspace(&bytes);
    fails_cleanly(
        &hrcast(dir.path(), &TRAIN),
        &["train.safetensors", "interval_s"],
    );
    let path = corrupt("data_interval_zero.safetensors");
    fails_cleanly(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                "ck.safetensors",
                "--data",
                path.to_str().unwrap(),
                "--device",
                "cpu",
            ],
        ),
        &["data_interval_zero.safetensors", "interval_s"],
    );
}

#[test]
fn data_with_windows_of_zero_steps_is_refused() {
    let bytes = std::fs::read(corrupt("data_T0.safetensors")).unwrap();
    assert_mentions(&split_error(&bytes), &["window length", "is 0"]);

    let dir = workspace(&bytes);
    let path = corrupt("data_T0.safetensors");
    fails_cleanly(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                "ck.safetensors",
                "--data",
                path.to_str().unwrap(),
                "--device",
                "cpu",
            ],
        ),
        &["data_T0.safetensors", "window length"],
    );
    fails_cleanly(
        &hrcast(dir.path(), &TRAIN),
        &["train.safetensors", "window length"],
    );
}

#[test]
fn data_with_non_finite_values_is_refused() {
    let good = valid_split().to_bytes().unwrap();
    // Window 1, step 2, feature 3.
    let i = (20 + 2) * NUM_FEATURES + 3;
    assert_mentions(
        &split_error(&with_f32(&good, "features", i, f32::NAN)),
        &["\"features\"", "NaN", "window 1, step 2", FEATURE_NAMES[3]],
    );
    assert_mentions(
        &split_error(&with_f32(&good, "features", 0, f32::NEG_INFINITY)),
        &["\"features\"", "-inf"],
    );
    assert_mentions(
        &split_error(&with_f32(&good, "heart_rate", 45, f32::INFINITY)),
        &["\"heart_rate\"", "inf", "window 2, step 5"],
    );
    // Also on a padding step.
    assert_mentions(
        &split_error(&with_f32(&good, "heart_rate", 59, f32::NAN)),
        &["\"heart_rate\"", "NaN"],
    );
}

#[test]
fn data_with_bad_masks_or_lengths_is_refused() {
    let good = valid_split().to_bytes().unwrap();
    assert_mentions(
        &split_error(&with_f32(&good, "mask", 3, 0.5)),
        &["\"mask\"", "0.5", "0 or 1"],
    );
    assert_mentions(
        &split_error(&with_f32(&good, "mask", 5, f32::NAN)),
        &["\"mask\"", "NaN"],
    );
    // Window 2 is 12 steps long: a mask of 1 at its step 15 lies beyond it.
    assert_mentions(
        &split_error(&with_f32(&good, "mask", 40 + 15, 1.0)),
        &["\"mask\"", "window 2, step 15", "beyond", "length 12"],
    );
    for bad in [-1, 21, i64::MIN, i64::MAX] {
        assert_mentions(
            &split_error(&with_i64(&good, "length", 1, bad)),
            &["\"length\"", &bad.to_string(), "window 1"],
        );
    }
    // A longer length is fine where the mask is 0 beyond the old one.
    let longer = with_i64(&good, "length", 2, 13);
    assert_eq!(Split::from_bytes(&longer).unwrap().length[2], 13);
}

#[test]
fn data_with_wrong_dtypes_shapes_or_sizes_is_refused() {
    let good = valid_split().to_bytes().unwrap();
    // Ids stored as F64 (same byte size as I64).
    let f64_ids = rewrite(&good, |_, tensors| {
        tensors.iter_mut().find(|t| t.0 == "user_id").unwrap().1 = Dtype::F64;
    });
    assert_mentions(
        &split_error(&f64_ids),
        &["\"user_id\"", "F64", "expected I64"],
    );
    let f64_features = rewrite(&good, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0 == "features").unwrap();
        t.1 = Dtype::F64;
        t.2[1] = 10;
    });
    assert_mentions(
        &split_error(&f64_features),
        &["\"features\"", "expected F32"],
    );
    // Shapes that disagree with each other.
    let short_hr = rewrite(&good, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0 == "heart_rate").unwrap();
        t.2 = vec![3, 10, 2];
    });
    assert_mentions(
        &split_error(&short_hr),
        &["heart_rate has shape [3, 10, 2], expected [3, 20, 1]"],
    );
    let missing = rewrite(&good, |_, tensors| tensors.retain(|t| t.0 != "workout_id"));
    assert_mentions(&split_error(&missing), &["\"workout_id\" is missing"]);
    // A header whose shape claims more bytes than the offsets hold, and a truncated file.
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&good[8..8 + header_len]).unwrap();
    let lied = header.replacen("[3,20,11]", "[9,20,11]", 1);
    assert_eq!(lied.len(), header.len());
    let lied = [&good[..8], lied.as_bytes(), &good[8 + header_len..]].concat();
    assert_mentions(&split_error(&lied), &["not a safetensors file"]);
    assert_mentions(
        &split_error(&good[..good.len() - 4]),
        &["not a safetensors file"],
    );
    // A window length beyond any file's (no windows, so no bytes vouch for it).
    let endless = rewrite(&good, |_, tensors| {
        for t in tensors.iter_mut() {
            t.2[0] = 0;
            t.3.clear();
            if t.2.len() == 3 {
                t.2[1] = usize::MAX / 64;
            }
        }
    });
    assert_mentions(&split_error(&endless), &["window length", "1000000"]);
}

#[test]
fn checkpoint_listing_a_feature_twice_is_refused() {
    let bytes = std::fs::read(corrupt("ck_feature_dup.safetensors")).unwrap();
    assert_mentions(&checkpoint_error(&bytes), &["\"speed\" twice"]);

    let good = valid_checkpoint(false).to_bytes().unwrap();
    let features = |list: &[&str]| {
        with_json(&good, "config", |c| {
            c["features"] = serde_json::json!(list);
            c["input_size"] = serde_json::json!(list.len());
        })
    };
    let mut unknown = FEATURE_NAMES.to_vec();
    unknown[4] = "cadence";
    assert_mentions(
        &checkpoint_error(&features(&unknown)),
        &["unknown feature \"cadence\""],
    );
    let mut swapped = FEATURE_NAMES.to_vec();
    swapped.swap(0, 1);
    assert_mentions(
        &checkpoint_error(&features(&swapped)),
        &[
            "\"speed\" after \"altitude\"",
            "in the order speed, altitude",
        ],
    );
    let fewer = with_json(&good, "config", |c| c["input_size"] = serde_json::json!(10));
    assert_mentions(
        &checkpoint_error(&fewer),
        &["input_size 10 but lists 11 features"],
    );

    let dir = workspace(&valid_split().to_bytes().unwrap());
    let path = corrupt("ck_feature_dup.safetensors");
    let ck = path.to_str().unwrap();
    fails_cleanly(
        &hrcast(
            dir.path(),
            &[
                "evaluate",
                "--checkpoint",
                ck,
                "--data",
                "data.safetensors",
                "--device",
                "cpu",
            ],
        ),
        &["ck_feature_dup.safetensors", "\"speed\" twice"],
    );
    fails_cleanly(
        &hrcast(
            dir.path(),
            &[
                "predict",
                "--checkpoint",
                ck,
                "--input",
                WORKOUT,
                "--out",
                "p.csv",
                "--device",
                "cpu",
            ],
        ),
        &["ck_feature_dup.safetensors", "\"speed\" twice"],
    );
    fails_cleanly(
        &hrcast(dir.path(), &[&TRAIN[..], &["--init", ck]].concat()),
        &["ck_feature_dup.safetensors", "\"speed\" twice"],
    );
}

#[test]
fn checkpoint_claiming_a_billion_hidden_units_is_refused_without_allocating_them() {
    let good = valid_checkpoint(true).to_bytes().unwrap();
    let huge = with_json(&good, "config", |c| {
        c["hidden_size"] = serde_json::json!(1_000_000_000u64)
    });
    let started = Instant::now();
    let (result, peak) = peak_allocation(|| Checkpoint::from_bytes(&huge));
    let error = format!("{:#}", result.expect_err("refused"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(peak < 100 << 20, "{peak} bytes allocated");
    assert_mentions(
        &error,
        &[
            "lstm.weight_ih_l0",
            "[4000000000, 11]",
            "more than the file's",
        ],
    );

    // Layer counts, and sizes whose parameter count overflows, are refused as fast.
    for (hidden, layers) in [
        (4, 1_000_000_000_000usize),
        (usize::MAX / 2, 2),
        (1 << 40, 1 << 40),
    ] {
        let bytes = with_json(&good, "config", |c| {
            c["hidden_size"] = serde_json::json!(hidden);
            c["num_layers"] = serde_json::json!(layers);
        });
        let started = Instant::now();
        let (result, peak) = peak_allocation(|| Checkpoint::from_bytes(&bytes));
        assert!(result.is_err(), "hidden {hidden} layers {layers} accepted");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(peak < 100 << 20, "{peak} bytes allocated");
    }
    let bytes = with_json(&good, "config", |c| {
        c["hidden_size"] = serde_json::json!(usize::MAX / 2)
    });
    assert_mentions(&checkpoint_error(&bytes), &["more parameters than"]);
    let bytes = with_json(&good, "config", |c| c["num_layers"] = serde_json::json!(3));
    assert_mentions(
        &checkpoint_error(&bytes),
        &["\"lstm.weight_ih_l2\" is missing", "3 layers"],
    );
}

#[test]
fn checkpoint_tensors_are_checked_against_the_config() {
    let good = valid_checkpoint(true).to_bytes().unwrap();
    let wide = with_json(&good, "config", |c| c["hidden_size"] = serde_json::json!(5));
    assert_mentions(
        &checkpoint_error(&wide),
        &["has shape [16, 11], but the config needs [20, 11]"],
    );
    let extra = with_json(&good, "config", |c| c["num_layers"] = serde_json::json!(1));
    assert_mentions(
        &checkpoint_error(&extra),
        &[
            "_l1\" is not part of the model",
            "lstm, 1 layers of 4 hidden units",
        ],
    );
    let f16 = rewrite(&good, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0 == "head.weight").unwrap();
        t.1 = Dtype::F16;
        t.2 = vec![2, 4];
    });
    assert_mentions(
        &checkpoint_error(&f16),
        &["\"head.weight\" is F16, expected F32"],
    );
    let no_moment = rewrite(&good, |_, tensors| {
        tensors.retain(|t| t.0 != "optim.exp_avg_sq.head.bias")
    });
    assert_mentions(
        &checkpoint_error(&no_moment),
        &["\"optim.exp_avg_sq.head.bias\" is missing"],
    );
    assert_mentions(
        &checkpoint_error(&with_f32(&good, "lstm.weight_hh_l1", 7, f32::NAN)),
        &["\"lstm.weight_hh_l1\"", "NaN", "index 7"],
    );
    assert_mentions(
        &checkpoint_error(&with_f32(
            &good,
            "optim.exp_avg.head.bias",
            0,
            f32::INFINITY,
        )),
        &["\"optim.exp_avg.head.bias\"", "inf"],
    );
    assert_mentions(
        &checkpoint_error(&with_f32(
            &good,
            "optim.exp_avg_sq.lstm.bias_ih_l0",
            2,
            -1.0,
        )),
        &["\"optim.exp_avg_sq.lstm.bias_ih_l0\"", "-1", "non-negative"],
    );
}

#[test]
fn checkpoint_metadata_out_of_range_is_refused() {
    let good = valid_checkpoint(true).to_bytes().unwrap();
    let cases: Vec<(Vec<u8>, &[&str])> = vec![
        (with_meta(&good, "lr", Some("-1")), &["\"lr\" is -1"]),
        (with_meta(&good, "lr", Some("NaN")), &["\"lr\" is NaN"]),
        (with_meta(&good, "lr", Some("inf")), &["\"lr\" is inf"]),
        (
            with_meta(&good, "epoch", Some("-1")),
            &["\"epoch\"", "non-negative integer"],
        ),
        (
            with_meta(&good, "step", Some("1.5")),
            &["\"step\"", "non-negative integer"],
        ),
        (
            with_meta(&good, "seed", Some("x")),
            &["\"seed\"", "non-negative integer"],
        ),
        (with_meta(&good, "lr", None), &["\"lr\" is missing"]),
        (
            with_meta(&good, "interval_s", Some("0")),
            &["\"interval_s\" is 0"],
        ),
        (
            with_meta(&good, "interval_s", Some("-3")),
            &["\"interval_s\" is -3"],
        ),
        (
            with_meta(&good, "interval_s", Some("soon")),
            &["\"interval_s\" is not a number"],
        ),
        (
            with_meta(&good, "seq_len", Some("0")),
            &["\"seq_len\" is 0"],
        ),
        (
            with_meta(&good, "seq_len", Some("-4")),
            &["\"seq_len\" is \"-4\""],
        ),
        (
            with_meta(&good, "seq_len", Some("99999999999")),
            &["\"seq_len\" is 99999999999"],
        ),
        (
            with_meta(&good, "train_state", Some("{\"lr\": -1.0}")),
            &["train_state", "lr -1"],
        ),
        (
            with_meta(&good, "train_state", Some("[1")),
            &["\"train_state\" is not JSON"],
        ),
        (
            with_meta(&good, "trained_on", Some("{\"folder\": 3}")),
            &["metadata \"trained_on\""],
        ),
        (
            with_json(&good, "config", |c| c["dropout"] = serde_json::json!(1.0)),
            &["dropout 1"],
        ),
        (
            with_json(&good, "config", |c| c["dropout"] = serde_json::json!(-0.1)),
            &["dropout -0.1"],
        ),
        (
            with_json(&good, "config", |c| c["model"] = serde_json::json!("rnn")),
            &["\"config\"", "rnn"],
        ),
        (
            with_json(&good, "config", |c| c["hidden_size"] = serde_json::json!(0)),
            &["empty model"],
        ),
        (
            with_json(&good, "config", |c| c["num_layers"] = serde_json::json!(-1)),
            &["\"config\""],
        ),
        (
            with_json(&good, "normalization", |n| {
                n["feature_std"][3] = serde_json::json!(0.0)
            }),
            &["feature_std[3] is 0"],
        ),
        (
            with_json(&good, "normalization", |n| {
                n["feature_std"][1] = serde_json::json!(-2.0)
            }),
            &["feature_std[1] is -2"],
        ),
        (
            with_json(&good, "normalization", |n| {
                n["hr_std"] = serde_json::json!(0.0)
            }),
            &["hr_std is 0"],
        ),
        (
            with_json(&good, "normalization", |n| {
                n["feature_mean"] = serde_json::json!(vec![0.0; 10])
            }),
            &["10 feature means"],
        ),
        (
            with_meta(&good, "normalization", Some("{\"feature_mean\": [NaN]}")),
            &["\"normalization\""],
        ),
        (
            with_meta(&good, "format", Some("hrcast-data/1")),
            &["expected \"hrcast-checkpoint/1\""],
        ),
    ];
    for (bytes, needles) in cases {
        assert_mentions(&checkpoint_error(&bytes), needles);
    }

    // Infinity in the normalization (a number too large for an f64).
    let huge_mean = with_meta(
        &good,
        "normalization",
        Some(&format!(
            "{{\"feature_mean\":{0:?},\"feature_std\":{1:?},\"hr_mean\":1e999,\"hr_std\":1.0}}",
            [0.0; 11], [1.0; 11]
        )),
    );
    assert!(Checkpoint::from_bytes(&huge_mean).is_err());
}

#[test]
fn checkpoint_as_a_pytorch_user_writes_it_loads_with_defaults() {
    // Only the keys the README's PyTorch snippet writes, integers as floats, no optimizer.
    let ck = valid_checkpoint(false);
    let bytes = rewrite(&ck.to_bytes().unwrap(), |meta, _| {
        meta.remove("seq_len");
        meta.remove("interval_s");
        meta.remove("train_state");
        meta.insert("epoch".into(), "0".into());
        meta.insert("step".into(), "0.0".into());
        meta.insert("val_loss".into(), "NaN".into());
        meta.insert("val_mae".into(), "NaN".into());
    });
    let read = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(read.seq_len, 500);
    assert_eq!(read.interval_s, 5.0);
    assert!(read.optimizer.is_none() && read.train_state.is_none());
    assert!(read.val_loss.is_nan());
    assert_eq!(read.params, ck.params);
}

#[test]
fn splits_of_different_prepare_runs_are_refused_together() {
    let train = valid_split();
    let val = valid_split();
    check_same_set("train.safetensors", &train, "val.safetensors", &val).unwrap();

    let other = valid_split().with_set_id("set-b");
    let error = format!(
        "{:#}",
        check_same_set("train.safetensors", &train, "val.safetensors", &other).unwrap_err()
    );
    assert_mentions(
        &error,
        &[
            "val.safetensors was written by another prepare run than train.safetensors",
            "set id \"set-b\" vs \"set-a\"",
            "run hrcast prepare again",
        ],
    );

    // A file without a set id (older hrcast) is compared on its windows and grid only.
    let bytes = with_meta(&val.to_bytes().unwrap(), "set_id", None);
    let unknown = Split::from_bytes(&bytes).unwrap();
    assert_eq!(unknown.set_id, "");
    check_same_set("train.safetensors", &train, "val.safetensors", &unknown).unwrap();

    let mut shorter = Split::empty(10, 1.0, "x");
    shorter.set_id = String::new();
    let error = format!(
        "{:#}",
        check_same_set("train.safetensors", &train, "test.safetensors", &shorter).unwrap_err()
    );
    assert_mentions(
        &error,
        &[
            "test.safetensors was written by another prepare run than train.safetensors",
            "window length 10 vs 20",
            "interval 1 s vs 5 s",
        ],
    );
}
