//! The windows a run trains and validates on, in memory: read from a processed-data folder
//! (`hrcast train --data`), or built by the caller (`hrcast crossval`'s folds, `hrcast
//! calibrate`'s windows).

use crate::dataset::{Split, check_same_set};
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};

/// The training and validation splits of a run, and where they came from (for the log).
#[derive(Debug, Clone)]
pub struct Splits {
    /// The windows trained on.
    pub train: Split,
    /// The windows validated on (early stopping, the learning-rate schedule).
    pub val: Split,
    /// Where they came from: a folder, or what the caller made them of.
    pub source: String,
    /// The processed-data folder they were read from (absolute), if any: what checkpoints
    /// record as the data they were trained on.
    pub folder: Option<PathBuf>,
}

impl Splits {
    /// Reads train.safetensors and val.safetensors of the processed-data folder `data`, which
    /// must hold windows of one data set.
    pub fn read(data: &Path) -> Result<Splits> {
        let train = read_split(data, "train")?;
        let val = read_split(data, "val")?;
        check_same_set("train.safetensors", &train, "val.safetensors", &val)
            .with_context(|| format!("--data {}", data.display()))?;
        Ok(Splits {
            train,
            val,
            source: data.display().to_string(),
            folder: Some(std::path::absolute(data)?),
        })
    }
}

/// Reads a split, naming the flag that pointed at it.
fn read_split(data: &Path, name: &str) -> Result<Split> {
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
