//! `hrcast bench --tune`: times the GPU kernel variants ([`Variant`]) on the present adapter at
//! one model shape and stores the fastest in the tuning cache, under the adapter (name, driver,
//! backend) and the hidden size, which every later GPU engine on the same adapter reads
//! (`train`, `evaluate`, `predict`, `bench`; a model of another hidden size takes the nearest).
//!
//! The search is coordinate-wise, as the matmul and the recurrences are separate dispatches:
//! first every matmul option with the adapter's default recurrence workgroup, then every
//! recurrence workgroup with the fastest matmul. Each variant is timed as `hrcast bench` times a
//! training step (the median of `--steps` steps after warm-up), on the same random batch.

use crate::bench::{self, BenchOptions};
use crate::engine::Device;
use crate::engine::gpu::Gpu;
use crate::engine::gpu::engine::GpuEngine;
use crate::engine::gpu::variant::{
    Origin, RECURRENCE_WGS, Tuned, TuningCache, Variant, adapter_key,
};
use crate::engine::optim::AdamState;
use crate::model::Params;
use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// What `hrcast bench --tune` found.
#[derive(Debug, Serialize)]
pub struct TuneReport {
    /// The adapter's key in the cache (name | driver | backend).
    pub adapter: String,
    /// The shape timed, e.g. `lstm B16 T500 H128 L2`.
    pub shape: String,
    /// Every variant timed: id and median ms per training step, in the order timed.
    pub timings: Vec<(String, f64)>,
    /// Variants that could not run here, with the reason.
    pub failed: Vec<(String, String)>,
    /// The fastest variant's id.
    pub best: String,
    /// The adapter's default variant's id, and its time.
    pub default: (String, f64),
    /// The cache file written.
    pub cache: PathBuf,
}

/// Times the variants and writes the cache.
pub fn tune(args: &BenchOptions) -> Result<TuneReport> {
    let adapter = match args.compute.device {
        Device::Cpu => {
            bail!("--tune times the GPU engine's kernels; it cannot run with --device cpu")
        }
        Device::Gpu(Some(index)) => index,
        Device::Auto | Device::Gpu(None) => 0,
    };
    let path = TuningCache::default_path().ok_or_else(|| {
        anyhow!("--tune: nowhere to keep the tuning cache; set HRCAST_GPU_TUNING to a file path")
    })?;
    // Read the cache first, so that a damaged one fails before minutes of timing.
    let mut cache = TuningCache::load(&path)?;
    let (config, batch, step) = bench::workload(args);
    let shape = format!(
        "{} B{} T{} H{} L{}",
        config.model.module(),
        batch.batch,
        batch.steps,
        config.hidden_size,
        config.num_layers
    );
    let info = Gpu::open_index(adapter).context("--tune")?.info;
    let key = adapter_key(&info);
    eprintln!("tuning the GPU kernels on {key} at {shape}:");
    let (default, _) = Variant::default_for(&info, config.hidden_size);
    let mut timings: Vec<(Variant, f64)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut time = |variant: Variant| -> Result<Option<f64>> {
        if let Some(&(_, ms)) = timings.iter().find(|(v, _)| *v == variant) {
            return Ok(Some(ms));
        }
        let params: Params<f32> = Params::init(&config, 0);
        let adam = AdamState::for_params(&params);
        let timed = Gpu::open_index(adapter).and_then(|gpu| {
            let mut engine =
                GpuEngine::with_variant(gpu, (variant, Origin::Forced), &config, &params, &adam)?;
            bench::time_steps(&mut engine, &batch, &step, args.steps as usize)
        });
        match timed {
            Ok(ms) => {
                let (median, _, _) = bench::stats(ms);
                eprintln!("  {:<24} {median:>10.1} ms per step", variant.id());
                timings.push((variant, median));
                Ok(Some(median))
            }
            Err(err) => {
                eprintln!("  {:<24} cannot run here: {err:#}", variant.id());
                failed.push((variant.id(), format!("{err:#}")));
                Ok(None)
            }
        }
    };
    let mut best: Option<(Variant, f64)> = None;
    for option in Variant::MATMULS {
        let variant = Variant::new(option, default.recurrence_wg);
        best = faster(best, variant, time(variant)?);
    }
    let matmul = best.map_or(Variant::MATMULS[0], |(v, _)| (v.matmul, v.matmul_wg));
    for recurrence_wg in RECURRENCE_WGS {
        let variant = Variant::new(matmul, recurrence_wg);
        best = faster(best, variant, time(variant)?);
    }
    let default_ms = time(default)?.unwrap_or(f64::NAN);
    let (best, ms) = best.ok_or_else(|| anyhow!("--tune: no kernel variant runs on {key}"))?;
    let timings: Vec<(String, f64)> = timings.iter().map(|(v, ms)| (v.id(), *ms)).collect();
    cache.insert(
        key.clone(),
        Tuned {
            variant: best.id(),
            hidden_size: config.hidden_size,
            shape: shape.clone(),
            ms_per_step: ms,
            timings: timings.clone(),
        },
    );
    cache.save(&path)?;
    Ok(TuneReport {
        adapter: key,
        shape,
        timings,
        failed,
        best: best.id(),
        default: (default.id(), default_ms),
        cache: path,
    })
}

/// The faster of `best` so far and `variant`, timed at `ms` (None: it did not run).
fn faster(
    best: Option<(Variant, f64)>,
    variant: Variant,
    ms: Option<f64>,
) -> Option<(Variant, f64)> {
    match (best, ms) {
        (Some((_, b)), Some(ms)) if ms < b => Some((variant, ms)),
        (None, Some(ms)) => Some((variant, ms)),
        _ => best,
    }
}

/// Runs `hrcast bench --tune`: tunes, then prints the outcome (one JSON line with `--json`).
pub fn run(args: &BenchOptions) -> Result<ExitCode> {
    let report = tune(args)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let best_ms = report
            .timings
            .iter()
            .find(|(id, _)| *id == report.best)
            .map_or(f64::NAN, |(_, ms)| *ms);
        println!(
            "fastest on {}: {} at {:.1} ms per step ({:.2}x the default {}, {:.1} ms), at {}\n\
             stored in {}; train, evaluate, predict and bench on this adapter now use it",
            report.adapter,
            report.best,
            best_ms,
            report.default.1 / best_ms,
            report.default.0,
            report.default.1,
            report.shape,
            report.cache.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
