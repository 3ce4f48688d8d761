//! The processed data that `train` and `evaluate` read when no folder is named: `DATA/processed`
//! if it holds a training split, else a default synthetic data set, generated and prepared on
//! first use in a folder of its own (docs/cli.md).

use super::command::prepare;
use super::options::{PrepareOptions, SplitBy};
use crate::synth::{self, SynthOptions};
use anyhow::{Result, ensure};
use std::path::{Path, PathBuf};

/// Users in the default synthetic data set made when `--data` holds no data.
pub const DEFAULT_SYNTH_USERS: u32 = 20;
/// Workouts per user in the default synthetic data set.
pub const DEFAULT_SYNTH_WORKOUTS: u32 = 5;
/// Seed of the default synthetic data set.
pub const DEFAULT_SYNTH_SEED: u64 = 2024;

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

/// The test split `evaluate --data` names: the file given, or `test.safetensors` of a given
/// processed-data folder (the folder `train --data` takes); without `--data`, that of the folder
/// [`existing_default_data`] finds, else of [`DEFAULT_DATA`].
pub fn test_file(data: Option<&Path>) -> PathBuf {
    let folder = match data {
        Some(data) if !data.is_dir() => return data.to_path_buf(),
        Some(data) => data.to_path_buf(),
        None => existing_default_data().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
    };
    folder.join("test.safetensors")
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
    let summary = prepare(&PrepareOptions {
        inputs: vec![raw],
        history: Vec::new(),
        out: processed.clone(),
        seq_len: 500,
        whole_workouts: false,
        interval_s: 5.0,
        split: [0.8, 0.1, 0.1],
        split_by: SplitBy::User,
        seed: 0,
        profile: Default::default(),
        threads: None,
    })?;
    print!("{summary}");
    Ok(processed)
}
