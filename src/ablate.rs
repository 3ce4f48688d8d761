//! `hrcast ablate`: one model per feature set (docs/model.md), trained with the same seed, split and
//! options, each evaluated on the test split; a table of MAE, RMSE, R², parameters and training
//! time in `<results>/ablation.md` and `<results>/ablation.csv`. Each set's checkpoints, curves
//! and evaluation files go to `<results>/ablation/<set>/`.

use crate::atomic;
use crate::evaluate::{self, EvaluateOptions};
use crate::features::parse_feature_list;
use crate::prepare::default_data;
use crate::train::{self, Architecture, Folders, Splits, TrainConfig, TrainOptions};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// `hrcast ablate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct AblateOptions {
    /// Feature sets to compare.
    #[arg(long, default_value = "baseline,lags,derivatives,rolling,all")]
    pub sets: String,
    /// Training options applied to every model.
    #[command(flatten)]
    pub train: TrainOptions,
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

/// Trains ([`train::fit`]) and evaluates one model per feature set of `--sets` on the splits of
/// `--data`, read once, and writes the tables.
pub fn ablate(options: &AblateOptions) -> Result<Vec<AblationRow>> {
    let sets: Vec<(String, Vec<usize>)> = options
        .sets
        .split(',')
        .map(|s| {
            Ok((
                s.trim().to_string(),
                parse_feature_list(s).with_context(|| format!("--sets {s}"))?,
            ))
        })
        .collect::<Result<_>>()?;
    let base = TrainConfig {
        start: None,
        ..options.train.config()
    };
    atomic::writable_folder(&base.folders.results, "--results")?;
    let data = default_data::data_folder(options.train.data.as_deref())?;
    let splits = Splits::read(&data)?;
    let mut rows = Vec::new();
    for (name, features) in sets {
        let dir = base.folders.results.join("ablation").join(&name);
        println!("== feature set {name} ({} features) ==", features.len());
        let config = TrainConfig {
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
        let report = train::fit(&splits, &config)?;
        let checkpoint = report
            .best_checkpoint
            .clone()
            .with_context(|| format!("feature set {name}: no best model was written"))?;
        let metrics = evaluate::evaluate(&EvaluateOptions {
            checkpoint,
            data: Some(data.join("test.safetensors")),
            input: Vec::new(),
            whole_workouts: false,
            out: dir,
            hr_max: evaluate::DEFAULT_HR_MAX,
            device: base.device,
        })?;
        rows.push(AblationRow {
            set: name,
            inputs: features.len(),
            mae: metrics.mae,
            rmse: metrics.rmse,
            r2: metrics.r2,
            params: report.params,
            seconds: report.seconds,
            epochs: report.epochs,
        });
    }
    print!("{}", write(&base.folders.results, &rows)?);
    Ok(rows)
}

/// Writes ablation.md and ablation.csv into `results`; returns the Markdown table.
fn write(results: &Path, rows: &[AblationRow]) -> Result<String> {
    let mut md = String::from(
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
