//! The command line (docs/cli.md): parses the arguments and hands each subcommand's options,
//! which its own module defines, to that module's `run`. Flags are kebab-case; the PyTorch
//! tool's underscore spellings are accepted as aliases.

use crate::ablate::{self, AblateOptions};
use crate::bench::{self, BenchOptions};
use crate::calibrate::{self, CalibrateOptions};
use crate::crossval::{self, CrossvalOptions};
use crate::engine::ComputeArgs;
use crate::evaluate::{self, EvaluateOptions};
use crate::people::{self, PeopleOptions};
use crate::predict::{self, PredictOptions};
use crate::prepare::{self, PrepareOptions};
use crate::synth::{self, SynthOptions};
use crate::train::{self, TrainOptions};
use crate::tune;
use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    Synth(SynthOptions),
    /// Read raw workouts and write the processed train/val/test files.
    Prepare(PrepareOptions),
    /// Train a model.
    Train(TrainOptions),
    /// Evaluate a checkpoint: metrics, predictions, plots.
    Evaluate(EvaluateOptions),
    /// Predict heart rate for a raw workout file, a planned route (--pace), or a folder of them.
    Predict(PredictOptions),
    /// Train one model per feature set and tabulate the results.
    Ablate(AblateOptions),
    /// Fine-tune a trained model on one person's own workouts (personal calibration).
    Calibrate(CalibrateOptions),
    /// Cross-validate across people: train without each fold's people, test on them.
    Crossval(CrossvalOptions),
    /// Summarize each person's workouts per sport: heart rate, speed, heart rate per km/h.
    People(PeopleOptions),
    /// List the GPU adapters wgpu finds.
    Devices,
    /// Time training steps and evaluation on one device.
    Bench(BenchOptions),
}

impl Command {
    /// The `--device` and `--threads` of a command that computes; `None` for the others.
    pub fn compute(&self) -> Option<&ComputeArgs> {
        match self {
            Command::Train(options) => Some(&options.compute),
            Command::Evaluate(options) => Some(&options.compute),
            Command::Predict(options) => Some(&options.compute),
            Command::Ablate(options) => Some(&options.train.compute),
            Command::Calibrate(options) => Some(&options.compute),
            Command::Crossval(options) => Some(&options.train.compute),
            Command::Bench(options) => Some(&options.compute),
            Command::Synth(_) | Command::Prepare(_) | Command::People(_) | Command::Devices => None,
        }
    }
}

/// The command line's definition: [`Cli`]'s, with every flag that takes a value taking a
/// negative number too, so that `--lr -1` meets the flag's own check ("expected a non-negative
/// number") instead of reading as an unknown flag `-1`.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| {
        sub.mut_args(|arg| {
            let takes_value = arg.get_action().takes_values();
            arg.allow_negative_numbers(takes_value)
        })
    })
}

/// Parses the command line and runs the command; the exit status on success.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|err| err.exit());
    if let Some(compute) = cli.command.compute() {
        compute.use_threads()?;
    }
    match cli.command {
        Command::Synth(options) => synth::run(&options),
        Command::Prepare(options) => prepare::run(&options),
        Command::Train(options) => train::run(&options),
        Command::Evaluate(options) => evaluate::run(&options),
        Command::Predict(options) => predict::run(&options),
        Command::Ablate(options) => ablate::run(&options),
        Command::Calibrate(options) => calibrate::run(&options),
        Command::Crossval(options) => crossval::run(&options),
        Command::People(options) => people::run(&options),
        Command::Devices => {
            print!("{}", crate::engine::gpu::devices_report());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(options) if options.tune => tune::run(&options),
        Command::Bench(options) => bench::run(&options),
    }
}
