//! Processed data files (SPEC §5): one safetensors file per split.
//!
//! | tensor | dtype | shape |
//! | --- | --- | --- |
//! | `features` | F32 | `[N, T, 11]` raw features, zero on padding |
//! | `heart_rate` | F32 | `[N, T, 1]` bpm, zero on padding |
//! | `mask` | F32 | `[N, T, 1]` 1 on valid steps |
//! | `length` | I64 | `[N]` valid prefix length |
//! | `user_id` | I64 | `[N]` |
//! | `workout_id` | I64 | `[N]` |
//!
//! Metadata: `format` = [`DATA_FORMAT`], `feature_names` (JSON list), `interval_s`, `source`.

use crate::features::{FEATURE_NAMES, NUM_FEATURES};
use crate::model::{Batch, Normalization};
use anyhow::{Context, Result, anyhow, bail, ensure};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// A standard deviation below this counts as a constant feature (normalized by 1).
const MIN_STD: f64 = 1e-6;

/// The `format` metadata of a processed data file.
pub const DATA_FORMAT: &str = "hrcast-data/1";

/// One split: `n` windows of `seq_len` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Number of windows.
    pub n: usize,
    /// Steps per window.
    pub seq_len: usize,
    /// `[n, seq_len, NUM_FEATURES]`.
    pub features: Vec<f32>,
    /// `[n, seq_len]` bpm.
    pub heart_rate: Vec<f32>,
    /// `[n, seq_len]` 0 or 1.
    pub mask: Vec<f32>,
    /// `[n]` valid prefix length of each window.
    pub length: Vec<i64>,
    /// `[n]`.
    pub user_id: Vec<i64>,
    /// `[n]`.
    pub workout_id: Vec<i64>,
    /// Grid interval in seconds.
    pub interval_s: f64,
    /// Where the data came from (free text).
    pub source: String,
}

impl Split {
    /// An empty split of windows of `seq_len` steps.
    pub fn empty(seq_len: usize, interval_s: f64, source: &str) -> Split {
        Split {
            n: 0,
            seq_len,
            features: Vec::new(),
            heart_rate: Vec::new(),
            mask: Vec::new(),
            length: Vec::new(),
            user_id: Vec::new(),
            workout_id: Vec::new(),
            interval_s,
            source: source.to_string(),
        }
    }

    /// Number of steps with mask 1.
    pub fn valid_steps(&self) -> usize {
        self.mask.iter().filter(|m| **m > 0.0).count()
    }

    /// The safetensors bytes of this split.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (n, t) = (self.n, self.seq_len);
        let tensors: Vec<(&str, TensorView)> = vec![
            (
                "features",
                TensorView::new(
                    Dtype::F32,
                    vec![n, t, NUM_FEATURES],
                    bytemuck::cast_slice(&self.features),
                )?,
            ),
            (
                "heart_rate",
                TensorView::new(
                    Dtype::F32,
                    vec![n, t, 1],
                    bytemuck::cast_slice(&self.heart_rate),
                )?,
            ),
            (
                "mask",
                TensorView::new(Dtype::F32, vec![n, t, 1], bytemuck::cast_slice(&self.mask))?,
            ),
            (
                "length",
                TensorView::new(Dtype::I64, vec![n], bytemuck::cast_slice(&self.length))?,
            ),
            (
                "user_id",
                TensorView::new(Dtype::I64, vec![n], bytemuck::cast_slice(&self.user_id))?,
            ),
            (
                "workout_id",
                TensorView::new(Dtype::I64, vec![n], bytemuck::cast_slice(&self.workout_id))?,
            ),
        ];
        let metadata = HashMap::from([
            ("format".to_string(), DATA_FORMAT.to_string()),
            (
                "feature_names".to_string(),
                serde_json::to_string(&FEATURE_NAMES)?,
            ),
            ("interval_s".to_string(), self.interval_s.to_string()),
            ("source".to_string(), self.source.clone()),
        ]);
        Ok(safetensors::serialize(tensors, Some(metadata))?)
    }

    /// Reads and checks a processed data file.
    pub fn read(path: &Path) -> Result<Split> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Split::from_bytes(&bytes)
            .with_context(|| format!("{} is not a hrcast data file", path.display()))
    }

    /// Parses and checks the safetensors bytes of a split.
    pub fn from_bytes(bytes: &[u8]) -> Result<Split> {
        let (_, header) = SafeTensors::read_metadata(bytes)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| anyhow!("metadata {key:?} is missing"))
        };
        let format = get("format")?;
        ensure!(
            format == DATA_FORMAT,
            "format is {format:?}, expected {DATA_FORMAT:?}"
        );
        let names: Vec<String> = serde_json::from_str(get("feature_names")?)?;
        ensure!(
            names == FEATURE_NAMES,
            "it has the features {names:?}, expected the {NUM_FEATURES} features {FEATURE_NAMES:?}"
        );
        let interval_s: f64 = get("interval_s")?
            .parse()
            .context("interval_s is not a number")?;
        let tensors = SafeTensors::deserialize(bytes)?;
        let shape_of = |name: &str| -> Result<Vec<usize>> {
            Ok(tensors
                .tensor(name)
                .map_err(|_| anyhow!("tensor {name:?} is missing"))?
                .shape()
                .to_vec())
        };
        let shape = shape_of("features")?;
        let [n, t, f] = shape[..] else {
            bail!("features has shape {shape:?}, expected [N, T, {NUM_FEATURES}]");
        };
        ensure!(
            f == NUM_FEATURES,
            "features has {f} features per step, expected {NUM_FEATURES}"
        );
        for (name, expected) in [
            ("heart_rate", vec![n, t, 1]),
            ("mask", vec![n, t, 1]),
            ("length", vec![n]),
            ("user_id", vec![n]),
            ("workout_id", vec![n]),
        ] {
            let got = shape_of(name)?;
            ensure!(
                got == expected,
                "{name} has shape {got:?}, expected {expected:?}"
            );
        }
        let f32s = |name: &str| -> Result<Vec<f32>> {
            let view = tensors.tensor(name)?;
            ensure!(
                view.dtype() == Dtype::F32,
                "{name} is {:?}, expected F32",
                view.dtype()
            );
            Ok(bytemuck::pod_collect_to_vec(view.data()))
        };
        let i64s = |name: &str| -> Result<Vec<i64>> {
            let view = tensors.tensor(name)?;
            ensure!(
                view.dtype() == Dtype::I64,
                "{name} is {:?}, expected I64",
                view.dtype()
            );
            Ok(bytemuck::pod_collect_to_vec(view.data()))
        };
        Ok(Split {
            n,
            seq_len: t,
            features: f32s("features")?,
            heart_rate: f32s("heart_rate")?,
            mask: f32s("mask")?,
            length: i64s("length")?,
            user_id: i64s("user_id")?,
            workout_id: i64s("workout_id")?,
            interval_s,
            source: meta.get("source").cloned().unwrap_or_default(),
        })
    }
}

impl Split {
    /// Z-scoring statistics of the selected features and of heart rate over the valid steps of
    /// this (training) split; population standard deviations, 1 where a value is constant.
    pub fn normalization(&self, features: &[usize]) -> Normalization {
        let valid: Vec<usize> = (0..self.n * self.seq_len)
            .filter(|&i| self.mask[i] > 0.0)
            .collect();
        let stats = |value: &dyn Fn(usize) -> f64| {
            let n = valid.len().max(1) as f64;
            let mean = valid.iter().map(|&i| value(i)).sum::<f64>() / n;
            let var = valid
                .iter()
                .map(|&i| (value(i) - mean).powi(2))
                .sum::<f64>()
                / n;
            let std = var.sqrt();
            (mean, if std > MIN_STD { std } else { 1.0 })
        };
        let (feature_mean, feature_std) = features
            .iter()
            .map(|&f| stats(&|i| f64::from(self.features[i * NUM_FEATURES + f])))
            .unzip();
        let (hr_mean, hr_std) = stats(&|i| f64::from(self.heart_rate[i]));
        Normalization {
            feature_mean,
            feature_std,
            hr_mean,
            hr_std,
        }
    }

    /// The windows `rows` as a normalized batch of the selected features. Padding steps are 0
    /// in `x` and `y` and masked.
    pub fn batch(&self, rows: &[usize], features: &[usize], norm: &Normalization) -> Batch<f32> {
        let (t, f) = (self.seq_len, features.len());
        let mut batch = Batch {
            batch: rows.len(),
            steps: t,
            inputs: f,
            x: vec![0.0; rows.len() * t * f],
            y: vec![0.0; rows.len() * t],
            mask: vec![0.0; rows.len() * t],
            lengths: rows
                .iter()
                .map(|&r| self.length[r].max(0) as usize)
                .collect(),
        };
        for (b, &r) in rows.iter().enumerate() {
            for step in 0..batch.lengths[b].min(t) {
                let (src, dst) = (r * t + step, b * t + step);
                let raw = &self.features[src * NUM_FEATURES..(src + 1) * NUM_FEATURES];
                norm.features(raw, features, &mut batch.x[dst * f..(dst + 1) * f]);
                if self.mask[src] > 0.0 {
                    batch.mask[dst] = 1.0;
                    batch.y[dst] =
                        ((f64::from(self.heart_rate[src]) - norm.hr_mean) / norm.hr_std) as f32;
                }
            }
        }
        batch
    }
}
