//! `hrcast bench`: times training steps and evaluation batches of one configuration on one
//! engine, on random data, after warm-up.
//!
//! FLOP count of a training step (multiply-adds count 2): the forward pass is, per layer and
//! direction, `2 B T G H (I_l + H)` for the input and recurrent products plus `2 B T W` for the
//! head (G gates, H hidden, I_l layer inputs, W = H × directions); backward costs twice the
//! forward (gradients of the inputs and of the weights), so a step is 3 × forward. Evaluation is
//! 1 × forward. The adapter's best GEMM rate is measured in the same run on a 1024³ product.
//!
//! The report also gives the process's peak resident memory (`VmHWM` of `/proc/self/status`, on
//! Linux; read last, so it covers the timed steps, evaluation, the GEMM and any profile) and the
//! threads the engine may use (`--threads`, else every core `taskset` leaves).
//! `benches/pytorch_cpu.py` times the same configuration in PyTorch, and
//! `scripts/bench-vs-pytorch.sh` compares the two.

use crate::engine::optim::AdamState;
use crate::engine::{self, ComputeArgs, Engine, KernelTime, StepConfig};
use crate::model::{Batch, Cell, ModelConfig, Params};
use crate::values::at_least;
use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;

/// Inputs per step (the 11 features).
const INPUTS: usize = 11;
/// Untimed steps first (pipeline compilation, buffer creation, caches).
const WARMUP: usize = 2;
/// Size of the GEMM that measures the device's best rate.
const GEMM_N: usize = 1024;

/// `hrcast bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Recurrent cell.
    #[arg(long, value_enum, default_value_t = Cell::Lstm)]
    pub model: Cell,
    /// Windows per batch.
    #[arg(long, alias = "batch_size", default_value_t = 16, value_parser = at_least(1))]
    pub batch_size: u32,
    /// Steps per window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = at_least(1))]
    pub seq_len: u32,
    /// Hidden units.
    #[arg(long, alias = "hidden_size", default_value_t = 128, value_parser = at_least(1))]
    pub hidden_size: u32,
    /// Recurrent layers.
    #[arg(long, alias = "num_layers", default_value_t = 2, value_parser = at_least(1))]
    pub num_layers: u32,
    /// Timed steps.
    #[arg(long, default_value_t = 10, value_parser = at_least(1))]
    pub steps: u32,
    /// One JSON object on one line.
    #[arg(long)]
    pub json: bool,
    /// Also time each kernel of a step alone (GPU engine): where the step's time goes.
    #[arg(long)]
    pub profile: bool,
    /// Time the GPU kernel variants on this adapter at this shape and store the fastest in the
    /// tuning cache that train, evaluate and predict read (see `hrcast devices`).
    #[arg(long, conflicts_with = "profile")]
    pub tune: bool,
}

/// What `hrcast bench --json` prints.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// The `--device` asked for: `auto`, `gpu`, `gpu:N` or `cpu`.
    pub device: String,
    /// The engine as `train` logs it (on the GPU: adapter, driver and kernel variant).
    pub engine: String,
    /// The adapter's name.
    pub adapter: String,
    /// The graphics backend (Vulkan, Metal, ...); `none` on the CPU.
    pub backend: String,
    /// The recurrent cell: `lstm` or `gru`.
    pub model: String,
    /// Windows per batch.
    pub batch_size: usize,
    /// Steps per window.
    pub seq_len: usize,
    /// Hidden units.
    pub hidden_size: usize,
    /// Recurrent layers.
    pub num_layers: usize,
    /// Timed steps.
    pub steps: usize,
    /// Median time of a training step, ms.
    pub ms_per_step: f64,
    /// Fastest training step, ms.
    pub ms_per_step_min: f64,
    /// Slowest training step, ms.
    pub ms_per_step_max: f64,
    /// Window steps trained per second.
    pub timesteps_per_s: f64,
    /// Training-step FLOP rate (see the module documentation), GFLOP/s.
    pub gflops: f64,
    /// The best GEMM rate of the same engine, GFLOP/s.
    pub gemm_gflops: f64,
    /// GPU dispatches per training step.
    pub dispatches_per_step: usize,
    /// Queue submits per training step.
    pub submits_per_step: usize,
    /// Reads from the GPU per training step.
    pub readbacks_per_step: usize,
    /// Median time of an evaluation batch, ms.
    pub eval_ms_per_batch: f64,
    /// Fastest evaluation batch, ms.
    pub eval_ms_per_batch_min: f64,
    /// Slowest evaluation batch, ms.
    pub eval_ms_per_batch_max: f64,
    /// Peak resident memory of the process (`VmHWM`), MiB; `null` where it is not known (not
    /// Linux).
    pub peak_rss_mib: Option<f64>,
    /// CPU threads the engines compute on ([`engine::device::threads`]: `--threads`, else every
    /// core `taskset` leaves).
    pub threads: usize,
    /// How the engine runs a batch of this shape where it is not one submit (micro-batches).
    pub note: Option<String>,
    /// With --profile: each kernel of a step timed alone, slowest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<KernelTime>,
}

/// Median, min and max of timings in ms.
pub fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let median = if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    (median, ms[0], ms[ms.len() - 1])
}

/// The `VmHWM` line of a `/proc/<pid>/status` text (peak resident memory), KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let kib = fields.next()?.parse().ok()?;
    (fields.next() == Some("kB")).then_some(kib)
}

/// This process's peak resident memory so far, MiB (Linux: `VmHWM`); `None` elsewhere.
fn peak_rss_mib() -> Option<f64> {
    if cfg!(target_os = "linux") {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        vm_hwm_kib(&status).map(|kib| kib as f64 / 1024.0)
    } else {
        None
    }
}

/// FLOPs of one forward pass (see the module documentation).
pub fn forward_flops(c: &ModelConfig, batch: usize, steps: usize) -> f64 {
    let (b, t, g, h) = (
        batch as f64,
        steps as f64,
        c.model.gates() as f64,
        c.hidden_size as f64,
    );
    let mut flops = 2.0 * b * t * (h * c.directions() as f64);
    for l in 0..c.num_layers {
        flops += c.directions() as f64 * 2.0 * b * t * g * h * (c.layer_input(l) as f64 + h);
    }
    flops
}

/// Times the configuration of `args` and reports the figures.
/// The model, random batch and step settings `args` describe (the same for every engine and
/// every kernel variant).
pub fn workload(args: &BenchOptions) -> (ModelConfig, Batch<f32>, StepConfig) {
    let config = ModelConfig {
        model: args.model,
        input_size: INPUTS,
        hidden_size: args.hidden_size as usize,
        num_layers: args.num_layers as usize,
        dropout: 0.3,
        bidirectional: false,
        features: crate::features::FEATURE_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let (b, t) = (args.batch_size as usize, args.seq_len as usize);
    let mut rng = StdRng::seed_from_u64(0);
    let batch = Batch {
        batch: b,
        steps: t,
        inputs: INPUTS,
        x: (0..b * t * INPUTS)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect(),
        y: (0..b * t).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
        mask: vec![1.0; b * t],
        lengths: vec![t; b],
    };
    let step = StepConfig {
        lr: 5e-4,
        weight_decay: 1e-4,
        grad_clip: 1.0,
        use_masking: true,
        seed: 0,
    };
    (config, batch, step)
}

/// Times `n` training steps of `engine` after the warm-up ones: each step's ms.
pub fn time_steps(
    engine: &mut dyn Engine,
    batch: &Batch<f32>,
    step: &StepConfig,
    n: usize,
) -> Result<Vec<f64>> {
    let mut train_ms = Vec::new();
    for i in 0..WARMUP + n {
        let start = Instant::now();
        engine.train_step(batch, step)?;
        engine.finish()?;
        if i >= WARMUP {
            train_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(train_ms)
}

/// Runs the benchmark `args` describes.
pub fn bench(args: &BenchOptions) -> Result<BenchReport> {
    let (config, batch, step) = workload(args);
    let (b, t) = (batch.batch, batch.steps);
    let params: Params<f32> = Params::init(&config, 0);
    let adam = AdamState::for_params(&params);
    let (mut engine, _) = engine::select(args.compute.device, &config, params, adam)?;
    let note = engine.batch_note(b, t);
    let n = args.steps as usize;
    let train_ms = time_steps(engine.as_mut(), &batch, &step, n)?;
    let counts = engine.step_counts();
    let mut eval_ms = Vec::new();
    for i in 0..WARMUP + n {
        let start = Instant::now();
        engine.predict(&batch)?;
        if i >= WARMUP {
            eval_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let gemm_gflops = engine.gemm_gflops(GEMM_N, 3)?;
    let (ms, ms_min, ms_max) = stats(train_ms);
    let (eval, eval_min, eval_max) = stats(eval_ms);
    let profile = if args.profile {
        engine.profile(&batch, &step)?
    } else {
        Vec::new()
    };
    let (adapter, backend) = engine.adapter();
    Ok(BenchReport {
        engine: engine.describe(),
        device: args.compute.device.to_string(),
        adapter,
        backend,
        model: config.model.module().to_string(),
        batch_size: b,
        seq_len: t,
        hidden_size: config.hidden_size,
        num_layers: config.num_layers,
        steps: n,
        ms_per_step: ms,
        ms_per_step_min: ms_min,
        ms_per_step_max: ms_max,
        timesteps_per_s: (b * t) as f64 / (ms / 1e3),
        gflops: 3.0 * forward_flops(&config, b, t) / (ms / 1e3) / 1e9,
        gemm_gflops,
        dispatches_per_step: counts.dispatches,
        submits_per_step: counts.submits,
        readbacks_per_step: counts.readbacks,
        eval_ms_per_batch: eval,
        eval_ms_per_batch_min: eval_min,
        eval_ms_per_batch_max: eval_max,
        peak_rss_mib: peak_rss_mib(),
        threads: engine::device::threads(),
        note,
        profile,
    })
}

/// Runs `hrcast bench` from the command line: times, then prints the report (one JSON line with
/// `--json`, else a table). `--tune` is [`crate::tune::run`]'s, which the command line calls
/// instead.
pub fn run(options: &BenchOptions) -> Result<ExitCode> {
    let report = bench(options)?;
    if options.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human-readable report.
pub fn table(r: &BenchReport) -> String {
    let note = r.note.as_ref().map_or(String::new(), |n| format!("{n}\n"));
    note + &format!(
        "{}\n{} on {} ({}), {} B={} T={} H={} L={}, {} timed steps\n\
         training step  {:.1} ms median (min {:.1}, max {:.1}), {:.0} timesteps/s, {:.2} GFLOP/s\n\
         evaluation     {:.1} ms per batch median (min {:.1}, max {:.1})\n\
         best GEMM      {:.2} GFLOP/s (1024^3, same run); step/GEMM = {:.2}\n\
         per step       {} dispatches, {} submits, {} read-backs\n\
         process        peak RSS {}, {} threads available\n",
        r.engine,
        r.device,
        r.adapter,
        r.backend,
        r.model,
        r.batch_size,
        r.seq_len,
        r.hidden_size,
        r.num_layers,
        r.steps,
        r.ms_per_step,
        r.ms_per_step_min,
        r.ms_per_step_max,
        r.timesteps_per_s,
        r.gflops,
        r.eval_ms_per_batch,
        r.eval_ms_per_batch_min,
        r.eval_ms_per_batch_max,
        r.gemm_gflops,
        r.gflops / r.gemm_gflops,
        r.dispatches_per_step,
        r.submits_per_step,
        r.readbacks_per_step,
        r.peak_rss_mib
            .map_or("unknown".to_string(), |m| format!("{m:.1} MiB")),
        r.threads
    ) + &profile_table(&r.profile)
}

/// The profile's lines: each kernel's dispatches, time and share of their total.
fn profile_table(profile: &[KernelTime]) -> String {
    let total: f64 = profile.iter().map(|k| k.ms).sum();
    profile
        .iter()
        .map(|k| {
            format!(
                "  {:<14} {:>3} dispatches {:>9.1} ms {:>5.1} %\n",
                k.kernel,
                k.dispatches,
                k.ms,
                100.0 * k.ms / total
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\thrcast\nVmPeak:\t  900000 kB\nVmHWM:\t   123456 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(123_456));
        assert_eq!(vm_hwm_kib("VmRSS:\t 1000 kB\n"), None);
        assert_eq!(vm_hwm_kib("VmHWM:\t 12 MB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().unwrap() > 0.0);
        }
    }

    #[test]
    fn stats_are_median_min_max() {
        assert_eq!(stats(vec![3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(stats(vec![4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
    }
}
