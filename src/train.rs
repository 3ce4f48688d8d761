//! `hrcast train` (SPEC §7): the training loop around an [`Engine`].
//!
//! Each epoch shuffles the training windows (the permutation is a function of the seed and the
//! epoch), takes one optimizer step per batch, then evaluates the validation split. The
//! learning rate follows ReduceLROnPlateau on the validation loss; training stops early after
//! `--patience` epochs without improvement. `best_model.safetensors` is written whenever the
//! validation loss improves and `last.safetensors` after every epoch, both atomically, with
//! everything `--resume` needs: weights, Adam moments and step, scheduler, early-stopping
//! counters, epoch and position inside it, and the history of the curves. Dropout masks and
//! shuffles are functions of (seed, step) and (seed, epoch), so a resumed run draws exactly what
//! the uninterrupted one would have. Ctrl-C stops after the current batch and saves `last`.

use crate::atomic;
use crate::checkpoint::Checkpoint;
use crate::cli::TrainArgs;
use crate::dataset::{Split, check_same_set};
use crate::engine::optim::AdamState;
use crate::engine::{self, Engine, StepConfig, TrainSums};
use crate::features::{FEATURE_NAMES, parse_feature_list};
use crate::model::{Batch, Cell, ModelConfig, Normalization, Params};
use crate::plot::{self, Chart, Series};
use crate::prepare::{self, PrepareOptions, SplitBy};
use crate::schedule::ReduceLrOnPlateau;
use crate::synth::{self, SynthOptions};
use anyhow::{Context, Result, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Users in the default synthetic data set made when `--data` holds no data.
pub const DEFAULT_SYNTH_USERS: usize = 20;
/// Workouts per user in the default synthetic data set.
pub const DEFAULT_SYNTH_WORKOUTS: usize = 5;
/// Seed of the default synthetic data set.
pub const DEFAULT_SYNTH_SEED: u64 = 2024;

/// Set by Ctrl-C; the loop saves `last` and stops after the current batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// One epoch's figures, as logged and plotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: u64,
    /// Mean of the batches' training losses.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Training MAE, bpm.
    pub train_mae: f64,
    /// Validation MAE, bpm.
    pub val_mae: f64,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// What `--resume` restores beyond weights and optimizer (the checkpoint's `train_state`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    /// Epochs completed.
    epochs_done: u64,
    /// Batches of the next epoch already taken (non-zero after Ctrl-C).
    next_batch: usize,
    /// Training sums of those batches.
    partial: TrainSums,
    lr: f64,
    scheduler: ReduceLrOnPlateau,
    best_val_loss: f64,
    bad_epochs: u32,
    history: Vec<EpochRecord>,
}

impl TrainState {
    /// Checks what a checkpoint file says against what a run can continue from: a learning rate
    /// and scheduler that keep descending, finite sums, counters that agree with the history.
    fn check(&self) -> Result<()> {
        ensure!(
            self.lr.is_finite() && self.lr >= 0.0,
            "lr {} is not a non-negative number",
            self.lr
        );
        let s = &self.scheduler;
        ensure!(
            s.factor.is_finite() && s.factor > 0.0 && s.factor < 1.0,
            "the scheduler's factor {} is not in (0, 1)",
            s.factor
        );
        ensure!(
            !s.best.is_nan() && !self.best_val_loss.is_nan(),
            "a best validation loss is NaN"
        );
        let p = &self.partial;
        ensure!(
            [p.loss, p.abs_error, p.valid_steps]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
            "the partial epoch's sums are not finite non-negative numbers"
        );
        ensure!(
            self.history.len() as u64 == self.epochs_done,
            "{} epochs done but {} in the history",
            self.epochs_done,
            self.history.len()
        );
        Ok(())
    }
}

/// What a finished training run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The best checkpoint, if one was written.
    pub best_checkpoint: Option<PathBuf>,
    /// The processed-data folder trained on.
    pub data: PathBuf,
    /// Its validation loss.
    pub best_val_loss: f64,
    /// Its validation MAE, bpm.
    pub best_val_mae: f64,
    /// Epochs completed in total.
    pub epochs: u64,
    /// Trainable parameters.
    pub params: usize,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
    /// Whether Ctrl-C ended the run.
    pub interrupted: bool,
}

/// A log that goes to a file and to standard output.
struct Log {
    file: File,
}

impl Log {
    fn line(&mut self, text: &str) {
        println!("{text}");
        // The log is a convenience: a failed write must not stop training.
        let _ = writeln!(self.file, "{text}");
    }
}

/// Where `train` looks for processed data when `--data` is not given.
pub const DEFAULT_DATA: &str = "DATA/processed";
/// The folder of the default synthetic data set: `raw/` (FitRec JSON lines) and `processed/`.
/// A folder of its own, so that it never overwrites or mixes with a user's files.
pub const SYNTHETIC_DATA: &str = "DATA/synthetic";

/// The processed-data folder that commands read when none is named: [`DEFAULT_DATA`] if it holds
/// a training split, else the default synthetic set if it was made; `None` if neither exists.
pub fn existing_default_data() -> Option<PathBuf> {
    [
        PathBuf::from(DEFAULT_DATA),
        Path::new(SYNTHETIC_DATA).join("processed"),
    ]
    .into_iter()
    .find(|dir| dir.join("train.safetensors").exists())
}

/// The processed-data folder to train on: `--data` as given (which must exist), else
/// [`DEFAULT_DATA`] if it holds a training split, else the default synthetic set under
/// [`SYNTHETIC_DATA`], generated and prepared on first use.
pub fn data_folder(data: Option<&Path>) -> Result<PathBuf> {
    if let Some(data) = data {
        ensure!(
            data.is_dir(),
            "--data {}: no such folder (make one with hrcast prepare --out {})",
            data.display(),
            data.display()
        );
        return Ok(data.to_path_buf());
    }
    if let Some(found) = existing_default_data() {
        if found != Path::new(DEFAULT_DATA) {
            println!(
                "no data in {DEFAULT_DATA}: training on the default synthetic data set in {}",
                found.display()
            );
        }
        return Ok(found);
    }
    let synthetic = Path::new(SYNTHETIC_DATA);
    let processed = synthetic.join("processed");
    let raw = synthetic.join("raw");
    println!(
        "no data in {DEFAULT_DATA}: generating the default synthetic data set ({DEFAULT_SYNTH_USERS} \
         users x {DEFAULT_SYNTH_WORKOUTS} workouts) into {}",
        synthetic.display()
    );
    synth::synth(&SynthOptions {
        out: raw.clone(),
        users: DEFAULT_SYNTH_USERS,
        workouts_per_user: DEFAULT_SYNTH_WORKOUTS,
        seed: DEFAULT_SYNTH_SEED,
    })?;
    let summary = prepare::prepare(&PrepareOptions {
        inputs: vec![raw],
        out: processed.clone(),
        seq_len: 500,
        interval_s: 5.0,
        split: [0.8, 0.1, 0.1],
        split_by: SplitBy::User,
        seed: 0,
    })?;
    print!("{summary}");
    Ok(processed)
}

/// Reads a split, naming the flag that pointed at it.
pub fn read_split(data: &Path, name: &str) -> Result<Split> {
    let path = data.join(format!("{name}.safetensors"));
    let split = Split::read(&path).with_context(|| format!("--data {}", data.display()))?;
    ensure!(
        split.n > 0,
        "--data {}: {} holds no windows",
        data.display(),
        path.display()
    );
    Ok(split)
}

/// The flag that named the checkpoint a run starts from (`--resume` or `--init`).
fn checkpoint_flag(args: &TrainArgs) -> &'static str {
    if args.resume.is_some() {
        "--resume"
    } else {
        "--init"
    }
}

/// The architecture from the flags, or from a checkpoint whose architecture the flags must not
/// contradict.
fn architecture(args: &TrainArgs, from: Option<&Checkpoint>) -> Result<ModelConfig> {
    let features = args.features.as_ref().map(|f| f.0.clone());
    let Some(ck) = from else {
        let features = features.unwrap_or_else(|| (0..FEATURE_NAMES.len()).collect());
        return Ok(ModelConfig {
            model: args.model.unwrap_or(Cell::Lstm),
            input_size: features.len(),
            hidden_size: args.hidden_size.unwrap_or(128) as usize,
            num_layers: args.num_layers.unwrap_or(2) as usize,
            dropout: args.dropout,
            bidirectional: args.bidirectional,
            features: features
                .iter()
                .map(|&i| FEATURE_NAMES[i].to_string())
                .collect(),
        });
    };
    let c = &ck.config;
    let flag = checkpoint_flag(args);
    let contradiction = |name: &str, given: String, saved: String| -> Result<()> {
        bail!(
            "--{name} {given} contradicts the checkpoint given to {flag}, which has {name} {saved}"
        )
    };
    if let Some(m) = args.model.filter(|m| *m != c.model) {
        contradiction(
            "model",
            format!("{m:?}").to_lowercase(),
            c.model.module().into(),
        )?;
    }
    if let Some(h) = args.hidden_size.filter(|h| *h as usize != c.hidden_size) {
        contradiction("hidden-size", h.to_string(), c.hidden_size.to_string())?;
    }
    if let Some(l) = args.num_layers.filter(|l| *l as usize != c.num_layers) {
        contradiction("num-layers", l.to_string(), c.num_layers.to_string())?;
    }
    if args.bidirectional && !c.bidirectional {
        contradiction(
            "bidirectional",
            "(set)".into(),
            "a unidirectional model".into(),
        )?;
    }
    if let Some(f) = features {
        let names: Vec<String> = f.iter().map(|&i| FEATURE_NAMES[i].to_string()).collect();
        if names != c.features {
            contradiction("features", names.join(","), c.features.join(","))?;
        }
    }
    Ok(ModelConfig {
        dropout: args.dropout,
        ..c.clone()
    })
}

/// Indices of the checkpoint's features in the data files.
pub fn feature_indices(config: &ModelConfig) -> Result<Vec<usize>> {
    parse_feature_list(&config.features.join(","))
}

fn curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let series = |label, color, f: fn(&EpochRecord) -> f64| Series {
        label,
        color,
        points: history.iter().map(|r| (r.epoch as f64, f(r))).collect(),
    };
    const TRAIN: RGBColor = RGBColor(31, 119, 180);
    const VAL: RGBColor = RGBColor(255, 127, 14);
    plot::save(
        path,
        &[
            Chart {
                title: "Loss (masked MSE, normalized heart rate)".into(),
                x_label: "epoch",
                y_label: "loss",
                series: vec![
                    series("train", TRAIN, |r| r.train_loss),
                    series("validation", VAL, |r| r.val_loss),
                ],
                markers: Vec::new(),
                scatter: false,
            },
            Chart {
                title: "Mean absolute error".into(),
                x_label: "epoch",
                y_label: "MAE (bpm)",
                series: vec![
                    series("train", TRAIN, |r| r.train_mae),
                    series("validation", VAL, |r| r.val_mae),
                ],
                markers: Vec::new(),
                scatter: false,
            },
        ],
        2,
    )
}

/// Loss and MAE (bpm) of an engine's predictions on a whole split, in batches.
pub fn validate(
    engine: &mut dyn Engine,
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
) -> Result<(f64, f64)> {
    score(split, features, norm, batch_size, use_masking, |batch| {
        engine.predict(batch)
    })
}

/// Validation loss and MAE (bpm) of the trivial model that predicts the training mean heart
/// rate at every step (0 in normalized units): the bar a trained model has to clear.
pub fn mean_baseline(
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
) -> Result<(f64, f64)> {
    score(split, features, norm, batch_size, use_masking, |batch| {
        Ok(vec![0.0; batch.y.len()])
    })
}

/// Loss (masked MSE in normalized units, or the plain mean without masking) and MAE (bpm, over
/// valid steps) of `predict`'s output on a whole split, in batches.
fn score(
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
    mut predict: impl FnMut(&Batch<f32>) -> Result<Vec<f32>>,
) -> Result<(f64, f64)> {
    let (mut sq, mut abs, mut valid, mut all) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let rows: Vec<usize> = (0..split.n).collect();
    for chunk in rows.chunks(batch_size) {
        let batch = split.batch(chunk, features, norm);
        let pred = predict(&batch)?;
        for ((p, y), m) in pred.iter().zip(&batch.y).zip(&batch.mask) {
            let e = f64::from(p - y);
            let weight = if use_masking { f64::from(*m) } else { 1.0 };
            sq += weight * e * e;
            all += weight;
            if *m > 0.0 {
                abs += e.abs();
                valid += 1.0;
            }
        }
    }
    Ok((sq / all.max(1.0), abs / valid.max(1.0) * norm.hr_std))
}

/// Runs `hrcast train`.
pub fn train(args: &TrainArgs) -> Result<TrainReport> {
    let started = Instant::now();
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    INTERRUPTED.store(false, Ordering::SeqCst);
    atomic::writable_folder(&args.checkpoints, "--checkpoints")?;
    atomic::writable_folder(&args.results, "--results")?;
    atomic::writable_folder(&args.logs, "--logs")?;
    let data = data_folder(args.data.as_deref())?;
    let train_split = read_split(&data, "train")?;
    let val_split = read_split(&data, "val")?;
    check_same_set(
        "train.safetensors",
        &train_split,
        "val.safetensors",
        &val_split,
    )
    .with_context(|| format!("--data {}", data.display()))?;

    let source = args.resume.as_ref().or(args.init.as_ref());
    let flag = checkpoint_flag(args);
    let checkpoint = source
        .map(|p| Checkpoint::load(p).context(flag))
        .transpose()?;
    let config = architecture(args, checkpoint.as_ref())?;
    let features = feature_indices(&config)?;
    let (normalization, params, adam, state) = match &checkpoint {
        None => {
            let params: Params<f32> = Params::init(&config, args.seed);
            let adam = AdamState::new(params.values.iter().map(Vec::len));
            (train_split.normalization(&features), params, adam, None)
        }
        Some(ck) => {
            let fresh = AdamState::new(ck.params.values.iter().map(Vec::len));
            if args.resume.is_some() {
                let state: TrainState =
                    serde_json::from_str(ck.train_state.as_deref().unwrap_or("")).context(
                        "--resume: the checkpoint has no training state (use a last.safetensors)",
                    )?;
                state
                    .check()
                    .context("--resume: the checkpoint's training state")?;
                let adam = ck
                    .optimizer
                    .clone()
                    .context("--resume: the checkpoint has no optimizer state")?;
                (
                    ck.normalization.clone(),
                    ck.params.clone(),
                    adam,
                    Some(state),
                )
            } else {
                (ck.normalization.clone(), ck.params.clone(), fresh, None)
            }
        }
    };
    let mut state = state.unwrap_or(TrainState {
        epochs_done: 0,
        next_batch: 0,
        partial: TrainSums::default(),
        lr: args.lr,
        scheduler: ReduceLrOnPlateau::new(args.scheduler_factor, args.scheduler_patience),
        best_val_loss: f64::INFINITY,
        bad_epochs: 0,
        history: Vec::new(),
    });
    let (mut engine, device_line) = engine::select(args.device, &config, params, adam)?;

    let log_path = args.logs.join(format!(
        "training_{}.log",
        chrono::Local::now().format("%Y%m%d_%H%M%S")
    ));
    let file = File::create(&log_path)
        .with_context(|| format!("--logs: cannot create {}", log_path.display()))?;
    let mut log = Log { file };
    log.line(&format!(
        "hrcast {} training, log {}",
        env!("CARGO_PKG_VERSION"),
        log_path.display()
    ));
    log.line(&device_line);
    let largest_batch = (args.batch_size as usize).min(train_split.n);
    if let Some(note) = engine.batch_note(largest_batch, train_split.seq_len) {
        log.line(&note);
    }
    log.line(&format!("config: {}", serde_json::to_string(&config)?));
    log.line(&format!(
        "data: {} ({} train windows, {} validation windows of {} steps at {} s)",
        data.display(),
        train_split.n,
        val_split.n,
        train_split.seq_len,
        train_split.interval_s
    ));
    log.line(&format!(
        "training: batch {} lr {} weight decay {} clip {} epochs {} patience {} scheduler factor {} patience {} masking {} seed {}{}",
        args.batch_size,
        state.lr,
        args.weight_decay,
        args.grad_clip,
        args.epochs,
        args.patience,
        args.scheduler_factor,
        args.scheduler_patience,
        args.use_masking,
        args.seed,
        match (&args.resume, &args.init) {
            (Some(p), _) => format!(", resumed from {} after epoch {}", p.display(), state.epochs_done),
            (_, Some(p)) => format!(", initialised from {}", p.display()),
            _ => String::new(),
        }
    ));
    log.line(&format!("parameters: {}", config.param_count()));

    let best_path = args.checkpoints.join("best_model.safetensors");
    let last_path = args.checkpoints.join("last.safetensors");
    let batch_size = args.batch_size as usize;
    let n_batches = train_split.n.div_ceil(batch_size);
    let save = |engine: &dyn Engine,
                state: &TrainState,
                path: &Path,
                val_loss: f64,
                val_mae: f64|
     -> Result<()> {
        let adam = engine.optimizer()?;
        Checkpoint {
            config: config.clone(),
            normalization: normalization.clone(),
            params: engine.params()?,
            step: adam.step,
            optimizer: Some(adam),
            epoch: state.epochs_done,
            val_loss,
            val_mae,
            lr: state.lr,
            seed: args.seed,
            interval_s: train_split.interval_s,
            seq_len: train_split.seq_len,
            train_state: Some(serde_json::to_string(state)?),
        }
        .save(path)
    };

    let mut interrupted = false;
    while state.epochs_done < u64::from(args.epochs) {
        let epoch = state.epochs_done + 1;
        let epoch_start = Instant::now();
        let mut order: Vec<usize> = (0..train_split.n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(
            args.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        let step = StepConfig {
            lr: state.lr,
            weight_decay: args.weight_decay,
            grad_clip: args.grad_clip,
            use_masking: args.use_masking,
            seed: args.seed,
        };
        let bar = ProgressBar::new(n_batches as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} batches {elapsed} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(epoch.to_string());
        bar.set_position(state.next_batch as u64);
        for b in state.next_batch..n_batches {
            let rows = &order[b * batch_size..((b + 1) * batch_size).min(train_split.n)];
            engine.train_step(&train_split.batch(rows, &features, &normalization), &step)?;
            bar.inc(1);
            if INTERRUPTED.load(Ordering::SeqCst) && b + 1 < n_batches {
                state.partial += engine.take_train_sums()?;
                state.next_batch = b + 1;
                interrupted = true;
                break;
            }
        }
        bar.finish_and_clear();
        if state.history.is_empty() {
            let counts = engine.step_counts();
            if counts.dispatches > 0 {
                log.line(&format!(
                    "one training step: {} dispatches, {} submit{}, {} read-backs",
                    counts.dispatches,
                    counts.submits,
                    if counts.submits == 1 { "" } else { "s" },
                    counts.readbacks
                ));
            }
        }
        if interrupted {
            let last = state
                .history
                .last()
                .map_or((f64::NAN, f64::NAN), |r| (r.val_loss, r.val_mae));
            save(engine.as_ref(), &state, &last_path, last.0, last.1)?;
            log.line(&format!(
                "interrupted in epoch {epoch} after {} of {n_batches} batches: saved {} (continue with --resume {})",
                state.next_batch,
                last_path.display(),
                last_path.display()
            ));
            break;
        }
        let mut sums = std::mem::take(&mut state.partial);
        sums += engine.take_train_sums()?;
        let (val_loss, val_mae) = validate(
            engine.as_mut(),
            &val_split,
            &features,
            &normalization,
            batch_size,
            args.use_masking,
        )?;
        let record = EpochRecord {
            epoch,
            train_loss: sums.loss / sums.batches.max(1) as f64,
            val_loss,
            train_mae: sums.abs_error / sums.valid_steps.max(1.0) * normalization.hr_std,
            val_mae,
            lr: state.lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        ensure!(
            record.train_loss.is_finite() && val_loss.is_finite(),
            "training diverged in epoch {epoch}: the training loss is {} and the validation loss \
             {val_loss} (try a lower --lr than {}); {}",
            record.train_loss,
            state.lr,
            if best_path.exists() && state.best_val_loss.is_finite() {
                format!("the best model so far is {}", best_path.display())
            } else {
                "no model was saved".to_string()
            }
        );
        state.history.push(record.clone());
        state.epochs_done = epoch;
        state.next_batch = 0;
        let improved = val_loss < state.best_val_loss;
        if improved {
            state.best_val_loss = val_loss;
            state.bad_epochs = 0;
        } else {
            state.bad_epochs += 1;
        }
        let new_lr = state.scheduler.step(val_loss, state.lr);
        log.line(&format!(
            "epoch {epoch:>3}/{}  train loss {:.4}  val loss {:.4}  train MAE {:.2} bpm  val MAE {:.2} bpm  lr {:.2e}  {:.1} s{}",
            args.epochs,
            record.train_loss,
            val_loss,
            record.train_mae,
            val_mae,
            record.lr,
            record.seconds,
            if improved { "  (best)" } else { "" }
        ));
        if new_lr != state.lr {
            log.line(&format!(
                "learning rate reduced to {new_lr:.2e} (no improvement for {} epochs)",
                args.scheduler_patience + 1
            ));
        }
        state.lr = new_lr;
        if improved {
            save(engine.as_ref(), &state, &best_path, val_loss, val_mae)?;
        }
        save(engine.as_ref(), &state, &last_path, val_loss, val_mae)?;
        curves(&args.results.join("training_curves.png"), &state.history)?;
        if state.bad_epochs >= args.patience {
            log.line(&format!(
                "early stopping: no improvement for {} epochs",
                args.patience
            ));
            break;
        }
    }
    let best = state
        .history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .cloned();
    let report = TrainReport {
        best_checkpoint: best.as_ref().and(Some(best_path)).filter(|p| p.exists()),
        data,
        best_val_loss: best.as_ref().map_or(f64::NAN, |r| r.val_loss),
        best_val_mae: best.as_ref().map_or(f64::NAN, |r| r.val_mae),
        epochs: state.epochs_done,
        params: config.param_count(),
        seconds: started.elapsed().as_secs_f64(),
        interrupted,
    };
    match &report.best_checkpoint {
        Some(path) => log.line(&format!(
            "done: {} epochs, best val loss {:.4} (MAE {:.2} bpm) in {}, {:.1} s",
            report.epochs,
            report.best_val_loss,
            report.best_val_mae,
            path.display(),
            report.seconds
        )),
        None => log.line(&format!(
            "done: {} epochs, no best model written, {:.1} s",
            report.epochs, report.seconds
        )),
    }
    if best.is_some() {
        let (mean_loss, mean_mae) = mean_baseline(
            &val_split,
            &features,
            &normalization,
            batch_size,
            args.use_masking,
        )?;
        if report.best_val_loss >= mean_loss {
            let warning = format!(
                "WARNING: the best model (val loss {:.4}, MAE {:.2} bpm) is no better than \
                 predicting the training mean heart rate ({:.1} bpm) at every step (val loss \
                 {mean_loss:.4}, MAE {mean_mae:.2} bpm): it has learnt nothing usable. Check the \
                 learning rate (--lr {}), the data, or train longer.",
                report.best_val_loss, report.best_val_mae, normalization.hr_mean, args.lr
            );
            eprintln!("{warning}");
            let _ = writeln!(log.file, "{warning}");
        }
    }
    Ok(report)
}
