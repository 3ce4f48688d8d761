//! A training run between its phases: [`Run::start`] restores or initializes the model and puts
//! it on an engine, [`Run::epoch`] trains one epoch, [`Run::end_epoch`] validates, schedules,
//! stops early, saves and plots, and [`Run::report`] reports.

use super::batches;
use super::config::{StartFrom, TrainConfig};
use super::curves::curves;
use super::log::Log;
use super::splits::Splits;
use super::state::{EpochRecord, TrainState, best_epoch};
use crate::checkpoint::{Checkpoint, TrainedOn};
use crate::data::{NUM_HISTORY_INPUTS, NUM_PROFILE_INPUTS, PERSON_INPUT_NAMES};
use crate::dataset::Split;
use crate::engine::optim::AdamState;
use crate::engine::{self, Engine, StepConfig};
use crate::features::{NUM_FEATURES, feature_indices};
use crate::model::{HrLevel, ModelConfig, Normalization, Params};
use crate::score::{BatchRows, Scoring, mean_baseline, validate};
use anyhow::{Context, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Set by Ctrl-C; the loop saves `last` and stops after the current batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C stop a run after its current batch (from now on, until the process ends).
pub fn stop_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// What a finished training run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The best checkpoint, if one was written.
    pub best_checkpoint: Option<PathBuf>,
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

/// Where a run starts: the model, its weights and optimizer, and the counters.
struct Start {
    model: ModelConfig,
    features: Vec<usize>,
    normalization: Normalization,
    params: Params<f32>,
    adam: AdamState<f32>,
    state: TrainState,
}

/// Restores the checkpoint of `--resume` (weights, normalization, optimizer and counters) or of
/// `--init` (weights and normalization), or initializes a new model whose normalization is the
/// training split's.
fn restore_or_initialize(config: &TrainConfig, train_split: &Split) -> Result<Start> {
    let checkpoint = config
        .start
        .as_ref()
        .map(|from| Checkpoint::load(from.path()).context(from.flag()))
        .transpose()?;
    let model = config.model(checkpoint.as_ref())?;
    let features = feature_indices(&model.features)?;
    let resume = matches!(config.start, Some(StartFrom::Resume(_)));
    let (normalization, params, adam, state) = match checkpoint {
        None => {
            let params: Params<f32> = Params::init(&model, config.seed);
            let adam = AdamState::for_params(&params);
            let normalization = Normalization {
                hr_level: config.hr_level,
                ..train_split.normalization(&features)
            };
            (normalization, params, adam, None)
        }
        Some(ck) if resume => {
            let state: TrainState = serde_json::from_str(ck.train_state.as_deref().unwrap_or(""))
                .context(
                "--resume: the checkpoint has no training state (use a last.safetensors)",
            )?;
            state
                .check()
                .context("--resume: the checkpoint's training state")?;
            let adam = ck
                .optimizer
                .context("--resume: the checkpoint has no optimizer state")?;
            (ck.normalization, ck.params, adam, Some(state))
        }
        Some(ck) => {
            let adam = AdamState::for_params(&ck.params);
            (ck.normalization, ck.params, adam, None)
        }
    };
    Ok(Start {
        model,
        features,
        normalization,
        params,
        adam,
        state: state.unwrap_or_else(|| TrainState::new(config)),
    })
}

/// A training run between its phases: the splits and the configuration, the model on its
/// engine, the counters and the log.
pub struct Run<'a> {
    config: &'a TrainConfig,
    splits: &'a Splits,
    model: ModelConfig,
    features: Vec<usize>,
    normalization: Normalization,
    engine: Box<dyn Engine>,
    state: TrainState,
    log: Log,
    best_path: PathBuf,
    last_path: PathBuf,
}

impl<'a> Run<'a> {
    /// Restores or initializes a run on `splits`: checks the configuration and the output
    /// folders ([`TrainConfig::check`]) and that both splits hold windows, restores or
    /// initializes the model ([`restore_or_initialize`]), puts it on the engine `device` picks
    /// and opens the log.
    pub fn start(splits: &'a Splits, config: &'a TrainConfig) -> Result<Self> {
        config.check()?;
        ensure!(
            splits.train.n > 0 && splits.val.n > 0,
            "{}: {} training and {} validation windows; training needs both",
            splits.source,
            splits.train.n,
            splits.val.n
        );
        let start = restore_or_initialize(config, &splits.train)?;
        let (engine, device_line) =
            engine::select(config.device, &start.model, start.params, start.adam)?;
        let (log, log_path) = Log::create(&config.folders.logs)?;
        let mut run = Run {
            config,
            splits,
            model: start.model,
            features: start.features,
            normalization: start.normalization,
            engine,
            state: start.state,
            log,
            best_path: config.folders.checkpoints.join("best_model.safetensors"),
            last_path: config.folders.checkpoints.join("last.safetensors"),
        };
        run.log_header(&log_path, &device_line)?;
        Ok(run)
    }

    /// Whether the run has epochs left to train.
    pub fn epochs_left(&self) -> bool {
        self.state.epochs_done < u64::from(self.config.epochs)
    }

    /// Logs what the run is: the version, the device, the configuration, the data and the
    /// training options.
    fn log_header(&mut self, log_path: &Path, device_line: &str) -> Result<()> {
        let (o, split) = (self.config, &self.splits.train);
        let log = &mut self.log;
        log.line(&format!(
            "hrcast {} training, log {}",
            env!("CARGO_PKG_VERSION"),
            log_path.display()
        ));
        log.line(device_line);
        let largest_batch = o.batch_size.min(split.n);
        if let Some(note) = self.engine.batch_note(largest_batch, split.seq_len) {
            log.line(&note);
        }
        log.line(&format!("config: {}", serde_json::to_string(&self.model)?));
        if self.normalization.hr_level == HrLevel::History {
            log.line(&format!(
                "heart rate measured from each person's level in their earlier workouts (the \
                 training mean, {:.1} bpm, where they have none)",
                self.normalization.hr_mean
            ));
        }
        log.line(&format!(
            "data: {} ({} train windows, {} validation windows of {} steps at {} s)",
            self.splits.source, split.n, self.splits.val.n, split.seq_len, split.interval_s
        ));
        for &f in &self.features {
            let Some(p) = f.checked_sub(NUM_FEATURES) else {
                continue;
            };
            let (name, known) = (PERSON_INPUT_NAMES[p], split.person_known(p));
            let line = format!(
                "person input {name}: known in {known} of {} training windows",
                split.n
            );
            if known == 0 {
                log.warning(&format!(
                    "warning: {line}; the model gets the same value for everyone and learns \
                     nothing from it ({})",
                    unknown_input_hint(p)
                ));
            } else {
                log.line(&line);
            }
        }
        log.line(&format!(
            "training: batch {}{} lr {} weight decay {} clip {} epochs {} patience {} scheduler factor {} patience {} masking {} seed {}{}",
            o.batch_size,
            if o.length_buckets {
                " (length buckets)"
            } else {
                ""
            },
            self.state.lr,
            o.weight_decay,
            o.grad_clip,
            o.epochs,
            o.patience,
            o.scheduler_factor,
            o.scheduler_patience,
            o.use_masking,
            o.seed,
            match &o.start {
                Some(StartFrom::Resume(p)) => format!(", resumed from {} after epoch {}", p.display(), self.state.epochs_done),
                Some(StartFrom::Init(p)) => format!(", initialised from {}", p.display()),
                None => String::new(),
            }
        ));
        log.line(&format!("parameters: {}", self.model.param_count()));
        Ok(())
    }

    /// Trains one epoch: shuffles the training windows with (seed, epoch) and takes one
    /// optimizer step per batch, from the batch a resumed run stopped at. Breaks after saving
    /// `last` when Ctrl-C stopped it before its last batch.
    pub fn epoch(&mut self) -> Result<ControlFlow<()>> {
        let o = self.config;
        let epoch = self.state.epochs_done + 1;
        let split = &self.splits.train;
        let batches = batches::epoch_batches(
            &split.length,
            split.seq_len,
            o.batch_size,
            o.seed,
            epoch,
            o.length_buckets,
        );
        let n_batches = batches.len();
        let step = StepConfig {
            lr: self.state.lr,
            weight_decay: o.weight_decay,
            grad_clip: o.grad_clip,
            use_masking: o.use_masking,
            seed: o.seed,
        };
        let bar = progress_bar(epoch, n_batches, self.state.next_batch);
        let mut interrupted = false;
        for (b, BatchRows { rows, steps }) in batches.iter().enumerate() {
            if b < self.state.next_batch {
                continue;
            }
            let batch =
                self.splits
                    .train
                    .batch_of(rows, *steps, &self.features, &self.normalization);
            self.engine.train_step(&batch, &step)?;
            bar.inc(1);
            if INTERRUPTED.load(Ordering::SeqCst) && b + 1 < n_batches {
                self.state.partial += self.engine.take_train_sums()?;
                self.state.next_batch = b + 1;
                interrupted = true;
                break;
            }
        }
        bar.finish_and_clear();
        if self.state.history.is_empty() {
            self.log_step_counts();
        }
        if !interrupted {
            return Ok(ControlFlow::Continue(()));
        }
        let (val_loss, val_mae) = self
            .state
            .history
            .last()
            .map_or((f64::NAN, f64::NAN), |r| (r.val_loss, r.val_mae));
        self.save(&self.last_path, val_loss, val_mae)?;
        self.log.line(&format!(
            "interrupted in epoch {epoch} after {} of {n_batches} batches: saved {} (continue with --resume {})",
            self.state.next_batch,
            self.last_path.display(),
            self.last_path.display()
        ));
        Ok(ControlFlow::Break(()))
    }

    /// Logs the GPU work of one training step (after the first epoch; the CPU engine counts
    /// none).
    fn log_step_counts(&mut self) {
        let counts = self.engine.step_counts();
        if counts.dispatches > 0 {
            self.log.line(&format!(
                "one training step: {} dispatches, {} submit{}, {} read-backs",
                counts.dispatches,
                counts.submits,
                if counts.submits == 1 { "" } else { "s" },
                counts.readbacks
            ));
        }
    }

    /// Ends an epoch: validates it ([`Run::validate_epoch`]), counts epochs without improvement,
    /// steps the learning-rate schedule, logs, saves `best` (on improvement) and `last`, redraws
    /// the curves, and breaks (early stopping) after `--patience` epochs without improvement.
    pub fn end_epoch(&mut self, epoch_start: Instant) -> Result<ControlFlow<()>> {
        let o = self.config;
        let record = self.validate_epoch(epoch_start)?;
        let state = &mut self.state;
        state.history.push(record.clone());
        state.epochs_done = record.epoch;
        state.next_batch = 0;
        let improved = record.val_loss < state.best_val_loss;
        if improved {
            state.best_val_loss = record.val_loss;
            state.bad_epochs = 0;
        } else {
            state.bad_epochs += 1;
        }
        let new_lr = state.scheduler.step(record.val_loss, state.lr);
        self.log.line(&format!(
            "epoch {:>3}/{}  train loss {:.4}  val loss {:.4}  train MAE {:.2} bpm  val MAE {:.2} bpm  lr {:.2e}  {:.1} s{}",
            record.epoch,
            o.epochs,
            record.train_loss,
            record.val_loss,
            record.train_mae,
            record.val_mae,
            record.lr,
            record.seconds,
            if improved { "  (best)" } else { "" }
        ));
        if new_lr != self.state.lr {
            self.log.line(&format!(
                "learning rate reduced to {new_lr:.2e} (no improvement for {} epochs)",
                o.scheduler_patience + 1
            ));
        }
        self.state.lr = new_lr;
        if improved {
            self.save(&self.best_path, record.val_loss, record.val_mae)?;
        }
        self.save(&self.last_path, record.val_loss, record.val_mae)?;
        curves(
            &o.folders.results.join("training_curves.png"),
            &self.state.history,
        )?;
        if self.state.bad_epochs >= o.patience {
            self.log.line(&format!(
                "early stopping: no improvement for {} epochs",
                o.patience
            ));
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Validates the epoch just trained and returns its record; fails when a loss is not finite
    /// (training diverged).
    fn validate_epoch(&mut self, epoch_start: Instant) -> Result<EpochRecord> {
        let epoch = self.state.epochs_done + 1;
        let mut sums = std::mem::take(&mut self.state.partial);
        sums += self.engine.take_train_sums()?;
        let scoring = scoring(self.config, &self.features, &self.normalization);
        let (val_loss, val_mae) = validate(self.engine.as_mut(), &self.splits.val, &scoring)?;
        let record = EpochRecord {
            epoch,
            train_loss: sums.loss / sums.batches.max(1) as f64,
            val_loss,
            train_mae: sums.abs_error / sums.valid_steps.max(1.0) * self.normalization.hr_std,
            val_mae,
            lr: self.state.lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        ensure!(
            record.train_loss.is_finite() && val_loss.is_finite(),
            "training diverged in epoch {epoch}: the training loss is {} and the validation loss \
             {val_loss} (try a lower --lr than {}); {}",
            record.train_loss,
            self.state.lr,
            if self.best_path.exists() && self.state.best_val_loss.is_finite() {
                format!("the best model so far is {}", self.best_path.display())
            } else {
                "no model was saved".to_string()
            }
        );
        Ok(record)
    }

    /// Saves the engine's weights and optimizer with the run's state to `path`.
    fn save(&self, path: &Path, val_loss: f64, val_mae: f64) -> Result<()> {
        let adam = self.engine.optimizer()?;
        Checkpoint {
            config: self.model.clone(),
            normalization: self.normalization.clone(),
            params: self.engine.params()?,
            step: adam.step,
            optimizer: Some(adam),
            epoch: self.state.epochs_done,
            val_loss,
            val_mae,
            lr: self.state.lr,
            seed: self.config.seed,
            interval_s: self.splits.train.interval_s,
            seq_len: self.splits.train.seq_len,
            train_state: Some(serde_json::to_string(&self.state)?),
            trained_on: self.splits.folder.as_ref().map(|folder| TrainedOn {
                folder: folder.display().to_string(),
                set_id: self.splits.train.set_id.clone(),
            }),
        }
        .save(path)
    }

    /// Reports the run: the best epoch and its checkpoint, logged with the time taken, and a
    /// warning when that model is no better than predicting the mean.
    pub fn report(mut self, started: Instant, interrupted: bool) -> Result<TrainReport> {
        let best = best_epoch(&self.state.history).cloned();
        let report = TrainReport {
            best_checkpoint: best
                .as_ref()
                .and(Some(self.best_path.clone()))
                .filter(|p| p.exists()),
            best_val_loss: best.as_ref().map_or(f64::NAN, |r| r.val_loss),
            best_val_mae: best.as_ref().map_or(f64::NAN, |r| r.val_mae),
            epochs: self.state.epochs_done,
            params: self.model.param_count(),
            seconds: started.elapsed().as_secs_f64(),
            interrupted,
        };
        match &report.best_checkpoint {
            Some(path) => self.log.line(&format!(
                "done: {} epochs, best val loss {:.4} (MAE {:.2} bpm) in {}, {:.1} s",
                report.epochs,
                report.best_val_loss,
                report.best_val_mae,
                path.display(),
                report.seconds
            )),
            None => self.log.line(&format!(
                "done: {} epochs, no best model written, {:.1} s",
                report.epochs, report.seconds
            )),
        }
        if best.is_some() {
            self.warn_if_no_better_than_mean(&report)?;
        }
        Ok(report)
    }

    /// Warns when the best model is no better than predicting the training mean heart rate at
    /// every step on the validation split.
    fn warn_if_no_better_than_mean(&mut self, report: &TrainReport) -> Result<()> {
        let o = self.config;
        let (mean_loss, mean_mae) = mean_baseline(
            &self.splits.val,
            &scoring(o, &self.features, &self.normalization),
        )?;
        if report.best_val_loss >= mean_loss {
            self.log.warning(&format!(
                "WARNING: the best model (val loss {:.4}, MAE {:.2} bpm) is no better than \
                 predicting the training mean heart rate ({:.1} bpm) at every step (val loss \
                 {mean_loss:.4}, MAE {mean_mae:.2} bpm): it has learnt nothing usable. Check the \
                 learning rate (--lr {}), the data, or train longer.",
                report.best_val_loss, report.best_val_mae, self.normalization.hr_mean, o.lr
            ));
        }
        Ok(())
    }
}

/// How a run scores its validation split: the model's inputs and normalization, in training's
/// batches, with training's loss.
fn scoring<'s>(
    config: &TrainConfig,
    features: &'s [usize],
    normalization: &'s Normalization,
) -> Scoring<'s> {
    Scoring {
        features,
        normalization,
        batch_size: config.batch_size,
        use_masking: config.use_masking,
    }
}

/// The progress bar of one epoch's batches, at `position` (a resumed epoch's first batch).
fn progress_bar(epoch: u64, n_batches: usize, position: usize) -> ProgressBar {
    let bar = ProgressBar::new(n_batches as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} batches {elapsed} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(epoch.to_string());
    bar.set_position(position as u64);
    bar
}

/// Why person input `p` (an index into [`PERSON_INPUT_NAMES`]) may be known in no training
/// window, and what to do about it.
fn unknown_input_hint(p: usize) -> &'static str {
    if p < NUM_PROFILE_INPUTS {
        "give --resting-hr / --max-hr to prepare"
    } else if p < NUM_PROFILE_INPUTS + NUM_HISTORY_INPUTS {
        "the data has no earlier workout of any person: prepare computes the history from each \
         person's workouts, and from earlier ones given with prepare --history (a file prepared \
         before the history inputs knows none)"
    } else {
        "no workout file of the data named its sport (a file prepared before the sport inputs \
         knows none)"
    }
}
