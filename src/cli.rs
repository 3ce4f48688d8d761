//! The command line (SPEC §2). Flags are kebab-case; the PyTorch tool's underscore spellings are
//! accepted as aliases.

use crate::engine::Device;
use crate::features::parse_feature_list;
use crate::model::Cell;
use crate::prepare::{self, PrepareOptions, SplitBy, parse_split};
use crate::synth::{self, SynthOptions};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Heart-rate prediction with LSTM and GRU models on any GPU (wgpu) or the CPU.
#[derive(Debug, Parser)]
#[command(name = "hrcast", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic workouts in the FitRec JSON-lines format.
    Synth(SynthArgs),
    /// Read raw workouts and write the processed train/val/test files.
    Prepare(PrepareArgs),
    /// Train a model.
    Train(TrainArgs),
    /// Evaluate a checkpoint: metrics, predictions, plots.
    Evaluate(EvaluateArgs),
    /// Predict heart rate for one raw workout file.
    Predict(PredictArgs),
    /// Train one model per feature set and tabulate the results.
    Ablate(AblateArgs),
    /// List the GPU adapters wgpu finds.
    Devices,
    /// Time training steps and evaluation on one device.
    Bench(BenchArgs),
}

/// `hrcast synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Folder to write endomondoHR_proper.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of simulated people.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub users: u32,
    /// Workouts per person.
    #[arg(long, alias = "workouts_per_user", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub workouts_per_user: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `hrcast prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "DATA/processed")]
    pub out: PathBuf,
    /// Steps per window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=crate::dataset::MAX_SEQ_LEN as i64))]
    pub seq_len: u32,
    /// Grid interval in seconds (0.1 to 3600).
    #[arg(long, default_value_t = 5.0, value_parser = grid_seconds)]
    pub interval: f64,
    /// Shares of train, val and test.
    #[arg(long, default_value = "0.8,0.1,0.1", value_parser = parse_split)]
    pub split: [f64; 3],
    /// How workouts are assigned to splits.
    #[arg(long, alias = "split_by", value_enum, default_value_t = SplitBy::User)]
    pub split_by: SplitBy,
    /// Seed of the user shuffle.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn grid_seconds(text: &str) -> Result<f64, String> {
    use crate::prepare::{MAX_INTERVAL_S, MIN_INTERVAL_S};
    match text.parse::<f64>() {
        Ok(v) if (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number of seconds from {MIN_INTERVAL_S} to {MAX_INTERVAL_S}, got {text:?}"
        )),
    }
}

fn unit_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number in [0, 1), got {text:?}")),
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a non-negative number, got {text:?}")),
    }
}

/// A `--features` value: indices into [`crate::features::FEATURE_NAMES`], in checkpoint order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureList(pub Vec<usize>);

fn feature_list(text: &str) -> Result<FeatureList, String> {
    parse_feature_list(text)
        .map(FeatureList)
        .map_err(|e| e.to_string())
}

/// `hrcast train` options (SPEC §2), defaults of the reference configuration. Architecture
/// flags are optional so that, with `--init` or `--resume`, one that contradicts the
/// checkpoint can be told from one left at its default.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Recurrent cell [default: lstm].
    #[arg(long, value_enum)]
    pub model: Option<Cell>,
    /// Hidden units per direction and layer [default: 128].
    #[arg(long, alias = "hidden_size", value_parser = clap::value_parser!(u32).range(1..))]
    pub hidden_size: Option<u32>,
    /// Recurrent layers [default: 2].
    #[arg(long, alias = "num_layers", value_parser = clap::value_parser!(u32).range(1..))]
    pub num_layers: Option<u32>,
    /// Dropout between recurrent layers.
    #[arg(long, default_value_t = 0.3, value_parser = unit_interval)]
    pub dropout: f64,
    /// Bidirectional recurrent layers.
    #[arg(long)]
    pub bidirectional: bool,
    /// Windows per batch.
    #[arg(long, alias = "batch_size", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Learning rate.
    #[arg(long, default_value_t = 0.0005, value_parser = non_negative)]
    pub lr: f64,
    /// L2 weight decay added to the gradient.
    #[arg(long, alias = "weight_decay", default_value_t = 1e-4, value_parser = non_negative)]
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    #[arg(long, alias = "grad_clip", default_value_t = 1.0, value_parser = non_negative)]
    pub grad_clip: f64,
    /// Maximum epochs.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: u32,
    /// Early-stopping patience in epochs.
    #[arg(long, default_value_t = 10)]
    pub patience: u32,
    /// ReduceLROnPlateau factor.
    #[arg(long, alias = "scheduler_factor", default_value_t = 0.5, value_parser = unit_interval)]
    pub scheduler_factor: f64,
    /// ReduceLROnPlateau patience in epochs.
    #[arg(long, alias = "scheduler_patience", default_value_t = 5)]
    pub scheduler_patience: u32,
    /// Masked MSE (true) or the plain mean over all steps (false).
    #[arg(long, alias = "use_masking", default_value_t = true, action = clap::ArgAction::Set)]
    pub use_masking: bool,
    /// `all`, a feature set (baseline, lags, derivatives, rolling) or a comma list of names
    /// [default: all].
    #[arg(long, value_parser = feature_list)]
    pub features: Option<FeatureList>,
    /// Folder with train/val/test.safetensors [default: DATA/processed if it holds a training
    /// split, else the default synthetic set in DATA/synthetic, generated on first use].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Start from this checkpoint's weights and normalization (fine-tuning).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (weights, optimizer, scheduler, epoch).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Checkpoint folder.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Log folder.
    #[arg(long, default_value = "logs")]
    pub logs: PathBuf,
}

/// `hrcast evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Checkpoint to evaluate.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Processed data file [default: test.safetensors of DATA/processed, or of the default
    /// synthetic set in DATA/synthetic/processed when DATA/processed holds no data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Raw workout files or folders (FIT, TCX, GPX, FitRec) to evaluate on instead of --data,
    /// prepared in memory with the checkpoint's features, interval and window length.
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub input: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Maximal heart rate for the zones.
    #[arg(long, alias = "hr_max", default_value_t = crate::evaluate::DEFAULT_HR_MAX, value_parser = non_negative)]
    pub hr_max: f64,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
}

/// `hrcast predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Checkpoint to predict with.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Raw workout file (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long)]
    pub input: PathBuf,
    /// CSV file to write [default: results/<input name>_predictions.csv].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
}

/// `hrcast ablate`.
#[derive(Debug, Args)]
pub struct AblateArgs {
    /// Feature sets to compare.
    #[arg(long, default_value = "baseline,lags,derivatives,rolling,all")]
    pub sets: String,
    /// Training options applied to every model.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `hrcast bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Recurrent cell.
    #[arg(long, value_enum, default_value_t = Cell::Lstm)]
    pub model: Cell,
    /// Windows per batch.
    #[arg(long, alias = "batch_size", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Steps per window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub seq_len: u32,
    /// Hidden units.
    #[arg(long, alias = "hidden_size", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub hidden_size: u32,
    /// Recurrent layers.
    #[arg(long, alias = "num_layers", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub num_layers: u32,
    /// Timed steps.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
    /// One JSON object on one line.
    #[arg(long)]
    pub json: bool,
    /// Also time each kernel of a step alone (GPU engine): where the step's time goes.
    #[arg(long)]
    pub profile: bool,
}

/// The exit status of a run that Ctrl-C ended (128 + SIGINT), after saving its state.
const EXIT_INTERRUPTED: u8 = 130;

/// Parses the command line and runs the command; the exit status on success.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Synth(args) => {
            let path = synth::synth(&SynthOptions {
                out: args.out,
                users: args.users as usize,
                workouts_per_user: args.workouts_per_user as usize,
                seed: args.seed,
            })?;
            println!(
                "wrote {} ({} users x {} workouts)",
                path.display(),
                args.users,
                args.workouts_per_user
            );
        }
        Command::Prepare(args) => {
            let summary = prepare::prepare(&PrepareOptions {
                inputs: args.input,
                out: args.out,
                seq_len: args.seq_len as usize,
                interval_s: args.interval,
                split: args.split,
                split_by: args.split_by,
                seed: args.seed,
            })?;
            prepare::warn(&summary.cleaned, &summary.skipped);
            for ((name, (windows, _, _)), share) in prepare::SPLIT_NAMES
                .iter()
                .zip(&summary.splits)
                .zip(args.split)
            {
                if *windows == 0 && share > 0.0 {
                    eprintln!("warning: the {name} split is empty (too few workouts)");
                }
            }
            print!("{summary}");
        }
        Command::Train(args) => {
            if crate::train::train(&args)?.interrupted {
                return Ok(ExitCode::from(EXIT_INTERRUPTED));
            }
        }
        Command::Evaluate(args) => {
            let metrics = crate::evaluate::evaluate(&crate::evaluate::EvaluateOptions {
                checkpoint: args.checkpoint,
                data: args.data.unwrap_or_else(|| {
                    crate::train::existing_default_data()
                        .unwrap_or_else(|| PathBuf::from(crate::train::DEFAULT_DATA))
                        .join("test.safetensors")
                }),
                input: args.input,
                out: args.out.clone(),
                hr_max: args.hr_max,
                device: args.device,
            })?;
            print!("{}", crate::evaluate::table(&metrics));
            println!(
                "wrote metrics, predictions and plots to {}",
                args.out.display()
            );
        }
        Command::Predict(args) => {
            let p = crate::predict::predict(
                &args.checkpoint,
                &args.input,
                args.out.as_deref(),
                args.device,
            )?;
            match p.mae {
                Some(mae) => println!(
                    "wrote {} ({} steps; MAE {mae:.2} bpm against the recorded heart rate)",
                    p.path.display(),
                    p.steps
                ),
                None => println!("wrote {} ({} steps)", p.path.display(), p.steps),
            }
        }
        Command::Ablate(args) => {
            crate::ablate::ablate(&args.sets, &args.train)?;
            println!("wrote {}", args.train.results.join("ablation.md").display());
        }
        Command::Devices => print!("{}", crate::engine::gpu::devices_report()),
        Command::Bench(args) => {
            let report = crate::bench::bench(&args)?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", crate::bench::table(&report));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
