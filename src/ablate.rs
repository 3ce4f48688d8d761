//! `hrcast ablate`: one model per feature set (docs/model.md), trained with the same seed, split and
//! options, each evaluated on the test split; a table of MAE, RMSE, R², parameters and training
//! time in `<results>/ablation.md` and `<results>/ablation.csv`. Each set's checkpoints, curves
//! and evaluation files go to `<results>/ablation/<set>/`.
//!
//! The command in its parts: [`AblateOptions`] give an [`AblateConfig`]; [`ablate_splits`]
//! trains ([`train::fit`]) and evaluates ([`evaluate::evaluate_split`]) each set's model on
//! splits in memory, read once, and [`write()`] writes the tables.

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::dataset::Split;
use crate::evaluate::{self, EvaluateConfig, Labels};
use crate::features::parse_feature_list;
use crate::prepare::default_data;
use crate::train::{self, Architecture, Folders, Splits, TrainConfig, TrainOptions};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// The feature sets `hrcast ablate` compares by default.
const DEFAULT_SETS: &str = "baseline,lags,derivatives,rolling,all";

/// `hrcast ablate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct AblateOptions {
    /// Feature sets to compare.
    #[arg(long, default_value = DEFAULT_SETS)]
    pub sets: String,
    /// Training options applied to every model.
    #[command(flatten)]
    pub train: TrainOptions,
}

/// What an ablation compares, and how each model trains.
#[derive(Debug, Clone, PartialEq)]
pub struct AblateConfig {
    /// The feature sets: name (or list) and input indices.
    pub sets: Vec<(String, Vec<usize>)>,
    /// Every model's training (`folders.results` is where the tables and ablation/ go); no
    /// model starts from a checkpoint.
    pub train: TrainConfig,
}

impl Default for AblateConfig {
    fn default() -> Self {
        AblateConfig {
            sets: feature_sets(DEFAULT_SETS).expect("the default sets parse"),
            train: TrainConfig::default(),
        }
    }
}

/// The feature sets of a comma list, each with its input indices.
fn feature_sets(list: &str) -> Result<Vec<(String, Vec<usize>)>> {
    list.split(',')
        .map(|s| {
            Ok((
                s.trim().to_string(),
                parse_feature_list(s).with_context(|| format!("--sets {s}"))?,
            ))
        })
        .collect()
}

impl AblateOptions {
    /// The ablation the flags ask for (`--init` and `--resume` do not apply).
    pub fn config(&self) -> Result<AblateConfig> {
        Ok(AblateConfig {
            sets: feature_sets(&self.sets)?,
            train: TrainConfig {
                start: None,
                ..self.train.config()
            },
        })
    }
}

/// One row of the ablation table.
#[derive(Debug, Clone)]
pub struct AblationRow {
    /// Feature set name (or list).
    pub set: String,
    /// Number of input features.
    pub inputs: usize,
    /// Test MAE, bpm.
    pub mae: f64,
    /// Test RMSE, bpm.
    pub rmse: f64,
    /// Test R².
    pub r2: f64,
    /// Trainable parameters.
    pub params: usize,
    /// Training wall time, seconds.
    pub seconds: f64,
    /// Epochs trained.
    pub epochs: u64,
}

/// Trains and evaluates one model per feature set of `--sets` on the splits of `--data`, read
/// once, and writes the tables.
pub fn ablate(options: &AblateOptions) -> Result<Vec<AblationRow>> {
    let config = options.config()?;
    atomic::writable_folder(&config.train.folders.results, "--results")?;
    let data = default_data::data_folder(options.train.data.as_deref())?;
    let splits = Splits::read(&data)?;
    let test_path = data.join("test.safetensors");
    let test = Split::read(&test_path).context("--data")?;
    let test_name = test_path.display().to_string();
    let rows = ablate_splits(&splits, &test, &test_name, &config)?;
    let data = format!("trained on {}, tested on {test_name}", data.display());
    print!("{}", write(&config.train.folders.results, &rows, &data)?);
    Ok(rows)
}

/// Trains one model per feature set of `config` on `splits` and evaluates it on `test` (named
/// `test_name`); each set's checkpoints, curves and evaluation files go to
/// `<results>/ablation/<set>/`.
pub fn ablate_splits(
    splits: &Splits,
    test: &Split,
    test_name: &str,
    config: &AblateConfig,
) -> Result<Vec<AblationRow>> {
    let base = &config.train;
    let mut rows = Vec::new();
    for (name, features) in &config.sets {
        let dir = base.folders.results.join("ablation").join(name);
        println!("== feature set {name} ({} features) ==", features.len());
        let set_config = TrainConfig {
            architecture: Architecture {
                features: Some(features.clone()),
                ..base.architecture.clone()
            },
            folders: Folders {
                checkpoints: dir.join("checkpoints"),
                results: dir.clone(),
                logs: base.folders.logs.clone(),
            },
            ..base.clone()
        };
        let report = train::fit(splits, &set_config)?;
        let checkpoint = report
            .best_checkpoint
            .clone()
            .with_context(|| format!("feature set {name}: no best model was written"))?;
        let ck = Checkpoint::load(&checkpoint).context("--checkpoint")?;
        let mut engine = engine_for(&ck, base.device)?;
        let labels = Labels {
            checkpoint: checkpoint.display().to_string(),
            data: test_name.to_string(),
            whole_workouts: false,
        };
        let evaluation = evaluate::evaluate_split(
            engine.as_mut(),
            &ck,
            test,
            labels,
            &EvaluateConfig {
                device: base.device,
                ..EvaluateConfig::default()
            },
            &BTreeMap::new(),
        )
        .with_context(|| format!("--data {test_name}"))?;
        evaluate::write(&dir, test, &evaluation)?;
        let metrics = evaluation.metrics;
        rows.push(AblationRow {
            set: name.clone(),
            inputs: features.len(),
            mae: metrics.mae,
            rmse: metrics.rmse,
            r2: metrics.r2,
            params: report.params,
            seconds: report.seconds,
            epochs: report.epochs,
        });
    }
    Ok(rows)
}

/// Writes ablation.md and ablation.csv into `results`; returns the Markdown: a line saying
/// which data (`data`), then the table.
pub fn write(results: &Path, rows: &[AblationRow], data: &str) -> Result<String> {
    let mut md = format!("One model per feature set, {data}.\n\n");
    md.push_str(
        "| feature set | inputs | test MAE (bpm) | test RMSE (bpm) | test R² | parameters | epochs | training time (s) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut csv = String::from("set,inputs,mae,rmse,r2,params,epochs,train_seconds\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.2} | {:.3} | {} | {} | {:.1} |",
            r.set, r.inputs, r.mae, r.rmse, r.r2, r.params, r.epochs, r.seconds
        );
        let _ = writeln!(
            csv,
            "{},{},{:.4},{:.4},{:.4},{},{},{:.2}",
            r.set, r.inputs, r.mae, r.rmse, r.r2, r.params, r.epochs, r.seconds
        );
    }
    atomic::write_all(&[
        (results.join("ablation.md"), md.clone().into_bytes()),
        (results.join("ablation.csv"), csv.into_bytes()),
    ])?;
    Ok(md)
}

/// Runs `hrcast ablate` from the command line: ablates, then says where the table went.
pub fn run(options: &AblateOptions) -> Result<ExitCode> {
    ablate(options)?;
    println!(
        "wrote {}",
        options.train.results.join("ablation.md").display()
    );
    Ok(ExitCode::SUCCESS)
}
